#!/bin/bash
# DNSSEC benchmark (issue 14): geo answers with the DO bit. Three servers
# answer the same geo-balanced name, www.bench.test (five regions, two IPv4
# members each, as bench/dns-geo.sh), in the same run:
#
#   gslbd-signed    the zone signed with ECDSA P-256 (a KSK and a ZSK made by
#                   ldns-keygen): geo answers signed by gslbd, from its
#                   signature cache once warm
#   gslbd-unsigned  the same config without the dnssec group
#   knot            Knot DNS with mod-geoip (continent -> region table over
#                   the same database, client subnet on) and mod-onlinesign
#                   with the same two keys imported (keymgr import-bind):
#                   signs each answer as it goes
#
# Each server is pinned to CPU 0 with one UDP worker; dnsperf, pinned to
# CPU 1, sends a binary query file of "www.bench.test A" queries with the DO
# bit and an EDNS Client Subnet for a different /24 each (bench/geo/
# queries.py make --do), DURATION seconds per run, in turn, ROUNDS times,
# after a warm-up. Printed: queries per second and CPU time per query of
# each run (bench/lib.sh: utime+stime from /proc), the medians, the ratios
# gslbd-signed/gslbd-unsigned (issue 14's target: at most 1.3) and
# gslbd-signed/knot (target: at most 1.0); each server's RSS after the runs
# (gslbd-signed minus gslbd-unsigned: what the keys and signatures take);
# the cold start of each gslbd (from exec to its "ready" log line, the
# median of STARTS starts: the signed one signs the zone and, when the
# answer path signs geo answers at load, the config's answer sets before
# it is ready); and whether each server's geo answer carries an RRSIG (a
# gslbd that does not sign geo answers yet is flagged: its "signed" figures
# are then those of unsigned geo answers).
#
#   bench/dns-dnssec.sh [/path/to/GeoLite2-City.mmdb]
#   DURATION=5 ROUNDS=3 bench/dns-dnssec.sh        (the demo database)
#
# Knobs: GEO_DB, QUERIES (distinct queries, default 100000), GSLBD, KNOTD,
# KEYMGR, SERVER_CPU, CLIENT_CPU, DNSPERF_OPTS, WARMUP, STARTS, KEEP=1.
# Needs: dnsperf, dig, ldns-keygen, taskset, /usr/bin/python3 with
# python3-dnspython, two CPUs; for the Knot runs knot and knot-module-geoip
# (without the module the Knot runs are left out, and the script says so).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
prog=dns-dnssec.sh
duration=${DURATION:-10}
rounds=${ROUNDS:-3}
starts=${STARTS:-3}
# find_gslbd, cleanup (stops pids, removes work unless KEEP=1), free_port,
# cpu_ticks, the settings shared with dns-geo.sh, ...
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
# origin, service, warmup, nqueries, server_cpu, client_cpu, dnsperf_opts:
# bench/lib.sh

db=${1:-${GEO_DB:-$root/geoip/demo-city.mmdb}}
[ -f "$db" ] || {
	echo "$prog: no database at $db" >&2
	exit 1
}
db=$(cd "$(dirname "$db")" && pwd)/$(basename "$db")

find_gslbd
knotd=${KNOTD:-$(command -v knotd || echo /usr/sbin/knotd)}
keymgr=${KEYMGR:-$(command -v keymgr || echo /usr/sbin/keymgr)}
for tool in dnsperf dig ldns-keygen taskset /usr/bin/python3; do
	command -v "$tool" >/dev/null || {
		echo "$prog: $tool not found (see bench/README.md for the packages)" >&2
		exit 1
	}
done
if [ "$(nproc)" -lt 2 ]; then
	echo "$prog: needs two CPUs (server on one, dnsperf on the other)" >&2
	exit 1
fi
knot=1
knot_why=
if [ ! -x "$knotd" ] || [ ! -x "$keymgr" ]; then
	knot=0
	knot_why="knotd or keymgr not found (Debian: knot)"
elif ! compgen -G "/usr/lib/*/knot/modules-*/geoip.so" >/dev/null &&
	! compgen -G "/usr/lib/knot/modules-*/geoip.so" >/dev/null; then
	knot=0
	knot_why="Knot's geoip module not installed (Debian: knot-module-geoip)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gslb-bench-dnssec.XXXXXX")
pids=()
trap cleanup EXIT

# regions, lat, lon, members, gslbd_geo_conf: bench/lib.sh
# Knot's table: the region of each continent
declare -A continent=([NA]=us-east [SA]=us-east [EU]=eu-west [AF]=eu-east [AS]=ap-southeast
	[OC]=ap-southeast [AN]=us-west)
ttl=30

