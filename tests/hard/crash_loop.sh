#!/bin/sh
# crash_loop.sh - the long crash-safety and fault runs of `make check-hard`:
#   1. tests/e2e/crash.py: CRASH_ITERATIONS (200) SIGKILLs of the release
#      server while it ingests and serves, then CRASH_ASAN_ITERATIONS (50) of
#      the ASan/UBSan server, each followed by a restart and the checks that
#      nothing acknowledged is lost and nothing is half there;
#   2. tests/e2e/faults.py, FAULT_ROUNDS (3) times against each server: a
#      locked database, a read-only file, a full disk;
#   3. tests/unit/test_alloc_fail with NEWSSTAND_ALLOC_EVERY=1: every
#      allocation failed in turn, with a cold statement cache too.
# CRASH_SEED fixes the seed (else a random one, printed). Prints each part's
# report and closes with "N passed, N failed"; exits non-zero on a failure.
# Needs ./newsstand, build/asan/newsstand and build/asan/tests/unit/test_alloc_fail.
set -u
cd "$(dirname "$0")/../.."
ITER=${CRASH_ITERATIONS:-200}
ASAN_ITER=${CRASH_ASAN_ITERATIONS:-50}
ROUNDS=${FAULT_ROUNDS:-3}
SEED=${CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# count "$@": runs a part and adds its closing "N passed, N failed" to the totals
count() {
    "$@" >"$log" 2>&1
    rc=$?
    cat "$log"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
        line="${p:-0} passed, ${f:-0} failed"
    fi
    p=${line%% passed*}
    f=${line#*passed, }
    f=${f%% failed*}
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    passed=$((passed + p))
    failed=$((failed + f))
}

echo "== crash loop: $ITER kills of ./newsstand, seed $SEED"
count python3 tests/e2e/crash.py --bin ./newsstand --iterations "$ITER" --seed "$SEED"
echo "== crash loop: $ASAN_ITER kills of build/asan/newsstand, seed $SEED"
count python3 tests/e2e/crash.py --bin build/asan/newsstand --iterations "$ASAN_ITER" --seed "$SEED"
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    i=$((i + 1))
    for bin in ./newsstand build/asan/newsstand; do
        echo "== faults, round $i of $ROUNDS, against $bin"
        count python3 tests/e2e/faults.py --bin "$bin"
    done
done
echo "== allocation failure, every allocation"
count env NEWSSTAND_ALLOC_EVERY=1 build/asan/tests/unit/test_alloc_fail

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
