"""harness - what every Courser integration test needs: a fresh temp dir,
free loopback ports, a config file, a dnsmasq on loopback, SMTP sinks (ours
and Postfix's smtp-sink), the master in the foreground, helpers to send
mail, read accounting, wait for conditions and kill -9 a daemon, and a
cleanup that always kills (by pid) everything it started.

Runs with Debian's /usr/bin/python3 and the standard library only.  Nothing
here contacts a non-loopback address.
"""

import atexit
import csv
import glob
import io
import json
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("COURSER_BIN", os.path.join(TOP, "bin"))
SINK = os.path.join(TOP, "tests", "tools", "sink.py")
PY = "/usr/bin/python3"
IS_ROOT = os.geteuid() == 0
USER = "courser"

_live = []          # every Env not yet cleaned up (atexit safety net)


class TestFailure(Exception):
    pass


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def log(msg):
    sys.stdout.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stdout.flush()


def summary(msg):
    """A result line the runner shows even when the test passes."""
    sys.stdout.write("= %s\n" % msg)
    sys.stdout.flush()


def free_port(ip="127.0.0.1"):
    """A TCP port free on ip now (bound and released; the kernel does not
    hand it out again at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def free_udp_port(ip="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def random_loopback():
    """A random 127.x.y.z address, so parallel test runs rarely collide."""
    return "127.%d.%d.%d" % (random.randint(1, 254), random.randint(1, 254), random.randint(2, 254))


def wait_for(cond, timeout, what, interval=0.1):
    """Poll cond() until it is truthy; return its value or fail naming what."""
    end = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > end:
            fail("timed out after %ss waiting for %s" % (timeout, what() if callable(what) else what))
        time.sleep(interval)


def ensure_user():
    if not IS_ROOT:
        return
    try:
        import pwd
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", USER], check=False)


def chown_user(path):
    if not IS_ROOT:
        return
    import pwd
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for f in files:
            os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid)


def proc_children(pid):
    """Direct children of pid (from /proc/PID/task/*/children)."""
    kids = []
    for t in glob.glob("/proc/%d/task/*/children" % pid):
        try:
            with open(t) as f:
                kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return kids


def proc_tree(pid):
    out = []
    todo = [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += proc_children(p)
    return out


def proc_name(pid):
    """Program name of pid: basename of argv[0] (comm is truncated to 15)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv0 = f.read().split(b"\0")[0].decode(errors="replace")
        return os.path.basename(argv0)
    except OSError:
        return ""


class Sink:
    """One sink process (tests/tools/sink.py or Postfix smtp-sink)."""

    def __init__(self, env, ip, port, proc, directory, kind):
        self.env, self.ip, self.port, self.proc, self.dir, self.kind = env, ip, port, proc, directory, kind

    @property
    def addr(self):
        return "%s:%d" % (self.ip, self.port)

    def events(self, ev=None):
        out = []
        try:
            with open(os.path.join(self.dir, "events.jsonl")) as f:
                for line in f:
                    if not line.endswith("\n"):
                        break
                    e = json.loads(line)
                    if ev is None or e["ev"] == ev:
                        out.append(e)
        except FileNotFoundError:
            pass
        return out

    def stats(self):
        ev = self.events()
        conns = [e for e in ev if e["ev"] == "conn"]
        msgs = [e for e in ev if e["ev"] == "msg"]
        per_s_m, per_s_c = {}, {}
        for e in msgs:
            per_s_m[int(e["t"])] = per_s_m.get(int(e["t"]), 0) + 1
        for e in conns:
            per_s_c[int(e["t"])] = per_s_c.get(int(e["t"]), 0) + 1
        return {"conns": len(conns), "msgs": len(msgs),
                "max_active": max([e["active"] for e in conns] or [0]),
                "max_msgs_per_s": max(per_s_m.values() or [0]),
                "max_conns_per_s": max(per_s_c.values() or [0]),
                "times": [e["t"] for e in msgs]}

    def messages(self):
        """[(event, bytes)] of every stored message."""
        out = []
        for e in self.events("msg"):
            with open(os.path.join(self.dir, e["file"]), "rb") as f:
                out.append((e, f.read()))
        return out

    def count(self):
        return len(self.events("msg"))

    def stop(self):
        self.env._stop_proc(self.proc)


class Env:
    """One test environment: temp dir, config, processes.  Use as a context
    manager; cleanup() kills everything even when the test fails."""

    def __init__(self, name):
        ensure_user()
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="courser-it-%s-" % name)
        os.chmod(self.dir, 0o755)
        for d in ("spool", "run", "log", "sinks"):
            os.makedirs(os.path.join(self.dir, d), mode=0o755)
        chown_user(os.path.join(self.dir, "log"))
        self.procs = []             # every Popen we started
        self.master = None
        self.conf = os.path.join(self.dir, "courser.conf")
        self.port = free_port("127.0.0.1")
        self.dns_port = None
        self.acct_path = os.path.join(self.dir, "log", "acct.csv")
        self.log_path = os.path.join(self.dir, "log", "courser.log")
        self.keep = os.environ.get("KEEP_TMP") == "1"
        self.failed = False
        _live.append(self)

    # ---- context manager ----
    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is not None:
            self.failed = True
            self.dump_logs()
        self.cleanup()
        return False

    # ---- processes ----
    def spawn(self, argv, name, **kw):
        out = open(os.path.join(self.dir, "%s.out" % name), "ab")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)
        out.close()
        p.tag = name
        self.procs.append(p)
        return p

    def _stop_proc(self, p, sig=signal.SIGTERM, wait=5.0):
        if p.poll() is not None:
            return p.returncode
        try:
            p.send_signal(sig)
        except ProcessLookupError:
            return None
        try:
            return p.wait(wait)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait(5)

    def cleanup(self):
        if self not in _live:
            return
        _live.remove(self)
        # master first (it stops its children), then kill -9 anything left of
        # its tree by pid, then the helpers we started.
        tree = proc_tree(self.master.pid) if self.master and self.master.poll() is None else []
        if self.master:
            self._stop_proc(self.master, wait=10.0)
        for pid in tree[1:]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for p in self.procs:
            if p is not self.master:
                self._stop_proc(p, wait=3.0)
        # any daemon children whose master died earlier (reparented): we
        # recorded their pids while they were alive
        for pid in getattr(self, "_seen_children", set()):
            try:
                if proc_name(pid) in DAEMON_NAMES:
                    os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        san = self.sanitizer_reports()
        if san:
            self.failed = True
        if not self.keep and not self.failed:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            log("kept test dir %s" % self.dir)
        if san:
            raise AssertionError("sanitizer reports in %s:\n%s" % (self.dir, "\n".join(san)))

    def sanitizer_reports(self):
        """ASan/UBSan/LSan findings written by any process of this test
        (daemons under `make san`'s bin-san write them to the log or to the
        master's output): a finding fails the test even if mail flowed."""
        found = []
        paths = glob.glob(os.path.join(self.dir, "*.out")) + glob.glob(os.path.join(self.dir, "log", "*"))
        for path in paths:
            try:
                with open(path, "rb") as f:
                    data = f.read().decode(errors="replace")
            except OSError:
                continue
            for line in data.splitlines():
                if ("ERROR: AddressSanitizer" in line or "ERROR: LeakSanitizer" in line
                        or "runtime error:" in line):
                    found.append("%s: %s" % (os.path.basename(path), line.strip()))
        return found[:20]

    def dump_logs(self, lines=40):
        for path in [self.log_path] + glob.glob(os.path.join(self.dir, "*.out")):
            try:
                with open(path, "rb") as f:
                    data = f.read().decode(errors="replace").splitlines()
            except OSError:
                continue
            if data:
                sys.stdout.write("---- last %d lines of %s ----\n" % (lines, path))
                sys.stdout.write("\n".join(data[-lines:]) + "\n")
        sys.stdout.flush()

    # ---- DNS ----
    def start_dns(self, mx=(), a=()):
        """dnsmasq on 127.0.0.1:<port>.  mx: [(domain, host, pref)],
        a: [(host, ip)].  Everything else is NXDOMAIN (no upstream)."""
        self.dns_port = free_udp_port()
        argv = ["dnsmasq", "--no-daemon", "--keep-in-foreground", "--port=%d" % self.dns_port,
                "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                "--conf-file=/dev/null", "--pid-file=", "--log-facility=-"]
        if IS_ROOT:
            argv.append("--user=root")
        for dom, host, pref in mx:
            argv.append("--mx-host=%s,%s,%d" % (dom, host, pref))
        for host, ip in a:
            argv.append("--host-record=%s,%s" % (host, ip))
        # local=/test/ keeps every *.test name local: unknown names get
        # NXDOMAIN instead of "no upstream" REFUSED
        argv.append("--local=/test/")
        self.spawn(argv, "dnsmasq")
        wait_for(lambda: self._dns_ready(), 10, "dnsmasq to answer")

    def _dns_ready(self):
        # a minimal DNS query for "x.test" A
        q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x04test\x00\x00\x01\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            try:
                s.sendto(q, ("127.0.0.1", self.dns_port))
                d, _ = s.recvfrom(512)
                return d[:2] == b"\x12\x34"
            except OSError:
                return False

    # ---- sinks ----
    def start_sink(self, ip="127.0.0.2", port=None, name=None, args=()):
        port = port or free_port(ip)
        name = name or "sink-%s-%d" % (ip, port)
        d = os.path.join(self.dir, "sinks", name)
        os.makedirs(d, exist_ok=True)
        p = self.spawn([PY, SINK, "--listen", "%s:%d" % (ip, port), "--dir", d] + list(args), name)
        s = Sink(self, ip, port, p, d, "sink.py")
        wait_for(lambda: any(e["ev"] == "listening" for e in s.events()) or p.poll() is not None,
                 10, "sink %s:%d to listen" % (ip, port))
        check(p.poll() is None, "sink %s:%d exited at start (see %s.out)" % (ip, port, name))
        return s

    def start_smtp_sink(self, ip="127.0.0.2", port=None, name=None, extra=()):
        """Postfix's real smtp-sink, dumping each message (-d) into a dir."""
        port = port or free_port(ip)
        name = name or "smtp-sink-%d" % port
        d = os.path.join(self.dir, "sinks", name)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o777)
        argv = ["/usr/sbin/smtp-sink"]
        if IS_ROOT:
            argv += ["-u", "nobody"]
        argv += ["-c", "-d", os.path.join(d, "%H%M%S.")] + list(extra) + ["%s:%d" % (ip, port), "100"]
        p = self.spawn(argv, name)
        wait_for(lambda: port_open(ip, port) or p.poll() is not None, 10, "smtp-sink to listen")
        check(p.poll() is None, "smtp-sink exited at start")
        s = Sink(self, ip, port, p, d, "smtp-sink")
        return s

    # ---- config and master ----
    def base_config(self, extra="", relay_from="127.0.0.1/32", acct_records="d,b,t", source_settings=""):
        dns = "dns-server 127.0.0.1:%d\n" % self.dns_port if self.dns_port else ""
        return ("# written by tests/integration/harness.py\n"
                "spool spool\nrun-dir run\nlog-file log/courser.log\n"
                "host-name courser.test\n"
                "%s"
                "smtp-listener 127.0.0.1:%d\n"
                "smtpd-processes 2\nsmtp-out-processes 2\n"
                "<source %s>\n    always-allow-relaying yes\n%s</source>\n"
                "<acct-file log/acct.csv>\n    records %s\n</acct-file>\n"
                "%s") % (dns, self.port, relay_from, source_settings, acct_records, extra)

    def write_config(self, text):
        with open(self.conf, "w") as f:
            f.write(text)
        os.chmod(self.conf, 0o644)

    def start(self, wait=True, timeout=20):
        check(os.path.exists(os.path.join(BIN, "courser")), "bin/courser is not built")
        self._seen_children = getattr(self, "_seen_children", set())
        self.master = self.spawn([os.path.join(BIN, "courser"), "-c", self.conf, "-f"], "master")
        if wait:
            self.wait_listening(timeout)
            # qmgr, acctd, smtp-out should be up too
            try:
                wait_for(lambda: self._all_daemons_up(), timeout, "every daemon to be running")
            except TestFailure as e:
                fail("%s (master's children: %s)" % (e, self.children()))
        return self.master

    def _all_daemons_up(self):
        names = [n for _, n in self.children()]
        return all(d in names for d in ("smtpd", "qmgr", "smtp-out", "acctd"))

    def children_names(self):
        return [n for _, n in self.children()]

    def wait_listening(self, timeout=20):
        def ok():
            if self.master.poll() is not None:
                fail("master exited with %s before listening" % self.master.returncode)
            return smtp_banner(self.port)
        wait_for(ok, timeout, "SMTP greeting on 127.0.0.1:%d" % self.port, interval=0.2)

    def children(self):
        """[(pid, name)] of master's descendants."""
        if not self.master or self.master.poll() is not None:
            return []
        out = []
        for pid in proc_tree(self.master.pid)[1:]:
            n = proc_name(pid)
            out.append((pid, n))
            self._seen_children.add(pid)
        return out

    def pids_of(self, daemon):
        return [p for p, n in self.children() if n == daemon]

    def kill9(self, daemon, wait_restart=15):
        """kill -9 every process of one daemon; wait for master to restart it."""
        pids = self.pids_of(daemon)
        check(pids, "no %s process to kill (children: %s)" % (daemon, self.children()))
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log("kill -9 %s %s" % (daemon, pids))
        if wait_restart:
            wait_for(lambda: [p for p in self.pids_of(daemon) if p not in pids], wait_restart,
                     "master to restart %s after kill -9" % daemon)
        return pids

    def stop(self, timeout=15):
        """SIGTERM the master; return its exit status."""
        self.master.send_signal(signal.SIGTERM)
        try:
            return self.master.wait(timeout)
        except subprocess.TimeoutExpired:
            fail("master did not exit within %ss of SIGTERM" % timeout)

    def mtactl(self, *args, timeout=20, conf=None):
        p = subprocess.run([os.path.join(BIN, "mtactl"), "-c", conf or self.conf] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        return p.returncode, p.stdout.decode(errors="replace")

    # ---- state ----
    def spool_files(self):
        out = []
        for sub in ("msg", "tmp"):
            for root, _, files in os.walk(os.path.join(self.dir, "spool", sub)):
                out += [os.path.join(root, f) for f in files]
        return out

    def acct(self):
        """Every accounting record (dict by field name) of every CSV under log/."""
        recs = []
        for path in sorted(glob.glob(os.path.join(self.dir, "log", "acct*.csv"))):
            with open(path, newline="", encoding="utf-8", errors="replace") as f:
                data = f.read()
            if not data.endswith("\n"):
                data = data[:data.rfind("\n") + 1]      # a record being written
            rows = list(csv.reader(io.StringIO(data, newline="")))
            if not rows:
                continue
            hdr = rows[0]
            for r in rows[1:]:
                if r:
                    recs.append(dict(zip(hdr, r)))
        return recs

    def acct_header(self):
        for path in sorted(glob.glob(os.path.join(self.dir, "log", "acct*.csv"))):
            with open(path, newline="") as f:
                return next(csv.reader(f), None)
        return None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    # ---- sending ----
    def smtp(self, source=None, timeout=30):
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=timeout,
                         source_address=(source, 0) if source else None)
        s.ehlo("client.test")
        return s

    def send(self, mail_from, rcpts, msg, source=None, mail_options=()):
        """One message in its own session.  Returns the queue id from the 250."""
        s = self.smtp(source)
        try:
            return send_on(s, mail_from, rcpts, msg, mail_options)
        finally:
            try:
                s.quit()
            except Exception:
                pass


DAEMON_NAMES = {"smtpd", "qmgr", "smtp-out", "acctd", "bounced", "dkimsign"}
QUEUED_RE = re.compile(r"queued as ([0-9A-Za-z]+)")


def send_on(s, mail_from, rcpts, msg, mail_options=()):
    """MAIL/RCPT/DATA on an open smtplib session; returns the queue id.
    Raises TestFailure on any unexpected reply."""
    code, resp = s.mail(mail_from, list(mail_options))
    check(code == 250, "MAIL FROM:<%s> got %d %s" % (mail_from, code, resp))
    for r in rcpts:
        code, resp = s.rcpt(r)
        check(code == 250, "RCPT TO:<%s> got %d %s" % (r, code, resp))
    code, resp = s.data(msg)
    text = resp.decode(errors="replace")
    check(code == 250, "DATA got %d %s" % (code, text))
    m = QUEUED_RE.search(text)
    check(m, "250 reply has no 'queued as ID': %r" % text)
    return m.group(1)


def smtp_banner(port, ip="127.0.0.1"):
    try:
        with socket.create_connection((ip, port), timeout=1) as s:
            s.settimeout(2)
            data = s.recv(512)
            try:
                s.sendall(b"QUIT\r\n")
            except OSError:
                pass
            return data.startswith(b"220")
    except OSError:
        return False


def port_open(ip, port):
    try:
        with socket.create_connection((ip, port), timeout=1):
            return True
    except OSError:
        return False


class RawSMTP:
    """A raw SMTP client for protocol tests: send exact bytes, read replies."""

    def __init__(self, port, ip="127.0.0.1", source=None, timeout=15):
        self.sock = socket.create_connection((ip, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """One (possibly multi-line) reply: (code, text) or (None, '') on EOF."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                try:
                    d = self.sock.recv(65536)
                except ConnectionResetError:
                    d = b""
                if not d:
                    return (None, "\n".join(lines))
                self.buf += d
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r").decode(errors="replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                try:
                    return (int(line[:3]), "\n".join(lines))
                except ValueError:
                    return (0, "\n".join(lines))

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed(self, timeout=5):
        """True when the server has closed the connection."""
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(1)
            return d == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def run_test(fn):
    """Entry point of every test file: exit 0 on pass, 1 on failure."""
    t0 = time.time()
    name = os.path.basename(sys.argv[0])
    try:
        fn()
    except TestFailure as e:
        print("FAIL %s: %s (%.1fs)" % (name, e, time.time() - t0))
        sys.exit(1)
    except Exception as e:
        import traceback
        traceback.print_exc()
        print("FAIL %s: %s: %s (%.1fs)" % (name, type(e).__name__, e, time.time() - t0))
        sys.exit(1)
    print("PASS %s (%.1fs)" % (name, time.time() - t0))
    sys.exit(0)


def _cleanup_all():
    for e in list(_live):
        try:
            e.cleanup()
        except Exception:
            pass


atexit.register(_cleanup_all)


def _on_term(sig, frame):
    # the runner's timeout sends SIGTERM: clean up, then exit non-zero
    _cleanup_all()
    os._exit(1)


signal.signal(signal.SIGTERM, _on_term)
