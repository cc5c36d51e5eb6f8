#!/usr/bin/python3
"""Helpers of probe-scale.sh.

  probe-scale.py ports N                 N TCP ports free on 127.0.0.1 now
  probe-scale.py conf WORK MEMBERS REGIONS INTERVAL TIMEOUT PORT...
                                         gslb.conf and probe.zone in WORK
  probe-scale.py nginx WORK PORT...      nginx.conf in WORK/nginx
  probe-scale.py tasks PID               "tid comm" of each thread of PID
  probe-scale.py cpu PID [TID]           ns on CPU and ns waiting for one
                                         (schedstat) of a thread, or of the
                                         whole process
  probe-scale.py metrics PORT            "time success failure" of gslb_probes_total
  probe-scale.py downs GSLBD_LOG T0 T1    members marked down before / in the window
  probe-scale.py analyse LOG T0 T1 MEMBERS INTERVAL TARGET_RATE \
                 CPU_NS GSLBD_NS NGINX_NS CPU_WAIT_NS NGINX_WAIT_NS

The access log lines are "$msec $server_port $status $request_time
$request_uri $http_user_agent" (see the nginx helper); each member's target
URL carries its number (/h?m=N), so the analysis can follow every member.
"""
import collections
import math
import os
import socket
import statistics
import sys


def free_ports(n):
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    print(" ".join(map(str, ports)))


