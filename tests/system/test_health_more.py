"""Health probing, pools and failover end to end: what issue 4's "Tests"
section lists beyond tests/system/test_health_probe.py and test_admin.py.
Every server is real and local (127.0.0.1, ::1, and 127.0.0.2-4, which are
loopback on Linux); every port is picked at run time.

- `min_up` as a count (2 of 3) and as a fraction (0.5 of 4): one member too
  few takes the pool down and the next region answers;
- all four `when_all_down` policies (fail-open, nodata, servfail, fallback
  with addresses and with a CNAME), as DNS answers, in `/status`,
  `/explain` and `gslbd --explain`, and the way back when a pool returns;
- TTL: `ttl_min` while the answering pool has a member failing probes
  (between its first failure and going down), else the service `ttl` capped
  at `fall * interval`;
- failover timing with clients located by ECS in a test GeoIP database:
  a region's servers go down and its clients move to the next nearest
  region within `fall * interval + timeout + 1 s`, and return after `rise`;
- wrong status code, redirect not followed, missing body text, expired
  certificate (CA and leaf made with python3-cryptography, `ca_file` set so
  that only the expiry fails), DNS check rcodes against a second gslbd;
- host-name members resolved through `resolvers` pointing at a second gslbd
  that serves the name: every address answered and probed, a changed record
  changes the answered set, a name that stops resolving keeps its addresses
  until they are probed down;
- admin overrides (force-down, force-up, drain) and last-known health kept
  across a clean restart and across `kill -9`, with a cold start from the
  saved state that answers at once;
- a cold start without saved state waits for the first probe round, so the
  first answers already leave out a member whose server is down.

`gslbd -t` errors for checks, pools and when_all_down are data files in
tests/data/badconf (check-*.conf, pool-*.conf, service-*.conf), run by
tests/system/test_daemon.py.

Timing: checks probe every second with a 0.5 s timeout; every wait polls
with a deadline. Bounds that the issue states are asserted with a slack for
polling and a loaded machine (SLACK); plain waits get a generous deadline
(WAIT) so that a slow machine fails only when something is really wrong.
"""

import datetime
import functools
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse

import pytest

import dns.edns
import dns.rcode
import dns.rdatatype

import gslbtest
from gslbtest import (GSLBD, addrs, admin_json, ask, checked_service_conf, closed_port,
                      health_conf, make_query, member_conf, pool_conf, service_conf, wait_answer,
                      wait_for)

INTERVAL = 1.0
TIMEOUT = 0.5
RISE = 2
FALL = 2
# issue 4: a region's clients move within fall * interval + timeout + 1 s
FLIP_BOUND = FALL * INTERVAL + TIMEOUT + 1.0
SLACK = 1.0    # polling (50 ms), scheduling jitter, a loaded 2-CPU machine
WAIT = gslbtest.WAIT  # deadline of waits that state no bound of their own

GEO_SOURCE = os.path.join(gslbtest.DATADIR, "geoip", "health-geo.json")

ZONES = [("example.test", "example.test.zone")]
OTHER = gslbtest.FALLBACK    # region b, unchecked: always up


# ---------------------------------------------------------------- servers

