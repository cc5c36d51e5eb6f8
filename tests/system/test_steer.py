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
  names the hashed subnet and each member's rank;
- `split` route rules: 10,000 client /24s divided 90/10 within 2 points,
  the same on repeated queries; a split region down sends its clients (and
  no others) to their next region; 90/10 -> 80/20 moves only eu-east
  clients, about a tenth; explain gives the bucket; the HTTP redirect
  listener sends each client where DNS does.

Only 127.0.0.1 and ::1 are used; the daemons pick their own ports.
"""

import json
import os
import re
import time

import pytest

import gslbtest
from gslbtest import build_mmdb, run_gslbd
from test_geo import ZONE, addrs, ask, explain, haversine
from test_http import get, http_ports

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
    return admin_config(workdir, db, regions, services)


def admin_config(workdir, db, regions, services):
    extra = 'geoip = { database = "%s"; };\n%s%s' % (db, regions, services)
    return gslbtest.gslbd_config(workdir, zones=[ZONE], nsid=None, identity=None,
                                 version=None, extra=extra, admin="127.0.0.1:0", workers=1)


def one_answers(srv, name, subnets):
    """{subnet: the one address answered}; every ECS scope at least /24 (the
    hashed subnet)."""
    out = {}
    for net in subnets:
        r = ask(srv, name, ecs=net)
        got = addrs(r)
        assert len(got) == 1, (net, got)
        opt = [o for o in r.options if o.otype == 8]
        assert opt and opt[0].scopelen >= 24, (net, opt)
        out[net] = got[0]
    return out


def sticky_answers(srv, subnets):
    return one_answers(srv, "sticky.geo.test", subnets)


def test_sticky_members(tmp_path_factory, line_db):
    wd = tmp_path_factory.mktemp("sticky")
    srv = gslbtest.start_gslbd(wd, config_text=sticky_config(str(wd), line_db))
    try:
        subnets = ["100.%d.%d.0/24" % (i // 200, i % 200) for i in range(400)]
        before = sticky_answers(srv, subnets)
        # one region for every client: scope /24 all the same (the hashed subnet)
        opt = [o for o in ask(srv, "sticky.geo.test", ecs=subnets[0]).options if o.otype == 8]
        assert opt[0].scopelen == 24, opt
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
        # /status and gslbctl status carry members_pick and each region's bias
        st = gslbtest.admin_json(srv, "/status")
        svc = next(x for x in st["services"] if x["name"].rstrip(".") == "sticky.geo.test")
        assert svc["members_pick"] == "sticky", svc
        assert [r["bias"] for r in st["regions"]] == [0], st["regions"]
        r = gslbtest.ctl(srv, "status", check=True)
        assert re.search(r"^service sticky\.geo\.test\.?  ttl=30  when_all_down=\S+  "
                         r"members_pick=sticky$", r.stdout, re.M), r.stdout
        assert re.search(r"^REGION\s+ADMIN\s+LAT\s+LON\s+BIAS$", r.stdout, re.M), r.stdout
        # the text form says as much: the subnet hashed, the ranks, the member
        text = explain(srv.config_path, subnets[0], "sticky.geo.test", as_json=False)
        assert "members:   sticky to the client subnet %s (hash_subnet): A " % subnets[0] \
            in text, text
        assert "%s (sticky_rank 1, the client gets it)" % before[subnets[0]] in text, text
        assert text.count("the client gets it") == 1 and "(sticky_rank 2)" in text, text
    finally:
        gslbtest.stop_checked(srv)


# ---------------------------------------------------------------- split route rules

SPLIT_MEMBERS = {"eu-east": "198.18.6.1", "eu-central": "198.18.6.2", "us-east": "198.18.6.3"}


def split_config(workdir, db, east=90, central=10):
    regions = ('regions = ( { name = "eu-east"; lat = %.2f; lon = %.2f; },\n'
               '            { name = "eu-central"; lat = %.2f; lon = %.2f; },\n'
               '            { name = "us-east"; lat = 39.04; lon = -77.49; } );\n'
               % (WARSAW + FRANKFURT))
    services = ('services = ( { name = "split.geo.test"; ttl = 30;\n'
                '  default = [ "us-east", "eu-east", "eu-central" ];\n'
                '  route = ( { match = "net:100.64.0.0/10";\n'
                '    split = ( { region = "eu-east"; weight = %d; },\n'
                '              { region = "eu-central"; weight = %d; } ); } );\n'
                '  pools = ( %s ); } );\n'
                % (east, central, ", ".join('{ region = "%s"; members = [ "%s" ]; }' % kv
                                            for kv in SPLIT_MEMBERS.items())))
    return admin_config(workdir, db, regions, services)


def split_answers(srv, subnets):
    by_addr = {v: k for k, v in SPLIT_MEMBERS.items()}
    return {n: by_addr[a] for n, a in one_answers(srv, "split.geo.test", subnets).items()}


def test_split_route(tmp_path_factory, line_db):
    wd = tmp_path_factory.mktemp("split")
    srv = gslbtest.start_gslbd(wd, config_text=split_config(str(wd), line_db))
    try:
        subnets = ["100.%d.%d.0/24" % (64 + i // 256, i % 256) for i in range(10000)]
        before = split_answers(srv, subnets)
        east = sum(1 for v in before.values() if v == "eu-east")
        assert 8800 <= east <= 9200, east  # 90% +- 2 points
        assert set(before.values()) == {"eu-east", "eu-central"}
        # the split's answers per region, counted under its rule (the first)
        m = srv.metrics()
        key = 'gslb_split_answers_total{service="split.geo.test",region="%s",rule="1"}'
        assert m.get(key % "eu-east") == east, m
        assert m.get(key % "eu-central") == 10000 - east, m
        assert m.get('gslb_service_answers_total{service="split.geo.test",region="eu-east"}') \
            == east
        assert split_answers(srv, subnets[:500]) == {n: before[n] for n in subnets[:500]}
        # eu-central down: its clients go to their next region (the
        # default order's us-east), and no other client moves
        r = gslbtest.ctl(srv, "force-down", "region:eu-central")
        assert r.returncode == 0, r.stderr
        deadline = time.monotonic() + 10
        sample = [n for n in subnets if before[n] == "eu-central"][:20]
        while time.monotonic() < deadline:
            if all(v == "us-east" for v in split_answers(srv, sample).values()):
                break
            time.sleep(0.1)
        after = split_answers(srv, subnets)
        wrong = [(n, before[n], after[n]) for n in subnets
                 if after[n] != ("us-east" if before[n] == "eu-central" else before[n])]
        assert not wrong, wrong[:10]
        # explain: the bucket and the region it gives
        net = sample[0]
        ex = explain(srv.config_path, net, "split.geo.test")
        sp = ex["rule"]["split"]
        assert sp["region"] == "eu-central" and sp["ring"] == 10000, sp
        assert 9000 <= sp["bucket"] < 10000, sp
        assert [r["region"] for r in ex["regions"]] == ["eu-central", "us-east", "eu-east"]
    finally:
        gslbtest.stop_checked(srv)


def test_split_small_step_moves_only_what_it_must(tmp_path_factory, line_db):
    """90/10, then 80/20 (the weights of the config): only eu-east clients move,
    to eu-central, about 10% of all (a fixed ring, not modulo)."""
    subnets = ["100.%d.%d.0/24" % (64 + i // 256, i % 256) for i in range(3000)]
    answers = []
    for east, central in ((90, 10), (80, 20)):
        wd = tmp_path_factory.mktemp("split-step")
        srv = gslbtest.start_gslbd(wd, config_text=split_config(str(wd), line_db, east,
                                                                central))
        try:
            answers.append(split_answers(srv, subnets))
        finally:
            gslbtest.stop_checked(srv)
    moved = [n for n in subnets if answers[0][n] != answers[1][n]]
    assert all(answers[0][n] == "eu-east" and answers[1][n] == "eu-central" for n in moved)
    assert 210 <= len(moved) <= 390, len(moved)


@pytest.mark.parametrize("route,message", [
    ('{ match = "net:100.64.0.0/10"; }', "no regions given"),
    ('{ match = "net:100.64.0.0/10"; regions = [ "eu-east" ];'
     ' split = ( { region = "eu-east"; } ); }', "regions or split, not both"),
    ('{ match = "net:100.64.0.0/10"; split = ( { region = "eu-east"; weight = 0; } ); }',
     "every weight of the split is 0"),
    ('{ match = "net:100.64.0.0/10"; split = ( { region = "nowhere"; } ); }',
     'unknown region "nowhere"'),
    ('{ match = "net:100.64.0.0/10"; split = ( { region = "eu-east"; },'
     ' { region = "eu-east"; } ); }', 'region "eu-east" is listed twice'),
])
def test_split_config_errors(tmp_path, line_db, route, message):
    text = split_config(str(tmp_path), line_db).replace(
        'route = ( { match = "net:100.64.0.0/10";\n', 'route = ( %s, { match = "net:10.0.0.0/8";\n'
        % route, 1)
    conf = tmp_path / "gslb.conf"
    conf.write_text(text)
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, r.stderr
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "100.64.0.0/10" in t)
    assert re.search(r"gslb\.conf:%d: .*%s" % (line, re.escape(message)), r.stderr), r.stderr


def test_split_http_redirect_follows_dns(tmp_path_factory, line_db):
    """The redirect listener sends each client (X-Forwarded-For from a
    trusted proxy) to the region DNS answers for its subnet."""
    wd = tmp_path_factory.mktemp("split-http")
    text = split_config(str(wd), line_db).replace(
        '  pools = (', '  redirect = { target = "http://{region}.example.com"; };\n  pools = (', 1)
    text = text.replace("listen = { dns = [", 'listen = { http = ( "127.0.0.1:0" ); dns = [', 1)
    text += 'trusted_proxies = [ "127.0.0.1/32" ];\n'
    srv = gslbtest.start_gslbd(wd, config_text=text)
    try:
        srv.http = http_ports(srv)
        subnets = ["100.%d.%d.0/24" % (64 + i // 256, i % 256) for i in range(300)]
        dns_region = split_answers(srv, subnets)
        assert set(dns_region.values()) == {"eu-east", "eu-central"}
        wrong = []
        for net in subnets:
            client = net.replace(".0/24", ".7")
            r = get(srv, "/x", client, host="split.geo.test")
            want = "http://%s.example.com/x" % dns_region[net]
            if r.status != 302 or r.h("Location") != want:
                wrong.append((client, r.status, r.h("Location"), want))
        assert not wrong, wrong[:5]
    finally:
        gslbtest.stop_checked(srv)


def check_report(tmp_path, db, text):
    """gslbd -t --json of a config with the database db and text."""
    conf = tmp_path / "gslb.conf"
    conf.write_text(gslbtest.gslbd_config(str(tmp_path), zones=[ZONE], nsid=None,
                                          identity=None, version=None,
                                          extra='geoip = { database = "%s"; };\n%s'
                                          % (db, text)))
    r = run_gslbd(["-t", "--json", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_split_shares_in_check_report(tmp_path, line_db):
    """gslbd -t: two services alike but for their split weights get their
    own region shares (what-if's per-service pictures tell them apart)."""
    regions = ('regions = ( { name = "eu-east"; lat = %.2f; lon = %.2f; },\n'
               '            { name = "eu-central"; lat = %.2f; lon = %.2f; } );\n'
               % (WARSAW + FRANKFURT))
    svc = ('{ name = "%s.geo.test"; route = ( { match = "net:10.0.0.0/16";\n'
           '    split = ( { region = "eu-east"; weight = %d; },\n'
           '              { region = "eu-central"; weight = %d; } ); } );\n'
           '  pools = ( { region = "eu-east"; members = [ "198.18.3.1" ]; },\n'
           '            { region = "eu-central"; members = [ "198.18.9.1" ]; } ); }')
    services = "services = ( %s,\n %s );\n" % (svc % ("a", 90, 10), svc % ("b", 10, 90))
    report = check_report(tmp_path, line_db, regions + services)
    east = {}
    for s in report["services"]:
        east[s["service"]] = sum(row["before"]["share4"] for row in s["regions"]
                                 if row["region"] == "eu-east")
    assert east["a.geo.test"] > 2 * east["b.geo.test"], east


def test_bias_gains_in_check_report(tmp_path, line_db):
    """gslbd -t: a region with a bias says what it gains and loses against
    bias 0: with bias 20 on eu-east, the networks of the line that move
    from eu-central (all in Germany), as many as computed; nothing lost."""
    conf = tmp_path / "gslb.conf"
    conf.write_text(bias_config(str(tmp_path), line_db, 20, False))
    r = run_gslbd(["-t", "--json", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    svc = next(s for s in json.loads(r.stdout)["services"] if s["service"] == "bias.geo.test")
    rows = {row["region"]: row for row in svc["regions"]}
    assert "bias" not in rows["eu-central"]
    bias = rows["eu-east"]["bias"]
    moved = [n for n, lat, lon in line_points()
             if expected_region(lat, lon, 20) == "eu-east" and
             expected_region(lat, lon, 0) == "eu-central"]
    assert moved
    assert bias["bias"] == 20
    assert abs(bias["gains"]["share4"] - len(moved) / len(line_points())) < 1e-9, bias
    assert [c["country"] for c in bias["gains"]["countries"]] == ["DE"], bias
    assert bias["loses"]["share4"] == 0 and bias["loses"]["countries"] == [], bias
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert re.search(r"bias 20 on eu-east, against bias 0:\n    gains [0-9.]+% IPv4, 0\.0% IPv6, "
                     r"1 country: DE;\n    loses 0\.0% IPv4, 0\.0% IPv6, 0 countries", r.stdout), \
        r.stdout


def test_split_lint(tmp_path, line_db):
    """-t warns of a split region the service has no pool in, and of a
    hash prefix of 0 under a split (every client in one bucket)."""
    text = split_config(str(tmp_path), line_db).replace(
        '{ region = "eu-central"; weight = 10; } );',
        '{ region = "eu-central"; weight = 10; }, { region = "nopool"; weight = 5; } );', 1)
    text = text.replace('{ name = "us-east";',
                        '{ name = "nopool"; lat = 1.0; lon = 1.0; },\n { name = "us-east";', 1)
    conf = tmp_path / "gslb.conf"
    conf.write_text(text)
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert re.search(r"split names a region where the service has no pool: its share goes to "
                     r"the clients' next region service=split\.geo\.test\S* "
                     r"match=net:100\.64\.0\.0/10 region=nopool share=4\.8% line=\d+", r.stderr), \
        r.stderr
    assert "hash_prefix" not in r.stderr, r.stderr
    conf.write_text(text.replace('ttl = 30;', 'ttl = 30; hash_prefix_v4 = 0;', 1))
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert "split with hash_prefix_v4 = 0: every IPv4 client is in one bucket and goes to " \
        "one region service=split.geo.test" in r.stderr, r.stderr
    assert "hash_prefix_v6" not in r.stderr, r.stderr  # a net: rule of IPv4 only


@pytest.mark.parametrize("weights", [(50, 50), (99, 1), (90, 10), (1000, 10)])
def test_split_shares_exact_in_check_report(tmp_path, line_db, weights):
    """gslbd -t: a split's shares are its weights applied to the address
    space the rule matches (the ring is exact), not a sample of 16 subnets
    per country: a rule that takes every network of the database gives
    each region exactly its weight's share, however small."""
    regions = ('regions = ( { name = "eu-east"; lat = %.2f; lon = %.2f; },\n'
               '            { name = "eu-central"; lat = %.2f; lon = %.2f; } );\n'
               % (WARSAW + FRANKFURT))
    services = ('services = ( { name = "x.geo.test"; route = ( { match = "continent:EU";\n'
                '    split = ( { region = "eu-east"; weight = %d; },\n'
                '              { region = "eu-central"; weight = %d; } ); } );\n'
                '  pools = ( { region = "eu-east"; members = [ "198.18.3.1" ]; },\n'
                '            { region = "eu-central"; members = [ "198.18.9.1" ]; } ); } );\n'
                % weights)
    svc = check_report(tmp_path, line_db, regions + services)["services"][0]
    share = {row["region"]: row["before"]["share4"] for row in svc["regions"]}
    east = round(weights[0] / sum(weights) * 10000) / 10000  # the ring's 10,000 buckets
    assert abs(share["eu-east"] - east) < 1e-9, share
    assert abs(share["eu-central"] - (1 - east)) < 1e-9, share
    assert svc["never"] == [], svc
