#!/usr/bin/python3
"""test_shaping_backoff: a 421 4.7.0 storm puts the queue in backoff through
Courser's built-in ISP rules (no smtp-pattern-list configured), the queue
never opens more connections than it had before the first 421 and its
rate falls; `mtactl show queues` shows mode=backoff with the triggering
reply; after backoff-to-normal-after it is back to normal and every
message is delivered."""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, log, wait_for, run_test, send_on  # noqa: E402

N = 40
MAX_OUT = 4
ACCEPT = 10
FAILS = 6


def test():
    with Env("shaping_backoff") as env:
        sink = env.start_sink("127.0.0.2", name="isp", args=[
            "--no-store", "--accept-first", str(ACCEPT), "--fail-count", str(FAILS),
            "--fail-reply", "421 4.7.0 Try again later, closing connection.", "--fail-stage", "mail",
            "--delay", "dot=0.2"])
        env.write_config(env.base_config(
            "<domain isp.test>\n    route [127.0.0.2]:%d\n    max-smtp-out %d\n"
            "    retry-after 2s\n    retry-recipients-after 1s\n    backoff-retry-after 3s\n"
            "    backoff-to-normal-after 6s\n"
            "</domain>\n" % (sink.port, MAX_OUT)))
        env.start()
        s = env.smtp()
        for i in range(N):
            t = uuid.uuid4().hex
            send_on(s, "a@src.test", ["r%d@isp.test" % i], ("Subject: %s\r\n\r\nb %s\r\n" % (t, t)).encode())
        s.quit()

        def in_backoff():
            rc, out = env.mtactl("show", "queues")
            return "mode=backoff" in out and out
        out = wait_for(in_backoff, 30, "the queue to enter backoff mode")
        log(out.strip())
        check("4.7.0" in out and "reason=" in out, "show queues does not give the reply: %s" % out)
        t_backoff = time.time()

        def normal_again():
            rc, o = env.mtactl("show", "queues")
            return ("mode=normal" in o or "no queued mail" in o) and o
        out2 = wait_for(normal_again, 40, "the queue to return to normal mode")
        log(out2.strip())
        t_normal = time.time()
        wait_for(lambda: sink.count() >= N, 120, lambda: "%d delivered (have %d)" % (N, sink.count()))
        ev = sink.events()
        first_421 = min(e["t"] for e in ev if e["ev"] == "reply" and e["line"].startswith("421"))
        before = [e["active"] for e in ev if e["ev"] == "conn" and e["t"] < first_421]
        after = [e for e in ev if e["ev"] == "conn" and e["t"] >= first_421]
        max_before = max(before or [0])
        max_after = max([e["active"] for e in after] or [0])
        msgs = sorted(e["t"] for e in ev if e["ev"] == "msg")
        rate_before = len([t for t in msgs if t < first_421]) / max(first_421 - msgs[0], 0.001)
        in_bo = [t for t in msgs if first_421 <= t < t_normal - 0.5]
        log_text = env.log_text()
        summary("before the first 421: %d msgs, max %d connections, %.1f msg/s; "
                "in backoff (%.1f s): %d msgs, max %d connections; back to normal after %.1f s"
                % (len([t for t in msgs if t < first_421]), max_before, rate_before,
                   t_normal - first_421, len(in_bo), max_after, t_normal - t_backoff))
        check("backoff mode" in log_text, "qmgr did not log the backoff")
        check(max_after <= max_before, "backoff opened %d connections, %d before the 421"
              % (max_after, max_before))
        bo_rate = len(in_bo) / max(t_normal - 0.5 - first_421, 0.001)
        check(bo_rate < rate_before, "rate did not fall in backoff: %.2f/s vs %.2f/s"
              % (bo_rate, rate_before))
        recs = env.acct()
        check(len([r for r in recs if r["type"] == "d"]) == N, "not every message delivered once")


if __name__ == "__main__":
    run_test(test)
