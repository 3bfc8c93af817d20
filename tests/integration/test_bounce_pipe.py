#!/usr/bin/python3
"""test_bounce_pipe: bounce-pipe and fbl-pipe (issue 6).

The pipe program fails on purpose the first time (reads one event, exits 1
without acknowledging it); bounced restarts it and sends every
unacknowledged event again.  In the end the bounce program has handled a
`b` event for each of 3 refused recipients (JSON: rcpt, category, hard,
status, queue_id, sender) and the FBL program an `f` event for an ARF
complaint; nothing is lost."""

import json
import os
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, wait_for, run_test, PY  # noqa: E402

PROGRAM = r'''
import os, sys
out, state = sys.argv[1], sys.argv[2]
first = not os.path.exists(state)
open(state, "a").close()
for line in sys.stdin:
    with open(out, "a") as f:
        f.write(line)
    if first:
        sys.exit(1)          # handled one, acknowledged none: it comes again
    sys.stdout.write("ok\n")
    sys.stdout.flush()
'''

ARF = ("From: fbl@isp.test\r\nTo: fbl@bounce.test\r\nSubject: report\r\nMIME-Version: 1.0\r\n"
       "Content-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n"
       "--F\r\nContent-Type: text/plain\r\n\r\nabuse report\r\n"
       "--F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n"
       "Original-Rcpt-To: <angry@dest.test>\r\n\r\n"
       "--F\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@sender.test\r\nTo: angry@dest.test\r\n"
       "Subject: x\r\n\r\nx\r\n--F--\r\n").encode()


def events(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def test():
    with Env("bounce_pipe") as env:
        prog = os.path.join(env.dir, "pipe.py")
        with open(prog, "w") as f:
            f.write(PROGRAM)
        bout, bstate = os.path.join(env.dir, "bounces.jsonl"), os.path.join(env.dir, "b.state")
        fout, fstate = os.path.join(env.dir, "fbl.jsonl"), os.path.join(env.dir, "f.state")
        os.chmod(env.dir, 0o777)     # the program runs as the daemons' user
        dest = env.start_sink("127.0.0.2", name="dest", args=[
            "--rcpt", "x1@dest.test=550 5.1.1 no such user",
            "--rcpt", "x2@dest.test=550 5.1.1 no such user",
            "--rcpt", "x3@dest.test=552 5.2.2 mailbox full"])
        sender = env.start_sink("127.0.0.2", name="sender")
        env.write_config(env.base_config(
            "bounce-domain bounce.test\n"
            "bounce-pipe %s %s %s %s\n"
            "fbl-pipe %s %s %s %s\n"
            "<domain dest.test>\n    route [127.0.0.2]:%d\n</domain>\n"
            "<domain sender.test>\n    route [127.0.0.2]:%d\n</domain>\n"
            % (PY, prog, bout, bstate, PY, prog, fout, fstate, dest.port, sender.port)))
        env.start()
        qids = [env.send("a@sender.test", ["x%d@dest.test" % i], b"Subject: p\r\n\r\nx\r\n") for i in (1, 2, 3)]
        s = smtplib.SMTP("127.0.0.1", env.port, timeout=30)
        s.sendmail("fbl@isp.test", ["fbl@bounce.test"], ARF)
        s.quit()

        def handled():
            ev = events(bout)
            return {e["rcpt"] for e in ev if e.get("type") == "b"} >= {"x1@dest.test", "x2@dest.test", "x3@dest.test"}
        wait_for(handled, 60, lambda: "every b event at the program (got %s; log %s)"
                 % (events(bout), env.log_text()[-1500:]))
        ev = {e["rcpt"]: e for e in events(bout) if e.get("type") == "b"}
        check(ev["x1@dest.test"]["hard"] is True and ev["x1@dest.test"]["category"] == "bad-mailbox"
              and ev["x1@dest.test"]["status"] == "5.1.1" and ev["x1@dest.test"]["queue_id"] == qids[0]
              and ev["x1@dest.test"]["sender"] == "a@sender.test", "b event: %s" % ev["x1@dest.test"])
        check(ev["x3@dest.test"]["hard"] is False and ev["x3@dest.test"]["category"] == "quota-issues",
              "soft b event: %s" % ev["x3@dest.test"])
        f = wait_for(lambda: [e for e in events(fout) if e.get("type") == "f"], 60,
                     lambda: "the f event at the FBL program (log %s)" % env.log_text()[-1500:])[0]
        check(f["rcpt"] == "angry@dest.test" and f["feedback_type"] == "abuse", "f event: %s" % f)
        check("exited (status 1" in env.log_text(), "the failing first run was not noticed")
        summary("bounce-pipe: %d b events for 3 failures after a failed first run (at-least-once); "
                "fbl-pipe: f %s" % (len([e for e in events(bout) if e.get("type") == "b"]), f["rcpt"]))


if __name__ == "__main__":
    run_test(test)
