"""Helpers shared by the system tests: start gslbd, NSD and Knot on free
loopback ports, send DNS messages over UDP and TCP (v4 and v6), and turn
responses into comparable, readable values.

Only 127.0.0.1 and ::1 are used. Ports are never fixed: gslbd picks its own
(listen "127.0.0.1:0") and reports them on stderr; for NSD and Knot a port is
found by binding port 0, closing, and retrying the start if it was taken.
"""

import base64
import http.client
import http.server
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time

import pytest

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

SRCDIR = os.path.abspath(
    os.environ.get("GSLB_SRCDIR")
    or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILDDIR = os.path.abspath(os.environ.get("GSLB_BUILDDIR") or SRCDIR)
GSLBD = os.environ.get("GSLBD") or os.path.join(BUILDDIR, "gslbd")
GSLBCTL = os.environ.get("GSLBCTL") or os.path.join(BUILDDIR, "gslbctl")
DATADIR = os.path.join(SRCDIR, "tests", "data")
ZONEDIR = os.path.join(DATADIR, "zones")

# The zones every server in the tests serves (origin, file name in ZONEDIR).
TEST_ZONES = [
    ("example.test", "example.test.zone"),
    ("child.example.test", "child.example.test.zone"),
]

# What the default test configuration announces.
NSID = b"gslb-test-ns"
IDENTITY = "ns1.gslb.test"
VERSION = "gslb-test-version"
EDNS_SIZE = 1232

ADDR = {4: "127.0.0.1", 6: "::1"}
FAMILY = {4: socket.AF_INET, 6: socket.AF_INET6}

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "WARNING: ThreadSanitizer",
    "ERROR: MemorySanitizer",
)

# `make check-valgrind` sets GSLBD to tests/valgrind-gslbd.sh, which runs the
# daemon under valgrind memcheck and writes one log per process into
# GSLB_VALGRIND_LOGDIR (gslbd.PID.*.vg); check_stopped_cleanly() reads it.
VALGRIND = (os.environ.get("GSLB_VALGRIND", "") not in ("", "0")
            or os.path.basename(GSLBD).startswith("valgrind-"))
VALGRIND_LOGDIR = os.environ.get("GSLB_VALGRIND_LOGDIR", "")
# Deadlines of the helpers (start, stop) are multiplied by SLOW: valgrind
# runs the daemon 20-50 times slower. Tests may use it for their own waits.
SLOW = float(os.environ.get("GSLB_TEST_SLOW") or (5 if VALGRIND else 1))

START_TIMEOUT = float(os.environ.get("GSLB_TEST_START_TIMEOUT") or 20 * SLOW)
# Deadline of the waits below that state no bound of their own.
WAIT = 20.0 * SLOW

# What memcheck prints for an error (the first line of each report); the
# "ERROR SUMMARY" line counts them, leaks of the kinds the wrapper names
# (definite, indirect) included. A process killed with SIGKILL writes no
# summary, so its reports are looked for one by one.
VALGRIND_SUMMARY_RE = re.compile(r"^==\d+== ERROR SUMMARY: (\d+) errors", re.M)
VALGRIND_REPORT_RE = re.compile(
    r"^==\d+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised"
    r"|Syscall param|Mismatched free|Source and destination overlap|Argument .* fishy"
    r"|.* are (definitely|indirectly) lost in loss record|Process terminating)", re.M)


def valgrind_log_problems(text):
    """None when a valgrind log shows no error, else a short description."""
    sums = [int(n) for n in VALGRIND_SUMMARY_RE.findall(text)]
    if sums:
        return "ERROR SUMMARY: %d errors" % sum(sums) if any(sums) else None
    m = VALGRIND_REPORT_RE.search(text)
    return m.group(0) if m else None


def valgrind_logs(pid=None):
    """Paths of the valgrind logs in GSLB_VALGRIND_LOGDIR (of one pid)."""
    if not VALGRIND_LOGDIR or not os.path.isdir(VALGRIND_LOGDIR):
        return []
    want = "gslbd.%d." % pid if pid is not None else "gslbd."
    return sorted(os.path.join(VALGRIND_LOGDIR, n) for n in os.listdir(VALGRIND_LOGDIR)
                  if n.startswith(want) and n.endswith(".vg"))


def valgrind_problems(pid):
    """Problems in the valgrind log(s) of process pid, each with the log."""
    out = []
    for path in valgrind_logs(pid):
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        what = valgrind_log_problems(text)
        if what:
            out.append("valgrind: %s in %s:\n%s" % (what, path, text[-20000:]))
    return out


class ServerError(Exception):
    pass


# ---------------------------------------------------------------- transport

