#!/bin/bash
# Response rate limiting against a spoofed-style flood (issue 7).
#
# gslbd serves a small zone whose name txt.flood.example has a large TXT
# RRset (the kind of answer an amplification attack picks). A flood from
# many loopback source addresses (Linux routes all of 127.0.0.0/8 to lo):
# NETS sources in as many different /24s (each its own RRL bucket) and HOSTS
# sources in one /24 (one bucket), all asking that name with EDNS for
# DURATION seconds, as fast as one Python process goes (or at QPS). Bytes in
# (queries sent) and bytes out (responses that came back to the flood's
# sockets) give the amplification factor, bytes out / bytes in: the target
# with RRL on is below 1.0.
#
# Meanwhile two resolver-like clients ask the same name at LEGIT_QPS (5/s),
# retrying a lost UDP query and going to TCP on TC, as real resolvers do:
#   legit       from 127.250.0.1, a network of its own: must get every answer;
#   spoofed-net from 127.20.0.250, inside the flooded /24 (the victim whose
#               address the attacker spoofs): shares the flood's bucket and
#               gets its answers through slip (TC, then TCP) and retries.
# Then the same flood with RRL off, for comparison.
#
#   bench/rrl.sh                 (gslbd from $GSLBD, ./gslbd or build/gslbd)
#   DURATION=5 bench/rrl.sh      (a quick look)
#   NETS=200 HOSTS=50 QPS=20000 RATE=5 SLIP=2 WINDOW=15 bench/rrl.sh
#
# Needs /usr/bin/python3, taskset, Linux (127.0.0.0/8 on lo). Prints the
# server's own view from /metrics and the kernel's UDP receive-buffer errors
# during each run (client-side counts miss what a full socket buffer drops).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
duration=${DURATION:-10}
nets=${NETS:-64}
hosts=${HOSTS:-64}
qps=${QPS:-0}
legit_qps=${LEGIT_QPS:-5}
rate=${RATE:-5}
slip=${SLIP:-2}
window=${WINDOW:-15}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
helper="$root/bench/rrl-flood.py"
py=/usr/bin/python3

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
	echo "rrl.sh: gslbd not found: build it, or set GSLBD=/path/to/gslbd" >&2
	exit 1
}
gslbd=$(cd "$(dirname "$gslbd")" && pwd)/$(basename "$gslbd")
for tool in "$py" taskset; do
	command -v "$tool" >/dev/null || {
		echo "rrl.sh: $tool not found" >&2
		exit 1
	}
done
if [ "$nets" -gt 2560 ] || [ "$hosts" -gt 249 ]; then
	echo "rrl.sh: at most NETS=2560 and HOSTS=249" >&2
	exit 1
fi
if [ "$(nproc)" -lt 2 ]; then
	server_cpu=0
	client_cpu=0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gslb-rrl.XXXXXX")
pids=()
# cleanup (stops pids, removes work unless KEEP=1), free_port, cpu_ticks, ...
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT

name=txt.flood.example
# shellcheck disable=SC2016 # $ORIGIN and $TTL are zone-file directives
{
	echo '$ORIGIN flood.example.'
	echo '$TTL 3600'
	echo '@ SOA ns1 hostmaster 1 7200 3600 1209600 300'
	echo '@ NS ns1'
	echo 'ns1 A 192.0.2.1'
	echo 'www A 192.0.2.80'
	for i in 1 2 3 4; do
		printf 'txt TXT "%s-%s"\n' "$i" "$(printf 'x%.0s' $(seq 1 180))"
	done
} >"$work/flood.zone"

# rrl_section is empty for the run without RRL.
write_conf() { # rrl_section
	cat >"$work/gslb.conf" <<EOF
directory = "$work";
listen = { dns = [ "127.0.0.1:0" ]; admin = "127.0.0.1:0"; };
workers = 1;
edns_size = 1232;
zones = ( { origin = "flood.example"; file = "flood.zone"; } );
$1
EOF
	"$gslbd" -t -c "$work/gslb.conf" >"$work/check.log" 2>&1 || {
		cat "$work/check.log" >&2
		exit 1
	}
}

start_gslbd() { # log
	taskset -c "$server_cpu" "$gslbd" -c "$work/gslb.conf" 2>"$1" &
	gslbd_pid=$!
	pids+=("$gslbd_pid")
	dns_port=
	admin_port=
	for _ in $(seq 1 200); do
		dns_port=$(sed -n 's/.*listening proto=udp address=127\.0\.0\.1 port=\([0-9]*\).*/\1/p' \
			"$1" | head -n1)
		admin_port=$(sed -n 's/.*listening proto=admin address=127\.0\.0\.1 port=\([0-9]*\).*/\1/p' \
			"$1" | head -n1)
		if [ -n "$dns_port" ] && [ -n "$admin_port" ] && grep -q ' ready' "$1"; then
			return 0
		fi
		kill -0 "$gslbd_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "rrl.sh: gslbd did not start:" >&2
	cat "$1" >&2
	exit 1
}

stop_gslbd() {
	kill "$gslbd_pid" 2>/dev/null || true
	wait "$gslbd_pid" 2>/dev/null || true
}

