#!/bin/sh
# run.sh BUILD - run every Postern test and print one summary line.
#
# Every test program speaks TAP (cmocka with CMOCKA_MESSAGE_OUTPUT=TAP, the
# Python tests through tests/lib/tap.py). This script runs them in order:
# source checks, unit tests, milter-protocol tests, end-to-end tests; it
# counts "ok" and "not ok" lines and ends with "N passed, M failed". A test
# program that crashes or exits non-zero without reporting a failure counts
# as one failure, so a crash can never pass silently.
set -u
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
export POSTERN_BUILD="$TOP/$BUILD" POSTERN_TOP="$TOP"
export CMOCKA_MESSAGE_OUTPUT=TAP
export PYTHONDONTWRITEBYTECODE=1
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

passed=0 failed=0 failed_names=""
run_one() {	# run_one NAME COMMAND...
	name=$1; shift
	echo "== $name"
	timeout 600 "$@" >"$LOG" 2>&1
	rc=$?
	cat "$LOG"
	p=$(grep -c '^ok ' "$LOG")
	f=$(grep -c '^not ok ' "$LOG")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc"
		f=1
	fi
	passed=$((passed + p)); failed=$((failed + f))
	[ "$f" -gt 0 ] && failed_names="$failed_names $name"
}

run_one srccheck sh tests/srccheck.sh
for t in "$BUILD"/tests/unit/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *.o|*.d) continue ;; esac
	run_one "unit/$(basename "$t")" "$t"
done
# Fuzz targets replay their seed corpus: every parser input that once
# mattered stays a regression test.
for f in "$BUILD"-fuzz/fuzz_*; do
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
for t in tests/milter/test_*.py tests/e2e/test_*.py; do
	[ -f "$t" ] || continue
	run_one "${t#tests/}" python3 "$t"
done

echo
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
