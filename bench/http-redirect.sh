#!/bin/bash
# HTTP redirect benchmark: gslbd's redirect listener against nginx (Debian
# nginx-light with libnginx-mod-http-geoip2) doing the same work: take the
# client address from X-Forwarded-For (the peer, 127.0.0.1, is a trusted
# proxy), look it up in the same MaxMind-format database, pick the nearest of
# the same five regions and answer 302 with Location
# https://REGION.example.com + path and query, Cache-Control private,
# max-age=30.
#
# nginx cannot compute a great-circle distance, so bench/http/redirect.py
# precomputes it: an nginx `map` from every location of the database
# ("latitude,longitude" as the geoip2 module prints it) to the region gslbd's
# distance ordering picks for it, with gslbd's fallbacks (country centroid
# from gslb/geo_centroids.c, then the first region). nginx does a geoip2
# lookup of two fields (three when the record has no coordinates) and a hash
# lookup per request; gslbd does its own lookup and orders the regions.
#
# Each server runs alone on SERVER_CPU (0) with one worker: gslbd `workers =
# 1;` and its HTTP listener's one thread for its one address (all gslbd's
# threads are pinned there), nginx one process (`master_process off;`).
# wrk runs on CLIENT_CPU (1), one thread, CONNECTIONS (50) keep-alive
# connections, bench/http/xff.lua giving each request the X-Forwarded-For of
# the next of CLIENTS (20,000) addresses drawn from the database's IPv4
# networks, weighted by address space. DURATION (15) seconds per run, the two
# servers alternately, ROUNDS (3) times, after a WARMUP (3 s) each.
#
# Before measuring, the first 200 client addresses are sent to both servers
# and their Location (and status and Cache-Control) compared. Printed per
# run: requests per second, wrk's latency p50 and p99, the server's CPU time
# per request (utime+stime of all its threads from /proc/PID/stat, before and
# after, divided by the requests wrk completed); then the medians and the
# ratios gslbd/nginx. Target (issue 5): gslbd's requests/s at least 1.0x
# nginx's.
#
#   bench/http-redirect.sh /path/to/GeoLite2-City.mmdb   (or GEO_DB=...)
#   DURATION=3 ROUNDS=1 bench/http-redirect.sh           (quick, demo database)
#   PROFILE=perf bench/http-redirect.sh DB      (then perf record -e cpu-clock on gslbd)
#   PROFILE=callgrind bench/http-redirect.sh DB (then gslbd under callgrind)
#
# Without a database the small demo one, geoip/demo-city.mmdb, is used: not
# the headline figures. Other knobs: GSLBD, NGINX (binaries), SERVER_CPU,
# CLIENT_CPU, CONNECTIONS, CLIENTS, KEEP=1 (keep the work directory),
# COMPACT=0 (gslbd without geoip.compact; the default runs it with the
# merged table, as nginx runs with its map built ahead of time).
#
# Needs: nginx (Debian nginx-light) with libnginx-mod-http-geoip2, wrk,
# taskset, /usr/bin/python3, two CPUs; perf (linux-perf) or valgrind for
# PROFILE. Install nginx with its service start-up prevented (see
# bench/README.md): it runs here in the foreground from a temporary folder.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
helper=$root/bench/http/redirect.py
luascript=$root/bench/http/xff.lua
duration=${DURATION:-15}
rounds=${ROUNDS:-3}
warmup=${WARMUP:-3}
conns=${CONNECTIONS:-50}
nclients=${CLIENTS:-20000}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
profile=${PROFILE:-}
case ${COMPACT:-1} in
0) compact_conf=false ;;
*) compact_conf=true ;;
esac
host=www.bench.test
ttl=30
py=/usr/bin/python3

db=${1:-${GEO_DB:-}}
if [ -z "$db" ]; then
	db=$root/geoip/demo-city.mmdb
fi
[ -f "$db" ] || {
	echo "http-redirect.sh: no database at $db (give a GeoLite2-City .mmdb as argument" \
		"or GEO_DB=...; see bench/README.md)" >&2
	exit 1
}
db=$(cd "$(dirname "$db")" && pwd)/$(basename "$db")

