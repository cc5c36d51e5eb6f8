#!/bin/bash
# Static-zone benchmark: gslbd and NSD serve the same zone (bench/data/
# bench.zone), each pinned to CPU 0 with one worker; dnsperf, pinned to CPU 1,
# sends the same query file (bench/data/queries-static.txt) to each for
# DURATION seconds, alternately, ROUNDS times. Prints each run's queries per
# second and the server's CPU time per query (utime+stime of the server's
# processes from /proc, before and after, divided by the queries completed),
# the medians and the ratios gslbd/NSD.
#
# On two cores the load generator is often the limit, so CPU time per query
# is the fair figure; queries per second is printed for completeness.
#
#   bench/dns-static.sh            (gslbd from $GSLBD, ./gslbd or build/gslbd)
#   DURATION=15 ROUNDS=3 bench/dns-static.sh
#
# Needs: nsd, dnsperf, dig (Debian: nsd dnsperf dnsutils; qa/setup.sh installs
# them), taskset, /usr/bin/python3, and two CPUs.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
duration=${DURATION:-15}
rounds=${ROUNDS:-3}
warmup=${WARMUP:-2}
data="$root/bench/data"
zone="$data/bench.zone"
queries="$data/queries-static.txt"
origin=bench.example
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
# dnsperf: one thread, a few sockets, enough queries in flight to keep a
# single-threaded server busy, EDNS on as resolvers send it.
dnsperf_opts=${DNSPERF_OPTS:--T 1 -c 8 -q 200 -e}

gslbd=${GSLBD:-}
if [ -z "$gslbd" ]; then
	for c in ./gslbd "$root/gslbd" "$root/build/gslbd"; do
		if [ -x "$c" ]; then
			gslbd=$c
			break
		fi
	done
fi
[ -n "$gslbd" ] && [ -x "$gslbd" ] || {
	echo "dns-static.sh: gslbd not found: build it, or set GSLBD=/path/to/gslbd" >&2
	exit 1
}
gslbd=$(cd "$(dirname "$gslbd")" && pwd)/$(basename "$gslbd")
nsd_bin=${NSD:-$(command -v nsd || echo /usr/sbin/nsd)}
for tool in "$nsd_bin" dnsperf dig taskset /usr/bin/python3; do
	command -v "$tool" >/dev/null || {
		echo "dns-static.sh: $tool not found (sudo ./qa/setup.sh installs it)" >&2
		exit 1
	}
done
if [ "$(nproc)" -lt 2 ]; then
	echo "dns-static.sh: needs two CPUs (server on one, dnsperf on the other)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gslb-bench.XXXXXX")
# for bench/lib.sh: a text query file, this name in messages
dnsperf_input=""
prog=dns-static.sh
pids=()
# cleanup (stops pids, removes work unless KEEP=1), free_port, cpu_ticks, ...
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT


wait_answer() { # port name
	local i
	for i in $(seq 1 100); do
		if dig +time=1 +tries=1 +short @127.0.0.1 -p "$1" "$2" SOA >/dev/null 2>&1 &&
			[ -n "$(dig +time=1 +tries=1 +short @127.0.0.1 -p "$1" "$2" SOA)" ]; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# --- gslbd --------------------------------------------------------------
cp "$zone" "$work/bench.zone"
cat >"$work/gslb.conf" <<EOF
directory = "$work";
listen = { dns = [ "127.0.0.1:0" ]; };
workers = 1;
zones = ( { origin = "$origin"; file = "bench.zone"; } );
EOF
"$gslbd" -t -c "$work/gslb.conf" >"$work/check.log" 2>&1 || {
	cat "$work/check.log" >&2
	exit 1
}
taskset -c "$server_cpu" "$gslbd" -c "$work/gslb.conf" 2>"$work/gslbd.log" &
gslbd_pid=$!
pids+=("$gslbd_pid")
gslbd_port=
for _ in $(seq 1 100); do
	gslbd_port=$(sed -n 's/.*listening proto=udp address=127\.0\.0\.1 port=\([0-9]*\).*/\1/p' \
		"$work/gslbd.log" | head -n1)
	if [ -n "$gslbd_port" ] && grep -q ready "$work/gslbd.log"; then
		break
	fi
	kill -0 "$gslbd_pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$gslbd_port" ] || ! wait_answer "$gslbd_port" "$origin"; then
	echo "dns-static.sh: gslbd did not start:" >&2
	cat "$work/gslbd.log" >&2
	exit 1
fi

