"""File descriptors (issue 10, item 1): gslbd raises its soft RLIMIT_NOFILE
to the hard limit, refuses a configuration whose connection limits cannot
fit in it (gslbd -t, the start, a reload), and when accept() runs out of
descriptors anyway it pauses and sheds instead of retrying in a loop: after
the connections that exhausted it leave, TCP DNS, HTTP, the admin listener
and signals work again within 2 seconds.

gslbd runs with its limit set before exec (preexec_fn), and for the
exhaustion the limit of the running process is lowered from here
(prlimit), just above what it has open, so that a few dozen connections
from many loopback addresses exhaust it.
"""

import http.client
import os
import re
import resource
import signal
import socket
import subprocess
import time

import pytest

import dns.rcode

import gslbtest
from gslbtest import GSLBD, SLOW, make_query

# valgrind keeps descriptors of its own and gives the daemon a lower limit
# than the one set here (tests/valgrind-gslbd.sh).
pytestmark = pytest.mark.skipif(gslbtest.VALGRIND, reason="under valgrind the daemon's "
                                "descriptor limit is valgrind's")

HTTP_RE = re.compile(r"listening proto=http address=([0-9.]+) port=(\d+)")


def config(workdir, tcp_max=80, http_max=20, admin=True):
    """A config that fits in 256 descriptors with the defaults: tcp 81 +
    http 24 + admin 68 + DNS sockets 6 + reserved 48 = 227."""
    text = gslbtest.gslbd_config(str(workdir), workers=1, max_connections=tcp_max,
                                 idle_timeout=30.0, admin="127.0.0.1:0" if admin else None,
                                 extra="http = { max_connections = %d; request_timeout = 5.0; };"
                                 % http_max)
    text = re.sub(r"^(tcp = \{.*)\};$", r"\1 max_per_ip = 0; };", text, flags=re.M)
    return text.replace("listen = { dns = [", 'listen = { http = ( "127.0.0.1:0" ); dns = [', 1)


def http_port(srv):
    m = HTTP_RE.search(srv.stderr_text())
    assert m, srv.stderr_text()[-3000:]
    return int(m.group(2))


def open_fds(srv):
    return len(os.listdir("/proc/%d/fd" % srv.proc.pid))


@pytest.fixture
def limited(gslbd_factory, tmp_path):
    """start((soft, hard), **config kw) -> gslbd started with that
    RLIMIT_NOFILE and config(**kw)."""
    n = [0]

    def start(limit, **kw):
        n[0] += 1
        workdir = tmp_path / ("d%d" % n[0])
        workdir.mkdir()
        return gslbd_factory(config_text=config(workdir, **kw), workdir=workdir, rlimit=limit)

    return start


def own_limit(need):
    """Raise this process's soft limit to need descriptors, or skip."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip("the test needs %d descriptors, its hard limit is %d" % (need, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def run_limited(args, limit):
    return subprocess.run([GSLBD] + args, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=30, errors="replace",
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit))


def max_open_files(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return [int(x) for x in line.split()[3:5]]
    raise AssertionError("no Max open files in /proc/%d/limits" % pid)


def http_get(port, host="nothing.test", timeout=2.0, src="127.0.0.1"):
    """Status of a GET on a fresh connection, None without an answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(src, 0))
    try:
        conn.request("GET", "/", headers={"Host": host})
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def tcp_query_ok(srv, timeout=1.0):
    r = gslbtest.tcp_exchange(make_query("www.example.test", "A").to_wire(), 4,
                              srv.ports["tcp4"], timeout)
    return r is not None and gslbtest.parse(r).rcode() == dns.rcode.NOERROR


# ---------------------------------------------------------------- the limit

def test_soft_limit_raised_to_hard(limited):
    srv = limited((256, 4096))
    assert max_open_files(srv.proc.pid) == [4096, 4096]
    assert "descriptor limit raised to the hard limit soft=256 limit=4096" in srv.stderr_text()


def test_budget_refused_by_check_and_start(tmp_path):
    """tcp.max_connections = 1000 cannot fit in 256 descriptors: gslbd -t
    and the start say so, naming the settings, and exit 1; the same config
    passes with 4096."""
    path = tmp_path / "gslb.conf"
    path.write_text(config(tmp_path, tcp_max=1000))
    for args in (["-t", "-c", str(path)], ["-c", str(path)]):
        r = run_limited(args, (256, 256))
        assert r.returncode == 1, (args, r.returncode, r.stderr[-2000:])
        assert re.search(r"need \d+ file descriptors, more than the limit of 256", r.stderr), \
            r.stderr[-2000:]
        for key in ("tcp.max_connections 1001", "http.max_connections", "admin listener",
                    "LimitNOFILE="):
            assert key in r.stderr, (key, r.stderr[-2000:])
        assert "ready" not in r.stderr
    r = run_limited(["-t", "-c", str(path)], (256, 4096))
    assert r.returncode == 0, r.stderr[-2000:]


