#!/bin/bash
# Geo benchmark: gslbd and gdnsd (geoip plugin, city-auto-mode) serve the same
# geo-balanced name, www.bench.test, from five regions (datacenters) with the
# same two IPv4 members each, ordered by distance from the client's location
# in the same MaxMind-format database. Each server is pinned to CPU 0 with one
# UDP worker; dnsperf, pinned to CPU 1, sends a binary query file (dnsperf -B)
# of "www.bench.test A" queries, each carrying an EDNS Client Subnet option
# for a different /24 drawn from the database's IPv4 networks (bench/geo/
# queries.py), for DURATION seconds per run, alternately, ROUNDS times.
# Prints each run's queries per second and the server's CPU time per query
# (utime+stime from /proc, before and after, divided by the queries
# completed; also split into user and kernel time, but that split is the
# kernel's tick-sampled estimate: only the sum is exact), each server's RSS
# after the runs (VmRSS, and its anonymous and file-backed parts), the
# medians and the ratios gslbd/gdnsd.
#
# STEER=1 adds a third server, "steer": gslbd with the same service steered
# beyond "nearest" (issue 15): members_pick = "sticky" (rendezvous hash of
# the client /24) and split route rules for Europe (90/10 eu-east/eu-west)
# and North America (50/50 us-east/us-west), the rest by distance. It is
# measured in the same rounds, and the script prints its CPU per query
# against plain gslbd's (target: within 5%).
#
# The figures that count are with the full GeoLite2-City database (the issue's
# target: gslbd's CPU per query at most 0.8x gdnsd's, RSS no more than
# gdnsd's). It is not in the tree (licence, size); bench/README.md says where
# to get one. Without it the script falls back to the small demo database
# geoip/demo-city.mmdb, whose figures are NOT the headline figures.
#
#   bench/dns-geo.sh /path/to/GeoLite2-City.mmdb
#   GEO_DB=/path/to/GeoLite2-City.mmdb DURATION=15 ROUNDS=3 bench/dns-geo.sh
#   DURATION=3 ROUNDS=1 bench/dns-geo.sh        (a quick check on the demo db)
#
# CALLGRIND=1 measures instead, free of the machine's noise, the user-space
# instructions per query of each server: both run under valgrind
# --tool=callgrind, the counters are zeroed once they are up, dnsperf sends
# the query file once (-n 1), and the counts are dumped; the work directory
# keeps the callgrind files (callgrind_annotate --inclusive=yes FILE) and the
# script prints gslbd's heaviest functions. Kernel time is not in these counts.
#
# COMPACT=1 (the default) runs gslbd with geoip.compact = true: like gdnsd,
# it merges the database's networks by answer at load and answers from that
# table; COMPACT=0 measures the exact mode (lookups in the mapped database).
#
# Other knobs: QUERIES (distinct queries in the file, default 100000),
# GSLBD, GDNSD (binaries), SERVER_CPU, CLIENT_CPU, DNSPERF_OPTS, WARMUP, KEEP=1
# (keep the work directory).
#
# Needs: gdnsd 3.x, dnsperf, dig (Debian: gdnsd dnsperf dnsutils; install
# gdnsd with service start-up prevented, see bench/README.md), taskset,
# /usr/bin/python3 with python3-dnspython, and two CPUs.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
prog=dns-geo.sh
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
duration=${DURATION:-15}
rounds=${ROUNDS:-3}
# origin, service, warmup, nqueries, server_cpu, client_cpu, dnsperf_opts:
# bench/lib.sh
callgrind=${CALLGRIND:-}
compact=${COMPACT:-1}
steer=${STEER:-}
case $compact in
0) compact_conf=false ;;
*) compact_conf=true ;;
esac

db=${1:-${GEO_DB:-}}
if [ -z "$db" ]; then
	db=$root/geoip/demo-city.mmdb
fi
[ -f "$db" ] || {
	echo "dns-geo.sh: no database at $db (give the path of a GeoLite2-City .mmdb as" \
		"argument or GEO_DB=...; the demo one is built by geoip/build-mmdb.pl)" >&2
	exit 1
}
db=$(cd "$(dirname "$db")" && pwd)/$(basename "$db")

find_gslbd
gdnsd_bin=${GDNSD:-$(command -v gdnsd || echo /usr/sbin/gdnsd)}
tools=("$gdnsd_bin" dnsperf dig taskset /usr/bin/python3)
if [ -n "$callgrind" ]; then
	tools+=(valgrind callgrind_control callgrind_annotate)
