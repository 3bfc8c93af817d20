#!/usr/bin/env bash
# bounced_burst.sh - bounced's failure throughput in a burst (issue 6):
# builds bench/bounced_burst.c against bounced's objects and
# build/libcourser.a, then processes N failures (default 5000) with
# groups of 1 (bounced before the group commit) and of 256 (now), on a
# fresh spool under /tmp (the same file system as the tests' spools).
#   usage: bench/bounced_burst.sh [N [GROUPS...]]     (run `make` first)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
n=${1:-5000}
shift || true
groups=${*:-1 256}
tmp=$(mktemp -d /tmp/courser-bounced-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
objs=$(ls build/bounced/*.o | grep -v '/main\.o$')
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Ilib \
   -o "$tmp/bounced_burst" bench/bounced_burst.c $objs build/libcourser.a \
   $(pkg-config --libs libuv libcares libsodium openssl libpcre2-8 lmdb) -lpthread
for g in $groups; do
    rm -rf "$tmp/spool"
    "$tmp/bounced_burst" "$tmp/spool" "$n" "$g"
done
