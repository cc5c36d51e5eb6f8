#!/bin/bash
# Scale benchmark: start time, reload time and memory of gslbd against NSD
# and Knot on zones of 1k, 100k and 1M records, and against gdnsd on
# configurations of 10, 1,000 and 10,000 geo-balanced services, with the
# ratios between sizes (x10 input -> x time) and memory per record or
# service. bench/scale.py does the work; this script checks the tools and
# prints where it ran. Each server runs on CPU 0 (SERVER_CPU), the script on
# CPU 1 (CLIENT_CPU), every server on a free loopback port in a temporary
# folder of its own.
#
#   bench/scale.sh              (gslbd from $GSLBD, else build/gslbd, else ./gslbd)
#   PARTS=zones ZONE_SIZES="1000 100000" bench/scale.sh
#   PARTS=services SIZES="10 1000" RELOADS=10 bench/scale.sh
#
# Settings: PARTS ("zones services"), ZONE_SIZES ("1000 100000 1000000"),
# SERVERS ("gslbd knot nsd"), SIZES ("10 1000 10000" services), RELOADS (3),
# GEOIP_DB (geoip/demo-city.mmdb), GSLBD, NSD, NSD_CONTROL, KNOTD, KNOTC, GDNSD,
# GDNSD_RUN=0 (leave gdnsd out), SERVER_CPU, CLIENT_CPU.
#
# Needs: /usr/bin/python3, taskset; nsd and knot for the zones part (qa/
# setup.sh installs them); gdnsd for the services comparison (optional).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
parts=${PARTS:-zones services}

need() {
	command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] || {
		echo "scale.sh: $1 not found (sudo ./qa/setup.sh installs it)" >&2
		exit 1
	}
}
need /usr/bin/python3
need taskset
case " $parts " in
*" zones "*)
	for s in ${SERVERS:-gslbd knot nsd}; do
		case $s in
		knot) need "${KNOTD:-knotd}" && need "${KNOTC:-knotc}" ;;
		nsd) need "${NSD:-nsd}" && need "${NSD_CONTROL:-nsd-control}" ;;
		esac
	done
	;;
esac

echo "gslb scale benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
	"kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "source: commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
for p in $parts; do
	echo
	/usr/bin/python3 "$root/bench/scale.py" "$p"
done
