#!/bin/sh
# search_bench.sh - search throughput and latency over the Reuters benchmark
# corpus, next to a plain list and a single article in the same run.
#
#   sh bench/search_bench.sh [DATA_DIR]      (DATA_DIR defaults to ../shared/data)
#
# Imports Reuters-21578 (Distribution 1.0) with its entities into a
# temporary database, serves it on a loopback port, and runs wrk (2 threads,
# 64 keep-alive connections) after a warm-up: 3 runs of 5 s per endpoint,
# medians reported. Every figure is relative to the others of the same run;
# the machine's 2 cores are shared by wrk and the server.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_setup "${1:-../shared/data}"
./newsstand import "$ARTICLES" --db "$tmp/bench.db" >/dev/null 2>"$tmp/import.err"
bench_serve
if curl -sD - -o /dev/null "$base/v1/articles?q=cocoa" | grep -qi '^connection: close'; then
    echo "search_bench: the server sent Connection: close (keep-alive lost)" >&2
    exit 1
fi

articles=$(grep -c . "$ARTICLES")
echo "search_bench: Reuters-21578, Distribution 1.0 ($articles articles), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-34s %10s %10s %10s   %s\n' endpoint "req/s" p50 p99 errors
bench_run "GET /v1/articles/{id}" "$base/v1/articles/1"
bench_run "GET /v1/articles?limit=20" "$base/v1/articles?limit=20"
bench_run "GET /v1/articles?q= (mix)" "$base" -s bench/search.lua
