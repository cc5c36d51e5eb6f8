#!/bin/bash
# Cluster benchmark (issue 13): three gslbd nodes on a real three-member
# etcd on loopback. bench/cluster.py does the work (its docstring says how
# each figure is taken); this script checks the tools and prints where it
# ran.
#
#   bench/cluster.sh                    (gslbd from $GSLBD, else build/gslbd, else ./gslbd)
#   PARTS=failover ROUNDS=5 bench/cluster.sh
#   PARTS=writes MEMBERS=1000 WINDOW=60 bench/cluster.sh
#   PARTS=dnscpu DNS_SECONDS=10 bench/cluster.sh
#
# Settings: PARTS ("failover writes dnscpu"), ROUNDS (5 failover, 3 dnscpu),
# INTERVAL (1.0) and FALL (2) of the failover check, MEMBERS (1000),
# WRITES_INTERVAL (5.0), LEASE_TTL (10) and WINDOW (60 s) of the writes
# part, DNS_SECONDS (10), SERVER_CPU (0), CLIENT_CPU (1), GSLBD.
#
# Needs: etcd (Debian etcd-server), dnsperf, taskset, /usr/bin/python3 with
# dnspython and pytest (the system tests' helpers are reused), and
# 127.0.0.11-13, which Linux routes to loopback.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
parts=${PARTS:-failover writes dnscpu}
if [ -z "${GSLBD:-}" ]; then
	for c in "$root/build/gslbd" ./gslbd "$root/gslbd"; do
		if [ -x "$c" ]; then
			GSLBD=$(cd "$(dirname "$c")" && pwd)/$(basename "$c")
			break
		fi
	done
fi
[ -n "${GSLBD:-}" ] && [ -x "$GSLBD" ] || {
	echo "cluster.sh: gslbd not found: build it, or set GSLBD=/path/to/gslbd" >&2
	exit 1
}
export GSLBD GSLB_SRCDIR="$root"
for tool in etcd dnsperf taskset /usr/bin/python3; do
	command -v "$tool" >/dev/null || {
		echo "cluster.sh: $tool not found (sudo ./qa/setup.sh installs it)" >&2
		exit 1
	}
done

echo "gslb cluster benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
	"kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "source: commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'); $(etcd --version | head -n1)"
for p in $parts; do
	echo
	echo "== $p"
	/usr/bin/python3 "$root/bench/cluster.py" "$p"
done
