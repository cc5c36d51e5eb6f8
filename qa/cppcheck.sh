#!/bin/bash
# Static analysis of the C sources with cppcheck; any finding fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
command -v cppcheck >/dev/null || { echo "cppcheck.sh: cppcheck not installed" >&2; exit 1; }

cppcheck --quiet --error-exitcode=1 --std=c11 --language=c \
	--enable=warning,performance,portability --inline-suppr \
	--suppress=missingIncludeSystem --suppress=unmatchedSuppression \
	-D_GNU_SOURCE -DGSLB_SYSCONFDIR='"/etc"' -DTEST_DATADIR='"tests/data"' \
	-DFUZZ_SRCDIR='"."' -I include \
	gslb tests/fuzz tests/unit
echo "cppcheck.sh: no finding"
