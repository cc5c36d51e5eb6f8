"""Zone transfers to secondaries with TSIG (issue 16.4).

One gslbd serves example.test with `transfer = { allow = [ 127.0.0.1/32 ];
tsig = "xfr"; notify = [ knot, nsd ]; }`, a geo service whose default
answer (region a, probed over HTTP; region b otherwise) the test steers,
and a big zone (several messages). dnspython checks each message's TSIG
(RFC 8945 5.3.1); Knot and NSD, started once each on loopback with their
own folders, transfer the zone as secondaries and must answer the same
static data and the service's default answer; after NOTIFY they pick up
the new serial."""
import base64
import os
import signal
import re
import socket
import struct
import subprocess
import time

import pytest

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.xfr
import dns.zone

import gslbtest
from gslbtest import make_query

ORIGIN = "example.test"
KEYNAME = "xfr"  # as in operations.md's secondary configs
SECRET = base64.b64encode(b"gslb-xfr-test-secret-0123456789a").decode()
KEYRING = dns.tsigkeyring.from_text({KEYNAME: SECRET})
SERVICE = "geo.example.test"
FALLBACK = "198.51.100.1"
BIG = "big.xfr.test"
BIG_RECORDS = 3000

# static names of example.test (not below the child zone) the secondaries
# must answer as gslbd does
NAMES = ["example.test", "ns1.example.test", "mail.example.test", "www.example.test",
         "txt.example.test", "ptr.example.test", "naptr.example.test", "svc.example.test",
         "alias.example.test", "wild.example.test", "foo.wild.example.test",
         "ent2.example.test", "a.ent2.example.test", "mid.example.test",
         "nx.example.test"]
TYPES = ["A", "AAAA", "MX", "TXT", "NS", "SOA", "SVCB", "PTR", "NAPTR"]


def big_zone(path):
    with open(path, "w") as f:
        f.write("$ORIGIN %s.\n$TTL 300\n" % BIG)
        f.write("@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n")
        for i in range(BIG_RECORDS):
            f.write('r%d TXT "record %d %s"\n' % (i, i, "x" * 40))


def doc_block(name, primary_port):
    """The secondary's config block of docs/operations.md (marked
    `<!-- test_xfr.py: NAME -->`), with this test's addresses, port,
    secret and zone: the documented config is the one tested."""
    text = open(os.path.join(gslbtest.SRCDIR, "docs", "operations.md")).read()
    m = re.search(r"<!-- test_xfr\.py: %s -->\n```\n(.*?)```" % name, text, re.S)
    assert m, "operations.md: no %s block" % name
    block = m.group(1).replace("192.0.2.1@53", "127.0.0.1@%d" % primary_port)
    block = block.replace("192.0.2.1", "127.0.0.1").replace("example.com", ORIGIN)
    return block.replace("<the base64 secret>", SECRET)


class Secondary(gslbtest.Server):
    """A secondary (Knot or NSD) of example.test, primary gslbd with the
    key; waits until it serves the zone."""

    def soa_serial(self):
        try:
            r = self.query(make_query(ORIGIN, "SOA"), "udp4", timeout=0.5)
        except Exception:
            return None
        if r is None or r.rcode() != dns.rcode.NOERROR or not r.answer:
            return None
        return r.answer[0][0].serial


class KnotSecondary(Secondary):
    name = "knot"

    def argv(self, primary_port):
        wd = self.workdir
        conf = os.path.join(wd, "knot.conf")
        with open(conf, "w") as f:
            f.write("""server:
    rundir: "{wd}"
    pidfile: "{wd}/knot.pid"
    listen: [ 127.0.0.1@{port} ]
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: "{wd}/knot.sock"
log:
  - target: stderr
    any: info
database:
    storage: "{wd}/db"
template:
  - id: default
    storage: "{wd}"
    zonefile-sync: -1
    journal-content: none
{doc}""".format(wd=wd, port=self.port, doc=doc_block("knot", primary_port)))
        return [gslbtest.tool("knotd"), "-c", conf]


