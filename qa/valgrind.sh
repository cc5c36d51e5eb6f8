#!/bin/bash
# Run `make check-valgrind`: the cmocka unit tests, the fuzz corpus replays
# and the pytest system tests with every program and every gslbd they start
# under valgrind memcheck (full leak check; any error or definite/indirect
# leak fails). Builds in build-valgrind/, out of tree, with -O1 -g.
#
#   qa/valgrind.sh [configure arguments...]
#   VALGRIND_SYSTEM_TESTS="tests/system/test_cases.py ..." qa/valgrind.sh
#                   only these system tests (CI's subset: .ci/run)
#   VALGRIND_PYTEST_FLAGS="-x" qa/valgrind.sh     more pytest arguments
#
# The valgrind logs stay in build-valgrind/valgrind-logs/ (one per process).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILDDIR:-$root/build-valgrind}
jobs=${JOBS:-2}

command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind not installed" >&2; exit 1; }
if [ -f "$root/config.status" ]; then
	echo "valgrind.sh: the source tree is configured in-tree; run 'make distclean'" \
		"there first (this build is out of tree), or run 'make check-valgrind' there" >&2
	exit 1
fi
[ -x "$root/configure" ] || (cd "$root" && ./autogen.sh)
mkdir -p "$builddir"
cd "$builddir"
"$root/configure" CFLAGS="-O1 -g" "$@"
make -j"$jobs"

args=()
[ -n "${VALGRIND_SYSTEM_TESTS:-}" ] && args+=("VALGRIND_SYSTEM_TESTS=$VALGRIND_SYSTEM_TESTS")
[ -n "${VALGRIND_PYTEST_FLAGS:-}" ] && args+=("VALGRIND_PYTEST_FLAGS=$VALGRIND_PYTEST_FLAGS")
start=$SECONDS
if ! make check-valgrind "${args[@]}"; then
	echo "valgrind.sh: make check-valgrind FAILED after $((SECONDS - start))s;" \
		"logs in $builddir/valgrind-logs" >&2
	exit 1
fi
echo "valgrind.sh: all passed under valgrind in $((SECONDS - start))s"
