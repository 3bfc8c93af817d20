#!/usr/bin/env bash
# run-integration.sh [TEST...] - run every tests/integration/test_*.py (or
# the named ones) with Debian's python3 and a per-test timeout; print
# PASS/FAIL per test (with the test's output on failure) and a summary;
# exit non-zero if any test failed.
#   IT_TIMEOUT=seconds   per-test timeout (default 300; crash/retry tests 420)
#   KEEP_TMP=1           keep every test's temp dir (failed ones are always kept)
#   VERBOSE=1            show every test's output, not only failures' and results
#   COURSER_BIN=DIR      test the programs in DIR (e.g. bin-san from `make san`)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
py=/usr/bin/python3
[ -x "$py" ] || { echo "run-integration: $py not found (Debian's python3 is required)" >&2; exit 1; }
export COURSER_BIN=${COURSER_BIN:-$top/bin}
for b in courser smtpd qmgr smtp-out acctd bounced dkimsign mtactl; do
    [ -x "$COURSER_BIN/$b" ] || { echo "run-integration: $COURSER_BIN/$b is missing; run make first" >&2; exit 1; }
done
if [ "$(id -u)" -eq 0 ]; then
    # master drops the daemons to this user when started as root
    scripts/ensure-user.sh courser || exit 1
    scripts/ensure-user.sh courser-dkim || exit 1
fi
if [ $# -gt 0 ]; then
    tests=()
    for t in "$@"; do
        case $t in */*) tests+=("$t") ;; *) tests+=("tests/integration/${t%.py}.py") ;; esac
    done
else
    tests=(tests/integration/test_*.py)
fi
logdir=$(mktemp -d /tmp/courser-it-logs-XXXXXX)
pass=0; fail=0; failed=()
t_all=$(date +%s)
for t in "${tests[@]}"; do
    name=$(basename "$t" .py)
    case $name in
        test_crash_safety|test_retry_bounce) limit=${IT_TIMEOUT:-420} ;;
        *) limit=${IT_TIMEOUT:-300} ;;
    esac
    start=$(date +%s)
    timeout -k 15 "$limit" "$py" "$t" >"$logdir/$name.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    if [ $rc -eq 0 ]; then
        echo "PASS $name (${secs}s)"; pass=$((pass + 1))
        # result lines a test prints with harness.summary(), or all with VERBOSE=1
        if [ "${VERBOSE:-}" = 1 ]; then sed 's/^/    /' "$logdir/$name.log"
        else grep '^= ' "$logdir/$name.log" | sed 's/^= /    /'; fi
    else
        [ $rc -eq 124 ] && why="timed out after ${limit}s" || why="exit $rc"
        echo "FAIL $name ($why, ${secs}s)"
        sed 's/^/    /' "$logdir/$name.log" | tail -60
        fail=$((fail + 1)); failed+=("$name")
    fi
done
echo "integration tests: $pass passed, $fail failed${failed[*]:+ (${failed[*]})} in $(( $(date +%s) - t_all ))s; logs in $logdir"
[ $fail -eq 0 ]
