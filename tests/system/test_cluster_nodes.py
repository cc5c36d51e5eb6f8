"""Three gslbd nodes in a cluster on a real 3-member etcd (issue 13).

One etcd cluster, one health server and three nodes for the whole module:
n1, n2 and n3 probe the same member (192.0.2.1, region a) from 127.0.0.11,
.12 and .13 (`source`), and the health server fails the requests of the
sources a test names, so nodes can disagree. Region b (FALLBACK) is
unchecked: with no GeoIP database every client tries a, then b.

quorum = 2 of the live nodes, lease_ttl = 2 s, checks every 0.3 s with
fall 2: a test that waits for a change waits at most a few seconds.
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402

import gslbtest  # noqa: E402
from gslbtest import FALLBACK, wait_answer, wait_for  # noqa: E402

NAME = "c.example.test"
MEMBER = "192.0.2.1"
LEASE_TTL = 2
INTERVAL, TIMEOUT, RISE, FALL = 0.3, 0.2, 1, 2
SOURCES = {"n1": "127.0.0.11", "n2": "127.0.0.12", "n3": "127.0.0.13"}
# a member's change seen by the probes, then spread through etcd
FLIP = FALL * INTERVAL + TIMEOUT + 2.0


def node_config(workdir, node, endpoints, backend, quorum=2, probe_share=0):
    check = gslbtest.check_conf("web", "http", interval=INTERVAL, timeout=TIMEOUT, rise=RISE,
                                fall=FALL, source=SOURCES[node])
    svc = gslbtest.checked_service_conf(NAME, "web",
                                        [gslbtest.member_conf(MEMBER, backend.url())])
    state = os.path.join(workdir, "state")
    os.makedirs(state, exist_ok=True)
    extra = gslbtest.health_conf(state, [check], [svc])
    extra += ('cluster = { name = "t"; node = "%s"; etcd = [ %s ]; quorum = %s; '
              'lease_ttl = %d; probe_share = %d; };\n'
              % (node, ", ".join('"%s"' % e for e in endpoints), quorum, LEASE_TTL, probe_share))
    return gslbtest.gslbd_config(workdir, admin="127.0.0.1:0", extra=extra)


class Cluster:
    def __init__(self, tmp_path_factory, etcd, backend):
        self.tmp = tmp_path_factory
        self.etcd = etcd
        self.backend = backend
        self.nodes = {}
        self.retired = []
        self.conf = {}  # node_config's keywords the nodes run with

    def start(self, node):
        workdir = str(self.tmp.mktemp(node))
        srv = gslbtest.Gslbd(workdir, config_text=node_config(
            workdir, node, self.etcd.endpoints(), self.backend, **self.conf))
        srv.start()
        self.nodes[node] = srv
        return srv

    def all(self):
        return [self.nodes[n] for n in sorted(self.nodes)]

    def reload(self, nodes=None, endpoints=None, **kw):
        """Rewrite the config of nodes (default: all) with kw and SIGHUP
        them; wait until each has restarted its cluster part."""
        if nodes is None:
            nodes = sorted(self.nodes)
            self.conf = kw
        before = {}
        for n in list(nodes):
            srv = self.nodes[n]
            before[n] = srv.stderr_text().count("cluster group changed at reload")
            text = node_config(srv.workdir, n, endpoints or self.etcd.endpoints(),
                               self.backend, **kw)
            with open(srv.config_path) as f:
                if f.read() == text:
                    nodes.remove(n)
                    continue
            with open(srv.config_path, "w") as f:
                f.write(text)
            srv.proc.send_signal(signal.SIGHUP)
        for n in nodes:
            srv = self.nodes[n]
            wait_for("%s reloaded its cluster group" % n,
                     lambda srv=srv, n=n: srv.stderr_text().count(
                         "cluster group changed at reload") > before[n], 10, [srv])

    def status(self, node):
        return gslbtest.admin_json(self.nodes[node], "/status")["cluster"]

    def member(self, node):
        for m in self.status(node)["members"]:
            if m["member"].startswith(NAME + "/a/"):
                return m
        return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    gslbtest.require_etcd()
    etcd = gslbtest.EtcdCluster(str(tmp_path_factory.mktemp("etcd")), 3).start()
    backend = gslbtest.HttpBackend()
    c = Cluster(tmp_path_factory, etcd, backend)
    try:
        for n in ("n1", "n2", "n3"):
            c.start(n)
        for n in c.nodes:
            wait_for("%s sees 3 live nodes" % n,
                     lambda n=n: len([x for x in c.status(n)["nodes"] if x["live"]]) == 3,
                     15, c.all())
        yield c
    finally:
        try:
            gslbtest.stop_checked(*(c.all() + c.retired))
        finally:
            backend.close()
            etcd.stop()


def answers_all(c, want, timeout=FLIP):
    for srv in c.all():
        wait_answer(srv, NAME, want, timeout)


def stays(c, want, seconds):
    """Every node answers want for `seconds` (probes keep running)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for srv in c.all():
            got = gslbtest.addrs(gslbtest.ask(srv, NAME))
            assert got == frozenset(want), "%s answered %s\n%s" % (
                srv.workdir, got, gslbtest.log_tail(srv))
        time.sleep(0.1)


