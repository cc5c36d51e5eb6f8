"""Steering beyond "nearest" (issue 15), end to end with real queries:

- region `bias`: a line of /24 networks from Warsaw to Frankfurt, in a
  database built at test time; each network gets the region of the least
  biased distance (distance x (1 - bias/100)), computed here with an
  independent haversine, over DNS with ECS, with geoip.compact off and on;
  the Poland/Germany boundary moves by as many networks as computed;
  `--explain` shows each region's bias and biased distance;
- `members_pick = "sticky"`: 400 client /24s, each answered one member on
  every query (1,000 queries for some), about a quarter each, ECS scope
  /24; a member forced down moves its own subnets and no others; explain
  names the hashed subnet and each member's rank.

Only 127.0.0.1 and ::1 are used; the daemons pick their own ports.
"""

import json
import os
import time

import pytest

import gslbtest
from gslbtest import build_mmdb
from test_geo import ZONE, addrs, ask, explain, haversine

WARSAW = (52.23, 21.01)
FRANKFURT = (50.11, 8.68)
STEPS = 40  # networks on the line, 10.0.<i>.0/24


def line_points():
    """(network, lat, lon) at even steps from Warsaw to Frankfurt."""
    out = []
    for i in range(STEPS + 1):
        t = i / STEPS
        lat = WARSAW[0] + (FRANKFURT[0] - WARSAW[0]) * t
        lon = WARSAW[1] + (FRANKFURT[1] - WARSAW[1]) * t
        out.append(("10.0.%d.0/24" % i, round(lat, 4), round(lon, 4)))
    return out


@pytest.fixture(scope="module")
def line_db(tmp_path_factory):
    d = tmp_path_factory.mktemp("steer-db")
    src = d / "line.json"
    records = [{"network": n, "country": "PL" if lon > 14.5 else "DE", "continent": "EU",
                "lat": lat, "lon": lon} for n, lat, lon in line_points()]
    src.write_text(json.dumps(records))
    return build_mmdb(src, d / "line.mmdb")


def bias_config(workdir, db, bias_east, compact):
    regions = ('regions = ( { name = "eu-east"; lat = %.2f; lon = %.2f; bias = %d; },\n'
               '            { name = "eu-central"; lat = %.2f; lon = %.2f; } );\n'
               % (WARSAW + (bias_east,) + FRANKFURT))
    services = ('services = ( { name = "bias.geo.test"; ttl = 30;\n'
                '  pools = ( { region = "eu-east"; members = [ "198.18.3.1" ]; },\n'
                '            { region = "eu-central"; members = [ "198.18.9.1" ]; } ); } );\n')
    extra = 'geoip = { database = "%s"; compact = %s; };\n%s%s' % (
        db, "true" if compact else "false", regions, services)
    return gslbtest.gslbd_config(workdir, zones=[ZONE], nsid=None, identity=None,
                                 version=None, extra=extra)


def expected_region(lat, lon, bias_east):
    east = haversine(lat, lon, *WARSAW) * (1 - bias_east / 100.0)
    central = haversine(lat, lon, *FRANKFURT)
    return "eu-east" if east <= central else "eu-central"


MEMBER = {"eu-east": ["198.18.3.1"], "eu-central": ["198.18.9.1"]}


@pytest.fixture
def start(tmp_path_factory, line_db):
    started = []

    def run(bias_east, compact):
        wd = tmp_path_factory.mktemp("steer")
        srv = gslbtest.start_gslbd(wd, config_text=bias_config(str(wd), line_db, bias_east,
                                                               compact))
        started.append(srv)
        return srv

    yield run
    gslbtest.stop_checked(*started)


@pytest.mark.parametrize("compact", [False, True])
def test_bias_moves_boundary(start, compact):
    plain = start(0, compact)
    biased = start(20, compact)
    moved = 0
    problems = []
    for net, lat, lon in line_points():
        for srv, bias in ((plain, 0), (biased, 20)):
            want = expected_region(lat, lon, bias)
            got = addrs(ask(srv, "bias.geo.test", ecs=net))
            if got != MEMBER[want]:
                problems.append("bias %d, %s (%.2f, %.2f): %s, expected %s"
                                % (bias, net, lat, lon, got, want))
        if expected_region(lat, lon, 0) != expected_region(lat, lon, 20):
            moved += 1
    assert not problems, "\n".join(problems)
    # bias 20 on Warsaw: the boundary moves west from half way to where
    # 0.8 t = 1 - t, t = 0.556: the networks at 21/40 and 22/40
    assert moved == 2, moved


