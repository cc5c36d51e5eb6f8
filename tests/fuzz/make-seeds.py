#!/usr/bin/python3
"""Write the seed corpora of the file and HTTP fuzz harnesses:

    tests/fuzz/corpus/http/       fuzz_http (see tests/fuzz/fuzz_http.c)
    tests/fuzz/corpus/config/     fuzz_config: gslb.conf files
    tests/fuzz/corpus/zone/       fuzz_zone: zone files for origin fuzz.test
    tests/fuzz/corpus/overrides/  fuzz_overrides: GeoIP overrides files

from files of the source tree (etc/gslb.conf, tests/data/..., zones/,
geoip/) and the inputs written below. The output is deterministic; the
corpora are committed, rerun this script after changing it:

    /usr/bin/python3 tests/fuzz/make-seeds.py

(the DNS corpus has its own script, tests/fuzz/make-corpus.py). Inputs that
libFuzzer found interesting are not kept here: a crash, once fixed, goes to
tests/fuzz/corpus/NAME-regress/ (kept by hand, never rewritten here),
which make check replays too.
"""

import glob
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "corpus")


def read(rel):
    with open(os.path.join(SRC, rel), "rb") as f:
        return f.read()


# ------------------------------------------------------------------ http

PEERS = {"lo": 0, "proxy10": 1, "pl": 2, "us": 3, "lo6": 4, "proxy6": 5, "mapped": 6,
         "none": 7}
FIELDS = ("method", "host", "path", "query", "xff", "fwd")


def http(peer="pl", https=False, down=(), unix=False, nulls=(), **f):
    """Control byte, NULL-field byte, then the fields joined by NUL. A
    field not given is NULL (left out at the end, else empty and flagged
    in the NULL-field byte); nulls= flags given fields too."""
    ctl = PEERS[peer] | (8 if https else 0)
    for r in down:
        ctl |= 0x10 << ["us-east", "eu-east", "ap-southeast", "sa-east"].index(r)
    nb = 0x40 if unix else 0
    for n in nulls:
        nb |= 1 << FIELDS.index(n)
    last = max([FIELDS.index(k) for k in f] + [-1])
    parts = []
    for i in range(last + 1):
        v = f.get(FIELDS[i])
        if v is None:
            v = b""
            if FIELDS[i] not in nulls:
                nb |= 1 << i
        parts.append(v if isinstance(v, bytes) else v.encode("latin-1"))
    return bytes([ctl, nb]) + b"\0".join(parts)


