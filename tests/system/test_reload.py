"""Reload without downtime (issue 6 "Reload").

- Queries at a steady rate (about 200/s over UDP and TCP, IPv4 and IPv6, one
  TCP connection kept open throughout) while 20 reloads happen, half of them
  with a broken config (syntax error, unknown region, a CNAME beside other
  data, a missing zone file, a bad overrides line): no query times out, none
  gets a wrong answer, and the answers switch exactly when a valid changed
  config is loaded. Every valid version changes the zone data and a
  service's member and most change the worker count, so worker generations
  are swapped under load too. Switch points come from POST /reload's answer
  (it waits for the result) and, for SIGHUP, from the "reloaded" log line: a
  query may see version N only if it was in flight at some moment when N
  could be served, from the start of the reload that brings N in until the
  end of the reload that replaces it.
- A member probed down stays down right after a reload that changes
  something unrelated: no UNKNOWN, no flap back up.
- listen.dns changes: an added address answers after the reload, a removed
  one stops answering, a kept one keeps its port; an address that cannot be
  bound fails the reload and nothing of it is applied.
- TCP limits and listen.admin changes are applied on reload.

Only 127.0.0.1 and ::1 are used; ports are picked at run time.
"""

import http.client
import json
import os
import re
import signal
import socket
import threading
import time

import pytest

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

import gslbtest
from gslbtest import make_query

DEMO_DB = os.path.join(gslbtest.SRCDIR, "geoip", "demo-city.mmdb")
ZONE = "reload.test"
WWW = "www.reload.test"
SVC = "svc.reload.test"
# How long a reload may take on a loaded (or sanitizer-built) test machine.
RELOAD_WAIT = 60.0
QUERY_TIMEOUT = 3.0
ERR_AT_LINE = re.compile(r"\S+:\d+: ")


# ---------------------------------------------------------------- files

def zone_text(v, broken_cname=False):
    extra = "www CNAME ns1\n" if broken_cname else ""
    return """$ORIGIN reload.test.
$TTL 300
@    SOA ns1 hostmaster %d 3600 600 86400 300
@    NS  ns1
ns1  A   192.0.2.53
www  A   192.0.2.%d
%s""" % (2024010100 + v, v, extra)


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Site:
    """The files of one gslbd: version v of the config answers
    www.reload.test A 192.0.2.v (zone data) and svc.reload.test A
    198.51.100.v (a service). Broken variants keep everything else."""

    def __init__(self, d, admin="127.0.0.1:0", listen=("127.0.0.1:0", "[::1]:0"),
                 checks="", pools_a=None):
        self.d = str(d)
        self.admin = admin
        self.listen = listen
        self.checks = checks
        self.pools_a = pools_a  # replaces region a's members (health test)
        write_atomic(os.path.join(self.d, "good.nets"), "10.0.0.0/8  b,a\n")
        write_atomic(os.path.join(self.d, "bad.nets"),
                     "10.0.0.0/8  b,a\n10.0.0.1/8  a   # host bits set\n")
        os.makedirs(os.path.join(self.d, "state"), exist_ok=True)

    def zone_path(self, v, broken_cname=False):
        path = os.path.join(self.d, "reload-%d%s.zone" % (v, "-cname" if broken_cname else ""))
        write_atomic(path, zone_text(v, broken_cname))
        return path

    def config(self, v, broken=None, workers=2, listen=None, admin=None, max_queries=0,
               extra_service=False):
        zone = self.zone_path(v, broken_cname=(broken == "cname"))
        if broken == "missing-zone":
            zone = os.path.join(self.d, "no-such-file.zone")
        region = "nowhere" if broken == "unknown-region" else "a"
        overrides = "bad.nets" if broken == "bad-overrides" else "good.nets"
        members_a = self.pools_a or '"198.51.100.%d"' % v
        services = ["""{ name = "%s"; ttl = 30; answers = 8;
    pools = (
      { region = "%s"; %s members = ( %s ); },
      { region = "b"; members = [ "203.0.113.1" ]; }
    ); }""" % (SVC, region, 'check = "web";' if self.checks else "", members_a)]
        if extra_service:
            services.append("""{ name = "other.reload.test"; ttl = 30;
    pools = ( { region = "b"; members = [ "203.0.113.%d" ]; } ); }""" % v)
        extra = """state_dir = "state";
geoip = { database = "%s"; overrides = "%s"; };
%sregions = (
  { name = "a"; lat = 10.0; lon = 10.0; },
  { name = "b"; lat = 20.0; lon = 20.0; }
);
services = (
  %s
);
""" % (DEMO_DB, os.path.join(self.d, overrides),
            ("checks = ( %s );\n" % self.checks) if self.checks else "",
            ",\n  ".join(services))
        text = gslbtest.gslbd_config(
            self.d, zones=[(ZONE, zone)], workers=workers, listen=listen or self.listen,
            admin=admin or self.admin, max_queries=max_queries, extra=extra)
        if broken == "syntax":
            text += "services_extra = ( { name = \"x\" ;\n"  # never closed
        return text

    def write(self, srv, v, **kw):
        write_atomic(srv.config_path, self.config(v, **kw))


