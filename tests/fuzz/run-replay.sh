#!/bin/sh
# make check entry: replay each fuzz harness's seed corpus (tests/fuzz/corpus/
# NAME/, and any crash inputs kept in corpus/NAME-regress/) through the
# harness built without libFuzzer (tests/fuzz/fuzz_NAME_replay). Every
# harness runs even when one fails; the exit status says whether all passed.
#   tests/fuzz/run-replay.sh [NAME...]   (default: all harnesses)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${GSLB_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${GSLB_BUILDDIR:-$(pwd)}
GSLB_SRCDIR=$srcdir
export GSLB_SRCDIR
[ $# -gt 0 ] || set -- dns http config zone overrides dnssec
rc=0
for name in "$@"; do
	bin="$builddir/tests/fuzz/fuzz_${name}_replay"
	if [ ! -x "$bin" ]; then
		echo "run-replay.sh: $bin not built (make check builds it)" >&2
		exit 99
	fi
	corpus="$srcdir/tests/fuzz/corpus/$name"
	echo "run-replay.sh: fuzz_$name"
	if [ -d "$corpus-regress" ]; then
		"$bin" "$corpus" "$corpus-regress" || rc=1
	else
		"$bin" "$corpus" || rc=1
	fi
done
exit $rc
