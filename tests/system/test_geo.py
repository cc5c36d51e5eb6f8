"""Geo answers end to end (issue 3): gslbd with a small GeoIP database built
at test time from tests/data/geoip/sys-city.json, the overrides
tests/data/geoip/sys.nets and the zone tests/data/zones/geo.test.zone.

- the data-driven cases of tests/data/geo-cases/*.case (casefile format plus
  "#> ecs / scope / xfail" directives, see the README there): routing by
  distance, route rules, overrides, families, wildcard and CNAME services,
  zone data at service names, ECS scope in every reply;
- EDNS Client Subnet handling that needs raw bytes: the echo, malformed
  options (FORMERR), two options;
- weights (statistically), rotation, the `answers` limit, `limit`, TTL;
- unknown locations from the packet source (127.0.0.1, ::1);
- `--explain` (text and JSON) against what DNS answers for the same client;
  distances against an independent haversine;
- `gslbd -t` errors (file:line) and warnings;
- reloads: the database replaced on disk while queries run, a garbage
  database, the overrides file, SIGHUP with a broken and a changed config.

Only 127.0.0.1 and ::1 are used; the daemons pick their own ports.
"""

import json
import math
import os
import re
import shutil
import signal
import socket
import struct
import threading
import time

import pytest

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

import casefile
import gslbtest
from gslbtest import DATADIR, build_mmdb, make_query, run_gslbd

GEODATA = os.path.join(DATADIR, "geoip")
GEOCASEDIR = os.path.join(DATADIR, "geo-cases")
ZONE = ("geo.test", "geo.test.zone")
OVERRIDES_SRC = os.path.join(GEODATA, "sys.nets")
ECS = 8
SOA_MIN_TTL = 300

# name, lat, lon: config order matters (unknown locations use it)
REGIONS = [
    ("us-east", 39.04, -77.49),
    ("us-west", 37.37, -121.92),
    ("eu-east", 52.23, 21.01),
    ("eu-west", 53.35, -6.26),
    ("ap-southeast", 1.35, 103.82),
    ("ap-northeast", 35.68, 139.77),
    ("sa-east", -23.55, -46.63),
]
REGION_NAMES = [r[0] for r in REGIONS]

# www.geo.test: region -> (IPv4 members, IPv6 members); sa-east has no IPv6
WWW_POOLS = {
    "us-east": (["198.18.1.1", "198.18.1.2"], ["fd00:1::1"]),
    "us-west": (["198.18.2.1"], ["fd00:2::1", "fd00:2::2"]),
    "eu-east": (["198.18.3.1", "198.18.3.2"], ["fd00:3::1"]),
    "eu-west": (["198.18.4.1"], ["fd00:4::1"]),
    "ap-southeast": (["198.18.5.1"], ["fd00:5::1"]),
    "ap-northeast": (["198.18.6.1"], ["fd00:6::1"]),
    "sa-east": (["198.18.7.1", "198.18.7.2"], []),
}
WWW_TTL = 30


def routed_members(region):
    n = REGION_NAMES.index(region) + 1
    return (["198.19.%d.1" % n], ["fd01:%d::1" % n])


def _pools(pools):
    out = []
    for region in REGION_NAMES:
        if region not in pools:
            continue
        v4, v6 = pools[region]
        out.append('{ region = "%s"; members = [ %s ]; }'
                   % (region, ", ".join('"%s"' % a for a in v4 + v6)))
    return ",\n              ".join(out)


def services_text(www_pools=WWW_POOLS):
    routed = {r: routed_members(r) for r in REGION_NAMES}
    limited = {r: (["198.20.%d.1" % (i + 1)], []) for i, r in enumerate(REGION_NAMES)}
    return """services = (
  { name = "www.geo.test"; ttl = %(ttl)d;
    pools = ( %(www)s ); },
  { name = "routed.geo.test"; ttl = 60;
    route = ( { match = "net:203.0.113.0/24";  regions = [ "eu-west" ]; },
              { match = "country:PL";          regions = [ "us-west", "us-east" ]; },
              { match = "subdivision:US-CA";   regions = [ "eu-west", "eu-east" ]; },
              { match = "country:US";          regions = [ "ap-northeast" ]; },
              { match = "continent:EU";        regions = [ "sa-east" ]; },
              { match = "net:198.51.100.0/24"; regions = [ "ap-southeast", "us-east" ]; } );
    pools = ( %(routed)s ); },
  { name = "partial.geo.test"; ttl = 30;
    route = ( { match = "country:PL"; regions = [ "ap-southeast", "eu-east" ]; } );
    pools = ( { region = "us-east"; members = [ "198.18.11.1" ]; },
              { region = "eu-east"; members = [ "198.18.13.1" ]; } ); },
  { name = "limit1.geo.test"; ttl = 30; limit = 1;
    route = ( { match = "country:PL"; regions = [ "ap-southeast", "eu-east" ]; } );
    pools = ( { region = "us-east"; members = [ "198.18.41.1" ]; },
              { region = "eu-east"; members = [ "198.18.43.1" ]; } ); },
  { name = "limited.geo.test"; ttl = 30; limit = 2;
    pools = ( %(limited)s ); },
  { name = "defaulted.geo.test"; ttl = 30; default = [ "eu-west", "us-east" ];
    pools = ( { region = "us-east"; members = [ "198.18.12.1" ]; },
              { region = "eu-east"; members = [ "198.18.12.3" ]; },
              { region = "eu-west"; members = [ "198.18.12.4" ]; } ); },
  { name = "configorder.geo.test"; ttl = 30;
    pools = ( { region = "eu-east"; members = [ "198.18.14.3" ]; },
              { region = "us-west"; members = [ "198.18.14.2" ]; } ); },
  { name = "weighted.geo.test"; ttl = 30; answers = 1;
    pools = ( { region = "us-east";
                members = ( { address = "198.18.20.1"; weight = 3; }, "198.18.20.2" ); } ); },
  { name = "rotate.geo.test"; ttl = 30; answers = 1;
    pools = ( { region = "us-east";
                members = [ "198.18.21.1", "198.18.21.2", "198.18.21.3", "198.18.21.4" ]; } ); },
  { name = "two.geo.test"; ttl = 30; answers = 2;
    pools = ( { region = "us-east";
                members = [ "198.18.22.1", "198.18.22.2", "198.18.22.3", "198.18.22.4",
                            "198.18.22.5", "fd00:22::1", "fd00:22::2", "fd00:22::3" ]; } ); },
  { name = "many.geo.test"; ttl = 30;
    pools = ( { region = "us-east"; members = [ %(many)s ]; } ); },
  { name = "*.cdn.geo.test"; ttl = 45;
    pools = ( { region = "us-east"; members = [ "198.18.30.1" ]; },
              { region = "eu-east"; members = [ "198.18.30.3" ]; },
              { region = "ap-southeast"; members = [ "198.18.30.5" ]; } ); },
  { name = "www.cdn.geo.test"; ttl = 46;
    pools = ( { region = "us-east"; members = [ "198.18.31.1" ]; },
              { region = "eu-east"; members = [ "198.18.31.3" ]; } ); },
  { name = "edge.geo.test"; ttl = 20;
    pools = ( { region = "eu-east"; cname = "eu.edge-target.geo.test."; },
              { region = "us-east"; cname = "us.edge-target.geo.test."; },
              { region = "ap-southeast"; cname = "ap.cdn.example.net."; } ); },
  { name = "bare.geo.test"; ttl = 30;
    pools = ( { region = "us-east"; members = [ "198.18.15.1" ]; },
              { region = "eu-east"; members = [ "198.18.15.3" ]; } ); },
  { name = "single.geo.test"; ttl = 30;
    pools = ( { region = "eu-west"; members = [ "198.18.16.4" ]; } ); }
);
""" % {"ttl": WWW_TTL, "www": _pools(www_pools), "routed": _pools(routed),
       "limited": _pools(limited),
       "many": ", ".join('"198.18.23.%d"' % i for i in range(1, 11))}


def regions_text(regions=REGIONS):
    return "regions = (\n%s\n);\n" % ",\n".join(
        '  { name = "%s"; lat = %s; lon = %s; }' % r for r in regions)


def geo_config(datadir, database="geo.mmdb", overrides="overrides.nets", paths=None,
               services=None, regions=REGIONS, compact=False):
    """A gslbd config serving geo.test with the test services; database and
    overrides are file names in datadir (the config's `directory`)."""
    geo = ['database = "%s";' % database]
    if compact:
        geo.append("compact = true;")
    if overrides:
        geo.append('overrides = "%s";' % overrides)
    if paths:
        geo.append("paths = { %s };" % " ".join('%s = "%s";' % kv for kv in paths.items()))
    extra = "geoip = { %s };\n%s%s" % (" ".join(geo), regions_text(regions),
                                       services if services is not None else services_text())
    return gslbtest.gslbd_config(datadir, zones=[ZONE], nsid=None, identity=None,
                                 version=None, extra=extra)


# ---------------------------------------------------------------- databases

