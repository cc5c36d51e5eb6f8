"""Differential test: the test zones served by NSD, Knot and gslbd; each query
is sent to all three and gslbd must give what the references give, wherever
NSD and Knot agree with each other.

NSD and Knot run in the foreground on free loopback ports with configs
written to a temporary directory (minimal responses, no rate limiting, no
remote control, pid/db files in the temporary directory); their system
services are never used. Missing nsd/knotd skips the test, except under CI
(the CI environment variable set), where it fails.

Compared per response: rcode; the AA and TC flags (RD/RA ignored); answer,
authority and additional as sets of RRs with their TTLs; EDNS version,
payload and NSID. A response counts as compared when NSD and Knot agree on
all of it; parts where they agree are also compared when the rest differs.
ANY queries compare everything but the answer section (RFC 8482 leaves the
choice of RRset to the server).
"""

import os

import pytest

import dns.edns
import dns.flags

import gslbtest
from gslbtest import make_query

# Names of the test zones (example.test and child.example.test), chosen to
# cover every kind of node: apex, plain data, CNAME chains (in zone, across
# zones, outside, dangling, loop), wildcards (match, ENT block, wildcard
# CNAME, apex wildcard of the child), cuts (glue, DS, no glue), empty
# non-terminals, nonexistent names, names outside every zone.
NAMES = [
    "example.test", "ns1.example.test", "ns2.example.test", "mail.example.test",
    "www.example.test", "WwW.ExAmPlE.tEsT", "txt.example.test", "ptr.example.test",
    "naptr.example.test", "svc.example.test", "unknown.example.test",
    "_sip._tcp.example.test", "_tcp.example.test", "_sip._udp.example.test",
    "alias.example.test", "chain1.example.test", "chain3.example.test",
    "dangling.example.test", "outside.example.test", "cross.example.test",
    "loop1.example.test", "mxalias.example.test",
    "foo.wild.example.test", "a.b.wild.example.test", "*.wild.example.test",
    "host.wild.example.test", "x.host.wild.example.test", "wild.example.test",
    "ent.wild.example.test", "nope.ent.wild.example.test", "deep.ent.wild.example.test",
    "x.wc.example.test", "a.b.wc.example.test", "ent2.example.test", "a.ent2.example.test",
    "deleg.example.test", "www.deleg.example.test", "ns1.deleg.example.test",
    "ext.example.test", "www.ext.example.test",
    "child.example.test", "www.child.example.test", "ns1.child.example.test",
    "anything.child.example.test", "a.b.child.example.test", "x.www.child.example.test",
    "back.child.example.test",
    "nx.example.test", "a.b.nx.example.test", "xexample.test",
    "www.example.net", "test",
]
TYPES = ["A", "AAAA", "NS", "SOA", "MX", "TXT", "DS", "CNAME"]
EXTRA = [
    ("example.test", "CAA"), ("example.test", "HTTPS"), ("ptr.example.test", "PTR"),
    ("naptr.example.test", "NAPTR"), ("svc.example.test", "SVCB"),
    ("unknown.example.test", "TYPE65280"), ("example.test", "TYPE65281"),
    ("_sip._tcp.example.test", "SRV"), ("_sip._udp.example.test", "SRV"),
    ("mid.example.test", "TXT"), ("big.example.test", "TXT"),
]
ANY_NAMES = ["example.test", "www.example.test", "nx.example.test", "_tcp.example.test",
             "www.deleg.example.test", "foo.wild.example.test", "www.example.net"]


def build_queries():
    """(label, transport, make-query kwargs)."""
    qs = []
    for n in NAMES:
        for t in TYPES:
            qs.append(("%s/%s edns udp4" % (n, t), "udp4", dict(qname=n, qtype=t, edns=0)))
    for n, t in EXTRA:
        qs.append(("%s/%s edns udp4" % (n, t), "udp4", dict(qname=n, qtype=t, edns=0)))
        qs.append(("%s/%s noedns udp6" % (n, t), "udp6", dict(qname=n, qtype=t)))
        qs.append(("%s/%s tcp6" % (n, t), "tcp6", dict(qname=n, qtype=t, edns=0)))
    # no EDNS, v6 and TCP for a slice of the names
    for n in NAMES[::3]:
        for t in ("A", "MX"):
            qs.append(("%s/%s noedns udp6" % (n, t), "udp6", dict(qname=n, qtype=t)))
            qs.append(("%s/%s tcp4" % (n, t), "tcp4", dict(qname=n, qtype=t)))
    for n in ANY_NAMES:
        qs.append(("%s/ANY udp4" % n, "udp4", dict(qname=n, qtype="ANY", edns=0)))
    # EDNS and CHAOS behaviour
    nsid = [dns.edns.GenericOption(dns.edns.NSID, b"")]
    qs += [
        ("nsid www", "udp4", dict(qname="www.example.test", qtype="A", edns=0, options=nsid)),
        ("nsid nx", "udp6", dict(qname="nx.example.test", qtype="A", edns=0, options=nsid)),
        ("nsid tcp", "tcp4", dict(qname="example.test", qtype="SOA", edns=0, options=nsid)),
        ("badvers", "udp4", dict(qname="www.example.test", qtype="A", edns=1)),
        ("edns payload 512 mid", "udp4", dict(qname="mid.example.test", qtype="TXT", edns=0,
                                               payload=512)),
        ("edns payload 4096 big", "udp6", dict(qname="big.example.test", qtype="TXT", edns=0,
                                                payload=4096)),
        ("rd set", "udp4", dict(qname="www.example.test", qtype="A", rd=True)),
    ]
    for n in ("id.server", "hostname.bind", "version.bind", "version.server", "foo.bind"):
        qs.append(("%s CH" % n, "udp4", dict(qname=n, qtype="TXT", qclass="CH")))
    qs.append(("id.server CH A", "udp4", dict(qname="id.server", qtype="A", qclass="CH")))
    return qs


