#!/bin/bash
# Install every Debian package gslb needs (the list is qa/packages.txt). Run as
# root: sudo ./qa/setup.sh
#
# nsd, knot, gdnsd and unbound are only used by the tests and benchmarks, which start
# their own instances on loopback ports; their system services must never
# start. A policy-rc.d that exits 101 is put in place for the install (the
# usual Debian container practice) and removed afterwards if this script
# created it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: run as root (sudo $0)" >&2
	exit 1
fi

mapfile -t pkgs < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/packages.txt" | grep -v '^$')

policy=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
	if [ "$created_policy" -eq 1 ]; then
		rm -f "$policy"
	fi
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# gslb qa/setup.sh: no service starts during the install\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	created_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${pkgs[@]}"

# Should a service have started anyway (a system without policy-rc.d support),
# stop it: the tests need neither, and they must not hold port 53.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	for svc in nsd knot gdnsd unbound etcd; do
		systemctl disable --now "$svc" >/dev/null 2>&1 || true
	done
fi
echo "setup.sh: the ${#pkgs[@]} packages of qa/packages.txt are installed"
