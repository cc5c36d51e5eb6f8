#!/usr/bin/python3
"""Write the seed corpora of the DNS fuzz harnesses: tests/fuzz/corpus/dns/
(fuzz_dns) and tests/fuzz/corpus/dnssec/ (fuzz_dnssec: queries with the DO
bit, and some without, for the signed zones of tests/fuzz/fuzz-dnssec.conf).

Each file is one control byte (see tests/fuzz/fuzz_dns.c: transport, peer
family and address, response buffer size) followed by a DNS message. The
names queried are those of tests/fuzz/fuzz.zone. The output is deterministic;
the corpus is committed, rerun this script after changing it:

    /usr/bin/python3 tests/fuzz/make-corpus.py
"""

import os
import shutil
import struct
import sys

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdataclass
import dns.rdatatype

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "dns")
OUT_DNSSEC = os.path.join(os.path.dirname(OUT), "dnssec")

CAPS = {65535: 0, 4096: 1, 1232: 2, 512: 3}


def ctl(tcp=False, v6=False, addr=0, cap=65535, nopeer=False):
    """The harness's control byte."""
    b = (1 if tcp else 0) | (2 if v6 else 0) | ((addr & 3) << 2) | (CAPS[cap] << 4)
    return bytes([b | (0x40 if nopeer else 0)])


_next_id = [0x1000]


def query(name, rdtype="A", rdclass="IN", edns=None, payload=1232, options=None,
          flags=None, ednsflags=0, want_dnssec=False, opcode=None):
    """A query built by dnspython, in wire form, with a fixed ID."""
    q = dns.message.make_query(name, rdtype, rdclass, use_edns=edns,
                               payload=payload, options=options,
                               want_dnssec=want_dnssec, ednsflags=ednsflags)
    _next_id[0] += 1
    q.id = _next_id[0]
    if flags is not None:
        q.flags = flags
    if opcode is not None:
        q.set_opcode(opcode)
    return q.to_wire()