fi
for tool in "${tools[@]}"; do
	command -v "$tool" >/dev/null || {
		echo "dns-geo.sh: $tool not found (see bench/README.md for the packages)" >&2
		exit 1
	}
done
/usr/bin/python3 -c 'import dns.edns' 2>/dev/null || {
	echo "dns-geo.sh: /usr/bin/python3 cannot import dnspython (Debian: python3-dnspython)" >&2
	exit 1
}
if [ "$(nproc)" -lt 2 ]; then
	echo "dns-geo.sh: needs two CPUs (server on one, dnsperf on the other)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gslb-bench-geo.XXXXXX")
# What the servers run under: nothing, or callgrind.
under() { # name
	if [ -n "$callgrind" ]; then
		echo valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.$1"
	fi
}
pids=()
trap cleanup EXIT


# regions, lat, lon, members: bench/lib.sh
ttl=30

# zone_head (the static part of the zone, the same for both): bench/lib.sh

# --- query file -----------------------------------------------------------
queries=$work/queries.bin
qinfo=$(/usr/bin/python3 "$root/bench/geo/queries.py" make "$db" "$queries" \
	--count "$nqueries" --name "$service")
# Headline figures need a full City database (e.g. GeoLite2-City), not the demo.
case "$qinfo" in
*" from GeoLite2-City "* | *" from GeoIP2-City "*) headline=1 ;;
*) headline=0 ;;
esac

# --- gslbd ----------------------------------------------------------------
zone_head >"$work/bench.zone"
# The STEER=1 server's service keys: splits and sticky members.
steer_service() { # steer: 0 plain nearest (nothing), 1 splits and sticky members
	[ "$1" = 1 ] || return 0
	cat <<EOF
    members_pick = "sticky";
    route = (
      { match = "continent:EU";
        split = ( { region = "eu-east"; weight = 90; }, { region = "eu-west"; weight = 10; } ); },
      { match = "continent:NA";
        split = ( { region = "us-east"; weight = 50; }, { region = "us-west"; weight = 50; } ); }
    );
EOF
}

start_gslbd() { # name steer: sets started_pid and started_port
	local name=$1 conf=$work/$1.conf
	gslbd_geo_conf "$compact_conf" "" "$(steer_service "$2")" >"$conf"
	"$gslbd" -t -c "$conf" >"$work/check-$name.log" 2>&1 || {
		cat "$work/check-$name.log" >&2
		exit 1
	}
	# shellcheck disable=SC2046
	taskset -c "$server_cpu" $(under "$name") "$gslbd" -c "$conf" 2>"$work/$name.log" &
	started_pid=$!
	pids+=("$started_pid")
	started_port=
	for _ in $(seq 1 600); do
		started_port=$(sed -n \
			's/.*listening proto=udp address=127\.0\.0\.1 port=\([0-9]*\).*/\1/p' \
			"$work/$name.log" | head -n1)
		if [ -n "$started_port" ] && grep -q ready "$work/$name.log"; then
			break
		fi
		kill -0 "$started_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$started_port" ] || ! wait_answer "$started_port" "$origin"; then
		echo "dns-geo.sh: $name did not start:" >&2
		cat "$work/$name.log" >&2
		exit 1
	fi
}
start_gslbd gslbd 0
gslbd_pid=$started_pid
gslbd_port=$started_port
servers=(gslbd gdnsd)
if [ -n "$steer" ]; then
	start_gslbd steer 1
	steer_pid=$started_pid
	steer_port=$started_port
	servers=(gslbd steer gdnsd)
fi