def start_site(gslbd_factory, tmp_path, v=1, **site_kw):
    site = Site(tmp_path, **site_kw)
    srv = gslbd_factory(config_text=site.config(v))
    return site, srv


# ---------------------------------------------------------------- control

def post_reload(addr, timeout=RELOAD_WAIT):
    """POST /reload; (status, JSON body)."""
    host, port = addr
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", "/reload", headers={"X-Gslb-Admin": "1"})
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
    finally:
        conn.close()
    try:
        j = json.loads(body)
    except ValueError:
        j = {"raw": body}
    return r.status, j


def get_status(addr):
    host, port = addr
    conn = http.client.HTTPConnection(host, port, timeout=RELOAD_WAIT)
    try:
        conn.request("GET", "/status")
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
    finally:
        conn.close()
    assert r.status == 200, body
    return json.loads(body)


def count_lines(srv, needle):
    return sum(1 for line in srv.stderr_text().splitlines() if needle in line)


def sighup_reload(srv, expect_ok):
    """SIGHUP, then wait for its result line. Returns the time the line
    was seen (the switch happened before it)."""
    ok0 = count_lines(srv, "reloaded what=config")
    bad0 = count_lines(srv, "reload failed")
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + RELOAD_WAIT
    while True:
        ok, bad = count_lines(srv, "reloaded what=config"), count_lines(srv, "reload failed")
        if ok > ok0 or bad > bad0:
            break
        assert time.monotonic() < deadline, "no reload result after SIGHUP:\n%s" % (
            srv.stderr_text()[-3000:])
        time.sleep(0.01)
    seen = time.monotonic()
    assert (ok > ok0) == expect_ok, "SIGHUP reload: expected %s\n%s" % (
        "success" if expect_ok else "failure", srv.stderr_text()[-3000:])
    return seen


def a_records(reply):
    return sorted(rd.address for rrset in reply.answer for rd in rrset
                  if rrset.rdtype == dns.rdatatype.A)


def answers(port, name, family=4, proto="udp", timeout=QUERY_TIMEOUT):
    """A records for name from one server address, None when nothing
    answers (timeout, refused)."""
    wire = make_query(name, "A").to_wire()
    if proto == "udp":
        r = gslbtest.udp_exchange(wire, family, port, timeout)
    else:
        try:
            r = gslbtest.tcp_exchange(wire, family, port, timeout)
        except OSError:
            r = None
    if r is None:
        return None
    return a_records(dns.message.from_wire(r))


# ---------------------------------------------------------------- load

