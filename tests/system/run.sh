#!/bin/sh
# System tests (pytest + dnspython), the automake TESTS entry for `make check`.
# make check sets GSLBD, GSLB_SRCDIR and GSLB_BUILDDIR; by hand, from the top
# of the tree: tests/system/run.sh [pytest arguments...]
# Debian's interpreter on purpose: the python3 first on PATH may not see
# python3-pytest and python3-dnspython (docs/architecture.md, Tests).
set -u

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
: "${GSLB_SRCDIR:=$(CDPATH= cd -- "$here/../.." && pwd)}"
: "${GSLB_BUILDDIR:=$GSLB_SRCDIR}"
: "${GSLBD:=$GSLB_BUILDDIR/gslbd}"
export GSLB_SRCDIR GSLB_BUILDDIR GSLBD

PYTHON=${GSLB_PYTHON:-/usr/bin/python3}
if [ ! -x "$PYTHON" ]; then
	echo "run.sh: $PYTHON not found (apt-get install python3 python3-pytest python3-dnspython)" >&2
	exit 99
fi
if [ ! -x "$GSLBD" ]; then
	echo "run.sh: gslbd not found at $GSLBD (build it first, or set GSLBD)" >&2
	exit 99
fi

cd "$GSLB_SRCDIR" || exit 99
# The usual umask: gslbd refuses a state_dir others may write to, and the
# tests make their state directories with the default mode.
umask 022
# no __pycache__ in the source tree
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
# keep pytest's cache out of the source tree (it may be read-only: distcheck)
"$PYTHON" -m pytest -q -ra -p no:cacheprovider tests/system "$@"
rc=$?
case $rc in
0) exit 0 ;;
5) echo "run.sh: pytest collected no tests" >&2; exit 1 ;;
*) exit "$rc" ;;
esac
