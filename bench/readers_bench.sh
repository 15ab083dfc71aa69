#!/bin/sh
# readers_bench.sh - the personal feed of a reader who follows 200 things,
# and top stories, over the Reuters benchmark corpus; a single article in the
# same run for scale.
#
#   sh bench/readers_bench.sh [DATA_DIR]      (DATA_DIR defaults to ../shared/data)
#
# Imports Reuters-21578 (Distribution 1.0), signs a reader up over HTTP,
# follows 200 entities and topics, records 2,000 reads spread over 300
# articles, then runs wrk (2 threads, 64 keep-alive connections, 5 s after a
# 2 s warm-up, median of 3 runs) on each endpoint.
set -eu
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
ARTICLES="$DATA/reuters-21578/articles.ndjson"
[ -f "$ARTICLES" ] || { echo "readers_bench: no $ARTICLES" >&2; exit 1; }
command -v wrk >/dev/null || { echo "readers_bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }

tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

./newsstand import "$ARTICLES" --db "$tmp/bench.db" >/dev/null 2>"$tmp/import.err"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./newsstand serve --db "$tmp/bench.db" --bind 127.0.0.1 --port "$port" --threads 2 2>"$tmp/serve.err" &
pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 50); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done

token=$(python3 - "$base" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        data = r.read()
        return json.loads(data) if data else None
token = call("POST", "/v1/users", {"email": "bench@example.com", "password": "benchmark password",
                                   "name": "Bench"})["token"]
followed = 0
for kind, path in (("entity", "/v1/entities?limit=100"), ("topic", "/v1/topics?limit=100")):
    cursor = None
    while followed < 200:
        page = call("GET", path + (f"&cursor={cursor}" if cursor else ""))
        for item in page["data"]:
            if followed < 200:
                call("PUT", f"/v1/me/follows/{kind}/{item['id']}", token=token)
                followed += 1
        cursor = page["meta"]["next_cursor"]
        if not cursor:
            break
for i in range(2000):
    call("POST", f"/v1/articles/{1 + (i * 7919) % 300}/reads")
print(token)
PY
)

run() {
    name=$1 url=$2 header=${3:-}
    wrk -t2 -c64 -d2s ${header:+-H "$header"} "$url" >/dev/null 2>&1   # warm-up
    for r in 1 2 3; do
        wrk -t2 -c64 -d5s --latency ${header:+-H "$header"} "$url" 2>/dev/null | awk '
            /Requests\/sec/ { rps = $2 }
            /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
            /Non-2xx|Socket errors/ { err = err " " $0 }
            END { print rps, p50, p99, (err == "" ? "-" : err) }'
    done | sort -n | sed -n 2p | awk -v n="$name" '{ printf "%-34s %10.0f %10s %10s   %s\n", n, $1, $2, $3, $4 }'
}

echo "readers_bench: Reuters-21578, Distribution 1.0, reader following 200 entities and topics, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-34s %10s %10s %10s   %s\n' endpoint "req/s" p50 p99 errors
run "GET /v1/articles/{id}" "$base/v1/articles/1"
run "GET /v1/me/feed (200 follows)" "$base/v1/me/feed" "Authorization: Bearer $token"
run "GET /v1/top-stories" "$base/v1/top-stories"