gslbd=${GSLBD:-}
if [ -z "$gslbd" ]; then
	for c in ./gslbd "$root/gslbd" "$root/build/gslbd"; do
		if [ -x "$c" ]; then
			gslbd=$c
			break
		fi
	done
fi
if [ -z "$gslbd" ] || [ ! -x "$gslbd" ]; then
	echo "http-redirect.sh: gslbd not found: build it, or set GSLBD=/path/to/gslbd" >&2
	exit 1
fi
gslbd=$(cd "$(dirname "$gslbd")" && pwd)/$(basename "$gslbd")
nginx_bin=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
geoip2_so=
for so in /usr/lib/nginx/modules/ngx_http_geoip2_module.so \
	/usr/share/nginx/modules/ngx_http_geoip2_module.so; do
	if [ -f "$so" ]; then
		geoip2_so=$so
		break
	fi
done
if [ -z "$geoip2_so" ] && command -v dpkg >/dev/null; then
	geoip2_so=$(dpkg -L libnginx-mod-http-geoip2 2>/dev/null | grep 'ngx_http_geoip2_module\.so$' |
		head -n1 || true)
fi
[ -n "$geoip2_so" ] || {
	echo "http-redirect.sh: nginx's geoip2 module not found (Debian: libnginx-mod-http-geoip2)" >&2
	exit 1
}
tools=("$nginx_bin" wrk taskset "$py")
case "$profile" in
'') ;;
perf) tools+=(perf) ;;
callgrind) tools+=(valgrind callgrind_control callgrind_annotate) ;;
*)
	echo "http-redirect.sh: PROFILE is perf or callgrind" >&2
	exit 1
	;;
esac
for tool in "${tools[@]}"; do
	command -v "$tool" >/dev/null || {
		echo "http-redirect.sh: $tool not found (see bench/README.md for the packages)" >&2
		exit 1
	}
done
if [ "$(nproc)" -lt 2 ]; then
	echo "http-redirect.sh: needs two CPUs (server on one, wrk on the other)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gslb-bench-http.XXXXXX")
pids=()
# cleanup (stops pids, removes work unless KEEP=1), free_port, cpu_ticks, ...
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT

free_port() {
	$py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}


wait_http() { # port
	for _ in $(seq 1 300); do
		if $py - "$1" "$host" <<'EOF' 2>/dev/null; then
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=1)
c.request("GET", "/", headers={"Host": sys.argv[2]})
sys.exit(0 if c.getresponse().status in (301, 302, 303, 307, 308) else 1)
EOF
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# regions, lat, lon, members: bench/lib.sh
region_args=()
for r in "${regions[@]}"; do
	region_args+=(--region "$r:${lat[$r]}:${lon[$r]}")
done

# --- data: client addresses, nginx's region map ---------------------------
clients=$work/clients.txt
cinfo=$($py "$helper" clients "$db" "$clients" --count "$nclients")
minfo=$($py "$helper" nginx-map "$db" "$work/region-map.conf" \
	--centroids "$root/gslb/geo_centroids.c" "${region_args[@]}")
dbtype=$($py -c 'import sys; sys.path.insert(0, sys.argv[1]); import redirect
d = redirect.DB(sys.argv[2]).meta; print(d.get("database_type", "?"), d.get("build_epoch", "?"))' \
	"$root/bench/http" "$db")
case "$dbtype" in
GeoLite2-City\ * | GeoIP2-City\ *) headline=1 ;;
*) headline=0 ;;
esac