def backends_on_one_port(make, hosts):
    """One Backend per host address, all on the same port (an http check
    probes each resolved address of a host name at the check's port)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        try:
            return port, {h: make(host=h, port=port) for h in hosts}
        except OSError:
            continue  # taken on one of the addresses meanwhile: try another
    pytest.fail("no port free on all of %s" % (hosts,))


# ---------------------------------------------------------------- config

check_conf = functools.partial(gslbtest.check_conf, interval=INTERVAL, timeout=TIMEOUT, rise=RISE,
                               fall=FALL)


def start(gslbd_factory, state_dir, checks, services, admin=True, **kw):
    extra = health_conf(str(state_dir), checks, services, **kw)
    srv = gslbd_factory(zones=ZONES, workers=1, extra=extra,
                        admin="127.0.0.1:0" if admin else None)
    if admin:
        srv.admin_address()
    return srv


def start_cases(gslbd_factory, tmp_path, checks, cases):
    """One service LABEL.example.test per case (label, check, member, target
    or None, up?, reason regex) with that member in region a and OTHER in
    region b; returns the daemon once each member is answered when up,
    else OTHER, and its first state change is logged with that reason."""
    services = [checked_service_conf("%s.example.test" % label, chk, [member_conf(addr, target)])
                for label, chk, addr, target, _, _ in cases]
    srv = start(gslbd_factory, tmp_path / "state", checks, services, admin=False)
    for label, chk, addr, target, up, reason in cases:
        name = "%s.example.test" % label
        wait_answer(srv, name, {addr} if up else {OTHER})
        srv.wait_log(r'service=%s\.? region=a member=%s check=%s old=unknown new=%s '
                     r'reason="%s"' % (re.escape(name), re.escape(addr), chk,
                                       "up" if up else "down", reason))
    return srv


# ---------------------------------------------------------------- DNS

def answer_ttl(msg):
    return min(rrset.ttl for rrset in msg.answer) if msg is not None and msg.answer else None


# ---------------------------------------------------------------- admin

def status_pool(srv, service, region):
    for s in admin_json(srv, "/status")["services"]:
        if s["name"].rstrip(".") == service:
            for p in s["pools"]:
                if p["region"] == region:
                    return s, p
    raise AssertionError("no pool %s/%s in /status" % (service, region))


def explain_api(srv, address, name):
    return admin_json(srv, "/explain?" + urllib.parse.urlencode({"address": address,
                                                                 "name": name}))


def ctl(srv, *args):
    return gslbtest.ctl(srv, *args, check=True).stdout


def explain_cli(srv, address, name, as_json=False):
    argv = [GSLBD, "-c", srv.config_path, "--explain", address, name]
    if as_json:
        argv.append("--json")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30, errors="replace")
    assert r.returncode == 0, "gslbd --explain: exit %d\n%s" % (r.returncode, r.stderr)
    return json.loads(r.stdout) if as_json else r.stdout


def state_file(state_dir, name="health.state"):
    try:
        with open(os.path.join(str(state_dir), name)) as f:
            return f.read()
    except FileNotFoundError:
        return ""


# ================================================================ min_up

def test_min_up_count_and_fraction(gslbd_factory, backends, tmp_path):
    """min_up = 2 of 3 members and min_up = 0.5 of 4 (two needed): one
    member down keeps the pool, one more moves clients to region b."""
    count = {"192.0.2.%d" % i: backends() for i in (11, 12, 13)}
    frac = {"192.0.2.%d" % i: backends() for i in (21, 22, 23, 24)}
    web = check_conf("web", "http", expect_body="ok")
    services = [
        service_conf("minup-count.example.test", [
            pool_conf("a", [member_conf(a, b.url()) for a, b in count.items()], "web", min_up=2),
            pool_conf("b", [member_conf(OTHER)])]),
        service_conf("minup-frac.example.test", [
            pool_conf("a", [member_conf(a, b.url()) for a, b in frac.items()], "web", min_up=0.5),
            pool_conf("b", [member_conf("198.51.100.2")])]),
    ]
    srv = start(gslbd_factory, tmp_path / "state", [web], services)
    wait_answer(srv, "minup-count.example.test", count)
    wait_answer(srv, "minup-frac.example.test", frac)
    _, p = status_pool(srv, "minup-count.example.test", "a")
    assert p["min_up"] == 2 and p["up"] is True, p
    _, p = status_pool(srv, "minup-frac.example.test", "a")
    assert p["min_up"] == 0.5 and p["up"] is True, p

    # one of three down (2 >= 2), two of four down (2 >= ceil(0.5 * 4))
    count["192.0.2.13"].fail()
    frac["192.0.2.23"].fail()
    frac["192.0.2.24"].fail()
    wait_answer(srv, "minup-count.example.test", {"192.0.2.11", "192.0.2.12"})
    wait_answer(srv, "minup-frac.example.test", {"192.0.2.21", "192.0.2.22"})
    _, p = status_pool(srv, "minup-count.example.test", "a")
    assert p["up"] is True and p["reason"] == "2 of 3 members up, min_up 2", p
    _, p = status_pool(srv, "minup-frac.example.test", "a")
    assert p["up"] is True and p["reason"] == "2 of 4 members up, min_up 2", p
    assert "pool state changed" not in srv.stderr_text()

    # one more each: below min_up, region b answers
    count["192.0.2.12"].fail()
    frac["192.0.2.22"].fail()
    wait_answer(srv, "minup-count.example.test", {OTHER})
    wait_answer(srv, "minup-frac.example.test", {"198.51.100.2"})
    srv.wait_log(r'pool state changed service=minup-count\.example\.test\.? region=a old=up '
                 r'new=down reason="1 of 3 members up, min_up 2"')
    srv.wait_log(r'pool state changed service=minup-frac\.example\.test\.? region=a old=up '
                 r'new=down reason="1 of 4 members up, min_up 2"')
    ex = explain_api(srv, "192.0.2.200", "minup-count.example.test")
    assert ex["chosen"] == "b", ex
    assert ex["regions"][0]["state"] == "skipped: pool down", ex["regions"]
    assert ex["regions"][0]["pool_reason"] == "1 of 3 members up, min_up 2", ex["regions"]

    # back to two of three: the pool is up again, with its up members only
    count["192.0.2.12"].ok()
    wait_answer(srv, "minup-count.example.test", {"192.0.2.11", "192.0.2.12"})


# ================================================================ when_all_down

POLICIES = {
    # service label -> (when_all_down, fallback)
    "wad-default": (None, None),
    "wad-failopen": ("fail-open", None),
    "wad-nodata": ("nodata", None),
    "wad-servfail": ("servfail", None),
    "wad-fallback": ("fallback", ["192.0.2.99", "2001:db8::99"]),
    "wad-cname": ("fallback", "sorry.example.net."),
}
WAD_A = {"192.0.2.1", "192.0.2.2"}   # region a, nearest (config order: no location)
WAD_B = {"192.0.2.3"}
WAD_TTL, WAD_TTL_MIN = 60, 7


def test_when_all_down_policies(gslbd_factory, backends, tmp_path):
    be = backends()
    be.fail()
    web = check_conf("web", "http", expect_body="ok")
    services = []
    for label, (wad, fallback) in POLICIES.items():
        services.append(service_conf(
            "%s.example.test" % label,
            [pool_conf("a", [member_conf(a, be.url()) for a in sorted(WAD_A)], "web"),
             pool_conf("b", [member_conf(a, be.url()) for a in sorted(WAD_B)], "web")],
            ttl=WAD_TTL, ttl_min=WAD_TTL_MIN, when_all_down=wad, fallback=fallback))
    state = tmp_path / "state"
    srv = start(gslbd_factory, state, [web], services)
    names = {label: "%s.example.test" % label for label in POLICIES}

    # the cold start waited for the first round: every pool is down now
    for label, name in names.items():
        wad = POLICIES[label][0] or "fail-open"
        srv.wait_log(r"every pool of the service is down, when_all_down applies "
                     r"service=%s\.? when_all_down=%s" % (re.escape(name), wad))

    # fail-open (explicit and default): every member of the nearest region,
    # although down, with the short TTL
    for label in ("wad-failopen", "wad-default"):
        r = ask(srv, names[label])
        assert r is not None and r.rcode() == dns.rcode.NOERROR, gslbtest.describe(r)
        assert addrs(r) == WAD_A, gslbtest.describe(r)
        assert answer_ttl(r) == WAD_TTL_MIN, gslbtest.describe(r)
    # nodata: NOERROR, no answer, the zone's SOA
    r = ask(srv, names["wad-nodata"])
    assert r is not None and r.rcode() == dns.rcode.NOERROR and not r.answer, \
        gslbtest.describe(r)
    assert [rr.rdtype for rr in r.authority] == [dns.rdatatype.SOA], gslbtest.describe(r)
    assert r.authority[0].name.to_text().lower() == "example.test."
    # servfail
    r = ask(srv, names["wad-servfail"])
    assert r is not None and r.rcode() == dns.rcode.SERVFAIL and not r.answer, \
        gslbtest.describe(r)
    # fallback addresses, per family, with the short TTL
    r = ask(srv, names["wad-fallback"])
    assert addrs(r) == {"192.0.2.99"} and answer_ttl(r) == WAD_TTL_MIN, gslbtest.describe(r)
    r = ask(srv, names["wad-fallback"], "AAAA")
    assert addrs(r, "AAAA") == {"2001:db8::99"}, gslbtest.describe(r)
    # fallback CNAME (outside the zones served: the CNAME alone)
    r = ask(srv, names["wad-cname"])
    assert r is not None and r.rcode() == dns.rcode.NOERROR, gslbtest.describe(r)
    assert len(r.answer) == 1 and r.answer[0].rdtype == dns.rdatatype.CNAME, gslbtest.describe(r)
    assert r.answer[0][0].target.to_text().lower() == "sorry.example.net."
    assert r.answer[0].ttl == WAD_TTL_MIN, gslbtest.describe(r)

    # /status: every pool down, the policy named
    for label, name in names.items():
        for region in ("a", "b"):
            svc, p = status_pool(srv, name, region)
            assert p["up"] is False, (name, p)
            assert all(m["state"] == "down" for m in p["members"]), p
        assert svc["when_all_down"] == (POLICIES[label][0] or "fail-open"), svc

    # /explain (live) and gslbd --explain (last-known state in state_dir)
    wait_for("health.state lists every member down",
             lambda: state_file(state).count(" down ") >= 3 * len(POLICIES), WAIT, [srv])
    want = {
        "wad-default": ("fail-open", "192.0.2.1"), "wad-failopen": ("fail-open", "192.0.2.1"),
        "wad-nodata": ("nodata", "NODATA"), "wad-servfail": ("servfail", "SERVFAIL"),
        "wad-fallback": ("fallback", "192.0.2.99"), "wad-cname": ("fallback", "CNAME"),
    }
    for label, name in names.items():
        wad, word = want[label]
        for ex in (explain_api(srv, "192.0.2.200", name),
                   explain_cli(srv, "192.0.2.200", name, as_json=True)):
            assert ex["answer"].get("when_all_down") == wad, (name, ex["answer"])
            states = [r["state"] for r in ex["regions"]]
            if wad == "fail-open":
                assert ex["answer"].get("fail_open") is True, ex["answer"]
                assert states == ["taken", "skipped: pool down"], states
            else:
                assert states == ["skipped: pool down"] * 2, states
            assert all(r.get("pool") == "down" for r in ex["regions"]), ex["regions"]
        if wad == "servfail":
            assert ex["answer"].get("servfail") is True, ex["answer"]
        if wad == "nodata":
            assert ex["answer"].get("nodata") is True, ex["answer"]
        if label == "wad-cname":
            assert ex["answer"].get("cname") == "sorry.example.net.", ex["answer"]
        text = explain_cli(srv, "192.0.2.200", name)
        assert "every pool is down, when_all_down = %s" % wad in text, text
        assert word in text, text

    # the servers come back: ordinary answers, and one log line per service
    be.ok()
    for label, name in names.items():
        wait_answer(srv, name, WAD_A)
        srv.wait_log(r"service has a pool up again service=%s" % re.escape(name))
    r = ask(srv, names["wad-servfail"])
    assert r.rcode() == dns.rcode.NOERROR and addrs(r) == WAD_A, gslbtest.describe(r)


def test_fail_open_keeps_admin_force_down(gslbd_factory, backends, tmp_path):
    be = backends()
    be.fail()
    web = check_conf("web", "http", expect_body="ok")
    name = "wad-admin.example.test"
    services = [service_conf(name, [
        pool_conf("a", [member_conf(a, be.url()) for a in sorted(WAD_A)], "web"),
        pool_conf("b", [member_conf(a, be.url()) for a in sorted(WAD_B)], "web")],
        when_all_down="fail-open")]
    srv = start(gslbd_factory, tmp_path / "state", [web], services)
    wait_answer(srv, name, WAD_A)   # all down: fail-open
    ctl(srv, "force-down", "member:%s/a/192.0.2.2" % name)
    # overrides are published at once
    wait_answer(srv, name, {"192.0.2.1"}, timeout=5.0)


# ================================================================ TTL

def test_ttl_min_while_failing_else_capped(gslbd_factory, backends, tmp_path):
    """Service ttl 30 with fall 5 x interval 1: TTL 5. While a member of the
    answering pool fails probes without being down yet: ttl_min (2). Once
    it is down and the others pass: 5 again. A service ttl below the cap is
    kept (3), and another pool's failure does not touch it."""
    b1, b2, b3 = backends(), backends(), backends()
    slow = check_conf("slow", "http", fall=5, rise=1, expect_body="ok")
    services = [
        service_conf("ttl-cap.example.test", [
            pool_conf("a", [member_conf("192.0.2.1", b1.url()), member_conf("192.0.2.2", b2.url())],
                      "slow"),
            pool_conf("b", [member_conf(OTHER)])], ttl=30, ttl_min=2),
        service_conf("ttl-short.example.test", [
            pool_conf("a", [member_conf("192.0.2.5", b3.url())], "slow"),
            pool_conf("b", [member_conf(OTHER)])], ttl=3, ttl_min=2),
    ]
    srv = start(gslbd_factory, tmp_path / "state", [slow], services)
    wait_answer(srv, "ttl-cap.example.test", {"192.0.2.1", "192.0.2.2"})

    def ttl_is(name, want_ttl, want_addrs):
        def probe():
            r = ask(srv, name)
            probe.last = (sorted(addrs(r) or ()), answer_ttl(r))
            return probe.last == (sorted(want_addrs), want_ttl)
        probe.last = None
        return probe

    wait_for("ttl-cap TTL 5 (fall x interval)",
             ttl_is("ttl-cap.example.test", 5, {"192.0.2.1", "192.0.2.2"}), WAIT, [srv])
    wait_for("ttl-short TTL 3 (its ttl)",
             ttl_is("ttl-short.example.test", 3, {"192.0.2.5"}), WAIT, [srv])

    b1.fail()
    t0 = time.monotonic()
    # failing, not down yet (4 failures to go, about 4 s): still answered,
    # with ttl_min
    wait_for("192.0.2.1 failing: still answered with TTL 2",
             ttl_is("ttl-cap.example.test", 2, {"192.0.2.1", "192.0.2.2"}),
             FALL * INTERVAL + TIMEOUT + SLACK, [srv])
    _, p = status_pool(srv, "ttl-cap.example.test", "a")
    m1 = [m for m in p["members"] if m["address"] == "192.0.2.1"][0]
    if time.monotonic() - t0 < 2.5:  # surely not down yet (fall = 5)
        assert p["failing"] is True and m1["failing"] is True and m1["state"] == "up", p
    r = ask(srv, "ttl-short.example.test")
    assert answer_ttl(r) == 3, gslbtest.describe(r)
    # down after 5 failures: the pool answers from 192.0.2.2 alone, which
    # passes its probes: back to the cap
    wait_for("192.0.2.1 down: TTL 5 again",
             ttl_is("ttl-cap.example.test", 5, {"192.0.2.2"}), 5 * INTERVAL + TIMEOUT + WAIT,
             [srv])
    took = time.monotonic() - t0
    assert took >= 3.0, "down after %.1fs, before 5 failures at 1 s intervals" % took
    srv.wait_log(r'member=192\.0\.2\.1 check=slow old=up new=down reason="HTTP 503 x5"')


