"""The evaluating config check and what-if (issue 6 "Config check that
evaluates, and what-if"):

- `gslbd -t` prints, per service, the regions that receive traffic with
  their countries and share of the database's IPv4 and IPv6 address space,
  and the regions that never do; it warns about services without a default
  order for unknown locations; `-t --json` gives the same as JSON;
- `gslbd --what-if "down R"`, `drain`, `up`, pool and member targets, several
  changes at once (in one option or repeated): where the clients of each
  affected region go, before and after;
- errors: unknown region, action, service; exit 1;
- `GET /what-if` and `gslbctl what-if` agree with the CLI, and use the live
  health state (a region drained through the API counts as drained).

The database is built from tests/data/geoip/whatif.json, and the expected
regions and shares are computed here from that JSON alone: networks (more
specific ones carved out of the ones containing them), great-circle
distances, route rules, defaults and when_all_down, as docs/configuration.md
describes them. Only 127.0.0.1 is used; daemons pick their own ports.
"""

import functools
import ipaddress
import json
import math
import os
import re
import time

import pytest

import gslbtest
from gslbtest import DATADIR, SRCDIR, build_mmdb, run_gslbd

SOURCE = os.path.join(DATADIR, "geoip", "whatif.json")
ZONE = ("geo.test", "geo.test.zone")

# config order matters: unknown locations without a default use it
REGIONS = [
    ("us-east", 39.04, -77.49),
    ("us-west", 37.37, -121.92),
    ("eu-central", 50.11, 8.68),
    ("eu-east", 52.23, 21.01),
    ("ap-southeast", 1.35, 103.82),
    ("sa-east", -23.55, -46.63),
    ("pacific", -17.53, -149.57),   # nothing in the database is nearest to it
]
REGION_NAMES = [r[0] for r in REGIONS]
COORDS = {r[0]: (r[1], r[2]) for r in REGIONS}

# name -> policy; pools are listed in this order in the config
SERVICES = {
    "www.geo.test": {
        "pools": REGION_NAMES,
        "default": ["us-east", "eu-central"],
        "routes": [("PL", ["eu-east", "eu-central"])],
        "when_all_down": "fail-open",
    },
    "nodefault.geo.test": {
        "pools": ["us-east", "eu-east"],
        "default": None,
        "routes": [],
        "when_all_down": "nodata",
    },
    "single.geo.test": {
        "pools": ["ap-southeast"],
        "default": None,
        "routes": [],
        "when_all_down": "fail-open",
    },
}


def members(service, region):
    """Two members in www's eu-central (for member targets), one elsewhere."""
    s = list(SERVICES).index(service)
    r = REGION_NAMES.index(region)
    n = 2 if (service, region) == ("www.geo.test", "eu-central") else 1
    return ["198.18.%d.%d" % (s * 10 + r, i + 1) for i in range(n)]


def services_text():
    out = []
    for name, svc in SERVICES.items():
        parts = ['name = "%s"; ttl = 30;' % name,
                 'when_all_down = "%s";' % svc["when_all_down"]]
        if svc["default"]:
            parts.append("default = [ %s ];" % ", ".join('"%s"' % r for r in svc["default"]))
        if svc["routes"]:
            parts.append("route = ( %s );" % ", ".join(
                '{ match = "country:%s"; regions = [ %s ]; }'
                % (cc, ", ".join('"%s"' % r for r in regions)) for cc, regions in svc["routes"]))
        pools = ", ".join('{ region = "%s"; members = [ %s ]; }'
                          % (r, ", ".join('"%s"' % a for a in members(name, r)))
                          for r in svc["pools"])
        parts.append("pools = ( %s );" % pools)
        out.append("  { %s }" % "\n    ".join(parts))
    return "services = (\n%s\n);\n" % ",\n".join(out)


