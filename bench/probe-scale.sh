#!/bin/bash
# Prober scale benchmark: gslbd probes MEMBERS http members (default 5,000)
# every INTERVAL seconds (default 1.0); each member's target is a URL on one
# local nginx (PORTS loopback ports, members interleaved over them). After a
# WARMUP, for DURATION seconds (default 30) it measures:
#   - probes per second, counted from nginx's access log ($msec), and from
#     gslb_probes_total in gslbd's /metrics (admin listener) as a cross-check;
#   - the CPU used by gslbd's prober thread (the thread named "gslb-prober",
#     nanoseconds on CPU from /proc/PID/task/TID/schedstat), the whole
#     gslbd and nginx;
#   - the spread of probe times: a per-second histogram, the min/max/mean of
#     100 ms and 10 ms buckets and how many exceed twice the mean, and the
#     interval between each member's successive probes.
# Target (issue 4): 5,000 probes/s sustained using less than half of one CPU.
#
#   bench/probe-scale.sh             (gslbd from $GSLBD, ./gslbd or build/gslbd)
#   MEMBERS=5000 DURATION=30 bench/probe-scale.sh
#   GSLBD=/tmp/build/gslbd GSLBD_COMMIT=abc1234 bench/probe-scale.sh
#
# gslbd (all its threads) is pinned to GSLBD_CPU (0), nginx (one process,
# no master) to NGINX_CPU (1). Needs: nginx (Debian nginx-light), taskset,
# /usr/bin/python3, two CPUs. Nothing is probed off this machine: every
# target is http://127.0.0.1:PORT/h?m=N; member addresses (10.R.x.y) are
# labels only.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
helper="$root/bench/probe-scale.py"
members=${MEMBERS:-5000}
interval=${INTERVAL:-1.0}
timeout=${TIMEOUT:-0.5}
regions=${REGIONS:-20}
nports=${PORTS:-20}
duration=${DURATION:-30}
warmup=${WARMUP:-5}
gslbd_cpu=${GSLBD_CPU:-0}
nginx_cpu=${NGINX_CPU:-1}
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
	echo "probe-scale.sh: gslbd not found: build it, or set GSLBD=/path/to/gslbd" >&2
	exit 1
}
gslbd=$(cd "$(dirname "$gslbd")" && pwd)/$(basename "$gslbd")
nginx_bin=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
for tool in "$nginx_bin" taskset "$py"; do
	command -v "$tool" >/dev/null || {
		echo "probe-scale.sh: $tool not found (Debian: nginx-light, util-linux, python3)" >&2
		exit 1
	}
done
if [ "$(nproc)" -lt 2 ]; then
	echo "probe-scale.sh: needs two CPUs (gslbd on one, nginx on the other)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gslb-probe-bench.XXXXXX")
pids=()
# cleanup (stops pids, removes work unless KEEP=1), free_port, cpu_ticks, ...
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT

# --- nginx --------------------------------------------------------------
read -r -a ports <<<"$("$py" "$helper" ports "$nports")"
"$py" "$helper" nginx "$work" "${ports[@]}"
taskset -c "$nginx_cpu" "$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" \
	-e "$work/nginx/error.log" 2>"$work/nginx/stderr.log" &
nginx_pid=$!
pids+=("$nginx_pid")
up=
for _ in $(seq 1 100); do
	if "$py" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
		"http://127.0.0.1:${ports[0]}/h?m=-1" 2>/dev/null; then
		up=1
		break
	fi
	kill -0 "$nginx_pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$up" ]; then
	echo "probe-scale.sh: nginx did not start:" >&2
	cat "$work/nginx/stderr.log" "$work/nginx/error.log" >&2 2>/dev/null || true
	exit 1
fi

# --- gslbd --------------------------------------------------------------
"$py" "$helper" conf "$work" "$members" "$regions" "$interval" "$timeout" "${ports[@]}"
"$gslbd" -t -c "$work/gslb.conf" >"$work/check.log" 2>&1 || {
	cat "$work/check.log" >&2
	exit 1
}
taskset -c "$gslbd_cpu" "$gslbd" -c "$work/gslb.conf" 2>"$work/gslbd.log" &
gslbd_pid=$!
pids+=("$gslbd_pid")
for _ in $(seq 1 200); do
	grep -q ready "$work/gslbd.log" && break
	kill -0 "$gslbd_pid" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q ready "$work/gslbd.log"; then
	echo "probe-scale.sh: gslbd did not start:" >&2
	tail -n 20 "$work/gslbd.log" >&2
	exit 1