def test_budget_refused_by_reload(limited, tmp_path):
    """A reload to limits over the budget is refused; the old config keeps
    serving."""
    srv = limited((256, 256))
    with open(srv.config_path) as f:
        text = f.read()
    with open(srv.config_path, "w") as f:
        f.write(text.replace("max_connections = 80;", "max_connections = 1000;"))
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10 * SLOW
    while "reload failed" not in srv.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    err = srv.stderr_text()
    assert re.search(r"reload failed.*more than the limit of 256.*tcp\.max_connections 1001",
                     err), err[-3000:]
    assert tcp_query_ok(srv)


# ---------------------------------------------------------------- running out

def test_exhaustion_pauses_and_recovers(limited):
    """Descriptors exhausted by TCP connections from many loopback
    addresses, then HTTP and TCP DNS clients knocking: gslbd keeps
    answering UDP, logs the shortage a few times instead of in a loop, and
    once the connections leave, TCP DNS, HTTP, the admin listener, SIGHUP
    and SIGTERM all work again within 2 s."""
    own_limit(2048)
    srv = limited((256, 256))
    port, hport = srv.ports["tcp4"], http_port(srv)
    srv.metrics()  # the admin listener works
    # Leave gslbd 30 free descriptors, fewer than tcp.max_connections
    # (the soft limit: it is set back once the connections have left).
    lim = open_fds(srv) + 30
    resource.prlimit(srv.proc.pid, resource.RLIMIT_NOFILE, (lim, 256))

    held = []

    def knock(i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind(("127.%d.%d.%d" % (1 + i // 62500, i // 250 % 250, i % 250 + 1), 0))
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        held.append(s)

    try:
        for i in range(120):
            knock(i)
        time.sleep(0.5)
        # HTTP and TCP DNS clients while there is nothing to spare
        lines0 = len(srv.stderr_text().splitlines())
        t_end = time.monotonic() + 2.0
        i = 120
        while time.monotonic() < t_end:
            knock(i)
            i += 1
            http_get(hport, timeout=0.2)
            gslbtest.tcp_exchange(make_query("www.example.test", "A").to_wire(), 4, port, 0.2)
            time.sleep(0.02)
        r = srv.udp4(make_query("www.example.test", "A"))
        assert r is not None and r.rcode() == dns.rcode.NOERROR, "UDP stopped"
        assert srv.alive()
        grown = srv.stderr_text().splitlines()[lines0:]
        assert len(grown) < 20, "the log grew by %d lines in 2 s:\n%s" % (
            len(grown), "\n".join(grown[:20]))
        assert any("out of file descriptors, accepting paused" in ln for ln in grown), \
            srv.stderr_text()[-3000:]
    finally:
        for s in held:
            s.close()

    # they left: everything works again within 2 s
    t0 = time.monotonic()
    deadline = t0 + 2.0
    while not tcp_query_ok(srv, 0.5) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tcp_query_ok(srv), "no TCP DNS %.1fs after the connections left" % (
        time.monotonic() - t0)
    while http_get(hport, timeout=0.5) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert http_get(hport) == 404, "no HTTP after the connections left"
    assert time.monotonic() - t0 <= 2.0 * SLOW, time.monotonic() - t0
    m = srv.metrics()
    assert m['gslb_accept_pauses_total{listener="dns"}'] >= 1, m
    assert m['gslb_accept_refused_total{listener="dns"}'] >= 1, m

    # with the limit back (a reload checks the budget against it)
    resource.prlimit(srv.proc.pid, resource.RLIMIT_NOFILE, (256, 256))
    reloads = srv.stderr_text().count("reloaded what=config")
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 2.0 * SLOW
    while srv.stderr_text().count("reloaded what=config") == reloads:
        assert time.monotonic() < deadline, "no reload 2 s after SIGHUP:\n" + \
            srv.stderr_text()[-3000:]
        time.sleep(0.05)
    t0 = time.monotonic()
    assert srv.stop(timeout=2.0 * SLOW) == 0, "not stopped 2 s after SIGTERM"
    assert time.monotonic() - t0 <= 2.0 * SLOW


def test_admin_beyond_fd_setsize(limited):
    """With more than 1024 descriptors open (the limit raised, 1100 TCP
    connections held), the admin listener still takes connections: it
    polls with epoll or poll, not select()."""
    own_limit(1300)
    srv = limited((4096, 4096), tcp_max=2000)
    port = srv.ports["tcp4"]
    held = []
    try:
        for i in range(1100):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.2.%d.%d" % (i // 250, i % 250 + 1), 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", port))
            held.append(s)
        deadline = time.monotonic() + 10 * SLOW
        while open_fds(srv) < 1100 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert open_fds(srv) >= 1100
        m = srv.metrics()
        assert "gslb_accept_pauses_total{listener=\"admin\"}" in m
        assert tcp_query_ok(srv)
    finally:
        for s in held:
            s.close()
