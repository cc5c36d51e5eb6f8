"""Signed answers of gslbd checked by real validators (issue 14).

One gslbd per module serves example.test signed with a KSK and a ZSK
(ECDSAP256SHA256, made by ldns-keygen), with geo services (a net: rule
sends loopback clients to region "eu"), a CNAME pool and a wildcard
service; beside it run:

- Unbound (Debian `unbound`) as a validating resolver on a free loopback
  port with its own folder: a stub-zone to gslbd, the KSK's DS as the trust
  anchor, no root hints needed (nothing outside example.test is asked).
  Signed answers get the AD bit (static, geo, CNAME pool, wildcard
  service, NODATA, a name that does not exist); when gslbd is reloaded with other keys
  (the anchor no longer matches) the answers are SERVFAIL, and AD again
  once the keys are put back.

- DNSViz (Debian `dnsviz`): `dnsviz probe -A -x example.test+:127.0.0.1:PORT`
  then `dnsviz grok` with the KSK as trust anchor: no errors, every RRset
  SECURE, every RRSIG and denial proof VALID (DNSViz's own NXDOMAIN and
  NODATA probes included: compact denial passes). The zone is a copy of the
  test zone whose name servers (ns1, ns2) are at 127.0.0.1, as DNSViz asks
  every server the NS RRset names.
- Knot (Debian `knot`) with mod-onlinesign, serving the same zone file with
  the same key pair imported (`keymgr import-bind` reads BIND-format keys):
  the same DNSViz verdicts, the same DNSKEY RRset as gslbd, and each answer
  of either server validates with the other's keys (dnspython).

Skipped with the reason when a tool is missing (qa/packages.txt installs
them for CI).
"""

import json
import os
import shutil
import signal
import subprocess
import time

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

import gslbtest
from gslbtest import ZONEDIR, ServerError, free_port, tool

ZONE = "example.test"

pytestmark = pytest.mark.skipif(shutil.which("ldns-keygen") is None,
                                reason="ldns-keygen (ldnsutils) not installed")


def keygen(workdir, *args):
    r = subprocess.run(["ldns-keygen"] + list(args) + [ZONE], cwd=str(workdir),
                       capture_output=True, text=True, check=True, timeout=60)
    return r.stdout.strip()


def zone_copy(workdir):
    """The test zone with its name servers at 127.0.0.1 (DNSViz asks each
    server the NS RRset names); returns its path."""
    text = open(os.path.join(ZONEDIR, "example.test.zone")).read()
    old = ("ns1             A       192.0.2.53\n                AAAA    2001:db8::53\n"
           "ns2     7200    A       192.0.2.54\n")
    assert old in text
    path = os.path.join(str(workdir), "example.test.zone")
    with open(path, "w") as f:
        f.write(text.replace(old, "ns1             A       127.0.0.1\n"
                                  "ns2     7200    A       127.0.0.1\n"))
    return path


# Services (geo answers signed per answer set): loopback clients, as the
# validators are, get region "eu" by a net: rule; no GeoIP database needed.
SERVICES = """
regions = ( { name = "eu"; lat = 52.2; lon = 21.0; }, { name = "us"; lat = 39.0; lon = -77.5; } );
services = (
  { name = "geo.example.test"; ttl = 30;
    route = ( { match = "net:127.0.0.0/8"; regions = [ "eu", "us" ]; } );
    pools = ( { region = "eu"; members = [ "192.0.2.11", "192.0.2.12", "2001:db8::11" ]; },
              { region = "us"; members = [ "192.0.2.21", "192.0.2.22" ]; } ); },
  { name = "pool.example.test"; ttl = 30;
    route = ( { match = "net:127.0.0.0/8"; regions = [ "eu", "us" ]; } );
    pools = ( { region = "eu"; cname = "www.example.test."; },
              { region = "us"; cname = "geo.example.test."; } ); },
  { name = "*.cdn.example.test"; ttl = 45;
    pools = ( { region = "eu"; members = [ "192.0.2.61" ]; } ); }
);
"""


def gslbd_conf(workdir, keys):
    return ('directory = "%s";\n'
            'listen = { dns = [ "127.0.0.1:0", "[::1]:0" ]; };\n'
            'zones = ( { origin = "%s"; file = "example.test.zone";\n'
            '    dnssec = { keys = [ %s ]; }; } );\n%s'
            % (workdir, ZONE, ", ".join('"%s"' % k for k in keys), SERVICES))


def reload_gslbd(srv, keys):
    """Write the config with keys, SIGHUP, wait for the reload."""
    with open(srv.config_path, "w") as f:
        f.write(gslbd_conf(srv.workdir, keys))
    n = srv.stderr_text().count("reloaded what=")
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + gslbtest.WAIT
    while srv.stderr_text().count("reloaded what=") == n:
        assert "reload failed" not in srv.stderr_text(), srv.stderr_text()
        assert time.monotonic() < deadline, "no reload:\n" + srv.stderr_text()
        time.sleep(0.05)


