"""Every group of gslb.conf against its schema (include/gslb/config_schema.h).

The parser, its messages, `gslbd --dump-schema` and the key tables of
docs/configuration.md come from one table per group; these tests hold them
together:

- KEYS below is each group's keys as this file expects them; the schema
  must have exactly these groups and keys (a key that disappears, or a new
  one nobody added here, fails).
- For each group a complete config is written with a marker where the
  group's keys go. A made-up key there is refused with file:line, a list of
  the valid keys that equals KEYS, and, for a typo, the key meant.
- Each listed key, written into its group, reaches its handler: whatever
  gslbd -t then says (ok, or a complaint about the value), it is not
  "unknown setting".
- Each table of docs/configuration.md that follows a "<!-- schema: GROUP -->"
  line has the rows the dump prints (key, type, default, reload) and a
  meaning for each; every group has such a table. When a key changes,
  `python3 tests/system/test_config_keys.py --fix build/gslbd` rewrites the
  tables from the dump, keeping the meanings; write the new key's.
- The man page's key lists name keys of their group only.
"""
import os
import re
import subprocess

import pytest

import gslbtest
from gslbtest import GSLBD, ZONEDIR

KEYS = {
    "top": ["directory", "listen", "workers", "user", "group", "log", "tsig", "zones", "edns_size",
            "nsid", "identity", "version", "tcp", "rrl", "dnstap", "geoip", "regions", "acl",
            "trusted_proxies", "http", "admin_token_file", "admin_require_token",
            "admin_hosts", "checks", "state_dir", "services", "resolvers",
            "cluster", "probe_max_inflight", "notify"],
    "notify": ["url", "name", "events", "headers", "ca_file", "queue", "timeout", "retry_max"],
    "cluster": ["name", "prefix", "node", "etcd", "quorum", "lease_ttl", "tls", "probe_share"],
    "cluster.tls": ["ca_file", "cert_file", "key_file"],
    "listen": ["dns", "admin", "http"],
    "listen.http": ["address", "tls"],
    "listen.http.tls": ["cert", "key", "sni"],
    "listen.http.tls.sni": ["name", "cert", "key"],
    "zones": ["origin", "file", "dnssec", "transfer"],
    "zones.transfer": ["allow", "tsig", "notify", "serial_policy"],
    "tsig": ["name", "algorithm", "secret"],
    "zones.dnssec": ["keys", "signature_validity", "signature_refresh", "inception_offset",
                     "nsec"],
    "geoip": ["database", "overrides", "paths", "compact", "asn_database"],
    "geoip.paths": ["country", "continent", "subdivision", "latitude", "longitude"],
    "regions": ["name", "lat", "lon", "bias", "redirect"],
    "checks": ["name", "type", "interval", "timeout", "rise", "fall", "port", "source", "path", "host",
               "method", "expect_status", "expect_body", "headers", "follow_redirects",
               "tls_verify", "ca_file", "query", "qtype", "expect_rcode", "expect_answer"],
    "http": ["explain_from", "access_log", "max_connections", "max_per_ip", "ipv4_prefix",
             "ipv6_prefix", "header_limit", "request_timeout"],
    "dnstap": ["socket", "tcp", "log_queries", "log_responses", "identity", "version",
               "sample"],
    "rrl": ["responses_per_second", "slip", "window", "ipv4_prefix", "ipv6_prefix", "exempt"],
    "acl": ["allow", "deny", "blocklist", "action"],
    "tcp": ["idle_timeout", "max_connections", "max_queries", "max_per_ip", "ipv4_prefix",
            "ipv6_prefix", "max_lifetime"],
    "log": ["level", "syslog", "facility"],
    "services": ["name", "ttl", "answers", "limit", "ttl_min", "when_all_down",
                 "members_pick", "hash_prefix_v4", "hash_prefix_v6", "pools",
                 "route", "default", "fallback", "redirect"],
    "services.redirect": ["target", "status", "all_methods"],
    "services.route": ["match", "regions", "split"],
    "services.route.split": ["region", "weight"],
    "services.pools": ["region", "members", "cname", "check", "min_up", "load"],
    "services.pools.load": ["from", "low", "high"],
    "services.pools.members": ["address", "weight", "target"],
}

