#!/usr/bin/python3
"""relay.py - Courser's relay benchmark (shared/BENCH.md): smtp-source ->
Courser on 127.0.0.1 -> Postfix smtp-sink on 127.0.0.2, loopback only.

Scenarios:
  S1  20,000 messages of 5 KB, 20 sessions, one domain
      (smtp-source -s 20 -l 5120 -m 20000 -d -N -f a@src.test -t rcpt@dst.test)
  S2  the same over 100 domains d000.test..d099.test, each routed to its own
      smtp-sink port.  smtp-source takes one recipient address per run, so
      the injector is 100 smtp-source runs (one per domain, -s 1 -d, N/100
      messages each), at most 20 at a time: 20 concurrent sessions, as S1.
  S3  one session, 2,000 messages (acceptance latency)
  S4  backlog: sink down, inject 50,000, then start the sink and time the drain

Per scenario it prints end-to-end msg/s (start of injection to the sink's
last message), the injection rate, MTA CPU ms per message (utime+stime of
master and every child, from /proc/PID/stat sampled through the run),
peak memory (sum of PSS over the process tree, sampled), and for S4 spool
bytes on disk per queued message and the drain rate.

  --quick      S1 with 2,000 messages only (smoke run)
  --runs N     runs per scenario (median reported), default 2
  --scale F    multiply message counts (e.g. 0.1)
  --count-fsync  also count fsync-class system calls per message (strace -c
               on every daemon thread; slows the run, so its rates are not
               comparable; combine with --quick)
  --dkim MODE  sign every message (dkim-sign yes for the From domain
               src.test): rsa (RSA-2048), ed25519, or dual (both); off by
               default
  --dkim-compare MODE
               each run twice, unsigned then signed with MODE, back to back
               (so both see the same machine load); prints both medians and
               the signed/unsigned ratios
Standard library only; run with /usr/bin/python3 as root or a normal user.
"""

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import harness  # noqa: E402
from harness import Env, free_port, wait_for, IS_ROOT, proc_tree  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")
SOURCE = "/usr/sbin/smtp-source"
SINK = "/usr/sbin/smtp-sink"
MESG_RE = re.compile(rb"mesg=(\d+)")


def proc_ticks(pid):
    """utime+stime of pid in clock ticks, or None.  Children are sampled
    on their own (they are long-lived), so cutime/cstime would double-count."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    f = s[s.rfind(")") + 2:].split()
    return int(f[11]) + int(f[12])


def proc_mem(pid):
    """(pss_kb, rss_kb) of pid."""
    pss = rss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


class Meter:
    """Samples CPU ticks and memory of a process tree in a thread."""

    def __init__(self, root_pid, interval=0.25):
        self.root = root_pid
        self.interval = interval
        self.base = {}
        self.last = {}
        self.peak_pss = 0
        self.peak_rss = 0
        self.stop_ev = threading.Event()
        self.sample()
        self.base = dict(self.last)
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def sample(self):
        pss_sum = rss_sum = 0
        for pid in proc_tree(self.root):
            t = proc_ticks(pid)
            if t is not None:
                self.last[pid] = t
            pss, rss = proc_mem(pid)
            pss_sum += pss
            rss_sum += rss
        self.peak_pss = max(self.peak_pss, pss_sum)
        self.peak_rss = max(self.peak_rss, rss_sum)

    def loop(self):
        while not self.stop_ev.wait(self.interval):
            self.sample()

    def start(self):
        self.thread.start()

    def finish(self):
        self.stop_ev.set()
        self.thread.join()
        self.sample()
        ticks = sum(t - self.base.get(pid, 0) for pid, t in self.last.items())
        return ticks / CLK


class PfSink:
    """Postfix smtp-sink with -c; its counter line is parsed from a file."""

    def __init__(self, env, ip, port, name):
        self.out = os.path.join(env.dir, "%s.count" % name)
        argv = [SINK]
        if IS_ROOT:
            argv += ["-u", "nobody"]
        argv += ["-c", "%s:%d" % (ip, port), "1000"]
        fh = open(self.out, "wb")
        self.proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        fh.close()
        self.proc.tag = name
        env.procs.append(self.proc)
        self.fd = os.open(self.out, os.O_RDONLY)
        wait_for(lambda: harness.port_open(ip, port), 10, "smtp-sink on %s:%d" % (ip, port))

    def count(self):
        size = os.fstat(self.fd).st_size
        start = max(0, size - 96)
        data = os.pread(self.fd, size - start, start)
        m = MESG_RE.findall(data)
        return int(m[-1]) if m else 0


def du(path):
    total = 0
    for root, dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total


def spool_count(env):
    return len(env.spool_files())


def mta_config(env, domains, extra="", keys=""):
    """domains: [(name, sink_port)]; keys: domain-key lines (signing on)."""
    sign = "    dkim-sign yes\n" if keys else ""
    blocks = "".join("<domain %s>\n    route [127.0.0.2]:%d\n%s%s</domain>\n" % (d, p, extra, sign)
                     for d, p in domains)
    return env.base_config(keys + blocks, acct_records="d,b")


def dkim_keys(env, mode):
    """Keys for smtp-source's From domain (src.test) -> domain-key lines."""
    if mode in (None, "off"):
        return ""
    kd = os.path.join(env.dir, "keys")
    os.makedirs(kd, mode=0o755, exist_ok=True)
    lines = ""
    for typ, sel in (("rsa", "b2048"), ("ed25519", "bed")):
        if mode != "dual" and mode != typ:
            continue
        path = os.path.join(kd, sel + ".pem")
        subprocess.run([os.path.join(harness.BIN, "dkimsign"), "--keygen", "--domain", "src.test",
                        "--selector", sel, "--type", typ, "--out", path],
                       check=True, stdout=subprocess.DEVNULL)
        lines += "domain-key %s,src.test,%s%s\n" % (sel, path, ",ed25519" if typ == "ed25519" else "")
    return lines


