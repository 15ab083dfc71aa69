#!/usr/bin/env python3
"""End-to-end tests of HTTP behaviour every response follows: gzip when asked
and worth it (with its own ETag and Vary), and CORS for the origins the
operator allows, preflight included.

Usage: python3 tests/e2e/http.py [--bin ./newsstand]
Closes with `N passed, N failed`. Standard library only; loopback only.
"""

import argparse
import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import harness  # noqa: F401 - importing it sets the environment servers start with

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "articles.ndjson")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")
ALLOWED = "https://app.example"
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Failed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failed(msg)


class Server:
    def __init__(self, binary, db, tmp, args=()):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.err = open(os.path.join(tmp, f"serve-{self.port}.err"), "w+")
        self.out = open(os.path.join(tmp, f"serve-{self.port}.out"), "w+")
        self.proc = subprocess.Popen([binary, "serve", "--db", db, "--bind", "127.0.0.1", "--port",
                                      str(self.port), "--threads", "2", *args],
                                     stdout=self.out, stderr=self.err)
        for _ in range(200):
            try:
                if self.call("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise Failed("server did not start")

    def call(self, method, path, headers=None, source="127.0.0.1", body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10, source_address=(source, 0))
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hdrs, body

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = "timeout"
        self.err.seek(0)
        return code, self.err.read()


@test
def test_gzip_when_asked_and_worth_it(ctx):
    s = ctx.cors
    status, plain_h, plain = s.call("GET", "/v1/articles?limit=20")
    status2, gz_h, gz = s.call("GET", "/v1/articles?limit=20", {"Accept-Encoding": "gzip"})
    check(status == status2 == 200, f"statuses {status} {status2}")
    check(gz_h.get("content-encoding") == "gzip" and "content-encoding" not in plain_h, "Content-Encoding")
    check(json.loads(gzip.decompress(gz)) == json.loads(plain), "gzip body decompresses to the same JSON")
    check(int(gz_h["content-length"]) == len(gz) < len(plain), "Content-Length is the compressed size")
    check("accept-encoding" in gz_h.get("vary", "").lower() and "accept-encoding" in plain_h.get("vary", "").lower(),
          f"Vary: {gz_h.get('vary')}")
    check(gz_h["etag"] != plain_h["etag"], "the gzip variant has its own ETag")
    st, h, body = s.call("GET", "/v1/articles?limit=20", {"Accept-Encoding": "gzip", "If-None-Match": gz_h["etag"]})
    check(st == 304 and body == b"" and "content-encoding" not in h, f"304 for the gzip ETag: {st} {h}")
    st, h, body = s.call("HEAD", "/v1/articles?limit=20", {"Accept-Encoding": "gzip"})
    check(st == 200 and body == b"" and h.get("content-length") == gz_h["content-length"], "HEAD matches GET")


@test
def test_no_gzip_for_small_bodies_or_refusals(ctx):
    s = ctx.cors
    st, h, body = s.call("GET", "/healthz", {"Accept-Encoding": "gzip"})
    check(st == 200 and "content-encoding" not in h, "a tiny body is sent as is")
    for ae in ("gzip;q=0", "identity", "br", "deflate"):
        st, h, body = s.call("GET", "/v1/articles?limit=20", {"Accept-Encoding": ae})
        check(st == 200 and "content-encoding" not in h and json.loads(body), f"Accept-Encoding: {ae}")
    st, h, body = s.call("GET", "/v1/articles?limit=20", {"Accept-Encoding": "br, gzip;q=0.5"})
    check(h.get("content-encoding") == "gzip", "gzip among others")


@test
def test_cors_allowed_origin(ctx):
    s = ctx.cors
    st, h, _ = s.call("GET", "/v1/articles?limit=1", {"Origin": ALLOWED})
    check(st == 200 and h.get("access-control-allow-origin") == ALLOWED, f"ACAO {h.get('access-control-allow-origin')}")
    exposed = {x.strip().lower() for x in h.get("access-control-expose-headers", "").split(",")}
    check({"link", "etag", "x-request-id", "retry-after"} <= exposed, f"exposed {exposed}")
    check("origin" in h.get("vary", "").lower(), "Vary: Origin")
    check("access-control-allow-credentials" not in h, "credentials are never allowed")
    st, h, _ = s.call("GET", "/v1/articles/999999", {"Origin": ALLOWED})
    check(st == 404 and h.get("access-control-allow-origin") == ALLOWED, "errors carry CORS too")


@test
def test_cors_other_origin_and_no_config(ctx):
    st, h, _ = ctx.cors.call("GET", "/v1/articles?limit=1", {"Origin": "https://evil.example"})
    check(st == 200 and not any(k.startswith("access-control-") for k in h), f"other origin: {h}")
    st, h, _ = ctx.plain.call("GET", "/v1/articles?limit=1", {"Origin": ALLOWED})
    check(not any(k.startswith("access-control-") for k in h), "no --cors-origin: no CORS headers")


@test
def test_preflight(ctx):
    s = ctx.cors
    st, h, body = s.call("OPTIONS", "/v1/articles", {"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
                                                     "Access-Control-Request-Headers": "authorization, content-type"})
    check(st == 204 and body == b"", f"preflight status {st}")
    methods = {m.strip() for m in h.get("access-control-allow-methods", "").split(",")}
    check({"GET", "HEAD", "POST", "OPTIONS"} <= methods, f"allowed methods {methods}")
    allowed = {x.strip().lower() for x in h.get("access-control-allow-headers", "").split(",")}
    check({"authorization", "content-type", "if-none-match"} <= allowed, f"allowed headers {allowed}")
    check(h.get("access-control-allow-origin") == ALLOWED and h.get("access-control-max-age"), "origin and max-age")
    st, h, _ = s.call("OPTIONS", "/v1/me", {"Origin": ALLOWED, "Access-Control-Request-Method": "PATCH"})
    check(st == 204 and "PATCH" in h.get("access-control-allow-methods", ""), "a reader route's preflight")
    st, h, _ = s.call("OPTIONS", "/v1/articles", {"Origin": "https://evil.example"})
    check(st == 204 and "access-control-allow-origin" not in h, "preflight from another origin gets no grant")
    st, h, _ = s.call("OPTIONS", "/v1/nothing-here", {"Origin": ALLOWED})
    check(st == 404, f"preflight for an unknown path: {st}")


@test
def test_access_log_one_json_line_per_request(ctx):
    s = ctx.plain
    st, h, _ = s.call("GET", "/v1/articles?limit=2", {"X-Request-Id": "log-check-1"})
    s.call("GET", "/v1/articles/999999", {"X-Request-Id": "log-check-2"})
    s.call("GET", "/v1/%E2%80%AEinjected\"path", {"X-Request-Id": "log-check-3"})
    time.sleep(0.3)
    s.out.seek(0)
    lines = [json.loads(l) for l in s.out.read().splitlines() if l.strip()]
    by_id = {l["request_id"]: l for l in lines}
    for rid, route, status in (("log-check-1", "/v1/articles", 200), ("log-check-2", "/v1/articles/{id}", 404),
                               ("log-check-3", "-", 404)):
        line = by_id.get(rid)
        check(line is not None, f"no access-log line for {rid}")
        check(set(line) == {"time", "request_id", "client", "method", "route", "status", "bytes",
                            "duration_ms"}, f"fields {sorted(line)}")
        check(line["client"] == "127.0.0.1", f"{rid}: client {line.get('client')}")
        check(line["route"] == route and line["status"] == status and line["method"] == "GET", f"{rid}: {line}")
        check(line["duration_ms"] >= 0 and line["time"].endswith("Z"), f"{rid}: {line}")
    check(by_id["log-check-1"]["bytes"] == int(h["content-length"]), "bytes is the body length sent")


@test
def test_metrics_move(ctx):
    s = ctx.plain
    def scrape():
        st, h, body = s.call("GET", "/metrics")
        check(st == 200 and h.get("content-type", "").startswith("text/plain"), f"metrics: {st} {h}")
        values = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                values[key] = float(value)
        return values
    before = scrape()
    key = 'newsstand_requests_total{method="GET",route="/v1/articles/{id}",status="404"}'
    for _ in range(3):
        s.call("GET", "/v1/articles/999999")
    time.sleep(0.2)
    after = scrape()
    check(after.get(key, 0) - before.get(key, 0) == 3, f"404s counted: {before.get(key)} -> {after.get(key)}")
    count = "newsstand_request_duration_seconds_count"
    check(after[count] >= before[count] + 3, "the latency histogram counts requests")
    check(after['newsstand_request_duration_seconds_bucket{le="+Inf"}'] == after[count], "+Inf bucket = count")
    check(after["newsstand_articles"] > 0 and "newsstand_requests_in_flight" in after, "gauges present")
    check(after["newsstand_connections"] >= 1, "the scrape's own connection is open")
    check(after["newsstand_db_bytes"] > 0 and "newsstand_db_wal_bytes" in after, "database size")
    check(after["newsstand_db_cache_hits_total"] + after["newsstand_db_cache_misses_total"] >
          before["newsstand_db_cache_hits_total"] + before["newsstand_db_cache_misses_total"],
          "the database cache figures move with reads")


def scrape_value(s, name):
    st, _, body = s.call("GET", "/metrics")
    check(st == 200, f"/metrics {st}")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise Failed(f"{name} not in /metrics")


@test
def test_rate_limit_429_then_recovers(ctx):
    s = ctx.start("--rate-limit", "2", "--rate-burst", "3")
    seen = []
    for i in range(3):
        st, h, _ = s.call("GET", "/v1/articles?limit=1")
        seen.append((st, h.get("ratelimit-limit"), h.get("ratelimit-remaining")))
    check(seen == [(200, "3", "2"), (200, "3", "1"), (200, "3", "0")], f"the burst: {seen}")
    before = scrape_value(s, "newsstand_rate_limited_total")
    st, h, body = s.call("GET", "/v1/articles?limit=1")
    check(st == 429, f"past the burst: {st}")
    problem = json.loads(body)
    check(h.get("content-type") == "application/problem+json" and problem["status"] == 429 and
          problem["request_id"] == h.get("x-request-id"), f"429 problem: {h} {problem}")
    retry = int(h.get("retry-after", "0"))
    check(retry >= 1 and h.get("ratelimit-remaining") == "0" and int(h.get("ratelimit-reset", "0")) >= 1,
          f"429 headers: {h}")
    check(h.get("cache-control") == "no-store", "a 429 is not cached")
    # health, readiness and metrics stay answerable for the operator
    for path in ("/healthz", "/readyz", "/metrics"):
        st, h, _ = s.call("GET", path)
        check(st == 200 and "ratelimit-limit" not in h, f"{path} while limited: {st}")
    check(scrape_value(s, "newsstand_rate_limited_total") == before + 1, "refusals are counted")
    # another address has its own bucket
    st, _, _ = s.call("GET", "/v1/articles?limit=1", source="127.0.0.2")
    check(st == 200, f"a second client address: {st}")
    time.sleep(retry + 0.1)
    st, _, _ = s.call("GET", "/v1/articles?limit=1")
    check(st == 200, f"after Retry-After: {st}")


@test
def test_rate_limit_refuses_a_body_without_reading_it(ctx):
    s = ctx.start("--rate-limit", "1", "--rate-burst", "1")
    s.call("GET", "/v1/articles?limit=1")
    data, closed = raw_exchange(s.port, b"POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                        b"application/json\r\nContent-Length: 100000\r\n\r\n{")
    check(data.startswith(b"HTTP/1.1 429") and b"connection: close" in data.lower() and closed,
          f"refused at the head and closed: {data[:160]!r}")


@test
def test_key_rate_limit_shared_across_addresses(ctx):
    s = ctx.start("--rate-limit", "0", "--key-rate-limit", "1", "--key-rate-burst", "2")
    token = {"Authorization": "Bearer made-up-token-1"}
    got = [s.call("GET", "/v1/me", token)[0] for _ in range(2)]
    check(got == [401, 401], f"under the key's burst: {got}")
    st, h, _ = s.call("GET", "/v1/me", token, source="127.0.0.3")
    check(st == 429 and h.get("ratelimit-limit") == "2", f"same credential, other address: {st} {h}")
    st, _, _ = s.call("GET", "/v1/me", {"Authorization": "Bearer made-up-token-2"})
    check(st == 401, f"another credential has its own bucket: {st}")


@test
def test_made_up_credentials_do_not_escape_the_address_limit(ctx):
    s = ctx.start("--rate-limit", "1", "--rate-burst", "3")
    got = [s.call("GET", "/v1/articles?limit=1", {"Authorization": f"Bearer invented-{i}"})[0]
           for i in range(4)]
    check(429 not in got[:3] and got[3] == 429, f"a fresh token per request: {got}")


@test
def test_forwarded_for_only_from_trusted_proxies(ctx):
    untrusted = ctx.start("--rate-limit", "1", "--rate-burst", "1")
    got = [untrusted.call("GET", "/v1/articles?limit=1", {"X-Forwarded-For": f"198.51.100.{i}"})[0]
           for i in range(2)]
    check(got == [200, 429], f"a client cannot pick its address: {got}")
    proxied = ctx.start("--rate-limit", "1", "--rate-burst", "1", "--trusted-proxy", "127.0.0.0/8")
    got = [proxied.call("GET", "/v1/articles?limit=1", {"X-Forwarded-For": f"198.51.100.{i}"})[0]
           for i in range(2)]
    check(got == [200, 200], f"behind a trusted proxy each client has its bucket: {got}")
    st, _, _ = proxied.call("GET", "/v1/articles?limit=1", {"X-Forwarded-For": "198.51.100.0"})
    check(st == 429, f"the same forwarded client again: {st}")
    time.sleep(0.3)
    proxied.out.seek(0)
    clients = [json.loads(l)["client"] for l in proxied.out.read().splitlines() if l.strip()]
    check("198.51.100.1" in clients, f"the access log names the forwarded client: {clients}")


@test
def test_security_headers_on_every_response(ctx):
    s = ctx.cors
    _, h200, _ = s.call("GET", "/v1/articles?limit=1")
    answers = [("200", h200), ("404", s.call("GET", "/nowhere")[1]),
               ("405", s.call("DELETE", "/v1/topics")[1]),
               ("304", s.call("GET", "/v1/articles?limit=1", {"If-None-Match": h200["etag"]})[1]),
               ("OPTIONS", s.call("OPTIONS", "/v1/articles", {"Origin": ALLOWED})[1])]
    for what, h in answers:
        check(h.get("x-content-type-options") == "nosniff" and h.get("x-frame-options") == "DENY" and
              h.get("referrer-policy") == "no-referrer" and
              "default-src 'none'" in h.get("content-security-policy", "") and
              h.get("server") == "newsstand", f"{what}: {h}")
    _, h, _ = s.call("GET", "/v1/articles?limit=1", {"Origin": ALLOWED})
    exposed = [x.strip().lower() for x in h.get("access-control-expose-headers", "").split(",")]
    for name in ("link", "etag", "x-request-id", "retry-after", "ratelimit-limit", "ratelimit-remaining",
                 "ratelimit-reset"):
        check(name in exposed, f"{name} not exposed: {exposed}")


@test
def test_head_and_target_size_limits(ctx):
    s = ctx.start("--header-max", "4096", "--connection-memory", "16384")
    st, h, body = s.call("GET", "/v1/articles?limit=1", {"X-Filler": "a" * 5000, "X-Request-Id": "big-head"})
    check(st == 431 and json.loads(body)["status"] == 431 and h.get("x-request-id") == "big-head",
          f"headers over --header-max: {st} {body[:120]!r}")
    st, h, body = s.call("GET", "/v1/articles?q=" + "a" * 5000)
    check(st == 414 and json.loads(body)["status"] == 414, f"a target over the limit: {st}")
    st, _, _ = s.call("GET", "/v1/articles?limit=1", {"X-Filler": "a" * 3000})
    check(st == 200, f"a head under the limit: {st}")
    # a head too big for the connection's memory is refused by the HTTP parser itself
    try:
        st, _, _ = s.call("GET", "/v1/articles", {"X-Filler": "a" * 40000})
        check(st in (400, 413, 414, 431), f"a head beyond the connection memory: {st}")
    except (ConnectionError, http.client.RemoteDisconnected):
        pass
    check(s.call("GET", "/healthz")[0] == 200, "still serving")


@test
def test_a_trickled_head_is_cut_off(ctx):
    s = ctx.start("--idle-timeout", "2")
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    t0, closed_at = time.time(), None
    while time.time() - t0 < 8:  # a byte every 0.3 s: never idle, never done
        try:
            sock.sendall(b"a")
            sock.settimeout(0.3)
            if sock.recv(4096) == b"":
                closed_at = time.time() - t0
                break
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            closed_at = time.time() - t0
            break
    sock.close()
    check(closed_at is not None and 1.5 <= closed_at < 5,
          f"a head trickled for 8 s was not cut off near --idle-timeout 2 (closed at {closed_at})")
    check(s.call("GET", "/healthz")[0] == 200, "others are served")


def cli(ctx, *args, stdin=None):
    r = subprocess.run([ctx.binary, *args], capture_output=True, text=True, timeout=60, input=stdin)
    check(r.returncode == 0, f"{args[0]}: {r.stderr[-300:]}")
    return r.stdout


def read_json(s, path, headers=None):
    st, h, body = s.call("GET", path, headers)
    check(st == 200, f"GET {path}: {st}")
    return json.loads(gzip.decompress(body) if h.get("content-encoding") == "gzip" else body)


@test
def test_response_cache_is_never_stale(ctx):
    db = os.path.join(ctx.tmp, "cache.db")
    cli(ctx, "import", FIXTURE, "--db", db)
    key = cli(ctx, "keys", "create", "--scope", "ingest", "--name", "cache", "--db", db).split()[-1]
    s = ctx.start(db=db)
    write = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    first = read_json(s, "/v1/articles?limit=1")["data"][0]
    aid, ext = first["id"], None
    hits = scrape_value(s, "newsstand_response_cache_hits_total")
    for i in range(20):  # a write, then reads that could be answered from the cache
        headline = f"Cache check {i}"
        st, _, body = s.call("PATCH", f"/v1/articles/{aid}", write, body=json.dumps({"headline": headline}))
        check(st == 200, f"PATCH: {st} {body[:200]!r}")
        for enc in ({}, {"Accept-Encoding": "gzip"}):
            for _ in range(2):
                got = read_json(s, f"/v1/articles/{aid}", enc)["headline"]
                check(got == headline, f"round {i} {enc}: {got!r} after writing {headline!r}")
                listed = {a["id"]: a["headline"] for a in read_json(s, "/v1/articles?limit=50", enc)["data"]}
                check(listed.get(aid) == headline, f"round {i} {enc}: list says {listed.get(aid)!r}")
    check(scrape_value(s, "newsstand_response_cache_hits_total") >= hits + 40, "repeated reads were cached")
    # a write by another process: the command-line import, while the server runs
    with open(FIXTURE) as f:
        line = json.loads(f.readline())
    line["headline"] = "Changed by the importer"
    cli(ctx, "import", "-", "--db", db, stdin=json.dumps(line) + "\n")
    changed = [a for a in read_json(s, "/v1/articles?limit=50")["data"] if a["headline"] == line["headline"]]
    check(len(changed) == 1, "an import by another process is seen at once")
    # answers to a reader are neither served from the cache nor kept in it
    premium = read_json(s, "/v1/articles?access=premium&limit=1")["data"][0]["id"]
    anon = read_json(s, f"/v1/articles/{premium}")
    check(anon["paywall"]["locked"] is True, f"anonymous: {anon['paywall']}")
    st, _, body = s.call("POST", "/v1/users", {"Content-Type": "application/json"},
                         body=json.dumps({"email": "cache@example.org", "password": "long enough pw", "name": "C"}))
    check(st == 201, f"sign-up: {st}")
    reader = {"Authorization": "Bearer " + json.loads(body)["token"]}
    for _ in range(2):
        st, h, body = s.call("GET", f"/v1/articles/{premium}", reader)
        check(st == 200 and json.loads(body)["paywall"]["locked"] is False, "a trial reader reads it all")
        check(h.get("cache-control") == "private, no-store", f"a reader's answer: {h.get('cache-control')}")
    again = read_json(s, f"/v1/articles/{premium}")
    check(again == anon and again["paywall"]["locked"] is True, "anonymous again: still the preview")


def raw_exchange(port, request):
    """Sends raw bytes, reads until the server closes (or 8 s of quiet); returns (bytes, closed)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=8)
    sock.sendall(request)
    data, closed = b"", False
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        closed = isinstance(sys.exc_info()[1], ConnectionResetError)
    sock.close()
    return data, closed


@test
def test_ambiguous_framing_is_refused_and_closed(ctx):
    post = b"POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    vectors = {
        "two Content-Lengths": post + b"Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}" + smuggled,
        "Content-Length and Transfer-Encoding": post + b"Content-Length: 4\r\nTransfer-Encoding: chunked"
                                                        b"\r\n\r\n0\r\n\r\n" + smuggled,
        "an unknown transfer coding": post + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggled,
        "bad chunk size": post + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n" + smuggled,
        "a control byte in a header name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A\x01b: 1\r\n\r\n" + smuggled,
        "a control byte in a header value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n" + smuggled,
    }
    for what, request in vectors.items():
        data, closed = raw_exchange(ctx.plain.port, request)
        statuses = [line for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.")]
        check(statuses == [b"HTTP/1.1 400 Bad Request"], f"{what}: answers {statuses}")
        check(closed, f"{what}: the connection stays open")
    # chunked alone is fine
    data, _ = raw_exchange(ctx.plain.port, post + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                           b"2\r\n{}\r\n0\r\n\r\n")
    check(data.startswith(b"HTTP/1.1 422"), f"a chunked body is read: {data[:40]!r}")


@test
def test_body_limit(ctx):
    s = ctx.start("--body-max", "2048")
    body = json.dumps({"email": "x@example.org", "password": "p" * 3000, "name": "X"}).encode()
    st, h, resp = s.call("POST", "/v1/users", {"Content-Type": "application/json"}, body=body)
    check(st == 413 and json.loads(resp)["status"] == 413, f"a body over --body-max: {st}")


@test
def test_connection_limits(ctx):
    s = ctx.start("--max-connections-per-ip", "2", "--max-connections", "3")
    def served(conn):
        try:
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            r.read()
            return r.status == 200
        except (ConnectionError, http.client.RemoteDisconnected, OSError):
            return False
    time.sleep(0.5)  # the start-up probe's closed connection is let go of
    held = [http.client.HTTPConnection("127.0.0.1", s.port, timeout=5) for _ in range(2)]
    check(all(served(c) for c in held), "two keep-alive connections from one address")
    third = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
    check(not served(third), "a third connection from the same address is refused")
    other = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5, source_address=("127.0.0.5", 0))
    check(served(other), "another address still gets in")
    fourth = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5, source_address=("127.0.0.6", 0))
    check(not served(fourth), "past --max-connections nobody gets in")
    for c in held + [third, other, fourth]:
        c.close()
    time.sleep(0.3)
    fresh = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
    check(served(fresh), "closed connections free their places")
    fresh.close()


@test
def test_idle_connections_are_closed(ctx):
    s = ctx.start("--idle-timeout", "1")
    t0 = time.time()
    data, closed = raw_exchange(s.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    took = time.time() - t0
    check(closed, "the idle connection was closed")
    check(data.startswith(b"HTTP/1.1 200"), f"answered first: {data[:60]!r}")
    check(took < 5, f"an idle keep-alive connection stayed open {took:.1f} s with --idle-timeout 1")


@test
def test_star_origin(ctx):
    st, h, _ = ctx.star.call("GET", "/v1/articles?limit=1", {"Origin": "https://anyone.example"})
    check(h.get("access-control-allow-origin") == "*" and "access-control-allow-credentials" not in h, f"{h}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="./newsstand")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="newsstand-http-") as tmp:
        db = os.path.join(tmp, "http.db")
        r = subprocess.run([binary, "import", FIXTURE, "--db", db], capture_output=True, text=True, timeout=60)
        r2 = subprocess.run([binary, "serve", "--cors-origin", "ftp://x/y", "--db", db], capture_output=True,
                            text=True, timeout=10)

        class Ctx:
            pass
        ctx = Ctx()
        servers = []

        def start(*server_args, db=db):
            servers.append(Server(binary, db, tmp, server_args))
            return servers[-1]
        ctx.start = start
        ctx.binary, ctx.tmp = binary, tmp
        try:
            if r.returncode != 0:
                raise Failed(f"import: {r.stderr}")
            ctx.cors = Server(binary, db, tmp, ("--cors-origin", ALLOWED, "--cors-origin", "https://other.example"))
            ctx.plain = Server(binary, db, tmp)
            ctx.star = Server(binary, db, tmp, ("--cors-origin", "*"))
            servers += [ctx.cors, ctx.plain, ctx.star]
            tests = TESTS
        except Failed as e:
            print(f"FAIL setup: {e}")
            tests, failed = [], 1
        if r2.returncode != 2:
            failed += 1
            print(f"FAIL test_bad_cors_origin_refused: exit {r2.returncode}")
        else:
            passed += 1
        for fn in tests:
            try:
                fn(ctx)
                passed += 1
            except Failed as e:
                failed += 1
                print(f"FAIL {fn.__name__}: {e}")
            except Exception as e:  # a broken test is a failure, never a pass
                failed += 1
                print(f"FAIL {fn.__name__}: {type(e).__name__}: {e}")
        for s in servers:
            code, err = s.stop()
            if code != 0 or any(m in err for m in SANITIZER_MARKERS):
                failed += 1
                print(f"FAIL test_clean_shutdown: exit {code}; {err[-1000:]}")
            else:
                passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
