"""The admin listener against a web browser on the operator's machine
(issue 10 item 2): a page may send simple cross-site requests (a POST with
no body needs no CORS preflight), and a page whose own name was rebound to
127.0.0.1 may read the answers. So:

- control requests (POST /override, /reload) need `X-Gslb-Admin: 1` or the
  bearer token, and are refused when they carry `Origin` or
  `Sec-Fetch-Site: cross-site` / `same-site`;
- every request is refused (421) unless Host is an address, localhost or a
  name in `admin_hosts`;
- with `admin_require_token = true` reads need the token too (not /healthz);
- gslbctl keeps working (it sends the header).

Each request is raw http.client on loopback against a real gslbd.
"""

import http.client
import json
import subprocess

import pytest

import gslbtest
from gslbtest import GSLBD, ctl
from test_admin import ADMIN_MARK, admin_conf, fresh  # noqa: F401 (fixture)
from test_admin_token import TOKEN, tokend  # noqa: F401 (fixture)
DRAIN = "/override?action=drain&target=region:r1"
CLEAR = "/override?action=clear&target=region:r1"


def request(srv, method, path, headers=None, host=None, no_host=False):
    """(status, headers lower-cased, body) with exactly the headers given;
    host replaces the Host header http.client would send; no_host sends an
    HTTP/1.0 request without one."""
    h, port = srv.admin_address()
    conn = http.client.HTTPConnection(h, port, timeout=10)
    if no_host:
        conn._http_vsn, conn._http_vsn_str = 10, "HTTP/1.0"
    try:
        conn.putrequest(method, path, skip_host=host is not None or no_host)
        if host is not None:
            conn.putheader("Host", host)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


def overrides(srv):
    st, _, body = request(srv, "GET", "/status")
    assert st == 200, body
    return json.loads(body)["overrides"]


def test_control_needs_the_admin_header(fresh):
    st, _, body = request(fresh, "POST", DRAIN)
    assert st == 403, (st, body)
    assert "X-Gslb-Admin: 1" in json.loads(body)["error"], body
    st, _, body = request(fresh, "POST", "/reload")
    assert st == 403, (st, body)
    assert overrides(fresh) == []
    # Another value is not the mark.
    st, _, body = request(fresh, "POST", DRAIN, {"X-Gslb-Admin": "yes"})
    assert st == 403, (st, body)
    assert 'reason="no X-Gslb-Admin header"' in fresh.stderr_text()
    st, _, body = request(fresh, "POST", DRAIN, ADMIN_MARK)
    assert st == 200, (st, body)
    assert [o["target"] for o in overrides(fresh)] == ["region:r1"]
    st, _, body = request(fresh, "POST", CLEAR, ADMIN_MARK)
    assert st == 200, (st, body)
    # gslbctl sends it.
    r = ctl(fresh, "drain", "region:r2")
    assert r.returncode == 0, r.stderr
    r = ctl(fresh, "reload")
    assert r.returncode == 0, r.stderr
    r = ctl(fresh, "clear", "region:r2")
    assert r.returncode == 0, r.stderr
    assert overrides(fresh) == []


@pytest.mark.parametrize("browser", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
])
def test_cross_site_control_is_refused(fresh, browser):
    for path in (DRAIN, "/reload"):
        st, _, body = request(fresh, "POST", path, dict(ADMIN_MARK, **browser))
        assert st == 403, (path, st, body)
        assert "cross-site" in json.loads(body)["error"], body
    assert overrides(fresh) == []
    assert 'reason="cross-site"' in fresh.stderr_text()
    # What a user typing a URL sends is not cross-site.
    st, _, body = request(fresh, "POST", DRAIN,
                          dict(ADMIN_MARK, **{"Sec-Fetch-Site": "none"}))
    assert st == 200, (st, body)
    # Reads stay open to a browser (CORS keeps the page from reading them).
    st, _, body = request(fresh, "GET", "/status", browser)
    assert st == 200, (st, body)


@pytest.mark.parametrize("host", [
    "127.0.0.1", "127.0.0.1:8053", "[::1]", "[::1]:8053", "localhost", "LocalHost.:1",
    "192.0.2.7:80",
])
def test_host_literal_or_localhost_is_answered(fresh, host):
    st, _, body = request(fresh, "GET", "/status", host=host)
    assert st == 200, (host, st, body)


@pytest.mark.parametrize("host", [
    "evil.example", "evil.example:8053", "127.0.0.1.evil.example", "localhost.evil.example",
    "127.1", "[::1", "[::1]x", "127.0.0.1:", "127.0.0.1:99999", "[evil]:80", "",
])
def test_other_hosts_are_refused(fresh, host):
    for method, path, headers in (("GET", "/status", {}), ("GET", "/healthz", {}),
                                  ("GET", "/metrics", {}), ("POST", DRAIN, ADMIN_MARK),
                                  ("GET", "/nowhere", {})):
        st, _, body = request(fresh, method, path, headers, host=host)
        assert st == 421, (host, path, st, body)
        assert "admin_hosts" in json.loads(body)["error"], body
    assert overrides(fresh) == []
    assert 'reason="Host not allowed"' in fresh.stderr_text()


