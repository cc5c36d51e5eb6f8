"""DNSSEC keys of a zone (issue 14, first steps): the zones[].dnssec group is
read and checked at load (gslbd -t), and `gslbd --ds -c FILE ZONE` prints the
DS records for the parent. Keys are made here by ldns-keygen (ldnsutils); the
DS records are checked against dnspython's own computation (dns.dnssec.make_ds)
of the DNSKEY in the .key file."""

import os
import pwd
import re
import shutil
import subprocess
import tempfile

import dns.dnssec
import dns.message
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.name
import pytest

from gslbtest import GSLBCTL, ZONEDIR, ctl, free_port, run_gslbd, udp_exchange

pytestmark = pytest.mark.skipif(shutil.which("ldns-keygen") is None,
                                reason="ldns-keygen (ldnsutils) not installed")


def keygen(workdir, *args, zone="example.test"):
    """A key pair made by ldns-keygen in workdir; returns its base name."""
    r = subprocess.run(["ldns-keygen"] + list(args) + [zone], cwd=str(workdir),
                       capture_output=True, text=True, check=True, timeout=60)
    return r.stdout.strip()


def write_conf(workdir, dnssec, origin="example.test"):
    conf = workdir / "gslb.conf"
    conf.write_text(
        'directory = "%s";\n'
        'listen = { dns = [ "127.0.0.1:0", "[::1]:0" ]; };\n'
        'zones = (\n'
        '  { origin = "%s"; file = "%s";\n'
        '    dnssec = { %s }; } );\n' % (workdir, origin, os.path.join(ZONEDIR, "example.test.zone"),
                                          dnssec))
    return conf


def dnskey_of(workdir, base):
    for line in (workdir / (base + ".key")).read_text().splitlines():
        if line and not line.startswith(";"):
            owner, _cls, _type, rest = line.split(None, 3)
            rest = rest.split(";")[0]
            return dns.name.from_text(owner), dns.rdata.from_text(
                dns.rdataclass.IN, dns.rdatatype.DNSKEY, rest)
    raise AssertionError("no DNSKEY in %s.key" % base)


def ds_lines(conf, zone="example.test"):
    r = run_gslbd(["--ds", "-c", str(conf), zone])
    assert r.returncode == 0, r.stderr
    return [line.split() for line in r.stdout.splitlines()]


def test_ds_of_the_ksk_only(tmp_path):
    ksk = keygen(tmp_path, "-a", "ECDSAP256SHA256", "-k")
    zsk = keygen(tmp_path, "-a", "ED25519")
    conf = write_conf(tmp_path, 'keys = [ "%s", "%s" ];' % (zsk, ksk))
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    owner, key = dnskey_of(tmp_path, ksk)
    want = dns.dnssec.make_ds(owner, key, "SHA256")
    lines = ds_lines(conf, "Example.Test.")
    assert len(lines) == 1, lines
    name, ttl, cls, typ = lines[0][:4]
    assert (name, ttl, cls, typ) == ("example.test.", "3600", "IN", "DS")
    got = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DS, " ".join(lines[0][4:]))
    assert got == want
    assert got.key_tag == dns.dnssec.key_id(key) == int(ksk.rsplit("+", 1)[1])


def test_ds_of_a_lone_zsk(tmp_path):
    # No key with the SEP flag: every key's DS (a CSK without the flag).
    k1 = keygen(tmp_path, "-a", "ED25519")
    k2 = keygen(tmp_path, "-a", "ECDSAP256SHA256")
    conf = write_conf(tmp_path, 'keys = [ "%s", "%s" ];' % (k1, k2))
    lines = ds_lines(conf)
    want = [dns.dnssec.make_ds(*dnskey_of(tmp_path, k), "SHA256") for k in (k1, k2)]
    got = [dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DS, " ".join(x[4:]))
           for x in lines]
    assert got == want


def test_ds_usage_errors(tmp_path):
    k = keygen(tmp_path, "-a", "ED25519")
    conf = write_conf(tmp_path, 'keys = [ "%s" ];' % k)
    r = run_gslbd(["--ds", "-c", str(conf), "example.org"])
    assert r.returncode == 1 and "no zone example.org" in r.stderr, r.stderr
    r = run_gslbd(["--ds", "-c", str(conf)])
    assert r.returncode == 2 and "--ds needs one ZONE" in r.stderr, r.stderr