# --- gdnsd ----------------------------------------------------------------
# Its own config directory, run and state directories; one UDP and one TCP
# thread on the one address; city-auto-mode over the same database.
gdnsd_port=$(free_port)
gd=$work/gdnsd
mkdir -p "$gd/zones" "$gd/run" "$gd/state"
{
	zone_head
	echo "www	$ttl	DYNA	geoip!www"
} >"$gd/zones/$origin"
{
	cat <<EOF
options => {
  listen => { 127.0.0.1:$gdnsd_port => { udp_threads => 1, tcp_threads => 1 } }
  run_dir => $gd/run
  state_dir => $gd/state
}
plugins => {
  geoip => {
    maps => {
      bench => {
        geoip2_db => "$db"
        datacenters => [ ${regions[*]} ]
        auto_dc_coords => {
EOF
	for r in "${regions[@]}"; do
		echo "          $r => [ ${lat[$r]}, ${lon[$r]} ]"
	done
	cat <<EOF
        }
      }
    }
    resources => {
      www => {
        map => bench
        dcmap => {
EOF
	for r in "${regions[@]}"; do
		read -r m1 m2 <<<"${members[$r]}"
		echo "          $r => [ $m1, $m2 ]"
	done
	cat <<EOF
        }
      }
    }
  }
}
EOF
} >"$gd/config"
"$gdnsd_bin" -c "$gd" checkconf >"$gd/checkconf.log" 2>&1 || {
	echo "dns-geo.sh: gdnsd checkconf failed:" >&2
	cat "$gd/checkconf.log" >&2
	exit 1
}
# shellcheck disable=SC2046
taskset -c "$server_cpu" $(under gdnsd) "$gdnsd_bin" -c "$gd" start 2>"$work/gdnsd.log" &
gdnsd_pid=$!
pids+=("$gdnsd_pid")
if ! wait_answer "$gdnsd_port" "$origin" 600; then
	echo "dns-geo.sh: gdnsd did not start:" >&2
	cat "$work/gdnsd.log" >&2
	exit 1
fi

# Both must choose the same regions to be worth comparing: send a sample of
# the query file to both and count equal answer sets. Ties and places the two
# locate differently (no coordinates in the record: gdnsd falls back to the
# datacenters order, gslbd to a country centroid) may differ a little.
read -r same sample < <(/usr/bin/python3 "$root/bench/geo/queries.py" compare \
	"$queries" "$gslbd_port" "$gdnsd_port" --count 1000 2>"$work/compare.log")

echo "gslb geo DNS benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
	"kernel $(uname -r)"
echo "gslbd: $gslbd ($("$gslbd" --version 2>&1 | head -n1)), geoip.compact = $compact_conf"
echo "gdnsd: $gdnsd_bin ($("$gdnsd_bin" -V 2>&1 | sed -n 's/^gdnsd version //p' | head -n1))"
if [ -n "$callgrind" ]; then
	echo "dnsperf $(dpkg-query -W -f '${Version}' dnsperf 2>/dev/null || echo '?'): one pass" \
		"(-n 1) per server under callgrind; servers on CPU $server_cpu, dnsperf on CPU $client_cpu"
else
	echo "dnsperf $(dpkg-query -W -f '${Version}' dnsperf 2>/dev/null || echo '?'): -B $dnsperf_opts," \
		"${duration}s per run, $rounds rounds; servers on CPU $server_cpu, dnsperf on CPU $client_cpu"
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
echo "database: $db ($(du -m "$db" | cut -f1) MB)"
if [ "$headline" -eq 0 ]; then
	echo "NOTE: not a full GeoLite2/GeoIP2-City database: these are NOT the headline figures; give the full"
	echo "      GeoLite2-City database as argument or GEO_DB=... (see bench/README.md)"
fi
echo "queries: ${qinfo#*: }, ECS /24 each"
echo "service: $service, ${#regions[@]} regions x 2 IPv4 members, distance ordering, TTL $ttl"
echo "answers: gslbd and gdnsd give the same address set for $same of $sample sampled queries"
if [ "$same" -lt "$sample" ]; then
	sed 's/^/  /' "$work/compare.log"
fi
if [ -n "$steer" ]; then
	echo "steer: the same service in a third server, gslbd with members_pick = sticky and split"
	echo "       rules for continent:EU (90/10) and continent:NA (50/50)"
fi
echo

