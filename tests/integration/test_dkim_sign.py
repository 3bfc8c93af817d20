"""test_dkim_sign - DKIM signatures made by Courser verify with an
independent verifier (dkimpy, Debian's python3-dkim), with the public keys
that `dkimsign --keygen` / `--txt` print served through dkimpy's injectable
DNS function:

  * RSA-2048 and Ed25519 keys (made by our keygen, and by openssl's own
    genrsa -traditional (PKCS#1) / genpkey -algorithm ed25519 (PKCS#8));
  * relaxed/relaxed, relaxed/simple, simple/simple, simple/relaxed;
  * plain, 8-bit, long and folded headers, a MIME attachment, an empty
    body, no final CRLF, trailing blank lines, LF-only input;
  * signed in-process (--sign-file) and by the dkimsign daemon over its
    socket (--via, the smtp-out path);
  * the daemon: dual signatures, refusal of unconfigured keys and of
    inputs that are not a DKIM-Signature of the key, a key that fails to
    load (specific error), rotation by reload (SIGHUP and automatic),
    removed keys kept for in-flight smtp-outs, 400 concurrent requests on
    one connection checked with python3-cryptography, graceful stop;
  * privilege separation (as root): keys are 0600 owned by courser-dkim and
    the courser user cannot open them.

Runs with /usr/bin/python3; loopback UNIX sockets only.
"""

import base64
import hashlib
import os
import pwd
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(os.environ.get("COURSER_BIN", os.path.join(TOP, "bin")), "dkimsign")
TMP = tempfile.mkdtemp(prefix="courser-dkim-it-")
PIDS = []
TXT = {}            # b"sel._domainkey.domain." -> record
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)
    return cond


def run(args, data=None, ok=True):
    p = subprocess.run([BIN] + args, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, cwd=TMP, timeout=120)
    if ok and p.returncode != 0:
        raise RuntimeError("dkimsign %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                       p.stderr.decode(errors="replace")))
    return p


def keygen(domain, sel, typ, name):
    out = run(["--keygen", "--domain", domain, "--selector", sel, "--type", typ,
               "--out", os.path.join(TMP, name)]).stdout.decode()
    m = re.match(r"^(\S+) IN TXT \((.*)\)$", out.strip())
    check(m is not None, "keygen prints a zone line: %r" % out)
    TXT[m.group(1).encode()] = "".join(re.findall(r'"([^"]*)"', m.group(2))).encode()
    check(os.stat(os.path.join(TMP, name)).st_mode & 0o777 == 0o600, "key file mode 0600")


def txt_of(domain, sel, name):
    TXT[("%s._domainkey.%s." % (sel, domain)).encode()] = \
        run(["--txt", os.path.join(TMP, name)]).stdout.strip()


def dnsfunc(name, timeout=5):
    if not name.endswith(b"."):
        name += b"."
    return TXT.get(name)


def signatures(msg):
    return [v for (k, v) in dkim.DKIM(msg).headers if k.lower() == b"dkim-signature"]


def verify_all(msg, what, want):
    d = dkim.DKIM(msg)
    n = len(signatures(msg))
    check(n == want, "%s: %d signatures (want %d)" % (what, n, want))
    for i in range(n):
        ok = False
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc)
        except Exception as e:      # a verifier exception is a failure too
            print("  dkimpy:", e)
        check(ok, "%s: signature %d verifies with dkimpy" % (what, i))
    for line in msg.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        check(len(line) < 78 or not line.lower().startswith((b"dkim-signature", b" ")),
              "%s: DKIM-Signature lines < 78 columns" % what)


