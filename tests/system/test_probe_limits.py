"""Probe concurrency and local errors (issue 10 item 6).

- `probe_max_inflight`: 600 members with tcp checks against a black hole (a
  loopback listener whose accept queue is full, so every connection attempt
  hangs until the check's timeout). The sockets gslbd holds towards it
  (SYN-SENT, as `ss` lists them) never exceed the cap, the metrics say the cap
  was reached and that probes waited, DNS over TCP answers meanwhile, and
  every member gets its turn (FIFO: none is starved).
- local errors: a running gslbd's descriptor limit is lowered below what it
  holds (prlimit), so its probes cannot open sockets. The members stay up
  (no rise/fall step for "unknown"), the probes are counted as
  result="unknown" and logged; once the limit is back, probing goes on.
  The default cap is min(1024, soft RLIMIT_NOFILE / 4).
"""

import os
import resource
import shutil
import socket
import subprocess
import threading
import time

import pytest

import gslbtest
from gslbtest import (addrs, ask, health_conf, make_query, member_conf, pool_conf, service_conf,
                      wait_answer, wait_for)
from test_health_more import OTHER, WAIT, ZONES, check_conf, start, status_pool
from test_health_probe import DnsResponder

CAP = 50
SERVICES = 3
PER_POOL = 200   # 600 members


class BlackHole:
    """A loopback listener that never accepts, its queue filled: further
    connection attempts get no SYN-ACK and hang until their own timeout."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fill = []
        for _ in range(4):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", self.port))
            self.fill.append(c)
        time.sleep(0.2)

    def syn_sent(self):
        """gslbd's sockets in SYN-SENT towards the listener (this test's own
        left out). ss asks the kernel in one netlink dump, filtered there:
        /proc/net/tcp is read page by page while sockets come and go, and
        counts sockets that never existed together."""
        mine = {c.getsockname()[1] for c in self.fill}
        out = subprocess.run(["ss", "-Htn", "state", "syn-sent", "dport", "=",
                              ":%d" % self.port], capture_output=True, text=True,
                             timeout=10, check=True).stdout
        ports = {int(line.split()[2].rsplit(":", 1)[1]) for line in out.splitlines()}
        return len(ports - mine)

    def close(self):
        for c in self.fill:
            c.close()
        self.sock.close()


class Acceptor:
    """A loopback listener that accepts and closes every connection."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.close()

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(2)


def svc_name(i):
    return "many%d.example.test" % i


