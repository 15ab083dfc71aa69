# lib.sh - what the wrk benchmarks share (sourced, not run): a server on a
# temporary copy of the data, and one line of medians per endpoint.
#
# bench_setup DATA_DIR: checks the tools and the Reuters file, makes $tmp, and
#   arranges for the server and $tmp to go when the script ends.
# bench_serve: starts ./newsstand on $tmp/bench.db on a free loopback port; sets $base.
# bench_run NAME URL [-s SCRIPT | -H HEADER]: a 2 s warm-up, then 3 runs of
#   5 s (2 threads, 64 keep-alive connections); prints the median run's
#   requests/s, p50, p99 and any errors wrk reported.

bench_setup() {
    DATA=$1
    ARTICLES="$DATA/reuters-21578/articles.ndjson"
    [ -f "$ARTICLES" ] || { echo "bench: no $ARTICLES" >&2; exit 1; }
    command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }
    tmp=$(mktemp -d)
    pid=""
    trap 'bench_cleanup' EXIT INT TERM
}

bench_cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}

bench_serve() {
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    # load from one address: the per-client limits would measure the limiter
    ./newsstand serve --db "$tmp/bench.db" --bind 127.0.0.1 --port "$port" --threads 2 \
        --rate-limit 0 --key-rate-limit 0 --max-connections-per-ip 0 \
        >"$tmp/access.log" 2>"$tmp/serve.err" &
    pid=$!
    base="http://127.0.0.1:$port"
    for _ in $(seq 50); do curl -sf "$base/readyz" >/dev/null && return 0; sleep 0.1; done
    echo "bench: the server did not start" >&2
    exit 1
}

bench_run() {
    name=$1 url=$2
    shift 2
    wrk -t2 -c64 -d2s "$@" "$url" >/dev/null 2>&1
    for r in 1 2 3; do
        wrk -t2 -c64 -d5s --latency "$@" "$url" 2>/dev/null | awk '
            /Requests\/sec/ { rps = $2 }
            /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
            /Non-2xx|Socket errors/ { err = err " " $0 }
            END { print rps, p50, p99, (err == "" ? "-" : err) }'
    done | sort -n | sed -n 2p | awk -v n="$name" '{ printf "%-34s %10.0f %10s %10s   %s\n", n, $1, $2, $3, $4 }'
}
