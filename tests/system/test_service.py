"""Running gslbd as a service: privilege drop (user, group), the root
warning, logging (levels, -d, syslog), sd_notify readiness, reload and stop
notifications, and gslbd -t errors for unknown users and groups.

The privilege tests need root (they are skipped otherwise). Files a daemon
that dropped to "nobody" must read live in a world-readable directory under
/tmp (pytest's own temporary directories are 0700). The syslog test runs
gslbd in a private mount namespace whose /dev/log is a datagram socket the
test reads (skipped when unshare(1) cannot make one).
"""

import grp
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import dns.rcode
import pytest

import gslbtest
from gslbtest import ctl
from test_state_files import current_umask, state_extra, tcp_up  # noqa: F401 (fixture)

WAIT = 15.0
ZONE = "example.test.zone"


# ---------------------------------------------------------------- helpers

def is_root():
    return os.geteuid() == 0


def nobody():
    """(user, uid, group, gid) of the unprivileged account."""
    pw = pwd.getpwnam("nobody")
    return "nobody", pw.pw_uid, grp.getgrgid(pw.pw_gid).gr_name, pw.pw_gid


def sd_notify_built():
    out = subprocess.run([gslbtest.GSLBD, "-V"], capture_output=True, text=True).stdout
    return "sd_notify libsystemd" in out


def config(workdir, extra="", zone_dir=None, listen=("127.0.0.1:0", "[::1]:0"),
           tcp_idle=10.0, admin=None):
    """A config serving example.test from zone_dir (default: the test data);
    admin: listen.admin, None for none."""
    zone_dir = zone_dir or gslbtest.ZONEDIR
    return "\n".join([
        "# written by tests/system/test_service.py",
        'directory = "%s";' % workdir,
        "listen = { dns = [ %s ];%s };" % (", ".join('"%s"' % a for a in listen),
                                         ' admin = "%s";' % admin if admin else ""),
        "workers = 2;",
        'zones = ( { origin = "example.test"; file = "%s"; } );'
        % os.path.join(zone_dir, ZONE),
        "tcp = { idle_timeout = %.1f; };" % tcp_idle,
        extra,
    ]) + "\n"


class Daemon(gslbtest.Gslbd):
    """gslbd with extra arguments, environment and start-up hooks; ready is
    known from the log when `ready` is printed, else from DNS answers."""

    def start(self, args=(), env=None, preexec_fn=None, argv=None, expect_ready_log=True,
              timeout=gslbtest.START_TIMEOUT):
        full_env = dict(os.environ)
        full_env.update(env or {})
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        argv = argv or [gslbtest.GSLBD, "-c", self.config_path] + list(args)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err, cwd=self.workdir, env=full_env,
                                     preexec_fn=preexec_fn, start_new_session=True)
        if expect_ready_log:
            self.wait_log(r" ready workers=", timeout)
            for proto, addr, port in gslbtest.LISTEN_RE.findall(self.stderr_text()):
                self.ports["%s%d" % (proto, 6 if ":" in addr else 4)] = int(port)
        return self

    def soa(self, transport="udp4"):
        return self.query(gslbtest.make_query("example.test", "SOA"), transport)