class Load:
    """Background queries at a fixed rate per transport; every query is
    recorded as (transport, name, sent, received, addresses or None,
    problem)."""

    NAMES = (WWW, SVC)

    def __init__(self, srv, rate_per_thread=50):
        self.srv = srv
        self.period = 1.0 / rate_per_thread
        self.records = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True)
                        for t in ("udp4", "udp6", "tcp4-kept", "tcp6")]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(QUERY_TIMEOUT + 5)

    def _record(self, *rec):
        with self.lock:
            self.records.append(rec)

    def _run(self, transport):
        family = 6 if "6" in transport else 4
        port = self.srv.port(transport[:4])
        kept = None
        i = 0
        next_t = time.monotonic()
        while not self.stopping.is_set():
            name = self.NAMES[i % 2]
            i += 1
            q = make_query(name, "A")
            wire = q.to_wire()
            problem = None
            reply = None
            t0 = time.monotonic()
            try:
                if transport.startswith("udp"):
                    reply = gslbtest.udp_exchange(wire, family, port, QUERY_TIMEOUT)
                    if reply is None:
                        problem = "timeout"
                elif transport == "tcp4-kept":
                    # One connection for the whole run: reloads must not
                    # close it (idle timeout 10 s, no query limit).
                    if kept is None:
                        kept = gslbtest.tcp_connect(family, port, QUERY_TIMEOUT)
                        if i > 1:
                            problem = "tcp connection had to be reopened"
                    gslbtest.tcp_send(kept, wire)
                    reply = gslbtest.tcp_recv(kept, QUERY_TIMEOUT)
                else:
                    reply = gslbtest.tcp_exchange(wire, family, port, QUERY_TIMEOUT)
                    if reply is None:
                        problem = "timeout or connection closed"
            except (OSError, EOFError) as e:
                problem = "%s: %s" % (type(e).__name__, e)
                if kept is not None:
                    kept.close()
                    kept = None
            t1 = time.monotonic()
            addrs = None
            if reply is not None:
                try:
                    m = dns.message.from_wire(reply)
                    if m.id != q.id:
                        problem = "reply id %d for query %d" % (m.id, q.id)
                    elif m.rcode() != dns.rcode.NOERROR or not m.flags & dns.flags.AA:
                        problem = "rcode %s flags %s" % (dns.rcode.to_text(m.rcode()),
                                                         dns.flags.to_text(m.flags))
                    else:
                        addrs = a_records(m)
                except Exception as e:  # noqa: BLE001 - a bad reply is a finding
                    problem = "unparsable reply: %s" % e
            self._record(transport, name, t0, t1, addrs, problem)
            next_t = max(next_t + self.period, time.monotonic() - self.period)
            delay = next_t - time.monotonic()
            if delay > 0:
                self.stopping.wait(delay)
        if kept is not None:
            kept.close()


def version_of(name, addrs):
    """The config version an answer belongs to, None when it belongs to
    none."""
    if addrs is None or len(addrs) != 1:
        return None
    prefix = "192.0.2." if name == WWW else "198.51.100."
    if not addrs[0].startswith(prefix):
        return None
    return int(addrs[0][len(prefix):])


# ---------------------------------------------------------------- tests

BROKEN = ("syntax", "unknown-region", "cname", "missing-zone", "bad-overrides")


def test_no_query_lost_or_wrong_across_20_reloads(gslbd_factory, tmp_path):
    site, srv = start_site(gslbd_factory, tmp_path, v=1)
    admin = srv.admin_address()
    assert answers(srv.port("udp4"), WWW) == ["192.0.2.1"]

    # (version in force, (start, end) of the reload that brought it in)
    versions = [(1, (float("-inf"), float("-inf")))]
    log = []
    # 20 reloads: valid and broken alternate; broken ones go through every
    # kind twice, once by POST and once by SIGHUP; the worker count moves.
    workers = [3, 1, 2, 4, 2, 1, 3, 2, 2, 1]
    plan = []
    for k in range(10):
        plan.append(("valid", k + 2, "sighup" if k % 3 == 2 else "post", workers[k]))
        plan.append((BROKEN[k % 5], None, "post" if k < 5 else "sighup", None))

    with Load(srv) as load:
        time.sleep(0.5)
        for kind, v, how, nworkers in plan:
            current = versions[-1][0]
            if kind == "valid":
                site.write(srv, v, workers=nworkers)
            else:
                site.write(srv, current + 100, broken=kind)
            t_start = time.monotonic()
            if how == "post":
                st, body = post_reload(admin)
                t_end = time.monotonic()
                if kind == "valid":
                    assert st == 200 and body.get("ok") is True, (kind, st, body)
                else:
                    assert st == 422, (kind, st, body)
                    assert ERR_AT_LINE.search(body.get("error", "")), (kind, body)
            else:
                t_end = sighup_reload(srv, expect_ok=(kind == "valid"))
            log.append((kind, v, how, t_start, t_end))
            if kind == "valid":
                versions.append((v, (t_start, t_end)))
            time.sleep(0.3)
        time.sleep(0.3)
    records = load.records

    # Which versions a query may see: version i is possible from the start
    # of the reload that brought it in to the end of the one replacing it.
    spans = []
    for i, (v, (start, _)) in enumerate(versions):
        end = versions[i + 1][1][1] if i + 1 < len(versions) else float("inf")
        spans.append((v, start, end))

    def allowed(t0, t1):
        return {v for v, lo, hi in spans if lo <= t1 and t0 <= hi}

    problems = []
    seen_after = {v: 0 for v, _ in versions}
    for transport, name, t0, t1, addrs, problem in records:
        if problem is None:
            got = version_of(name, addrs)
            ok = allowed(t0, t1)
            if got is None or got not in ok:
                problem = "answer %s is not one of versions %s" % (addrs, sorted(ok))
            elif len(ok) == 1:
                seen_after[got] += 1
        if problem:
            problems.append("%s %s sent at %.3f, %.3fs: %s" % (
                transport, name, t0, t1 - t0, problem))
    timeline = "\n".join("%-14s v=%s %-6s %.3f..%.3f" % r for r in log)
    assert not problems, "%d of %d queries failed:\n%s\nreloads:\n%s" % (
        len(problems), len(records), "\n".join(problems[:30]), timeline)
    # the switch really happened each time, and every transport was busy
    for v, n in seen_after.items():
        assert n > 0, "no query saw version %d alone\nreloads:\n%s" % (v, timeline)
    per = {t: sum(1 for r in records if r[0] == t) for t in ("udp4", "udp6", "tcp4-kept", "tcp6")}
    assert all(n >= 50 for n in per.values()), per
    text = srv.stderr_text()
    assert count_lines(srv, "reloaded what=config") == 10, text[-4000:]
    assert count_lines(srv, "reload failed, still serving the previous state") == 10
    assert "workers restarted workers=4" in text
    # the final state is the last valid version
    assert answers(srv.port("udp4"), WWW) == ["192.0.2.%d" % versions[-1][0]]