# --- NSD ----------------------------------------------------------------
nsd_port=$(free_port)
mkdir -p "$work/nsd"
cat >"$work/nsd/nsd.conf" <<EOF
server:
	ip-address: 127.0.0.1@$nsd_port
	server-count: 1
	username: ""
	chroot: ""
	zonesdir: "$work"
	database: ""
	zonelistfile: "$work/nsd/zone.list"
	xfrdfile: "$work/nsd/xfrd.state"
	xfrdir: "$work/nsd"
	pidfile: "$work/nsd/nsd.pid"
	logfile: "$work/nsd/nsd.log"
	verbosity: 0
	minimal-responses: yes
	refuse-any: yes
	rrl-ratelimit: 0
	rrl-whitelist-ratelimit: 0
remote-control:
	control-enable: no
zone:
	name: "$origin"
	zonefile: "bench.zone"
EOF
taskset -c "$server_cpu" "$nsd_bin" -d -c "$work/nsd/nsd.conf" 2>"$work/nsd/stderr.log" &
nsd_pid=$!
pids+=("$nsd_pid")
if ! wait_answer "$nsd_port" "$origin"; then
	echo "dns-static.sh: nsd did not start:" >&2
	cat "$work/nsd/stderr.log" "$work/nsd/nsd.log" >&2 2>/dev/null || true
	exit 1
fi

# Both must give the same answers to be worth comparing.
mismatch=0
for q in "host1.$origin A" "host3.$origin AAAA" "www5.$origin A" "nx1.$origin A" \
	"$origin MX" "x.sub.$origin A"; do
	# shellcheck disable=SC2086
	a=$(dig +norec +noall +answer +authority @127.0.0.1 -p "$gslbd_port" $q | sort)
	# shellcheck disable=SC2086
	b=$(dig +norec +noall +answer +authority @127.0.0.1 -p "$nsd_port" $q | sort)
	if [ "$a" != "$b" ]; then
		echo "warning: answers differ for '$q':" >&2
		echo "  gslbd: $a" >&2
		echo "  nsd:   $b" >&2
		mismatch=1
	fi
done


echo "gslb static DNS benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
	"kernel $(uname -r)"
echo "gslbd: $gslbd ($("$gslbd" --version 2>&1 | head -n1))"
echo "nsd:   $nsd_bin ($("$nsd_bin" -v 2>&1 | head -n1))"
echo "dnsperf $(dpkg-query -W -f '${Version}' dnsperf 2>/dev/null || echo '?'): $dnsperf_opts," \
	"${duration}s per run, $rounds rounds; servers on CPU $server_cpu, dnsperf on CPU $client_cpu"
echo "zone: $(grep -cv '^[;$]' "$zone") records; queries: $(wc -l <"$queries") lines"
[ "$mismatch" -eq 0 ] && echo "answers: gslbd and NSD agree on the spot checks"
echo

# Warm both up (caches, page faults) before measuring.
run_dnsperf "$gslbd_port" "$warmup" "$work/warmup-gslbd.txt"
run_dnsperf "$nsd_port" "$warmup" "$work/warmup-nsd.txt"

printf '%-6s %-6s %12s %16s %12s\n' round server "queries/s" "CPU us/query" completed
results="$work/results.txt"
: >"$results"
for r in $(seq 1 "$rounds"); do
	for s in gslbd nsd; do
		if [ "$s" = gslbd ]; then
			line=$(measure gslbd "$gslbd_pid" "$gslbd_port" "$r" | cut -d" " -f1-3)
		else
			line=$(measure nsd "$nsd_pid" "$nsd_port" "$r" | cut -d" " -f1-3)
		fi
		echo "$s $line" >>"$results"
		read -r qps cpu done <<<"$line"
		printf '%-6s %-6s %12s %16s %12s\n' "$r" "$s" "$qps" "$cpu" "$done"
	done
done

echo
for s in gslbd nsd; do
	printf '%-6s %s; %s\n' "$s" \
		"$(sed -n 's/^ *Response codes: *//p' "$work/dnsperf-$s-1.txt")" \
		"$(sed -n 's/^ *Average packet size: *//p' "$work/dnsperf-$s-1.txt")"
done
echo
/usr/bin/python3 - "$results" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, qps, cpu, done = line.split()
    runs.setdefault(name, []).append((float(qps), float(cpu)))
med = {n: (statistics.median(q for q, _ in r), statistics.median(c for _, c in r))
       for n, r in runs.items()}
for n in ("gslbd", "nsd"):
    print(f"median {n:6s} {med[n][0]:12.0f} queries/s {med[n][1]:10.3f} CPU us/query")
g, d = med["gslbd"], med["nsd"]
print(f"ratio gslbd/NSD: queries/s {g[0] / d[0]:.2f}, CPU per query {g[1] / d[1]:.2f}"
      f" ({'at most' if g[1] <= d[1] else 'more than'} NSD's)")
EOF