def fail_from(c, *nodes):
    c.backend.failing_sources = {SOURCES[n] for n in nodes}


def test_joined_and_status(cluster):
    answers_all(cluster, {MEMBER})
    st = cluster.status("n1")
    assert st["node"] == "n1" and st["degraded"] is False and st["quorum"] == "2"
    assert sorted(x["name"] for x in st["nodes"]) == ["n1", "n2", "n3"]
    assert all(x["lease"] != "0" and x["ttl"] == LEASE_TTL for x in st["nodes"])
    m = wait_for("n1 has every node's verdict",
                 lambda: (cluster.member("n1") or {}).get("probers") == 3, 10)[0]
    assert m is not None
    metrics = cluster.nodes["n1"].metrics()
    assert metrics["gslb_cluster_nodes"] == 3
    assert metrics["gslb_cluster_degraded"] == 0
    assert metrics['gslb_cluster_members{verdict="up"}'] == 1
    st = cluster.status("n1")
    assert st["quorum_effective"] == 2 and st["live_nodes"] == 3, st
    out = gslbtest.ctl(cluster.nodes["n1"], "status", check=True).stdout
    assert "cluster t: node n1, quorum 2, probe_share 0" in out, out


def test_one_node_sees_down_nobody_moves(cluster):
    fail_from(cluster, "n1")
    try:
        def seen():
            m = cluster.member("n2")
            seen.last = m
            return m and m["down_votes"] == 1 and m["down_by"] == "n1"
        wait_for("n2 sees n1's down verdict", seen, FLIP, cluster.all())
        assert cluster.member("n2")["text"] == "up; down by 1 of 3 nodes: n1"
        stays(cluster, {MEMBER}, 1.5)
        assert cluster.nodes["n1"].metrics()['gslb_cluster_members{verdict="disputed"}'] == 1
    finally:
        fail_from(cluster)
    answers_all(cluster, {MEMBER})


def test_two_nodes_see_down_all_move(cluster):
    fail_from(cluster, "n1", "n2")
    try:
        answers_all(cluster, {FALLBACK})
        m = cluster.member("n3")
        assert m["verdict"] == "down" and m["text"] == "down by 2 of 3 nodes: n1, n2", m
        # status and explain tell why, on the node that sees it up itself
        r = gslbtest.ctl(cluster.nodes["n3"], "status", check=True)
        assert "member %s/a/%s: down by 2 of 3 nodes: n1, n2" % (NAME, MEMBER) in r.stdout, \
            r.stdout
        r = gslbtest.ctl(cluster.nodes["n3"], "explain", "198.51.100.7", NAME, check=True)
        assert "cluster: %s: down by 2 of 3 nodes: n1, n2" % MEMBER in r.stdout, r.stdout
        ex = gslbtest.admin_json(cluster.nodes["n3"],
                                 "/explain?address=198.51.100.7&name=" + NAME)
        assert ex["regions"][0]["cluster"] == ["%s: down by 2 of 3 nodes: n1, n2" % MEMBER]
    finally:
        fail_from(cluster)
    answers_all(cluster, {MEMBER})
    # n3 logs the vote that took the member down, then up
    log = cluster.nodes["n3"].stderr_text()
    assert "cluster t: member %s/a/%s down by the cluster vote: 2 of 3 probing nodes say down, " \
        "quorum 2 node=n3" % (NAME, MEMBER) in log, log[-3000:]
    assert "member %s/a/%s up by the cluster vote" % (NAME, MEMBER) in log, log[-3000:]


