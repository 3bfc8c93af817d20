#!/usr/bin/python3
"""test_bounce_processor: PowerMTA's <bounce-processor> and
<feedback-loop-processor> blocks, and the original's fields in rb/f
records (issue 6).

1. A message with X-Job is delivered with the signed VERP return path of
   the processor's domain (the processor's `domain` is a bounce domain).
2. An async DSN to that VERP address gives an `rb` record carrying the
   original's orig, vmta, jobId and the recipient's dlvSourceIp (from
   acctd's LMDB), and suppresses the recipient.
3. An ARF report to the feedback-loop-processor's regex address gives an
   `f` record with the same fields; the complainer is suppressed.
4. A person's mail to the bounce-processor's domain (not a DSN) is
   forwarded unchanged to forward-unmatched-to with the null return path.
"""

import os
import re
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, wait_for, run_test  # noqa: E402

VERP_RE = re.compile(r"^bounces\+([0-9A-F]{22})\.([0-9a-f]{16})@bounce\.test$")


def recs(env, rtype, rcpt=None):
    return [r for r in env.acct() if r.get("type") == rtype and (rcpt is None or r.get("rcpt") == rcpt)]


def async_dsn(rcpt, to):
    return ("From: MAILER-DAEMON@mx.dest.test\r\nTo: <%s>\r\nSubject: failure\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n\r\n"
            "--BB\r\nContent-Type: text/plain\r\n\r\nnot delivered\r\n"
            "--BB\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.dest.test\r\n\r\n"
            "Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 <%s>: user unknown\r\n\r\n--BB--\r\n"
            % (to, rcpt, rcpt)).encode()


def arf(complainer, return_path):
    return ("From: staff@fbl.isp.test\r\nTo: fbl@fbl.test\r\nSubject: FW: hello\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=feedback-report; boundary=\"FF\"\r\n\r\n"
            "--FF\r\nContent-Type: text/plain\r\n\r\nAn abuse report.\r\n"
            "--FF\r\nContent-Type: message/feedback-report\r\n\r\n"
            "Feedback-Type: abuse\r\nUser-Agent: isp-fbl/1.0\r\nVersion: 1\r\n"
            "Original-Rcpt-To: <%s>\r\n\r\n--FF\r\nContent-Type: message/rfc822\r\n\r\n"
            "Return-Path: <%s>\r\nFrom: a@sender.test\r\nTo: %s\r\nSubject: hello\r\n\r\nhello\r\n"
            "\r\n--FF--\r\n" % (complainer, return_path, complainer)).encode()


