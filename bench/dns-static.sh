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
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ -z "${KEEP:-}" ]; then
		rm -rf "$work"
	else
		echo "work files kept in $work"
	fi
}
trap cleanup EXIT

# A port free for both UDP and TCP on 127.0.0.1 right now.
free_port() {
	/usr/bin/python3 - <<'EOF'
import socket
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        u.close()
        continue
    t.close()
    u.close()
    print(port)
    break
EOF
}

# utime+stime in clock ticks of a process and all its descendants (NSD runs
# its server and xfrd as children; gslbd's threads are counted in its own
# /proc/PID/stat).
cpu_ticks() {
	/usr/bin/python3 - "$1" <<'EOF'
import os, sys
root = int(sys.argv[1])
stats = {}
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        with open(f"/proc/{d}/stat") as f:
            s = f.read()
    except OSError:
        continue
    f = s[s.rindex(")") + 2:].split()
    stats[int(d)] = (int(f[1]), int(f[11]) + int(f[12]))  # ppid, utime+stime
todo, total = [root], 0
while todo:
    p = todo.pop()
    if p in stats:
        total += stats[p][1]
        todo.extend(c for c, (pp, _) in stats.items() if pp == p)
print(total)
EOF
}

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

run_dnsperf() { # port seconds outfile
	# shellcheck disable=SC2086
	taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "$1" -d "$queries" -l "$2" \
		$dnsperf_opts >"$3" 2>&1
}

# One measured run: prints "qps cpu_us_per_query completed".
measure() { # name pid port round
	local name=$1 pid=$2 port=$3 round=$4 out t0 t1 done qps
	out="$work/dnsperf-$name-$round.txt"
	t0=$(cpu_ticks "$pid")
	run_dnsperf "$port" "$duration" "$out"
	t1=$(cpu_ticks "$pid")
	done=$(sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p' "$out")
	qps=$(sed -n 's/^ *Queries per second: *\([0-9.]*\).*/\1/p' "$out")
	if [ -z "$done" ] || [ "$done" -eq 0 ]; then
		echo "dns-static.sh: dnsperf against $name completed no query:" >&2
		grep -v '^\[Timeout\]' "$out" | tail -n 15 >&2
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "dns-static.sh: $name is no longer running" >&2
		fi
		echo "dns-static.sh: last lines of $name's log:" >&2
		tail -n 20 "$work/$name.log" "$work/nsd/nsd.log" 2>/dev/null >&2 || true
		exit 1
	fi
	/usr/bin/python3 -c "import os,sys; t=os.sysconf('SC_CLK_TCK'); \
print(f'{float(sys.argv[1]):.0f} {(int(sys.argv[3])-int(sys.argv[2]))/t/int(sys.argv[4])*1e6:.3f} {sys.argv[4]}')" \
		"$qps" "$t0" "$t1" "$done"
}

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
			line=$(measure gslbd "$gslbd_pid" "$gslbd_port" "$r")
		else
			line=$(measure nsd "$nsd_pid" "$nsd_port" "$r")
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
