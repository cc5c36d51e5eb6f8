#!/usr/bin/python3
"""Write a zone of about N records for bench/scale.sh.

    bench/scale-zone.py ORIGIN N FILE [SERIAL]

The mix is the static benchmark's (bench/make-data.py) at scale: hosts with
one or two A records, some AAAA, TXT and MX, CNAMEs to hosts, SRV records,
and every 500th name a delegation (two NS and their glue), in file order.
Deterministic: the same arguments give the same file. Exactly N records
(the SOA and the apex NS included) unless N is below 8.
"""

import sys


def records(n):
    yield "@\tNS\tns1"
    yield "@\tNS\tns2"
    yield "ns1\tA\t192.0.2.1"
    yield "ns2\tA\t192.0.2.2"
    yield "@\tMX\t10 mail"
    yield "mail\tA\t192.0.2.25"
    i = 0
    while True:
        a, b, c = (i >> 16) & 255, (i >> 8) & 255, i & 255
        if i % 500 == 499:
            yield f"sub{i}\tNS\tns1.sub{i}"
            yield f"sub{i}\tNS\tns2.sub{i}"
            yield f"ns1.sub{i}\tA\t198.51.{b}.{c}"
            yield f"ns2.sub{i}\tAAAA\t2001:db8:ffff:{i >> 16:x}:{i & 0xffff:x}::53"
        elif i % 10 == 9:
            yield f"www{i}\tCNAME\thost{i - 1}"
        elif i % 50 == 7:
            yield f"_sip._udp.h{i}\tSRV\t10 60 5060 host{i - 1}"
        else:
            yield f"host{i}\tA\t10.{a}.{b}.{c}"
            if i % 2 == 0:
                yield f"host{i}\tA\t172.16.{b}.{c}"
            if i % 3 == 0:
                yield f"host{i}\tAAAA\t2001:db8:{a:x}:{b:x}::{c:x}"
            if i % 10 == 0:
                yield f"host{i}\tTXT\t\"host {i} of the scale benchmark\""
            if i % 25 == 0:
                yield f"host{i}\tMX\t10 mail"
        i += 1


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    origin, n, path = sys.argv[1].rstrip("."), int(sys.argv[2]), sys.argv[3]
    serial = int(sys.argv[4]) if len(sys.argv) == 5 else 1
    with open(path, "w") as f:
        f.write(f"$ORIGIN {origin}.\n$TTL 3600\n"
                f"@\tSOA\tns1 hostmaster {serial} 7200 3600 1209600 300\n")
        left = max(n - 1, 7)
        out = []
        for rec in records(n):
            # a delegation is written whole, so stop before one that
            # would not fit
            if left <= 0:
                break
            out.append(rec)
            left -= 1
            if len(out) >= 65536:
                f.write("\n".join(out) + "\n")
                out = []
        # finish an open delegation (its NS without glue would be fine too)
        f.write("\n".join(out) + "\n" if out else "")


if __name__ == "__main__":
    main()
