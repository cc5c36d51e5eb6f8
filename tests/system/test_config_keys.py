"""Every group of gslb.conf: an unknown key is refused with file:line and a
list of the valid keys, and that list is exactly the set of keys the parser
takes (issue 10 item 15: the lists were written by hand and missed keys).

For each group a complete config is written with a marker where the group's
keys go. A made-up key there gives the message; its list must equal the
group's keys below; and each listed key, written into the group, must reach
a handler: whatever gslbd -t then says (ok, or a complaint about the value),
it is not "unknown setting" and not "known setting without a handler".
"""
import os
import re
import subprocess

import pytest

import gslbtest
from gslbtest import GSLBD, ZONEDIR

KEYS = {
    "top": ["listen", "workers", "directory", "zones", "geoip", "checks", "state_dir",
            "resolvers", "probe_max_inflight", "admin_token_file", "admin_hosts",
            "admin_require_token", "rrl", "acl",
            "trusted_proxies", "http", "regions", "services", "edns_size", "nsid", "identity",
            "version", "tcp", "user", "group", "log"],
    "listen": ["dns", "admin", "http"],
    "listen.http": ["address", "tls"],
    "tls": ["cert", "key", "sni"],
    "sni": ["name", "cert", "key"],
    "zone": ["origin", "file"],
    "geoip": ["database", "overrides", "paths", "compact"],
    "geoip.paths": ["country", "continent", "subdivision", "latitude", "longitude"],
    "region": ["name", "lat", "lon", "redirect"],
    "check": ["name", "type", "interval", "timeout", "rise", "fall", "port", "path", "host",
              "method", "expect_status", "expect_body", "headers", "follow_redirects",
              "tls_verify", "ca_file", "query", "qtype", "expect_rcode", "expect_answer"],
    "http": ["explain_from", "access_log", "max_connections", "max_per_ip", "ipv4_prefix",
             "ipv6_prefix", "header_limit", "request_timeout"],
    "rrl": ["responses_per_second", "slip", "window", "ipv4_prefix", "ipv6_prefix", "exempt"],
    "acl": ["allow", "deny", "blocklist", "action"],
    "tcp": ["idle_timeout", "max_connections", "max_queries", "max_per_ip", "ipv4_prefix",
            "ipv6_prefix", "max_lifetime"],
    "log": ["level", "syslog", "facility"],
    "service": ["name", "ttl", "answers", "limit", "ttl_min", "when_all_down", "fallback",
                "redirect", "pools", "route", "default"],
    "redirect": ["target", "status", "all_methods"],
    "route": ["match", "regions"],
    "pool": ["region", "members", "cname", "check", "min_up"],
    "member": ["address", "weight", "target"],
}

# @name@ marks where a group's keys go; the rest of the group is what the
# config needs to pass gslbd -t.
TEMPLATE = """directory = "%(dir)s";
listen = { dns = [ "127.0.0.1:0" ];
  http = ( { address = "127.0.0.1:0";
             tls = { cert = "c.pem"; key = "k.pem";
                     sni = ( { name = "a.example"; cert = "c.pem"; key = "k.pem"; @sni@ } );
                     @tls@ };
             @listen.http@ } );
  @listen@ };
zones = ( { origin = "geo.test"; file = "%(zone)s"; @zone@ } );
geoip = { overrides = "ov.nets"; paths = { country = "country/iso_code"; @geoip.paths@ };
          @geoip@ };
regions = ( { name = "eu"; lat = 52.0; lon = 21.0; @region@ } );
checks = ( { name = "web"; type = "http"; @check@ } );
http = { @http@ };
rrl = { @rrl@ };
acl = { @acl@ };
tcp = { @tcp@ };
log = { @log@ };
services = ( { name = "www.geo.test";
  redirect = { target = "https://{region}.example.net"; @redirect@ };
  route = ( { match = "country:PL"; regions = [ "eu" ]; @route@ } );
  pools = ( { region = "eu"; check = "web";
              members = ( { address = "192.0.2.1"; @member@ } ); @pool@ } );
  @service@ } );
@top@
"""

MARK_RE = re.compile(r"@([a-z.]+)@")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(d / "k.pem"), "-out", str(d / "c.pem"), "-days", "2", "-subj", "/CN=a"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (d / "ov.nets").write_text("")
    return d


def check(workdir, group, text):
    """gslbd -t on the template with text at group's marker."""
    conf = TEMPLATE % {"dir": str(workdir), "zone": os.path.join(ZONEDIR, "geo.test.zone")}
    conf = MARK_RE.sub(lambda m: text if m.group(1) == group else "", conf)
    path = workdir / ("%s.conf" % group)
    path.write_text(conf)
    return subprocess.run([GSLBD, "-t", "-c", str(path)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30, errors="replace")


def test_template_is_valid(workdir):
    assert set(MARK_RE.findall(TEMPLATE)) == set(KEYS)
    r = check(workdir, "top", "")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("group", sorted(KEYS))
def test_unknown_key_lists_every_key(workdir, group):
    r = check(workdir, group, "zz_not_a_key = 1;")
    assert r.returncode == 1, r.stderr
    m = re.search(r"group\.conf:(\d+): (?:\S+: )?unknown setting \(valid keys: ([^)]*)\)"
                  .replace("group", re.escape(group)), r.stderr)
    assert m, r.stderr
    line = next(i for i, t in enumerate((workdir / ("%s.conf" % group)).read_text()
                                        .splitlines(), 1) if "zz_not_a_key" in t)
    assert int(m.group(1)) == line, r.stderr
    listed = m.group(2).split(", ")
    assert len(listed) == len(set(listed)), listed
    assert set(listed) == set(KEYS[group]), r.stderr


@pytest.mark.parametrize("group,key", [(g, k) for g in sorted(KEYS) for k in KEYS[g]])
def test_every_listed_key_is_taken(workdir, group, key):
    # A key the template already has in this group is taken (the template
    # passes); any other gets a group as its value, which its handler
    # takes or refuses, but never as unknown.
    if re.search(r"\b%s = " % re.escape(key), group_text(group)):
        return
    r = check(workdir, group, "%s = { };" % key)
    assert "unknown setting" not in r.stderr, r.stderr
    assert "without a handler" not in r.stderr, r.stderr
    assert r.returncode in (0, 1), r


def group_text(group):
    """The template's own text of group (what it holds besides the marker),
    from the marker back to the group's opening brace."""
    at = TEMPLATE.index("@%s@" % group)
    depth = 0
    for i in range(at - 1, -1, -1):
        c = TEMPLATE[i]
        if c == "}":
            depth += 1
        elif c == "{":
            if depth == 0:
                return TEMPLATE[i:at]
            depth -= 1
    return TEMPLATE[:at]


def test_every_handled_key_is_in_its_table():
    """In gslb/config.c, a key some handler compares a setting's name with
    is in the CONF_KEYS table of the same function: a handler whose key is
    missing there is never reached (the key is refused as unknown)."""
    src = open(os.path.join(gslbtest.SRCDIR, "gslb", "config.c")).read()
    bad = {}
    for func in re.split(r"\n(?=static int |int )", src):
        tables = re.findall(r"CONF_KEYS\((.*?)\)\);", func, re.S)
        if not tables:
            continue
        listed = set(re.findall(r'"([a-z_0-9]+)"', " ".join(tables)))
        handled = set(re.findall(r'strcmp\((?:name|kn|pn), "([a-z_0-9]+)"\)', func))
        if handled - listed:
            bad[func.split("(")[0].split()[-1]] = sorted(handled - listed)
    assert not bad, bad
