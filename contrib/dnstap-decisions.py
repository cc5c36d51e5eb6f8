#!/usr/bin/python3
"""Print gslbd's dnstap messages one a line, with the geo decision that
gslbd puts in each message's `extra` field, which dnstap-ldns and
dnstap-read do not show:

  2026-12-07T15:53:20.018297Z AUTH_RESPONSE UDP 192.0.2.1:41160 id=62511 \
      www.example.com. A ns1 svc=www.example.com region=eu-central rule=continent:EU scope=24

Reads a Frame Streams file as fstrm_capture -w writes it (or standard
input): dnstap-decisions.py FILE... Standard library only.
"""

import datetime
import ipaddress
import struct
import sys

MSG_TYPES = {1: "AUTH_QUERY", 2: "AUTH_RESPONSE"}
PROTOCOLS = {1: "UDP", 2: "TCP", 3: "DOT", 4: "DOH", 5: "DNSCryptUDP", 6: "DNSCryptTCP",
             7: "DOQ"}
QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
          33: "SRV", 43: "DS", 48: "DNSKEY", 65: "HTTPS", 252: "AXFR", 255: "ANY"}


def frames(data):
    """The data frames of a Frame Streams byte string (control frames skipped)."""
    i = 0
    while i + 4 <= len(data):
        (n,) = struct.unpack_from("!I", data, i)
        i += 4
        if n == 0:  # escape: a control frame follows
            (c,) = struct.unpack_from("!I", data, i)
            i += 4 + c
            continue
        yield data[i:i + n]
        i += n


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def fields(b):
    """{field number: value} of a protobuf message (last one wins)."""
    out = {}
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 1:
            v, i = struct.unpack_from("<Q", b, i)[0], i + 8
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 5:
            v, i = struct.unpack_from("<I", b, i)[0], i + 4
        else:
            raise ValueError("protobuf wire type %d" % wt)
        out[num] = v
    return out


def question(wire):
    """(id, name, type) of a DNS message, "?" when unreadable."""
    try:
        (qid,) = struct.unpack_from("!H", wire, 0)
        i, labels = 12, []
        while wire[i]:
            labels.append(wire[i + 1:i + 1 + wire[i]].decode("ascii", "replace"))
            i += 1 + wire[i]
        (qtype,) = struct.unpack_from("!H", wire, i + 1)
        return qid, ".".join(labels) + ".", QTYPES.get(qtype, "TYPE%d" % qtype)
    except (IndexError, struct.error):
        return "?", "?", "?"


def line(frame):
    d = fields(frame)
    m = fields(d.get(14, b""))
    kind = MSG_TYPES.get(m.get(1), "TYPE%s" % m.get(1))
    wire = m.get(14) if kind == "AUTH_RESPONSE" else m.get(10)
    sec, nsec = (m.get(12), m.get(13)) if kind == "AUTH_RESPONSE" else (m.get(8), m.get(9))
    when = "-"
    if sec is not None:
        t = datetime.datetime.fromtimestamp(sec, datetime.timezone.utc)
        when = t.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % ((nsec or 0) // 1000)
    addr = m.get(4)
    client = "-"
    if addr:
        ip = ipaddress.ip_address(bytes(addr))
        client = ("[%s]:%s" if ip.version == 6 else "%s:%s") % (ip, m.get(6, "?"))
    qid, name, qtype = question(wire) if wire else ("?", "?", "?")
    return " ".join([when, kind, PROTOCOLS.get(m.get(3), "?"), client, "id=%s" % qid, name, qtype,
                     d.get(1, b"").decode("utf-8", "replace") or "-",
                     d.get(3, b"").decode("utf-8", "replace")]).rstrip()


def main(argv):
    sources = argv[1:] or ["-"]
    for src in sources:
        data = sys.stdin.buffer.read() if src == "-" else open(src, "rb").read()
        for f in frames(data):
            print(line(f))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
