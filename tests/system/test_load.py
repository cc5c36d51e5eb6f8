"""Load shedding (pools[].load, issue 15), end to end: a real gslbd probes
a local HTTP server that reports a load figure, and real DNS queries with
ECS from 2,000 client /24s show the share of clients sent on:

- load 0.85 (low 0.8, high 0.95): a third of eu-east's clients go to their
  next region (eu-central), the same ones on every query;
- 0.9: two thirds, a superset of the third moved before (a client stays
  put while the figure holds, and a growing share moves only new ones);
- 0.97: the pool is full, up but taking no clients: every client goes on;
- 0.5: nothing is shed, every client is back.

The HTTP redirect listener sends each client where DNS does;
/status, /explain and /metrics show the figure, the share and the state
at each step; the figure is read from a JSON body, a header and a bare
number; bad `load` settings are refused with file:line.

Only 127.0.0.1 is used; the daemon picks its own ports.
"""

import json
import re

import pytest

import gslbtest
from gslbtest import HttpBackend, addrs, admin_json, admin_request, ask, run_gslbd
from test_geo import ZONE
from test_http import get, http_ports
from test_steer import line_db  # noqa: F401 (a fixture)

EAST, CENTRAL = "198.18.3.1", "198.18.9.1"
SUBNETS = ["100.%d.%d.0/24" % (64 + i // 256, i % 256) for i in range(2000)]
NAME = "load.geo.test"


def load_config(workdir, url, load='from = "body-json:load"; low = 0.8; high = 0.95;',
                check_extra=""):
    text = """state_dir = "%(wd)s";
checks = ( { name = "web"; type = "http"; interval = 0.2; timeout = 0.15; rise = 1; fall = 2;
             %(check_extra)s } );
regions = ( { name = "eu-east"; lat = 52.23; lon = 21.01; },
            { name = "eu-central"; lat = 50.11; lon = 8.68; } );
services = ( { name = "%(name)s"; ttl = 30;
  redirect = { target = "http://{region}.example.com"; };
  route = ( { match = "net:100.64.0.0/10"; regions = [ "eu-east", "eu-central" ]; } );
  pools = ( { region = "eu-east"; check = "web";
              members = ( { address = "%(east)s"; target = "%(url)s"; } );
              load = { %(load)s }; },
            { region = "eu-central"; members = [ "%(central)s" ]; } ); } );
""" % {"wd": workdir, "name": NAME, "east": EAST, "central": CENTRAL, "url": url,
       "load": load, "check_extra": check_extra}
    text += 'trusted_proxies = [ "127.0.0.1/32" ];\n'
    conf = gslbtest.gslbd_config(workdir, zones=[ZONE], nsid=None, identity=None,
                                 version=None, extra=text, admin="127.0.0.1:0", workers=1)
    return conf.replace("listen = { dns = [", 'listen = { http = ( "127.0.0.1:0" ); dns = [', 1)


def pool_status(srv):
    st = admin_json(srv, "/status")
    svc = next(s for s in st["services"] if s["name"] == NAME)
    return next(p for p in svc["pools"] if p["region"] == "eu-east")


def wait_load(srv, figure):
    """Until the pool's smoothed figure is `figure` (every reading in the
    window the same)."""
    def settled():
        p = pool_status(srv)
        settled.last = p.get("load")
        return p.get("load") is not None and abs(p["load"] - figure) < 1e-4
    settled.last = None
    gslbtest.wait_for("pool load %.2f" % figure, settled, 15, [srv])


def moved(srv, subnets=SUBNETS):
    """The subnets answered eu-central (passed over by eu-east)."""
    out = set()
    for net in subnets:
        got = addrs(ask(srv, NAME, ecs=net))
        assert got in (frozenset([EAST]), frozenset([CENTRAL])), (net, got)
        if got == frozenset([CENTRAL]):
            out.add(net)
    return out


def metric(srv, name):
    st, _, body = admin_request(srv, "GET", "/metrics")
    assert st == 200
    m = re.search(r'^%s\{service="%s",region="eu-east"\} (\S+)$' % (name, re.escape(NAME)),
                  body, re.M)
    return float(m.group(1)) if m else None


@pytest.fixture(scope="module")
def backend():
    b = HttpBackend(body=b'{"load": 0.85}\n')
    yield b
    b.close()


def test_load_shedding_shares(tmp_path_factory, backend):
    wd = tmp_path_factory.mktemp("load")
    srv = gslbtest.start_gslbd(wd, config_text=load_config(str(wd), backend.url("/load")))
    try:
        # 0.85: a third shed
        backend.body = b'{"load": 0.85}\n'
        wait_load(srv, 0.85)
        third = moved(srv)
        assert 0.30 * len(SUBNETS) <= len(third) <= 0.37 * len(SUBNETS), len(third)
        assert moved(srv, SUBNETS[:300]) == third & set(SUBNETS[:300])
        p = pool_status(srv)
        assert p["state"] == "up" and abs(p["shed_share"] - 1 / 3) < 1e-3, p
        assert abs(p["members"][0]["load"] - 0.85) < 1e-4, p
        assert abs(metric(srv, "gslb_pool_shed_share") - 1 / 3) < 1e-3
        assert abs(metric(srv, "gslb_pool_load") - 0.85) < 1e-4
        assert metric(srv, "gslb_pool_full") == 0
        # explain names the figure, the share and whether the client moved
        net = sorted(third)[0]
        ex = admin_json(srv, "/explain?address=%s&name=%s" % (net, NAME))
        assert ex["chosen"] == "eu-central", ex
        assert ex["load_shedding"]["moved"] is True and ex["load_shedding"]["draw"] < 1 / 3
        east = ex["regions"][0]
        assert east["region"] == "eu-east" and east["state"].startswith("skipped: load"), east
        assert abs(east["load"] - 0.85) < 1e-4 and abs(east["shed_share"] - 1 / 3) < 1e-3
        stay = next(n for n in SUBNETS if n not in third)
        ex = admin_json(srv, "/explain?address=%s&name=%s" % (stay, NAME))
        assert ex["chosen"] == "eu-east" and ex["load_shedding"]["moved"] is False, ex
        assert ex["load_shedding"]["draw"] >= 1 / 3, ex
        r = gslbtest.ctl(srv, "explain", stay, NAME, check=True)
        assert "not moved (draw at or above every share shed)" in r.stdout, r.stdout
        # ECS scope: the answer depends on the /24
        r = ask(srv, NAME, ecs=net)
        assert [o.scopelen for o in r.options if o.otype == 8] == [24]
        # the HTTP redirect listener sends each client where DNS does
        srv.http = http_ports(srv)
        for n in SUBNETS[:200]:
            want = "eu-central" if n in third else "eu-east"
            r = get(srv, "/x", n.replace(".0/24", ".9"), host=NAME)
            assert (r.status, r.h("Location")) == (302, "http://%s.example.com/x" % want), n

        # 0.9: two thirds, and everyone moved at 0.85 still moved
        backend.body = b'{"load": 0.9}\n'
        wait_load(srv, 0.9)
        two = moved(srv)
        assert 0.63 * len(SUBNETS) <= len(two) <= 0.70 * len(SUBNETS), len(two)
        assert third <= two

        # 0.97: full, up but taking no clients
        backend.body = b'{"load": 0.97}\n'
        wait_load(srv, 0.97)
        assert moved(srv) == set(SUBNETS)
        p = pool_status(srv)
        assert p["up"] is True and p["state"] == "full" and p["shed_share"] == 1, p
        assert metric(srv, "gslb_pool_full") == 1
        r = gslbtest.ctl(srv, "status", check=True)
        assert "pool eu-east: full" in r.stdout and "load=0.970  shed_share=1.000" in r.stdout, \
            r.stdout
        # each member's figure in its own column
        assert re.search(r"^\s+MEMBER\s+STATE\s+ADMIN\s+USABLE\s+WEIGHT\s+LOAD\s+SINCE",
                         r.stdout, re.M), r.stdout
        assert re.search(r"^\s+%s\s+up\s+none\s+yes\s+1\s+0\.970\s" % re.escape(EAST),
                         r.stdout, re.M), r.stdout
        r = gslbtest.ctl(srv, "explain", stay, NAME, check=True)
        assert "skipped: pool full" in r.stdout and "(load 0.970, shedding 100%)" in r.stdout, \
            r.stdout
        assert "load:      moved past a full region" in r.stdout, r.stdout
        ex = admin_json(srv, "/explain?address=%s&name=%s" % (stay, NAME))
        assert ex["regions"][0]["pool"] == "full", ex
        assert ex["regions"][0]["state"].startswith("skipped: pool full"), ex
        # eu-central out too: the client is kept on eu-east, and explain says so
        gslbtest.ctl(srv, "force-down", "pool:%s/eu-central" % NAME, check=True)
        r = gslbtest.ctl(srv, "explain", stay, NAME, check=True)
        assert "load:      not moved: every region that could take the client is full or " \
            "sheds it, so the first of them, eu-east, answers (taken although loaded)" \
            in r.stdout, r.stdout
        assert "moved past" not in r.stdout, r.stdout
        ex = admin_json(srv, "/explain?address=%s&name=%s" % (stay, NAME))
        assert ex["chosen"] == "eu-east" and ex["load_shedding"]["moved"] is False, ex
        assert ex["load_shedding"]["taken_although_loaded"] is True, ex
        gslbtest.ctl(srv, "clear", "pool:%s/eu-central" % NAME, check=True)

        # 0.5: nothing shed, every client back
        backend.body = b'{"load": 0.5}\n'
        wait_load(srv, 0.5)
        assert moved(srv) == set()
        p = pool_status(srv)
        assert p["state"] == "up" and p["shed_share"] == 0, p
        assert metric(srv, "gslb_pool_full") == 0
        assert metric(srv, "gslb_pool_shed_share") == 0
        log = srv.stderr_text()
        assert "pool load state changed" in log and "new=full" in log, log[-2000:]
    finally:
        backend.body = b'{"load": 0.85}\n'
        gslbtest.stop_checked(srv)


@pytest.mark.parametrize("load,body", [
    ('from = "body-number"; low = 0.2; high = 0.6;', b" 0.4\n"),
    ('from = "body-json:stats.load"; low = 0.2; high = 0.6;', b'{"stats": {"load": 0.4}}'),
])
def test_load_figure_forms(tmp_path_factory, load, body):
    """The figure from a bare number and a nested JSON key: 0.4 between 0.2
    and 0.6 sheds half."""
    b = HttpBackend(body=body)
    wd = tmp_path_factory.mktemp("load-form")
    srv = gslbtest.start_gslbd(wd, config_text=load_config(str(wd), b.url("/l"), load))
    try:
        wait_load(srv, 0.4)
        assert abs(pool_status(srv)["shed_share"] - 0.5) < 1e-3
        n = len(moved(srv, SUBNETS[:600]))
        assert 240 <= n <= 360, n
    finally:
        gslbtest.stop_checked(srv)
        b.close()


def test_load_from_header(tmp_path_factory):
    """from = "header:X-Load": the figure is a response header's value; a
    response without it gives no reading (the reason says so)."""
    b = HttpBackend(body=b"ok\n")
    b.headers = {"X-Load": "0.97"}
    wd = tmp_path_factory.mktemp("load-header")
    srv = gslbtest.start_gslbd(wd, config_text=load_config(
        str(wd), b.url("/h"), 'from = "header:x-load"; low = 0.8; high = 0.95;'))
    try:
        wait_load(srv, 0.97)
        assert pool_status(srv)["state"] == "full"
        assert moved(srv, SUBNETS[:50]) == set(SUBNETS[:50])
    finally:
        gslbtest.stop_checked(srv)
        b.close()


@pytest.mark.parametrize("load,check_extra,message", [
    ('from = "body-json:"; ', "", 'expected "body-json:KEY", "header:NAME" or "body-number"'),
    ('from = "cpu"; ', "", 'expected "body-json:KEY"'),
    ('from = "body-number"; low = 0.9; high = 0.5;', "", "low (0.9) must be below high (0.5)"),
    ('from = "body-number"; high = 1.5;', "", "high: 1.5 is out of range"),
    ('low = 0.5;', "", "no from given"),
    ('from = "body-number";', 'method = "HEAD";', "a load in the body needs GET"),
])
def test_load_config_errors(tmp_path, load, check_extra, message):
    gslbtest.refused_at(tmp_path, load_config(str(tmp_path), "http://127.0.0.1:9/", load,
                                              check_extra), "load = {", message)


def test_load_needs_http_check(tmp_path):
    conf = tmp_path / "gslb.conf"
    text = load_config(str(tmp_path), "http://127.0.0.1:9/").replace(
        'type = "http";', 'type = "tcp"; port = 9;')
    conf.write_text(text)
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, r.stderr
    assert "an http or https check: the pool's check web is a tcp check" in r.stderr, r.stderr
    assert "gslb.conf:" in r.stderr, r.stderr
    conf.write_text(text.replace('check = "web";', '', 1))
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1 and "the pool has no check" in r.stderr, r.stderr


def test_load_in_whatif(tmp_path_factory, line_db):  # noqa: F811
    """What-if (GET /what-if, gslbctl what-if) shows each loaded pool's
    figure, shed share and state, with the shares after shedding."""
    b = HttpBackend(body=b'{"load": 0.85}\n')
    wd = tmp_path_factory.mktemp("load-whatif")
    text = load_config(str(wd), b.url("/w")).replace(
        "regions = (", 'geoip = { database = "%s"; };\nregions = (' % line_db, 1)
    srv = gslbtest.start_gslbd(wd, config_text=text)
    try:
        wait_load(srv, 0.85)
        j = admin_json(srv, "/what-if")
        svc = next(s for s in j["services"] if s["service"] == NAME)
        rows = {r["region"]: r for r in svc["regions"]}
        load = rows["eu-east"]["load"]
        assert abs(load["figure"] - 0.85) < 1e-4 and abs(load["shed_share"] - 1 / 3) < 1e-3
        assert load["state"] == "up" and "load" not in rows["eu-central"], rows
        r = gslbtest.ctl(srv, "what-if", "drain eu-central", check=True)
        assert "load on eu-east: 0.850, up, shedding 33% of its clients to their next region" \
            in r.stdout, r.stdout
        # "up" is force-up: a pool forced up sheds nothing, as in the decision
        for action in ("up", "force-up"):
            r = gslbtest.ctl(srv, "what-if", "%s pool:%s/eu-east" % (action, NAME), check=True)
            assert "no change" not in r.stdout, r.stdout
            assert "; after: forced up, takes its clients whatever the load" in r.stdout, r.stdout
        st, _, body = admin_request(srv, "GET", "/what-if?change=up+pool:%s/eu-east" % NAME)
        svc = next(s for s in json.loads(body)["services"] if s["service"] == NAME)
        east = next(r for r in svc["regions"] if r["region"] == "eu-east")
        assert east["after"]["load"]["forced_up"] is True, east
        # exact shares: shedding a third leaves eu-east two thirds of what it
        # takes when forced up (a share of the draws, not a sample of subnets)
        assert abs(east["before"]["share4"] - east["after"]["share4"] * 2 / 3) < 1e-6, east
    finally:
        gslbtest.stop_checked(srv)
        b.close()


def test_load_figure_expires(tmp_path_factory):
    """A figure never outlives the responses that carried it: a response
    without one, the member going down, and a reload that reads it from
    elsewhere each end a member's readings; a pool with none sheds
    nothing. The log names the pool's states as /status does."""
    b = HttpBackend(body=b'{"load": 0.9}\n', hang_seconds=8.0)
    wd = tmp_path_factory.mktemp("load-expire")
    srv = gslbtest.start_gslbd(wd, config_text=load_config(str(wd), b.url("/e")))
    try:
        wait_load(srv, 0.9)
        # responses without a figure: no reading, nothing shed
        b.body = b'{"busy": 1}\n'
        gslbtest.wait_for("no load figure", lambda: pool_status(srv).get("load") is None,
                          15, [srv])
        p = pool_status(srv)
        assert p["state"] == "up" and p["shed_share"] == 0, p
        assert p["members"][0].get("load") is None, p
        assert moved(srv, SUBNETS[:100]) == set()
        # an outage: a member down has no reading left to count after it;
        # the log names the pool's states as /status does (full, down, up)
        b.body = b'{"load": 0.97}\n'
        wait_load(srv, 0.97)
        b.fail()
        gslbtest.wait_for("member down",
                          lambda: pool_status(srv)["members"][0]["state"] == "down", 15, [srv])
        assert pool_status(srv)["members"][0].get("load") is None, pool_status(srv)
        log = srv.stderr_text()
        assert re.search(r"pool state changed service=%s region=eu-east old=full new=down"
                         % re.escape(NAME), log), log[-3000:]
        assert "old=full new=up" not in log, log[-3000:]
        # a reload that changes `from` does not keep the old readings: the
        # backend hangs past the new timeout, so no probe ends meanwhile
        b.ok()
        b.body = b'{"load": 0.9, "other": 0.1}\n'
        wait_load(srv, 0.9)
        assert re.search(r"pool state changed service=%s region=eu-east old=down new=up"
                         % re.escape(NAME), srv.stderr_text())
        b.hang = True
        text = load_config(str(wd), b.url("/e"),
                           'from = "body-json:other"; low = 0.8; high = 0.95;')
        text = text.replace("interval = 0.2; timeout = 0.15;", "interval = 7; timeout = 6;")
        with open(srv.config_path, "w") as f:
            f.write(text)
        st, _, body = admin_request(srv, "POST", "/reload", {"X-Gslb-Admin": "1"})
        assert st == 200, body
        p = pool_status(srv)
        assert p.get("load") is None and p["shed_share"] == 0, p
        assert p["members"][0].get("load") is None, p
    finally:
        b.hang = False
        gslbtest.stop_checked(srv)
        b.close()