def test_ttl_never_longer_than_fall_times_interval(gslbd_factory, backends, tmp_path):
    b = backends()
    web = check_conf("web", "http", fall=2, interval=1.0)
    services = [service_conf("ttl-fast.example.test", [
        pool_conf("a", [member_conf("192.0.2.1", b.url())], "web"),
        pool_conf("b", [member_conf(OTHER)])], ttl=30)]   # ttl_min: default 5
    srv = start(gslbd_factory, tmp_path / "state", [web], services, admin=False)
    wait_answer(srv, "ttl-fast.example.test", {"192.0.2.1"})
    r = ask(srv, "ttl-fast.example.test")
    assert answer_ttl(r) <= 2, gslbtest.describe(r)


# ================================================================ failover

GEO_REGIONS = [("eu", 52.23, 21.01), ("us", 39.04, -77.49), ("ap", 1.35, 103.82)]
EU_CLIENT, US_CLIENT, AP_CLIENT = "83.1.0.0/24", "4.1.0.0/24", "175.41.130.0/24"
EU_V6_CLIENT = "2a00:1450:1::/48"


@pytest.fixture(scope="module")
def health_mmdb(tmp_path_factory):
    return gslbtest.build_mmdb(GEO_SOURCE, tmp_path_factory.mktemp("health-geo") / "health.mmdb")