@pytest.fixture(scope="session")
def geo_dbs(tmp_path_factory):
    """The test databases, built once per session from their JSON sources."""
    d = tmp_path_factory.mktemp("geo-dbs")
    city = os.path.join(GEODATA, "sys-city.json")
    return {
        "city": build_mmdb(city, d / "city.mmdb"),
        "moved": build_mmdb(os.path.join(GEODATA, "sys-moved.json"), d / "moved.mmdb"),
        "flat4": build_mmdb(city, d / "flat4.mmdb", schema="flat", ip_version=4),
        "country": build_mmdb(city, d / "country.mmdb", schema="country"),
    }


def make_datadir(path, geo_dbs, overrides=True, db="city"):
    os.makedirs(path, exist_ok=True)
    shutil.copy(geo_dbs[db], os.path.join(path, "geo.mmdb"))
    if overrides:
        shutil.copy(OVERRIDES_SRC, os.path.join(path, "overrides.nets"))
    return str(path)


# ---------------------------------------------------------------- daemons

def _start(tmp_path_factory, label, config_text):
    return gslbtest.start_gslbd(tmp_path_factory.mktemp(label), config_text=config_text)


@pytest.fixture(scope="module")
def geo(tmp_path_factory, geo_dbs):
    """gslbd with the city database and the overrides."""
    datadir = make_datadir(tmp_path_factory.mktemp("geo-data"), geo_dbs)
    srv = _start(tmp_path_factory, "geo", geo_config(datadir))
    yield srv
    gslbtest.stop_checked(srv)


@pytest.fixture(scope="module")
def geo_plain(tmp_path_factory, geo_dbs):
    """gslbd with the city database and no overrides: 127.0.0.1 and ::1 are
    unknown locations."""
    datadir = make_datadir(tmp_path_factory.mktemp("geo-plain-data"), geo_dbs, overrides=False)
    srv = _start(tmp_path_factory, "geo-plain", geo_config(datadir, overrides=None))
    yield srv
    gslbtest.stop_checked(srv)


@pytest.fixture
def geo_factory(tmp_path_factory):
    """start(config_text) -> a running gslbd, stopped and checked at teardown."""
    started = []

    def start(config_text):
        srv = _start(tmp_path_factory, "geo-f", config_text)
        started.append(srv)
        return srv

    yield start
    gslbtest.stop_checked(*started)


# ---------------------------------------------------------------- ECS helpers

def ecs_data(subnet, scope=0):
    """RFC 7871 option data for "ADDR/PREFIX" (host bits must be clear)."""
    addr, _, plen = subnet.partition("/")
    fam = 2 if ":" in addr else 1
    raw = socket.inet_pton(socket.AF_INET6 if fam == 2 else socket.AF_INET, addr)
    plen = int(plen) if plen else len(raw) * 8
    n = (plen + 7) // 8
    a = bytearray(raw[:n])
    if plen % 8:
        assert a[-1] & (0xFF >> (plen % 8)) == 0, "host bits set in test subnet %s" % subnet
    return struct.pack("!HBB", fam, plen, scope) + bytes(a)


def ecs_option(subnet, scope=0):
    return dns.edns.GenericOption(ECS, ecs_data(subnet, scope))


def reply_ecs(msg):
    """The reply's ECS options as a list of (family, source, scope, address bytes)."""
    out = []
    for o in msg.options:
        if int(o.otype) != ECS:
            continue
        data = o.to_wire()
        fam, src, scope = struct.unpack("!HBB", data[:4])
        out.append((fam, src, scope, data[4:]))
    return out


def check_ecs_echo(msg, subnet, scope):
    """Problems with the reply's ECS for a query that carried subnet."""
    sent = ecs_data(subnet)
    fam, src = struct.unpack("!HB", sent[:3])
    got = reply_ecs(msg)
    if len(got) != 1:
        return ["%d ECS options in the reply, expected 1" % len(got)]
    g = got[0]
    problems = []
    if (g[0], g[1], g[3]) != (fam, src, sent[4:]):
        problems.append("ECS echo family/source/address %r, sent %r"
                        % ((g[0], g[1], g[3].hex()), (fam, src, sent[4:].hex())))
    if g[2] != scope:
        problems.append("ECS scope %d, expected %d" % (g[2], scope))
    return problems


def ask(srv, name, qtype="A", ecs=None, transport="udp4", options=(), edns=None, timeout=3.0):
    opts = list(options)
    if ecs is not None:
        opts.append(ecs_option(ecs))
    if edns is None:
        edns = 0 if opts else None
    q = make_query(name, qtype, edns=edns, options=opts)
    r = srv.query(q, transport, timeout=timeout)
    assert r is not None, "no reply to %s %s (ECS %s) over %s" % (name, qtype, ecs, transport)
    return r


def addrs(msg, rdtype="A"):
    t = dns.rdatatype.from_text(rdtype)
    return sorted(rd.address for rrset in msg.answer if rrset.rdtype == t for rd in rrset)


def answer_list(msg, rdtype="A"):
    """Addresses in the order of the answer section (duplicates kept)."""
    t = dns.rdatatype.from_text(rdtype)
    return [rd.address for rrset in msg.answer if rrset.rdtype == t for rd in rrset]


def www_region(a_addrs):
    for region, (v4, v6) in WWW_POOLS.items():
        if a_addrs and set(a_addrs) <= set(v4 + v6):
            return region
    return None


def haversine(lat1, lon1, lat2, lon2):
    r = math.pi / 180
    h = (math.sin((lat2 - lat1) * r / 2) ** 2
         + math.cos(lat1 * r) * math.cos(lat2 * r) * math.sin((lon2 - lon1) * r / 2) ** 2)
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, h)))


# ---------------------------------------------------------------- gslbd CLI

def explain(conf, client, name, as_json=True):
    args = ["-c", conf, "--explain", client, name] + (["--json"] if as_json else [])
    r = run_gslbd(args)
    assert r.returncode == 0, "gslbd %s: exit %d\n%s" % (" ".join(args), r.returncode, r.stderr)
    return json.loads(r.stdout) if as_json else r.stdout


# ---------------------------------------------------------------- data-driven cases

class GeoCaseError(Exception):
    pass


def load_geo_cases():
    cases = []
    for fn in sorted(os.listdir(GEOCASEDIR)):
        if not fn.endswith(".case"):
            continue
        path = os.path.join(GEOCASEDIR, fn)
        parsed = casefile.parse_file(path)
        directives = {}
        cur = None
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                s = line.strip()
                if line.startswith("case "):
                    cur = s.split()[1]
                    directives[cur] = {}
                elif s.startswith("#>"):
                    words = s[2:].split(None, 1)
                    if cur is None or not words:
                        raise GeoCaseError("%s:%d: directive outside a case" % (path, lineno))
                    key, arg = words[0], (words[1] if len(words) > 1 else "")
                    if key == "ecs":
                        ecs_data(arg)  # validates
                        directives[cur]["ecs"] = arg
                    elif key == "scope":
                        directives[cur]["scope"] = int(arg)
                    elif key == "xfail":
                        directives[cur]["xfail"] = arg
                    else:
                        raise GeoCaseError("%s:%d: unknown directive %s" % (path, lineno, key))
        for c in parsed:
            d = directives.get(c.name, {})
            c.ecs = d.get("ecs")
            c.scope = d.get("scope", 0)
            c.xfail = d.get("xfail")
            if "scope" in d and not c.ecs:
                raise GeoCaseError("%s: scope without ecs" % c.where())
            if c.ecs:
                if c.edns is None:
                    raise GeoCaseError("%s: #> ecs needs an edns line" % c.where())
                c.edns.setdefault("options", []).append((ECS, ecs_data(c.ecs)))
        cases += parsed
    return cases