def udp_exchange(wire, family, port, timeout=2.0):
    """Send one datagram, return the reply bytes or None on timeout."""
    with socket.socket(FAMILY[family], socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect((ADDR[family], port))
        s.send(wire)
        want_id = wire[:2]
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                data = s.recv(65535)
            except socket.timeout:
                return None
            except ConnectionRefusedError:
                return None
            # ignore stray datagrams that do not answer this query
            if len(wire) < 2 or data[:2] == want_id:
                return data


def recv_exact(s, n, deadline):
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        s.settimeout(left)
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def tcp_connect(family, port, timeout=2.0):
    s = socket.socket(FAMILY[family], socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((ADDR[family], port))
    return s


def tcp_send(s, wire):
    s.sendall(struct.pack("!H", len(wire)) + wire)


def tcp_recv(s, timeout=2.0):
    """One length-prefixed message; raises EOFError when the peer closed."""
    deadline = time.monotonic() + timeout
    (n,) = struct.unpack("!H", recv_exact(s, 2, deadline))
    return recv_exact(s, n, deadline)


def tcp_exchange(wire, family, port, timeout=2.0):
    """One query on a fresh connection. Returns the reply or None when the
    server closed the connection or did not answer in time."""
    try:
        with tcp_connect(family, port, timeout) as s:
            tcp_send(s, wire)
            return tcp_recv(s, timeout)
    except (EOFError, socket.timeout, ConnectionResetError, BrokenPipeError):
        return None


def tcp_closed_by_peer(s, timeout):
    """True when the peer closes (EOF or reset) within timeout, False when
    the connection is still open and silent."""
    r, _, _ = select.select([s], [], [], timeout)
    if not r:
        return False
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, OSError):
        return True


def exchange(wire, transport, port, timeout=2.0):
    """transport is one of udp4 udp6 tcp4 tcp6."""
    family = int(transport[-1])
    if transport.startswith("udp"):
        return udp_exchange(wire, family, port, timeout)
    return tcp_exchange(wire, family, port, timeout)


# ---------------------------------------------------------------- messages

def make_query(qname, qtype="A", qclass="IN", rd=False, edns=None, payload=EDNS_SIZE,
               ednsflags=0, options=(), opcode=None, qid=None):
    """edns: None for no OPT, else the EDNS version."""
    q = dns.message.make_query(qname, qtype, qclass)
    q.flags = 0
    if rd:
        q.flags |= dns.flags.RD
    if opcode is not None:
        q.set_opcode(dns.opcode.from_text(opcode) if isinstance(opcode, str) else opcode)
    if edns is not None:
        q.use_edns(edns=edns, ednsflags=ednsflags, payload=payload, options=list(options))
    if qid is not None:
        q.id = qid
    return q


def parse(wire):
    return dns.message.from_wire(wire)


def rr_lines(section):
    """A section as a set of normalised RR text lines (owner lower-cased,
    TTL kept)."""
    out = set()
    for rrset in section:
        if rrset.rdtype == dns.rdatatype.OPT:
            continue
        owner = rrset.name.to_text().lower()
        for rd in rrset:
            out.add("%s %d %s %s %s" % (owner, rrset.ttl,
                                        dns.rdataclass.to_text(rrset.rdclass),
                                        dns.rdatatype.to_text(rrset.rdtype), canonical_rdata(rd)))
    return frozenset(out)


def canonical_rdata(rd):
    """RDATA text with the names lower-cased where RFC 4034 6.2 allows it
    (servers may copy the question's case into compressed names)."""
    try:
        wire = rd.to_digestable(dns.name.root)
        return dns.rdata.from_wire(rd.rdclass, rd.rdtype, wire, 0, len(wire)).to_text()
    except Exception:  # noqa: BLE001 - keep the plain text when in doubt
        return rd.to_text()


def parse_lenient(wire):
    """Parse a reply whose opcode dnspython may not know (3, 6...): returns
    (message, opcode number from the header)."""
    opcode = (wire[2] >> 3) & 0x0F if len(wire) > 2 else 0
    try:
        return dns.message.from_wire(wire), opcode
    except ValueError:
        if len(wire) < 12:
            raise
        fixed = bytearray(wire)
        fixed[2] &= 0x87  # opcode bits to QUERY
        return dns.message.from_wire(bytes(fixed)), opcode


def norm_rr_text(line, origin=None):
    """Parse 'owner ttl class type rdata...' and give it back in the form
    rr_lines() produces."""
    parts = line.split(None, 4)
    if len(parts) < 5:
        raise ValueError("RR line needs owner ttl class type rdata: %r" % line)
    owner, ttl, rdclass, rdtype, rdata = parts
    rrset = dns.rrset.from_text(dns.name.from_text(owner, origin), int(ttl), rdclass,
                                rdtype, rdata)
    return next(iter(rr_lines([rrset])))


FLAG_NAMES = ("qr", "aa", "tc", "rd", "ra", "ad", "cd")


def flag_set(msg):
    return frozenset(f for f in FLAG_NAMES if msg.flags & dns.flags.from_text(f.upper()))


def rcode_text(msg):
    return dns.rcode.to_text(msg.rcode())


def edns_summary(msg):
    """None without OPT, else (version, payload, {option code: bytes})."""
    if msg.edns < 0:
        return None
    opts = {}
    for o in msg.options:
        opts[int(o.otype)] = o.to_wire() if hasattr(o, "to_wire") else b""
    return (msg.edns, msg.payload, opts)


def summary(msg):
    return {
        "rcode": rcode_text(msg),
        "flags": flag_set(msg),
        "answer": rr_lines(msg.answer),
        "authority": rr_lines(msg.authority),
        "additional": rr_lines(msg.additional),
        "edns": edns_summary(msg),
    }


def describe(msg):
    if msg is None:
        return "<no reply>"
    return msg.to_text()


# ---------------------------------------------------------------- ports

def _can_bind(family, kind, port):
    s = socket.socket(FAMILY[family], kind)
    try:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ADDR[family], port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port():
    """A port that is free right now for UDP and TCP on 127.0.0.1 and ::1.
    Another program may take it before we use it: callers retry."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if all(_can_bind(f, k, port) for f in (4, 6)
               for k in (socket.SOCK_STREAM, socket.SOCK_DGRAM)):
            return port
    raise ServerError("no free port found")


def closed_port():
    """A loopback TCP port nobody listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- servers

class Server:
    """A DNS server process on loopback. Subclasses set self.ports:
    {"udp4": p, "udp6": p, "tcp4": p, "tcp6": p}."""

    name = "server"

    def __init__(self, workdir):
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.proc = None
        self.ports = {}
        self.stderr_path = os.path.join(workdir, "%s.stderr" % self.name)
        self.stdout_path = os.path.join(workdir, "%s.stdout" % self.name)

    # -- process handling
    # (soft, hard) RLIMIT_NOFILE the process starts with; None: ours
    rlimit = None

    def _spawn(self, argv):
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        limit = self.rlimit
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err,
            cwd=self.workdir, start_new_session=True,
            preexec_fn=(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit))
            if limit else None)

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stdout_text(self):
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=None):
        """SIGTERM, wait (10 s times SLOW); returns the exit code (SIGKILL
        and None when it did not stop in time)."""
        if timeout is None:
            timeout = 10.0 * SLOW
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = None
        for f in (self._err, self._out):
            f.close()
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    # -- queries
    def port(self, transport):
        return self.ports[transport]

    def exchange(self, wire, transport, timeout=2.0):
        return exchange(wire, transport, self.ports[transport], timeout)

    def query(self, q, transport="udp4", timeout=2.0):
        """Send a dnspython message, return the parsed reply or None."""
        wire = q.to_wire()
        r = self.exchange(wire, transport, timeout)
        if r is None:
            return None
        return dns.message.from_wire(r)

    def udp4(self, q, **kw):
        return self.query(q, "udp4", **kw)

    def udp6(self, q, **kw):
        return self.query(q, "udp6", **kw)

    def tcp4(self, q, **kw):
        return self.query(q, "tcp4", **kw)

    def tcp6(self, q, **kw):
        return self.query(q, "tcp6", **kw)

    def wait_log(self, pattern, timeout=WAIT, start=0):
        """Wait for a regex in stderr after offset start; returns the match.
        Raises ServerError with the log tail when the process exits first or
        nothing matches in time."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            alive = self.alive()
            m = rx.search(self.stderr_text()[start:])
            if m:
                return m
            if not alive:
                raise ServerError("%s exited with %s waiting for %r:\n%s" % (
                    self.name, self.proc.poll() if self.proc else None, pattern,
                    self.stderr_text()[-4000:]))
            if time.monotonic() > deadline:
                raise ServerError("no %r in the %s log after %.0fs:\n%s" % (
                    pattern, self.name, timeout, self.stderr_text()[-4000:]))
            time.sleep(0.05)

    def wait_soa(self, origins, timeout=START_TIMEOUT):
        """Poll until every origin answers its SOA authoritatively."""
        deadline = time.monotonic() + timeout
        pending = list(origins)
        while pending:
            if not self.alive():
                raise ServerError("%s exited with %s:\n%s" % (
                    self.name, self.proc.poll(), self.stderr_text()[-4000:]))
            origin = pending[0]
            try:
                r = self.query(make_query(origin, "SOA"), "udp4", timeout=0.5)
            except Exception:
                r = None
            if (r is not None and r.rcode() == dns.rcode.NOERROR and r.answer
                    and r.flags & dns.flags.AA):
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                raise ServerError("%s did not load %s in %.0fs:\n%s" % (
                    self.name, origin, timeout, self.stderr_text()[-4000:]))
            time.sleep(0.1)


LISTEN_RE = re.compile(r"listening proto=(udp|tcp) address=\[?([0-9a-fA-F.:]+)\]? port=(\d+)")
ADMIN_RE = re.compile(r"listening proto=admin address=\[?([0-9a-fA-F.:]+)\]? port=(\d+)")


def gslbd_config(workdir, zones=TEST_ZONES, nsid=NSID, identity=IDENTITY, version=VERSION,
                 idle_timeout=10.0, max_connections=1024, max_queries=0, workers=2,
                 listen=("127.0.0.1:0", "[::1]:0"), extra="", admin=None):
    """The text of a gslbd config serving zones from the test data.
    admin: listen.admin ("127.0.0.1:0"), None for no admin listener."""
    admin_line = ' admin = "%s";' % admin if admin is not None else ""
    lines = [
        "# written by tests/system/gslbtest.py",
        'directory = "%s";' % workdir,
        "listen = { dns = [ %s ];%s };" % (", ".join('"%s"' % a for a in listen), admin_line),
        "workers = %d;" % workers,
        "zones = (",
        ",\n".join('  { origin = "%s"; file = "%s"; }' % (o, os.path.join(ZONEDIR, f))
                   for o, f in zones),
        ");",
        "edns_size = %d;" % EDNS_SIZE,
    ]
    if nsid is not None:
        lines.append('nsid = "%s";' % nsid.decode())
    if identity is not None:
        lines.append('identity = "%s";' % identity)
    if version is not None:
        lines.append('version = "%s";' % version)
    lines.append("tcp = { idle_timeout = %.1f; max_connections = %d; max_queries = %d; };"
                 % (idle_timeout, max_connections, max_queries))
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


class Gslbd(Server):
    name = "gslbd"

    def __init__(self, workdir, config_text=None, rlimit=None, **conf):
        """rlimit: (soft, hard) RLIMIT_NOFILE to start with."""
        super().__init__(workdir)
        self.rlimit = rlimit
        self.config_path = os.path.join(workdir, "gslb.conf")
        if config_text is None:
            config_text = gslbd_config(workdir, **conf)
        with open(self.config_path, "w") as f:
            f.write(config_text)

    def start(self, timeout=START_TIMEOUT):
        if not os.access(GSLBD, os.X_OK):
            raise ServerError("gslbd binary not found at %s (set GSLBD)" % GSLBD)
        self._spawn([GSLBD, "-c", self.config_path])
        self._pids = getattr(self, "_pids", []) + [self.proc.pid]
        deadline = time.monotonic() + timeout
        while True:
            text = self.stderr_text()
            for proto, addr, port in LISTEN_RE.findall(text):
                fam = 6 if ":" in addr else 4
                self.ports["%s%d" % (proto, fam)] = int(port)
            if " ready" in text:
                break
            if not self.alive():
                raise ServerError("gslbd exited with %s before ready:\n%s"
                                  % (self.proc.poll(), text[-4000:]))
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError("gslbd not ready after %.0fs:\n%s" % (timeout, text[-4000:]))
            time.sleep(0.02)
        missing = {"udp4", "udp6", "tcp4", "tcp6"} - set(self.ports)
        if missing:
            self.kill()
            raise ServerError("gslbd did not log listeners %s:\n%s"
                              % (sorted(missing), self.stderr_text()[-4000:]))
        return self

    def admin_address(self, timeout=START_TIMEOUT):
        """(host, port) of the admin listener, from its "listening
        proto=admin" log line (port 0 in the config picks a free port)."""
        deadline = time.monotonic() + timeout
        while True:
            m = ADMIN_RE.search(self.stderr_text())
            if m:
                return m.group(1), int(m.group(2))
            if not self.alive() or time.monotonic() > deadline:
                raise ServerError("gslbd did not log its admin listener:\n%s"
                                  % self.stderr_text()[-4000:])
            time.sleep(0.02)

    def metrics(self):
        """The admin listener's /metrics as {'name{labels}': value}."""
        import http.client
        h, p = self.admin_address()
        conn = http.client.HTTPConnection(h, p, timeout=10)
        try:
            conn.request("GET", "/metrics")
            r = conn.getresponse()
            body = r.read().decode("utf-8", "replace")
            if r.status != 200:
                raise ServerError("/metrics: %s %s" % (r.status, body[:500]))
        finally:
            conn.close()
        out = {}
        for line in body.splitlines():
            if not line or line.startswith("#"):
                continue
            key, _, val = line.rpartition(" ")
            out[key] = float(val)
        return out

    def check_stopped_cleanly(self):
        """SIGTERM, then a list of problems (empty when all is well)."""
        problems = []
        rc = self.stop()
        if rc is None:
            problems.append("gslbd did not exit within %.0fs of SIGTERM (killed)"
                            % (10.0 * SLOW))
        elif rc != 0:
            problems.append("gslbd exited with %s after SIGTERM" % rc)
        text = self.stderr_text()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                problems.append("sanitizer report in gslbd stderr: %r" % marker)
        if VALGRIND:
            # every process this object started (a test may restart it)
            pids = list(getattr(self, "_pids", []))
            if self.proc is not None and self.proc.pid not in pids:
                pids.append(self.proc.pid)
            for pid in pids:
                problems += valgrind_problems(pid)
        if problems:
            problems.append("stderr tail:\n" + text[-6000:])
        return problems