def test_failover_and_return_with_ecs(gslbd_factory, backends, tmp_path, health_mmdb):
    """ECS clients near eu move to us (the next nearest) within
    fall * interval + timeout + 1 s of eu's servers failing, clients near us
    and ap stay; eu's clients return after `rise` successes, not before."""
    rise = 3
    eu = {"192.0.2.11": backends(), "192.0.2.12": backends()}
    us, ap = backends(), backends()
    web = check_conf("web", "http", rise=rise, expect_body="ok")
    name = "fo.example.test"
    services = [service_conf(name, [
        pool_conf("eu", [member_conf(a, b.url()) for a, b in eu.items()], "web"),
        pool_conf("us", [member_conf("192.0.2.21", us.url())], "web"),
        pool_conf("ap", [member_conf("192.0.2.31", ap.url())], "web")])]
    srv = start(gslbd_factory, tmp_path / "state", [web], services, regions=GEO_REGIONS,
                database=health_mmdb)
    wait_answer(srv, name, eu, ecs=EU_CLIENT)
    wait_answer(srv, name, eu, ecs=EU_V6_CLIENT)
    wait_answer(srv, name, {"192.0.2.21"}, ecs=US_CLIENT)
    wait_answer(srv, name, {"192.0.2.31"}, ecs=AP_CLIENT)
    assert explain_api(srv, EU_CLIENT, name)["chosen"] == "eu"
    # the ECS reply scope is the database network (83.0.0.0/11)
    r = ask(srv, name, ecs=EU_CLIENT)
    scopes = [o.scopelen for o in r.options if isinstance(o, dns.edns.ECSOption)]
    assert scopes == [11], gslbtest.describe(r)

    for b in eu.values():
        b.fail()
    took = wait_answer(srv, name, {"192.0.2.21"}, ecs=EU_CLIENT)
    assert took <= FLIP_BOUND + SLACK, \
        "eu clients moved after %.2fs, bound %.1fs + %.1fs slack" % (took, FLIP_BOUND, SLACK)
    wait_answer(srv, name, {"192.0.2.21"}, ecs=EU_V6_CLIENT, timeout=1.0)
    for t in ("udp4", "udp6", "tcp4", "tcp6"):
        r = ask(srv, name, ecs=EU_CLIENT, transport=t)
        assert addrs(r) == {"192.0.2.21"}, (t, gslbtest.describe(r))
    assert addrs(ask(srv, name, ecs=US_CLIENT)) == {"192.0.2.21"}
    assert addrs(ask(srv, name, ecs=AP_CLIENT)) == {"192.0.2.31"}
    ex = explain_api(srv, EU_CLIENT, name)
    assert ex["chosen"] == "us", ex
    assert [(r["region"], r["state"]) for r in ex["regions"]][:2] == [
        ("eu", "skipped: pool down"), ("us", "taken")], ex["regions"]
    srv.wait_log(r'service=fo\.example\.test\.? region=eu member=192\.0\.2\.11 check=web '
                 r'old=up new=down reason="HTTP 503 x%d"' % FALL)
    srv.wait_log(r'pool state changed service=fo\.example\.test\.? region=eu old=up new=down')

    t1 = time.monotonic()
    for b in eu.values():
        b.ok()
    # hysteresis: rise successes at 1 s intervals take at least (rise - 1) s
    # after the first one
    time.sleep(0.5)
    assert addrs(ask(srv, name, ecs=EU_CLIENT)) == {"192.0.2.21"}, "back before rise"
    wait_answer(srv, name, eu, ecs=EU_CLIENT,
                timeout=rise * INTERVAL + TIMEOUT + 1.0 + SLACK + WAIT)
    took = time.monotonic() - t1
    assert (rise - 1) * INTERVAL - 0.3 <= took <= rise * INTERVAL + TIMEOUT + 1.0 + SLACK, \
        "eu clients returned after %.2fs (rise %d x %.1fs)" % (took, rise, INTERVAL)
    srv.wait_log(r'region=eu member=192\.0\.2\.1[12] check=web old=down new=up '
                 r'reason="HTTP 200 x%d"' % rise)
    wait_answer(srv, name, eu, ecs=EU_V6_CLIENT, timeout=1.0)


