#!/bin/sh
# gslbd under valgrind memcheck, for the system tests: `make check-valgrind`
# sets GSLBD to this script, so every daemon the tests start (and every
# `gslbd -t` or `--explain` they run) goes through it.
#
#   GSLB_VALGRIND_BIN     the real gslbd (default: $GSLB_BUILDDIR/gslbd)
#   GSLB_VALGRIND_LOGDIR  where the logs go, one per process:
#                         gslbd.PID.NANOSECONDS.vg (default: $TMPDIR or /tmp)
#   GSLB_VALGRIND_FLAGS   more valgrind options (e.g. --track-origins=yes)
#
# exec keeps the process id: the tests know the daemon by it and read its
# log (tests/system/gslbtest.py, check_stopped_cleanly). The log is a file,
# not stderr, because the tests read the daemon's stderr. Any error, a
# definite or indirect leak included, makes the exit status 97.
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
bin=${GSLB_VALGRIND_BIN:-${GSLB_BUILDDIR:-$here/..}/gslbd}
logdir=${GSLB_VALGRIND_LOGDIR:-${TMPDIR:-/tmp}}
stamp=$(date +%s%N)
# valgrind gives the daemon its soft descriptor limit (less its own) as the
# hard one, so gslbd could not raise it as it does alone: raise it here, or
# test configs with 1024 connections would not fit (fdlimit.c).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# shellcheck disable=SC2086 # GSLB_VALGRIND_FLAGS is a list of options
exec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --error-exitcode=97 --num-callers=40 \
	--suppressions="$here/valgrind.supp" --log-file="$logdir/gslbd.%p.$stamp.vg" \
	${GSLB_VALGRIND_FLAGS:-} "$bin" "$@"