def conf(work, members, regions, interval, timeout, ports):
    members, regions = int(members), int(regions)
    per = math.ceil(members / regions)
    if per > 256:
        sys.exit("probe-scale.py: more than 256 members per pool: raise REGIONS")
    with open(os.path.join(work, "probe.zone"), "w") as f:
        f.write("$ORIGIN probe.bench.\n$TTL 300\n"
                "@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
                "@ IN NS ns1\nns1 IN A 127.0.0.1\n")
    regs, pools = [], []
    m = 0
    for r in range(regions):
        name = "r%02d" % (r + 1)
        # coordinates only need to differ
        regs.append('  { name = "%s"; lat = %.2f; lon = %.2f; }'
                    % (name, -60 + 120 * r / max(regions - 1, 1), -170 + 17 * r % 340))
        mem = []
        for i in range(per):
            if m >= members:
                break
            # members interleave the ports, so every port gets an even share
            # at any moment; the address is only a label (never probed)
            port = ports[m % len(ports)]
            mem.append('{ address = "10.%d.%d.%d"; target = "http://127.0.0.1:%s/h?m=%d"; }'
                       % (r + 1, i // 250, i % 250 + 1, port, m))
            m += 1
        pools.append('      { region = "%s"; check = "web"; members = (\n        %s ); }'
                     % (name, ",\n        ".join(mem)))
    with open(os.path.join(work, "gslb.conf"), "w") as f:
        f.write("""directory = "%s";
listen = { dns = [ "127.0.0.1:0" ]; admin = "127.0.0.1:0"; };
workers = 1;
state_dir = "var";
zones = ( { origin = "probe.bench"; file = "probe.zone"; } );
checks = ( { name = "web"; type = "http"; path = "/h"; interval = %s; timeout = %s;
             rise = 1; fall = 1; } );
regions = (
%s
);
services = (
  { name = "www.probe.bench"; ttl = 30; answers = 2;
    pools = (
%s
    );
  }
);
""" % (work, interval, timeout, ",\n".join(regs), ",\n".join(pools)))


def nginx(work, ports):
    d = os.path.join(work, "nginx")
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    listens = "\n".join("    listen 127.0.0.1:%s backlog=4096;" % p for p in ports)
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write("""# one process, no master: the whole server is one thread pinned to one CPU
daemon off;
master_process off;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 8192; multi_accept on; }
http {
  client_body_temp_path %(d)s/tmp/body;
  proxy_temp_path %(d)s/tmp/proxy;
  fastcgi_temp_path %(d)s/tmp/fastcgi;
  uwsgi_temp_path %(d)s/tmp/uwsgi;
  scgi_temp_path %(d)s/tmp/scgi;
  # the server closes first: TIME_WAIT stays on its side, not on the
  # prober's ephemeral ports
  keepalive_timeout 0;
  log_format probe '$msec $server_port $status $request_time $request_uri "$http_user_agent"';
  server {
%(listens)s
    access_log %(d)s/access.log probe buffer=256k flush=1s;
    location = /h { default_type text/plain; return 200 "ok\\n"; }
    location / { return 404; }
  }
}
""" % {"d": d, "listens": listens})


def tasks(pid):
    for tid in sorted(os.listdir("/proc/%s/task" % pid), key=int):
        try:
            with open("/proc/%s/task/%s/comm" % (pid, tid)) as f:
                print(tid, f.read().strip())
        except OSError:
            pass


def cpu(pid, tid=None):
    # schedstat: nanoseconds on CPU and waiting on a run queue (finer than
    # utime+stime's clock ticks); the wait says how much other programs on
    # the same CPU held a thread back
    run = wait = 0
    for t in [tid] if tid else os.listdir("/proc/%s/task" % pid):
        try:
            with open("/proc/%s/task/%s/schedstat" % (pid, t)) as f:
                v = f.read().split()
        except OSError:
            continue
        run += int(v[0])
        wait += int(v[1])
    print(run, wait)


def metrics(port):
    # gslb_probes_total from gslbd's /metrics: "time success failure", or
    # "time - -" when the admin listener or the metric is not there
    import time
    import urllib.request
    ok = fail = None
    now = time.time()
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("gslb_probes_total{"):
                    v = int(float(line.rsplit(" ", 1)[1]))
                    if 'result="success"' in line:
                        ok = (ok or 0) + v
                    else:
                        fail = (fail or 0) + v
    except (OSError, ValueError):
        pass
    print("%.3f" % now, "-" if ok is None else ok, "-" if fail is None else fail)


def downs(log, t0, t1):
    # "member state changed ... new=down" lines of gslbd's log: before the
    # window (start-up, warm-up) and inside it
    import datetime
    t0, t1 = float(t0), float(t1)
    before = inside = 0
    with open(log) as f:
        for line in f:
            if "member state changed" not in line or "new=down" not in line:
                continue
            stamp = line.split(" ", 1)[0].rstrip("Z")
            t = datetime.datetime.fromisoformat(stamp).replace(
                tzinfo=datetime.timezone.utc).timestamp()
            if t < t0:
                before += 1
            elif t < t1:
                inside += 1
    print(before, inside)


def analyse(log, t0, t1, members, interval, target_rate, cpu_ns, gslbd_ns, nginx_ns,
            cpu_wait_ns, nginx_wait_ns):
    t0, t1, members, interval = float(t0), float(t1), int(members), float(interval)
    target_rate = float(target_rate)
    cpu_ns, gslbd_ns, nginx_ns = int(cpu_ns), int(gslbd_ns), int(nginx_ns)
    span = t1 - t0
    times, status, per_member, rts = [], collections.Counter(), collections.defaultdict(list), []
    others = 0
    with open(log) as f:
        for line in f:
            parts = line.split(" ", 5)
            if len(parts) < 6 or "gslbd-probe" not in parts[5]:
                others += 1
                continue
            t = float(parts[0])
            if not t0 <= t < t1:
                continue
            times.append(t)
            status[parts[2]] += 1
            rts.append(float(parts[3]))
            uri = parts[4]
            if "?m=" in uri:
                per_member[int(uri.split("?m=", 1)[1])].append(t)
    n = len(times)
    rate = n / span
    cpu = cpu_ns / 1e9 / span
    print("window: %.1f s; probes seen by nginx: %d; statuses: %s"
          % (span, n, ", ".join("%s x%d" % kv for kv in sorted(status.items()))))
    print("probes per second: %.0f (target %.0f)" % (rate, target_rate))
    print("prober thread CPU: %.1f%% of one CPU (%.1f us per probe)"
          % (100 * cpu, cpu_ns / 1e3 / n if n else float("nan")))
    print("whole gslbd CPU:   %.1f%%; nginx CPU: %.1f%%"
          % (100 * gslbd_ns / 1e9 / span, 100 * nginx_ns / 1e9 / span))
    print("time spent ready but waiting for a CPU (other programs): prober %.0f ms, nginx %.0f ms"
          % (int(cpu_wait_ns) / 1e6, int(nginx_wait_ns) / 1e6))

    def buckets(width):
        k = int(round(span / width))
        b = [0] * k
        for t in times:
            i = int((t - t0) / width)
            if 0 <= i < k:
                b[i] += 1
        return b

    secs = buckets(1.0)
    print("per-second histogram: " + " ".join(map(str, secs)))
    print("per second: min %d, max %d, mean %.0f" % (min(secs), max(secs), statistics.mean(secs)))
    burst = False
    for width, label in ((0.1, "100 ms"), (0.01, "10 ms")):
        b = buckets(width)
        mean = statistics.mean(b)
        over = sum(1 for x in b if x > 2 * mean)
        print("per %s bucket: min %d, max %d, mean %.1f, stdev %.1f, max/mean %.2f, "
              "buckets above 2x mean: %d of %d"
              % (label, min(b), max(b), mean, statistics.pstdev(b),
                 max(b) / mean if mean else float("nan"), over, len(b)))
        if width == 0.1 and over:
            burst = True
    gaps = []
    for ts in per_member.values():
        ts.sort()
        gaps.extend(b - a for a, b in zip(ts, ts[1:]))
    late = sum(1 for g in gaps if g > 1.5 * interval)
    if gaps:
        gaps.sort()
        q = lambda p: gaps[min(len(gaps) - 1, int(p * len(gaps)))]
        print("members probed in the window: %d of %d; interval between a member's probes: "
              "median %.3f s, 1%% %.3f s, 99%% %.3f s, max %.3f s; gaps over 1.5x interval: %d"
              % (len(per_member), members, q(0.5), q(0.01), q(0.99), gaps[-1], late))
    if rts:
        rts.sort()
        print("nginx request time: median %.3f s, max %.3f s" % (rts[len(rts) // 2], rts[-1]))
    ok_rate = rate >= 0.99 * target_rate
    ok_cpu = cpu < 0.5
    ok_all = ok_rate and ok_cpu and status.get("200", 0) == n
    print("target (%.0f probes/s sustained, prober thread < 50%% of one CPU): %s"
          % (target_rate, "MET" if ok_all else "MISSED"))
    print("  rate %s, CPU %s, all answers 200: %s; 100 ms buckets above 2x the mean: %s"
          % ("ok" if ok_rate else "short", "ok" if ok_cpu else "over",
             "yes" if status.get("200", 0) == n else "no", "some" if burst else "none"))
    return 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "ports":
        free_ports(int(args[0]))
    elif cmd == "conf":
        conf(args[0], args[1], args[2], args[3], args[4], args[5:])
    elif cmd == "nginx":
        nginx(args[0], args[1:])
    elif cmd == "tasks":
        tasks(args[0])
    elif cmd == "cpu":
        cpu(*args)
    elif cmd == "downs":
        downs(*args)
    elif cmd == "metrics":
        metrics(args[0])
    elif cmd == "analyse":
        sys.exit(analyse(*args))
    else:
        sys.exit("probe-scale.py: unknown command " + cmd)


if __name__ == "__main__":
    main()
