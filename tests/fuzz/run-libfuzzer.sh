#!/bin/bash
# Build the fuzz harnesses with clang's libFuzzer, ASan and UBSan, straight
# from the sources (every gslb/*.c but the daemon's main.c and its network
# side: server.c, listen.c, udp.c, tcp.c, reload.c), and fuzz each for
# SECONDS (default 60) starting from a copy of its seed corpus.
# Fails on any crash, sanitizer report, leak or timeout; the input is left in
# $FUZZ_WORKDIR/NAME/artifacts/ (default build-fuzz/ in the source tree).
#
#   tests/fuzz/run-libfuzzer.sh [SECONDS [HARNESS...]]
#
# HARNESS: dns (dns_process), http (http_answer), config (conf_load), zone
# (zone_load and lookups), overrides (the GeoIP overrides parser), dnssec
# (dns_process on signed zones, every RRSIG verified); default
# all, one after the other. FUZZ_JOBS=N runs N harnesses at once. Extra
# libFuzzer options go in FUZZ_ARGS (e.g. FUZZ_ARGS=-max_len=8192).
#
# A crash input worth keeping, once fixed, goes to tests/fuzz/corpus/
# NAME-regress/, which make check replays.
set -euo pipefail

all_harnesses="dns http config zone overrides dnssec"
secs=${1:-60}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS [HARNESS...]] (harnesses: $all_harnesses)" >&2
	exit 2
	;;
esac
shift $(($# > 0 ? 1 : 0))
harnesses=${*:-$all_harnesses}
for h in $harnesses; do
	case " $all_harnesses " in
	*" $h "*) ;;
	*)
		echo "$0: unknown harness: $h (known: $all_harnesses)" >&2
		exit 2
		;;
	esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
work=${FUZZ_WORKDIR:-$root/build-fuzz}
cc=${FUZZ_CC:-clang}
# The libraries configure.ac checks for (every GSLB_PKG but the test-only cmocka).
mods=$(sed -n 's/^[[:space:]]*GSLB_PKG(\[[A-Z_]*\], *\[\([a-z0-9_.+-]*\).*/\1/p' \
	"$root/configure.ac" | grep -vx cmocka | tr '\n' ' ')
[ -n "$mods" ] || { echo "$0: no GSLB_PKG module found in configure.ac" >&2; exit 1; }

command -v "$cc" >/dev/null || { echo "$0: $cc not found (Debian: clang)" >&2; exit 1; }
pkg-config --exists $mods || { echo "$0: pkg-config cannot find: $mods" >&2; exit 1; }

mkdir -p "$work/obj" "$work/include"
rm -f "$work/obj"/*.o

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
	main | server | listen | udp | tcp | reload) continue ;;
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
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# Leaks inside libraries, each explained in the file.
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0}"
export GSLB_SRCDIR="$root"
export GSLB_FUZZ_CONF="$root/tests/fuzz/fuzz.conf"
export GSLB_FUZZ_DNSSEC_CONF="$root/tests/fuzz/fuzz-dnssec.conf"
export GSLB_FUZZ_HTTP_CONF="$root/tests/fuzz/fuzz-http.conf"

# Largest input per harness: a DNS message, an HTTP request head, files.
max_len() {
	case $1 in
	dns | dnssec) echo 4096 ;;
	http) echo 8192 ;;
	*) echo 16384 ;;
	esac
}

for h in $harnesses; do
	# shellcheck disable=SC2086
	"$cc" $common $deps_cflags -fsanitize=fuzzer,address,undefined \
		"$root/tests/fuzz/fuzz_$h.c" "$work/libgslb-fuzz.a" $deps_libs -lpthread -lm \
		-o "$work/fuzz_$h"
done

# One harness: fresh corpus copy (seeds and kept crash inputs), run, verdict.
run_one() {
	local h=$1 dir=$work/$1 rc=0 crashes
	rm -rf "$dir"
	mkdir -p "$dir/corpus" "$dir/artifacts"
	cp "$root/tests/fuzz/corpus/$h"/* "$dir/corpus"/
	if [ -d "$root/tests/fuzz/corpus/$h-regress" ]; then
		cp "$root/tests/fuzz/corpus/$h-regress"/* "$dir/corpus"/ 2>/dev/null || true
	fi
	echo "fuzz: running fuzz_$h for ${secs}s on $(ls "$dir/corpus" | wc -l) seeds"
	# shellcheck disable=SC2086
	(cd "$dir" && "$work/fuzz_$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len="$(max_len "$h")" -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
		${FUZZ_ARGS:-} "$dir/corpus" </dev/null >"$dir/fuzz.log" 2>&1) || rc=$?
	tail -n 14 "$dir/fuzz.log" | sed "s/^/fuzz_$h: /"
	crashes=$(find "$dir/artifacts" -type f | wc -l)
	if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
		echo "fuzz: fuzz_$h FAILED (exit $rc, $crashes input(s) in $dir/artifacts/)" >&2
		grep -m1 -B2 -A40 -E 'ERROR: |runtime error:|invariant violated|fuzz_[a-z]+: |deadly signal' \
			"$dir/fuzz.log" >&2 || true
		echo "fuzz: reproduce with: GSLB_SRCDIR=$root $work/fuzz_$h INPUT" >&2
		return 1
	fi
	echo "fuzz: fuzz_$h OK: ${secs}s, no crash"
}

failed=""
jobs=${FUZZ_JOBS:-1}
if [ "$jobs" -gt 1 ]; then
	pids=()
	names=()
	for h in $harnesses; do
		while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
			sleep 1
		done
		run_one "$h" &
		pids+=($!)
		names+=("$h")
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || failed="$failed ${names[$i]}"
	done
else
	for h in $harnesses; do
		run_one "$h" || failed="$failed $h"
	done
fi
if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed" >&2
	exit 1
fi
echo "fuzz: OK: $harnesses, ${secs}s each, no crash"
