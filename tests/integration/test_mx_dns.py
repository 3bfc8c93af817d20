#!/usr/bin/python3
"""test_mx_dns: delivery by DNS (dnsmasq on loopback, `dns-server`):
the next MX is tried when the best one refuses connections (RST) or closes
them at once; a domain with only an A record is delivered to that address
(RFC 5321 5.1 implicit MX); a null MX (RFC 7505) bounces with 5.1.10 and a
domain that does not exist bounces with 5.1.2 (bounceCat bad-domain)."""

import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import summary, Env, check, log, wait_for, run_test, random_loopback  # noqa: E402


def test():
    with Env("mx_dns") as env:
        ip_ok, ip_dead, ip_close, ip_a = (random_loopback() for _ in range(4))
        env.start_dns(
            mx=[("fb1.test", "mxdead.fb.test", 10), ("fb1.test", "mxok.fb.test", 20),
                ("fb2.test", "mxclose.fb.test", 10), ("fb2.test", "mxok.fb.test", 20),
                ("nullmx.test", ".", 0)],
            a=[("mxok.fb.test", ip_ok), ("mxdead.fb.test", ip_dead), ("mxclose.fb.test", ip_close),
               ("aonly.test", ip_a)])
        ok = env.start_sink(ip_ok, 25, name="mxok")
        closer = env.start_sink(ip_close, 25, name="mxclose", args=["--refuse"])
        aonly = env.start_sink(ip_a, 25, name="aonly")
        dsn = env.start_sink("127.0.0.2", name="dsn")
        env.write_config(env.base_config(
            "<domain src.test>\n    route [127.0.0.2]:%d\n</domain>\n"
            "<domain *>\n    retry-after 5s\n    connect-timeout 5s\n</domain>\n" % dsn.port))
        env.start()
        rcpts = {"a@fb1.test": ip_ok, "b@fb2.test": ip_ok, "c@aonly.test": ip_a}
        toks = {}
        for r in list(rcpts) + ["d@nullmx.test", "e@nx.test"]:
            toks[r] = uuid.uuid4().hex
            env.send("a@src.test", [r], ("Subject: %s\r\n\r\n%s\r\n" % (toks[r], toks[r])).encode())

        def final():
            recs = {r["rcpt"]: r for r in env.acct() if r.get("type") in ("d", "b")}
            return recs if len(recs) >= 5 else None
        recs = wait_for(final, 60, lambda: "a final (d or b) record for all 5 recipients; have %s"
                        % [(r.get("type"), r.get("rcpt"), r.get("dsnStatus")) for r in env.acct()])
        for r, ip in rcpts.items():
            x = recs[r]
            check(x["type"] == "d", "%s not delivered: %s" % (r, x))
            check(x["dlvDestinationIp"] == ip, "%s delivered to %s, want %s" % (r, x["dlvDestinationIp"], ip))
        check(any(toks["a@fb1.test"].encode() in d for _, d in ok.messages()), "fb1 message not at mxok")
        check(any(toks["b@fb2.test"].encode() in d for _, d in ok.messages()), "fb2 message not at mxok")
        check(closer.stats()["conns"] >= 1, "the closing best MX of fb2.test was never tried")
        check(any(toks["c@aonly.test"].encode() in d for _, d in aonly.messages()),
              "A-only domain's message not at its A address")
        n = recs["d@nullmx.test"]
        check(n["type"] == "b" and n["dsnStatus"].startswith("5.1.10"),
              "null MX: want b with 5.1.10, got %s" % n)
        x = recs["e@nx.test"]
        check(x["type"] == "b" and x["dsnStatus"].startswith("5.1.2"),
              "nonexistent domain: want b with 5.1.2, got %s" % x)
        check(x["bounceCat"] == "bad-domain", "nonexistent domain bounceCat %r, want bad-domain" % x["bounceCat"])
        wait_for(lambda: not env.spool_files(), 30, lambda: "empty spool (left %s)" % env.spool_files())
        summary("MX fallback after RST and after close, implicit MX (A only), null MX 5.1.10, NXDOMAIN 5.1.2")


if __name__ == "__main__":
    run_test(test)