class NsdSecondary(Secondary):
    name = "nsd"

    def argv(self, primary_port):
        wd = self.workdir
        conf = os.path.join(wd, "nsd.conf")
        with open(conf, "w") as f:
            f.write("""server:
\tip-address: 127.0.0.1@{port}
{common}\tverbosity: 2
\trrl-ratelimit: 0
\trrl-whitelist-ratelimit: 0
\tminimal-responses: yes
\trefuse-any: no

remote-control:
\tcontrol-enable: no

{doc}""".format(port=self.port, doc=doc_block("nsd", primary_port),
           common=gslbtest.nsd_server_common(wd, self.port)))
        return [gslbtest.tool("nsd"), "-d", "-c", conf]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    for t in ("knotd", "nsd"):
        if not gslbtest.tool(t):
            if os.environ.get("CI"):
                pytest.fail("%s is missing" % t)
            pytest.skip("%s is not installed" % t)
    wd = str(tmp_path_factory.mktemp("xfr"))
    backend = gslbtest.HttpBackend()
    big = os.path.join(wd, "big.zone")
    big_zone(big)
    knot = KnotSecondary(os.path.join(wd, "knot"))
    nsd = NsdSecondary(os.path.join(wd, "nsd"))
    knot.port = gslbtest.free_port()
    nsd.port = gslbtest.free_port()
    state = os.path.join(wd, "state")
    check = gslbtest.check_conf("web", "http", interval=0.3, timeout=0.2, rise=1, fall=1,
                                path="/healthz")
    svc = gslbtest.service_conf(SERVICE, [
        gslbtest.pool_conf("a", [gslbtest.member_conf("192.0.2.10", "127.0.0.1:%d"
                                                      % backend.port),
                                 gslbtest.member_conf("2001:db8::10", "127.0.0.1:%d"
                                                      % backend.port)], "web"),
        gslbtest.pool_conf("b", [gslbtest.member_conf(FALLBACK)])])
    dead = gslbtest.closed_port()
    transfer = ('transfer = { allow = [ "127.0.0.1/32" ]; tsig = "%s"; '
                'notify = [ "127.0.0.1:%d", "127.0.0.1:%d", "127.0.0.1:%d" ]; }; '
                % (KEYNAME, knot.port, nsd.port, dead))
    text = "\n".join([
        'directory = "%s";' % wd,
        'listen = { dns = [ "127.0.0.1:0", "[::1]:0" ]; admin = "127.0.0.1:0"; };',
        "workers = 1;",
        'tsig = ( { name = "%s"; algorithm = "hmac-sha256"; secret = "%s"; },' % (KEYNAME,
                                                                                  SECRET),
        '         { name = "other"; algorithm = "hmac-sha512"; secret = "%s"; } );' % SECRET,
        "zones = (",
        '  { origin = "%s"; file = "%s"; %s},' % (
            ORIGIN, os.path.join(gslbtest.ZONEDIR, "example.test.zone"), transfer),
        '  { origin = "child.example.test"; file = "%s"; },' % os.path.join(
            gslbtest.ZONEDIR, "child.example.test.zone"),
        '  { origin = "%s"; file = "%s"; transfer = { allow = [ "127.0.0.1/32" ]; }; }'
        % (BIG, big),
        ");",
        gslbtest.health_conf(state, [check], [svc]),
    ])
    srv = gslbtest.Gslbd(os.path.join(wd, "gslbd"), config_text=text).start()
    gslbtest.wait_answer(srv, SERVICE, {"192.0.2.10"})
    started = [srv]
    try:
        for s in (knot, nsd):
            port = s.port
            s.ports = {t: port for t in ("udp4", "udp6", "tcp4", "tcp6")}
            s._spawn(s.argv(srv.ports["tcp4"]))
            started.append(s)
        yield {"gslbd": srv, "knot": knot, "nsd": nsd, "backend": backend, "dead": dead}
    finally:
        for s in started[1:]:
            s.stop()
        gslbtest.stop_checked(srv)
        backend.close()


def xfr(srv, zone=ORIGIN, keyring=KEYRING, keyname=KEYNAME, rdtype="AXFR", serial=0,
        port=None, family=socket.AF_INET):
    """The messages of a transfer, each TSIG-checked by dnspython."""
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    port = port or srv.ports["tcp4" if family == socket.AF_INET else "tcp6"]
    q = dns.message.make_query(zone, rdtype)
    if rdtype == "IXFR":
        soa = dns.rrset.from_text(zone + ".", 0, "IN", "SOA", "ns. host. %d 0 0 0 0" % serial)
        q.authority.append(soa)
    if keyring:
        q.use_tsig(keyring, keyname=keyname, algorithm=dns.tsig.HMAC_SHA256)
    wire = q.to_wire()
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect((host, port))
    s.sendall(struct.pack("!H", len(wire)) + wire)
    msgs = []
    ctx = None
    while True:
        hdr = gslbtest.recv_exact(s, 2, time.monotonic() + 5)
        body = gslbtest.recv_exact(s, struct.unpack("!H", hdr)[0], time.monotonic() + 5)
        m = dns.message.from_wire(body, keyring=keyring, request_mac=q.mac if keyring
                                  else b"", xfr=True, tsig_ctx=ctx, multi=True,
                                  one_rr_per_rrset=True)
        ctx = m.tsig_ctx
        msgs.append(m)
        if m.rcode() != dns.rcode.NOERROR:
            break
        recs = records(msgs)
        # the end: the first SOA again, or an IXFR's lone SOA (current)
        if recs and recs[-1][1] == "SOA" and (len(recs) > 1 and recs[-1] == recs[0]
                                             or rdtype == "IXFR" and len(recs) == 1):
            break
    s.close()
    return msgs


