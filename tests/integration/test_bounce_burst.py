#!/usr/bin/python3
"""test_bounce_burst: a burst of 5,000 final failures (issue 6,
bounced's group commit).

500 messages of 10 recipients each to a sink that refuses every RCPT
with 550 5.1.1: 5,000 `b` records; DSNs at the sender's sink that name
every failed recipient exactly once, each to its own message's sender
(one DSN per message: the newest message's failures are left for the
next run, as more of them may still be arriving); all 5,000 addresses on the suppression
list.  Prints how long bounced took from the first `b` record
to the last DSN.
"""

import os
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, wait_for, run_test  # noqa: E402

MSGS, RCPTS = 500, 10


def test():
    with Env("bounce_burst") as env:
        dest = env.start_sink("127.0.0.2", name="dest", args=[
            "--fail-stage", "rcpt", "--fail-count", "100000000",
            "--fail-reply", "550 5.1.1 user unknown", "--no-store"])
        sender = env.start_sink("127.0.0.2", name="sender")
        env.write_config(env.base_config(
            "<domain dest.test>\n    route [127.0.0.2]:%d\n    max-smtp-out 20\n</domain>\n"
            "<domain sender.test>\n    route [127.0.0.2]:%d\n    max-smtp-out 20\n</domain>\n"
            % (dest.port, sender.port), acct_records="b"))
        env.start()
        wait_for(lambda: "bounced" in env.children_names(), 15, "bounced to run")

        t0 = time.time()
        s = smtplib.SMTP("127.0.0.1", env.port, timeout=60)
        s.ehlo("client.test")
        for m in range(MSGS):
            rcpts = ["u%d-%d@dest.test" % (m, i) for i in range(RCPTS)]
            s.sendmail("news%d@sender.test" % m, rcpts,
                       b"From: news@sender.test\r\nSubject: offer\r\n\r\nhello\r\n")
        s.quit()
        injected = time.time() - t0

        def nb():
            with open(os.path.join(env.dir, "log", "acct.csv"), errors="replace") as f:
                return sum(1 for line in f if line.startswith("b,"))
        wait_for(lambda: nb() >= MSGS * RCPTS, 240, lambda: "5,000 b records (have %d)" % nb())
        t_b = time.time()
        seen = set()
        done = [0]          # DSNs read so far

        def reported():
            msgs = sender.messages()
            for ev, data in msgs[done[0]:]:
                for line in data.split(b"\r\n"):
                    if line.startswith(b"Final-Recipient: rfc822; "):
                        a = line.split(b"; ", 1)[1].decode()
                        m = a.split("-")[0][1:]
                        check(ev["rcpts"] == ["news%s@sender.test" % m] and ev["from"] == "",
                              "DSN for %s went to %r from %r" % (a, ev["rcpts"], ev["from"]))
                        check(a not in seen, "%s reported twice" % a)
                        seen.add(a)
            done[0] = len(msgs)
            return len(seen) >= MSGS * RCPTS
        wait_for(reported, 240, lambda: "every failed recipient in a DSN (have %d)" % len(seen))
        t_dsn = time.time()
        msgs = sender.events("msg")
        check(MSGS <= len(msgs) <= MSGS + MSGS // 10, "%d DSNs for %d messages" % (len(msgs), MSGS))
        check(nb() == MSGS * RCPTS, "%d b records, want %d" % (nb(), MSGS * RCPTS))
        rc, out = env.mtactl("suppression", "export")
        n_sup = sum(1 for line in out.splitlines() if "@dest.test" in line)
        check(rc == 0 and n_sup == MSGS * RCPTS, "%d addresses suppressed, want %d" % (n_sup, MSGS * RCPTS))
        summary("%d failures: %d b records, %d DSNs, %d suppressed; injection %.1fs, last b at +%.1fs, "
                "last DSN at +%.1fs" % (MSGS * RCPTS, nb(), len(msgs), n_sup, injected, t_b - t0, t_dsn - t0))


if __name__ == "__main__":
    run_test(test)
