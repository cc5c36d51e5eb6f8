"""Networks as operators write them, through every place gslbd reads one:
the config's network lists (trusted_proxies, http.explain_from, rrl.exempt,
acl.allow and deny), a route's net:, the GeoIP overrides file, the ACL
blocklist and the address of --explain. One parser reads them all
(gslb/net.c), so the same text gets the same verdict and the same message,
as FILE:LINE: in files; host bits are an error in the config and the
overrides file and cleared in the blocklist and an explained subnet.
"""

import os
import re

import pytest

import gslbtest
from gslbtest import run_gslbd

ZONE = ("example.test", os.path.join(gslbtest.ZONEDIR, "example.test.zone"))

HEAD = """directory = "%(dir)s";
listen = { dns = [ "127.0.0.1:0" ]; };
zones = ( { origin = "example.test"; file = "%(zone)s"; } );
regions = ( { name = "r1"; lat = 10.0; lon = 10.0; } );
"""

SERVICE = """services = (
  { name = "www.example.test";
    route = ( { match = "net:%s"; regions = [ "r1" ]; } );
    pools = ( { region = "r1"; members = [ "192.0.2.1" ]; } ); }
);
"""

# Where a network is read: (id, config text with %s for the network,
# the file the error names: None for the config itself).
PLACES = [
    ("trusted_proxies", 'trusted_proxies = [ "127.0.0.1", "%s" ];\n', None),
    ("explain_from", 'http = { explain_from = [ "%s" ]; };\n', None),
    ("rrl-exempt", 'rrl = { exempt = [ "%s" ]; };\n', None),
    ("acl-allow", 'acl = { allow = [ "%s" ]; };\n', None),
    ("acl-deny", 'acl = { deny = [ "::1", "%s" ]; };\n', None),
    ("route-net", SERVICE, None),
    ("overrides", 'geoip = { overrides = "overrides.nets"; };\n', "overrides.nets"),
    ("blocklist", 'acl = { blocklist = "block.nets"; };\n', "block.nets"),
]

# (id, network, message after "FILE:LINE: ", or None where it is accepted
# in files that clear host bits)
BAD = [
    ("not-an-address", "10.0.0/8", 'bad CIDR "10.0.0/8": not an IPv4 or IPv6 address'),
    ("a-name", "localhost", 'bad CIDR "localhost": not an IPv4 or IPv6 address'),
    ("empty-length", "10.0.0.0/", 'bad CIDR "10.0.0.0/": bad prefix length (0 to 32)'),
    ("signed-length", "10.0.0.0/+8", 'bad CIDR "10.0.0.0/+8": bad prefix length (0 to 32)'),
    ("long-length", "2001:db8::/0032",
     'bad CIDR "2001:db8::/0032": bad prefix length (0 to 128)'),
    ("v4-over", "10.0.0.0/33", 'bad CIDR "10.0.0.0/33": prefix length 33 over 32'),
    ("v6-over", "::/129", 'bad CIDR "::/129": prefix length 129 over 128'),
    ("host-bits", "10.0.0.1/8",
     'bad CIDR "10.0.0.1/8": host bits set beyond the /8 prefix (the network is 10.0.0.0/8)'),
]

CLEARS_HOST_BITS = {"blocklist"}


def write_config(tmp_path, place, net):
    text = HEAD % {"dir": tmp_path, "zone": ZONE[1]}
    if place[2] == "overrides.nets":
        (tmp_path / "overrides.nets").write_text("# overrides\n192.0.2.0/24 r1\n%s r1\n" % net)
    elif place[2] == "block.nets":
        (tmp_path / "block.nets").write_text("# blocklist\n192.0.2.0/24\n%s\n" % net)
    text += place[1] % (() if place[2] else (net,))
    conf = tmp_path / "gslb.conf"
    conf.write_text(text)
    if place[2]:
        return str(conf), str(tmp_path / place[2]), 3
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if net in ln)
    return str(conf), str(conf), line


@pytest.mark.parametrize("place", PLACES, ids=[p[0] for p in PLACES])
@pytest.mark.parametrize("bad_id,net,message", BAD, ids=[b[0] for b in BAD])
def test_bad_network_same_message_everywhere(tmp_path, place, bad_id, net, message):
    conf, path, line = write_config(tmp_path, place, net)
    r = run_gslbd(["-t", "-c", conf])
    if bad_id == "host-bits" and place[0] in CLEARS_HOST_BITS:
        assert r.returncode == 0, r.stderr
        return
    assert r.returncode == 1, "exit %d:\n%s" % (r.returncode, r.stderr)
    want = "%s:%d: " % (path, line)
    found = [ln for ln in r.stderr.splitlines() if want in ln]
    assert found, "no %r in:\n%s" % (want, r.stderr)
    # the config's messages may name the setting between FILE:LINE: and the text
    assert any(ln.endswith(message) for ln in found), "want %r:\n%s" % (message, r.stderr)


@pytest.mark.parametrize("bad_id,net,message", BAD, ids=[b[0] for b in BAD])
def test_explain_address_same_message(tmp_path, bad_id, net, message):
    conf, _, _ = write_config(tmp_path, PLACES[0], "127.0.0.1")
    r = run_gslbd(["-c", conf, "--explain", net, "www.example.test", "--json"])
    if bad_id == "host-bits":
        # an explained subnet is what a resolver sends: host bits cleared
        assert r.returncode == 0, r.stderr
        assert '"client": "10.0.0.0/8"' in r.stdout, r.stdout
        return
    assert r.returncode != 0, r.stdout
    assert message in r.stderr, r.stderr


def test_good_networks_everywhere(tmp_path):
    """Bare addresses are hosts, both families, /0 and full-length networks."""
    for i, net in enumerate(("192.0.2.1", "::1", "0.0.0.0/0", "::/0", "10.0.0.0/08",
                             "2001:DB8::/32", "198.51.100.7/32", "2001:db8::1/128")):
        for place in PLACES:
            d = tmp_path / ("%d-%s" % (i, place[0]))
            d.mkdir()
            conf, _, _ = write_config(d, place, net)
            r = run_gslbd(["-t", "-c", conf])
            assert r.returncode == 0, "%s in %s:\n%s" % (net, place[0], r.stderr)
            assert not re.search(r"bad CIDR", r.stderr), r.stderr