def http_corpus():
    g = dict(method="GET")
    c = {}
    c["get-pl"] = http(host="www.example.com", path="/", **g)
    c["get-us-path-query"] = http(peer="us", host="www.example.com", path="/a/b", query="x=1&y=2",
                                  **g)
    c["head-lo"] = http(peer="lo", method="HEAD", host="www.example.com", path="/index.html")
    c["https-upgrade"] = http(https=True, host="www.example.com", path="/secure", **g)
    c["host-port"] = http(host="www.example.com:8080", path="/", **g)
    c["host-trailing-dot"] = http(host="WWW.Example.COM.", path="/", **g)
    c["host-ipv6-literal"] = http(host="[2001:db8::1]:80", path="/", **g)
    c["host-ipv4"] = http(host="192.0.2.1", path="/", **g)
    c["host-bad-port"] = http(host="www.example.com:80a", path="/", **g)
    c["host-empty-label"] = http(host="www..example.com", path="/", **g)
    c["host-long-label"] = http(host="a" * 64 + ".example.com", path="/", **g)
    c["host-space"] = http(host="www example.com", path="/", **g)
    c["host-bad-byte"] = http(peer="us", method="", host="b\xd2", path="/")
    c["host-missing"] = http(path="/", nulls=("host",), **g)
    c["host-unknown"] = http(host="nowhere.example.org", path="/", **g)
    c["no-redirect-404"] = http(host="plain.example.com", path="/", **g)
    c["moved-301"] = http(host="moved.example.com", path="/old/page", query="a=b", **g)
    c["post-405"] = http(method="POST", host="www.example.com", path="/form")
    c["post-all-methods-307"] = http(method="POST", host="api.example.com", path="/v1/items",
                                     query="id=7")
    c["delete-api-us"] = http(peer="us", method="DELETE", host="api.example.com", path="/x")
    c["cdn-wildcard-308"] = http(host="img.cdn.example.com", path="/logo.png", **g)
    c["cdn-deep"] = http(peer="us", host="a.b.cdn.example.com", path="/", **g)
    c["region-own-target"] = http(peer="lo", host="www.example.com", path="/x",
                                  xff="175.41.128.1", **g)
    c["region-own-target-http-port"] = http(peer="lo", https=True, host="www.example.com",
                                            path="/p", xff="177.0.0.1", **g)
    c["explain-lo"] = http(peer="lo", host="www.example.com", path="/", query="explain", **g)
    c["explain-pl"] = http(host="www.example.com", path="/", query="a=1&explain=1", **g)
    c["explain-us-denied"] = http(peer="us", host="www.example.com", path="/",
                                  query="explain", **g)
    c["explain-semicolon"] = http(peer="lo6", host="www.example.com", path="/",
                                  query="x;explain", **g)
    c["nowhere-503"] = http(host="nowhere.example.com", path="/", **g)
    c["all-down-fail-open"] = http(host="www.example.com", path="/",
                                   down=("us-east", "eu-east", "ap-southeast", "sa-east"), **g)
    c["eu-down"] = http(host="www.example.com", path="/", down=("eu-east",), **g)
    c["fallback-303"] = http(host="fallback.example.com", path="/f", down=("eu-east", "us-east"),
                             **g)
    c["fallback-up"] = http(host="fallback.example.com", path="/f", **g)
    c["nodata-503"] = http(host="nodata.example.com", path="/", down=("eu-east",), **g)
    c["servfail-limit"] = http(host="servfail.example.com", path="/",
                               down=("eu-east",), **g)
    c["apex-service"] = http(host="example.net", path="/", **g)
    c["xff-chain"] = http(peer="lo", host="www.example.com", path="/",
                          xff="83.1.2.3, 10.0.0.1, 127.0.0.1", **g)
    c["xff-junk"] = http(peer="proxy10", host="www.example.com", path="/",
                         xff="unknown, , 4.0.0.1,,", **g)
    c["xff-v6-port"] = http(peer="lo6", host="www.example.com", path="/",
                            xff="[2001:db8::1]:443, 2a00:1450::1", **g)
    c["xff-many"] = http(peer="lo", host="www.example.com", path="/",
                         xff=", ".join("10.0.0.%d" % i for i in range(40)), **g)
    c["xff-untrusted-ignored"] = http(peer="us", host="www.example.com", path="/",
                                      xff="83.1.2.3", **g)
    c["forwarded-v4"] = http(peer="lo", host="www.example.com", path="/",
                             fwd="for=83.1.2.3;proto=https;by=10.0.0.1", nulls=("xff",), **g)
    c["forwarded-v6-quoted"] = http(peer="proxy6", host="www.example.com", path="/",
                                    fwd='for="[2001:db8:cafe::17]:4711", for=10.1.1.1',
                                    nulls=("xff",), **g)
    c["forwarded-escapes"] = http(peer="mapped", host="www.example.com", path="/",
                                  fwd='by=x;for="\\"q\\"";host=a, for=_hidden, For=4.0.0.1',
                                  nulls=("xff",), **g)
    c["forwarded-unterminated"] = http(peer="lo", host="www.example.com", path="/",
                                       fwd='for="83.1.2.3', nulls=("xff",), **g)
    c["both-headers"] = http(peer="lo", host="www.example.com", path="/", xff="4.0.0.1",
                             fwd="for=83.1.2.3", **g)
    c["path-escapes"] = http(host="www.example.com", path='/a b/"c"/<d>/\\^`{|}#%41',
                             query="q=\x01\x7f\xff &r=#", **g)
    c["path-utf8"] = http(host="www.example.com", path="/\u017c\u00f3\u0142w".encode("utf-8"),
                          **g)
    c["path-no-slash"] = http(host="www.example.com", path="index.html", **g)
    c["path-empty"] = http(host="www.example.com", path="", **g)
    c["path-double-slash"] = http(host="moved.example.com", path="//x", **g)
    c["path-long-414"] = http(host="www.example.com", path="/" + "%" * 1400, **g)
    c["path-near-limit"] = http(host="www.example.com", path="/" + "a" * 4060, **g)
    c["query-empty"] = http(host="www.example.com", path="/", query="", **g)
    c["method-null"] = http(host="www.example.com", path="/", nulls=("method",))
    c["method-lower-get"] = http(method="get", host="www.example.com", path="/")
    c["peer-none"] = http(peer="none", host="www.example.com", path="/", **g)
    c["peer-unix"] = http(peer="none", unix=True, host="www.example.com", path="/", **g)
    c["peer-mapped"] = http(peer="mapped", host="www.example.com", path="/", xff="83.1.2.3",
                            **g)
    c["empty"] = bytes([2, 0])
    return c


