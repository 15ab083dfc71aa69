#!/bin/sh
# valgrind.sh PROGRAM... - valgrind memcheck over the release build (make valgrind):
#   1. each PROGRAM (the unit tests and the fuzz corpus replays) under memcheck;
#   2. the end-to-end suites (VALGRIND_SUITES, default: every suite tests/run.sh
#      runs) against ./newsstand started through a wrapper that runs every server
#      and command line under memcheck. crash.py, faults.py and security.py
#      (VALGRIND_LOGS_ONLY) SIGKILL the server, run it as another user or bound its
#      latency, which memcheck's slowdown or its log files break: their memcheck
#      logs count, their own verdicts are printed but not counted.
# Memcheck writes one log per process to build/valgrind/logs/; a run passes only
# when every log ends with "ERROR SUMMARY: 0 errors" (definite and indirect leaks
# count as errors; memory still reachable at exit does not); a process killed
# before its summary (a test's own SIGKILL) passes only with no error in its log.
# Prints the parts' reports, the processes checked, and "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
suites=${VALGRIND_SUITES:-$(sed -n 's/^suites="\(.*\)"$/\1/p' tests/run.sh)}
logs_only=${VALGRIND_LOGS_ONLY-crash.py faults.py security.py}
logs=build/valgrind/logs
rm -rf build/valgrind
mkdir -p "$logs"
memcheck="valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
--num-callers=30 --log-file=$PWD/$logs/%p.log"
passed=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for t in "$@"; do
    echo "== valgrind: $t"
    $memcheck "$t" >"$out" 2>&1
    rc=$?
    tail -n 3 "$out"
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
    else
        echo "FAIL $t exited with $rc under memcheck"
        failed=$((failed + 1))
    fi
done

# The e2e suites take --bin: give them a script that runs the real binary under memcheck.
wrapper=build/valgrind/newsstand
cat >"$wrapper" <<EOF
#!/bin/sh
exec $memcheck "$PWD/newsstand" "\$@"
EOF
chmod +x "$wrapper"
for suite in $suites; do
    echo "== valgrind: end-to-end $suite against $wrapper"
    python3 "tests/e2e/$suite" --bin "$wrapper" >"$out" 2>&1
    rc=$?
    case " $logs_only " in
    *" $suite "*)
        # its memcheck logs are judged below; its timing and user checks are not memcheck's
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
        echo "$suite under memcheck: ${line:-no closing line} (exit $rc; its own verdict not counted)"
        continue
        ;;
    esac
    grep -E '^FAIL|^[0-9]+ passed, [0-9]+ failed$' "$out"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
    f=${line#*passed, }
    f=${f%% failed*}
    if [ "$rc" -eq 0 ] && [ -n "$line" ] && [ "$f" -eq 0 ]; then
        passed=$((passed + 1))
    else
        echo "FAIL end-to-end $suite under memcheck (exit $rc)"
        failed=$((failed + 1))
    fi
done

processes=0
dirty=0
killed=0
for log in "$logs"/*.log; do
    [ -f "$log" ] || continue
    processes=$((processes + 1))
    grep -q 'ERROR SUMMARY: 0 errors' "$log" && continue
    if ! grep -q 'ERROR SUMMARY' "$log" &&
        ! grep -qE 'Invalid (read|write|free)|uninitialised|Mismatched|Syscall param|overlap' "$log"; then
        killed=$((killed + 1))
        continue
    fi
    dirty=$((dirty + 1))
    echo "== memcheck report in $log:"
    head -n 60 "$log"
done
echo "memcheck: $processes processes checked ($killed killed before the summary, no error" \
    "logged), $dirty with errors or leaks"
if [ "$dirty" -eq 0 ] && [ "$processes" -gt 0 ]; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