def tool(name):
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)


class ReferenceServer(Server):
    """A reference server (NSD, Knot) serving TEST_ZONES on a free port;
    subclasses write its config in _write_conf(port) and return its argv."""

    def zone_files(self):
        """(origin, zone file path) of the zones it serves."""
        return [(o, os.path.join(ZONEDIR, f)) for o, f in TEST_ZONES]

    def start(self, timeout=START_TIMEOUT, attempts=5):
        """Start until the test zones answer; another program may take a
        free port first, so each attempt takes a new one."""
        last = ""
        for _ in range(attempts):
            port = free_port()
            self._spawn(self._write_conf(port))
            self.ports = {t: port for t in ("udp4", "udp6", "tcp4", "tcp6")}
            try:
                self.wait_soa([o for o, _ in self.zone_files()], timeout)
                return self
            except ServerError as e:
                last = str(e)
                self.stop()
        raise ServerError("%s did not start: %s" % (self.name, last))


def nsd_server_common(wd, port):
    """The lines of an NSD `server:` clause that keep it in folder wd, in
    the foreground, on port, without privileges or a database."""
    return """\tport: {port}
\tserver-count: 1
\tusername: ""
\tchroot: ""
\tzonesdir: "{wd}"
\tdatabase: ""
\tzonelistfile: "{wd}/zone.list"
\txfrdfile: "{wd}/xfrd.state"
\txfrdir: "{wd}"
\tpidfile: "{wd}/nsd.pid"
\tcookie-secret-file: "{wd}/cookiesecrets.txt"
\tlogfile: ""
""".format(wd=wd, port=port)


