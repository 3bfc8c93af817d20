#!/usr/bin/python3
"""test_pool_weights: a <virtual-mta-pool> with weights 5:3:2 spreads 1,000
messages over its members' source IPs (127.0.0.11/.12/.13) within ±5% of
the weights, as the sink sees them (peer address of each delivering
connection) and as accounting records them (vmta, vmtaPool,
dlvSourceIp)."""

import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Env, check, log, wait_for, run_test, send_on, summary)  # noqa: E402

N = 1000
WEIGHTS = {"127.0.0.11": 5, "127.0.0.12": 3, "127.0.0.13": 2}


def test():
    with Env("pool_weights") as env:
        sink = env.start_sink("127.0.0.2", name="dst")
        extra = (
            "<virtual-mta m11>\n smtp-source-host 127.0.0.11 m11.courser.test\n</virtual-mta>\n"
            "<virtual-mta m12>\n smtp-source-host 127.0.0.12 m12.courser.test\n</virtual-mta>\n"
            "<virtual-mta m13>\n smtp-source-host 127.0.0.13 m13.courser.test\n</virtual-mta>\n"
            "<virtual-mta-pool bulk>\n virtual-mta m11 weight=5\n virtual-mta m12 weight=3\n"
            " virtual-mta m13 weight=2\n</virtual-mta-pool>\n"
            "<domain dst.test>\n route [127.0.0.2]:%d\n max-smtp-out 10\n</domain>\n" % sink.port)
        env.write_config(env.base_config(extra, acct_records="d,b",
                                         source_settings="    default-virtual-mta bulk\n"))
        env.start()
        s = env.smtp()
        for i in range(N):
            if i and i % 100 == 0:      # a few sessions, as a sender would
                s.quit()
                s = env.smtp()
            send_on(s, "a@src.test", ["r%d@dst.test" % i],
                    b"Subject: pool %d\r\n\r\nbody %d\r\n" % (i, i))
        s.quit()
        log("%d messages queued" % N)
        wait_for(lambda: sink.count() >= N, 120, "%d messages at the sink" % N, interval=0.5)
        peers = {e["conn"]: e["peer"] for e in sink.events("conn")}
        by_peer = collections.Counter(peers.get(e["conn"]) for e in sink.events("msg"))
        recs = [r for r in env.acct() if r.get("type") == "d"]
        check(len(recs) == N, "%d d records, want %d" % (len(recs), N))
        by_acct = collections.Counter((r["vmta"], r["vmtaPool"], r["dlvSourceIp"]) for r in recs)
        total = sum(WEIGHTS.values())
        for ip, w in WEIGHTS.items():
            want = N * w / total
            got = by_peer.get(ip, 0)
            check(abs(got - want) <= 0.05 * want,
                  "%s: %d messages, want %d ±5%% (all: %s)" % (ip, got, want, dict(by_peer)))
            name = "m" + ip.rsplit(".", 1)[1]
            check(by_acct.get((name, "bulk", ip), 0) == got,
                  "accounting for %s: %s, sink saw %d" % (name, dict(by_acct), got))
        summary("pool 5:3:2 over %d messages: %s" % (N, dict(by_peer)))


if __name__ == "__main__":
    run_test(test)
