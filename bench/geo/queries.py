#!/usr/bin/python3
"""Query files and answer checks for the geo benchmark (bench/dns-geo.sh).

make: write a dnsperf binary query file (dnsperf -B: each message in wire
format, prefixed by its length as 2 bytes, big-endian) of COUNT queries for
NAME A, each with EDNS (1232 bytes) and an EDNS Client Subnet option for a
/24 drawn from the IPv4 networks of a MaxMind-format database, weighted by
address space, so that the subnets are spread the way the database spreads
them. Deterministic for a given database, seed and count.

    queries.py make DB.mmdb OUT.bin [--count 100000] [--name www.bench.test] [--do]

(--do: with the DNSSEC OK bit, for bench/dns-dnssec.sh.)

compare: send the first N queries of such a file to two servers and count
how often they answer with the same address set; prints "same total".

    queries.py compare FILE.bin PORT_A PORT_B [--count 500]

Needs only Debian's python3 and python3-dnspython: the .mmdb search tree is
read here directly (the networks, not the records, are all that is needed).
"""

import argparse
import bisect
import random
import socket
import struct
import sys

import dns.edns
import dns.flags
import dns.message
import dns.rdatatype

META_MARKER = b"\xab\xcd\xefMaxMind.com"


def decode(buf, off):
    """Decode one value of the MaxMind data format (enough for metadata)."""
    ctrl = buf[off]
    off += 1
    typ = ctrl >> 5
    if typ == 0:
        typ = 7 + buf[off]
        off += 1
    if typ == 1:
        raise ValueError("pointer in metadata")
    size = ctrl & 0x1F
    if size == 29:
        size = 29 + buf[off]
        off += 1
    elif size == 30:
        size = 285 + int.from_bytes(buf[off:off + 2], "big")
        off += 2
    elif size == 31:
        size = 65821 + int.from_bytes(buf[off:off + 3], "big")
        off += 3
    if typ == 2:
        return buf[off:off + size].decode("utf-8"), off + size
    if typ == 3:
        return struct.unpack(">d", buf[off:off + 8])[0], off + 8
    if typ == 4:
        return bytes(buf[off:off + size]), off + size
    if typ in (5, 6, 9, 10):
        return int.from_bytes(buf[off:off + size], "big"), off + size
    if typ == 8:
        return int.from_bytes(buf[off:off + size], "big", signed=True), off + size
    if typ == 7:
        d = {}
        for _ in range(size):
            k, off = decode(buf, off)
            d[k], off = decode(buf, off)
        return d, off
    if typ == 11:
        a = []
        for _ in range(size):
            v, off = decode(buf, off)
            a.append(v)
        return a, off
    if typ == 14:
        return bool(size), off
    if typ == 15:
        return struct.unpack(">f", buf[off:off + 4])[0], off + 4
    raise ValueError(f"unknown type {typ} in metadata")


