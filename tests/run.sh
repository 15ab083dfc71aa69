#!/bin/sh
# run.sh UNIT_TEST_BINARY... - the whole suite, as `make test` runs it:
#   1. the C unit tests (built with ASan/UBSan), each a cmocka program, and
#      the fuzz corpus replays (tests/fuzz/replay.c: every file of
#      tests/fuzz/corpus/NAME through harness NAME, counted like a unit test);
#   2. the end-to-end suites (tests/e2e/run.py: the HTTP API; lifecycle.py:
#      command line, migrations, graceful stop; entities.py: linking, entities
#      and topics; demo.py: the demo corpus make run serves; search.py: q;
#      admin.py: API keys and every write route; accounts.py: readers,
#      paywall, follows, feed, shelves, ownership; readers.py: every reader
#      route with two readers, a member, a lapsed trial and anonymous;
#      httpbehaviour.py: gzip and CORS; security.py: slow clients, smuggling,
#      the OWASP API Top 10, SQL injection; faults.py: a locked, read-only or
#      full database; crash.py: SIGKILL while ingesting, 6 kills)
#      against the release binary;
#   3. the same suites against the ASan/UBSan binary;
#   4. tests/ops/check.sh: Dockerfile, compose file, systemd unit, man page;
#   5. the OpenAPI document (src/api/openapi.json): Redocly's linter with
#      tests/openapi/redocly.yaml, then the suites that test the API (not HTTP
#      mechanics) once more against the release binary through Prism, a proxy
#      that checks every request and answer against the document
#      (NEWSSTAND_E2E_PROXY=1, see tests/e2e/harness.py); the tools are the
#      ones tests/openapi/package-lock.json pins (make test installs them).
# Prints every part's own report, then one closing line "N passed, N failed"
# (", N skipped" after it when the proxy pass skipped tests Prism cannot carry).
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# A sanitizer report must fail the run, not just print.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

for t in "$@"; do
    echo "== unit: $t"
    "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "unit test program $t exited with $rc"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done

# run_suite SUITE BINARY [proxy]: one end-to-end suite, its report added to the totals
run_suite() {
    if [ "${3:-}" = proxy ]; then
        echo "== end-to-end: $1 against $2 through the OpenAPI validating proxy"
        NEWSSTAND_E2E_PROXY=1 python3 "tests/e2e/$1" --bin "$2" >"$log" 2>&1
    else
        echo "== end-to-end: $1 against $2"
        python3 "tests/e2e/$1" --bin "$2" >"$log" 2>&1
    fi
    rc=$?
    cat "$log"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "end-to-end suite $1 for $2 printed no summary (exit $rc)"
        failed=$((failed + 1))
        return
    fi
    p=${line%% passed*}
    f=${line#*passed, }
    f=${f%% failed*}
    s=0
    case $line in *skipped) s=${line##*failed, }; s=${s%% skipped} ;; esac
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
}

suites="run.py lifecycle.py entities.py demo.py search.py admin.py accounts.py readers.py httpbehaviour.py security.py faults.py crash.py"
for bin in ./newsstand build/asan/newsstand; do
    for suite in $suites; do run_suite "$suite" "$bin"; done
done

echo "== operations files: tests/ops/check.sh"
sh tests/ops/check.sh --bin ./newsstand >"$log" 2>&1
rc=$?
cat "$log"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
if [ -z "$line" ]; then
    echo "tests/ops/check.sh printed no summary (exit $rc)"
    failed=$((failed + 1))
else
    p=${line%% passed*}
    f=${line#*passed, }
    f=${f%% failed*}
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    passed=$((passed + p))
    failed=$((failed + f))
fi

echo "== openapi: redocly lint src/api/openapi.json"
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true tests/openapi/node_modules/.bin/redocly lint \
    --config tests/openapi/redocly.yaml src/api/openapi.json >"$log" 2>&1
rc=$?
cat "$log"
if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
else
    echo "FAIL openapi lint (exit $rc; the tools come with make test, or npm ci in tests/openapi)"
    failed=$((failed + 1))
fi

# The suites that test what the API answers; lifecycle, demo and httpbehaviour
# test the command line and HTTP mechanics (keep-alive, gzip, HEAD, limits).
for suite in run.py entities.py search.py admin.py accounts.py readers.py; do
    run_suite "$suite" ./newsstand proxy
done

# The closing line is always exactly "N passed, N failed"; skips are said just before it.
if [ "$skipped" -gt 0 ]; then
    echo "$skipped tests skipped in the proxy pass only (see SKIP lines above; they ran in the plain passes)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
