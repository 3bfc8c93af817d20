#!/usr/bin/python3
"""test_relay_denied: only <source 127.0.0.1/32> may relay.  A client
connecting from 127.0.0.5 gets 550 5.7.1 at RCPT for a foreign domain and
nothing is queued or delivered; the same from 127.0.0.1 is accepted."""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Env, RawSMTP, check, log, wait_for, run_test  # noqa: E402


def test():
    with Env("relay_denied") as env:
        sink = env.start_sink("127.0.0.2", name="routed")
        env.write_config(env.base_config(
            "<domain dst.test>\n    route [127.0.0.2]:%d\n</domain>\n" % sink.port,
            relay_from="127.0.0.1/32"))
        env.start()

        # denied: from 127.0.0.5
        c = RawSMTP(env.port, source="127.0.0.5")
        code, text = c.reply()
        check(code == 220, "greeting to 127.0.0.5: %s %s" % (code, text))
        code, text = c.cmd("EHLO outsider.test")
        check(code == 250, "EHLO from 127.0.0.5: %s %s" % (code, text))
        code, text = c.cmd("MAIL FROM:<spammer@outside.test>")
        check(code == 250, "MAIL FROM from 127.0.0.5: %s %s (relay control belongs at RCPT)" % (code, text))
        code, text = c.cmd("RCPT TO:<victim@dst.test>")
        check(code == 550 and "5.7.1" in text,
              "RCPT from a source without relaying got %s %r, want 550 5.7.1" % (code, text))
        code, text = c.cmd("DATA")
        check(code is not None and code >= 500,
              "DATA with no accepted recipient got %s %r, want 5xx (503/554)" % (code, text))
        c.cmd("QUIT")
        c.close()

        # allowed: from 127.0.0.1, to prove the listener relays at all
        token = uuid.uuid4().hex
        qid = env.send("a@src.test", ["ok@dst.test"],
                       ("Subject: %s\r\n\r\nallowed %s\r\n" % (token, token)).encode())
        wait_for(lambda: sink.count() >= 1, 30, "the allowed message at the sink")
        time.sleep(1)
        msgs = sink.messages()
        check(len(msgs) == 1 and token.encode() in msgs[0][1],
              "sink got %d messages, want exactly the allowed one" % len(msgs))
        rc = [r["rcpt"] for r in env.acct()]
        check("victim@dst.test" not in rc, "the denied recipient appears in accounting: %s" % rc)
        log("denied from 127.0.0.5 (550 5.7.1), allowed from 127.0.0.1 (queued as %s)" % qid)


if __name__ == "__main__":
    run_test(test)
