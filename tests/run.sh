#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# run.sh BUILD - run every Postern test and print one summary line.
#
# Every test program speaks TAP (cmocka with CMOCKA_MESSAGE_OUTPUT=TAP, the
# Python tests through tests/lib/tap.py). This script runs them in order:
# source checks, unit tests, milter-protocol tests, end-to-end tests; it
# counts "ok" and "not ok" lines and ends with "N passed, M failed". A test
# program that crashes or exits non-zero without reporting a failure counts
# as one failure, so a crash can never pass silently.
# POSTERN_VALGRIND=1 runs the unit tests and every daemon under valgrind.
# POSTERN_SKIP="e2e/test_x.py ..." leaves those test files out (counted as
# skipped): the sanitizer run skips the package test, which builds its own
# packages and so tests nothing sanitized.
# POSTERN_JOBS=N runs N end-to-end files at a time (default 2; 1: one after
# the other); POSTERN_SERIAL="e2e/test_x.py ..." are run alone, before them.
# POSTERN_SUITE (tests/lib/mta.py) chooses the postern-suite variants of the
# scenarios: all (default), none, only, or one MTA's (postfix).
# Every file's time is printed ("# NAME: N s").
set -u
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
export POSTERN_BUILD="$TOP/$BUILD" POSTERN_TOP="$TOP"
export CMOCKA_MESSAGE_OUTPUT=TAP
export PYTHONDONTWRITEBYTECODE=1
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

passed=0 failed=0 skipped=0 failed_names=""
count_log() {	# count_log NAME RC: account for the TAP output in $LOG
	name=$1 rc=$2
	p=$(grep '^ok ' "$LOG" | grep -vc '# SKIP')
	f=$(grep '^not ok ' "$LOG" | grep -vc '# SKIP')
	k=$(grep -Ec '^(not )?ok .*# SKIP' "$LOG")
	skipped=$((skipped + k))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc"
		f=1
	fi
	passed=$((passed + p)); failed=$((failed + f))
	[ "$f" -gt 0 ] && failed_names="$failed_names $name"
}
run_one() {	# run_one NAME COMMAND...
	name=$1; shift
	echo "== $name"
	start=$(date +%s)
	timeout 600 "$@" >"$LOG" 2>&1
	rc=$?
	cat "$LOG"
	echo "# $name: $(($(date +%s) - start)) s"
	count_log "$name" "$rc"
}
skipped_by_env() {	# skipped_by_env FILE: in POSTERN_SKIP (counted as skipped)
	case " ${POSTERN_SKIP:-} " in
	*" ${1#tests/} "*)
		echo "== ${1#tests/}: skipped (POSTERN_SKIP)"; skipped=$((skipped + 1)); return 0 ;;
	esac
	return 1
}

run_one srccheck sh tests/srccheck.sh
run_one docs_check python3 tests/docs_check.py "$BUILD"
for t in "$BUILD"/tests/unit/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *.o|*.d) continue ;; esac
	if [ "${POSTERN_VALGRIND:-0}" = 1 ]; then
		run_one "unit/$(basename "$t")" valgrind -q --error-exitcode=99 \
			--leak-check=full --errors-for-leak-kinds=definite "$t"
	else
		run_one "unit/$(basename "$t")" "$t"
	fi
done
# Fuzz targets replay their seed corpus: every parser input that once
# mattered stays a regression test.
for f in "$BUILD"-fuzz/fuzz_*; do
	[ "${POSTERN_VALGRIND:-0}" = 1 ] && break	# ASan binaries: not under valgrind
	[ -x "$f" ] || continue
	n=${f##*/fuzz_}
	[ -d "tests/fuzz/corpus/$n" ] || continue
	echo "== fuzz/$n"
	if "$f" -runs=0 "tests/fuzz/corpus/$n" >"$LOG" 2>&1; then
		passed=$((passed + 1)); echo "ok - fuzz corpus $n"
	else
		tail -20 "$LOG"; failed=$((failed + 1)); failed_names="$failed_names fuzz/$n"
		echo "not ok - fuzz corpus $n"
	fi
done
# Protocol tests one after the other; then the end-to-end files that
# touch the machine (POSTERN_SERIAL: the package test installs packages
# and creates system users), then the other end-to-end files,
# POSTERN_JOBS (default 2) at a time. Each of those has its own private
# MTA, sink and daemons under its own mkdtemp directory, on ports picked
# free at start (retried on a conflict), so two never share anything;
# their outputs are shown whole, in file order, once all have finished.
SERIAL=${POSTERN_SERIAL-e2e/test_packages.py}
PARALLEL=""
for t in tests/milter/test_*.py tests/e2e/test_*.py; do
	[ -f "$t" ] || continue
	skipped_by_env "$t" && continue
	case "$t" in
	tests/e2e/*)
		case " $SERIAL " in
		*" ${t#tests/} "*) ;;
		*) PARALLEL="$PARALLEL $t"; continue ;;
		esac ;;
	esac
	run_one "${t#tests/}" python3 "$t"
done
OUT=$(mktemp -d)
trap 'rm -f "$LOG"; rm -rf "$OUT"' EXIT
start=$(date +%s)
# one job: timeout, output to OUT/N.log, exit status to OUT/N.rc, seconds to OUT/N.s
printf '%s\n' $PARALLEL | xargs -r -P "${POSTERN_JOBS:-2}" -I{} sh -c '
	t=$1 out=$2/$(echo "$1" | tr / _)
	s=$(date +%s)
	timeout 600 python3 "$t" >"$out.log" 2>&1
	echo $? >"$out.rc"
	echo $(($(date +%s) - s)) >"$out.s"' _ {} "$OUT"
for t in $PARALLEL; do
	out=$OUT/$(echo "$t" | tr / _)
	echo "== ${t#tests/}"
	cat "$out.log" >"$LOG" 2>/dev/null
	cat "$LOG"
	echo "# ${t#tests/}: $(cat "$out.s" 2>/dev/null) s"
	count_log "${t#tests/}" "$(cat "$out.rc" 2>/dev/null || echo 1)"
done
[ -n "$PARALLEL" ] && echo "# end-to-end files, ${POSTERN_JOBS:-2} at a time: $(($(date +%s) - start)) s"

echo
[ -n "$failed_names" ] && echo "failed:$failed_names"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
