#!/usr/bin/env bash
# run-unit.sh BIN... - run each cmocka unit test binary, print PASS/FAIL per
# binary and a summary; exit non-zero if any failed.  With SAN=1 in the
# environment, sanitizer findings abort the test (halt_on_error=1).
set -uo pipefail
if [ "${SAN:-}" = 1 ]; then
    export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
fi
timeout_s=${UNIT_TIMEOUT:-120}
pass=0; fail=0; failed=()
if [ $# -eq 0 ]; then
    echo "run-unit: no unit test binaries given" >&2
    exit 0
fi
for t in "$@"; do
    if [ ! -x "$t" ]; then
        echo "FAIL $t (not built)"; fail=$((fail + 1)); failed+=("$t"); continue
    fi
    log=$(mktemp)
    start=$(date +%s.%N)
    timeout -k 5 "$timeout_s" "$t" >"$log" 2>&1
    rc=$?
    secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo 0)")
    if [ $rc -eq 0 ]; then
        echo "PASS $t (${secs}s)"; pass=$((pass + 1))
    else
        [ $rc -eq 124 ] && why="timed out after ${timeout_s}s" || why="exit $rc"
        echo "FAIL $t ($why)"
        sed 's/^/    /' "$log" | tail -40
        fail=$((fail + 1)); failed+=("$t")
    fi
    rm -f "$log"
done
echo "unit tests: $pass passed, $fail failed${failed[*]:+ (${failed[*]})}"
[ $fail -eq 0 ]
