#!/bin/bash
# The whole test suite, as the README and CI run it: build with warnings as
# errors and run `make check` (cmocka unit tests, the fuzz corpus replay and
# the pytest system tests). The build goes to build/ (an out-of-tree build),
# or stays in the source tree when that is already configured in-tree.
# Prints the logs of failed tests.
set -euo pipefail

# A plain closing line from automake's summary: "label: N passed, N failed, N skipped".
summary() { # label test-suite.log
	awk -v label="$1" '/^# PASS:/ { p = $3 } /^# (FAIL|ERROR|XPASS):/ { f += $3 }
		/^# SKIP:/ { s = $3 } END { printf "%s: %d passed, %d failed, %d skipped\n", label, p, f, s }' "$2"
}

root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-2}
cd "$root"
./autogen.sh

if [ -f "$root/config.status" ]; then
	builddir=$root
	cd "$builddir"
	./configure "$@"
else
	builddir=$root/build
	mkdir -p "$builddir"
	cd "$builddir"
	"$root/configure" "$@"
fi

make -j"$jobs"
if ! make check; then
	echo "test.sh: make check FAILED; test-suite.log follows" >&2
	cat "$builddir/test-suite.log" >&2 || true
	summary check "$builddir/test-suite.log" || true
	exit 1
fi
echo "test.sh: all tests passed (build in $builddir)"
summary check "$builddir/test-suite.log"
