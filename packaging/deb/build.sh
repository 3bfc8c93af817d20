#!/usr/bin/env bash
# build.sh [OUTDIR] - build the Debian package courser_VERSION_ARCH.deb from
# the programs in bin/ (run `make` first; `make deb` does both).
# Layout: /usr/sbin/courser (master), /usr/lib/courser/ (the daemons the
# master spawns), /usr/bin/mtactl, /etc/courser/ (conffiles),
# /lib/systemd/system/courser.service, /usr/share/doc/courser/.
# maintainer scripts create the `courser` and `courser-dkim` users and the
# spool, log and key folders with their owners.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build}
version=$(sed -n 's/^#define COURSER_VERSION "\(.*\)"/\1/p' "$top/master/master.h")
version=${version:-0.1.0}
arch=$(dpkg --print-architecture)
for b in courser smtpd qmgr smtp-out acctd bounced dkimsign mtactl; do
    [ -x "$top/bin/$b" ] || { echo "build.sh: bin/$b is missing; run make first" >&2; exit 1; }
done
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
install -d "$root/DEBIAN" "$root/usr/sbin" "$root/usr/lib/courser" "$root/usr/bin" \
    "$root/etc/courser/conf.d" "$root/etc/courser/dkim" "$root/lib/systemd/system" \
    "$root/usr/share/doc/courser"
install -m 755 "$top/bin/courser" "$root/usr/sbin/courser"
for b in smtpd qmgr smtp-out acctd bounced dkimsign; do
    install -m 755 "$top/bin/$b" "$root/usr/lib/courser/$b"
done
install -m 755 "$top/bin/mtactl" "$root/usr/bin/mtactl"
install -m 644 "$top/packaging/courser.conf" "$root/etc/courser/courser.conf"
install -m 644 "$top/conf/bounce-patterns.conf" "$root/etc/courser/bounce-patterns.conf"
install -m 644 "$top/packaging/courser.service" "$root/lib/systemd/system/courser.service"
for d in README.md INSTALL ARCHITECTURE.md docs/*.md; do
    install -m 644 "$top/$d" "$root/usr/share/doc/courser/$(basename "$d")"
done
strip --strip-unneeded "$root/usr/sbin/courser" "$root"/usr/lib/courser/* "$root/usr/bin/mtactl"
# shared-library dependencies of the binaries, as Debian package names
deps=$(for f in "$root/usr/sbin/courser" "$root"/usr/lib/courser/* "$root/usr/bin/mtactl"; do
           ldd "$f" | awk '/=>/ {print $3}'
       done | sort -u | while read -r lib; do
           dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true
       done | cut -d: -f1 | sort -u | grep -v '^libc6$' | paste -sd, | sed 's/,/, /g')
size=$(du -sk "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CTL
Package: courser
Version: $version
Architecture: $arch
Maintainer: Courser developers <dev@courser.invalid>
Installed-Size: $size
Depends: libc6, adduser${deps:+, $deps}
Section: mail
Priority: optional
Provides: mail-transport-agent
Conflicts: mail-transport-agent
Replaces: mail-transport-agent
Homepage: https://courser.invalid/
Description: high-volume mail transfer agent (PowerMTA-style configuration)
 Courser accepts mail over SMTP, queues it durably and delivers it from
 chosen source IPs at the pace each mailbox provider tolerates, with DKIM
 signing, bounce classification and per-event accounting.
CTL
printf '/etc/courser/courser.conf\n/etc/courser/bounce-patterns.conf\n' > "$root/DEBIAN/conffiles"
cat > "$root/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    getent passwd courser >/dev/null || adduser --system --group --home /var/spool/courser \
        --no-create-home --shell /usr/sbin/nologin courser
    getent passwd courser-dkim >/dev/null || adduser --system --group --home /etc/courser/dkim \
        --no-create-home --shell /usr/sbin/nologin courser-dkim
    install -d -o courser -g courser -m 750 /var/spool/courser /var/log/courser
    # smtp-out (user courser) lists dkim-key-dir to learn which selectors
    # exist; only the key files themselves are private (0600, courser-dkim)
    chown courser-dkim:courser-dkim /etc/courser/dkim
    chmod 755 /etc/courser/dkim
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload >/dev/null 2>&1 || true
        systemctl enable courser.service >/dev/null 2>&1 || true
    fi
fi
exit 0
SH
cat > "$root/DEBIAN/prerm" <<'SH'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    systemctl stop courser.service >/dev/null 2>&1 || true
fi
exit 0
SH
cat > "$root/DEBIAN/postrm" <<'SH'
#!/bin/sh
set -e
# purge keeps the spool (it may hold accepted mail) but removes the config
if [ "$1" = purge ]; then
    rm -rf /etc/courser
fi
exit 0
SH
chmod 755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
mkdir -p "$out"
deb="$out/courser_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
