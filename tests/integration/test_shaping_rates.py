#!/usr/bin/python3
"""test_shaping_rates: max-msg-rate, max-connect-rate and max-smtp-out hold
at the sink across both smtp-out processes.  60 messages to one queue with
max-msg-rate 120/m (one every 0.5 s), max-connect-rate 60/m (one a second),
max-smtp-out 3 and max-msg-per-connection 4 (so connections keep being
opened): the sink's records must never show more than 3 connections at
once, more than 120 messages in any 60 s, more than 2+1 messages in any
second, or more connections than the connect rate allows."""

import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, log, wait_for, run_test, send_on  # noqa: E402

N = 60
MAX_OUT = 3


def window_max(times, width):
    """Most events in any window [t, t+width) starting at an event."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - width + 1e-9:
            j += 1
        best = max(best, i - j + 1)
    return best


def test():
    with Env("shaping_rates") as env:
        sink = env.start_sink("127.0.0.2", name="rated", args=["--no-store"])
        slow = env.start_sink("127.0.0.2", name="slow", args=["--no-store", "--delay", "dot=0.3"])
        env.write_config(env.base_config(
            "<domain rate.test>\n    route [127.0.0.2]:%d\n    max-smtp-out %d\n"
            "    max-msg-rate 120/m\n    max-connect-rate 60/m\n    max-msg-per-connection 4\n"
            "</domain>\n"
            "<domain conc.test>\n    route [127.0.0.2]:%d\n    max-smtp-out %d\n"
            "    max-msg-per-connection 3\n</domain>\n" % (sink.port, MAX_OUT, slow.port, MAX_OUT)))
        env.start()
        s = env.smtp()
        for i in range(N):
            t = uuid.uuid4().hex
            send_on(s, "a@src.test", ["r%d@rate.test" % i],
                    ("Subject: %s\r\n\r\nbody %s\r\n" % (t, t)).encode())
        s.quit()
        wait_for(lambda: sink.count() >= N, 120,
                 lambda: "%d messages at the sink (have %d)" % (N, sink.count()))
        ev = sink.events()
        msgs = sorted(e["t"] for e in ev if e["ev"] == "msg")
        conns = sorted(e["t"] for e in ev if e["ev"] == "conn")
        max_active = max([e["active"] for e in ev if e["ev"] == "conn"] or [0])
        span = msgs[-1] - msgs[0]
        per_s = window_max(msgs, 1.0)
        per_10s = window_max(msgs, 10.0)
        per_min = window_max(msgs, 60.0)
        c_per_s = window_max(conns, 1.0)
        c_per_10s = window_max(conns, 10.0)
        gaps = [b - a for a, b in zip(msgs, msgs[1:])]
        summary("120/m configured: %d messages in %.1f s (%.2f/s average), max %d in any 1 s, "
                "%d in any 10 s, %d in any 60 s; min gap %.3f s"
                % (N, span, (N - 1) / span if span else 0, per_s, per_10s, per_min, min(gaps)))
        summary("60/m connect rate: %d connections, max %d in any 1 s, %d in any 10 s; "
                "max %d open at once (max-smtp-out %d)"
                % (len(conns), c_per_s, c_per_10s, max_active, MAX_OUT))
        st = sink.stats()
        summary("per calendar second at the sink: max %d messages, max %d connections"
                % (st["max_msgs_per_s"], st["max_conns_per_s"]))
        # qmgr spaces them >= 0.5 s; delivery latency varies by a few ms,
        # so a third arrival may just fall inside a calendar second
        check(st["max_msgs_per_s"] <= 3, "%d messages in one calendar second at 120/m"
              % st["max_msgs_per_s"])
        check(st["max_conns_per_s"] <= 1, "%d connections in one calendar second at 60/m"
              % st["max_conns_per_s"])
        check(len(msgs) == N, "sink got %d messages for %d" % (len(msgs), N))
        check(max_active <= MAX_OUT, "%d connections at once, max-smtp-out is %d" % (max_active, MAX_OUT))
        # 0.5 s spacing: at most 2 starts fall in one second; delivery
        # latency jitter may move one arrival, never a burst
        check(per_s <= 3, "%d messages in one second at 120/m" % per_s)
        check(per_10s <= 21, "%d messages in 10 s at 120/m" % per_10s)
        check(per_min <= 120, "%d messages in 60 s at 120/m" % per_min)
        check(span >= (N - 1) * 0.5 - 1.0, "60 messages in %.1f s: faster than 120/m" % span)
        check(c_per_s <= 2, "%d connections in one second at 60/m" % c_per_s)
        check(c_per_10s <= 11, "%d connections in 10 s at 60/m" % c_per_10s)
        check(len(conns) >= N // 4, "only %d connections with max-msg-per-connection 4" % len(conns))

        # no rate, a slow server, reconnects every 3 messages, 2 smtp-out
        # processes: connections open at once must never pass max-smtp-out
        s = env.smtp()
        for i in range(N):
            send_on(s, "a@src.test", ["c%d@conc.test" % i], b"Subject: c\r\n\r\nc\r\n")
        s.quit()
        wait_for(lambda: slow.count() >= N, 120,
                 lambda: "%d messages at the slow sink (have %d)" % (N, slow.count()))
        st = slow.stats()
        summary("unlimited rate, slow sink, max-smtp-out %d, max-msg-per-connection 3: %d messages "
                "over %d connections, max %d open at once"
                % (MAX_OUT, st["msgs"], st["conns"], st["max_active"]))
        check(st["max_active"] <= MAX_OUT, "%d connections at once, max-smtp-out is %d"
              % (st["max_active"], MAX_OUT))
        check(st["max_active"] == MAX_OUT, "only %d connections used of %d" % (st["max_active"], MAX_OUT))


if __name__ == "__main__":
    run_test(test)
