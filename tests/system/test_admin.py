"""The admin listener and gslbctl (issue 4 "Admin overrides" and
"Visibility", issue 6 "Admin listener" and "gslbctl"):

- /healthz, the /status structure, /explain against `gslbd --explain
  --json`, errors (400, 404, 405) as JSON;
- overrides set and cleared through gslbctl, seen in DNS answers (a drained
  region's clients go to the next region, a forced-down member is not
  answered, clear brings both back) and in /status;
- overrides kept in state_dir across a restart;
- control requests refused from a non-loopback peer (when the machine has a
  non-loopback address to test from);
- gslbctl's exit codes: 0 ok, 1 refused by the daemon, 2 usage, 3 not
  reachable, and -c reading listen.admin.

No GeoIP database is configured: every client has an unknown location, so
regions are tried in config order (r1, r2, r3) and the drain of r1 moves
every answer to r2. The daemons pick their own ports; the admin port is read
from the "listening proto=admin" log line.
"""

import json
import os
import socket
import subprocess
import urllib.parse

import pytest

import gslbtest
from gslbtest import GSLBD, ctl, wait_answer

ZONE = ("geo.test", "geo.test.zone")
SERVICE = "www.geo.test"
POOLS = {
    "r1": ["198.18.1.1", "198.18.1.2"],
    "r2": ["198.18.2.1", "198.18.2.2"],
    "r3": ["198.18.3.1"],
}
REGIONS = [("r1", 10.0, 10.0), ("r2", 20.0, 20.0), ("r3", -30.0, 100.0)]
ZONE_SERIAL = 2024060101


def geo_extra():
    regions = ",\n  ".join('{ name = "%s"; lat = %.1f; lon = %.1f; }' % r for r in REGIONS)
    pools = ",\n      ".join(
        '{ region = "%s"; members = [ %s ]; }' % (r, ", ".join('"%s"' % a for a in POOLS[r]))
        for r, _, _ in REGIONS)
    return """state_dir = "var";
regions = (
  %s
);
services = (
  { name = "%s"; ttl = 30; answers = 8;
    pools = (
      %s
    ); }
);
""" % (regions, SERVICE, pools)


def admin_conf(admin="127.0.0.1:0"):
    return dict(zones=[ZONE], workers=1, admin=admin, extra=geo_extra())


# ---------------------------------------------------------------- helpers

# What gslbctl sends with every request: control requests need it (or the
# bearer token), so that a web page cannot make them.
ADMIN_MARK = {"X-Gslb-Admin": "1"}


def admin_http(srv, method, path, host=None, headers=None):
    """(status, headers dict lower-cased, body text) from the admin
    listener, with the headers given (default: ADMIN_MARK)."""
    return gslbtest.admin_request(srv, method, path, ADMIN_MARK if headers is None else headers,
                                  host)


def get_json(srv, path, method="GET", status=200):
    return gslbtest.admin_json(srv, path, method, status, ADMIN_MARK)


def find_pool(status, region, service=SERVICE):
    for svc in status["services"]:
        if svc["name"] == service:
            for p in svc["pools"]:
                if p["region"] == region:
                    return p
    raise AssertionError("no pool %s/%s in %s" % (service, region, status))


def find_region(status, name):
    for r in status["regions"]:
        if r["name"] == name:
            return r
    raise AssertionError("no region %s" % name)


def override_targets(status):
    return {o.get("target") for o in status["overrides"]}


