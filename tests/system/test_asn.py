"""asn:N route rules with geoip.asn_database (issue 15), end to end: an ASN
database in GeoLite2-ASN format built at test time with geoip/build-mmdb.pl
--schema asn from tests/data/geoip/test-asn.json, real DNS queries with ECS:

- a client in AS64500 gets the rule's region, one in AS64502 (a more
  specific network inside AS64500's /16) another rule's, one in an AS no
  rule names (or with no number) the usual order; IPv6 too;
- the ECS scope is never wider than the ASN database's network;
- `--explain` and `/explain` name the AS number, its organisation and
  network;
- replacing the ASN database file (rename) reloads it like the city
  database: the rules follow the new file without a restart;
- an asn: rule without an ASN database, a bad AS number and a damaged
  file are refused with file:line (or the file's name).

Only 127.0.0.1 and ::1 are used; the daemon picks its own ports.
"""

import json
import os
import shutil

import pytest

import gslbtest
from gslbtest import addrs, ask, build_mmdb, run_gslbd
from test_geo import ZONE, explain

ASN_JSON = os.path.join(gslbtest.SRCDIR, "tests", "data", "geoip", "test-asn.json")
MEMBER = {"eu-east": "198.18.3.1", "eu-central": "198.18.9.1", "us-east": "198.18.1.1"}
REGION = {v: k for k, v in MEMBER.items()}
NAME = "asn.geo.test"


@pytest.fixture(scope="module")
def asn_db(tmp_path_factory):
    d = tmp_path_factory.mktemp("asn-db")
    return build_mmdb(ASN_JSON, d / "asn.mmdb", schema="asn")


def asn_config(workdir, db, routes=None, compact=False):
    routes = routes or ('{ match = "asn:64500"; regions = [ "us-east", "eu-east" ]; },\n'
                        '            { match = "ASN:AS64502"; regions = [ "eu-central" ]; }')
    text = """geoip = { asn_database = "%(db)s"; compact = %(compact)s; };
regions = ( { name = "eu-east"; lat = 52.23; lon = 21.01; },
            { name = "eu-central"; lat = 50.11; lon = 8.68; },
            { name = "us-east"; lat = 39.04; lon = -77.49; } );
services = ( { name = "%(name)s"; ttl = 30;
  route = ( %(routes)s );
  default = [ "eu-east", "eu-central" ];
  pools = ( { region = "eu-east"; members = [ "%(ee)s" ]; },
            { region = "eu-central"; members = [ "%(ec)s" ]; },
            { region = "us-east"; members = [ "%(ue)s" ]; } ); } );
""" % {"db": db, "name": NAME, "routes": routes, "compact": "true" if compact else "false",
       "ee": MEMBER["eu-east"], "ec": MEMBER["eu-central"], "ue": MEMBER["us-east"]}
    return gslbtest.gslbd_config(workdir, zones=[ZONE], nsid=None, identity=None,
                                 version=None, extra=text, admin="127.0.0.1:0", workers=1)


def region_of(srv, ecs):
    """(region answered, ECS scope) for a client subnet."""
    r = ask(srv, NAME, ecs=ecs)
    got = addrs(r)
    assert got and len(got) == 1, (ecs, got)
    scope = [o.scopelen for o in r.options if o.otype == 8]
    return REGION[next(iter(got))], scope[0]


# (client subnet, region, the ASN network's prefix: the scope's floor)
CASES = [
    ("100.64.1.0/24", "us-east", 17),     # AS64500 (100.64.0.0/17 of its /16)
    ("100.64.200.0/24", "eu-central", 17),  # AS64502, the more specific /17
    ("100.65.7.0/24", "eu-east", 16),     # AS64501: no rule, the default order
    ("100.66.0.0/24", "eu-east", 16),     # a record without a number
    ("100.67.0.0/24", "eu-east", 0),      # not in the database
    ("2001:db8:13:1::/56", "us-east", 48),  # AS64500 over IPv6
]


@pytest.mark.parametrize("compact", [False, True])
def test_asn_rules(tmp_path_factory, asn_db, compact):
    wd = tmp_path_factory.mktemp("asn")
    srv = gslbtest.start_gslbd(wd, config_text=asn_config(str(wd), asn_db, compact=compact))
    try:
        for net, region, floor in CASES:
            got, scope = region_of(srv, net)
            assert got == region, (net, got, region)
            assert scope >= floor, (net, scope, floor)
        # the ASN and its organisation in explain, from the admin API and
        # the command line alike
        ex = gslbtest.admin_json(srv, "/explain?address=100.64.1.0/24&name=%s" % NAME)
        assert ex["location"]["asn"]["number"] == 64500, ex["location"]
        assert ex["location"]["asn"]["organization"] == "Example Transit", ex["location"]
        assert ex["location"]["asn"]["network"] == "100.64.0.0/17", ex["location"]
        assert ex["rule"]["match"] == "asn:64500" and ex["chosen"] == "us-east", ex["rule"]
        text = explain(srv.config_path, "100.64.200.7", NAME, as_json=False)
        assert "asn:       AS64502 (Example Cloud), network 100.64.128.0/17" in text, text
        text = explain(srv.config_path, "100.67.0.1", NAME, as_json=False)
        assert "asn:       not in the ASN database" in text, text
        # its build time in the metrics, as the city database's
        key = 'gslb_geoip_build_timestamp_seconds{path="%s",type="gslb-Test-Asn"}' % asn_db
        assert srv.metrics().get(key) == 1700000000, srv.metrics()
    finally:
        gslbtest.stop_checked(srv)


