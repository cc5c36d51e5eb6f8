#!/usr/bin/python3
"""Write the static benchmark's zone and query file (bench/data/).

bench.zone: bench.example with a few hundred names (A, AAAA, MX, TXT, SRV,
CNAME, a delegation with glue). queries-static.txt: dnsperf's format, one
"name type" a line, a fixed pseudo-random mix of existing names and types
plus some names that do not exist (NXDOMAIN) and some types a name lacks
(NODATA). Deterministic: rerun after changing it and commit the output.

    /usr/bin/python3 bench/make-data.py
"""

import os
import random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
ORIGIN = "bench.example"
HOSTS = 300


def zone():
    z = [f"$ORIGIN {ORIGIN}.", "$TTL 3600",
         "@\tSOA\tns1 hostmaster 2024010101 7200 3600 1209600 300",
         "@\tNS\tns1", "@\tNS\tns2", "@\tMX\t10 mail", "@\tTXT\t\"v=spf1 mx -all\"",
         "ns1\tA\t192.0.2.1", "ns1\tAAAA\t2001:db8::1",
         "ns2\tA\t192.0.2.2", "ns2\tAAAA\t2001:db8::2",
         "mail\tA\t192.0.2.25", "mail\tAAAA\t2001:db8::25",
         "_sip._udp\tSRV\t10 60 5060 sip", "sip\tA\t192.0.2.60",
         "sub\tNS\tns1.sub", "ns1.sub\tA\t192.0.2.70"]
    for i in range(HOSTS):
        z.append(f"host{i}\tA\t10.{i // 250}.{i % 250}.1")
        if i % 2 == 0:
            z.append(f"host{i}\tA\t10.{i // 250}.{i % 250}.2")
        if i % 3 == 0:
            z.append(f"host{i}\tAAAA\t2001:db8:{i:x}::1")
        if i % 10 == 0:
            z.append(f"host{i}\tTXT\t\"host {i} of the static benchmark\"")
        if i % 25 == 0:
            z.append(f"host{i}\tMX\t10 mail")
    for i in range(0, HOSTS, 5):
        z.append(f"www{i}\tCNAME\thost{i}")
    return "\n".join(z) + "\n"


def queries():
    rnd = random.Random(20240101)
    q = []
    for _ in range(10000):
        r = rnd.random()
        i = rnd.randrange(HOSTS)
        if r < 0.55:
            q.append(f"host{i}.{ORIGIN} A")
        elif r < 0.70:
            q.append(f"host{i - i % 3}.{ORIGIN} AAAA")
        elif r < 0.75:
            q.append(f"host{i - i % 10}.{ORIGIN} TXT")
        elif r < 0.78:
            q.append(f"{ORIGIN} MX")
        elif r < 0.80:
            q.append(f"_sip._udp.{ORIGIN} SRV")
        elif r < 0.87:
            q.append(f"www{i - i % 5}.{ORIGIN} A")
        elif r < 0.90:
            q.append(f"host{i}.{ORIGIN} MX" if i % 25 else f"host{i}.{ORIGIN} SRV")
        elif r < 0.92:
            q.append(f"x{i}.sub.{ORIGIN} A")
        else:
            q.append(f"nx{rnd.randrange(100000)}.{ORIGIN} A")
    return "\n".join(q) + "\n"


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "bench.zone"), "w") as f:
        f.write(zone())
    with open(os.path.join(OUT, "queries-static.txt"), "w") as f:
        f.write(queries())


if __name__ == "__main__":
    main()
