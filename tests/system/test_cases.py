"""Runs every case of tests/data/cases/*.case (format: casefile.py) against
gslbd, over each transport the case names (default UDP and TCP, v4 and v6).

GSLB_TEST_TARGET=nsd or knot runs the same cases against a reference server
instead (cases needing the `bare` server are then skipped): a way to check
the cases themselves. Expect a few documented differences there (NOTIFY,
cross-zone CNAME, additional data under minimal responses).
"""

import os

import pytest

import casefile
import gslbtest

CASEDIR = os.path.join(gslbtest.DATADIR, "cases")
CASES = casefile.load_all(CASEDIR)
TARGET = os.environ.get("GSLB_TEST_TARGET", "gslbd")

PARAMS = [pytest.param(c, t, id="%s[%s]" % (c.id, t)) for c in CASES for t in c.over]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    if TARGET == "gslbd":
        yield None
        return
    cls = {"nsd": gslbtest.Nsd, "knot": gslbtest.Knot}[TARGET]
    srv = cls(str(tmp_path_factory.mktemp(TARGET))).start()
    yield srv
    srv.stop()


@pytest.fixture
def server_for(request, reference):
    """server_for(case) -> the running server the case asks for, or None."""
    def get(case):
        if reference is not None:
            return reference if case.server == "default" else None
        return request.getfixturevalue("gslbd" if case.server == "default" else "gslbd_bare")
    return get


def test_case_count():
    # the behaviours need many cases; a broken glob must not pass
    assert len(CASES) >= 80, "only %d cases loaded from %s" % (len(CASES), CASEDIR)


@pytest.mark.parametrize("case,transport", PARAMS)
def test_case(server_for, case, transport):
    srv = server_for(case)
    if srv is None:
        pytest.skip("no %s server for target %s" % (case.server, TARGET))
    wire, question = case.wire(casefile.new_id())
    timeout = 1.0 if "noreply" in case.rcodes else 3.0
    reply = srv.exchange(wire, transport, timeout=timeout)
    problems = case.check(wire, question, reply)
    if case.raw is not None or "noreply" in case.rcodes:
        # whatever we sent, the server must still answer afterwards
        alive = srv.query(gslbtest.make_query("example.test", "SOA"), transport, timeout=3.0)
        if alive is None or alive.rcode() != 0:
            problems.append("server does not answer a SOA query after this case: %s"
                            % gslbtest.describe(alive))
    if problems:
        sent = case.qname and "%s %s %s" % (case.qname, case.qtype, case.qclass) or "raw"
        pytest.fail("%s over %s, query %s (%s):\n- %s\nreply:\n%s" % (
            case.where(), transport, sent, wire.hex(), "\n- ".join(problems),
            _show(reply)), pytrace=False)


def _show(reply):
    if reply is None:
        return "<none>"
    try:
        return gslbtest.parse(reply).to_text()
    except Exception:  # noqa: BLE001
        return reply.hex()