# --- gslbd ----------------------------------------------------------------
cat >"$work/bench.zone" <<EOF
\$ORIGIN bench.test.
\$TTL 300
@	SOA	ns1 hostmaster 2024010101 7200 3600 1209600 300
@	NS	ns1
ns1	A	192.0.2.53
EOF
{
	cat <<EOF
directory = "$work";
listen = { dns = [ "127.0.0.1:0" ]; http = [ "127.0.0.1:0" ]; };
workers = 1;
trusted_proxies = [ "127.0.0.1/32" ];
http = { max_connections = 1024; max_per_ip = 1024; };
geoip = { database = "$db"; compact = $compact_conf; };
zones = ( { origin = "bench.test"; file = "bench.zone"; } );
regions = (
EOF
	conf_regions
	printf '\n);\nservices = (\n  { name = "%s"; ttl = %s; answers = 2;\n' "$host" "$ttl"
	printf '    redirect = { target = "https://{region}.example.com"; status = 302; };\n'
	printf '    pools = (\n'
	conf_pools
} >"$work/gslb.conf"
"$gslbd" -t -c "$work/gslb.conf" >"$work/check.log" 2>&1 || {
	cat "$work/check.log" >&2
	exit 1
}
start_gslbd() { # extra command words before gslbd (valgrind)
	taskset -c "$server_cpu" "$@" "$gslbd" -c "$work/gslb.conf" 2>"$work/gslbd.log" &
	gslbd_pid=$!
	pids+=("$gslbd_pid")
	gslbd_port=
	for _ in $(seq 1 600); do
		gslbd_port=$(sed -n 's/.*listening proto=http address=127\.0\.0\.1 port=\([0-9]*\).*/\1/p' \
			"$work/gslbd.log" | head -n1)
		if [ -n "$gslbd_port" ] && grep -q ready "$work/gslbd.log"; then
			break
		fi
		kill -0 "$gslbd_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$gslbd_port" ] || ! wait_http "$gslbd_port"; then
		echo "http-redirect.sh: gslbd did not start:" >&2
		cat "$work/gslbd.log" >&2
		exit 1
	fi
}
if [ "$profile" = callgrind ]; then
	start_gslbd valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.gslbd"
else
	start_gslbd
fi

# --- nginx ----------------------------------------------------------------
# One process, no master, from its own folder; keep-alive connections are
# not closed after keepalive_requests (1000 by default) so that both servers
# keep each connection for the whole run.
nginx_port=$(free_port)
ng=$work/nginx
mkdir -p "$ng/tmp"
cat >"$ng/nginx.conf" <<EOF
load_module $geoip2_so;
daemon off;
master_process off;
worker_processes 1;
pid $ng/nginx.pid;
error_log $ng/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  server_tokens off;
  client_body_temp_path $ng/tmp;
  proxy_temp_path $ng/tmp;
  fastcgi_temp_path $ng/tmp;
  uwsgi_temp_path $ng/tmp;
  scgi_temp_path $ng/tmp;
  keepalive_requests 100000000;
  map_hash_max_size 1048576;
  map_hash_bucket_size 128;
  geoip2 $db {
    \$geoip2_lat location latitude;
    \$geoip2_lon location longitude;
    \$geoip2_cc country iso_code;
  }
  include $work/region-map.conf;
  server {
    listen 127.0.0.1:$nginx_port;
    server_name $host;
    set_real_ip_from 127.0.0.1/32;
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
    location / {
      add_header Cache-Control "private, max-age=$ttl";
      return 302 https://\$region.example.com\$request_uri;
    }
  }
}
EOF
"$nginx_bin" -p "$ng" -c "$ng/nginx.conf" -t >"$ng/check.log" 2>&1 || {
	cat "$ng/check.log" >&2
	exit 1
}
taskset -c "$server_cpu" "$nginx_bin" -p "$ng" -c "$ng/nginx.conf" 2>"$work/nginx.log" &
nginx_pid=$!
pids+=("$nginx_pid")
if ! wait_http "$nginx_port"; then
	echo "http-redirect.sh: nginx did not start:" >&2
	cat "$work/nginx.log" "$ng/error.log" >&2 || true
	exit 1
fi

# Both must answer alike to be worth comparing.
read -r same sample < <($py "$helper" compare "$clients" "$gslbd_port" "$nginx_port" \
	--count 200 --host "$host" 2>"$work/compare.log")

