#!/usr/bin/env bash
# dkim_sign.sh - DKIM signing throughput (issue 5): raw RSA-2048 and
# Ed25519 signatures/s on 1 thread and on every CPU, body hashing MB/s,
# and signatures/s end to end through a running dkimsign (its thread pool,
# the socket and dkim_client, 256 requests in flight).
#   usage: bench/dkim_sign.sh [REQUESTS]     (run `make` first)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
n=${1:-20000}
tmp=$(mktemp -d /tmp/courser-dkim-bench-XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cflags=$(pkg-config --cflags libuv openssl)
libs=$(pkg-config --libs libuv libcares libsodium openssl libpcre2-8 lmdb 2>/dev/null)
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Ilib $cflags -o "$tmp/dkim_bench" \
   bench/dkim_bench.c build/libcourser.a $libs -lpthread
bin/dkimsign --keygen --domain example.com --selector rsa --bits 2048 --out "$tmp/rsa.pem" >/dev/null 2>&1
bin/dkimsign --keygen --domain example.com --selector ed --type ed25519 --out "$tmp/ed.pem" >/dev/null 2>&1
cpus=$(nproc)
echo "== raw signing (lib/dkim_key.c), $cpus CPUs"
"$tmp/dkim_bench" keys "$tmp/rsa.pem" "$tmp/ed.pem" "$cpus"
echo "== body canonicalization + SHA-256 (lib/dkim_canon.c)"
"$tmp/dkim_bench" body
cat > "$tmp/c.conf" <<CONF
run-dir $tmp
log-file $tmp/dkimsign.log
domain-key rsa,example.com,$tmp/rsa.pem
domain-key ed,example.com,$tmp/ed.pem,ed25519
CONF
bin/dkimsign -c "$tmp/c.conf" & pid=$!
for _ in $(seq 50); do [ -S "$tmp/dkimsign.sock" ] && break; sleep 0.1; done
echo "== through the dkimsign daemon"
"$tmp/dkim_bench" daemon "$tmp/dkimsign.sock" "$n"