# ------------------------------------------------------------------ config

DESIGN_EXAMPLE = b"""listen: {
  dns   = [ "127.0.0.1:5353", "[::1]:5353" ];
  http  = [ "127.0.0.1:8080" ];              # redirect listener; https needs tls { cert, key }
  admin = "127.0.0.1:8053";                  # /metrics /status /explain and control
};
workers   = 0;                               # DNS worker threads, 0 = one per CPU
state_dir = "var";                           # admin overrides and last-known health survive restarts
trusted_proxies = [ "127.0.0.1/32" ];        # HTTP peers whose X-Forwarded-For/Forwarded is believed

geoip: {
  database  = "geoip/demo-city.mmdb";        # GeoLite2/GeoIP2 City or Country, DB-IP, IPinfo...
  overrides = "geoip/overrides.nets";        # optional: CIDR -> region list or location
};

zones = ( { origin = "example.com"; file = "zones/example.com.zone"; } );

checks = (
  { name = "web"; type = "https"; path = "/healthz"; host = "www.example.com";
    expect_status = [ 200 ]; interval = 5.0; timeout = 2.0; rise = 2; fall = 3; }
);

regions = (
  { name = "us-east"; lat = 39.04; lon = -77.49;  },
  { name = "eu-east"; lat = 52.23; lon = 21.01;   },
  { name = "ap-southeast"; lat = 1.35; lon = 103.82; }
);

services = (
  { name = "www.example.com"; ttl = 30; answers = 2; when_all_down = "fail-open";
    route = ( { match = "country:PL"; regions = [ "eu-east", "us-east" ]; } );  # else: nearest first
    redirect = { target = "https://{region}.example.com"; status = 302; };
    pools = (
      { region = "eu-east"; check = "web"; members = [ "198.51.100.20", "2001:db8:2::20" ]; },
      { region = "us-east"; check = "web"; min_up = 1;
        members = ( { address = "192.0.2.10"; weight = 3;
                      target = "https://10.1.0.10:8443/healthz"; },  # probe this instead
                    { address = "api-us.example.net"; } ); }       # host name, via c-ares
    );
  }
);
"""