# wrk's own CPU time goes to OUTFILE.times (bash's `times` in a subshell:
# its second line is the children's user and system time).
run_wrk() { # port seconds outfile
	(
		WRK_XFF_FILE=$clients WRK_HOST=$host taskset -c "$client_cpu" \
			wrk -t 1 -c "$conns" -d "${2}s" --latency -s "$luascript" \
			"http://127.0.0.1:$1/" >"$3" 2>&1
		times >"$3.times"
	)
}

# One measured run: prints "rps p50_ms p99_ms cpu_us_per_request requests
# wait_us_per_request wrk_cpu_us_per_request bytes_per_response".
measure() { # name pid port round
	local name=$1 pid=$2 port=$3 round=$4 out t0 t1
	out="$work/wrk-$name-$round.txt"
	t0=$(cpu_ticks "$pid")
	run_wrk "$port" "$duration" "$out"
	t1=$(cpu_ticks "$pid")
	$py - "$out" "$t0" "$t1" "$name" <<'EOF'
import os, re, sys
text = open(sys.argv[1]).read()
times = open(sys.argv[1] + ".times").read().splitlines()[1].split()
t = os.sysconf("SC_CLK_TCK")
m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", text)
rps = re.search(r"Requests/sec:\s*([\d.]+)", text)
if not m or not rps or int(m.group(1)) == 0:
    sys.exit(f"http-redirect.sh: wrk against {sys.argv[4]} completed no request:\n{text}")
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
err = re.search(r"Socket errors: (.*)", text)
if bad or err:
    print(f"http-redirect.sh: {sys.argv[4]}: {bad.group(0) if bad else ''} "
          f"{err.group(0) if err else ''}", file=sys.stderr)
def ms(s):
    v = re.match(r"([\d.]+)(us|ms|s)", s)
    return float(v.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[v.group(2)]
def secs(s):  # bash times: 0m1.234s
    v = re.match(r"(\d+)m([\d.]+)s", s)
    return int(v.group(1)) * 60 + float(v.group(2))
lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M))
n = int(m.group(1))
a, b = [int(x) for x in sys.argv[2].split()], [int(x) for x in sys.argv[3].split()]
cpu = (b[0] - a[0] + b[1] - a[1]) / t
wait = (b[2] - a[2]) / 1e9
wrk = secs(times[0]) + secs(times[1])
tr = re.search(r"Transfer/sec:\s*([\d.]+)([KMG]?B)", text)
size = float(tr.group(1)) * {"B": 1, "KB": 1024, "MB": 1 << 20, "GB": 1 << 30}[tr.group(2)]
print(f"{float(rps.group(1)):.0f} {ms(lat['50']):.3f} {ms(lat['99']):.3f} {cpu / n * 1e6:.3f} {n}"
      f" {wait / n * 1e6:.3f} {wrk / n * 1e6:.3f} {size / float(rps.group(1)):.0f}")
EOF
}

echo "gslb HTTP redirect benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
	"kernel $(uname -r)"
echo "gslbd: $gslbd ($("$gslbd" --version 2>&1 | head -n1)), geoip.compact = $compact_conf"
echo "nginx: $nginx_bin ($("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //'); $geoip2_so)"
echo "wrk $(dpkg-query -W -f '${Version}' wrk 2>/dev/null || echo '?'): -t 1 -c $conns," \
	"keep-alive, ${duration}s per run, $rounds rounds; servers on CPU $server_cpu, wrk on CPU $client_cpu"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
echo "database: $db ($dbtype, $(du -m "$db" | cut -f1) MB)"
if [ "$headline" -eq 0 ]; then
	echo "NOTE: not a full GeoLite2/GeoIP2-City database: these are NOT the headline figures"
fi
echo "clients: $cinfo"
echo "nginx map: $minfo"
echo "answers: gslbd and nginx give the same status, Location and Cache-Control for $same of $sample" \
	"sampled clients"
sed 's/^/  /' "$work/compare.log"
echo