def test_request_without_host_is_refused(fresh):
    st, _, body = request(fresh, "GET", "/status", no_host=True)
    assert st == 421, (st, body)
    st, _, body = request(fresh, "GET", "/status", {"Host": "127.0.0.1"}, no_host=True)
    assert st == 200, (st, body)


def test_admin_hosts_names_are_answered_and_reloaded(gslbd_factory):
    conf = admin_conf()
    conf["extra"] += '\nadmin_hosts = [ "GSLB-Admin.Example.NET." ];\n'
    srv = gslbd_factory(**conf)
    for host in ("gslb-admin.example.net", "gslb-admin.example.net:8053",
                 "GSLB-ADMIN.example.net."):
        st, _, body = request(srv, "GET", "/status", host=host)
        assert st == 200, (host, st, body)
    st, _, body = request(srv, "POST", DRAIN, ADMIN_MARK, host="gslb-admin.example.net")
    assert st == 200, (st, body)
    st, _, body = request(srv, "GET", "/status", host="other.example.net")
    assert st == 421, (st, body)
    # A reload replaces the list.
    with open(srv.config_path) as f:
        text = f.read()
    with open(srv.config_path, "w") as f:
        f.write(text.replace("GSLB-Admin.Example.NET.", "other.example.net"))
    st, _, body = request(srv, "POST", "/reload", ADMIN_MARK)
    assert st == 200, (st, body)
    st, _, body = request(srv, "GET", "/status", host="other.example.net")
    assert st == 200, (st, body)
    st, _, body = request(srv, "GET", "/status", host="gslb-admin.example.net")
    assert st == 421, (st, body)


def test_gslbctl_by_name_localhost(fresh):
    _, port = fresh.admin_address()
    r = ctl("localhost:%d" % port, "drain", "region:r1")
    if r.returncode == 3:
        pytest.skip("localhost does not reach 127.0.0.1 here: %s" % r.stderr)
    assert r.returncode == 0, r.stderr
    r = ctl("localhost:%d" % port, "clear", "region:r1")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("bad", ['[ "bad name!" ]', '[ "" ]', '[ 42 ]', '"one.example"',
                                 '[ "*.example.net" ]'])
def test_admin_hosts_errors(tmp_path, bad):
    conf = tmp_path / "gslb.conf"
    extra = admin_conf()["extra"] + "\nadmin_hosts = %s;\n" % bad
    conf.write_text(gslbtest.gslbd_config(str(tmp_path), **dict(admin_conf(), extra=extra)))
    r = subprocess.run([GSLBD, "-t", "-c", str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1, r.stderr
    line = [i for i, t in enumerate(conf.read_text().splitlines(), 1) if t.startswith("admin_hosts")][0]
    assert "gslb.conf:%d:" % line in r.stderr, r.stderr
    assert "unknown setting" not in r.stderr, r.stderr


def test_require_token_covers_reads(tokend):
    srv, tf = tokend
    bearer = {"Authorization": "Bearer " + TOKEN}
    # (what-if answers 400 here: no GeoIP database; but not 401)
    for path, ok in (("/status", 200), ("/metrics", 200),
                     ("/explain?address=192.0.2.1&name=www.geo.test", 200),
                     ("/what-if?change=down%20r1", 400)):
        st, hdrs, body = request(srv, "GET", path)
        assert st == 401, (path, st, body)
        assert hdrs.get("www-authenticate", "").startswith("Bearer"), hdrs
        st, _, body = request(srv, "GET", path, {"Authorization": "Bearer wrong-0123456789abc"})
        assert st == 401, (path, st, body)
        st, _, body = request(srv, "GET", path, bearer)
        assert st == ok, (path, st, body)
    # Liveness stays open: it tells nothing.
    st, _, body = request(srv, "GET", "/healthz")
    assert st == 200, (st, body)
    # The token is enough for control; the header alone is not.
    st, _, body = request(srv, "POST", DRAIN, ADMIN_MARK)
    assert st == 401, (st, body)
    st, _, body = request(srv, "POST", DRAIN, bearer)
    assert st == 200, (st, body)
    r = ctl(srv, "status")
    assert r.returncode == 1, (r.stdout, r.stderr)
    r = ctl(srv, "-T", str(tf), "status")
    assert r.returncode == 0, r.stderr
    assert "drain" in r.stdout, r.stdout
    r = ctl(srv, "-T", str(tf), "clear", "region:r1")
    assert r.returncode == 0, r.stderr