@pytest.fixture
def daemons():
    """start(workdir, config_text, **start_kw) -> a running Daemon; every one
    is stopped at teardown and must have exited 0."""
    started = []

    def start(workdir, config_text, **kw):
        srv = Daemon(workdir, config_text=config_text)
        started.append(srv)
        try:
            return srv.start(**kw)
        except gslbtest.ServerError as e:
            srv.kill()
            pytest.fail(str(e), pytrace=False)

    yield start
    problems = []
    for srv in started:
        if srv.proc is not None:
            problems += srv.check_stopped_cleanly()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def world_dir():
    """A directory every user can read, with a copy of the test zone
    (world-readable): what a daemon running as nobody can still load."""
    d = tempfile.mkdtemp(prefix="gslb-service-")
    os.chmod(d, 0o755)
    shutil.copy(os.path.join(gslbtest.ZONEDIR, ZONE), os.path.join(d, ZONE))
    os.chmod(os.path.join(d, ZONE), 0o644)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def task_status(pid):
    """{tid: {field: value}} of /proc/PID/task/*/status, every thread."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        fields = {}
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                k, _, v = line.partition(":")
                fields[k] = v.split()
        out[tid] = fields
    return out


class NotifySocket:
    """A stand-in for systemd's NOTIFY_SOCKET: a datagram socket whose
    messages are read as lists of KEY=VALUE lines."""

    def __init__(self, path, mode=0o600):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, mode)
        self.seen = []

    def next(self, timeout=WAIT):
        """The next message as a dict, or None on timeout."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        msg = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        self.seen.append(msg)
        return msg

    def wait_for(self, key, timeout=WAIT):
        """Messages up to and including the first that sets key; fails when
        none comes in time."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.next(max(0.01, deadline - time.monotonic()))
            if msg is None:
                break
            got.append(msg)
            if key in msg:
                return got
        raise AssertionError("no %s from gslbd within %.0fs; got %r" % (key, timeout, got))

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------- privileges

@pytest.mark.skipif(not is_root(), reason="dropping privileges needs root")
def test_drops_to_user_and_group_after_binding(daemons, world_dir):
    user, uid, group, gid = nobody()
    # The notify socket is reachable by nobody, as systemd's is.
    notify = NotifySocket(os.path.join(world_dir, "notify"), mode=0o777)
    text = config(world_dir, zone_dir=world_dir,
                  extra='user = "%s";\ngroup = "%s";\nstate_dir = "state";' % (user, group))
    env = {"NOTIFY_SOCKET": notify.path} if sd_notify_built() else {}
    srv = daemons(world_dir, text, env=env)
    try:
        assert "dropped privileges user=%s uid=%d group=%s gid=%d" % (
            user, uid, group, gid) in srv.stderr_text()
        assert "running as root" not in srv.stderr_text()
        # Every thread (workers, TCP loop) runs as nobody, with only its group,
        # no capabilities and no way to gain privileges again.
        tasks = task_status(srv.proc.pid)
        assert len(tasks) >= 3, tasks.keys()
        for tid, st in tasks.items():
            assert st["Uid"] == [str(uid)] * 4, (tid, st["Uid"])
            assert st["Gid"] == [str(gid)] * 4, (tid, st["Gid"])
            assert st["Groups"] == [str(gid)], (tid, st["Groups"])
            assert st["CapEff"] == ["0000000000000000"], (tid, st["CapEff"])
            assert st["NoNewPrivs"] == ["1"], (tid, st["NoNewPrivs"])
        # state_dir was made for the user it will be written by.
        sd = os.stat(os.path.join(world_dir, "state"))
        assert (sd.st_uid, sd.st_gid) == (uid, gid)
        assert "state_dir is not writable" not in srv.stderr_text()
        if env:
            assert any(m.get("READY") == "1" for m in notify.wait_for("READY"))

        # Still answering, over both transports.
        for transport in ("udp4", "udp6", "tcp4", "tcp6"):
            r = srv.soa(transport)
            assert r is not None and r.rcode() == dns.rcode.NOERROR, transport

        # A reload as nobody re-reads the (world-readable) zone.
        zone = os.path.join(world_dir, ZONE)
        with open(zone, "a") as f:
            f.write("\nadded-after-drop 300 IN A 192.0.2.99\n")
        mark = len(srv.stderr_text())
        srv.proc.send_signal(signal.SIGHUP)
        srv.wait_log(r"reloaded what=config generation=2", start=mark)
        r = srv.udp4(gslbtest.make_query("added-after-drop.example.test", "A"))
        assert r is not None and r.rcode() == dns.rcode.NOERROR
        assert "192.0.2.99" in r.answer[0].to_text()
        if env:
            msgs = notify.wait_for("READY")
            assert "RELOADING" in msgs[0], msgs
        srv.proc.send_signal(signal.SIGTERM)
        if env:
            assert any(m.get("STOPPING") == "1" for m in notify.wait_for("STOPPING"))
        assert srv.proc.wait(WAIT) == 0, srv.stderr_text()[-3000:]
    finally:
        srv.stop()
        notify.close()


@pytest.mark.skipif(not is_root(), reason="dropping privileges needs root")
def test_nothing_runs_as_root_before_the_drop(daemons, world_dir, tcp_up):
    """Issue 10 item 4: the drop comes right after binding and reading,
    before any thread: the first probe round, every state save and every
    admin request run as the user, so the state files are the user's."""
    user, uid, group, gid = nobody()
    text = config(world_dir, zone_dir=world_dir, admin="127.0.0.1:0",
                  extra='user = "%s";\ngroup = "%s";\n%s' % (
                      user, group, state_extra("state", tcp_up)))
    srv = daemons(world_dir, text)
    log = srv.stderr_text()
    drop = log.index("dropped privileges user=%s" % user)
    for later in ("prober started", "listening proto=admin", " ready workers="):
        assert drop < log.index(later), (later, log)
    assert "threads running before the privilege drop" not in log
    for tid, st in task_status(srv.proc.pid).items():
        assert st["Uid"] == [str(uid)] * 4, (tid, st["Uid"])
        assert st["Gid"] == [str(gid)] * 4, (tid, st["Gid"])
    state = os.path.join(world_dir, "state")
    sd = os.stat(state)
    assert (sd.st_uid, sd.st_gid) == (uid, gid)
    health = os.path.join(state, "health.state")
    deadline = time.monotonic() + WAIT
    while not (os.path.exists(health) and "127.0.0.1 up" in open(health).read()):
        assert time.monotonic() < deadline, srv.stderr_text()[-3000:]
        time.sleep(0.05)
    h, port = srv.admin_address()
    r = ctl("%s:%d" % (h, port), "drain", "region:a")
    assert r.returncode == 0, r.stderr
    for name in ("health.state", "overrides.state"):
        st = os.stat(os.path.join(state, name))
        assert (st.st_uid, st.st_gid) == (uid, gid), (name, st)
        assert stat.S_IMODE(st.st_mode) == 0o640 & ~current_umask(), (name, oct(st.st_mode))