class Nsd(ReferenceServer):
    name = "nsd"

    def _write_conf(self, port):
        exe = tool("nsd")
        conf = os.path.join(self.workdir, "nsd.conf")
        zones = "".join('zone:\n\tname: "%s"\n\tzonefile: "%s"\n\n'
                        % (o, os.path.join(ZONEDIR, f)) for o, f in TEST_ZONES)
        with open(conf, "w") as f:
            f.write("""server:
\tip-address: 127.0.0.1@{port}
\tip-address: ::1@{port}
{common}\tverbosity: 1
\tminimal-responses: yes
\trefuse-any: no
\trrl-ratelimit: 0
\trrl-whitelist-ratelimit: 0
\tipv4-edns-size: {edns}
\tipv6-edns-size: {edns}
\tnsid: "ascii_{nsid}"
\tidentity: "{identity}"
\tversion: "{version}"
\thide-version: no
\thide-identity: no
\ttcp-timeout: 10
\tzonefiles-check: yes

remote-control:
\tcontrol-enable: no

{zones}""".format(port=port, wd=self.workdir, edns=EDNS_SIZE, nsid=NSID.decode(),
                  identity=IDENTITY, version=VERSION, zones=zones,
                  common=nsd_server_common(self.workdir, port)))
        return [exe, "-d", "-c", conf]


