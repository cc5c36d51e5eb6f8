#!/bin/bash
# Run the cmocka unit tests and the fuzz corpus replay under valgrind
# (memcheck, full leak check); any error fails. Builds in build-valgrind/, out
# of tree, with -O1 -g. The system tests under valgrind are still to come.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILDDIR:-$root/build-valgrind}
jobs=${JOBS:-2}

command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind not installed" >&2; exit 1; }
if [ -f "$root/config.status" ]; then
	echo "valgrind.sh: the source tree is configured in-tree; run 'make distclean' first" >&2
	exit 1
fi
[ -x "$root/configure" ] || (cd "$root" && ./autogen.sh)
mkdir -p "$builddir"
cd "$builddir"
"$root/configure" CFLAGS="-O1 -g" "$@"
make -j"$jobs"
make -j"$jobs" check TESTS= # builds the test programs without running them

vg=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible
	--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1
	--track-origins=yes)
fail=0
ran=0
for t in tests/unit/test_*; do
	[ -x "$t" ] && [ -f "$t" ] || continue
	case $t in *.o | *.log | *.trs) continue ;; esac
	echo "valgrind.sh: $t"
	ran=$((ran + 1))
	if ! GSLB_SRCDIR=$root "${vg[@]}" "$t"; then
		echo "valgrind.sh: FAIL $t" >&2
		fail=$((fail + 1))
	fi
done
if [ -x tests/fuzz/fuzz_dns_replay ]; then
	echo "valgrind.sh: tests/fuzz/fuzz_dns_replay"
	ran=$((ran + 1))
	if ! GSLB_SRCDIR=$root "${vg[@]}" tests/fuzz/fuzz_dns_replay "$root/tests/fuzz/corpus/dns"; then
		echo "valgrind.sh: FAIL tests/fuzz/fuzz_dns_replay" >&2
		fail=$((fail + 1))
	fi
fi
echo "valgrind: $((ran - fail)) passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$ran" -gt 0 ]