# Every section at once, as far as one file can hold them (the files named
# exist under the scratch folder's links; the TLS files do not, which ends
# that load early: the variant without listen.http goes on).
KITCHEN = b"""# all sections
directory = "..";
listen = {
  dns = [ "127.0.0.1:5353", "[::1]:5353", "127.0.0.2" ];
  http = ( "127.0.0.1:8080", "[::1]:8080" );
  admin = "127.0.0.1:8053";
};
workers = 3;
edns_size = 4096;
nsid = "hex:0a0b0c";
identity = "fuzz.example.com";
version = "x";
user = "root";
log = { level = "debug"; syslog = false; facility = "local3"; };
resolvers = [ "127.0.0.1:53", "[::1]:5353" ];
admin_require_token = false;
trusted_proxies = [ "127.0.0.1/32", "10.0.0.0/8", "::1/128" ];
http = { access_log = true; max_connections = 16; max_per_ip = 4; header_limit = 4096;
         request_timeout = 2.5; explain_from = [ "127.0.0.0/8" ]; };
rrl = { responses_per_second = 5; slip = 2; window = 15; ipv4_prefix = 24; ipv6_prefix = 56;
        exempt = [ "192.0.2.0/24", "2001:db8::/32" ]; };
acl = { allow = [ "0.0.0.0/0", "::/0" ]; deny = [ "198.51.100.0/24" ];
        blocklist = "tests/data/geoip/test.nets"; action = "drop"; };
tcp = { idle_timeout = 10.0; max_connections = 1024; max_queries = 0; max_per_ip = 64;
        max_lifetime = 120.0; };
geoip = { database = "geoip/demo-city.mmdb"; overrides = "geoip/overrides.nets";
          paths = { country = "country/iso_code"; continent = "continent/code";
                    subdivision = "subdivisions/0/iso_code"; latitude = "location/latitude";
                    longitude = "location/longitude"; }; };
zones = ( { origin = "example.com"; file = "zones/example.com.zone"; },
          { origin = "example.test"; file = "tests/data/zones/example.test.zone"; } );
checks = (
  { name = "web"; type = "https"; path = "/healthz"; port = 443; host = "www.example.com";
    method = "GET"; expect_status = [ 200, 204 ]; expect_body = "ok";
    headers = [ "X-Probe: gslb" ]; follow_redirects = false; tls_verify = true;
    interval = 5.0; timeout = 2.0; rise = 2; fall = 3; },
  { name = "tcp"; type = "tcp"; port = 22; interval = 1.0; timeout = 0.5; },
  { name = "dns53"; type = "dns"; query = "www.example.com"; qtype = "A";
    expect_rcode = "NOERROR"; expect_answer = "192.0.2.10"; }
);
regions = (
  { name = "us-east"; lat = 39.04; lon = -77.49; },
  { name = "eu-east"; lat = 52.23; lon = 21.01; redirect = "https://eu.example.com"; },
  { name = "ap-southeast"; lat = 1.35; lon = 103.82; }
);
services = (
  { name = "www.example.com"; ttl = 30; ttl_min = 3; answers = 2; limit = 2;
    when_all_down = "fallback"; fallback = [ "192.0.2.99", "2001:db8::99" ];
    route = ( { match = "country:PL"; regions = [ "eu-east", "us-east" ]; },
              { match = "continent:OC"; regions = [ "ap-southeast" ]; },
              { match = "subdivision:US-CA"; regions = [ "us-east" ]; },
              { match = "net:10.0.0.0/8"; regions = [ "eu-east" ]; } );
    default = [ "us-east" ];
    redirect = { target = "https://{region}.example.com"; status = 307; all_methods = true; };
    pools = (
      { region = "eu-east"; check = "web"; min_up = 1;
        members = [ "198.51.100.20", "2001:db8:2::20" ]; },
      { region = "us-east"; check = "dns53";
        members = ( { address = "192.0.2.10"; weight = 3; target = "https://10.1.0.10:8443/h"; },
                    { address = "api-us.example.net"; weight = 2; } ); },
      { region = "ap-southeast"; check = "tcp"; members = [ "203.0.113.30" ]; }
    );
  },
  { name = "*.cdn.example.com"; when_all_down = "nodata";
    pools = ( { region = "eu-east"; cname = "eu.cdn.example.net."; },
              { region = "us-east"; cname = "us.cdn.example.net."; } ); },
  { name = "api.example.com"; when_all_down = "fallback"; fallback = "sorry.example.net.";
    pools = ( { region = "us-east"; members = [ "192.0.2.50" ]; } ); }
);
"""


