"""Timed maintenance (issue 16.3): overrides with a start and an end, set
with `gslbctl drain|force-up|force-down TARGET --at TIME --for DURATION`
or `--until TIME`, kept in state_dir (they survive a restart), applied at
their start and gone by themselves at their end (within about a second:
the prober looks at the schedule every second), listed with their times in
`gslbctl status` and /status, and announced by webhook.

One daemon for the module: a service with an unchecked pool in regions a
and b; with no GeoIP data every client goes to the first region in the
config, a, so draining a moves the answer to b.
"""

import os
import time

import pytest

import gslbtest
from gslbtest import ask, addrs, ctl, health_conf, member_conf, pool_conf, service_conf, wait_for
from test_admin import ADMIN_MARK
from webhook_receiver import Receiver, workdir_with_state

SVC = "maint.example.test"
A, B = "192.0.2.41", "198.51.100.41"
WAIT = 15.0 * gslbtest.SLOW


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    work, state = workdir_with_state(tmp_path_factory, "maint")
    rx = Receiver()
    svc = service_conf(SVC, [pool_conf("a", [member_conf(A)]), pool_conf("b", [member_conf(B)])])
    extra = health_conf(str(state), [], [svc])
    extra += 'notify = ( { url = "%s"; events = [ "override", "pool" ]; } );\n' % rx.url()
    srv = gslbtest.start_gslbd(work, workers=1, admin="127.0.0.1:0", extra=extra)
    gslbtest.wait_answer(srv, SVC, [A])
    yield {"srv": srv, "rx": rx, "state": state}
    gslbtest.stop_checked(srv)
    rx.down()


def utc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def answer(srv):
    return addrs(ask(srv, SVC))


def overrides(srv):
    return gslbtest.admin_json(srv, "/status")["overrides"]


def brief(events):
    return [(e["name"], e["from"], e["to"], e["why"]) for e in events]


def test_for_ends_by_itself(env):
    srv, rx = env["srv"], env["rx"]
    rx.take()
    r = ctl(srv, "drain", "region:a", "--for", "2s", check=True)
    t0 = time.time()
    assert "until " in r.stdout, r.stdout
    assert answer(srv) == {B}
    (ov,) = overrides(srv)
    assert ov["target"] == "region:a" and ov["state"] == "drain" and ov["active"] is True
    assert ov["start"] == 0 and abs(ov["end"] - (t0 + 2)) <= 1.5, ov
    st = ctl(srv, "status", check=True).stdout
    assert "region:a" in st and utc(ov["end"]) in st, st
    # Back within about a second of the end.
    wait_for("answers back from a", lambda: answer(srv) == {A}, WAIT, [srv])
    assert time.time() - ov["end"] < 2.0 * gslbtest.SLOW
    assert overrides(srv) == []
    assert "region:a" not in (env["state"] / "overrides.state").read_text()
    wait_for("events", lambda: len(rx.seen("override")) >= 2 and len(rx.seen("pool")) >= 2,
             WAIT, [srv])
    assert brief(rx.seen("override")) == [("region:a", "none", "drain", "set by admin"),
                                           ("region:a", "drain", "none", "scheduled end")]
    assert [e["name"] for e in rx.seen("pool")] == ["pool:%s/a" % SVC] * 2


def test_at_starts_later(env):
    srv, rx = env["srv"], env["rx"]
    rx.take()
    start = int(time.time()) + int(3 * gslbtest.SLOW)
    r = ctl(srv, "force-down", "pool:%s/a" % SVC, "--at", utc(start), "--for", "2s",
            check=True)
    assert "from %s, until %s" % (utc(start), utc(start + 2)) in r.stdout, r.stdout
    (ov,) = overrides(srv)
    assert (ov["start"], ov["end"], ov["active"]) == (start, start + 2, False), ov
    st = ctl(srv, "status", check=True).stdout
    assert "force-down (scheduled)" in st and utc(start) in st and utc(start + 2) in st, st
    assert answer(srv) == {A}  # not yet
    assert gslbtest.admin_json(srv, "/status")["regions"][0]["admin"] == "none"
    wait_for("answers from b", lambda: answer(srv) == {B}, WAIT, [srv])
    assert time.time() >= start and time.time() - start < 2.0 * gslbtest.SLOW
    wait_for("answers from a again", lambda: answer(srv) == {A}, WAIT, [srv])
    assert time.time() - (start + 2) < 2.0 * gslbtest.SLOW
    wait_for("events", lambda: len(rx.seen("override")) >= 2, WAIT, [srv])
    pool = "pool:%s/a" % SVC
    assert brief(rx.seen("override")) == [(pool, "none", "force-down", "scheduled start"),
                                           (pool, "force-down", "none", "scheduled end")]


