#!/usr/bin/env bash
# run.sh - `make run`: start Courser in the foreground with the shipped
# configuration (conf/courser.conf: listener 127.0.0.1:2525, state in var/).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
conf="$top/conf/courser.conf"
mkdir -p "$top/var/spool" "$top/var/run" "$top/var/log"
if [ "$(id -u)" -eq 0 ]; then
    # As root, master drops each daemon to the unprivileged `courser` user.
    scripts/ensure-user.sh
    chown -R courser: "$top/var"
fi
echo "courser: starting in the foreground with $conf (Ctrl-C stops it)"
echo "courser: try: swaks --server 127.0.0.1:2525 --to you@example.com"
exec "$top/bin/courser" -c "$conf" -f