@pytest.mark.skipif(not is_root(), reason="needs root to own a state_dir nobody cannot write")
def test_state_dir_not_writable_by_user_is_a_warning(daemons, world_dir):
    user, _, group, _ = nobody()
    state = os.path.join(world_dir, "state")
    os.mkdir(state, 0o700)  # root's: the daemon must not take it over
    text = config(world_dir, zone_dir=world_dir,
                  extra='user = "%s";\ngroup = "%s";\nstate_dir = "state";' % (user, group))
    srv = daemons(world_dir, text)
    assert re.search(r"warning: state_dir is not writable, .* dir=%s " % re.escape(state),
                     srv.stderr_text()), srv.stderr_text()
    assert os.stat(state).st_uid == 0
    assert srv.soa() is not None


def test_root_warning(daemons, tmp_path):
    srv = daemons(str(tmp_path), config(str(tmp_path)))
    warned = "warning: running as root; set user and group to drop privileges" in \
        srv.stderr_text()
    assert warned == is_root(), srv.stderr_text()


@pytest.mark.skipif(not is_root(), reason="starting as another user needs root")
def test_configured_user_without_root_refuses_to_start(world_dir):
    """Started by someone else than root or the configured user, gslbd must
    not go on: the operator asked for an identity it cannot take."""
    _, uid, _, gid = nobody()
    path = os.path.join(world_dir, "gslb.conf")
    with open(path, "w") as f:
        f.write(config(world_dir, zone_dir=world_dir, extra='user = "root";'))
    os.chmod(path, 0o644)

    def become_nobody():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    p = subprocess.run([gslbtest.GSLBD, "-c", path], preexec_fn=become_nobody,
                       capture_output=True, text=True, timeout=WAIT, cwd=world_dir)
    assert p.returncode == 1, p.stderr
    assert "cannot switch to the configured user without root user=root" in p.stderr
    assert " ready" not in p.stderr