def records(msgs):
    out = []
    for m in msgs:
        for rrset in m.answer:
            for rd in rrset:
                out.append((rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype),
                            rrset.ttl, rd.to_text().lower()))
    return out


def test_axfr_signed_static_data_and_default_answer(env):
    srv = env["gslbd"]
    msgs = xfr(srv)
    recs = records(msgs)
    assert recs[0][1] == "SOA" and recs[-1][1] == "SOA" and recs[0] == recs[-1]
    assert all(m.had_tsig for m in msgs)
    zone = dns.zone.from_file(os.path.join(gslbtest.ZONEDIR, "example.test.zone"),
                              origin=ORIGIN, relativize=False)
    want = set()
    for name, node in zone.nodes.items():
        for rds in node.rdatasets:
            for rd in rds:
                want.add((name.to_text().lower(), dns.rdatatype.to_text(rds.rdtype), rds.ttl,
                          rd.to_text().lower()))
    got = set(recs)
    soa = [r for r in want if r[1] == "SOA"][0]
    want.discard(soa)
    got = {r for r in got if r[1] != "SOA"}
    service = {r for r in got if r[0] == SERVICE + "."}
    # gslbd's own TTL: the service's 30 capped by the check (0.3 s x fall 1)
    assert service == {(SERVICE + ".", "A", 1, "192.0.2.10"),
                       (SERVICE + ".", "AAAA", 1, "2001:db8::10")}
    assert got - service == want


def test_big_zone_several_messages_each_signed(env):
    msgs = xfr(env["gslbd"], zone=BIG, keyring=None)
    assert len(msgs) > 3
    assert len(records(msgs)) == BIG_RECORDS + 4
    # signed with a key that is not this zone's (it has none): BADKEY
    with pytest.raises(dns.tsig.PeerBadKey):
        xfr(env["gslbd"], zone=BIG)


def test_ixfr_current_gets_soa_else_whole_zone(env):
    srv = env["gslbd"]
    serial = records(xfr(srv))[0][3].split()[2]
    same = xfr(srv, rdtype="IXFR", serial=int(serial))
    assert len(records(same)) == 1 and records(same)[0][1] == "SOA"
    # a serial after gslbd's (RFC 1982, across the wrap too): the SOA alone,
    # gslbd's (RFC 1995 2)
    for newer in (int(serial) + 1000, (int(serial) + 2**31 - 1) % 2**32):
        msgs = xfr(srv, rdtype="IXFR", serial=newer)
        assert [(r[1], r[3].split()[2]) for r in records(msgs)] == [("SOA", serial)]
    # a serial gslbd never had: no history reaches it
    old = xfr(srv, rdtype="IXFR", serial=int(serial) - 1000)
    assert len(records(old)) > 20


def raw_xfr(srv, q, transport="tcp4"):
    wire = srv.exchange(q.to_wire(), transport)
    assert wire is not None
    return wire


def test_refused_wrong_key_bad_signature_unsigned_address(env):
    srv = env["gslbd"]
    # a key gslbd has, but not this zone's; one it does not have at all:
    # NOTAUTH, BADKEY, and the log says which
    for name, why in (("other.", r"key other\. is not the zone's key"),
                      ("nokey.", r"unknown key nokey\.")):
        ring = dns.tsigkeyring.from_text({name: SECRET})
        q = dns.message.make_query(ORIGIN, "AXFR")
        q.use_tsig(ring, keyname=name, algorithm=dns.tsig.HMAC_SHA256)
        with pytest.raises(dns.tsig.PeerBadKey):
            dns.message.from_wire(raw_xfr(srv, q), keyring=ring, request_mac=q.mac)
        srv.wait_log(r'zone transfer refused zone=example\.test\. client=127\.0\.0\.1 '
                     r'reason="%s \(BADKEY\)"' % why)
    # the right name, the wrong secret: BADSIG
    wrong = dns.tsigkeyring.from_text({KEYNAME: base64.b64encode(b"w" * 32).decode()})
    q = dns.message.make_query(ORIGIN, "AXFR")
    q.use_tsig(wrong, keyname=KEYNAME, algorithm=dns.tsig.HMAC_SHA256)
    with pytest.raises(dns.tsig.PeerBadSignature):
        dns.message.from_wire(raw_xfr(srv, q), keyring=wrong, request_mac=q.mac)
    # unsigned, or from an address not allowed: REFUSED
    q = dns.message.make_query(ORIGIN, "AXFR")
    assert dns.message.from_wire(raw_xfr(srv, q)).rcode() == dns.rcode.REFUSED
    assert xfr(srv, family=socket.AF_INET6)[0].rcode() == dns.rcode.REFUSED
    assert srv.metrics()['gslb_zone_transfers_total{result="refused"}'] >= 4
    # over UDP: REFUSED, as before
    assert dns.message.from_wire(raw_xfr(srv, q, "udp4")).rcode() == dns.rcode.REFUSED
    # a zone without transfer: REFUSED, as before
    q = dns.message.make_query("child.example.test", "AXFR")
    assert dns.message.from_wire(raw_xfr(srv, q)).rcode() == dns.rcode.REFUSED