class Signed:
    """The module's keys and gslbd."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.zone = zone_copy(workdir)
        self.ksk = keygen(workdir, "-a", "ECDSAP256SHA256", "-k")
        self.zsk = keygen(workdir, "-a", "ECDSAP256SHA256")
        self.srv = gslbtest.Gslbd(str(workdir), config_text=gslbd_conf(
            workdir, [self.ksk, self.zsk])).start()

    def ds(self):
        """The KSK's DS record, as gslbd --ds prints it."""
        r = gslbtest.run_gslbd(["--ds", "-c", self.srv.config_path, ZONE])
        assert r.returncode == 0, r.stderr
        return r.stdout.strip().splitlines()[0]


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    s = Signed(tmp_path_factory.mktemp("dnssec-validators"))
    yield s
    gslbtest.stop_checked(s.srv)


# ---- Unbound --------------------------------------------------------------

class Unbound(gslbtest.Server):
    """unbound -d with its own folder, validating example.test against the
    DS trust anchor, example.test stubbed to gslbd."""
    name = "unbound"

    def __init__(self, workdir, gslbd_port, anchor):
        super().__init__(workdir)
        self.gslbd_port = gslbd_port
        self.anchor = anchor
        self.conf = os.path.join(workdir, "unbound.conf")

    def start(self, attempts=5):
        last = ""
        for _ in range(attempts):
            port = free_port()
            with open(self.conf, "w") as f:
                f.write("""server:
  interface: 127.0.0.1@{port}
  port: {port}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{wd}"
  pidfile: "{wd}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  val-log-level: 2
  num-threads: 1
  so-reuseport: no
  do-ip6: no
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  local-zone: "test." nodefault
  trust-anchor: "{anchor}"
  trust-anchor-signaling: no
  qname-minimisation: no
  edns-buffer-size: 1232
stub-zone:
  name: "{zone}"
  stub-addr: 127.0.0.1@{gport}
remote-control:
  control-enable: yes
  control-interface: "{wd}/unbound.ctl"
  control-use-cert: no
""".format(port=port, wd=self.workdir, anchor=self.anchor, zone=ZONE,
                    gport=self.gslbd_port))
            self._spawn([tool("unbound"), "-d", "-c", self.conf])
            self.ports = {"udp4": port, "tcp4": port}
            deadline = time.monotonic() + gslbtest.START_TIMEOUT
            while time.monotonic() < deadline and self.alive():
                if "start of service" in self.stderr_text():
                    return self
                time.sleep(0.05)
            last = self.stderr_text()
            self.stop()
        raise ServerError("unbound did not start:\n%s" % last[-2000:])

    def flush(self):
        """Forget example.test: its answers and the validated keys."""
        r = subprocess.run([tool("unbound-control"), "-c", self.conf, "flush_zone", ZONE],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        r = subprocess.run([tool("unbound-control"), "-c", self.conf, "flush_bogus"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr

    def ask(self, name, rdtype):
        q = dns.message.make_query(name, rdtype, want_dnssec=True, use_edns=0, payload=1232)
        q.flags |= dns.flags.RD
        return dns.query.udp(q, "127.0.0.1", port=self.ports["udp4"], timeout=10)


@pytest.fixture(scope="module")
def unbound(signed):
    if not tool("unbound"):
        if os.environ.get("CI"):
            pytest.fail("unbound is not installed (qa/packages.txt)")
        pytest.skip("unbound (Debian unbound) not installed")
    ds = signed.ds().split()
    anchor = " ".join([ds[0], "IN", "DS"] + ds[4:])
    ub = Unbound(str(signed.workdir / "unbound"), signed.srv.ports["udp4"], anchor)
    os.makedirs(ub.workdir, exist_ok=True)
    ub.start()
    yield ub
    ub.stop()


# Static answers and NODATA (compact denial) the validator must accept.
SECURE = [("www.example.test.", "A"), ("www.example.test.", "AAAA"),
          ("example.test.", "MX"), ("example.test.", "DNSKEY"), ("example.test.", "CDS"),
          ("txt.example.test.", "TXT"), ("_sip._tcp.example.test.", "SRV"),
          ("www.example.test.", "MX"), ("_udp.example.test.", "TXT")]
# Geo answers, a CNAME pool (and the chased name), a wildcard service, a
# service name's missing type.
SECURE_GEO = [("geo.example.test.", "A"), ("geo.example.test.", "AAAA"),
              ("pool.example.test.", "A"), ("img.cdn.example.test.", "A"),
              ("geo.example.test.", "MX")]


def test_unbound_sets_ad_on_signed_answers(signed, unbound):
    for name, rdtype in SECURE:
        r = unbound.ask(name, rdtype)
        assert r.rcode() == dns.rcode.NOERROR, (name, rdtype, r)
        assert r.flags & dns.flags.AD, (name, rdtype, r)
    assert "validation failure" not in unbound.stderr_text(), unbound.stderr_text()


def test_unbound_sets_ad_on_geo_answers_and_denials(signed, unbound):
    """The answers gslbd builds per query: the members of the client's
    region, a CNAME pool with its target, a wildcard service, NODATA at a
    service name, and a name that does not exist (compact denial: NOERROR
    with an NSEC whose bitmap has NXNAME, or NXDOMAIN)."""
    for name, rdtype in SECURE_GEO:
        r = unbound.ask(name, rdtype)
        assert r.rcode() == dns.rcode.NOERROR, (name, rdtype, r)
        assert r.flags & dns.flags.AD, (name, rdtype, r)
    r = unbound.ask("geo.example.test.", "A")
    assert {rd.to_text() for x in r.answer if x.rdtype == dns.rdatatype.A for rd in x} == \
        {"192.0.2.11", "192.0.2.12"}, r  # region eu: the net: rule
    r = unbound.ask("pool.example.test.", "A")
    assert [x.rdtype for x in r.answer if x.rdtype != dns.rdatatype.RRSIG] == \
        [dns.rdatatype.CNAME, dns.rdatatype.A], r
    r = unbound.ask("no-such-name.example.test.", "A")
    assert r.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN) and not r.answer, r
    assert r.flags & dns.flags.AD, r
    assert "validation failure" not in unbound.stderr_text(), unbound.stderr_text()


def test_unbound_fails_answers_signed_with_keys_off_the_anchor(signed, unbound):
    """gslbd reloaded with other keys (a key file swapped): the DNSKEY set
    no longer matches the anchor, every answer is bogus (SERVFAIL); with the
    keys put back, AD again."""
    other = [keygen(signed.workdir, "-a", "ECDSAP256SHA256", "-k"),
             keygen(signed.workdir, "-a", "ECDSAP256SHA256")]
    try:
        reload_gslbd(signed.srv, other)
        unbound.flush()
        for name, rdtype in SECURE[:3]:
            r = unbound.ask(name, rdtype)
            assert r.rcode() == dns.rcode.SERVFAIL, (name, rdtype, r)
            assert not r.flags & dns.flags.AD
        assert "validation failure <www.example.test. A IN>" in unbound.stderr_text()
    finally:
        reload_gslbd(signed.srv, [signed.ksk, signed.zsk])
        unbound.flush()
    r = unbound.ask("www.example.test.", "A")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AD, r


# ---- DNSViz, and Knot's onlinesign beside gslbd ---------------------------

# dnsviz grok of Debian 12 (0.9.4) imports pygraphviz.release, which
# pygraphviz 1.7 no longer has: give it one, then run the dnsviz script.
DNSVIZ = """
import runpy, sys, types
import pygraphviz
if not hasattr(pygraphviz, "release"):
    m = types.ModuleType("pygraphviz.release")
    m.version = pygraphviz.__version__
    sys.modules["pygraphviz.release"] = m
    pygraphviz.release = m
sys.argv = ["dnsviz"] + sys.argv[1:]
runpy.run_path(sys.argv.pop(1), run_name="__main__")
"""

NAMES = ["example.test", "www.example.test", "_sip._tcp.example.test", "txt.example.test"]
# gslbd's own names besides: a geo service, a CNAME pool, a wildcard service
GSLBD_NAMES = NAMES + ["geo.example.test", "pool.example.test", "img.cdn.example.test"]
GOOD = {"SECURE", "VALID", "NOERROR"}


def need(*tools):
    for t in tools:
        if not tool(t):
            if os.environ.get("CI"):
                pytest.fail("%s is not installed (qa/packages.txt)" % t)
            pytest.skip("%s not installed" % t)


def dnsviz(port, anchor_file, workdir, names=NAMES):
    """dnsviz probe + grok of names in example.test at 127.0.0.1:port: the
    grok JSON (every name, query, RRset, RRSIG and proof with its status)."""
    probe = subprocess.run(
        [tool("dnsviz"), "probe", "-4", "-A", "-x", "%s+:127.0.0.1:%d" % (ZONE, port)] + names,
        capture_output=True, timeout=120, cwd=workdir)
    assert probe.returncode == 0, probe.stderr.decode()
    grok = subprocess.run(["/usr/bin/python3", "-c", DNSVIZ, tool("dnsviz"), "grok", "-t",
                           anchor_file], input=probe.stdout, capture_output=True,
                          timeout=120, cwd=workdir)
    assert grok.returncode == 0, grok.stderr.decode()
    return json.loads(grok.stdout)


def verdicts(grok):
    """{path: status} and [(path, error)] of a grok report."""
    status, errors = {}, []

    def walk(x, path):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "status":
                    status[path] = v
                elif k == "errors":
                    errors.extend((path, e["code"]) for e in v)
                else:
                    walk(v, path + "/" + k)
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, "%s[%d]" % (path, i))
    walk(grok, "")
    return status, errors


class KnotSigner(gslbtest.Knot):
    """knotd with mod-onlinesign serving the zone file with the key pairs
    imported from their BIND files (keymgr import-bind)."""
    extra = """policy:
  - id: imported
    manual: on
mod-onlinesign:
  - id: signer
    policy: imported
"""
    zone_extra = "    module: mod-onlinesign/signer\n"

    def __init__(self, workdir, zone, keys):
        super().__init__(workdir)
        self.zone, self.keys = zone, keys

    def zone_files(self):
        return [(ZONE, self.zone)]

    def start(self):
        conf = os.path.join(self.workdir, "knot.conf")
        self._write_conf(free_port())
        for k in self.keys:
            r = subprocess.run([tool("keymgr"), "-c", conf, ZONE, "import-bind",
                                k + ".private"], capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stdout + r.stderr
        return super().start()


@pytest.fixture(scope="module")
def knot(signed):
    need("knotd", "keymgr")
    k = KnotSigner(str(signed.workdir / "knot"), signed.zone,
                   [str(signed.workdir / signed.ksk), str(signed.workdir / signed.zsk)])
    os.makedirs(k.workdir, exist_ok=True)
    k.start()
    yield k
    k.stop()


@pytest.fixture(scope="module")
def anchor_file(signed):
    """The KSK's DNSKEY record, the trust anchor dnsviz grok reads."""
    path = signed.workdir / "anchor.key"
    shutil.copy(signed.workdir / (signed.ksk + ".key"), path)
    return str(path)


def test_dnsviz_finds_no_error_in_gslbd(signed, anchor_file):
    need("dnsviz")
    status, errors = verdicts(dnsviz(signed.srv.ports["udp4"], anchor_file,
                                     str(signed.workdir), GSLBD_NAMES))
    assert not errors, errors
    bad = {p: s for p, s in status.items() if s not in GOOD}
    assert not bad, bad
    # the DNSKEYs are SECURE from the anchor, the answers signed
    assert any("/dnskey[" in p and s == "SECURE" for p, s in status.items()), status
    for name in NAMES[1:3] + GSLBD_NAMES[-3:]:
        assert any(p.startswith("/%s./queries/" % name) and "/rrsig[" in p and s == "VALID"
                   for p, s in status.items()), (name, status)


def test_knot_onlinesign_with_the_same_key_validates_too(signed, knot, anchor_file):
    need("dnsviz")
    status, errors = verdicts(dnsviz(knot.ports["udp4"], anchor_file,
                                     str(signed.workdir / "knot")))
    assert not errors, errors
    assert not {p: s for p, s in status.items() if s not in GOOD}
    # The same DNSKEY RRset from both; each server's answers validate with
    # the other's keys.
    zone = dns.name.from_text(ZONE)

    def ask(port, name, rdtype):
        q = dns.message.make_query(name, rdtype, want_dnssec=True, use_edns=0, payload=1232)
        return dns.query.tcp(q, "127.0.0.1", port=port, timeout=5)

    def rrsets(r, rdtype):
        data = r.find_rrset(r.answer, r.question[0].name, dns.rdataclass.IN, rdtype)
        sig = r.find_rrset(r.answer, r.question[0].name, dns.rdataclass.IN,
                           dns.rdatatype.RRSIG, rdtype)
        return data, sig

    ports = {"gslbd": signed.srv.ports["udp4"], "knot": knot.ports["udp4"]}
    keys = {who: rrsets(ask(p, ZONE + ".", "DNSKEY"), dns.rdatatype.DNSKEY)[0]
            for who, p in ports.items()}
    assert keys["gslbd"] == keys["knot"]
    for name, rdtype in [("www.example.test.", "A"), ("example.test.", "MX"),
                         ("_sip._tcp.example.test.", "SRV"), ("txt.example.test.", "TXT"),
                         ("example.test.", "DNSKEY")]:
        t = dns.rdatatype.from_text(rdtype)
        got = {who: rrsets(ask(p, name, rdtype), t) for who, p in ports.items()}
        assert got["gslbd"][0] == got["knot"][0], (name, rdtype)
        for who, (data, sig) in got.items():
            other = "knot" if who == "gslbd" else "gslbd"
            dns.dnssec.validate(data, sig, {zone: keys[other]})
