"""The HTTP(S) redirect listener end to end (issue 5).

gslbd serves geo.test with a GeoIP database built at test time from
tests/data/geoip/sys-city.json and listens for HTTP on 127.0.0.1 and ::1 and
for HTTPS (two certificates chosen by SNI, made here with openssl) on
127.0.0.1, all on ports it picks itself (read back from its "listening
proto=http(s)" log lines). 127.0.0.1/32 is the one trusted proxy, so
X-Forwarded-For and Forwarded place the client anywhere in the database when
sent to the IPv4 listener, and are ignored on the IPv6 one (peer ::1).

- redirects for clients in different countries, region redirect overrides,
  wildcard services, the configured status, Cache-Control, Vary, the HTML
  body, HEAD, 405 with Allow, all_methods with 307, unknown host 404, Host
  with port, upper case and a trailing dot, absolute-form targets, two Host
  lines 400;
- path and query kept byte for byte: %2F, encoded spaces, percent-encoded
  UTF-8, raw bytes that must be escaped, '?' alone, '+', ';';
- client address: trusted X-Forwarded-For (right-most untrusted, several
  lines, junk), Forwarded (v4, quoted v6 with port), untrusted peers;
- ?explain from explain_from addresses, agreeing with gslbd --explain;
- failover of a region whose members' servers stop (http checks against
  local servers) moving the Location, all down with nodata (503 +
  Retry-After), fail-open and fallback (redirect to the nearest region),
  servfail and no region (503);
- HTTPS: SNI picks the certificate, https is never redirected to http;
- limits: slow client cut off after request_timeout (a dripped head too),
  oversized heads 431,
  garbage 400 (or a closed connection), per-IP connection limit, total
  connection limit; the counters logged when the listener stops;
- access log lines; keep-alive and HTTP/1.0.
"""

import html
import json
import os
import re
import socket
import ssl
import subprocess
import time
import http.client
from contextlib import closing

import pytest

import gslbtest
from gslbtest import DATADIR, GSLBD, build_mmdb

GEODATA = os.path.join(DATADIR, "geoip")

HEADER_LIMIT = 2048
REQUEST_TIMEOUT = 2
TTL_MIN = 3

# Clients the test database places (tests/data/geoip/sys-city.json).
PL = "83.1.2.3"          # Warsaw: eu-east
US = "4.0.0.1"           # Ashburn: us-east
SG = "175.41.128.1"      # Singapore: ap-southeast
BR = "177.0.0.1"         # Sao Paulo: sa-east
SG6 = "2400:cb00::1"
BR6 = "2804::1"

REGIONS = """regions = (
  { name = "us-east"; lat = 39.04; lon = -77.49; },
  { name = "eu-east"; lat = 52.23; lon = 21.01; },
  { name = "ap-southeast"; lat = 1.35; lon = 103.82; redirect = "https://sg.example.net/base/"; },
  { name = "sa-east"; lat = -23.55; lon = -46.63; }
);
"""

WWW = "http://{region}.example.com"


def pools(regions, members=None):
    out = []
    for i, r in enumerate(regions):
        m = members[r] if members else '[ "192.0.2.%d" ]' % (i + 1)
        out.append('{ region = "%s"; %s }' % (r, m if m.startswith("check") else
                                             "members = %s;" % m))
    return "( %s )" % ", ".join(out)


ALL = ["us-east", "eu-east", "ap-southeast", "sa-east"]

SERVICES = """services = (
  { name = "www.geo.test"; ttl = 30;
    redirect = { target = "%(www)s"; };
    pools = %(all)s; },
  { name = "moved.geo.test"; ttl = 60;
    redirect = { target = "https://{region}.example.org/new"; status = 301; };
    pools = %(all)s; },
  { name = "api.geo.test"; ttl = 30;
    redirect = { target = "https://api-{region}.example.com"; status = 307; all_methods = true; };
    pools = %(all)s; },
  { name = "*.cdn.geo.test"; ttl = 45;
    redirect = { target = "https://{region}-cdn.example.net/"; status = 308; };
    pools = %(all)s; },
  { name = "plain.geo.test"; ttl = 30;
    pools = %(all)s; },
  { name = "nowhere.geo.test"; ttl = 30; ttl_min = 7;
    route = ( { match = "country:PL"; regions = [ "sa-east" ]; } );
    redirect = { target = "https://{region}.example.com"; };
    pools = ( { region = "us-east"; members = [ "192.0.2.1" ]; } ); }
);
""" % {"www": WWW, "all": pools(ALL)}


# ---------------------------------------------------------------- setup

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The database and two certificates: a default one and one for
    *.geo.test, both self-signed (each is its own CA for the checks)."""
    d = tmp_path_factory.mktemp("http-files")
    return {"dir": str(d),
            "default": gslbtest.self_signed(d, "default", "default.http.test"),
            "wild": gslbtest.self_signed(d, "wild", "wild.geo.test", "DNS:*.geo.test"),
            "mmdb": build_mmdb(os.path.join(GEODATA, "sys-city.json"), d / "geo.mmdb")}


def http_config(files, workdir, services=SERVICES, http_opts="", extra="", tls=True,
                admin=None):
    listen = ['"127.0.0.1:0"', '"[::1]:0"']
    if tls:
        listen.append('{ address = "127.0.0.1:0"; tls = { cert = "%s"; key = "%s"; '
                      'sni = ( { name = "*.geo.test"; cert = "%s"; key = "%s"; } ); }; }'
                      % (files["default"] + files["wild"]))
    text = gslbtest.gslbd_config(
        workdir, zones=[("geo.test", "geo.test.zone")], nsid=None, identity=None,
        version=None, workers=1, admin=admin,
        extra="""trusted_proxies = [ "127.0.0.1/32" ];
