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
DATA=${1:-../shared/data}
ARTICLES="$DATA/reuters-21578/articles.ndjson"
[ -f "$ARTICLES" ] || { echo "search_bench: no $ARTICLES" >&2; exit 1; }
command -v wrk >/dev/null || { echo "search_bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }

tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

./newsstand import "$ARTICLES" --db "$tmp/bench.db" >/dev/null 2>"$tmp/import.err"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./newsstand serve --db "$tmp/bench.db" --bind 127.0.0.1 --port "$port" --threads 2 2>"$tmp/serve.err" &
pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

base="http://127.0.0.1:$port"
if curl -sD - -o /dev/null "$base/v1/articles?q=cocoa" | grep -qi '^connection: close'; then
    echo "search_bench: the server sent Connection: close (keep-alive lost)" >&2
    exit 1
fi

# run NAME URL [SCRIPT]: prints "NAME req/s p50 p99" with the medians of 3 runs.
run() {
    name=$1 url=$2 script=${3:-}
    set -- -t2 -c64 -d5s --latency
    [ -n "$script" ] && set -- "$@" -s "$script"
    wrk -t2 -c64 -d2s ${script:+-s "$script"} "$url" >/dev/null 2>&1   # warm-up
    for r in 1 2 3; do
        wrk "$@" "$url" 2>/dev/null | awk -v r="$r" '
            /Requests\/sec/ { rps = $2 }
            /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
            /Non-2xx|Socket errors/ { err = err " " $0 }
            END { print rps, p50, p99, (err == "" ? "-" : err) }'
    done | sort -n | sed -n 2p | awk -v n="$name" '{ printf "%-28s %10.0f %10s %10s   %s\n", n, $1, $2, $3, $4 }'
}

articles=$(grep -c . "$ARTICLES")
echo "search_bench: Reuters-21578, Distribution 1.0 ($articles articles), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-28s %10s %10s %10s   %s\n' endpoint "req/s" p50 p99 errors
run "GET /v1/articles/{id}" "$base/v1/articles/1"
run "GET /v1/articles?limit=20" "$base/v1/articles?limit=20"
run "GET /v1/articles?q= (mix)" "$base" bench/search.lua
