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
#      httpbehaviour.py: gzip and CORS)
#      against the release binary;
#   3. the same suites against the ASan/UBSan binary.
# Prints every part's own report, then one closing line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
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

suites="run.py lifecycle.py entities.py demo.py search.py admin.py accounts.py readers.py httpbehaviour.py"
pairs=""
for bin in ./newsstand build/asan/newsstand; do
    for suite in $suites; do pairs="$pairs $suite:$bin"; done
done
for pair in $pairs; do
    suite=${pair%%:*}
    bin=${pair#*:}
    echo "== end-to-end: $suite against $bin"
    python3 "tests/e2e/$suite" --bin "$bin" >"$log" 2>&1
    rc=$?
    cat "$log"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "end-to-end suite $suite for $bin printed no summary (exit $rc)"
        failed=$((failed + 1))
        continue
    fi
    p=${line%% passed*}
    f=${line#*passed, }
    f=${f%% failed*}
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    passed=$((passed + p))
    failed=$((failed + f))
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
