#!/usr/bin/env bash
# ensure-user.sh - create the unprivileged `courser` system user when it is
# missing (what the deb/rpm postinst does).  Needs root.
set -euo pipefail
user=${1:-courser}
if ! getent passwd "$user" >/dev/null; then
    useradd --system --no-create-home --home-dir /var/spool/courser \
            --shell /usr/sbin/nologin "$user"
    echo "courser: created system user $user" >&2
fi
