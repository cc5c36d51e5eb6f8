# shellcheck shell=bash disable=SC2154,SC2034
# Shell functions the benchmarks share (bench/dns-geo.sh, dns-static.sh,
# dns-dnssec.sh, http-redirect.sh, probe-scale.sh, rrl.sh); sourced, not
# run. The caller sets prog (its name,
# for messages), work (its work directory), queries (the dnsperf -B query
# file; dnsperf_input="" for a text one), duration, client_cpu and
# dnsperf_opts.

# gslbd: $GSLBD, else ./gslbd, the top folder's or build/'s; the absolute
# path in gslbd, or exit with a message.
find_gslbd() {
	local c
	gslbd=${GSLBD:-}
	for c in ./gslbd "$root/gslbd" "$root/build/gslbd"; do
		if [ -z "$gslbd" ] && [ -x "$c" ]; then
			gslbd=$c
		fi
	done
	if [ -z "$gslbd" ] || [ ! -x "$gslbd" ]; then
		echo "$prog: gslbd not found: build it, or set GSLBD=/path/to/gslbd" >&2
		exit 1
	fi
	gslbd=$(cd "$(dirname "$gslbd")" && pwd)/$(basename "$gslbd")
}

# The EXIT trap: stop the servers in pids, remove work unless KEEP is set.
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

# utime and stime in clock ticks of a process and its descendants (all the
# threads of a process are counted in its own /proc/PID/stat), and the
# nanoseconds its threads spent ready to run but waiting for a CPU (from
# /proc/PID/task/TID/schedstat: what other programs took from it).
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
    stats[int(d)] = (int(f[1]), int(f[11]), int(f[12]))  # ppid, utime, stime
todo, user, system, wait = [root], 0, 0, 0
while todo:
    p = todo.pop()
    if p in stats:
        user += stats[p][1]
        system += stats[p][2]
        todo.extend(c for c, (pp, _, _) in stats.items() if pp == p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/schedstat") as f:
                    wait += int(f.read().split()[1])
        except OSError:
            pass
print(user, system, wait)
EOF
}