def test_drain_through_one_node_reaches_the_others(cluster):
    answers_all(cluster, {MEMBER})
    gslbtest.ctl(cluster.nodes["n1"], "drain", "region:a", check=True)
    t0 = time.monotonic()
    try:
        for n in ("n2", "n3"):
            wait_answer(cluster.nodes[n], NAME, {FALLBACK}, 3)
        took = time.monotonic() - t0
        assert took <= 1.0, "drain reached n2 and n3 in %.2fs" % took
        # etcd holds it: a node's status lists it
        ov = gslbtest.admin_json(cluster.nodes["n3"], "/status")["overrides"]
        assert [o["target"] for o in ov] == ["region:a"], ov
        assert cluster.etcd.get("/gslb/t/overrides/region:a") is not None
    finally:
        gslbtest.ctl(cluster.nodes["n2"], "clear", "region:a", check=True)
    answers_all(cluster, {MEMBER}, 3)
    log = cluster.nodes["n3"].stderr_text()
    assert "cluster t: override region:a drain from node n1 (through etcd) node=n3" in log, log
    assert "cluster t: override region:a cleared (through etcd) node=n3" in log, log
    assert "override region:a drain from node" not in cluster.nodes["n1"].stderr_text()


# What anyone with write access to the prefix could put there: none of it
# may crash a node or change an answer.
GARBAGE = ["garbage", "", "{", "[1]", "null", '{"state":7}', '{"state":null}',
           '{"state":"clear"}', '{"state":"drain","end":-1}', '{"state":"drain","since":"x"}',
           '{"state":"drain","start":20,"end":10}', '{"ttl":"10"}', '{"ttl":-3}']
GARBAGE_KEYS = ["overrides/region:a", "overrides/pool:%s/a/p" % NAME, "overrides/bogus:x",
                "overrides/member:%s/a/%s" % (NAME, MEMBER), "nodes/ghost", "nodes/bad name",
                "nodes/", "verdicts/ghost/%s/a/%s" % (NAME, MEMBER), "verdicts/", "verdicts/x",
                "other"]


def test_garbage_in_etcd_is_ignored_nodes_keep_serving(cluster):
    answers_all(cluster, {MEMBER})
    ignored0 = cluster.nodes["n1"].metrics().get("gslb_cluster_ignored_values_total", 0)
    try:
        for value in GARBAGE:
            for key in GARBAGE_KEYS:
                cluster.etcd.put("/gslb/t/" + key, value)
        # the last value of each key, read at startup (a full range) by a
        # node that restarts
        n3 = cluster.nodes.pop("n3")
        gslbtest.stop_checked(n3)
        cluster.retired.append(n3)
        cluster.start("n3")
        wait_for("n3 sees 3 live nodes",
                 lambda: len([x for x in cluster.status("n3")["nodes"] if x["live"]]) == 3,
                 15, cluster.all())
        stays(cluster, {MEMBER}, 1.0)
        for n in cluster.nodes:
            st = gslbtest.admin_json(cluster.nodes[n], "/status")
            assert st["overrides"] == [], st["overrides"]
            live = sorted(x["name"] for x in st["cluster"]["nodes"] if x["live"])
            assert live == ["n1", "n2", "n3"], st["cluster"]["nodes"]
            assert cluster.nodes[n].alive()
        m = cluster.nodes["n1"].metrics()
        assert m["gslb_cluster_ignored_values_total"] > ignored0
        log = cluster.nodes["n1"].stderr_text()
        assert "key /gslb/t/overrides/region:a: not understood, ignored" in log
        # rate-limited: not one line per bad value
        assert log.count("not understood, ignored") <= 3, log
        # the cluster still works: a drain goes through
        gslbtest.ctl(cluster.nodes["n1"], "drain", "region:a", check=True)
        answers_all(cluster, {FALLBACK}, 3)
        gslbtest.ctl(cluster.nodes["n1"], "clear", "region:a", check=True)
        answers_all(cluster, {MEMBER}, 3)
        # a valid override that garbage overwrites stops being in force
        gslbtest.ctl(cluster.nodes["n1"], "drain", "region:a", check=True)
        answers_all(cluster, {FALLBACK}, 3)
        cluster.etcd.put("/gslb/t/overrides/region:a", '{"state":7}')
        answers_all(cluster, {MEMBER}, 3)
    finally:
        for key in GARBAGE_KEYS:
            cluster.etcd.delete("/gslb/t/" + key)
    answers_all(cluster, {MEMBER})


