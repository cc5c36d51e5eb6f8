"""State files in state_dir (issue 10 item 4): gslbd writes health.state and
overrides.state through a fresh temporary file (O_CREAT|O_EXCL|O_NOFOLLOW,
mode 0640) renamed into place, reads them without following a symlink, and
refuses a state_dir that others may write to (start, -t and reload).

The daemon runs as the current user; a symlink planted where the old code
wrote its temporary file (health.state.tmp) must not be followed. The
root-only check that nothing runs before the privilege drop is in
test_service.py.
"""

import json
import os
import socket
import stat
import subprocess

import pytest

import gslbtest
from gslbtest import (GSLBD, check_conf, checked_service_conf, ctl, health_conf, member_conf,
                      wait_for)
from test_admin import ADMIN_MARK

SVC = "state.example.test"
VICTIM_TEXT = "precious: must stay as it is\n"
WAIT = 15.0 * gslbtest.SLOW


@pytest.fixture
def tcp_up():
    """A loopback port that accepts TCP connections (the kernel's backlog
    completes the handshakes a tcp check makes)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield s.getsockname()[1]
    s.close()


def state_extra(state_dir, port):
    check = check_conf("tcp", "tcp", port=port, interval=0.5, timeout=0.3, rise=1, fall=1)
    return health_conf(str(state_dir), [check],
                       [checked_service_conf(SVC, "tcp", [member_conf("127.0.0.1")])])


def victim(tmp_path, name="victim"):
    v = tmp_path / name
    v.write_text(VICTIM_TEXT)
    return v


def test_planted_symlinks_are_not_followed(gslbd_factory, tmp_path, tcp_up):
    state = tmp_path / "state"
    state.mkdir(mode=0o750)
    v1, v2 = victim(tmp_path, "victim1"), victim(tmp_path, "victim2")
    os.symlink(str(v1), str(state / "health.state.tmp"))
    os.symlink(str(v2), str(state / "overrides.state.tmp"))
    srv = gslbd_factory(workers=1, admin="127.0.0.1:0", extra=state_extra(state, tcp_up))
    health = state / "health.state"
    wait_for("health.state written",
             lambda: health.exists() and "127.0.0.1 up" in health.read_text(), WAIT, [srv])
    r = ctl(srv, "drain", "region:a")
    assert r.returncode == 0, r.stderr
    overrides = state / "overrides.state"
    wait_for("overrides.state written", lambda: overrides.exists(), WAIT, [srv])
    assert "drain region:a" in overrides.read_text()
    for v in (v1, v2):
        assert v.read_text() == VICTIM_TEXT, v
    for f in (health, overrides):
        st = os.lstat(str(f))
        assert stat.S_ISREG(st.st_mode), f
        # 0640, less what the umask takes away (run.sh sets 022)
        assert stat.S_IMODE(st.st_mode) == 0o640 & ~current_umask(), (f, oct(st.st_mode))
    # The planted links are still there, untouched; no temporary file is left.
    assert os.readlink(str(state / "health.state.tmp")) == str(v1)
    leftovers = [n for n in os.listdir(str(state)) if ".tmp." in n]
    assert leftovers == [], leftovers


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_symlinked_state_files_are_not_read(gslbd_factory, tmp_path, tcp_up):
    """A health.state that is a symlink is not read (nor is overrides.state):
    the daemon starts cold, as without them, and says why."""
    state = tmp_path / "state"
    state.mkdir(mode=0o750)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("%s a 127.0.0.1 127.0.0.1 down 1700000000 planted\n" % SVC)
    other = tmp_path / "other-overrides"
    other.write_text("drain region:a 1700000000\n")
    os.symlink(str(elsewhere), str(state / "health.state"))
    os.symlink(str(other), str(state / "overrides.state"))
    srv = gslbd_factory(workers=1, admin="127.0.0.1:0", extra=state_extra(state, tcp_up))
    text = srv.stderr_text()
    assert "state file is a symbolic link, not read file=%s" % (state / "health.state") in text
    assert "state file is a symbolic link, not read file=%s" % (state / "overrides.state") \
        in text
    assert "cold start from last-known health" not in text
    status = gslbtest.admin_json(srv, "/status", headers=ADMIN_MARK)
    assert status["overrides"] == [], status["overrides"]
    assert "planted" not in json.dumps(status)
    # The next save replaces the link with a file; the target is untouched.
    wait_for("health.state replaced", lambda: not os.path.islink(str(state / "health.state")),
             WAIT, [srv])
    assert "planted" in elsewhere.read_text()


def write_conf(tmp_path, state_dir):
    conf = tmp_path / "gslb.conf"
    conf.write_text(gslbtest.gslbd_config(str(tmp_path), extra=state_extra(state_dir, 9)))
    line = [i for i, t in enumerate(conf.read_text().splitlines(), 1)
            if t.startswith("state_dir")][0]
    return conf, line


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o757, 0o702])
def test_state_dir_writable_by_others_is_refused(tmp_path, mode):
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(str(state), mode)
    conf, line = write_conf(tmp_path, state)
    want = "gslb.conf:%d: state_dir: %s is writable by every user (mode %04o)" % (
        line, state, mode)
    r = subprocess.run([GSLBD, "-t", "-c", str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1 and want in r.stderr, r.stderr
    assert "chmod o-w" in r.stderr
    # Nor does it start.
    r = subprocess.run([GSLBD, "-c", str(conf)], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and want in r.stderr, r.stderr
    assert " ready" not in r.stderr
    # Without o+w it is fine.
    os.chmod(str(state), mode & ~0o1002)
    r = subprocess.run([GSLBD, "-t", "-c", str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give state_dir another group")
def test_state_dir_writable_by_another_group_is_refused(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(str(state), 0o770)
    other = 4242 if os.getegid() != 4242 else 4243
    os.chown(str(state), -1, other)
    conf, line = write_conf(tmp_path, state)
    r = subprocess.run([GSLBD, "-t", "-c", str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1, r.stderr
    assert "gslb.conf:%d: state_dir: %s is writable by its group (gid %d)" % (
        line, state, other) in r.stderr, r.stderr
    # Its own group may write there.
    os.chown(str(state), -1, os.getegid())
    r = subprocess.run([GSLBD, "-t", "-c", str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr


def test_reload_refuses_a_state_dir_made_writable_by_others(gslbd_factory, tmp_path, tcp_up):
    state = tmp_path / "state"
    state.mkdir(mode=0o750)
    srv = gslbd_factory(workers=1, admin="127.0.0.1:0", extra=state_extra(state, tcp_up))
    os.chmod(str(state), 0o777)
    r = ctl(srv, "reload")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "is writable by every user" in r.stderr, r.stderr
    assert "reload failed, still serving the previous state" in srv.stderr_text()
    os.chmod(str(state), 0o750)
    r = ctl(srv, "reload")
    assert r.returncode == 0, r.stderr
