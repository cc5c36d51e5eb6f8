#!/usr/bin/python3
"""Print gslbd's dnstap messages one a line, with the geo decision that
gslbd puts in each message's `extra` field, which dnstap-ldns and
dnstap-read do not show:

  2026-12-07T15:53:20.018297Z AUTH_RESPONSE UDP 192.0.2.1:41160 id=62511 \
      www.example.com. A ecs=83.20.0.0/24 ns1 svc=www.example.com region=eu-central \
      rule=continent:EU scope=24

ecs= is the client network of the message's EDNS Client Subnet option
(address/source prefix length), or - without one; the identity follows,
then the decision (none for a query, or an answer from zone data).

Reads a Frame Streams file as fstrm_capture -w writes it (or standard
input): dnstap-decisions.py FILE... Standard library only. Exit status 0,
1 when a file cannot be read or is not a whole dnstap file (the messages
before the fault are printed), 2 for a usage error.
"""

import datetime
import ipaddress
import os
import struct
import sys

USAGE = """usage: dnstap-decisions.py [FILE...]
Print gslbd's dnstap messages (a Frame Streams file as fstrm_capture -w
writes it; standard input without FILE or for -) one a line, with the geo
decision gslbd puts in each message's extra field and the ECS client
network. Exit status 0; 1 when a file cannot be read or is not a whole
dnstap file; 2 for a usage error.
"""
CONTENT_TYPE = b"protobuf:dnstap.Dnstap"
FSTRM_START = 2


class BadFile(Exception):
    """A file that is not (all) a dnstap Frame Streams file."""

MSG_TYPES = {1: "AUTH_QUERY", 2: "AUTH_RESPONSE"}
PROTOCOLS = {1: "UDP", 2: "TCP", 3: "DOT", 4: "DOH", 5: "DNSCryptUDP", 6: "DNSCryptTCP",
             7: "DOQ"}
QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
          33: "SRV", 43: "DS", 48: "DNSKEY", 65: "HTTPS", 252: "AXFR", 255: "ANY"}


def frames(data):
    """The data frames of a Frame Streams byte string (control frames
    skipped); BadFile when it does not start with a dnstap START frame or
    ends in the middle of a frame."""
    if len(data) < 12 or struct.unpack_from("!II", data, 0)[0] != 0:
        raise BadFile("not a Frame Streams file (no START frame)")
    (c,) = struct.unpack_from("!I", data, 4)
    control = data[8:8 + c]
    if len(control) < c or len(control) < 4 or struct.unpack_from("!I", control)[0] != FSTRM_START:
        raise BadFile("not a Frame Streams file (no START frame)")
    if CONTENT_TYPE not in control:
        raise BadFile("a Frame Streams file, but not of dnstap messages")
    i = 8 + c
    while i < len(data):
        if i + 4 > len(data):
            raise BadFile("truncated: it ends in a frame's length")
        (n,) = struct.unpack_from("!I", data, i)
        i += 4
        if n == 0:  # escape: a control frame follows
            if i + 4 > len(data):
                raise BadFile("truncated: it ends in a control frame")
            (c,) = struct.unpack_from("!I", data, i)
            i += 4 + c
            continue
        if i + n > len(data):
            raise BadFile("truncated: the last message is cut short")
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


def skip_name(wire, i):
    """The offset after the (possibly compressed) name at i."""
    while True:
        n = wire[i]
        if n & 0xC0 == 0xC0:
            return i + 2
        if n == 0:
            return i + 1
        i += 1 + n


def ecs(wire):
    """The ECS client network of a DNS message ("83.20.0.0/24"), or None."""
    try:
        qd, an, ns, ar = struct.unpack_from("!HHHH", wire, 4)
        i = 12
        for _ in range(qd):
            i = skip_name(wire, i) + 4
        for k in range(an + ns + ar):
            i = skip_name(wire, i)
            rtype, _, _, rdlen = struct.unpack_from("!HHIH", wire, i)
            i += 10
            if rtype == 41 and k >= an + ns:  # OPT
                j = i
                while j + 4 <= i + rdlen:
                    code, olen = struct.unpack_from("!HH", wire, j)
                    if code == 8 and olen >= 4:
                        fam, src = struct.unpack_from("!HB", wire, j + 4)
                        raw = wire[j + 8:j + 4 + olen]
                        size = 4 if fam == 1 else 16
                        addr = ipaddress.ip_address(bytes(raw) + bytes(size - len(raw)))
                        return "%s/%d" % (addr, src)
                    j += 4 + olen
            i += rdlen
    except (IndexError, struct.error, ValueError):
        pass
    return None


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
    net = (ecs(wire) if wire else None) or "-"
    return " ".join([when, kind, PROTOCOLS.get(m.get(3), "?"), client, "id=%s" % qid, name, qtype,
                     "ecs=%s" % net, d.get(1, b"").decode("utf-8", "replace") or "-",
                     d.get(3, b"").decode("utf-8", "replace")]).rstrip()


def show(src, data):
    """Print the messages of one file; 0, or 1 after a message on stderr."""
    count = 0
    try:
        for f in frames(data):
            try:
                text = line(f)
            except (IndexError, struct.error, ValueError, TypeError):
                raise BadFile("message %d is not a dnstap message" % (count + 1))
            print(text)
            count += 1
    except BadFile as e:
        sys.stderr.write("dnstap-decisions.py: %s: %s (after %d messages)\n"
                         % (src, e, count))
        return 1
    return 0


def main(argv):
    args = argv[1:]
    if any(a in ("-h", "--help") for a in args):
        sys.stdout.write(USAGE)
        return 0
    bad = [a for a in args if a.startswith("-") and a != "-"]
    if bad:
        sys.stderr.write("dnstap-decisions.py: unknown option %s\n%s" % (bad[0], USAGE))
        return 2
    rc = 0
    for src in args or ["-"]:
        try:
            if src == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(src, "rb") as f:
                    data = f.read()
        except OSError as e:
            sys.stderr.write("dnstap-decisions.py: %s: %s\n" % (src, e.strerror))
            rc = 1
            continue
        rc = show("standard input" if src == "-" else src, data) or rc
    sys.stdout.flush()
    return rc


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except BrokenPipeError:
        # The reader went away (| head): nothing more to say. Python would
        # complain again flushing stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
