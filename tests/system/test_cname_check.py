"""CNAME pools with a check (issue 10 item 11): steering between CDN
vendors. A pool that answers `cname = "cdn-eu.hosts.test."` and names a
check is probed through its target:

- http: the target is resolved with c-ares (through `resolvers`, here a
  second gslbd serving hosts.test) and each address is probed with Host
  (and SNI) = the target name; when the server stops, the pool goes down
  after `fall` and the clients of its region get the next region's CNAME;
- dns: the target name itself is asked of the resolvers; when it stops
  resolving (NXDOMAIN), the pool goes down the same way;
- /status shows the CNAME pool's target, probe state and members, and
  `gslbd -t` (which reads the last-known health in state_dir) no longer
  sends traffic to the region whose pool is down.

Clients are located by ECS in the test GeoIP database of
test_health_more.py (eu: Warsaw, us: Ashburn). Only loopback addresses are
used; every port is picked at run time.
"""

import json
import re
import subprocess

import dns.rdatatype

from gslbtest import GSLBD, ask, make_query, service_conf, wait_for
from test_health_more import (EU_CLIENT, FALL, FLIP_BOUND, GEO_REGIONS, SLACK, US_CLIENT, WAIT,
                              backends_on_one_port, check_conf, ctl, health_mmdb, reload_dns,
                              start, status_pool, state_file, write_hosts_zone)

assert health_mmdb  # a fixture, used by name below

HTTP_SVC, DNS_SVC = "cdn.example.test", "dnscdn.example.test"
CDN_EU, CDN_US = "cdn-eu.hosts.test", "cdn-us.hosts.test"


def hosts_zone(path, serial, records):
    """hosts.test with NAME A ADDRESS records (names relative to hosts.test)."""
    write_hosts_zone(path, serial, [])
    with open(path, "a") as f:
        for name, address in records:
            f.write("%s 2 A %s\n" % (name, address))


def cname_pool(region, target, check):
    return '{ region = "%s"; cname = "%s."; check = "%s"; }' % (region, target, check)


def cname_of(msg):
    if msg is None:
        return None
    for rrset in msg.answer:
        if rrset.rdtype == dns.rdatatype.CNAME:
            return rrset[0].target.to_text().rstrip(".")
    return None


def wait_cname(srv, name, want, ecs, timeout=WAIT):
    def probe():
        probe.last = cname_of(ask(srv, name, ecs=ecs))
        return probe.last == want

    probe.last = None
    return wait_for("%s from %s -> CNAME %s" % (name, ecs, want), probe, timeout, [srv])[1]


def check_report(srv, config_path=None):
    """gslbd -t --json: {service: (regions that receive traffic, never)}."""
    r = subprocess.run([GSLBD, "-t", "--json", "-c", config_path or srv.config_path],
                       capture_output=True, text=True, timeout=60, errors="replace")
    assert r.returncode == 0, r.stderr
    out = {}
    for svc in json.loads(r.stdout)["services"]:
        fed = {x["region"] for x in svc["regions"]
               if x["before"]["share4"] > 0 or x["before"]["share6"] > 0}
        out[svc["service"].rstrip(".")] = (fed, set(svc["never"]))
    return out