if [ -n "$profile" ]; then
	run_wrk "$gslbd_port" "$warmup" "$work/warmup-gslbd.txt"
	if [ "$profile" = perf ]; then
		perf record -e cpu-clock -g -p "$gslbd_pid" -o "$work/perf.data" -- sleep "$duration" \
			>"$work/perf.log" 2>&1 &
		perf_pid=$!
		run_wrk "$gslbd_port" "$duration" "$work/wrk-gslbd-perf.txt"
		wait "$perf_pid" || true
		grep Requests/sec "$work/wrk-gslbd-perf.txt"
		echo "gslbd, perf record -e cpu-clock, share of samples by object:"
		perf report -i "$work/perf.data" --no-children --sort dso -g none --stdio 2>/dev/null |
			grep -v '^#' | grep '%' | head -n 12
		echo "heaviest functions (self):"
		perf report -i "$work/perf.data" --no-children --sort dso,symbol -g none --stdio \
			2>/dev/null | grep -v '^#' | grep '%' | head -n 40
	else
		callgrind_control -z "$gslbd_pid" >/dev/null 2>&1
		run_wrk "$gslbd_port" "$duration" "$work/wrk-gslbd-callgrind.txt"
		callgrind_control -d "$gslbd_pid" >/dev/null 2>&1
		n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk-gslbd-callgrind.txt")
		f=
		for _ in $(seq 1 100); do
			f=$(find "$work" -maxdepth 1 -name 'callgrind.gslbd.*' |
				head -n1)
			[ -n "$f" ] && grep -q '^summary:' "$f" && break
			sleep 0.1
		done
		ir=$(sed -n 's/^summary: *//p' "$f" | head -n1)
		echo "gslbd under callgrind: $n requests, $ir instructions," \
			"$((ir / n)) per request (user space only)"
		echo "inclusive, heaviest first (callgrind_annotate --inclusive=yes):"
		callgrind_annotate --inclusive=yes "$f" 2>/dev/null | sed -n '/file:function/,$p' |
			grep '\[' | head -n 40
	fi
	exit 0
fi

run_wrk "$gslbd_port" "$warmup" "$work/warmup-gslbd.txt"
run_wrk "$nginx_port" "$warmup" "$work/warmup-nginx.txt"

fmt='%-6s %-6s %11s %8s %8s %15s %13s %15s %9s\n'
# shellcheck disable=SC2059
printf "$fmt" round server "requests/s" "p50 ms" "p99 ms" "CPU us/request" "wait us/req" \
	"wrk CPU us/req" requests
results=$work/results.txt
: >"$results"
for r in $(seq 1 "$rounds"); do
	for s in gslbd nginx; do
		if [ "$s" = gslbd ]; then
			line=$(measure gslbd "$gslbd_pid" "$gslbd_port" "$r")
		else
			line=$(measure nginx "$nginx_pid" "$nginx_port" "$r")
		fi
		echo "$s $line" >>"$results"
		read -r rps p50 p99 cpu n wait wcpu _ <<<"$line"
		# shellcheck disable=SC2059
		printf "$fmt" "$r" "$s" "$rps" "$p50" "$p99" "$cpu" "$wait" "$wcpu" "$n"
	done
done
echo
$py - "$results" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, *v = line.split()
    runs.setdefault(name, []).append([float(x) for x in v])
med = {n: [statistics.median(r[i] for r in rs) for i in range(8)] for n, rs in runs.items()}
for n in ("gslbd", "nginx"):
    rps, p50, p99, cpu, _, wait, wrk, size = med[n]
    print(f"median {n:6s} {rps:11.0f} requests/s  p50 {p50:.3f} ms  p99 {p99:.3f} ms"
          f"  {cpu:.2f} us CPU/request (waiting for a CPU {wait:.2f}; wrk {wrk:.2f})"
          f"  ~{size:.0f} bytes/response")
g, d = med["gslbd"], med["nginx"]
r = g[0] / d[0]
print(f"ratio gslbd/nginx: requests/s {r:.2f} (target >= 1.00: {'met' if r >= 1.0 else 'NOT met'}),"
      f" CPU per request {g[3] / d[3]:.2f}, p50 {g[1] / d[1]:.2f}, p99 {g[2] / d[2]:.2f}")
EOF
if [ "$headline" -eq 0 ]; then
	echo "(not a full City database: not the headline figures)"
fi
