#!/usr/bin/python3
"""test_bounce_daemon: bounced end to end (issue 6).

1. A recipient the sink refuses with 550 5.1.1 gets a `b` record (bad-mailbox);
   bounced sends the sender an RFC 3464 DSN (multipart/report, null return
   path) that the sender's sink receives; the recipient is suppressed, so
   the next message to it is refused at RCPT with a 550 naming the list.
2. Deliveries use the signed VERP return path bounces+QID.HASH@bounce.test.
3. An asynchronous DSN sent by smtplib to that VERP address gives an `rb`
   record linked to the original queue id and suppresses the recipient; the
   same DSN to a VERP address with a forged hash is ignored.
4. An ARF complaint and a Microsoft JMRP complaint sent to fbl@bounce.test
   (mapped back through the attached original's Return-Path) give `f`
   records with the queue id, and the complainers are suppressed.
   Two failures of one delivery give one DSN naming both.
5. mtactl suppression add / check / list / remove.
6. With reject-suppressed-recipients no, a suppressed recipient is
   accepted, then bounced by qmgr (5.7.1) and never delivered.
"""

import os
import re
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, log, wait_for, run_test  # noqa: E402

VERP_RE = re.compile(r"^bounces\+([0-9A-F]{22})\.([0-9a-f]{16})@bounce\.test$")


def recs(env, rtype, rcpt=None):
    return [r for r in env.acct() if r.get("type") == rtype and (rcpt is None or r.get("rcpt") == rcpt)]


def async_dsn(rcpt, to):
    return ("From: MAILER-DAEMON@mx.dest.test\r\n"
            "To: <%s>\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n"
            "\r\n"
            "--BB\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            "--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.dest.test\r\n\r\n"
            "Final-Recipient: rfc822; %s\r\n"
            "Action: failed\r\n"
            "Status: 5.1.1\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 <%s>: Recipient address rejected: User unknown\r\n"
            "\r\n--BB--\r\n" % (to, rcpt, rcpt)).encode()


def arf(complainer, return_path):
    return ("From: staff@fbl.isp.test\r\n"
            "To: fbl@bounce.test\r\n"
            "Subject: FW: hello\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=feedback-report; boundary=\"FF\"\r\n"
            "\r\n"
            "--FF\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n"
            "--FF\r\nContent-Type: message/feedback-report\r\n\r\n"
            "Feedback-Type: abuse\r\nUser-Agent: isp-fbl/1.0\r\nVersion: 1\r\n"
            "Original-Rcpt-To: <%s>\r\n"
            "\r\n--FF\r\nContent-Type: message/rfc822\r\n\r\n"
            "Return-Path: <%s>\r\n"
            "From: a@sender.test\r\nTo: %s\r\nSubject: hello\r\n\r\nhello\r\n"
            "\r\n--FF--\r\n" % (complainer, return_path, complainer)).encode()


def jmrp(complainer, return_path):
    """A Microsoft JMRP report: the complained-about message attached,
    the complainer in X-HmXmrOriginalRecipient."""
    return ("From: staff@hotmail.test\r\n"
            "To: fbl@bounce.test\r\n"
            "Subject: complaint about message from 192.0.2.1\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"JJ\"\r\n"
            "\r\n"
            "--JJ\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n"
            "X-HmXmrOriginalRecipient: %s\r\n"
            "Return-Path: %s\r\n"
            "From: a@sender.test\r\nTo: someone@hotmail.test\r\nSubject: hello\r\n\r\nhello\r\n"
            "\r\n--JJ--\r\n" % (complainer, return_path)).encode()