@pytest.mark.parametrize("dnssec, error", [
    ('keys = [ "K-missing" ];', 'gslb.conf:5: zones[0].dnssec.keys[0]: %(dir)s/K-missing.key: '
     'No such file or directory'),
    ('keys = [ ];', "gslb.conf:5: zones[0].dnssec.keys: no key given"),
    ('signature_validity = 3600;', "gslb.conf:5: zones[0].dnssec: no keys given"),
    ('keys = [ "%(key)s" ]; signature_validity = 86400; signature_refresh = 86400;',
     "gslb.conf:5: zones[0].dnssec.signature_refresh: signature_refresh (86400) must be "
     "less than signature_validity (86400)"),
    ('keys = [ "%(key)s" ]; nsec = "nsec3";', "gslb.conf:5: zones[0].dnssec.nsec:"),
    ('keys = [ "%(key)s" ]; sig_validity = 3600;', "dnssec.sig_validity: unknown setting"),
    ('keys = [ "%(key)s", "%(key)s" ];', "given twice"),
])
def test_check_rejects(tmp_path, dnssec, error):
    key = keygen(tmp_path, "-a", "ED25519")
    subs = {"key": key, "dir": tmp_path}
    conf = write_conf(tmp_path, dnssec % subs)
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, r.stderr
    assert (error % subs) in r.stderr, r.stderr


def test_check_rejects_a_key_of_another_zone(tmp_path):
    key = keygen(tmp_path, "-a", "ED25519", zone="example.org")
    conf = write_conf(tmp_path, 'keys = [ "%s" ];' % key)
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1
    assert "gslb.conf:5: zones[0].dnssec.keys[0]: %s/%s.key: key of example.org., not of " \
        "zone example.test" % (tmp_path, key) in r.stderr, r.stderr


def test_check_rejects_a_mismatched_private_key(tmp_path):
    a = keygen(tmp_path, "-a", "ECDSAP256SHA256")
    b = keygen(tmp_path, "-a", "ECDSAP256SHA256")
    shutil.copy(tmp_path / (b + ".private"), tmp_path / (a + ".private"))
    conf = write_conf(tmp_path, 'keys = [ "%s" ];' % a)
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1
    assert "%s.private: private key does not match" % a in r.stderr, r.stderr


def test_check_warns_of_a_private_key_others_can_read(tmp_path):
    key = keygen(tmp_path, "-a", "ED25519")
    conf = write_conf(tmp_path, 'keys = [ "%s" ];' % key)
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert "can be read by others" not in r.stderr
    os.chmod(tmp_path / (key + ".private"), 0o644)
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert "DNSSEC private key can be read by others file=%s/%s.private" % (tmp_path, key) \
        in r.stderr, r.stderr


# ---- signed static answers (DO bit), validated by dnspython -------------

def signed_server(gslbd_factory, tmp_path, *keygen_args):
    keys = [keygen(tmp_path, *a) for a in keygen_args]
    conf = write_conf(tmp_path, "keys = [ %s ];" % ", ".join('"%s"' % k for k in keys))
    return gslbd_factory(config_text=conf.read_text(), workdir=tmp_path), keys


def ask(srv, name, rdtype, do=True, tcp=True):
    q = dns.message.make_query(name, rdtype, want_dnssec=do, use_edns=0, payload=1232)
    port = srv.ports["tcp4" if tcp else "udp4"]
    if tcp:
        return dns.query.tcp(q, "127.0.0.1", port=port, timeout=5)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=5)


