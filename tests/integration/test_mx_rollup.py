#!/usr/bin/python3
"""test_mx_rollup: <mx-rollup-list> and queue-to share one queue between
domains (issue 3).

dnsmasq gives a.test and b.test mail exchangers under *.mx.shared.test
(one sink), c.test one elsewhere (same sink, other name).  The rollup is
learned from a delivery: the first message to each domain is queued in
its own domain/vmta queue; once a delivery of a.test or b.test has reached
a matching MX, new mail for both goes to shared.rollup/{default} (with
<domain shared.rollup>'s settings), so one message to both domains is one
SMTP transaction; c.test keeps its own queue.  queue-to puts q1.test and
q2.test in one queue from the start.  Accounting's `queue` shows it all."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Env, check, log, wait_for, run_test, random_loopback, summary  # noqa: E402


def test():
    with Env("mx_rollup") as env:
        ip = random_loopback()
        env.start_dns(mx=[("a.test", "mx1.mx.shared.test", 10), ("b.test", "mx2.mx.shared.test", 10),
                          ("c.test", "mx.other.test", 10)],
                      a=[("mx1.mx.shared.test", ip), ("mx2.mx.shared.test", ip), ("mx.other.test", ip)])
        sink = env.start_sink(ip, 25, name="mx")
        routed = env.start_sink("127.0.0.2", name="routed")
        env.write_config(env.base_config(
            "<mx-rollup-list>\n    mx *.mx.shared.test shared.rollup\n</mx-rollup-list>\n"
            "<domain shared.rollup>\n    max-smtp-out 3\n</domain>\n"
            "<domain q1.test>\n    queue-to both.q\n</domain>\n"
            "<domain q2.test>\n    queue-to both.q\n</domain>\n"
            "<domain both.q>\n    route [127.0.0.2]:%d\n</domain>\n" % routed.port))
        env.start()

        def records(rcpts):
            def ok():
                d = {r["rcpt"]: r for r in env.acct() if r.get("type") == "d"}
                return d if all(r in d for r in rcpts) else None
            return wait_for(ok, 40, "d records for %s" % rcpts)

        # phase 1: each domain's first mail, in its own queue
        for r in ("x1@a.test", "x1@b.test", "x1@c.test"):
            env.send("s@src.test", [r], b"Subject: first\r\n\r\nfirst\r\n")
        first = records(["x1@a.test", "x1@b.test", "x1@c.test"])
        for dom in ("a.test", "b.test", "c.test"):
            q = first["x1@" + dom]["queue"]
            check(q == dom + "/{default}", "first %s mail queued in %s" % (dom, q))
        wait_for(lambda: env.log_text().count("rolls up into queue shared.rollup/{default}") >= 2, 10,
                 "qmgr to learn the rollup of a.test and b.test")

        # phase 2: new mail for a.test and b.test shares the rollup queue
        env.send("s@src.test", ["x2@a.test", "x2@b.test", "x2@c.test"],
                 b"Subject: second\r\n\r\nsecond\r\n")
        env.send("s@src.test", ["y1@q1.test", "y1@q2.test"], b"Subject: qto\r\n\r\nqto\r\n")
        second = records(["x2@a.test", "x2@b.test", "x2@c.test", "y1@q1.test", "y1@q2.test"])
        for r, want in (("x2@a.test", "shared.rollup/{default}"), ("x2@b.test", "shared.rollup/{default}"),
                        ("x2@c.test", "c.test/{default}"), ("y1@q1.test", "both.q/{default}"),
                        ("y1@q2.test", "both.q/{default}")):
            check(second[r]["queue"] == want, "%s: queue %s, want %s" % (r, second[r]["queue"], want))
        # one transaction for both rolled-up recipients, one for the queue-to pair
        txn = [sorted(e["rcpts"]) for e in sink.events("msg")]
        check(["x2@a.test", "x2@b.test"] in txn, "a.test+b.test not in one transaction: %s" % txn)
        rtx = [sorted(e["rcpts"]) for e in routed.events("msg")]
        check(["y1@q1.test", "y1@q2.test"] in rtx, "queue-to pair not in one transaction: %s" % rtx)
        rc, out = env.mtactl("show", "queues")
        check(rc == 0, "show queues: %s" % out)
        summary("a.test+b.test rolled up into shared.rollup after their MX answered; q1/q2 via queue-to")


if __name__ == "__main__":
    run_test(test)