# "queries drop slip" from /metrics (UDP queries, RRL drops and slips).
server_counts() {
	"$py" - "$admin_port" <<'EOF'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("GET", "/metrics")
q = d = s = 0
for line in c.getresponse().read().decode().splitlines():
    if line.startswith('gslb_dns_queries_total{transport="udp"'):
        q += float(line.split()[-1])
    elif line.startswith('gslb_rrl_responses_total{action="drop"}'):
        d = float(line.split()[-1])
    elif line.startswith('gslb_rrl_responses_total{action="slip"}'):
        s = float(line.split()[-1])
print("%d %d %d" % (q, d, s))
EOF
}

# utime+stime of gslbd (all its threads), in clock ticks.
cpu_ticks() {
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$gslbd_pid/stat"
}

udp_rcvbuf_errors() {
	awk '/^Udp: [0-9]/ { print $6; exit }' /proc/net/snmp
}

# One run: flood + two legitimate clients. Prints the figures.
run() { # label
	local label=$1 before after err0 err1 cpu0 cpu1
	before=$(server_counts)
	err0=$(udp_rcvbuf_errors)
	cpu0=$(cpu_ticks)
	"$py" "$helper" legit --port "$dns_port" --name "$name" --source 127.250.0.1 \
		--qps "$legit_qps" --duration "$duration" >"$work/legit-$label.json" &
	local l1=$!
	"$py" "$helper" legit --port "$dns_port" --name "$name" --source 127.20.0.250 \
		--qps "$legit_qps" --duration "$duration" >"$work/victim-$label.json" &
	local l2=$!
	taskset -c "$client_cpu" "$py" "$helper" flood --port "$dns_port" --name "$name" \
		--nets "$nets" --hosts "$hosts" --qps "$qps" --duration "$duration" \
		>"$work/flood-$label.json"
	wait "$l1" "$l2"
	sleep 0.5
	cpu1=$(cpu_ticks)
	after=$(server_counts)
	err1=$(udp_rcvbuf_errors)
	"$py" - "$label" "$work/flood-$label.json" "$work/legit-$label.json" \
		"$work/victim-$label.json" "$before" "$after" "$err0" "$err1" "$cpu0" "$cpu1" <<'EOF'
import json, os, sys
label, ff, lf, vf, before, after, e0, e1, c0, c1 = sys.argv[1:]
cpu = (int(c1) - int(c0)) / os.sysconf("SC_CLK_TCK")
f = json.load(open(ff)); l = json.load(open(lf)); v = json.load(open(vf))
b = [int(x) for x in before.split()]; a = [int(x) for x in after.split()]
q, d, s = a[0] - b[0], a[1] - b[1], a[2] - b[2]
hdr = 28  # IPv4 + UDP
amp = f["bytes_out"] / f["bytes_in"] if f["bytes_in"] else 0
wire = (f["bytes_out"] + hdr * f["received"]) / (f["bytes_in"] + hdr * f["sent"]) if f["sent"] else 0
print("%s:" % label)
print("  flood: %d sources (%d /24s + %d hosts in one /24), %d queries of %d bytes in %.1f s "
      "(%.0f q/s)" % (f["sources"], f["nets"], f["hosts_in_one_net"], f["sent"],
                      f["query_bytes"], f["seconds"], f["sent"] / f["seconds"]))
print("  bytes in %d, bytes out %d: amplification %.3f (DNS payload), %.3f (with IP+UDP "
      "headers)" % (f["bytes_in"], f["bytes_out"], amp, wire))
print("  responses to the flood: %d full, %d TC (%.2f%% of queries answered in full)"
      % (f["full"], f["tc"], 100.0 * f["full"] / max(1, f["sent"])))
print("  server (/metrics): %d UDP queries, RRL dropped %d, slipped %d; kernel UDP receive "
      "buffer errors %d" % (q, d, s, int(e1) - int(e0)))
print("  server CPU: %.2f s, %.2f us per query" % (cpu, cpu / max(1, q) * 1e6))
for who, x in (("legit (own /24)", l), ("spoofed-net (in the flooded /24)", v)):
    print("  %s at %s: %d/%d answered (%d UDP first try, %d UDP after a retry, %d TCP after "
          "TC), %d failed" % (who, x["source"], x["answered"], x["asked"], x["udp_first_try"],
                             x["udp_after_retry"], x["tcp_after_tc"], x["failed"]))
EOF
}

echo "gslb RRL flood benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
	"kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "gslbd: $gslbd ($("$gslbd" --version 2>&1 | head -n1)), commit" \
	"$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'); 1 worker on CPU" \
	"$server_cpu, flood on CPU $client_cpu"
echo "query: $name TXT with EDNS (4 TXT strings, a large answer); ${duration} s per run;" \
	"legitimate clients at $legit_qps q/s"
echo

write_conf "rrl = { responses_per_second = $rate; slip = $slip; window = $window; };"
start_gslbd "$work/gslbd-rrl.log"
run "RRL on (responses_per_second $rate, slip $slip, window $window)"
stop_gslbd
echo
write_conf ""
start_gslbd "$work/gslbd-norrl.log"
run "RRL off"
stop_gslbd
