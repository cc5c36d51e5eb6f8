"""Webhooks (issue 16.2): a JSON POST per state change to each receiver in
`notify`, sent by the prober's curl multi, in order, retried with backoff,
from a bounded queue that drops its oldest events when full (counted in
gslb_notify_dropped_total).

One daemon for the module, with three receivers: `rx` takes every event (and
a secret header that must never reach the log); `rq` (named "rq") takes
override events only, with a queue of 3 and retries every 0.3 s at most, and
starts down; `rt` takes reload events over https. The metrics count per
receiver (label `receiver`: its name, by default the URL's host:port).
"""

import json
import time

import pytest

import gslbtest
from gslbtest import (HttpBackend, check_conf, checked_service_conf, ctl, health_conf,
                      member_conf, wait_for)
from webhook_receiver import Receiver, workdir_with_state

SVC = "hook.example.test"
SECRET = "s3cret-token-never-logged"
WAIT = 15.0 * gslbtest.SLOW
FIELDS = {"what", "name", "from", "to", "why", "when", "node", "seq"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    work, state = workdir_with_state(tmp_path_factory, "webhooks")
    backend = HttpBackend()
    rx = Receiver()
    rq = Receiver(start=False)
    cert, key = gslbtest.self_signed(work, "rx", "127.0.0.1", san="IP:127.0.0.1")
    rt = Receiver(tls=(cert, key))
    check = check_conf("web", "http", port=backend.port, path="/healthz", interval=0.5,
                       timeout=0.3, rise=1, fall=1)
    extra = health_conf(str(state), [check],
                        [checked_service_conf(SVC, "web", [member_conf("127.0.0.1")])])
    extra += """notify = (
  { url = "%s"; headers = [ "Authorization: Bearer %s" ]; },
  { url = "%s"; name = "rq"; events = [ "override" ]; queue = 3; retry_max = 0.3; },
  { url = "%s"; events = [ "reload" ]; ca_file = "%s"; }
);
""" % (rx.url(), SECRET, rq.url(), rt.url(), cert)
    srv = gslbtest.start_gslbd(work, workers=1, admin="127.0.0.1:0", extra=extra)
    member = "member:%s/a/127.0.0.1" % SVC
    wait_for("the member probed up",
             lambda: '"state":"up"' in json.dumps(gslbtest.admin_json(srv, "/status"),
                                                 separators=(",", ":")),
             WAIT, [srv])
    yield {"srv": srv, "backend": backend, "rx": rx, "rq": rq, "rt": rt, "member": member}
    gslbtest.stop_checked(srv)
    assert SECRET not in srv.stderr_text()
    backend.close()
    rx.down()
    rq.down()
    rt.down()


def wait_events(rx, n, what=None, servers=()):
    def got():
        got.last = rx.seen(what)
        return len(got.last) >= n
    wait_for("%d %s events" % (n, what or "webhook"), got, WAIT, servers)
    return rx.seen(what)


def brief(events):
    return [(e["what"], e["name"], e["from"], e["to"]) for e in events]


def test_member_failing_then_recovering(env):
    srv, rx, backend, member = env["srv"], env["rx"], env["backend"], env["member"]
    rx.take()
    backend.fail()
    wait_events(rx, 1, "region", [srv])
    backend.ok()
    wait_events(rx, 2, "region", [srv])
    ev = rx.take()
    pool, region = "pool:%s/a" % SVC, "region:a"
    # The member's two changes, each followed by the pool's and the region's
    # (the region has this one pool).
    assert brief(ev) == [("member", member, "up", "down"), ("pool", pool, "up", "down"),
                         ("region", region, "up", "down"), ("member", member, "down", "up"),
                         ("pool", pool, "down", "up"), ("region", region, "down", "up")], ev
    for e in ev:
        assert set(e) == FIELDS, e
        assert e["when"].endswith("Z") and e["node"]
    assert [e["seq"] for e in ev] == sorted(e["seq"] for e in ev)
    assert "503" in ev[0]["why"]
    # The receiver was sent the configured header.
    assert all(SECRET not in json.dumps(e) for e in ev)


def test_header_is_sent(env):
    rx, srv = env["rx"], env["srv"]
    rx.take()
    ctl(srv, "drain", "region:b", check=True)
    ctl(srv, "clear", "region:b", check=True)
    wait_events(rx, 2, "region", [srv])
    with rx.lock:
        hdrs = list(rx.headers)
    assert hdrs and all(h.get("authorization") == "Bearer " + SECRET for h in hdrs)
    assert all(h.get("content-type") == "application/json" for h in hdrs)


def test_override_events(env):
    srv, rx = env["srv"], env["rx"]
    rx.take()
    ctl(srv, "drain", "pool:%s/b" % SVC, check=True)
    wait_events(rx, 1, "region", [srv])
    ctl(srv, "clear", "pool:%s/b" % SVC, check=True)
    wait_events(rx, 2, "region", [srv])
    ev = rx.take()
    pool = "pool:%s/b" % SVC
    assert brief(ev) == [("override", pool, "none", "drain"), ("pool", pool, "up", "down"),
                         ("region", "region:b", "up", "down"),
                         ("override", pool, "drain", "none"), ("pool", pool, "down", "up"),
                         ("region", "region:b", "down", "up")], ev
    assert ev[0]["why"] == "set by admin" and ev[3]["why"] == "cleared by admin"


def test_reload_event(env):
    srv, rx = env["srv"], env["rx"]
    rx.take()
    ctl(srv, "reload", check=True)
    ev = wait_events(rx, 1, "reload", [srv])
    assert brief(ev) == [("reload", "config", "1", "2")], ev
    # Over https, verified against ca_file.
    ev = wait_events(env["rt"], 1, "reload", [srv])
    assert brief(ev) == [("reload", "config", "1", "2")], ev


def test_https_receiver_is_verified(gslbd_factory, tmp_path):
    """Without ca_file, a receiver whose certificate the system's CAs did
    not sign gets nothing: the POST fails (and is retried)."""
    cert, key = gslbtest.self_signed(tmp_path, "rt", "127.0.0.1", san="IP:127.0.0.1")
    rt = Receiver(tls=(cert, key))
    try:
        svc = gslbtest.service_conf("v.example.test",
                                    [gslbtest.pool_conf("a", [member_conf("192.0.2.9")])])
        extra = health_conf(str(tmp_path), [], [svc])
        extra += 'notify = ( { url = "%s"; events = [ "reload" ]; } );\n' % rt.url()
        srv = gslbd_factory(workers=1, admin="127.0.0.1:0", extra=extra)
        ctl(srv, "reload", check=True)
        wait_for("the POST failed", lambda: "webhook failed, will retry url=%s" % rt.url()
                 in srv.stderr_text(), WAIT, [srv])
        assert "certificate" in srv.stderr_text()
        assert rt.seen() == []
    finally:
        rt.down()


def toggle(srv, n):
    """n override events: force-down and clear of region b's member, in turn."""
    target = "member:%s/b/%s" % (SVC, gslbtest.FALLBACK)
    for i in range(n):
        ctl(srv, "clear" if i % 2 else "force-down", target, check=True)


def metric(srv, family, receiver="rq"):
    return srv.metrics().get('%s{receiver="%s"}' % (family, receiver), 0)


def dropped(srv):
    return metric(srv, "gslb_notify_dropped_total")


def test_receiver_down_loses_nothing_until_the_bound(env):
    srv, rq = env["srv"], env["rq"]
    # What earlier tests queued for rq (down since the start) goes first.
    rq.up()
    wait_for("the queue emptied", lambda: metric(srv, "gslb_notify_queued") == 0, WAIT, [srv])
    rq.take()
    rq.down()
    d0 = dropped(srv)
    failed0 = metric(srv, "gslb_notify_failed_total")
    # rq is down: one event is being retried, three wait (queue = 3).
    toggle(srv, 4)
    wait_for("retries fail", lambda: metric(srv, "gslb_notify_failed_total") > failed0 + 6,
             WAIT, [srv])
    # 4 wait for rq (rx, up, empties its own queue)
    wait_for("4 events queued", lambda: metric(srv, "gslb_notify_queued") == 4, WAIT, [srv])
    assert dropped(srv) == d0
    rq.up()
    ev = wait_events(rq, 4, "override", [srv])
    assert [(e["from"], e["to"]) for e in ev] == [("none", "force-down"),
                                                 ("force-down", "none")] * 2
    assert [e["seq"] for e in ev] == sorted(e["seq"] for e in ev)
    assert dropped(srv) == d0
    rq.take()
    # Down again: 7 events, 4 fit (one in retry, 3 waiting); the oldest
    # waiting 3 are dropped, the newest arrive in order once it is back.
    rq.down()
    toggle(srv, 7)
    wait_for("drops counted", lambda: dropped(srv) == d0 + 3, WAIT, [srv])
    sent0 = metric(srv, "gslb_notify_sent_total")
    rq.up()
    ev = wait_events(rq, 4, "override", [srv])
    assert [(e["from"], e["to"]) for e in ev] == [("none", "force-down"),
                                                 ("none", "force-down"),
                                                 ("force-down", "none"),
                                                 ("none", "force-down")], ev
    assert [e["seq"] for e in ev] == sorted(e["seq"] for e in ev)
    wait_for("sent counted", lambda: metric(srv, "gslb_notify_sent_total") >= sent0 + 4,
             WAIT, [srv])
    assert dropped(srv) == d0 + 3
    # Rate-limited: one line per failing period (three here, the first
    # since the start), however many retries failed.
    log = srv.stderr_text()
    lines = log.count("webhook failed, will retry")
    assert 1 <= lines <= 3, "\n".join(l for l in log.splitlines() if "webhook" in l)
    assert metric(srv, "gslb_notify_failed_total") > lines + 5
    assert log.count("webhook delivered again") == lines
    ctl(srv, "clear", "member:%s/b/%s" % (SVC, gslbtest.FALLBACK))


def test_metrics_per_receiver(env):
    """Each receiver has its own series: rq's failures are not rx's."""
    srv, rx = env["srv"], env["rx"]
    rxname = "127.0.0.1:%d" % rx.port  # the default: the URL's host:port
    m = srv.metrics()
    assert m['gslb_notify_failed_total{receiver="rq"}'] > 0
    assert m['gslb_notify_failed_total{receiver="%s"}' % rxname] == 0
    assert m['gslb_notify_sent_total{receiver="%s"}' % rxname] > 0
    assert m['gslb_notify_dropped_total{receiver="%s"}' % rxname] == 0
    assert m['gslb_notify_queued{receiver="127.0.0.1:%d"}' % env["rt"].port] == 0
    assert not any(k.startswith("gslb_notify_") and "{" not in k for k in m), m


@pytest.mark.parametrize("entry,message", [
    ('{ url = "ftp://h.example/x"; }', 'expected an http:// or https:// URL'),
    ('{ url = "https:///x"; }', "the URL has no host"),
    ('{ url = "https://h.example/x"; events = [ "pools" ]; }', 'unknown event "pools"'),
    ('{ url = "https://h.example/x"; events = [ ]; }', "give at least one event"),
    ('{ url = "https://h.example/x"; headers = [ "Bearer %s" ]; }' % SECRET,
     'expected "Name: value" (header 1)'),
    ('{ url = "https://h.example/x"; queue = 0; }', "queue"),
    ('{ events = [ "pool" ]; }', "url"),
    ('{ url = "https://h.example/x"; name = "a b"; }', "without spaces, quotes"),
    ('{ url = "https://h.example/x"; name = "a"; }, { url = "https://i.example/"; name = "a"; }',
     '"a" names another receiver too (line'),
    (", ".join(['{ url = "https://h.example/x"; }'] * 17),
     "17 receivers: gslbd sends to 16 webhook receivers at most"),
])
def test_bad_notify_is_refused(tmp_path, entry, message):
    conf = tmp_path / "gslb.conf"
    conf.write_text(gslbtest.gslbd_config(str(tmp_path), extra="notify = ( %s );\n" % entry))
    r = gslbtest.run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode != 0
    assert "gslb.conf:" in r.stderr and message in r.stderr, r.stderr
    assert SECRET not in r.stderr


def test_cluster_events(etcd_factory, gslbd_factory, tmp_path):
    """A node of the cluster leaving (its lease ends) and coming back: two
    cluster events on the other node's receiver."""
    etcd = etcd_factory(1)
    rc = Receiver()
    svc = gslbtest.service_conf("cl.example.test",
                                [gslbtest.pool_conf("a", [member_conf("192.0.2.9")])])

    def conf(node, notify):
        state = tmp_path / node
        state.mkdir(mode=0o750)
        extra = health_conf(str(state), [], [svc])
        extra += ('cluster = { name = "t"; node = "%s"; etcd = [ %s ]; lease_ttl = 2; };\n'
                  % (node, ", ".join('"%s"' % e for e in etcd.endpoints())))
        if notify:
            extra += 'notify = ( { url = "%s"; events = [ "cluster" ]; } );\n' % rc.url()
        return dict(workers=1, admin="127.0.0.1:0", extra=extra)

    try:
        n1 = gslbd_factory(**conf("n1", True))
        n2 = gslbd_factory(**conf("n2", False))

        def live():
            nodes = gslbtest.admin_json(n1, "/status")["cluster"]["nodes"]
            return sorted(n["name"] for n in nodes if n["live"])
        wait_for("n1 sees n2", lambda: live() == ["n1", "n2"], WAIT, [n1, n2])
        time.sleep(1.5)  # n1 took its first look (n2 joining then may be announced)
        n2.stop()

        def since_stop():
            ev = rc.seen("cluster")
            downs = [i for i, e in enumerate(ev) if e["to"] == "down"]
            since_stop.last = brief(ev)
            return ev[downs[0]:] if downs else []
        wait_for("n2 announced down", since_stop, WAIT, [n1])
        n2.start()
        wait_for("n2 announced up", lambda: len(since_stop()) >= 2, WAIT, [n1])
        ev = since_stop()
        assert brief(ev) == [("cluster", "node:n2", "up", "down"),
                             ("cluster", "node:n2", "down", "up")], ev
        assert ev[0]["node"] == "n1" and ev[0]["why"] == "its lease ended"
    finally:
        rc.down()
