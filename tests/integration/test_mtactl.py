#!/usr/bin/python3
"""test_mtactl: `status` and `show queues` answer; `check-config` accepts a
good file and names file:line of a bad one; `reload` with a broken file
reports the file:line error and Courser keeps running on the old config;
`reload` with a good file applies it (a new route starts working)."""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Env, check, log, wait_for, run_test, free_port  # noqa: E402


def test():
    with Env("mtactl") as env:
        sink = env.start_sink("127.0.0.2", name="routed")
        sink2 = env.start_sink("127.0.0.2", name="routed2")
        dead = free_port("127.0.0.3")
        good = env.base_config(
            "<domain dst.test>\n    route [127.0.0.2]:%d\n</domain>\n"
            "<domain dead.test>\n    route [127.0.0.3]:%d\n    retry-after 10m\n</domain>\n"
            % (sink.port, dead))
        env.write_config(good)
        env.start()

        rc, out = env.mtactl("check-config")
        check(rc == 0, "check-config of a good file: rc %d: %s" % (rc, out))
        rc, out = env.mtactl("status")
        check(rc == 0 and out.strip(), "status: rc %d, output %r" % (rc, out))
        log("status:\n" + out.rstrip())

        env.send("a@src.test", ["x@dead.test"], b"Subject: stuck\r\n\r\nstuck\r\n")
        env.send("a@src.test", ["y@dst.test"], b"Subject: ok\r\n\r\nok\r\n")
        wait_for(lambda: sink.count() >= 1, 30, "the first message at the sink")
        def queues():
            rc, out = env.mtactl("show", "queues")
            return (rc, out) if rc == 0 and "dead.test" in out else None
        rc, out = wait_for(queues, 15, lambda: "`show queues` to list dead.test (last: %r)"
                           % (env.mtactl("show", "queues"),))
        log("show queues:\n" + out.rstrip())

        # broken file: an error on a known line
        lines = good.splitlines()
        bad_line = len(lines) + 2
        broken = good + "<domain bad.test>\n    max-smtp-out banana\n</domain>\n"
        env.write_config(broken)
        want = "courser.conf:%d" % bad_line
        rc, out = env.mtactl("check-config")
        check(rc != 0, "check-config of a broken file returned 0: %r" % out)
        check(want in out, "check-config error does not name %s: %r" % (want, out))
        check("max-smtp-out" in out, "check-config error does not name the directive: %r" % out)
        rc, out = env.mtactl("reload")
        check(rc != 0, "reload of a broken file returned 0: %r" % out)
        check(want in out, "reload error does not name %s: %r" % (want, out))
        time.sleep(1)
        check(env.master.poll() is None, "master exited after a bad reload")
        # mtactl itself reads -c FILE (for run-dir), and that file is broken
        # now: ask through an identical good copy beside it
        good_copy = os.path.join(env.dir, "good.conf")
        with open(good_copy, "w") as f:
            f.write(good)
        rc, out2 = env.mtactl("status", conf=good_copy)
        check(rc == 0, "status (via a good copy of the config) after a bad reload: rc %d %r" % (rc, out2))
        tok = uuid.uuid4().hex
        env.send("a@src.test", ["z@dst.test"], ("Subject: %s\r\n\r\n%s\r\n" % (tok, tok)).encode())
        wait_for(lambda: any(tok.encode() in d for _, d in sink.messages()), 30,
                 "delivery on the old config after a bad reload")
        log("bad reload refused: %s" % out.strip())

        # good reload applies: new domain routed to sink2
        env.write_config(good + "<domain new.test>\n    route [127.0.0.2]:%d\n</domain>\n" % sink2.port)
        rc, out = env.mtactl("reload")
        check(rc == 0, "reload of a good file: rc %d %r" % (rc, out))
        time.sleep(1.5)
        tok = uuid.uuid4().hex
        env.send("a@src.test", ["n@new.test"], ("Subject: %s\r\n\r\n%s\r\n" % (tok, tok)).encode())
        wait_for(lambda: any(tok.encode() in d for _, d in sink2.messages()), 30,
                 "mail to new.test (added by reload) at its sink")
        check(env.master.poll() is None, "master died")
        log("reload applied a new route")


if __name__ == "__main__":
    run_test(test)
