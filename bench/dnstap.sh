#!/bin/bash
# dnstap cost: CPU time per query of gslbd with dnstap logging every query
# and its response (sample = 1) to a real collector (fstrm_capture writing
# a file), against the same gslbd config without dnstap, in the same run.
# Two gslbd processes, "off" and "on", each with one UDP worker, both pinned
# to CPU 0 (the dnstap I/O thread of "on" too: it is part of the cost);
# dnsperf and fstrm_capture on CPU 1. dnsperf sends a binary query file of
# "www.bench.test A" queries with an ECS /24 each (bench/geo/queries.py, the
# same as dns-geo.sh) at RATE queries per second (the same load for both:
# a saturated server's CPU per query depends on how full its receive
# batches are, and the collector on CPU 1 slows dnsperf down) for DURATION
# seconds to each, alternately, ROUNDS times. Prints each run's queries per second and CPU time per query
# (utime+stime of all the process's threads from /proc/PID/stat, before and
# after, divided by the queries completed), the medians and the ratio
# on/off (the target: at most 1.3), and the messages the collector got
# against gslb_dnstap_sent_total and the drops.
#
#   bench/dnstap.sh                       (demo database geoip/demo-city.mmdb)
#   GEO_DB=/path/to/GeoLite2-City.mmdb DURATION=15 ROUNDS=3 bench/dnstap.sh
#
# Knobs: DURATION (default 10), ROUNDS (3), WARMUP (2), QUERIES (100000),
# RATE (40000, a rate both reach on the machine; 0 = as fast as the server
# answers), DNSPERF_OPTS (-T 1 -c 8 -q 200 -Q RATE), GSLBD, SERVER_CPU, CLIENT_CPU, KEEP=1.
# Needs: dnsperf, fstrm_capture (fstrm-bin), curl, taskset, /usr/bin/python3
# with python3-dnspython, two CPUs.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
duration=${DURATION:-10}
rounds=${ROUNDS:-3}
warmup=${WARMUP:-2}
nqueries=${QUERIES:-100000}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
rate=${RATE:-40000}
limit=
[ "$rate" = 0 ] || limit="-Q $rate"
dnsperf_opts=${DNSPERF_OPTS:--T 1 -c 8 -q 200 $limit}
db=${GEO_DB:-$root/geoip/demo-city.mmdb}
gslbd=${GSLBD:-$root/build/gslbd}
[ -x "$gslbd" ] || gslbd=$root/gslbd
[ -x "$gslbd" ] || {
	echo "dnstap.sh: gslbd not found: build it, or set GSLBD=/path/to/gslbd" >&2
	exit 1
}
for tool in dnsperf fstrm_capture curl taskset /usr/bin/python3; do
	command -v "$tool" >/dev/null || {
		echo "dnstap.sh: $tool not found (Debian: dnsperf fstrm-bin curl util-linux)" >&2
		exit 1
	}
done

work=$(mktemp -d "${TMPDIR:-/tmp}/gslb-bench-dnstap.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "work files kept in $work"; fi
}
trap cleanup EXIT

queries=$work/queries.bin
qinfo=$(/usr/bin/python3 "$root/bench/geo/queries.py" make "$db" "$queries" \
	--count "$nqueries" --name www.bench.test)

printf '%s\n' '$ORIGIN bench.test.' '$TTL 300' '@ SOA ns1 hostmaster 1 7200 3600 1209600 300' \
	'@ NS ns1' 'ns1 A 192.0.2.53' >"$work/bench.zone"

# conf NAME EXTRA: a config with the five regions of dns-geo.sh.
conf() {
	cat >"$work/$1.conf" <<EOF
directory = "$work";
listen = { dns = [ "127.0.0.1:0" ]; admin = "127.0.0.1:0"; };
workers = 1;
geoip = { database = "$db"; compact = true; };
zones = ( { origin = "bench.test"; file = "bench.zone"; } );
regions = (
  { name = "us-east"; lat = 39.04; lon = -77.49; },
  { name = "us-west"; lat = 45.6; lon = -121.2; },
  { name = "eu-east"; lat = 52.23; lon = 21.01; },
  { name = "eu-west"; lat = 53.35; lon = -6.26; },
  { name = "ap-southeast"; lat = 1.35; lon = 103.82; }
);
services = ( { name = "www.bench.test"; ttl = 30; answers = 2; pools = (
  { region = "us-east"; members = [ "192.0.2.1", "192.0.2.2" ]; },
  { region = "us-west"; members = [ "192.0.2.11", "192.0.2.12" ]; },
  { region = "eu-east"; members = [ "198.51.100.1", "198.51.100.2" ]; },
  { region = "eu-west"; members = [ "198.51.100.11", "198.51.100.12" ]; },
  { region = "ap-southeast"; members = [ "203.0.113.1", "203.0.113.2" ]; } ); } );
$2
EOF
}

