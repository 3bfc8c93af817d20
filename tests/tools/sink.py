#!/usr/bin/python3
"""sink.py - a scriptable SMTP sink for Courser's integration tests.

Listens on one loopback address, speaks ESMTP (EHLO, PIPELINING, 8BITMIME,
SIZE, ENHANCEDSTATUSCODES), stores every accepted message in --dir and
appends one JSON line per event to --dir/events.jsonl so that a test can
count messages, connections, concurrent connections and arrival times
without talking to this process.  Only the standard library is used.

The replies follow a script given on the command line:
  --greeting "554 5.3.2 go away"     greeting reply (a 5xx/4xx closes)
  --refuse                          accept TCP, then close at once
  --accept-first N --fail-count M --fail-reply "421 4.7.0 later"
      --fail-stage greeting|mail|rcpt|data|dot
                                    N transactions pass, the next M get
                                    fail-reply at that stage, then pass
                                    (a 421 reply closes the connection);
                                    at greeting N and M count connections
  --rcpt "ADDR=CODE TEXT[@TIMES]"   reply for one recipient, repeatable;
                                    @TIMES: only the first TIMES attempts,
                                    then accept (e.g. 451 once, then 250)
  --delay STAGE=SECONDS             wait before replying at greeting, ehlo,
                                    mail, rcpt, data, dot (repeatable)
  --disconnect-in-data N            drop the connection in the middle of
                                    the DATA of the first N transactions
Events: {"ev":"conn"|"close"|"msg"|"reply", "t":epoch, ...}; a "msg" event
has "file", "from", "rcpts", "size", "conn" (connection number); a "conn"
event has "active" (connections open now, this one included).  At exit a
"stats" event gives conns, msgs, max_active and the most messages and
connections that arrived within one calendar second (max_msgs_per_s,
max_conns_per_s), so a test can check limits without its own arithmetic.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time


class State:
    """What all connections share: counters and the script's progress."""

    def __init__(self, args):
        self.args = args
        self.conns = 0
        self.active = 0
        self.max_active = 0
        self.msgs = 0
        self.per_s_msgs = {}        # int(epoch second) -> messages
        self.per_s_conns = {}
        self.transactions = 0       # MAIL commands seen (for accept-first)
        self.rcpt_seen = {}         # address -> attempts so far
        self.data_drops = 0
        self.rcpt_rules = {}
        for rule in args.rcpt:
            addr, _, rest = rule.partition("=")
            times = None
            if "@" in rest.rsplit(" ", 1)[-1] and rest.rsplit("@", 1)[-1].isdigit():
                rest, _, t = rest.rpartition("@")
                times = int(t)
            self.rcpt_rules[addr.strip().lower()] = (rest.strip(), times)
        self.delays = {}
        for d in args.delay:
            stage, _, secs = d.partition("=")
            self.delays[stage.strip().lower()] = float(secs)
        os.makedirs(args.dir, exist_ok=True)
        self.events = open(os.path.join(args.dir, "events.jsonl"), "a", buffering=1)

    def event(self, ev, **kw):
        kw["ev"] = ev
        kw["t"] = time.time()
        self.events.write(json.dumps(kw) + "\n")


def fail_here(st, stage, txn_no):
    """The scripted failure reply for this transaction and stage, or None."""
    a = st.args
    if a.fail_count <= 0 or a.fail_stage != stage:
        return None
    if a.accept_first < txn_no <= a.accept_first + a.fail_count:
        return a.fail_reply
    return None


async def delay(st, stage):
    secs = st.delays.get(stage)
    if secs:
        await asyncio.sleep(secs)


async def session(st, reader, writer):
    st.conns += 1
    conn_no = st.conns
    sec = int(time.time())
    st.per_s_conns[sec] = st.per_s_conns.get(sec, 0) + 1
    st.active += 1
    st.max_active = max(st.max_active, st.active)
    peer = writer.get_extra_info("peername")
    st.event("conn", conn=conn_no, peer=peer[0] if peer else "", active=st.active)
    try:
        await converse(st, reader, writer, conn_no)
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
            asyncio.TimeoutError):
        pass
    finally:
        st.active -= 1
        st.event("close", conn=conn_no)
        try:
            writer.close()
        except Exception:
            pass


async def reply(st, writer, line, conn_no):
    st.event("reply", conn=conn_no, line=line)
    writer.write(line.encode() + b"\r\n")
    await writer.drain()


