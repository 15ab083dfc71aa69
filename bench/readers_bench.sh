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
. bench/lib.sh
bench_setup "${1:-../shared/data}"
./newsstand import "$ARTICLES" --db "$tmp/bench.db" >/dev/null 2>"$tmp/import.err"
bench_serve

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

echo "readers_bench: Reuters-21578, Distribution 1.0, reader following 200 entities and topics, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-34s %10s %10s %10s   %s\n' endpoint "req/s" p50 p99 errors
bench_run "GET /v1/articles/{id}" "$base/v1/articles/1"
bench_run "GET /v1/me/feed (200 follows)" "$base/v1/me/feed" -H "Authorization: Bearer $token"
bench_run "GET /v1/top-stories" "$base/v1/top-stories"