def config_corpus():
    c = {}
    c["etc-gslb"] = read("etc/gslb.conf")
    c["etc-gslb-example"] = read("etc/gslb.conf.example")
    c["design-example"] = DESIGN_EXAMPLE
    c["kitchen-sink"] = KITCHEN
    c["kitchen-sink-no-http"] = KITCHEN.replace(b'  http = ( "127.0.0.1:8080", "[::1]:8080" );\n',
                                                b"")
    for name in ("fuzz.conf", "fuzz-http.conf"):
        text = read("tests/fuzz/" + name)
        text = text.replace(b'directory = ".";', b'directory = "../tests/fuzz";')
        c["fuzz-" + name.replace(".conf", "").replace("fuzz-", "").replace("fuzz", "dns")] = text
    for path in sorted(glob.glob(os.path.join(SRC, "tests/data/badconf/*.conf"))):
        with open(path, "rb") as f:
            text = f.read().replace(b"@DATADIR@", b"data")
        c["bad-" + os.path.basename(path)[:-5]] = text
    c["include-self"] = b'@include "fuzz.conf"\nlisten = { dns = [ "127.0.0.1:0" ]; };\n'
    c["include-missing"] = b'@include "nothing-here.conf"\n'
    c["empty"] = b""
    c["listen-only"] = b'listen = { dns = [ "127.0.0.1:0" ]; };\n'
    c["nul-byte"] = b'listen = { dns = [ "127.0.0.1:0\x00" ]; };\n'
    c["deep-nesting"] = b"x = " + b"(" * 200 + b")" * 200 + b";\n"
    return c


# ------------------------------------------------------------------ zone

def to_fuzz_test(text, origins):
    for o in origins:
        text = re.sub(re.escape(o.encode()) + rb"\.", b"fuzz.test.", text)
    return text


def zone_corpus():
    c = {}
    origins = ["child.example.test", "example.test", "geo.test", "example.com", "bad.test"]
    for rel in sorted(glob.glob(os.path.join(SRC, "tests/data/zones/*.zone"))) + \
            sorted(glob.glob(os.path.join(SRC, "tests/data/badzones/*.zone"))) + \
            [os.path.join(SRC, "zones/example.com.zone"), os.path.join(HERE, "fuzz.zone"),
             os.path.join(HERE, "fuzz-net.zone"), os.path.join(HERE, "fuzz-child.zone")]:
        with open(rel, "rb") as f:
            text = f.read()
        base = os.path.relpath(rel, SRC).replace("/", "-").replace(".zone", "")
        c[base] = to_fuzz_test(text, origins + ["example.net", "child.example.com"])
    soa = b"@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n"
    c["minimal"] = b"$ORIGIN fuzz.test.\n" + soa
    c["no-origin-line"] = soa
    c["all-types"] = b"$ORIGIN fuzz.test.\n$TTL 60\n" + soa + b"""
a A 192.0.2.1
a AAAA 2001:db8::1
a TXT "one" "two" "three"
a MX 10 mail
a SRV 0 5 5060 sip
a NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp
a CAA 0 issue "ca.example"
a SSHFP 1 1 0123456789abcdef0123456789abcdef01234567
a HINFO "cpu" "os"
a PTR www
a DS 12345 8 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
a TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
a TYPE65280 \\# 4 0a000001
a LOC 52 14 0 N 21 1 0 E 100m
a SPF "v=spf1 -all"
a URI 10 1 "https://example.com/"
b ( A
    192.0.2.2 )
*.w A 192.0.2.3
*.w CNAME x
deleg NS ns.deleg
deleg DS 1 8 2 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
ns.deleg A 192.0.2.54
below.ns.deleg AAAA 2001:db8::54
ent.x.y.z A 192.0.2.9
"""
    c["escapes"] = b"$ORIGIN fuzz.test.\n" + soa + \
        b'\\046dot A 192.0.2.1\nsp\\ ace TXT "a\\"b" "\\255\\000"\nUPPER.case A 192.0.2.2\n'
    c["include"] = b"$ORIGIN fuzz.test.\n" + soa + b"$INCLUDE /etc/hostname\n"
    c["generate"] = b"$ORIGIN fuzz.test.\n" + soa + b"$GENERATE 1-3 h$ A 192.0.2.$\n"
    c["ttl-forms"] = b"$ORIGIN fuzz.test.\n$TTL 1h2m3s\n" + soa + b"x 1w A 192.0.2.1\n"
    c["long-name"] = b"$ORIGIN fuzz.test.\n" + soa + \
        b".".join([b"a" * 63] * 3) + b"." + b"b" * 50 + b" A 192.0.2.1\n"
    c["class-ch"] = b"$ORIGIN fuzz.test.\n" + soa + b"x CH TXT \"x\"\n"
    c["soa-twice"] = b"$ORIGIN fuzz.test.\n" + soa + soa
    c["empty"] = b""
    return c