# ---------------------------------------------------------------- health

def member_states(status):
    out = {}
    for svc in status["services"]:
        if svc["name"] == SVC:
            for p in svc["pools"]:
                for m in p["members"]:
                    out[(p["region"], m["address"])] = m["state"]
    return out


def test_health_state_kept_across_reload(gslbd_factory, tmp_path):
    ok, bad = gslbtest.HttpBackend(), gslbtest.HttpBackend()
    bad.fail()
    try:
        checks = ('{ name = "web"; type = "http"; interval = 1.0; timeout = 0.5; '
                  'rise = 2; fall = 2; }')
        pools_a = ('{ address = "192.0.2.201"; target = "%s"; }, '
                   '{ address = "192.0.2.202"; target = "%s"; }' % (ok.url(), bad.url()))
        site, srv = start_site(gslbd_factory, tmp_path, v=1, checks=checks, pools_a=pools_a)
        if "prober started" not in srv.stderr_text():
            pytest.skip("this gslbd does not start the prober")
        admin = srv.admin_address()
        deadline = time.monotonic() + 15
        while True:
            states = member_states(get_status(admin))
            if states.get(("a", "192.0.2.202")) == "down" and \
                    states.get(("a", "192.0.2.201")) == "up":
                break
            assert time.monotonic() < deadline, states
            time.sleep(0.1)
        assert answers(srv.port("udp4"), SVC) == ["192.0.2.201"]
        changes0 = count_lines(srv, "member state changed")

        # unrelated changes: zone data and a new service
        site.write(srv, 2, extra_service=True)
        st, body = post_reload(admin)
        assert st == 200, body
        states = member_states(get_status(admin))
        assert states[("a", "192.0.2.202")] == "down", states
        assert states[("a", "192.0.2.201")] == "up", states
        # over more than a probe interval: never answered, never flapping
        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            assert answers(srv.port("udp4"), SVC) == ["192.0.2.201"]
            assert answers(srv.port("udp4"), WWW) == ["192.0.2.2"]
            time.sleep(0.05)
        assert count_lines(srv, "member state changed") == changes0, \
            srv.stderr_text()[-3000:]
        # and a SIGHUP reload keeps it too
        site.write(srv, 3, extra_service=True)
        sighup_reload(srv, expect_ok=True)
        states = member_states(get_status(admin))
        assert states[("a", "192.0.2.202")] == "down", states
        assert answers(srv.port("udp4"), SVC) == ["192.0.2.201"]
    finally:
        ok.close()
        bad.close()


# ---------------------------------------------------------------- listeners

