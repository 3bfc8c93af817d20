#!/usr/bin/python3
"""test_dkim_relay: mail relayed through the running system (master ->
smtpd -> qmgr -> smtp-out -> dkimsign) arrives at the sink signed, and every
signature verifies with two independent verifiers reading the public keys
from a dnsmasq on loopback (TXT records, port 53 of a random 127.x address):
python3-dkim (dkimpy, its DNS look-ups sent to that dnsmasq by dnspython)
and OpenDKIM (`opendkim -t`, the milter's own verifier, with
`Nameservers` set to that dnsmasq; opendkim-testmsg cannot be used: its
dkim_chunk() path refuses every message in Debian 12's 2.11.0~beta2).

  * RSA-2048 + Ed25519 for one domain: two signatures per message;
  * relaxed/relaxed, relaxed/simple, simple/simple, simple/relaxed (one
    <domain> block each);
  * plain, 8-bit, long and folded headers, a 150 KB attachment (its body
    is hashed in smtp-out's thread pool), empty body, a Sender: identity;
  * `dkim-sign no` sends unsigned; a key that fails to load defers
    (dkim-fail-action defer, 451 4.7.5) or sends unsigned
    (dkim-fail-action send-unsigned);
  * rotation under load: 1,000 messages flow while a new selector is added
    by `mtactl reload` and the old one is later removed by another reload;
    every message is delivered and verifies, none is deferred;
  * a <virtual-mta>'s domain-key wins over the global ones, and its
    dkim-identity-fallback signs mail whose From domain has no key;
  * a key only in dkim-key-dir signs; a key dir smtp-out cannot list
    defers (not unsigned);
  * kill -9 of dkimsign while 300 messages flow: every message arrives
    signed (deferred deliveries are retried), none unsigned;
  * dkim-check-dns: dkimsign checks every key against DNS at start and
    reports a mismatched and an unpublished one;
  * mtactl dkim keygen (a file, and into dkim-key-dir) and mtactl dkim
    check (match, mismatch, unpublished, no such key);
  * as root: dkimsign runs as courser-dkim, smtp-out as courser, and the
    courser user cannot open the key files.
"""

import base64
import glob
import os
import pwd
import random
import re
import subprocess
import sys
import threading
import time

import dkim
import dns.resolver

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Env, check, log, summary, wait_for, run_test, random_loopback,  # noqa: E402
                     send_on, IS_ROOT, TOP, BIN)

CANONS = {"rr.test": "relaxed/relaxed", "rs.test": "relaxed/simple",
          "ss.test": "simple/simple", "sr.test": "simple/relaxed"}


class Keys:
    """Key files made by `dkimsign --keygen` and their TXT records."""

    def __init__(self, env):
        self.dir = os.path.join(env.dir, "keys")
        os.makedirs(self.dir, mode=0o755)
        self.txt = {}

    def make(self, domain, sel, typ, mtactl_conf=None, key_dir=False):
        """dkimsign --keygen, or `mtactl dkim keygen` (into dkim-key-dir
        when key_dir is set)."""
        path = os.path.join(self.dir, "%s.%s.pem" % (domain, sel))
        if mtactl_conf:
            argv = [os.path.join(BIN, "mtactl"), "-c", mtactl_conf, "dkim", "keygen"]
        else:
            argv = [os.path.join(BIN, "dkimsign"), "--keygen"]
        argv += ["--domain", domain, "--selector", sel, "--type", typ]
        if not key_dir:
            argv += ["--out", path]
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        check(p.returncode == 0, "keygen %s %s: %s" % (domain, sel, p.stderr.decode()))
        if key_dir:
            path = re.match(r"^# (\S+) written", p.stdout.decode()).group(1)
        m = re.search(r"^(\S+) IN TXT \((.*)\)$", p.stdout.decode().strip(), re.M)
        check(m is not None, "keygen prints a zone line: %r" % p.stdout)
        self.txt[m.group(1).rstrip(".")] = "".join(re.findall(r'"([^"]*)"', m.group(2)))
        return path


