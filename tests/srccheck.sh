#!/bin/sh
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
	head -1 "$f" | grep -q '^/\*' || missing="$missing $f"
done
n=$((n + 1))
if [ -z "$missing" ]; then echo "ok $n - every header opens with its module comment"
else echo "not ok $n - headers without a module comment:$missing"; fi
echo "1..$n"
