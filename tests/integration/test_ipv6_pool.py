#!/usr/bin/python3
"""test_ipv6_pool: an IPv6 pool end to end (issue 3).  The pool `ipv6` has
one member whose smtp-source-host is ::1; a message naming the pool in
X-Virtual-MTA is delivered over IPv6 to a sink on [::1] (the sink sees the
peer ::1) while a message of the IPv4 default vmta (127.0.0.11) reaches an
IPv4 sink; accounting has vmta, vmtaPool and dlvSourceIp for both."""

import os
import socket
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Env, PY, SINK, Sink, check, wait_for, run_test, summary  # noqa: E402


def free_port6():
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def test():
    with Env("ipv6_pool") as env:
        port6 = free_port6()
        d = os.path.join(env.dir, "sinks", "v6")
        os.makedirs(d, exist_ok=True)
        p = env.spawn([PY, SINK, "--listen", "[::1]:%d" % port6, "--dir", d], "sink-v6")
        sink6 = Sink(env, "::1", port6, p, d, "sink.py")
        wait_for(lambda: any(e["ev"] == "listening" for e in sink6.events()) or p.poll() is not None,
                 10, "the IPv6 sink to listen")
        check(p.poll() is None, "IPv6 sink exited at start")
        sink4 = env.start_sink("127.0.0.2", name="v4")
        extra = (
            "<virtual-mta v4>\n smtp-source-host 127.0.0.11 v4.courser.test\n</virtual-mta>\n"
            "<virtual-mta v6>\n smtp-source-host ::1 v6.courser.test\n</virtual-mta>\n"
            "<virtual-mta-pool ipv6>\n virtual-mta v6\n <domain *>\n  max-smtp-out 2\n </domain>\n"
            "</virtual-mta-pool>\n"
            "<domain six.test>\n route [::1]:%d\n</domain>\n"
            "<domain four.test>\n route [127.0.0.2]:%d\n</domain>\n" % (port6, sink4.port))
        env.write_config(env.base_config(
            extra, source_settings="    process-x-virtual-mta yes\n    default-virtual-mta v4\n"))
        env.start()
        t6, t4 = uuid.uuid4().hex, uuid.uuid4().hex
        env.send("a@src.test", ["r@six.test"],
                 ("X-Virtual-MTA: ipv6\r\nSubject: %s\r\n\r\n%s\r\n" % (t6, t6)).encode())
        env.send("a@src.test", ["r@four.test"], ("Subject: %s\r\n\r\n%s\r\n" % (t4, t4)).encode())
        recs = wait_for(lambda: (lambda d: d if len(d) == 2 else None)(
            {r["rcpt"]: r for r in env.acct() if r.get("type") == "d"}), 40, "both delivered")
        r6, r4 = recs["r@six.test"], recs["r@four.test"]
        check(r6["vmta"] == "v6" and r6["vmtaPool"] == "ipv6" and r6["dlvSourceIp"] == "::1"
              and r6["queue"] == "six.test/v6", "IPv6 record: %s" % r6)
        check(r4["vmta"] == "v4" and r4["dlvSourceIp"] == "127.0.0.11", "IPv4 record: %s" % r4)
        peers6 = [e["peer"] for e in sink6.events("conn")]
        peers4 = [e["peer"] for e in sink4.events("conn")]
        check(peers6 == ["::1"], "IPv6 sink peers: %s" % peers6)
        check(peers4 == ["127.0.0.11"], "IPv4 sink peers: %s" % peers4)
        check(any(t6.encode() in data for _, data in sink6.messages()), "IPv6 sink lacks the message")
        summary("pool ipv6 delivered from ::1 over IPv6; v4 from 127.0.0.11")


if __name__ == "__main__":
    run_test(test)