def start_txt_dns(env, records):
    """dnsmasq answering the TXT records on port 53 of a random loopback
    address (opendkim's resolver cannot use another port)."""
    ip = random_loopback()
    argv = ["dnsmasq", "--no-daemon", "--keep-in-foreground", "--port=53",
            "--listen-address=%s" % ip, "--bind-interfaces", "--no-resolv", "--no-hosts",
            "--conf-file=/dev/null", "--pid-file=", "--log-facility=-", "--user=root",
            "--local=/example/", "--local=/test/"]
    for name, value in records.items():
        parts = [value[i:i + 250] for i in range(0, len(value), 250)]   # 255-byte strings
        argv.append("--txt-record=%s,%s" % (name, ",".join(parts)))
    env.spawn(argv, "dnsmasq-txt")
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [ip]
    res.lifetime = 3

    def ready():
        try:
            res.resolve(next(iter(records)), "TXT")
            return True
        except Exception:
            return False
    wait_for(ready, 10, "dnsmasq on %s:53 to answer" % ip)
    return ip, res


def dkimpy_verify(msg, res):
    """[(selector, ok)] for every DKIM-Signature, keys looked up in DNS."""
    def dnsfunc(name, timeout=5):
        try:
            ans = res.resolve(name.decode().rstrip("."), "TXT")
        except Exception:
            return None
        return b"".join(b"".join(r.strings) for r in ans)
    d = dkim.DKIM(msg)
    sigs = [v for (k, v) in d.headers if k.lower() == b"dkim-signature"]
    out = []
    for i, s in enumerate(sigs):
        sel = re.search(rb"s=([^;\s]+)", s).group(1).decode()
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc)
        except Exception as e:
            log("dkimpy: %s" % e)
            ok = False
        out.append((sel, ok))
    return out


