#!/usr/bin/env bash
# suppress.sh - suppression database look-up cost at scale (issue 6):
# builds bench/suppress_bench.c against build/libcourser.a, fills a fresh
# database with N addresses (default 10 million) and times look-ups.
#   usage: bench/suppress.sh [N [LOOKUPS]]     (run `make` first)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tmp=$(mktemp -d /tmp/courser-suppress-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ilib $(pkg-config --cflags lmdb) \
   -o "$tmp/suppress_bench" bench/suppress_bench.c build/libcourser.a $(pkg-config --libs lmdb) -lpthread
"$tmp/suppress_bench" "$tmp/db" "${1:-10000000}" "${2:-1000000}"
du -sh "$tmp/db" | awk '{print "database size on disk: " $1}'
