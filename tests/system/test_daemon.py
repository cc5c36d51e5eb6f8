"""The gslbd command line: --help, --version, -t on good and bad configs and
zones (tests/data/badzones, tests/data/badconf), clean stop on SIGTERM and
SIGINT, refusal to start with a bad zone."""

import os
import re
import signal
import subprocess

import pytest

import gslbtest
from gslbtest import DATADIR, make_query, no_sanitizer_report, run_gslbd

BADZONES = os.path.join(DATADIR, "badzones")
BADCONF = os.path.join(DATADIR, "badconf")


def headers(path, marker):
    """'<marker> key: value' lines at the top of a data file."""
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^\s*%s\s*([a-z-]+):\s*(.*?)\s*$" % re.escape(marker), line)
            if m:
                out[m.group(1)] = m.group(2)
    return out


def check_error(stderr, file_path, lines, reason):
    """stderr names file_path:LINE: with LINE in lines (None = any) and
    matches reason somewhere in that message."""
    base = re.escape(file_path)
    pat = re.compile(r"(?:^|\s|')%s:(\d+):\s*(.*)$" % base, re.M)
    found = pat.findall(stderr)
    assert found, "no '%s:LINE: reason' in stderr:\n%s" % (file_path, stderr)
    ok_line = [(ln, msg) for ln, msg in found if lines is None or int(ln) in lines]
    assert ok_line, "error names line(s) %s, expected one of %s:\n%s" % (
        [ln for ln, _ in found], sorted(lines), stderr)
    assert any(re.search(reason, msg, re.I) or re.search(reason, stderr, re.I)
               for _, msg in ok_line), "message does not match /%s/:\n%s" % (reason, stderr)


def parse_lines(spec):
    if spec.strip() == "any":
        return None
    return {int(x) for x in spec.split()}


def test_help():
    r = run_gslbd(["--help"])
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert "-c" in out and "-t" in out, out


def test_version():
    r = run_gslbd(["--version"])
    assert r.returncode == 0, r.stderr
    assert re.search(r"\d+\.\d+", r.stdout + r.stderr), r.stdout + r.stderr


def test_unknown_option_fails():
    r = run_gslbd(["--no-such-option"])
    assert r.returncode != 0


def test_check_good_config(tmp_path):
    conf = tmp_path / "gslb.conf"
    conf.write_text(gslbtest.gslbd_config(str(tmp_path)))
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 0, "gslbd -t on the test config failed:\n%s" % r.stderr


def test_check_demo_config():
    conf = os.path.join(gslbtest.SRCDIR, "etc", "gslb.conf")
    if not os.path.exists(conf):
        pytest.skip("no etc/gslb.conf")
    r = run_gslbd(["-t", "-c", conf])
    assert r.returncode == 0, r.stderr


def test_check_missing_config_file(tmp_path):
    missing = str(tmp_path / "nope.conf")
    r = run_gslbd(["-t", "-c", missing])
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "nope.conf" in r.stderr


BAD_ZONE_FILES = sorted(f for f in os.listdir(BADZONES) if f.endswith(".zone"))


def test_bad_zone_data_present():
    assert len(BAD_ZONE_FILES) >= 8


@pytest.mark.parametrize("fname", BAD_ZONE_FILES)
def test_check_bad_zone(tmp_path, fname):
    path = os.path.join(BADZONES, fname)
    h = headers(path, ";")
    conf = tmp_path / "gslb.conf"
    conf.write_text(gslbtest.gslbd_config(str(tmp_path), zones=[
        ("example.test", "example.test.zone"), (h["origin"], os.path.join("..", "badzones", fname))]))
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, "gslbd -t exit %d for %s (expected 1):\n%s" % (
        r.returncode, fname, r.stderr)
    # the config gives the zone file as ZONEDIR/../badzones/x.zone: accept the
    # message naming it either way
    names = [os.path.join(gslbtest.ZONEDIR, "..", "badzones", fname), path]
    errors = []
    for n in names:
        try:
            check_error(r.stderr, n, parse_lines(h["error-line"]), h["reason"])
            break
        except AssertionError as e:
            errors.append(str(e))
    else:
        pytest.fail("\n".join(errors[-1:]), pytrace=False)


@pytest.mark.parametrize("fname", ["no-soa.zone", "cname-and-other.zone", "outside-zone.zone"])
def test_refuses_to_start_with_bad_zone(tmp_path, fname):
    path = os.path.join(BADZONES, fname)
    h = headers(path, ";")
    conf = tmp_path / "gslb.conf"
    conf.write_text(gslbtest.gslbd_config(str(tmp_path), zones=[
        ("example.test", "example.test.zone"), (h["origin"], os.path.join("..", "badzones", fname))]))
    try:
        r = run_gslbd(["-c", str(conf)], timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail("gslbd started (still running after 15 s) with a bad zone", pytrace=False)
    assert r.returncode != 0
    assert " ready" not in r.stderr
    assert fname in r.stderr


BAD_CONF_FILES = sorted(f for f in os.listdir(BADCONF) if f.endswith(".conf"))


def test_bad_conf_data_present():
    assert len(BAD_CONF_FILES) >= 8


@pytest.mark.parametrize("fname", BAD_CONF_FILES)
def test_check_bad_config(tmp_path, fname):
    src = os.path.join(BADCONF, fname)
    h = headers(src, "#")
    with open(src) as f:
        text = f.read().replace("@DATADIR@", DATADIR)
    conf = tmp_path / "gslb.conf"
    conf.write_text(text)
    r = run_gslbd(["-t", "-c", str(conf)])
    assert r.returncode == 1, "gslbd -t exit %d for %s (expected 1):\n%s" % (
        r.returncode, fname, r.stderr)
    if h.get("error-file", "conf") == "conf":
        check_error(r.stderr, str(conf), parse_lines(h["error-line"]), h["reason"])
    else:
        zone = re.search(r'"(badzones/[^"]+)"', text).group(1)
        check_error(r.stderr, os.path.join(DATADIR, zone), parse_lines(h["error-line"]),
                    h["reason"])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(tmp_path, sig):
    srv = gslbtest.Gslbd(str(tmp_path))
    try:
        srv.start()
        for t in ("udp4", "udp6", "tcp4", "tcp6"):
            r = srv.query(make_query("www.example.test", "A"), t)
            assert r is not None and len(r.answer) == 1, t
        # an open idle TCP connection must not hold up the stop
        held = gslbtest.tcp_connect(4, srv.port("tcp4"))
        srv.proc.send_signal(sig)
        try:
            rc = srv.proc.wait(10)
        except subprocess.TimeoutExpired:
            pytest.fail("gslbd still running 10 s after %s" % sig.name, pytrace=False)
        held.close()
        assert rc == 0, "exit %s after %s:\n%s" % (rc, sig.name, srv.stderr_text())
        no_sanitizer_report(srv.stderr_text())
    finally:
        srv.kill()
        srv.stop()


def test_listen_port_reported_and_shared(gslbd):
    """UDP and TCP of one listen address share the ephemeral port."""
    assert gslbd.ports["udp4"] == gslbd.ports["tcp4"]
    assert gslbd.ports["udp6"] == gslbd.ports["tcp6"]
