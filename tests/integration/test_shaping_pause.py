#!/usr/bin/python3
"""test_shaping_pause: manual control and queue-wide pauses.
- hold-domain: mail for held.test is accepted and kept, nothing goes out;
  `mtactl show queues` says mode=paused (hold-domain); `resume queue`
  delivers it.
- `mtactl pause queue` stops a queue (other queues unaffected), `resume`
  restarts it.
- `mtactl delete --rcpt` bounces a queued recipient with a `b` record.
- a configured smtp-pattern-list rule (defer-queue) makes the whole queue
  wait, shown with the reply and rule, then it delivers.
- a destination that refuses connections pauses its queue as a whole
  (mode=retry) instead of hammering it; `mtactl schedule` retries now."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, log, wait_for, run_test, free_port  # noqa: E402


def msg(i):
    return ("Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)).encode()


def test():
    with Env("shaping_pause") as env:
        sink = env.start_sink("127.0.0.2", name="dst",
                              args=["--rcpt", "q@cust.test=452 4.2.2 mailbox over quota@1"])
        dead_port = free_port("127.0.0.3")      # nothing listens there
        env.write_config(env.base_config(
            "hold-domain held.test\n"
            "<smtp-pattern-list custom>\n    reply /over quota/ defer-queue\n</smtp-pattern-list>\n"
            "<domain cust.test>\n    route [127.0.0.2]:%d\n    smtp-pattern-list custom\n"
            "    retry-after 4s\n    retry-recipients-after 1s\n</domain>\n"
            "<domain *.test>\n    route [127.0.0.2]:%d\n</domain>\n"
            "<domain dead.test>\n    route [127.0.0.3]:%d\n    retry-after 1h\n"
            "    connect-timeout 5s\n</domain>\n" % (sink.port, sink.port, dead_port),
            acct_records="d,b,t"))
        env.start()
        for i in range(3):
            env.send("a@src.test", ["h%d@held.test" % i], msg(i))
        env.send("a@src.test", ["x@other.test"], msg(9))
        wait_for(lambda: sink.count() >= 1, 20, "other.test to be delivered")
        time.sleep(1.5)
        check(sink.count() == 1, "held.test mail went out while held")
        rc, out = env.mtactl("show", "queues")
        log(out.strip())
        check("held.test/{default}" in out and "mode=paused" in out and "hold-domain" in out,
              "show queues does not show the held queue: %s" % out)
        rc, st = env.mtactl("status")
        check("recipients held (paused queues): 3" in st and "queues paused: 1" in st,
              "status does not count the held mail: %s" % st)
        rc, out = env.mtactl("resume", "queue", "held.test")
        check(rc == 0 and "resumed held.test: 1 queue" in out, "resume: %s" % out)
        wait_for(lambda: sink.count() >= 4, 20, "held mail after resume")

        # manual pause, then delete one recipient, resume the rest
        rc, out = env.mtactl("pause", "queue", "p.test")
        check(rc == 0, "pause: %s" % out)
        env.send("a@src.test", ["keep@p.test"], msg(20))
        env.send("a@src.test", ["drop@p.test"], msg(21))
        env.send("a@src.test", ["y@other.test"], msg(22))
        wait_for(lambda: sink.count() >= 5, 20, "other.test while p.test is paused")
        time.sleep(1)
        check(sink.count() == 5, "p.test mail went out while paused")
        rc, out = env.mtactl("show", "queues")
        check("p.test/{default}" in out and "mode=paused" in out and "paused by mtactl" in out,
              "show queues: %s" % out)
        rc, out = env.mtactl("delete", "--rcpt", "drop@p.test")
        check(rc == 0 and "deleted 1 recipients" in out, "delete: %s" % out)
        rc, out = env.mtactl("resume", "queue", "p.test")
        wait_for(lambda: sink.count() >= 6, 20, "p.test after resume")
        wait_for(lambda: any(r["rcpt"] == "drop@p.test" and r["type"] == "b" for r in env.acct()),
                 10, "a b record for the deleted recipient")
        b = [r for r in env.acct() if r["rcpt"] == "drop@p.test"]
        check(len(b) == 1 and "deleted by administrator" in b[0]["dsnDiag"], "records: %s" % b)
        got = [e["rcpts"][0] for e in sink.events("msg")]
        check("drop@p.test" not in got and "keep@p.test" in got, "sink got %s" % got)

        # a configured smtp-pattern-list rule: defer-queue on a 452 quota reply
        n0 = sink.count()
        env.send("a@src.test", ["q@cust.test"], msg(40))

        def deferred():
            rc, o = env.mtactl("show", "queues")
            return "cust.test/{default}" in o and "mode=retry" in o and o
        out = wait_for(deferred, 20, "cust.test to wait after its defer-queue rule")
        log(out.strip())
        check("over quota" in out and "custom /over quota/" in out, "reason: %s" % out)
        wait_for(lambda: sink.count() > n0, 30, "cust.test delivered after the queue's wait")

        # a dead destination: the queue waits as a whole after one failed connection
        for i in range(5):
            env.send("a@src.test", ["d%d@dead.test" % i], msg(30 + i))

        def retrying():
            rc, o = env.mtactl("show", "queues")
            return "dead.test/{default}" in o and "mode=retry" in o and o
        out = wait_for(retrying, 30, "dead.test to wait as a whole")
        log(out.strip())
        t0 = [r for r in env.acct() if r["type"] == "t" and r["rcpt"].endswith("@dead.test")]
        time.sleep(3)
        t = [r for r in env.acct() if r["type"] == "t" and r["rcpt"].endswith("@dead.test")]
        summary("dead destination: %d transient records for 5 queued recipients, then the "
                "queue waits as a whole: %d more in 3 s" % (len(t0), len(t) - len(t0)))
        check(1 <= len(t) <= 5 and len(t) == len(t0),
              "%d then %d attempts at a dead destination" % (len(t0), len(t)))
        rc, out = env.mtactl("schedule", "dead.test")
        check(rc == 0 and "scheduled dead.test" in out, "schedule: %s" % out)
        wait_for(lambda: len([r for r in env.acct() if r["type"] == "t"
                              and r["rcpt"].endswith("@dead.test")]) > len(t), 30,
                 "a new attempt after mtactl schedule")
        rc, out = env.mtactl("show", "settings", "dead.test")
        log(out.strip())
        check(rc == 0 and "retry-after: 3600s" in out and "max-smtp-out: 20" in out,
              "show settings: %s" % out)


if __name__ == "__main__":
    run_test(test)