def wait_count(counter, n, timeout, poll=0.005):
    """Wait until counter() >= n; return the time it happened (or None)."""
    end = time.time() + timeout
    while True:
        c = counter()
        if c >= n:
            return time.time()
        if time.time() > end:
            return None
        time.sleep(poll)


def run_scenario(sc, n, args, dkim="off"):
    env = Env("bench-" + sc.lower())
    res = {"scenario": sc, "messages": n, "dkim": dkim}
    try:
        if sc == "S2":
            ndom = 100
            doms = [("d%03d.test" % i, free_port("127.0.0.2")) for i in range(ndom)]
        else:
            doms = [("dst.test", free_port("127.0.0.2"))]
        extra = "    retry-after 5s\n    retry-recipients-after 5s\n" if sc == "S4" else ""
        env.write_config(mta_config(env, doms, extra, dkim_keys(env, dkim)))
        sinks = []
        if sc != "S4":
            sinks = [PfSink(env, "127.0.0.2", p, "sink-%s" % d) for d, p in doms]
        env.start(timeout=30)
        time.sleep(0.5)
        strace = None
        if args.count_fsync:
            strace = start_strace(env)
        meter = Meter(env.master.pid)
        meter.start()
        counter = lambda: sum(s.count() for s in sinks)
        src = [SOURCE, "-l", "5120", "-d", "-N", "-f", "a@src.test"]
        target = "127.0.0.1:%d" % env.port
        t0 = time.time()
        if sc in ("S1", "S4"):
            p = subprocess.run(src + ["-s", "20", "-m", str(n), "-t", "rcpt@dst.test", target],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            check_source(p)
        elif sc == "S3":
            p = subprocess.run(src + ["-s", "1", "-m", str(n), "-t", "rcpt@dst.test", target],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            check_source(p)
        elif sc == "S2":
            per = n // len(doms)
            res["messages"] = n = per * len(doms)
            todo = list(doms)
            running = []
            while todo or running:
                while todo and len(running) < 20:
                    d, _ = todo.pop(0)
                    running.append(subprocess.Popen(
                        src + ["-s", "1", "-m", str(per), "-t", "rcpt@" + d, target],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
                for q in list(running):
                    if q.poll() is not None:
                        running.remove(q)
                        out = q.stdout.read()
                        if q.returncode != 0:
                            raise RuntimeError("smtp-source failed: %s" % out.decode(errors="replace")[-500:])
                time.sleep(0.01)
        t_inj = time.time()
        res["inject_s"] = t_inj - t0
        res["inject_rate"] = n / (t_inj - t0)
        if sc == "S3":
            res["accept_ms"] = 1000.0 * (t_inj - t0) / n
        if sc == "S4":
            # let the last messages settle into the queue, measure the spool
            time.sleep(1)
            q = spool_count(env)
            res["queued"] = q
            res["spool_bytes_per_msg"] = du(os.path.join(env.dir, "spool")) / max(q, 1)
            t_sink = time.time()
            sinks = [PfSink(env, "127.0.0.2", p, "sink-%s" % d) for d, p in doms]
            first = wait_count(counter, 1, 60)
            t_end = wait_count(counter, n, args.timeout)
            got = counter()
            res["drain_from_sink_start_rate"] = got / ((t_end or time.time()) - t_sink)
            if first:
                res["drain_rate"] = got / ((t_end or time.time()) - first)
        else:
            t_end = wait_count(counter, n, args.timeout)
        got = counter()
        cpu = meter.finish()
        if strace:
            res["fsyncs_per_msg"] = stop_strace(strace) / max(got, 1)
        res["delivered"] = got
        res["complete"] = t_end is not None
        end = t_end or time.time()
        res["e2e_rate"] = got / (end - t0)
        res["cpu_ms_per_msg"] = 1000.0 * cpu / max(got, 1)
        res["cpu_s_per_1000"] = cpu / max(got, 1) * 1000
        res["peak_pss_mb"] = meter.peak_pss / 1024.0
        res["peak_rss_mb"] = meter.peak_rss / 1024.0
        # the sink has everything; give qmgr a moment to remove the files
        t_drain = time.time()
        while spool_count(env) and time.time() - t_drain < 10:
            time.sleep(0.2)
        res["spool_left"] = spool_count(env)
        if dkim != "off":
            # Every message must really have been signed: smtp-out counts
            # them in its last log line.
            env.stop()
            log = env.log_text()
            res["dkim_signed"] = sum(int(x) for x in re.findall(r"stopped: DKIM: (\d+) messages signed", log))
            res["dkim_deferred"] = len(re.findall(r"DKIM signing failed, deferring", log))
        if not res["complete"]:
            print("  WARNING: %s delivered %d of %d within %ss" % (sc, got, n, args.timeout))
            env.failed = True
            env.dump_logs(15)
    finally:
        env.cleanup()
    return res


SYNC_CALLS = ("fsync", "fdatasync", "sync_file_range", "syncfs", "msync")


def start_strace(env):
    """strace -c on every thread of every Courser daemon (one strace per
    daemon program), counting the calls that force data to disk.  It slows
    the daemons down: the rates of a run with --count-fsync are not
    comparable."""
    by_name = {}
    for pid in proc_tree(env.master.pid)[1:]:
        by_name.setdefault(harness.proc_name(pid), []).extend(
            int(t) for t in os.listdir("/proc/%d/task" % pid))
    st = []
    for name, tids in sorted(by_name.items()):
        out = os.path.join(env.dir, "strace-%s.txt" % name)
        argv = ["strace", "-f", "-c", "-o", out, "-e", "trace=" + ",".join(SYNC_CALLS)]
        for t in tids:
            argv += ["-p", str(t)]
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        env.procs.append(p)
        st.append((name, p, out))
    time.sleep(1.0)             # let them attach
    return st


def stop_strace(st):
    """Total fsync-class calls; prints the split by daemon and call."""
    total = 0
    detail = []
    for name, p, out in st:
        p.send_signal(signal.SIGINT)
        p.wait(20)
        with open(out) as f:
            for line in f:
                parts = line.split()
                if parts and parts[-1] in SYNC_CALLS:
                    # % time, seconds, usecs/call, calls, [errors,] syscall
                    total += int(parts[3])
                    detail.append("%s %s=%s" % (name, parts[-1], parts[3]))
    print("  fsync-class calls: " + ", ".join(detail))
    return total


def check_source(p):
    if p.returncode != 0:
        raise RuntimeError("smtp-source exited %d: %s" % (p.returncode, p.stdout.decode(errors="replace")[-800:]))


def fmt(r):
    s = ("[dkim %s] " % r["dkim"] if r.get("dkim", "off") != "off" else "")
    s += "%s n=%d delivered=%d e2e %.0f msg/s, injection %.0f msg/s, CPU %.2f ms/msg, peak PSS %.1f MB (RSS %.1f MB)" % (
        r["scenario"], r["messages"], r["delivered"], r["e2e_rate"], r["inject_rate"],
        r["cpu_ms_per_msg"], r["peak_pss_mb"], r["peak_rss_mb"])
    if "dkim_signed" in r:
        s += ", %d signed, %d DKIM deferrals" % (r["dkim_signed"], r["dkim_deferred"])
    if "fsyncs_per_msg" in r:
        s += ", %.2f fsync-class calls/msg (under strace: rates not comparable)" % r["fsyncs_per_msg"]
    if "accept_ms" in r:
        s += ", mean accept %.2f ms/msg" % r["accept_ms"]
    if "spool_bytes_per_msg" in r:
        s += ", spool %.0f B/queued msg (%d queued), drain %.0f msg/s (%.0f from sink start)" % (
            r["spool_bytes_per_msg"], r["queued"], r.get("drain_rate", 0), r["drain_from_sink_start_rate"])
    if not r["complete"]:
        s += "  [INCOMPLETE]"
    if r["spool_left"]:
        s += " (spool files left at the end: %d)" % r["spool_left"]
    return s


def main():
    ap = argparse.ArgumentParser(description="Courser relay benchmark (BENCH.md)")
    ap.add_argument("--quick", action="store_true", help="S1 with 2,000 messages, one run")
    ap.add_argument("--scenarios", default="S1,S2,S3", help="comma list of S1,S2,S3,S4")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--count-fsync", action="store_true",
                    help="count fsync/fdatasync/... calls per message with strace (slows the run)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the sink")
    ap.add_argument("--dkim", default="off", choices=["off", "rsa", "ed25519", "dual"],
                    help="sign every message with this key set")
    ap.add_argument("--dkim-compare", default=None, choices=["rsa", "ed25519", "dual"],
                    help="each run unsigned and signed, back to back; print the ratios")
    args = ap.parse_args()
    counts = {"S1": 20000, "S2": 20000, "S3": 2000, "S4": 50000}
    if args.quick:
        scen, args.runs, counts["S1"] = ["S1"], 1, 2000
    else:
        scen = [s.strip().upper() for s in args.scenarios.split(",") if s.strip()]
    harness.ensure_user()
    print("Courser relay benchmark, %s, %d CPUs, runs=%d" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                                           os.cpu_count(), args.runs))
    if "S2" in scen:
        print("note: S2 injector = 100 smtp-source runs (one per domain, -s 1 -d), 20 at a time")
    summary = []
    modes = ["off", args.dkim_compare] if args.dkim_compare else [args.dkim]
    for sc in scen:
        n = max(100, int(counts[sc] * args.scale))
        runs = {m: [] for m in modes}
        for i in range(args.runs):
            for mode in modes:      # interleaved: both see the same load
                r = run_scenario(sc, n, args, mode)
                print("  run %d: %s" % (i + 1, fmt(r)))
                sys.stdout.flush()
                runs[mode].append(r)
        for mode in modes:
            med = dict(runs[mode][0])
            for k in ("e2e_rate", "inject_rate", "cpu_ms_per_msg", "cpu_s_per_1000", "peak_pss_mb",
                      "peak_rss_mb", "accept_ms", "spool_bytes_per_msg", "drain_rate",
                      "drain_from_sink_start_rate"):
                vals = [r[k] for r in runs[mode] if k in r]
                if vals:
                    med[k] = statistics.median(vals)
            med["complete"] = all(r["complete"] for r in runs[mode])
            summary.append(med)
    print("== medians ==")
    for m in summary:
        print(fmt(m))
    if args.dkim_compare:
        print("== signed (%s) / unsigned, same invocation ==" % args.dkim_compare)
        for off, on in zip(summary[0::2], summary[1::2]):
            print("%s: e2e rate x%.2f, CPU per message x%.2f (%.2f -> %.2f ms/msg)" % (
                off["scenario"], on["e2e_rate"] / off["e2e_rate"],
                on["cpu_ms_per_msg"] / off["cpu_ms_per_msg"], off["cpu_ms_per_msg"],
                on["cpu_ms_per_msg"]))
    return 0 if all(m["complete"] for m in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
