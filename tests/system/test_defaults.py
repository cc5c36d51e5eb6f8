"""What the shipped configurations protect against, run for real.

etc/gslb.conf (the demo) and etc/gslb.conf.example (what `make install`
installs as the configuration) turn response rate limiting on: a flood of
identical UDP queries from one network gets a second's worth of answers, then
truncated replies and silence, instead of one full answer per query.
"""

import os
import re
import resource
import socket
import subprocess
import time

import gslbtest
from gslbtest import make_query, parse

DEMO = os.path.join(gslbtest.SRCDIR, "etc", "gslb.conf")
EXAMPLE = os.path.join(gslbtest.BUILDDIR, "etc", "gslb.conf.example")


def _demo_on_free_ports(workdir):
    """The demo configuration as shipped, with its listeners on free ports,
    its paths anchored at the source tree and its state in workdir."""
    with open(DEMO, encoding="utf-8") as f:
        text = f.read()
    text = text.replace('directory = "..";', 'directory = "%s";' % gslbtest.SRCDIR)
    text = re.sub(r"listen: \{.*?\n\};",
                  'listen: { dns = [ "127.0.0.1:0", "[::1]:0" ]; admin = "127.0.0.1:0"; };',
                  text, count=1, flags=re.S)
    text = text.replace('state_dir = "var";', 'state_dir = "%s";' % os.path.join(workdir, "var"))
    return text


def _rrl_line(path):
    with open(path, encoding="utf-8") as f:
        return [line for line in f if re.match(r"^rrl\s*=", line)]


def test_shipped_configs_turn_rrl_on():
    lines = _rrl_line(DEMO)
    assert lines and re.search(r"responses_per_second\s*=\s*[1-9]", lines[0]), lines
    if os.path.exists(EXAMPLE):
        assert _rrl_line(EXAMPLE) == lines


def test_demo_config_limits_a_flood(gslbd_factory, tmp_path):
    srv = gslbd_factory(config_text=_demo_on_free_ports(str(tmp_path)), workdir=tmp_path)
    port = srv.port("udp4")
    wire = make_query("www.example.com", "A").to_wire()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.connect(("127.0.0.1", port))
    sent = 200
    try:
        for _ in range(sent):
            s.send(wire)
        full = truncated = 0
        s.settimeout(0.5)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                msg = parse(s.recv(65535))
            except socket.timeout:
                break
            if "tc" in gslbtest.flag_set(msg):
                truncated += 1
            else:
                full += 1
    finally:
        s.close()
    # 20 a second, two seconds at most for a burst that straddles a second.
    assert full <= 45, (full, truncated)
    assert truncated > 0 and full + truncated < sent, (full, truncated)


def test_demo_config_fits_the_common_descriptor_limit():
    """The README's first command must work where the hard limit is the
    common 1024: the demo's connection limits fit in it."""
    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    r = subprocess.run([gslbtest.GSLBD, "-t", "-c", DEMO], capture_output=True, text=True,
                       timeout=60, preexec_fn=limit)
    assert r.returncode == 0, r.stderr
