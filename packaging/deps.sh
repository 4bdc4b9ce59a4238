#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# deps.sh [runtime|build|all] - install the Debian packages Postern needs.
# Does nothing when they are all present. Run as root on a fresh Debian 12
# machine; as another user it only lists what is missing.
#
#   runtime  what a production host needs to run the daemons built from
#            source (make install): the shared libraries they link, and
#            adduser. The Debian packages (make deb) pull these in by
#            themselves (shlibs); the MTA (Postfix or Sendmail) is yours.
#   build    what building, testing, the demo and packaging need on top:
#            compilers, -dev packages, cmocka, a Postfix for the private
#            test instances, the test tools, debhelper and lintian.
#   all      both (the default, what make check and make demo run).
set -eu

RUNTIME="
libmilter1.0.1 libssl3 libjson-c5 libmaxminddb0 libzstd1 libsqlite3-0 libidn2-0 libpq5 libmicrohttpd12 libcrypt1
adduser
"

BUILD="
build-essential pkg-config clang libclang-rt-14-dev
libmilter-dev libssl-dev libjson-c-dev libmaxminddb-dev libzstd-dev libsqlite3-dev libidn2-dev libpq-dev libmicrohttpd-dev libcrypt-dev
libcmocka-dev
postfix swaks openssl python3 procps dnsmasq-base
libmaxmind-db-writer-perl mmdb-bin
zstd sqlite3 valgrind postgresql
dovecot-sieve m4
chromium chromium-driver python3-selenium prometheus nginx
debhelper dpkg-dev fakeroot lintian systemd
"

case "${1:-all}" in
runtime) PACKAGES=$RUNTIME ;;
build) PACKAGES=$BUILD ;;
all) PACKAGES="$RUNTIME $BUILD" ;;
*) echo "usage: deps.sh [runtime|build|all]" >&2; exit 64 ;;
esac

missing=""
for p in $PACKAGES; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing Debian packages:$missing" >&2
	echo "deps.sh: run 'sudo sh packaging/deps.sh ${1:-all}' once" >&2
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