# VmRSS, RssAnon and RssFile in kB of a process and its descendants.
rss_kb() {
	/usr/bin/python3 - "$1" <<'EOF'
import os, sys
root = int(sys.argv[1])
kids = {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        kids.setdefault(int(s[s.rindex(")") + 2:].split()[1]), []).append(int(d))
tot = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
todo = [root]
while todo:
    p = todo.pop()
    todo.extend(kids.get(p, []))
    try:
        with open(f"/proc/{p}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in tot:
                    tot[k] += int(v.split()[0])
    except OSError:
        pass
print(tot["VmRSS"], tot["RssAnon"], tot["RssFile"])
EOF
}

wait_answer() { # port name tries
	local out
	for _ in $(seq 1 "${3:-100}"); do
		# dig prints its errors (";; ... connection refused") on stdout too
		if out=$(dig +time=1 +tries=1 +short @127.0.0.1 -p "$1" "$2" SOA 2>/dev/null) &&
			[ -n "$out" ] && [ "${out#;}" = "$out" ]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

run_dnsperf() { # port seconds outfile
	# shellcheck disable=SC2086
	taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "$1" ${dnsperf_input--B} -d "$queries" \
		-l "$2" $dnsperf_opts >"$3" 2>&1
}

# One measured run: prints "qps cpu_us_per_query completed user_us sys_us"
# (the last two: the CPU time per query split into user and kernel time).
measure() { # name pid port round
	local name=$1 pid=$2 port=$3 round=$4 out t0 t1 ndone qps
	out="$work/dnsperf-$name-$round.txt"
	t0=$(cpu_ticks "$pid")
	run_dnsperf "$port" "$duration" "$out"
	t1=$(cpu_ticks "$pid")
	ndone=$(sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p' "$out")
	qps=$(sed -n 's/^ *Queries per second: *\([0-9.]*\).*/\1/p' "$out")
	if [ -z "$ndone" ] || [ "$ndone" -eq 0 ]; then
		echo "$prog: dnsperf against $name completed no query:" >&2
		grep -v '^\[Timeout\]' "$out" | tail -n 15 >&2
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$prog: $name is no longer running" >&2
		fi
		echo "$prog: last lines of $name's log:" >&2
		tail -n 20 "$work/$name.log" >&2 || true
		exit 1
	fi
	/usr/bin/python3 - "$qps" "$t0" "$t1" "$ndone" <<'EOF'
import os, sys
t = os.sysconf("SC_CLK_TCK")
qps, t0, t1, done = float(sys.argv[1]), sys.argv[2].split(), sys.argv[3].split(), int(sys.argv[4])
u, s = ((int(b) - int(a)) / t / done * 1e6 for a, b in zip(t0[:2], t1[:2]))
print(f"{qps:.0f} {u + s:.3f} {done} {u:.3f} {s:.3f}")
EOF
}

# Settings of the DNS benchmarks, unless the script set them before (each
# overridden by its environment variable).
: "${origin:=bench.test}"
: "${service:=www.$origin}"
: "${warmup:=${WARMUP:-3}}"
: "${nqueries:=${QUERIES:-100000}}"
: "${server_cpu:=${SERVER_CPU:-0}}"
: "${client_cpu:=${CLIENT_CPU:-1}}"
# dnsperf: one thread, a few sockets, enough queries in flight to keep a
# single-threaded server busy. The query file carries its own EDNS and ECS.
: "${dnsperf_opts:=${DNSPERF_OPTS:--T 1 -c 8 -q 200}}"

# The five regions of the geo benchmarks (dns-geo.sh, dns-dnssec.sh,
# http-redirect.sh; gdnsd: datacenters), with coordinates and two IPv4
# members each.
regions=(us-east us-west eu-east eu-west ap-southeast)
declare -A lat=([us-east]=39.04 [us-west]=45.6 [eu-east]=52.23 [eu-west]=53.35 [ap-southeast]=1.35)
declare -A lon=([us-east]=-77.49 [us-west]=-121.2 [eu-east]=21.01 [eu-west]=-6.26 [ap-southeast]=103.82)
declare -A members=(
	[us-east]="192.0.2.1 192.0.2.2"
	[us-west]="192.0.2.11 192.0.2.12"
	[eu-east]="198.51.100.1 198.51.100.2"
	[eu-west]="198.51.100.11 198.51.100.12"
	[ap-southeast]="203.0.113.1 203.0.113.2"
)

# The entries of the five regions for a gslbd regions list.
conf_regions() {
	local sep='' r
	for r in "${regions[@]}"; do
		printf '%s  { name = "%s"; lat = %s; lon = %s; }' "$sep" "$r" "${lat[$r]}" "${lon[$r]}"
		sep=$',\n'
	done
}

# The five regions' pools and the end of the service and services lists.
conf_pools() {
	local sep='' r m1 m2
	for r in "${regions[@]}"; do
		read -r m1 m2 <<<"${members[$r]}"
		printf '%s      { region = "%s"; members = [ "%s", "%s" ]; }' "$sep" "$r" "$m1" "$m2"
		sep=$',\n'
	done
	printf '\n    );\n  }\n);\n'
}

# The static part of the geo benchmarks' zone.
zone_head() {
	cat <<EOF
\$ORIGIN $origin.
\$TTL 300
@	SOA	ns1 hostmaster 2024010101 7200 3600 1209600 300
@	NS	ns1
@	NS	ns2
ns1	A	192.0.2.53
ns2	A	198.51.100.53
EOF
}

# A gslbd config for the geo benchmarks: one worker on 127.0.0.1, database
# db, the zone origin from bench.zone in work with zone_extra (a dnssec
# group, say) in its group, one service with the five regions' pools and
# service_extra (keys of the service's group: route rules, say) before them.
gslbd_geo_conf() { # compact zone_extra [service_extra]
	cat <<EOF
directory = "$work";
listen = { dns = [ "127.0.0.1:0" ]; };
workers = 1;
geoip = { database = "$db"; compact = $1; };
zones = ( { origin = "$origin"; file = "bench.zone"; $2 } );
regions = (
EOF
	conf_regions
	printf '\n);\nservices = (\n  { name = "%s"; ttl = %s; answers = 2;\n' "$service" "$ttl"
	if [ -n "${3:-}" ]; then
		printf '%s\n' "$3"
	fi
	printf '    pools = (\n'
	conf_pools
}
