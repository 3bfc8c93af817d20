#!/usr/bin/env bash
# qmgr_sched.sh [RECIPIENTS [QUEUES]] - the scheduler benchmark
# (bench/qmgr_sched.c): RSS per queued recipient and scheduling decisions
# per second with a fake clock, no network.  Needs `make` first (links
# build/qmgr/*.o and build/libcourser.a).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -f build/libcourser.a ] && [ -f build/qmgr/shaping.o ] || { echo "qmgr_sched.sh: run make first" >&2; exit 1; }
tmp=$(mktemp -d /tmp/qmgr-sched-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pkgs="libuv libcares libsodium openssl libpcre2-8 lmdb"
objs=$(ls build/qmgr/*.o | grep -v '/main\.o$')
cc -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Ilib \
   $(pkg-config --cflags $pkgs) -o "$tmp/qmgr_sched" bench/qmgr_sched.c $objs build/libcourser.a \
   $(pkg-config --libs $pkgs) -lpthread
"$tmp/qmgr_sched" unlimited "$@"
"$tmp/qmgr_sched" shaped "$@"