# --- query file and keys ----------------------------------------------------
queries=$work/queries.bin
qinfo=$(/usr/bin/python3 "$root/bench/geo/queries.py" make "$db" "$queries" \
	--count "$nqueries" --name "$service" --do)
mkdir -p "$work/keys"
ksk=$(cd "$work/keys" && ldns-keygen -a ECDSAP256SHA256 -k "$origin")
zsk=$(cd "$work/keys" && ldns-keygen -a ECDSAP256SHA256 "$origin")

zone_head >"$work/bench.zone"

# --- gslbd, signed and not -------------------------------------------------
gslbd_geo_conf true "dnssec = { keys = [ \"keys/$ksk\", \"keys/$zsk\" ]; };" >"$work/signed.conf"
gslbd_geo_conf true "" >"$work/unsigned.conf"

# Starts gslbd with conf; sets started_pid, started_port and started_ms (exec
# to the "ready" log line).
start_gslbd() { # name conf
	local log=$work/$1.log t0 t1
	t0=$(date +%s%N)
	taskset -c "$server_cpu" "$gslbd" -c "$2" 2>"$log" &
	started_pid=$!
	started_port=
	for _ in $(seq 1 3000); do
		if grep -q ' ready' "$log"; then
			t1=$(date +%s%N)
			break
		fi
		kill -0 "$started_pid" 2>/dev/null || break
		sleep 0.01
	done
	started_port=$(sed -n 's/.*listening proto=udp address=127\.0\.0\.1 port=\([0-9]*\).*/\1/p' \
		"$log" | head -n1)
	if [ -z "$started_port" ] || [ -z "${t1:-}" ] || ! wait_answer "$started_port" "$origin"; then
		echo "$prog: $1 did not start:" >&2
		cat "$log" >&2
		exit 1
	fi
	started_ms=$(((t1 - t0) / 1000000))
}

# Cold start: STARTS starts of each, the median time to ready.
declare -A cold
for name in gslbd-signed gslbd-unsigned; do
	times=()
	for _ in $(seq 1 "$starts"); do
		start_gslbd "$name" "$work/${name#gslbd-}.conf"
		times+=("$started_ms")
		kill "$started_pid"
		wait "$started_pid" 2>/dev/null || true
	done
	cold[$name]=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((starts + 1) / 2))p")
done
declare -A pid port
for name in gslbd-signed gslbd-unsigned; do
	start_gslbd "$name" "$work/${name#gslbd-}.conf"
	pid[$name]=$started_pid
	port[$name]=$started_port
	pids+=("$started_pid")
done
servers=(gslbd-signed gslbd-unsigned)

# --- Knot: mod-geoip + mod-onlinesign ----------------------------------------
if [ "$knot" -eq 1 ]; then
	kd=$work/knot
	mkdir -p "$kd/db"
	cp "$work/bench.zone" "$kd/bench.zone"
	# outside the table: the zone's own records
	read -r m1 m2 <<<"${members[us-east]}"
	printf 'www\t%s\tA\t%s\nwww\t%s\tA\t%s\n' "$ttl" "$m1" "$ttl" "$m2" >>"$kd/bench.zone"
	{
		echo "$service:"
		for c in "${!continent[@]}"; do
			read -r m1 m2 <<<"${members[${continent[$c]}]}"
			printf '  - geo: "%s"\n    A: %s\n    A: %s\n' "$c" "$m1" "$m2"
		done
	} >"$kd/geo.yaml"
	kport=$(free_port)
	cat >"$kd/knot.conf" <<EOF
server:
    rundir: "$kd"
    listen: [ 127.0.0.1@$kport ]
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    edns-client-subnet: on
log:
  - target: stderr
    any: notice
database:
    storage: "$kd/db"
policy:
  - id: imported
    manual: on
mod-onlinesign:
  - id: signer
    policy: imported
mod-geoip:
  - id: geo
    config-file: "$kd/geo.yaml"
    ttl: $ttl
    mode: geodb
    geodb-file: "$db"
    geodb-key: [ continent/code ]
template:
  - id: default
    storage: "$kd"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: $origin
    file: "$kd/bench.zone"
    module: [ mod-geoip/geo, mod-onlinesign/signer ]
EOF
	for k in "$ksk" "$zsk"; do
		"$keymgr" -c "$kd/knot.conf" "$origin" import-bind "$work/keys/$k.private" \
			>>"$kd/keymgr.log" 2>&1
	done
	taskset -c "$server_cpu" "$knotd" -c "$kd/knot.conf" 2>"$work/knot.log" &
	pid[knot]=$!
	port[knot]=$kport
	pids+=("${pid[knot]}")
	if ! wait_answer "$kport" "$origin"; then
		echo "$prog: knotd did not start:" >&2
		cat "$work/knot.log" >&2
		exit 1
	fi
	servers+=(knot)