def messages():
    rnd = random.Random(5)
    att = base64.encodebytes(bytes(rnd.getrandbits(8) for _ in range(150000))).replace(b"\n", b"\r\n")
    long_subject = " ".join("word%d" % i for i in range(400))
    folded = "\r\n\t".join(long_subject[i:i + 70] for i in range(0, len(long_subject), 70))
    base = (b"From: Alice Example <alice@mail.example.com>\r\n"
            b"To: bob@example.org, \"Carol, C\" <carol@example.org>\r\n"
            b"Date: Sat, 28 Nov 2026 13:00:00 +0000\r\n"
            b"Message-ID: <1@mail.example.com>\r\n")
    yield "plain", base + b"Subject: hello\r\n\r\nHello Bob,\r\n\r\nbye\r\n"
    yield "8bit", (base + b"Subject: =?utf-8?q?caf=C3=A9?=\r\nMIME-Version: 1.0\r\n"
                   b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                   + "Grüße, café — ça va? \t \r\n日本語のテキスト\r\n".encode() + b"\xff\xfe raw\r\n")
    yield "long-folded-headers", (base + b"Subject: " + folded.encode() + b"\r\n"
                                  b"X-Long: " + b"x" * 990 + b"\r\n"
                                  b"X-Spaced:   a   \r\n   b  \r\n\r\nbody\r\n")
    yield "attachment", (base + b"Subject: report\r\nMIME-Version: 1.0\r\n"
                         b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                         b"--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
                         b"--b1\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Transfer-Encoding: base64\r\n"
                         b"Content-Disposition: attachment; filename=\"r.bin\"\r\n\r\n"
                         + att + b"--b1--\r\n")
    yield "empty-body", base + b"Subject: empty\r\n\r\n"
    yield "no-body-separator", base + b"Subject: none\r\n"
    yield "no-final-crlf", base + b"Subject: x\r\n\r\nlast line without end"
    yield "trailing-blank-lines", base + b"Subject: x\r\n\r\ntext  \r\n \r\n\r\n\t\r\n\r\n"
    yield "lf-only", (base + b"Subject: lf\r\n\r\nline one\r\nline two\r\n").replace(b"\r\n", b"\n")
    yield "sender", (b"Sender: list@mail.example.com\r\n" + base.replace(b"mail.example.com>", b"other.org>")
                     + b"Subject: via list\r\n\r\nhi\r\n")


def write_conf(name, text):
    with open(os.path.join(TMP, name), "w") as f:
        f.write("run-dir %s\nspool %s/spool\nlog-file %s/%s.log\n" % (TMP, TMP, TMP, name) + text)
    return os.path.join(TMP, name)


def test_sign_file(conf, sock=None):
    canons = ["relaxed/relaxed", "relaxed/simple", "simple/simple", "simple/relaxed"]
    for name, msg in messages():
        for c in canons:
            path = os.path.join(TMP, "msg.eml")
            with open(path, "wb") as f:
                f.write(msg)
            args = ["--sign-file", "-c", conf, "--canon", c, "--timestamp", "--expire-after", "1d", path]
            if sock:
                args[1:1] = ["--via", sock]
            out = run(args).stdout
            what = "%s %s%s" % (name, c, " via daemon" if sock else "")
            verify_all(out, what, 2)
            sigs = signatures(out)
            check(any(b"a=rsa-sha256" in s for s in sigs) and any(b"a=ed25519-sha256" in s for s in sigs),
                  what + ": one RSA and one Ed25519 signature")
            check(all(b"c=" + c.encode() in s for s in sigs), what + ": c= tag")
            check(all(re.search(rb"h=from:from:", re.sub(rb"\s", b"", s)) for s in sigs),
                  what + ": From over-signed")


# ---- a minimal client for the daemon (framing of lib/ipc.h, dkim_proto.h) ----