# ================================================================ http and tls reasons

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a valid leaf and an expired leaf for www.example.test and
    127.0.0.1, made with python3-cryptography: (ca.pem, (cert, key) valid,
    (cert, key) expired)."""
    try:
        import ipaddress
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        pytest.skip("python3-cryptography is not installed (qa/packages.txt lists it)")
    d = tmp_path_factory.mktemp("pki")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    day = datetime.timedelta(days=1)

    def write_key(key, path):
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gslb test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - 30 * day).not_valid_after(now + 30 * day)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    ca_pem = d / "ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def leaf(label, not_before, not_after):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                            "www.example.test")]))
                .issuer_name(ca_name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(not_before).not_valid_after(not_after)
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("www.example.test"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        cert_pem, key_pem = d / ("%s.pem" % label), d / ("%s.key" % label)
        cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        write_key(key, key_pem)
        return str(cert_pem), str(key_pem)

    return (str(ca_pem), leaf("valid", now - day, now + 10 * day),
            leaf("expired", now - 10 * day, now - day))


def test_http_status_body_and_expired_certificate(gslbd_factory, backends, tmp_path, pki):
    ca, valid, expired = pki
    b204 = backends(code=204)
    b404 = backends(code=404, body=b"ok but not found\n")
    b302 = backends(code=302, body=b"ok elsewhere\n")
    redirected = backends()
    b302.location = redirected.url()
    healthy = backends(body=b"all healthy here\n")
    plain = backends(body=b"ok\n")
    tls_valid, tls_expired = backends(tls=valid), backends(tls=expired)
    checks = [
        check_conf("status", "http", expect_status=[200, 204]),
        check_conf("default", "http"),            # expect_status [ 200 ], no redirects
        check_conf("body", "http", expect_body="healthy"),
        check_conf("tls-valid", "https", port=tls_valid.port, ca_file=ca,
                   host="www.example.test"),
        check_conf("tls-expired", "https", port=tls_expired.port, ca_file=ca,
                   host="www.example.test"),
    ]
    cases = [
        # service label, check, member, target (None: the member itself), up?,
        # reason (a regex: the logger may show a quote inside a value as ')
        ("st-204", "status", "192.0.2.1", b204.url(), True, "HTTP 204"),
        ("st-404", "status", "192.0.2.2", b404.url(), False, "HTTP 404"),
        ("st-302", "default", "192.0.2.3", b302.url(), False, "HTTP 302"),
        ("body-ok", "body", "192.0.2.4", healthy.url(), True, "HTTP 200"),
        ("body-missing", "body", "192.0.2.5", plain.url(), False,
         "body does not contain [\"']healthy[\"']"),
        ("tls-valid", "tls-valid", "127.0.0.1", None, True, "HTTP 200"),
        ("tls-expired", "tls-expired", "127.0.0.1", None, False,
         "TLS: certificate has expired"),
    ]
    start_cases(gslbd_factory, tmp_path, checks, cases)
    # the redirect was not followed; the expired certificate ended the
    # handshake before any request
    assert b302.hits > 0 and redirected.hits == 0
    assert tls_valid.hits > 0 and tls_expired.hits == 0


# ================================================================ dns check

def test_dns_check_rcodes_against_gslbd(gslbd_factory, tmp_path):
    """dns checks asking a second gslbd (the test zones): rcode and answer
    expectations over IPv4 and IPv6, and a server that stops answering."""
    dnsd = gslbd_factory(workers=1)
    t4 = "127.0.0.1:%d" % dnsd.port("udp4")
    t6 = "[::1]:%d" % dnsd.port("udp6")
    checks = [
        check_conf("www-a", "dns", query="www.example.test", expect_answer="192.0.2.80"),
        check_conf("www-aaaa", "dns", query="www.example.test", qtype="AAAA",
                   expect_answer="2001:db8::80"),
        check_conf("www-wrong", "dns", query="www.example.test", expect_answer="192.0.2.79"),
        check_conf("nx", "dns", query="nothere.example.test"),
        check_conf("nx-ok", "dns", query="nothere.example.test", expect_rcode="NXDOMAIN"),
        check_conf("refused", "dns", query="www.example.org"),
        check_conf("refused-ok", "dns", query="www.example.org", expect_rcode="REFUSED"),
    ]
    cases = [
        # label, check, member, target, up?, reason (a regex)
        ("dns-www-a", "www-a", "192.0.2.1", t4, True, "DNS NOERROR"),
        ("dns-www-a6", "www-a", "192.0.2.2", t6, True, "DNS NOERROR"),
        ("dns-www-aaaa", "www-aaaa", "192.0.2.3", t4, True, "DNS NOERROR"),
        ("dns-www-wrong", "www-wrong", "192.0.2.4", t4, False, r"no answer 192\.0\.2\.79"),
        ("dns-nx", "nx", "192.0.2.5", t4, False, "DNS NXDOMAIN"),
        ("dns-nx-ok", "nx-ok", "192.0.2.6", t4, True, "DNS NXDOMAIN"),
        ("dns-refused", "refused", "192.0.2.7", t4, False, "DNS REFUSED"),
        ("dns-refused-ok", "refused-ok", "192.0.2.8", t6, True, "DNS REFUSED"),
    ]
    srv = start_cases(gslbd_factory, tmp_path, checks, cases)

    # the DNS server goes away: its members go down (refused or timeout)
    assert dnsd.stop() == 0
    wait_answer(srv, "dns-www-a.example.test", {OTHER}, timeout=FLIP_BOUND + WAIT)
    wait_answer(srv, "dns-nx-ok.example.test", {OTHER}, timeout=FLIP_BOUND + WAIT)
    srv.wait_log(r'member=192\.0\.2\.1 check=www-a old=up new=down '
                 r'reason="(connection refused|timeout after 0\.5s) x%d"' % FALL)


# ================================================================ host names

HOSTS_ZONE = """$ORIGIN hosts.test.
$TTL 2
@       IN SOA ns1 hostmaster ( %(serial)d 7200 3600 1209600 2 )
        NS     ns1