class Knot(ReferenceServer):
    name = "knot"
    extra = ""       # more sections (policies, module settings)
    zone_extra = ""  # more lines of each zone (a module)

    def _write_conf(self, port):
        exe = tool("knotd")
        conf = os.path.join(self.workdir, "knot.conf")
        storage = os.path.join(self.workdir, "knot-db")
        os.makedirs(storage, exist_ok=True)
        zones = "".join('  - domain: "%s"\n    file: "%s"\n%s'
                        % (o, f, self.zone_extra) for o, f in self.zone_files())
        with open(conf, "w") as f:
            f.write("""server:
    rundir: "{wd}"
    pidfile: "{wd}/knot.pid"
    listen: [ 127.0.0.1@{port}, ::1@{port} ]
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    udp-max-payload: {edns}
    nsid: "{nsid}"
    identity: "{identity}"
    version: "{version}"

control:
    listen: "{wd}/knot.sock"

log:
  - target: stderr
    any: info

database:
    storage: "{storage}"
{extra}
template:
  - id: default
    storage: "{wd}"
    semantic-checks: on
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none

zone:
{zones}""".format(port=port, wd=self.workdir, storage=storage, edns=EDNS_SIZE,
                  nsid=NSID.decode(), identity=IDENTITY, version=VERSION, zones=zones,
                  extra=self.extra))
        return [exe, "-c", conf]


def check_blocks(text):
    """`gslbd -t` / what-if text: {service name: its block's lines}. A block
    starts with "service NAME", or "services A, B, ..." (names wrapped on
    lines indented by four spaces, then "  (N services, the same traffic)")
    for services printed once with one picture."""
    blocks = {}
    for chunk in text.split("\n\n"):
        lines = chunk.splitlines()
        if not lines or not lines[0].startswith("service"):
            continue
        head = lines[0]
        body = lines[1:]
        if head.startswith("services "):
            names = head[len("services "):]
            while body and body[0].startswith("    "):
                names += body.pop(0).strip()
            if body and body[0].startswith("  ("):
                body.pop(0)
            keys = [n.strip() for n in names.split(",") if n.strip()]
        else:
            keys = [head[len("service "):].split(":")[0]]
        for k in keys:
            blocks[k] = "".join(line + "\n" for line in body)
    return blocks


# ---------------------------------------------------------------- daemons in tests

def no_sanitizer_report(text):
    """Fails when text (a program's stderr) holds a sanitizer report."""
    for m in SANITIZER_MARKERS:
        assert m not in text, "sanitizer report:\n%s" % text[-6000:]


def run_gslbd(args, timeout=60):
    """Run gslbd with args (-t, --explain, --what-if...) to its end; returns
    the CompletedProcess (text) after checking that its stderr holds no
    sanitizer report."""
    if not os.access(GSLBD, os.X_OK):
        pytest.fail("gslbd binary not found at %s (set GSLBD)" % GSLBD, pytrace=False)
    r = subprocess.run([GSLBD] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, text=True, errors="replace")
    no_sanitizer_report(r.stderr)
    return r


