"""Health probing end to end (issue 4 "Checks", "Members and pools",
"Visibility"): gslbd probes real servers that the test starts on loopback,
and DNS answers follow what the probes find.

- http checks with `target` URLs against local HTTP servers: one answering
  200 "ok", one 503, one hanging past the timeout, one closed port; only the
  healthy member is answered, and each state change is logged with its
  reason ("HTTP 503", "timeout after 0.5s", "connection refused");
- a member flips down after `fall` failures and up after `rise` successes
  when its server changes behaviour, within fall * interval + timeout + 1 s,
  and not at the first failure; a region whose members are all down is
  skipped and the next region answers;
- https against a self-signed certificate made with openssl at test time:
  tls_verify = false, ca_file with host (Host and SNI sent for the member's
  address), no CA (refused), a host the certificate does not name (refused);
- tcp and dns checks (a small DNS responder in the test: rcode and
  expect_answer), and a host-name member resolved from the hosts file;
- a reload (SIGHUP) with a changed member list carries states over.

No GeoIP database: every client has an unknown location, so regions are
tried in config order ("a" first, then "b"). Only 127.0.0.1 is used; every
port is picked at run time.
"""

import http.server
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

import gslbtest
from gslbtest import make_query

INTERVAL = 1.0
TIMEOUT = 0.5
RISE = 2
FALL = 2
FALLBACK = "198.51.100.1"  # region b, unchecked: always up
# DESIGN/issue 4: a change is seen within fall * interval + timeout + 1 s;
# the test adds its own polling slack.
FLIP_BOUND = max(RISE, FALL) * INTERVAL + TIMEOUT + 1.0
SLACK = 0.7


# ---------------------------------------------------------------- servers