def config_text(workdir, database="whatif.mmdb", admin=None):
    regions = "regions = (\n%s\n);\n" % ",\n".join(
        '  { name = "%s"; lat = %s; lon = %s; }' % r for r in REGIONS)
    geo = 'geoip = { database = "%s"; };\n' % database if database else ""
    return gslbtest.gslbd_config(workdir, zones=[ZONE], nsid=None, identity=None, version=None,
                                 workers=1, admin=admin,
                                 extra=geo + regions + services_text())


# ---------------------------------------------------------------- the model

def haversine(a, b):
    (lat1, lon1), (lat2, lon2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl, dp = math.radians(lon2 - lon1), math.radians(lat2 - lat1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def load_source():
    """[(network, entry, exclusive address count)], more specific networks
    carved out of the ones that contain them, as a search tree stores them."""
    with open(SOURCE) as f:
        entries = [e for e in json.load(f) if "network" in e]
    nets = [(ipaddress.ip_network(e["network"]), e) for e in entries]
    out = []
    for n, e in nets:
        inner = [m for m, _ in nets if m != n and m.version == n.version and m.subnet_of(n)]
        # only the outermost of the nested ones count
        top = [m for m in inner if not any(k != m and m.subnet_of(k) for k in inner)]
        out.append((n, e, n.num_addresses - sum(m.num_addresses for m in top)))
    return out


def region_order(svc, e):
    cc = e.get("country")
    for rcc, regions in svc["routes"]:
        if cc == rcc:
            return list(regions)
    if "lat" in e:
        here = (e["lat"], e["lon"])
        # stable sort: ties keep pool order
        return sorted(svc["pools"], key=lambda r: haversine(here, COORDS[r]))
    if svc["default"]:
        return list(svc["default"])
    return list(REGION_NAMES)


def choose(svc, order, down):
    """(region or None, fail_open). down: regions whose pool is down; a
    leading "~" marks one an admin drained or forced down, which failing
    open does not bring back (a plain name is down by its probes)."""
    drained = {r[1:] for r in down if r.startswith("~")}
    out = {r.lstrip("~") for r in down}
    pooled = [r for r in order if r in svc["pools"]]
    for r in pooled:
        if r not in out:
            return r, False
    if svc["when_all_down"] == "fail-open":
        for r in pooled:
            if r not in drained:
                return r, True
    return None, False


def expected(service, down=()):
    """Per network: (family, country, space, region, fail_open)."""
    svc = SERVICES[service]
    out = []
    for n, e, space in load_source():
        region, fo = choose(svc, region_order(svc, e), set(down))
        out.append((n.version, e.get("country", "??"), space, region, fo))
    return out


def tree_networks(version):
    """How many networks a search tree holds: each source network less the
    more specific ones inside it, in CIDR blocks."""
    src = [n for n, _, _ in load_source() if n.version == version]
    count = 0
    for n in src:
        pieces = [n]
        for m in src:
            if m == n or not m.subnet_of(n):
                continue
            nxt = []
            for p in pieces:
                nxt += list(p.address_exclude(m)) if m.subnet_of(p) else [p]
            pieces = nxt
        count += len(pieces)
    return count


def totals():
    t = {4: 0, 6: 0}
    for n, _, space in load_source():
        t[n.version] += space
    return t


def shares(rows, pick):
    """{"share4", "share6", "countries": {cc: (s4, s6)}} of the rows pick()
    selects."""
    t = totals()
    s = {4: 0.0, 6: 0.0}
    cc = {}
    for fam, country, space, *_ in rows:
        if not pick(fam, country, space, *_):
            continue
        s[fam] += space / t[fam]
        c = cc.setdefault(country, [0.0, 0.0])
        c[0 if fam == 4 else 1] += space / t[fam]
    return {"share4": s[4], "share6": s[6], "countries": {k: tuple(v) for k, v in cc.items()}}


def json_share(obj):
    return {"share4": obj["share4"], "share6": obj["share6"],
            "countries": {c["country"]: (c["share4"], c["share6"]) for c in obj["countries"]}}


def assert_share(got, want, what):
    assert abs(got["share4"] - want["share4"]) < 1e-9, (what, got, want)
    assert abs(got["share6"] - want["share6"]) < 1e-9, (what, got, want)
    assert set(got["countries"]) == set(want["countries"]), (what, got, want)
    for cc, (s4, s6) in want["countries"].items():
        g4, g6 = got["countries"][cc]
        assert abs(g4 - s4) < 1e-9 and abs(g6 - s6) < 1e-9, (what, cc, got, want)


def find_service(report, name):
    for s in report["services"]:
        if s["service"] == name:
            return s
    raise AssertionError("no service %s in %s" % (name, report))


def check_service(report, name, down_before=(), down_after=None):
    """Compare one service of a report with the model."""
    svc = find_service(report, name)
    before = expected(name, down_before)
    after = expected(name, down_after) if down_after is not None else None
    rows = {r["region"]: r for r in svc["regions"]}
    dests = {b[3] for b in before} | ({a[3] for a in after} if after else set())
    # every region with a pool is listed, plus "no region" when it is used
    assert set(rows) == set(SERVICES[name]["pools"]) | dests, (name, sorted(map(str, rows)))
    for region, row in rows.items():
        assert_share(json_share(row["before"]),
                     shares(before, lambda *x, r=region: x[3] == r), (name, region, "before"))
        if after is not None:
            assert_share(json_share(row["after"]),
                         shares(after, lambda *x, r=region: x[3] == r), (name, region, "after"))
            want_fo = any(a[3] == region and a[4] for a in after)
            assert bool(row["after"].get("fail_open")) == want_fo, (name, region, row)
        if region is None:
            assert row["outcome"] == SERVICES[name]["when_all_down"], row
    never = sorted(r for r in SERVICES[name]["pools"] if not any(b[3] == r for b in before))
    assert sorted(svc["never"]) == never, (name, svc["never"])
    if after is None:
        assert "moves" not in svc
        return svc
    want_moves = {}
    for i, (b, a) in enumerate(zip(before, after)):
        if b[3] != a[3]:
            want_moves.setdefault((b[3], a[3]), []).append(i)
    got_moves = {(m["from"], m["to"]): m for m in svc["moves"]}
    assert set(got_moves) == set(want_moves), (name, sorted(got_moves, key=str),
                                               sorted(want_moves, key=str))
    for key, idx in want_moves.items():
        want = shares([before[i] for i in idx], lambda *x: True)
        assert_share(json_share(got_moves[key]), want, (name, "move", key))
    assert svc["changed"] == bool(want_moves), (name, svc["changed"])
    return svc


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def conf(tmp_path_factory):
    """A config (no listeners started) with the what-if database."""
    d = tmp_path_factory.mktemp("whatif")
    build_mmdb(SOURCE, d / "whatif.mmdb")
    path = d / "gslb.conf"
    path.write_text(config_text(str(d)))
    return str(path)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, conf):
    """A running gslbd with the same config plus an admin listener."""
    d = os.path.dirname(conf)
    srv = gslbtest.start_gslbd(tmp_path_factory.mktemp("whatif-d"),
                               config_text=config_text(d, admin="127.0.0.1:0"))
    srv.admin_address()
    yield srv
    gslbtest.stop_checked(srv)


def whatif_cli(conf, *changes, as_json=True):
    args = ["-c", conf]
    for c in changes:
        args += ["--what-if", c]
    if as_json:
        args.append("--json")
    r = run_gslbd(args)
    return r


def whatif_json(conf, *changes):
    r = whatif_cli(conf, *changes)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def admin_get(srv, path):
    st, _, body = gslbtest.admin_request(srv, "GET", path, timeout=30.0)
    return st, body


ctl = functools.partial(gslbtest.ctl, timeout=60.0)


# ---------------------------------------------------------------- -t

def test_model_sanity():
    # the premises the other tests rest on
    www = expected("www.geo.test")
    assert {r for *_, r, _ in www} >= {"us-east", "us-west", "eu-central", "eu-east",
                                       "ap-southeast", "sa-east"}
    assert "pacific" not in {r for *_, r, _ in www}
    us = [x for x in www if x[1] == "US" and x[0] == 4]
    assert len(us) == 64 and sum(1 for x in us if x[3] == "us-west") == 32
    assert totals()[4] > 0 and totals()[6] > 0


def test_check_prints_regions_and_never(conf):
    r = run_gslbd(["-t", "-c", conf])
    assert r.returncode == 0, r.stderr
    assert re.search(r"gslb\.conf: ok", r.stderr), r.stderr
    out = r.stdout
    blocks = {m.group(1): m.group(2)
              for m in re.finditer(r"^service (\S+)\n((?:  .*\n)*)", out, re.M)}
    assert set(blocks) == set(SERVICES), out
    www = blocks["www.geo.test"]
    rows = {m.group(1): (float(m.group(2)), float(m.group(3)), m.group(4))
            for m in re.finditer(r"^  (\S+)\s+<?([\d.]+)%\s+<?([\d.]+)%\s+(.*)$", www, re.M)}
    before = expected("www.geo.test")
    for region in REGION_NAMES:
        want = shares(before, lambda *x, r=region: x[3] == r)
        if want["share4"] == 0 and want["share6"] == 0:
            assert region not in rows, (region, www)
            continue
        s4, s6, countries = rows[region]
        assert abs(s4 - 100 * want["share4"]) <= 0.051, (region, s4, want)
        assert abs(s6 - 100 * want["share6"]) <= 0.051 or (s6 <= 0.1 and want["share6"] < 0.001), \
            (region, s6, want)
        n = len(want["countries"])
        assert countries.startswith("%d countr" % n), (region, countries)
        assert set(countries.split(":", 1)[1].split()) == set(want["countries"]), \
            (region, countries, want["countries"])
    assert re.search(r"^  never receives traffic: pacific$", www, re.M), www
    # unknown locations follow the default
    assert re.search(r"^  unknown locations \(default\): us-east$", www, re.M), www
    assert re.search(r"unknown locations \(no default, config order\): us-east",
                     blocks["nodefault.geo.test"]), blocks["nodefault.geo.test"]


def test_check_json_shares(conf):
    r = run_gslbd(["-t", "--json", "-c", conf])
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    src = load_source()
    db = report["database"]
    assert (db["networks4"], db["networks6"]) == (tree_networks(4), tree_networks(6)), db
    assert db["countries"] == len({e["country"] for _, e, _ in src if "country" in e}), db
    assert db["space4"] == totals()[4] and db["space6"] == totals()[6], db
    assert report["changes"] == []
    for name in SERVICES:
        svc = check_service(report, name)
        unknown, _ = choose(SERVICES[name], region_order(SERVICES[name], {}), ())
        assert svc["unknown_location"] == {"before": unknown}, svc["unknown_location"]


def test_check_groups_services_with_the_same_traffic(conf, monkeypatch, tmp_path):
    """Services whose regions, rules, default and pool states are the same
    send every client to the same place: -t prints their picture once,
    naming them all; --json still gives every service its full report."""
    for name in ("copy1.geo.test", "copy2.geo.test"):
        monkeypatch.setitem(SERVICES, name, SERVICES["www.geo.test"])
    path = tmp_path / "gslb.conf"
    path.write_text(config_text(str(tmp_path),
                                database=os.path.join(os.path.dirname(conf), "whatif.mmdb")))
    r = run_gslbd(["-t", "-c", str(path)])
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.search(r"^services www\.geo\.test, copy1\.geo\.test, copy2\.geo\.test\n"
                     r"  \(3 services, the same traffic\)$", out, re.M), out
    assert not re.search(r"^service (www|copy1|copy2)\.", out, re.M), out
    assert re.search(r"^service nodefault\.geo\.test$", out, re.M), out
    assert re.search(r"^service single\.geo\.test$", out, re.M), out
    assert len(re.findall(r"^  never receives traffic: pacific$", out, re.M)) == 1, out

    r = run_gslbd(["-t", "--json", "-c", str(path)])
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert [s["service"] for s in report["services"]] == list(SERVICES)
    www = find_service(report, "www.geo.test")
    for name in ("copy1.geo.test", "copy2.geo.test"):
        svc = check_service(report, name)
        assert {k: v for k, v in svc.items() if k != "service"} == \
            {k: v for k, v in www.items() if k != "service"}


def test_check_warns_without_default(conf):
    r = run_gslbd(["-t", "-c", conf])
    assert r.returncode == 0, r.stderr
    warn = [l for l in r.stderr.splitlines() if "no default" in l]
    assert len(warn) == 1, r.stderr
    # a service with a default, and one with a single pool, are fine
    assert "service=nodefault.geo.test" in warn[0] and re.search(r"warn", warn[0], re.I), warn


def test_check_without_database(tmp_path):
    path = tmp_path / "gslb.conf"
    path.write_text(config_text(str(tmp_path), database=None))
    r = run_gslbd(["-t", "-c", str(path)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", r.stdout   # nothing to evaluate
    assert "service=nodefault.geo.test" in r.stderr, r.stderr
    r = run_gslbd(["-c", str(path), "--what-if", "down eu-east"])
    assert r.returncode == 1 and "GeoIP database" in r.stderr, (r.returncode, r.stderr)


def test_check_demo_config():
    conf = os.path.join(SRCDIR, "etc", "gslb.conf")
    r = run_gslbd(["-t", "--json", "-c", conf])
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["database"]["countries"] > 5
    for svc in report["services"]:
        s4 = sum(row["before"]["share4"] for row in svc["regions"])
        s6 = sum(row["before"]["share6"] for row in svc["regions"])
        assert abs(s4 - 1) < 1e-9 and abs(s6 - 1) < 1e-9, svc


# ---------------------------------------------------------------- --what-if

WHATIF_CASES = [
    # (changes, pools down after, per service)
    (["down eu-central"], {"www.geo.test": ["eu-central"]}),
    (["drain eu-east"], {"www.geo.test": ["~eu-east"], "nodefault.geo.test": ["~eu-east"]}),
    # PL's route lists only eu-east and eu-central: both out, fail-open to
    # eu-central (down by its probes), never to the drained eu-east
    (["down eu-central, drain eu-east"],
     {"www.geo.test": ["eu-central", "~eu-east"], "nodefault.geo.test": ["~eu-east"]}),
    (["down eu-central", "drain eu-east"],
     {"www.geo.test": ["eu-central", "~eu-east"], "nodefault.geo.test": ["~eu-east"]}),
    # everything of nodefault down: when_all_down = nodata, no region
    (["down us-east; down region:eu-east"],
     {"www.geo.test": ["us-east", "eu-east"], "nodefault.geo.test": ["us-east", "eu-east"]}),
    (["force-down pool:www.geo.test/eu-central"], {"www.geo.test": ["~eu-central"]}),
    (["down member:www.geo.test/eu-central/198.18.2.1"], {}),   # the other member is up
    (["down member:www.geo.test/eu-central/198.18.2.1, "
      "drain member:WWW.geo.test./eu-central/198.18.2.2"], {"www.geo.test": ["eu-central"]}),
    (["up us-west"], {}),                                        # already up
    (["drain ap-southeast"],
     {"www.geo.test": ["~ap-southeast"], "single.geo.test": ["~ap-southeast"]}),
]


@pytest.mark.parametrize("changes,down", WHATIF_CASES, ids=[" + ".join(c[0]) for c in WHATIF_CASES])
def test_whatif_moves(conf, changes, down):
    report = whatif_json(conf, *changes)
    assert report["changes"], report["changes"]
    for name in SERVICES:
        check_service(report, name, (), down.get(name, []))


def test_whatif_change_list(conf):
    report = whatif_json(conf, "down eu-central, drain eu-east")
    assert report["changes"] == [{"action": "down", "target": "region:eu-central"},
                                 {"action": "drain", "target": "region:eu-east"}]
    # two options say the same as one list
    assert whatif_json(conf, "down eu-central", "drain eu-east") == report
    m = whatif_json(conf, "down member:WWW.Geo.Test/eu-central/198.18.2.1")
    assert m["changes"] == [{"action": "down",
                             "target": "member:www.geo.test/eu-central/198.18.2.1"}]


def test_whatif_text(conf):
    r = whatif_cli(conf, "down eu-central", as_json=False)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("what-if: down region:eu-central\n"), out
    www = re.search(r"^service www\.geo\.test\n((?:  .*\n)*)", out, re.M).group(1)
    assert re.search(r"^  clients of eu-central \(IPv4 <?[\d.]+%, IPv6 <?[\d.]+% before\) "
                     r"would go to:$", www, re.M), www
    moved = {}
    for m in re.finditer(r"^    (\S+)\s+([\d.<]+)%\s+([\d.<]+)%\s+\d+ countr\w+: (.*)$", www, re.M):
        moved[m.group(1)] = set(m.group(4).split())
    want = {}
    for b, a in zip(expected("www.geo.test"), expected("www.geo.test", ["eu-central"])):
        if b[3] != a[3]:
            want.setdefault(a[3], set()).add(a[1])
    assert moved == want, (moved, want, www)
    row = re.search(r"^  eu-central\s+([\d.]+)%\s+(\S+)%\s+0\.0%\s+0\.0%$", www, re.M)
    assert row, www
    # services eu-central has nothing to do with
    assert re.search(r"^service nodefault\.geo\.test: no change$", out, re.M), out
    assert re.search(r"^service single\.geo\.test: no change$", out, re.M), out


@pytest.mark.parametrize("change,needle", [
    ("down eu-nowhere", r'no region "eu-nowhere"'),
    ("down region:eu-nowhere", r'no region "eu-nowhere"'),
    ("explode eu-east", r'unknown action "explode"'),
    ("drain", r"drain what\?"),
    ("down pool:nothing.geo.test/eu-east", r'no service "nothing\.geo\.test"'),
    ("down pool:single.geo.test/eu-east", r"no pool in region"),
    ("down member:www.geo.test/eu-central/192.0.2.99", r"no member"),
    (" , ", r"no change given"),
])
def test_whatif_errors(conf, change, needle):
    r = whatif_cli(conf, change, as_json=False)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert re.search(needle, r.stderr), r.stderr
    assert r.stdout == "", r.stdout


def test_whatif_usage(conf):
    r = run_gslbd(["-t", "-c", conf, "--what-if", "down eu-east"])
    assert r.returncode == 2, r.stderr
    r = run_gslbd(["-c", conf, "--what-if"])
    assert r.returncode == 2, r.stderr


def test_whatif_bigger_database(tmp_path):
    """A generated database of 12000 networks in 300 countries, most of
    them spread over several regions: the report covers the whole address
    space and comes back quickly."""
    rng = __import__("random").Random(6)
    codes = [a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for b in "ABCDEFGHIJKL"][:300]
    src = []
    for i in range(12000):
        src.append({"network": "%d.%d.%d.0/24" % (11 + i // 4096, (i // 16) % 256,
                                                  (i % 16) * 16),
                    "country": rng.choice(codes), "city": "c%d" % i,
                    "lat": round(rng.uniform(-60, 70), 3), "lon": round(rng.uniform(-180, 180), 3)})
    for i in range(2000):
        src.append({"network": "2a%02x:%x::/32" % (i // 256, i % 256),
                    "country": rng.choice(codes), "city": "v%d" % i,
                    "lat": round(rng.uniform(-60, 70), 3), "lon": round(rng.uniform(-180, 180), 3)})
    (tmp_path / "big.json").write_text(json.dumps(src))
    build_mmdb(str(tmp_path / "big.json"), tmp_path / "whatif.mmdb")
    path = tmp_path / "gslb.conf"
    path.write_text(config_text(str(tmp_path)))
    t0 = time.monotonic()
    r = run_gslbd(["-t", "--json", "-c", str(path)])
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert took < 5.0, took
    report = json.loads(r.stdout)
    assert report["database"]["networks4"] == 12000 and report["database"]["networks6"] == 2000
    assert report["database"]["countries"] == len({e["country"] for e in src})
    for svc in report["services"]:
        for fam in ("share4", "share6"):
            assert abs(sum(row["before"][fam] for row in svc["regions"]) - 1) < 1e-9, svc
    r = run_gslbd(["-c", str(path), "--what-if", "down eu-central, down eu-east", "--json"])
    assert r.returncode == 0, r.stderr
    www = find_service(json.loads(r.stdout), "www.geo.test")
    rows = {row["region"]: row for row in www["regions"]}
    # every European sample left; what eu-central and eu-east had moved
    for region in ("eu-central", "eu-east"):
        assert rows[region]["after"]["share4"] == 0 or rows[region]["after"].get("fail_open"), rows
    moved = sum(m["share4"] for m in www["moves"])
    had = rows["eu-central"]["before"]["share4"] + rows["eu-east"]["before"]["share4"]
    # all of it, but PL (route: eu-east, eu-central) which fails open
    assert 0 < moved <= had + 1e-9, (moved, had)


# ---------------------------------------------------------------- admin API, gslbctl

def test_admin_agrees_with_cli(conf, daemon):
    cli = whatif_json(conf, "down eu-central", "drain eu-east")
    st, body = admin_get(daemon, "/what-if?change=down%20eu-central&change=drain%20eu-east")
    assert st == 200, body
    assert json.loads(body) == cli
    st, body = admin_get(daemon, "/what-if?change=down%20eu-central%2C%20drain%20eu-east")
    assert st == 200 and json.loads(body) == cli, body
    # gslbctl prints the CLI's table, and the CLI's JSON with --json
    text = whatif_cli(conf, "down eu-central, drain eu-east", as_json=False).stdout
    r = ctl(daemon, "what-if", "down eu-central", "drain eu-east")
    assert r.returncode == 0, r.stderr
    assert r.stdout == text
    r = ctl(daemon, "--json", "what-if", "down eu-central, drain eu-east")
    assert r.returncode == 0 and json.loads(r.stdout) == cli, r.stderr
    # no change: the live split, as -t sees it
    st, body = admin_get(daemon, "/what-if")
    assert st == 200, body
    check = json.loads(run_gslbd(["-t", "--json", "-c", conf]).stdout)
    assert json.loads(body) == check


def test_admin_errors(daemon):
    st, body = admin_get(daemon, "/what-if?change=down%20eu-nowhere")
    assert st == 400 and 'no region \\"eu-nowhere\\"' in body, (st, body)
    r = ctl(daemon, "what-if", "down eu-nowhere")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert 'no region "eu-nowhere"' in r.stderr and "HTTP 400" in r.stderr, r.stderr


def test_admin_uses_live_state(tmp_path_factory, conf):
    """A region drained through the API is drained in "before", and the
    changes come on top of it."""
    d = os.path.dirname(conf)
    workdir = str(tmp_path_factory.mktemp("whatif-live"))
    srv = gslbtest.Gslbd(workdir, config_text=config_text(d, admin="127.0.0.1:0"))
    try:
        srv.start()
        r = ctl(srv, "drain", "region:eu-east")
        assert r.returncode == 0, r.stderr
        st, body = admin_get(srv, "/what-if?change=down%20eu-central")
        assert st == 200, body
        report = json.loads(body)
        check_service(report, "www.geo.test", ["~eu-east"], ["~eu-east", "eu-central"])
        check_service(report, "nodefault.geo.test", ["~eu-east"], ["~eu-east"])
        # the CLI knows nothing of the daemon's overrides (no state_dir)
        cli = whatif_json(conf, "down eu-central")
        assert cli != report
        r = ctl(srv, "undrain", "region:eu-east")
        assert r.returncode == 0, r.stderr
        st, body = admin_get(srv, "/what-if?change=down%20eu-central")
        assert json.loads(body) == cli
    finally:
        problems = srv.check_stopped_cleanly()
    assert not problems, "\n".join(problems)