OTHER = dns.tsigkeyring.from_text({"other.": (dns.tsig.HMAC_SHA512, SECRET)})


@pytest.mark.parametrize("qtype,keyname,alg,transport", [
    ("AXFR", KEYNAME, dns.tsig.HMAC_SHA256, "tcp4"),
    ("SOA", "other.", dns.tsig.HMAC_SHA512, "udp4")])
def test_badtime(env, monkeypatch, qtype, keyname, alg, transport):
    srv = env["gslbd"]
    keyring = KEYRING if keyname == KEYNAME else OTHER
    q = dns.message.make_query(ORIGIN, qtype)
    q.use_tsig(keyring, keyname=keyname, algorithm=alg)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 3600)
    wire = q.to_wire()
    monkeypatch.setattr(time, "time", real)
    reply = srv.exchange(wire, transport)
    with pytest.raises(dns.tsig.PeerBadTime):
        dns.message.from_wire(reply, keyring=keyring, request_mac=q.mac)
    # signed with the key (RFC 8945 5.2.3): the request's time signed, ours
    # in other data, a MAC over the request's MAC, the reply and the TSIG
    # variables
    at = tsig_at(reply)
    rd = dns.rdata.from_wire(dns.rdataclass.ANY, dns.rdatatype.TSIG, reply, at[1],
                             len(reply) - at[1])
    assert rd.error == dns.rcode.BADTIME
    assert len(rd.mac) == (32 if alg == dns.tsig.HMAC_SHA256 else 64)
    assert rd.time_signed == q.tsig[0].time_signed
    assert abs(int.from_bytes(rd.other, "big") - time.time()) < 5
    ar = struct.unpack("!H", reply[10:12])[0]
    body = reply[:10] + struct.pack("!H", ar - 1) + reply[12:at[0]]
    key = dns.tsig.Key(keyname, SECRET, alg)
    dns.tsig._digest(body, key, rd, None, q.mac, None, False).verify(rd.mac)


def tsig_at(wire):
    """(start of the last record, start of its rdata)."""
    qd, an, ns, ar = struct.unpack("!HHHH", wire[4:12])
    pos = 12
    for _ in range(qd):
        _, used = dns.name.from_wire(wire, pos)
        pos += used + 4
    start = rdata = None
    for _ in range(an + ns + ar):
        start = pos
        _, used = dns.name.from_wire(wire, pos)
        pos += used
        rdlen = struct.unpack("!H", wire[pos + 8:pos + 10])[0]
        rdata = pos + 10
        pos += 10 + rdlen
    return start, rdata


def answers(srv, name, qtype):
    r = srv.query(make_query(name, qtype), "udp4", timeout=1.0)
    assert r is not None
    return r.rcode(), sorted(gslbtest.rr_lines(r.answer))


def wait_serial(sec, serial, timeout=30.0):
    gslbtest.wait_for("%s serves serial %s" % (sec.name, serial),
                      lambda: sec.soa_serial() == serial, timeout=timeout, servers=[sec])


def test_secondaries_serve_the_same_static_data(env):
    srv = env["gslbd"]
    serial = xfr(srv)[0].answer[0][0].serial
    for sec in (env["knot"], env["nsd"]):
        wait_serial(sec, serial)
        for name in NAMES:
            for t in TYPES:
                assert answers(sec, name, t) == answers(srv, name, t), (sec.name, name, t)
        # the default answer, with the TTL gslbd answers (the service's
        # ttl capped by the check's interval x fall: 1)
        for t in ("A", "AAAA"):
            assert answers(sec, SERVICE, t) == answers(srv, SERVICE, t)
        assert answers(sec, SERVICE, "A")[1] == ["%s. 1 IN A 192.0.2.10" % SERVICE]


