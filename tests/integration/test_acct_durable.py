#!/usr/bin/python3
"""test_acct_durable: no accounting record and no DSN is lost when qmgr,
acctd or bounced is killed -9 while records flow.

Every message has one recipient the sink accepts (a `d` record) and one it
refuses with 550 5.1.1 (a `b` record and a BOUNCE to bounced, so a DSN to
the sender).  Part 1, in ROUNDS fresh environments (master gives up on a
daemon after 10 quick crashes): a batch is sent and qmgr is killed -9 just
after the sink took the message, i.e. just after smtp-out's results reach
qmgr, KILLS times per round.  In every other kill acctd and bounced are
SIGSTOPped first and killed -9 right after qmgr, so the records and
BOUNCEs qmgr had sent them die unread with them and only qmgr's journal
still holds them (before the journaled outboxes exactly those were lost);
in the others the kill lands wherever the timing puts it.
Part 2: a stream of messages while acctd and bounced are each killed -9
twice.  Then: every recipient that reached the sink has its `d` record,
every refused one its `b` record, every message its DSN (at least once),
and the spool drains."""

import os
import random
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Env, check, log, summary, wait_for, run_test  # noqa: E402

ROUNDS = int(os.environ.get("DURABLE_ROUNDS", "3"))
KILLS = int(os.environ.get("DURABLE_KILLS", "6"))
BATCH = 4
STREAM = 60


def sig(pid, s):
    try:
        os.kill(pid, s)
    except ProcessLookupError:
        pass


def round_env(n, part2):
    counts = {"msgs": 0, "kills": 0, "stopped_kills": 0}
    with Env("acct_durable%d" % n) as env:
        rules = []
        for i in range(KILLS * BATCH + STREAM + 10):
            rules += ["--rcpt", "gone%d@dest.test=550 5.1.1 no such user" % i]
        dest = env.start_sink("127.0.0.2", name="dest", args=rules)
        sender = env.start_sink("127.0.0.2", name="sender")
        env.write_config(env.base_config(
            "<domain dest.test>\n    route [127.0.0.2]:%d\n    retry-after 2s\n</domain>\n"
            "<domain sender.test>\n    route [127.0.0.2]:%d\n    retry-after 2s\n</domain>\n"
            % (dest.port, sender.port), acct_records="d,b"))
        env.start()
        wait_for(lambda: "bounced" in env.children_names(), 15, "bounced to run")
        qids = {}           # i -> queue id
        seq = [0]

        def send_one():
            i = seq[0]
            seq[0] += 1
            qids[i] = env.send("s%d@sender.test" % i, ["ok%d@dest.test" % i, "gone%d@dest.test" % i],
                               b"Subject: durable %d\r\n\r\nx\r\n" % i)

        for k in range(KILLS):
            before = dest.count()
            stop = k % 2 == 0
            stopped = []
            if stop:
                for d in ("acctd", "bounced"):
                    stopped += env.pids_of(d)
                for p in stopped:
                    sig(p, signal.SIGSTOP)
            try:
                for _ in range(BATCH):
                    send_one()
                wait_for(lambda: dest.count() > before, 30, "the sink to take a message")
                # right after the sink's 250: the results are on their way to
                # qmgr or just applied
                time.sleep(random.uniform(0.0, 0.03) if not stop else 0.3)
                env.kill9("qmgr", wait_restart=30)
                if stop:
                    # what qmgr sent them is unread in their sockets: gone
                    # with them, so only qmgr's journal still has it
                    env.kill9("acctd", wait_restart=30)
                    env.kill9("bounced", wait_restart=30)
            finally:
                for p in stopped:
                    sig(p, signal.SIGCONT)
            counts["kills"] += 1
            counts["stopped_kills"] += 1 if stop else 0

        if part2:
            errors = []

            def stream():
                try:
                    for _ in range(STREAM):
                        send_one()
                        time.sleep(0.02)
                except Exception as e:      # reported below
                    errors.append(e)
            t = threading.Thread(target=stream, daemon=True)
            t.start()
            for d in ("acctd", "bounced", "acctd", "bounced"):
                time.sleep(0.4)
                env.kill9(d, wait_restart=30)
            t.join(120)
            check(not errors, "sending failed: %s" % errors[:1])
            counts["stream_kills"] = 4

        n_msgs = seq[0]
        counts["msgs"] = n_msgs

        def delivered():
            got = set()
            for e in dest.events("msg"):
                got.update(r for r in e["rcpts"] if r.startswith("ok"))
            return got
        wait_for(lambda: len(delivered()) >= n_msgs, 120,
                 lambda: "every ok recipient delivered (%d of %d)" % (len(delivered()), n_msgs))

        def dsn_qids():
            got = set()
            for e, data in sender.messages():
                m = re.search(rb"X-Courser-Queue-ID: ([0-9A-F]+)", data)
                if m:
                    got.add(m.group(1).decode())
            return got

        def missing():
            recs = env.acct()
            d = set(r["rcpt"] for r in recs if r["type"] == "d" and r["rcpt"].startswith("ok"))
            b = set(r["rcpt"] for r in recs if r["type"] == "b" and r["rcpt"].startswith("gone"))
            return (delivered() - d, set("gone%d@dest.test" % i for i in range(n_msgs)) - b,
                    set(qids.values()) - dsn_qids())
        try:
            wait_for(lambda: missing() == (set(), set(), set()), 90, "every record and DSN", interval=1)
        except Exception:
            md, mb, mdsn = missing()
            log("log tail: %s" % env.log_text()[-3000:])
            check(False, "round %d: %d d records, %d b records and %d DSNs missing (of %d messages), "
                  "e.g. %s %s %s" % (n, len(md), len(mb), len(mdsn), n_msgs, sorted(md)[:3],
                                     sorted(mb)[:3], sorted(mdsn)[:3]))
        wait_for(lambda: not env.spool_files(), 60, lambda: "an empty spool (%s)" % env.spool_files()[:5])
        recs = env.acct()
        counts["d"] = len([r for r in recs if r["type"] == "d" and r["rcpt"].startswith("ok")])
        counts["b"] = len([r for r in recs if r["type"] == "b"])
        counts["dsns"] = len(sender.messages())
        log("round %d: %s" % (n, counts))
        return counts


def test():
    tot = {"msgs": 0, "kills": 0, "stopped_kills": 0, "d": 0, "b": 0, "dsns": 0, "stream_kills": 0}
    for n in range(ROUNDS):
        c = round_env(n, part2=(n == ROUNDS - 1))
        for k in tot:
            tot[k] += c.get(k, 0)
    summary("qmgr killed -9 %d times right after results (%d with acctd and bounced stopped), "
            "acctd and bounced killed %d times while records flowed: %d messages, %d d records "
            "(%d duplicates), %d b records, %d DSNs (%d duplicates), none missing"
            % (tot["kills"], tot["stopped_kills"], tot["stream_kills"], tot["msgs"], tot["d"],
               tot["d"] - tot["msgs"], tot["b"], tot["dsns"], tot["dsns"] - tot["msgs"]))


if __name__ == "__main__":
    run_test(test)
