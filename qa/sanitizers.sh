#!/bin/bash
# Build with AddressSanitizer and UndefinedBehaviorSanitizer (any finding is
# fatal) in build-asan/, out of tree, and run the whole suite there. Prints the
# logs of failed tests.
set -euo pipefail

# A plain closing line from automake's summary: "label: N passed, N failed, N skipped".
summary() { # label test-suite.log
	awk -v label="$1" '/^# PASS:/ { p = $3 } /^# (FAIL|ERROR|XPASS):/ { f += $3 }
		/^# SKIP:/ { s = $3 } END { printf "%s: %d passed, %d failed, %d skipped\n", label, p, f, s }' "$2"
}

root=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILDDIR:-$root/build-asan}
jobs=${JOBS:-2}
san="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

if [ -f "$root/config.status" ]; then
	echo "sanitizers.sh: the source tree is configured in-tree; run 'make distclean'" \
		"there first (this build is out of tree)" >&2
	exit 1
fi
[ -x "$root/configure" ] || (cd "$root" && ./autogen.sh)

mkdir -p "$builddir"
cd "$builddir"
"$root/configure" CFLAGS="$san" LDFLAGS="-fsanitize=address,undefined" "$@"
make -j"$jobs"

# halt_on_error and abort_on_error make every finding a test failure; the
# daemon started by the system tests inherits these too.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
if ! make check; then
	echo "sanitizers.sh: make check FAILED under ASan+UBSan; test-suite.log follows" >&2
	cat "$builddir/test-suite.log" >&2 || true
	summary sanitizers "$builddir/test-suite.log" || true
	exit 1
fi
echo "sanitizers.sh: all tests passed under ASan+UBSan"
summary sanitizers "$builddir/test-suite.log"
