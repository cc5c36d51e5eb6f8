#!/usr/bin/python3
"""Data and checks for the HTTP redirect benchmark (bench/http-redirect.sh).

clients: write COUNT IPv4 client addresses (one a line) drawn from the
database's IPv4 networks, weighted by address space, for the X-Forwarded-For
headers wrk sends. Deterministic for a given database, seed and count.
Prints how many addresses, distinct networks and countries the list has.

    redirect.py clients DB.mmdb OUT.txt [--count 20000] [--seed N]

nginx-map: write nginx `map` blocks giving the region gslbd would choose for
every location of the database, by the same rule: the nearest region by
great-circle distance (spherical law of cosines, as gslb/decide.c; ties keep
the configured order). The key is the record's "latitude,longitude" as the
geoip2 module prints it ("%.5f"); records without coordinates fall back, as
gslbd does, to their country's centroid (read from gslb/geo_centroids.c),
and records without either to the first region. Every record reachable from
the IPv4 part of the search tree is visited once.

    redirect.py nginx-map DB.mmdb OUT.conf --centroids gslb/geo_centroids.c \\
        --region us-east:39.04:-77.49 --region ...

compare: send the first COUNT addresses of a client list to two servers as
X-Forwarded-For (same path, Host) and count identical Location headers;
prints "same total".

    redirect.py compare CLIENTS.txt PORT_A PORT_B [--count 200] [--host H]

Needs only Debian's python3: the .mmdb file is read here directly.
"""

import argparse
import bisect
import http.client
import math
import random
import re
import socket
import struct
import sys

META_MARKER = b"\xab\xcd\xefMaxMind.com"
PATHS = ["/", "/index.html", "/a/b/c?x=1&y=2", "/search?q=geo+dns&lang=en"]