def ipc_version():
    """IPC_VERSION from lib/ipc.h: the frame header's version field."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib", "ipc.h")) as f:
        m = re.search(r"#define IPC_VERSION\s+(\d+)", f.read())
    return int(m.group(1))


IPC_VERSION = ipc_version()


def frame(typ, reqid, payload):
    return struct.pack(">IHHI", len(payload), IPC_VERSION, typ, reqid) + payload


def s_(b):
    return struct.pack(">I", len(b)) + b


def sign_req(reqid, domain, sel, alg, data):
    return frame(100, reqid, s_(domain.encode()) + s_(sel.encode()) + struct.pack(">I", alg) + s_(data))


def read_replies(sock, n):
    buf, out = b"", {}
    while len(out) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("dkimsign closed the connection")
        buf += chunk
        while len(buf) >= 12:
            ln, ver, typ, reqid = struct.unpack(">IHHI", buf[:12])
            if len(buf) < 12 + ln:
                break
            p = buf[12:12 + ln]
            buf = buf[12 + ln:]
            st = struct.unpack(">I", p[:4])[0]
            el = struct.unpack(">I", p[4:8])[0]
            err = p[8:8 + el]
            sl = struct.unpack(">I", p[8 + el:12 + el])[0]
            out[reqid] = (typ, st, err.decode(), p[12 + el:12 + el + sl].decode())
    return out


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(path)
    return s


def input_for(domain, sel, alg_name, n):
    return ("from:user%d@%s\r\ndkim-signature:v=1; a=%s; c=relaxed/relaxed; d=%s; s=%s;"
            " h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=" %
            (n, domain, alg_name, domain, sel)).encode()


def public_key(name):
    with open(os.path.join(TMP, name), "rb") as f:
        return serialization.load_pem_private_key(f.read(), None).public_key()


def start_daemon(conf):
    p = subprocess.Popen([BIN, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    PIDS.append(p)
    sock = os.path.join(TMP, "dkimsign.sock")
    for _ in range(100):
        try:
            connect(sock).close()
            return p, sock
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("dkimsign did not start")


def log_of(conf):
    with open(conf[:-5] + ".conf.log" if False else os.path.join(TMP, os.path.basename(conf) + ".log")) as f:
        return f.read()


def test_daemon_protocol(sock):
    rsa_pub, ed_pub = public_key("rsa.pem"), public_key("ed.pem")
    s = connect(sock)
    # HELLO first, as smtp-out does (role 2, pid, slots).
    s.sendall(frame(1, 0, struct.pack(">III", 2, os.getpid(), 200)))
    reqs, inputs = b"", {}
    for i in range(1, 401):
        alg, sel, an = (1, "s2048", "rsa-sha256") if i % 2 else (2, "ed1", "ed25519-sha256")
        inputs[i] = (alg, input_for("example.com", sel, an, i))
        reqs += sign_req(i, "example.com", sel, alg, inputs[i][1])
    t0 = time.time()
    s.sendall(reqs)
    rep = read_replies(s, 400)
    dt = time.time() - t0
    good = 0
    for i, (alg, data) in inputs.items():
        typ, st, err, sig = rep[i]
        if typ != 101 or st != 0:
            check(False, "request %d: status %d %s" % (i, st, err))
            continue
        raw = base64.b64decode(sig)
        try:
            if alg == 1:
                rsa_pub.verify(raw, data, padding.PKCS1v15(), hashes.SHA256())
            else:
                ed_pub.verify(raw, hashlib.sha256(data).digest())
            good += 1
        except Exception:
            check(False, "request %d: signature does not verify" % i)
    check(good == 400, "400 concurrent requests on one connection all verify (%d)" % good)
    print("  400 requests (200 RSA-2048 + 200 Ed25519) in %.2fs over one connection" % dt)
    # Refusals: unconfigured selector, wrong domain for the key, input that
    # is not a DKIM-Signature, malformed frame.
    s.sendall(sign_req(1000, "example.com", "nope", 1, input_for("example.com", "nope", "rsa-sha256", 0))
              + sign_req(1001, "evil.example", "s2048", 1, input_for("evil.example", "s2048", "rsa-sha256", 0))
              + sign_req(1002, "example.com", "s2048", 1, b"GET / HTTP/1.0\r\n\r\n")
              + sign_req(1003, "example.com", "s2048", 1, input_for("example.com", "ed1", "rsa-sha256", 0))
              + frame(100, 1004, b"\x00\x00\x00\x05abc"))
    rep = read_replies(s, 5)
    check(rep[1000][1] == 1 and "no rsa key nope._domainkey.example.com" in rep[1000][2],
          "unconfigured selector refused: %r" % (rep[1000],))
    check(rep[1001][1] == 1, "key of another domain refused: %r" % (rep[1001],))
    check(rep[1002][1] == 3, "arbitrary data refused: %r" % (rep[1002],))
    check(rep[1003][1] == 3, "s= mismatch refused: %r" % (rep[1003],))
    check(rep[1004][1] == 3 and rep[1004][3] == "", "malformed request answered: %r" % (rep[1004],))
    # A key configured but missing on disk: specific error.
    s.sendall(sign_req(1005, "broken.example", "gone", 1, input_for("broken.example", "gone", "rsa-sha256", 0)))
    rep = read_replies(s, 1)
    check(rep[1005][1] == 2 and "missing" in rep[1005][2], "failed key: specific error: %r" % (rep[1005],))
    s.close()


def test_rotation(conf_path, conf_text, sock, proc):
    path = os.path.join(TMP, "msg.eml")
    with open(path, "wb") as f:
        f.write(next(messages())[1])
    # 1. New selector, no SIGHUP: dkimsign re-reads its configuration when a
    #    key it does not know is asked for (smtp-out reloaded first).
    keygen("example.com", "new1", "rsa", "new1.pem")
    text2 = conf_text.replace("domain-key s2048,", "domain-key new1,example.com,new1.pem\ndomain-key s2048,")
    with open(conf_path, "w") as f:
        f.write(text2)
    out = run(["--sign-file", "--via", sock, "-c", conf_path, "--algorithm", "rsa", path]).stdout
    verify_all(out, "rotation without SIGHUP", 1)
    check(b"s=new1;" in out, "new selector used at once")
    # 2. Old selector removed from the config + SIGHUP: an smtp-out that
    #    still has the old configuration keeps getting signatures.
    text3 = "\n".join(l for l in text2.split("\n") if not l.startswith("domain-key s2048,"))
    old_conf = conf_path + ".old"
    shutil.copy(conf_path, old_conf)
    with open(conf_path, "w") as f:
        f.write(text3)
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    out = run(["--sign-file", "--via", sock, "-c", old_conf, "--selector", "s2048",
               "--domain", "example.com", path]).stdout
    verify_all(out, "retired key still signs for an old-config smtp-out", 1)
    log = open(os.path.join(TMP, "d.conf.log")).read()
    check("removed from the configuration; still signing" in log, "retirement logged")
    # 3. Rotation under load: requests keep flowing while keys switch.
    s = connect(sock)
    pub = public_key("new1.pem")
    sent, verified = 0, 0
    for round_ in range(10):
        batch, inputs = b"", {}
        for i in range(100):
            sent += 1
            inputs[sent] = input_for("example.com", "new1", "rsa-sha256", sent)
            batch += sign_req(sent, "example.com", "new1", 1, inputs[sent])
        s.sendall(batch)
        proc.send_signal(signal.SIGHUP)
        rep = read_replies(s, 100)
        bad = [r for r in rep.values() if r[1] != 0]
        check(not bad, "rotation under load round %d: %d failures %r" % (round_, len(bad), bad[:1]))
        for reqid, r in rep.items():
            if r[1] == 0:
                try:
                    pub.verify(base64.b64decode(r[3]), inputs[reqid], padding.PKCS1v15(), hashes.SHA256())
                    verified += 1
                except Exception:
                    check(False, "rotation under load: request %d does not verify" % reqid)
    s.close()
    check(verified == 1000, "rotation under load: %d of 1000 verify" % verified)
    print("  1000 requests with 10 reloads in flight: %d signed and verified" % verified)


def test_privileges(conf):
    if os.geteuid() != 0:
        print("  (not root: privilege check skipped)")
        return
    subprocess.run([os.path.join(TOP, "scripts", "ensure-user.sh"), "courser-dkim"], check=True)
    subprocess.run([os.path.join(TOP, "scripts", "ensure-user.sh"), "courser"], check=True)
    kd = os.path.join(TMP, "privkeys")
    os.mkdir(kd, 0o755)
    key = os.path.join(kd, "p.pem")
    run(["--keygen", "-c", conf, "--domain", "example.com", "--selector", "p", "--out", key])
    st = os.stat(key)
    check(st.st_uid == pwd.getpwnam("courser-dkim").pw_uid and st.st_mode & 0o777 == 0o600,
          "keygen as root: key owned by courser-dkim, mode 0600")
    os.chmod(TMP, 0o755)
    r = subprocess.run(["runuser", "-u", "courser", "--", "cat", key], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    check(r.returncode != 0 and b"Permission denied" in r.stderr, "the courser user cannot read the key")
    r = subprocess.run(["runuser", "-u", "courser", "--", BIN, "--txt", key], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    check(r.returncode == 1 and b"unreadable (Permission denied)" in r.stderr,
          "dkimsign as courser: 'unreadable' error: %r" % r.stderr)
    r = subprocess.run(["runuser", "-u", "courser-dkim", "--", BIN, "--txt", key], stdout=subprocess.PIPE)
    check(r.returncode == 0 and r.stdout.startswith(b"v=DKIM1; k=rsa; p="), "courser-dkim can read it")


def main():
    try:
        keygen("example.com", "s2048", "rsa", "rsa.pem")
        keygen("example.com", "ed1", "ed25519", "ed.pem")
        # Keys as operators make them with openssl itself.
        subprocess.run(["openssl", "genrsa", "-traditional", "-out", os.path.join(TMP, "ossl-rsa.pem"), "2048"],
                       check=True, stderr=subprocess.DEVNULL)
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", os.path.join(TMP, "ossl-ed.pem")],
                       check=True)
        with open(os.path.join(TMP, "ossl-rsa.pem")) as f:
            check("BEGIN RSA PRIVATE KEY" in f.read(), "openssl genrsa -traditional wrote PKCS#1")
        txt_of("other.org", "o1", "ossl-rsa.pem")
        txt_of("other.org", "o2", "ossl-ed.pem")
        conf_text = ("domain-key s2048,example.com,rsa.pem\n"
                     "domain-key ed1,example.com,ed.pem,ed25519\n"
                     "domain-key o1,other.org,ossl-rsa.pem\n"
                     "domain-key o2,other.org,ossl-ed.pem,ed25519\n"
                     "domain-key gone,broken.example,does-not-exist.pem\n"
                     "<domain *>\n  dkim-sign yes\n</domain>\n")
        conf = write_conf("c.conf", conf_text)
        print("signing in-process (--sign-file)", flush=True)
        test_sign_file(conf)
        dconf = write_conf("d.conf", conf_text)
        proc, sock = start_daemon(dconf)
        log = open(os.path.join(TMP, "d.conf.log")).read()
        check("does-not-exist.pem: missing" in log, "a key that fails to load is reported at start")
        print("signing through the daemon (--via)", flush=True)
        test_sign_file(dconf, sock)
        print("daemon protocol", flush=True)
        test_daemon_protocol(sock)
        print("rotation", flush=True)
        with open(dconf) as f:
            full = f.read()
        test_rotation(dconf, full, sock, proc)
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=10) == 0, "SIGTERM: exit 0")
        print("privileges", flush=True)
        test_privileges(conf)
    finally:
        for p in PIDS:
            if p.poll() is None:
                p.kill()
                p.wait()
    if FAILS:
        print("%d failures; files kept in %s" % (len(FAILS), TMP))
        sys.exit(1)
    shutil.rmtree(TMP, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
