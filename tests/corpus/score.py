#!/usr/bin/python3
"""score.py - measure bounced's classifier on the bounce corpus.

Runs `bin/bounced --classify` over every file in the corpus's emails/ and
`bin/bounced --classify-reply` over every line of replies.tsv, and scores
them the way ../shared/corpus/bounces/README.md says:
  category  right when pmta_category or one of pmta_acceptable ('*' = any),
            for label rows with hard 0 or 1;
  recipient the set of recipients found in a file equals the file's label
            rows (case-insensitive);
  feedback  rows with expected_reason feedback come out as feedback with
            the right feedback_type;
  hard      against `hard` (0/1 rows); status against expected_status
            (rows expecting a Sisimai pseudo-code X.0.9xx are left out:
            no message contains those codes).
Figures are printed per split (dev, holdout), per category and overall.

Usage: score.py [--corpus DIR] [--bounced BIN] [--patterns FILE] [--verbose]
                [--min-category PCT] [--min-recipient PCT] [--min-reply PCT]
                [--min-feedback PCT] [--split dev|holdout|all]
Exit 1 when a --min-* floor (checked on the dev split) is not reached, 77 when
the corpus is absent.
"""
import argparse
import collections
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def unescape(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    head = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        if not line:
            continue
        vals = [unescape(v) for v in line.split("\t")]
        vals += [""] * (len(head) - len(vals))
        rows.append(dict(zip(head, vals)))
    return rows


def cat_ok(got, row):
    acc = [a for a in row.get("pmta_acceptable", "").split("|") if a]
    return "*" in acc or got == row["pmta_category"] or got in acc


def classify_files(bounced, patterns, paths):
    recs = collections.defaultdict(list)
    cmd = [bounced] + (["--patterns", patterns] if patterns else [])
    for i in range(0, len(paths), 100):
        chunk = paths[i:i + 100]
        p = subprocess.run(cmd + ["--classify"] + chunk, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=300)
        if p.returncode != 0:
            sys.stderr.write(p.stderr.decode(errors="replace"))
            raise SystemExit("bounced --classify failed (%d)" % p.returncode)
        for line in p.stdout.decode("utf-8").splitlines():
            r = json.loads(line)
            recs[os.path.basename(r["file"])].append(r)
    return recs


def pct(a, b):
    return 100.0 * a / b if b else 100.0


class Tally:
    def __init__(self):
        self.c = collections.Counter()

    def add(self, key, ok):
        self.c[key + "_n"] += 1
        self.c[key + "_ok"] += 1 if ok else 0

    def get(self, key):
        return self.c[key + "_ok"], self.c[key + "_n"]

    def fmt(self, key):
        ok, n = self.get(key)
        return "%6.1f%% %4d/%-4d" % (pct(ok, n), ok, n) if n else "%17s" % "-"


def score_emails(args, labels, recs, verbose):
    by_file = collections.defaultdict(list)
    for row in labels:
        by_file[row["file"]].append(row)
    tallies = collections.defaultdict(Tally)   # (split, category) and (split, "ALL")
    misses = []
    for f, rows in sorted(by_file.items()):
        split = rows[0]["split"]
        out = recs.get(f, [])
        want = {r["recipient"].lower() for r in rows if r["recipient"]}
        got = {r["recipient"].lower() for r in out if r["recipient"]}
        ok = want == got
        tallies[(split, "ALL")].add("rcpt", ok)
        if not ok:
            misses.append("%s rcpt want=%s got=%s (%s)" % (f, sorted(want), sorted(got), rows[0]["source_set"]))
        for row in rows:
            cat = row["pmta_category"]
            match = [r for r in out if r["recipient"].lower() == row["recipient"].lower()]
            if not match and len(out) == 1:
                match = out
            rec = match[0] if match else None
            keys = [(split, "ALL"), (split, cat)]
            reason = row["expected_reason"]
            if row["hard"] in ("0", "1"):
                c_ok = rec is not None and rec["type"] == "bounce" and cat_ok(rec["category"], row)
                h_ok = rec is not None and rec["hard"] == (row["hard"] == "1")
                for k in keys:
                    tallies[k].add("cat", c_ok)
                    tallies[k].add("hard", h_ok)
                if not c_ok:
                    misses.append("%s cat want=%s(%s|%s) got=%s [%s] diag=%s" % (
                        f, cat, reason, row["pmta_acceptable"], rec and rec["category"],
                        row["source_set"], rec and rec["diag"][:160]))
                if not h_ok:
                    misses.append("%s hard want=%s got=%s (%s %s)" % (
                        f, row["hard"], rec and rec["hard"], reason, rec and rec["category"]))
            # Sisimai's pseudo-codes (X.0.9xx) exist in no message: scored apart
            if row["expected_status"] and ".0.9" not in row["expected_status"]:
                s_ok = rec is not None and rec["status"] == row["expected_status"]
                for k in keys:
                    tallies[k].add("status", s_ok)
            want_type = {"feedback": "feedback", "vacation": "autoreply", "delivered": "delivered",
                         "notbounce": "unknown"}.get(reason, "bounce")
            t_ok = (rec["type"] if rec else (out[0]["type"] if out else "")) == want_type
            for k in keys:
                tallies[k].add("type", t_ok)
            if not t_ok:
                misses.append("%s type want=%s got=%s" % (f, want_type, [r["type"] for r in out]))
            if reason == "feedback":
                fb_ok = bool(out) and all(r["type"] == "feedback" for r in out) and \
                    out[0]["feedback_type"] == row["feedback_type"]
                for k in keys:
                    tallies[k].add("feedback", fb_ok)
    if verbose:
        for m in misses:
            print("MISS " + m)
    return tallies


def score_replies(args, rows):
    tallies = collections.defaultdict(Tally)
    cmd = [args.bounced] + (["--patterns", args.patterns] if args.patterns else [])
    misses = []
    for row in rows:
        p = subprocess.run(cmd + ["--classify-reply", row["reply_text"]], stdout=subprocess.PIPE,
                           timeout=30)
        r = json.loads(p.stdout.decode("utf-8")) if p.returncode == 0 else {}
        if row["hard"] not in ("0", "1"):
            continue
        ok = cat_ok(r.get("category"), row)
        for k in ((row["split"], "ALL"), (row["split"], row["pmta_category"])):
            tallies[k].add("cat", ok)
            tallies[k].add("hard", r.get("hard") == (row["hard"] == "1"))
        if not ok:
            misses.append("reply cat want=%s(%s|%s) got=%s: %s" % (
                row["pmta_category"], row["expected_reason"], row["pmta_acceptable"],
                r.get("category"), row["reply_text"][:150]))
    if args.verbose:
        for m in misses:
            print("MISS " + m)
    return tallies


def print_table(title, tallies, keys):
    splits = sorted({s for s, _ in tallies})
    for split in ("dev", "holdout"):
        if split not in splits:
            print("\n%s, split %s: no rows in this copy of the corpus" % (title, split))
    for split in splits:
        print("\n%s, split %s" % (title, split))
        print("%-20s" % "category" + "".join("%18s" % k for k in keys))
        cats = sorted(c for s, c in tallies if s == split and c != "ALL")
        for c in cats + ["ALL"]:
            t = tallies[(split, c)]
            print("%-20s" % c + "".join(" " + t.fmt(k) for k in keys))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus", "bounces"))
    ap.add_argument("--bounced", default=os.path.join(ROOT, "bin", "bounced"))
    ap.add_argument("--patterns")
    ap.add_argument("--verbose", action="store_true")
    for k in ("category", "recipient", "reply", "feedback"):
        ap.add_argument("--min-" + k, type=float)
    args = ap.parse_args()
    labels_path = os.path.join(args.corpus, "labels.tsv")
    if not os.path.exists(labels_path):
        print("SKIP: bounce corpus not found at %s" % os.path.abspath(args.corpus))
        return 77
    labels = read_tsv(labels_path)
    emails = os.path.join(args.corpus, "emails")
    paths = sorted(os.path.join(emails, f) for f in os.listdir(emails) if f.endswith(".eml"))
    recs = classify_files(args.bounced, args.patterns, paths)
    t = score_emails(args, labels, recs, args.verbose)
    print_table("E-mails (%d files, %d label rows)" % (len(paths), len(labels)), t,
                ["cat", "rcpt", "hard", "status", "type", "feedback"])
    replies = read_tsv(os.path.join(args.corpus, "replies.tsv"))
    rt = score_replies(args, replies)
    print_table("Replies (%d lines)" % len(replies), rt, ["cat", "hard"])

    failed = []
    for name, tal, key, floor in (("category", t, "cat", args.min_category),
                                  ("recipient", t, "rcpt", args.min_recipient),
                                  ("feedback", t, "feedback", args.min_feedback),
                                  ("reply category", rt, "cat", args.min_reply)):
        if floor is None:
            continue
        ok, n = tal[("dev", "ALL")].get(key)
        if pct(ok, n) < floor:
            failed.append("%s %.1f%% < floor %.1f%%" % (name, pct(ok, n), floor))
    for f in failed:
        print("BELOW FLOOR: " + f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
