"""Signed answers built per query (issue 14): geo members for clients in
several regions and with a region failed, CNAME pools and the chased chain,
wildcard services and zone wildcards (signed under the name asked), compact
denial of names that do not exist (RFC 9824, with and without the CO flag)
and of types a service name lacks; TC over UDP, complete over TCP; without
DO the bytes of an unsigned server. Each answer is checked by dnspython's
dns.dnssec.validate and by delv with the zone's key as trust anchor.

One signed and one unsigned daemon are shared by the module; clients in
regions are told apart by EDNS Client Subnet and `net:` route rules (no
GeoIP database needed)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time

import dns.dnssec
import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

import gslbtest
from gslbtest import ZONEDIR, closed_port

pytestmark = pytest.mark.skipif(shutil.which("ldns-keygen") is None,
                                reason="ldns-keygen (ldnsutils) not installed")

ZONE = dns.name.from_text("example.test.")
EU = "198.51.100.0/24"
US = "203.0.113.0/24"
CO = 0x4000  # Compact Answers OK (RFC 9824), an EDNS header flag

EU_V4 = {"192.0.2.11", "192.0.2.12"}
US_V4 = {"192.0.2.21", "192.0.2.22"}
MANY = ["10.9.0.%d" % i for i in range(1, 65)]


def services(dead_port, live_port=None):
    route = ('route = ( { match = "net:%s"; regions = [ "eu", "us" ]; },\n'
             '          { match = "net:%s"; regions = [ "us", "eu" ]; } );' % (EU, US))
    return """
regions = ( { name = "eu"; lat = 52.2; lon = 21.0; }, { name = "us"; lat = 39.0; lon = -77.5; } );
checks = ( { name = "dead"; type = "tcp"; port = %(port)d; interval = 1.0; timeout = 0.5;
             rise = 1; fall = 1; } );
