#!/bin/sh
# merge.sh NAME... - minimises each harness's corpus: the inputs in
# tests/fuzz/corpus/NAME and those `make fuzz` found in build/fuzz/corpus/NAME
# are merged (libFuzzer -merge=1) into a small set that still reaches every
# code edge any of them reached (hit counts are not kept: -use_counters=0),
# which replaces tests/fuzz/corpus/NAME. Files named regress-* (inputs
# that once found a defect) are always kept.
set -eu
cd "$(dirname "$0")/../.."
for name in "$@"; do
    new=build/fuzz/merged/$name
    rm -rf "$new"
    mkdir -p "$new" "build/fuzz/corpus/$name"
    build/fuzz/bin/fuzz_"$name" -merge=1 -use_counters=0 -timeout=10 -max_len=8192 "$new" \
        "tests/fuzz/corpus/$name" "build/fuzz/corpus/$name" >"build/fuzz/$name.merge.log" 2>&1
    before=$(ls "tests/fuzz/corpus/$name" | wc -l)
    for f in "tests/fuzz/corpus/$name"/regress-*; do
        [ -f "$f" ] && cp "$f" "$new/"
    done
    rm -rf "tests/fuzz/corpus/$name"
    mv "$new" "tests/fuzz/corpus/$name"
    echo "fuzz-merge $name: $before files before, $(ls "tests/fuzz/corpus/$name" | wc -l) after"
done