GEO_CASES = load_geo_cases()
GEO_PARAMS = [
    pytest.param(c, t, id="%s[%s]" % (c.id, t),
                 marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
    for c in GEO_CASES for t in c.over
]


def test_geo_case_count():
    assert len(GEO_CASES) >= 90, "only %d cases in %s" % (len(GEO_CASES), GEOCASEDIR)


@pytest.mark.parametrize("case,transport", GEO_PARAMS)
def test_geo_case(geo, case, transport):
    wire, question = case.wire(casefile.new_id())
    reply = geo.exchange(wire, transport, timeout=3.0)
    problems = case.check(wire, question, reply)
    msg = None
    if reply is not None:
        try:
            msg = dns.message.from_wire(reply)
        except Exception as e:  # noqa: BLE001 - reported by case.check too
            problems.append("reply does not parse: %r" % e)
    if msg is not None:
        if case.ecs and msg.rcode() != dns.rcode.FORMERR:
            problems += check_ecs_echo(msg, case.ecs, case.scope)
        elif not case.ecs and reply_ecs(msg):
            problems.append("ECS in the reply to a query without ECS")
    if problems:
        pytest.fail("%s over %s, query %s %s%s:\n- %s\nreply:\n%s" % (
            case.where(), transport, case.qname, case.qtype,
            " ECS %s" % case.ecs if case.ecs else "", "\n- ".join(problems),
            gslbtest.describe(msg)), pytrace=False)


# ---------------------------------------------------------------- geoip.compact

@pytest.fixture(scope="module")
def geo_compact(tmp_path_factory, geo_dbs):
    """gslbd with the city database, the overrides and geoip.compact."""
    datadir = make_datadir(tmp_path_factory.mktemp("geo-compact-data"), geo_dbs)
    srv = _start(tmp_path_factory, "geo-compact", geo_config(datadir, compact=True))
    yield srv
    gslbtest.stop_checked(srv)


GEO_PARAMS_COMPACT = [
    pytest.param(c, id=c.id,
                 marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
    for c in GEO_CASES if "udp4" in c.over
]


@pytest.mark.parametrize("case", GEO_PARAMS_COMPACT)
def test_geo_case_compact(geo_compact, case):
    """Every geo case over UDP/IPv4 against gslbd with geoip.compact: the
    same answer, and an ECS scope no longer than the database's (the
    compact table merges networks with the same answer)."""
    wire, question = case.wire(casefile.new_id())
    reply = geo_compact.exchange(wire, "udp4", timeout=3.0)
    problems = case.check(wire, question, reply)
    msg = dns.message.from_wire(reply) if reply is not None else None
    if msg is not None and case.ecs and msg.rcode() != dns.rcode.FORMERR:
        got = reply_ecs(msg)
        scope = got[0][2] if len(got) == 1 else None
        if scope is None or scope > case.scope:
            problems.append("ECS scope %s, expected at most the database's %d"
                            % (scope, case.scope))
        problems += [p for p in check_ecs_echo(msg, case.ecs, scope if scope is not None
                                               else case.scope) if "scope" not in p]
    if problems:
        pytest.fail("%s (geoip.compact), query %s %s%s:\n- %s\nreply:\n%s" % (
            case.where(), case.qname, case.qtype, " ECS %s" % case.ecs if case.ecs else "",
            "\n- ".join(problems), gslbtest.describe(msg)), pytrace=False)


def test_compact_table_logged(geo_compact, geo):
    """The build is logged with its figures, and the compact daemon gives
    the exact one's answers to clients across the database and the
    overrides (the unit test tests/unit/test_compact.c goes through every
    network)."""
    log = geo_compact.stderr_text()
    assert re.search(r"geoip compact table database=\S+ networks=\d+ classes=\d+ "
                     r"bytes=\d+ ms=\d+", log), log[-2000:]
    for subnet in ["4.1.0.0/20", "8.8.8.0/24", "83.1.2.0/24", "83.200.0.0/16", "5.9.1.0/24",
                   "10.1.0.0/16", "60.1.2.0/24", "2a00:1450:4000::/36", "2001:db8:1::/48",
                   "2804:1::/32", "::ffff:83.0.0.0/120"]:
        a = ask(geo, "www.geo.test", "A", ecs=subnet)
        b = ask(geo_compact, "www.geo.test", "A", ecs=subnet)
        assert addrs(a) == addrs(b), (subnet, a.to_text(), b.to_text())
        assert reply_ecs(b)[0][2] <= reply_ecs(a)[0][2], (subnet, reply_ecs(a), reply_ecs(b))


# ---------------------------------------------------------------- ECS

@pytest.mark.parametrize("transport", ["udp4", "udp6", "tcp4", "tcp6"])
@pytest.mark.parametrize("subnet,scope,region", [
    ("4.1.0.0/20", 10, "us-east"),          # source 20: 3 address bytes echoed
    ("1.0.0.0/22", 24, "ap-southeast"),     # scope longer than the source prefix
    ("83.1.2.0/24", 24, "us-west"),         # override net
    ("2a00:1450:4000::/36", 32, "eu-west"),
    ("2001:db8:1:ab00::/57", 48, "ap-northeast"),
])
def test_ecs_echo_and_scope(geo, transport, subnet, scope, region):
    """The reply's ECS repeats family, source prefix and address byte for
    byte, with the scope of the network that decided."""
    r = ask(geo, "www.geo.test", "A", ecs=subnet, transport=transport)
    assert r.rcode() == dns.rcode.NOERROR
    assert not check_ecs_echo(r, subnet, scope), check_ecs_echo(r, subnet, scope)
    assert www_region(addrs(r)) == region, r.to_text()
    assert r.flags & dns.flags.AA


def test_ecs_source_zero_echo(geo):
    """ECS 0.0.0.0/0: no address bytes, scope 0, the source located."""
    r = ask(geo, "www.geo.test", "A", ecs="0.0.0.0/0")
    assert reply_ecs(r) == [(1, 0, 0, b"")]
    assert www_region(addrs(r)) == "eu-west"  # 127.0.0.1: override to Dublin


def test_ecs_source_zero_uses_source_not_ecs_address(geo):
    """Family 2, prefix 0 from ::1 (Tokyo) and from 127.0.0.1 (Dublin)."""
    r6 = ask(geo, "www.geo.test", "A", ecs="::/0", transport="udp6")
    r4 = ask(geo, "www.geo.test", "A", ecs="::/0", transport="udp4")
    assert www_region(addrs(r6)) == "ap-northeast"
    assert www_region(addrs(r4)) == "eu-west"
    assert reply_ecs(r6) == [(2, 0, 0, b"")] and reply_ecs(r4) == [(2, 0, 0, b"")]


MALFORMED_ECS = [
    ("family-3", struct.pack("!HBB", 3, 24, 0) + b"\x53\x01\x00"),
    ("family-0", struct.pack("!HBB", 0, 24, 0) + b"\x53\x01\x00"),
    ("v4-source-33", struct.pack("!HBB", 1, 33, 0) + b"\x53\x01\x02\x03\x00"),
    ("v4-source-33-four-bytes", struct.pack("!HBB", 1, 33, 0) + b"\x53\x01\x02\x03"),
    ("v6-source-129", struct.pack("!HBB", 2, 129, 0) + b"\x2a" + b"\x00" * 16),
    ("v4-address-longer-than-prefix", struct.pack("!HBB", 1, 24, 0) + b"\x53\x01\x02\x00"),
    ("v4-address-shorter-than-prefix", struct.pack("!HBB", 1, 24, 0) + b"\x53\x01"),
    ("v4-prefix-0-with-address", struct.pack("!HBB", 1, 0, 0) + b"\x00"),
    ("v6-address-longer-than-prefix", struct.pack("!HBB", 2, 32, 0) + bytes.fromhex("2a00145000")),
    ("v6-address-shorter-than-prefix", struct.pack("!HBB", 2, 48, 0) + bytes.fromhex("2a001450")),
    ("v4-bits-beyond-prefix", struct.pack("!HBB", 1, 23, 0) + b"\x53\x01\x01"),
    ("v4-bits-beyond-prefix-last-bit", struct.pack("!HBB", 1, 31, 0) + b"\x53\x01\x02\x01"),
    ("v6-bits-beyond-prefix", struct.pack("!HBB", 2, 20, 0) + bytes.fromhex("2a0018")),
    ("scope-nonzero-in-query", struct.pack("!HBB", 1, 24, 24) + b"\x53\x01\x02"),
    ("v6-scope-nonzero-in-query", struct.pack("!HBB", 2, 32, 16) + bytes.fromhex("2a001450")),
    ("truncated-header", struct.pack("!HB", 1, 24)),
    ("empty", b""),
]


@pytest.mark.parametrize("transport", ["udp4", "tcp6"])
@pytest.mark.parametrize("name", ["www.geo.test", "static.geo.test"])
@pytest.mark.parametrize("label,data", MALFORMED_ECS, ids=[m[0] for m in MALFORMED_ECS])
def test_malformed_ecs_formerr(geo, transport, name, label, data):
    r = ask(geo, name, "A", options=[dns.edns.GenericOption(ECS, data)], transport=transport)
    assert r.rcode() == dns.rcode.FORMERR, "%s: rcode %s, expected FORMERR:\n%s" % (
        label, dns.rcode.to_text(r.rcode()), r.to_text())
    assert not r.answer, r.to_text()
    # the server is fine afterwards
    ok = ask(geo, "www.geo.test", "A", ecs="83.20.0.0/24", transport=transport)
    assert www_region(addrs(ok)) == "eu-east"


@pytest.mark.parametrize("transport", ["udp4", "tcp4"])
@pytest.mark.parametrize("second", ["83.20.0.0/24", "4.1.0.0/24"])
def test_two_ecs_options_formerr(geo, transport, second):
    opts = [ecs_option("83.20.0.0/24"), ecs_option(second)]
    r = ask(geo, "www.geo.test", "A", options=opts, transport=transport)
    assert r.rcode() == dns.rcode.FORMERR, r.to_text()
    assert not r.answer


def test_valid_ecs_edge_prefixes(geo):
    """Prefix 32 and 128, and /0 in both families, are valid."""
    for subnet, region in [("81.2.69.1/32", "eu-west"), ("2a00:1450::1/128", "eu-west"),
                           ("0.0.0.0/0", "eu-west")]:
        r = ask(geo, "www.geo.test", "A", ecs=subnet)
        assert r.rcode() == dns.rcode.NOERROR, (subnet, r.to_text())
        assert www_region(addrs(r)) == region, (subnet, r.to_text())


# ---------------------------------------------------------------- unknown locations

@pytest.mark.parametrize("transport", ["udp4", "udp6", "tcp4", "tcp6"])
def test_unknown_source_default_and_config_order(geo_plain, transport):
    """No overrides: 127.0.0.1 and ::1 are in no database. A service with
    `default` uses it; others use config order (first region with a pool)."""
    r = ask(geo_plain, "defaulted.geo.test", "A", transport=transport)
    assert addrs(r) == ["198.18.12.4"], r.to_text()  # eu-west, first in default
    r = ask(geo_plain, "configorder.geo.test", "A", transport=transport)
    assert addrs(r) == ["198.18.14.2"], r.to_text()  # us-west: us-east has no pool
    r = ask(geo_plain, "www.geo.test", "A", transport=transport)
    assert www_region(addrs(r)) == "us-east", r.to_text()  # first region in config
    r = ask(geo_plain, "www.geo.test", "AAAA", transport=transport)
    assert addrs(r, "AAAA") == ["fd00:1::1"], r.to_text()


@pytest.mark.parametrize("transport", ["udp4", "udp6"])
def test_unknown_source_ecs_zero(geo_plain, transport):
    r = ask(geo_plain, "defaulted.geo.test", "A", ecs="0.0.0.0/0", transport=transport)
    assert addrs(r) == ["198.18.12.4"]
    assert reply_ecs(r) == [(1, 0, 0, b"")]


def test_ecs_beats_unknown_source(geo_plain):
    """Without overrides the source is unknown, an ECS subnet is not."""
    r = ask(geo_plain, "defaulted.geo.test", "A", ecs="83.20.0.0/24")
    assert addrs(r) == ["198.18.12.3"], r.to_text()  # eu-east, nearest to Warsaw
    # no overrides here: the scope is the database network, /11
    assert reply_ecs(r)[0][2] == 11


# ---------------------------------------------------------------- answers

def test_service_ttl_and_aa(geo):
    for name, ttl, qtypes in [("www.geo.test", WWW_TTL, ("A", "AAAA", "ANY")),
                              ("routed.geo.test", 60, ("A", "AAAA")),
                              ("a.cdn.geo.test", 45, ("A",)), ("www.cdn.geo.test", 46, ("A",))]:
        for qtype in qtypes:
            r = ask(geo, name, qtype, ecs="2a00:1450::/32")
            assert r.flags & dns.flags.AA, r.to_text()
            assert r.answer, r.to_text()
            for rrset in r.answer:
                assert rrset.ttl == ttl, r.to_text()


def test_weights_statistically(geo):
    """weighted.geo.test: weights 3 and 1, answers = 1. Over 2000 queries the
    heavier member's share is 0.75 (sd 19 answers); [1400, 1600] is more than
    5 sd either side, while equal weights would give about 1000."""
    counts = {"198.18.20.1": 0, "198.18.20.2": 0}
    n = 2000
    for i in range(n):
        r = ask(geo, "weighted.geo.test", "A", transport="udp4" if i % 2 else "udp6")
        got = addrs(r)
        assert len(got) == 1, r.to_text()
        counts[got[0]] += 1
    assert 1400 <= counts["198.18.20.1"] <= 1600, counts
    assert counts["198.18.20.1"] + counts["198.18.20.2"] == n


def test_rotation_equal_weights(geo):
    """rotate.geo.test: 4 equal members, answers = 1: each shows up (400
    queries: expected 100 each; fewer than 30 is over 8 sd away)."""
    seen = {}
    for i in range(400):
        r = ask(geo, "rotate.geo.test", "A", transport=("udp4", "tcp4")[i % 2])
        got = addrs(r)
        assert len(got) == 1, r.to_text()
        seen[got[0]] = seen.get(got[0], 0) + 1
    assert sorted(seen) == ["198.18.21.%d" % i for i in range(1, 5)], seen
    assert min(seen.values()) >= 30, seen


def test_rotation_order_varies(geo):
    """www.geo.test, eu-east (two IPv4 members): both orders are served."""
    orders = set()
    for _ in range(100):
        r = ask(geo, "www.geo.test", "A", ecs="83.20.0.0/24")
        orders.add(tuple(answer_list(r)))
    assert orders == {("198.18.3.1", "198.18.3.2"), ("198.18.3.2", "198.18.3.1")}, orders


@pytest.mark.parametrize("qtype,pool", [
    ("A", ["198.18.22.%d" % i for i in range(1, 6)]),
    ("AAAA", ["fd00:22::%d" % i for i in range(1, 4)]),
])
def test_answers_limit(geo, qtype, pool):
    """two.geo.test: answers = 2 of 5 IPv4 / 3 IPv6 members, distinct, and
    over many queries every member is served."""
    seen = set()
    for _ in range(200):
        r = ask(geo, "two.geo.test", qtype)
        got = answer_list(r, qtype)
        assert len(got) == 2 and len(set(got)) == 2, r.to_text()
        assert set(got) <= set(pool), r.to_text()
        seen |= set(got)
    assert seen == set(pool)


def test_answers_default_is_8(geo):
    r = ask(geo, "many.geo.test", "A")
    got = answer_list(r)
    assert len(got) == 8 and len(set(got)) == 8, r.to_text()
    assert set(got) <= {"198.18.23.%d" % i for i in range(1, 11)}


def test_aaaa_nodata_not_other_region(geo):
    """sa-east has no IPv6 member: NODATA with SOA, and never an address of
    another region, whatever the transport."""
    for t in ("udp4", "udp6", "tcp4", "tcp6"):
        r = ask(geo, "www.geo.test", "AAAA", ecs="177.1.0.0/24", transport=t)
        assert r.rcode() == dns.rcode.NOERROR and not r.answer, r.to_text()
        assert [rr.rdtype for rr in r.authority] == [dns.rdatatype.SOA], r.to_text()
        assert r.authority[0].ttl == SOA_MIN_TTL


# ---------------------------------------------------------------- explain

EXPLAIN_CLIENTS = [
    "83.20.0.0/24", "83.5.0.0/24", "83.1.2.0/24", "83.1.0.0/16", "81.2.69.0/24",
    "2.16.0.0/24", "5.0.1.0/24", "4.1.0.0/24", "4.100.0.0/24", "8.8.8.0/24",
    "177.1.0.0/24", "41.1.0.0/24", "1.0.0.0/24", "27.0.1.0/24", "175.41.130.0/24",
    "49.33.0.0/24", "10.2.0.0/24", "10.1.5.0/24", "192.0.2.0/24", "198.51.100.0/24",
    "203.0.113.0/24", "198.51.0.0/16", "100.64.1.0/24", "172.16.0.0/24",
    "2a00:1450:4001::/48", "2001:4860:1::/48", "2804:14c::/32", "2001:db8:1:5::/64",
    "2001:db8:2::/56", "::ffff:83.1.2.0/120", "64:ff9b::401:0/120",
]
EXPLAIN_NAMES = ["www.geo.test", "routed.geo.test", "partial.geo.test", "limit1.geo.test",
                 "defaulted.geo.test", "configorder.geo.test", "edge.geo.test",
                 "x.cdn.geo.test", "single.geo.test"]


@pytest.mark.parametrize("name", EXPLAIN_NAMES)
def test_explain_json_agrees_with_dns(geo, name):
    """For each client: explain's chosen answer, scope and TTL are what DNS
    gives the same client subnet."""
    problems = []
    for client in EXPLAIN_CLIENTS:
        ex = explain(geo.config_path, client, name)
        for key in ("client", "name", "zone", "service", "location", "rule", "regions",
                    "chosen", "answer", "ecs_scope", "ttl"):
            if key not in ex:
                problems.append("%s: no %r in explain JSON" % (client, key))
        ans = ex.get("answer", {})
        for qtype in ("A", "AAAA"):
            r = ask(geo, name, qtype, ecs=client)
            got_ecs = reply_ecs(r)
            scope = got_ecs[0][2] if got_ecs else None
            if scope != ex.get("ecs_scope"):
                problems.append("%s %s: DNS scope %s, explain %s" % (client, qtype, scope,
                                                                     ex.get("ecs_scope")))
            cn = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.CNAME]
            if ans.get("cname"):
                want = ans["cname"].rstrip(".").lower()
                if not cn or cn[0][0].target.to_text().rstrip(".").lower() != want:
                    problems.append("%s %s: DNS %s, explain CNAME %s" % (
                        client, qtype, r.answer, ans["cname"]))
                elif cn[0].ttl != ex["ttl"]:
                    problems.append("%s: CNAME TTL %d, explain %d" % (client, cn[0].ttl,
                                                                      ex["ttl"]))
                continue
            want = sorted(m["address"] for m in ans.get(qtype, []))
            got = addrs(r, qtype)
            if ex.get("chosen") is None:
                want = []
            if got != want:
                problems.append("%s %s: DNS %s, explain (chosen %s) %s" % (
                    client, qtype, got, ex.get("chosen"), want))
            for rrset in r.answer:
                if rrset.ttl != ex.get("ttl"):
                    problems.append("%s %s: TTL %d, explain %s" % (client, qtype, rrset.ttl,
                                                                   ex.get("ttl")))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("client", ["83.1.2.0/24", "83.5.0.0/24", "10.2.0.0/24",
                                    "4.100.0.0/24", "2001:db8:1:5::/64", "1.0.0.0/24"])
def test_explain_text_agrees_with_json(geo, client):
    ex = explain(geo.config_path, client, "www.geo.test")
    text = explain(geo.config_path, client, "www.geo.test", as_json=False)
    assert re.search(r"^ecs scope:\s*/%d\s*$" % ex["ecs_scope"], text, re.M), text
    assert re.search(r"^ttl:\s*%d\s*$" % WWW_TTL, text, re.M), text
    assert re.search(r"^\s*\d+\.\s+%s\s.*taken" % re.escape(ex["chosen"]), text, re.M), text
    for m in ex["answer"]["A"] + ex["answer"]["AAAA"]:
        assert m["address"] in text, text
    ov = ex["location"]["override"]
    if ov:
        assert re.search(r"^override:\s*%s \(.*overrides\.nets:%d\)" % (
            re.escape(ov["net"]), ov["line"]), text, re.M), text
    else:
        assert re.search(r"^override:\s*none", text, re.M), text
    # the regions in the order tried, same order as the JSON
    listed = re.findall(r"^\s*\d+\.\s+(\S+)", text, re.M)
    assert listed == [r["region"] for r in ex["regions"]], text


def _nets_line(net):
    with open(OVERRIDES_SRC) as f:
        for i, line in enumerate(f, 1):
            if line.split("#")[0].split()[:1] == [net]:
                return i
    raise AssertionError("%s not in %s" % (net, OVERRIDES_SRC))


@pytest.mark.parametrize("client,net,kind,chosen", [
    ("10.2.0.0/24", "10.0.0.0/8", "override", "eu-east"),
    ("10.1.5.0/24", "10.1.0.0/16", "override", "ap-southeast"),
    ("83.1.2.0/24", "83.1.2.0/24", "override", "us-west"),
    ("4.100.0.0/24", "4.64.0.0/10", "distance", "eu-east"),
    ("2001:db8:1:5::/64", "2001:db8:1::/48", "override", "ap-northeast"),
    ("127.0.0.1", "127.0.0.1/32", "distance", "eu-west"),
])
def test_explain_override(geo, client, net, kind, chosen):
    ex = explain(geo.config_path, client, "www.geo.test")
    ov = ex["location"]["override"]
    assert ov and ov["net"] == net and ov["line"] == _nets_line(net), ex["location"]
    assert ov["file"].endswith("overrides.nets")
    assert ex["rule"]["kind"] == kind and ex["chosen"] == chosen, ex
    if kind == "distance":
        assert ex["location"]["coordinates_from"] == "override", ex["location"]


def test_explain_location_fields(geo):
    ex = explain(geo.config_path, "83.20.0.0/24", "www.geo.test")
    loc = ex["location"]
    assert ex["client"] == "83.20.0.0/24" and ex["zone"].rstrip(".") == "geo.test"
    assert ex["service"]["name"] == "www.geo.test"
    assert loc["found"] is True and loc["network"] == "83.0.0.0/11", loc
    assert (loc["country"], loc["continent"], loc["subdivision"]) == ("PL", "EU", "PL-14"), loc
    assert abs(loc["latitude"] - 52.2297) < 1e-3 and abs(loc["longitude"] - 21.0122) < 1e-3
    assert loc["coordinates_from"] == "database" and loc["override"] is None
    assert ex["rule"]["kind"] == "distance" and ex["chosen"] == "eu-east"
    assert ex["ecs_scope"] == 12 and ex["ttl"] == WWW_TTL
    # centroid
    loc = explain(geo.config_path, "5.0.1.0/24", "www.geo.test")["location"]
    assert loc["country"] == "DE" and loc["coordinates_from"] == "country centroid", loc
    # static name: no service
    ex = explain(geo.config_path, "83.20.0.0/24", "static.geo.test")
    assert ex["service"] is None


def test_explain_route_rule(geo):
    ex = explain(geo.config_path, "8.8.8.0/24", "routed.geo.test")
    assert ex["rule"]["kind"] == "route" and ex["rule"]["match"] == "subdivision:US-CA", ex
    with open(geo.config_path) as f:
        lines = f.read().splitlines()
    want = next(i for i, l in enumerate(lines, 1) if '"subdivision:US-CA"' in l)
    assert ex["rule"]["line"] == want
    assert [r["region"] for r in ex["regions"]] == ["eu-west", "eu-east"]
    assert ex["chosen"] == "eu-west"


@pytest.mark.parametrize("client,as_v4,scope", [
    ("::ffff:83.1.2.0/120", "83.1.2.0/24", 120),
    ("64:ff9b::401:0/120", "4.1.0.0/24", 106),
    ("::ffff:81.2.69.1", "81.2.69.1/32", 120),
])
def test_explain_v4_mapped(geo, client, as_v4, scope):
    ex = explain(geo.config_path, client, "www.geo.test")
    assert ex.get("located_as") == as_v4, ex
    assert ex["ecs_scope"] == scope


@pytest.mark.parametrize("client", ["83.20.0.0/24", "4.1.0.0/24", "8.8.8.0/24", "177.1.0.0/24",
                                    "41.1.0.0/24", "1.0.0.0/24", "27.0.1.0/24",
                                    "175.41.130.0/24", "49.33.0.0/24", "24.48.1.0/24",
                                    "2a00:1450:4001::/48", "2804:14c::/32"])
def test_distance_ordering(geo, client):
    """Regions in increasing great-circle distance from the database location,
    with distances an independent haversine agrees with (within 2 km), the
    nearest chosen, and DNS answering from it."""
    ex = explain(geo.config_path, client, "www.geo.test")
    loc = ex["location"]
    assert ex["rule"]["kind"] == "distance", ex
    want = sorted(REGIONS, key=lambda r: haversine(loc["latitude"], loc["longitude"], r[1], r[2]))
    assert [r["region"] for r in ex["regions"]] == [r[0] for r in want], ex["regions"]
    for step, reg in zip(ex["regions"], want):
        d = haversine(loc["latitude"], loc["longitude"], reg[1], reg[2])
        assert abs(step["distance_km"] - d) <= 2, (step, d)
    assert ex["regions"][0]["state"] == "taken" and ex["chosen"] == want[0][0]
    assert all(s["state"] != "taken" for s in ex["regions"][1:])
    r = ask(geo, "www.geo.test", "A", ecs=client)
    assert www_region(addrs(r)) == want[0][0], r.to_text()


def test_distance_only_regions_with_pool(geo):
    ex = explain(geo.config_path, "177.1.0.0/24", "partial.geo.test")
    assert [r["region"] for r in ex["regions"]] == ["us-east", "eu-east"], ex["regions"]


def test_limit_in_explain(geo):
    """limited.geo.test: limit = 2 of 7 regions: the nearest is taken, the
    second not tried, the rest beyond the limit; without limit none is."""
    ex = explain(geo.config_path, "83.20.0.0/24", "limited.geo.test")
    states = [r["state"] for r in ex["regions"]]
    assert len(states) == 7 and states[0] == "taken", states
    assert "limit" not in states[1], states
    assert all("limit" in s for s in states[2:]), states
    ex = explain(geo.config_path, "83.20.0.0/24", "www.geo.test")
    assert not any("limit" in r["state"] for r in ex["regions"]), ex["regions"]
    # limit1: the route's first region (no pool) is the only one tried
    ex = explain(geo.config_path, "83.20.0.0/24", "limit1.geo.test")
    assert ex["chosen"] is None, ex
    assert [r["region"] for r in ex["regions"]] == ["ap-southeast", "eu-east"]
    assert "limit" in ex["regions"][1]["state"]


def test_explain_bad_arguments(geo):
    for args in (["not-an-address", "www.geo.test"], ["10.0.0.0/33", "www.geo.test"],
                 ["::1/129", "www.geo.test"]):
        r = run_gslbd(["-c", geo.config_path, "--explain"] + args)
        assert r.returncode != 0, (args, r.stdout)


# ---------------------------------------------------------------- other schemas

FLAT_PATHS = {"country": "country_code", "continent": "continent_code",
              "subdivision": "region_code", "latitude": "latitude", "longitude": "longitude"}


def test_flat_schema_ipv4_database(tmp_path, geo_dbs):
    """A flat-schema IPv4-only database through geoip.paths."""
    datadir = make_datadir(tmp_path, geo_dbs, overrides=False, db="flat4")
    conf = tmp_path / "gslb.conf"
    conf.write_text(geo_config(datadir, overrides=None, paths=FLAT_PATHS))
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    ex = explain(str(conf), "83.20.0.0/24", "www.geo.test")
    loc = ex["location"]
    assert (loc["country"], loc["continent"], loc["subdivision"]) == ("PL", "EU", "PL-14"), loc
    assert abs(loc["latitude"] - 52.2297) < 1e-3 and ex["chosen"] == "eu-east"
    assert explain(str(conf), "8.8.8.0/24", "routed.geo.test")["chosen"] == "eu-west"
    # IPv6 in an IPv4 database: unknown, config order
    ex = explain(str(conf), "2a00:1450::/32", "www.geo.test")
    assert ex["location"]["found"] is False and ex["chosen"] == "us-east", ex
    # the default (GeoIP2) paths find nothing in a flat record
    conf.write_text(geo_config(datadir, overrides=None))
    ex = explain(str(conf), "83.20.0.0/24", "www.geo.test")
    assert ex["location"]["country"] is None and ex["chosen"] == "us-east", ex


def test_country_only_database(tmp_path, geo_dbs):
    """GeoIP2-Country: routes by country work, distance uses centroids."""
    datadir = make_datadir(tmp_path, geo_dbs, overrides=False, db="country")
    conf = tmp_path / "gslb.conf"
    conf.write_text(geo_config(datadir, overrides=None))
    ex = explain(str(conf), "83.20.0.0/24", "routed.geo.test")
    assert ex["rule"]["match"] == "country:PL" and ex["chosen"] == "us-west", ex
    ex = explain(str(conf), "27.0.1.0/24", "www.geo.test")
    assert ex["location"]["coordinates_from"] == "country centroid", ex["location"]
    assert ex["chosen"] == "ap-northeast"
    ex = explain(str(conf), "8.8.8.0/24", "routed.geo.test")  # no subdivision here
    assert ex["rule"]["match"] == "country:US" and ex["chosen"] == "ap-northeast", ex


# ---------------------------------------------------------------- gslbd -t

MINI_HEAD = """directory = "%(dir)s";
listen = { dns = [ "127.0.0.1:0" ]; };
zones = ( { origin = "geo.test"; file = "%(zone)s"; } );
"""


def mini_config(tmp_path, body, overrides=None, database=False, geo_dbs=None):
    """Write gslb.conf (and overrides.nets) in tmp_path; returns the path."""
    text = MINI_HEAD % {"dir": tmp_path, "zone": os.path.join(gslbtest.ZONEDIR, ZONE[1])}
    geo = []
    if database:
        shutil.copy(geo_dbs["city"], tmp_path / "geo.mmdb")
        geo.append('database = "geo.mmdb";')
    if overrides is not None:
        (tmp_path / "overrides.nets").write_text(overrides)
        geo.append('overrides = "overrides.nets";')
    if geo:
        text += "geoip = { %s };\n" % " ".join(geo)
    text += body
    conf = tmp_path / "gslb.conf"
    conf.write_text(text)
    return str(conf)


def line_of(path, needle):
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if needle in line:
                return i
    raise AssertionError("%r not in %s" % (needle, path))


TWO_REGIONS = """regions = (
  { name = "r1"; lat = 10.0; lon = 10.0; },
  { name = "r2"; lat = 20.0; lon = 20.0; }
);
"""


def check_error_at(stderr, path, line, reason):
    base = re.escape(os.path.basename(path))
    found = re.findall(r"(\S*%s):(\d+):\s*(.*)$" % base, stderr, re.M)
    assert found, "no '%s:LINE: reason' in stderr:\n%s" % (path, stderr)
    assert any(int(ln) == line for _, ln, _ in found), "expected line %d:\n%s" % (line, stderr)
    assert any(re.search(reason, msg, re.I) for _, ln, msg in found if int(ln) == line), \
        "message does not match /%s/:\n%s" % (reason, stderr)


CONF_ERRORS = [
    ("service-outside-zones",
     """services = (
  { name = "www.elsewhere.test"; pools = ( { region = "r1"; members = [ "192.0.2.1" ]; } ); }
);""", '"www.elsewhere.test"', r"outside every zone"),
    ("pool-unknown-region",
     """services = (
  { name = "www.geo.test";
    pools = ( { region = "r1"; members = [ "192.0.2.1" ]; },
              { region = "nowhere"; members = [ "192.0.2.2" ]; } ); }
);""", '"nowhere"', r"unknown region.*nowhere"),
    ("route-unknown-country",
     """services = (
  { name = "www.geo.test";
    route = ( { match = "country:PL"; regions = [ "r2" ]; },
              { match = "country:XX"; regions = [ "r1" ]; } );
    pools = ( { region = "r1"; members = [ "192.0.2.1" ]; },
              { region = "r2"; members = [ "192.0.2.2" ]; } ); }
);""", "country:XX", r"XX"),
    ("route-unknown-continent",
     """services = (
  { name = "www.geo.test";
    route = ( { match = "continent:XY"; regions = [ "r1" ]; } );
    pools = ( { region = "r1"; members = [ "192.0.2.1" ]; } ); }
);""", "continent:XY", r"XY"),
    ("route-bad-kind",
     """services = (
  { name = "www.geo.test";
    route = ( { match = "city:Warsaw"; regions = [ "r1" ]; } );
    pools = ( { region = "r1"; members = [ "192.0.2.1" ]; } ); }
);""", "city:Warsaw", r"city"),
    ("route-bad-net",
     """services = (
  { name = "www.geo.test";
    route = ( { match = "net:10.0.0.0/33"; regions = [ "r1" ]; } );
    pools = ( { region = "r1"; members = [ "192.0.2.1" ]; } ); }
);""", "net:10.0.0.0/33", r"10\.0\.0\.0/33|prefix"),
    ("route-bad-subdivision",
     """services = (
  { name = "www.geo.test";
    route = ( { match = "subdivision:PL14"; regions = [ "r1" ]; } );
    pools = ( { region = "r1"; members = [ "192.0.2.1" ]; } ); }
);""", "subdivision:PL14", r"PL14"),
    ("route-unknown-region",
     """services = (
  { name = "www.geo.test";
    route = ( { match = "country:PL"; regions = [ "r1", "mars" ]; } );
    pools = ( { region = "r1"; members = [ "192.0.2.1" ]; } ); }
);""", '"mars"', r"unknown region.*mars"),
]


@pytest.mark.parametrize("label,body,needle,reason", CONF_ERRORS,
                         ids=[c[0] for c in CONF_ERRORS])
def test_check_config_errors(tmp_path, label, body, needle, reason):
    conf = mini_config(tmp_path, TWO_REGIONS + body + "\n")
    r = run_gslbd(["-t", "-c", conf])
    assert r.returncode == 1, "%s: exit %d:\n%s" % (label, r.returncode, r.stderr)
    check_error_at(r.stderr, conf, line_of(conf, needle), reason)


OVERRIDE_ERRORS = [
    ("prefix-too-long", "10.0.0.0/33 r1", r"33|prefix"),
    ("host-bits", "10.0.0.1/8 r1", r"host bits|10\.0\.0\.1"),
    ("not-an-address", "ten.0.0.0/8 r1", r"ten|address|CIDR"),
    ("missing-regions", "10.0.0.0/8", r"missing|region|location"),
    ("one-number", "10.0.0.0/8 52.2", r"LATITUDE LONGITUDE|location"),
    ("latitude-range", "10.0.0.0/8 95.0 20.0", r"latitude"),
    ("longitude-range", "10.0.0.0/8 45.0 200.0", r"longitude"),
    ("v6-prefix-too-long", "2001:db8::/129 r1", r"129|prefix"),
    ("duplicate", "192.0.2.0/24 r2", r"duplicate"),
    ("bad-region-char", "10.0.0.0/8 r1;r2", r"character|region"),
]


@pytest.mark.parametrize("label,line,reason", OVERRIDE_ERRORS,
                         ids=[c[0] for c in OVERRIDE_ERRORS])
def test_check_overrides_bad_line(tmp_path, label, line, reason):
    nets = "# overrides\n192.0.2.0/24 r1\n%s\n198.51.100.0/24 r2\n" % line
    conf = mini_config(tmp_path, TWO_REGIONS, overrides=nets)
    r = run_gslbd(["-t", "-c", conf])
    assert r.returncode == 1, "%s: exit %d:\n%s" % (label, r.returncode, r.stderr)
    check_error_at(r.stderr, str(tmp_path / "overrides.nets"), 3, reason)


def test_check_overrides_unknown_region(tmp_path):
    nets = "# overrides\n192.0.2.0/24 r1\n10.0.0.0/8 r2,mars\n"
    conf = mini_config(tmp_path, TWO_REGIONS, overrides=nets)
    r = run_gslbd(["-t", "-c", conf])
    assert r.returncode == 1, r.stderr
    check_error_at(r.stderr, str(tmp_path / "overrides.nets"), 3, r'unknown region.*mars')


def test_check_good_geo_config(geo):
    r = run_gslbd(["-t", "-c", geo.config_path])
    assert r.returncode == 0, r.stderr
    # every region has a pool, every route can match
    assert not re.search(r"warn.*(never|no region|no pool)", r.stderr, re.I), r.stderr


def test_check_warns_region_without_pool(tmp_path):
    body = TWO_REGIONS.replace(");", '  ,{ name = "lonely"; lat = 0.0; lon = 0.0; }\n);') + """
services = ( { name = "www.geo.test";
    pools = ( { region = "r1"; members = [ "192.0.2.1" ]; },
              { region = "r2"; members = [ "192.0.2.2" ]; } ); } );
"""
    conf = mini_config(tmp_path, body)
    r = run_gslbd(["-t", "-c", conf])
    assert r.returncode == 0, r.stderr
    warn = [l for l in r.stderr.splitlines() if "lonely" in l]
    assert warn and re.search(r"warn", warn[0], re.I), r.stderr
    assert not any("region=r1" in l or "region=r2" in l for l in r.stderr.splitlines()), r.stderr


@pytest.mark.parametrize("earlier,later,shadowed", [
    ("country:PL", "subdivision:PL-14", True),
    ("country:PL", "country:pl", True),
    ("continent:EU", "continent:EU", True),
    ("net:10.0.0.0/8", "net:10.1.0.0/16", True),
    ("net:2001:db8::/32", "net:2001:db8:1::/48", True),
    ("subdivision:PL-14", "country:PL", False),
    ("net:10.1.0.0/16", "net:10.0.0.0/8", False),
    ("net:10.0.0.0/8", "net:11.0.0.0/8", False),
    ("country:DE", "country:PL", False),
])
def test_check_warns_route_never_matching(tmp_path, earlier, later, shadowed):
    body = TWO_REGIONS + """services = (
  { name = "www.geo.test";
    route = ( { match = "%s"; regions = [ "r1" ]; },
              { match = "%s"; regions = [ "r2" ]; } );
    pools = ( { region = "r1"; members = [ "192.0.2.1" ]; },
              { region = "r2"; members = [ "192.0.2.2" ]; } ); }
);
""" % (earlier, later)
    conf = mini_config(tmp_path, body)
    r = run_gslbd(["-t", "-c", conf])
    assert r.returncode == 0, r.stderr
    warn = [l for l in r.stderr.splitlines() if "never match" in l]
    if shadowed:
        assert len(warn) == 1, r.stderr
        assert later in warn[0] and re.search(r"warn", warn[0], re.I), warn
        assert "line=%d" % line_of(conf, '"%s"' % later) in warn[0], warn
    else:
        assert not warn, r.stderr


def test_check_warns_route_without_pooled_region(tmp_path):
    body = TWO_REGIONS.replace(");", '  ,{ name = "r3"; lat = 0.0; lon = 0.0; }\n);') + """
services = (
  { name = "www.geo.test";
    route = ( { match = "country:PL"; regions = [ "r3" ]; } );
    pools = ( { region = "r1"; members = [ "192.0.2.1" ]; },
              { region = "r2"; members = [ "192.0.2.2" ]; } ); },
  { name = "other.geo.test";
    pools = ( { region = "r3"; members = [ "192.0.2.3" ]; } ); }
);
"""
    conf = mini_config(tmp_path, body)
    r = run_gslbd(["-t", "-c", conf])
    assert r.returncode == 0, r.stderr
    warn = [l for l in r.stderr.splitlines() if "country:PL" in l and "no region" in l]
    assert len(warn) == 1 and re.search(r"warn", warn[0], re.I), r.stderr
    assert "line=%d" % line_of(conf, '"country:PL"') in warn[0], warn


# ---------------------------------------------------------------- reload

class Prober(threading.Thread):
    """Sends NAME A with one ECS subnet at a steady rate over UDP and records
    (time, sorted addresses) for each reply; a query without a NOERROR reply
    holding addresses within 1 s is a failure."""

    def __init__(self, srv, subnet, name="www.geo.test", interval=0.01):
        super().__init__(daemon=True)
        self.srv, self.subnet, self.name, self.interval = srv, subnet, name, interval
        self.results = []
        self.failures = []
        self.stop_event = threading.Event()

    def run(self):
        q = make_query(self.name, "A", edns=0, options=[ecs_option(self.subnet)])
        while not self.stop_event.is_set():
            t = time.monotonic()
            try:
                wire = self.srv.exchange(q.to_wire(), "udp4", timeout=1.0)
                if wire is None:
                    self.failures.append((t, "timeout"))
                else:
                    r = dns.message.from_wire(wire)
                    got = tuple(addrs(r))
                    if r.rcode() != dns.rcode.NOERROR or not got:
                        self.failures.append((t, r.to_text()))
                    else:
                        self.results.append((t, got))
            except Exception as e:  # noqa: BLE001 - any error is a failed query
                self.failures.append((t, repr(e)))
            left = self.interval - (time.monotonic() - t)
            if left > 0:
                time.sleep(left)

    def regions_since(self, t0, t1=None):
        return {www_region(a) for t, a in self.results if t > t0 and (t1 is None or t < t1)}

    def wait_for(self, pred, timeout):
        """Time of the first reply after now for which pred(addresses) holds."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            for t, a in reversed(self.results):
                if t < t0:
                    break
                if pred(a):
                    return t
            time.sleep(0.05)
        return None

    def wait_region(self, region, timeout):
        return self.wait_for(lambda a: www_region(a) == region, timeout)

    def finish(self):
        self.stop_event.set()
        self.join(10)
        assert not self.is_alive()


def replace_atomically(path, data):
    tmp = path + ".tmp-new"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


@pytest.mark.parametrize("compact", [False, True], ids=["exact", "compact"])
def test_database_reload_during_queries(tmp_path, geo_dbs, geo_factory, compact):
    """The database is replaced on disk (temp file, rename) while a thread
    queries at 100/s: no query fails, and within a few seconds (the files
    are polled every 2 s) 83.0.0.0/11 moves from Warsaw to Sao Paulo. With
    geoip.compact the new database's class table is built before the swap."""
    datadir = make_datadir(tmp_path / "data", geo_dbs, overrides=False)
    srv = geo_factory(geo_config(datadir, overrides=None, compact=compact))
    db = os.path.join(datadir, "geo.mmdb")
    p = Prober(srv, "83.20.0.0/24")
    p.start()
    try:
        assert p.wait_region("eu-east", 5), p.results[-5:]
        time.sleep(1.0)
        with open(geo_dbs["moved"], "rb") as f:
            t_swap = time.monotonic()
            replace_atomically(db, f.read())
        t_switch = p.wait_region("sa-east", 10)
        assert t_switch is not None, "answers still %s 10 s after the swap:\n%s" % (
            p.regions_since(t_swap), srv.stderr_text()[-2000:])
        assert t_switch - t_swap < 8
        time.sleep(1.5)
    finally:
        p.finish()
    assert not p.failures, "%d failed queries, first: %r" % (len(p.failures), p.failures[:3])
    assert p.regions_since(t_switch) == {"sa-east"}, "flapping after the switch"
    assert p.regions_since(0, t_swap) == {"eu-east"}
    # the queries really ran through the swap
    assert sum(1 for t, a in p.results if t < t_swap) > 50
    assert sum(1 for t, a in p.results if t > t_switch) > 50
    assert re.search(r"reloaded what=data-files", srv.stderr_text()), srv.stderr_text()[-2000:]
    if compact:
        # built at start and again for the new database
        assert len(re.findall(r"geoip compact table", srv.stderr_text())) >= 2


def test_garbage_database_keeps_old_data(tmp_path, geo_dbs, geo_factory):
    datadir = make_datadir(tmp_path / "data", geo_dbs, overrides=False)
    srv = geo_factory(geo_config(datadir, overrides=None))
    db = os.path.join(datadir, "geo.mmdb")
    p = Prober(srv, "83.20.0.0/24")
    p.start()
    try:
        assert p.wait_region("eu-east", 5)
        mark = len(srv.stderr_text())
        t_swap = time.monotonic()
        replace_atomically(db, b"this is not a MaxMind database\n" * 100)
        srv.wait_log(r"reload failed", 10, mark)
        time.sleep(1.0)
        # a truncated copy of a real database is no better
        with open(geo_dbs["moved"], "rb") as f:
            head = f.read()[:200]
        mark2 = len(srv.stderr_text())
        replace_atomically(db, head)
        srv.wait_log(r"reload failed", 10, mark2)
        time.sleep(1.0)
    finally:
        p.finish()
    assert not p.failures, "%d failed queries, first: %r" % (len(p.failures), p.failures[:3])
    assert p.regions_since(t_swap) == {"eu-east"}
    assert srv.alive()


def ask_many_subnets(srv, n=200):
    """n queries with ECS subnets never asked before (no cache answers
    them): every one must be answered."""
    bad = []
    for i in range(n):
        subnet = "%d.%d.%d.0/24" % (1 + i % 200, (i * 7) % 256, (i * 13 + int(time.monotonic()
                                                                             * 1000)) % 256)
        wire = srv.exchange(make_query("www.geo.test", "A", edns=0,
                                       options=[ecs_option(subnet)]).to_wire(), "udp4",
                            timeout=1.0)
        if wire is None or dns.message.from_wire(wire).rcode() != dns.rcode.NOERROR:
            bad.append((subnet, wire))
    return bad


def serving_eu_east(tmp_path, geo_dbs, geo_factory, compact=False):
    """gslbd on the city database, a Prober for 83.20.0.0/24 seeing eu-east:
    (srv, database path, the moved database's bytes, prober)."""
    datadir = make_datadir(tmp_path / "data", geo_dbs, overrides=False)
    srv = geo_factory(geo_config(datadir, overrides=None, compact=compact))
    with open(geo_dbs["moved"], "rb") as f:
        new = f.read()
    p = Prober(srv, "83.20.0.0/24")
    p.start()
    if not p.wait_region("eu-east", 5):
        p.finish()
        pytest.fail("not eu-east: %r" % p.results[-5:])
    return srv, os.path.join(datadir, "geo.mmdb"), new, p


@pytest.mark.parametrize("compact", [False, True], ids=["exact", "compact"])
def test_database_truncated_and_rewritten_in_place(tmp_path, geo_dbs, geo_factory, compact):
    """The database file truncated in place and then written again in place
    (what cp new old does, here slowly): gslbd answers throughout from the
    data it loaded (a private copy), refuses the empty and the half-written
    file, and loads the new one once it is complete."""
    srv, db, new, p = serving_eu_east(tmp_path, geo_dbs, geo_factory, compact)
    try:
        mark = len(srv.stderr_text())
        t_cut = time.monotonic()
        os.truncate(db, 0)
        assert ask_many_subnets(srv) == []
        srv.wait_log(r"reload failed", 10, mark)
        assert ask_many_subnets(srv) == []
        # cp: the file grows from empty; half of it stays there for longer
        # than the watcher's poll interval
        mark = len(srv.stderr_text())
        with open(db, "r+b") as f:
            f.write(new[:len(new) // 2])
            f.flush()
            time.sleep(4.5)
            assert ask_many_subnets(srv) == []
            assert p.regions_since(t_cut) == {"eu-east"}, "a half-written file was loaded"
            f.write(new[len(new) // 2:])
        t_done = time.monotonic()
        assert p.wait_region("sa-east", 10), srv.stderr_text()[mark:]
        assert ask_many_subnets(srv) == []
    finally:
        p.finish()
    assert srv.alive(), srv.stderr_text()[-2000:]
    assert not p.failures, "%d failed queries, first: %r" % (len(p.failures), p.failures[:3])
    assert p.regions_since(t_cut, t_done) == {"eu-east"}


def test_database_rewritten_in_place_slowly_waits(tmp_path, geo_dbs, geo_factory):
    """The new database written over the old one in place (rsync --inplace)
    a few bytes at a time: until the file has stopped changing gslbd does
    not read it (a mix of both is no database), then it loads it whole."""
    srv, db, new, p = serving_eu_east(tmp_path, geo_dbs, geo_factory)
    assert len(new) < os.path.getsize(db)
    try:
        mark = len(srv.stderr_text())
        t0 = time.monotonic()
        with open(db, "r+b") as f:
            for off in range(0, 320, 16):
                f.seek(off)
                f.write(new[off:off + 16])
                f.flush()
                time.sleep(0.2)
            f.seek(320)
            f.write(new[320:])
            f.truncate(len(new))
        t1 = time.monotonic()
        during = srv.stderr_text()[mark:]
        assert not re.search(r"reload", during), "read while being written:\n" + during
        assert p.wait_region("sa-east", 10), srv.stderr_text()[mark:]
    finally:
        p.finish()
    assert not p.failures, "%d failed queries, first: %r" % (len(p.failures), p.failures[:3])
    assert p.regions_since(t0, t1) == {"eu-east"}


def test_database_removed_then_recreated(tmp_path, geo_dbs, geo_factory):
    """rm then cp, as an operator might: the loaded data stays while the file
    is missing, and the new file is picked up once it is back."""
    datadir = make_datadir(tmp_path / "data", geo_dbs, overrides=False)
    srv = geo_factory(geo_config(datadir, overrides=None))
    db = os.path.join(datadir, "geo.mmdb")
    p = Prober(srv, "83.20.0.0/24")
    p.start()
    try:
        assert p.wait_region("eu-east", 5)
        t_rm = time.monotonic()
        os.unlink(db)
        time.sleep(4.5)
        assert p.regions_since(t_rm) == {"eu-east"}
        shutil.copy(geo_dbs["moved"], db)
        assert p.wait_region("sa-east", 10), srv.stderr_text()[-2000:]
    finally:
        p.finish()
    assert not p.failures, "%d failed queries, first: %r" % (len(p.failures), p.failures[:3])


def test_overrides_file_reload(tmp_path, geo_dbs, geo_factory):
    datadir = make_datadir(tmp_path / "data", geo_dbs)
    srv = geo_factory(geo_config(datadir))
    r = ask(srv, "www.geo.test", "A", ecs="83.20.0.0/24")
    assert www_region(addrs(r)) == "eu-east"
    with open(OVERRIDES_SRC) as f:
        nets = f.read()
    replace_atomically(os.path.join(datadir, "overrides.nets"),
                       (nets + "83.16.0.0/12 ap-northeast\n").encode())
    deadline = time.monotonic() + 10
    region = None
    while time.monotonic() < deadline:
        r = ask(srv, "www.geo.test", "A", ecs="83.20.0.0/24")
        region = www_region(addrs(r))
        if region == "ap-northeast":
            break
        time.sleep(0.2)
    assert region == "ap-northeast", srv.stderr_text()[-2000:]
    assert reply_ecs(r)[0][2] == 12
    # a bad overrides line: kept the previous overrides
    mark = len(srv.stderr_text())
    replace_atomically(os.path.join(datadir, "overrides.nets"),
                       (nets + "83.16.0.0/12 ap-northeast\n10.0.0.0/40 us-east\n").encode())
    srv.wait_log(r"reload failed", 10, mark)
    assert re.search(r"overrides\.nets:%d" % (nets.count("\n") + 2), srv.stderr_text()[mark:])
    r = ask(srv, "www.geo.test", "A", ecs="83.20.0.0/24")
    assert www_region(addrs(r)) == "ap-northeast"


def test_sighup_broken_config_keeps_serving(tmp_path, geo_dbs, geo_factory):
    datadir = make_datadir(tmp_path / "data", geo_dbs)
    srv = geo_factory(geo_config(datadir))
    before = addrs(ask(srv, "www.geo.test", "A", ecs="83.20.0.0/24"))
    good = open(srv.config_path).read()
    for broken in (good.replace('name = "www.geo.test";', 'name = = "www.geo.test";'),
                   good.replace('[ "us-west", "us-east" ]', '[ "us-west", "nowhere" ]'),
                   good.replace('"country:US"', '"country:XX"'),
                   good.replace('overrides = "overrides.nets";', 'overrides = "missing.nets";')):
        assert broken != good
        with open(srv.config_path, "w") as f:
            f.write(broken)
        mark = len(srv.stderr_text())
        srv.proc.send_signal(signal.SIGHUP)
        srv.wait_log(r"reload failed", 10, mark)
        for t in ("udp4", "tcp6"):
            assert addrs(ask(srv, "www.geo.test", "A", ecs="83.20.0.0/24", transport=t)) == before
            assert addrs(ask(srv, "routed.geo.test", "A", ecs="83.20.0.0/24", transport=t)) \
                == ["198.19.2.1"]
    assert srv.alive()


def test_sighup_changed_config_switches(tmp_path, geo_dbs, geo_factory):
    datadir = make_datadir(tmp_path / "data", geo_dbs)
    srv = geo_factory(geo_config(datadir))
    r = ask(srv, "www.geo.test", "A", ecs="83.20.0.0/24")
    assert www_region(addrs(r)) == "eu-east"
    pools = dict(WWW_POOLS)
    pools["eu-east"] = (["198.18.33.1"], ["fd00:33::1"])
    text = open(srv.config_path).read()
    new = text.replace(services_text(), services_text(pools)).replace(
        '{ match = "country:PL";          regions = [ "us-west", "us-east" ]; }',
        '{ match = "country:PL";          regions = [ "sa-east" ]; }')
    assert new.count("198.18.33.1") == 1 and '[ "sa-east" ]' in new
    p = Prober(srv, "83.20.0.0/24")
    p.start()
    try:
        assert p.wait_region("eu-east", 5)
        with open(srv.config_path, "w") as f:
            f.write(new)
        mark = len(srv.stderr_text())
        t_hup = time.monotonic()
        srv.proc.send_signal(signal.SIGHUP)
        t_new = p.wait_for(lambda a: a == ("198.18.33.1",), 10)
        assert t_new is not None, srv.stderr_text()[mark:]
        time.sleep(0.5)
    finally:
        p.finish()
    assert not p.failures, "%d failed queries, first: %r" % (len(p.failures), p.failures[:3])
    assert {a for t, a in p.results if t > t_new} == {("198.18.33.1",)}
    assert {a for t, a in p.results if t > t_hup} <= {("198.18.33.1",),
                                                        ("198.18.3.1", "198.18.3.2")}
    assert addrs(ask(srv, "www.geo.test", "AAAA", ecs="83.20.0.0/24"), "AAAA") == ["fd00:33::1"]
    assert addrs(ask(srv, "routed.geo.test", "A", ecs="83.20.0.0/24")) == ["198.19.7.1"]
    assert re.search(r"reloaded what=config", srv.stderr_text()[mark:])
