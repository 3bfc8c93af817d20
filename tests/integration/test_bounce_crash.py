#!/usr/bin/python3
"""test_bounce_crash: bounced killed with -9 while failures keep coming.

20 messages, each with one recipient the sink refuses with 550 5.1.1 and
one it accepts, are
sent while bounced is killed -9 three times.  qmgr keeps every failure
until bounced acknowledges it and resends after the reconnect, so every
sender still gets its DSN (at least once), every recipient ends up
suppressed, and the spool drains (qmgr kept each original only until
bounced had it), without delivering anything twice."""

import os
import re
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
            "<domain dest.test>\n    route [127.0.0.2]:%d\n</domain>\n"
            "<domain sender.test>\n    route [127.0.0.2]:%d\n</domain>\n" % (dest.port, sender.port)))
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
        restarts = env.log_text().count("started bounced[")
        summary("bounced killed -9 3 times: %d/%d DSNs (%d duplicates), %d suppressed, spool empty, "
                "bounced started %d times" % (len(dsn_qids()), N, dups, N, restarts))


if __name__ == "__main__":
    run_test(test)