@pytest.mark.skipif(gslbtest.VALGRIND, reason="600 probes a second under valgrind")
def test_probes_in_flight_capped(gslbd_factory, tmp_path):
    if not shutil.which("ss"):
        pytest.fail("ss not found (Debian iproute2, in qa/packages.txt)", pytrace=False)
    hole = BlackHole()
    try:
        tcp = check_conf("hole", "tcp", port=hole.port, interval=1.0, timeout=0.5, rise=1, fall=1)
        services = []
        for i in range(SERVICES):
            members = [member_conf("10.%d.%d.%d" % (i, k // 250, k % 250 + 1),
                                   "127.0.0.1:%d" % hole.port) for k in range(PER_POOL)]
            services.append(service_conf(svc_name(i), [pool_conf("a", members, "hole"),
                                                       pool_conf("b", [member_conf(OTHER)])]))
        extra = health_conf(str(tmp_path / "state"), [tcp], services)
        srv = gslbd_factory(zones=ZONES, workers=1, admin="127.0.0.1:0",
                            extra=extra + "probe_max_inflight = %d;\n" % CAP)
        srv.admin_address()
    except BaseException:
        hole.close()
        raise
    try:
        most = 0
        t0 = time.monotonic()
        tcp_times = []
        while time.monotonic() - t0 < 4.0:
            most = max(most, hole.syn_sent())
            q0 = time.monotonic()
            r = srv.tcp4(make_query(svc_name(0), "A"), timeout=2.0)
            tcp_times.append(time.monotonic() - q0)
            assert r is not None, "no answer over TCP while probes wait"
            time.sleep(0.02)
        # the cap holds (without it, about 300): within twice the cap, as
        # curl may close the socket of a probe that just timed out after
        # the probe taking its slot has opened its own, and ss lists
        # sockets still being torn down (51-59 seen under ASan, 77 on a
        # machine with a load of 5 on 2 CPUs); the in-flight metric,
        # checked below, must equal the cap exactly
        assert 0 < most <= 2 * CAP, \
            "%d sockets towards the black hole (cap %d)" % (most, CAP)
        assert max(tcp_times) < 1.0, tcp_times
        m = srv.metrics()
        assert m["gslb_probe_max_inflight"] == CAP, m
        assert m["gslb_probes_in_flight_max"] == CAP, m
        assert m["gslb_probes_queued"] > 0, m

        # FIFO: every member has a result within a few rounds of the cap
        # (600 probes at 50 per 0.5 s: 6 s a round)
        def all_probed():
            seen = 0
            for i in range(SERVICES):
                _, p = status_pool(srv, svc_name(i), "a")
                seen += sum(1 for x in p["members"] if x["state"] == "down")
            all_probed.last = seen
            return seen == SERVICES * PER_POOL

        wait_for("every member probed", all_probed, 3 * 6.0 + WAIT, [srv])
        assert addrs(ask(srv, svc_name(0))) == {OTHER}
    finally:
        hole.close()


def full_table(pid):
    """A descriptor limit no higher than the lowest free descriptor number
    of pid (past stdio): every socket() there fails with EMFILE, while
    what is open stays usable. (The lowest free number now may belong to
    a probe socket that closes in a moment: hence the stdio bound.)"""
    used = {int(n) for n in os.listdir("/proc/%d/fd" % pid)}
    n = 0
    while n in used:
        n += 1
    return min(n, 3)


def test_local_errors_leave_members_alone(gslbd_factory, tmp_path):
    acc = Acceptor()
    dnsr = DnsResponder()
    try:
        tcp = check_conf("conn", "tcp", port=acc.port, interval=0.5, timeout=0.3, rise=2, fall=2)
        dnsc = check_conf("dig", "dns", interval=0.5, timeout=0.3, rise=2, fall=2,
                          query="good.probe.invalid", expect_answer="192.0.2.1")
        tcp_members = ["192.0.2.%d" % i for i in (11, 12, 13)]
        dns_members = ["192.0.2.%d" % i for i in (21, 22)]
        services = [
            service_conf("conn.example.test", [
                pool_conf("a", [member_conf(a, "127.0.0.1:%d" % acc.port) for a in tcp_members],
                          "conn"),
                pool_conf("b", [member_conf(OTHER)])]),
            service_conf("dig.example.test", [
                pool_conf("a", [member_conf(a, "127.0.0.1:%d" % dnsr.port) for a in dns_members],
                          "dig"),
                pool_conf("b", [member_conf(OTHER)])]),
        ]
        srv = start(gslbd_factory, tmp_path / "state", [tcp, dnsc], services)
        wait_answer(srv, "conn.example.test", tcp_members)
        wait_answer(srv, "dig.example.test", dns_members)
        pid = srv.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        m = srv.metrics()
        assert m["gslb_probe_max_inflight"] == max(1, min(1024, soft // 4)), (soft, m)

        # out of descriptors: no probe can open a socket for 10 intervals
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (full_table(pid), hard))
        try:
            t0 = time.monotonic()
            while time.monotonic() - t0 < 5.0:
                assert addrs(ask(srv, "conn.example.test")) == set(tcp_members)
                assert addrs(ask(srv, "dig.example.test")) == set(dns_members)
                time.sleep(0.1)
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        log = srv.stderr_text()
        assert "new=down" not in log, log[-3000:]
        assert "probe not run for a local error, member state unchanged" in log, log[-3000:]
        m = srv.metrics()
        assert m['gslb_probes_total{check="conn",result="unknown"}'] > 0, m
        assert m['gslb_probes_total{check="dig",result="unknown"}'] > 0, log[-5000:]
        _, p = status_pool(srv, "conn.example.test", "a")
        assert all(x["state"] == "up" for x in p["members"]), p

        # descriptors again: probes succeed and the reasons say so
        def probed_again():
            _, p = status_pool(srv, "conn.example.test", "a")
            probed_again.last = [x["reason"] for x in p["members"]]
            return all(r == "connected" for r in probed_again.last)

        wait_for("probes run again", probed_again, WAIT, [srv])
        r = srv.tcp4(make_query("conn.example.test", "A"), timeout=2.0)
        assert r is not None and addrs(r) == set(tcp_members)
    finally:
        acc.close()
        dnsr.close()
