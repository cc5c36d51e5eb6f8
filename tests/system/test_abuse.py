"""Abuse resistance (issue 7): response rate limiting, query ACLs and the TCP
limits, seen from the outside.

RRL (UDP only): queries from one client network for one answer are answered
in full up to `responses_per_second` (a new bucket starts with one second's
worth; the balance then refills at the rate and may run up a debt of
rate x window); over it a response is dropped, or with probability 1/slip sent
truncated (TC, the question only) so that a real client retries over TCP.
Positive answers are bucketed by (qname, qtype), NXDOMAIN and NODATA by the
zone, errors by rcode. The tests count what the client got and compare it
with gslb_rrl_responses_total and gslb_dns_queries_total on /metrics.

Only 127.0.0.1 and ::1 are used: they are the two "client networks".

Timing: every bound is written so that a slow, loaded machine can only make
it easier to meet (full answers are bounded above by rate x (seconds spanned
+ 1), below by the first second's rate; waits for recovery are window + 1 s
and checks of "still limited" are made well inside the window). The slip
proportion is checked within six standard deviations of the binomial.
"""

import os
import random
import re
import select
import socket
import struct
import threading
import time

import pytest

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

import gslbtest
from gslbtest import (ADDR, FAMILY, make_query, run_gslbd, tcp_connect, tcp_recv, tcp_send,
                      wait_for)

NAME = "www.example.test"
ZONE = "example.test"

# Under valgrind (make check-valgrind) the daemon is 20-50 times slower:
# floods are sent slower and fewer, and every deadline is multiplied.
SLOW = getattr(gslbtest, "SLOW", 1.0)
VALGRIND = getattr(gslbtest, "VALGRIND", False)


# ---------------------------------------------------------------- config

def conf_text(directory, rrl=None, acl=None, tcp=None, extra="", workers=2):
    """A test config (gslbtest.gslbd_config) with an admin listener and the
    given rrl, acl and tcp group bodies (None: section absent; tcp None:
    the default test tcp line)."""
    parts = []
    if rrl is not None:
        parts.append("rrl = { %s };" % rrl)
    if acl is not None:
        parts.append("acl = { %s };" % acl)
    if extra:
        parts.append(extra)
    text = gslbtest.gslbd_config(str(directory), workers=workers, admin="127.0.0.1:0",
                                 extra="\n".join(parts))
    if tcp is not None:
        text, n = re.subn(r"^tcp = \{.*\};$", "tcp = { %s };" % tcp, text, flags=re.M)
        assert n == 1, text
    return text


def start(gslbd_factory, tmp_path, **kw):
    srv = gslbd_factory(config_text=conf_text(tmp_path, **kw))
    srv.admin_address()
    return srv


# ---------------------------------------------------------------- metrics

class Counters:
    """The counters these tests read, as a snapshot."""

    def __init__(self, srv):
        m = srv.metrics()
        self.rrl_drop = m.get('gslb_rrl_responses_total{action="drop"}', 0)
        self.rrl_slip = m.get('gslb_rrl_responses_total{action="slip"}', 0)
        self.acl_refuse = m.get('gslb_acl_denied_total{action="refuse"}', 0)
        self.acl_drop = m.get('gslb_acl_denied_total{action="drop"}', 0)
        self.udp_queries = sum(v for k, v in m.items()
                               if k.startswith('gslb_dns_queries_total{transport="udp"'))
        self.tcp_queries = sum(v for k, v in m.items()
                               if k.startswith('gslb_dns_queries_total{transport="tcp"'))
        self.tcp_per_ip = m.get('gslb_tcp_refused_total{limit="max_per_ip"}', 0)

    def __sub__(self, other):
        d = Counters.__new__(Counters)
        for k, v in vars(self).items():
            setattr(d, k, v - getattr(other, k))
        return d

    def __repr__(self):
        return "Counters(%s)" % ", ".join("%s=%d" % kv for kv in sorted(vars(self).items()))


# ---------------------------------------------------------------- UDP floods

QTYPES = {"A": 1, "NS": 2, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}