def build_mmdb(source, out, schema=None, ip_version=None, timeout=300):
    """Build a MaxMind database out of a JSON source with
    geoip/build-mmdb.pl (its default schema and IP version unless given);
    fails the test when it cannot."""
    if shutil.which("perl") is None:
        pytest.fail("perl not found: the test databases are built with geoip/build-mmdb.pl",
                    pytrace=False)
    argv = ["perl", os.path.join(SRCDIR, "geoip", "build-mmdb.pl")]
    if schema:
        argv += ["--schema", schema]
    if ip_version:
        argv += ["--ip-version", str(ip_version)]
    argv += ["--build-epoch", "1700000000", "-o", str(out), str(source)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        pytest.fail("building %s from %s failed (MaxMind::DB::Writer: Debian "
                    "libmaxmind-db-writer-perl):\n%s" % (out, source, r.stderr), pytrace=False)
    return str(out)


def refused_at(workdir, text, marker, message):
    """gslbd -t on config text (written to workdir/gslb.conf) must fail with
    "gslb.conf:LINE: ...message", LINE the first line holding marker."""
    conf = os.path.join(str(workdir), "gslb.conf")
    with open(conf, "w", encoding="utf-8") as f:
        f.write(text)
    r = run_gslbd(["-t", "-c", conf])
    assert r.returncode == 1, r.stderr
    line = next(i for i, t in enumerate(text.splitlines(), 1) if marker in t)
    assert re.search(r"gslb\.conf:%d: .*%s" % (line, re.escape(message)), r.stderr), r.stderr


def start_gslbd(workdir, **conf):
    """A started Gslbd(workdir, **conf); fails the test (no traceback) when
    it does not start."""
    srv = Gslbd(str(workdir), **conf)
    try:
        srv.start()
    except ServerError as e:
        srv.kill()
        pytest.fail(str(e), pytrace=False)
    return srv


def stop_checked(*servers):
    """Stop servers with SIGTERM; fails the test with every problem found
    (exit code, sanitizer or valgrind reports)."""
    problems = []
    for srv in servers:
        problems += srv.check_stopped_cleanly()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def admin_request(srv, method, path, headers=None, host=None, timeout=10.0):
    """(status, headers dict lower-cased, body text) from srv's admin
    listener. http.client, not urllib: no proxy from the environment."""
    h, port = srv.admin_address()
    conn = http.client.HTTPConnection(host or h, port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


def admin_json(srv, path, method="GET", status=200, headers=None):
    """The JSON body of srv's admin listener reply, which must have that
    status."""
    st, hdrs, body = admin_request(srv, method, path, headers)
    assert st == status, "%s %s: HTTP %d %s" % (method, path, st, body)
    assert hdrs.get("content-type", "").startswith("application/json"), hdrs
    return json.loads(body)


def ctl(srv, *args, timeout=30.0, env=None, check=False):
    """Run gslbctl against srv's admin listener (srv may be a "HOST:PORT"
    text, or None for gslbctl's default); returns the CompletedProcess.
    check: fail unless it exits 0."""
    if not os.access(GSLBCTL, os.X_OK):
        pytest.fail("gslbctl not found at %s (set GSLBCTL)" % GSLBCTL, pytrace=False)
    if srv is None or isinstance(srv, str):
        server = srv
    else:
        h, p = srv.admin_address()
        server = "[%s]:%d" % (h, p) if ":" in h else "%s:%d" % (h, p)
    argv = [GSLBCTL] + (["-s", server] if server else []) + list(args)
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, env=env, errors="replace")
    if check:
        assert r.returncode == 0, "gslbctl %s: exit %d\n%s%s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr)
    return r


def self_signed(directory, name, cn, san=None):
    """A self-signed certificate (its own CA) for cn, with san as its
    subjectAltName (default DNS:cn), made with openssl as NAME.pem and
    NAME.key in directory: (certificate file, key file). Skips the test
    without openssl."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("openssl not installed")
    cert = os.path.join(str(directory), "%s.pem" % name)
    key = os.path.join(str(directory), "%s.key" % name)
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=%s" % cn,
                    "-addext", "subjectAltName=%s" % (san or "DNS:" + cn)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


# ---------------------------------------------------------------- health checks

class HttpBackend:
    """A local HTTP(S) server a test steers, as the target of health checks.
    Every reply has status `code` and body `body` ("{host}" in it becomes
    the request's Host) and, when set, a `location`; with `hang` it answers
    only after hang_seconds (past a check's timeout). ok() and fail() switch
    to 200 with the body given at start, or 503 "unavailable". `hits` counts
    requests, `host_header` is the latest Host. Binds host:port (port 0: a
    free one), with TLS when tls=(certificate file, key file).
    Per source address: a request from an address in `failing_sources`
    gets 503 "unavailable" whatever the rest says, so that probes leaving
    from 127.0.0.11 can see a member down while those from .12 see it up;
    `hits_from` counts requests by source address."""

    def __init__(self, host="127.0.0.1", port=0, tls=None, code=200, body=b"ok\n",
                 hang_seconds=3.0):
        self.ok_body = body
        self.code, self.body, self.location, self.hang = code, body, None, False
        self.hang_seconds = hang_seconds
        self.hits = 0
        self.headers = {}  # extra response headers, name -> value
        self.host_header = None
        self.host = host
        self.failing_sources = set()
        self.hits_from = {}
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                backend.hits += 1
                src = self.client_address[0]
                backend.hits_from[src] = backend.hits_from.get(src, 0) + 1
                backend.host_header = self.headers.get("Host")
                if backend.hang:
                    time.sleep(backend.hang_seconds)
                code, body = backend.code, backend.body
                if src in backend.failing_sources:
                    code, body = 503, b"unavailable\n"
                body = body.replace(b"{host}", (backend.host_header or "").encode())
                if code in (204, 304):
                    body = b""
                try:
                    self.send_response(code)
                    if backend.location:
                        self.send_header("Location", backend.location)
                    for k, v in backend.headers.items():
                        self.send_header(k, v)
                    if code not in (204, 304):
                        self.send_header("Content-Length", str(len(body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(body)
                except OSError:
                    pass  # the prober stopped reading (timeout, body found)

            do_HEAD = do_GET

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request, client_address):
                pass  # resets and refused handshakes are part of the tests

        self.httpd = Server((host, port), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def ok(self):
        self.code, self.body, self.hang = 200, self.ok_body, False

    def fail(self):
        self.code, self.body, self.hang = 503, b"unavailable\n", False

    def url(self, path="/healthz"):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _conf_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"%s"' % v
    if isinstance(v, (list, tuple)):
        return "[ %s ]" % ", ".join(_conf_value(x) for x in v)
    return str(v)


def check_conf(name, type_, **opts):
    """One entry of `checks` with the keys given (in that order)."""
    items = ['name = "%s";' % name, 'type = "%s";' % type_]
    items += ["%s = %s;" % (k, _conf_value(v)) for k, v in opts.items()]
    return "{ %s }" % " ".join(items)


def member_conf(address, target=None):
    """A pool member: the address alone, or probed at target instead."""
    if target is None:
        return '"%s"' % address
    return '{ address = "%s"; target = "%s"; }' % (address, target)


def pool_conf(region, members, check=None, min_up=None):
    """A pool: members as member_conf() gives them."""
    items = ['region = "%s";' % region]
    if check:
        items.append('check = "%s";' % check)
    if min_up is not None:
        items.append("min_up = %s;" % min_up)
    items.append("members = ( %s );" % ", ".join(members))
    return "{ %s }" % " ".join(items)


def service_conf(name, pools, ttl=30, answers=8, ttl_min=None, when_all_down=None,
                 fallback=None):
    """A service with pools as pool_conf() gives them; fallback: a CNAME
    target text or a list of addresses."""
    items = ['name = "%s";' % name, "ttl = %d;" % ttl, "answers = %d;" % answers]
    if ttl_min is not None:
        items.append("ttl_min = %d;" % ttl_min)
    if when_all_down is not None:
        items.append('when_all_down = "%s";' % when_all_down)
    if isinstance(fallback, str):
        items.append('fallback = "%s";' % fallback)
    elif fallback is not None:
        items.append("fallback = %s;" % _conf_value(list(fallback)))
    items.append("pools = (\n      %s\n    );" % ",\n      ".join(pools))
    return "{ %s }" % "\n    ".join(items)


FALLBACK = "198.51.100.1"  # region b of checked_service_conf: unchecked, always up


def checked_service_conf(name, check, members):
    """A service in two regions: a, members (as member_conf() gives them)
    probed by check; b, FALLBACK, unchecked (always up)."""
    return service_conf(name, [pool_conf("a", members, check),
                               pool_conf("b", [member_conf(FALLBACK)])])


REGIONS_AB = [("a", 10.0, 10.0), ("b", 20.0, 20.0)]


def health_conf(state_dir, checks, services, regions=REGIONS_AB, resolvers=None,
                database=None):
    """Config text (for gslbd_config's extra) with state_dir, checks,
    regions (name, lat, lon) and services."""
    out = ['state_dir = "%s";' % state_dir]
    if resolvers:
        out.append("resolvers = %s;" % _conf_value(list(resolvers)))
    if database:
        out.append('geoip = { database = "%s"; };' % database)
    if checks:
        out.append("checks = (\n  %s\n);" % ",\n  ".join(checks))
    out.append("regions = (\n  %s\n);" % ",\n  ".join(
        '{ name = "%s"; lat = %.2f; lon = %.2f; }' % r for r in regions))
    out.append("services = (\n  %s\n);" % ",\n  ".join(services))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- waiting

def log_tail(*servers, n=3000):
    return "\n".join("--- %s log:\n%s" % (s.workdir, s.stderr_text()[-n:]) for s in servers)


def wait_for(what, fn, timeout=WAIT, servers=()):
    """Poll fn() every 50 ms until it returns a true value; returns (value,
    seconds it took). Fails the test with `what`, fn's `last` attribute if
    it sets one (what it saw last) and the log tails of servers."""
    t0 = time.monotonic()
    while True:
        v = fn()
        if v:
            return v, time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            pytest.fail("%s: not within %.1fs (last: %r)\n%s" % (
                what, timeout, getattr(fn, "last", None), log_tail(*servers)), pytrace=False)
        time.sleep(0.05)


def ask(srv, name, qtype="A", ecs=None, transport="udp4", timeout=1.0):
    """srv's reply to name/qtype (with ECS "ADDRESS/PREFIX" when given), or
    None."""
    if ecs:
        addr, plen = ecs.split("/")
        q = make_query(name, qtype, edns=0, options=[dns.edns.ECSOption(addr, int(plen))])
    else:
        q = make_query(name, qtype)
    return srv.query(q, transport, timeout=timeout * SLOW)


def addrs(msg, qtype=None):
    """The addresses in msg's answer (of qtype, else A and AAAA), or None
    without a reply."""
    if msg is None:
        return None
    types = (dns.rdatatype.from_text(qtype),) if qtype else (dns.rdatatype.A,
                                                            dns.rdatatype.AAAA)
    return frozenset(rd.address for rrset in msg.answer for rd in rrset if rrset.rdtype in types)


def wait_answer(srv, name, want, timeout=WAIT, ecs=None, qtype="A"):
    """Poll until the qtype addresses answered for name (from ECS client
    ecs when given) are exactly want; returns the seconds it took."""
    want = frozenset(want)

    def probe():
        probe.last = addrs(ask(srv, name, qtype, ecs), qtype)
        return probe.last == want

    probe.last = None
    return wait_for("%s %s%s -> %s" % (name, qtype, " ecs=" + ecs if ecs else "", sorted(want)),
                    probe, timeout, [srv])[1]


# ---------------------------------------------------------------- etcd

ETCD = tool("etcd")


def require_etcd():
    """Skip (outside CI) when the etcd server is not installed; in CI
    (`CI` set, .ci/run installs qa/packages.txt) its absence is a failure."""
    if ETCD:
        return ETCD
    if os.environ.get("CI"):
        pytest.fail("etcd not installed (qa/packages.txt names etcd-server)")
    pytest.skip("etcd not installed (Debian package etcd-server)")


class EtcdCluster:
    """A real etcd cluster of `size` members on free loopback ports, each
    with its own data folder under workdir. endpoints() lists the client
    URLs; kill(i) and restart(i) stop and start one member (its data kept).
    tls=(certificate, key, trusted CA bundle): clients speak https and must
    show a certificate the bundle holds (--client-cert-auth)."""

    def __init__(self, workdir, size=1, token="gslb-test", tls=None):
        self.workdir = workdir
        self.size = size
        self.token = token
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.procs = [None] * size
        self.logs = [None] * size
        self.client = []
        self.peer = []

    def _argv(self, i):
        initial = ",".join("m%d=http://127.0.0.1:%d" % (j, p) for j, p in enumerate(self.peer))
        return [ETCD, "--name", "m%d" % i,
                "--data-dir", os.path.join(self.workdir, "m%d.etcd" % i),
                "--listen-client-urls", "%s://127.0.0.1:%d" % (self.scheme, self.client[i]),
                "--advertise-client-urls", "%s://127.0.0.1:%d" % (self.scheme, self.client[i]),
                "--listen-peer-urls", "http://127.0.0.1:%d" % self.peer[i],
                "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % self.peer[i],
                "--initial-cluster", initial,
                "--initial-cluster-token", self.token,
                "--initial-cluster-state", "new",
                "--heartbeat-interval", "50", "--election-timeout", "500",
                "--log-outputs", "stderr"] + (
                    ["--cert-file", self.tls[0], "--key-file", self.tls[1],
                     "--client-cert-auth", "--trusted-ca-file", self.tls[2]]
                    if self.tls else [])

    def _spawn(self, i):
        self.logs[i] = open(os.path.join(self.workdir, "m%d.log" % i), "ab")
        self.procs[i] = subprocess.Popen(
            self._argv(i), stdin=subprocess.DEVNULL, stdout=self.logs[i],
            stderr=self.logs[i], cwd=self.workdir, start_new_session=True)

    def start(self, timeout=START_TIMEOUT, attempts=3):
        """Start every member and wait until the cluster has a leader and
        takes writes; free ports may be taken meanwhile, so retry."""
        require_etcd()
        os.makedirs(self.workdir, exist_ok=True)
        last = ""
        for _ in range(attempts):
            self.client = [closed_port() for _ in range(self.size)]
            self.peer = [closed_port() for _ in range(self.size)]
            for i in range(self.size):
                shutil.rmtree(os.path.join(self.workdir, "m%d.etcd" % i), ignore_errors=True)
                self._spawn(i)
            try:
                self.wait_ready(timeout)
                return self
            except ServerError as e:
                last = str(e)
                self.stop()
        raise ServerError("etcd did not start: %s" % last)

    def endpoints(self):
        return ["%s://127.0.0.1:%d" % (self.scheme, p) for p in self.client]

    def _connection(self, j):
        if not self.tls:
            return http.client.HTTPConnection("127.0.0.1", self.client[j], timeout=2.0)
        ctx = ssl.create_default_context(cafile=self.tls[0])
        ctx.load_cert_chain(self.tls[0], self.tls[1])  # the server's pair, trusted too
        return http.client.HTTPSConnection("127.0.0.1", self.client[j], timeout=2.0,
                                           context=ctx)

    def request(self, path, body, i=None, timeout=15.0):
        """POST body (a dict) as JSON to the v3 gateway of member i (the
        live ones in turn when None); returns the decoded answer. A proposal
        forwarded to a leader that just died is lost without an answer, so
        each attempt waits 2 s and attempts repeat until `timeout`."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            members = [i] if i is not None else [j for j in range(self.size) if self.alive(j)]
            for j in members:
                conn = self._connection(j)
                try:
                    conn.request("POST", path, json.dumps(body),
                                 {"Content-Type": "application/json"})
                    r = conn.getresponse()
                    data = r.read()
                    if r.status == 200:
                        return json.loads(data)
                    last = "%s: HTTP %d %s" % (path, r.status, data[:200])
                except OSError as e:
                    last = "%s: %s" % (path, e)
                finally:
                    conn.close()
            if time.monotonic() >= deadline:
                raise ServerError(last or "no live etcd member")
            time.sleep(0.1)

    def put(self, key, value, i=None):
        b64 = base64.b64encode
        return self.request("/v3/kv/put", {"key": b64(key.encode()).decode(),
                                           "value": b64(value.encode()).decode()}, i)

    def delete(self, key, i=None, prefix=False):
        """Delete key (every key under it when prefix)."""
        body = {"key": base64.b64encode(key.encode()).decode()}
        if prefix:
            end = key[:-1] + chr(ord(key[-1]) + 1)
            body["range_end"] = base64.b64encode(end.encode()).decode()
        return self.request("/v3/kv/deleterange", body, i)

    def get(self, key, i=None):
        """The value of key (str), None when absent."""
        r = self.request("/v3/kv/range", {"key": base64.b64encode(key.encode()).decode()}, i)
        kvs = r.get("kvs") or []
        return base64.b64decode(kvs[0].get("value", "")).decode() if kvs else None

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            dead = [i for i in range(self.size) if self.procs[i] and self.procs[i].poll() is not None]
            if dead:
                raise ServerError("etcd member m%d exited: %s" % (dead[0], self.log_text(dead[0])[-2000:]))
            try:
                for i in range(self.size):
                    if self.alive(i):
                        self.request("/v3/kv/put", {"key": "L2dzbGItdGVzdC9yZWFkeQ==",
                                                    "value": "MQ=="}, i, timeout=0)
                return
            except ServerError as e:
                last = str(e)
            time.sleep(0.1)
        raise ServerError("etcd not ready in %.0f s: %s" % (timeout, last))

    def log_text(self, i):
        try:
            with open(os.path.join(self.workdir, "m%d.log" % i), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def alive(self, i):
        return self.procs[i] is not None and self.procs[i].poll() is None

    def kill(self, i):
        """SIGKILL member i (its data folder is kept for restart)."""
        if self.alive(i):
            self.procs[i].kill()
            self.procs[i].wait()
        if self.logs[i]:
            self.logs[i].close()
            self.logs[i] = None

    def restart(self, i, timeout=START_TIMEOUT, wait=True):
        """Start member i again on its ports with its data; wait until the
        cluster takes writes through it (unless wait is false)."""
        self.kill(i)
        argv = self._argv(i)
        argv[argv.index("--initial-cluster-state") + 1] = "existing"
        self.logs[i] = open(os.path.join(self.workdir, "m%d.log" % i), "ab")
        self.procs[i] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self.logs[i],
            stderr=self.logs[i], cwd=self.workdir, start_new_session=True)
        if wait:
            self.wait_ready(timeout)

    def restart_all(self, timeout=START_TIMEOUT):
        """Start every member again (after all were killed): none can take
        writes before a quorum of them runs."""
        for i in range(self.size):
            self.restart(i, wait=False)
        self.wait_ready(timeout)

    def stop(self):
        """SIGTERM every member, SIGKILL after 10 s."""
        for i in range(self.size):
            p = self.procs[i]
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for i in range(self.size):
            p = self.procs[i]
            if p is not None:
                try:
                    p.wait(10 * SLOW)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            if self.logs[i]:
                self.logs[i].close()
                self.logs[i] = None
