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

    def call(self, method, path, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request(method, path, headers=headers or {})
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
        check(set(line) == {"time", "request_id", "method", "route", "status", "bytes", "duration_ms"},
              f"fields {sorted(line)}")
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
        try:
            if r.returncode != 0:
                raise Failed(f"import: {r.stderr}")
            ctx.cors = Server(binary, db, tmp, ("--cors-origin", ALLOWED, "--cors-origin", "https://other.example"))
            ctx.plain = Server(binary, db, tmp)
            ctx.star = Server(binary, db, tmp, ("--cors-origin", "*"))
            servers = [ctx.cors, ctx.plain, ctx.star]
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