fi
admin_port=$(sed -n 's/.*listening proto=admin address=127\.0\.0\.1 port=\([0-9]*\).*/\1/p' \
	"$work/gslbd.log" | head -n1)
prober_tid=$("$py" "$helper" tasks "$gslbd_pid" | awk '$2 == "gslb-prober" { print $1 }')
if [ -z "$prober_tid" ]; then
	echo "probe-scale.sh: no thread named gslb-prober in gslbd; its threads:" >&2
	"$py" "$helper" tasks "$gslbd_pid" >&2
	exit 1
fi

echo "gslb prober scale benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
	"kernel $(uname -r)"
# the commit the binary was built from: GSLBD_COMMIT when built elsewhere,
# else the tree it sits in ("-dirty": with uncommitted changes)
commit=${GSLBD_COMMIT:-$(git -C "$(dirname "$gslbd")" describe --always --dirty 2>/dev/null || echo '?')}
echo "gslbd: $gslbd ($("$gslbd" --version 2>&1 | head -n1)), commit $commit"
echo "curl: $(curl-config --version 2>/dev/null || dpkg-query -W -f '${Version}' libcurl4 2>/dev/null || echo '?')"
echo "nginx: $("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //'), one process on CPU $nginx_cpu," \
	"${#ports[@]} ports"
echo "setup: $members http members in $regions pools, interval ${interval}s, timeout ${timeout}s;" \
	"gslbd on CPU $gslbd_cpu (prober thread $prober_tid); warm-up ${warmup}s, window ${duration}s"
echo

sleep "$warmup"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
read -r pcpu0 pwait0 <<<"$("$py" "$helper" cpu "$gslbd_pid" "$prober_tid")"
read -r gcpu0 _ <<<"$("$py" "$helper" cpu "$gslbd_pid")"
read -r ncpu0 nwait0 <<<"$("$py" "$helper" cpu "$nginx_pid")"
read -r mt0 mok0 mfail0 <<<"$("$py" "$helper" metrics "${admin_port:-0}")"
t0=$(date +%s.%N)
sleep "$duration"
t1=$(date +%s.%N)
read -r mt1 mok1 mfail1 <<<"$("$py" "$helper" metrics "${admin_port:-0}")"
read -r pcpu1 pwait1 <<<"$("$py" "$helper" cpu "$gslbd_pid" "$prober_tid")"
read -r gcpu1 _ <<<"$("$py" "$helper" cpu "$gslbd_pid")"
read -r ncpu1 nwait1 <<<"$("$py" "$helper" cpu "$nginx_pid")"
load1=$(cut -d' ' -f1-3 /proc/loadavg)
# nginx flushes its log buffer every second
sleep 2
kill -0 "$gslbd_pid" 2>/dev/null || {
	echo "probe-scale.sh: gslbd died:" >&2
	tail -n 20 "$work/gslbd.log" >&2
	exit 1
}

rc=0
"$py" "$helper" analyse "$work/nginx/access.log" "$t0" "$t1" "$members" "$interval" \
	"$("$py" -c "import sys; print(int(sys.argv[1]) / float(sys.argv[2]))" "$members" "$interval")" \
	$((pcpu1 - pcpu0)) $((gcpu1 - gcpu0)) $((ncpu1 - ncpu0)) \
	$((pwait1 - pwait0)) $((nwait1 - nwait0)) || rc=$?
if [ "$mok0" != - ] && [ "$mok1" != - ]; then
	"$py" -c 'import sys; a = [float(x) for x in sys.argv[1:]]
print("gslbd /metrics over the window: %.0f probes/s, %d failed" % ((a[1] - a[0] + a[3] - a[2]) / (a[5] - a[4]), a[3] - a[2]))' \
		"$mok0" "$mok1" "$mfail0" "$mfail1" "$mt0" "$mt1"
else
	echo "gslbd /metrics: no gslb_probes_total (admin listener port ${admin_port:-unknown})"
fi
read -r downs_before downs_in <<<"$("$py" "$helper" downs "$work/gslbd.log" "$t0" "$t1")"
echo "members marked down (gslbd log): $downs_in in the window, $downs_before before it (start, warm-up)"
echo "load average before / after the window: $load0 / $load1"
exit "$rc"