@pytest.mark.parametrize("tsig,transfer,error", [
    ('{ name = "xfr"; secret = "%s"; }' % SECRET, 'tsig = "nokey";',
     r':3: zones\[0\]\.transfer\.tsig: unknown key "nokey"'),
    ('{ name = "xfr"; secret = "not base64!"; }', "",
     r':1: tsig\[0\]\.secret: not a base64 key'),
    ('{ name = "xfr"; secret = "%s"; }' % SECRET, 'notify = [ "192.0.2.1:99999" ];',
     r':3: zones\[0\]\.transfer\.notify\[0\]: invalid address "192\.0\.2\.1:99999"'),
    ('{ name = "xfr"; secret = "%s"; }' % SECRET, 'allow = [ "192.0.2.300/32" ];',
     r':3: zones\[0\]\.transfer\.allow'),
    ('{ name = "xfr"; algorithm = "hmac-md5"; secret = "%s"; }' % SECRET, "",
     r':1: tsig\[0\]\.algorithm'),
    # documented as required: an empty list would refuse everybody
    ('{ name = "xfr"; secret = "%s"; }' % SECRET, "allow = [ ];",
     r':3: zones\[0\]\.transfer\.allow: empty: no secondary could transfer'),
])
def test_config_errors_name_file_and_line(tmp_path, tsig, transfer, error):
    conf = tmp_path / "x.conf"
    conf.write_text('tsig = ( %s );\nlisten = { dns = [ "127.0.0.1:0" ]; };\n'
                    'zones = ( { origin = "example.test"; file = "%s"; transfer = { %s %s }; } );\n'
                    % (tsig, os.path.join(gslbtest.ZONEDIR, "example.test.zone"),
                       'allow = [ "127.0.0.1/32" ];' if "allow" not in transfer else "",
                       transfer))
    r = gslbtest.run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode != 0
    assert re.search(re.escape(str(conf)) + error, r.stderr), r.stderr


def test_config_weak_secret_warns_dnssec_error_names_no_issue(tmp_path):
    zone = os.path.join(gslbtest.ZONEDIR, "example.test.zone")
    conf = tmp_path / "x.conf"
    short = base64.b64encode(b"0123456789").decode()
    conf.write_text('tsig = ( { name = "xfr"; secret = "%s"; } );\n'
                    'listen = { dns = [ "127.0.0.1:0" ]; };\n'
                    'zones = ( { origin = "example.test"; file = "%s"; transfer = { '
                    'allow = [ "127.0.0.1/32" ]; tsig = "xfr"; }; } );\n' % (short, zone))
    r = gslbtest.run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert re.search(re.escape(str(conf)) + r":1: tsig secret of 10 bytes: weak", r.stderr), \
        r.stderr
    # a long enough secret: no warning
    conf.write_text(conf.read_text().replace(short, SECRET))
    r = gslbtest.run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 0 and "tsig secret of" not in r.stderr, r.stderr
    if not gslbtest.tool("ldns-keygen"):
        pytest.skip("ldns-keygen is not installed")
    key = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "example.test"],
                         cwd=str(tmp_path), capture_output=True, text=True, check=True,
                         timeout=60).stdout.strip()
    conf.write_text('directory = "%s";\nlisten = { dns = [ "127.0.0.1:0" ]; };\n'
                    'zones = ( { origin = "example.test"; file = "%s";\n'
                    '  dnssec = { keys = [ "%s" ]; };\n'
                    '  transfer = { allow = [ "127.0.0.1/32" ]; }; } );\n'
                    % (tmp_path, zone, key))
    r = gslbtest.run_gslbd(["-t", "-c", str(conf)])
    if r.returncode == 0:
        return  # dnssec zones can be transferred now
    assert re.search(re.escape(str(conf)) + r":5: zones\[0\]\.transfer: a zone with dnssec "
                     r"cannot have transfer \(not yet supported", r.stderr), r.stderr
    assert "issue" not in r.stderr


def gslbd_serial(srv):
    r = srv.query(make_query(ORIGIN, "SOA"), "udp4")
    return r.answer[0][0].serial


