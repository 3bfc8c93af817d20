#!/usr/bin/python3
"""test_shaping_skipmx: the smtp-pattern-list `skip-mx` action with two MX
hosts served by dnsmasq on loopback.  sk.test's best MX answers MAIL with a
matching 421; the delivery moves on to the second MX at once, and later
mail of the queue goes straight to the second MX (the queue avoids the
first).  sk5.test's best MX refuses RCPT with a matching 550: skip-mx keeps
the recipient queued (no bounce) and the second MX takes it.  ctl.test has
the same kind of best MX but no skip-mx rule: its recipient is deferred
and stays queued (retry-after 1h).  skg.test's best MX answers the
greeting with the matching 421: smtp-out moves on to the next address by
itself and reports the refusal; the queue then avoids that host too."""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, log, wait_for, run_test, random_loopback  # noqa: E402

BUSY = "421 4.3.2 Too many connections from your IP, try another MX"
REJ = "550 5.7.1 Not from this IP, try another MX"


def test():
    with Env("shaping_skipmx") as env:
        ip_busy, ip_rej, ip_ctl, ip_ok, ip_greet = (random_loopback() for _ in range(5))
        env.start_dns(
            mx=[("sk.test", "mxbusy.sk.test", 10), ("sk.test", "mxok.sk.test", 20),
                ("sk5.test", "mxrej.sk.test", 10), ("sk5.test", "mxok.sk.test", 20),
                ("ctl.test", "mxctl.sk.test", 10), ("ctl.test", "mxok.sk.test", 20),
                ("skg.test", "mxgreet.sk.test", 10), ("skg.test", "mxok.sk.test", 20)],
            a=[("mxbusy.sk.test", ip_busy), ("mxrej.sk.test", ip_rej),
               ("mxctl.sk.test", ip_ctl), ("mxok.sk.test", ip_ok), ("mxgreet.sk.test", ip_greet)])
        many = ["--fail-count", "100000"]
        busy = env.start_sink(ip_busy, 25, name="mxbusy", args=many + ["--fail-reply", BUSY])
        rej = env.start_sink(ip_rej, 25, name="mxrej",
                             args=many + ["--fail-stage", "rcpt", "--fail-reply", REJ])
        ctl = env.start_sink(ip_ctl, 25, name="mxctl", args=many + ["--fail-reply", BUSY])
        greet = env.start_sink(ip_greet, 25, name="mxgreet",
                               args=many + ["--fail-stage", "greeting", "--fail-reply", BUSY])
        ok = env.start_sink(ip_ok, 25, name="mxok")
        env.write_config(env.base_config(
            "<smtp-pattern-list mx>\n    reply /try another MX/ skip-mx\n</smtp-pattern-list>\n"
            "<domain *>\n    retry-after 1h\n    connect-timeout 5s\n</domain>\n"
            "<domain sk.test>\n    smtp-pattern-list mx\n</domain>\n"
            "<domain sk5.test>\n    smtp-pattern-list mx\n</domain>\n"
            "<domain skg.test>\n    smtp-pattern-list mx\n</domain>\n"))
        env.start()
        tok = {}

        def send(rcpt):
            tok[rcpt] = uuid.uuid4().hex
            env.send("a@src.test", [rcpt], ("Subject: %s\r\n\r\n%s\r\n" % (tok[rcpt], tok[rcpt])).encode())

        def delivered(rcpts):
            recs = {r["rcpt"]: r for r in env.acct() if r.get("type") == "d" and r["rcpt"] in rcpts}
            return recs if len(recs) == len(rcpts) else None

        t0 = time.time()
        send("first@sk.test")
        send("first@sk5.test")
        send("first@skg.test")
        send("c@ctl.test")
        recs = wait_for(lambda: delivered(["first@sk.test", "first@sk5.test", "first@skg.test"]), 30,
                        lambda: "first sk/sk5 messages delivered; have %s"
                        % [(r.get("type"), r.get("rcpt"), r.get("dsnStatus")) for r in env.acct()])
        took = time.time() - t0
        for r in ("first@sk.test", "first@sk5.test", "first@skg.test"):
            check(recs[r]["dlvDestinationIp"] == ip_ok, "%s went to %s, want the second MX %s"
                  % (r, recs[r]["dlvDestinationIp"], ip_ok))
        t = [x for x in env.acct() if x.get("type") == "t"]
        tsk = [x for x in t if x["rcpt"] == "first@sk.test"]
        tsk5 = [x for x in t if x["rcpt"] == "first@sk5.test"]
        check(len(tsk) == 1 and tsk[0]["dsnDiag"].find("421") >= 0,
              "want one t record for the 421 at the first MX, got %s" % tsk)
        check(len(tsk5) == 1 and tsk5[0]["dsnStatus"].startswith("4."),
              "want one t record (4.x: kept queued) for the 550 at the first MX, got %s" % tsk5)
        check(not [x for x in env.acct() if x.get("type") == "b"], "something bounced: %s"
              % [x for x in env.acct() if x.get("type") == "b"])
        # the queue now avoids the first MX: more mail goes straight to the second
        more = (["m%d@sk.test" % i for i in range(5)] + ["m%d@sk5.test" % i for i in range(5)]
                + ["m%d@skg.test" % i for i in range(5)])
        for r in more:
            send(r)
        wait_for(lambda: delivered(more), 30, lambda: "the next 15 delivered")
        b, j, o, g = busy.stats(), rej.stats(), ok.stats(), greet.stats()
        check(b["conns"] == 1, "first MX of sk.test had %d connections, want 1" % b["conns"])
        check(j["conns"] == 1, "first MX of sk5.test had %d connections, want 1" % j["conns"])
        check(g["conns"] == 1, "first MX of skg.test (421 greeting) had %d connections, want 1"
              % g["conns"])
        check(o["msgs"] == 18, "second MX got %d messages, want 18" % o["msgs"])
        check("skipping MX host mxgreet.sk.test" in env.log_text(), "no skip-mx for the greeting")
        for r in more:
            check(any(tok[r].encode() in d for _, d in ok.messages()), "%s not at the second MX" % r)
        # without skip-mx the recipient waits its retry-after
        c = [x for x in env.acct() if x["rcpt"] == "c@ctl.test"]
        check(len(c) == 1 and c[0]["type"] == "t", "ctl.test: want one t record, got %s" % c)
        check(ctl.stats()["conns"] == 1, "ctl.test's first MX: %d connections" % ctl.stats()["conns"])
        check(len(env.spool_files()) == 1, "want only ctl.test's message queued, have %s" % env.spool_files())
        check("skipping MX host mxbusy.sk.test" in env.log_text(), "no skip-mx log line")
        log("attempts per MX: mxbusy %d conn, mxrej %d conn, mxgreet %d conn, mxctl %d conn, "
            "mxok %d msgs; first deliveries via the second MX after %.1fs"
            % (b["conns"], j["conns"], g["conns"], ctl.stats()["conns"], o["msgs"], took))
        summary("skip-mx: 421 (MAIL, greeting) and 550 at the best MX -> next MX at once, later mail avoids it; "
                "without skip-mx the recipient waits")


if __name__ == "__main__":
    run_test(test)
