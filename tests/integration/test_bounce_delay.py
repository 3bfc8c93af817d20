#!/usr/bin/python3
"""test_bounce_delay: delay DSNs (notify-of-delay-every, issue 6).

A recipient that asked for NOTIFY=DELAY,FAILURE keeps getting 451 from the
sink (retry-after 1s, notify-of-delay-every 4s): once it has been queued
4 s, the sender gets one RFC 3464 "delayed" DSN (Action: delayed,
Status 4.2.0, Will-Retry-Until), and about one more per further 4 s, not
one per attempt.  A recipient of the same kind without NOTIFY=DELAY gets
none.  When the sink then accepts, the recipient is delivered (a delay
notice is no failure: no b record, no suppression).
"""

import os
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, wait_for, run_test  # noqa: E402


def recs(env, rtype, rcpt=None):
    return [r for r in env.acct() if r.get("type") == rtype and (rcpt is None or r.get("rcpt") == rcpt)]


def test():
    with Env("bounce_delay") as env:
        dest = env.start_sink("127.0.0.2", name="dest", args=[
            "--rcpt", "slow@dest.test=451 4.2.0 mailbox busy, try later@12",
            "--rcpt", "quiet@dest.test=451 4.2.0 mailbox busy, try later@12"])
        sender = env.start_sink("127.0.0.2", name="sender")
        env.write_config(env.base_config(
            "<domain dest.test>\n    route [127.0.0.2]:%d\n    retry-after 1s\n"
            "    retry-recipients-after 1s\n    notify-of-delay-every 4s\n</domain>\n"
            "<domain sender.test>\n    route [127.0.0.2]:%d\n</domain>\n" % (dest.port, sender.port),
            acct_records="d,b,t"))
        env.start()
        wait_for(lambda: "bounced" in env.children_names(), 15, "bounced to run")

        s = smtplib.SMTP("127.0.0.1", env.port, timeout=30)
        s.ehlo("client.test")
        code, _ = s.mail("a@sender.test", ["RET=FULL", "ENVID=delay-test"])
        check(code == 250, "MAIL got %d" % code)
        code, _ = s.rcpt("slow@dest.test", ["NOTIFY=DELAY,FAILURE"])
        check(code == 250, "RCPT slow got %d" % code)
        code, _ = s.rcpt("quiet@dest.test", ["NOTIFY=FAILURE"])
        check(code == 250, "RCPT quiet got %d" % code)
        code, resp = s.data(b"From: a@sender.test\r\nTo: slow@dest.test\r\nSubject: later\r\n\r\nbody text\r\n")
        check(code == 250, "DATA got %d %s" % (code, resp))
        s.quit()
        t0 = time.time()

        first = wait_for(lambda: sender.messages(), 30,
                         lambda: "a delay DSN at the sender (log: %s)" % env.log_text()[-2000:])
        waited = time.time() - t0
        ev, data = first[0]
        text = data.decode(errors="replace")
        check(ev["from"] == "" and ev["rcpts"] == ["a@sender.test"], "delay DSN envelope %r" % ev)
        for want in ("Subject: Delayed Mail (still being retried)", "Action: delayed", "Status: 4.2.0",
                     "Final-Recipient: rfc822; slow@dest.test", "Will-Retry-Until: ",
                     "Original-Envelope-Id: delay-test", "text/rfc822-headers",
                     "Diagnostic-Code: smtp; 451 4.2.0 mailbox busy"):
            check(want in text, "the delay DSN lacks %r:\n%s" % (want, text))
        check("quiet@dest.test" not in text.split("text/rfc822-headers")[0], "quiet@ is in the delay DSN")
        check("body text" not in text, "the delay DSN carries the body despite RET=FULL")
        check(waited >= 3.0, "the first delay DSN came after %.1fs, before 4s in the queue" % waited)
        summary("NOTIFY=DELAY: delayed DSN after %.1fs queued (Action: delayed, 4.2.0)" % waited)

        # the sink accepts after 12 refusals of each: then delivered
        wait_for(lambda: recs(env, "d", "slow@dest.test"), 60, "slow@ to be delivered at last")
        wait_for(lambda: recs(env, "d", "quiet@dest.test"), 60, "quiet@ to be delivered at last")
        attempts = len(recs(env, "t", "slow@dest.test"))
        time.sleep(1.0)
        dsns = [d for _, d in sender.messages()]
        check(all(b"slow@dest.test" in d and b"Action: delayed" in d for d in dsns),
              "a DSN other than a delay notice for slow@: %r" % dsns)
        elapsed = time.time() - t0
        check(1 <= len(dsns) <= int(elapsed / 4) + 1,
              "%d delay DSNs in %.0fs with notify-of-delay-every 4s (%d attempts)"
              % (len(dsns), elapsed, attempts))
        check(attempts > len(dsns), "one delay DSN per attempt (%d attempts, %d DSNs)" % (attempts, len(dsns)))
        check(not recs(env, "b"), "a delay made a b record: %r" % recs(env, "b"))
        rc, out = env.mtactl("suppression", "check", "slow@dest.test")
        check(rc == 0 and "not suppressed" in out, "slow@ suppressed: %s" % out)
        summary("%d delay DSNs over %d attempts in %.0fs; none for NOTIFY=FAILURE; delivered, not suppressed"
                % (len(dsns), attempts, elapsed))


if __name__ == "__main__":
    run_test(test)
