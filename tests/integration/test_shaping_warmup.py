#!/usr/bin/python3
"""test_shaping_warmup: a virtual MTA with `warmup-schedule 3,10` sends 3
recipients on its first day and keeps the rest queued (durable, counted);
`mtactl show vmtas` shows day 1, cap 3, remaining 0; after a restart the
day's count is still used up (state/warmup) and nothing more goes out."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, log, wait_for, run_test  # noqa: E402


def test():
    with Env("shaping_warmup") as env:
        sink = env.start_sink("127.0.0.2", name="dst", args=["--no-store"])
        env.write_config(env.base_config(
            "default-virtual-mta cold\n"
            "<virtual-mta cold>\n    smtp-source-host 127.0.0.1 cold.courser.test\n"
            "    warmup-schedule 3,10\n</virtual-mta>\n"
            "<domain *.test>\n    route [127.0.0.2]:%d\n</domain>\n" % sink.port))
        env.start()
        for i in range(6):
            env.send("a@src.test", ["w%d@%s.test" % (i, "ab"[i % 2])], b"Subject: w\r\n\r\nw\r\n")
        wait_for(lambda: sink.count() >= 3, 20, "the first 3 recipients")
        time.sleep(2)
        check(sink.count() == 3, "%d sent on day 1 with a cap of 3" % sink.count())
        rc, out = env.mtactl("show", "vmtas")
        log(out.strip())
        check("cold  warm-up day 1 of 2  cap=3  sent-today=3  remaining=0" in out,
              "show vmtas: %s" % out)
        rc, st = env.mtactl("status")
        check("recipients queued: 3" in st, "status: %s" % st)
        check(env.stop() == 0, "master did not stop cleanly")
        env.start()
        time.sleep(2)
        check(sink.count() == 3, "restart handed out the day's cap again (%d sent)" % sink.count())
        rc, out = env.mtactl("show", "vmtas")
        check("sent-today=3  remaining=0" in out, "after restart: %s" % out)
        summary("warmup-schedule 3,10: 3 of 6 sent on day 1, 3 queued; still 3 after a restart")


if __name__ == "__main__":
    run_test(test)
