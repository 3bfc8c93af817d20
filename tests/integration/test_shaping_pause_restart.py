#!/usr/bin/python3
"""test_shaping_pause_restart: pauses given with mtactl survive qmgr
restarts.  `pause queue p.test`, `hold vmta v2` and `disable source
127.0.0.11 d.test` are given; qmgr is killed with -9 (master restarts it)
and later the whole MTA is stopped and started: nothing of p.test or v2
goes out, d.test leaves only from its other source IP, `show queues`
still says paused; `resume`/`release` then deliver everything once."""

import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, log, wait_for, run_test  # noqa: E402


def msg(i):
    return ("Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)).encode()


def test():
    with Env("shaping_pause_restart") as env:
        sink = env.start_sink("127.0.0.2", name="dst")
        env.write_config(env.base_config(
            "<virtual-mta v1>\n smtp-source-host 127.0.0.11 v1.courser.test\n"
            " smtp-source-host 127.0.0.12 v1b.courser.test\n</virtual-mta>\n"
            "<virtual-mta v2>\n smtp-source-host 127.0.0.13 v2.courser.test\n</virtual-mta>\n"
            "<domain *.test>\n    route [127.0.0.2]:%d\n</domain>\n" % sink.port,
            source_settings="    process-x-virtual-mta yes\n    default-virtual-mta v1\n"))
        env.start()
        for cmd in (("pause", "queue", "p.test"), ("hold", "vmta", "v2"),
                    ("disable", "source", "127.0.0.11", "d.test")):
            rc, out = env.mtactl(*cmd)
            check(rc == 0 and "not saved" not in out, "%s: %s" % (" ".join(cmd), out))
        env.kill9("qmgr")
        time.sleep(1)
        for i in range(3):
            env.send("a@src.test", ["p%d@p.test" % i], msg(i))
            env.send("a@src.test", ["v%d@v2only.test" % i], b"X-Virtual-MTA: v2\r\n" + msg(i))
        for i in range(6):
            env.send("a@src.test", ["d%d@d.test" % i], msg(i))
        wait_for(lambda: sink.count() >= 6, 20, "d.test's 6 messages")
        time.sleep(2)
        check(sink.count() == 6, "paused/held mail went out after the qmgr restart (%d at the sink)"
              % sink.count())
        peers = {e["conn"]: e["peer"] for e in sink.events("conn")}
        src = collections.Counter(peers.get(e["conn"]) for e in sink.events("msg"))
        check(set(src) == {"127.0.0.12"}, "d.test left from %s, 127.0.0.11 is disabled" % dict(src))
        # a full stop and start: still paused
        check(env.stop() == 0, "master did not stop cleanly")
        env.start()
        time.sleep(2)
        check(sink.count() == 6, "paused/held mail went out after a full restart")
        rc, out = env.mtactl("show", "queues")
        log(out.strip())
        check("p.test/v1" in out and "paused by mtactl" in out, "show queues: %s" % out)
        rc, out = env.mtactl("resume", "queue", "p.test")
        check(rc == 0, "resume: %s" % out)
        rc, out = env.mtactl("release", "vmta", "v2")
        check(rc == 0, "release: %s" % out)
        wait_for(lambda: sink.count() >= 12, 20, "all 12 after resume/release")
        wait_for(lambda: not env.spool_files(), 20, lambda: "empty spool (left %s)" % env.spool_files())
        recs = collections.Counter(r["rcpt"] for r in env.acct() if r.get("type") == "d")
        check(len(recs) == 12 and set(recs.values()) == {1}, "each delivered once: %s" % dict(recs))
        v2 = [r for r in env.acct() if r.get("type") == "d" and r["rcpt"].endswith("@v2only.test")]
        check(all(r["vmta"] == "v2" and r["dlvSourceIp"] == "127.0.0.13" for r in v2),
              "v2 mail: %s" % [(r["vmta"], r["dlvSourceIp"]) for r in v2])
        summary("pause queue, hold vmta and disable source survive kill -9 of qmgr and a full "
                "restart; resume/release deliver all 12 once")


if __name__ == "__main__":
    run_test(test)
