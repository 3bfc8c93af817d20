#!/usr/bin/python3
"""test_bounce_crash: bounced killed with -9 while failures keep coming.

20 messages, each with one recipient the sink refuses with 550 5.1.1 and
one it accepts, are
sent while bounced is killed -9 three times.  qmgr keeps every failure
until bounced acknowledges it and resends after the reconnect, so every
sender still gets its DSN (at least once), every recipient ends up
suppressed, and the spool drains (qmgr kept each original only until
bounced had it), without delivering anything twice.  Then an async bounce
is processed while acctd is stopped (SIGSTOP) and bounced is killed: the
next bounced processes the notice again, so its `rb` record is not lost."""

import os
import re
import signal
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, log, wait_for, run_test  # noqa: E402

N = 20


def test():
    with Env("bounce_crash") as env:
        rules = []
        for i in range(N):
            rules += ["--rcpt", "gone%d@dest.test=550 5.1.1 no such user" % i]
        dest = env.start_sink("127.0.0.2", name="dest", args=rules)
        sender = env.start_sink("127.0.0.2", name="sender")
        env.write_config(env.base_config(
            "bounce-domain bounce.test\n"
            "<domain dest.test>\n    route [127.0.0.2]:%d\n</domain>\n"
            "<domain sender.test>\n    route [127.0.0.2]:%d\n</domain>\n" % (dest.port, sender.port),
            acct_records="d,b,rb"))
        env.start()
        wait_for(lambda: "bounced" in env.children_names(), 15, "bounced to run")
        qids = []
        for i in range(N):
            qids.append(env.send("s%d@sender.test" % i, ["gone%d@dest.test" % i, "ok%d@dest.test" % i],
                                 b"Subject: crash %d\r\n\r\nx\r\n" % i))
            if i in (3, 9, 15):
                env.kill9("bounced")
        wait_for(lambda: len([r for r in env.acct() if r["type"] == "b"]) >= N, 60,
                 lambda: "%d b records" % N)

        def dsn_qids():
            got = set()
            for e, data in sender.messages():
                m = re.search(rb"X-Courser-Queue-ID: ([0-9A-F]+)", data)
                if m:
                    got.add(m.group(1).decode())
            return got
        wait_for(lambda: set(qids) <= dsn_qids(), 90,
                 lambda: "a DSN for every message (missing %s; log %s)"
                 % (sorted(set(qids) - dsn_qids()), env.log_text()[-3000:]))
        dups = len(sender.messages()) - len(dsn_qids())
        for i in range(N):
            rc, out = env.mtactl("suppression", "check", "gone%d@dest.test" % i)
            check(rc == 0 and "suppressed (bad-mailbox" in out, "gone%d not suppressed: %s" % (i, out))
        wait_for(lambda: not env.spool_files(), 60, lambda: "an empty spool (%s)" % env.spool_files())
        # a finished message whose file waits for bounced is not picked up
        # again by qmgr's spool rescans (after a bounced reconnect)
        for i in range(N):
            n = len([e for e in dest.events("msg") if "ok%d@dest.test" % i in e["rcpts"]])
            check(n == 1, "ok%d@dest.test was delivered %d times, want once" % (i, n))
        # an async bounce processed while acctd is stopped, then bounced is
        # killed: its record was only in bounced's memory, and the notice
        # must be processed again by the next bounced, not lost
        acctd = env.pids_of("acctd")
        check(len(acctd) == 1, "acctd pids %s" % acctd)
        os.kill(acctd[0], signal.SIGSTOP)
        try:
            s = smtplib.SMTP("127.0.0.1", env.port, timeout=30)
            s.sendmail("", ["postmaster@bounce.test"], (
                "From: MAILER-DAEMON@mx.dest.test\r\nTo: postmaster@bounce.test\r\nSubject: failed\r\n"
                "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
                "boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--B\r\n"
                "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.dest.test\r\n\r\n"
                "Final-Recipient: rfc822; async@dest.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n--B--\r\n").encode())
            s.quit()
            wait_for(lambda: "rb record rcpt=<async@dest.test>" in env.log_text(), 15,
                     "bounced to process the async bounce")
            env.kill9("bounced")
        finally:
            os.kill(acctd[0], signal.SIGCONT)
        rb = wait_for(lambda: [r for r in env.acct() if r["type"] == "rb" and r["rcpt"] == "async@dest.test"], 30,
                      lambda: "the rb record after bounced was killed (log %s)" % env.log_text()[-1500:])
        # the notice names no original: our own Received: line on the
        # notice must not be taken for one
        check(rb[0]["queueId"] == "", "rb record for a notice without an original: %s" % rb[0])
        wait_for(lambda: not os.listdir(os.path.join(env.dir, "spool", "inbound")), 15,
                 lambda: "inbound/ to be emptied (%s)" % os.listdir(os.path.join(env.dir, "spool", "inbound")))
        restarts = env.log_text().count("started bounced[")
        summary("bounced killed -9 3 times: %d/%d DSNs (%d duplicates), %d suppressed, spool empty, "
                "bounced started %d times; an async bounce's rb record survived a kill -9 of bounced"
                % (len(dsn_qids()), N, dups, N, restarts))


if __name__ == "__main__":
    run_test(test)