def wire_query(name, qtype="A", qid=0):
    """A plain query (no RD, no EDNS), built by hand: the floods need
    thousands of them quickly."""
    out = struct.pack("!HHHHHH", qid & 0xFFFF, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0" + struct.pack("!HH", QTYPES[qtype], 1)


def is_tc(wire):
    return bool(wire[2] & 0x02)


def rcode_of(wire):
    return wire[3] & 0x0F


class Flood:
    """What one client socket got for a run of UDP queries."""

    def __init__(self):
        self.sent = 0
        self.replies = []
        self.t_first = self.t_last = 0.0

    @property
    def full(self):
        return [r for r in self.replies if not is_tc(r)]

    @property
    def tc(self):
        return [r for r in self.replies if is_tc(r)]

    def seconds(self):
        return self.t_last - self.t_first

    def max_full(self, rate):
        """The most full answers one bucket may give over this run: a
        second's worth at the start and one more each time the clock
        crosses a second."""
        return rate * (int(self.seconds()) + 2)

    def __repr__(self):
        return "Flood(sent=%d full=%d tc=%d in %.2fs)" % (self.sent, len(self.full),
                                                          len(self.tc), self.seconds())


def udp_flood(port, family, queries, pace=None, settle=1.0):
    """Send the wire queries from one socket at about `pace` per second,
    reading replies in between (so that no reply is lost to a full socket
    buffer), then read until `settle` seconds pass without one."""
    pace = pace or 2000.0 / SLOW
    settle *= SLOW
    f = Flood()
    with socket.socket(FAMILY[family], socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.connect((ADDR[family], port))
        s.setblocking(False)

        def drain():
            while True:
                try:
                    d = s.recv(65535)
                except (BlockingIOError, InterruptedError):
                    return
                except ConnectionRefusedError:
                    continue
                f.replies.append(d)
                f.t_last = time.monotonic()

        f.t_first = time.monotonic()
        for i, q in enumerate(queries):
            due = f.t_first + i / pace
            while True:
                drain()
                now = time.monotonic()
                if now >= due:
                    break
                select.select([s], [], [], due - now)
            try:
                s.send(q)
            except BlockingIOError:
                select.select([], [s], [], 1.0)
                s.send(q)
            f.sent += 1
            f.t_last = max(f.t_last, time.monotonic())
        quiet = time.monotonic()
        while time.monotonic() - quiet < settle:
            r, _, _ = select.select([s], [], [], settle)
            if r:
                n = len(f.replies)
                drain()
                if len(f.replies) > n:
                    quiet = time.monotonic()
    return f


def same_queries(name, qtype, n):
    return [wire_query(name, qtype, i) for i in range(n)]


def random_names(n, zone=ZONE, seed=None):
    rnd = random.Random(seed)
    return ["%s.%s" % ("".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789")
                               for _ in range(12)), zone) for _ in range(n)]


def udp_one(srv, name, qtype="A", family=4, timeout=1.0):
    """One query; the reply (dnspython) or None."""
    return srv.query(make_query(name, qtype), "udp%d" % family, timeout=timeout * SLOW)


def full_answer(r):
    return r is not None and not r.flags & dns.flags.TC and r.rcode() == dns.rcode.NOERROR \
        and len(r.answer) > 0


def exhaust(srv, name=NAME, qtype="A", family=4, n=100):
    """Run a bucket into debt (n quick queries)."""
    return udp_flood(srv.ports["udp%d" % family], family, same_queries(name, qtype, n),
                     settle=0.5)


def check_counts(flood, before, after):
    """The client's view against the daemon's counters: every query was
    seen; every limited response is a drop or a slip, and every slip
    reached the client as a TC reply."""
    d = after - before
    assert d.udp_queries <= flood.sent, (flood, d)
    assert d.udp_queries >= flood.sent * 0.98, "the daemon saw too few queries: %r %r" % (
        flood, d)
    assert d.rrl_slip == len(flood.tc), (flood, d)
    assert d.rrl_drop == d.udp_queries - len(flood.full) - len(flood.tc), (flood, d)
    return d


# ---------------------------------------------------------------- RRL

def test_rrl_off_without_section(gslbd_factory, tmp_path):
    """No rrl section: nothing is limited."""
    srv = start(gslbd_factory, tmp_path)
    before = Counters(srv)
    f = udp_flood(srv.ports["udp4"], 4, same_queries(NAME, "A", 300))
    assert len(f.full) == 300 and not f.tc, f
    d = Counters(srv) - before
    assert d.rrl_drop == 0 and d.rrl_slip == 0, d


def test_rrl_rate_zero_is_off(gslbd_factory, tmp_path):
    srv = start(gslbd_factory, tmp_path, rrl="responses_per_second = 0;")
    f = udp_flood(srv.ports["udp4"], 4, same_queries(NAME, "A", 200))
    assert len(f.full) == 200 and not f.tc, f


@pytest.mark.parametrize("family", [4, 6])
def test_rrl_burst_rate_and_slip(gslbd_factory, tmp_path, family):
    """400 identical queries in about 0.2 s with rate 5, slip 2: about a
    second's worth answered in full, the rest dropped or truncated about
    half and half; the counters say the same."""
    rate, n = 5, 400
    srv = start(gslbd_factory, tmp_path, rrl="responses_per_second = %d; slip = 2;" % rate)
    before = Counters(srv)
    f = udp_flood(srv.ports["udp%d" % family], family, same_queries(NAME, "A", n))
    after = Counters(srv)
    d = check_counts(f, before, after)
    full = len(f.full)
    assert rate <= full <= f.max_full(rate), f
    limited = d.udp_queries - full
    # binomial(limited, 1/2): six standard deviations either side
    sd = (limited * 0.25) ** 0.5
    assert abs(len(f.tc) - limited / 2) <= 6 * sd + 1, (f, d)
    for r in f.full:
        assert rcode_of(r) == 0 and struct.unpack("!H", r[6:8])[0] >= 1


def test_rrl_bucket_shared_by_workers(gslbd_factory, tmp_path):
    """Queries from many source ports of one address reach different
    workers (SO_REUSEPORT); the bucket is shared: still at most a second's
    worth per second in all."""
    srv = start(gslbd_factory, tmp_path, rrl="responses_per_second = 5; slip = 0;", workers=4)
    socks = []
    try:
        for _ in range(16):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.connect(("127.0.0.1", srv.ports["udp4"]))
            s.setblocking(False)
            socks.append(s)
        before = Counters(srv)
        t0 = time.monotonic()
        for i in range(20):
            for s in socks:
                s.send(wire_query(NAME, "A", i))
            time.sleep(0.005)
        t1 = time.monotonic()
        full = 0
        deadline = time.monotonic() + 1.0 * SLOW
        while time.monotonic() < deadline:
            r, _, _ = select.select(socks, [], [], 0.2)
            for s in r:
                try:
                    while True:
                        d = s.recv(4096)
                        full += not is_tc(d)
                except BlockingIOError:
                    pass
        d = Counters(srv) - before
    finally:
        for s in socks:
            s.close()
    assert 5 <= full <= 5 * (int(t1 - t0 + 0.5) + 2), (full, t1 - t0)
    assert d.rrl_drop == d.udp_queries - full, d


def test_rrl_tc_reply_shape(gslbd_factory, tmp_path):
    """A slipped reply: same id, QR and TC set, the question of the query,
    no records in any section, rcode of the answer (NOERROR)."""
    srv = start(gslbd_factory, tmp_path, rrl="responses_per_second = 5; slip = 1;")
    queries = [make_query(NAME, "A", qid=1000 + i).to_wire() for i in range(60)]
    f = udp_flood(srv.ports["udp4"], 4, queries)
    assert len(f.tc) >= 60 - f.max_full(5), f
    ids = set()
    for wire in f.tc:
        m = dns.message.from_wire(wire)
        assert m.flags & dns.flags.QR and m.flags & dns.flags.TC, m
        assert m.rcode() == dns.rcode.NOERROR, m
        assert len(m.question) == 1, m
        q = m.question[0]
        assert q.name.to_text().lower() == NAME + "." and q.rdtype == dns.rdatatype.A, m
        assert not m.answer and not m.authority and not m.additional, m
        assert len(wire) <= len(queries[0]), "a slip is no bigger than the query"
        ids.add(m.id)
    assert ids <= set(range(1000, 1060)) and len(ids) == len(f.tc), "ids are echoed"


def test_rrl_tc_reply_keeps_opt_for_edns_query(gslbd_factory, tmp_path):
    srv = start(gslbd_factory, tmp_path, rrl="responses_per_second = 5; slip = 1;")
    queries = [make_query(NAME, "A", edns=0, qid=i).to_wire() for i in range(40)]
    f = udp_flood(srv.ports["udp4"], 4, queries)
    assert f.tc, f
    for wire in f.tc:
        assert dns.message.from_wire(wire).edns == 0, "no OPT in the slipped reply"


def test_rrl_slip_one_truncates_every_limited(gslbd_factory, tmp_path):
    srv = start(gslbd_factory, tmp_path, rrl="responses_per_second = 5; slip = 1;")
    before = Counters(srv)
    f = udp_flood(srv.ports["udp4"], 4, same_queries(NAME, "A", 200))
    d = check_counts(f, before, Counters(srv))
    assert d.rrl_drop == 0, d
    assert len(f.full) + len(f.tc) == d.udp_queries, (f, d)


def test_rrl_slip_zero_drops_all(gslbd_factory, tmp_path):
    srv = start(gslbd_factory, tmp_path, rrl="responses_per_second = 5; slip = 0;")
    before = Counters(srv)
    f = udp_flood(srv.ports["udp4"], 4, same_queries(NAME, "A", 300))
    d = check_counts(f, before, Counters(srv))
    assert not f.tc and d.rrl_slip == 0, (f, d)
    assert 5 <= len(f.full) <= f.max_full(5), f
    assert d.rrl_drop == d.udp_queries - len(f.full) >= 300 - f.max_full(5) - 6, d


def test_rrl_client_below_rate_never_limited(gslbd_factory, tmp_path):
    """4 queries a second against a rate of 5, for 4 s: all in full."""
    srv = start(gslbd_factory, tmp_path, rrl="responses_per_second = 5; slip = 2;")
    f = udp_flood(srv.ports["udp4"], 4, same_queries(NAME, "A", 16), pace=4.0)
    assert len(f.full) == 16 and not f.tc, f


def test_rrl_tcp_never_limited(gslbd_factory, tmp_path):
    """With the UDP bucket in debt, TCP queries from the same client are
    all answered; a resolver that follows TC to TCP gets every answer."""
    srv = start(gslbd_factory, tmp_path, rrl="responses_per_second = 5; slip = 2;")
    f = exhaust(srv, n=200)
    assert len(f.full) <= f.max_full(5), f
    for family in (4, 6):
        with tcp_connect(family, srv.ports["tcp%d" % family], timeout=5 * SLOW) as s:
            for i in range(40):
                tcp_send(s, make_query(NAME, "A", qid=i).to_wire())
                r = dns.message.from_wire(tcp_recv(s, timeout=5 * SLOW))
                assert full_answer(r), r
    for i in range(40):
        r = srv.tcp4(make_query(NAME, "A"), timeout=5 * SLOW)
        assert full_answer(r), r
    # the resolver's way: UDP, then TCP on TC; with slip=2 about half of
    # the queries come back TC and are retried over TCP
    got = 0
    for i in range(20):
        r = udp_one(srv, NAME, timeout=0.3)
        if r is not None and r.flags & dns.flags.TC:
            r = srv.tcp4(make_query(NAME, "A"), timeout=5 * SLOW)
            got += full_answer(r)
    assert got > 0


def test_rrl_buckets_by_name_type_and_client(gslbd_factory, tmp_path):
    """With www A from 127.0.0.1 in debt: www AAAA, mail A and www A from
    ::1 are separate buckets and answered; the same name in other case
    shares the bucket."""
    srv = start(gslbd_factory, tmp_path, rrl="responses_per_second = 5; slip = 0; window = 15;")
    exhaust(srv, n=150)
    assert udp_one(srv, NAME, "A", timeout=0.5) is None
    assert udp_one(srv, "WwW.ExAmPlE.tEsT", "A", timeout=0.5) is None, "case must not matter"
    for name, qtype, family in [(NAME, "AAAA", 4), ("mail.example.test", "A", 4),
                                (NAME, "MX", 4), (NAME, "A", 6)]:
        r = udp_one(srv, name, qtype, family)
        assert r is not None and r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.TC, (
            name, qtype, family, r)
    # NODATA (www MX) is answered too; a second exhausted name does not
    # disturb the first one's neighbours
    exhaust(srv, name="mail.example.test", n=100)
    r = udp_one(srv, NAME, "AAAA")
    assert full_answer(r), r


def test_rrl_nxdomain_flood_shares_one_bucket(gslbd_factory, tmp_path):
    """10,000 random-subdomain queries under example.test from 127.0.0.1:
    the NXDOMAIN answers in full stay within rate x (seconds + 1) (one
    bucket for the zone), while the daemon keeps answering other names
    from the same client and NXDOMAIN to the other client network (::1)."""
    rate, n = 5, (2000 if VALGRIND else 10000)
    srv = start(gslbd_factory, tmp_path, rrl="responses_per_second = %d; slip = 2;" % rate)
    names = random_names(n, seed=7)
    queries = [wire_query(nm, "A", i) for i, nm in enumerate(names)]
    stop = threading.Event()
    legit = {"asked": 0, "answered": 0, "failed": []}

    def legit_client():
        """Two clients at 2 q/s each: 127.0.0.1 asks www A/AAAA (its own
        buckets), ::1 asks random names (NXDOMAIN, its own network);
        one retry per query, as a resolver would."""
        i = 0
        while not stop.is_set():
            for name, qtype, family in [(NAME, ("A", "AAAA")[i % 2], 4),
                                        (random_names(1)[0], "A", 6)]:
                legit["asked"] += 1
                want = dns.rcode.NOERROR if family == 4 else dns.rcode.NXDOMAIN
                ok = False
                for _ in range(2):
                    r = udp_one(srv, name, qtype, family, timeout=1.5)
                    if r is not None and not r.flags & dns.flags.TC and r.rcode() == want:
                        ok = True
                        break
                if ok:
                    legit["answered"] += 1
                else:
                    legit["failed"].append((name, qtype, family, r and r.to_text()))
            i += 1
            stop.wait(0.5)

    t = threading.Thread(target=legit_client, daemon=True)
    before = Counters(srv)
    t.start()
    try:
        f = udp_flood(srv.ports["udp4"], 4, queries, pace=3000.0 / SLOW, settle=1.0)
    finally:
        stop.set()
        t.join(10)
    after = Counters(srv)
    assert all(rcode_of(r) == 3 for r in f.replies), "every flood reply is NXDOMAIN"
    assert rate <= len(f.full) <= f.max_full(rate), f
    d = after - before
    assert d.rrl_slip == len(f.tc), (f, d)
    assert d.rrl_drop + d.rrl_slip + len(f.full) >= f.sent * 0.98, (f, d)
    assert legit["asked"] >= 4, legit
    assert not legit["failed"], legit
    # the flooded bucket is in debt now; NODATA in the same zone is
    # another bucket
    r = udp_one(srv, NAME, "MX")
    assert r is not None and r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.TC, r
    assert not r.answer and r.authority, r


def test_rrl_wildcard_flood_shares_one_bucket(gslbd_factory, tmp_path):
    srv = start(gslbd_factory, tmp_path, rrl="responses_per_second = 5; slip = 0;")
    names = random_names(500, zone="wild.example.test", seed=11)
    f = udp_flood(srv.ports["udp4"], 4, [wire_query(nm, "A", i) for i, nm in enumerate(names)])
    assert all(rcode_of(r) == 0 for r in f.replies)
    assert len(f.full) <= f.max_full(5), f


def test_rrl_errors_limited_by_rcode(gslbd_factory, tmp_path):
    """REFUSED for names outside the served zones: one bucket per rcode,
    whatever the name."""
    srv = start(gslbd_factory, tmp_path, rrl="responses_per_second = 5; slip = 0;")
    names = random_names(300, zone="not-served.example", seed=3)
    f = udp_flood(srv.ports["udp4"], 4, [wire_query(nm, "A", i) for i, nm in enumerate(names)])
    assert all(rcode_of(r) == 5 for r in f.replies), "REFUSED for names not served"
    assert 5 <= len(f.full) <= f.max_full(5), f
    # a positive answer is not in the errors' bucket
    assert full_answer(udp_one(srv, NAME))


@pytest.mark.parametrize("exempt,free,limited", [("127.0.0.1/32", 4, 6), ("::1/128", 6, 4)])
def test_rrl_exempt(gslbd_factory, tmp_path, exempt, free, limited):
    srv = start(gslbd_factory, tmp_path,
                rrl='responses_per_second = 5; slip = 2; exempt = [ "192.0.2.0/24", "%s" ];'
                % exempt)
    before = Counters(srv)
    f = udp_flood(srv.ports["udp%d" % free], free, same_queries(NAME, "A", 300))
    assert len(f.full) == 300 and not f.tc, f
    d = Counters(srv) - before
    assert d.rrl_drop == 0 and d.rrl_slip == 0, d
    g = udp_flood(srv.ports["udp%d" % limited], limited, same_queries(NAME, "A", 300))
    assert len(g.full) <= g.max_full(5), g


def test_rrl_recovers_after_window(gslbd_factory, tmp_path):
    """window = 3: a bucket driven to its full debt is still limited a
    second later, and answers again after window + 1 s of quiet (the
    debt is rate x window and refills at rate per second)."""
    window = 3
    srv = start(gslbd_factory, tmp_path,
                rrl="responses_per_second = 5; slip = 0; window = %d;" % window)
    f = exhaust(srv, n=200)
    assert len(f.full) <= f.max_full(5), f
    # inside the window: still limited (a probe is one more response)
    t_quiet = f.t_last
    time.sleep(max(0.0, t_quiet + 0.8 - time.monotonic()))
    assert udp_one(srv, NAME, timeout=0.5) is None, "still limited inside the window"
    t_quiet = time.monotonic()
    time.sleep(window + 1.3)
    r = udp_one(srv, NAME, timeout=2.0)
    assert full_answer(r), "not answered after %.1f s of quiet: %s" % (
        time.monotonic() - t_quiet, r)
    g = exhaust(srv, n=30)
    assert len(g.full) >= 4, ("a second's worth again", g)


def test_rrl_reload_turns_it_off(gslbd_factory, tmp_path):
    """SIGHUP with the rrl section removed: no more limiting."""
    srv = start(gslbd_factory, tmp_path, rrl="responses_per_second = 5; slip = 0;")
    f = exhaust(srv, n=100)
    assert len(f.full) <= f.max_full(5)
    with open(srv.config_path, "w") as fh:
        fh.write(conf_text(tmp_path))
    srv.proc.send_signal(1)
    deadline = time.monotonic() + 15 * SLOW
    while "generation=2" not in srv.stderr_text():
        assert time.monotonic() < deadline, srv.stderr_text()[-3000:]
        time.sleep(0.1)
    g = udp_flood(srv.ports["udp4"], 4, same_queries(NAME, "A", 100))
    assert len(g.full) == 100, g


# ---------------------------------------------------------------- ACL

def refused(r):
    return r is not None and r.rcode() == dns.rcode.REFUSED and not r.answer


def check_refused_reply(r, qname=NAME):
    assert refused(r), r
    assert r.flags & dns.flags.QR and not r.flags & dns.flags.AA, r
    assert len(r.question) == 1 and r.question[0].name.to_text().lower() == qname + ".", r


def test_acl_deny_refuses_udp_and_tcp(gslbd_factory, tmp_path):
    srv = start(gslbd_factory, tmp_path, acl='deny = [ "10.0.0.0/8", "127.0.0.1/32" ];')
    before = Counters(srv)
    check_refused_reply(srv.udp4(make_query(NAME, "A")))
    check_refused_reply(srv.tcp4(make_query(NAME, "A")))
    # TCP: refused per query, the connection stays usable
    with tcp_connect(4, srv.ports["tcp4"]) as s:
        for i in range(3):
            tcp_send(s, make_query(NAME, "AAAA", qid=i).to_wire())
            check_refused_reply(dns.message.from_wire(tcp_recv(s)))
    assert full_answer(srv.udp6(make_query(NAME, "A")))
    assert full_answer(srv.tcp6(make_query(NAME, "A")))
    d = Counters(srv) - before
    assert d.acl_refuse == 5 and d.acl_drop == 0, d


def test_acl_action_drop(gslbd_factory, tmp_path):
    """action = drop: no UDP reply; the TCP connection is closed without
    one; the other client is served."""
    srv = start(gslbd_factory, tmp_path, acl='deny = [ "::1/128" ]; action = "drop";')
    before = Counters(srv)
    assert srv.udp6(make_query(NAME, "A"), timeout=1.0) is None
    with tcp_connect(6, srv.ports["tcp6"]) as s:
        tcp_send(s, make_query(NAME, "A").to_wire())
        assert gslbtest.tcp_closed_by_peer(s, 5.0 * SLOW), "the connection must be closed"
    assert full_answer(srv.udp4(make_query(NAME, "A")))
    assert full_answer(srv.tcp4(make_query(NAME, "A")))
    d = Counters(srv) - before
    assert d.acl_drop == 2 and d.acl_refuse == 0, d


def test_acl_allow_list(gslbd_factory, tmp_path):
    """An allow list without ::1: ::1 refused (UDP and TCP), 127.0.0.1
    served."""
    srv = start(gslbd_factory, tmp_path, acl='allow = [ "127.0.0.0/8", "2001:db8::/32" ];')
    check_refused_reply(srv.udp6(make_query(NAME, "A")))
    check_refused_reply(srv.tcp6(make_query(NAME, "A")))
    assert full_answer(srv.udp4(make_query(NAME, "A")))
    assert full_answer(srv.tcp4(make_query(NAME, "A")))


def test_acl_deny_wins_over_allow(gslbd_factory, tmp_path):
    srv = start(gslbd_factory, tmp_path,
                acl='allow = [ "127.0.0.0/8", "::1/128" ]; deny = [ "127.0.0.1/32" ];')
    check_refused_reply(srv.udp4(make_query(NAME, "A")))
    assert full_answer(srv.udp6(make_query(NAME, "A")))


def test_acl_refused_not_counted_as_rrl(gslbd_factory, tmp_path):
    """The ACL comes before any other work: a denied client's queries
    touch neither the answer counters nor RRL."""
    srv = start(gslbd_factory, tmp_path, acl='deny = [ "127.0.0.1/32" ];',
                rrl="responses_per_second = 5; slip = 0;")
    before = Counters(srv)
    f = udp_flood(srv.ports["udp4"], 4, same_queries(NAME, "A", 50))
    d = Counters(srv) - before
    assert d.acl_refuse == 50 and d.udp_queries == 0, d
    assert d.rrl_drop == 0 and d.rrl_slip == 0, d
    assert len(f.replies) == 50 and all(rcode_of(r) == 5 for r in f.replies), f


def write_atomic(path, text):
    tmp = str(path) + ".new"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.rename(tmp, str(path))


def served(srv, family):
    return full_answer(udp_one(srv, NAME, "A", family, timeout=1.0))


def refused_now(srv, family):
    return refused(udp_one(srv, NAME, "A", family, timeout=1.0))


def test_acl_blocklist_reloaded_on_change(gslbd_factory, tmp_path):
    """The blocklist file is replaced at run time (write, rename): the
    daemon follows within a few seconds; a broken line keeps the old list
    and logs the file and line; a deleted file keeps the old list too."""
    bl = tmp_path / "blocklist.txt"
    bl.write_text("# nobody yet\n\n")
    srv = start(gslbd_factory, tmp_path, acl='blocklist = "blocklist.txt";')
    before = Counters(srv)
    assert served(srv, 4) and served(srv, 6)

    write_atomic(bl, "# the test client\n127.0.0.1/32   # v4 loopback\n203.0.113.0/24\n")
    _, took = wait_for("127.0.0.1 blocked", lambda: refused_now(srv, 4), 10 * SLOW, [srv])
    assert took < 8 * SLOW, took
    assert served(srv, 6)
    check_refused_reply(srv.tcp4(make_query(NAME, "A")))

    write_atomic(bl, "::1\n")
    wait_for("127.0.0.1 unblocked", lambda: served(srv, 4), 10 * SLOW, [srv])
    wait_for("::1 blocked", lambda: refused_now(srv, 6), 10 * SLOW, [srv])

    # a broken line: "reload failed", file:line named, old list kept
    write_atomic(bl, "127.0.0.0/8\n::1/128\nnot-a-network\n")
    srv.wait_log(r"reload failed.*blocklist\.txt:3:", 10 * SLOW)
    for _ in range(3):
        assert served(srv, 4), "the old list (::1 only) stays"
        assert refused_now(srv, 6)
        time.sleep(0.5)

    # deleted: still the old list
    os.unlink(str(bl))
    time.sleep(3)
    assert served(srv, 4) and refused_now(srv, 6)

    # back, empty: everybody served
    write_atomic(bl, "")
    wait_for("::1 unblocked", lambda: served(srv, 6), 10 * SLOW, [srv])
    assert served(srv, 4)
    d = Counters(srv) - before
    assert d.acl_refuse >= 4, d


def test_acl_blocklist_reload_log_names_it(gslbd_factory, tmp_path):
    bl = tmp_path / "blocklist.txt"
    bl.write_text("")
    srv = start(gslbd_factory, tmp_path, acl='blocklist = "blocklist.txt";')
    write_atomic(bl, "192.0.2.0/24\nbogus\n")
    srv.wait_log(r"reload failed", 10 * SLOW)
    line = next(ln for ln in srv.stderr_text().splitlines() if "reload failed" in ln)
    assert "what=geoip" not in line, line


def test_acl_refused_keeps_opt_for_edns_query(gslbd_factory, tmp_path):
    srv = start(gslbd_factory, tmp_path, acl='deny = [ "127.0.0.1/32" ];')
    r = srv.udp4(make_query(NAME, "A", edns=0))
    assert refused(r), r
    assert r.edns == 0, "no OPT in the REFUSED reply:\n%s" % r


# ---------------------------------------------------------------- TCP limits

TCP_BASE = "idle_timeout = 10.0; max_connections = 1024; max_queries = 0;"


def tcp_ask(s, qid=1, timeout=3.0):
    tcp_send(s, make_query(NAME, "A", qid=qid).to_wire())
    return dns.message.from_wire(tcp_recv(s, timeout=timeout * SLOW))


def test_tcp_max_per_ip(gslbd_factory, tmp_path):
    """max_per_ip = 4: a fifth connection from 127.0.0.1 is closed at
    once (and counted in gslb_tcp_refused_total{limit="max_per_ip"}), the
    four others keep working, ::1 and UDP are not affected, and closing one
    makes room."""
    srv = start(gslbd_factory, tmp_path, tcp=TCP_BASE + " max_per_ip = 4;")
    before = Counters(srv)
    conns = []
    try:
        for i in range(4):
            s = tcp_connect(4, srv.ports["tcp4"], timeout=5 * SLOW)
            conns.append(s)
            assert full_answer(tcp_ask(s, i))
        extra = tcp_connect(4, srv.ports["tcp4"], timeout=5 * SLOW)
        try:
            assert gslbtest.tcp_closed_by_peer(extra, 5.0 * SLOW), "the fifth must be closed"
        finally:
            extra.close()
        assert full_answer(srv.udp4(make_query(NAME, "A")))
        for i, s in enumerate(conns):
            assert full_answer(tcp_ask(s, 100 + i))
        with tcp_connect(6, srv.ports["tcp6"], timeout=5 * SLOW) as s6:
            assert full_answer(tcp_ask(s6))
        conns.pop().close()

        def room():
            try:
                with tcp_connect(4, srv.ports["tcp4"], timeout=5 * SLOW) as s:
                    return full_answer(tcp_ask(s))
            except (EOFError, OSError):
                return False
        wait_for("a connection after one was closed", room, 5 * SLOW, [srv])
    finally:
        for s in conns:
            s.close()
    d = Counters(srv) - before
    assert d.tcp_per_ip >= 1, d


def tcp_connect_from(src, port, timeout=5.0):
    """A TCP connection to 127.0.0.1:port from the loopback address src
    (any 127.x.y.z is ours on lo)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout * SLOW)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


@pytest.mark.parametrize("tcp,refused_from", [
    # default /24: four addresses of 127.0.0.0/24 fill it
    ("", True),
    ("ipv4_prefix = 32;", False),  # per address, as before
])
def test_tcp_max_per_ip_counts_the_network(gslbd_factory, tmp_path, tcp, refused_from):
    """max_per_ip counts connections per client network (tcp.ipv4_prefix,
    /24 by default), not per address: with 4 held from 127.0.0.1-4, a fifth
    from 127.0.0.5 is closed at once, while 127.0.1.1 (another /24) is
    served. ipv4_prefix = 32 counts single addresses again."""
    srv = start(gslbd_factory, tmp_path, tcp=TCP_BASE + " max_per_ip = 4; " + tcp)
    port = srv.ports["tcp4"]
    before = Counters(srv)
    conns = []
    try:
        for i in range(4):
            s = tcp_connect_from("127.0.0.%d" % (i + 1), port)
            conns.append(s)
            assert full_answer(tcp_ask(s, i))
        s = tcp_connect_from("127.0.0.5", port)
        conns.append(s)
        if refused_from:
            assert gslbtest.tcp_closed_by_peer(s, 5.0 * SLOW), "the fifth of the /24 is served"
        else:
            assert full_answer(tcp_ask(s, 5))
        other = tcp_connect_from("127.0.1.1", port)
        conns.append(other)
        assert full_answer(tcp_ask(other, 6)), "another /24 is counted on its own"
        for i, s in enumerate(conns[:4]):
            assert full_answer(tcp_ask(s, 100 + i))
    finally:
        for s in conns:
            s.close()
    d = Counters(srv) - before
    assert (d.tcp_per_ip >= 1) == refused_from, d


def test_tcp_max_connections_evicts_longest_idle(gslbd_factory, tmp_path):
    """The global cap: a new client gets the slot of the connection idle
    the longest (as NSD and Knot do), the others go on; when none is idle
    (each holds part of a message), new connections are closed at once,
    logged once, while UDP keeps answering."""
    srv = start(gslbd_factory, tmp_path,
                tcp="idle_timeout = 10.0; max_connections = 3; max_per_ip = 0;")
    before = Counters(srv)
    conns = {}
    try:
        for i, (name, fam) in enumerate((("a", 4), ("b", 6), ("c", 4))):
            conns[name] = tcp_connect(fam, srv.ports["tcp%d" % fam], timeout=5 * SLOW)
            assert full_answer(tcp_ask(conns[name], i))
        # a is active again: b is now the one idle the longest
        assert full_answer(tcp_ask(conns["a"], 10))
        conns["d"] = tcp_connect(6, srv.ports["tcp6"], timeout=5 * SLOW)
        assert full_answer(tcp_ask(conns["d"], 11)), "a new client is served"
        assert gslbtest.tcp_closed_by_peer(conns["b"], 5.0 * SLOW), "b, idle longest, closed"
        for i, name in enumerate("acd"):
            assert full_answer(tcp_ask(conns[name], 20 + i)), name
        # nothing idle: half a message on each
        for name in "acd":
            conns[name].sendall(b"\x00")
        time.sleep(0.2)
        for fam in (4, 6):
            s = tcp_connect(fam, srv.ports["tcp%d" % fam], timeout=5 * SLOW)
            try:
                assert gslbtest.tcp_closed_by_peer(s, 5.0 * SLOW)
            finally:
                s.close()
            assert full_answer(srv.query(make_query(NAME, "A"), "udp%d" % fam))
        text = srv.stderr_text()
        assert text.count("no connection idle, refusing new connections") == 1, text[-3000:]
        # the held ones finish their messages and are answered
        for i, name in enumerate("acd"):
            w = make_query(NAME, "A", qid=30 + i).to_wire()
            conns[name].sendall(struct.pack("!H", len(w))[1:] + w)
            assert full_answer(dns.message.from_wire(tcp_recv(conns[name], 3.0 * SLOW)))
    finally:
        for s in conns.values():
            s.close()
    m = srv.metrics()
    assert m.get("gslb_tcp_evicted_total", 0) >= 1, m
    assert m.get('gslb_tcp_refused_total{limit="max_connections"}', 0) >= 2, m
    assert (Counters(srv) - before).tcp_per_ip == 0


def closed_after(s, send_every, payload_iter, limit):
    """Send the next payload every send_every seconds until the peer
    closes; returns (seconds until closed, replies read)."""
    t0 = time.monotonic()
    replies = 0
    s.setblocking(True)
    buf = b""
    while time.monotonic() - t0 < limit:
        try:
            s.sendall(next(payload_iter))
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - t0, replies
        end = time.monotonic() + send_every
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([s], [], [], left)
            if not r:
                continue
            try:
                chunk = s.recv(65535)
            except (ConnectionResetError, OSError):
                return time.monotonic() - t0, replies
            if not chunk:
                return time.monotonic() - t0, replies
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                buf = buf[2 + struct.unpack("!H", buf[:2])[0]:]
                replies += 1
    return None, replies


def test_tcp_max_lifetime_closes_busy_connection(gslbd_factory, tmp_path):
    """max_lifetime = 3: a client asking every 0.5 s (never idle) is closed
    after about 3 s, its queries answered until then."""
    srv = start(gslbd_factory, tmp_path, tcp="idle_timeout = 10.0; max_lifetime = 3.0;")

    def queries():
        i = 0
        while True:
            i += 1
            w = make_query(NAME, "A", qid=i).to_wire()
            yield struct.pack("!H", len(w)) + w

    with tcp_connect(4, srv.ports["tcp4"], timeout=5 * SLOW) as s:
        t, replies = closed_after(s, 0.5, queries(), 20 * SLOW)
    assert t is not None, "still open after 20 s"
    assert 2.5 <= t <= 9.0 * SLOW, t
    assert replies >= 4, replies


def test_tcp_idle_timeout_closes_incomplete_message(gslbd_factory, tmp_path):
    """A client that sends part of a message and then nothing is closed by
    idle_timeout."""
    srv = start(gslbd_factory, tmp_path, tcp="idle_timeout = 2.0;")
    with tcp_connect(4, srv.ports["tcp4"], timeout=5 * SLOW) as s:
        t0 = time.monotonic()
        s.sendall(b"\x00\x30\x12\x34\x00")
        assert gslbtest.tcp_closed_by_peer(s, 15.0 * SLOW), "still open after 15 s"
        t = time.monotonic() - t0
    assert 1.5 <= t <= 9.0 * SLOW, t


def test_tcp_slow_dribble_bounded_by_lifetime(gslbd_factory, tmp_path):
    """A client that sends one byte a second of a message it never
    completes stays under idle_timeout (2 s) but is closed at max_lifetime
    (5 s)."""
    srv = start(gslbd_factory, tmp_path, tcp="idle_timeout = 2.0; max_lifetime = 5.0;")

    def dribble():
        yield b"\x01"  # length 256 + ...
        while True:
            yield b"\x00"

    with tcp_connect(4, srv.ports["tcp4"], timeout=5 * SLOW) as s:
        t, replies = closed_after(s, 1.0, dribble(), 20 * SLOW)
    assert t is not None, "still open after 20 s"
    assert replies == 0
    assert 4.0 <= t <= 11.0 * SLOW, t


# ---------------------------------------------------------------- gslbd -t

BAD = [
    # (id, section text; the line holding "<<" is the one to be named, reason)
    ("rrl-not-group", "rrl = 5; #<<", r"group"),
    ("rrl-rate-range", "rrl = {\n  responses_per_second = 100001; #<<\n};", r"out of range"),
    ("rrl-rate-negative", "rrl = {\n  responses_per_second = -1; #<<\n};", r"out of range"),
    ("rrl-rate-type", 'rrl = {\n  responses_per_second = "fast"; #<<\n};', r"integer"),
    ("rrl-slip-range", "rrl = {\n  slip = 11; #<<\n};", r"out of range"),
    ("rrl-window-zero", "rrl = {\n  window = 0; #<<\n};", r"out of range"),
    ("rrl-ipv4-prefix", "rrl = {\n  ipv4_prefix = 33; #<<\n};", r"out of range"),
    ("rrl-ipv6-prefix", "rrl = {\n  ipv6_prefix = 8; #<<\n};", r"out of range"),
    ("rrl-exempt-bad", 'rrl = {\n  exempt = [ "127.0.0.1/33" ]; #<<\n};', r"."),
    ("rrl-exempt-junk", 'rrl = {\n  exempt = [ "10.0.0.0/8", "nonsense" ]; #<<\n};', r"."),
    ("rrl-exempt-not-list", 'rrl = {\n  exempt = "127.0.0.1"; #<<\n};', r"list of networks"),
    ("rrl-unknown", "rrl = {\n  slip = 2;\n  burst = 3; #<<\n};", r"unknown setting"),
    ("acl-not-group", 'acl = [ "127.0.0.1" ]; #<<', r"group"),
    ("acl-action", 'acl = {\n  deny = [ ];\n  action = "reject"; #<<\n};', r"refuse or drop"),
    ("acl-allow-bad", 'acl = {\n  allow = [ "10.0.0.0/8", "1.2.3.4/40" ]; #<<\n};', r"."),
    ("acl-deny-v6-bad", 'acl = {\n  deny = [ "::1/129" ]; #<<\n};', r"."),
    ("acl-deny-not-list", 'acl = {\n  deny = "10.0.0.0/8"; #<<\n};', r"list of networks"),
    ("acl-blocklist-type", "acl = {\n  blocklist = 5; #<<\n};", r"string"),
    ("acl-unknown", "acl = {\n  whitelist = [ ]; #<<\n};", r"unknown setting"),
    ("tcp-max-per-ip", "tcp = {\n  max_per_ip = -1; #<<\n};", r"out of range"),
    ("tcp-max-lifetime", "tcp = {\n  max_lifetime = -5.0; #<<\n};", r"out of range"),
    ("tcp-max-lifetime-type", 'tcp = {\n  max_lifetime = "long"; #<<\n};', r"number"),
    ("tcp-ipv4-prefix", "tcp = {\n  ipv4_prefix = 33; #<<\n};", r"out of range"),
    ("tcp-ipv4-prefix-low", "tcp = {\n  ipv4_prefix = 7; #<<\n};", r"out of range"),
    ("tcp-ipv6-prefix", "tcp = {\n  ipv6_prefix = 129; #<<\n};", r"out of range"),
    ("tcp-ipv6-prefix-low", "tcp = {\n  ipv6_prefix = 15; #<<\n};", r"out of range"),
    ("tcp-unknown", "tcp = {\n  max_per_prefix = 3; #<<\n};", r"unknown setting.*ipv6_prefix"),
    ("http-ipv4-prefix", "http = {\n  ipv4_prefix = 0; #<<\n};", r"out of range"),
    ("http-ipv6-prefix", "http = {\n  ipv6_prefix = 200; #<<\n};", r"out of range"),
]


@pytest.mark.parametrize("bad_id,section,reason", BAD, ids=[b[0] for b in BAD])
def test_check_rejects_bad_values(tmp_path, bad_id, section, reason):
    text = gslbtest.gslbd_config(str(tmp_path))
    if section.startswith("tcp"):
        text = re.sub(r"^tcp = \{.*\};$", "", text, flags=re.M)
    text += section + "\n"
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "#<<" in ln)
    conf = tmp_path / "gslb.conf"
    conf.write_text(text)
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, "exit %d:\n%s" % (r.returncode, r.stderr)
    m = re.search(r"%s:(\d+):\s*(.*)" % re.escape(str(conf)), r.stderr)
    assert m, "no FILE:LINE: in:\n%s" % r.stderr
    assert int(m.group(1)) == line, "names line %s, not %d:\n%s" % (m.group(1), line, r.stderr)
    assert re.search(reason, m.group(2), re.I), r.stderr


def test_check_good_abuse_config(tmp_path):
    (tmp_path / "bl.txt").write_text("# comment\n192.0.2.0/24\n2001:db8::/32 # v6\n\n")
    text = gslbtest.gslbd_config(str(tmp_path))
    text = re.sub(r"^tcp = \{.*\};$", "tcp = { idle_timeout = 5.0; max_connections = 100; "
                  "max_per_ip = 8; ipv4_prefix = 28; ipv6_prefix = 56; max_lifetime = 60.0; };",
                  text, flags=re.M)
    text += ('rrl = { responses_per_second = 10; slip = 3; window = 5; ipv4_prefix = 24; '
             'ipv6_prefix = 48; exempt = [ "10.0.0.0/8", "2001:db8::/32" ]; };\n'
             'acl = { allow = [ "0.0.0.0/0", "::/0" ]; deny = [ "198.51.100.0/24" ]; '
             'blocklist = "bl.txt"; action = "drop"; };\n')
    conf = tmp_path / "gslb.conf"
    conf.write_text(text)
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr


def test_check_bad_blocklist_line(tmp_path):
    bl = tmp_path / "bl.txt"
    bl.write_text("# comment\n192.0.2.0/24\n192.0.2.300\n")
    conf = tmp_path / "gslb.conf"
    conf.write_text(gslbtest.gslbd_config(str(tmp_path)) + 'acl = { blocklist = "bl.txt"; };\n')
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, r.stderr
    assert re.search(r"%s:3:" % re.escape(str(bl)), r.stderr), r.stderr


def test_check_two_networks_on_a_line(tmp_path):
    bl = tmp_path / "bl.txt"
    bl.write_text("192.0.2.0/24 198.51.100.0/24\n")
    conf = tmp_path / "gslb.conf"
    conf.write_text(gslbtest.gslbd_config(str(tmp_path)) + 'acl = { blocklist = "bl.txt"; };\n')
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, r.stderr
    assert re.search(r"%s:1:.*one network per line" % re.escape(str(bl)), r.stderr), r.stderr


def test_blocklist_long_comment_stays_a_comment(gslbd_factory, tmp_path):
    """A comment longer than any read buffer is one comment: its tail (here
    127.0.0.1/32, past byte 511) never becomes an entry."""
    (tmp_path / "bl.txt").write_text("# " + "x" * 600 + " 127.0.0.1/32\n203.0.113.0/24\n")
    srv = start(gslbd_factory, tmp_path, acl='blocklist = "bl.txt";')
    assert served(srv, 4) and served(srv, 6)


def test_check_overlong_blocklist_line(tmp_path):
    """A line longer than 4095 bytes is refused with file:line, as in the
    overrides file."""
    bl = tmp_path / "bl.txt"
    bl.write_text("192.0.2.0/24\n# " + "x" * 5000 + "\n198.51.100.0/24\n")
    conf = tmp_path / "gslb.conf"
    conf.write_text(gslbtest.gslbd_config(str(tmp_path)) + 'acl = { blocklist = "bl.txt"; };\n')
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, r.stderr
    assert re.search(r"%s:2: line longer than 4095 bytes" % re.escape(str(bl)), r.stderr), \
        r.stderr


def test_check_blocklist_nul_byte(tmp_path):
    bl = tmp_path / "bl.txt"
    bl.write_bytes(b"192.0.2.0/24\n198.51.100.0/24\x00\n")
    conf = tmp_path / "gslb.conf"
    conf.write_text(gslbtest.gslbd_config(str(tmp_path)) + 'acl = { blocklist = "bl.txt"; };\n')
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, r.stderr
    assert re.search(r"%s:2: NUL byte" % re.escape(str(bl)), r.stderr), r.stderr


def test_check_missing_blocklist(tmp_path):
    conf = tmp_path / "gslb.conf"
    conf.write_text(gslbtest.gslbd_config(str(tmp_path)) + 'acl = { blocklist = "nope.txt"; };\n')
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, r.stderr
    assert "nope.txt" in r.stderr, r.stderr