class OpenDKIM:
    def __init__(self, env, dns_ip):
        self.conf = os.path.join(env.dir, "opendkim.conf")
        with open(self.conf, "w") as f:
            f.write("Mode v\nSyslog no\nNameservers %s\n" % dns_ip)

    def verify(self, paths, each=False, retries=3):
        """{path: [result per signature: 'pass' / 'fail REASON']} via
        opendkim -t.  each=True: one opendkim per file, every signature's
        result read from the Authentication-Results it builds;
        else files in batches and one result per file from its
        "verification ... succeeded|failed" line (opendkim names
        only the first signature there, so batches are for messages with
        one).  A key that could not be fetched ("key DNS query failed":
        the verifier's resolver gave up on a loaded machine) is asked
        again; a signature that does not verify never is."""
        out = {}
        todo = list(paths)
        for attempt in range(retries + 1):
            again = []
            step = 1 if each else 200
            for i in range(0, len(todo), step):
                for path, res, line in self._run(todo[i:i + step], each):
                    if "DNS query failed" in line and attempt < retries:
                        again.append(path)
                    else:
                        out[path] = res
            if not again:
                break
            log("opendkim: %d key look-ups failed; asking again" % len(again))
            time.sleep(1)
            todo = again
        return out

    def _run(self, batch, each):
        p = subprocess.run(["opendkim", "-x", self.conf, "-vvv", "-t", ",".join(batch)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        out = p.stdout.decode(errors="replace")
        lines = dict(re.findall(r"^opendkim: (\S+): verification (.*)$", out, re.M))
        for path in batch:
            line = lines.get(path, "no verification line")
            if each:
                res = [r[0] + (" " + r[1] if r[1] else "") for r in
                       re.findall(r"\bdkim=(\w+)(?: reason=\"([^\"]*)\")?", out)]
            else:
                res = ["pass"] if line.endswith(" succeeded") else ["fail: " + line]
            yield path, res, line


def messages():
    rnd = random.Random(5)
    att = base64.encodebytes(bytes(rnd.getrandbits(8) for _ in range(150000))).replace(b"\n", b"\r\n")
    long_subject = " ".join("word%d" % i for i in range(300))
    folded = "\r\n\t".join(long_subject[i:i + 70] for i in range(0, len(long_subject), 70))
    base = (b"From: Alice Example <alice@mail.example>\r\n"
            b"To: bob@example.org, \"Carol, C\" <carol@example.org>\r\n"
            b"Date: Sat, 28 Nov 2026 13:00:00 +0000\r\n")
    yield "plain", base + b"Subject: hello\r\n\r\nHello Bob,\r\n\r\nbye\r\n"
    yield "8bit", (base + b"Subject: =?utf-8?q?caf=C3=A9?=\r\nMIME-Version: 1.0\r\n"
                   b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                   + "Grüße, café — ça va? \t \r\n日本語のテキスト\r\n".encode() + b"\xff\xfe raw\r\n"
                   + b"..a line starting with dots\r\n")
    yield "long-headers", (base + b"Subject: " + folded.encode() + b"\r\n"
                           b"X-Long: " + b"x" * 900 + b"\r\n"
                           b"X-Spaced:   a   \r\n   b  \r\n\r\nbody  \r\n \r\n\r\n")
    yield "attachment", (base + b"Subject: report\r\nMIME-Version: 1.0\r\n"
                         b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                         b"--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
                         b"--b1\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Transfer-Encoding: base64\r\n"
                         b"Content-Disposition: attachment; filename=\"r.bin\"\r\n\r\n"
                         + att + b"--b1--\r\n")
    yield "empty-body", base + b"Subject: empty\r\n\r\n"
    yield "sender", (b"Sender: list@mail.example\r\n" + base.replace(b"mail.example>", b"other.org>")
                     + b"Subject: via list\r\n\r\nhi\r\n")


def with_token(msg, token):
    return msg.replace(b"Date: ", b"Message-ID: <" + token.encode() + b"@courser.test>\r\nDate: ", 1)


def token_of(data):
    m = re.search(rb"Message-ID: <([^@>]+)@courser\.test>", data)
    return m.group(1).decode() if m else None


def config(env, keys, sink, rot_keys):
    blocks = "".join("<domain %s>\n    route [127.0.0.2]:%d\n    dkim-sign yes\n"
                     "    dkim-canonicalization %s\n</domain>\n" % (d, sink.port, c)
                     for d, c in CANONS.items())
    return env.base_config(
        "dns-server %s:53\n" % env.txt_ip
        + "dkim-key-dir %s\n" % env.key_dir
        + "dkim-check-dns yes\n"
        # for dkim-check-dns: a key DNS does not publish, one it has another key for
        + "domain-key u1,unpub.example,%s\n" % env.rot_b_path
        + "domain-key m1,mis.example,%s\n" % env.rot_b_path
        + "domain-key s2048,mail.example,%s\n" % keys["rsa"]
        + "domain-key ed1,mail.example,%s,ed25519\n" % keys["ed"]
        + "".join("domain-key %s,rot.example,%s\n" % (sel, path) for sel, path in rot_keys)
        + "domain-key gone,broken.example,%s/missing.pem\n" % os.path.dirname(keys["rsa"])
        + blocks
        + "<domain nosign.test>\n    route [127.0.0.2]:%d\n</domain>\n" % sink.port
        + "<domain unsigned.test>\n    route [127.0.0.2]:%d\n    dkim-sign yes\n"
          "    dkim-fail-action send-unsigned\n</domain>\n" % sink.port
        + "<domain crash.test>\n    route [127.0.0.2]:%d\n    dkim-sign yes\n"
          "    retry-after 2s\n</domain>\n" % sink.port
        + "<domain *>\n    retry-after 1h\n</domain>\n"
        # Clients from 127.0.0.3 go through virtual MTA v1: its own key for
        # mail.example wins over the global ones, and its fallback identity
        # signs mail whose From domain has no key.
        + "<source 127.0.0.3/32>\n    always-allow-relaying yes\n    default-virtual-mta v1\n</source>\n"
        + "<virtual-mta v1>\n    smtp-source-host 127.0.0.1 courser.test\n"
          "    domain-key v1sel,mail.example,%s\n    domain-key esp1,esp.example,%s\n"
          "    <domain *>\n        dkim-identity-fallback @esp.example\n    </domain>\n"
          "</virtual-mta>\n" % (env.rot_a_path, env.rot_b_path))


def sink_by_token(sink):
    out = {}
    for e, data in sink.messages():
        t = token_of(data)
        if t:
            out[t] = (os.path.join(sink.dir, e["file"]), data)
    return out


def check_variants(env, sink, res, odk):
    """Every message kind x canonicalization: two signatures, both verify."""
    sent = {}
    s = env.smtp()
    for name, msg in messages():
        for dom, canon in CANONS.items():
            tok = "v-%s-%s" % (name, dom.split(".")[0])
            sent[tok] = (name, canon)
            send_on(s, "alice@mail.example", ["bob@%s" % dom], with_token(msg, tok))
    s.quit()
    wait_for(lambda: all(t in sink_by_token(sink) for t in sent), 60,
             lambda: "%d variant messages at the sink" % len(sent))
    got = sink_by_token(sink)
    odk_res = odk.verify([got[t][0] for t in sent], each=True)
    for tok, (name, canon) in sorted(sent.items()):
        path, data = got[tok]
        what = "%s %s" % (name, canon)
        v = dkimpy_verify(data, res)
        check(sorted(sel for sel, _ in v) == ["ed1", "s2048"],
              "%s: RSA and Ed25519 signatures (got %r)" % (what, v))
        check(all(ok for _, ok in v), "%s: dkimpy verifies every signature: %r" % (what, v))
        hdr = data.split(b"\r\n\r\n", 1)[0]
        check(hdr.count(b"c=" + canon.encode()) == 2, "%s: c=%s in both signatures" % (what, canon))
        check(hdr.startswith(b"DKIM-Signature:"), "%s: signatures prepended" % what)
        r = odk_res.get(path)
        check(r is not None and len(r) == 2 and all(x == "pass" for x in r),
              "%s: opendkim verifies both signatures: %r" % (what, r))
    # Control: the verifiers do reject a message changed after signing.
    path, data = got["v-plain-rr"]
    bad = os.path.join(env.dir, "tampered.eml")
    with open(bad, "wb") as f:
        f.write(data.replace(b"Hello Bob", b"Hello Eve"))
    v = dkimpy_verify(data.replace(b"Hello Bob", b"Hello Eve"), res)
    check(len(v) == 2 and not any(ok for _, ok in v), "dkimpy rejects a tampered message: %r" % v)
    r = odk.verify([bad], each=True).get(bad)
    check(r is not None and len(r) == 2 and all(x.startswith("fail") for x in r),
          "opendkim rejects a tampered message: %r" % r)
    summary("%d messages (%d kinds x 4 canonicalizations), each RSA-2048 + Ed25519: "
            "all %d signatures verify with dkimpy and opendkim" % (len(sent), len(sent) // 4, 2 * len(sent)))


def check_policies(env, sink, res):
    """dkim-sign no; a key that fails to load: defer or send unsigned."""
    s = env.smtp()
    send_on(s, "alice@mail.example", ["bob@nosign.test"],
            with_token(b"From: alice@mail.example\r\nDate: x\r\nSubject: no\r\n\r\nno\r\n", "p-nosign"))
    broken = b"From: bob@broken.example\r\nDate: x\r\nSubject: broken key\r\n\r\nb\r\n"
    qid_defer = send_on(s, "bob@broken.example", ["bob@rr.test"], with_token(broken, "p-defer"))
    send_on(s, "bob@broken.example", ["bob@unsigned.test"], with_token(broken, "p-unsigned"))
    s.quit()
    wait_for(lambda: all(t in sink_by_token(sink) for t in ("p-nosign", "p-unsigned")), 30,
             "the unsigned messages at the sink")
    got = sink_by_token(sink)
    check(b"DKIM-Signature" not in got["p-nosign"][1], "dkim-sign no: sent unsigned")
    check(b"DKIM-Signature" not in got["p-unsigned"][1],
          "failed key + send-unsigned: sent unsigned")
    wait_for(lambda: any(r.get("type") == "t" and r.get("queueId", "") == qid_defer
                         for r in env.acct()) or "4.7.5" in env.log_text(), 30,
             "the deferral of the message whose key failed")
    time.sleep(1)
    check("p-defer" not in sink_by_token(sink), "failed key + defer: not sent")
    check(re.search(r"%s: DKIM signing failed, deferring.*gone._domainkey.broken.example.*missing"
                    % qid_defer, env.log_text()), "the deferral names the key and why")
    summary("dkim-sign no, and a missing key with dkim-fail-action send-unsigned: sent unsigned; "
            "with defer: 451 4.7.5, not sent")
    # One message, two destination domains with the same canonicalization:
    # two deliveries, the second signed with the body hash of the first
    # (smtp-out's cache); a large body so the first one was hashed in the
    # thread pool.  Both copies verify.
    big = (b"From: alice@mail.example\r\nDate: x\r\nSubject: twice\r\n\r\n"
           + b"".join(b"line %06d of a long body\r\n" % i for i in range(8000)))
    s = env.smtp()
    send_on(s, "alice@mail.example", ["a@rr.test"], with_token(big, "p-cache"))
    s.quit()
    wait_for(lambda: "p-cache" in sink_by_token(sink), 30, "the first copy")
    # Ten of them: the two jobs of one message may go to different smtp-out
    # processes (each has its own cache); ten make a reuse all but certain.
    s = env.smtp()
    for i in range(10):
        send_on(s, "alice@mail.example", ["a@rr.test", "b@crash.test"],
                with_token(big, "p-cache2-%d" % i))
    s.quit()
    wait_for(lambda: len([1 for e, d in sink.messages() if b"<p-cache2-" in d]) == 20, 60,
             "both copies of the two-domain messages")
    for e, d in sink.messages():
        if b"<p-cache" in d:
            v = dkimpy_verify(d, res)
            check(len(v) == 2 and all(ok for _, ok in v), "large message %s: %r" % (e["file"], v))


def check_vmta(env, sink, res, odk):
    """Keys of the message's virtual MTA win; its fallback identity signs
    mail whose own domain has no key."""
    cases = [("127.0.0.3", "alice@mail.example", "t-vmta-key", [("v1sel", "mail.example")]),
             ("127.0.0.3", "bob@nokey.example", "t-vmta-fallback", [("esp1", "esp.example")]),
             (None, "bob@nokey.example", "t-global-nokey", [])]
    for src, frm, tok, _ in cases:
        s = env.smtp(source=src)
        send_on(s, frm, ["v@rr.test"], with_token(
            ("From: %s\r\nDate: x\r\nSubject: vmta\r\n\r\nvia a vmta\r\n" % frm).encode(), tok))
        s.quit()
    wait_for(lambda: all(c[2] in sink_by_token(sink) for c in cases), 30, "the vmta messages")
    got = sink_by_token(sink)
    for src, frm, tok, want in cases:
        path, data = got[tok]
        v = dkimpy_verify(data, res)
        sigs = []
        for k, h in dkim.DKIM(data).headers:
            if k.lower() == b"dkim-signature":
                tags = dict(t.split(b"=", 1) for t in re.sub(rb"\s", b"", h).split(b";") if b"=" in t)
                sigs.append((tags[b"s"].decode(), tags[b"d"].decode()))
        check(sigs == want, "%s: signatures %r, want %r" % (tok, sigs, want))
        check(all(ok for _, ok in v), "%s: dkimpy verifies: %r" % (tok, v))
        if want:
            r = odk.verify([path], each=True).get(path)
            check(r == ["pass"], "%s: opendkim verifies: %r" % (tok, r))
    summary("virtual MTA v1: its key wins over the global ones; its dkim-identity-fallback "
            "signs as esp.example; without a vmta the keyless domain goes unsigned")


def check_key_dir(env, sink, res, odk):
    """A key found only in dkim-key-dir signs; a key dir smtp-out may not
    list defers the message with the reason instead of sending it
    unsigned."""
    msg = b"From: x@kd.example\r\nDate: x\r\nSubject: key dir\r\n\r\nkd\r\n"
    s = env.smtp()
    send_on(s, "x@kd.example", ["k@rr.test"], with_token(msg, "k-dir"))
    s.quit()
    wait_for(lambda: "k-dir" in sink_by_token(sink), 30, "the key-dir message")
    path, data = sink_by_token(sink)["k-dir"]
    v = dkimpy_verify(data, res)
    check(v == [("k1", True)], "dkim-key-dir key k1 signs kd.example: %r" % v)
    r = odk.verify([path], each=True).get(path)
    check(r == ["pass"], "key-dir signature verifies with opendkim: %r" % r)
    if not IS_ROOT:
        return
    os.chmod(env.key_dir, 0o700)        # root's: smtp-out (courser) cannot list it
    try:
        s = env.smtp()
        qid = send_on(s, "x@kd.example", ["k@rr.test"], with_token(msg, "k-dir-closed"))
        s.quit()
        wait_for(lambda: re.search(r"%s: DKIM signing failed, deferring.*dkim-key-dir \S+ cannot be "
                                   r"listed by smtp-out \(Permission denied\)" % qid, env.log_text()),
                 30, "the deferral for the unlistable key dir")
    finally:
        os.chmod(env.key_dir, 0o755)
    check("k-dir-closed" not in sink_by_token(sink), "unlistable key dir: not sent unsigned")
    summary("dkim-key-dir: its key signs (dkimpy, opendkim); a key dir smtp-out cannot list "
            "defers with the reason instead of sending unsigned")


def check_rotation(env, keys, sink, res, odk, rot_a, rot_b):
    """1,000 messages while selector rotB is added (reload) and rotA is
    removed (second reload)."""
    n, threads = 1000, 4
    sent_at = {}
    errors = []
    lock = threading.Lock()
    counter = iter(range(n))

    def worker():
        s = env.smtp(timeout=60)
        sent = 0
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            tok = "r-%04d" % i
            msg = ("From: News <news@rot.example>\r\nTo: x@rr.test\r\nDate: x\r\n"
                   "Subject: rotation %d\r\n\r\nmessage %d\r\n" % (i, i)).encode()
            try:
                send_on(s, "news@rot.example", ["x%d@rr.test" % (i % 50)], with_token(msg, tok))
            except Exception as e:
                errors.append("%s: %s" % (tok, e))
                break
            with lock:
                sent_at[tok] = time.time()
            sent += 1
            if sent % 50 == 0:      # a few sessions per worker, as a client would
                s.quit()
                s = env.smtp(timeout=60)
        s.quit()

    def sent_count():
        with lock:
            return len(sent_at)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    t0 = time.time()
    for t in ts:
        t.start()
    wait_for(lambda: sent_count() >= 300 or errors, 120, "300 messages accepted")
    reloads = lambda: len(re.findall(r"dkimsign\[\d+\]: info: SIGHUP: reloading", env.log_text()))
    before = reloads()
    env.write_config(config(env, keys, sink, [("rotB", rot_b), ("rotA", rot_a)]))
    rc, out = env.mtactl("reload")
    check(rc == 0, "mtactl reload (add rotB): %s" % out)
    reload1 = time.time()
    log("reload 1 (rotB first) after %d messages" % sent_count())
    # master's SIGHUP reaches dkimsign (not only its own re-read on an
    # unknown key)
    wait_for(lambda: reloads() > before, 10, "dkimsign to reload on master's SIGHUP")
    wait_for(lambda: sent_count() >= 650 or errors, 120, "650 messages accepted")
    env.write_config(config(env, keys, sink, [("rotB", rot_b)]))
    rc, out = env.mtactl("reload")
    check(rc == 0, "mtactl reload (remove rotA): %s" % out)
    log("reload 2 (rotA removed) after %d messages" % sent_count())
    for t in ts:
        t.join(300)
    check(not errors, "every message accepted: %s" % errors[:3])
    check(len(sent_at) == n, "%d messages sent" % len(sent_at))
    wait_for(lambda: len([t for t in sink_by_token(sink) if t.startswith("r-")]) >= n, 240,
             lambda: "%d rotation messages at the sink (have %d)" %
             (n, len([t for t in sink_by_token(sink) if t.startswith("r-")])))
    dt = time.time() - t0
    got = {t: v for t, v in sink_by_token(sink).items() if t.startswith("r-")}
    by_sel, bad, late_old = {}, [], []
    for tok, (path, data) in got.items():
        v = dkimpy_verify(data, res)
        if len(v) != 1 or not v[0][1]:
            bad.append((tok, v))
            continue
        by_sel[v[0][0]] = by_sel.get(v[0][0], 0) + 1
        # smtp-out gets SIGHUP within milliseconds of the reload; a second
        # of margin covers messages already being signed then.
        if v[0][0] == "rotA" and sent_at[tok] > reload1 + 1.0:
            late_old.append(tok)
    check(not bad, "rotation: %d messages do not verify with dkimpy: %r" % (len(bad), bad[:3]))
    check(by_sel.get("rotA", 0) > 0 and by_sel.get("rotB", 0) > 0,
          "rotation: both selectors were used: %r" % by_sel)
    check(not late_old, "rotation: messages accepted after the reload use the new selector "
          "(%d did not: %r)" % (len(late_old), late_old[:3]))
    odk_res = odk.verify(sorted(p for p, _ in got.values()))
    odk_bad = [p for p, _ in got.values() if odk_res.get(p) != ["pass"]]
    check(not odk_bad, "rotation: %d messages do not verify with opendkim: %r" %
          (len(odk_bad), [(p, odk_res.get(p)) for p in odk_bad[:3]]))
    deferred = [r for r in env.acct() if r.get("type") == "t" and r.get("orig") == "news@rot.example"]
    check(not deferred, "rotation: no message deferred (%d t records: %r)" %
          (len(deferred), deferred[:1]))
    summary("rotation under load: %d messages in %.1fs (%.0f msg/s) with 2 reloads; "
            "selectors %r; all verify with dkimpy and opendkim; none deferred"
            % (n, dt, n / dt, by_sel))


def check_mtactl(env, keys):
    """mtactl dkim check against the TXT records in dnsmasq."""
    def run(*args):
        rc, out = env.mtactl("dkim", "check", *args)
        log("mtactl dkim check %s -> %d: %s" % (" ".join(args), rc, out.strip()))
        return rc, out
    for dom, sel, kind in (("mail.example", "s2048", "rsa"), ("mail.example", "ed1", "ed25519"),
                           ("kd.example", "k1", "ed25519")):
        rc, out = run(dom, sel)
        check(rc == 0 and out.startswith("OK: %s._domainkey.%s publishes the %s key" % (sel, dom, kind)),
              "mtactl dkim check %s %s: %s" % (dom, sel, out))
    rc, out = run("rot.example", "rotA", "--key", os.path.join(keys.dir, "rot.example.rotB.pem"))
    check(rc == 1 and "does not match" in out, "a key that is not the published one: %s" % out)
    rc, out = run("mail.example", "unpublished", "--key", os.path.join(keys.dir, "mail.example.s2048.pem"))
    check(rc == 1 and "NXDOMAIN" in out, "an unpublished selector: %s" % out)
    rc, out = run("nokey.example", "s1")
    check(rc == 1 and "no key s1._domainkey.nokey.example is configured" in out,
          "a selector with no key: %s" % out)
    summary("mtactl dkim keygen (file and dkim-key-dir) and check (match, mismatch, "
            "unpublished) against dnsmasq")


def check_dkimsign_crash(env, sink, res):
    """kill -9 dkimsign while 300 messages flow: requests in flight fail
    (connection lost), those deliveries are deferred (dkim-fail-action
    defer) and retried; master restarts dkimsign on the socket it keeps, so
    smtp-out's next requests wait in its backlog.  Every message arrives,
    signed, and none unsigned."""
    n = 300
    base = b"From: alice@mail.example\r\nTo: x@crash.test\r\nDate: x\r\nSubject: crash %d\r\n\r\nbody %d\r\n"
    done = []

    def sender():
        s = env.smtp(timeout=60)
        for i in range(n):
            send_on(s, "alice@mail.example", ["x%d@crash.test" % (i % 20)],
                    with_token(base % (i, i), "c-%04d" % i))
            done.append(i)
        s.quit()
    before = env.log_text().count("DKIM signing failed, deferring")
    t = threading.Thread(target=sender)
    t.start()
    wait_for(lambda: len(done) >= n // 3, 60, "a third of the messages accepted")
    env.kill9("dkimsign")
    t.join(120)
    check(len(done) == n, "all %d messages accepted (%d)" % (n, len(done)))
    wait_for(lambda: len([k for k in sink_by_token(sink) if k.startswith("c-")]) >= n, 90,
             lambda: "%d messages at the sink after the dkimsign crash (have %d)" %
             (n, len([k for k in sink_by_token(sink) if k.startswith("c-")])))
    got = {k: v for k, v in sink_by_token(sink).items() if k.startswith("c-")}
    bad = []
    for tok, (path, data) in got.items():
        v = dkimpy_verify(data, res)
        if sorted(sel for sel, _ in v) != ["ed1", "s2048"] or not all(ok for _, ok in v):
            bad.append((tok, v))
    check(not bad, "after the dkimsign crash: %d messages not signed twice and valid: %r" %
          (len(bad), bad[:3]))
    deferred = env.log_text().count("DKIM signing failed, deferring") - before
    summary("kill -9 dkimsign while %d messages flow: all delivered with both signatures valid "
            "(%d deliveries deferred and retried, none sent unsigned)" % (n, deferred))


def check_privileges(env, keys):
    if not IS_ROOT:
        log("not root: privilege check skipped")
        return
    ds = env.pids_of("dkimsign")
    so = env.pids_of("smtp-out")
    check(ds and so, "dkimsign and smtp-out are running: %s" % env.children())

    def uid(pid):
        with open("/proc/%d/status" % pid) as f:
            return int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1))
    dk, co = pwd.getpwnam("courser-dkim").pw_uid, pwd.getpwnam("courser").pw_uid
    check(all(uid(p) == dk for p in ds), "dkimsign runs as courser-dkim")
    check(all(uid(p) == co for p in so), "smtp-out runs as courser")
    pems = glob.glob(os.path.join(keys.dir, "*.pem")) + glob.glob(os.path.join(env.key_dir, "*", "*.pem"))
    for path in pems:
        st = os.stat(path)
        check(st.st_uid == dk and st.st_mode & 0o777 == 0o600,
              "%s: owned by courser-dkim, mode 0600" % path)
        r = subprocess.run(["runuser", "-u", "courser", "--", "head", "-c1", path],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        check(r.returncode != 0 and b"Permission denied" in r.stderr,
              "the courser user cannot open %s: %r" % (path, r.stderr))
    summary("dkimsign runs as courser-dkim, smtp-out as courser; courser cannot open the %d key files"
            % len(pems))


def test():
    if IS_ROOT:
        subprocess.run([os.path.join(TOP, "scripts", "ensure-user.sh"), "courser-dkim"], check=True)
    with Env("dkim_relay") as env:
        keys = Keys(env)
        env.key_dir = os.path.join(env.dir, "keydir")
        os.makedirs(env.key_dir, mode=0o755)
        # mtactl needs a configuration (dkim-user, dkim-key-dir) to make keys.
        env.write_config("run-dir run\nspool spool\ndkim-key-dir %s\n" % env.key_dir)
        paths = {"rsa": keys.make("mail.example", "s2048", "rsa"),
                 "ed": keys.make("mail.example", "ed1", "ed25519", mtactl_conf=env.conf)}
        rot_a = keys.make("rot.example", "rotA", "rsa")
        rot_b = keys.make("rot.example", "rotB", "rsa", mtactl_conf=env.conf)   # published ahead
        env.rot_b_path, env.rot_a_path = rot_b, rot_a
        keys.txt["v1sel._domainkey.mail.example"] = keys.txt["rotA._domainkey.rot.example"]
        keys.txt["esp1._domainkey.esp.example"] = keys.txt["rotB._domainkey.rot.example"]
        keys.txt["m1._domainkey.mis.example"] = keys.txt["rotA._domainkey.rot.example"]
        kd = keys.make("kd.example", "k1", "ed25519", mtactl_conf=env.conf, key_dir=True)
        check(kd == os.path.join(env.key_dir, "kd.example", "k1.ed25519.pem") and os.path.exists(kd),
              "mtactl dkim keygen writes into dkim-key-dir: %s" % kd)
        env.txt_ip, res = start_txt_dns(env, keys.txt)
        odk = OpenDKIM(env, env.txt_ip)
        sink = env.start_sink("127.0.0.2", name="sink")
        env.write_config(config(env, paths, sink, [("rotA", rot_a)]))
        env.start()
        wait_for(lambda: env.pids_of("dkimsign"), 15, "dkimsign to run")
        wait_for(lambda: re.search(r"dkimsign\[\d+\]: error: DKIM key gone._domainkey.broken.example "
                                   r"\(rsa\): \S+missing.pem: missing", env.log_text()), 15,
                 "dkimsign to report the key that fails to load at start")
        # The verdicts come from dkimsign's thread pool, one key after the
        # other: wait for each.
        verdicts = [(r"info: DKIM key %s._domainkey.%s \(.*\): matches its DNS record" % (sel, dom),
                     "%s/%s matches" % (dom, sel))
                    for sel, dom in (("s2048", "mail.example"), ("ed1", "mail.example"),
                                     ("rotA", "rot.example"), ("k1", "kd.example"))]
        verdicts += [(r"error: DKIM key m1._domainkey.mis.example \(rsa, .*\): DNS does not publish this "
                      r"key: the published public key is not this key's", "mismatch reported"),
                     (r"error: DKIM key u1._domainkey.unpub.example \(rsa, .*\): not published in DNS: "
                      r"no such name", "unpublished key reported")]
        for pat, what in verdicts:
            wait_for(lambda: re.search(r"dkimsign\[\d+\]: " + pat, env.log_text()), 30,
                     "dkim-check-dns: " + what)
        summary("dkim-check-dns at dkimsign start: matching keys logged, a mismatched and an "
                "unpublished key reported")
        check_privileges(env, keys)
        check_mtactl(env, keys)
        check_variants(env, sink, res, odk)
        check_policies(env, sink, res)
        check_vmta(env, sink, res, odk)
        check_key_dir(env, sink, res, odk)
        check_rotation(env, paths, sink, res, odk, rot_a, rot_b)
        check_dkimsign_crash(env, sink, res)
        check(env.stop() == 0, "clean stop")
        stats = re.findall(r"smtp-out\[\d+\]: info: stopped: DKIM: (\d+) messages signed "
                           r"\((\d+) body hashes from the cache\)", env.log_text())
        check(stats, "smtp-out reports its signing counts at stop")
        hits = sum(int(h) for _, h in stats)
        check(hits > 0, "body hashes were reused from the cache (%d)" % hits)
        summary("smtp-out: %d messages signed, %d body hashes from the cache"
                % (sum(int(n) for n, _ in stats), hits))


if __name__ == "__main__":
    run_test(test)
