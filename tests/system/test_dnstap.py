"""dnstap logging (issue 16, part 1), end to end with the real tools:
fstrm_capture (Debian fstrm-bin) receives the Frame Streams on a Unix
socket or TCP, dnstap-ldns (Debian dnstap-ldns) decodes what it wrote.

- a query and its response are logged as AUTH_QUERY and AUTH_RESPONSE
  with the configured identity and version, the transport, the client's
  address, and the geo decision in `extra` (service, region, rule, ECS
  scope), over UDP and TCP, to a Unix socket and to TCP;
- a collector that is absent, killed mid-run or stalled costs no answer:
  the messages are dropped and counted (gslb_dnstap_dropped_total), and a
  collector that comes (back) gets the messages from then on;
- sample = 10 logs one query in ten;
- a reload applies a changed dnstap group; -t refuses a bad one with
  file:line.

Only 127.0.0.1 and loopback Unix sockets are used; the daemons pick their
own ports.
"""

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

import gslbtest
from gslbtest import make_query, run_gslbd
from test_geo import addrs, ecs_option, geo_config, geo_dbs, make_datadir, www_region  # noqa: F401

CONTENT_TYPE = "protobuf:dnstap.Dnstap"
DECISIONS = os.path.join(gslbtest.SRCDIR, "contrib", "dnstap-decisions.py")
IDENTITY = "ns-test"
VERSION = "gslbd-under-test"


# ---------------------------------------------------------------- helpers

