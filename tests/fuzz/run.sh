#!/bin/sh
# run.sh SECONDS NAME... - runs each libFuzzer harness build/fuzz/bin/fuzz_NAME for
# SECONDS, one after the other (never in parallel: the machine is shared), from its
# corpus in tests/fuzz/corpus/NAME. New inputs go to build/fuzz/corpus/NAME (fold them
# into the repository with `make fuzz-merge`), crashes, leaks and timeouts to
# build/fuzz/artifacts/. Prints each harness's executions and the closing line
# "N passed, N failed" (a harness passes when it ran its time out with no finding).
set -u
cd "$(dirname "$0")/../.."
seconds=$1
shift
passed=0
failed=0
total=0
summary=""
mkdir -p build/fuzz/artifacts
for name in "$@"; do
    bin=build/fuzz/bin/fuzz_$name
    work=build/fuzz/corpus/$name
    log=build/fuzz/$name.log
    dict=tests/fuzz/dict/$name.dict
    mkdir -p "$work"
    set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$name-"
    [ -f "$dict" ] && set -- "$@" -dict="$dict"
    echo "== fuzz: $name for ${seconds}s"
    "$bin" "$@" "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    runs=${runs:-0}
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov \1, features \2, corpus \3/p')
    if [ "$rc" -eq 0 ]; then
        verdict="no crash, leak or timeout"
        passed=$((passed + 1))
    else
        verdict="FOUND A PROBLEM (exit $rc): see $log and build/fuzz/artifacts/"
        failed=$((failed + 1))
        grep -E 'ERROR|SUMMARY|check failed|Test unit written|ALARM|answered' "$log" | head -n 20
    fi
    line="fuzz $name: $runs executions in ${secs:-?} s ($cov): $verdict"
    echo "$line"
    summary="$summary$line
"
    total=$((total + runs))
done
echo "== fuzzing summary"
printf '%s' "$summary"
echo "fuzz total: $total executions"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
