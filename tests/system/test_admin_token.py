"""The admin bearer token: control requests (overrides, reload) need a
loopback peer or `Authorization: Bearer <token>` from admin_token_file; with
admin_require_token they need the token from loopback too (and so do
reads), which is how these tests reach the check on a machine where only
loopback is used."""

import os
import subprocess

import pytest

import gslbtest
from gslbtest import GSLBD, ctl
from test_admin import admin_conf

TOKEN = "s3cret-token-0123456789abcdef"


def post(srv, path, token=None):
    headers = {"Authorization": "Bearer " + token} if token is not None else {}
    st, _, body = gslbtest.admin_request(srv, "POST", path, headers)
    return st, body


def get(srv, path):
    st, _, body = gslbtest.admin_request(srv, "GET", path)
    return st, body


@pytest.fixture
def tokend(gslbd_factory, tmp_path):
    tf = tmp_path / "admin.token"
    tf.write_text(TOKEN + "\n")
    os.chmod(tf, 0o600)
    conf = admin_conf()
    conf["extra"] += '\nadmin_token_file = "%s";\nadmin_require_token = true;\n' % tf
    srv = gslbd_factory(**conf)
    srv.admin_address()
    return srv, tf


def test_control_needs_the_token(tokend):
    srv, _ = tokend
    target = "/override?action=drain&target=region:r1"
    st, body = post(srv, target)
    assert st == 401, (st, body)
    st, body = post(srv, target, token="wrong-token-0123456789abcdef")
    assert st == 401, (st, body)
    st, body = post(srv, target, token=TOKEN[:-1])
    assert st == 401, (st, body)
    st, body = post(srv, target, token=TOKEN)
    assert st == 200, (st, body)
    st, body = post(srv, "/override?action=clear&target=region:r1", token=TOKEN)
    assert st == 200, (st, body)
    # Reading needs the token too (test_admin_browser.py has the details);
    # liveness does not.
    assert get(srv, "/status")[0] == 401
    assert get(srv, "/healthz")[0] == 200
    assert "no valid bearer token" in srv.stderr_text()


def test_gslbctl_token_file_and_environment(tokend):
    srv, tf = tokend
    r = ctl(srv, "drain", "region:r2")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    r = ctl(srv, "--token-file", str(tf), "drain", "region:r2")
    assert r.returncode == 0, r.stderr
    env = dict(os.environ, GSLB_ADMIN_TOKEN=TOKEN)
    r = ctl(srv, "clear", "region:r2", env=env)
    assert r.returncode == 0, r.stderr
    env = dict(os.environ, GSLB_ADMIN_TOKEN="nope-nope-nope-nope-nope")
    r = ctl(srv, "drain", "region:r2", env=env)
    assert r.returncode == 1, (r.stdout, r.stderr)


def check(tmp_path, extra):
    conf = tmp_path / "gslb.conf"
    conf.write_text(gslbtest.gslbd_config(str(tmp_path), **dict(admin_conf(), extra=admin_conf()["extra"] + extra)))
    return subprocess.run([GSLBD, "-t", "-c", str(conf)], capture_output=True, text=True,
                          timeout=30)


def test_token_file_errors(tmp_path):
    short = tmp_path / "short.token"
    short.write_text("tooshort\n")
    r = check(tmp_path, '\nadmin_token_file = "%s";\n' % short)
    assert r.returncode == 1 and "at least 16 characters" in r.stderr, r.stderr
    r = check(tmp_path, '\nadmin_token_file = "%s";\n' % (tmp_path / "missing"))
    assert r.returncode == 1 and "cannot read" in r.stderr, r.stderr
    r = check(tmp_path, "\nadmin_require_token = true;\n")
    assert r.returncode == 1 and "admin_require_token needs admin_token_file" in r.stderr, r.stderr
    loose = tmp_path / "loose.token"
    loose.write_text(TOKEN + "\n")
    os.chmod(loose, 0o644)
    r = check(tmp_path, '\nadmin_token_file = "%s";\n' % loose)
    assert r.returncode == 0, r.stderr
    assert "admin token file can be read by others" in r.stderr, r.stderr