def test_health_change_bumps_serial_and_notify_refreshes_secondaries(env):
    srv, backend = env["gslbd"], env["backend"]
    before = gslbd_serial(srv)
    for sec in (env["knot"], env["nsd"]):
        wait_serial(sec, before)
    backend.fail()
    try:
        gslbtest.wait_answer(srv, SERVICE, {FALLBACK})
        # the change may come in more than one version (the TTL falls to
        # ttl_min while the member fails, then the answer moves)
        gslbtest.wait_for("serial bumped", lambda: gslbd_serial(srv) > before
                          and service_records(srv) == {(SERVICE + ".", "A", 30, FALLBACK)},
                          servers=[srv])
        # IXFR from the serial before: the changes since, version by version
        # (RFC 1995 4), must take the old default answer to the new one. The
        # members fail one after the other and the serial follows the
        # content within a second, so wait for the last version.
        def walk():
            ixfr = [(r[1], r[3], r[0]) for r in records(xfr(srv, rdtype="IXFR", serial=before))]
            soa = [r[1].split()[2] for r in ixfr if r[0] == "SOA"]
            if not (soa[0] == soa[-1] and soa[1] == str(before)):
                return None
            have = {("A", "192.0.2.10"), ("AAAA", "2001:db8::10")}
            adding = True  # each version: SOA old, deletions, SOA new, additions
            for rtype, rdata, owner in ixfr[1:-1]:
                if rtype == "SOA":
                    adding = not adding
                elif owner == SERVICE + ".":
                    (have.add if adding else have.discard)((rtype, rdata))
            return int(soa[0]), have
        gslbtest.wait_for("IXFR to the new default answer",
                          lambda: (walk() or (0, None))[1] == {("A", FALLBACK)}, servers=[srv])
        now = walk()[0]
        assert now == gslbd_serial(srv) and now > before
        # the transfer says the same serial, with the new default answer
        recs = records(xfr(srv))
        assert recs[0][3].split()[2] == str(now)
        assert {r for r in recs if r[0] == SERVICE + "."} == {
            (SERVICE + ".", "A", 30, FALLBACK)}
        # signed NOTIFYs, accepted (Knot and NSD demand the key)
        srv.wait_log(r"notify answered zone=example\.test\. serial=%d to=127\.0\.0\.1:%d "
                     r"rcode=0" % (now, env["knot"].port))
        srv.wait_log(r"notify answered zone=example\.test\. serial=%d to=127\.0\.0\.1:%d "
                     r"rcode=0" % (now, env["nsd"].port))
        for sec in (env["knot"], env["nsd"]):
            wait_serial(sec, now)
            assert answers(sec, SERVICE, "A")[1] == ["%s. 30 IN A %s" % (SERVICE, FALLBACK)]
            assert answers(sec, SERVICE, "AAAA")[1] == []
    finally:
        backend.ok()
    gslbtest.wait_answer(srv, SERVICE, {"192.0.2.10"})
    gslbtest.wait_for("serial bumped again", lambda: gslbd_serial(srv) > now, servers=[srv])
    # a secondary that never answers: 5 tries, then a warning
    srv.wait_log(r"notify not answered zone=example\.test\. serial=%d to=127\.0\.0\.1:%d "
                 r"tries=5" % (before + 1, env["dead"]), timeout=15)
    m = srv.metrics()
    assert m['gslb_zone_notify_total{result="answered"}'] >= 2
    assert m['gslb_zone_notify_total{result="unanswered"}'] >= 1
    assert m['gslb_zone_transfers_total{result="ixfr"}'] >= 2, "ours and Knot's"
    assert m['gslb_zone_transfers_total{result="axfr"}'] >= 3
    state = open(os.path.join(os.path.dirname(srv.workdir), "state", "xfr.state")).read()
    assert "example.test. %d " % gslbd_serial(srv) in state


def service_records(srv):
    return {r for r in records(xfr(srv)) if r[0] == SERVICE + "."}


def test_forced_down_everywhere_transfers_no_default_answer(env):
    """Every pool forced down by an admin: gslbd answers NODATA (fail-open
    never answers what an admin forced down), and so must the transfer."""
    srv = env["gslbd"]
    overrides = ["pool:%s/a" % SERVICE, "region:b"]
    try:
        for target in overrides:
            gslbtest.ctl(srv, "force-down", target, check=True)
        gslbtest.wait_answer(srv, SERVICE, set())
        assert answers(srv, SERVICE, "A") == (dns.rcode.NOERROR, [])
        gslbtest.wait_for("no default answer transferred", lambda: service_records(srv) == set(),
                          servers=[srv])
        # with region b forced down alone, fail-open is not needed: pool a
        gslbtest.ctl(srv, "clear", overrides[0], check=True)
        gslbtest.wait_for("pool a transferred", lambda: service_records(srv) == {
            (SERVICE + ".", "A", 1, "192.0.2.10"), (SERVICE + ".", "AAAA", 1, "2001:db8::10")},
            servers=[srv])
    finally:
        for target in overrides:
            gslbtest.ctl(srv, "clear", target)
    gslbtest.wait_answer(srv, SERVICE, {"192.0.2.10"})