def dnskeys(srv):
    r = ask(srv, "example.test.", "DNSKEY")
    keyset = r.find_rrset(r.answer, ZONE, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    sig = r.find_rrset(r.answer, ZONE, dns.rdataclass.IN, dns.rdatatype.RRSIG,
                       dns.rdatatype.DNSKEY)
    dns.dnssec.validate(keyset, sig, {ZONE: keyset})
    return keyset


ZONE = dns.name.from_text("example.test.")


def validated(srv, keyset, name, rdtype):
    """The answer to name/rdtype with DO, each RRset checked with its RRSIG."""
    r = ask(srv, name, rdtype)
    assert r.rcode() == dns.rcode.NOERROR
    data = [x for x in r.answer if x.rdtype != dns.rdatatype.RRSIG]
    assert data, r
    for rrset in data:
        sig = r.find_rrset(r.answer, rrset.name, dns.rdataclass.IN, dns.rdatatype.RRSIG,
                           rrset.rdtype)
        dns.dnssec.validate(rrset, sig, {ZONE: keyset})
    return r


@pytest.mark.parametrize("algs", [
    (("-a", "ECDSAP256SHA256", "-k"), ("-a", "ECDSAP256SHA256")),
    (("-a", "ED25519", "-k"),),
])
def test_static_answers_validate(gslbd_factory, tmp_path, algs):
    srv, keys = signed_server(gslbd_factory, tmp_path, *algs)
    keyset = dnskeys(srv)
    assert sorted(dns.dnssec.key_id(k) for k in keyset) == \
        sorted(int(k.rsplit("+", 1)[1]) for k in keys)
    for name, rdtype in [("www.example.test.", "A"), ("www.example.test.", "AAAA"),
                         ("example.test.", "MX"), ("example.test.", "NS"),
                         ("example.test.", "SOA"), ("txt.example.test.", "TXT"),
                         ("_sip._tcp.example.test.", "SRV"), ("WwW.Example.TEST.", "A")]:
        validated(srv, keyset, name, rdtype)
    # The keys and the signing are logged.
    log = srv.stderr_text()
    for k in keys:
        tag = int(k.rsplit("+", 1)[1])
        assert "dnssec key zone=example.test tag=%d algorithm=" % tag in log, log
    assert re.search(r"dnssec zone signed zone=example.test signatures=[1-9]\d* valid_until=\d+",
                     log), log
    # One key signs (the ZSK when there is one, a lone KSK as a CSK).
    r = ask(srv, "www.example.test.", "A")
    sigs = [s for x in r.answer if x.rdtype == dns.rdatatype.RRSIG for s in x]
    assert len(sigs) == 1
    # keys[-1]: the ZSK of a KSK + ZSK pair, or the lone KSK
    assert sigs[0].key_tag == int(keys[-1].rsplit("+", 1)[1])


def test_without_do_answers_are_unchanged(gslbd_factory, tmp_path):
    srv, _ = signed_server(gslbd_factory, tmp_path, ("-a", "ED25519", "-k"))
    for tcp in (True, False):
        r = ask(srv, "www.example.test.", "A", do=False, tcp=tcp)
        assert [x.rdtype for x in r.answer] == [dns.rdatatype.A]
        assert not r.authority or all(x.rdtype != dns.rdatatype.RRSIG for x in r.authority)
        r = ask(srv, "example.test.", "DNSKEY", do=False, tcp=tcp)
        assert [x.rdtype for x in r.answer] == [dns.rdatatype.DNSKEY]


@pytest.mark.parametrize("record, name", [
    ("example.test. 3600 IN DNSKEY 256 3 15 m7xBPQPAYWCTedawzntqqjmoefys70/3J44NxhGZ2VE=",
     "DNSKEY"),
    ("example.test. 3600 IN CDS 0 0 0 00", "CDS"),
    ("www.example.test. 3600 IN NSEC \\000.www.example.test. A RRSIG NSEC", "NSEC"),
])
def test_zone_with_its_own_dnssec_records_is_refused(tmp_path, record, name):
    key = keygen(tmp_path, "-a", "ED25519")
    zone = tmp_path / "z.zone"
    base = open(os.path.join(ZONEDIR, "example.test.zone")).read()
    zone.write_text(base + "\n%s\n" % record)
    line = (base + "\n").count("\n") + 1
    conf = write_conf(tmp_path, 'keys = [ "%s" ];' % key)
    conf.write_text(conf.read_text().replace(os.path.join(ZONEDIR, "example.test.zone"),
                                             str(zone)))
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1
    assert "zone example.test: %s:%d: a %s record" % (zone, line, name) in r.stderr, r.stderr


@pytest.mark.parametrize("record", [
    "www.example.test. 3600 IN TYPE128 \\# 0",
    "www.example.test. 3600 IN NXNAME \\# 0",
    "www.example.test. 3600 IN TYPE249 \\# 0",
    "www.example.test. 3600 IN TYPE200 \\# 1 00",
])
def test_zone_with_a_meta_type_is_refused(tmp_path, record):
    """NXNAME (RFC 9824) and the other meta-types and QTYPEs (128-255)
    are no data: gslbd -t refuses them with file:line, signed or not."""
    zone = tmp_path / "z.zone"
    base = open(os.path.join(ZONEDIR, "example.test.zone")).read()
    zone.write_text(base + "\n%s\n" % record)
    line = (base + "\n").count("\n") + 1
    conf = tmp_path / "gslb.conf"
    conf.write_text('listen = { dns = [ "127.0.0.1:0" ]; };\n'
                    'zones = ( { origin = "example.test"; file = "%s"; } );\n' % zone)
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, r.stderr
    assert "%s:%d: record type" % (zone, line) in r.stderr, r.stderr
    assert "cannot appear in a zone" in r.stderr, r.stderr


def write_anchor(path, owner, key):
    """A delv trust anchor file for the DNSKEY key of owner."""
    flags, proto, alg, *b64 = key.to_text().split()
    path.write_text('trust-anchors {\n  %s static-key %s %s %s "%s";\n};\n'
                    % (owner, flags, proto, alg, "".join(b64)))


def delv(srv, anchor, name, rdtype):
    r = subprocess.run(["delv", "@127.0.0.1", "-p", str(srv.ports["udp4"]), "-a", str(anchor),
                        "+root=example.test", name, rdtype], capture_output=True, text=True,
                       timeout=30)
    return r.stdout + r.stderr


@pytest.mark.skipif(shutil.which("delv") is None, reason="delv (bind9-dnsutils) not installed")
def test_delv_validates_static_answers_and_nodata(gslbd_factory, tmp_path):
    srv, keys = signed_server(gslbd_factory, tmp_path, ("-a", "ECDSAP256SHA256", "-k"),
                              ("-a", "ECDSAP256SHA256"))
    anchor = tmp_path / "anchor.conf"
    write_anchor(anchor, *dnskey_of(tmp_path, keys[0]))
    for name, rdtype in [("www.example.test", "A"), ("example.test", "MX"),
                         ("example.test", "DNSKEY"), ("_sip._tcp.example.test", "SRV")]:
        out = delv(srv, anchor, name, rdtype)
        assert "; fully validated" in out, out
    # NODATA, proved by the name's NSEC (compact denial)
    for name, rdtype in [("www.example.test", "MX"), ("_udp.example.test", "TXT")]:
        out = delv(srv, anchor, name, rdtype)
        assert "; negative response, fully validated" in out, out
    # Another key as the trust anchor: delv does not validate the answer.
    other = keygen(tmp_path, "-a", "ECDSAP256SHA256", "-k")
    write_anchor(anchor, *dnskey_of(tmp_path, other))
    out = delv(srv, anchor, "www.example.test", "A")
    assert "; fully validated" not in out, out


def nsec_types(rd):
    """Type names of an NSEC record's bitmap."""
    return rd.to_text().split()[1:]


@pytest.mark.parametrize("name, rdtype, types", [
    ("www.example.test.", "MX", ["A", "AAAA", "RRSIG", "NSEC"]),
    ("example.test.", "SRV", ["A", "NS", "SOA", "MX", "TXT", "AAAA", "RRSIG", "NSEC", "DNSKEY",
                              "CDS", "CDNSKEY", "HTTPS", "CAA"]),
    ("_udp.example.test.", "A", ["RRSIG", "NSEC"]),  # an empty non-terminal
    ("ext.example.test.", "DS", ["NS", "RRSIG", "NSEC"]),  # insecure delegation: no DS
])
def test_nodata_is_proved_by_a_compact_nsec(gslbd_factory, tmp_path, name, rdtype, types):
    srv, _ = signed_server(gslbd_factory, tmp_path, ("-a", "ECDSAP256SHA256", "-k"),
                           ("-a", "ED25519"))
    keyset = dnskeys(srv)
    r = ask(srv, name, rdtype)
    assert r.rcode() == dns.rcode.NOERROR and not r.answer, r
    owner = dns.name.from_text(name)
    for rrset in r.authority:
        if rrset.rdtype != dns.rdatatype.RRSIG:
            sig = r.find_rrset(r.authority, rrset.name, dns.rdataclass.IN,
                               dns.rdatatype.RRSIG, rrset.rdtype)
            dns.dnssec.validate(rrset, sig, {ZONE: keyset})
    nsec = r.find_rrset(r.authority, owner, dns.rdataclass.IN, dns.rdatatype.NSEC)
    assert len(nsec) == 1
    assert nsec[0].next == dns.name.Name([b"\x00"]).concatenate(owner)
    assert nsec_types(nsec[0]) == types
    assert nsec.ttl == 300  # the SOA minimum
    # Without DO: the SOA alone, as an unsigned zone answers.
    r = ask(srv, name, rdtype, do=False)
    assert [x.rdtype for x in r.authority] == [dns.rdatatype.SOA], r


@pytest.mark.parametrize("name, proof", [
    ("host.deleg.example.test.", dns.rdatatype.DS),    # signed child: its DS
    ("www.ext.example.test.", dns.rdatatype.NSEC),     # insecure child: no DS, proved
])
def test_referral_says_whether_the_child_is_signed(gslbd_factory, tmp_path, name, proof):
    srv, _ = signed_server(gslbd_factory, tmp_path, ("-a", "ED25519", "-k"), ("-a", "ED25519"))
    keyset = dnskeys(srv)
    r = ask(srv, name, "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer, r
    cut = dns.name.from_text(name).parent()
    types = [x.rdtype for x in r.authority]
    assert types[0] == dns.rdatatype.NS and proof in types, r
    # NS at the cut is the child's: not signed
    assert not any(x.rdtype == dns.rdatatype.RRSIG and x.covers == dns.rdatatype.NS
                   for x in r.authority), r
    rrset = r.find_rrset(r.authority, cut, dns.rdataclass.IN, proof)
    sig = r.find_rrset(r.authority, cut, dns.rdataclass.IN, dns.rdatatype.RRSIG, proof)
    dns.dnssec.validate(rrset, sig, {ZONE: keyset})
    if proof == dns.rdatatype.NSEC:
        assert nsec_types(rrset[0]) == ["NS", "RRSIG", "NSEC"]
    # glue stays unsigned
    assert not any(x.rdtype == dns.rdatatype.RRSIG for x in r.additional), r
    # Without DO: the referral of an unsigned zone, NS and glue only.
    r = ask(srv, name, "A", do=False)
    assert [x.rdtype for x in r.authority] == [dns.rdatatype.NS], r


# ---- DNSKEY, CDS and CDNSKEY at the apex ---------------------------------

def tag_of(base):
    return int(base.rsplit("+", 1)[1])


def signers(r, rdtype):
    return sorted(s.key_tag for x in r.answer
                  if x.rdtype == dns.rdatatype.RRSIG and x.covers == rdtype for s in x)


@pytest.mark.parametrize("algs, ksks", [
    # KSK + ZSK: the KSK signs the key RRsets, the ZSK the rest
    ((("-a", "ECDSAP256SHA256", "-k"), ("-a", "ED25519")), [0]),
    # two KSKs (a KSK rollover) + a ZSK: both KSKs sign, both have a CDS
    ((("-a", "ECDSAP256SHA256", "-k"), ("-a", "ECDSAP256SHA256", "-k"),
      ("-a", "ECDSAP256SHA256")), [0, 1]),
    # a lone CSK signs everything
    ((("-a", "ED25519", "-k"),), [0]),
])
def test_cds_and_cdnskey_of_the_ksks(gslbd_factory, tmp_path, algs, ksks):
    srv, keys = signed_server(gslbd_factory, tmp_path, *algs)
    keyset = dnskeys(srv)
    want = sorted(tag_of(keys[i]) for i in ksks)
    zsks = sorted(tag_of(k) for i, k in enumerate(keys) if i not in ksks) or want
    for rdtype in ("DNSKEY", "CDS", "CDNSKEY"):
        r = validated(srv, keyset, "example.test.", rdtype)
        assert signers(r, dns.rdatatype.from_text(rdtype)) == want, r
    r = validated(srv, keyset, "example.test.", "CDS")
    cds = r.find_rrset(r.answer, ZONE, dns.rdataclass.IN, dns.rdatatype.CDS)
    assert cds.ttl == 3600  # the SOA's
    assert sorted(x.to_text() for x in cds) == sorted(
        dns.dnssec.make_ds(ZONE, dnskey_of(tmp_path, keys[i])[1], "SHA256").to_text()
        for i in ksks)
    # the CDS records are the DS records gslbd --ds prints
    assert sorted(" ".join(x[4:]) for x in ds_lines(tmp_path / "gslb.conf")) == \
        sorted(x.to_text() for x in cds)
    r = validated(srv, keyset, "example.test.", "CDNSKEY")
    cdnskey = r.find_rrset(r.answer, ZONE, dns.rdataclass.IN, dns.rdatatype.CDNSKEY)
    assert sorted(x.to_text() for x in cdnskey) == sorted(
        dnskey_of(tmp_path, keys[i])[1].to_text() for i in ksks)
    r = validated(srv, keyset, "www.example.test.", "A")
    assert signers(r, dns.rdatatype.A) == zsks


def raw_answer(srv, qtype):
    """The reply's bytes to a fixed query without DO (id 4242)."""
    q = dns.message.make_query("example.test.", qtype, use_edns=0, payload=1232)
    q.id = 4242
    return udp_exchange(q.to_wire(), 4, srv.ports["udp4"])


def test_nodes_with_the_same_keys_send_the_same_key_sets(gslbd_factory, tmp_path):
    """Two nodes given the same key files, in another order: the DNSKEY, CDS
    and CDNSKEY RRsets are the same bytes (canonical order)."""
    keys = [keygen(tmp_path, "-a", "ECDSAP256SHA256", "-k"),
            keygen(tmp_path, "-a", "ECDSAP256SHA256", "-k"),
            keygen(tmp_path, "-a", "ED25519")]
    nodes = []
    for i, order in enumerate((keys, keys[::-1])):
        d = tmp_path / ("node%d" % i)
        d.mkdir()
        conf = write_conf(tmp_path, "keys = [ %s ];" % ", ".join('"%s"' % k for k in order))
        nodes.append(gslbd_factory(config_text=conf.read_text(), workdir=d))
    for qtype in ("DNSKEY", "CDS", "CDNSKEY"):
        a, b = (raw_answer(n, qtype) for n in nodes)
        assert a == b, qtype
        r = dns.message.from_wire(a)
        assert len(r.answer[0]) == (3 if qtype == "DNSKEY" else 2)


# ---- keys read as the service user on reload; gslbctl ds ----------------

@pytest.fixture
def world_dir():
    """A folder the user nobody can read (pytest's are 0700), with a copy
    of the test zone: what a daemon that dropped privileges reloads from."""
    d = tempfile.mkdtemp(prefix="gslb-dnssec-")
    os.chmod(d, 0o755)
    shutil.copy(os.path.join(ZONEDIR, "example.test.zone"), d)
    os.chmod(os.path.join(d, "example.test.zone"), 0o644)
    yield __import__("pathlib").Path(d)
    shutil.rmtree(d, ignore_errors=True)


def service_conf(d, keys):
    return ('directory = "%s";\n'
            'user = "nobody";\n'
            'listen = { dns = [ "127.0.0.1:0", "[::1]:0" ]; admin = "127.0.0.1:0"; };\n'
            'zones = ( { origin = "example.test"; file = "example.test.zone";\n'
            '    dnssec = { keys = [ %s ]; }; } );\n'
            % (d, ", ".join('"%s"' % k for k in keys)))


def owned_key(d, owner, *args):
    """A key pair whose .private only owner (a uid) can read (mode 0600)."""
    base = keygen(d, *args)
    for ext, mode in ((".key", 0o644), (".private", 0o600)):
        os.chown(d / (base + ext), owner, -1)
        os.chmod(d / (base + ext), mode)
    return base


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_reload_after_the_privilege_drop_reads_the_keys(gslbd_factory, world_dir):
    """Keys are read before the drop at start, as the service user on each
    reload: a new key the user can read is added (a pre-publication
    rollover); one only root can read refuses the reload, naming the file,
    and the old keys keep signing. gslbctl ds prints what gslbd --ds does."""
    uid = pwd.getpwnam("nobody").pw_uid
    ksk = owned_key(world_dir, uid, "-a", "ECDSAP256SHA256", "-k")
    zsk = owned_key(world_dir, uid, "-a", "ECDSAP256SHA256")
    conf_text = service_conf(world_dir, [ksk, zsk])
    srv = gslbd_factory(config_text=conf_text, workdir=world_dir)
    assert "dropped privileges user=nobody" in srv.stderr_text()
    r = ctl(srv, "ds", "example.test", check=True)
    assert r.stdout == run_gslbd(["--ds", "-c", srv.config_path, "example.test"]).stdout
    assert r.stdout.split()[4] == str(tag_of(ksk)), r.stdout
    r = ctl(srv, "ds", "example.org")
    assert r.returncode == 1 and "no zone example.org" in r.stdout + r.stderr, r
    # a second KSK, readable by nobody: the reload takes it
    ksk2 = owned_key(world_dir, uid, "-a", "ECDSAP256SHA256", "-k")
    (world_dir / "gslb.conf").write_text(service_conf(world_dir, [ksk, ksk2, zsk]))
    ctl(srv, "reload", check=True)
    keyset = dnskeys(srv)
    assert sorted(dns.dnssec.key_id(k) for k in keyset) == \
        sorted(tag_of(k) for k in (ksk, ksk2, zsk))
    assert len(ctl(srv, "ds", "example.test", check=True).stdout.splitlines()) == 2
    # a key only root can read: refused, the previous keys keep serving
    rootonly = owned_key(world_dir, 0, "-a", "ECDSAP256SHA256")
    (world_dir / "gslb.conf").write_text(service_conf(world_dir, [ksk, ksk2, zsk, rootonly]))
    r = ctl(srv, "reload")
    assert r.returncode == 1, r
    msg = "gslbctl: reload: %s/gslb.conf:5: zones[0].dnssec.keys[3]: %s/%s.private: " \
        "Permission denied (HTTP 422)" % (world_dir, world_dir, rootonly)
    assert msg in r.stderr, r
    assert "reload failed, still serving the previous state" in srv.stderr_text()
    assert dnskeys(srv) == keyset
    validated(srv, keyset, "www.example.test.", "A")
    # gslbd -t as root reads it: the file is fine, only its owner is not
    assert run_gslbd(["-t", "-c", srv.config_path]).returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="running gslbctl as nobody needs root")
def test_gslbctl_c_reads_no_key_file(gslbd_factory, world_dir):
    """gslbctl -c FILE takes listen.admin from FILE and reads nothing else:
    a user who cannot read the private keys (0600, root's) still runs
    status, and with a key missing reload reaches the daemon, which names
    the file, instead of gslbctl failing on its own (exit 2)."""
    ksk = owned_key(world_dir, 0, "-a", "ECDSAP256SHA256", "-k")
    zsk = owned_key(world_dir, 0, "-a", "ECDSAP256SHA256")
    conf_text = service_conf(world_dir, [ksk, zsk]).replace('user = "nobody";\n', "") \
        .replace('admin = "127.0.0.1:0"', 'admin = "127.0.0.1:%d"' % free_port())
    srv = gslbd_factory(config_text=conf_text, workdir=world_dir)
    conf = str(world_dir / "gslb.conf")
    os.chmod(conf, 0o644)
    nobody = ["setpriv", "--reuid=nobody", "--regid=%d" % pwd.getpwnam("nobody").pw_gid,
              "--clear-groups", GSLBCTL, "-c", conf]
    r = subprocess.run(nobody + ["status"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    assert "Permission denied" not in r.stderr, r
    os.unlink(world_dir / (zsk + ".key"))
    r = subprocess.run(nobody + ["reload"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r
    assert "gslbctl: reload: %s:4: zones[0].dnssec.keys[1]: %s/%s.key" % (
        conf, world_dir, zsk) in r.stderr and "(HTTP 422)" in r.stderr, r


def test_dnssec_and_transfer_are_refused_without_internal_references(tmp_path):
    key = keygen(tmp_path, "-a", "ED25519")
    conf = write_conf(tmp_path, 'keys = [ "%s" ];' % key)
    conf.write_text(conf.read_text().replace(
        "dnssec = {", 'transfer = { allow = [ "127.0.0.1/32" ]; }; dnssec = {'))
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, r.stderr
    assert "a zone with dnssec cannot have transfer (not yet supported" in r.stderr, r.stderr
    assert "issue" not in r.stderr, r.stderr


def test_nsec_mode_names_the_one_value_and_takes_any_case(tmp_path):
    key = keygen(tmp_path, "-a", "ED25519")
    conf = write_conf(tmp_path, 'keys = [ "%s" ]; nsec = "nsec3";' % key)
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1 and 'nsec: "nsec3": must be "compact"' in r.stderr, r.stderr
    conf = write_conf(tmp_path, 'keys = [ "%s" ]; nsec = "Compact";' % key)
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