class Backend:
    """A local HTTP(S) server whose behaviour the test switches: "ok" (200,
    body "ok host=<Host>"), "fail" (503) or "hang" (answers long after the
    check's timeout)."""

    def __init__(self, mode="ok", tls=None):
        self.mode = mode
        self.hits = 0
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                backend.hits += 1
                mode = backend.mode
                if mode == "hang":
                    time.sleep(TIMEOUT * 6)
                code = 200 if mode == "ok" else 503
                body = ("ok host=%s\n" % self.headers.get("Host", "")).encode() \
                    if mode == "ok" else b"unavailable\n"
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the prober gave up (timeout) or stopped reading

            do_HEAD = do_GET

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request, client_address):
                pass  # resets from the prober closing early are expected

        self.httpd = Server(("127.0.0.1", 0), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/healthz"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class DnsResponder:
    """UDP DNS on 127.0.0.1: good.probe.invalid A 192.0.2.1, NXDOMAIN for the
    rest."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                q = dns.message.from_wire(data)
            except Exception:  # noqa: BLE001 - not ours to judge
                continue
            r = dns.message.make_response(q)
            qname = q.question[0].name
            if qname.to_text().lower() == "good.probe.invalid.":
                r.answer.append(dns.rrset.from_text(qname, 60, "IN", "A", "192.0.2.1"))
            else:
                r.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(r.to_wire(), peer)

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


def closed_port():
    """A loopback TCP port nobody listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def backends():
    made = []

    def make(mode="ok", tls=None):
        b = Backend(mode, tls)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for www.example.test, made with openssl."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("tls")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=www.example.test",
                    "-addext", "subjectAltName=DNS:www.example.test"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


# ---------------------------------------------------------------- config

def check_conf(name, type_, **opts):
    base = {"interval": INTERVAL, "timeout": TIMEOUT, "rise": RISE, "fall": FALL}
    base.update(opts)
    items = ['name = "%s";' % name, 'type = "%s";' % type_]
    for k, v in base.items():
        if isinstance(v, bool):
            items.append("%s = %s;" % (k, "true" if v else "false"))
        elif isinstance(v, str):
            items.append('%s = "%s";' % (k, v))
        elif isinstance(v, (list, tuple)):
            items.append("%s = [ %s ];" % (k, ", ".join(
                '"%s"' % x if isinstance(x, str) else str(x) for x in v)))
        else:
            items.append("%s = %s;" % (k, v))
    return "{ %s }" % " ".join(items)


def member_conf(address, target=None):
    if target is None:
        return '"%s"' % address
    return '{ address = "%s"; target = "%s"; }' % (address, target)


def service_conf(name, check, members):
    """Region a: the checked members; region b: FALLBACK, unchecked."""
    return """{ name = "%s"; ttl = 30; answers = 8;
    pools = (
      { region = "a"; check = "%s"; members = ( %s ); },
      { region = "b"; members = [ "%s" ]; }
    ); }""" % (name, check, ", ".join(members), FALLBACK)


def extra_conf(state_dir, checks, services, pools_extra=""):
    return """state_dir = "%s";
checks = (
  %s
);
regions = (
  { name = "a"; lat = 10.0; lon = 10.0; },
  { name = "b"; lat = 20.0; lon = 20.0; }
);
services = (
  %s
);
""" % (state_dir, ",\n  ".join(checks), ",\n  ".join(services))


def start(gslbd_factory, tmp_path, checks, services):
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    srv = gslbd_factory(extra=extra_conf(str(state), checks, services))
    # Until server.c starts the prober, there is nothing to test here.
    if "prober started" not in srv.stderr_text():
        pytest.skip("this gslbd does not start the prober")
    return srv


# ---------------------------------------------------------------- helpers

def answer(srv, name):
    r = srv.udp4(make_query(name, "A"), timeout=1.0)
    if r is None:
        return None
    return frozenset(rd.address for rrset in r.answer for rd in rrset
                     if rrset.rdtype == dns.rdatatype.A)


def wait_answer(srv, name, want, timeout):
    """Poll until name's A answer is exactly want; returns the seconds it
    took. Fails with the last answer and the log tail otherwise."""
    t0 = time.monotonic()
    last = None
    while True:
        last = answer(srv, name)
        if last == frozenset(want):
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            pytest.fail("%s: wanted %s within %.1fs, last answer %s\n%s" % (
                name, sorted(want), timeout, sorted(last) if last is not None else None,
                srv.stderr_text()[-3000:]))
        time.sleep(0.05)


def state_lines(srv):
    return [l for l in srv.stderr_text().splitlines() if "member state changed" in l]


def wait_log(srv, pattern, timeout=FLIP_BOUND + SLACK):
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in state_lines(srv):
            if rx.search(line):
                return line
        time.sleep(0.05)
    pytest.fail("no log line matching %r; state changes logged:\n%s"
                % (pattern, "\n".join(state_lines(srv))))


# ---------------------------------------------------------------- tests

def test_only_healthy_members_answered(gslbd_factory, backends, tmp_path):
    ok, bad, hang = backends("ok"), backends("fail"), backends("hang")
    refused = closed_port()
    web = check_conf("web", "http", path="/healthz", expect_status=[200], expect_body="ok")
    svc = service_conf("probe.example.test", "web", [
        member_conf("192.0.2.1", ok.url()),
        member_conf("192.0.2.2", bad.url()),
        member_conf("192.0.2.3", hang.url()),
        member_conf("192.0.2.4", "http://127.0.0.1:%d/healthz" % refused),
    ])
    srv = start(gslbd_factory, tmp_path, [web], [svc])
    wait_answer(srv, "probe.example.test", {"192.0.2.1"}, FLIP_BOUND + SLACK)

    s = r'service=probe\.example\.test region=a member=%s check=web old=unknown new=%s reason="%s"'
    wait_log(srv, s % (r"192\.0\.2\.1", "up", "HTTP 200"))
    wait_log(srv, s % (r"192\.0\.2\.2", "down", "HTTP 503"))
    wait_log(srv, s % (r"192\.0\.2\.3", "down", r"timeout after 0\.5s"))
    wait_log(srv, s % (r"192\.0\.2\.4", "down", "connection refused"))
    # the probes went to the targets, not to the members' addresses
    assert ok.hits and bad.hits


def test_flip_after_fall_and_rise(gslbd_factory, backends, tmp_path):
    one, two = backends("ok"), backends("fail")
    web = check_conf("web", "http", expect_body="ok")
    svc = service_conf("flip.example.test", "web", [
        member_conf("192.0.2.1", one.url()),
        member_conf("192.0.2.2", two.url()),
    ])
    srv = start(gslbd_factory, tmp_path, [web], [svc])
    name = "flip.example.test"
    wait_answer(srv, name, {"192.0.2.1"}, FLIP_BOUND + SLACK)

    # one goes bad, two comes good
    one.mode, two.mode = "fail", "ok"
    t0 = time.monotonic()
    # hysteresis: the first failure alone does not take one out
    time.sleep(0.3)
    assert "192.0.2.1" in (answer(srv, name) or ()), "down before fall failures"
    wait_answer(srv, name, {"192.0.2.2"}, FLIP_BOUND + SLACK)
    took = time.monotonic() - t0
    assert took <= FLIP_BOUND + SLACK, "flip took %.2fs" % took
    wait_log(srv, r'member=192\.0\.2\.1 check=web old=up new=down reason="HTTP 503 x%d"' % FALL)
    wait_log(srv, r'member=192\.0\.2\.2 check=web old=down new=up reason="HTTP 200 x%d"' % RISE)

    # every member of region a down: region b answers
    two.mode = "fail"
    wait_answer(srv, name, {FALLBACK}, FLIP_BOUND + SLACK)
    # and back
    one.mode = two.mode = "ok"
    wait_answer(srv, name, {"192.0.2.1", "192.0.2.2"}, FLIP_BOUND + SLACK)


def test_flapping_member_stays_up(gslbd_factory, backends, tmp_path):
    """Failures that never reach `fall` in a row do not take a member out."""
    b = backends("ok")
    web = check_conf("web", "http", fall=3, rise=2)
    svc = service_conf("flap.example.test", "web", [member_conf("192.0.2.1", b.url())])
    srv = start(gslbd_factory, tmp_path, [web], [svc])
    name = "flap.example.test"
    wait_answer(srv, name, {"192.0.2.1"}, FLIP_BOUND + SLACK)
    # alternate: at most 2 consecutive failures with fall = 3
    end = time.monotonic() + 5 * INTERVAL
    while time.monotonic() < end:
        b.mode = "fail"
        hits = b.hits
        while b.hits == hits and time.monotonic() < end:
            time.sleep(0.02)
        b.mode = "ok"
        hits = b.hits
        while b.hits == hits and time.monotonic() < end:
            time.sleep(0.02)
        assert answer(srv, name) == frozenset({"192.0.2.1"})
    assert not [l for l in state_lines(srv) if "new=down" in l]


def test_https_checks(gslbd_factory, backends, tmp_path, certificate):
    cert, _ = certificate
    b = backends("ok", tls=certificate)
    checks = [
        check_conf("tls-off", "https", port=b.port, tls_verify=False, expect_body="ok"),
        # Host and SNI name www.example.test, the connection goes to the
        # member's own address (127.0.0.1)
        check_conf("tls-ca", "https", port=b.port, ca_file=cert, host="www.example.test",
                   expect_body="host=www.example.test"),
        check_conf("tls-strict", "https", port=b.port, host="www.example.test"),
        check_conf("tls-wrong", "https", port=b.port, ca_file=cert, host="other.example.test"),
    ]
    services = [service_conf("%s.example.test" % c, c, [member_conf("127.0.0.1")])
                for c in ("tls-off", "tls-ca", "tls-strict", "tls-wrong")]
    srv = start(gslbd_factory, tmp_path, checks, services)
    wait_answer(srv, "tls-off.example.test", {"127.0.0.1"}, FLIP_BOUND + SLACK)
    wait_answer(srv, "tls-ca.example.test", {"127.0.0.1"}, FLIP_BOUND + SLACK)
    wait_answer(srv, "tls-strict.example.test", {FALLBACK}, FLIP_BOUND + SLACK)
    wait_answer(srv, "tls-wrong.example.test", {FALLBACK}, FLIP_BOUND + SLACK)
    wait_log(srv, r'check=tls-strict old=unknown new=down reason="TLS: self-signed certificate')
    wait_log(srv, r'check=tls-wrong old=unknown new=down '
                  r'reason="TLS: certificate does not match the host name"')


def test_tcp_and_dns_checks(gslbd_factory, backends, tmp_path):
    b = backends("ok")
    resp = DnsResponder()
    try:
        refused = closed_port()
        checks = [
            check_conf("tcp", "tcp", port=b.port),
            check_conf("dns-answer", "dns", query="good.probe.invalid", expect_answer="192.0.2.1"),
            check_conf("dns-wrong", "dns", query="good.probe.invalid", expect_answer="192.0.2.9"),
            check_conf("dns-nx", "dns", query="nx.probe.invalid"),
            check_conf("dns-nx-ok", "dns", query="nx.probe.invalid", expect_rcode="NXDOMAIN"),
        ]
        dns_target = "127.0.0.1:%d" % resp.port
        services = [
            service_conf("tcp-ok.example.test", "tcp", [member_conf("127.0.0.1")]),
            service_conf("tcp-refused.example.test", "tcp",
                         [member_conf("192.0.2.5", "127.0.0.1:%d" % refused)]),
            service_conf("dns-answer.example.test", "dns-answer",
                         [member_conf("192.0.2.6", dns_target)]),
            service_conf("dns-wrong.example.test", "dns-wrong",
                         [member_conf("192.0.2.7", dns_target)]),
            service_conf("dns-nx.example.test", "dns-nx", [member_conf("192.0.2.8", dns_target)]),
            service_conf("dns-nx-ok.example.test", "dns-nx-ok",
                         [member_conf("192.0.2.9", dns_target)]),
        ]
        srv = start(gslbd_factory, tmp_path, checks, services)
        bound = FLIP_BOUND + SLACK
        wait_answer(srv, "tcp-ok.example.test", {"127.0.0.1"}, bound)
        wait_answer(srv, "tcp-refused.example.test", {FALLBACK}, bound)
        wait_answer(srv, "dns-answer.example.test", {"192.0.2.6"}, bound)
        wait_answer(srv, "dns-wrong.example.test", {FALLBACK}, bound)
        wait_answer(srv, "dns-nx.example.test", {FALLBACK}, bound)
        wait_answer(srv, "dns-nx-ok.example.test", {"192.0.2.9"}, bound)
        wait_log(srv, r'check=dns-wrong old=unknown new=down reason="no answer 192\.0\.2\.9"')
        wait_log(srv, r'check=dns-nx old=unknown new=down reason="DNS NXDOMAIN"')
    finally:
        resp.close()


def test_host_name_member(gslbd_factory, tmp_path):
    """A host-name member (here from the hosts file: localhost is
    127.0.0.1 everywhere) is answered with its resolved address."""
    with open("/etc/hosts") as f:
        if not re.search(r"^127\.0\.0\.1\s+(.*\s)?localhost(\s|$)", f.read(), re.M):
            pytest.skip("no 127.0.0.1 localhost line in /etc/hosts")
    svc = """{ name = "named.example.test"; ttl = 30; answers = 8;
    pools = ( { region = "a"; members = [ "localhost." ]; } ); }"""
    srv = start(gslbd_factory, tmp_path, [check_conf("unused", "tcp", port=9)], [svc])
    wait_answer(srv, "named.example.test", {"127.0.0.1"}, 5.0)
    assert re.search(r"member host name resolved service=named\.example\.test region=a "
                     r"host=localhost\. addresses=127\.0\.0\.1", srv.stderr_text())


def test_reload_carries_state(gslbd_factory, backends, tmp_path):
    """SIGHUP with a changed member list: members that stay keep their
    state (a down member is not answered again while it is re-probed), a
    new member is probed, a removed one is gone."""
    ok, bad, new = backends("ok"), backends("fail"), backends("ok")
    web = check_conf("web", "http", expect_body="ok")
    name = "reload.example.test"
    svc = service_conf(name, "web", [member_conf("192.0.2.1", ok.url()),
                                     member_conf("192.0.2.2", bad.url())])
    srv = start(gslbd_factory, tmp_path, [web], [svc])
    wait_answer(srv, name, {"192.0.2.1"}, FLIP_BOUND + SLACK)
    wait_log(srv, r'member=192\.0\.2\.2 check=web old=unknown new=down')

    svc = service_conf(name, "web", [member_conf("192.0.2.2", bad.url()),
                                     member_conf("192.0.2.3", new.url())])
    with open(srv.config_path, "w") as f:
        f.write(gslbtest.gslbd_config(srv.workdir, extra=extra_conf(
            str(tmp_path / "state"), [web], [svc])))
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "reloaded what=config" not in srv.stderr_text():
        assert time.monotonic() < deadline, srv.stderr_text()[-3000:]
        time.sleep(0.02)
    assert "prober adopted a new configuration" in srv.stderr_text()
    # 192.0.2.2 was down and stays down across the reload
    for _ in range(10):
        got = answer(srv, name)
        assert got is not None and "192.0.2.2" not in got, got
        time.sleep(0.05)
    wait_answer(srv, name, {"192.0.2.3"}, FLIP_BOUND + SLACK)
    assert len([l for l in state_lines(srv)
                if "member=192.0.2.2 " in l and "old=unknown" in l]) == 1
