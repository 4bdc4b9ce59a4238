#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# srccheck.sh - keep unsafe C library calls out of the sources (TAP output).
# Banned: sprintf, vsprintf, strcat, strncat, strcpy, gets: each has led to
# overflows in mail software; use pn_buf, pn_asprintf or snprintf instead.
cd "$(dirname "$0")/.." || exit 1
n=0
check() {	# check DESCRIPTION PATTERN
	n=$((n + 1))
	hits=$(grep -nE "$2" common/*.[ch] common/milter/*.[ch] milters/*/*.[ch] \
		tests/milter/testd/*.c 2>/dev/null | grep -v 'srccheck: allow')
	if [ -z "$hits" ]; then
		echo "ok $n - no $1"
	else
		echo "not ok $n - $1 found:"
		echo "$hits" | sed 's/^/# /'
	fi
}
check "sprintf/vsprintf" '(^|[^sn_a-z])v?sprintf[[:space:]]*\('
check "strcat/strncat" '(^|[^_a-z])strn?cat[[:space:]]*\('
check "strcpy" '(^|[^_a-z])strcpy[[:space:]]*\('
check "gets" '(^|[^_a-z])gets[[:space:]]*\('
missing=""
for f in common/*.h common/milter/*.h milters/*/*.h; do
	[ -f "$f" ] || continue
	# line 1 is the licence; the module comment comes next
	sed -n 2p "$f" | grep -q '^/\*' || missing="$missing $f"
done
n=$((n + 1))
if [ -z "$missing" ]; then echo "ok $n - every header opens with its module comment"
else echo "not ok $n - headers without a module comment:$missing"; fi
# Every source file names its licence (LICENSE) in its first two lines.
unlicensed=""
for f in $(git ls-files 2>/dev/null | grep -E '\.(c|h|py|sh|pl)$|(^|/)Makefile$' \
	   | grep -v '^tests/fuzz/corpus/'); do
	[ -f "$f" ] || continue
	head -2 "$f" | grep -q 'SPDX-License-Identifier: BSD-2-Clause' \
		|| unlicensed="$unlicensed $f"
done
n=$((n + 1))
if [ -z "$unlicensed" ]; then echo "ok $n - every source file has an SPDX licence line"
else echo "not ok $n - source files without an SPDX licence line:$unlicensed"; fi
echo "1..$n"