def test_duplicate_node_name_refused_and_own_key_healed(cluster):
    n1_key = cluster.etcd.get("/gslb/t/nodes/n1")
    assert n1_key is not None
    workdir = str(cluster.tmp.mktemp("dup-n1"))
    dup = gslbtest.Gslbd(workdir, config_text=node_config(
        workdir, "n1", cluster.etcd.endpoints(), cluster.backend, **cluster.conf))
    dup.start()
    try:
        wait_for("the second n1 refuses to join",
                 lambda: "is in use by another live node" in dup.stderr_text(), 10, [dup])
        st = gslbtest.admin_json(dup, "/status")["cluster"]
        assert st["name_taken"] and not st["joined"] and st["degraded"], st
        assert dup.metrics()["gslb_cluster_degraded"] == 1
        out = gslbtest.ctl(dup, "status", check=True).stdout
        assert "cluster: not joined since" in out, out
        # not joined: no lease or TTL to show, not "0" and "0s"
        row = [x for x in out.splitlines() if x.endswith("(this node)")][0]
        assert row.split()[1:4] == ["yes", "-", "-"], row
        # the real n1 keeps its key
        assert cluster.etcd.get("/gslb/t/nodes/n1") == n1_key
    finally:
        gslbtest.stop_checked(dup)
    time.sleep(0.5)
    assert cluster.etcd.get("/gslb/t/nodes/n1") == n1_key
    assert len([x for x in cluster.status("n2")["nodes"] if x["live"]]) == 3
    # a node key deleted by hand: n1 writes it again at once
    cluster.etcd.delete("/gslb/t/nodes/n1")
    wait_for("n1 rewrote its node key", lambda: cluster.etcd.get("/gslb/t/nodes/n1"), 3,
             cluster.all())
    for n in cluster.nodes:
        wait_for("%s sees 3 live nodes" % n,
                 lambda n=n: len([x for x in cluster.status(n)["nodes"] if x["live"]]) == 3,
                 3, cluster.all())
    assert "our node key was deleted; joining again" in cluster.nodes["n1"].stderr_text()
    answers_all(cluster, {MEMBER})


