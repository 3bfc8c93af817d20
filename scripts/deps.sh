#!/usr/bin/env bash
# deps.sh run|check - install the Debian packages Courser needs.
#   run:   build and runtime libraries (make run)
#   check: the above plus the real peers the tests talk to (make check)
# As root, missing packages are installed with apt-get; otherwise the script
# prints the exact command to run and fails.
set -euo pipefail
mode=${1:-run}

build_pkgs=(build-essential pkg-config libuv1-dev libssl-dev libsodium-dev
            liblmdb-dev libc-ares-dev libpcre2-dev)
test_pkgs=(libcmocka-dev swaks postfix dnsmasq-base python3 python3-dkim
           opendkim-tools opendkim lmdb-utils procps iproute2 openssl)

pkgs=("${build_pkgs[@]}")
[ "$mode" = check ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "courser: missing Debian packages: ${missing[*]}" >&2
    echo "courser: install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

echo "courser: installing ${missing[*]}" >&2
# postfix is installed only for its smtp-source/smtp-sink tools: keep its
# service from starting (and from holding port 25) during the install.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
fi
cleanup() { if [ $created_policy -eq 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
if ! apt-get install -y -q "${missing[@]}" >/tmp/courser-apt.log 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q "${missing[@]}" >/tmp/courser-apt.log 2>&1 || {
        echo "courser: apt-get install failed; see /tmp/courser-apt.log" >&2
        tail -20 /tmp/courser-apt.log >&2
        exit 1
    }
fi
exit 0
