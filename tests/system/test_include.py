"""@include: per-region pool files (docs/configuration.md, @include) and what a bad
@include does.

- A config whose pools live in @included files (one per region, in a
  pools/ folder next to gslb.conf, one of them nested a level deeper) loads
  with `gslbd -t` and serves: a client in each region gets that region's
  members from its file.
- A mistake inside an included file is reported with the included file's
  name and line.
- libconfig 1.5 ends the whole process (flex's fatal error, exit 2) when an
  @include names something that opens but cannot be read: a folder, "" (the
  include folder itself), a name cut short by a NUL byte. gslbd checks every
  @include before libconfig reads the file, so each of these is an ordinary
  `FILE:LINE: reason` error with exit 1 (found by tests/fuzz/fuzz_config,
  docs/fuzzing.md finding 2), and a SIGHUP reload of such a config keeps
  the running daemon and its answers.
"""

import os
import signal
import subprocess
import time

import dns.edns
import dns.rdatatype
import pytest

import gslbtest
from gslbtest import GSLBD, make_query, run_gslbd

SVC = "incl.example.test"


def check(conf):
    """gslbd -t -c conf, finished."""
    return run_gslbd(["-t", "-c", str(conf)])


def site(d, pools_block):
    """Writes d/pools/{a,b}.conf and d/pools/nested/b-extra.conf and
    returns the text of d/gslb.conf with pools_block as the service's
    pools list."""
    os.makedirs(d / "pools" / "nested", exist_ok=True)
    (d / "pools" / "a.conf").write_text(
        '# region a\n{ region = "a";\n  members = [ "198.51.100.1", "198.51.100.2" ];\n}\n')
    (d / "pools" / "b.conf").write_text(
        '# region b\n{ region = "b";\n  members = [\n'
        '@include "pools/nested/b-extra.conf"\n  ];\n}\n')
    (d / "pools" / "nested" / "b-extra.conf").write_text('"203.0.113.7"\n')
    (d / "overrides.nets").write_text("10.0.0.0/8  a\n11.0.0.0/8  b\n")
    extra = """geoip = { overrides = "%s"; };
regions = (
  { name = "a"; lat = 10.0; lon = 10.0; },
  { name = "b"; lat = -20.0; lon = 120.0; }
);
services = (
  { name = "%s"; ttl = 30; answers = 8;
    pools = (
%s
    ); }
);
""" % (d / "overrides.nets", SVC, pools_block)
    return gslbtest.gslbd_config(str(d), extra=extra)


GOOD_POOLS = '@include "pools/a.conf"\n,\n@include "pools/b.conf"'


def a_for(srv, subnet):
    q = make_query(SVC, "A", edns=0,
                   options=[dns.edns.ECSOption(subnet.split("/")[0], int(subnet.split("/")[1]))])
    r = srv.udp4(q)
    return sorted(rd.address for rrset in r.answer for rd in rrset
                  if rrset.rdtype == dns.rdatatype.A)


def test_pools_from_included_files(tmp_path, gslbd_factory):
    text = site(tmp_path, GOOD_POOLS)
    conf = tmp_path / "gslb.conf"
    conf.write_text(text)
    r = check(conf)
    assert r.returncode == 0, r.stderr
    srv = gslbd_factory(workdir=tmp_path, config_text=text)
    assert a_for(srv, "10.1.0.0/24") == ["198.51.100.1", "198.51.100.2"]
    assert a_for(srv, "11.1.0.0/24") == ["203.0.113.7"]