# @name@ marks where a group's keys go; the rest of the group is what the
# config needs to pass gslbd -t.
TEMPLATE = """directory = "%(dir)s";
listen = { dns = [ "127.0.0.1:0" ];
  http = ( { address = "127.0.0.1:0";
             tls = { cert = "c.pem"; key = "k.pem";
                     sni = ( { name = "a.example"; cert = "c.pem"; key = "k.pem";
                               @listen.http.tls.sni@ } );
                     @listen.http.tls@ };
             @listen.http@ } );
  @listen@ };
zones = ( { origin = "geo.test"; file = "%(zone)s";
            dnssec = { keys = [ "%(key)s" ]; @zones.dnssec@ }; @zones@ },
          { origin = "example.test"; file = "%(zone2)s";
            transfer = { allow = [ "127.0.0.1/32" ]; @zones.transfer@ }; } );
tsig = ( { name = "xfr"; secret = "c2VjcmV0"; @tsig@ } );
geoip = { overrides = "ov.nets"; paths = { country = "country/iso_code"; @geoip.paths@ };
          @geoip@ };
regions = ( { name = "eu"; lat = 52.0; lon = 21.0; @regions@ } );
checks = ( { name = "web"; type = "http"; @checks@ } );
http = { @http@ };
rrl = { @rrl@ };
dnstap = { socket = "dnstap.sock"; @dnstap@ };
acl = { @acl@ };
tcp = { @tcp@ };
log = { @log@ };
cluster = { name = "prod"; etcd = [ "https://127.0.0.1:2379" ];
            tls = { ca_file = "c.pem"; @cluster.tls@ }; @cluster@ };
notify = ( { url = "https://hooks.example.net/gslb"; @notify@ } );
services = ( { name = "www.geo.test";
  redirect = { target = "https://{region}.example.net"; @services.redirect@ };
  route = ( { match = "country:PL"; regions = [ "eu" ]; @services.route@ },
            { match = "country:DE"; split = ( { region = "eu"; @services.route.split@ } ); } );
  pools = ( { region = "eu"; check = "web";
              members = ( { address = "192.0.2.1"; @services.pools.members@ } );
              load = { from = "body-number"; @services.pools.load@ };
              @services.pools@ } );
  @services@ } );
@top@
"""

MARK_RE = re.compile(r"@([a-z.]+)@")
UNKNOWN_RE = r"%s\.conf:(\d+): (?:\S+: )?unknown setting(?:, did you mean \"(\w+)\"\?)? " \
             r"\(valid keys: ([^)]*)\)"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(d / "k.pem"), "-out", str(d / "c.pem"), "-days", "2", "-subj", "/CN=a"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (d / "ov.nets").write_text("")
    subprocess.run(["ldns-keygen", "-a", "ED25519", "geo.test"], cwd=str(d), check=True,
                   stdout=subprocess.DEVNULL)
    return d


