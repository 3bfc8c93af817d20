#!/usr/bin/python3
"""test_vmta_routing: the virtual MTA of a message, end to end (issue 3).

Three vmtas bind 127.0.0.11, .12 and .13; one sink on 127.0.0.2 records
each connection's peer address, so the source IP a message went out from
is what the sink saw, not what Courser says.  Proven here:
  - X-Virtual-MTA: v12 goes out from 127.0.0.12, the header is removed;
  - the source's <pattern-list> (X-Traffic-Type: marketing) picks v13;
  - the listener's named source (second port) picks its default (v13),
    the client's IP source its own (v11);
  - precedence: the header beats the pattern list;
  - an unknown X-Virtual-MTA is refused at DATA with 550 5.7.1;
  - X-Job becomes jobId (header removed), MAIL FROM ENVID= becomes envId;
    accounting has vmta, vmtaPool, queue and dlvSourceIp, and `r` records
    the decision at arrival;
  - by-smtp-source-ip: mail in on 127.0.0.12 leaves from 127.0.0.12, and
    X-Envid (process-x-envid) becomes envId;
  - `mtactl show message` shows a deferred message's routing."""

import os
import smtplib
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Env, check, log, wait_for, run_test, free_port, send_on, summary)  # noqa: E402


def message(token, extra=""):
    return ("From: a@src.test\r\nTo: r@dst.test\r\nSubject: routing %s\r\n%s\r\nbody %s\r\n"
            % (token, extra, token)).encode()


def peer_of(sink, token):
    """The peer address of the connection that delivered token, and the bytes."""
    peers = {e["conn"]: e["peer"] for e in sink.events("conn")}
    for e, data in sink.messages():
        if token.encode() in data:
            return peers.get(e["conn"]), data
    return None, None


