"""TSIG (RFC 8945). gslbd holds no TSIG keys (it offers no zone transfers
and no updates), so a signed query is signed with a key it does not know:
NOTAUTH with an unsigned TSIG record saying BADKEY (section 5.2.2, as NSD
and Knot answer), never an answer. A TSIG record that is not the last
record of the query is FORMERR (section 5.1)."""
import base64
import http.client
import os
import struct

import pytest

import dns.message
import dns.name
import dns.rcode
import dns.tsig
import dns.tsigkeyring

import gslbtest
from gslbtest import make_query

NAME = "www.example.test"


def signed_query(qname=NAME, qtype="A", edns=None, keyname="nobody-knows.", qid=0x4242):
    secret = base64.b64encode(os.urandom(32)).decode()
    keyring = dns.tsigkeyring.from_text({keyname: secret})
    q = make_query(qname, qtype, edns=edns, qid=qid)
    q.use_tsig(keyring, keyname=keyname, algorithm=dns.tsig.HMAC_SHA256)
    return q, keyring


def last_record(wire):
    """rcode, arcount and (owner, type, class, ttl, rdata) of the last
    record."""
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", wire[:12])
    pos = 12
    for _ in range(qd):
        _, used = dns.name.from_wire(wire, pos)
        pos += used + 4
    rec = None
    for _ in range(an + ns + ar):
        owner, used = dns.name.from_wire(wire, pos)
        pos += used
        rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", wire[pos:pos + 10])
        rec = (owner, rtype, rclass, ttl, wire[pos + 10:pos + 10 + rdlen])
        pos += 10 + rdlen
    assert pos == len(wire)
    return flags & 0xF, ar, rec


@pytest.mark.parametrize("transport", ["udp4", "udp6", "tcp4"])
@pytest.mark.parametrize("edns", [None, 0])
def test_unknown_key_gets_notauth_badkey(gslbd, transport, edns):
    q, keyring = signed_query(edns=edns)
    wire = q.to_wire()
    reply = gslbd.exchange(wire, transport)
    assert reply is not None, "no reply"
    # dnspython, holding the key, reads the reply as the peer's BADKEY
    with pytest.raises(dns.tsig.PeerBadKey):
        dns.message.from_wire(reply, keyring=keyring, request_mac=q.mac)

    rcode, ar, (owner, rtype, rclass, ttl, rdata) = last_record(reply)
    assert rcode == dns.rcode.NOTAUTH
    assert struct.unpack("!H", reply[6:8])[0] == 0, "no answer"
    assert ar == (2 if edns is not None else 1), "OPT (when asked) and TSIG"
    assert (rtype, rclass, ttl) == (250, 255, 0), "TSIG, class ANY, TTL 0, last"
    assert owner == dns.name.from_text("nobody-knows.")
    alg, n = dns.name.from_wire(rdata, 0)
    assert alg == dns.tsig.HMAC_SHA256
    time_signed = rdata[n:n + 6]
    fudge, mac_size = struct.unpack("!HH", rdata[n + 6:n + 10])
    orig_id, error, other = struct.unpack("!HHH", rdata[n + 10:n + 16])
    assert len(rdata) == n + 16
    assert mac_size == 0, "unsigned (RFC 8945 5.3.2)"
    assert error == 17, "BADKEY"
    assert orig_id == 0x4242 and other == 0
    # time and fudge are the query's
    qtsig = dns.message.from_wire(wire, keyring=keyring).tsig[0]
    assert int.from_bytes(time_signed, "big") == qtsig.time_signed
    assert fudge == qtsig.fudge


def test_unknown_key_for_zone_transfer(gslbd):
    """An AXFR signed with a key: the key is checked first (NOTAUTH), as
    an authoritative server with no such key answers."""
    q, keyring = signed_query("example.test", "AXFR")
    reply = gslbd.exchange(q.to_wire(), "tcp4")
    with pytest.raises(dns.tsig.PeerBadKey):
        dns.message.from_wire(reply, keyring=keyring, request_mac=q.mac)


def test_tsig_not_last_is_formerr(gslbd):
    q, _ = signed_query()
    wire = bytearray(q.to_wire())
    # an OPT record after the TSIG
    wire += b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    wire[10:12] = struct.pack("!H", struct.unpack("!H", wire[10:12])[0] + 1)
    r = dns.message.from_wire(gslbd.exchange(bytes(wire), "udp4"))
    assert r.rcode() == dns.rcode.FORMERR
    assert not r.answer


def test_two_tsig_records_formerr(gslbd):
    q, _ = signed_query()
    wire = bytearray(q.to_wire())
    tsig = wire[len(make_query(NAME, "A").to_wire()):]
    wire += tsig
    wire[10:12] = struct.pack("!H", 2)
    r = dns.message.from_wire(gslbd.exchange(bytes(wire), "udp4"))
    assert r.rcode() == dns.rcode.FORMERR


def test_tsig_bad_rdata_formerr(gslbd):
    q, _ = signed_query()
    wire = bytearray(q.to_wire())
    # one byte more of "other data" than the record's length holds
    wire[-2:] = b"\x00\x01"
    r = dns.message.from_wire(gslbd.exchange(bytes(wire), "udp4"))
    assert r.rcode() == dns.rcode.FORMERR


def test_notauth_counted(gslbd_factory, tmp_path):
    srv = gslbd_factory(config_text=gslbtest.gslbd_config(str(tmp_path), admin="127.0.0.1:0"))
    q, _ = signed_query()
    assert srv.exchange(q.to_wire(), "udp4") is not None
    h, p = srv.admin_address()
    c = http.client.HTTPConnection(h, p, timeout=10)
    try:
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
    finally:
        c.close()
    assert 'gslb_dns_queries_total{transport="udp",qtype="A",rcode="NOTAUTH"} 1' in body, \
        [ln for ln in body.splitlines() if "rcode=" in ln and not ln.endswith(" 0")]


def test_reply_too_big_for_udp_is_truncated(gslbd):
    """A long question and a long key name do not fit 512 bytes with the
    TSIG record: TC, no TSIG; over TCP the whole reply."""
    qname = ".".join(["a" * 50] * 4) + ".example.test"  # 217 bytes
    keyname = ".".join(["k" * 60] * 4) + "."  # 245 bytes
    q, keyring = signed_query(qname, keyname=keyname)
    reply = gslbd.exchange(q.to_wire(), "udp4")
    assert len(reply) <= 512
    rcode, ar, _ = last_record(reply)
    flags = struct.unpack("!H", reply[2:4])[0]
    assert rcode == dns.rcode.NOTAUTH and flags & 0x0200 and ar == 0
    reply = gslbd.exchange(q.to_wire(), "tcp4")
    assert len(reply) > 512
    with pytest.raises(dns.tsig.PeerBadKey):
        dns.message.from_wire(reply, keyring=keyring, request_mac=q.mac)
