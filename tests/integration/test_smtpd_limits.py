#!/usr/bin/python3
"""test_smtpd_limits: smtpd enforces its <source> limits and speaks ESMTP
pipelining correctly: max-message-size (552, declared and undeclared),
max-rcpt-per-message (452), bare LF in DATA (5xx, nothing delivered), an
overlong command line (500), max-errors-per-session (421 and close), and
pipelined commands sent in one packet answered in order."""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, RawSMTP, check, log, wait_for, run_test  # noqa: E402

MAX_ERRORS = 3


def session(env):
    c = RawSMTP(env.port)
    code, text = c.reply()
    check(code == 220, "greeting: %s %r" % (code, text))
    code, ehlo = c.cmd("EHLO client.test")
    check(code == 250, "EHLO: %s %r" % (code, ehlo))
    return c, ehlo


def replies(c, n):
    return [c.reply() for _ in range(n)]


def body(token, size=0):
    b = "Subject: %s\r\nMessage-ID: <%s@src.test>\r\n\r\n%s\r\n" % (token, token, token)
    while len(b) < size:
        b += "x" * 70 + "\r\n"
    return b


def test():
    with Env("smtpd_limits") as env:
        sink = env.start_sink("127.0.0.2", name="routed")
        env.write_config(env.base_config(
            "<domain dst.test>\n    route [127.0.0.2]:%d\n</domain>\n" % sink.port,
            source_settings="    max-message-size 10k\n    max-rcpt-per-message 3\n"
            "    max-errors-per-session %d\n" % MAX_ERRORS))
        env.start()
        tok = {k: uuid.uuid4().hex for k in ("pipe", "rcpt", "size", "bigbody", "barelf")}

        # 1. pipelining: one packet, replies in order
        c, ehlo = session(env)
        check("PIPELINING" in ehlo.upper(), "EHLO does not offer PIPELINING: %r" % ehlo)
        c.send("MAIL FROM:<a@src.test>\r\nRCPT TO:<p1@dst.test>\r\nRCPT TO:<p2@dst.test>\r\nDATA\r\n")
        got = [r[0] for r in replies(c, 4)]
        check(got == [250, 250, 250, 354], "pipelined MAIL,RCPT,RCPT,DATA answered %s" % got)
        c.send(body(tok["pipe"]) + ".\r\nNOOP\r\nRSET\r\nNOOP\r\nQUIT\r\n")
        got = replies(c, 5)
        check([r[0] for r in got] == [250, 250, 250, 250, 221],
              "pipelined '.',NOOP,RSET,NOOP,QUIT answered %s" % got)
        check("queued as" in got[0][1], "250 after DATA lacks 'queued as': %r" % got[0][1])
        c.close()

        # 2. size limit: declared, then undeclared
        c, ehlo = session(env)
        check("SIZE" in ehlo.upper(), "EHLO does not offer SIZE: %r" % ehlo)
        code, text = c.cmd("MAIL FROM:<a@src.test> SIZE=20000")
        check(code == 552, "MAIL with SIZE=20000 over a 10k limit got %s %r, want 552" % (code, text))
        code, text = c.cmd("MAIL FROM:<a@src.test>")
        check(code == 250, "MAIL after a 552: %s %r" % (code, text))
        code, text = c.cmd("RCPT TO:<big@dst.test>")
        check(code == 250, "RCPT: %s %r" % (code, text))
        code, text = c.cmd("DATA")
        check(code == 354, "DATA: %s %r" % (code, text))
        c.send(body(tok["bigbody"], 20000) + ".\r\n")
        code, text = c.reply()
        check(code == 552, "a 20 KB message over a 10k limit got %s %r after '.', want 552" % (code, text))
        c.cmd("QUIT")
        c.close()

        # 3. too many recipients
        c, _ = session(env)
        check(c.cmd("MAIL FROM:<a@src.test>")[0] == 250, "MAIL refused")
        for i in range(1, 4):
            code, text = c.cmd("RCPT TO:<r%d@dst.test>" % i)
            check(code == 250, "RCPT %d of 3 allowed: %s %r" % (i, code, text))
        code, text = c.cmd("RCPT TO:<r4@dst.test>")
        check(code == 452, "RCPT 4 over max-rcpt-per-message 3 got %s %r, want 452" % (code, text))
        check(c.cmd("DATA")[0] == 354, "DATA after 452 refused")
        c.send(body(tok["rcpt"]) + ".\r\n")
        code, text = c.reply()
        check(code == 250, "message with 3 recipients got %s %r" % (code, text))
        c.cmd("QUIT")
        c.close()

        # 4. bare LF in DATA
        c, _ = session(env)
        check(c.cmd("MAIL FROM:<a@src.test>")[0] == 250, "MAIL refused")
        check(c.cmd("RCPT TO:<lf@dst.test>")[0] == 250, "RCPT refused")
        check(c.cmd("DATA")[0] == 354, "DATA refused")
        c.send("Subject: %s\r\n\r\nline one\nline two %s\r\n.\r\n" % (tok["barelf"], tok["barelf"]))
        code, text = c.reply()
        check(code is not None and 500 <= code < 600,
              "a message with a bare LF got %s %r, want 5xx" % (code, text))
        c.close()

        # 5. overlong command line
        c, _ = session(env)
        code, text = c.cmd("NOOP " + "x" * 2000)
        check(code == 500, "a 2005-byte command line got %s %r, want 500" % (code, text))
        c.close()

        # 6. errors per session: 421 and close
        c, _ = session(env)
        codes = []
        for i in range(MAX_ERRORS + 2):
            try:
                code, text = c.cmd("BOGUS%d" % i)
            except OSError:
                code, text = None, ""
            codes.append(code)
            if code == 421 or code is None:
                break
        check(421 in codes, "after %d bad commands (max-errors-per-session %d) replies were %s, "
              "want a 421" % (len(codes), MAX_ERRORS, codes))
        check(len(codes) <= MAX_ERRORS + 1, "421 came only after %d errors: %s" % (len(codes), codes))
        check(c.closed(), "connection still open after 421")
        c.close()

        # deliveries: the pipelined message and the 3-recipient one; no other
        def both():
            m = sink.messages()
            have = lambda t: [e for e, d in m if t.encode() in d]
            return m if have(tok["pipe"]) and sum(len(e["rcpts"]) for e in have(tok["rcpt"])) >= 3 else None
        wait_for(both, 30, lambda: "the pipelined and 3-recipient messages at the sink (have %s)"
                 % [(e["rcpts"]) for e, _ in sink.messages()])
        time.sleep(2)
        msgs = sink.messages()
        for k in ("size", "bigbody", "barelf"):
            bad = [e for e, d in msgs if tok[k].encode() in d]
            check(not bad, "the rejected %s message was delivered anyway: %s" % (k, bad))
        rr = sorted(r for e, d in msgs if tok["rcpt"].encode() in d for r in e["rcpts"])
        check(rr == ["r1@dst.test", "r2@dst.test", "r3@dst.test"], "3-rcpt message went to %s" % rr)
        summary("limits enforced: 552 x2, 452, bare LF 5xx, 500 long line, 421 after errors, pipelining ok")


if __name__ == "__main__":
    run_test(test)
