"""Cluster benchmark (bench/cluster.sh): three gslbd nodes on a real
three-member etcd, on this machine's loopback. Three parts:

failover  one member, checked every INTERVAL s with fall FALL from
          127.0.0.11/.12/.13; two nodes start seeing it fail at once. From
          the moment the quorum-th node's probe marks it down (the later of
          the two "new=down" log lines, millisecond timestamps) to every
          node answering without it (each polled over UDP every 5 ms).
          ROUNDS rounds; target: at most 1 s.
writes    MEMBERS tcp members, all steady, every node probing them; after
          the nodes have joined and written their verdicts, etcd's own
          counters (etcd_mvcc_put_total, etcd_mvcc_delete_total,
          etcd_debugging_lease_renewed_total where etcd has it) over
          WINDOW s, per node. Target: < 5 writes/s per node.
dnscpu    one gslbd answering a service name with dnsperf for DNS_SECONDS
          s, cluster on (a one-member etcd) and off, ROUNDS rounds each, in
          alternating order: the server's CPU time per query (utime+stime
          of every thread).
"""

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))
os.environ.setdefault("GSLB_SRCDIR", ROOT)

import gslbtest  # noqa: E402

NAME = "c.example.test"
MEMBER = "192.0.2.1"
SOURCES = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
LOG_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z .*member state changed .*new=down")


def env(name, default):
    return type(default)(os.environ.get(name, default))


def config(workdir, node, endpoints, checks, services, cluster=True, quorum=2, ttl=3):
    state = os.path.join(workdir, "state")
    os.makedirs(state, exist_ok=True)
    extra = gslbtest.health_conf(state, checks, services)
    if cluster:
        extra += ('cluster = { name = "bench"; node = "%s"; etcd = [ %s ]; quorum = %d; '
                  'lease_ttl = %d; };\n' % (node, ", ".join('"%s"' % e for e in endpoints),
                                           quorum, ttl))
    return gslbtest.gslbd_config(workdir, admin="127.0.0.1:0", extra=extra, workers=1,
                                 listen=("127.0.0.1:0", "[::1]:0"))


def start_nodes(tmp, etcd, checks_of, services, n=3, **kw):
    nodes = []
    for i in range(n):
        wd = os.path.join(tmp, "n%d" % (i + 1))
        os.makedirs(wd, exist_ok=True)
        srv = gslbtest.Gslbd(wd, config_text=config(wd, "n%d" % (i + 1), etcd.endpoints(),
                                                    checks_of(i), services, **kw))
        srv.start(timeout=120)
        nodes.append(srv)
    return nodes


def stop(nodes):
    for srv in nodes:
        srv.stop()


def log_ms(text):
    """Unix ms of each "new=down" line in a gslbd log."""
    out = []
    for line in text.splitlines():
        m = LOG_TS.match(line)
        if m:
            t = time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")
            out.append((time.mktime(t) - time.timezone) * 1000 + int(m.group(1)[20:23]))
    return out


def failover(tmp, etcd):
    interval, fall = env("INTERVAL", 1.0), env("FALL", 2)
    backend = gslbtest.HttpBackend()
    checks_of = lambda i: [gslbtest.check_conf("web", "http", interval=interval, timeout=0.3,
                                               rise=1, fall=fall, source=SOURCES[i])]
    svc = gslbtest.checked_service_conf(NAME, "web", [gslbtest.member_conf(MEMBER,
                                                                           backend.url())])
    nodes = start_nodes(tmp, etcd, checks_of, [svc])
    results = []
    try:
        for r in range(env("ROUNDS", 5)):
            for srv in nodes:
                gslbtest.wait_answer(srv, NAME, {MEMBER}, 20)
            time.sleep(interval * 2)
            marks = [len(log_ms(s.stderr_text())) for s in nodes[:2]]
            backend.failing_sources = set(SOURCES[:2])
            seen = {}
            deadline = time.monotonic() + 30
            while len(seen) < 3 and time.monotonic() < deadline:
                for i, srv in enumerate(nodes):
                    if i in seen:
                        continue
                    got = gslbtest.addrs(gslbtest.ask(srv, NAME))
                    if got == frozenset({gslbtest.FALLBACK}):
                        seen[i] = time.time() * 1000
                time.sleep(0.005)
            downs = []
            for s, mk in zip(nodes[:2], marks):
                t = log_ms(s.stderr_text())[mk:]
                downs.append(t[0] if t else None)
            backend.failing_sources = set()
            if len(seen) < 3 or None in downs:
                print("  round %d: no failover seen" % (r + 1))
                continue
            quorum_at = max(downs)
            beyond = (max(seen.values()) - quorum_at) / 1000.0
            results.append(beyond)
            print("  round %d: every node answers without it %.3f s after the quorum-th "
                  "node's probe marked it down" % (r + 1, beyond))
    finally:
        stop(nodes)
        backend.close()
    if results:
        print("failover beyond fall x interval (%d x %.1f s): median %.3f s, max %.3f s "
              "(target <= 1 s)" % (fall, interval, statistics.median(results), max(results)))