@pytest.mark.parametrize("extra, line, message", [
    ('user = "no-such-user-gslb";', 7, 'user: no such user "no-such-user-gslb"'),
    ('user = "root";\ngroup = "no-such-group-gslb";', 8,
     'group: no such group "no-such-group-gslb"'),
    ('group = "root";', 7, "group: group needs user"),
    ('user = "";', 7, "user: empty user name"),
    ("user = 0;", 7, "user: expected a string"),
])
def test_check_rejects_unknown_user_and_group(tmp_path, extra, line, message):
    path = tmp_path / "gslb.conf"
    path.write_text(config(str(tmp_path), extra=extra))
    p = subprocess.run([gslbtest.GSLBD, "-t", "-c", str(path)], capture_output=True,
                       text=True, timeout=WAIT)
    assert p.returncode == 1, p.stderr
    assert "%s:%d: %s" % (path, line, message) in p.stderr, p.stderr


def test_check_accepts_existing_user_and_group(tmp_path):
    user, _, group, _ = nobody()
    path = tmp_path / "gslb.conf"
    path.write_text(config(str(tmp_path), extra='user = "%s";\ngroup = "%s";\n'
                           'log = { level = "debug"; syslog = false; facility = "local3"; };'
                           % (user, group)))
    p = subprocess.run([gslbtest.GSLBD, "-t", "-c", str(path)], capture_output=True,
                       text=True, timeout=WAIT)
    assert p.returncode == 0, p.stderr


# ---------------------------------------------------------------- logging

@pytest.mark.parametrize("extra, message", [
    ('log = { level = "loud"; };', 'log.level: unknown level "loud"'),
    ('log = { facility = "kern"; };', 'log.facility: unknown facility "kern"'),
    ('log = { syslog = "yes"; };', "log.syslog: expected true or false"),
    ('log = { colour = true; };', "log.colour: unknown setting"),
    ('log = "info";', "log: expected a group"),
])
def test_check_rejects_bad_log_settings(tmp_path, extra, message):
    path = tmp_path / "gslb.conf"
    path.write_text(config(str(tmp_path), extra=extra))
    p = subprocess.run([gslbtest.GSLBD, "-t", "-c", str(path)], capture_output=True,
                       text=True, timeout=WAIT)
    assert p.returncode == 1, p.stderr
    assert "%s:7: %s" % (path, message) in p.stderr, p.stderr