def test():
    with Env("bounce_daemon") as env:
        dest = env.start_sink("127.0.0.2", name="dest", args=[
            "--rcpt", "gone@dest.test=550 5.1.1 <gone@dest.test>: Recipient address rejected: User unknown",
            "--rcpt", "bad1@dest.test=550 5.1.1 <bad1@dest.test>: no such user",
            "--rcpt", "bad2@dest.test=552 5.2.2 <bad2@dest.test>: mailbox full",
            "--rcpt", "spam@dest.test=550 5.7.1 Message rejected as spam by Content Filtering"])
        sender = env.start_sink("127.0.0.2", name="sender")     # where DSNs to a@sender.test go
        def conf(source_settings=""):
            return env.base_config(
                "bounce-domain bounce.test\n"
                "verp-key courser-test-verp-key-0123456789\n"
                "<domain dest.test>\n    route [127.0.0.2]:%d\n    verp yes\n</domain>\n"
                "<domain sender.test>\n    route [127.0.0.2]:%d\n</domain>\n"
                % (dest.port, sender.port), acct_records="d,b,t,rb,rs,f", source_settings=source_settings)
        env.write_config(conf())
        env.start()
        wait_for(lambda: "bounced" in env.children_names(), 15,
                 lambda: "bounced to run (children: %s)" % env.children())

        # 1. synchronous 550 5.1.1 -> b, DSN, suppression
        qid = env.send("a@sender.test", ["ok@dest.test", "gone@dest.test"],
                       b"From: a@sender.test\r\nTo: ok@dest.test\r\nSubject: first\r\n"
                       b"Message-ID: <first@sender.test>\r\n\r\nhello\r\n")
        b = wait_for(lambda: recs(env, "b", "gone@dest.test"), 30,
                     lambda: "a b record for gone@dest.test (acct: %s)" % env.acct())[0]
        check(b["bounceCat"] == "bad-mailbox", "b bounceCat %r" % b["bounceCat"])
        check(b["queueId"] == qid, "b queueId %r, want %s" % (b["queueId"], qid))
        wait_for(lambda: recs(env, "d", "ok@dest.test"), 30, "ok@dest.test to be delivered")

        dsns = wait_for(lambda: sender.messages(), 30,
                        lambda: "a DSN at the sender's sink (log: %s)" % env.log_text()[-2000:])
        ev, data = dsns[0]
        text = data.decode(errors="replace")
        check(ev["from"] == "", "the DSN's return path is %r, want the null sender" % ev["from"])
        check(ev["rcpts"] == ["a@sender.test"], "the DSN went to %r" % ev["rcpts"])
        for want in ("Content-Type: multipart/report; report-type=delivery-status",
                     "Content-Type: message/delivery-status", "Reporting-MTA: dns; courser.test",
                     "X-Courser-Queue-ID: %s" % qid, "Final-Recipient: rfc822; gone@dest.test",
                     "Action: failed", "Status: 5.1.1",
                     "Diagnostic-Code: smtp; 550 5.1.1 <gone@dest.test>",
                     "Content-Type: text/rfc822-headers", "Message-ID: <first@sender.test>",
                     "Auto-Submitted: auto-replied"):
            check(want in text, "the DSN lacks %r:\n%s" % (want, text))
        check("ok@dest.test" not in text.split("text/rfc822-headers")[0].replace("To: ok@dest.test", ""),
              "the DSN reports the delivered recipient too:\n%s" % text)
        summary("550 5.1.1 -> b bad-mailbox, DSN to the sender (%d bytes, from <>)" % len(data))

        # the b record's category comes from the pattern database, not the status alone
        env.send("a@sender.test", ["spam@dest.test"], b"Subject: spam?\r\n\r\nx\r\n")
        bs = wait_for(lambda: recs(env, "b", "spam@dest.test"), 30, "a b record for spam@dest.test")[0]
        check(bs["bounceCat"] == "spam-related", "5.7.1 spam reply bounceCat %r, want spam-related" % bs["bounceCat"])
        rc, out = env.mtactl("suppression", "check", "spam@dest.test")
        check(rc == 0 and "not suppressed" in out, "a spam block suppressed the recipient: %s" % out)
        summary("550 5.7.1 ... spam -> b spam-related (pattern database), not suppressed")

        # 2. VERP return path on the delivery
        d_ev = [e for e in dest.events("msg") if "ok@dest.test" in e["rcpts"]][0]
        m = VERP_RE.match(d_ev["from"])
        check(m and m.group(1) == qid, "delivery MAIL FROM %r is not the VERP address of %s" % (d_ev["from"], qid))
        verp = d_ev["from"]
        summary("delivered with VERP return path %s" % verp)

        # suppression: the next message to gone@ is refused at RCPT
        def refused():
            s = env.smtp()
            try:
                s.mail("a@sender.test")
                return s.rcpt("gone@dest.test")
            finally:
                s.quit()
        code, resp = wait_for(lambda: (lambda r: r if r[0] != 250 else None)(refused()), 15,
                              "gone@dest.test to be refused at RCPT")
        resp = resp.decode()
        check(code == 550 and "5.1.1" in resp and "suppression list" in resp and "bad-mailbox" in resp,
              "RCPT gone@dest.test got %d %s" % (code, resp))
        s = env.smtp()
        s.mail("a@sender.test")
        code2, _ = s.rcpt("ok@dest.test")
        s.quit()
        check(code2 == 250, "RCPT ok@dest.test got %d (not suppressed)" % code2)
        summary("suppressed recipient refused at RCPT: %d %s" % (code, resp))

        # 3. async DSN to the VERP address -> rb linked to qid, suppression
        s = smtplib.SMTP("127.0.0.1", env.port, timeout=30)
        s.ehlo("mx.dest.test")
        s.sendmail("", [verp], async_dsn("later@dest.test", verp))
        forged = "bounces+%s.%s@bounce.test" % (qid, "0123456789abcdef")
        s.sendmail("", [forged], async_dsn("forged@dest.test", forged))
        s.quit()
        rb = wait_for(lambda: recs(env, "rb", "later@dest.test"), 30,
                      lambda: "an rb record for later@dest.test (acct: %s)" % env.acct())[0]
        check(rb["queueId"] == qid, "rb queueId %r, want %s" % (rb["queueId"], qid))
        check(rb["bounceCat"] == "bad-mailbox", "rb bounceCat %r" % rb["bounceCat"])
        check(rb["dsnStatus"].startswith("5.1.1"), "rb dsnStatus %r" % rb["dsnStatus"])
        check(rb["format"] == "dsn", "rb format %r" % rb["format"])
        wait_for(lambda: "forged notice ignored" in env.log_text(), 15, "the forged DSN to be refused")
        check(not recs(env, "rb", "forged@dest.test"), "the forged DSN made an rb record")
        rc, out = env.mtactl("suppression", "check", "later@dest.test")
        check(rc == 0 and "suppressed (bad-mailbox, rb" in out, "later@ not suppressed: %s" % out)
        rc, out = env.mtactl("suppression", "check", "forged@dest.test")
        check(rc == 0 and "not suppressed" in out, "forged@ suppressed: %s" % out)
        summary("async DSN -> rb %s for %s, suppressed; forged VERP ignored" % (rb["bounceCat"], qid))

        # 4. ARF complaint -> f, suppression
        s = smtplib.SMTP("127.0.0.1", env.port, timeout=30)
        s.ehlo("fbl.isp.test")
        s.sendmail("fbl@isp.test", ["fbl@bounce.test"], arf("ok@dest.test", verp))
        s.quit()
        f = wait_for(lambda: recs(env, "f", "ok@dest.test"), 30,
                     lambda: "an f record for ok@dest.test (acct: %s)" % env.acct())[0]
        check(f["feedbackType"] == "abuse", "f feedbackType %r" % f["feedbackType"])
        check(f["queueId"] == qid, "f queueId %r, want %s" % (f["queueId"], qid))
        check(f["format"] == "arf", "f format %r" % f["format"])
        rc, out = env.mtactl("suppression", "check", "ok@dest.test")
        check(rc == 0 and "suppressed (complaint, f" in out, "complainer not suppressed: %s" % out)
        summary("ARF complaint -> f %s for %s, complainer suppressed" % (f["feedbackType"], qid))

        # JMRP complaint -> f, suppression
        s = smtplib.SMTP("127.0.0.1", env.port, timeout=30)
        s.ehlo("hotmail.test")
        s.sendmail("staff@hotmail.test", ["fbl@bounce.test"], jmrp("jm@dest.test", verp))
        s.quit()
        fj = wait_for(lambda: recs(env, "f", "jm@dest.test"), 30,
                      lambda: "an f record for the JMRP complainer (acct: %s)" % env.acct())[0]
        check(fj["queueId"] == qid and fj["format"] == "jmrp", "JMRP f record: %s" % fj)
        rc, out = env.mtactl("suppression", "check", "jm@dest.test")
        check(rc == 0 and "suppressed (complaint, f" in out, "JMRP complainer not suppressed: %s" % out)
        summary("JMRP complaint -> f (format %s) for %s, complainer suppressed" % (fj["format"], qid))

        # two failures of one delivery: one DSN naming both; only the hard one suppressed
        qid2 = env.send("b@sender.test", ["bad1@dest.test", "bad2@dest.test"],
                        b"From: b@sender.test\r\nSubject: second\r\n\r\nhello\r\n")
        two = wait_for(lambda: [d for e, d in sender.messages() if b"X-Courser-Queue-ID: " + qid2.encode() in d], 30,
                       lambda: "a DSN for %s (log: %s)" % (qid2, env.log_text()[-1500:]))
        check(len(two) == 1, "%d DSNs for %s, want one for both recipients" % (len(two), qid2))
        t2 = two[0].decode(errors="replace")
        check("Final-Recipient: rfc822; bad1@dest.test" in t2 and "Final-Recipient: rfc822; bad2@dest.test" in t2
              and "Status: 5.2.2" in t2, "the DSN does not list both recipients:\n%s" % t2)
        rc, out = env.mtactl("suppression", "check", "bad2@dest.test")
        check(rc == 0 and "not suppressed" in out, "a full mailbox was suppressed: %s" % out)
        rc, out = env.mtactl("suppression", "check", "bad1@dest.test")
        check(rc == 0 and "suppressed (bad-mailbox" in out, "bad1 not suppressed: %s" % out)
        summary("two failures of one delivery -> one DSN; 5.2.2 quota not suppressed, 5.1.1 suppressed")

        # 5. mtactl
        rc, out = env.mtactl("suppression", "add", "Manual@Example.test", "list-unsubscribe")
        check(rc == 0, "suppression add: %s" % out)
        rc, out = env.mtactl("suppression", "list")
        check(rc == 0 and "manual@example.test" in out and "gone@dest.test" in out
              and "6 entries" in out, "suppression list:\n%s" % out)
        rc, out = env.mtactl("suppression", "remove", "manual@example.test")
        check(rc == 0 and "removed" in out, "suppression remove: %s" % out)
        rc, out = env.mtactl("suppression", "remove", "manual@example.test")
        check(rc != 0 and "not on the list" in out, "second remove: %d %s" % (rc, out))
        imp = os.path.join(env.dir, "import.csv")
        with open(imp, "w") as fh:
            fh.write("address,reason,domain\nimp1@example.test,list-clean\nimp2@example.test,,shop.test\n"
                     "not-an-address\n")
        os.chmod(imp, 0o644)
        rc, out = env.mtactl("suppression", "import", imp)
        check(rc == 0 and "imported 2 addresses, 1 lines skipped" in out, "suppression import: %s" % out)
        rc, out = env.mtactl("suppression", "check", "imp2@example.test", "shop.test")
        check(rc == 0 and "suppressed (manual, import" in out, "imported scoped entry: %s" % out)
        rc, out = env.mtactl("suppression", "check", "imp2@example.test")
        check(rc == 0 and "not suppressed" in out, "a shop.test entry applies globally: %s" % out)
        rc, out = env.mtactl("suppression", "export")
        check(rc == 0 and out.startswith("address,scope,reason,source,time,detail\n")
              and "imp1@example.test,*,list-clean,import," in out and "imp2@example.test,shop.test,manual,import," in out,
              "suppression export:\n%s" % out)
        summary("mtactl suppression add/list/remove/import/export work")

        # reject-suppressed-recipients no: accepted, then bounced by qmgr without delivery
        env.write_config(conf("    reject-suppressed-recipients no\n"))
        rc, out = env.mtactl("reload")
        check(rc == 0, "reload: %s" % out)
        before = len([e for e in dest.events("msg") if "gone@dest.test" in e["rcpts"]])

        def accepted():
            try:
                return env.send("a@sender.test", ["gone@dest.test"], b"Subject: third\r\n\r\nx\r\n")
            except Exception:
                return None
        qid3 = wait_for(accepted, 15, "the suppressed recipient to be accepted after the reload")
        b3 = wait_for(lambda: [r for r in recs(env, "b", "gone@dest.test") if r["queueId"] == qid3], 30,
                      lambda: "a b record for the accepted suppressed recipient (acct: %s)" % env.acct())[0]
        check(b3["dsnStatus"].startswith("5.7.1") and "suppression list" in b3["dsnDiag"],
              "accepted suppressed recipient's b record: %s" % b3)
        check(len([e for e in dest.events("msg") if "gone@dest.test" in e["rcpts"]]) == before,
              "a suppressed recipient was delivered to")
        summary("reject-suppressed-recipients no: accepted, b %s, not delivered" % b3["dsnStatus"])

        # the spool drains: the original and the DSN are gone
        wait_for(lambda: not env.spool_files(), 30, lambda: "an empty spool (%s)" % env.spool_files())
        check(not os.listdir(os.path.join(env.dir, "spool", "inbound")), "inbound/ not emptied")


if __name__ == "__main__":
    run_test(test)