def test_asn_database_reloads(tmp_path_factory, asn_db):
    """The ASN database replaced by rename is loaded again (sealed private
    copy, once the file stops changing): AS64501's network moves to
    AS64500 and its clients follow the asn:64500 rule."""
    wd = tmp_path_factory.mktemp("asn-reload")
    live = wd / "asn.mmdb"
    shutil.copy(asn_db, live)
    srv = gslbtest.start_gslbd(wd, config_text=asn_config(str(wd), str(live)))
    try:
        assert region_of(srv, "100.65.7.0/24")[0] == "eu-east"
        entries = json.loads(open(ASN_JSON, encoding="utf-8").read())
        for e in entries:
            if e.get("asn") == 64501:
                e["asn"], e["org"] = 64500, "Example Transit"
        src = wd / "moved.json"
        src.write_text(json.dumps(entries))
        build_mmdb(src, wd / "moved.mmdb", schema="asn")
        os.rename(wd / "moved.mmdb", live)

        def moved():
            return region_of(srv, "100.65.7.0/24")[0] == "us-east"
        gslbtest.wait_for("100.65.7.0/24 -> us-east after the ASN database changed", moved,
                          20, [srv])
        assert region_of(srv, "100.64.200.0/24")[0] == "eu-central"
        assert "data file changed, reloading file=%s" % live in srv.stderr_text()
    finally:
        gslbtest.stop_checked(srv)


@pytest.mark.parametrize("route,message", [
    ('{ match = "asn:0"; regions = [ "us-east" ]; }', "expected asn:N, an AS number"),
    ('{ match = "asn:4294967296"; regions = [ "us-east" ]; }', "expected asn:N, an AS number"),
    ('{ match = "asn:12x"; regions = [ "us-east" ]; }', "expected asn:N, an AS number"),
    ('{ match = "asn:"; regions = [ "us-east" ]; }', "expected asn:N, an AS number"),
])
def test_asn_rule_errors(tmp_path, asn_db, route, message):
    gslbtest.refused_at(tmp_path, asn_config(str(tmp_path), asn_db, routes=route),
                        'match = "asn:', message)


def test_asn_rule_needs_a_database(tmp_path, asn_db):
    text = asn_config(str(tmp_path), asn_db).replace(
        'geoip = { asn_database = "%s"; compact = false; };' % asn_db, "")
    gslbtest.refused_at(tmp_path, text, "asn:64500", '"asn:64500" needs an ASN database')


def test_damaged_asn_database_refused(tmp_path, asn_db):
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(open(asn_db, "rb").read()[:200])
    conf = tmp_path / "gslb.conf"
    conf.write_text(asn_config(str(tmp_path), str(bad)))
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, r.stderr
    assert str(bad) in r.stderr, r.stderr


def test_city_database_as_asn_database_refused(tmp_path_factory, asn_db):
    """A City database given as asn_database would match no asn: rule:
    refused at load with what it is and what is expected, and on a
    reload the old ASN database stays in use."""
    wd = tmp_path_factory.mktemp("asn-city")
    city = build_mmdb(os.path.join(gslbtest.SRCDIR, "tests", "data", "geoip", "sys-city.json"),
                      wd / "city.mmdb")
    conf = wd / "gslb.conf"
    conf.write_text(asn_config(str(wd), str(city)))
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, r.stderr
    assert str(city) in r.stderr and "not an ASN database" in r.stderr, r.stderr
    assert 'type "gslb-Test-City"' in r.stderr and "autonomous_system_number" in r.stderr, \
        r.stderr
    # a City database renamed over the live ASN database: refused, the old one serves
    live = wd / "asn.mmdb"
    shutil.copy(asn_db, live)
    srv = gslbtest.start_gslbd(wd, config_text=asn_config(str(wd), str(live)))
    try:
        assert region_of(srv, "100.64.1.0/24")[0] == "us-east"
        shutil.copy(city, wd / "next.mmdb")
        os.rename(wd / "next.mmdb", live)
        gslbtest.wait_for("the City database refused",
                          lambda: "not an ASN database" in srv.stderr_text(), 20, [srv])
        assert region_of(srv, "100.64.1.0/24")[0] == "us-east"
    finally:
        gslbtest.stop_checked(srv)