services = (
  { name = "geo.example.test"; ttl = 30; %(route)s
    pools = ( { region = "eu"; members = [ "192.0.2.11", "192.0.2.12", "2001:db8::11" ]; },
              { region = "us"; members = [ "192.0.2.21", "192.0.2.22" ]; } ); },
  { name = "failed.example.test"; ttl = 30; %(route)s
    pools = ( { region = "eu"; check = "dead"; members = [ "192.0.2.31" ]; },
              { region = "us"; members = [ "192.0.2.41" ]; } ); },
  { name = "one.example.test"; ttl = 30; answers = 1;
    pools = ( { region = "eu"; members = [ "192.0.2.51", "192.0.2.52", "192.0.2.53" ]; } ); },
  { name = "edge.example.test"; ttl = 20; %(route)s
    pools = ( { region = "eu"; cname = "www.example.test."; },
              { region = "us"; cname = "geo.example.test."; } ); },
  { name = "*.cdn.example.test"; ttl = 45;
    pools = ( { region = "eu"; members = [ "192.0.2.61" ]; } ); },
  { name = "half.example.test"; ttl = 30;
    pools = ( { region = "eu"; check = "dead";
                members = ( { address = "192.0.2.71"; target = "127.0.0.1:%(port)d"; },
                            { address = "192.0.2.72"; target = "127.0.0.1:%(live)d"; } ); } ); },
  { name = "many.example.test"; ttl = 30; answers = 64;
    pools = ( { region = "eu"; members = [ %(many)s ]; } ); }
);
""" % {"port": dead_port, "live": live_port or dead_port, "route": route,
       "many": ", ".join('"%s"' % a for a in MANY)}


def keygen(workdir, *args):
    r = subprocess.run(["ldns-keygen"] + list(args) + ["example.test"], cwd=str(workdir),
                       capture_output=True, text=True, check=True, timeout=60)
    return r.stdout.strip()


def config(workdir, dnssec=None, extra=""):
    zone = '{ origin = "example.test"; file = "%s";%s }' % (
        os.path.join(ZONEDIR, "example.test.zone"),
        " dnssec = { %s };" % dnssec if dnssec else "")
    return ('directory = "%s";\n'
            'listen = { dns = [ "127.0.0.1:0", "[::1]:0" ]; admin = "127.0.0.1:0"; };\n'
            'workers = 2;\n'
            'zones = ( %s );\n%s' % (workdir, zone, extra))


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """(signed server, unsigned server, keys dir, key base names)"""
    d = tmp_path_factory.mktemp("dnssec-answers")
    keys = [keygen(d, "-a", "ECDSAP256SHA256", "-k"), keygen(d, "-a", "ECDSAP256SHA256")]
    live = socket.socket()  # a TCP port the checks find open
    live.bind(("127.0.0.1", 0))
    live.listen(16)
    extra = services(closed_port(), live.getsockname()[1])
    signed = gslbtest.start_gslbd(d, config_text=config(
        d, 'keys = [ "%s", "%s" ];' % tuple(keys), extra))
    u = tmp_path_factory.mktemp("dnssec-unsigned")
    unsigned = gslbtest.start_gslbd(u, config_text=config(u, None, extra))
    yield signed, unsigned, d, keys
    gslbtest.stop_checked(signed, unsigned)
    live.close()


def query(name, rdtype, do=True, ecs=None, flags=0, payload=1232):
    opts = []
    if ecs:
        a, p = ecs.split("/")
        opts = [dns.edns.ECSOption(a, int(p))]
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=payload, options=opts,
                               want_dnssec=do)
    q.ednsflags |= flags
    q.flags &= ~dns.flags.RD
    q.id = 4242
    return q


def ask(srv, name, rdtype, tcp=True, **kw):
    q = query(name, rdtype, **kw)
    if tcp:
        return dns.query.tcp(q, "127.0.0.1", port=srv.port("tcp4"), timeout=5)
    return dns.query.udp(q, "127.0.0.1", port=srv.port("udp4"), timeout=5, ignore_trailing=True)


def dnskeys(srv):
    r = ask(srv, "example.test.", "DNSKEY")
    keyset = next(x for x in r.answer if x.rdtype == dns.rdatatype.DNSKEY)
    check_section(r.answer, keyset)
    return keyset


def check_section(section, keyset, now=None):
    """Every RRset of a section but RRSIGs has an RRSIG that validates."""
    data = [x for x in section if x.rdtype != dns.rdatatype.RRSIG]
    for rrset in data:
        sigs = [x for x in section if x.rdtype == dns.rdatatype.RRSIG and
                x.covers == rrset.rdtype and x.name == rrset.name]
        assert sigs, "no RRSIG over %s" % rrset
        dns.dnssec.validate(rrset, sigs[0], {ZONE: keyset}, now=now)
    return data


def validated(srv, keyset, name, rdtype, ecs=None, now=None):
    r = ask(srv, name, rdtype, ecs=ecs)
    assert r.rcode() == dns.rcode.NOERROR, r
    assert [x for x in r.answer if x.rdtype != dns.rdatatype.RRSIG], r
    check_section(r.answer, keyset, now)
    check_section(r.authority, keyset, now)
    return r


def members(r, rdtype="A"):
    return {rd.address for x in r.answer if x.rdtype == dns.rdatatype.from_text(rdtype)
            for rd in x}


def test_geo_answers_are_signed_for_each_region(servers):
    srv, _, _, _ = servers
    keyset = dnskeys(srv)
    assert members(validated(srv, keyset, "geo.example.test.", "A", EU)) == EU_V4
    assert members(validated(srv, keyset, "geo.example.test.", "A", US)) == US_V4
    assert members(validated(srv, keyset, "geo.example.test.", "AAAA", EU), "AAAA") == \
        {"2001:db8::11"}
    # no route: config order (eu)
    assert members(validated(srv, keyset, "Geo.Example.TEST.", "A")) == EU_V4
    # a random member of three: each subset sent is signed as sent
    seen = set()
    for _ in range(12):
        r = validated(srv, keyset, "one.example.test.", "A")
        seen |= members(r)
        assert len(members(r)) == 1
    assert len(seen) > 1
    # one signature per answer RRset, by the ZSK
    r = ask(srv, "geo.example.test.", "A", ecs=US)
    sigs = [s for x in r.answer if x.rdtype == dns.rdatatype.RRSIG for s in x]
    assert len(sigs) == 1 and sigs[0].original_ttl == 30


def test_a_failed_region_is_signed_too(servers):
    srv, _, _, _ = servers
    keyset = dnskeys(srv)
    # eu's only member is probed on a closed port: eu clients go to us
    gslbtest.wait_answer(srv, "failed.example.test.", {"192.0.2.41"}, 10, ecs=EU)
    assert members(validated(srv, keyset, "failed.example.test.", "A", EU)) == {"192.0.2.41"}
    assert members(validated(srv, keyset, "failed.example.test.", "A", US)) == {"192.0.2.41"}


def test_answer_sets_are_signed_before_they_are_asked(servers):
    # at load, and when a health change is published: no signing on the
    # query path for sets the config and the health view give
    srv, _, _, _ = servers
    # half's pool lost a member: its new set was signed with the view
    gslbtest.wait_answer(srv, "half.example.test.", {"192.0.2.72"}, 10)
    gslbtest.wait_answer(srv, "failed.example.test.", {"192.0.2.41"}, 10, ecs=EU)
    keyset = dnskeys(srv)
    before = srv.metrics()
    for name, rdtype, ecs in [("geo.example.test.", "A", EU), ("geo.example.test.", "A", US),
                              ("geo.example.test.", "AAAA", EU), ("edge.example.test.", "A", EU),
                              ("edge.example.test.", "A", US), ("failed.example.test.", "A", EU),
                              ("half.example.test.", "A", None)]:
        validated(srv, keyset, name, rdtype, ecs)
    after = srv.metrics()
    miss = 'gslb_dnssec_cache_total{result="miss"}'
    hit = 'gslb_dnssec_cache_total{result="hit"}'
    assert after[miss] == before[miss]
    assert after[hit] >= before[hit] + 8
    assert "dnssec answer sets signed signatures=" in srv.stderr_text()


def test_cname_pool_and_the_chased_chain_are_signed(servers):
    srv, _, _, _ = servers
    keyset = dnskeys(srv)
    r = validated(srv, keyset, "edge.example.test.", "A", EU)
    assert [x.rdtype for x in r.answer if x.rdtype != dns.rdatatype.RRSIG] == \
        [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert members(r) == {"192.0.2.80", "192.0.2.81"}
    # the us pool names another service: its members for that client
    r = validated(srv, keyset, "edge.example.test.", "A", US)
    assert members(r) == US_V4


def test_wildcards_are_signed_under_the_name_asked(servers):
    srv, _, _, _ = servers
    keyset = dnskeys(srv)
    for name, want in [("a.cdn.example.test.", {"192.0.2.61"}),
                       ("x.wild.example.test.", {"192.0.2.100"})]:
        r = validated(srv, keyset, name, "A")
        assert members(r) == want
        sig = [s for x in r.answer if x.rdtype == dns.rdatatype.RRSIG for s in x][0]
        # labels of the name itself: no wildcard expansion to prove
        assert sig.labels == len(dns.name.from_text(name)) - 1
    # a zone wildcard's CNAME, then the static target
    r = validated(srv, keyset, "q.wc.example.test.", "A")
    assert members(r) == {"192.0.2.80", "192.0.2.81"}


def nsec_of(r, name):
    return r.find_rrset(r.authority, dns.name.from_text(name), dns.rdataclass.IN,
                        dns.rdatatype.NSEC)


def bitmap(nsec):
    return nsec[0].to_text().split()[1:]


@pytest.mark.parametrize("name", ["nothere.example.test.", "a.b.nothere.example.test."])
def test_nxdomain_is_a_compact_denial(servers, name):
    srv, _, _, _ = servers
    keyset = dnskeys(srv)
    r = ask(srv, name, "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer, r
    check_section(r.authority, keyset)
    nsec = nsec_of(r, name)
    assert nsec[0].next == dns.name.Name([b"\x00"]).concatenate(dns.name.from_text(name))
    assert bitmap(nsec) == ["RRSIG", "NSEC", "TYPE128"]
    assert nsec.ttl == 300
    assert {x.rdtype for x in r.authority} == {dns.rdatatype.SOA, dns.rdatatype.NSEC,
                                                dns.rdatatype.RRSIG}
    # Compact Answers OK: NXDOMAIN, the same proof, CO echoed
    r = ask(srv, name, "A", flags=CO)
    assert r.rcode() == dns.rcode.NXDOMAIN, r
    assert r.ednsflags & CO
    check_section(r.authority, keyset)
    assert bitmap(nsec_of(r, name)) == ["RRSIG", "NSEC", "TYPE128"]
    # an unsigned zone: NXDOMAIN as always, CO not echoed
    _, unsigned, _, _ = servers
    r = ask(unsigned, name, "A", flags=CO)
    assert r.rcode() == dns.rcode.NXDOMAIN and not r.ednsflags & CO
    # without DO: NXDOMAIN and the SOA, as always (CO alone means nothing)
    r = ask(srv, name, "A", do=False, flags=CO)
    assert r.rcode() == dns.rcode.NXDOMAIN and not r.ednsflags & CO
    assert [x.rdtype for x in r.authority] == [dns.rdatatype.SOA]


def test_explicit_nxname_query_is_formerr(servers):
    srv, unsigned, _, _ = servers
    assert ask(srv, "www.example.test.", 128).rcode() == dns.rcode.FORMERR
    assert ask(unsigned, "www.example.test.", 128).rcode() == dns.rcode.NOERROR


@pytest.mark.parametrize("name, rdtype, ecs, types", [
    ("geo.example.test.", "MX", None, ["A", "AAAA", "RRSIG", "NSEC"]),
    ("geo.example.test.", "AAAA", US, ["A", "RRSIG", "NSEC"]),  # us has no IPv6
    ("one.example.test.", "AAAA", None, ["A", "RRSIG", "NSEC"]),  # no IPv6 member
    ("cdn.example.test.", "A", None, ["RRSIG", "NSEC"]),  # above a wildcard service
    ("x.wild.example.test.", "MX", None, ["A", "TXT", "RRSIG", "NSEC"]),  # zone wildcard
])
def test_nodata_at_built_names_is_proved(servers, name, rdtype, ecs, types):
    srv, _, _, _ = servers
    keyset = dnskeys(srv)
    r = ask(srv, name, rdtype, ecs=ecs)
    assert r.rcode() == dns.rcode.NOERROR and not r.answer, r
    check_section(r.authority, keyset)
    assert bitmap(nsec_of(r, name)) == types


def test_signed_answer_too_big_for_udp_is_truncated(servers):
    srv, _, _, _ = servers
    keyset = dnskeys(srv)
    r = ask(srv, "many.example.test.", "A", tcp=False, payload=1150)
    assert r.flags & dns.flags.TC and not r.answer, r
    # without DO the 64 records fit
    r = ask(srv, "many.example.test.", "A", tcp=False, do=False, payload=1150)
    assert not r.flags & dns.flags.TC and len(members(r)) == len(MANY)
    r = validated(srv, keyset, "many.example.test.", "A")
    assert members(r) == set(MANY)
    # ANY: one RRset and its RRSIG
    r = ask(srv, "www.example.test.", "ANY")
    assert sorted(x.rdtype for x in r.answer) == [dns.rdatatype.A, dns.rdatatype.RRSIG]
    check_section(r.answer, keyset)


def test_without_do_the_bytes_of_an_unsigned_server(servers):
    srv, unsigned, _, _ = servers

    def both(name, rdtype, ecs, flags):
        q = query(name, rdtype, do=False, ecs=ecs, flags=flags)
        return [dns.query.udp(q, "127.0.0.1", port=s.port("udp4"), timeout=5).to_wire()
                for s in (srv, unsigned)]

    # one record per RRset: the same bytes
    for name, rdtype, ecs in [("a.cdn.example.test.", "A", None),
                              ("geo.example.test.", "AAAA", EU), ("geo.example.test.", "MX", None),
                              ("nothere.example.test.", "A", None),
                              ("x.wild.example.test.", "A", None), ("failed.example.test.", "A", US),
                              ("cdn.example.test.", "A", None), ("www.example.test.", "MX", None),
                              ("one.example.test.", "AAAA", None)]:
        for flags in (0, CO):
            a, b = both(name, rdtype, ecs, flags)
            assert a == b, (name, rdtype)
    # several records: rotated between queries, so the same records
    for name, ecs in [("edge.example.test.", EU), ("geo.example.test.", US)]:
        a, b = both(name, "A", ecs, 0)
        assert len(a) == len(b) and dns.message.from_wire(a) == dns.message.from_wire(b)


def test_signature_cache_metrics(servers):
    srv, _, _, _ = servers
    before = srv.metrics()
    for _ in range(3):
        ask(srv, "geo.example.test.", "A", ecs=US)
    after = srv.metrics()
    hits = 'gslb_dnssec_cache_total{result="hit"}'
    assert after[hits] >= before[hits] + 2
    assert after['gslb_dnssec_signatures_total{event="made"}'] >= 1
    assert after["gslb_dnssec_cache_entries"] >= 1


def test_warm_up_is_not_counted_as_cache_lookups(servers):
    """The prober publishes a view every probe interval (1 s here), and each
    publication signs the answer sets ahead: that is counted as
    event="warm" signatures, not as hits or misses, which count queries."""
    srv, _, _, _ = servers
    hit, miss = ('gslb_dnssec_cache_total{result="%s"}' % r for r in ("hit", "miss"))
    before = srv.metrics()
    time.sleep(3.5)
    after = srv.metrics()
    assert (after[hit], after[miss]) == (before[hit], before[miss]), (before, after)
    assert after['gslb_dnssec_signatures_total{event="warm"}'] >= 1
    assert after['gslb_dnssec_signatures_total{event="made"}'] >= \
        after['gslb_dnssec_signatures_total{event="warm"}']


def write_anchor(path, d, base):
    for line in (d / (base + ".key")).read_text().splitlines():
        if line and not line.startswith(";"):
            owner, _cls, _type, rest = line.split(None, 3)
            flags, proto, alg, *b64 = rest.split(";")[0].split()
            path.write_text('trust-anchors {\n  %s static-key %s %s %s "%s";\n};\n'
                            % (owner, flags, proto, alg, "".join(b64)))
            return


@pytest.mark.skipif(shutil.which("delv") is None, reason="delv (bind9-dnsutils) not installed")
def test_delv_validates_built_answers(servers, tmp_path):
    srv, _, d, keys = servers
    anchor = tmp_path / "anchor.conf"
    write_anchor(anchor, d, keys[0])

    def delv(name, rdtype):
        cmd = ["delv", "@127.0.0.1", "-p", str(srv.port("udp4")), "-a", str(anchor),
               "+root=example.test", name, rdtype]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return r.stdout + r.stderr

    # delv sends no client subnet: 127.0.0.1 has no route, config order
    # (eu first; failed.example.test's eu is down: us)
    gslbtest.wait_answer(srv, "failed.example.test.", {"192.0.2.41"}, 10)
    for name, rdtype in [("geo.example.test", "A"), ("geo.example.test", "AAAA"),
                         ("failed.example.test", "A"), ("one.example.test", "A"),
                         ("edge.example.test", "A"), ("a.cdn.example.test", "A"),
                         ("x.wild.example.test", "A"), ("q.wc.example.test", "A")]:
        out = delv(name, rdtype)
        assert "; fully validated" in out, (name, out)
    for name, rdtype in [("nothere.example.test", "A"), ("geo.example.test", "MX"),
                         ("cdn.example.test", "A")]:
        out = delv(name, rdtype)
        assert "; negative response, fully validated" in out, (name, out)


def test_signatures_are_made_again_before_they_expire(gslbd_factory, tmp_path):
    # validity 20 s, refresh 10 s: the zone file's signatures and the cached
    # ones are made again from 10 s on; answers past the first 20 s validate
    key = keygen(tmp_path, "-a", "ECDSAP256SHA256")
    srv = gslbd_factory(workdir=tmp_path, config_text=config(
        tmp_path, 'keys = [ "%s" ]; signature_validity = 20; signature_refresh = 10; '
        'inception_offset = 0;' % key, services(closed_port())))
    keyset = dnskeys(srv)
    first = time.time()

    def expiry(r):
        return min(s.expiration for x in r.answer + r.authority
                   if x.rdtype == dns.rdatatype.RRSIG for s in x)

    names = [("www.example.test.", "A", None), ("geo.example.test.", "A", US),
             ("nothere.example.test.", "A", None)]
    ends = {n: expiry(ask(srv, n, t, ecs=e)) for n, t, e in names}
    assert all(e <= first + 21 for e in ends.values()), ends
    # the geo answer is asked for all along (its cache entry is in use)
    while time.time() < first + 22:
        ask(srv, "geo.example.test.", "A", ecs=US)
        time.sleep(0.5)
    for name, rdtype, ecs in names:
        r = ask(srv, name, rdtype, ecs=ecs)
        assert expiry(r) > ends[name], name
        check_section(r.answer, keyset)
        check_section(r.authority, keyset)
    keyset = dnskeys(srv)  # the DNSKEY RRset's own signature too
    assert "dnssec zone signed again zone=example.test." in srv.stderr_text()
    m = srv.metrics()
    assert m['gslb_dnssec_signatures_total{event="refresh"}'] >= 1


def test_explain_says_whether_the_answer_is_signed(servers):
    srv, unsigned, d, keys = servers
    zsk = int(keys[1].rsplit("+", 1)[1])
    conf = os.path.join(str(d), "gslb.conf")
    for name in ("geo.example.test", "www.example.test"):
        r = gslbtest.run_gslbd(["-c", conf, "--explain", "198.51.100.7", name, "--json"])
        assert r.returncode == 0, r.stderr
        ex = json.loads(r.stdout)
        assert ex["dnssec"] == {"signed": True, "keys": [{"tag": zsk, "algorithm": 13}]}
        r = gslbtest.run_gslbd(["-c", conf, "--explain", "198.51.100.7", name])
        assert "dnssec:    signed to queries with DO, key tag %d (algorithm 13)" % zsk \
            in r.stdout, r.stdout
    # the live daemon says the same (/explain)
    status, _, body = gslbtest.admin_request(srv, "GET",
                                             "/explain?address=198.51.100.7&name=geo.example.test")
    assert status == 200 and json.loads(body)["dnssec"]["keys"][0]["tag"] == zsk
    uconf = os.path.join(unsigned.workdir, "gslb.conf")
    r = gslbtest.run_gslbd(["-c", uconf, "--explain", "198.51.100.7", "geo.example.test",
                            "--json"])
    assert json.loads(r.stdout)["dnssec"] == {"signed": False, "keys": []}
    r = gslbtest.run_gslbd(["-c", uconf, "--explain", "198.51.100.7", "geo.example.test"])
    assert "dnssec:    unsigned (the zone has no dnssec group)" in r.stdout, r.stdout


def reload_config(srv, path, text):
    path.write_text(text)
    done = srv.stderr_text().count("reloaded what=config")
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while srv.stderr_text().count("reloaded what=config") == done:
        assert "reload failed" not in srv.stderr_text(), srv.stderr_text()[-2000:]
        assert time.monotonic() < deadline, srv.stderr_text()[-2000:]
        time.sleep(0.05)


def tags(keyset):
    return sorted(dns.dnssec.key_id(k) for k in keyset)


def test_rollover_by_reload_without_restart(gslbd_factory, tmp_path):
    # pre-publication: the new key is added (both DNSKEYs published, the
    # old one still signs), then the old one removed: every answer on the
    # way validates with the DNSKEY RRset served at that moment
    old = keygen(tmp_path, "-a", "ECDSAP256SHA256")
    new = keygen(tmp_path, "-a", "ED25519")
    extra = services(closed_port())
    conf = tmp_path / "gslb.conf"
    srv = gslbd_factory(workdir=tmp_path, config_text=config(
        tmp_path, 'keys = [ "%s" ];' % old, extra))
    tag_old, tag_new = (int(k.rsplit("+", 1)[1]) for k in (old, new))

    def answers_validate():
        keyset = dnskeys(srv)
        for name, rdtype, ecs in [("www.example.test.", "A", None),
                                  ("geo.example.test.", "A", US),
                                  ("nothere.example.test.", "A", None)]:
            r = ask(srv, name, rdtype, ecs=ecs)
            check_section(r.answer, keyset)
            check_section(r.authority, keyset)
        return keyset

    ask(srv, "geo.example.test.", "A", ecs=US)  # cached under the old key
    assert tags(answers_validate()) == [tag_old]
    pid = srv.proc.pid
    reload_config(srv, conf, config(tmp_path, 'keys = [ "%s", "%s" ];' % (old, new), extra))
    assert tags(answers_validate()) == sorted([tag_old, tag_new])
    reload_config(srv, conf, config(tmp_path, 'keys = [ "%s" ];' % new, extra))
    keyset = answers_validate()
    assert tags(keyset) == [tag_new]
    r = ask(srv, "geo.example.test.", "A", ecs=US)
    assert {s.key_tag for x in r.answer if x.rdtype == dns.rdatatype.RRSIG for s in x} == \
        {tag_new}
    assert srv.proc.pid == pid and srv.alive()