def etcd_events(cluster, prefix, since):
    """Every change under prefix from revision `since` (tests/etcd_client):
    lines "PUT|DELETE key=value rev=N lease=L"."""
    import subprocess
    r = subprocess.run([os.path.join(gslbtest.BUILDDIR, "tests", "etcd_client"),
                        ",".join(cluster.etcd.endpoints()), "watch", prefix, str(since),
                        "100000", "1500"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return [x for x in r.stdout.splitlines() if x.startswith(("PUT ", "DELETE "))]


def test_reload_of_one_node_no_flip_on_the_others(cluster):
    """n1 and n2 see the member down (quorum 2 of 3): a reload that changes
    n1's cluster block must not delete n1's node key or verdicts, not even
    for a moment (the others would count one down vote less); the old
    lease stays until n1 has written them under its new one."""
    fail_from(cluster, "n1", "n2")
    try:
        answers_all(cluster, {FALLBACK})
        rev = int(cluster.etcd.request("/v3/kv/range", {"key": "eA=="})["header"]["revision"])
        cluster.reload(nodes=["n1"], quorum='"majority"')
        stays(cluster, {FALLBACK}, LEASE_TTL + 1.0)
        events = etcd_events(cluster, "/gslb/t/", rev + 1)
        assert any(e.startswith("PUT /gslb/t/nodes/n1=") for e in events), events
        gone = [e for e in events if e.startswith(("DELETE /gslb/t/nodes/n1=",
                                                   "DELETE /gslb/t/verdicts/n1/"))]
        assert gone == [], events
        assert "took the node key over" in cluster.nodes["n1"].stderr_text()
        assert len([x for x in cluster.status("n2")["nodes"] if x["live"]]) == 3
    finally:
        fail_from(cluster)
        cluster.reload(nodes=["n1"], **cluster.conf)
    answers_all(cluster, {MEMBER})


def test_one_etcd_member_killed_nothing_changes(cluster):
    cluster.etcd.kill(0)
    try:
        stays(cluster, {MEMBER}, 1.0)
        fail_from(cluster, "n1", "n3")
        answers_all(cluster, {FALLBACK})
        fail_from(cluster)
        answers_all(cluster, {MEMBER})
        for n in cluster.nodes:
            assert cluster.status(n)["degraded"] is False
    finally:
        fail_from(cluster)
        cluster.etcd.restart(0)


def test_all_etcd_killed_serving_goes_on_then_recovers(cluster):
    etcd = cluster.etcd
    for i in range(3):
        etcd.kill(i)
    try:
        for srv in cluster.all():
            srv.wait_log(r"cluster t: degraded: etcd unreachable", 10)
        stays(cluster, {MEMBER}, 1.0)
        st = cluster.status("n1")
        assert st["degraded"] is True and st["degraded_since"] > 0
        r = gslbtest.ctl(cluster.nodes["n1"], "status")
        assert "cluster: degraded since " in r.stdout, r.stdout
        metrics = cluster.nodes["n1"].metrics()
        assert metrics["gslb_cluster_degraded"] == 1
        assert metrics["gslb_cluster_etcd_errors_total"] > 0
        # an override cannot be made cluster-wide: refused, not local
        r = gslbtest.ctl(cluster.nodes["n1"], "drain", "region:a")
        assert r.returncode != 0
        assert "etcd unreachable: the override was not applied" in r.stderr + r.stdout
        # remote verdicts expire with their leases as known here: then
        # each node decides alone (quorum capped at the live probers)
        fail_from(cluster, "n1")
        wait_answer(cluster.nodes["n1"], NAME, {FALLBACK}, FLIP + LEASE_TTL)
        wait_answer(cluster.nodes["n2"], NAME, {MEMBER}, 1)
        fail_from(cluster)
    finally:
        fail_from(cluster)
        etcd.restart_all()
    for n in cluster.nodes:
        wait_for("%s rejoined" % n, lambda n=n: cluster.status(n)["degraded"] is False, 15,
                 cluster.all())
        cluster.nodes[n].wait_log(r"cluster t: etcd reachable again", 5)
    answers_all(cluster, {MEMBER})
    gslbtest.ctl(cluster.nodes["n1"], "drain", "region:a", check=True)
    answers_all(cluster, {FALLBACK}, 3)
    gslbtest.ctl(cluster.nodes["n1"], "clear", "region:a", check=True)
    answers_all(cluster, {MEMBER}, 3)


def test_etcd_quorum_lost_nodes_degrade_then_recover(cluster):
    """Two of three etcd members lost: the one left has no leader, so it
    takes no writes and ends watches ("no leader"); every node degrades and
    keeps answering, then recovers when the members return."""
    etcd = cluster.etcd
    etcd.kill(1)
    etcd.kill(2)
    try:
        for n in cluster.nodes:
            wait_for("%s degraded" % n, lambda n=n: cluster.status(n)["degraded"],
                     LEASE_TTL + 8, cluster.all())
        stays(cluster, {MEMBER}, 0.5)
    finally:
        etcd.restart(1, wait=False)
        etcd.restart(2)
    for n in cluster.nodes:
        wait_for("%s rejoined" % n, lambda n=n: not cluster.status(n)["degraded"], 15,
                 cluster.all())
    answers_all(cluster, {MEMBER})


def test_killed_node_stops_counting_after_lease_ttl(cluster):
    fail_from(cluster, "n1", "n2")
    try:
        answers_all(cluster, {FALLBACK})
        n2 = cluster.nodes.pop("n2")
        n2.proc.send_signal(signal.SIGKILL)
        n2.proc.wait(10)
        t0 = time.monotonic()
        # n1 down, n3 up, of 2 live nodes: quorum 2 is not reached
        for n in ("n1", "n3"):
            wait_answer(cluster.nodes[n], NAME, {MEMBER}, LEASE_TTL + FLIP)
        took = time.monotonic() - t0
        assert took >= LEASE_TTL - 1.0, "n2 stopped counting after %.2fs" % took
        assert sorted(x["name"] for x in cluster.status("n1")["nodes"]) == ["n1", "n3"]
        assert "cluster t: node n2 left (its lease ended or was revoked) node=n1" in \
            cluster.nodes["n1"].stderr_text()
    finally:
        fail_from(cluster)
        cluster.start("n2")
    answers_all(cluster, {MEMBER})
    wait_for("n1 logs n2 joining", lambda: "cluster t: node n2 joined (lease " in
             cluster.nodes["n1"].stderr_text(), 5, cluster.all())


def test_probe_share_spreads_probes_and_respreads(cluster):
    """probe_share = 2: the member is probed from two sources only; when
    one of those nodes stops (its lease revoked), the third takes over."""
    cluster.reload(probe_share=2)
    try:
        def probers(seconds=1.5):
            before = dict(cluster.backend.hits_from)
            time.sleep(seconds)
            return {src for src, n in cluster.backend.hits_from.items()
                    if n > before.get(src, 0)}

        wait_for("two nodes probe", lambda: len(probers()) == 2, 10, cluster.all())
        sources = probers()
        assert len(sources) == 2, sources
        assert cluster.member("n1")["probers"] == 2
        answers_all(cluster, {MEMBER})
        # one prober leaves: the node left out takes its place
        gone = next(n for n, src in SOURCES.items() if src in sources)
        srv = cluster.nodes.pop(gone)
        gslbtest.stop_checked(srv)
        wait_for("the member is re-spread", lambda: len(probers()) == 2 and
                 probers() == set(SOURCES[n] for n in cluster.nodes), 10, cluster.all())
        # quorum among the probers: both remaining say down -> down
        fail_from(cluster, *cluster.nodes)
        answers_all(cluster, {FALLBACK})
        fail_from(cluster)
        answers_all(cluster, {MEMBER})
        cluster.start(gone)
    finally:
        fail_from(cluster)
        if len(cluster.nodes) == 3:
            cluster.reload(probe_share=0)
    answers_all(cluster, {MEMBER})


def test_node_cut_off_from_etcd_decides_alone(cluster):
    """A node that cannot reach etcd (here: its endpoints changed to a dead
    port by a reload) is degraded and decides alone; the others stop
    counting it; it rejoins when it reaches etcd again."""
    dead = ["http://127.0.0.1:%d" % gslbtest.closed_port()]
    cluster.reload(["n3"], endpoints=dead)
    try:
        wait_for("n3 degraded", lambda: cluster.status("n3")["degraded"], 10, cluster.all())
        wait_for("n1 counts 2 nodes",
                 lambda: len([x for x in cluster.status("n1")["nodes"] if x["live"]]) == 2,
                 LEASE_TTL + 3, cluster.all())
        fail_from(cluster, "n3")
        wait_answer(cluster.nodes["n3"], NAME, {FALLBACK}, FLIP + LEASE_TTL)
        for n in ("n1", "n2"):
            wait_answer(cluster.nodes[n], NAME, {MEMBER}, 1)
    finally:
        fail_from(cluster)
        cluster.reload(["n3"])
    wait_for("n3 rejoined", lambda: not cluster.status("n3")["degraded"], 10, cluster.all())
    answers_all(cluster, {MEMBER})


def test_reload_with_the_cluster_block_changed(cluster):
    # quorum 2 -> "any": one node's down verdict is enough
    fail_from(cluster, "n3")
    try:
        stays(cluster, {MEMBER}, 1.0)
        cluster.reload(quorum='"any"')
        answers_all(cluster, {FALLBACK})
        assert cluster.status("n1")["quorum"] == "any"
        out = gslbtest.ctl(cluster.nodes["n1"], "status", check=True).stdout
        assert "quorum any (1 with 3 live nodes)" in out, out
    finally:
        fail_from(cluster)
        cluster.reload()
    answers_all(cluster, {MEMBER})
    # the gauges of the cluster part before the reloads are gone: two
    # reloads, still 3 nodes and 1 member (they added up before)
    for n in cluster.nodes:
        wait_for("%s's cluster gauges count once" % n, lambda n=n: (
            lambda m: m["gslb_cluster_nodes"] == 3 and m["gslb_cluster_degraded"] == 0 and sum(
                m['gslb_cluster_members{verdict="%s"}' % v] for v in ("up", "down", "disputed"))
            == 1)(cluster.nodes[n].metrics()), 5, cluster.all())