def test():
    with Env("bounce_processor") as env:
        dest = env.start_sink("127.0.0.2", name="dest")
        ops = env.start_sink("127.0.0.2", name="ops")
        env.write_config(env.base_config(
            "verp-key courser-test-verp-key-0123456789\n"
            "<bounce-processor>\n"
            "    deliver-unmatched-email no\n"
            "    deliver-matched-email no\n"
            "    forward-unmatched-to postmaster@ops.test\n"
            "    forward-errors-to postmaster@ops.test\n"
            "    <address-list>\n        domain bounce.test\n    </address-list>\n"
            "</bounce-processor>\n"
            "<feedback-loop-processor>\n"
            "    <address-list>\n        address /^fbl@fbl\\.test$/\n    </address-list>\n"
            "</feedback-loop-processor>\n"
            "<domain dest.test>\n    route [127.0.0.2]:%d\n    verp yes\n</domain>\n"
            "<domain ops.test>\n    route [127.0.0.2]:%d\n</domain>\n" % (dest.port, ops.port),
            acct_records="d,b,rb,rs,f", source_settings="    process-x-job yes\n"))
        env.start()
        wait_for(lambda: "bounced" in env.children_names(), 15, "bounced to run")

        # 1. delivery with VERP at the processor's domain
        qid = env.send("a@sender.test", ["ok@dest.test", "later@dest.test"],
                       b"From: a@sender.test\r\nTo: ok@dest.test\r\nX-Job: spring-42\r\n"
                       b"Subject: hi\r\n\r\nhello\r\n")
        d = wait_for(lambda: recs(env, "d", "later@dest.test"), 30, "later@dest.test delivered")[0]
        wait_for(lambda: recs(env, "d", "ok@dest.test"), 30, "ok@dest.test delivered")
        ev = [e for e in dest.events("msg") if "later@dest.test" in e["rcpts"]][0]
        m = VERP_RE.match(ev["from"])
        check(m and m.group(1) == qid, "MAIL FROM %r is not the VERP address of %s" % (ev["from"], qid))
        verp = ev["from"]
        check(d["jobId"] == "spring-42", "d jobId %r" % d["jobId"])
        summary("delivered with VERP %s at the <bounce-processor>'s domain" % verp)

        # 2. async DSN -> rb with the original's fields
        s = smtplib.SMTP("127.0.0.1", env.port, timeout=30)
        s.ehlo("mx.dest.test")
        s.sendmail("", [verp], async_dsn("later@dest.test", verp))
        s.quit()
        rb = wait_for(lambda: recs(env, "rb", "later@dest.test"), 30,
                      lambda: "an rb record (acct: %s)" % env.acct())[0]
        check(rb["queueId"] == qid, "rb queueId %r" % rb["queueId"])
        for f in ("orig", "vmta", "jobId", "dlvSourceIp", "queue"):
            check(rb[f] and rb[f] == d[f], "rb %s %r, want the d record's %r" % (f, rb[f], d[f]))
        check(rb["orig"] == "a@sender.test", "rb orig %r" % rb["orig"])
        rc, out = env.mtactl("suppression", "check", "later@dest.test")
        check(rc == 0 and "suppressed (bad-mailbox, rb" in out, "later@ not suppressed: %s" % out)
        summary("async DSN -> rb orig=%s vmta=%s jobId=%s dlvSourceIp=%s"
                % (rb["orig"], rb["vmta"], rb["jobId"], rb["dlvSourceIp"]))

        # 3. ARF to the feedback-loop-processor's regex address -> f
        s = smtplib.SMTP("127.0.0.1", env.port, timeout=30)
        s.ehlo("fbl.isp.test")
        s.sendmail("fbl@isp.test", ["fbl@fbl.test"], arf("ok@dest.test", verp))
        s.quit()
        f = wait_for(lambda: recs(env, "f", "ok@dest.test"), 30,
                     lambda: "an f record (acct: %s)" % env.acct())[0]
        check(f["queueId"] == qid and f["orig"] == "a@sender.test" and f["jobId"] == "spring-42",
              "f record %r" % f)
        rc, out = env.mtactl("suppression", "check", "ok@dest.test")
        check(rc == 0 and "complaint" in out, "ok@ not suppressed: %s" % out)
        summary("ARF to /^fbl@fbl\\.test$/ -> f orig=%s jobId=%s, complainer suppressed"
                % (f["orig"], f["jobId"]))

        # 4. not a notice -> forward-unmatched-to, unchanged, from <>
        body = (b"From: person@dest.test\r\nTo: info@bounce.test\r\nSubject: question\r\n\r\n"
                b"Do you ship to Norway?\r\n")
        env.send("person@dest.test", ["info@bounce.test"], body)
        fw = wait_for(lambda: ops.messages(), 30,
                      lambda: "the forwarded copy at ops (log: %s)" % env.log_text()[-2000:])
        fev, fdata = fw[0]
        check(fev["from"] == "" and fev["rcpts"] == ["postmaster@ops.test"], "forward envelope %r" % fev)
        check(b"Do you ship to Norway?" in fdata and b"Subject: question" in fdata,
              "forwarded copy changed: %r" % fdata[:300])
        check(not recs(env, "rb", "person@dest.test"), "the question made an rb record")
        summary("unmatched mail to the processor's domain forwarded to postmaster@ops.test from <>")


if __name__ == "__main__":
    run_test(test)