def test_cname_pools_probed_through_their_target(gslbd_factory, backends, tmp_path,
                                                 health_mmdb):
    port, be = backends_on_one_port(backends, ["127.0.0.2", "127.0.0.3"])
    zone = str(tmp_path / "hosts.test.zone")
    hosts_zone(zone, 1, [("cdn-eu", "127.0.0.2"), ("cdn-us", "127.0.0.3")])
    dnsd = gslbd_factory(zones=[("hosts.test", zone)], workers=1)

    web = check_conf("web", "http", port=port, expect_body="ok")
    dig = check_conf("dig", "dns", expect_rcode="NOERROR")
    services = [
        service_conf(HTTP_SVC, [cname_pool("eu", CDN_EU, "web"),
                                cname_pool("us", CDN_US, "web")]),
        service_conf(DNS_SVC, [cname_pool("eu", CDN_EU, "dig"),
                               cname_pool("us", CDN_US, "dig")]),
    ]
    state = tmp_path / "state"
    srv = start(gslbd_factory, state, [web, dig], services, regions=GEO_REGIONS,
                database=health_mmdb, resolvers=["127.0.0.1:%d" % dnsd.port("udp4")])
    for svc in (HTTP_SVC, DNS_SVC):
        wait_cname(srv, svc, CDN_EU, EU_CLIENT)
        wait_cname(srv, svc, CDN_US, US_CLIENT)

    # http: each address of the target probed, Host = the target name
    wait_for("the eu CDN probed", lambda: be["127.0.0.2"].hits, WAIT, [srv])
    assert be["127.0.0.2"].host_header == "%s:%d" % (CDN_EU, port), be["127.0.0.2"].host_header
    _, p = status_pool(srv, HTTP_SVC, "eu")
    assert p["cname"].rstrip(".") == CDN_EU and p["check"] == "web" and p["up"] is True, p
    assert [(m["address"], m["member"], m["state"]) for m in p["members"]] == [
        ("127.0.0.2", CDN_EU, "up")], p
    # dns: the name itself, no address
    _, p = status_pool(srv, DNS_SVC, "eu")
    assert p["up"] is True and [(m["address"], m["member"], m["state"], m["reason"])
                                for m in p["members"]] == [
        (None, CDN_EU, "up", "DNS NOERROR")], p
    report = check_report(srv)
    assert report[HTTP_SVC] == ({"eu", "us"}, set()), report
    # with no saved state, a target not resolved yet counts as up
    fresh = tmp_path / "fresh.conf"
    fresh.write_text(open(srv.config_path).read().replace(str(state), str(tmp_path / "none")))
    report = check_report(srv, str(fresh))
    for svc in (HTTP_SVC, DNS_SVC):
        assert report[svc] == ({"eu", "us"}, set()), report

    # the eu target stops resolving: the dns-checked pool goes down, its
    # clients get the us CNAME; the http pool keeps probing its last address
    hosts_zone(zone, 2, [("cdn-us", "127.0.0.3")])
    reload_dns(dnsd)
    took = wait_cname(srv, DNS_SVC, CDN_US, EU_CLIENT, timeout=FLIP_BOUND + SLACK + 1.0)
    srv.wait_log(r'member state changed service=dnscdn\.example\.test\.? region=eu '
                 r'member=cdn-eu\.hosts\.test check=dig old=up new=down '
                 r'reason="DNS NXDOMAIN x%d"' % FALL)
    srv.wait_log(r"pool state changed service=dnscdn\.example\.test\.? region=eu old=up "
                 r"new=down")
    assert cname_of(ask(srv, HTTP_SVC, ecs=EU_CLIENT)) == CDN_EU, took

    # the eu CDN's server stops: the http pool goes down after `fall`
    be["127.0.0.2"].close()
    took = wait_cname(srv, HTTP_SVC, CDN_US, EU_CLIENT, timeout=FLIP_BOUND + SLACK + WAIT)
    srv.wait_log(r'member state changed service=cdn\.example\.test\.? region=eu '
                 r'member=127\.0\.0\.2 host=cdn-eu\.hosts\.test .*old=up new=down '
                 r'reason="connection refused x%d"' % FALL)
    _, p = status_pool(srv, HTTP_SVC, "eu")
    assert p["up"] is False and p["members"][0]["state"] == "down", p
    assert cname_of(ask(srv, HTTP_SVC, ecs=US_CLIENT)) == CDN_US
    out = ctl(srv, "status")
    assert re.search(r"^  pool eu: down  cname=cdn-eu\.hosts\.test\.  admin=none  check=web ",
                     out, re.M), out
    assert re.search(r"^    127\.0\.0\.2\s+down .*connection refused "
                     r"\(member cdn-eu\.hosts\.test\)$", out, re.M), out
    assert cname_of(srv.tcp4(make_query(HTTP_SVC, "A"))) is not None

    # gslbd -t reads the saved health: eu no longer receives traffic
    wait_for("health.state says eu is down",
             lambda: re.search(r"^cdn\.example\.test eu \S+ 127\.0\.0\.2 down ",
                               state_file(state), re.M), WAIT, [srv])
    report = check_report(srv)
    for svc in (HTTP_SVC, DNS_SVC):
        assert report[svc] == ({"us"}, {"eu"}), report

    # a reload carries the CNAME pools' states over
    reload_dns(srv)
    for svc in (HTTP_SVC, DNS_SVC):
        _, p = status_pool(srv, svc, "eu")
        assert p["up"] is False and [m["state"] for m in p["members"]] == ["down"], p
        assert cname_of(ask(srv, svc, ecs=EU_CLIENT)) == CDN_US
