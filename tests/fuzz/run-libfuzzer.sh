#!/bin/bash
# Build the DNS fuzz harness with clang's libFuzzer, ASan and UBSan, straight
# from the sources (every gslb/*.c but the daemon's main.c and server.c), and
# fuzz dns_process() for SECONDS (default 60) starting from a copy of the seed
# corpus. Fails on any crash, sanitizer report, leak or timeout; the input is
# left in $FUZZ_WORKDIR/artifacts/ (default build-fuzz/ in the source tree).
#
#   tests/fuzz/run-libfuzzer.sh [SECONDS]
#
# A crash input worth keeping goes to tests/fuzz/corpus/dns-regress/, which
# make check replays.
set -euo pipefail

secs=${1:-60}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

root=$(cd "$(dirname "$0")/../.." && pwd)
work=${FUZZ_WORKDIR:-$root/build-fuzz}
cc=${FUZZ_CC:-clang}
# The libraries configure.ac checks for (every GSLB_PKG but the test-only cmocka).
mods=$(sed -n 's/^[[:space:]]*GSLB_PKG(\[[A-Z_]*\], *\[\([a-z0-9_.+-]*\).*/\1/p' \
	"$root/configure.ac" | grep -vx cmocka | tr '\n' ' ')
[ -n "$mods" ] || { echo "$0: no GSLB_PKG module found in configure.ac" >&2; exit 1; }

command -v "$cc" >/dev/null || { echo "$0: $cc not found (Debian: clang)" >&2; exit 1; }
pkg-config --exists $mods || { echo "$0: pkg-config cannot find: $mods" >&2; exit 1; }

mkdir -p "$work/obj" "$work/include" "$work/artifacts"
rm -f "$work/obj"/*.o "$work/artifacts"/*

# Sources that include the autoconf header get the few values they may use.
version=$(sed -n 's/^AC_INIT(\[gslb\], *\[\([^]]*\)\].*/\1/p' "$root/configure.ac")
cat >"$work/include/config.h" <<EOH
#define PACKAGE "gslb"
#define PACKAGE_NAME "gslb"
#define PACKAGE_VERSION "${version:-0}"
#define PACKAGE_STRING "gslb ${version:-0}"
#define VERSION "${version:-0}"
EOH

# shellcheck disable=SC2086
deps_cflags=$(pkg-config --cflags $mods)
# shellcheck disable=SC2086
deps_libs=$(pkg-config --libs $mods)
common="-g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all -Wall -Wno-unused-parameter
	-D_GNU_SOURCE -DGSLB_SYSCONFDIR=\"/etc\" -DFUZZ_SRCDIR=\"$root\"
	-I$work/include -I$root/include -I$root"

echo "fuzz: building with $($cc --version | head -n1)"
objs=()
# Every module but the daemon's network side and the programs' main()s.
for src in "$root"/gslb/*.c; do
	base=$(basename "$src" .c)
	case $base in
	main | server) continue ;;
	esac
	if grep -qE '^int[[:space:]]+main[[:space:]]*\(' "$src"; then
		continue
	fi
	# shellcheck disable=SC2086
	"$cc" $common $deps_cflags -fsanitize=fuzzer-no-link,address,undefined \
		-c "$src" -o "$work/obj/$base.o"
	objs+=("$work/obj/$base.o")
done
# An archive, as libgslb.a in the autotools build: the harness pulls in only
# the modules it needs.
rm -f "$work/libgslb-fuzz.a"
ar rcs "$work/libgslb-fuzz.a" "${objs[@]}"
# shellcheck disable=SC2086
"$cc" $common $deps_cflags -fsanitize=fuzzer,address,undefined \
	"$root/tests/fuzz/fuzz_dns.c" "$work/libgslb-fuzz.a" $deps_libs -lpthread -lm \
	-o "$work/fuzz_dns"

rm -rf "$work/corpus"
cp -R "$root/tests/fuzz/corpus/dns" "$work/corpus"
if [ -d "$root/tests/fuzz/corpus/dns-regress" ]; then
	cp "$root/tests/fuzz/corpus/dns-regress"/* "$work/corpus"/ 2>/dev/null || true
fi

export GSLB_FUZZ_CONF="$root/tests/fuzz/fuzz.conf"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

echo "fuzz: running dns_process for ${secs}s on $(ls "$work/corpus" | wc -l) seeds"
rc=0
"$work/fuzz_dns" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
	-print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" \
	>"$work/fuzz.log" 2>&1 || rc=$?
tail -n 25 "$work/fuzz.log"

crashes=$(find "$work/artifacts" -type f | wc -l)
if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
	echo "fuzz: FAILED (exit $rc, $crashes input(s) in $work/artifacts/)" >&2
	grep -m1 -B2 -A40 -E 'ERROR: |runtime error:|invariant violated|deadly signal' \
		"$work/fuzz.log" >&2 || true
	echo "fuzz: reproduce with: GSLB_FUZZ_CONF=$GSLB_FUZZ_CONF $work/fuzz_dns INPUT" >&2
	exit 1
fi
echo "fuzz: OK: ${secs}s, no crash"