def with_soa(qname, qtype, serial):
    q = dns.message.make_query(qname, qtype)
    q.authority.append(dns.rrset.from_text(ORIGIN + ".", 0, "IN", "SOA",
                                           "ns. host. %d 0 0 0 0" % serial))
    return q


def test_ixfr_with_soa_in_authority_over_udp_refused(env):
    """RFC 1995 3: an IXFR carries the client's SOA in AUTHORITY. Over UDP
    gslbd refuses it (the secondary goes on over TCP); over TCP a zone
    without transfer refuses it too. Other queries with authority records:
    FORMERR, as NSD answers them."""
    srv, nsd = env["gslbd"], env["nsd"]
    serial = gslbd_serial(srv)
    for q, want in ((with_soa(ORIGIN, "IXFR", serial), dns.rcode.REFUSED),
                    (with_soa(ORIGIN, "IXFR", serial + 5), dns.rcode.REFUSED),
                    (with_soa(ORIGIN, "SOA", serial), dns.rcode.FORMERR),
                    (with_soa(SERVICE, "A", serial), dns.rcode.FORMERR)):
        assert srv.query(q, "udp4").rcode() == want, q
        assert nsd.query(q, "udp4").rcode() == want, q
    r = srv.query(with_soa("child.example.test", "IXFR", serial), "tcp4")
    assert r.rcode() == dns.rcode.REFUSED


def signed(qname, qtype, keyring=KEYRING, keyname=KEYNAME, edns=0):
    q = make_query(qname, qtype, edns=edns)
    q.use_tsig(keyring, keyname=keyname, algorithm=dns.tsig.HMAC_SHA256)
    return q


@pytest.mark.parametrize("transport", ["udp4", "tcp4"])
def test_signed_queries_verified_and_answers_signed(env, transport):
    srv = env["gslbd"]
    q = signed(ORIGIN, "SOA")
    r = dns.message.from_wire(srv.exchange(q.to_wire(), transport), keyring=KEYRING,
                              request_mac=q.mac)
    assert r.had_tsig and r.rcode() == dns.rcode.NOERROR
    assert r.answer[0][0].serial == gslbd_serial(srv)
    q = signed("www.example.test", "A", edns=None)
    r = dns.message.from_wire(srv.exchange(q.to_wire(), transport), keyring=KEYRING,
                              request_mac=q.mac)
    assert r.had_tsig
    assert gslbtest.rr_lines(r.answer) == gslbtest.rr_lines(srv.query(
        make_query("www.example.test", "A"), transport).answer)
    # the wrong secret: BADSIG
    wrong = dns.tsigkeyring.from_text({KEYNAME: base64.b64encode(b"w" * 32).decode()})
    q = signed(ORIGIN, "SOA", keyring=wrong)
    with pytest.raises(dns.tsig.PeerBadSignature):
        dns.message.from_wire(srv.exchange(q.to_wire(), transport), keyring=wrong,
                              request_mac=q.mac)
    # the other key, HMAC-SHA512, for any zone
    q = signed(ORIGIN, "SOA", keyring=OTHER, keyname="other.")
    q.use_tsig(OTHER, keyname="other.", algorithm=dns.tsig.HMAC_SHA512)
    r = dns.message.from_wire(srv.exchange(q.to_wire(), transport), keyring=OTHER,
                              request_mac=q.mac)
    assert r.had_tsig and r.rcode() == dns.rcode.NOERROR
    # a key gslbd does not have: BADKEY, as before
    nobody = dns.tsigkeyring.from_text({"nobody.": SECRET})
    q = signed(ORIGIN, "SOA", keyring=nobody, keyname="nobody.")
    with pytest.raises(dns.tsig.PeerBadKey):
        dns.message.from_wire(srv.exchange(q.to_wire(), transport), keyring=nobody,
                              request_mac=q.mac)


def test_signed_answer_too_long_for_udp_is_truncated_and_signed(env):
    srv = env["gslbd"]
    q = signed("big.example.test", "TXT", edns=None)
    r = dns.message.from_wire(srv.exchange(q.to_wire(), "udp4"), keyring=KEYRING,
                              request_mac=q.mac)
    assert r.had_tsig and r.flags & dns.flags.TC and not r.answer