def test_include_is_relative_to_the_config_folder(tmp_path):
    """Not to the working folder: -t from another folder finds pools/."""
    conf = tmp_path / "gslb.conf"
    conf.write_text(site(tmp_path, GOOD_POOLS))
    r = subprocess.run([GSLBD, "-t", "-c", str(conf)], cwd="/", stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_error_inside_an_included_file_names_it(tmp_path):
    conf = tmp_path / "gslb.conf"
    conf.write_text(site(tmp_path, GOOD_POOLS))
    (tmp_path / "pools" / "a.conf").write_text(
        '# region a\n{ region = "a";\n  members = [ "198.51.100.1" ]\n  weight = ;\n}\n')
    r = check(conf)
    err = r.stderr
    assert r.returncode == 1, err
    assert "%s:4:" % (tmp_path / "pools" / "a.conf") in err, err


def test_unknown_region_inside_an_included_file(tmp_path):
    conf = tmp_path / "gslb.conf"
    conf.write_text(site(tmp_path, GOOD_POOLS))
    (tmp_path / "pools" / "a.conf").write_text(
        '# region a\n{ region = "nowhere";\n  members = [ "198.51.100.1" ];\n}\n')
    r = check(conf)
    err = r.stderr
    assert r.returncode == 1, err
    assert "nowhere" in err and ":2:" in err, err


# (what replaces the second @include line, bytes, what the message says)
BAD = [
    ("folder", b'@include "pools"', "not a regular file"),
    ("folder-slash", b'@include "pools/"', "not a regular file"),
    ("dot", b'@include "."', "not a regular file"),
    ("empty-name", b'@include ""', "empty file name"),
    ("absolute-folder", b'@include "/"', "not a regular file"),
    ("nul-in-name", b'@include "\x00"', "NUL byte"),
    ("nul-then-text", b'@include ".\x00pools/b.conf"', "NUL byte"),
    ("unknown-escape", b'@include "pools\\/b.conf"', "backslash"),
    ("long-line", b" " * 3000 + b'@include "' + b"./" * 600 + b'."', "not a regular file"),
    ("tab-separated", b'\t@include\t"pools"', "not a regular file"),
    ("device", b'@include "/dev/null"', "not a regular file"),
]


@pytest.mark.parametrize("label,line,reason", BAD, ids=[b[0] for b in BAD])
def test_bad_include_is_a_clean_error(tmp_path, label, line, reason):
    text = site(tmp_path, GOOD_POOLS).encode()
    text = text.replace(b'@include "pools/b.conf"', line)
    conf = tmp_path / "gslb.conf"
    conf.write_bytes(text)
    lineno = text[:text.index(line)].count(b"\n") + 1
    r = check(conf)
    err = r.stderr
    assert r.returncode == 1, "exit %d (libconfig's exit is 2):\n%s" % (r.returncode, err)
    assert "flex scanner" not in err, err
    assert "%s:%d:" % (conf, lineno) in err, err
    assert reason in err, err
    assert r.stdout == "", r.stdout


def test_bad_include_in_a_nested_file_names_that_file(tmp_path):
    conf = tmp_path / "gslb.conf"
    conf.write_text(site(tmp_path, GOOD_POOLS))
    (tmp_path / "pools" / "b.conf").write_text(
        '# region b\n{ region = "b";\n  members = [\n@include "pools/nested"\n  ];\n}\n')
    r = check(conf)
    err = r.stderr
    assert r.returncode == 1, err
    assert "%s:4:" % (tmp_path / "pools" / "b.conf") in err, err
    assert "not a regular file" in err, err


def test_nul_byte_in_an_included_file(tmp_path):
    conf = tmp_path / "gslb.conf"
    conf.write_text(site(tmp_path, GOOD_POOLS))
    (tmp_path / "pools" / "a.conf").write_bytes(
        b'# region a\n{ region = "a";\n  members = [ "198.51.100.1\x00" ];\n}\n')
    r = check(conf)
    err = r.stderr
    assert r.returncode == 1, err
    assert "%s:3:" % (tmp_path / "pools" / "a.conf") in err and "NUL byte" in err, err


def test_include_loop_is_refused(tmp_path):
    conf = tmp_path / "gslb.conf"
    conf.write_text(site(tmp_path, GOOD_POOLS))
    (tmp_path / "pools" / "nested" / "b-extra.conf").write_text(
        '"203.0.113.7",\n@include "pools/nested/b-extra.conf"\n')
    r = check(conf)
    err = r.stderr
    assert r.returncode == 1, err
    assert "nested more than 10 levels" in err, err


def test_include_inside_a_comment_is_checked_too(tmp_path):
    """The check errs on the safe side: a commented-out @include of a
    folder is refused (libconfig would skip it), never the other way round."""
    text = site(tmp_path, GOOD_POOLS) + '/*\n@include "pools"\n*/\n'
    conf = tmp_path / "gslb.conf"
    conf.write_text(text)
    r = check(conf)
    assert r.returncode == 1
    # a commented-out @include of a file is harmless
    conf.write_text(site(tmp_path, GOOD_POOLS) + '/*\n@include "pools/a.conf"\n*/\n')
    r = check(conf)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("line", [b'@include "."', b'@include "\x00"', b'@include ""'],
                         ids=["dot", "nul", "empty"])
def test_reload_with_a_bad_include_keeps_serving(tmp_path, gslbd_factory, line):
    text = site(tmp_path, GOOD_POOLS)
    srv = gslbd_factory(workdir=tmp_path, config_text=text)
    assert a_for(srv, "11.1.0.0/24") == ["203.0.113.7"]
    bad = text.encode().replace(b'@include "pools/b.conf"', line)
    with open(srv.config_path, "wb") as f:
        f.write(bad)
    failed0 = srv.stderr_text().count("reload failed")
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 60
    while srv.stderr_text().count("reload failed") == failed0:
        assert srv.alive(), "gslbd ended on the reload:\n%s" % srv.stderr_text()[-3000:]
        assert time.monotonic() < deadline, srv.stderr_text()[-3000:]
        time.sleep(0.02)
    assert srv.alive()
    assert a_for(srv, "11.1.0.0/24") == ["203.0.113.7"]
    assert a_for(srv, "10.1.0.0/24") == ["198.51.100.1", "198.51.100.2"]