def wait_answering(srv, timeout=WAIT):
    """Wait until the daemon answers the SOA (its log may not say so)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not srv.alive():
            raise AssertionError("gslbd exited:\n" + srv.stderr_text()[-3000:])
        r = srv.query(gslbtest.make_query("example.test", "SOA"), "udp4", timeout=0.3)
        if r is not None:
            return
        time.sleep(0.05)
    raise AssertionError("gslbd did not answer:\n" + srv.stderr_text()[-3000:])


def start_quiet(daemons, workdir, extra, args=(), env=None):
    """Start a daemon whose log may not say `ready` or where it listens:
    find a free port first (retrying when another process takes it)."""
    last = None
    for _ in range(5):
        port = gslbtest.free_port()
        srv = daemons(workdir, config(workdir, extra=extra, listen=("127.0.0.1:%d" % port,)),
                      args=args, env=env, expect_ready_log=False)
        srv.ports = {"udp4": port, "tcp4": port}
        try:
            wait_answering(srv)
            return srv
        except AssertionError as e:
            last = e
            srv.stop()
    raise last


def test_log_level_warning_hides_info(daemons, tmp_path):
    workdir = str(tmp_path)
    srv = start_quiet(daemons, workdir, 'log = { level = "warning"; };')
    text = srv.stderr_text()
    # Only what was logged before the config was read is at info.
    info = [l for l in text.splitlines() if " info: " in l]
    assert all(" info: starting " in l for l in info), text
    assert " ready" not in text
    # Errors still show: a broken config on reload.
    with open(srv.config_path, "a") as f:
        f.write("this is not a setting\n")
    srv.proc.send_signal(signal.SIGHUP)
    srv.wait_log(r"error: reload failed, still serving the previous state")
    assert "reloading signal=SIGHUP" not in srv.stderr_text()


def test_log_level_applies_on_reload(daemons, tmp_path):
    workdir = str(tmp_path)
    srv = daemons(workdir, config(workdir, extra='log = { level = "info"; };'))
    text = config(workdir, extra='log = { level = "error"; };')
    with open(srv.config_path, "w") as f:
        f.write(text)
    srv.proc.send_signal(signal.SIGHUP)
    srv.wait_log(r"info: reloaded what=config generation=2")
    # From now on info is not printed: the next reload leaves no trace.
    mark = len(srv.stderr_text())
    srv.proc.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    assert srv.soa() is not None
    assert srv.stderr_text()[mark:] == "", srv.stderr_text()[mark:]


def test_debug_option_beats_config_level(daemons, tmp_path):
    workdir = str(tmp_path)
    extra = 'log = { level = "error"; };'
    srv = daemons(workdir, config(workdir, extra=extra, tcp_idle=0.3), args=["-d"])
    # info is shown (the start wait saw "ready"), and so is debug:
    with gslbtest.tcp_connect(4, srv.port("tcp4")):
        srv.wait_log(r"debug: tcp connection idle, closing")


def test_config_debug_level(daemons, tmp_path):
    workdir = str(tmp_path)
    srv = daemons(workdir, config(workdir, extra='log = { level = "debug"; };', tcp_idle=0.3))
    with gslbtest.tcp_connect(4, srv.port("tcp4")):
        srv.wait_log(r"debug: tcp connection idle, closing")


def test_syslog_makes_stderr_quiet(daemons, tmp_path):
    workdir = str(tmp_path)
    srv = start_quiet(daemons, workdir, 'log = { syslog = true; };')
    text = srv.stderr_text()
    lines = text.splitlines()
    assert len(lines) == 1 and " info: starting " in lines[0], text


SYSLOG_NS = r'''
set -e
mount --make-rprivate /
for d in null zero random urandom full; do mount --bind "/dev/$d" "$1/$d"; done
mount --rbind "$1" /dev
shift
exec "$@"
'''


def unshare_works(devdir):
    if not is_root() or shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    p = subprocess.run(["unshare", "-m", "sh", "-c", SYSLOG_NS, "sh", devdir, "true"],
                       capture_output=True, timeout=WAIT)
    return p.returncode == 0


@pytest.fixture
def syslog_dev():
    """A directory laid out as /dev with `log` a datagram socket the test
    reads; yields (devdir, socket)."""
    devdir = tempfile.mkdtemp(prefix="gslb-dev-")
    os.chmod(devdir, 0o755)
    for d in ("null", "zero", "random", "urandom", "full"):
        open(os.path.join(devdir, d), "w").close()
    if not unshare_works(devdir):
        shutil.rmtree(devdir, ignore_errors=True)
        pytest.skip("no private mount namespace (needs root and unshare -m) for a "
                    "test /dev/log")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(os.path.join(devdir, "log"))
    os.chmod(os.path.join(devdir, "log"), 0o666)
    yield devdir, s
    s.close()
    shutil.rmtree(devdir, ignore_errors=True)


def test_syslog_output(tmp_path, syslog_dev):
    """gslbd in a mount namespace whose /dev/log is ours: lines arrive with
    the facility's priority, gslbd's name and pid, and the same
    `message key=value` text, without gslbd's own timestamp."""
    devdir, sock = syslog_dev
    workdir = str(tmp_path)
    srv = Daemon(workdir, config_text=config(
        workdir, extra='log = { level = "info"; syslog = true; facility = "local3"; };'))
    argv = ["unshare", "-m", "sh", "-c", SYSLOG_NS, "sh", devdir,
            gslbtest.GSLBD, "-c", srv.config_path]
    srv.start(argv=argv, expect_ready_log=False)
    msgs = []
    try:
        deadline = time.monotonic() + WAIT
        while not any(" ready " in m for m in msgs):
            left = deadline - time.monotonic()
            assert left > 0 and srv.alive(), (msgs, srv.stderr_text())
            sock.settimeout(left)
            msgs.append(sock.recv(8192).decode())
        ports = {}
        for m in msgs:
            for proto, addr, port in gslbtest.LISTEN_RE.findall(m):
                ports["%s%d" % (proto, 6 if ":" in addr else 4)] = int(port)
        srv.ports = ports
        assert srv.soa() is not None
        srv.proc.send_signal(signal.SIGHUP)
        while not any("reloaded what=config" in m for m in msgs):
            sock.settimeout(WAIT)
            msgs.append(sock.recv(8192).decode())
    finally:
        rc = srv.stop()
    assert rc == 0, srv.stderr_text()
    # <PRI>: local3 (19) * 8 + info (6) = 158; warnings (root) 156.
    pid = srv.proc.pid
    ready = [m for m in msgs if re.search(r"gslbd\[%d\]: ready workers=2 zones=1$" % pid, m)]
    assert ready and ready[0].startswith("<158>"), msgs
    assert not any(re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", m) for m in msgs), msgs
    assert any(m.startswith("<158>") and "reloading signal=SIGHUP" in m for m in msgs), msgs
    if is_root():
        assert any(m.startswith("<156>") and "running as root" in m for m in msgs), msgs
    # stderr only has what came before the config was read.
    assert [l for l in srv.stderr_text().splitlines() if " ready" in l] == []


def test_journal_stream_format(daemons, tmp_path):
    """When stderr is the systemd journal (JOURNAL_STREAM names it), lines
    carry the level as <N> and no timestamp: the journal adds both."""
    workdir = str(tmp_path)
    srv = Daemon(workdir, config_text=config(workdir))
    # stderr will be srv.stderr_path: name that file as the journal stream.
    open(srv.stderr_path, "wb").close()
    st = os.stat(srv.stderr_path)
    srv.start(env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)}, expect_ready_log=False)
    try:
        srv.wait_log(r"(?m)^<6>ready workers=2 zones=1$")
        text = srv.stderr_text()
        assert "<6>listening proto=udp address=127.0.0.1 port=" in text
        if is_root():
            assert "<4>running as root; set user and group to drop privileges" in text
    finally:
        assert srv.stop() == 0


