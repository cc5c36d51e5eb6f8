"""Signed answers of gslbd checked by real validators (issue 14).

One gslbd per module serves example.test signed with a KSK and a ZSK
(ECDSAP256SHA256, made by ldns-keygen); beside it run:

- Unbound (Debian `unbound`) as a validating resolver on a free loopback
  port with its own folder: a stub-zone to gslbd, the KSK's DS as the trust
  anchor, no root hints needed (nothing outside example.test is asked).
  Signed answers get the AD bit; when gslbd is reloaded with other keys
  (the anchor no longer matches) the answers are SERVFAIL, and AD again
  once the keys are put back.

Skipped with the reason when a tool is missing (qa/packages.txt installs
them for CI).
"""

import os
import shutil
import signal
import subprocess
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
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


def gslbd_conf(workdir, keys):
    return ('directory = "%s";\n'
            'listen = { dns = [ "127.0.0.1:0", "[::1]:0" ]; };\n'
            'zones = ( { origin = "%s"; file = "%s";\n'
            '    dnssec = { keys = [ %s ]; }; } );\n'
            % (workdir, ZONE, os.path.join(ZONEDIR, "example.test.zone"),
               ", ".join('"%s"' % k for k in keys)))


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


def test_unbound_sets_ad_on_signed_answers(signed, unbound):
    for name, rdtype in SECURE:
        r = unbound.ask(name, rdtype)
        assert r.rcode() == dns.rcode.NOERROR, (name, rdtype, r)
        assert r.flags & dns.flags.AD, (name, rdtype, r)
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
