"""Medians of a DNS benchmark's results file (bench/dns-geo.sh,
bench/dns-dnssec.sh): one line "NAME QPS CPU_US_PER_QUERY ..." per run and
one "rss NAME VmRSS RssAnon RssFile" (kB) per server."""

import statistics


def read(path):
    """({name: (median qps, median CPU us/query)}, {name: [VmRSS, anon, file]})
    in the order the servers first appear."""
    runs, rss = {}, {}
    with open(path) as f:
        for line in f:
            fields = line.split()
            if fields[0] == "rss":
                rss[fields[1]] = [int(x) for x in fields[2:]]
                continue
            runs.setdefault(fields[0], []).append((float(fields[1]), float(fields[2])))
    med = {n: (statistics.median(q for q, _ in r), statistics.median(c for _, c in r))
           for n, r in runs.items()}
    return med, rss


def show(med, rss, width=6):
    """One "median" line per server."""
    for n, (qps, cpu) in med.items():
        v, a, fl = rss[n]
        print(f"median {n:{width}s} {qps:12.0f} queries/s {cpu:10.3f} CPU us/query"
              f"   RSS {v / 1024:7.1f} MB (anon {a / 1024:.1f}, file {fl / 1024:.1f})")