http = { access_log = true; header_limit = %d; request_timeout = %d.0; %s };
geoip = { database = "%s"; };
%s%s%s""" % (HEADER_LIMIT, REQUEST_TIMEOUT, http_opts, files["mmdb"], REGIONS, services,
             extra))
    # listen.http joins listen.dns in the one listen group
    return text.replace("listen = { dns = [", "listen = { http = ( %s ); dns = ["
                        % ", ".join(listen), 1)


HTTP_RE = re.compile(r"listening proto=(https?) address=\[?([0-9a-fA-F.:]+)\]? port=(\d+)")


def http_ports(srv):
    """{"http4": port, "http6": port, "https4": port} from the log."""
    ports = {}
    for proto, addr, port in HTTP_RE.findall(srv.stderr_text()):
        ports["%s%d" % (proto, 6 if ":" in addr else 4)] = int(port)
    return ports


def start(factory, files, tmp_path, **kw):
    srv = factory(config_text=http_config(files, str(tmp_path), **kw))
    srv.http = http_ports(srv)
    return srv


@pytest.fixture(scope="module")
def httpd(tmp_path_factory, files):
    workdir = str(tmp_path_factory.mktemp("httpd"))
    srv = gslbtest.Gslbd(workdir, config_text=http_config(
        files, workdir,
        http_opts='max_per_ip = 64; explain_from = [ "127.0.0.0/8", "::1/128", '
                  '"83.0.0.0/11" ];'))
    try:
        srv.start()
    except gslbtest.ServerError as e:
        srv.kill()
        pytest.fail(str(e), pytrace=False)
    srv.http = http_ports(srv)
    assert set(srv.http) == {"http4", "http6", "https4"}, srv.stderr_text()[-3000:]
    yield srv
    problems = srv.check_stopped_cleanly()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# ---------------------------------------------------------------- clients

class Reply:
    def __init__(self, status, headers, body, raw=b""):
        self.status = status
        self.headers = headers  # lower-case name -> value (last one wins)
        self.body = body
        self.raw = raw

    def h(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<Reply %s %s %r>" % (self.status, self.headers, self.body[:200])


def read_reply(sock, head_only=False, timeout=3.0, pending=None):
    """One HTTP response from sock, or None when the peer closed (or said
    nothing) first. pending (a bytearray) keeps bytes read past the end of
    this response for the next call (pipelining)."""
    deadline = time.monotonic() + timeout
    buf = pending if pending is not None else bytearray()
    while b"\r\n\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return None
        if not chunk:
            return None
        buf += chunk
    end = buf.index(b"\r\n\r\n")
    head = bytes(buf[:end])
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = 0 if head_only else int(headers.get("content-length", "0"))
    while len(buf) < end + 4 + n:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    body = bytes(buf[end + 4:end + 4 + n])
    raw_reply = bytes(buf[:end + 4 + n])
    del buf[:end + 4 + n]
    return Reply(status, headers, body, raw_reply)


def connect(port, family=4, timeout=3.0):
    s = socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(("::1" if family == 6 else "127.0.0.1", port))
    return s


def raw(port, data, family=4, head_only=False, timeout=3.0):
    """Send bytes on a fresh connection, read one response (None: closed
    without one)."""
    with closing(connect(port, family, timeout)) as s:
        s.sendall(data)
        return read_reply(s, head_only, timeout)


def request(port, target=b"/", host=b"www.geo.test", headers=(), method=b"GET", family=4,
            body=b"", version=b"HTTP/1.1"):
    """A request with bytes exactly as given (no client-side quoting)."""
    lines = [method + b" " + target + b" " + version]
    if host is not None:
        lines.append(b"Host: " + host)
    for k, v in headers:
        lines.append(k.encode() + b": " + v.encode())
    if body:
        lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"Connection: close")
    data = b"\r\n".join(lines) + b"\r\n\r\n" + body
    return raw(port, data, family, head_only=method == b"HEAD")


def get(srv, target="/", client=None, host="www.geo.test", family=4, headers=(), **kw):
    """GET through the IPv4 listener with X-Forwarded-For: client."""
    hdrs = list(headers)
    if client is not None:
        hdrs.append(("X-Forwarded-For", client))
    r = request(srv.http["http%d" % family], target.encode() if isinstance(target, str)
                else target, host.encode() if isinstance(host, str) else host, hdrs,
                family=family, **kw)
    assert r is not None, "no reply; log tail:\n" + srv.stderr_text()[-2000:]
    return r


def location_of(srv, client, target="/", host="www.geo.test"):
    r = get(srv, target, client, host)
    assert 300 <= r.status < 400, r
    return r.h("Location")


# ---------------------------------------------------------------- redirects

@pytest.mark.parametrize("client,region", [
    (PL, "eu-east"), (US, "us-east"), (BR, "sa-east"), ("8.8.8.8", "us-east"),
    (BR6, "sa-east"), ("2a00:1450::1", "eu-east"),
])
def test_redirect_by_country(httpd, client, region):
    r = get(httpd, "/index.html", client)
    assert r.status == 302
    assert r.h("Location") == "http://%s.example.com/index.html" % region
    assert r.h("Cache-Control") == "private, max-age=30"
    # the peer is a trusted proxy: shared caches must key on its headers
    assert r.h("Vary") == "X-Forwarded-For, Forwarded"
    assert r.h("Content-Type").startswith("text/html")
    link = html.escape(r.h("Location"), quote=True)
    assert ('href="%s"' % link).encode() in r.body


def test_region_redirect_overrides_template(httpd):
    # ap-southeast has its own redirect (ending in "/"): no double slash
    assert location_of(httpd, SG, "/a/b?c=d") == "https://sg.example.net/base/a/b?c=d"
    assert location_of(httpd, SG6, "/") == "https://sg.example.net/base/"


def test_status_and_wildcard_services(httpd):
    r = get(httpd, "/old?x=1", PL, host="moved.geo.test")
    assert r.status == 301
    assert r.h("Location") == "https://eu-east.example.org/new/old?x=1"
    assert r.h("Cache-Control") == "private, max-age=60"
    r = get(httpd, "/img/a.png", US, host="img.cdn.geo.test")
    assert r.status == 308
    assert r.h("Location") == "https://us-east-cdn.example.net/img/a.png"
    assert r.h("Cache-Control") == "private, max-age=45"
    r = get(httpd, "/x", US, host="deep.er.cdn.geo.test")
    assert r.status == 308 and r.h("Location") == "https://us-east-cdn.example.net/x"


@pytest.mark.parametrize("host", [b"WWW.Geo.Test", b"www.geo.test:8080", b"Www.GEO.test.:80",
                                  b"www.geo.test."])
def test_host_forms(httpd, host):
    r = get(httpd, "/p", PL, host=host)
    assert r.status == 302 and r.h("Location") == "http://eu-east.example.com/p"


@pytest.mark.parametrize("host", [b"nope.geo.test", b"plain.geo.test", b"geo.test",
                                  b"example.com", b"[::1]:8080", b"127.0.0.1"])
def test_unknown_host_404(httpd, host):
    r = get(httpd, "/p", PL, host=host)
    assert r.status == 404
    assert r.h("Location") is None
    assert r.h("Content-Type").startswith("text/plain")
    assert b"404" in r.body and len(r.body) < 200


@pytest.mark.parametrize("host", [b"www geo test", b"www.geo.test:80x", b"www..geo.test",
                                  b"w\xc3\xa9.geo.test", b""])
def test_malformed_host_400(httpd, host):
    r = get(httpd, "/p", PL, host=host)
    assert r.status == 400


def test_400_closes_connection(httpd):
    # after a malformed request nothing more on the connection is read
    with closing(connect(httpd.http["http4"])) as s:
        s.sendall(b"GET /p HTTP/1.1\r\nHost: www geo test\r\n\r\n")
        r = read_reply(s)
        assert r.status == 400 and r.h("Connection") == "close"
        assert gslbtest.tcp_closed_by_peer(s, 2.0)


def test_no_host_400(httpd):
    # HTTP/1.0 may leave Host out; there is then no name to go by
    r = get(httpd, "/p", PL, host=None, version=b"HTTP/1.0")
    assert r.status == 400


@pytest.mark.parametrize("second", ["www.geo.test", "other.geo.test", "WWW.GEO.TEST"])
def test_two_host_headers_400(httpd, second):
    """RFC 9112 3.2: more than one Host line is a 400, whether the lines
    agree or not (an absolute-form target does not change it)."""
    for target in (b"/p", b"http://www.geo.test/p"):
        r = get(httpd, target, PL, headers=[("Host", second)])
        assert r.status == 400, r
        assert r.h("Location") is None
    # one Host line is fine
    assert get(httpd, "/p", PL).status == 302


def test_absolute_form_target(httpd):
    r = get(httpd, b"http://www.geo.test/abs?q=1", PL, host=b"other.example")
    assert r.status == 302 and r.h("Location") == "http://eu-east.example.com/abs?q=1"


# ---------------------------------------------------------------- path and query

@pytest.mark.parametrize("target,kept", [
    (b"/", b"/"),
    (b"/a%2Fb/c", b"/a%2Fb/c"),                                  # never decoded
    (b"/with%20space/x?q=a%20b", b"/with%20space/x?q=a%20b"),    # spaces sent encoded
    (b"/caf%C3%A9?n=%E2%9C%93", b"/caf%C3%A9?n=%E2%9C%93"),      # UTF-8, percent-encoded
    (b"/p?", b"/p?"),                                            # '?' alone
    (b"/p?a=1&b=2&a=3;c", b"/p?a=1&b=2&a=3;c"),
    (b"/a+b?c+d=%2B", b"/a+b?c+d=%2B"),                          # '+' is not a space here
    (b"/q?x=%zz&y=%", b"/q?x=%zz&y=%"),                          # bad escapes: left alone
    (b"/~user/a-b_c.d!$&'()*,;=:@", b"/~user/a-b_c.d!$&'()*,;=:@"),
    (b"/%", b"/%"),
    (b"/caf\xc3\xa9", b"/caf%C3%A9"),                            # raw UTF-8 escaped
    (b'/x"<>\\^`{|}', b"/x%22%3C%3E%5C%5E%60%7B%7C%7D"),
    (b"/a?b?c", b"/a?b?c"),
    (b"/frag#ment", b"/frag%23ment"),         # a client never sends a fragment: '#' is data
    (b"/tab\there", b"/tab%09here"),
])
def test_path_and_query_kept(httpd, target, kept):
    r = get(httpd, target, PL)
    assert r.status == 302, r
    assert r.h("Location").encode() == b"http://eu-east.example.com" + kept


def test_http_client_paths(httpd):
    """The same through http.client, as a client library sends them."""
    with closing(http.client.HTTPConnection("127.0.0.1", httpd.http["http4"], timeout=3)) as c:
        for path in ("/caf%C3%A9/%E2%9C%93?q=%F0%9F%98%80", "/x?y=%2F%3F%23", "/?"):
            c.request("GET", path, headers={"Host": "www.geo.test", "X-Forwarded-For": US})
            r = c.getresponse()
            r.read()
            assert r.status == 302
            assert r.getheader("Location") == "http://us-east.example.com" + path


def test_long_location_414(httpd):
    # fits the head limit, but not the Location once escaped (3 bytes each)
    r = get(httpd, b"/" + b"\xff" * 1500, PL)
    assert r.status == 414


# ---------------------------------------------------------------- methods

def test_head(httpd):
    r = get(httpd, "/h?x", PL, method=b"HEAD")
    assert r.status == 302
    assert r.h("Location") == "http://eu-east.example.com/h?x"
    assert r.body == b""
    g = get(httpd, "/h?x", PL)
    assert r.h("Content-Length") == g.h("Content-Length")
    with closing(http.client.HTTPConnection("127.0.0.1", httpd.http["http4"], timeout=3)) as c:
        c.request("HEAD", "/h", headers={"Host": "www.geo.test"})
        resp = c.getresponse()
        assert resp.status == 302 and resp.read() == b""


@pytest.mark.parametrize("method", [b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH"])
def test_other_methods_405(httpd, method):
    r = get(httpd, "/form", PL, method=method, body=b"a=1" if method != b"DELETE" else b"")
    assert r.status == 405
    assert r.h("Allow") == "GET, HEAD"
    assert r.h("Location") is None


@pytest.mark.parametrize("method", [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE"])
def test_all_methods_307(httpd, method):
    r = get(httpd, "/v1/items?id=7", PL, host="api.geo.test", method=method,
            body=b'{"a": 1}' if method in (b"POST", b"PUT") else b"")
    assert r.status == 307
    assert r.h("Location") == "https://api-eu-east.example.com/v1/items?id=7"


def test_post_with_body_on_kept_alive_connection(httpd):
    """A request with a body is answered before the body is read; the
    connection closes after the answer (the body is not worth reading)."""
    with closing(connect(httpd.http["http4"])) as s:
        s.sendall(b"POST /x HTTP/1.1\r\nHost: api.geo.test\r\nContent-Length: 5\r\n\r\nhello")
        r = read_reply(s)
        assert r.status == 307


# ---------------------------------------------------------------- client address

@pytest.mark.parametrize("xff,region", [
    (PL + ", 127.0.0.1", "eu-east"),             # trusted hops on the right are skipped
    ("1.2.3.4, " + PL, "eu-east"),               # right-most untrusted wins
    (US + ", " + PL, "eu-east"),
    (PL + ", " + US, "us-east"),
    ("  %s  " % BR, "sa-east"),
    ("%s:8080" % BR, "sa-east"),
    ("[%s]:443" % BR6, "sa-east"),
    ("::ffff:" + BR, "sa-east"),
    (PL + ", unknown", "us-east"),               # junk stops the walk: the peer (unknown place)
    ("garbage", "us-east"),
    ("", "us-east"),
])
def test_x_forwarded_for(httpd, xff, region):
    assert location_of(httpd, xff) == "http://%s.example.com/" % region


def test_x_forwarded_for_several_lines(httpd):
    r = get(httpd, "/", headers=[("X-Forwarded-For", US), ("X-Forwarded-For", BR)])
    assert r.h("Location") == "http://sa-east.example.com/"
    r = get(httpd, "/", headers=[("X-Forwarded-For", BR), ("X-Forwarded-For", "127.0.0.1")])
    assert r.h("Location") == "http://sa-east.example.com/"


@pytest.mark.parametrize("fwd,region", [
    ("for=%s" % PL, "eu-east"),
    ("for=%s;proto=https;by=127.0.0.1" % BR, "sa-east"),
    ('For="[%s]:4711"' % BR6, "sa-east"),
    ("for=%s, for=%s" % (PL, US), "us-east"),
    ("for=%s, for=127.0.0.1" % PL, "eu-east"),
    ('proto=http;for="%s:80"' % PL, "eu-east"),
    ("for=_hidden", "us-east"),
    ("for=unknown, for=%s" % BR, "sa-east"),
])
def test_forwarded(httpd, fwd, region):
    r = get(httpd, "/", headers=[("Forwarded", fwd)])
    assert r.h("Location") == "http://%s.example.com/" % region
    assert r.h("Vary") == "X-Forwarded-For, Forwarded"


def test_untrusted_peer_headers_ignored(httpd):
    # ::1 is not a trusted proxy: the client is ::1 (no location, config
    # order: us-east), whatever it claims
    for hdr in (("X-Forwarded-For", PL), ("Forwarded", "for=%s" % PL)):
        r = get(httpd, "/u", headers=[hdr], family=6)
        assert r.status == 302
        assert r.h("Location") == "http://us-east.example.com/u"
        assert r.h("Vary") is None  # private: the answer depends on the peer alone
        assert r.h("Cache-Control") == "private, max-age=30"


# ---------------------------------------------------------------- explain

def explain_cli(srv, address, name):
    r = subprocess.run([GSLBD, "-c", srv.config_path, "--explain", address, name, "--json"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def comparable(ex):
    keys = ("client", "name", "zone", "service", "location", "rule", "chosen", "answer",
            "ecs_scope", "ttl")
    out = {k: ex.get(k) for k in keys}
    out["regions"] = [(r["region"], r["distance_km"], r["state"]) for r in ex["regions"]]
    return out


@pytest.mark.parametrize("family,xff,address", [
    (4, None, "127.0.0.1"),
    (6, None, "::1"),
    (4, PL, PL),                # explain_from includes 83.0.0.0/11
])
def test_explain(httpd, family, xff, address):
    r = get(httpd, "/any/path?explain", xff, family=family)
    assert r.status == 200, r
    assert r.h("Content-Type") == "application/json"
    assert r.h("Cache-Control") == "no-store"
    got = json.loads(r.body)
    want = explain_cli(httpd, address, "www.geo.test")
    assert comparable(got) == comparable(want)
    for q in ("/?a=1&explain", "/?explain=1", "/?x;explain"):
        assert get(httpd, q, xff, family=family).status == 200


def test_explain_not_allowed_gets_redirect(httpd):
    # US is not in explain_from: the normal redirect, path and query kept
    r = get(httpd, "/p?explain", US)
    assert r.status == 302 and r.h("Location") == "http://us-east.example.com/p?explain"
    # a parameter merely starting with "explain" is not ?explain
    r = get(httpd, "/p?explained=1")
    assert r.status == 302


# ---------------------------------------------------------------- HTTPS

def tls_context(files, verify_name=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify_name:
        ctx.load_verify_locations(cafile=files["wild"][0])
        ctx.check_hostname = True
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_request(srv, files, sni, target="/", host="www.geo.test", verify=False, xff=PL):
    ctx = tls_context(files, sni if verify else None)
    with closing(socket.create_connection(("127.0.0.1", srv.http["https4"]), timeout=3)) as s:
        with closing(ctx.wrap_socket(s, server_hostname=sni)) as t:
            der = t.getpeercert(binary_form=True)
            hdrs = "X-Forwarded-For: %s\r\n" % xff if xff else ""
            t.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n"
                       % (target, host, hdrs)).encode())
            return der, read_reply(t)


def cert_subject(der, tmp_path):
    pem = tmp_path / "peer.pem"
    pem.write_text(ssl.DER_cert_to_PEM_cert(der))
    r = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", str(pem)],
                       capture_output=True, text=True, check=True)
    return r.stdout.strip()


def test_https_sni(httpd, files, tmp_path):
    der, r = tls_request(httpd, files, "www.geo.test", verify=True)  # verified: *.geo.test
    assert "wild.geo.test" in cert_subject(der, tmp_path)
    assert r.status == 302
    der, r = tls_request(httpd, files, "other.example")
    assert "default.http.test" in cert_subject(der, tmp_path)
    der, r = tls_request(httpd, files, "a.b.geo.test")  # a wildcard covers one label
    assert "default.http.test" in cert_subject(der, tmp_path)
    der, r = tls_request(httpd, files, "IMG.CDN.GEO.TEST", host="img.cdn.geo.test")
    assert "default.http.test" in cert_subject(der, tmp_path)  # two labels below geo.test
    assert r.status == 308


def test_https_never_downgraded(httpd, files):
    # the template is http://{region}.example.com: over https it becomes https
    _, r = tls_request(httpd, files, "www.geo.test", "/s?q=1")
    assert r.status == 302
    assert r.h("Location") == "https://eu-east.example.com/s?q=1"
    # an https region redirect stays as it is
    _, r = tls_request(httpd, files, "www.geo.test", "/s", xff=SG)
    assert r.h("Location") == "https://sg.example.net/base/s"
    # and plain http keeps http
    assert location_of(httpd, PL, "/s?q=1") == "http://eu-east.example.com/s?q=1"


# ---------------------------------------------------------------- connections

def test_keep_alive(httpd):
    with closing(http.client.HTTPConnection("127.0.0.1", httpd.http["http4"], timeout=3)) as c:
        c.connect()
        sock = c.sock
        for i, client in enumerate((PL, US, BR, PL)):
            c.request("GET", "/k%d" % i, headers={"Host": "www.geo.test",
                                                    "X-Forwarded-For": client})
            r = c.getresponse()
            r.read()
            assert r.status == 302
            assert r.getheader("Location").endswith("/k%d" % i)
            assert c.sock is sock, "the connection was not kept"
        # 404 and 405 keep it too
        for method, host in (("GET", "nope.geo.test"), ("DELETE", "www.geo.test")):
            c.request(method, "/", headers={"Host": host})
            r = c.getresponse()
            r.read()
            assert r.status in (404, 405) and c.sock is sock


def test_pipelined_requests(httpd):
    with closing(connect(httpd.http["http4"])) as s:
        s.sendall(b"GET /1 HTTP/1.1\r\nHost: www.geo.test\r\n\r\n"
                  b"GET /2 HTTP/1.1\r\nHost: www.geo.test\r\n\r\n")
        pending = bytearray()
        a = read_reply(s, pending=pending)
        b = read_reply(s, pending=pending)
        assert a.h("Location").endswith("/1") and b.h("Location").endswith("/2")


def test_http_1_0(httpd):
    with closing(connect(httpd.http["http4"])) as s:
        s.sendall(b"GET /old HTTP/1.0\r\nHost: www.geo.test\r\nX-Forwarded-For: %s\r\n\r\n"
                  % PL.encode())
        r = read_reply(s)
        assert r.status == 302 and r.h("Location") == "http://eu-east.example.com/old"
        assert gslbtest.tcp_closed_by_peer(s, 2.0)


def test_access_log(httpd):
    get(httpd, "/logged%20path?x=1", PL)
    get(httpd, "/nf", host="nope.geo.test")
    deadline = time.monotonic() + 2
    want = [r"http request client=83\.1\.2\.3 host=www\.geo\.test method=GET "
            r"path=/logged%20path\?x=1 status=302 region=eu-east",
            r"http request client=127\.0\.0\.1 host=nope\.geo\.test method=GET path=/nf "
            r"status=404 region=-"]
    while time.monotonic() < deadline:
        text = httpd.stderr_text()
        if all(re.search(w, text) for w in want):
            return
        time.sleep(0.05)
    pytest.fail("access log lines missing:\n" + httpd.stderr_text()[-2000:])


# ---------------------------------------------------------------- no region

def test_no_region_503(httpd):
    # PL clients are routed to sa-east only, where the service has no pool
    r = get(httpd, "/p", PL, host="nowhere.geo.test")
    assert r.status == 503
    assert r.h("Retry-After") == "7"
    assert r.h("Location") is None
    assert r.h("Cache-Control") == "no-store"
    assert get(httpd, "/p", US, host="nowhere.geo.test").status == 302


# ---------------------------------------------------------------- metrics

def metric_samples(srv):
    """/metrics as {'name{labels}': value}."""
    h, p = srv.admin_address()
    with closing(http.client.HTTPConnection(h, p, timeout=10)) as c:
        c.request("GET", "/metrics")
        r = c.getresponse()
        body = r.read().decode()
        assert r.status == 200, body
    return {k: float(v) for k, _, v in (ln.rpartition(" ") for ln in body.splitlines()
                                        if ln and not ln.startswith("#"))}


def test_every_http_answer_counter_moves(gslbd_factory, files, tmp_path):
    """After one request of each outcome, every HTTP answer counter on
    /metrics has moved: none is exported and never incremented (the old
    gslb_http_responses_other_total was)."""
    srv = start(gslbd_factory, files, tmp_path, tls=False, admin="127.0.0.1:0",
                http_opts='explain_from = [ "127.0.0.0/8" ];')
    want = {"redirect": (get(srv, "/p", PL), 302),
            "not_found": (get(srv, "/p", PL, host="nope.geo.test"), 404),
            "method_not_allowed": (get(srv, "/p", PL, method=b"POST", body=b"a"), 405),
            "bad_request": (get(srv, "/p", PL, host="www geo test"), 400),
            "too_large": (get(srv, "/p", PL, headers=[("X-Pad", "a" * HEADER_LIMIT)]), 431),
            "unavailable": (get(srv, "/p", PL, host="nowhere.geo.test"), 503),
            "explain": (get(srv, "/p?explain"), 200)}
    for outcome, (r, status) in want.items():
        assert r.status == status, (outcome, r)
    m = metric_samples(srv)
    for outcome in want:
        assert m['gslb_http_requests_total{outcome="%s"}' % outcome] == 1, (outcome, m)
    assert m['gslb_http_redirects_total{service="www.geo.test",region="eu-east",'
             'status="302"}'] == 1, m
    idle = sorted(k for k, v in m.items() if k.startswith("gslb_http_") and v == 0
                  and not k.startswith("gslb_http_limit_hits_total"))
    assert not idle, "exported, never counted: %s" % idle


# ---------------------------------------------------------------- health

def checked(url):
    return ('check = "web"; members = ( { address = "192.0.2.10"; target = "%s"; } );'
            % url)


HEALTH_CHECKS = """checks = ( { name = "web"; type = "http"; path = "/healthz";
                interval = 0.5; timeout = 0.3; rise = 1; fall = 1; } );
