#!/usr/bin/python3
"""test_shaping_warmup_overflow: a cold virtual MTA (`warmup-schedule 3`,
`warmup-overflow-virtual-mta warm`) sends its 3 recipients of the day and
the rest leave the same day through the warm vmta, from its source IP;
accounting's vmta and dlvSourceIp say which.  One recipient is deferred
once (451) and Courser is restarted before its retry: after the restart
it is routed to the cold vmta again, moves to the warm one again (the
day's count survived) and is delivered exactly once."""

import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, log, wait_for, run_test  # noqa: E402

N = 8
IP = {"cold": "127.0.0.11", "warm": "127.0.0.12"}


def test():
    with Env("shaping_warmup_overflow") as env:
        sink = env.start_sink("127.0.0.2", name="dst", args=["--rcpt", "slow@dst.test=451 4.3.0 later@1"])
        env.write_config(env.base_config(
            "default-virtual-mta cold\n"
            "<virtual-mta cold>\n    smtp-source-host 127.0.0.11 cold.courser.test\n"
            "    warmup-schedule 3,10\n    warmup-overflow-virtual-mta warm\n</virtual-mta>\n"
            "<virtual-mta warm>\n    smtp-source-host 127.0.0.12 warm.courser.test\n</virtual-mta>\n"
            "<domain dst.test>\n    route [127.0.0.2]:%d\n    retry-after 4s\n</domain>\n" % sink.port))
        env.start()
        rcpts = ["w%d@dst.test" % i for i in range(N - 1)] + ["slow@dst.test"]
        for r in rcpts:
            env.send("a@src.test", [r], ("Subject: %s\r\n\r\nbody\r\n" % r).encode())
        wait_for(lambda: len([x for x in env.acct() if x.get("type") == "d"]) >= N - 1, 20,
                 "the first %d delivered" % (N - 1))
        wait_for(lambda: [x for x in env.acct() if x.get("type") == "t"], 20, "slow@ deferred once")
        # restart before its retry: routed to cold again, moved again
        check(env.stop() == 0, "master did not stop cleanly")
        env.start()
        d = wait_for(lambda: (lambda x: x if len(x) >= N else None)(
            [x for x in env.acct() if x.get("type") == "d"]), 30, "all %d delivered" % N)
        wait_for(lambda: not env.spool_files(), 20, lambda: "empty spool (left %s)" % env.spool_files())
        by_rcpt = collections.Counter(x["rcpt"] for x in d)
        check(sorted(by_rcpt) == sorted(rcpts) and set(by_rcpt.values()) == {1},
              "each recipient delivered once: %s" % dict(by_rcpt))
        by_vmta = collections.Counter(x["vmta"] for x in d)
        for x in d:
            check(x["dlvSourceIp"] == IP.get(x["vmta"]), "%s: vmta %s but source %s"
                  % (x["rcpt"], x["vmta"], x["dlvSourceIp"]))
        check(by_vmta["cold"] <= 3 and by_vmta["cold"] >= 2, "cold delivered %d (cap 3)" % by_vmta["cold"])
        check(by_vmta["cold"] + by_vmta["warm"] == N, "vmtas: %s" % dict(by_vmta))
        peers = {e["conn"]: e["peer"] for e in sink.events("conn")}
        at_sink = collections.Counter(peers.get(e["conn"]) for e in sink.events("msg"))
        check(at_sink[IP["cold"]] == by_vmta["cold"] and at_sink[IP["warm"]] == by_vmta["warm"],
              "sink saw %s, accounting %s" % (dict(at_sink), dict(by_vmta)))
        check("recipients move to virtual MTA warm" in env.log_text(), "no overflow log line")
        rc, out = env.mtactl("show", "vmtas")
        log(out.strip())
        log("delivered by vmta: %s; at the sink by source IP: %s" % (dict(by_vmta), dict(at_sink)))
        summary("warm-up overflow: cap 3 on cold, %d via warm the same day; a deferred one moved "
                "again after a restart and delivered once" % by_vmta["warm"])


if __name__ == "__main__":
    run_test(test)