def check(workdir, group, text, template=TEMPLATE):
    """gslbd -t on the template with text at group's marker."""
    key = next(workdir.glob("Kgeo.test.*.key")).name[:-len(".key")]
    conf = template % {"dir": str(workdir), "zone": os.path.join(ZONEDIR, "geo.test.zone"),
                       "zone2": os.path.join(ZONEDIR, "example.test.zone"), "key": key}
    conf = MARK_RE.sub(lambda m: text if m.group(1) == group else "", conf)
    path = workdir / ("%s.conf" % group)
    path.write_text(conf)
    return subprocess.run([GSLBD, "-t", "-c", str(path)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30, errors="replace")


def test_template_is_valid(workdir):
    assert set(MARK_RE.findall(TEMPLATE)) == set(KEYS)
    r = check(workdir, "top", "")
    assert r.returncode == 0, r.stderr


def unknown(workdir, group, key):
    """The unknown-setting message for key in group: (suggestion, listed keys)."""
    r = check(workdir, group, "%s = 1;" % key)
    assert r.returncode == 1, r.stderr
    m = re.search(UNKNOWN_RE % re.escape(group), r.stderr)
    assert m, r.stderr
    line = next(i for i, t in enumerate((workdir / ("%s.conf" % group)).read_text()
                                        .splitlines(), 1) if "%s = 1;" % key in t)
    assert int(m.group(1)) == line, r.stderr
    return m.group(2), m.group(3).split(", ")


@pytest.mark.parametrize("group", sorted(KEYS))
def test_unknown_key_lists_every_key(workdir, group):
    near, listed = unknown(workdir, group, "zz_not_a_key")
    assert near is None, near
    assert listed == KEYS[group]


@pytest.mark.parametrize("group", sorted(KEYS))
def test_typo_names_the_key_meant(workdir, group):
    """Two letters swapped, or one left out, in the group's longest key."""
    key = max(KEYS[group], key=len)
    for typo in (key[:1] + key[2] + key[1] + key[3:], key[:-1]):
        if typo in KEYS[group]:
            continue
        near, _ = unknown(workdir, group, typo)
        assert near == key, (typo, near)


@pytest.mark.parametrize("group,key", [(g, k) for g in sorted(KEYS) for k in KEYS[g]])
def test_every_listed_key_is_taken(workdir, group, key):
    # A key the template already has in this group is taken (the template
    # passes); any other gets a group as its value, which its handler
    # takes or refuses, but never as unknown.
    if re.search(r"\b%s = " % re.escape(key), group_text(group)):
        return
    r = check(workdir, group, "%s = { };" % key)
    assert "unknown setting" not in r.stderr, r.stderr
    assert r.returncode in (0, 1), r


def region_template(group):
    """The template, without the region's lat and lon when the test writes them."""
    return TEMPLATE.replace("lat = 52.0; lon = 21.0;", "") if group == "regions" else TEMPLATE


@pytest.mark.parametrize("group,text,message", [
    ("tcp", "max_lifetime = -5.0;", "tcp.max_lifetime: -5 is out of range (0 to 86400)"),
    ("tcp", "idle_timeout = 0.0;", "tcp.idle_timeout: 0 is out of range (0.001 to 3600)"),
    ("http", "request_timeout = 3600.5;",
     "http.request_timeout: 3600.5 is out of range (0.001 to 3600)"),
    ("regions", "lat = -90.01; lon = 0;", "lat: -90.01 is out of range (-90 to 90)"),
    ("regions", "lat = 0; lon = 0; bias = 99.5;", "bias: 99.5 is out of range (-99 to 99)"),
    ("checks", "interval = 0.099;", "interval: 0.099 is out of range (0.1 to 86400)"),
    ("services.pools", "min_up = -0.5;", "min_up: -0.5 is out of range (0 to 100000)"),
    ("rrl", "slip = 11;", "rrl.slip: 11 is out of range (0 to 10)"),
])
def test_range_messages_are_exact(workdir, group, text, message):
    """Ranges include both ends, and the message says them as they are."""
    r = check(workdir, group, text, region_template(group))
    assert r.returncode == 1, r.stderr
    assert message in r.stderr, r.stderr


@pytest.mark.parametrize("group,text", [
    ("tcp", "max_lifetime = 0.0; idle_timeout = 0.001;"),
    ("tcp", "max_lifetime = 86400; idle_timeout = 3600;"),
    ("regions", "lat = -90.0; lon = 180.0;"),
    ("regions", "lat = 0; lon = 0; bias = -99;"),
    ("regions", "lat = 0; lon = 0; bias = 99;"),
    ("checks", "interval = 0.1; timeout = 0.01;"),
    ("services.pools", "min_up = 0.0;"),
])
def test_range_ends_are_taken(workdir, group, text):
    r = check(workdir, group, text, region_template(group))
    assert r.returncode == 0, r.stderr


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


def tables(text):
    """{group: [row cells, ...]} of each Markdown table after a
    "<!-- schema: GROUP -->" line; a group twice is an error."""
    out = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"<!-- schema: ([a-z.]+) -->$", line)
        if not m:
            continue
        assert m.group(1) not in out, "table of %s twice" % m.group(1)
        rows = []
        for row in lines[i + 1:]:
            if not row.startswith("|"):
                break
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]])
        assert rows[:2] == [["key", "type", "default", "reload", "meaning"], ["---"] * 5], \
            "%s: header %s" % (m.group(1), rows[:2])
        out[m.group(1)] = rows[2:]
    return out


