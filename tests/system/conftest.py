"""pytest fixtures for the gslbd system tests.

`gslbd` (module scope) is a running daemon on 127.0.0.1:0 and [::1]:0 with
the test zones and NSID/identity/version configured; `gslbd_bare` is the same
without NSID/identity/version; `gslbd_factory` starts daemons with any
configuration for one test. Every daemon is stopped with SIGTERM at teardown,
and the test errors when it does not exit 0 or its stderr holds a sanitizer
report. `backends` makes local HTTP(S) servers for health checks
(gslbtest.HttpBackend), closed at teardown.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gslbtest  # noqa: E402


def _start(tmp_path_factory, label, workdir=None, **conf):
    return gslbtest.start_gslbd(workdir if workdir is not None
                                else tmp_path_factory.mktemp(label), **conf)


@pytest.fixture(scope="module")
def gslbd(tmp_path_factory):
    """A running gslbd with the default test configuration."""
    srv = _start(tmp_path_factory, "gslbd")
    yield srv
    gslbtest.stop_checked(srv)


@pytest.fixture(scope="module")
def gslbd_bare(tmp_path_factory):
    """A running gslbd without nsid, identity and version."""
    srv = _start(tmp_path_factory, "gslbd-bare", nsid=None, identity=None, version=None)
    yield srv
    gslbtest.stop_checked(srv)


@pytest.fixture
def gslbd_factory(tmp_path_factory):
    """start(**conf) -> a running gslbd with gslbtest.gslbd_config(**conf) or
    config_text=...; workdir=... puts its gslb.conf there (beside files the
    config names relatively) instead of a fresh folder; all are stopped and
    checked at teardown."""
    started = []

    def start(**conf):
        srv = _start(tmp_path_factory, "gslbd-f", **conf)
        started.append(srv)
        return srv

    yield start
    gslbtest.stop_checked(*started)


@pytest.fixture
def backends():
    """make(**kw) -> a gslbtest.HttpBackend(**kw), closed after the test."""
    made = []

    def make(*args, **kw):
        b = gslbtest.HttpBackend(*args, **kw)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


def pytest_report_header(config):
    head = "gslbd: %s (GSLB_SRCDIR=%s)" % (gslbtest.GSLBD, gslbtest.SRCDIR)
    if gslbtest.VALGRIND:
        head += "\nvalgrind: logs in %s, deadlines x%g (GSLB_TEST_SLOW)" % (
            gslbtest.VALGRIND_LOGDIR or "(GSLB_VALGRIND_LOGDIR unset)", gslbtest.SLOW)
    return head


# ---------------------------------------------------------------- valgrind
#
# Tests skipped only under valgrind (make check-valgrind), by node id prefix,
# each with its reason. They assert timing bounds (failover within
# fall * interval + timeout + 1 s, no query lost while reloading at 200/s,
# rates) that a daemon running 20-50 times slower and on one CPU at a time
# cannot meet; the code they run is run under valgrind by other tests.
# A test file may also say it itself:
#   @pytest.mark.skipif(gslbtest.VALGRIND, reason="...")
VALGRIND_SKIP = {
    "test_health_probe.py::test_https_checks":
        "https probes with a 0.5 s timeout: the TLS handshake of curl in a daemon under "
        "valgrind takes longer, so healthy members time out",
    "test_health_more.py::test_http_status_body_and_expired_certificate":
        "https probes with a 0.5 s timeout: the TLS handshake of curl in a daemon under "
        "valgrind takes longer, so healthy members time out",
}


def pytest_collection_modifyitems(config, items):
    if not gslbtest.VALGRIND:
        return
    for item in items:
        nodeid = item.nodeid.split("tests/system/")[-1]
        for prefix, reason in VALGRIND_SKIP.items():
            if nodeid.startswith(prefix):
                item.add_marker(pytest.mark.skip(reason="under valgrind: " + reason))
                break


def pytest_sessionfinish(session, exitstatus):
    """Under valgrind, every log in GSLB_VALGRIND_LOGDIR is read at the end:
    the daemons the fixtures stop are checked test by test, but a test may
    run gslbd itself (gslbd -t, --explain, a daemon it stops on its own)."""
    if not gslbtest.VALGRIND:
        return
    bad = []
    for path in gslbtest.valgrind_logs():
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        what = gslbtest.valgrind_log_problems(text)
        if what:
            bad.append((path, what, text))
    session.config._gslb_valgrind_bad = bad
    if bad and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    bad = getattr(config, "_gslb_valgrind_bad", None)
    if bad is None:
        return
    tr = terminalreporter
    tr.section("valgrind")
    tr.write_line("%d valgrind log(s) in %s, %d with errors"
                  % (len(gslbtest.valgrind_logs()), gslbtest.VALGRIND_LOGDIR, len(bad)))
    for path, what, text in bad:
        tr.write_line("--- %s: %s" % (path, what))
        tr.write_line(text[-20000:])


@pytest.fixture
def etcd_factory(tmp_path_factory):
    """start(size=1) -> a running gslbtest.EtcdCluster of `size` members on
    free loopback ports, each with its own data folder; all are stopped at
    teardown. Skips when etcd is not installed (fails in CI)."""
    started = []

    def start(size=1):
        cluster = gslbtest.EtcdCluster(str(tmp_path_factory.mktemp("etcd")), size)
        started.append(cluster)
        return cluster.start()

    yield start
    for cluster in started:
        cluster.stop()