fi

# Does each server sign its geo answer? (a client in Poland)
declare -A signed
for s in "${servers[@]}"; do
	n=$(dig +norec +dnssec +subnet=83.0.0.0/24 @127.0.0.1 -p "${port[$s]}" "$service" A |
		awk '$1 == "'"$service"'." && $4 == "RRSIG"' | wc -l)
	signed[$s]=$([ "$n" -gt 0 ] && echo yes || echo no)
done

echo "gslb DNSSEC benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
	"kernel $(uname -r)"
echo "gslbd: $gslbd ($("$gslbd" --version 2>&1 | head -n1)), geoip.compact = true"
if [ "$knot" -eq 1 ]; then
	echo "knot: $knotd ($("$knotd" -V 2>&1 | head -n1)), mod-geoip (continent table) + mod-onlinesign"
else
	echo "knot: left out: $knot_why"
fi
echo "dnsperf $(dpkg-query -W -f '${Version}' dnsperf 2>/dev/null || echo '?'): -B $dnsperf_opts," \
	"${duration}s per run, $rounds rounds; servers on CPU $server_cpu, dnsperf on CPU $client_cpu"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
echo "database: $db ($(du -m "$db" | cut -f1) MB)"
echo "queries: ${qinfo#*: }, ECS /24 each, DO bit set"
echo "keys: KSK $ksk, ZSK $zsk (ECDSAP256SHA256)"
for s in "${servers[@]}"; do
	echo "geo answer signed ($s): ${signed[$s]}"
done
if [ "${signed[gslbd-signed]}" = no ]; then
	echo "NOTE: this gslbd does not sign geo answers: the gslbd-signed figures are those of"
	echo "      unsigned geo answers from a signed zone, not the issue's target"
fi
echo "cold start to ready (median of $starts): gslbd-signed ${cold[gslbd-signed]} ms," \
	"gslbd-unsigned ${cold[gslbd-unsigned]} ms"
grep -h 'dnssec' "$work/gslbd-signed.log" | sed 's/^/  gslbd-signed log: /' | head -n 5
echo

for s in "${servers[@]}"; do
	run_dnsperf "${port[$s]}" "$warmup" "$work/warmup-$s.txt"
done
printf '%-6s %-15s %12s %14s %16s %12s\n' round server "queries/s" "CPU us/query" \
	"(user + sys)" completed
results=$work/results.txt
: >"$results"
for r in $(seq 1 "$rounds"); do
	for s in "${servers[@]}"; do
		line=$(measure "$s" "${pid[$s]}" "${port[$s]}" "$r")
		echo "$s $line" >>"$results"
		read -r qps cpu ndone us sy <<<"$line"
		printf '%-6s %-15s %12s %14s %16s %12s\n' "$r" "$s" "$qps" "$cpu" "($us + $sy)" "$ndone"
	done
done
for s in "${servers[@]}"; do
	echo "rss $s $(rss_kb "${pid[$s]}")" >>"$results"
done
echo
for s in "${servers[@]}"; do
	printf '%-15s %s; %s\n' "$s" \
		"$(sed -n 's/^ *Response codes: *//p' "$work/dnsperf-$s-1.txt")" \
		"$(sed -n 's/^ *Average packet size: *//p' "$work/dnsperf-$s-1.txt")"
done
echo
/usr/bin/python3 - "$results" "${signed[gslbd-signed]}" "$root/bench/geo" <<'EOF'
import sys
sys.path.insert(0, sys.argv[3])
import medians
geo_signed = sys.argv[2] == "yes"
med, rss = medians.read(sys.argv[1])
medians.show(med, rss, 15)
s, u = med["gslbd-signed"], med["gslbd-unsigned"]
r = s[1] / u[1]
print(f"ratio gslbd-signed/gslbd-unsigned: CPU per query {r:.2f}"
      f" (target <= 1.30: {'met' if r <= 1.3 else 'NOT met'})")
if "knot" in med:
    k = med["knot"]
    r = s[1] / k[1]
    print(f"ratio gslbd-signed/knot: CPU per query {r:.2f}"
          f" (target <= 1.00: {'met' if r <= 1.0 else 'NOT met'}), queries/s {s[0] / k[0]:.2f}")
d = (rss["gslbd-signed"][1] - rss["gslbd-unsigned"][1]) / 1024
print(f"RSS gslbd-signed - gslbd-unsigned (anonymous): {d:.1f} MB (keys, signatures, cache)")
if not geo_signed:
    print("(this gslbd does not sign geo answers: not the issue's figures)")
EOF