class Acceptor:
    """A TCP port that accepts and closes: the tcp checks' members."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
                c.close()
            except OSError:
                return

    def close(self):
        self.sock.close()


def etcd_counters(etcd):
    total = {}
    for url in etcd.endpoints():
        try:
            text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
        except OSError:
            continue
        for line in text.splitlines():
            for name in ("etcd_mvcc_put_total", "etcd_mvcc_delete_total",
                         "etcd_mvcc_txn_total", "etcd_debugging_lease_renewed_total"):
                if line.startswith(name + " "):
                    total.setdefault(name, []).append(float(line.split()[1]))
    # puts and deletes are applied by every member: take the leader's view
    # (the largest); renewals are counted by the leader only
    return {k: max(v) for k, v in total.items()}


def writes(tmp, etcd):
    members, interval = env("MEMBERS", 1000), env("WRITES_INTERVAL", 5.0)
    window = env("WINDOW", 60.0)
    acc = Acceptor()
    per_svc = 100
    services = []
    for s in range(max(1, members // per_svc)):
        ms = [gslbtest.member_conf("10.%d.%d.%d" % (s // 250, s % 250, k + 1),
                                   "127.0.0.1:%d" % acc.port) for k in range(per_svc)]
        services.append(gslbtest.service_conf("s%d.example.test" % s, [
            gslbtest.pool_conf("a", ms, "conn"),
            gslbtest.pool_conf("b", [gslbtest.member_conf(gslbtest.FALLBACK)])]))
    checks_of = lambda i: [gslbtest.check_conf("conn", "tcp", port=acc.port, interval=interval,
                                               timeout=1.0, source=SOURCES[i])]
    nodes = start_nodes(tmp, etcd, checks_of, services, ttl=env("LEASE_TTL", 10))
    try:
        time.sleep(max(10.0, 2 * interval))  # joined, first verdicts written
        changes0 = [s.stderr_text().count("member state changed") for s in nodes]
        a, t0 = etcd_counters(etcd), time.monotonic()
        time.sleep(window)
        b, t1 = etcd_counters(etcd), time.monotonic()
        changes = sum(s.stderr_text().count("member state changed") - c
                      for s, c in zip(nodes, changes0))
        secs = t1 - t0
        puts = (b.get("etcd_mvcc_put_total", 0) - a.get("etcd_mvcc_put_total", 0)) / secs
        dels = (b.get("etcd_mvcc_delete_total", 0) - a.get("etcd_mvcc_delete_total", 0)) / secs
        ren = b.get("etcd_debugging_lease_renewed_total")
        ren = (ren - a.get("etcd_debugging_lease_renewed_total", 0)) / secs if ren else None
        n = len(nodes)
        print("%d members, %d nodes, lease_ttl %d s, over %.0f s (%d member state changes "
              "logged meanwhile, all nodes):" % (members, n, env("LEASE_TTL", 10), secs, changes))
        print("  puts %.3f/s, deletes %.3f/s per node; lease renewals %s per node" % (
            puts / n, dels / n, "%.3f/s" % (ren / n) if ren is not None else "(not counted)"))
        print("  writes per node (puts + deletes + renewals): %.3f/s (target < 5/s)" % (
            (puts + dels + (ren or 3.0 * n / env("LEASE_TTL", 10))) / n))
    finally:
        stop(nodes)
        acc.close()


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def dnscpu(tmp, etcd):
    secs = env("DNS_SECONDS", 10)
    backend = gslbtest.HttpBackend()
    checks = [gslbtest.check_conf("web", "http", interval=1.0, timeout=0.3, rise=1, fall=2)]
    svc = gslbtest.checked_service_conf(NAME, "web", [gslbtest.member_conf(MEMBER,
                                                                           backend.url())])
    qfile = os.path.join(tmp, "queries.txt")
    with open(qfile, "w") as f:
        f.write("%s A\n" % NAME)
    hz = os.sysconf("SC_CLK_TCK")
    res = {True: [], False: []}
    try:
        for r in range(env("ROUNDS", 3)):
            # the order alternates: a machine whose load drifts favours neither
            for on in ((False, True) if r % 2 == 0 else (True, False)):
                wd = tempfile.mkdtemp(dir=tmp)
                srv = gslbtest.Gslbd(wd, config_text=config(wd, "n1", etcd.endpoints(), checks,
                                                            [svc], cluster=on))
                srv.start(timeout=60)
                try:
                    gslbtest.wait_answer(srv, NAME, {MEMBER}, 20)
                    subprocess.run(["taskset", "-pac", os.environ.get("SERVER_CPU", "0"),
                                    str(srv.proc.pid)], capture_output=True)
                    c0 = cpu_ticks(srv.proc.pid)
                    out = subprocess.run(
                        ["taskset", "-c", os.environ.get("CLIENT_CPU", "1"), "dnsperf",
                         "-s", "127.0.0.1", "-p", str(srv.ports["udp4"]), "-d", qfile,
                         "-l", str(secs), "-T", "1", "-c", "8", "-q", "200", "-e"],
                        capture_output=True, text=True).stdout
                    c1 = cpu_ticks(srv.proc.pid)
                    q = int(re.search(r"Queries completed:\s+(\d+)", out).group(1))
                    us = (c1 - c0) / hz / q * 1e6
                    res[on].append(us)
                    print("  round %d cluster %s: %d queries, %.2f us CPU per query" % (
                        r + 1, "on " if on else "off", q, us))
                finally:
                    srv.stop()
    finally:
        backend.close()
    off, on = statistics.median(res[False]), statistics.median(res[True])
    print("DNS CPU per query: cluster off %.2f us, on %.2f us (median of %d; on/off %.3f)" % (
        off, on, len(res[True]), on / off))


def main():
    part = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="gslb-cluster-bench-") as tmp:
        size = 1 if part == "dnscpu" else 3
        etcd = gslbtest.EtcdCluster(os.path.join(tmp, "etcd"), size).start()
        try:
            {"failover": failover, "writes": writes, "dnscpu": dnscpu}[part](tmp, etcd)
        finally:
            etcd.stop()


if __name__ == "__main__":
    main()