class DB:
    """A MaxMind DB file: its IPv4 search tree and just enough of the data
    section to read a record's country and location."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.buf = f.read()
        m = self.buf.rfind(META_MARKER)
        if m < 0:
            raise ValueError(f"{path}: not a MaxMind DB file (no metadata marker)")
        self.meta, _ = self.decode(m + len(META_MARKER))
        self.nodes = self.meta["node_count"]
        self.rsize = self.meta["record_size"]
        if self.rsize not in (24, 28, 32):
            raise ValueError(f"{path}: record size {self.rsize}")
        self.nbytes = self.rsize * 2 // 8
        self.data = self.nodes * self.nbytes + 16  # data section start
        self.v4root = 0
        if self.meta["ip_version"] == 6:  # IPv4 lives under ::/96
            for _ in range(96):
                self.v4root = self.child(self.v4root, 0)
                if self.v4root >= self.nodes:
                    break
        self.memo = {}

    # --- search tree ------------------------------------------------------
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
        """(record, prefix) of the network holding addr (an int), or None."""
        node, depth = self.v4root, 0
        while node < self.nodes and depth < 32:
            node = self.child(node, (addr >> (31 - depth)) & 1)
            depth += 1
        return (node, depth) if node > self.nodes else None

    def networks(self, cap=None):
        """IPv4 networks with data as (int, prefix, record); None past cap."""
        out = []
        stack = [(self.v4root, 0, 0)]
        while stack:
            node, addr, depth = stack.pop()
            if node == self.nodes:
                continue
            if node > self.nodes:
                out.append((addr, depth, node))
                if cap is not None and len(out) > cap:
                    return None
                continue
            if depth == 32:
                continue
            for bit in (0, 1):
                stack.append((self.child(node, bit), addr | (bit << (31 - depth)), depth + 1))
        return out

    def records(self):
        """Every distinct record reachable from the IPv4 tree."""
        seen = set()
        stack = [self.v4root]
        child, nodes = self.child, self.nodes
        while stack:
            node = stack.pop()
            for bit in (0, 1):
                c = child(node, bit)
                if c < nodes:
                    stack.append(c)
                elif c > nodes:
                    seen.add(c)
        return seen

    # --- data section -----------------------------------------------------
    def head(self, off):
        """(type, size or pointer target, offset of the payload)."""
        b = self.buf
        ctrl = b[off]
        off += 1
        typ = ctrl >> 5
        if typ == 1:
            ss, v = (ctrl >> 3) & 3, ctrl & 7
            if ss == 0:
                p = (v << 8) | b[off]
            elif ss == 1:
                p = ((v << 16) | (b[off] << 8) | b[off + 1]) + 2048
            elif ss == 2:
                p = ((v << 24) | int.from_bytes(b[off:off + 3], "big")) + 526336
            else:
                p = int.from_bytes(b[off:off + 4], "big")
            return 1, self.data + p, off + ss + 1
        if typ == 0:
            typ = 7 + b[off]
            off += 1
        size = ctrl & 0x1F
        if size == 29:
            size = 29 + b[off]
            off += 1
        elif size == 30:
            size = 285 + int.from_bytes(b[off:off + 2], "big")
            off += 2
        elif size == 31:
            size = 65821 + int.from_bytes(b[off:off + 3], "big")
            off += 3
        return typ, size, off

    def decode(self, off):
        """(value, offset after it). Pointers are followed (not in metadata)."""
        typ, size, off = self.head(off)
        if typ == 1:
            return self.decode(size)[0], off
        b = self.buf
        if typ == 2:
            return b[off:off + size].decode("utf-8"), off + size
        if typ == 3:
            return struct.unpack(">d", b[off:off + 8])[0], off + 8
        if typ == 4:
            return bytes(b[off:off + size]), off + size
        if typ in (5, 6, 9, 10):
            return int.from_bytes(b[off:off + size], "big"), off + size
        if typ == 8:
            return int.from_bytes(b[off:off + size], "big", signed=True), off + size
        if typ == 7:
            d = {}
            for _ in range(size):
                k, off = self.decode(off)
                d[k], off = self.decode(off)
            return d, off
        if typ == 11:
            a = []
            for _ in range(size):
                v, off = self.decode(off)
                a.append(v)
            return a, off
        if typ == 14:
            return bool(size), off
        if typ == 15:
            return struct.unpack(">f", b[off:off + 4])[0], off + 4
        if typ in (12, 13):
            return None, off
        raise ValueError(f"unknown data type {typ} at {off}")

    def skip(self, off):
        typ, size, off = self.head(off)
        if typ == 1 or typ == 14 or typ in (12, 13):
            return off
        if typ == 3:
            return off + 8
        if typ == 15:
            return off + 4
        if typ == 7:
            for _ in range(2 * size):
                off = self.skip(off)
            return off
        if typ == 11:
            for _ in range(size):
                off = self.skip(off)
            return off
        return off + size

    def key(self, off):
        typ, size, nxt = self.head(off)
        if typ == 1:
            k = self.memo.get(size)
            if k is None:
                k = self.memo[size] = self.decode(size)[0]
            return k, nxt
        return self.decode(off)

    def fields(self, off, want):
        """The wanted keys of the map at off, decoded (memoised when shared
        through a pointer), the others skipped."""
        typ, size, nxt = self.head(off)
        if typ == 1:
            k = ("f", size, want)
            v = self.memo.get(k)
            if v is None:
                v = self.memo[k] = self.fields(size, want)
            return v
        out = {}
        if typ != 7:
            return out
        off = nxt
        for _ in range(size):
            k, off = self.key(off)
            if k in want:
                out[k], off = self.decode(off)
            else:
                off = self.skip(off)
        return out

    def place(self, record):
        """(country or "", lat or None, lon or None) of a tree record."""
        off = self.data + (record - self.nodes) - 16
        top = {}
        typ, size, off2 = self.head(off)
        if typ == 1:
            off = size
            typ, size, off2 = self.head(off)
        if typ == 7:
            off = off2
            for _ in range(size):
                k, off = self.key(off)
                if k == "country":
                    top[k] = self.fields(off, ("iso_code",))
                elif k == "location":
                    top[k] = self.fields(off, ("latitude", "longitude"))
                off = self.skip(off)
        cc = top.get("country", {}).get("iso_code", "")
        loc = top.get("location", {})
        return cc, loc.get("latitude"), loc.get("longitude")


def ntoa(a):
    return socket.inet_ntoa(a.to_bytes(4, "big"))


def clients(args):
    db = DB(args.db)
    rnd = random.Random(args.seed)
    nets = db.networks(cap=200000)
    out = []
    if nets is not None:
        # A small database: networks weighted by their number of addresses.
        if not nets:
            raise SystemExit("redirect.py: the database has no IPv4 network")
        nets.sort()
        cum, t = [], 0
        for _, p, _ in nets:
            t += 1 << (32 - p)
            cum.append(t)
        for _ in range(args.count):
            a, p, rec = nets[bisect.bisect_right(cum, rnd.randrange(t))]
            out.append((a + rnd.randrange(1 << (32 - p)), rec))
    else:
        # A full database: random addresses, kept when it has data for them.
        tries = 0
        while len(out) < args.count:
            tries += 1
            if tries > 50 * args.count:
                raise SystemExit("redirect.py: too few addresses with data in the database")
            a = rnd.getrandbits(32)
            if (a >> 24) in (0, 10, 127) or a >> 28 >= 14:
                continue  # not unicast, private or loopback
            hit = db.lookup(a)
            if hit is not None:
                out.append((a, hit[0]))
    countries = {}
    for _, rec in out:
        cc = db.place(rec)[0] or "--"
        countries[cc] = countries.get(cc, 0) + 1
    with open(args.out, "w") as f:
        for a, _ in out:
            f.write(ntoa(a) + "\n")
    top = sorted(countries.items(), key=lambda kv: -kv[1])[:5]
    print(f"{len(out)} addresses, {len(set(r for _, r in out))} distinct records, "
          f"{len(countries)} countries (most: "
          + ", ".join(f"{c} {n * 100 / len(out):.0f}%" for c, n in top) + ")")


def centroids(path):
    out = {}
    rx = re.compile(r'\{\s*"([A-Z]{2})",\s*(-?[0-9.]+),\s*(-?[0-9.]+)\s*\}')
    with open(path) as f:
        for m in rx.finditer(f.read()):
            out[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    if len(out) < 200:
        raise SystemExit(f"redirect.py: only {len(out)} centroids read from {path}")
    return out


class Regions:
    def __init__(self, specs):
        self.r = []
        for s in specs:
            name, lat, lon = s.split(":")
            lat, lon = float(lat), float(lon)
            self.r.append((name, math.sin(lat * math.pi / 180.0),
                           math.cos(lat * math.pi / 180.0), lon * math.pi / 180.0))

    def nearest(self, lat, lon):
        """gslb/decide.c's order_by_distance: the largest cosine of the
        angle wins, the first configured on a tie."""
        phi = lat * (math.pi / 180.0)
        cs, cc = math.sin(phi), math.cos(phi)
        best, bv = None, None
        for name, sl, cl, lr in self.r:
            v = cs * sl + cc * cl * math.cos(lon * (math.pi / 180.0) - lr)
            if bv is None or v > bv:
                best, bv = name, v
        return best

    def first(self):
        return self.r[0][0]


def nginx_map(args):
    db = DB(args.db)
    regs = Regions(args.region)
    cent = centroids(args.centroids)
    ll, cc_region, nocoord = {}, {}, 0
    for rec in db.records():
        cc, lat, lon = db.place(rec)
        if (lat is not None and lon is not None and -90 <= lat <= 90
                and -180 <= lon <= 180):
            key = f"{lat:.5f},{lon:.5f}"
            if key not in ll:
                ll[key] = regs.nearest(lat, lon)
        else:
            nocoord += 1
    for cc, (lat, lon) in cent.items():
        cc_region[cc] = regs.nearest(lat, lon)
    with open(args.out, "w") as f:
        f.write("# generated by bench/http/redirect.py nginx-map: the region gslbd's\n"
                "# distance ordering picks for each location of the database\n")
        f.write('map "$geoip2_lat,$geoip2_lon" $region {\n    hostnames off;\n'
                "    default $region_cc;\n")
        for k in sorted(ll):
            f.write(f"    {k} {ll[k]};\n")
        f.write("}\n")
        f.write(f"map $geoip2_cc $region_cc {{\n    default {regs.first()};\n")
        for k in sorted(cc_region):
            f.write(f"    {k} {cc_region[k]};\n")
        f.write("}\n")
    per = {}
    for v in ll.values():
        per[v] = per.get(v, 0) + 1
    print(f"{len(ll)} locations ("
          + ", ".join(f"{n} {k}" for k, n in sorted(per.items())) + "), "
          f"{nocoord} records without coordinates, {len(cc_region)} country centroids")


def location(port, host, path, xff):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path, headers={"Host": host, "X-Forwarded-For": xff})
        r = c.getresponse()
        r.read()
        return f"{r.status} {r.getheader('Location')} {r.getheader('Cache-Control')}"
    except OSError as e:
        return f"error {e}"
    finally:
        c.close()


def compare(args):
    with open(args.clients) as f:
        addrs = [line.strip() for line in f if line.strip()][:args.count]
    same, diffs = 0, []
    for i, a in enumerate(addrs):
        path = PATHS[i % len(PATHS)]
        x, y = location(args.port_a, args.host, path, a), location(args.port_b, args.host, path, a)
        if x == y:
            same += 1
        else:
            diffs.append(f"{a} {path}: {x} | {y}")
    for d in diffs[:10]:
        print(f"differ: {d}", file=sys.stderr)
    if addrs:
        print(f"e.g. {addrs[0]} {PATHS[0]}: {location(args.port_a, args.host, PATHS[0], addrs[0])}",
              file=sys.stderr)
    print(same, len(addrs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("clients")
    c.add_argument("db")
    c.add_argument("out")
    c.add_argument("--count", type=int, default=20000)
    c.add_argument("--seed", type=int, default=20240105)
    m = sub.add_parser("nginx-map")
    m.add_argument("db")
    m.add_argument("out")
    m.add_argument("--centroids", required=True)
    m.add_argument("--region", action="append", required=True, help="name:lat:lon")
    k = sub.add_parser("compare")
    k.add_argument("clients")
    k.add_argument("port_a", type=int)
    k.add_argument("port_b", type=int)
    k.add_argument("--count", type=int, default=200)
    k.add_argument("--host", default="www.bench.test")
    args = ap.parse_args()
    {"clients": clients, "nginx-map": nginx_map, "compare": compare}[args.cmd](args)


if __name__ == "__main__":
    main()
