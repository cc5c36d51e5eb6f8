"""Cluster of gslbd nodes on etcd (issue 13): the real etcd the tests run
(gslbtest.EtcdCluster) and gslbd's etcd v3 client (gslb/cluster.c)."""

import json
import os
import subprocess
import time
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402

import gslbtest  # noqa: E402


def test_etcd_one_member(etcd_factory):
    etcd = etcd_factory(1)
    etcd.put("/gslb/t/a", "one")
    assert etcd.get("/gslb/t/a") == "one"
    assert etcd.get("/gslb/t/absent") is None


def test_etcd_three_members_survive_one_loss(etcd_factory):
    etcd = etcd_factory(3)
    assert len(etcd.endpoints()) == 3
    etcd.put("/gslb/t/k", "v1", 0)
    assert all(etcd.get("/gslb/t/k", i) == "v1" for i in range(3))
    etcd.kill(0)
    etcd.put("/gslb/t/k", "v2", 1)
    assert etcd.get("/gslb/t/k", 2) == "v2"
    etcd.restart(0)
    assert etcd.get("/gslb/t/k", 0) == "v2"


# ------------------------------------------------- gslbd's etcd client

ETCD_CLIENT = os.path.join(gslbtest.BUILDDIR, "tests", "etcd_client")


def client(endpoints, *args, check=True, timeout=30):
    """Runs tests/etcd_client (gslb/cluster.c) with the endpoints; returns
    (exit status, stdout lines, stderr)."""
    r = subprocess.run([ETCD_CLIENT, ",".join(endpoints)] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, r.stderr
    return r.returncode, r.stdout.splitlines(), r.stderr


def value(lines, name):
    return next(line.split(" ", 1)[1] for line in lines if line.startswith(name + " "))


def test_client_put_range_watch_resume(etcd_factory):
    etcd = etcd_factory(1)
    eps = etcd.endpoints()
    client(eps, "put", "/gslb/c/a", "1")
    _, out, _ = client(eps, "put", "/gslb/c/b", "two words")
    rev = int(value(out, "revision"))
    etcd.put("/gslb/other", "x")
    _, out, _ = client(eps, "range", "/gslb/c/")
    assert [line.split(" rev=")[0] for line in out[:2]] == ["PUT /gslb/c/a=1",
                                                             "PUT /gslb/c/b=two words"]
    assert int(value(out, "revision")) == rev + 1
    # a watch from a past revision replays what happened since, in order
    client(eps, "put", "/gslb/c/a", "3")
    client(eps, "del", "/gslb/c/b")
    _, out, _ = client(eps, "watch", "/gslb/c/", rev + 1, 2, 5000)
    assert [line.split(" rev=")[0] for line in out[:2]] == ["PUT /gslb/c/a=3", "DELETE /gslb/c/b="]
    nxt = int(value(out, "next"))
    # resuming from the returned revision sees only what is new
    watcher = subprocess.Popen([ETCD_CLIENT, ",".join(eps), "watch", "/gslb/c/", str(nxt), "1", "10000"],
                               stdout=subprocess.PIPE, text=True)
    client(eps, "put", "/gslb/c/z", "new")
    out = watcher.communicate(timeout=20)[0].splitlines()
    assert out[0].startswith("PUT /gslb/c/z=new rev=%d" % nxt), out


def test_client_lease_expires_and_keepalive(etcd_factory):
    etcd = etcd_factory(1)
    eps = etcd.endpoints()
    _, out, _ = client(eps, "grant", 2)
    kept = value(out, "lease")
    _, out, _ = client(eps, "grant", 2)
    lost = value(out, "lease")
    client(eps, "put", "/gslb/l/kept", "v", kept)
    client(eps, "put", "/gslb/l/lost", "v", lost)
    # keep one lease alive for 4 s; the other expires with its key
    client(eps, "keep", kept, 4)
    assert etcd.get("/gslb/l/kept") == "v"
    assert etcd.get("/gslb/l/lost") is None
    rc, _, err = client(eps, "keepalive", lost, check=False)
    assert rc == 1 and "expired" in err
    _, out, _ = client(eps, "keepalive", kept)
    assert int(value(out, "ttl")) == 2


def test_client_fails_over_between_endpoints(etcd_factory):
    etcd = etcd_factory(3)
    dead = "http://127.0.0.1:%d" % gslbtest.closed_port()
    _, out, _ = client([dead] + etcd.endpoints()[:1], "put", "/gslb/f/a", "1")
    assert value(out, "endpoint") == etcd.endpoints()[0]
    assert value(out, "errors") == "1"
    # one etcd member killed: every call still succeeds through the others
    etcd.kill(0)
    _, out, _ = client(etcd.endpoints(), "put", "/gslb/f/b", "2")
    assert value(out, "endpoint") != etcd.endpoints()[0]
    _, out, _ = client(etcd.endpoints(), "range", "/gslb/f/")
    assert [line.split(" rev=")[0] for line in out[:2]] == ["PUT /gslb/f/a=1", "PUT /gslb/f/b=2"]
    _, out, _ = client(etcd.endpoints(), "watch", "/gslb/f/", 1, 2, 5000)
    assert len([line for line in out if line.startswith("PUT ")]) == 2
    # no endpoint answers: a clear error, not a hang
    etcd.stop()
    rc, _, err = client(etcd.endpoints(), "put", "/gslb/f/c", "3", check=False)
    assert rc == 1 and "127.0.0.1" in err


# ------------------------------------------------- the cluster group

def check_cluster(tmp_path, text):
    """gslbd -t on a config with a cluster group (text inside it)."""
    path = tmp_path / "cluster.conf"
    path.write_text('listen = { dns = [ "127.0.0.1:0" ]; };\n'
                    'cluster = { %s };\n' % text)
    r = subprocess.run([gslbtest.GSLBD, "-t", "-c", str(path)], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stderr


def test_cluster_group_taken(tmp_path):
    (tmp_path / "ca.pem").write_text("x\n")
    rc, err = check_cluster(tmp_path, 'name = "prod"; node = "ns1-fra"; '
                            'etcd = [ "https://10.0.0.1:2379", "https://10.0.0.2:2379/" ]; '
                            'quorum = 2; lease_ttl = 10; probe_share = 1; '
                            'tls = { ca_file = "ca.pem"; };')
    assert rc == 0, err
    assert "does not join" not in err
    rc, err = check_cluster(tmp_path, 'name = "p"; etcd = [ "http://[::1]:2379/", '
                            '"https://a.example:1" ];')
    assert rc == 0, err
    for q in ('"majority"', '"any"', '"all"', "64"):
        rc, err = check_cluster(tmp_path, 'name = "p"; etcd = [ "http://a:1" ]; quorum = %s;' % q)
        assert rc == 0, err


@pytest.mark.parametrize("text,message", [
    ('etcd = [ "http://a:1" ];', 'cluster: no name given'),
    ('name = "p";', 'cluster: no etcd given'),
    ('name = "p/q"; etcd = [ "http://a:1" ];', 'cluster.name: "p/q": use letters'),
    ('name = "p"; etcd = [ "a:2379" ];', 'cluster.etcd[0]: "a:2379" is not an etcd endpoint'),
    ('name = "p"; etcd = [ "http://a:1/v3" ];', 'cluster.etcd[0]: "http://a:1/v3" is not an'),
    ('name = "p"; etcd = [ "http://127.0.0.1" ];', 'cluster.etcd[0]: "http://127.0.0.1" is '
     'not an etcd endpoint (http://host:port or https://host:port, the port given'),
    ('name = "p"; etcd = [ "http://[::1]/" ];', 'cluster.etcd[0]: "http://[::1]/" is not an'),
    ('name = "p"; etcd = [ "http://a:99999" ];', 'cluster.etcd[0]: "http://a:99999" is not an'),
    ('name = "p"; etcd = [ "http://a:x1" ];', 'cluster.etcd[0]: "http://a:x1" is not an'),
    ('name = "p"; etcd = [ "http://a:1" ]; quorum = 2.5;',
     'cluster.quorum: must be a whole number of nodes or "majority", "any" or "all", not'),
    ('name = "p"; etcd = [ ];', 'cluster.etcd: give at least one endpoint'),
    ('name = "p"; etcd = [ "http://a:1", "http://a:1" ];', 'cluster.etcd[1]: "http://a:1" is '
     'listed twice'),
    ('name = "p"; etcd = [ "http://a:1" ]; quorum = "most";', 'cluster.quorum: "most": expected'),
    ('name = "p"; etcd = [ "http://a:1" ]; quorum = 0;', 'cluster.quorum: 0 is out of range (1 to 64)'),
    ('name = "p"; etcd = [ "http://a:1" ]; lease_ttl = 1;', 'cluster.lease_ttl: 1 is out of range'),
    ('name = "p"; etcd = [ "http://a:1" ]; probe_share = 65;', 'cluster.probe_share: 65 is out'),
    ('name = "p"; etcd = [ "http://a:1" ]; node = "a b";', 'cluster.node: "a b": use letters'),
    ('name = "p"; etcd = [ "http://a:1" ]; prefix = "gslb";', 'cluster.prefix: "gslb": a key prefix'),
    ('name = "p"; etcd = [ "http://a:1" ]; tls = { ca_file = "cluster.conf"; };',
     'cluster: tls is given but no etcd endpoint is https://'),
    ('name = "p"; etcd = [ "https://a:1" ]; tls = { cert_file = "cluster.conf"; };',
     'cluster: tls: give cert_file and key_file together'),
    ('name = "p"; etcd = [ "https://a:1" ]; tls = { ca_file = "none.pem"; };',
     'cluster.tls.ca_file: cannot read'),
])
def test_cluster_group_errors(tmp_path, text, message):
    rc, err = check_cluster(tmp_path, text)
    assert rc == 1, err
    assert "cluster.conf:2: " + message in err, err


def test_client_watch_says_compacted(etcd_factory):
    """A watch from a revision etcd compacted away says so (the caller then
    reads the prefix again) instead of missing changes silently."""
    etcd = etcd_factory(1)
    eps = etcd.endpoints()
    _, out, _ = client(eps, "put", "/gslb/k/a", "1")
    old = int(value(out, "revision"))
    _, out, _ = client(eps, "put", "/gslb/k/a", "2")
    etcd.request("/v3/kv/compaction", {"revision": int(value(out, "revision"))})
    _, out, _ = client(eps, "watch", "/gslb/k/", old, 1, 5000)
    assert value(out, "compacted") == str(old), out
    assert not [line for line in out if line.startswith("PUT ")]


# ------------------------------------------------- probes' source address

def two_sources(gslbd_factory, tmp_path, type_, target, **opts):
    """A gslbd with two checks of type_ on one member (probed at target),
    from 127.0.0.11 and 127.0.0.12; waits until the check from .11 sees it
    down (s11 answers the fallback) and the one from .12 up."""
    opts.update(interval=0.3, timeout=0.2, rise=1, fall=1)
    checks = [gslbtest.check_conf("c%s" % n, type_, source="127.0.0.%s" % n, **opts)
              for n in ("11", "12")]
    services = [gslbtest.checked_service_conf(
        "s%s.example.test" % n, "c%s" % n, [gslbtest.member_conf("192.0.2.1", target)])
        for n in ("11", "12")]
    state = tmp_path / "state"
    state.mkdir()
    srv = gslbd_factory(extra=gslbtest.health_conf(str(state), checks, services))
    gslbtest.wait_answer(srv, "s11.example.test", {gslbtest.FALLBACK})
    gslbtest.wait_answer(srv, "s12.example.test", {"192.0.2.1"})
    return srv


def test_checks_with_different_sources_see_different_states(gslbd_factory, backends, tmp_path):
    """source = "127.0.0.11": probes leave from that address; the health
    server fails those from .11 only, so one check sees the member down and
    the other up (what lets three nodes on one host disagree in tests)."""
    b = backends()
    b.failing_sources = {"127.0.0.11"}
    two_sources(gslbd_factory, tmp_path, "http", b.url())
    assert b.hits_from.get("127.0.0.11") and b.hits_from.get("127.0.0.12"), b.hits_from
    assert not b.hits_from.get("127.0.0.1"), b.hits_from


def test_source_must_be_local(tmp_path):
    path = tmp_path / "source.conf"
    for source, message in (("192.0.2.53", "192.0.2.53 is not an address of this host"),
                            ("nowhere", '"nowhere" is not an IPv4 or IPv6 address')):
        path.write_text('listen = { dns = [ "127.0.0.1:0" ]; };\n'
                        'checks = ( { name = "web"; type = "http";\n'
                        '  source = "%s"; } );\n' % source)
        r = subprocess.run([gslbtest.GSLBD, "-t", "-c", str(path)], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1, r.stderr
        assert "source.conf:3: checks[0].source: " + message in r.stderr, r.stderr



def refuse_11(q, r, peer):
    """A DnsResponder that refuses 127.0.0.11 and answers the rest."""
    import dns.rcode
    import dns.rrset
    if peer[0] == "127.0.0.11":
        r.set_rcode(dns.rcode.REFUSED)
    else:
        r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A", "192.0.2.1"))


def test_dns_checks_leave_from_their_source(gslbd_factory, tmp_path):
    """dns checks bind c-ares to source: the responder refuses .11 only."""
    from test_health_probe import DnsResponder
    d = DnsResponder(refuse_11)
    try:
        two_sources(gslbd_factory, tmp_path, "dns", "127.0.0.1:%d" % d.port, port=d.port)
        assert d.sources == {"127.0.0.11", "127.0.0.12"}, d.sources
    finally:
        d.close()


# ------------------------------------------------- TLS to etcd

def tls_node(gslbd_factory, tmp_path, name, endpoints, tls_text):
    state = tmp_path / ("state-" + name)
    state.mkdir()
    svc = gslbtest.service_conf("t.example.test", [gslbtest.pool_conf(
        "a", [gslbtest.member_conf("192.0.2.1")])])
    extra = gslbtest.health_conf(str(state), [], [svc])
    extra += ('cluster = { name = "t"; node = "%s"; etcd = [ %s ]; lease_ttl = 2; '
              'tls = { %s }; };\n' % (name, ", ".join('"%s"' % e for e in endpoints), tls_text))
    return gslbd_factory(admin="127.0.0.1:0", extra=extra)


def test_node_joins_etcd_over_tls(gslbd_factory, tmp_path):
    """https endpoints with tls = { ca_file; cert_file; key_file; }: the
    node joins an etcd that checks client certificates; one without a
    client certificate is refused by etcd and says so (degraded)."""
    gslbtest.require_etcd()
    d = tmp_path / "tls"
    d.mkdir()
    scert, skey = gslbtest.self_signed(d, "etcd", "etcd.test", "IP:127.0.0.1")
    ccert, ckey = gslbtest.self_signed(d, "node", "ns1")
    bundle = d / "trusted.pem"
    bundle.write_text(open(scert).read() + open(ccert).read())
    etcd = gslbtest.EtcdCluster(str(tmp_path / "etcd"), 1, tls=(scert, skey, str(bundle)))
    etcd.start()
    try:
        assert etcd.endpoints()[0].startswith("https://")
        srv = tls_node(gslbd_factory, tmp_path, "ns1", etcd.endpoints(),
                       'ca_file = "%s"; cert_file = "%s"; key_file = "%s";' % (scert, ccert, ckey))
        gslbtest.wait_for("ns1 joined over TLS", lambda: not gslbtest.admin_json(
            srv, "/status")["cluster"]["degraded"], 10, [srv])
        assert etcd.get("/gslb/t/nodes/ns1") is not None
        bad = tls_node(gslbd_factory, tmp_path, "ns2", etcd.endpoints(),
                       'ca_file = "%s";' % scert)
        bad.wait_log(r"cluster t: degraded: etcd unreachable", 10)
        assert gslbtest.admin_json(bad, "/status")["cluster"]["degraded"] is True
        assert etcd.get("/gslb/t/nodes/ns2") is None
    finally:
        etcd.stop()


def test_overrides_kept_when_etcd_is_unreachable_at_start(gslbd_factory, backends, tmp_path):
    """A node that starts while etcd cannot be reached keeps the overrides
    last seen (state_dir) until it has read the cluster's own, while its
    probes go on (each result publishes a view)."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "overrides.state").write_text("drain region:a 1765000000\n")
    b = backends()
    check = gslbtest.check_conf("web", "http", interval=0.2, timeout=0.1, rise=1, fall=1)
    svc = gslbtest.checked_service_conf("k.example.test", "web",
                                        [gslbtest.member_conf("192.0.2.1", b.url())])
    extra = gslbtest.health_conf(str(state), [check], [svc])
    extra += ('cluster = { name = "t"; node = "ns1"; lease_ttl = 2; '
              'etcd = [ "http://127.0.0.1:%d" ]; };\n' % gslbtest.closed_port())
    srv = gslbd_factory(admin="127.0.0.1:0", extra=extra)
    srv.wait_log(r"cluster t: degraded: etcd unreachable", 10)
    gslbtest.wait_answer(srv, "k.example.test", {gslbtest.FALLBACK})
    b.fail()  # a state change: a publication with the cluster's view merged
    gslbtest.wait_for("member down", lambda: b.hits > 3, 10, [srv])
    b.ok()
    time.sleep(1.0)
    assert gslbtest.addrs(gslbtest.ask(srv, "k.example.test")) == {gslbtest.FALLBACK}
    assert "drain region:a" in (state / "overrides.state").read_text()


def test_reload_adding_cluster_keeps_local_overrides(gslbd_factory, etcd_factory, tmp_path):
    """A single node's overrides are written to etcd when a reload adds the
    cluster group, unless etcd already has one for the target (then the
    cluster's wins, and the local one is dropped with a warning)."""
    import signal
    etcd = etcd_factory(1)
    etcd.put("/gslb/t/overrides/region:b", '{"state":"force-up","since":1,"node":"other"}')
    state = tmp_path / "state"
    state.mkdir()
    svc = gslbtest.service_conf("t.example.test", [
        gslbtest.pool_conf("a", [gslbtest.member_conf("192.0.2.1")]),
        gslbtest.pool_conf("b", [gslbtest.member_conf("192.0.2.2")])])
    srv = gslbd_factory(admin="127.0.0.1:0", extra=gslbtest.health_conf(str(state), [], [svc]))
    gslbtest.ctl(srv, "drain", "region:a", check=True)
    gslbtest.ctl(srv, "drain", "region:b", check=True)
    with open(srv.config_path, "a") as f:
        f.write('cluster = { name = "t"; node = "ns1"; lease_ttl = 2; etcd = [ "%s" ]; };\n'
                % etcd.endpoints()[0])
    srv.proc.send_signal(signal.SIGHUP)
    srv.wait_log(r"cluster group added at reload", 10)
    srv.wait_log(r"local override region:a drain written to etcd at join", 10)
    srv.wait_log(r"local override region:b drain dropped at join: etcd has one", 10)
    assert '"drain"' in etcd.get("/gslb/t/overrides/region:a")
    assert etcd.get("/gslb/t/overrides/region:b").startswith('{"state":"force-up"')
    gslbtest.wait_for("the node applies the cluster's overrides", lambda: sorted(
        (o["target"], o["state"]) for o in gslbtest.admin_json(srv, "/status")["overrides"])
        == [("region:a", "drain"), ("region:b", "force-up")], 5, [srv])


def test_offline_explain_says_it_uses_state_dir(tmp_path):
    """gslbd --explain / --what-if never read etcd: with a cluster group
    they say so on stderr (stdout stays the report, or JSON)."""
    state = tmp_path / "state"
    state.mkdir()
    svc = gslbtest.service_conf("t.example.test", [gslbtest.pool_conf(
        "a", [gslbtest.member_conf("192.0.2.1")])])
    path = tmp_path / "gslb.conf"
    path.write_text(gslbtest.gslbd_config(str(tmp_path), extra=gslbtest.health_conf(
        str(state), [], [svc]) + 'cluster = { name = "t"; node = "ns1"; etcd = [ "http://%s" ]; };\n'
        % ("127.0.0.1:%d" % gslbtest.closed_port())))
    note = 'note: cluster "t" is configured: this offline %s uses this node\'s last-known ' \
        'health and overrides in state_dir, not the cluster\'s view in etcd'
    r = gslbtest.run_gslbd(["-c", str(path), "--explain", "198.51.100.7", "t.example.test"])
    assert r.returncode == 0, r.stderr
    assert note % "explain" in r.stderr, r.stderr
    r = gslbtest.run_gslbd(["-c", str(path), "--json", "--explain", "198.51.100.7",
                            "t.example.test"])
    assert r.returncode == 0, r.stderr
    assert note % "explain" in r.stderr, r.stderr
    json.loads(r.stdout)
