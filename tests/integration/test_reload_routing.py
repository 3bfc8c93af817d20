#!/usr/bin/python3
"""test_reload_routing: reload under load, and a bad file on reload.

1. 1,000 messages are queued with default-virtual-mta r11 (127.0.0.11);
   the sink answers each '.' after 50 ms and the queue allows 5
   connections (100 messages/s), so most of them are still queued or in
   flight when `mtactl reload` switches the default to r12 (127.0.0.12);
   300 more are queued after.
   Nothing is lost or duplicated (1,301 distinct messages at the sink, one
   `d` record each, an empty spool), every message accepted before the
   reload went out from .11 and every one after from .12; an SMTP session
   opened before the reload survives it; no daemon was restarted.
2. A broken file: `mtactl check-config` names its file:line, `mtactl
   reload` and SIGHUP refuse it with that line, the log says the running
   configuration is kept, and new mail still routes by the old (r12)."""

import collections
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Env, check, log, wait_for, run_test, send_on, summary)  # noqa: E402

BEFORE = 1000     # queued before the reload
AFTER = 300       # after it


def config(env, sink, default):
    extra = (
        "<virtual-mta r11>\n smtp-source-host 127.0.0.11 r11.courser.test\n</virtual-mta>\n"
        "<virtual-mta r12>\n smtp-source-host 127.0.0.12 r12.courser.test\n</virtual-mta>\n"
        "<domain dst.test>\n route [127.0.0.2]:%d\n max-smtp-out 5\n</domain>\n" % sink.port)
    return env.base_config(extra, acct_records="d,b",
                           source_settings="    default-virtual-mta %s\n" % default)


def send_batch(env, tag, n):
    s = env.smtp()
    for i in range(n):
        send_on(s, "a@src.test", ["%s%d@dst.test" % (tag, i)],
                b"Subject: %s %d\r\n\r\ntoken %s-%d\r\n" % (tag.encode(), i, tag.encode(), i))
    s.quit()


def peers_by_tag(sink):
    peers = {e["conn"]: e["peer"] for e in sink.events("conn")}
    out = collections.defaultdict(collections.Counter)
    for e in sink.events("msg"):
        for r in e["rcpts"]:
            out[r.split("@")[0].rstrip("0123456789")][peers.get(e["conn"])] += 1
    return out


def test():
    with Env("reload_routing") as env:
        sink = env.start_sink("127.0.0.2", name="dst", args=["--delay", "dot=0.05"])
        env.write_config(config(env, sink, "r11"))
        env.start()
        pids = sorted(p for p, _ in env.children())
        early = env.smtp()                  # a session that lives across the reload

        send_batch(env, "a", BEFORE)
        at_reload = sink.count()
        env.write_config(config(env, sink, "r12"))
        rc, out = env.mtactl("reload")
        check(rc == 0 and "reloaded" in out, "mtactl reload failed (%d): %s" % (rc, out))
        check(at_reload < BEFORE // 2, "only %d of %d were still queued at the reload: not under load"
              % (BEFORE - at_reload, BEFORE))
        log("reload with %d of %d messages still queued or in flight" % (BEFORE - at_reload, BEFORE))
        # 2 smtpd + qmgr + 2 smtp-out
        wait_for(lambda: env.log_text().count("configuration reloaded") >= 5, 10,
                 "smtpd, qmgr and smtp-out to reload")
        send_batch(env, "b", AFTER)
        send_on(early, "a@src.test", ["early0@dst.test"], b"Subject: early\r\n\r\nearly\r\n")
        early.quit()

        total = BEFORE + AFTER + 1
        wait_for(lambda: sink.count() >= total, 180, "every message at the sink", interval=0.5)
        got = peers_by_tag(sink)
        check(got["a"] == collections.Counter({"127.0.0.11": BEFORE}),
              "messages accepted before the reload: %s" % dict(got["a"]))
        check(got["b"] == collections.Counter({"127.0.0.12": AFTER}),
              "messages accepted after the reload: %s" % dict(got["b"]))
        # the early session started under the old config: its message too
        check(got["early"] == collections.Counter({"127.0.0.11": 1}),
              "message of the pre-reload session: %s" % dict(got["early"]))
        rcpts = [r for e in sink.events("msg") for r in e["rcpts"]]
        check(len(rcpts) == len(set(rcpts)) == total, "duplicates or losses: %d rcpts, %d distinct"
              % (len(rcpts), len(set(rcpts))))
        wait_for(lambda: len([r for r in env.acct() if r.get("type") == "d"]) == total, 30,
                 "one d record per message")
        wait_for(lambda: not env.spool_files(), 30, "an empty spool")
        check(sorted(p for p, _ in env.children()) == pids, "a daemon was restarted by the reload")

        # 2. a broken file is refused; the old configuration keeps running
        good = open(env.conf).read()
        reloads = env.log_text().count("configuration reloaded")
        env.write_config(good + "<domain broken.test>\n  max-smtp-out 3\n")
        bad_line = good.count("\n") + 1
        want = "%s:%d: <domain> block not closed" % (env.conf, bad_line)
        rc, out = env.mtactl("check-config", env.conf)
        check(rc == 1 and want in out, "check-config: %d %s (want %s)" % (rc, out, want))
        rc, out = env.mtactl("reload")
        check(rc != 0 and want in out and "the running configuration is kept" in out,
              "reload of a bad file: %d %s" % (rc, out))
        env.master.send_signal(signal.SIGHUP)
        wait_for(lambda: env.log_text().count("%s; keeping the running configuration" % want) >= 2,
                 10, "master's refusals (mtactl, SIGHUP) in the log")
        check(env.log_text().count("configuration reloaded") == reloads,
              "a daemon took the bad file")
        n = sink.count()
        send_batch(env, "c", 3)
        wait_for(lambda: sink.count() >= n + 3, 30, "mail after the refused reload")
        check(peers_by_tag(sink)["c"] == collections.Counter({"127.0.0.12": 3}),
              "after the refused reload: %s" % dict(peers_by_tag(sink)["c"]))
        rc, out = env.mtactl("status")
        check(rc == 0, "status after the refused reload: %s" % out)
        summary("reload with %d in flight: %d from .11, %d from .12, none lost; bad file refused at line %d"
                % (BEFORE - at_reload, BEFORE + 1, AFTER, bad_line))


if __name__ == "__main__":
    run_test(test)