async def converse(st, reader, writer, conn_no):
    a = st.args
    if a.refuse:
        return
    await delay(st, "greeting")
    f = fail_here(st, "greeting", conn_no)
    if f:
        await reply(st, writer, f, conn_no)
        return
    await reply(st, writer, a.greeting, conn_no)
    if not a.greeting.startswith("2"):
        return
    mail_from = None
    rcpts = []
    txn_no = 0
    while True:
        line = await asyncio.wait_for(reader.readline(), a.timeout)
        if not line:
            return
        cmd = line.rstrip(b"\r\n").decode("latin-1")
        verb = cmd.split(" ", 1)[0].upper()
        if verb == "EHLO":
            await delay(st, "ehlo")
            writer.write(b"250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                         b"250-SIZE 104857600\r\n250-ENHANCEDSTATUSCODES\r\n"
                         b"250 SMTPUTF8\r\n")
            await writer.drain()
        elif verb == "HELO":
            await reply(st, writer, "250 sink.test", conn_no)
        elif verb == "MAIL":
            st.transactions += 1
            txn_no = st.transactions
            await delay(st, "mail")
            f = fail_here(st, "mail", txn_no)
            if f:
                await reply(st, writer, f, conn_no)
                if f.startswith("421"):
                    return
                continue
            # the reverse path without "FROM:", its <> and any parameters
            arg = cmd[5:].strip()
            arg = arg[5:].strip() if arg.upper().startswith("FROM:") else arg
            mail_from = arg.split(" ", 1)[0].strip("<>")
            rcpts = []
            await reply(st, writer, "250 2.1.0 Ok", conn_no)
        elif verb == "RCPT":
            await delay(st, "rcpt")
            arg = cmd[5:].strip()
            addr = arg[3:].strip() if arg.upper().startswith("TO:") else arg
            addr = addr.split(" ", 1)[0].strip("<>").lower()
            f = fail_here(st, "rcpt", txn_no)
            if f:
                await reply(st, writer, f, conn_no)
                if f.startswith("421"):
                    return
                continue
            rule = st.rcpt_rules.get(addr)
            n = st.rcpt_seen.get(addr, 0) + 1
            st.rcpt_seen[addr] = n
            if rule and (rule[1] is None or n <= rule[1]):
                await reply(st, writer, rule[0], conn_no)
                st.event("rcpt_rejected", conn=conn_no, rcpt=addr, reply=rule[0])
                if rule[0].startswith("421"):
                    return
                continue
            if mail_from is None:
                await reply(st, writer, "503 5.5.1 MAIL first", conn_no)
                continue
            rcpts.append(addr)
            await reply(st, writer, "250 2.1.5 Ok", conn_no)
        elif verb == "DATA":
            await delay(st, "data")
            if mail_from is None or not rcpts:
                await reply(st, writer, "554 5.5.1 no valid recipients", conn_no)
                continue
            f = fail_here(st, "data", txn_no)
            if f:
                await reply(st, writer, f, conn_no)
                if f.startswith("421"):
                    return
                continue
            await reply(st, writer, "354 End data with <CR><LF>.<CR><LF>", conn_no)
            chunks = []
            size = 0
            drop = st.data_drops < a.disconnect_in_data
            while True:
                dl = await asyncio.wait_for(reader.readline(), a.timeout)
                if not dl:
                    return
                if dl == b".\r\n" or dl == b".\n":
                    break
                if dl.startswith(b"."):
                    dl = dl[1:]
                chunks.append(dl)
                size += len(dl)
                if drop and size > 0:
                    st.data_drops += 1
                    st.event("data_drop", conn=conn_no)
                    return
            await delay(st, "dot")
            f = fail_here(st, "dot", txn_no)
            if f:
                await reply(st, writer, f, conn_no)
                mail_from, rcpts = None, []
                if f.startswith("421"):
                    return
                continue
            st.msgs += 1
            sec = int(time.time())
            st.per_s_msgs[sec] = st.per_s_msgs.get(sec, 0) + 1
            name = "msg-%06d.eml" % st.msgs
            if not a.no_store:
                with open(os.path.join(a.dir, name), "wb") as fh:
                    fh.write(b"".join(chunks))
            st.event("msg", conn=conn_no, file=name, size=size, rcpts=rcpts,
                     **{"from": mail_from})
            await reply(st, writer, "250 2.0.0 Ok: queued as S%06d" % st.msgs, conn_no)
            mail_from, rcpts = None, []
        elif verb == "RSET":
            mail_from, rcpts = None, []
            await reply(st, writer, "250 2.0.0 Ok", conn_no)
        elif verb == "NOOP":
            await reply(st, writer, "250 2.0.0 Ok", conn_no)
        elif verb == "QUIT":
            await reply(st, writer, "221 2.0.0 Bye", conn_no)
            return
        else:
            await reply(st, writer, "502 5.5.2 Error: command not recognized", conn_no)


async def main_async(args):
    st = State(args)
    host, _, port = args.listen.rpartition(":")
    host = host.strip("[]")         # "[::1]:PORT"
    server = await asyncio.start_server(lambda r, w: session(st, r, w), host, int(port),
                                        backlog=512, reuse_address=True, limit=1 << 20)
    st.event("listening", addr=args.listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    st.event("stats", conns=st.conns, max_active=st.max_active, msgs=st.msgs,
             max_msgs_per_s=max(st.per_s_msgs.values() or [0]),
             max_conns_per_s=max(st.per_s_conns.values() or [0]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", required=True, help="IP:PORT (loopback only)")
    p.add_argument("--dir", required=True)
    p.add_argument("--greeting", default="220 sink.test ESMTP test sink")
    p.add_argument("--refuse", action="store_true")
    p.add_argument("--accept-first", type=int, default=0)
    p.add_argument("--fail-count", type=int, default=0)
    p.add_argument("--fail-reply", default="421 4.7.0 Try again later")
    p.add_argument("--fail-stage", default="mail", choices=["greeting", "mail", "rcpt", "data", "dot"])
    p.add_argument("--rcpt", action="append", default=[])
    p.add_argument("--delay", action="append", default=[])
    p.add_argument("--disconnect-in-data", type=int, default=0)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--no-store", action="store_true", help="count only, do not write messages")
    args = p.parse_args()
    if not args.listen.startswith("127.") and not args.listen.startswith("[::1]"):
        sys.exit("sink: refusing to listen outside loopback: " + args.listen)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