def test_bias_explain(start):
    srv = start(20, False)
    ex = explain(srv.config_path, "10.0.21.0/24", "bias.geo.test")
    regions = {r["region"]: r for r in ex["regions"]}
    east, central = regions["eu-east"], regions["eu-central"]
    assert east["bias"] == 20, east
    assert abs(east["biased_km"] - east["distance_km"] * 0.8) <= 1, east
    assert "bias" not in central and "biased_km" not in central, central
    # just past half way: nearer Frankfurt, but goes to Warsaw by its bias
    assert east["distance_km"] > central["distance_km"]
    assert ex["chosen"] == "eu-east" and ex["regions"][0]["region"] == "eu-east"
    text = explain(srv.config_path, "10.0.21.0/24", "bias.geo.test", as_json=False)
    assert "(bias 20: %d km)" % east["biased_km"] in text, text


# ---------------------------------------------------------------- sticky members

STICKY = ["198.18.5.%d" % i for i in range(1, 5)]


def sticky_config(workdir, db):
    regions = 'regions = ( { name = "eu-east"; lat = %.2f; lon = %.2f; } );\n' % WARSAW
    services = ('services = ( { name = "sticky.geo.test"; ttl = 30; answers = 1;\n'
                '  members_pick = "sticky";\n'
                '  pools = ( { region = "eu-east"; members = [ %s ]; } ); } );\n'
                % ", ".join('"%s"' % a for a in STICKY))
    extra = 'geoip = { database = "%s"; };\n%s%s' % (db, regions, services)
    return gslbtest.gslbd_config(workdir, zones=[ZONE], nsid=None, identity=None,
                                 version=None, extra=extra, admin="127.0.0.1:0", workers=1)


def sticky_answers(srv, subnets):
    out = {}
    for net in subnets:
        r = ask(srv, "sticky.geo.test", ecs=net)
        got = addrs(r)
        assert len(got) == 1, (net, got)
        opt = [o for o in r.options if o.otype == 8]
        assert opt and opt[0].scopelen == 24, (net, opt)  # the hashed /24
        out[net] = got[0]
    return out


def test_sticky_members(tmp_path_factory, line_db):
    wd = tmp_path_factory.mktemp("sticky")
    srv = gslbtest.start_gslbd(wd, config_text=sticky_config(str(wd), line_db))
    try:
        subnets = ["100.%d.%d.0/24" % (i // 200, i % 200) for i in range(400)]
        before = sticky_answers(srv, subnets)
        # one member per subnet, whatever the number of queries
        for net in subnets[:3]:
            seen = {addrs(ask(srv, "sticky.geo.test", ecs=net))[0] for _ in range(1000)}
            assert seen == {before[net]}, (net, seen)
        assert sticky_answers(srv, subnets) == before
        share = {a: sum(1 for v in before.values() if v == a) for a in STICKY}
        assert all(60 <= n <= 140 for n in share.values()), share
        # a member down moves its own subnets, and no others
        down = STICKY[3]
        r = gslbtest.ctl(srv, "force-down", "member:sticky.geo.test/eu-east/%s" % down)
        assert r.returncode == 0, r.stderr
        deadline = time.monotonic() + 10
        while True:
            after = sticky_answers(srv, subnets)
            if down not in after.values() or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert down not in after.values()
        moved = [n for n in subnets if after[n] != before[n]]
        assert all(before[n] == down for n in moved), [
            (n, before[n], after[n]) for n in moved if before[n] != down]
        assert len(moved) == share[down]
        # explain names the hashed subnet and the member it answers first
        ex = explain(srv.config_path, subnets[0], "sticky.geo.test")
        ans = ex["answer"]
        assert ans["members_pick"] == "sticky" and ans["hash_subnet"] == subnets[0], ans
        first = [m["address"] for m in ans["A"] if m["sticky_rank"] == 1]
        assert first == [before[subnets[0]]], ans
    finally:
        gslbtest.stop_checked(srv)
