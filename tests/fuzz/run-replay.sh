#!/bin/sh
# make check entry: replay the DNS fuzz seed corpus (and any crash inputs kept
# in corpus/dns-regress/) through the harness built without libFuzzer.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${GSLB_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${GSLB_BUILDDIR:-$(pwd)}
bin="$builddir/tests/fuzz/fuzz_dns_replay"
if [ ! -x "$bin" ]; then
	echo "run-replay.sh: $bin not built (make check builds it)" >&2
	exit 99
fi
GSLB_SRCDIR=$srcdir
export GSLB_SRCDIR
set -- "$srcdir/tests/fuzz/corpus/dns"
if [ -d "$srcdir/tests/fuzz/corpus/dns-regress" ]; then
	set -- "$@" "$srcdir/tests/fuzz/corpus/dns-regress"
fi
exec "$bin" "$@"
