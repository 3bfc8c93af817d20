#!/usr/bin/python3
"""test_multi_per_connection: 50 messages injected quickly to one routed
domain are delivered over fewer connections than messages (connection
reuse), never more than max-smtp-out at once."""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, log, wait_for, run_test, send_on  # noqa: E402

N = 50
MAX_OUT = 2


def test():
    with Env("multi_per_conn") as env:
        sink = env.start_sink("127.0.0.2", name="routed")
        env.write_config(env.base_config(
            "<domain dst.test>\n    route [127.0.0.2]:%d\n    max-smtp-out %d\n"
            "    connection-idle-timeout 10s\n</domain>\n" % (sink.port, MAX_OUT)))
        env.start()
        tokens = [uuid.uuid4().hex for _ in range(N)]
        s = env.smtp()
        for i, t in enumerate(tokens):
            send_on(s, "a@src.test", ["r%d@dst.test" % i],
                    ("Subject: %s\r\nMessage-ID: <%s@src.test>\r\n\r\nbody %s\r\n" % (t, t, t)).encode())
        s.quit()
        wait_for(lambda: sink.count() >= N, 60, lambda: "%d messages at the sink (have %d)" % (N, sink.count()))
        time.sleep(1)
        st = sink.stats()
        bodies = b"".join(d for _, d in sink.messages())
        lost = [t for t in tokens if t.encode() not in bodies]
        check(not lost, "%d messages never arrived" % len(lost))
        summary("%d messages, %d connections, max %d at once" % (st["msgs"], st["conns"], st["max_active"]))
        check(st["msgs"] == N, "sink got %d messages for %d sent (duplicates?)" % (st["msgs"], N))
        check(st["conns"] < N, "%d connections for %d messages: no connection reuse" % (st["conns"], N))
        check(st["max_active"] <= MAX_OUT, "%d connections at once, max-smtp-out is %d"
              % (st["max_active"], MAX_OUT))


if __name__ == "__main__":
    run_test(test)