if [ -n "$callgrind" ]; then
	# One pass over the query file each, counters zeroed just before.
	cg_run() { # name pid port
		local out=$work/dnsperf-$1-callgrind.txt f='' ir ndone
		callgrind_control -z "$2" >/dev/null 2>&1
		taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "$3" -B -d "$queries" -n 1 \
			-T 1 -c 8 -q 50 -t 10 >"$out" 2>&1
		callgrind_control -d "$2" >/dev/null 2>&1
		ndone=$(sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p' "$out")
		for _ in $(seq 1 100); do
			f=$(find "$work" -maxdepth 1 -name "callgrind.$1.*" | head -n1)
			[ -n "$f" ] && grep -q '^summary:' "$f" && break
			sleep 0.1
		done
		ir=$(sed -n 's/^summary: *//p' "$f" | head -n1)
		echo "$1 $ir $ndone" >>"$work/callgrind.txt"
	}
	cg_run gslbd "$gslbd_pid" "$gslbd_port"
	if [ -n "$steer" ]; then
		cg_run steer "$steer_pid" "$steer_port"
	fi
	cg_run gdnsd "$gdnsd_pid" "$gdnsd_port"
	echo "user-space instructions per query (callgrind; one pass over the query file;"
	echo "kernel time not counted)"
	/usr/bin/python3 - "$work/callgrind.txt" <<'EOF'
import sys
v = {}
for line in open(sys.argv[1]):
    n, ir, done = line.split()
    v[n] = int(ir) / int(done)
    print(f"{n:6s} {int(ir):14d} instructions {int(done):8d} queries {v[n]:10.0f} per query")
print(f"ratio gslbd/gdnsd: instructions per query {v['gslbd'] / v['gdnsd']:.2f}")
if "steer" in v:
    print(f"ratio steer/gslbd: instructions per query {v['steer'] / v['gslbd']:.3f}")
EOF
	echo
	echo "gslbd, inclusive, heaviest first (callgrind_annotate --inclusive=yes):"
	callgrind_annotate --inclusive=yes "$(find "$work" -maxdepth 1 -name 'callgrind.gslbd.*' |
		head -n1)" 2>/dev/null | sed -n '/file:function/,$p' | grep '\[' | head -n 25
	exit 0
fi

# Warm both up (caches, page faults) before measuring.
run_dnsperf "$gslbd_port" "$warmup" "$work/warmup-gslbd.txt"
run_dnsperf "$gdnsd_port" "$warmup" "$work/warmup-gdnsd.txt"
if [ -n "$steer" ]; then
	run_dnsperf "$steer_port" "$warmup" "$work/warmup-steer.txt"
fi

printf '%-6s %-6s %12s %14s %16s %12s\n' round server "queries/s" "CPU us/query" "(user + sys)" completed
results="$work/results.txt"
: >"$results"
for r in $(seq 1 "$rounds"); do
	for s in "${servers[@]}"; do
		case $s in
		gslbd) line=$(measure gslbd "$gslbd_pid" "$gslbd_port" "$r") ;;
		steer) line=$(measure steer "$steer_pid" "$steer_port" "$r") ;;
		*) line=$(measure gdnsd "$gdnsd_pid" "$gdnsd_port" "$r") ;;
		esac
		echo "$s $line" >>"$results"
		read -r qps cpu ndone us sy <<<"$line"
		printf '%-6s %-6s %12s %14s %16s %12s\n' "$r" "$s" "$qps" "$cpu" "($us + $sy)" "$ndone"
	done
done
echo "rss gslbd $(rss_kb "$gslbd_pid")" >>"$results"
echo "rss gdnsd $(rss_kb "$gdnsd_pid")" >>"$results"
if [ -n "$steer" ]; then
	echo "rss steer $(rss_kb "$steer_pid")" >>"$results"
fi

echo
for s in "${servers[@]}"; do
	printf '%-6s %s; %s\n' "$s" \
		"$(sed -n 's/^ *Response codes: *//p' "$work/dnsperf-$s-1.txt")" \
		"$(sed -n 's/^ *Average packet size: *//p' "$work/dnsperf-$s-1.txt")"
done
echo
/usr/bin/python3 - "$results" "$root/bench/geo" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
import medians
med, rss = medians.read(sys.argv[1])
medians.show(med, rss)
g, d = med["gslbd"], med["gdnsd"]
cr = g[1] / d[1]
rr = rss["gslbd"][0] / rss["gdnsd"][0]
print(f"ratio gslbd/gdnsd: queries/s {g[0] / d[0]:.2f}, CPU per query {cr:.2f}"
      f" (target <= 0.80: {'met' if cr <= 0.8 else 'NOT met'}), RSS {rr:.2f}"
      f" (target <= 1.00: {'met' if rr <= 1.0 else 'NOT met'})")
if "steer" in med:
    sr = med["steer"][1] / g[1]
    print(f"ratio steer/gslbd (splits and sticky members against plain nearest): CPU per query"
          f" {sr:.3f} (target <= 1.05: {'met' if sr <= 1.05 else 'NOT met'}),"
          f" queries/s {med['steer'][0] / g[0]:.3f}")
EOF
if [ "$headline" -eq 0 ]; then
	echo "(not a full City database: not the headline figures)"
fi