def non_loopback_ipv4():
    """A local IPv4 address that is not loopback, or None. Connecting a
    UDP socket sends nothing; it only picks the source address."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            addr = s.getsockname()[0]
        except OSError:
            return None
    if addr.startswith("127.") or addr == "0.0.0.0":
        return None
    # usable only if we can bind it (it is really ours)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((addr, 0))
        except OSError:
            return None
    return addr


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def admind(tmp_path_factory):
    """A gslbd with the admin listener, for read-only tests."""
    srv = gslbtest.start_gslbd(tmp_path_factory.mktemp("admin"), **admin_conf())
    srv.admin_address()
    yield srv
    gslbtest.stop_checked(srv)


@pytest.fixture
def fresh(gslbd_factory):
    """A gslbd of its own, for tests that change overrides."""
    srv = gslbd_factory(**admin_conf())
    srv.admin_address()
    return srv


# ---------------------------------------------------------------- read-only

def test_listening_line_and_healthz(admind):
    host, port = admind.admin_address()
    assert host == "127.0.0.1" and port > 0
    st, hdrs, body = admin_http(admind, "GET", "/healthz")
    assert st == 200 and body.strip() == "ok", (st, body)


def test_status_structure(admind):
    s = get_json(admind, "/status")
    for key in ("version", "generation", "zones", "geoip", "regions", "services", "overrides"):
        assert key in s, "status lacks %r: %s" % (key, s)
    assert isinstance(s["generation"], int) and s["generation"] >= 1
    assert s["geoip"] is None  # no database in this config
    zones = {z["origin"].rstrip("."): z for z in s["zones"]}
    assert set(zones) == {"geo.test"}
    assert zones["geo.test"]["serial"] == ZONE_SERIAL
    assert zones["geo.test"]["records"] > 0
    assert zones["geo.test"]["file"].endswith("geo.test.zone")
    assert [(r["name"], r["lat"], r["lon"]) for r in s["regions"]] == REGIONS
    assert all(r["admin"] == "none" for r in s["regions"])
    assert [svc["name"] for svc in s["services"]] == [SERVICE]
    svc = s["services"][0]
    assert svc["ttl"] == 30 and svc["when_all_down"] == "fail-open"
    assert [p["region"] for p in svc["pools"]] == [r for r, _, _ in REGIONS]
    for p in svc["pools"]:
        for key in ("check", "min_up", "up", "failing", "admin", "reason", "since", "members"):
            assert key in p, "pool lacks %r: %s" % (key, p)
        assert p["up"] is True and p["admin"] == "none" and p["check"] is None
        assert [m["address"] for m in p["members"]] == POOLS[p["region"]]
        for m in p["members"]:
            for key in ("address", "member", "weight", "state", "admin", "usable", "failing",
                        "reason", "since"):
                assert key in m, "member lacks %r: %s" % (key, m)
            assert m["member"] == m["address"]
            assert m["state"] == "up" and m["usable"] is True and m["admin"] == "none"
            assert m["weight"] == 1
    assert s["overrides"] == []


def test_explain_agrees_with_cli(admind):
    for address in ("198.51.100.7", "2001:db8::1", "10.1.2.0/24"):
        q = urllib.parse.urlencode({"address": address, "name": SERVICE})
        api = get_json(admind, "/explain?" + q)
        r = subprocess.run([GSLBD, "-c", admind.config_path, "--explain", address, SERVICE,
                            "--json"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert api == json.loads(r.stdout), "API and CLI disagree for %s" % address
        assert api["chosen"] == "r1"


def test_explain_errors(admind):
    err = get_json(admind, "/explain?address=not-an-address&name=" + SERVICE, status=400)
    assert "not-an-address" in err["error"]
    err = get_json(admind, "/explain?name=" + SERVICE, status=400)
    assert "address" in err["error"]


def test_unknown_path_and_wrong_method(admind):
    err = get_json(admind, "/no/such/thing", status=404)
    assert err["error"]
    st, hdrs, body = admin_http(admind, "GET", "/override?action=drain&target=region:r1")
    assert st == 405 and "POST" in hdrs.get("allow", ""), (st, hdrs, body)
    assert json.loads(body)["error"]
    st, hdrs, body = admin_http(admind, "POST", "/status")
    assert st == 405 and "GET" in hdrs.get("allow", ""), (st, hdrs, body)
    # the refused override changed nothing
    assert get_json(admind, "/status")["overrides"] == []


def test_override_bad_input(admind):
    err = get_json(admind, "/override?action=drain&target=region:nowhere", "POST", 400)
    assert "nowhere" in err["error"]
    err = get_json(admind, "/override?action=explode&target=region:r1", "POST", 400)
    assert "explode" in err["error"]
    err = get_json(admind, "/override?action=drain", "POST", 400)
    assert "target" in err["error"]
    assert get_json(admind, "/status")["overrides"] == []


def test_reload_endpoint_answers_json(admind):
    st, hdrs, body = admin_http(admind, "POST", "/reload")
    # 501 until the reload hook is wired (issue 6), then 200
    assert st in (200, 501), (st, body)
    j = json.loads(body)
    assert j.get("ok") is True if st == 200 else j["error"]


def test_gslbctl_status_and_explain_text(admind):
    r = ctl(admind, "status")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for word in ("REGION", "r1", "r2", "r3", SERVICE, "198.18.1.1", "198.18.3.1"):
        assert word in out, "%r not in gslbctl status:\n%s" % (word, out)
    r = ctl(admind, "--json", "status")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == get_json(admind, "/status")
    r = ctl(admind, "explain", "198.51.100.7", SERVICE)
    assert r.returncode == 0, r.stderr
    assert "r1" in r.stdout and "198.18.1.1" in r.stdout, r.stdout
    r = ctl(admind, "--json", "explain", "198.51.100.7", SERVICE)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["chosen"] == "r1"


# ---------------------------------------------------------------- overrides

def test_override_round_trip(fresh):
    wait_answer(fresh, SERVICE, set(POOLS["r1"]), 5.0)

    r = ctl(fresh, "drain", "region:r1")
    assert r.returncode == 0, r.stderr
    assert "region:r1" in r.stdout
    wait_answer(fresh, SERVICE, set(POOLS["r2"]), 5.0)
    s = get_json(fresh, "/status")
    assert find_region(s, "r1")["admin"] == "drain"
    assert find_pool(s, "r1")["admin"] == "drain"
    assert all(not m["usable"] for m in find_pool(s, "r1")["members"])
    assert "region:r1" in override_targets(s)

    member = "member:%s/r2/198.18.2.1" % SERVICE
    r = ctl(fresh, "force-down", member)
    assert r.returncode == 0, r.stderr
    wait_answer(fresh, SERVICE, {"198.18.2.2"}, 5.0)
    s = get_json(fresh, "/status")
    m = [m for m in find_pool(s, "r2")["members"] if m["address"] == "198.18.2.1"][0]
    assert m["admin"] == "force-down" and m["usable"] is False
    assert member in override_targets(s)

    # gslbctl status shows both
    r = ctl(fresh, "status")
    assert r.returncode == 0, r.stderr
    assert "drain" in r.stdout and "force-down" in r.stdout, r.stdout

    r = ctl(fresh, "clear", "region:r1")
    assert r.returncode == 0, r.stderr
    wait_answer(fresh, SERVICE, set(POOLS["r1"]), 5.0)
    r = ctl(fresh, "clear", member)
    assert r.returncode == 0, r.stderr
    s = get_json(fresh, "/status")
    assert s["overrides"] == []
    assert find_region(s, "r1")["admin"] == "none"
    assert all(m["usable"] for m in find_pool(s, "r2")["members"])

    # draining the two first regions leaves r3
    for region in ("r1", "r2"):
        assert ctl(fresh, "drain", "region:" + region).returncode == 0
    wait_answer(fresh, SERVICE, set(POOLS["r3"]), 5.0)
    assert ctl(fresh, "undrain", "region:r1").returncode == 0
    assert ctl(fresh, "undrain", "region:r2").returncode == 0
    wait_answer(fresh, SERVICE, set(POOLS["r1"]), 5.0)


def test_pool_override_and_explain(fresh):
    target = "pool:%s/r1" % SERVICE
    r = ctl(fresh, "--json", "drain", target)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j == {"ok": True, "target": target, "action": "drain"}
    wait_answer(fresh, SERVICE, set(POOLS["r2"]), 5.0)
    q = urllib.parse.urlencode({"address": "198.51.100.7", "name": SERVICE})
    ex = get_json(fresh, "/explain?" + q)
    assert ex["chosen"] == "r2"
    assert "drain" in json.dumps(ex["regions"][0]), ex["regions"]
    assert ctl(fresh, "clear", target).returncode == 0
    wait_answer(fresh, SERVICE, set(POOLS["r1"]), 5.0)


def test_overrides_survive_restart(tmp_path):
    srv = gslbtest.Gslbd(str(tmp_path), **admin_conf())
    problems = []
    try:
        srv.start()
        r = ctl(srv, "drain", "region:r1")
        assert r.returncode == 0, r.stderr
        member = "member:%s/r2/198.18.2.2" % SERVICE
        assert ctl(srv, "force-down", member).returncode == 0
        wait_answer(srv, SERVICE, {"198.18.2.1"}, 5.0)
        problems += srv.check_stopped_cleanly()
        assert os.path.exists(os.path.join(str(tmp_path), "var", "overrides.state"))

        srv.start()
        wait_answer(srv, SERVICE, {"198.18.2.1"}, 5.0)
        s = get_json(srv, "/status")
        assert {"region:r1", member} <= override_targets(s)
        assert find_region(s, "r1")["admin"] == "drain"
        r = ctl(srv, "clear", "region:r1")
        assert r.returncode == 0, r.stderr
        wait_answer(srv, SERVICE, set(POOLS["r1"]), 5.0)
    finally:
        problems += srv.check_stopped_cleanly()
    assert not problems, "\n".join(problems)


def test_control_refused_from_non_loopback(gslbd_factory):
    addr = non_loopback_ipv4()
    if addr is None:
        pytest.skip("no non-loopback IPv4 address on this machine to connect from")
    srv = gslbd_factory(**admin_conf(admin="%s:0" % addr))
    host, port = srv.admin_address()
    assert host == addr
    # reading is allowed from anywhere that reaches the listener
    assert get_json(srv, "/status")["overrides"] == []
    err = get_json(srv, "/override?action=drain&target=region:r1", "POST", 403)
    assert "loopback" in err["error"]
    st, _, body = admin_http(srv, "POST", "/reload")
    assert st == 403, (st, body)
    r = ctl("%s:%d" % (addr, port), "drain", "region:r1")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "loopback" in r.stderr
    assert get_json(srv, "/status")["overrides"] == []
    assert "reason=\"not loopback\"" in srv.stderr_text()


# ---------------------------------------------------------------- gslbctl

def test_gslbctl_unreachable_is_3():
    port = gslbtest.closed_port()
    r = ctl("127.0.0.1:%d" % port, "status")
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert ("cannot reach the admin listener at 127.0.0.1:%d: Connection refused" % port
            in r.stderr), r.stderr


def test_gslbctl_refused_is_1(admind):
    r = ctl(admind, "drain", "region:nowhere")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "nowhere" in r.stderr and "400" in r.stderr, r.stderr
    r = ctl(admind, "explain", "bogus", SERVICE)
    assert r.returncode == 1, (r.returncode, r.stderr)
    r = ctl(admind, "force-up", "member:%s/r1/192.0.2.99" % SERVICE)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert get_json(admind, "/status")["overrides"] == []


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["drain"],
    ["drain", "region:r1", "extra"],
    ["explain", "192.0.2.1"],
    ["status", "extra"],
    ["--no-such-option", "status"],
    ["-t", "0", "status"],
])
def test_gslbctl_usage_is_2(args):
    # usage errors are found before anything is sent: no daemon needed
    r = ctl("127.0.0.1:%d" % gslbtest.closed_port(), *args)
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    assert r.stderr.strip(), args


def test_gslbctl_bad_server_is_2():
    r = ctl("not a server", "status")
    assert r.returncode == 2, (r.returncode, r.stderr)


def test_gslbctl_help():
    r = ctl(None, "--help")
    assert r.returncode == 0, r.stderr
    for word in ("status", "drain", "undrain", "force-up", "force-down", "clear", "explain",
                 "reload", "metrics", "region:", "pool:", "member:", "Exit status"):
        assert word in r.stdout, "%r not in --help" % word
    for code in ("0", "1", "2", "3"):
        assert "\n  %s  " % code in r.stdout, "exit code %s not documented" % code


def test_gslbctl_reads_listen_admin_from_config(tmp_path):
    port = gslbtest.closed_port()
    conf = tmp_path / "gslb.conf"
    conf.write_text(gslbtest.gslbd_config(str(tmp_path), admin="127.0.0.1:%d" % port,
                                          **{k: v for k, v in admin_conf().items()
                                             if k != "admin"}))
    r = ctl(None, "-c", str(conf), "status")
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "127.0.0.1:%d" % port in r.stderr, r.stderr
    # port 0 cannot be reached from a config: say so, usage error
    conf.write_text(gslbtest.gslbd_config(str(tmp_path), **admin_conf()))
    r = ctl(None, "-c", str(conf), "status")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "port 0" in r.stderr, r.stderr


def test_gslbctl_reload_with_a_config_gslbd_refuses(tmp_path):
    """gslbctl -c FILE reload with a FILE the daemon will refuse: gslbctl
    reads listen.admin alone, reaches the daemon, and prints its refusal
    (exit 1), not a parse error of its own (exit 2)."""
    port = gslbtest.free_port()
    srv = gslbtest.start_gslbd(tmp_path, **admin_conf(admin="127.0.0.1:%d" % port))
    try:
        good = open(srv.config_path).read()
        bad = good.replace("workers = 1;", "workers = 1; no_such_key = 3;", 1)
        assert bad != good
        with open(srv.config_path, "w") as f:
            f.write(bad)
        r = ctl(None, "-c", srv.config_path, "reload")
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        assert "no_such_key" in r.stderr, r.stderr
        assert "listen.admin and admin_token_file read alone" in r.stderr, r.stderr
        assert "reload failed" in srv.stderr_text(), srv.stderr_text()[-2000:]
    finally:
        gslbtest.stop_checked(srv)


def test_gslbctl_with_config_of_running_daemon(admind):
    # the daemon's own config names port 0; -s wins over -c
    h, p = admind.admin_address()
    r = ctl("%s:%d" % (h, p), "-c", admind.config_path, "status")
    assert r.returncode == 0, r.stderr


def test_gslbctl_metrics(admind):
    r = ctl(admind, "metrics")
    # /metrics comes with issue 6; until then the daemon says 404
    assert r.returncode in (0, 1), (r.returncode, r.stderr)
    if r.returncode == 0:
        assert "gslb_" in r.stdout
    else:
        assert "404" in r.stderr