def header(qid=0x4242, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def wname(text):
    return dns.name.from_text(text).to_wire()


def question(text, rdtype=1, rdclass=1):
    return wname(text) + struct.pack("!HH", rdtype, rdclass)


def opt_rr(payload=1232, ext_rcode=0, version=0, flags=0, rdata=b"", owner=b"\x00"):
    return owner + struct.pack("!HHBBHH", 41, payload, ext_rcode, version, flags,
                               len(rdata)) + rdata


def option(code, data):
    return struct.pack("!HH", code, len(data)) + data


def ecs(family, source, scope, addr):
    return option(8, struct.pack("!HBB", family, source, scope) + addr)


def corpus():
    c = {}
    # Ordinary queries of many types, over UDP and TCP, v4 and v6 peers.
    c["a-www"] = ctl() + query("www.example.com", "A")
    c["aaaa-www-v6"] = ctl(v6=True, addr=1) + query("www.example.com", "AAAA", edns=0)
    c["mx-apex-tcp"] = ctl(tcp=True) + query("example.com", "MX", edns=0)
    c["ns-apex"] = ctl(addr=2) + query("example.com", "NS", edns=0)
    c["soa-apex"] = ctl() + query("example.com", "SOA")
    c["txt-apex"] = ctl(v6=True) + query("example.com", "TXT", edns=0)
    c["caa-apex"] = ctl() + query("example.com", "CAA", edns=0)
    c["any-apex"] = ctl() + query("example.com", "ANY", edns=0)
    c["a-mixed-case"] = ctl() + query("wWw.ExAmPlE.cOm", "A", edns=0)
    c["a-mixed-owner"] = ctl() + query("www.mixed.example.com", "A")
    c["srv-sip"] = ctl() + query("_sip._tcp.example.com", "SRV", edns=0)
    c["naptr"] = ctl() + query("naptr.example.com", "NAPTR", edns=0)
    c["ptr"] = ctl() + query("4.ptr.example.com", "PTR")
    c["sshfp"] = ctl() + query("sshfp.example.com", "SSHFP")
    c["unknown-type"] = ctl() + query("unknown.example.com", 65280, edns=0)
    c["https-svc"] = ctl() + query("svc.example.com", "HTTPS", edns=0)
    c["nodata-www-mx"] = ctl() + query("www.example.com", "MX", edns=0)
    c["nxdomain"] = ctl(v6=True, addr=2) + query("nope.example.com", "A", edns=0)
    c["refused-outside"] = ctl() + query("www.example.org", "A", edns=0)
    c["refused-root"] = ctl() + query(".", "NS")
    # CNAMEs: chains, loops, into our other zone, out of our zones.
    c["cname-alias"] = ctl() + query("alias.example.com", "A", edns=0)
    c["cname-chain"] = ctl() + query("chain1.example.com", "AAAA", edns=0)
    c["cname-loop"] = ctl() + query("loop1.example.com", "A")
    c["cname-self"] = ctl(tcp=True) + query("self.example.com", "A")
    c["cname-ext"] = ctl() + query("ext.example.com", "A", edns=0)
    c["cname-back"] = ctl() + query("back.example.net", "A", edns=0)
    c["cname-outside"] = ctl() + query("outside.example.com", "A")
    c["cname-qtype"] = ctl() + query("alias.example.com", "CNAME")
    # Wildcards and empty non-terminals.
    c["wild-a"] = ctl() + query("host.wild.example.com", "A", edns=0)
    c["wild-mx"] = ctl() + query("a.b.wild.example.com", "MX", edns=0)
    c["wild-cname"] = ctl() + query("x.cnwild.example.com", "A", edns=0)
    c["wild-cname-loop"] = ctl() + query("y.loopwild.example.com", "A")
    c["wild-txt"] = ctl() + query("anything.wild.example.com", "TXT", edns=0)
    c["ent-nodata"] = ctl() + query("ent.deep.example.com", "A", edns=0)
    c["ent-nxdomain"] = ctl() + query("y.ent.deep.example.com", "A", edns=0)
    c["wild-below-ent"] = ctl() + query("x.deep.example.com", "A", edns=0)
    c["wild-literal"] = ctl() + query("*.wild.example.com", "A")
    # Delegations: referral, DS from the parent, child zone served here too.
    c["deleg-referral"] = ctl() + query("www.deleg.example.com", "A", edns=0)
    c["deleg-ds"] = ctl() + query("deleg.example.com", "DS", edns=0)
    c["deleg-ns"] = ctl() + query("deleg.example.com", "NS")
    c["deleg-glue"] = ctl() + query("ns.deleg.example.com", "A", edns=0)
    c["deleg-insecure-ds"] = ctl() + query("insec.example.com", "DS")
    c["child-www"] = ctl() + query("www.child.example.com", "A", edns=0)
    c["child-wild"] = ctl() + query("q.child.example.com", "AAAA", edns=0)
    # Sizes: truncation over UDP, large over TCP, the longest name.
    c["big-txt-udp"] = ctl() + query("big.example.com", "TXT")
    c["big-txt-edns4096"] = ctl() + query("big.example.com", "TXT", edns=0, payload=4096)
    c["big-txt-tcp"] = ctl(tcp=True) + query("big.example.com", "TXT", edns=0)
    c["big-txt-tcp-cap512"] = ctl(tcp=True, cap=512) + query("big.example.com", "TXT")
    c["many-a-edns512"] = ctl(cap=1232) + query("manya.example.com", "A", edns=0, payload=512)
    c["many-aaaa-small"] = ctl() + query("manyaaaa.example.com", "AAAA", edns=0, payload=100)
    c["longest-name"] = ctl() + query(
        "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 49 + ".example.com", "A")
    c["many-labels"] = ctl() + query(
        "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.example.com", "A")
    # EDNS: NSID, client subnet, versions, flags, other options.
    nsid = dns.edns.GenericOption(dns.edns.NSID, b"")
    c["edns-nsid"] = ctl() + query("www.example.com", "A", edns=0, options=[nsid])
    c["edns-nsid-tcp-v6"] = ctl(tcp=True, v6=True) + query("example.com", "SOA", edns=0,
                                                          options=[nsid])
    c["ecs-v4-24"] = ctl() + query("www.example.com", "A", edns=0,
                                   options=[dns.edns.ECSOption("192.0.2.0", 24)])
    c["ecs-v6-56"] = ctl(v6=True) + query("www.example.com", "AAAA", edns=0,
                                          options=[dns.edns.ECSOption("2001:db8:1::", 56)])
    c["ecs-v4-0"] = ctl() + query("www.example.com", "A", edns=0,
                                  options=[dns.edns.ECSOption("0.0.0.0", 0)])
    c["ecs-bad-prefix"] = ctl() + query("www.example.com", "A", edns=0,
                                        options=[dns.edns.GenericOption(8, struct.pack(
                                            "!HBB", 1, 33, 0) + b"\xc0\x00\x02\x00\x00")])
    c["ecs-bad-scope"] = ctl() + query("www.example.com", "A", edns=0,
                                       options=[dns.edns.GenericOption(8, struct.pack(
                                           "!HBB", 1, 24, 24) + b"\xc0\x00\x02")])
    c["ecs-bad-family"] = ctl() + query("www.example.com", "A", edns=0,
                                        options=[dns.edns.GenericOption(8, struct.pack(
                                            "!HBB", 3, 8, 0) + b"\x0a")])
    c["ecs-nonzero-bits"] = ctl() + query("www.example.com", "A", edns=0,
                                          options=[dns.edns.GenericOption(8, struct.pack(
                                              "!HBB", 1, 20, 0) + b"\xc0\x00\x0f")])
    c["ecs-short"] = ctl() + query("www.example.com", "A", edns=0,
                                   options=[dns.edns.GenericOption(8, b"\x00\x01")])
    c["edns-version1"] = ctl() + query("www.example.com", "A", edns=1)
    c["edns-do-cookie"] = ctl() + query("www.example.com", "A", edns=0, want_dnssec=True,
                                        options=[dns.edns.GenericOption(10, b"\x01" * 8)])
    c["edns-padding"] = ctl() + query("www.example.com", "A", edns=0,
                                      options=[dns.edns.GenericOption(12, b"\x00" * 32)])
    hq = question("www.example.com")
    c["edns-two-opt"] = ctl() + header(ar=2) + hq + opt_rr() + opt_rr()
    c["edns-opt-overrun"] = ctl() + header(ar=1) + hq + b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 32)
    c["edns-option-overrun"] = ctl() + header(ar=1) + hq + opt_rr(
        rdata=struct.pack("!HH", 3, 40) + b"\x00" * 4)
    c["edns-opt-nonroot"] = ctl() + header(ar=1) + hq + opt_rr(owner=b"\xc0\x0c")
    c["edns-payload-0"] = ctl() + header(ar=1) + hq + opt_rr(payload=0)
    # CHAOS.
    c["chaos-id-server"] = ctl() + query("id.server", "TXT", "CH")
    c["chaos-hostname-bind"] = ctl() + query("hostname.bind", "TXT", "CH", edns=0)
    c["chaos-version-bind"] = ctl(tcp=True) + query("version.bind", "TXT", "CH")
    c["chaos-version-server"] = ctl() + query("version.server", "TXT", "CH")
    c["chaos-a"] = ctl() + query("id.server", "A", "CH")
    c["chaos-other"] = ctl() + query("authors.bind", "TXT", "CH")
    c["class-any"] = ctl() + query("www.example.com", "A", "ANY")
    c["class-hs"] = ctl() + query("www.example.com", "A", "HS")
    # Opcodes, flags, zone transfers.
    c["opcode-notify"] = ctl() + query("example.com", "SOA", opcode=dns.opcode.NOTIFY)
    c["opcode-update"] = ctl() + query("example.com", "SOA", opcode=dns.opcode.UPDATE)
    c["opcode-status"] = ctl() + header(flags=0x1000)
    c["opcode-iquery"] = ctl() + header(flags=0x0800) + hq
    c["flags-all"] = ctl() + header(flags=0x07f0) + hq  # AA TC RD RA Z AD CD
    c["qr-set"] = ctl() + header(flags=0x8180) + hq
    c["axfr-udp"] = ctl() + query("example.com", "AXFR")
    c["axfr-tcp"] = ctl(tcp=True) + query("example.com", "AXFR")
    c["ixfr-tcp"] = ctl(tcp=True) + query("example.com", "IXFR")
    c["qtype-opt"] = ctl() + query("example.com", "OPT")
    c["qtype-rrsig"] = ctl() + query("www.example.com", "RRSIG", edns=0, want_dnssec=True)
    # Malformed messages.
    c["empty"] = ctl()
    c["header-short"] = ctl() + header()[:5]
    c["header-only"] = ctl() + header(qd=0)
    c["qdcount-0-opt"] = ctl() + header(qd=0, ar=1) + opt_rr()
    c["qdcount-2"] = ctl() + header(qd=2) + hq + question("mail.example.com")
    c["qdcount-2-compressed"] = ctl() + header(qd=2) + hq + b"\x04mail\xc0\x10\x00\x01\x00\x01"
    c["qdcount-big"] = ctl() + header(qd=0xffff) + hq
    c["question-cut"] = ctl() + header() + wname("www.example.com")[:7]
    c["question-no-type"] = ctl() + header() + wname("www.example.com")
    c["ptr-loop"] = ctl() + header() + b"\xc0\x0c\x00\x01\x00\x01"
    c["ptr-forward"] = ctl() + header() + b"\x03www\xc0\x16\x00\x01\x00\x01\x07example\x03com\x00"
    c["ptr-into-header"] = ctl() + header() + b"\x03www\xc0\x02\x00\x01\x00\x01"
    c["label-64"] = ctl() + header() + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01"
    c["label-ext-type"] = ctl() + header() + b"\x41abc\x00\x00\x01\x00\x01"
    c["name-too-long"] = ctl() + header() + (b"\x3f" + b"x" * 63) * 4 + b"\x00\x00\x01\x00\x01"
    c["trailing-garbage"] = ctl() + header() + hq + b"\xde\xad\xbe\xef"
    c["ancount-1"] = ctl() + header(an=1) + hq + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01"
    c["nscount-bogus"] = ctl() + header(ns=3) + hq
    c["arcount-overrun"] = ctl() + header(ar=5) + hq + opt_rr()
    # Services (fuzz.conf): the decision engine, from the peer or the ECS.
    ECS = dns.edns.ECSOption
    geo = "geo.example.com"
    c["geo-peer-none"] = ctl() + query(geo, "A", edns=0)
    c["geo-peer-pl"] = ctl(addr=1) + query(geo, "A", edns=0)
    c["geo-peer-us-aaaa"] = ctl(addr=2) + query(geo, "AAAA", edns=0)
    c["geo-peer-override"] = ctl(addr=3) + query(geo, "A")
    c["geo-peer-v6-ie"] = ctl(v6=True, addr=1) + query(geo, "AAAA", edns=0)
    c["geo-peer-v6-sg-tcp"] = ctl(tcp=True, v6=True, addr=2) + query(geo, "A", edns=0)
    c["geo-peer-v4mapped"] = ctl(v6=True, addr=3) + query(geo, "A", edns=0)
    c["geo-ecs-pl"] = ctl() + query(geo, "A", edns=0, options=[ECS("83.1.2.0", 24)])
    c["geo-ecs-de-net-rule"] = ctl() + query(geo, "AAAA", edns=0, options=[ECS("5.9.1.0", 24)])
    c["geo-ecs-au-continent"] = ctl() + query(geo, "A", edns=0, options=[ECS("1.0.0.0", 24)])
    c["geo-ecs-us-ca"] = ctl() + query(geo, "A", edns=0, options=[ECS("8.8.8.0", 24)])
    c["geo-ecs-sg-aaaa-nodata"] = ctl() + query(geo, "AAAA", edns=0,
                                                options=[ECS("175.41.128.0", 24)])
    c["geo-ecs-v6-ie"] = ctl() + query(geo, "AAAA", edns=0, options=[ECS("2a00:1450:4001::", 48)])
    c["geo-ecs-override-v6"] = ctl() + query(geo, "AAAA", edns=0,
                                             options=[ECS("2001:db8:ffff::", 48)])
    c["geo-ecs-override-nested"] = ctl() + query(geo, "A", edns=0, options=[ECS("10.8.3.0", 24)])
    c["geo-ecs-coords-override"] = ctl() + query(geo, "A", edns=0,
                                                 options=[ECS("192.0.2.128", 25)])
    c["geo-ecs-nat64"] = ctl() + query(geo, "A", edns=0, options=[ECS("64:ff9b::", 120)])
    c["geo-ecs-6to4"] = ctl() + query(geo, "A", edns=0, options=[ECS("2002:5300:1::", 48)])
    c["geo-ecs-prefix0"] = ctl(addr=1) + query(geo, "A", edns=0, options=[ECS("0.0.0.0", 0)])
    c["geo-ecs-v4-32"] = ctl() + query(geo, "A", edns=0, options=[ECS("83.1.2.3", 32)])
    c["geo-ecs-v6-128"] = ctl() + query(geo, "AAAA", edns=0, options=[ECS("2804::1", 128)])
    c["geo-ecs-unknown-net"] = ctl() + query(geo, "A", edns=0, options=[ECS("100.64.0.0", 10)])
    c["geo-any"] = ctl() + query(geo, "ANY", edns=0, options=[ECS("27.0.0.0", 24)])
    c["geo-txt-nodata"] = ctl() + query(geo, "TXT", edns=0, options=[ECS("27.0.0.0", 24)])
    c["geo-mixed-case-tcp"] = ctl(tcp=True) + query("GeO.ExAmPlE.CoM", "A", edns=0,
                                                    options=[ECS("4.1.0.0", 16)])
    c["geo-apex-service"] = ctl() + query("example.net", "A", edns=0, options=[ECS("83.0.0.0", 16)])
    c["geo-apex-soa"] = ctl() + query("example.net", "SOA", edns=0, options=[ECS("83.0.0.0", 16)])
    c["geo-cdn-eu"] = ctl() + query("img.cdn.example.com", "A", edns=0,
                                    options=[ECS("81.2.69.0", 24)])
    c["geo-cdn-us"] = ctl() + query("a.b.cdn.example.com", "AAAA", edns=0,
                                    options=[ECS("24.48.0.0", 16)])
    c["geo-cdn-ap-out"] = ctl() + query("x.cdn.example.com", "A", edns=0, options=[ECS("1.0.0.0", 24)])
    c["geo-cdn-itself"] = ctl() + query("cdn.example.com", "A", edns=0)
    c["geo-two-ecs"] = ctl() + query(geo, "A", edns=0, options=[ECS("83.1.2.0", 24),
                                                                ECS("4.0.0.0", 24)])
    # Option-heavy OPT records: every option gslb knows beside others, in
    # raw form so that lengths and orders can be anything.
    gq = header(ar=1) + question(geo)
    allopts = (ecs(1, 24, 0, b"\x53\x01\x02") + option(3, b"") + option(10, b"\x11" * 8) +
               option(11, b"") + option(9, b"") + option(12, b"\x00" * 17) +
               option(65001, b"local") + option(13, wname("example.com")))
    c["edns-all-options"] = ctl() + gq + opt_rr(rdata=allopts)
    c["edns-all-options-tcp-v6"] = ctl(tcp=True, v6=True, addr=2) + gq + opt_rr(
        payload=4096, flags=0x8000, rdata=option(3, b"") + ecs(2, 48, 0, bytes.fromhex(
            "2a0014500000")) + option(10, b"\x22" * 8 + b"\x33" * 16))
    c["ecs-after-unknown"] = ctl() + gq + opt_rr(
        rdata=option(20292, b"\xff" * 300) + ecs(1, 32, 0, b"\x04\x00\x00\x01"))
    c["ecs-empty"] = ctl() + gq + opt_rr(rdata=option(8, b""))
    c["ecs-v4-33"] = ctl() + gq + opt_rr(rdata=ecs(1, 33, 0, b"\x53\x01\x02\x03\x00"))
    c["ecs-v6-129"] = ctl() + gq + opt_rr(rdata=ecs(2, 129, 0, b"\x20" + b"\x00" * 16))
    c["ecs-addr-too-long"] = ctl() + gq + opt_rr(rdata=ecs(1, 8, 0, b"\x53\x01\x02\x03"))
    c["ecs-v4-mapped-v6"] = ctl() + gq + opt_rr(rdata=ecs(
        2, 120, 0, b"\x00" * 10 + b"\xff\xff\x53\x01\x02"))
    c["ecs-family-0"] = ctl() + gq + opt_rr(rdata=ecs(0, 0, 0, b""))
    c["cookie-short"] = ctl() + gq + opt_rr(rdata=option(10, b"\x01" * 5))
    c["cookie-too-long"] = ctl() + gq + opt_rr(rdata=option(10, b"\x01" * 41))
    c["nsid-with-data"] = ctl() + gq + opt_rr(rdata=option(3, b"abc"))
    c["option-len-past-rdata"] = ctl() + gq + opt_rr(
        rdata=ecs(1, 24, 0, b"\x53\x01\x02") + struct.pack("!HH", 8, 7) + b"\x00\x01")
    c["many-small-options"] = ctl() + gq + opt_rr(
        rdata=b"".join(option(65000 + i % 8, b"") for i in range(200)))
    c["no-peer"] = ctl(nopeer=True) + query("www.example.com", "A", edns=0)
    c["peer-v4mapped"] = ctl(v6=True, addr=3) + query("www.example.com", "A", edns=0)
    # The same service queries against the geoip.compact snapshot (bit 7).
    for name in sorted(n for n in c if n.startswith("geo-")):
        c[name + "-compact"] = bytes([c[name][0] | 0x80]) + c[name][1:]
    return c


# Compact Answers OK (RFC 9824): the EDNS flag after DO.
CO = 0x4000

DNSSEC_QUERIES = [
    ("www.example.com", "A"), ("www.example.com", "AAAA"), ("example.com", "DNSKEY"),
    ("example.com", "CDS"), ("example.com", "CDNSKEY"), ("example.com", "SOA"),
    ("example.com", "NS"), ("example.com", "MX"), ("example.com", "ANY"),
    ("example.com", "RRSIG"), ("example.com", "NSEC"), ("www.example.com", "MX"),
    ("nope.example.com", "A"), ("ent.deep.example.com", "A"), ("x.wild.example.com", "TXT"),
    ("x.wild.example.com", "AAAA"), ("alias.example.com", "A"), ("chain1.example.com", "A"),
    ("loop1.example.com", "A"), ("ext.example.com", "A"), ("toch.example.com", "A"),
    ("host.deleg.example.com", "A"), ("deleg.example.com", "DS"), ("insec.example.com", "DS"),
    ("www.child.example.com", "A"), ("child.example.com", "DNSKEY"), ("child.example.com", "A"),
    ("nope.child.example.com", "AAAA"), ("big.example.com", "TXT"),
    ("geo.example.com", "A"), ("geo.example.com", "AAAA"), ("geo.example.com", "MX"),
    ("x.cdn.example.com", "A"), ("www.example.net", "A"), ("_sip._tcp.example.com", "SRV"),
]


def dnssec_corpus():
    c = {}
    for name, rdtype in DNSSEC_QUERIES:
        key = "%s-%s" % (name.replace(".example.com", "").replace(".", "-"), rdtype.lower())
        c["do-" + key] = ctl(cap=1232) + query(name, rdtype, edns=0, want_dnssec=True)
        c["do-tcp-" + key] = ctl(tcp=True) + query(name, rdtype, edns=0, want_dnssec=True)
    # small buffers (truncation), a Polish client, CO, no DO
    for name, rdtype in [("example.com", "DNSKEY"), ("big.example.com", "TXT"),
                         ("geo.example.com", "A")]:
        key = name.split(".")[0] + "-" + rdtype.lower()
        c["do-512-" + key] = ctl(cap=512) + query(name, rdtype, edns=0, payload=512,
                                                  want_dnssec=True)
        c["do-pl-" + key] = ctl(addr=1) + query(name, rdtype, edns=0, want_dnssec=True)
        c["nodo-" + key] = ctl() + query(name, rdtype, edns=0)
    c["do-co-nxdomain"] = ctl() + query("nope.example.com", "A", edns=0, want_dnssec=True,
                                        ednsflags=CO)
    c["co-without-do"] = ctl() + query("nope.example.com", "A", edns=0, ednsflags=CO)
    return c


def write(out, items):
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    for name, data in sorted(items.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(items)} inputs to {out}", file=sys.stderr)


def main():
    write(OUT, corpus())
    write(OUT_DNSSEC, dnssec_corpus())


if __name__ == "__main__":
    main()