taskset -c "$client_cpu" fstrm_capture -t protobuf:dnstap.Dnstap -u "$work/dnstap.sock" \
	-w "$work/dnstap.fstrm" >"$work/capture.log" 2>&1 &
capture_pid=$!
pids+=("$capture_pid")
for _ in $(seq 1 100); do [ -S "$work/dnstap.sock" ] && break; sleep 0.05; done

conf off ""
conf on "dnstap = { socket = \"dnstap.sock\"; identity = \"bench\"; };"
declare -A pid port admin
for s in off on; do
	taskset -c "$server_cpu" "$gslbd" -c "$work/$s.conf" 2>"$work/$s.log" &
	pid[$s]=$!
	pids+=("${pid[$s]}")
	for _ in $(seq 1 200); do grep -qs " ready" "$work/$s.log" && break; sleep 0.05; done
	port[$s]=$(sed -n 's/.*listening proto=udp address=127\.0\.0\.1 port=\([0-9]*\).*/\1/p' \
		"$work/$s.log" | head -n1)
	admin[$s]=$(sed -n 's/.*listening proto=admin address=127\.0\.0\.1 port=\([0-9]*\).*/\1/p' \
		"$work/$s.log" | head -n1)
	[ -n "${port[$s]}" ] || {
		echo "dnstap.sh: gslbd ($s) did not start:" >&2
		cat "$work/$s.log" >&2
		exit 1
	}
done
grep -q "dnstap collector connected" "$work/on.log" || sleep 1

ticks() { # pid: utime+stime of all its threads
	awk '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"
}
measure() { # name round -> "qps us_per_query completed"
	local out=$work/dnsperf-$1-$2.txt t0 t1
	t0=$(ticks "${pid[$1]}")
	taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "${port[$1]}" -B -d "$queries" \
		-l "$duration" $dnsperf_opts >"$out" 2>&1
	t1=$(ticks "${pid[$1]}")
	/usr/bin/python3 - "$out" "$t0" "$t1" <<'EOF'
import os, re, sys
text = open(sys.argv[1]).read()
done = int(re.search(r"Queries completed: *(\d+)", text).group(1))
qps = float(re.search(r"Queries per second: *([\d.]+)", text).group(1))
us = (int(sys.argv[3]) - int(sys.argv[2])) / os.sysconf("SC_CLK_TCK") / max(done, 1) * 1e6
print(f"{qps:.0f} {us:.3f} {done}")
EOF
}

echo "gslb dnstap benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
	"kernel $(uname -r); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "gslbd: $gslbd ($("$gslbd" --version 2>&1 | head -n1)), one worker, CPU $server_cpu;" \
	"dnsperf and fstrm_capture on CPU $client_cpu"
echo "queries: ${qinfo#*: }, ECS /24 each; dnsperf -B $dnsperf_opts, ${duration}s per run, $rounds rounds"
echo
for s in off on; do
	taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "${port[$s]}" -B -d "$queries" \
		-l "$warmup" $dnsperf_opts >/dev/null 2>&1
done
printf '%-6s %-7s %12s %14s %12s\n' round dnstap "queries/s" "CPU us/query" completed
: >"$work/results.txt"
for r in $(seq 1 "$rounds"); do
	for s in off on; do
		line=$(measure "$s" "$r")
		echo "$s $line" >>"$work/results.txt"
		read -r qps cpu ndone <<<"$line"
		printf '%-6s %-7s %12s %14s %12s\n' "$r" "$s" "$qps" "$cpu" "$ndone"
	done
done
sleep 2 # a flush (1 s) and more
metrics=$(curl -s "http://127.0.0.1:${admin[on]}/metrics" | grep '^gslb_dnstap')
kill "$capture_pid"
wait "$capture_pid" 2>/dev/null || true
echo
/usr/bin/python3 - "$work/results.txt" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, qps, cpu, _ = line.split()
    runs.setdefault(name, []).append((float(qps), float(cpu)))
med = {n: (statistics.median(q for q, _ in r), statistics.median(c for _, c in r))
       for n, r in runs.items()}
for n in ("off", "on"):
    print(f"median {n:3s}: {med[n][0]:10.0f} queries/s {med[n][1]:8.3f} us CPU/query")
print(f"ratio on/off: CPU time per query {med['on'][1] / med['off'][1]:.2f} (target at most 1.30),"
      f" queries per second {med['on'][0] / med['off'][0]:.2f}")
# each round's on/off pair ran back to back: their ratios are less noisy
pairs = [on[1] / off[1] for off, on in zip(runs["off"], runs["on"])]
print("ratio per round: " + " ".join(f"{r:.2f}" for r in pairs)
      + f"; median {statistics.median(pairs):.2f}")
EOF
echo "$metrics" | sed 's/^/on: /'
echo "collector: $(grep -o 'wrote [0-9]* frames, [0-9]* bytes' "$work/capture.log" | tail -n1)"
