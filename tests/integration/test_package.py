#!/usr/bin/python3
"""test_package: `packaging/deb/build.sh` builds a .deb from bin/ whose
contents are the documented layout (master in /usr/sbin, daemons in
/usr/lib/courser, mtactl in /usr/bin, conffiles in /etc/courser, the
systemd unit), whose control file names the shared libraries' packages,
and whose shipped configuration validates with the packaged programs
(extracted with dpkg -x into a scratch folder; nothing is installed)."""

import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EXPECTED = ["usr/sbin/courser", "usr/bin/mtactl", "usr/lib/courser/smtpd", "usr/lib/courser/qmgr",
            "usr/lib/courser/smtp-out", "usr/lib/courser/acctd", "usr/lib/courser/bounced",
            "usr/lib/courser/dkimsign", "etc/courser/courser.conf", "etc/courser/bounce-patterns.conf",
            "lib/systemd/system/courser.service", "usr/share/doc/courser/config.md"]


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, **kw)


def main():
    tmp = tempfile.mkdtemp(prefix="courser-it-package-")
    try:
        p = run([os.path.join(ROOT, "packaging", "deb", "build.sh"), tmp])
        out = p.stdout.decode(errors="replace")
        assert p.returncode == 0, "build.sh failed: %s" % out
        deb = out.strip().splitlines()[-1]
        assert deb.endswith(".deb") and os.path.exists(deb), "no .deb reported: %r" % out
        info = run(["dpkg-deb", "-f", deb, "Package", "Depends", "Provides"]).stdout.decode()
        assert "Package: courser" in info, info
        for lib in ("libuv1", "libssl3", "liblmdb0", "libc-ares2", "libpcre2-8-0"):
            assert lib in info, "Depends lacks %s: %s" % (lib, info)
        assert "mail-transport-agent" in info, info
        x = os.path.join(tmp, "root")
        assert run(["dpkg-deb", "-x", deb, x]).returncode == 0
        for f in EXPECTED:
            assert os.path.isfile(os.path.join(x, f)), "package lacks /%s" % f
        for f in EXPECTED[:8]:
            assert os.access(os.path.join(x, f), os.X_OK), "/%s is not executable" % f
        ctl = os.path.join(tmp, "ctl")
        assert run(["dpkg-deb", "-e", deb, ctl]).returncode == 0
        with open(os.path.join(ctl, "conffiles")) as f:
            assert "/etc/courser/courser.conf" in f.read().split()
        for script in ("postinst", "prerm", "postrm"):
            r = run(["sh", "-n", os.path.join(ctl, script)])
            assert r.returncode == 0, "%s: %s" % (script, r.stdout)
        conf = os.path.join(x, "etc", "courser", "courser.conf")
        r = run([os.path.join(x, "usr", "sbin", "courser"), "-c", conf, "--check-config"])
        assert r.returncode == 0, "packaged config invalid: %s" % r.stdout.decode(errors="replace")
        r = run([os.path.join(x, "usr", "bin", "mtactl"), "-c", conf, "check-config"])
        assert r.returncode == 0, "mtactl check-config: %s" % r.stdout.decode(errors="replace")
        # a broken drop-in in conf.d/ is reported with its file:line
        with open(os.path.join(x, "etc", "courser", "conf.d", "bad.conf"), "w") as f:
            f.write("# drop-in\nmax-smtp-outt 3\n")
        r = run([os.path.join(x, "usr", "sbin", "courser"), "-c", conf, "--check-config"])
        msg = r.stdout.decode(errors="replace")
        assert r.returncode != 0 and "bad.conf:2" in msg, "bad drop-in not reported: %r" % msg
        print("= package %s: layout, depends, conffiles, maintainer scripts, shipped config valid"
              % os.path.basename(deb))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
