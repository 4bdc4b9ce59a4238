#!/bin/sh
# deps.sh - install every Debian package that Postern's build, tests and
# demo need. Does nothing when they are all present. Run as root on a
# fresh Debian 12 machine; as another user it only lists what is missing.
set -eu

PACKAGES="
build-essential pkg-config clang libclang-rt-14-dev
libmilter-dev libssl-dev libjson-c-dev libmaxminddb-dev libzstd-dev libsqlite3-dev libidn2-dev
libcmocka-dev
postfix swaks openssl python3 procps
libmaxmind-db-writer-perl mmdb-bin
zstd sqlite3 valgrind
dovecot-sieve m4
debhelper dpkg-dev fakeroot lintian systemd
"

missing=""
for p in $PACKAGES; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing Debian packages:$missing" >&2
	echo "deps.sh: run 'sudo sh packaging/deps.sh' once" >&2
	exit 1
fi

echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Postfix asks how to configure itself; tests run private instances, so the
# system instance stays unconfigured.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
