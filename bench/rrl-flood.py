#!/usr/bin/python3
"""Load generators for bench/rrl.sh.

flood:  a spoofed-style UDP flood. Linux routes all of 127.0.0.0/8 to lo, so
        one process can bind sockets to many loopback source addresses: NETS
        addresses in as many different /24s (127.10.N.1, then 127.11.N.1...:
        each its own RRL bucket, as a flood spoofing many victims is) and
        HOSTS addresses in one /24 (127.20.0.1..HOSTS: one bucket, however
        many hosts). Every socket sends the
        same query, round robin, at about QPS in all, for DURATION seconds,
        and reads whatever comes back. Prints one JSON object: queries and
        bytes sent, responses and bytes received (DNS payload; wire figures
        add 28 bytes of IPv4+UDP header to each datagram), full and TC
        responses.

legit:  a resolver-like client from one source address at QPS queries a
        second (on schedule, each in its own thread): a UDP query, up to
        TRIES attempts TIMEOUT apart when nothing comes back; on a TC reply
        it asks again over TCP from the same address, as a real resolver
        does. Prints one JSON object: asked,
        answered (and how: first UDP try, UDP after a retry, TCP after TC),
        failed.
"""

import argparse
import json
import select
import socket
import struct
import sys
import time


def query(name, qtype, qid, edns):
    qt = {"A": 1, "AAAA": 28, "TXT": 16, "MX": 15, "SOA": 6, "NS": 2}[qtype]
    out = struct.pack("!HHHHHH", qid & 0xFFFF, 0, 1, 0, 0, 1 if edns else 0)
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    out += b"\0" + struct.pack("!HH", qt, 1)
    if edns:
        out += b"\0" + struct.pack("!HHIH", 41, edns, 0, 0)  # OPT, payload, no options
    return out


def sources(nets, hosts):
    out = ["127.%d.%d.1" % (10 + i // 256, i % 256) for i in range(nets)]
    out += ["127.20.0.%d" % (1 + i) for i in range(hosts)]
    return out


def flood(a):
    srcs = sources(a.nets, a.hosts)
    socks = []
    for src in srcs:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        s.bind((src, 0))
        s.connect(("127.0.0.1", a.port))
        s.setblocking(False)
        socks.append(s)
    msgs = [query(a.name, a.qtype, i, a.edns) for i in range(256)]
    qlen = len(msgs[0])
    st = {"sources": len(srcs), "nets": a.nets, "hosts_in_one_net": a.hosts,
          "query_bytes": qlen, "sent": 0, "bytes_in": 0, "received": 0, "bytes_out": 0,
          "full": 0, "tc": 0, "send_errors": 0}
    n = len(socks)
    t0 = time.monotonic()
    end = t0 + a.duration
    i = 0
    batch = 64

    def drain(s):
        while True:
            try:
                d = s.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                continue
            st["received"] += 1
            st["bytes_out"] += len(d)
            if len(d) > 2 and d[2] & 0x02:
                st["tc"] += 1
            else:
                st["full"] += 1

    while True:
        now = time.monotonic()
        if now >= end:
            break
        if a.qps > 0:
            due = t0 + i / a.qps
            if due > now:
                time.sleep(min(due - now, 0.01))
                continue
        for _ in range(batch):
            s = socks[i % n]
            try:
                s.send(msgs[i & 255])
                st["sent"] += 1
                st["bytes_in"] += qlen
            except (BlockingIOError, ConnectionRefusedError):
                st["send_errors"] += 1
            drain(s)
            i += 1
    # the last replies
    quiet = time.monotonic()
    while time.monotonic() - quiet < 0.5:
        r, _, _ = select.select(socks, [], [], 0.5)
        for s in r:
            drain(s)
            quiet = time.monotonic()
    st["seconds"] = round(time.monotonic() - t0, 3)
    for s in socks:
        s.close()
    print(json.dumps(st))


def tcp_ask(src, port, msg, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(struct.pack("!H", len(msg)) + msg)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
            chunk = s.recv(65535)
            if not chunk:
                return None
            buf += chunk
        return buf[2:]


def ask(a, k, st, lock):
    """One question, the resolver's way: UDP, again after a timeout, TCP on
    TC. Each question has its own socket (a new source port), as resolvers
    randomise ports."""
    how = None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind((a.source, 0))
        u.connect(("127.0.0.1", a.port))
        for attempt in range(a.tries):
            msg = query(a.name, a.qtype, (k * 8 + attempt) & 0xFFFF, a.edns)
            u.send(msg)
            deadline = time.monotonic() + a.timeout
            reply = None
            while reply is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                r, _, _ = select.select([u], [], [], left)
                if r:
                    try:
                        d = u.recv(65535)
                    except ConnectionRefusedError:
                        continue
                    if d[:2] == msg[:2]:
                        reply = d
            if reply is None:
                continue  # timeout: try again, as a resolver does
            if reply[2] & 0x02:
                try:
                    t = tcp_ask(a.source, a.port, msg, 2.0)
                except OSError:
                    t = None
                if t is not None and not t[2] & 0x02 and (t[3] & 0x0F) == 0:
                    how = "tcp_after_tc"
                break
            if (reply[3] & 0x0F) == 0:
                how = "udp_first_try" if attempt == 0 else "udp_after_retry"
            break
    with lock:
        if how:
            st[how] += 1
            st["answered"] += 1
        else:
            st["failed"] += 1


def legit(a):
    """Questions at a steady QPS, whatever happened to the earlier ones
    (each is handled in its own thread, as a resolver serves its clients
    concurrently)."""
    import threading
    st = {"source": a.source, "asked": 0, "answered": 0, "udp_first_try": 0,
          "udp_after_retry": 0, "tcp_after_tc": 0, "failed": 0}
    lock = threading.Lock()
    threads = []
    t0 = time.monotonic()
    k = 0
    while True:
        due = t0 + k / a.qps
        if due >= t0 + a.duration:
            break
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        k += 1
        st["asked"] += 1
        t = threading.Thread(target=ask, args=(a, k, st, lock))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    print(json.dumps(st))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    f = sub.add_parser("flood")
    f.add_argument("--nets", type=int, default=32)
    f.add_argument("--hosts", type=int, default=32)
    f.add_argument("--qps", type=float, default=0, help="0: as fast as it goes")
    l = sub.add_parser("legit")
    l.add_argument("--source", required=True)
    l.add_argument("--qps", type=float, default=5)
    l.add_argument("--tries", type=int, default=3)
    l.add_argument("--timeout", type=float, default=0.8)
    for x in (f, l):
        x.add_argument("--port", type=int, required=True)
        x.add_argument("--duration", type=float, default=10)
        x.add_argument("--name", required=True)
        x.add_argument("--qtype", default="TXT")
        x.add_argument("--edns", type=int, default=4096, help="EDNS payload size, 0: no EDNS")
    a = p.parse_args()
    (flood if a.mode == "flood" else legit)(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