QUERIES = build_queries()
PARTS = ("rcode", "flags", "answer", "authority", "additional", "edns")


def view(msg, is_any):
    """The comparable parts of a reply (None for no reply)."""
    if msg is None:
        return None
    s = gslbtest.summary(msg)
    nsid = None
    if msg.edns >= 0:
        for o in msg.options:
            if int(o.otype) == dns.edns.NSID:
                nsid = o.to_wire()
    v = {
        "rcode": s["rcode"],
        "flags": frozenset(f for f in s["flags"] if f in ("aa", "tc")),
        "answer": s["answer"] if not is_any else None,
        "authority": s["authority"],
        "additional": s["additional"],
        "edns": None if msg.edns < 0 else (msg.edns, msg.payload, nsid),
    }
    return v


def need_tool(name):
    path = gslbtest.tool(name)
    if path:
        return path
    msg = "%s not installed (Debian package %s)" % (name, "nsd" if name == "nsd" else "knot")
    if os.environ.get("CI"):
        pytest.fail(msg + "; required under CI", pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    need_tool("nsd")
    need_tool("knotd")
    nsd = gslbtest.Nsd(str(tmp_path_factory.mktemp("nsd")))
    knot = gslbtest.Knot(str(tmp_path_factory.mktemp("knot")))
    try:
        nsd.start()
        knot.start()
    except gslbtest.ServerError as e:
        nsd.stop()
        knot.stop()
        pytest.fail(str(e), pytrace=False)
    yield nsd, knot
    for srv in (nsd, knot):
        srv.stop()


def ask(srv, kwargs, transport):
    q = make_query(**kwargs)
    for _ in range(3):  # a lost datagram on loopback is rare but possible
        try:
            r = srv.query(q, transport, timeout=2.0)
        except Exception as e:  # noqa: BLE001 - an unparsable reply is a result too
            return "unparsable: %r" % e
        if r is not None or transport.startswith("tcp"):
            return r
    return None


def fmt_part(v):
    if isinstance(v, frozenset):
        return "{" + "".join("\n        " + x for x in sorted(v)) + "}" if v else "{}"
    return repr(v)


@pytest.fixture(scope="module")
def results(references, gslbd):
    nsd, knot = references
    out = []
    for label, transport, kwargs in QUERIES:
        is_any = kwargs.get("qtype") == "ANY"
        rs = [ask(s, kwargs, transport) for s in (nsd, knot, gslbd)]
        views = [r if isinstance(r, str) else view(r, is_any) for r in rs]
        out.append((label, transport, kwargs, views))
    return out


def test_reference_query_count():
    assert len(QUERIES) >= 100


def test_differential(results):
    compared = 0
    parts_compared = 0
    mismatches = []
    for label, transport, kwargs, (vn, vk, vg) in results:
        if vn == vk:
            compared += 1
            if vg != vn:
                if isinstance(vn, dict) and isinstance(vg, dict):
                    diff = ["    %s: references %s\n         gslbd %s" % (
                        p, fmt_part(vn[p]), fmt_part(vg[p])) for p in PARTS if vn[p] != vg[p]]
                else:
                    diff = ["    references %r\n    gslbd %r" % (vn, vg)]
                mismatches.append("%s over %s:\n%s" % (label, transport, "\n".join(diff)))
            continue
        if not (isinstance(vn, dict) and isinstance(vk, dict)):
            continue
        # partial agreement: compare the parts both references agree on
        bad = []
        for p in PARTS:
            if vn[p] == vk[p]:
                parts_compared += 1
                if not isinstance(vg, dict) or vg.get(p) != vn[p]:
                    bad.append("    %s: references %s\n         gslbd %s" % (
                        p, fmt_part(vn[p]), fmt_part(vg[p] if isinstance(vg, dict) else vg)))
        if bad:
            mismatches.append("%s over %s (references differ elsewhere):\n%s"
                              % (label, transport, "\n".join(bad)))
    print("differential: %d queries, %d fully compared, %d parts of partly agreeing replies"
          % (len(results), compared, parts_compared))
    if mismatches:
        pytest.fail("%d of %d compared replies differ from NSD+Knot:\n%s" % (
            len(mismatches), compared, "\n".join(mismatches)), pytrace=False)


def test_references_agree_enough(results):
    """The comparison means something only if the references mostly agree."""
    agree = sum(1 for *_, (vn, vk, _vg) in results if vn == vk)
    assert agree >= 90, "NSD and Knot agree on only %d of %d queries" % (agree, len(results))
    assert agree >= 0.75 * len(results), (agree, len(results))
