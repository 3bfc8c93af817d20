#!/usr/bin/python3
"""test_relay_basic: swaks and smtplib relay through Courser to a routed
domain (our sink), a domain found by MX in dnsmasq (our sink on port 25 of
another loopback address) and Postfix's smtp-sink; the bodies arrive intact
(8-bit, lines starting with '.'), accounting has one correct `d` record per
recipient, and the spool is empty afterwards."""

import os
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Env, check, fail, log, wait_for, run_test, random_loopback, free_port)  # noqa: E402

FIELDS = ("type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,"
          "bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,"
          "dlvSize,vmta,vmtaPool,jobId,envId,queue,queueId,totalSecondsQueued").split(",")


def msg(token, body_lines, extra_hdr=b""):
    hdr = (b"From: a@src.test\r\nTo: someone\r\nSubject: relay " + token.encode() +
           b"\r\nMessage-ID: <" + token.encode() + b"@src.test>\r\n" + extra_hdr + b"\r\n")
    return hdr + b"".join(line + b"\r\n" for line in body_lines)


def find(sink, token):
    return [(e, data) for e, data in sink.messages() if token.encode() in data]


def test():
    with Env("relay_basic") as env:
        mx_ip = random_loopback()
        env.start_dns(mx=[("mx.test", "mx1.mx.test", 10)], a=[("mx1.mx.test", mx_ip)])
        routed = env.start_sink("127.0.0.2", name="routed")
        mxsink = env.start_sink(mx_ip, 25, name="mx")
        pf = env.start_smtp_sink("127.0.0.2", name="postfix")
        env.write_config(env.base_config(
            "<domain dst.test>\n    route [127.0.0.2]:%d\n</domain>\n"
            "<domain pf.test>\n    route [127.0.0.2]:%d\n</domain>\n" % (routed.port, pf.port)))
        env.start()

        t1, t2, t3, t4 = (uuid.uuid4().hex for _ in range(4))
        m1 = msg(t1, [b"first line", b".a line starting with a dot", b"..two dots", b".",
                      b"last line"])
        m2 = msg(t2, [b"8-bit: caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac", b"raw latin-1 \xe9\xe8"],
                 b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n")
        m4 = msg(t4, [b"to postfix smtp-sink", b".dot"])
        ids = {}
        ids["alice@dst.test"] = ids["bob@dst.test"] = env.send(
            "a@src.test", ["alice@dst.test", "bob@dst.test"], m1)
        ids["carol@dst.test"] = env.send("a@src.test", ["carol@dst.test"], m2,
                                         mail_options=["BODY=8BITMIME"])
        ids["erin@pf.test"] = env.send("a@src.test", ["erin@pf.test"], m4)
        sw = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % env.port, "--helo", "client.test",
                             "--from", "a@src.test", "--to", "dave@mx.test",
                             "--header", "Subject: swaks " + t3, "--body", "swaks body " + t3],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = sw.stdout.decode(errors="replace")
        check(sw.returncode == 0, "swaks failed (%d):\n%s" % (sw.returncode, out[-1500:]))
        import re
        m = re.search(r"<[-~]\s+250 .*queued as ([0-9A-Za-z]+)", out)
        check(m, "swaks: no '250 ... queued as' in its transcript:\n" + out[-1500:])
        ids["dave@mx.test"] = m.group(1)
        log("queued: %s" % ids)

        rcpts = sorted(ids)
        def delivered():
            d = {r["rcpt"]: r for r in env.acct() if r.get("type") == "d"}
            return d if all(x in d for x in rcpts) else None
        try:
            drecs = wait_for(delivered, 40, "a `d` accounting record for each of %s" % rcpts)
        except Exception:
            log("acct so far: %s" % env.acct())
            raise

        # bodies
        got = find(routed, t1)
        check(got, "routed sink did not receive message 1 (token %s)" % t1)
        seen_rcpts = set()
        for e, data in got:
            check(data.endswith(m1), "message 1 altered in transit:\nsent %r\ngot  %r" % (m1, data))
            seen_rcpts.update(e["rcpts"])
        check(seen_rcpts == {"alice@dst.test", "bob@dst.test"},
              "message 1 reached rcpts %s, want alice and bob" % seen_rcpts)
        got = find(routed, t2)
        check(got, "routed sink did not receive the 8-bit message")
        check(got[0][1].endswith(m2), "8-bit message altered:\nsent %r\ngot  %r" % (m2, got[0][1]))
        got = find(mxsink, t3)
        check(got, "MX sink %s:25 did not receive the swaks message (MX lookup via dnsmasq)" % mx_ip)
        check(got[0][0]["rcpts"] == ["dave@mx.test"], "MX sink rcpts %s" % got[0][0]["rcpts"])
        dumps = []
        for fn in os.listdir(pf.dir):
            with open(os.path.join(pf.dir, fn), "rb") as f:
                dumps.append(f.read())
        pfm = [d for d in dumps if t4.encode() in d]
        check(pfm, "Postfix smtp-sink did not dump the message for erin@pf.test")
        check(m4.replace(b"\r\n", b"\n") in pfm[0].replace(b"\r\n", b"\n"),
              "message altered on the way to smtp-sink:\n%r" % pfm[0])
        check(re.search(rb"X-Rcpt-Args: (TO:)?<erin@pf.test>", pfm[0]), "smtp-sink saw other rcpt: %r" % pfm[0][:400])

        # accounting
        hdr = env.acct_header()
        missing = [f for f in FIELDS if f not in hdr]
        check(not missing, "acct CSV header lacks %s (header: %s)" % (missing, hdr))
        check(hdr[0] == "type", "first acct column is %r, not type" % hdr[0])
        dest = {"dst.test": "127.0.0.2", "pf.test": "127.0.0.2", "mx.test": mx_ip}
        for rcpt, r in drecs.items():
            dom = rcpt.split("@")[1]
            where = "d record of %s: %s" % (rcpt, r)
            check(r["orig"] == "a@src.test", "orig wrong in " + where)
            check(r["dsnStatus"].startswith("2."), "dsnStatus not 2.x.x in " + where)
            check(r["dsnDiag"].lower().startswith("smtp;250"), "dsnDiag not smtp;250... in " + where)
            check(r["dsnAction"] in ("relayed", "delivered"), "dsnAction wrong in " + where)
            check(r["dlvDestinationIp"] == dest[dom], "dlvDestinationIp != %s in %s" % (dest[dom], where))
            check(r["dlvType"] == "smtp" and r["srcType"] == "smtp", "dlvType/srcType in " + where)
            check(r["queue"].startswith(dom + "/"), "queue not %s/VMTA in %s" % (dom, where))
            check(r["queueId"] == ids[rcpt], "queueId != %s in %s" % (ids[rcpt], where))
            check(r["dlvSize"].isdigit() and int(r["dlvSize"]) > 0, "dlvSize in " + where)
            check(r["timeLogged"] and r["timeQueued"], "times empty in " + where)
            check("127.0.0.1" in r["srcMta"], "srcMta lacks client IP in " + where)
        dups = [r for r in env.acct() if r.get("type") == "d"]
        check(len(dups) == len(rcpts), "%d d records for %d recipients" % (len(dups), len(rcpts)))
        wait_for(lambda: not env.spool_files(), 20, lambda: "the spool to be empty (left: %s)" % env.spool_files())
        log("all %d recipients delivered, d records correct, spool empty" % len(rcpts))


if __name__ == "__main__":
    run_test(test)