# ---------------------------------------------------------------- sd_notify

@pytest.mark.skipif(not sd_notify_built(), reason="gslbd built without libsystemd")
def test_sd_notify_ready_reload_stop(daemons, tmp_path):
    workdir = str(tmp_path)
    notify = NotifySocket(str(tmp_path / "notify"))
    try:
        srv = daemons(workdir, config(workdir), env={"NOTIFY_SOCKET": notify.path})
        msgs = notify.wait_for("READY")
        assert msgs[-1]["READY"] == "1"
        assert "RELOADING" not in msgs[0] and "STOPPING" not in msgs[0]

        # A good reload: RELOADING=1 (with the time it began), then READY=1.
        srv.proc.send_signal(signal.SIGHUP)
        msgs = notify.wait_for("READY")
        assert msgs[0].get("RELOADING") == "1", msgs
        assert int(msgs[0]["MONOTONIC_USEC"]) > 0
        assert any(m.get("STATUS", "").startswith("serving generation 2") for m in msgs), msgs

        # A refused reload ends the same way, with the reason in STATUS.
        with open(srv.config_path, "a") as f:
            f.write("no_such_key = 1;\n")
        srv.proc.send_signal(signal.SIGHUP)
        msgs = notify.wait_for("READY")
        assert msgs[0].get("RELOADING") == "1", msgs
        status = [m["STATUS"] for m in msgs if "STATUS" in m]
        assert status and "reload failed" in status[-1] and "unknown setting" in status[-1], \
            msgs
        assert srv.soa() is not None

        srv.proc.send_signal(signal.SIGTERM)
        msgs = notify.wait_for("STOPPING")
        assert msgs[-1]["STOPPING"] == "1"
        assert srv.proc.wait(WAIT) == 0
    finally:
        notify.close()


def test_no_notify_socket_no_harm(daemons, tmp_path):
    """Without NOTIFY_SOCKET (or with one nobody listens on) notifications
    are no-ops: the daemon starts, reloads and stops as usual."""
    workdir = str(tmp_path)
    srv = daemons(workdir, config(workdir),
                  env={"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    srv.proc.send_signal(signal.SIGHUP)
    srv.wait_log(r"reloaded what=config generation=2")
    assert srv.soa() is not None