def test_host_name_members_not_transferred(tmp_path):
    """A host-name member's addresses (resolved by c-ares, here from a
    second gslbd serving hosts.test) are answered by gslbd but not
    transferred: they would move with the name's TTL."""
    zone = tmp_path / "hosts.test.zone"
    zone.write_text("$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\n"
                    "ns1 A 127.0.0.1\napp A 127.0.0.2\n")
    dnsd = gslbtest.Gslbd(str(tmp_path / "dnsd"), zones=[("hosts.test", str(zone))],
                          workers=1).start()
    conf = "\n".join([
        'directory = "%s";' % tmp_path,
        'listen = { dns = [ "127.0.0.1:0", "[::1]:0" ]; };',
        "workers = 1;",
        'zones = ( { origin = "%s"; file = "%s"; transfer = { allow = [ "127.0.0.1/32" ]; }; '
        '} );' % (ORIGIN, os.path.join(gslbtest.ZONEDIR, "example.test.zone")),
        gslbtest.health_conf(str(tmp_path / "state"), [], [gslbtest.service_conf(
            SERVICE, [gslbtest.pool_conf("a", [gslbtest.member_conf("192.0.2.10"),
                                               gslbtest.member_conf("app.hosts.test")])])],
            resolvers=["127.0.0.1:%d" % dnsd.ports["udp4"]], regions=[("a", 10.0, 10.0)]), ""])
    srv = gslbtest.Gslbd(str(tmp_path / "a"), config_text=conf).start()
    try:
        gslbtest.wait_answer(srv, SERVICE, {"192.0.2.10", "127.0.0.2"})
        assert {r for r in records(xfr(srv, keyring=None)) if r[0] == SERVICE + "."} == {
            (SERVICE + ".", "A", 30, "192.0.2.10")}
    finally:
        gslbtest.stop_checked(srv, dnsd)


def test_serial_follows_zone_file_changes_and_never_goes_back(tmp_path):
    zone = tmp_path / "example.test.zone"
    # serial 1: below the Unix time, so that unixtime takes the time
    text = open(os.path.join(gslbtest.ZONEDIR, "example.test.zone")).read()
    text = text.replace("2024010101", "1")
    zone.write_text(text)
    conf = "\n".join([
        'directory = "%s";' % tmp_path,
        'listen = { dns = [ "127.0.0.1:0", "[::1]:0" ]; admin = "127.0.0.1:0"; };',
        "workers = 1;",
        'zones = ( { origin = "%s"; file = "%s"; transfer = { allow = [ "127.0.0.1/32" ]; '
        'serial_policy = "unixtime"; }; } );' % (ORIGIN, zone),
        gslbtest.health_conf("state", [], [gslbtest.service_conf(
            SERVICE, [gslbtest.pool_conf("a", [gslbtest.member_conf("192.0.2.10")])])]), ""])
    srv = gslbtest.Gslbd(str(tmp_path / "a"), config_text=conf).start()

    def reload(n):
        srv.proc.send_signal(signal.SIGHUP)
        srv.wait_log(r"(?s)(reloaded what=.*){%d}" % n)
        return gslbd_serial(srv)

    try:
        file_serial = gslbd_serial(srv)
        assert file_serial == 1
        zone.write_text(text + "added 300 A 192.0.2.99\n")
        start = int(time.time())
        bumped = reload(1)
        assert bumped >= start, "unixtime: the time of the change"
        assert records(xfr(srv, keyring=None))[0][3].split()[2] == str(bumped)
        # /status and /metrics show the serial served, not the file's
        status = gslbtest.admin_json(srv, "/status")
        assert [z["serial"] for z in status["zones"]] == [bumped]
        assert srv.metrics()['gslb_zone_serial{zone="%s."}' % ORIGIN] == bumped
        assert reload(2) == bumped, "nothing changed, the same serial"
        # a service's members changed: a new serial, and the new answer
        conf = conf.replace('"192.0.2.10"', '"192.0.2.11"')
        with open(srv.config_path, "w") as f:
            f.write(conf)
        serial = reload(3)
        assert serial > bumped
        assert (SERVICE + ".", "A", 30, "192.0.2.11") in records(xfr(srv, keyring=None))
        bumped = serial
    finally:
        assert srv.check_stopped_cleanly() == []
    # restarted with the same data: the serial kept in state_dir, not the
    # file's (which is lower); with other data, the next one

    srv = gslbtest.Gslbd(str(tmp_path / "b"), config_text=conf).start()
    try:
        assert gslbd_serial(srv) == bumped > file_serial
    finally:
        assert srv.check_stopped_cleanly() == []
    conf = conf.replace('"192.0.2.11"', '"192.0.2.12"')
    srv = gslbtest.Gslbd(str(tmp_path / "c"), config_text=conf).start()
    try:
        assert gslbd_serial(srv) > bumped
        # no IXFR history across a restart: the whole zone (operations.md)
        assert len(records(xfr(srv, keyring=None, rdtype="IXFR", serial=bumped))) > 4
        srv.wait_log(r"zone transfer zone=example\.test\. .*type=ixfr-as-axfr")
    finally:
        assert srv.check_stopped_cleanly() == []