class Tree:
    """The search tree of a .mmdb file, IPv4 part only."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.buf = f.read()
        m = self.buf.rfind(META_MARKER)
        if m < 0:
            raise ValueError(f"{path}: not a MaxMind DB file (no metadata marker)")
        self.meta, _ = decode(self.buf, m + len(META_MARKER))
        self.nodes = self.meta["node_count"]
        self.rsize = self.meta["record_size"]
        if self.rsize not in (24, 28, 32):
            raise ValueError(f"{path}: record size {self.rsize}")
        self.nbytes = self.rsize * 2 // 8
        # IPv4 lives under ::/96 in an IPv6 tree.
        self.v4root = 0
        if self.meta["ip_version"] == 6:
            for _ in range(96):
                self.v4root = self.child(self.v4root, 0)
                if self.v4root >= self.nodes:
                    break

    def child(self, node, bit):
        b = self.buf
        o = node * self.nbytes
        if self.rsize == 24:
            o += 3 * bit
            return (b[o] << 16) | (b[o + 1] << 8) | b[o + 2]
        if self.rsize == 28:
            if bit == 0:
                return ((b[o + 3] & 0xF0) << 20) | (b[o] << 16) | (b[o + 1] << 8) | b[o + 2]
            return ((b[o + 3] & 0x0F) << 24) | (b[o + 4] << 16) | (b[o + 5] << 8) | b[o + 6]
        return int.from_bytes(b[o + 4 * bit:o + 4 * bit + 4], "big")

    def lookup(self, addr):
        """Prefix length of the network holding addr (an int), or None."""
        node = self.v4root
        depth = 0
        while node < self.nodes and depth < 32:
            node = self.child(node, (addr >> (31 - depth)) & 1)
            depth += 1
        return depth if node > self.nodes else None

    def networks(self, cap):
        """All IPv4 networks with data as (int, prefix), or None past cap."""
        out = []
        stack = [(self.v4root, 0, 0)]
        while stack:
            node, addr, depth = stack.pop()
            if node == self.nodes:
                continue
            if node > self.nodes:
                out.append((addr, depth))
                if len(out) > cap:
                    return None
                continue
            if depth == 32:
                continue
            for bit in (0, 1):
                stack.append((self.child(node, bit), addr | (bit << (31 - depth)), depth + 1))
        return out


def subnets(tree, count, rnd):
    """count /24 network addresses (ints) from the database's IPv4 networks."""
    nets = tree.networks(200000)
    if nets is not None:
        # A small database: pick networks weighted by their number of /24s.
        if not nets:
            raise ValueError("the database has no IPv4 network")
        nets.sort()
        weights = [1 << max(0, 24 - p) for _, p in nets]
        cum = []
        t = 0
        for w in weights:
            t += w
            cum.append(t)
        out = []
        for _ in range(count):
            i = bisect.bisect_right(cum, rnd.randrange(t))
            a, p = nets[i]
            span = 1 << max(0, 24 - p)
            out.append((a & 0xFFFFFF00) + (rnd.randrange(span) << 8))
        return out
    # A full database: random /24s, kept when the database has data for them.
    out = []
    tries = 0
    while len(out) < count:
        tries += 1
        if tries > 50 * count:
            raise ValueError("too few /24s with data in the database")
        a = rnd.getrandbits(24) << 8
        if tree.lookup(a) is not None:
            out.append(a)
    return out


def make(args):
    tree = Tree(args.db)
    rnd = random.Random(args.seed)
    nets = subnets(tree, args.count, rnd)
    with open(args.out, "wb") as f:
        for i, a in enumerate(nets):
            q = dns.message.make_query(args.name, args.type, use_edns=0, payload=1232,
                                       want_dnssec=args.do, options=[dns.edns.ECSOption(
                                           socket.inet_ntoa(a.to_bytes(4, "big")), 24)])
            q.flags &= ~dns.flags.RD
            q.id = i & 0xFFFF
            w = q.to_wire()
            f.write(len(w).to_bytes(2, "big") + w)
    distinct = len(set(nets))
    print(f"{args.out}: {args.count} queries for {args.name} {args.type}, "
          f"{distinct} distinct /24s from {tree.meta.get('database_type', '?')} "
          f"(build {tree.meta.get('build_epoch', '?')})")


def read_queries(path, count):
    out = []
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off + 2 <= len(data) and len(out) < count:
        n = int.from_bytes(data[off:off + 2], "big")
        out.append(data[off + 2:off + 2 + n])
        off += 2 + n
    return out


def ask(wire, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        for _ in range(3):
            s.sendto(wire, ("127.0.0.1", port))
            try:
                r = dns.message.from_wire(s.recv(65535))
            except socket.timeout:
                continue
            return sorted(rd.to_text() for rr in r.answer for rd in rr)
        return None
    finally:
        s.close()


def compare(args):
    same = 0
    qs = read_queries(args.file, args.count)
    diffs = []
    for w in qs:
        a, b = ask(w, args.port_a), ask(w, args.port_b)
        if a is not None and a == b:
            same += 1
        elif len(diffs) < 3:
            q = dns.message.from_wire(w)
            ecs = [o.to_text() for o in q.options]
            diffs.append(f"{' '.join(ecs)}: {a} vs {b}")
    for d in diffs:
        print(f"  differ: {d}", file=sys.stderr)
    print(same, len(qs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("db")
    m.add_argument("out")
    m.add_argument("--count", type=int, default=100000)
    m.add_argument("--name", default="www.bench.test")
    m.add_argument("--type", default="A")
    m.add_argument("--seed", type=int, default=20240101)
    m.add_argument("--do", action="store_true", help="set the DNSSEC OK bit")
    c = sub.add_parser("compare")
    c.add_argument("file")
    c.add_argument("port_a", type=int)
    c.add_argument("port_b", type=int)
    c.add_argument("--count", type=int, default=500)
    args = ap.parse_args()
    if args.cmd == "make":
        make(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