def held_port():
    """A port with a UDP and a TCP socket bound on 127.0.0.1 by the test
    (no SO_REUSEPORT), so gslbd cannot have it. Returns (port, sockets)."""
    for _ in range(50):
        port = gslbtest.free_port()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind(("127.0.0.1", port))
            t.bind(("127.0.0.1", port))
            t.listen(1)
            return port, (u, t)
        except OSError:
            u.close()
            t.close()
    raise AssertionError("no port to hold")


def refuses(port, family=4):
    """Nothing answers DNS on port (UDP: ICMP port unreachable or silence;
    TCP: connection refused)."""
    return (answers(port, WWW, family, "udp", timeout=1.0) is None and
            answers(port, WWW, family, "tcp", timeout=1.0) is None)


def test_listen_addresses_applied_on_reload(gslbd_factory, tmp_path):
    p1 = gslbtest.free_port()
    listen1 = ("127.0.0.1:%d" % p1, "[::1]:0")
    site, srv = start_site(gslbd_factory, tmp_path, v=1, listen=listen1)
    admin = srv.admin_address()
    v6 = srv.port("udp6")
    assert srv.port("udp4") == p1
    want = ["192.0.2.1"]

    # add a second address
    p2 = gslbtest.free_port()
    listen2 = listen1 + ("127.0.0.1:%d" % p2,)
    site.write(srv, 1, listen=listen2)
    st, body = post_reload(admin)
    assert st == 200, body
    for port in (p1, p2):
        assert answers(port, WWW) == want
        assert answers(port, WWW, proto="tcp") == want
    assert answers(v6, WWW, 6) == want  # kept, same port
    assert "listening proto=udp address=127.0.0.1 port=%d" % p2 in srv.stderr_text()

    # an address that cannot be bound fails the reload, and the other new
    # address of the same reload is not applied either
    held, socks = held_port()
    try:
        p4 = gslbtest.free_port()
        site.write(srv, 2, listen=listen2 + ("127.0.0.1:%d" % p4, "127.0.0.1:%d" % held))
        st, body = post_reload(admin)
        assert st == 422, body
        assert "cannot listen" in body.get("error", "") and str(held) in body["error"], body
        assert refuses(p4), "a failed reload left port %d open" % p4
        for port in (p1, p2):
            assert answers(port, WWW) == want  # old state, old data
    finally:
        for s in socks:
            s.close()

    # remove the first address, change the worker count at the same time
    site.write(srv, 3, listen=(listen2[1], listen2[2]), workers=3)
    st, body = post_reload(admin)
    assert st == 200, body
    want = ["192.0.2.3"]
    assert answers(p2, WWW) == want
    assert answers(p2, WWW, proto="tcp") == want
    assert answers(v6, WWW, 6) == want
    assert refuses(p1), "removed address %d still answers" % p1
    assert "stopped listening proto=udp address=127.0.0.1 port=%d" % p1 in srv.stderr_text()

    # fewer workers than sockets: every socket is still served
    site.write(srv, 4, listen=(listen2[1], listen2[2]), workers=1)
    st, body = post_reload(admin)
    assert st == 200, body
    for _ in range(40):  # spread over the SO_REUSEPORT group by source port
        assert answers(p2, WWW) == ["192.0.2.4"]


def test_tcp_limits_applied_on_reload(gslbd_factory, tmp_path):
    site, srv = start_site(gslbd_factory, tmp_path, v=1)
    admin = srv.admin_address()
    port = srv.port("tcp4")
    site.write(srv, 2, max_queries=2)
    st, body = post_reload(admin)
    assert st == 200, body
    with gslbtest.tcp_connect(4, port) as s:
        for _ in range(2):
            gslbtest.tcp_send(s, make_query(WWW, "A").to_wire())
            r = dns.message.from_wire(gslbtest.tcp_recv(s))
            assert a_records(r) == ["192.0.2.2"]
        # the second query was the last: the server ends the connection
        assert gslbtest.tcp_closed_by_peer(s, 5.0)


