#!/usr/bin/python3
"""test_graceful_stop: SIGTERM with mail queued (its route is down) makes
master exit 0 with every daemon gone and the spool consistent (each queued
message's file still there, nothing in tmp/); after a restart with the
route up, every message is delivered exactly once and the spool empties.
Then SIGTERM while an inbound client is in the middle of DATA and an
outbound delivery waits 2s for the reply to its final dot: master exits 0,
the half-received message leaves nothing behind and is never delivered,
and the in-flight outbound message is delivered exactly once."""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (summary, Env, RawSMTP, check, log, wait_for, run_test, free_port,  # noqa: E402
                     proc_name, DAEMON_NAMES)

N = 5


def test():
    with Env("graceful_stop") as env:
        port = free_port("127.0.0.2")
        slow = env.start_sink("127.0.0.2", name="slow", args=["--delay", "dot=2"])
        env.write_config(env.base_config(
            "<domain dst.test>\n    route [127.0.0.2]:%d\n    retry-after 3s\n"
            "    retry-recipients-after 3s\n    connect-timeout 5s\n</domain>\n"
            "<domain slow.test>\n    route [127.0.0.2]:%d\n    retry-after 3s\n"
            "    retry-recipients-after 3s\n</domain>\n" % (port, slow.port)))
        env.start()
        tokens = [uuid.uuid4().hex for _ in range(N)]
        for i, t in enumerate(tokens):
            env.send("a@src.test", ["r%d@dst.test" % i], ("Subject: %s\r\n\r\n%s\r\n" % (t, t)).encode())
        time.sleep(2)                  # let delivery be tried (and fail) once
        kids = env.children()
        rc = env.stop(timeout=20)
        check(rc == 0, "master exited %s on SIGTERM, want 0" % rc)
        time.sleep(0.5)
        alive = [(p, n) for p, n in kids if proc_name(p) == n and n in DAEMON_NAMES]
        check(not alive, "daemons still running after master exited: %s" % alive)
        files = env.spool_files()
        tmp = [f for f in files if "/tmp/" in f[len(env.dir):]]
        msg = [f for f in files if "/msg/" in f[len(env.dir):]]
        check(not tmp, "spool tmp/ not empty after a graceful stop: %s" % tmp)
        check(len(msg) == N, "%d message files in the spool after stop, want %d: %s" % (len(msg), N, msg))
        log("stopped cleanly with %d messages queued" % len(msg))

        sink = env.start_sink("127.0.0.2", port=port, name="routed")
        env.start()
        wait_for(lambda: sink.count() >= N, 60, lambda: "%d messages at the sink after restart (have %d)"
                 % (N, sink.count()))
        wait_for(lambda: not env.spool_files(), 30, lambda: "empty spool (left %s)" % env.spool_files())
        time.sleep(1)
        data = [d for _, d in sink.messages()]
        for t in tokens:
            n = sum(1 for d in data if t.encode() in d)
            check(n == 1, "message %s delivered %d times after a clean restart, want exactly once" % (t, n))
        d = [r for r in env.acct() if r.get("type") == "d"]
        check(len(d) == N, "%d d records, want %d" % (len(d), N))
        summary("restart delivered all %d exactly once" % N)

        # phase 2: SIGTERM with a half-received inbound message and an
        # outbound delivery waiting for its reply
        half, out = uuid.uuid4().hex, uuid.uuid4().hex
        c = RawSMTP(env.port)
        check(c.reply()[0] == 220 and c.cmd("EHLO slow.client")[0] == 250, "inbound session setup")
        check(c.cmd("MAIL FROM:<a@src.test>")[0] == 250 and c.cmd("RCPT TO:<h@dst.test>")[0] == 250
              and c.cmd("DATA")[0] == 354, "inbound MAIL/RCPT/DATA refused")
        c.send("Subject: %s\r\n\r\nhalf a message %s\r\n" % (half, half))
        env.send("a@src.test", ["s@slow.test"], ("Subject: %s\r\n\r\n%s\r\n" % (out, out)).encode())
        wait_for(lambda: any(e["line"].startswith("354") for e in slow.events("reply")), 15,
                 "the outbound delivery to reach DATA at the slow sink")
        time.sleep(0.3)                # the dot is sent; its reply takes 2s
        t_stop = time.time()
        rc = env.stop(timeout=20)
        check(rc == 0, "master exited %s on SIGTERM with sessions in flight, want 0" % rc)
        code, text = c.reply()
        check(code in (None, 421), "the inbound client in DATA got %s %r at shutdown, want 421 or a close"
              % (code, text))
        c.close()
        tmp = [f for f in env.spool_files() if "/tmp/" in f[len(env.dir):]]
        check(not tmp, "spool tmp/ not empty after stopping during DATA: %s" % tmp)
        took = time.time() - t_stop
        check(took < 15, "stopping took %.1fs with one client idle in DATA" % took)
        env.start()
        wait_for(lambda: any(out.encode() in d for _, d in slow.messages()), 30,
                 "the in-flight outbound message at the slow sink")
        wait_for(lambda: not env.spool_files(), 30, lambda: "empty spool (left %s)" % env.spool_files())
        time.sleep(2.5)
        copies = sum(1 for _, d in slow.messages() if out.encode() in d)
        check(copies == 1, "the message in flight at SIGTERM was delivered %d times, want exactly once "
              "(smtp-out should wait for the reply to its dot, or qmgr must not retry it)" % copies)
        leaked = [r for r in env.acct() if r.get("rcpt") == "h@dst.test"]
        check(not leaked, "the half-received message was accounted/delivered: %s" % leaked)
        summary("SIGTERM with a client in DATA and a delivery awaiting its reply: stopped in %.1fs, "
                "exit 0, tmp/ clean, in-flight message delivered exactly once" % took)


if __name__ == "__main__":
    run_test(test)
