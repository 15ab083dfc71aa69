"""harness.py - what the end-to-end suites share: the test registry and
result collector, the shutdown checks every suite ends with, a keep-alive
HTTP client, and small helpers. Python 3 standard library only.

A suite imports what it uses; it runs in its own process, so the registry
(TESTS) holds that suite's tests alone.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
import unicodedata
import urllib.parse
from datetime import datetime, timezone

HOST = "127.0.0.1"

# These suites test what the API does, not how the rate limiter paces it
# (httpbehaviour.py does): servers they start run without the per-client
# limits unless a test asks for them with flags, which win over these.
SERVER_DEFAULTS = {"NEWSSTAND_RATE_LIMIT": "0", "NEWSSTAND_KEY_RATE_LIMIT": "0"}
for _k, _v in SERVER_DEFAULTS.items():
    os.environ.setdefault(_k, _v)


def server_env():
    """The environment for the binary: none of the caller's NEWSSTAND_ settings but the suites' defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSSTAND_")}
    env.update(SERVER_DEFAULTS)
    return env
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

# (name, function, phase) in the order the suite defines them.
TESTS = []


def short(v, n=240):
    if isinstance(v, bytes):
        s = repr(v[:n + 10])
    elif isinstance(v, str):
        s = v
    else:
        s = json.dumps(v, ensure_ascii=False, default=str)
    return s if len(s) <= n else s[:n] + "..."


class TestFailure(Exception):
    """Raised by T.require to stop the current test."""


class T:
    def __init__(self, name):
        self.name = name
        self.failures = []

    def check(self, cond, msg):
        if not cond:
            self.failures.append(str(msg))
        return bool(cond)

    def eq(self, got, want, what):
        return self.check(got == want, f"{what}: expected {short(want)}, got {short(got)}")

    def require(self, cond, msg):
        if not cond:
            raise TestFailure(str(msg))


def test(phase="http"):
    def deco(fn):
        TESTS.append((fn.__name__, fn, phase))
        return fn
    return deco


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_sigterm_exits_cleanly(t, ctx):
    t.require(ctx.proc is not None and ctx.proc.poll() is None, "server is not running")
    ctx.client.close()
    ctx.proc.send_signal(signal.SIGTERM)
    try:
        rc = ctx.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        ctx.proc.kill()
        ctx.proc.wait()
        t.require(False, "server did not exit within 10 s of SIGTERM")
    t.eq(rc, 0, "exit status after SIGTERM")


def test_no_sanitizer_reports(t, ctx):
    with open(ctx.server_err, encoding="utf-8", errors="replace") as f:
        err = f.read()
    for what, text in [("serve", err)] + ctx.cli_stderr:
        for marker in SANITIZER_MARKERS:
            if marker in text:
                i = text.index(marker)
                t.check(False, f"{what} stderr has a sanitizer report: {short(text[i:i + 300])}")


def register_shutdown_tests():
    """Every suite ends with these two: SIGTERM gives exit 0, and no sanitizer reported."""
    test("shutdown")(test_sigterm_exits_cleanly)
    test("shutdown")(test_no_sanitizer_reports)


class Response:
    def __init__(self, method, path, status, headers, body):
        self.method, self.path, self.status, self.headers, self.body = method, path, status, headers, body
        self._json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def label(self):
        return f"{self.method} {short(self.path, 140)}"

    @property
    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise TestFailure(f"{self.label}: body is not JSON ({e}): {short(self.body)}")
        return self._json


def url(path, params=None):
    if not params:
        return path
    items = params.items() if isinstance(params, dict) else params
    return path + "?" + urllib.parse.urlencode(list(items), quote_via=urllib.parse.quote, safe="")


class Client:
    """One keep-alive HTTP/1.1 connection, reopened once if the server closed it."""

    def __init__(self, port, timeout=10):
        self.port, self.timeout = port, timeout
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def request(self, method, path):
        for attempt in (0, 1):
            try:
                self.conn.request(method, path)
                r = self.conn.getresponse()
                return Response(method, path, r.status, r.getheaders(), r.read())
            except (http.client.RemoteDisconnected, http.client.CannotSendRequest,
                    http.client.ResponseNotReady, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def get(self, path, params=None):
        return self.request("GET", url(path, params))

    def close(self):
        self.conn.close()


def expect_ok(t, r):
    t.require(r.status == 200, f"{r.label}: expected 200, got {r.status}: {short(r.body)}")
    ct = (r.header("Content-Type") or "").split(";")[0].strip()
    t.check(ct == "application/json", f"{r.label}: Content-Type {ct!r}")
    return r.json


def fold(s):
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c)).casefold()


def parse_time(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


def fmt_time(dt):
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def reported_lines(err):
    rep = {}
    for ln in err.splitlines():
        m = re.match(r"^line (\d+): (.+)$", ln.strip())
        if m:
            rep[int(m.group(1))] = m.group(2)
    return rep


def seg(s):
    return urllib.parse.quote(str(s), safe="")


def encode_body(body):
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def error_fields(p):
    errs = p.get("errors") if isinstance(p, dict) and isinstance(p.get("errors"), list) else []
    return [e.get("field") for e in errs if isinstance(e, dict)]


def names_field(fields, f):
    return any(isinstance(x, str) and (x == f or x.startswith(f + ".") or x.startswith(f + "[")) for x in fields)


def run_one(name, fn, ctx, results, verbose):
    t = T(name)
    start = time.monotonic()
    try:
        fn(t, ctx)
    except TestFailure as e:
        t.failures.append(str(e))
    except Exception as e:  # a crash in a test is a failure of that test
        t.failures.append(f"exception {type(e).__name__}: {e}")
    results.append((name, t.failures))
    for f in t.failures[:12]:
        print(f"FAIL {name}: {f}", flush=True)
    if len(t.failures) > 12:
        print(f"FAIL {name}: ... and {len(t.failures) - 12} more", flush=True)
    if verbose and not t.failures:
        print(f"ok   {name} ({time.monotonic() - start:.2f}s)", flush=True)