"""


def wait_location(srv, client, want, host, timeout=5.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = get(srv, "/f?x=1", client, host=host)
        got = last.h("Location") if 300 <= last.status < 400 else last.status
        if got == want:
            return last
        time.sleep(0.05)
    pytest.fail("wanted %r, last %r\n%s" % (want, last, srv.stderr_text()[-2000:]))


def test_failover_moves_location(gslbd_factory, files, backends, tmp_path):
    eu, us = backends(), backends()
    services = """services = (
  { name = "fo.geo.test"; ttl = 30; ttl_min = %d; when_all_down = "nodata";
    redirect = { target = "https://{region}.example.com"; };
    pools = %s; }
);
""" % (TTL_MIN, pools(["eu-east", "us-east"], {"eu-east": checked(eu.url()),
                                             "us-east": checked(us.url())}))
    srv = start(gslbd_factory, files, tmp_path, services=services, extra=HEALTH_CHECKS,
                tls=False)
    host = "fo.geo.test"
    r = wait_location(srv, PL, "https://eu-east.example.com/f?x=1", host)
    # max-age: the TTL the DNS answer has (bounded by the check's timing)
    ttl = explain_cli(srv, PL, host)["ttl"]
    assert ttl < 30
    assert r.h("Cache-Control") == "private, max-age=%d" % ttl
    eu.fail()
    wait_location(srv, PL, "https://us-east.example.com/f?x=1", host)
    us.fail()
    r = wait_location(srv, PL, 503, host)
    assert r.h("Retry-After") == str(TTL_MIN)
    assert r.body.startswith(b"503")
    eu.ok()
    wait_location(srv, PL, "https://eu-east.example.com/f?x=1", host)
    # a server gone altogether (connection refused) counts as down too
    us.ok()
    eu.close()
    wait_location(srv, PL, "https://us-east.example.com/f?x=1", host)


@pytest.mark.parametrize("policy,want", [
    ('when_all_down = "fail-open";', "https://eu-east.example.com/f?x=1"),
    ('when_all_down = "fallback"; fallback = "sorry.example.net.";',
     "https://eu-east.example.com/f?x=1"),
    ('when_all_down = "fallback"; fallback = [ "198.51.100.7" ];',
     "https://eu-east.example.com/f?x=1"),
    ('when_all_down = "servfail";', 503),
    ('when_all_down = "nodata";', 503),
])
def test_all_down_policies(gslbd_factory, files, tmp_path, policy, want):
    dead = "http://127.0.0.1:%d/healthz" % gslbtest.closed_port()
    services = """services = (
  { name = "down.geo.test"; ttl = 30; %s
    redirect = { target = "https://{region}.example.com"; };
    pools = %s; }
);
""" % (policy, pools(["us-east", "eu-east"], {"us-east": checked(dead),
                                             "eu-east": checked(dead)}))
    srv = start(gslbd_factory, files, tmp_path, services=services, extra=HEALTH_CHECKS,
                tls=False)
    r = wait_location(srv, PL, want, "down.geo.test")
    if want == 503:
        assert r.h("Retry-After") == "5"  # ttl_min's default
    else:
        # the nearest region with a pool, as fail-open chooses
        assert r.status == 302


def ctl(srv, *args):
    return gslbtest.ctl(srv, *args, check=True)


def dns_answer(srv, client, name):
    """The A addresses DNS answers for client (as ECS /32)."""
    return sorted(gslbtest.addrs(gslbtest.ask(srv, name, ecs=client + "/32", timeout=2.0)))


@pytest.mark.parametrize("admin,want", [
    ((("force-down", "region:eu-east"),), "https://us-east.example.com/f?x=1"),
    ((("drain", "region:eu-east"),), "https://us-east.example.com/f?x=1"),
    ((("drain", "region:eu-east"), ("force-down", "pool:down.geo.test/us-east")), 503),
])
def test_fallback_redirect_skips_admin_down(gslbd_factory, files, tmp_path, admin, want):
    """when_all_down = "fallback": DNS answers the fallback; a redirect,
    which must name a region, goes where fail-open would, and so never to
    a region an operator drained or forced down (503 when nothing is
    left), as decide() rules for DNS."""
    dead = "http://127.0.0.1:%d/healthz" % gslbtest.closed_port()
    services = """services = (
  { name = "down.geo.test"; ttl = 30; when_all_down = "fallback"; fallback = [ "198.51.100.7" ];
    redirect = { target = "https://{region}.example.com"; };
    pools = %s; }
);
""" % pools(["us-east", "eu-east"], {"us-east": checked(dead), "eu-east": checked(dead)})
    srv = start(gslbd_factory, files, tmp_path, services=services, extra=HEALTH_CHECKS,
                tls=False, admin="127.0.0.1:0")
    wait_location(srv, PL, "https://eu-east.example.com/f?x=1", "down.geo.test")
    assert dns_answer(srv, PL, "down.geo.test") == ["198.51.100.7"]
    for action, target in admin:
        ctl(srv, action, target)
    r = wait_location(srv, PL, want, "down.geo.test")
    for _ in range(5):
        again = get(srv, "/f?x=1", PL, host="down.geo.test")
        assert (again.status, again.h("Location")) == (r.status, r.h("Location"))
    assert dns_answer(srv, PL, "down.geo.test") == ["198.51.100.7"]


# ---------------------------------------------------------------- limits

def stopped_counters(srv):
    srv.stop()
    m = re.search(r"http listener stopped (.*)", srv.stderr_text())
    assert m, srv.stderr_text()[-2000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def test_limits(gslbd_factory, files, tmp_path):
    srv = start(gslbd_factory, files, tmp_path, http_opts="max_per_ip = 3;", tls=False)
    port = srv.http["http4"]

    # slow client: half a request line, then nothing; cut off after
    # request_timeout (whole seconds; libmicrohttpd checks once a second)
    with closing(connect(port)) as s:
        s.sendall(b"GET /slow HT")
        t0 = time.monotonic()
        assert gslbtest.tcp_closed_by_peer(s, REQUEST_TIMEOUT + 3.0)
        took = time.monotonic() - t0
        assert REQUEST_TIMEOUT - 0.5 <= took <= REQUEST_TIMEOUT + 2.5, took
    # slow with the rest of the head: the same
    with closing(connect(port)) as s:
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: www.geo.test\r\nX-A: ")
        assert gslbtest.tcp_closed_by_peer(s, REQUEST_TIMEOUT + 3.0)

    # oversized heads: over header_limit (the handler's 431), far over
    # (libmicrohttpd's own)
    for size in (HEADER_LIMIT + 1, HEADER_LIMIT + 100, 64 * 1024):
        pad = b"a" * (size - len(b"GET /x HTTP/1.1\r\nHost: www.geo.test\r\nX-Pad: \r\n\r\n"))
        r = raw(port, b"GET /x HTTP/1.1\r\nHost: www.geo.test\r\nX-Pad: " + pad + b"\r\n\r\n")
        assert r is not None and r.status == 431, (size, r)
    ok = b"GET /x HTTP/1.1\r\nHost: www.geo.test\r\nX-Pad: \r\n\r\n"
    pad = b"a" * (HEADER_LIMIT - len(ok))
    r = raw(port, b"GET /x HTTP/1.1\r\nHost: www.geo.test\r\nX-Pad: " + pad + b"\r\n\r\n")
    assert r.status == 302, "a head of exactly header_limit bytes is fine"
    r = raw(port, b"GET /" + b"a" * (64 * 1024) + b" HTTP/1.1\r\nHost: www.geo.test\r\n\r\n")
    assert r is not None and r.status in (414, 431), r

    # garbage: 400, or for bytes that are not even a request line, the
    # connection closed without an answer; never anything else
    r = raw(port, b"hello world\r\n\r\n")
    assert r is not None and r.status == 400
    r = raw(port, b"GET / HTTP/1.1\r\nHost: www.geo.test\r\nno colon here\r\n\r\n")
    assert r is not None and r.status == 400
    for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", b"GET\r\n\r\n",
                 b"\x00" * 64 + b"\r\n\r\n", b"\xff\xfe \xfd \xfc\r\n\r\n"):
        r = raw(port, junk, timeout=REQUEST_TIMEOUT + 2.0)
        assert r is None or r.status == 400, (junk, r)
    assert get(srv, "/still", PL).status == 302

    # per-network limit: max_per_ip connections from one /24 are served
    # (kept open), one more from another address of that /24 is closed at
    # once (127.0.0.1 is a trusted proxy, not counted: see
    # test_trusted_proxy_not_capped_per_ip)
    time.sleep(0.3)  # the server has seen the earlier connections close
    held = []
    try:
        for i in range(3):
            s = connect_from("127.0.0.%d" % (i + 2), port)
            held.append(s)
            s.sendall(b"GET /held HTTP/1.1\r\nHost: www.geo.test\r\n\r\n")
            assert read_reply(s).status == 302
        assert not served(connect_from("127.0.0.9", port)), "the /24 is full"
        # another /24 and another family are counted on their own
        assert served(connect_from("127.0.1.1", port))
        assert get(srv, "/v6", family=6).status == 302
    finally:
        for s in held:
            s.close()
    deadline = time.monotonic() + 3
    while True:  # the slots come back once the server has seen the closes
        ok = served(connect_from("127.0.0.9", port))
        if ok or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert ok

    c = stopped_counters(srv)
    assert c["timeouts"] >= 2, c
    assert c["too_large"] >= 4, c
    assert c["bad_requests"] >= 2, c
    assert c["per_ip_limit"] >= 1, c
    assert c["redirects"] >= 5, c


def drip_until_closed(s, data, every, limit):
    """Send data one byte every `every` seconds; the seconds until the
    peer closed, or None when it was still open after `limit` seconds."""
    t0 = time.monotonic()
    for i in range(len(data)):
        try:
            s.sendall(data[i:i + 1])
        except OSError:
            return time.monotonic() - t0
        while True:
            left = t0 + (i + 1) * every - time.monotonic()
            if left <= 0:
                break
            if gslbtest.tcp_closed_by_peer(s, left):
                return time.monotonic() - t0
        if time.monotonic() - t0 > limit:
            return None
    return None


@pytest.mark.parametrize("after_request", [False, True])
def test_request_head_deadline(gslbd_factory, files, tmp_path, after_request):
    """A request head dripped a byte every second (under request_timeout,
    so libmicrohttpd's inactivity timeout never fires) is cut off
    request_timeout after the connection started, or after the previous
    answer on a kept-alive connection; the cut is counted as a timeout."""
    srv = start(gslbd_factory, files, tmp_path, tls=False)
    head = b"GET /drip HTTP/1.1\r\nHost: www.geo.test\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
    with closing(connect(srv.http["http4"], timeout=30)) as s:
        if after_request:
            s.sendall(b"GET /first HTTP/1.1\r\nHost: www.geo.test\r\n\r\n")
            assert read_reply(s).status == 302
        took = drip_until_closed(s, head, 1.0, 3 * REQUEST_TIMEOUT)
    assert took is not None, "a dripped head lived past 3 x request_timeout"
    assert REQUEST_TIMEOUT - 1.5 <= took <= REQUEST_TIMEOUT + 1.5, took
    c = stopped_counters(srv)
    assert c["timeouts"] >= 1, c


def connect_from(src, port, timeout=3.0):
    """A connection to 127.0.0.1:port from the loopback address src."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def served(s, target=b"/"):
    """Send a GET on connection s and close it: True when it got a 302,
    False when the server closed it without an answer."""
    with closing(s):
        try:
            s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: www.geo.test\r\n\r\n")
        except OSError:
            return False  # closed before the request went out
        r = read_reply(s, timeout=2.0)
        assert r is None or r.status == 302, r
        return r is not None


def test_trusted_proxy_not_capped_per_ip(gslbd_factory, files, tmp_path):
    """Behind trusted_proxies every request comes from a proxy address:
    max_per_ip does not cap a trusted proxy (127.0.0.1, whose clients are
    many), nor do its connections count against its neighbours."""
    srv = start(gslbd_factory, files, tmp_path, http_opts="max_per_ip = 3;", tls=False)
    port = srv.http["http4"]
    held = []
    try:
        for i in range(8):
            s = connect_from("127.0.0.1", port)
            held.append(s)
            s.sendall(b"GET /p HTTP/1.1\r\nHost: www.geo.test\r\nX-Forwarded-For: %s\r\n"
                      b"\r\n" % (PL if i % 2 else US).encode())
            r = read_reply(s)
            assert r is not None and r.status == 302, (i, r)
        # an untrusted neighbour in the same /24 still has its 3
        for i in range(3):
            s = connect_from("127.0.0.%d" % (i + 2), port)
            held.append(s)
            s.sendall(b"GET /n HTTP/1.1\r\nHost: www.geo.test\r\n\r\n")
            r = read_reply(s)
            assert r is not None and r.status == 302, (i, r)
        assert not served(connect_from("127.0.0.5", port))
        # and every proxied connection still works
        for s in held[:8]:
            s.sendall(b"GET /again HTTP/1.1\r\nHost: www.geo.test\r\n\r\n")
            r = read_reply(s)
            assert r is not None and r.status == 302, r
    finally:
        for s in held:
            s.close()
    c = stopped_counters(srv)
    assert c["per_ip_limit"] == 1, c


def test_connection_limit(gslbd_factory, files, tmp_path):
    """Past max_connections new connections wait in the listen backlog
    until one closes."""
    srv = start(gslbd_factory, files, tmp_path, http_opts="max_connections = 2;", tls=False)
    port = srv.http["http4"]
    held = [connect(port) for _ in range(2)]
    for s in held:
        s.sendall(b"GET / HTTP/1.1\r\nHost: www.geo.test\r\n\r\n")
        assert read_reply(s).status == 302
    waiting = connect(port)
    try:
        waiting.sendall(b"GET /w HTTP/1.1\r\nHost: www.geo.test\r\n\r\n")
        assert read_reply(waiting, timeout=1.0) is None
        held[0].close()
        r = read_reply(waiting, timeout=3.0)
        assert r is not None and r.h("Location") == "http://us-east.example.com/w"
    finally:
        waiting.close()
        for s in held:
            s.close()
    c = stopped_counters(srv)
    assert c["conn_limit"] >= 1, c


def test_no_http_listener_without_config(gslbd_factory):
    srv = gslbd_factory()
    assert "proto=http" not in srv.stderr_text()