def test():
    with Env("vmta_routing") as env:
        sink = env.start_sink("127.0.0.2", name="dst",
                              args=["--rcpt", "later@dst.test=451 4.2.0 try later"])
        port2 = free_port()
        port3 = free_port("127.0.0.12")
        extra = (
            "smtp-listener 127.0.0.1:%d source=bulk\n"
            "smtp-listener 127.0.0.12:%d source=byip\n"
            "<source byip>\n default-virtual-mta by-smtp-source-ip\n process-x-envid yes\n</source>\n"
            "<virtual-mta v11>\n smtp-source-host 127.0.0.11 v11.courser.test\n</virtual-mta>\n"
            "<virtual-mta v12>\n smtp-source-host 127.0.0.12 v12.courser.test\n</virtual-mta>\n"
            "<virtual-mta v13>\n smtp-source-host 127.0.0.13 v13.courser.test\n</virtual-mta>\n"
            "<virtual-mta-pool txn>\n virtual-mta v11\n</virtual-mta-pool>\n"
            "<pattern-list traffic>\n"
            " header X-Traffic-Type /^marketing$/i virtual-mta=v13\n"
            "</pattern-list>\n"
            "<source bulk>\n default-virtual-mta v13\n</source>\n"
            "<domain dst.test>\n route [127.0.0.2]:%d\n</domain>\n" % (port2, port3, sink.port))
        env.write_config(env.base_config(
            extra, acct_records="d,b,t,r", source_settings="    process-x-virtual-mta yes\n    process-x-job yes\n"
                                   "    pattern-list traffic\n    default-virtual-mta txn\n"))
        env.start()

        t = {k: uuid.uuid4().hex for k in ("hdr", "pat", "both", "plain", "port", "job", "byip")}
        env.send("a@src.test", ["r1@dst.test"], message(t["hdr"], "X-Virtual-MTA: v12\r\n"))
        env.send("a@src.test", ["r2@dst.test"], message(t["pat"], "X-Traffic-Type: Marketing\r\n"))
        env.send("a@src.test", ["r3@dst.test"],
                 message(t["both"], "X-Traffic-Type: marketing\r\nX-Virtual-MTA: v12\r\n"))
        env.send("a@src.test", ["r4@dst.test"], message(t["plain"]))
        env.send("a@src.test", ["r6@dst.test"], message(t["job"], "X-Job: spring-42\r\n"),
                 mail_options=["ENVID=env-77"])
        s = smtplib.SMTP("127.0.0.1", port2, timeout=30)
        s.ehlo("client.test")
        send_on(s, "a@src.test", ["r5@dst.test"], message(t["port"]))
        # a client connected to 127.0.0.12 goes out from the vmta with that source
        s3 = smtplib.SMTP("127.0.0.12", port3, timeout=30)
        s3.ehlo("client.test")
        send_on(s3, "a@src.test", ["r8@dst.test"], message(t["byip"], "X-Envid: env-x8\r\n"))
        s3.quit()
        # an unknown vmta in the header is refused at DATA, the session goes on
        s.mail("a@src.test")
        s.rcpt("r7@dst.test")
        s.quit()
        s = env.smtp()
        s.mail("a@src.test")
        s.rcpt("r7@dst.test")
        code, resp = s.data(message("ghost", "X-Virtual-MTA: ghost\r\n"))
        resp = resp.decode(errors="replace")
        check(code == 550 and resp.startswith("5.7.1 Unknown virtual MTA"),
              "unknown vmta: got %d %s" % (code, resp))
        check(s.noop()[0] == 250, "session unusable after the 550")
        s.quit()

        # a deferred message stays queued: mtactl show message explains it
        qid = env.send("a@src.test", ["later@dst.test"],
                       message("later", "X-Virtual-MTA: v12\r\n"))
        wait_for(lambda: any(r["rcpt"] == "later@dst.test" for r in env.acct() if r["type"] == "t"),
                 30, "the deferral of later@dst.test")
        rc, out = env.mtactl("show", "message", qid)
        check(rc == 0 and "'v12' named at injection" in out and "vmta:      v12" in out
              and "queue=dst.test/v12  waiting  attempts=1" in out,
              "show message %s (%d):\n%s" % (qid, rc, out))
        check("vmta=v12 (X-Virtual-MTA header)" in [l for l in env.log_text().splitlines()
                                                     if qid in l and "vmta=" in l][0],
              "smtpd's log line for %s does not give the reason" % qid)

        rcpts = ["r%d@dst.test" % i for i in (1, 2, 3, 4, 5, 6, 8)]
        recs = wait_for(lambda: (lambda d: d if all(r in d for r in rcpts) else None)(
            {r["rcpt"]: r for r in env.acct() if r.get("type") == "d"}), 40,
            "a `d` record for each of %s" % rcpts)
        want = {"hdr": ("r1", "v12", "127.0.0.12"), "pat": ("r2", "v13", "127.0.0.13"),
                "both": ("r3", "v12", "127.0.0.12"), "plain": ("r4", "v11", "127.0.0.11"),
                "port": ("r5", "v13", "127.0.0.13"), "job": ("r6", "v11", "127.0.0.11"),
                "byip": ("r8", "v12", "127.0.0.12")}
        for k, (rc, vmta, ip) in want.items():
            peer, data = peer_of(sink, t[k])
            check(peer == ip, "%s: sink saw peer %s, want %s" % (k, peer, ip))
            rec = recs[rc + "@dst.test"]
            check(rec["vmta"] == vmta and rec["dlvSourceIp"] == ip
                  and rec["queue"] == "dst.test/" + vmta,
                  "%s: accounting vmta=%s dlvSourceIp=%s queue=%s, want %s %s"
                  % (k, rec["vmta"], rec["dlvSourceIp"], rec["queue"], vmta, ip))
            check(b"X-Virtual-MTA" not in data and b"X-Job" not in data and b"X-Envid" not in data,
                  "%s: instruction header delivered:\n%r" % (k, data[:400]))
        check(recs["r4@dst.test"]["vmtaPool"] == "txn", "pool not recorded: %s" % recs["r4@dst.test"])
        check(recs["r1@dst.test"]["vmtaPool"] == "", "vmtaPool set for a plain vmta")
        check(recs["r6@dst.test"]["jobId"] == "spring-42", "jobId: %s" % recs["r6@dst.test"])
        check(recs["r6@dst.test"]["envId"] == "env-77", "envId: %s" % recs["r6@dst.test"])
        check(recs["r8@dst.test"]["envId"] == "env-x8", "X-Envid: %s" % recs["r8@dst.test"])
        check(not any(r["rcpt"] == "r7@dst.test" for r in env.acct()), "the refused message was queued")
        # `r` records: the decision as made at arrival
        recv = {r["rcpt"]: r for r in env.acct() if r.get("type") == "r"}
        check(all(rc in recv for rc in rcpts), "missing r records: %s" % sorted(recv))
        check(recv["r1@dst.test"]["vmta"] == "v12" and recv["r1@dst.test"]["queue"] == "dst.test/v12",
              "r record of r1: %s" % recv["r1@dst.test"])
        check(recv["r4@dst.test"]["vmtaPool"] == "txn" and recv["r6@dst.test"]["jobId"] == "spring-42",
              "r records: %s / %s" % (recv["r4@dst.test"], recv["r6@dst.test"]))
        log_text = env.log_text()
        check("vmta=v12 (X-Virtual-MTA header)" in log_text
              and "(pattern-list traffic, rule at line" in log_text
              and "default-virtual-mta of <source bulk>" in log_text,
              "routing decisions not logged with their reason")
        summary("7 messages routed by header, pattern list, listener, IP source and by-smtp-source-ip; "
                "unknown vmta refused")


if __name__ == "__main__":
    run_test(test)
