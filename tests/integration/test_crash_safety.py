#!/usr/bin/python3
"""test_crash_safety: inject 2,000 messages over 8 parallel sessions while
smtpd, then qmgr, then smtp-out, then acctd, then smtpd again are killed
with SIGKILL (master restarts them).  Sends may fail; every message that got
"250 ... queued as ID" must reach the sink at least once (duplicates
allowed, losses not), the spool must drain, and every accepted queue id must
have a `d` accounting record for its recipient, as must every recipient
that reached the sink at all (also those whose 250 the client never saw):
qmgr journals each record with the recipient's final state and resends
what acctd had not acknowledged, so not one may be missing."""

import os
import smtplib
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Env, check, log, summary, wait_for, run_test, send_on, TestFailure  # noqa: E402

N = int(os.environ.get("CRASH_N", "2000"))
WORKERS = 8
KILLS = [(0.15, "smtpd"), (0.35, "qmgr"), (0.55, "smtp-out"), (0.70, "acctd"), (0.85, "smtpd")]
# then, while the backlog drains (a slowed sink, max-smtp-out 4):
DRAIN_KILLS = ["qmgr", "smtp-out", "qmgr", "acctd"]


def test():
    with Env("crash_safety") as env:
        sink = env.start_sink("127.0.0.2", name="routed", args=["--delay", "dot=0.01"])
        env.write_config(env.base_config(
            "<domain dst.test>\n    route [127.0.0.2]:%d\n    retry-after 2s\n"
            "    retry-recipients-after 2s\n    max-smtp-out 4\n</domain>\n" % sink.port))
        env.start()
        lock = threading.Lock()
        accepted = {}                 # token -> queue id
        failures = []
        next_i = [0]
        errors = []

        def worker(w):
            s = None
            while True:
                with lock:
                    i = next_i[0]
                    next_i[0] += 1
                if i >= N:
                    break
                tok = "%s-%05d" % (uuid.uuid4().hex, i)
                msg = ("Subject: crash %d\r\nMessage-ID: <%s@src.test>\r\n\r\ntoken %s\r\n"
                       % (i, tok, tok)).encode()
                try:
                    if s is None:
                        s = env.smtp(timeout=20)
                    qid = send_on(s, "a@src.test", ["r%d@dst.test" % i], msg)
                    with lock:
                        accepted[tok] = qid
                except (OSError, smtplib.SMTPException, TestFailure) as e:
                    with lock:
                        failures.append("%s: %s" % (i, e))
                    try:
                        if s:
                            s.close()
                    except Exception:
                        pass
                    s = None
                    time.sleep(0.1)
            if s:
                try:
                    s.quit()
                except Exception:
                    pass

        def killer():
            try:
                for frac, daemon in KILLS:
                    while True:
                        with lock:
                            done = len(accepted) + len(failures)
                        if done >= frac * N or not any(t.is_alive() for t in threads):
                            break
                        time.sleep(0.02)
                    env.kill9(daemon, wait_restart=20)
            except Exception as e:
                errors.append(e)

        t0 = time.time()
        threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(WORKERS)]
        for t in threads:
            t.start()
        k = threading.Thread(target=killer, daemon=True)
        k.start()
        for t in threads:
            t.join(600)
        k.join(60)
        inject = time.time() - t0
        log("injected: %d accepted, %d failed sends, in %.1fs" % (len(accepted), len(failures), inject))
        if failures:
            log("first failures: %s" % failures[:5])
        if errors:
            raise errors[0]
        check(len(accepted) >= N // 2, "only %d of %d messages accepted" % (len(accepted), N))
        for daemon in DRAIN_KILLS:
            left = len(accepted) - sink.count()
            if left <= 0:
                break
            log("%d messages still to deliver" % left)
            env.kill9(daemon, wait_restart=20)
            time.sleep(0.7)

        def arrived():
            seen = {}
            for e, data in sink.messages():
                i = data.find(b"token ")
                if i >= 0:
                    tok = data[i + 6:].split(b"\r\n", 1)[0].decode()
                    seen[tok] = seen.get(tok, 0) + 1
            return seen
        def all_in():
            seen = arrived()
            return seen if all(t in seen for t in accepted) else None
        try:
            seen = wait_for(all_in, 240, "every accepted message at the sink", interval=2)
        except TestFailure:
            seen = arrived()
            lost = [(t, accepted[t]) for t in accepted if t not in seen]
            log("LOST %d accepted messages, e.g. %s" % (len(lost), lost[:10]))
            raise TestFailure("%d of %d accepted messages never reached the sink (queue ids e.g. %s); "
                              "spool holds %d files" % (len(lost), len(accepted),
                                                        [q for _, q in lost[:5]], len(env.spool_files())))
        dups = sum(c - 1 for t, c in seen.items() if t in accepted)
        extra = len([t for t in seen if t not in accepted])
        summary("%d sends: %d accepted (250), %d failed; all %d accepted delivered in %.1fs, "
                "%d duplicates, 0 lost; %d unacknowledged sends delivered too"
                % (N, len(accepted), len(failures), len(accepted), time.time() - t0, dups, extra))
        wait_for(lambda: not env.spool_files(), 60,
                 lambda: "the spool to drain (%d files left: %s)" % (len(env.spool_files()),
                                                                    env.spool_files()[:5]), interval=1)
        # every accepted queue id, and every recipient the sink got (the
        # token's number names it), must have its `d` record
        want = set(accepted.values())
        want_rcpts = set("r%d@dst.test" % int(t.rsplit("-", 1)[1]) for t in seen)

        def accounted():
            d = [r for r in env.acct() if r.get("type") == "d"]
            have = set(r.get("queueId") for r in d)
            have_rcpts = set(r.get("rcpt") for r in d)
            return want - have, want_rcpts - have_rcpts
        try:
            wait_for(lambda: accounted() == (set(), set()), 30,
                     "a d record for every accepted and every delivered message", interval=1)
        except TestFailure:
            mq, mr = accounted()
            raise TestFailure("%d of %d accepted messages and %d of %d delivered recipients have no `d` "
                              "accounting record, e.g. %s %s"
                              % (len(mq), len(want), len(mr), len(want_rcpts), sorted(mq)[:5], sorted(mr)[:5]))
        d = [r for r in env.acct() if r.get("type") == "d"]
        check(not [r for r in env.acct() if r.get("type") == "b"], "b records in a run without failures")
        summary("every accepted and every delivered message has a d record (%d d records for %d messages, "
                "%d recipients delivered)" % (len(d), len(want), len(want_rcpts)))


if __name__ == "__main__":
    run_test(test)