@pytest.fixture(scope="module")
def dump():
    r = subprocess.run([GSLBD, "--dump-schema"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return tables(r.stdout)


def test_dump_has_every_group_and_key(dump):
    assert {g: [row[0].strip("`") for row in rows] for g, rows in dump.items()} == KEYS


def test_docs_tables_are_the_schema(dump):
    with open(os.path.join(gslbtest.SRCDIR, "docs", "configuration.md"), encoding="utf-8") as f:
        docs = tables(f.read())
    assert sorted(docs) == sorted(dump), "docs/configuration.md lacks or has extra tables " \
        "(python3 tests/system/test_config_keys.py --fix rewrites them)"
    for group, rows in dump.items():
        want = ["| %s |" % " | ".join(r[:4]) for r in rows]
        have = ["| %s |" % " | ".join(r[:4]) for r in docs[group]]
        assert have == want, "docs/configuration.md, table of %s: expected rows\n%s\n" \
            "(python3 tests/system/test_config_keys.py --fix rewrites them)" % (
                group, "\n".join(w + " ... |" for w in want))
        for row in docs[group]:
            assert row[4], "%s.%s: no meaning" % (group, row[0])


# The man page's "{ key; key; ... }" lists, by the group they list.
MAN_LISTS = {
    "tcp": r"\.B tcp = \{([^}]*)\}",
    "http": r"\.B http = \{([^}]*)\}",
    "geoip": r"\.B geoip = \{([^}]*)\}",
    "log": r"\.B log = \{([^}]*)\}",
    "regions": r"\.B regions\nList of\n\.BR \"\{([^}]*)\}",
    "checks": r"\.B checks\nProbe templates:\n\.BR \"\{([^}]*)\}",
    "services": r"\.B services\nGeo-balanced names:\n\.BR \"\{([^}]*)\}",
    # two forms: with members, with a cname
    "services.pools": r"where each pool is\n\.B \{([^}]*)\}\nor\n\.BR \"\{([^}]*)\}",
    "listen": r"\.BR listen \" = \{ \" (.*) \" \}\"\n",
}


def test_man_page_key_lists():
    with open(os.path.join(gslbtest.SRCDIR, "man", "gslb.conf.5.in"), encoding="utf-8") as f:
        man = f.read()
    for group, pattern in MAN_LISTS.items():
        m = re.search(pattern, man)
        assert m, "gslb.conf(5): no key list of %s" % group
        listed = ";".join(m.groups())
        names = [re.match(r'[\s"]*([a-z0-9_.]*)', k).group(1) for k in re.split(r"[;,]", listed)]
        names = [n for n in names if n and n != "..."]
        assert set(names) <= set(KEYS[group]), (group, names)
        if "..." not in listed:
            assert set(names) == set(KEYS[group]), (group, names)


def fix_docs(gslbd, path):
    """Rewrites the schema tables of path from `gslbd --dump-schema`, each
    row's meaning kept (a new key gets an empty one, which the test
    refuses until it is written)."""
    out = subprocess.run([gslbd, "--dump-schema"], capture_output=True, text=True,
                         check=True).stdout
    with open(path, encoding="utf-8") as f:
        text = f.read()
    have = tables(text)
    blocks = re.findall(r"(<!-- schema: ([a-z.]+) -->\n(?:\|.*\n)+)", out)
    for block, group in blocks:
        meaning = {row[0]: row[4] for row in have.get(group, [])}
        rows = block.splitlines()
        for i, row in enumerate(rows[3:], 3):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
            cells[4] = meaning.get(cells[0], "")
            rows[i] = "| %s |" % " | ".join(cells)
        new = "\n".join(rows) + "\n"
        old = re.search(r"<!-- schema: %s -->\n(?:\|.*\n)+" % re.escape(group), text)
        if old:
            text = text[:old.start()] + new + text[old.end():]
        else:
            text += "\n" + new
            print("%s: new table %s at the end: move it where it belongs" % (path, group))
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    # python3 tests/system/test_config_keys.py --fix [GSLBD]: rewrite the
    # tables of docs/configuration.md from the schema.
    import sys
    if len(sys.argv) < 2 or sys.argv[1] != "--fix":
        sys.exit("usage: test_config_keys.py --fix [path/to/gslbd]")
    fix_docs(sys.argv[2] if len(sys.argv) > 2 else GSLBD,
             os.path.join(gslbtest.SRCDIR, "docs", "configuration.md"))
