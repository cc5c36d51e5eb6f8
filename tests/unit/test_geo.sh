#!/bin/sh
# Runs the GeoIP unit tests: builds the test databases from the readable
# sources tests/data/geoip/test-city.json and walk-noalias.json with
# geoip/build-mmdb.pl into a temporary directory, then runs the cmocka
# binary tests/unit/test_geo on them (GEO_TEST_DIR). Exits 77 (skipped)
# without MaxMind::DB::Writer.
#
#   tests/unit/test_geo.sh              build the databases, run the tests
#   tests/unit/test_geo.sh --make-dbs DIR   only build the databases into DIR
#                                       (test_geo does this itself when run
#                                       alone, e.g. under valgrind)
set -eu

srcdir=${GSLB_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${GSLB_BUILDDIR:-.}

# Called as "make_dbs DIR || rc=$?", where set -e does not apply: every
# step checks its own status.
make_dbs() {
	dir=$1
	if ! perl -MMaxMind::DB::Writer::Tree -MJSON::PP -e 1 2>/dev/null; then
		echo "test_geo.sh: MaxMind::DB::Writer missing (Debian: libmaxmind-db-writer-perl)" >&2
		return 77
	fi
	src=$srcdir/tests/data/geoip/test-city.json
	build="perl $srcdir/geoip/build-mmdb.pl --build-epoch 1700000000"
	$build --schema city --ip-version 6 --database-type gslb-Test-City \
		-o "$dir/city6.mmdb" "$src" || return 1
	$build --schema flat --ip-version 4 --database-type gslb-Test-Flat \
		-o "$dir/flat4.mmdb" "$src" || return 1
	$build --schema country --ip-version 6 --database-type gslb-Test-Country \
		-o "$dir/country6.mmdb" "$src" || return 1
	# asn: route rules (test_compact, test_decide)
	$build --schema asn --ip-version 6 --database-type gslb-Test-ASN \
		-o "$dir/asn6.mmdb" "$srcdir/tests/data/geoip/test-asn.json" || return 1
	# geo_walk: an IPv6 tree with its own data where others alias IPv4
	$build --schema country --ip-version 6 --no-alias --database-type gslb-Test-Walk \
		-o "$dir/walk6.mmdb" "$srcdir/tests/data/geoip/walk-noalias.json" || return 1
}

if [ "${1:-}" = "--make-dbs" ]; then
	[ $# -eq 2 ] || { echo "usage: $0 --make-dbs DIR" >&2; exit 2; }
	rc=0
	make_dbs "$2" || rc=$?
	exit $rc
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gslb-geo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
rc=0
make_dbs "$tmp" || rc=$?
[ $rc -eq 0 ] || exit $rc

bin=$builddir/tests/unit/test_geo
[ -x "$bin" ] || { echo "test_geo.sh: $bin not built (make check builds it)" >&2; exit 99; }
rc=0
GEO_TEST_DIR=$tmp GEO_TEST_SRCDIR=$srcdir "$bin" || rc=$?
exit $rc