ns1     A      127.0.0.1
%(app)s
"""


def write_hosts_zone(path, serial, addresses):
    app = "\n".join("app 2 A %s" % a for a in addresses)
    with open(path, "w") as f:
        f.write(HOSTS_ZONE % {"serial": serial, "app": app})


def either(a, b):
    """A regex for the address list "a,b" in either order."""
    a, b = re.escape(a), re.escape(b)
    return "(?:%s,%s|%s,%s)" % (a, b, b, a)


def reload_dns(dnsd):
    n = dnsd.stderr_text().count("reloaded what=")
    dnsd.proc.send_signal(signal.SIGHUP)
    wait_for("the DNS gslbd reloaded",
             lambda: dnsd.stderr_text().count("reloaded what=") > n, WAIT, [dnsd])
    assert "reload failed" not in dnsd.stderr_text(), dnsd.stderr_text()[-3000:]


def test_host_name_member_through_resolvers(gslbd_factory, backends, tmp_path):
    """A member written as a host name, resolved by c-ares through
    `resolvers` at a second gslbd serving hosts.test: each address is
    answered and probed on its own; a changed record (TTL 2, re-resolved
    after 5 s, the resolver's floor) changes the answered set; a name that
    stops resolving keeps its addresses until they are probed down."""
    hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    port, be = backends_on_one_port(backends, hosts)
    zone = str(tmp_path / "hosts.test.zone")
    write_hosts_zone(zone, 1, hosts[:2])
    dnsd = gslbd_factory(zones=[("hosts.test", zone)], workers=1)
    r = dnsd.udp4(make_query("app.hosts.test", "A"))
    assert addrs(r) == set(hosts[:2]), gslbtest.describe(r)

    web = check_conf("web", "http", port=port, expect_body="ok")
    name = "byname.example.test"
    services = [service_conf(name, [pool_conf("a", [member_conf("app.hosts.test")], "web"),
                                    pool_conf("b", [member_conf(OTHER)])])]
    srv = start(gslbd_factory, tmp_path / "state", [web], services,
                resolvers=["127.0.0.1:%d" % dnsd.port("udp4")])
    wait_answer(srv, name, hosts[:2])
    # TTL 2 in the zone, re-resolved no sooner than after 5 s
    srv.wait_log(r"member host name resolved service=byname\.example\.test\.? region=a "
                 r"host=app\.hosts\.test\.? addresses=%s ttl=5"
                 % either("127.0.0.2", "127.0.0.3"))
    # each address is probed at its own address and the check's port
    wait_for("both addresses probed", lambda: be["127.0.0.2"].hits and be["127.0.0.3"].hits,
             WAIT, [srv])
    assert be["127.0.0.4"].hits == 0
    _, p = status_pool(srv, name, "a")
    assert sorted(m["address"] for m in p["members"]) == hosts[:2], p
    assert {m["member"].rstrip(".") for m in p["members"]} == {"app.hosts.test"}, p

    # one address fails its probes: only the other is answered
    be["127.0.0.3"].fail()
    wait_answer(srv, name, {"127.0.0.2"}, timeout=FLIP_BOUND + WAIT)
    srv.wait_log(r"member=127\.0\.0\.3 host=app\.hosts\.test\.? check=web old=up new=down")

    # the record changes: .3 leaves, .4 comes (probed, then answered)
    write_hosts_zone(zone, 2, ["127.0.0.2", "127.0.0.4"])
    reload_dns(dnsd)
    assert addrs(dnsd.udp4(make_query("app.hosts.test", "A"))) == {"127.0.0.2", "127.0.0.4"}
    wait_answer(srv, name, {"127.0.0.2", "127.0.0.4"}, timeout=5 + FLIP_BOUND + WAIT)
    srv.wait_log(r"member host name resolved service=byname\.example\.test\.? region=a "
                 r"host=app\.hosts\.test\.? addresses=%s " % either("127.0.0.2", "127.0.0.4"))
    wait_for("127.0.0.4 probed", lambda: be["127.0.0.4"].hits, WAIT, [srv])

    # the name stops resolving: its last addresses stay...
    write_hosts_zone(zone, 3, [])
    reload_dns(dnsd)
    srv.wait_log(r"member host name does not resolve, keeping its last addresses "
                 r"service=byname\.example\.test\.? region=a host=app\.hosts\.test\.? "
                 r"addresses=2", timeout=5 + WAIT)
    assert addrs(ask(srv, name)) == {"127.0.0.2", "127.0.0.4"}
    # ...until they are probed down
    be["127.0.0.4"].fail()
    wait_answer(srv, name, {"127.0.0.2"}, timeout=FLIP_BOUND + WAIT)
    be["127.0.0.2"].fail()
    wait_answer(srv, name, {OTHER}, timeout=FLIP_BOUND + WAIT)


# ================================================================ restarts

def test_overrides_and_health_survive_restart_and_kill9(gslbd_factory, backends, tmp_path):
    """force-down, force-up and drain set through gslbctl, and last-known
    health, kept in state_dir across a clean restart and a kill -9. The
    restarted daemon answers from the saved state at once: a member saved
    as down stays out although its server is healthy again, until it
    passes `rise` probes."""
    rise = 4
    be = {a: backends() for a in ("192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.21",
                                  "192.0.2.31", "192.0.2.41")}
    be["192.0.2.13"].fail()
    web = check_conf("web", "http", rise=rise, expect_body="ok")
    svc1, svc2 = "ovr.example.test", "ovr2.example.test"
    services = [
        service_conf(svc1, [
            pool_conf("a", [member_conf(a, be[a].url())
                            for a in ("192.0.2.11", "192.0.2.12", "192.0.2.13")], "web"),
            pool_conf("b", [member_conf("192.0.2.21", be["192.0.2.21"].url())], "web")]),
        service_conf(svc2, [
            pool_conf("a", [member_conf("192.0.2.31", be["192.0.2.31"].url())], "web"),
            pool_conf("b", [member_conf("192.0.2.41", be["192.0.2.41"].url())], "web")]),
    ]
    state = tmp_path / "state"
    srv = start(gslbd_factory, state, [web], services)
    assert "cold start: waiting for the first probe round" in srv.stderr_text()
    wait_answer(srv, svc1, {"192.0.2.11", "192.0.2.12"})
    wait_answer(srv, svc2, {"192.0.2.31"})

    overrides = {
        "member:%s/a/192.0.2.11" % svc1: "force-down",
        "member:%s/a/192.0.2.13" % svc1: "force-up",     # down by its probes
        "pool:%s/a" % svc2: "drain",
    }
    for target, action in overrides.items():
        out = ctl(srv, action, target)
        assert target in out, out
    want1, want2 = {"192.0.2.12", "192.0.2.13"}, {"192.0.2.41"}
    wait_answer(srv, svc1, want1, timeout=5.0)
    wait_answer(srv, svc2, want2, timeout=5.0)

    def check_overrides(srv):
        s = admin_json(srv, "/status")
        have = {o["target"]: o for o in s["overrides"]}
        assert set(have) == set(overrides), s["overrides"]
        _, p = status_pool(srv, svc2, "a")
        assert p["admin"] == "drain" and p["up"] is False, p
        _, p = status_pool(srv, svc1, "a")
        adm = {m["address"]: m["admin"] for m in p["members"]}
        assert adm == {"192.0.2.11": "force-down", "192.0.2.12": "none",
                       "192.0.2.13": "force-up"}, p
        text = ctl(srv, "status")
        for word in ("force-down", "force-up", "drain"):
            assert word in text, text
        ex = explain_cli(srv, "192.0.2.200", svc2, as_json=True)
        assert ex["chosen"] == "b" and ex["regions"][0].get("admin") == "drain", ex

    check_overrides(srv)
    wait_for("overrides.state holds the three overrides",
             lambda: all(t in state_file(state, "overrides.state") for t in overrides),
             WAIT, [srv])

    # 1. a clean restart: overrides and health from state_dir, at once
    problems = srv.check_stopped_cleanly()
    assert not problems, "\n".join(problems)
    srv.start()
    srv.admin_address()
    assert addrs(ask(srv, svc1)) == want1, srv.stderr_text()[-3000:]
    assert addrs(ask(srv, svc2)) == want2
    log = srv.stderr_text()
    assert "cold start from last-known health" in log, log[-3000:]
    assert "cold start: waiting" not in log, log[-3000:]
    check_overrides(srv)

    # 2. 192.0.2.12 goes down by its probes and that is saved; kill -9
    be["192.0.2.12"].fail()
    wait_answer(srv, svc1, {"192.0.2.13"}, timeout=FLIP_BOUND + WAIT)
    wait_for("health.state records 192.0.2.12 down",
             lambda: re.search(r"^\S+ a \S+ 192\.0\.2\.12 down ", state_file(state), re.M),
             WAIT, [srv])
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    srv.stop()   # closes the log files; the process is gone
    # its server is healthy again before the restart
    be["192.0.2.12"].ok()
    t_start = time.monotonic()
    srv.start()
    srv.admin_address()
    # the first answers come from the saved state: 12 still out (down,
    # needs `rise` successes), overrides in force
    assert addrs(ask(srv, svc1)) == {"192.0.2.13"}, srv.stderr_text()[-3000:]
    assert addrs(ask(srv, svc2)) == want2
    log = srv.stderr_text()
    assert "cold start from last-known health" in log, log[-3000:]
    assert "cold start: waiting" not in log, log[-3000:]
    _, p = status_pool(srv, svc1, "a")
    m12 = [m for m in p["members"] if m["address"] == "192.0.2.12"][0]
    assert m12["state"] == "down", m12
    check_overrides(srv)
    # fresh probes replace the saved state: 12 is back after `rise`
    wait_answer(srv, svc1, want1, timeout=rise * INTERVAL + TIMEOUT + WAIT)
    took = time.monotonic() - t_start
    srv.wait_log(r'member=192\.0\.2\.12 check=web old=down new=up reason="HTTP 200 x%d"' % rise)
    assert took >= (rise - 1) * INTERVAL - 0.3, \
        "192.0.2.12 answered %.2fs after the restart, before %d successes" % (took, rise)

    # clearing works after all that, and is kept too
    for target in overrides:
        ctl(srv, "clear", target)
    wait_answer(srv, svc1, {"192.0.2.11", "192.0.2.12"}, timeout=5.0)
    wait_answer(srv, svc2, {"192.0.2.31"}, timeout=5.0)
    assert admin_json(srv, "/status")["overrides"] == []


def test_cold_start_without_saved_state(gslbd_factory, backends, tmp_path):
    """No state_dir contents: the daemon waits for one probe round before
    it answers, so the very first answer leaves out the members whose
    servers are down (refused, 503); state_dir is created and the state
    saved."""
    ok, bad = backends(), backends()
    bad.fail()
    web = check_conf("web", "http", expect_body="ok")
    name = "cold.example.test"
    services = [service_conf(name, [
        pool_conf("a", [member_conf("192.0.2.1", ok.url()), member_conf("192.0.2.2", bad.url()),
                        member_conf("192.0.2.3", "http://127.0.0.1:%d/" % closed_port())], "web"),
        pool_conf("b", [member_conf(OTHER)])])]
    state = tmp_path / "state"    # not there yet: gslbd makes it (one level)
    assert not state.exists()
    srv = start(gslbd_factory, state, [web], services, admin=False)
    # the very first query, no polling
    r = ask(srv, name)
    assert addrs(r) == {"192.0.2.1"}, "%s\n%s" % (gslbtest.describe(r), srv.stderr_text())
    log = srv.stderr_text()
    m = re.search(r"cold start: waiting for the first probe round max_wait=([0-9.]+)s", log)
    assert m, log[-3000:]
    assert float(m.group(1)) == pytest.approx(TIMEOUT + 1.0, abs=0.25)  # timeout + 1 s
    assert log.index("cold start: waiting") < log.index(" ready"), log[-3000:]
    assert "cold start from last-known health" not in log
    assert "first probe round not complete" not in log, log[-3000:]
    wait_for("health.state written",
             lambda: re.search(r"192\.0\.2\.2 down ", state_file(state)), WAIT, [srv])
