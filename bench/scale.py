#!/usr/bin/python3
"""Start, reload and check gslbd on large configurations; print the figures.

For each size N (services; each has 5 regions x 2 members, a route rule and a
default order, over the demo GeoIP database unless GEOIP_DB names another),
the script writes a configuration, then:

  - runs `gslbd -t` and prints its wall time and peak RSS (getrusage);
  - starts gslbd (listeners on free loopback ports) and prints the time to
    "ready" and the RSS;
  - reloads it RELOADS times with SIGHUP, 1.2 s apart, and prints each
    reload's time (from the signal to the "reloaded" log line) and the RSS
    after it: the memory curve across reloads;
  - prints the ratios between sizes (time x10 input) and the last RSS over
    the RSS after the first reload.

    bench/scale.py                       # sizes 1000 and 10000, 10 reloads
    SIZES="1000" RELOADS=20 bench/scale.py
    GSLBD=build/gslbd GEOIP_DB=GeoLite2-City.mmdb bench/scale.py
"""

import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
GSLBD = os.environ.get("GSLBD") or os.path.join(SRC, "build", "gslbd")
if not os.path.exists(GSLBD):
    GSLBD = os.path.join(SRC, "gslbd")
GEOIP_DB = os.environ.get("GEOIP_DB") or os.path.join(SRC, "geoip", "demo-city.mmdb")
SIZES = [int(x) for x in (os.environ.get("SIZES") or "1000 10000").split()]
RELOADS = int(os.environ.get("RELOADS") or 10)
REGIONS = [("us-east", 39.04, -77.49), ("us-west", 37.4, -122.1), ("eu-east", 52.23, 21.01),
           ("eu-west", 53.3, -6.3), ("ap-southeast", 1.35, 103.82)]


def zone(workdir):
    path = os.path.join(workdir, "scale.test.zone")
    with open(path, "w") as f:
        f.write("$ORIGIN scale.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n"
                "@ NS ns1\nns1 A 192.0.2.53\n")
    return path


def config(workdir, n, check=False):
    lines = ['listen = { dns = [ "127.0.0.1:0" ]; };',
             'workers = 1;',
             'state_dir = "%s";' % os.path.join(workdir, "state"),
             'zones = ( { origin = "scale.test"; file = "%s"; } );' % zone(workdir),
             'geoip = { database = "%s"; };' % GEOIP_DB,
             "regions = ("]
    lines.append(",\n".join('  { name = "%s"; lat = %s; lon = %s; }' % r for r in REGIONS))
    lines.append(");")
    if check:
        lines.append('checks = ( { name = "web"; type = "tcp"; port = 9; interval = 60; } );')
    lines.append("services = (")
    svcs = []
    for i in range(n):
        pools = []
        for k, (name, _, _) in enumerate(REGIONS):
            a = "10.%d.%d.%d" % (k, (i >> 8) & 255, i & 255)
            b = "10.%d.%d.%d" % (k + 100, (i >> 8) & 255, i & 255)
            pools.append('{ region = "%s"; members = [ "%s", "%s" ];%s }'
                         % (name, a, b, ' check = "web";' if check else ""))
        svcs.append('  { name = "s%d.scale.test"; ttl = 30; default = [ "us-east", "eu-east" ];\n'
                    '    route = ( { match = "country:PL"; regions = [ "eu-east" ]; } );\n'
                    '    pools = ( %s ); }' % (i, ",\n      ".join(pools)))
    lines.append(",\n".join(svcs))
    lines.append(");")
    path = os.path.join(workdir, "gslb-%d.conf" % n)
    os.makedirs(os.path.join(workdir, "state"), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def check_run(path):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    r = subprocess.run([GSLBD, "-t", "-c", path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    dt = time.monotonic() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if r.returncode != 0:
        sys.exit("gslbd -t failed:\n" + r.stderr[-2000:])
    # ru_maxrss of children is the largest of any child so far.
    return dt, peak if peak > before else None


class Daemon:
    def __init__(self, path, log):
        self.log = log
        self.f = open(log, "w")
        self.t0 = time.monotonic()
        self.p = subprocess.Popen([GSLBD, "-c", path], stderr=self.f, stdout=subprocess.DEVNULL)
        self.ready = self.wait_for(" ready", 0, 600)

    def text(self):
        with open(self.log) as f:
            return f.read()

    def count(self, needle):
        return self.text().count(needle)

    def wait_for(self, needle, have, timeout):
        deadline = time.monotonic() + timeout
        while self.count(needle) <= have:
            if self.p.poll() is not None:
                sys.exit("gslbd exited:\n" + self.text()[-2000:])
            if time.monotonic() > deadline:
                sys.exit("timeout waiting for %r" % needle)
            time.sleep(0.005)
        return time.monotonic()

    def reload(self):
        have = self.count("reloaded what=config") + self.count("reload failed")
        t0 = time.monotonic()
        self.p.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 600
        while self.count("reloaded what=config") + self.count("reload failed") <= have:
            if time.monotonic() > deadline or self.p.poll() is not None:
                sys.exit("reload did not finish:\n" + self.text()[-2000:])
            time.sleep(0.005)
        if "reload failed" in self.text().splitlines()[-1]:
            sys.exit("reload failed:\n" + self.text()[-2000:])
        return time.monotonic() - t0

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(60)
        self.f.close()


def main():
    results = {}
    with tempfile.TemporaryDirectory(prefix="gslb-scale-") as d:
        for n in SIZES:
            path = config(d, n)
            print("== %d services (%s)" % (n, os.path.basename(GEOIP_DB)), flush=True)
            ct, cpeak = check_run(path)
            print("gslbd -t: %.2f s, peak RSS %s" % (
                ct, "%.1f MB" % (cpeak / 1024) if cpeak else "(below an earlier run)"), flush=True)
            srv = Daemon(path, os.path.join(d, "gslbd-%d.log" % n))
            start = srv.ready - srv.t0
            rss = [rss_kb(srv.p.pid)]
            print("start: %.2f s, RSS %.1f MB" % (start, rss[0] / 1024), flush=True)
            times = []
            for k in range(RELOADS):
                time.sleep(1.2)
                times.append(srv.reload())
                time.sleep(0.3)
                rss.append(rss_kb(srv.p.pid))
                print("reload %2d: %.2f s, RSS %.1f MB" % (k + 1, times[-1], rss[-1] / 1024),
                      flush=True)
            srv.stop()
            growth = rss[-1] / rss[1] if len(rss) > 1 else 1.0
            print("RSS after reload %d / after reload 1: %.2fx" % (RELOADS, growth), flush=True)
            results[n] = (ct, start, sorted(times)[len(times) // 2] if times else 0.0, growth)
    if len(SIZES) > 1:
        a, b = SIZES[0], SIZES[-1]
        ra, rb = results[a], results[b]
        print("== x%.0f input (%d -> %d services)" % (b / a, a, b))
        for i, what in enumerate(("gslbd -t", "start", "reload (median)")):
            print("%-16s %.2f s -> %.2f s: x%.1f" % (what, ra[i], rb[i],
                                                   rb[i] / ra[i] if ra[i] else 0))


if __name__ == "__main__":
    main()