def test_admin_listener_moves_on_reload(gslbd_factory, tmp_path):
    site, srv = start_site(gslbd_factory, tmp_path, v=1)
    old = srv.admin_address()
    new_port = gslbtest.free_port()
    site.write(srv, 2, admin="127.0.0.1:%d" % new_port)
    # the answer comes back on the listener being replaced
    st, body = post_reload(old)
    assert st == 200, body
    new = ("127.0.0.1", new_port)
    assert get_status(new)["generation"] >= 2
    deadline = time.monotonic() + 10
    while True:
        try:
            get_status(old)
        except OSError:
            break
        assert time.monotonic() < deadline, "old admin listener still open"
        time.sleep(0.1)
    # and reloads keep working through the new one
    site.write(srv, 3, admin="127.0.0.1:%d" % new_port)
    st, body = post_reload(new)
    assert st == 200, body
    assert answers(srv.port("udp4"), WWW) == ["192.0.2.3"]


def svc_answer_for(port, subnet):
    q = make_query(SVC, "A", edns=0, options=[dns.edns.ECSOption(subnet, 16)])
    r = gslbtest.udp_exchange(q.to_wire(), 4, port, QUERY_TIMEOUT)
    return a_records(dns.message.from_wire(r)) if r else None


def test_data_file_watchers_follow_the_config(gslbd_factory, tmp_path):
    """The overrides file named by the config moves between two files over
    ten reloads in a row; afterwards the file in force is watched (an edit is
    picked up without a signal) and the one no longer named is not."""
    site, srv = start_site(gslbd_factory, tmp_path, v=1)
    port = srv.port("udp4")
    files = [os.path.join(site.d, "good.nets"), os.path.join(site.d, "other.nets")]
    write_atomic(files[1], "10.0.0.0/8  b,a\n")
    for k in range(10):
        text = site.config(1).replace(files[0], files[k % 2])
        write_atomic(srv.config_path, text)
        sighup_reload(srv, True)
    # In force now: files[1] (k = 9). Both send 10/8 to b first.
    assert svc_answer_for(port, "10.1.0.0") == ["203.0.113.1"]
    changed = count_lines(srv, "data file changed")
    write_atomic(files[0], "10.0.0.0/8  a,b\n")  # not in force: no reload
    time.sleep(3.5)
    assert count_lines(srv, "data file changed") == changed
    assert svc_answer_for(port, "10.1.0.0") == ["203.0.113.1"]
    write_atomic(files[1], "10.0.0.0/8  a,b\n")
    deadline = time.monotonic() + 10
    while svc_answer_for(port, "10.1.0.0") != ["198.51.100.1"]:
        assert time.monotonic() < deadline, srv.stderr_text()[-3000:]
        time.sleep(0.2)
    assert srv.alive()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def big_config(site, nservices):
    """Site's config with nservices more services of 5 pools of 2 members."""
    svcs = []
    for i in range(nservices):
        pools = ", ".join('{ region = "%s"; members = [ "10.%d.%d.%d", "10.%d.%d.%d" ]; }'
                          % ("ab"[k % 2], k, i >> 8, i & 255, k + 100, i >> 8, i & 255)
                          for k in range(5) if k < 2)
        svcs.append('{ name = "s%d.reload.test"; ttl = 30; pools = ( %s ); }' % (i, pools))
    text = site.config(1)
    return text.replace("services = (\n", "services = (\n  %s,\n" % ",\n  ".join(svcs), 1)


def sanitizer_build():
    """gslbd built with AddressSanitizer: its allocator quarantines freed
    memory, so the resident set says nothing about glibc's."""
    with open(gslbtest.GSLBD, "rb") as f:
        return b"__asan_init" in f.read()


@pytest.mark.skipif(gslbtest.VALGRIND, reason="RSS under valgrind says nothing")
def test_memory_flat_across_20_reloads(gslbd_factory, tmp_path):
    """The same configuration reloaded 20 times: the resident set after the
    last reload stays within 1.3x of its value after the first (it used to
    grow with every reload: glibc's rising mmap threshold and untrimmed
    arenas)."""
    if sanitizer_build():
        pytest.skip("RSS of an AddressSanitizer build says nothing about glibc's allocator")
    site = Site(tmp_path)
    srv = gslbd_factory(config_text=big_config(site, 2000))
    assert answers(srv.port("udp4"), WWW) == ["192.0.2.1"]
    rss = []
    for _ in range(20):
        sighup_reload(srv, True)
        time.sleep(0.3)
        rss.append(rss_kb(srv.proc.pid))
    assert rss[-1] <= 1.3 * rss[0], "RSS after each reload (kB): %s" % rss
    assert answers(srv.port("udp4"), WWW) == ["192.0.2.1"]
