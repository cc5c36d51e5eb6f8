"""pytest fixtures for the gslbd system tests.

`gslbd` (module scope) is a running daemon on 127.0.0.1:0 and [::1]:0 with
the test zones and NSID/identity/version configured; `gslbd_bare` is the same
without NSID/identity/version; `gslbd_factory` starts daemons with any
configuration for one test. Every daemon is stopped with SIGTERM at teardown,
and the test errors when it does not exit 0 or its stderr holds a sanitizer
report.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gslbtest  # noqa: E402


def _start(tmp_path_factory, label, **conf):
    workdir = str(tmp_path_factory.mktemp(label))
    srv = gslbtest.Gslbd(workdir, **conf)
    try:
        srv.start()
    except gslbtest.ServerError as e:
        srv.kill()
        pytest.fail(str(e), pytrace=False)
    return srv


def _finish(srv):
    problems = srv.check_stopped_cleanly()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def gslbd(tmp_path_factory):
    """A running gslbd with the default test configuration."""
    srv = _start(tmp_path_factory, "gslbd")
    yield srv
    _finish(srv)


@pytest.fixture(scope="module")
def gslbd_bare(tmp_path_factory):
    """A running gslbd without nsid, identity and version."""
    srv = _start(tmp_path_factory, "gslbd-bare", nsid=None, identity=None, version=None)
    yield srv
    _finish(srv)


@pytest.fixture
def gslbd_factory(tmp_path_factory):
    """start(**conf) -> a running gslbd with gslbtest.gslbd_config(**conf) or
    config_text=...; all are stopped and checked at teardown."""
    started = []

    def start(**conf):
        srv = _start(tmp_path_factory, "gslbd-f", **conf)
        started.append(srv)
        return srv

    yield start
    problems = []
    for srv in started:
        problems += srv.check_stopped_cleanly()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def pytest_report_header(config):
    return "gslbd: %s (GSLB_SRCDIR=%s)" % (gslbtest.GSLBD, gslbtest.SRCDIR)