# ------------------------------------------------------------------ overrides

def overrides_corpus():
    c = {}
    c["geoip-overrides"] = read("geoip/overrides.nets")
    for path in sorted(glob.glob(os.path.join(SRC, "tests/data/geoip/*.nets"))):
        with open(path, "rb") as f:
            c["data-" + os.path.basename(path)[:-5]] = f.read()
    c["nested"] = b"""10.0.0.0/8 a
10.1.0.0/16 b,c
10.1.2.0/24 1.5 2.5
10.1.2.128/25 d
10.1.2.129/32 e
0.0.0.0/0 z
::/0 z6
2001:db8::/32 f
2001:db8:1::/48 -33.9 151.2
2001:db8:1:2::/64 g
2001:db8:1:2::1/128 h
::ffff:0:0/96 mapped
"""
    c["siblings"] = b"".join(b"192.0.2.%d/32 r%d\n" % (i, i) for i in range(0, 256, 3)) + \
        b"192.0.2.0/25 low\n192.0.2.128/25 high\n"
    c["bad-host-bits"] = b"10.0.0.1/8 a\n"
    c["bad-prefix"] = b"10.0.0.0/33 a\n"
    c["bad-v6-prefix"] = b"2001:db8::/129 a\n"
    c["bad-duplicate"] = b"10.0.0.0/8 a\n10.0.0.0/8 b\n"
    c["bad-lat"] = b"10.0.0.0/8 91 0\n"
    c["bad-lon"] = b"10.0.0.0/8 0 -181\n"
    c["bad-one-number"] = b"10.0.0.0/8 52.2\n"
    c["bad-three-numbers"] = b"10.0.0.0/8 1 2 3\n"
    c["bad-nan"] = b"10.0.0.0/8 nan 1\n"
    c["bad-empty-region"] = b"10.0.0.0/8 a,,b\n"
    c["bad-region-twice"] = b"10.0.0.0/8 a,b,a\n"
    c["bad-region-char"] = b"10.0.0.0/8 a;b\n"
    c["bad-region-space"] = b"10.0.0.0/8 a, b c\n"
    c["bad-no-target"] = b"10.0.0.0/8\n"
    c["bad-no-prefix"] = b"10.0.0.0 a\n"
    c["bad-address"] = b"10.0.0.256/24 a\n"
    c["bad-nul"] = b"10.0.0.0/8 a\x00\n"
    c["bad-long-line"] = b"10.0.0.0/8 " + b"a" * 5000 + b"\n"
    c["comments-blanks"] = b"# c\n\n   \t\n10.0.0.0/8 a # trailing\r\n  2001:db8::/32\tb,c\n"
    c["exponent"] = b"10.0.0.0/8 5e1 -1.2E2\n"
    c["no-newline-at-end"] = b"10.0.0.0/8 a"
    c["empty"] = b""
    return c


def write(name, items):
    out = os.path.join(OUT, name)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    for k, data in sorted(items.items()):
        with open(os.path.join(out, k), "wb") as f:
            f.write(data)
    print("wrote %d inputs to %s" % (len(items), out), file=sys.stderr)


def main():
    write("http", http_corpus())
    write("config", config_corpus())
    write("zone", zone_corpus())
    write("overrides", overrides_corpus())


if __name__ == "__main__":
    main()
