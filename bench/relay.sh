#!/usr/bin/env bash
# relay.sh [--quick] [--scenarios S1,S2,S3,S4] [--runs N] [--scale F]
# The relay benchmark of shared/BENCH.md against bin/ (loopback only):
# smtp-source -> Courser -> smtp-sink.  `make bench` runs it; see
# bench/relay.py for what is measured and how.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
for b in courser smtpd qmgr smtp-out acctd; do
    [ -x "$top/bin/$b" ] || { echo "relay.sh: $top/bin/$b missing; run make" >&2; exit 1; }
done
for t in /usr/sbin/smtp-source /usr/sbin/smtp-sink; do
    [ -x "$t" ] || { echo "relay.sh: $t missing (Debian package postfix; scripts/deps.sh check)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] && "$top/scripts/ensure-user.sh" courser && "$top/scripts/ensure-user.sh" courser-dkim
exec /usr/bin/python3 "$top/bench/relay.py" "$@"
