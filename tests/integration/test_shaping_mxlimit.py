#!/usr/bin/python3
"""test_shaping_mxlimit: `mx-connection-limit *.lim.test 2` with three
domains whose MX (dnsmasq on loopback) is the same host, sent through a
pool of two virtual MTAs with their own source IPs: six queues, each
allowed 10 connections.  The sink, which holds every transaction a
moment, never sees more than 2 concurrent connections from one source IP
(4 in all), and every message is delivered."""

import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, log, wait_for, run_test, random_loopback, send_on  # noqa: E402

N = 60
SRC = ["127.0.0.11", "127.0.0.12"]
LIMIT = int(os.environ.get("MXLIMIT", "2"))     # MXLIMIT=1000: for comparison


def concurrency(events):
    """Max concurrent connections per peer, and in all, from conn/close events."""
    peer_of, active, best = {}, collections.Counter(), collections.Counter()
    total = best_total = 0
    for e in events:
        if e["ev"] == "conn":
            peer_of[e["conn"]] = e["peer"]
            active[e["peer"]] += 1
            total += 1
            best[e["peer"]] = max(best[e["peer"]], active[e["peer"]])
            best_total = max(best_total, total)
        elif e["ev"] == "close" and e["conn"] in peer_of:
            active[peer_of[e["conn"]]] -= 1
            total -= 1
    return dict(best), best_total


def test():
    with Env("shaping_mxlimit") as env:
        ip = random_loopback()
        doms = ["l1.test", "l2.test", "l3.test"]
        env.start_dns(mx=[(d, "mx.lim.test", 10) for d in doms], a=[("mx.lim.test", ip)])
        sink = env.start_sink(ip, 25, name="mx", args=["--delay", "dot=0.3"])
        extra = (
            ("mx-connection-limit *.lim.test %d\n" % LIMIT) +
            "<virtual-mta m11>\n smtp-source-host 127.0.0.11 m11.courser.test\n</virtual-mta>\n"
            "<virtual-mta m12>\n smtp-source-host 127.0.0.12 m12.courser.test\n</virtual-mta>\n"
            "<virtual-mta-pool bulk>\n virtual-mta m11\n virtual-mta m12\n</virtual-mta-pool>\n"
            "<domain *>\n max-smtp-out 10\n max-msg-per-connection 3\n</domain>\n")
        env.write_config(env.base_config(extra, acct_records="d,b",
                                         source_settings="    default-virtual-mta bulk\n"))
        env.start()
        t0 = time.time()
        s = env.smtp()
        for i in range(N):
            send_on(s, "a@src.test", ["r%d@%s" % (i, doms[i % 3])], b"Subject: lim %d\r\n\r\nbody\r\n" % i)
        s.quit()
        wait_for(lambda: sink.count() >= N, 120, "%d messages at the sink" % N, interval=0.5)
        took = time.time() - t0
        recs = [r for r in env.acct() if r.get("type") == "d"]
        check(len(recs) == N, "%d d records, want %d" % (len(recs), N))
        per_peer, total = concurrency(sink.events())
        check(set(per_peer) == set(SRC), "connections from %s, want both %s" % (per_peer, SRC))
        for p in SRC:
            check(per_peer.get(p, 0) <= LIMIT, "source %s had %d concurrent connections, limit %d"
                  % (p, per_peer.get(p, 0), LIMIT))
        check(total <= 2 * LIMIT, "%d concurrent connections in all, want <= %d" % (total, 2 * LIMIT))
        st = sink.stats()
        log("mx-connection-limit %d: max concurrent per source IP %s, in all %d; %d connections, "
            "%d messages in %.1fs" % (LIMIT, per_peer, total, st["conns"], st["msgs"], took))
        wait_for(lambda: not env.spool_files(), 30, lambda: "empty spool (left %s)" % env.spool_files())
        summary("mx-connection-limit %d over 6 queues: per source IP max %s" % (LIMIT, per_peer))


if __name__ == "__main__":
    run_test(test)