class Capture:
    """fstrm_capture writing what it receives to a file; stop() ends it
    (SIGTERM: it closes the file), messages() decodes it with dnstap-ldns."""

    def __init__(self, workdir, name, tcp_port=None):
        self.ecs = {}  # (type, DNS id): "ecs=NET" or "ecs=-", from decisions()
        self.out = os.path.join(workdir, "%s.fstrm" % name)
        self.sock = os.path.join(workdir, "%s.sock" % name)
        self.log = os.path.join(workdir, "%s.capture.log" % name)
        if tcp_port is None:
            where = ["-u", self.sock]
        else:
            where = ["-a", "127.0.0.1", "-p", str(tcp_port)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [gslbtest.tool("fstrm_capture"), "-t", CONTENT_TYPE, "-w", self.out] + where,
                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10 * gslbtest.SLOW
        while not self._listening(tcp_port):
            assert self.proc.poll() is None, open(self.log).read()
            assert time.monotonic() < deadline, "fstrm_capture not listening"
            time.sleep(0.02)

    def _listening(self, tcp_port):
        if tcp_port is None:
            return os.path.exists(self.sock)
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", tcp_port)) == 0

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        return self

    def messages(self):
        """The messages written, as dicts of dnstap-ldns -y's fields."""
        if not os.path.exists(self.out):
            return []
        r = subprocess.run([gslbtest.tool("dnstap-ldns"), "-r", self.out, "-y"],
                           capture_output=True, text=True, errors="replace", timeout=30)
        assert r.returncode == 0, r.stderr
        return [parse_yaml(doc) for doc in r.stdout.split("\n---") if doc.strip()]

    def decisions(self):
        """{(type, DNS id): extra} as contrib/dnstap-decisions.py prints
        them (dnstap-ldns does not show the extra field)."""
        r = subprocess.run([sys.executable, DECISIONS, self.out], capture_output=True,
                           text=True, errors="replace", timeout=30)
        assert r.returncode == 0, r.stderr
        out = {}
        for line in r.stdout.splitlines():
            f = line.split(" ", 9)
            out[(f[1], int(f[4][3:]))] = f[9] if len(f) > 9 else None
            self.ecs[(f[1], int(f[4][3:]))] = f[7]
        return out


def parse_yaml(doc):
    """The scalar fields of one dnstap-ldns -y document (nested keys flat),
    and the DNS message text under "query_message"/"response_message"."""
    out = {}
    key = None
    for line in doc.splitlines():
        m = re.match(r"^\s*(\w+): ?(.*)$", line)
        if m and not line.startswith("    "):
            key, val = m.group(1), m.group(2).strip()
            out[key] = val.strip('"') if val != "|" else ""
        elif key is not None:
            out[key] += line.strip() + "\n"
    return out


def dnstap_block(where, extra=""):
    return 'dnstap = { %s identity = "%s"; version = "%s"; %s };\n' % (
        where, IDENTITY, VERSION, extra)


def start(tmp_path, geo_dbs, block, label="dt"):  # noqa: F811
    datadir = make_datadir(tmp_path / ("%s-data" % label), geo_dbs)
    text = geo_config(datadir).replace("listen = { dns = [",
                                       'listen = { admin = "127.0.0.1:0"; dns = [', 1)
    text += block
    return gslbtest.start_gslbd(tmp_path / label, config_text=text)


def ask(srv, name, ecs=None, transport="udp4", qtype="A"):
    q = make_query(name, qtype, edns=0 if ecs else None,
                   options=[ecs_option(ecs)] if ecs else [])
    r = srv.query(q, transport, timeout=3.0)
    assert r is not None, "no answer to %s over %s" % (name, transport)
    return r


def scope_of(msg):
    """The ECS scope of a reply."""
    (opt,) = [o for o in msg.options if o.otype == 8]
    return opt.scopelen if hasattr(opt, "scopelen") else opt.data[3]


def wait_metric(srv, key, pred, timeout=10.0):
    deadline = time.monotonic() + timeout * gslbtest.SLOW
    while True:
        v = srv.metrics().get(key, 0)
        if pred(v) or time.monotonic() > deadline:
            return v
        time.sleep(0.1)


SENT = "gslb_dnstap_sent_total"
GONE = 'gslb_dnstap_dropped_total{reason="no_collector"}'
FULL = 'gslb_dnstap_dropped_total{reason="queue_full"}'


def by_id(msgs):
    """{(type, DNS id): message}"""
    out = {}
    for m in msgs:
        text = m.get("query_message") or m.get("response_message") or ""
        mid = re.search(r"id: (\d+)", text)
        if mid:
            out[(m.get("type"), int(mid.group(1)))] = m
    return out


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("kind", ["unix", "tcp"])
def test_query_and_response_with_the_decision(tmp_path, geo_dbs, kind):  # noqa: F811
    port = gslbtest.free_port() if kind == "tcp" else None
    cap = Capture(str(tmp_path), "c", tcp_port=port)
    where = ('socket = "%s";' % cap.sock if kind == "unix"
             else 'tcp = "127.0.0.1:%d";' % port)
    srv = start(tmp_path, geo_dbs, dnstap_block(where))
    try:
        srv.wait_log(r"dnstap collector connected")
        asked = []
        r = ask(srv, "www.geo.test", ecs="83.20.0.0/24")  # Warsaw: eu-east, by distance
        assert www_region(addrs(r)) == "eu-east"
        asked.append((r.id, "UDP", "svc=www.geo.test region=eu-east rule=distance scope=%d"
                      % scope_of(r)))
        r = ask(srv, "routed.geo.test", ecs="83.20.0.0/24", transport="tcp4")  # country:PL
        assert addrs(r) == ["198.19.2.1"]  # us-west, the rule's first region
        asked.append((r.id, "TCP", "svc=routed.geo.test region=us-west rule=country:PL scope=%d"
                      % scope_of(r)))
        r = ask(srv, "geo.test", qtype="SOA")  # zone data: no decision
        asked.append((r.id, "UDP", None))
        # what was queued is flushed within a second
        wait_metric(srv, SENT, lambda v: v >= 6)
    finally:
        gslbtest.stop_checked(srv)
    msgs = by_id(cap.stop().messages())
    extras = cap.decisions()
    for qid, proto, extra in asked:
        for t in ("AUTH_QUERY", "AUTH_RESPONSE"):
            m = msgs.get((t, qid))
            assert m, "no %s for id %d in %s" % (t, qid, sorted(msgs))
            assert m["identity"] == IDENTITY and m["version"] == VERSION, m
            assert m["socket_family"] == "INET" and m["socket_protocol"] == proto, m
            assert m["query_address"] == "127.0.0.1", m
            # the address and port the query was sent to
            assert m["response_address"] == "127.0.0.1", m
            assert m["response_port"] == str(srv.ports[proto.lower() + "4"]), m
        # the decision once, with the response
        assert extras[("AUTH_RESPONSE", qid)] == extra, extras
        assert extras[("AUTH_QUERY", qid)] is None, extras
        ecs = "ecs=83.20.0.0/24" if extra else "ecs=-"
        assert cap.ecs[("AUTH_QUERY", qid)] == ecs, cap.ecs
        assert "NOERROR" in msgs[("AUTH_RESPONSE", qid)]["response_message"]
        assert "qr aa" in msgs[("AUTH_RESPONSE", qid)]["response_message"]
        assert "response_time" in msgs[("AUTH_RESPONSE", qid)]


def test_response_address_on_a_wildcard_listener(tmp_path, geo_dbs):  # noqa: F811
    """On 0.0.0.0 the address the query was sent to comes from IP_PKTINFO
    (UDP) and getsockname (TCP)."""
    cap = Capture(str(tmp_path), "w")
    datadir = make_datadir(tmp_path / "w-data", geo_dbs)
    text = geo_config(datadir).replace(
        'listen = { dns = [ "127.0.0.1:0", "[::1]:0" ]',
        'listen = { admin = "127.0.0.1:0"; dns = [ "0.0.0.0:0", "[::1]:0" ]', 1)
    assert '"0.0.0.0:0"' in text, text
    srv = gslbtest.start_gslbd(tmp_path / "w", config_text=text + dnstap_block(
        'socket = "%s";' % cap.sock))
    try:
        srv.wait_log(r"dnstap collector connected")
        ids = {"UDP": ask(srv, "geo.test", qtype="SOA").id,
               "TCP": ask(srv, "geo.test", qtype="SOA", transport="tcp4").id}
        wait_metric(srv, SENT, lambda v: v >= 4)
    finally:
        gslbtest.stop_checked(srv)
    msgs = by_id(cap.stop().messages())
    for proto, qid in ids.items():
        for t in ("AUTH_QUERY", "AUTH_RESPONSE"):
            m = msgs[(t, qid)]
            assert m["socket_protocol"] == proto, m
            assert m["response_address"] == "127.0.0.1", m
            assert m["response_port"] == str(srv.ports[proto.lower() + "4"]), m


def test_dead_collector_costs_no_answers(tmp_path, geo_dbs):  # noqa: F811
    sock = str(tmp_path / "late.sock")
    srv = start(tmp_path, geo_dbs, dnstap_block('socket = "%s";' % sock))
    try:
        # nobody listens: every query answered, every message counted dropped
        for i in range(50):
            assert www_region(addrs(ask(srv, "www.geo.test", ecs="83.20.%d.0/24" % i)))
        assert wait_metric(srv, GONE, lambda v: v >= 100) >= 100
        assert srv.metrics().get(SENT, 0) == 0
        srv.wait_log(r"dnstap collector unreachable")
        # a collector comes: messages flow from then on (reconnect each second)
        cap = Capture(str(tmp_path), "late")
        srv.wait_log(r"dnstap collector connected")
        ask(srv, "www.geo.test", ecs="83.21.0.0/24")
        assert wait_metric(srv, SENT, lambda v: v >= 2) >= 2
        # killed mid-run: answers go on, drops are counted again
        cap.stop(signal.SIGKILL)
        gone = srv.metrics().get(GONE, 0)
        for i in range(50):
            assert www_region(addrs(ask(srv, "www.geo.test", ecs="83.22.%d.0/24" % i,
                                        transport="tcp4" if i % 2 else "udp4")))
        assert wait_metric(srv, GONE, lambda v: v > gone) > gone
    finally:
        gslbtest.stop_checked(srv)


def test_stalled_collector_costs_no_answers(tmp_path, geo_dbs):  # noqa: F811
    """A collector that accepts and never reads: the I/O thread waits, the
    queues fill, messages are dropped as queue_full, answers keep coming."""
    path = str(tmp_path / "stall.sock")
    lsn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsn.bind(path)
    lsn.listen(16)
    srv = start(tmp_path, geo_dbs, dnstap_block('socket = "%s";' % path))
    try:
        s = gslbtest.tcp_connect(4, srv.port("tcp4"))
        wire = make_query("www.geo.test", "A").to_wire()
        t0 = time.monotonic()
        for _ in range(4500):  # 9000 messages for a queue of 4096
            gslbtest.tcp_send(s, wire)
            assert gslbtest.tcp_recv(s) is not None
        s.close()
        elapsed = time.monotonic() - t0
        assert wait_metric(srv, FULL, lambda v: v > 0) > 0
        assert elapsed < 30 * gslbtest.SLOW
    finally:
        gslbtest.stop_checked(srv)
        lsn.close()


def test_sample_logs_one_query_in_n(tmp_path, geo_dbs):  # noqa: F811
    cap = Capture(str(tmp_path), "s")
    srv = start(tmp_path, geo_dbs,
                dnstap_block('socket = "%s";' % cap.sock, "sample = 10; log_responses = false;"))
    try:
        srv.wait_log(r"dnstap collector connected")
        # TCP: one thread, exactly one in ten
        s = gslbtest.tcp_connect(4, srv.port("tcp4"))
        wire = make_query("geo.test", "SOA").to_wire()
        for _ in range(200):
            gslbtest.tcp_send(s, wire)
            assert gslbtest.tcp_recv(s) is not None
        s.close()
        # UDP: each worker counts for itself, about one in ten overall
        for _ in range(400):
            assert ask(srv, "geo.test", qtype="SOA") is not None
        wait_metric(srv, SENT, lambda v: v >= 56)
        time.sleep(1.5)  # a flush more
    finally:
        gslbtest.stop_checked(srv)
    msgs = cap.stop().messages()
    kinds = [(m["type"], m["socket_protocol"]) for m in msgs]
    assert ("AUTH_RESPONSE", "UDP") not in kinds and ("AUTH_RESPONSE", "TCP") not in kinds
    assert kinds.count(("AUTH_QUERY", "TCP")) == 20
    assert 36 <= kinds.count(("AUTH_QUERY", "UDP")) <= 44, kinds.count(("AUTH_QUERY", "UDP"))


def decisions(*args, stdin=None):
    return subprocess.run([sys.executable, DECISIONS] + list(args), capture_output=True,
                          input=stdin, timeout=30)


def frame_file(*frames, content_type=CONTENT_TYPE.encode()):
    """A Frame Streams file: START with content_type, the data frames."""
    ct = struct.pack("!II", 1, len(content_type)) + content_type
    start = struct.pack("!I", 2) + ct
    out = struct.pack("!II", 0, len(start)) + start
    for f in frames:
        out += struct.pack("!I", len(f)) + f
    return out


# a dnstap AUTH_QUERY over UDP, without the DNS message: field 15 (type) =
# MESSAGE, field 14 (message) = { 1 (type): AUTH_QUERY, 3: UDP }
QUERY_FRAME = bytes([0x78, 0x01, 0x72, 0x04, 0x08, 0x01, 0x18, 0x01])


def test_decisions_script_errors(tmp_path):
    """contrib/dnstap-decisions.py: a message and a status, never a
    traceback."""
    r = decisions("--help")
    assert r.returncode == 0 and b"usage: dnstap-decisions.py" in r.stdout, r
    r = decisions("--bogus")
    assert r.returncode == 2 and b"unknown option --bogus" in r.stderr, r
    r = decisions(str(tmp_path / "missing.fstrm"))
    assert r.returncode == 1 and b"missing.fstrm: No such file or directory" in r.stderr, r
    (tmp_path / "text").write_text("hello, this is not dnstap at all\n")
    r = decisions(str(tmp_path / "text"))
    assert r.returncode == 1 and b"text: not a Frame Streams file" in r.stderr, r
    other = tmp_path / "other.fstrm"
    other.write_bytes(frame_file(QUERY_FRAME, content_type=b"protobuf:other"))
    r = decisions(str(other))
    assert r.returncode == 1 and b"not of dnstap messages" in r.stderr, r
    good = frame_file(QUERY_FRAME, QUERY_FRAME)
    r = decisions("-", stdin=good)
    assert r.returncode == 0 and r.stdout.count(b" AUTH_QUERY UDP ") == 2, r
    assert r.stderr == b"", r
    cut = tmp_path / "cut.fstrm"
    cut.write_bytes(good[:-3])
    r = decisions(str(cut))
    assert r.returncode == 1 and r.stdout.count(b"AUTH_QUERY") == 1, r
    assert b"cut.fstrm: truncated" in r.stderr and b"(after 1 messages)" in r.stderr, r
    junk = tmp_path / "junk.fstrm"
    junk.write_bytes(frame_file(b"\xff\xff\xff"))
    r = decisions(str(junk))
    assert r.returncode == 1 and b"message 1 is not a dnstap message" in r.stderr, r
    # | head: the reader leaves after one line
    many = tmp_path / "many.fstrm"
    many.write_bytes(frame_file(*[QUERY_FRAME] * 20000))
    p = subprocess.run("%s %s %s | head -1" % (sys.executable, DECISIONS, many), shell=True,
                       capture_output=True, timeout=60)
    assert p.stdout.count(b"\n") == 1 and p.stderr == b"", p.stderr


def test_reload_applies_the_dnstap_group(tmp_path, geo_dbs):  # noqa: F811
    cap = Capture(str(tmp_path), "r")
    srv = start(tmp_path, geo_dbs, dnstap_block('socket = "%s";' % cap.sock))
    try:
        srv.wait_log(r"dnstap collector connected")
        first = ask(srv, "geo.test", qtype="SOA").id
        with open(srv.config_path) as f:
            text = f.read()
        with open(srv.config_path, "w") as f:
            f.write(text.replace('identity = "%s"' % IDENTITY, 'identity = "renamed"'))
        mark = len(srv.stderr_text())
        srv.proc.send_signal(signal.SIGHUP)
        srv.wait_log(r"reloaded what=config", start=mark)
        srv.wait_log(r"dnstap collector connected", start=mark)
        second = ask(srv, "geo.test", qtype="SOA").id
        wait_metric(srv, SENT, lambda v: v >= 4)
    finally:
        gslbtest.stop_checked(srv)
    # gslbd closed the old connection (the reload) and the new one (the
    # stop) itself: info, not a warning
    log = srv.stderr_text()
    assert log.count("info: dnstap collector connection closed by gslbd") == 2, log
    assert "dnstap collector connection closed to=" not in log, log
    msgs = by_id(cap.stop().messages())
    assert msgs[("AUTH_QUERY", first)]["identity"] == IDENTITY
    assert msgs[("AUTH_QUERY", second)]["identity"] == "renamed"


@pytest.mark.parametrize("block,error", [
    ('socket = "a.sock"; tcp = "127.0.0.1:6000";', "give either socket"),
    ('log_queries = true;', "give either socket"),
    ('tcp = "127.0.0.1";', "is not an address and port"),
    ('tcp = "localhost:6000";', "is not an address and port"),
    ('\n  socket = "%s";' % ("x" * 120), "longer than"),
    ('socket = "a.sock"; sample = 0;', "sample"),
])
def test_bad_dnstap_group_is_refused(tmp_path, block, error):
    conf = gslbtest.gslbd_config(str(tmp_path)) + "dnstap = {\n  %s\n};\n" % block
    path = tmp_path / "gslb.conf"
    path.write_text(conf)
    r = run_gslbd(["-t", "-c", str(path)])
    assert r.returncode == 1, r.stderr
    line = len(conf.splitlines()) - 1 if "either" not in error else len(conf.splitlines()) - 2
    assert re.search(r"gslb\.conf:%d: .*%s" % (line, re.escape(error)), r.stderr), r.stderr