@pytest.mark.parametrize("args,message", [
    (["--for", "0"], "the duration must be more than 0"),
    (["--for", "0s"], "the duration must be more than 0"),
    (["--for", "2x"], "expected a duration"),
    (["--until", "2001-01-01T00:00Z"], "is in the past"),
    (["--until", "tomorrow"], "expected a UTC time"),
    (["--until", "2026-02-30T00:00Z"], "expected a UTC time"),
    (["--at", "2001-01-01T00:00Z", "--until", "2001-01-02T00:00Z"], "is in the past"),
    (["--for", "36500d"], '--for "36500d": at most 3660 days (10 years)'),
    (["--for", "99999999999"], "at most 3660 days"),
    (["--for", "1h", "30m"], "durations have no spaces: 1h30m"),
    (["--for", "1h", "--for", "2h"], '--for given twice ("1h", "2h")'),
    (["--at", "2999-01-01T06:00Z", "--at", "2999-01-01T07:00Z"], "--at given twice"),
    (["--at", "2999-01-01T06:00Z", "--until", "2999-01-01T05:00Z"], "is not after --at"),
    (["--for", "1h", "--until", "2999-01-01T05:00Z"], "not both"),
])
def test_bad_times_are_refused(env, args, message):
    srv = env["srv"]
    r = ctl(srv, "drain", "region:a", *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr, r.stderr
    assert overrides(srv) == []


def test_bad_times_at_the_api(env):
    srv = env["srv"]
    for q, message in [("&end=1", "is not in the future"),
                       ("&start=%d&end=%d" % (time.time() + 99, time.time() + 50),
                        "the end must come after the start"),
                       ("&end=soon", "unix times")]:
        st, _, body = gslbtest.admin_request(
            srv, "POST", "/override?action=drain&target=region:a" + q, headers=ADMIN_MARK)
        assert st == 400 and message in body, (q, st, body)
    r = ctl(srv, "clear", "region:a", "--for", "1h")
    assert r.returncode == 2 and "go with drain" in r.stderr, r.stderr
    assert overrides(srv) == []


def test_at_in_the_past_is_now(env):
    """gslbctl and the API agree: a start in the past means now."""
    srv = env["srv"]
    r = ctl(srv, "drain", "region:a", "--at", "2001-01-01T00:00Z", "--for", "1h", check=True)
    assert '--at "2001-01-01T00:00Z" is in the past: starting now' in r.stderr, r.stderr
    (ov,) = overrides(srv)
    assert ov["active"] is True and ov["start"] == 0, ov
    assert abs(ov["end"] - (time.time() + 3600)) <= 5, ov
    ctl(srv, "clear", "region:a", check=True)
    st, _, body = gslbtest.admin_request(
        srv, "POST", "/override?action=drain&target=region:a&start=1000000000&end=%d"
        % (time.time() + 3600), headers=ADMIN_MARK)
    assert st == 200, body
    (ov,) = overrides(srv)
    assert ov["active"] is True and ov["start"] == 0, ov
    ctl(srv, "clear", "region:a", check=True)
    assert overrides(srv) == []


def test_replaced_by_a_scheduled_override(env):
    """A drain in force replaced by one that starts later ends at once, and
    the webhook says why."""
    srv, rx = env["srv"], env["rx"]
    rx.take()
    ctl(srv, "drain", "region:a", check=True)
    ctl(srv, "drain", "region:a", "--at", utc(time.time() + 3600), check=True)
    (ov,) = overrides(srv)
    assert ov["active"] is False, ov
    wait_for("events", lambda: len(rx.seen("override")) >= 2, WAIT, [srv])
    assert brief(rx.seen("override")) == [
        ("region:a", "none", "drain", "set by admin"),
        ("region:a", "drain", "none", "replaced by a scheduled override")]
    ctl(srv, "clear", "region:a", check=True)
    assert overrides(srv) == []


def test_kept_across_a_restart(env):
    srv = env["srv"]
    now = int(time.time())
    ctl(srv, "drain", "region:b", "--until", utc(now + 3600), check=True)
    ctl(srv, "force-up", "pool:%s/a" % SVC, "--at", utc(now + 1800), "--for", "1h", check=True)
    ctl(srv, "force-down", "region:a", "--for", "2s", check=True)
    before = {o["target"]: (o["state"], o["start"], o["end"]) for o in overrides(srv)}
    assert len(before) == 3
    assert srv.stop() == 0
    time.sleep(2.5)  # region:a's force-down ends while gslbd is stopped
    srv.start()
    after = {o["target"]: (o["state"], o["start"], o["end"]) for o in overrides(srv)}
    del before["region:a"]
    assert after == before
    assert answer(srv) == {A}
    for t in ("region:b", "pool:%s/a" % SVC):
        ctl(srv, "clear", t, check=True)
    assert overrides(srv) == []
