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
import shutil
import signal
import socket
import subprocess
import tempfile
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


def test(phase="http", proxy=None):
    """Register a test. proxy: why Prism cannot carry this test's HTTP (raw bytes, HEAD,
    chunked bodies...); the test is then skipped in proxy mode, and only there."""
    def deco(fn):
        if proxy:
            fn.no_proxy = proxy
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
    if proxy_skip(name, fn):
        return
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


def run_phases(tests, ctx, start_server, results, verbose, blocked=lambda phase: phase != "shutdown"):
    """The command-line tests, then start_server(ctx) (an error string or None), then the
    rest; when the server did not start, the tests of a blocked phase fail as not run."""
    for name, fn, phase in tests:
        if phase == "cli":
            run_one(name, fn, ctx, results, verbose)
    err = start_server(ctx)
    for name, fn, phase in tests:
        if phase == "cli":
            continue
        if err and blocked(phase):
            results.append((name, [f"not run: {err}"]))
            print(f"FAIL {name}: not run: {err}")
            continue
        run_one(name, fn, ctx, results, verbose)


# ================================================================ proxy mode
# With NEWSSTAND_E2E_PROXY=1 a suite sends its HTTP through Prism (pinned in
# tests/openapi), a proxy that checks every request and every response against
# the OpenAPI document the server itself serves at /openapi.json. The suite
# starts its server as always, then calls front_with_proxy(ctx), which puts
# Prism in front and points ctx.port at it, and finish_proxy() at the end,
# which stops Prism, reads its log and turns every distinct violation into a
# failed result. Tests whose HTTP Prism cannot carry are marked
# @test(proxy="why") and skipped in proxy mode only. NEWSSTAND_E2E_KEEP_PRISM_LOG=1
# keeps Prism's log (its path is printed).
#
# Prism runs without --errors on purpose: with it, Prism answers a request it
# finds invalid itself instead of passing it on, and the suites send invalid
# requests on purpose to see the server refuse them. So a request the
# document calls invalid is fine when the server refused it too (4xx) and a
# failure when the server accepted it; every response violation is a failure.

PROXY_ENV = "NEWSSTAND_E2E_PROXY"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRISM = os.path.join(REPO, "tests", "openapi", "node_modules", ".bin", "prism")
SKIPPED = []
_proxy = {}


# Why Prism cannot carry a test's HTTP, for @test(proxy=...).
NO_PROXY_HEAD = "Prism fails every HEAD answer that has a JSON Content-Type (it parses the empty body)"
NO_PROXY_BAD_JSON = "Prism answers a body that is not valid JSON itself (400 invalid_json) and passes nothing on"
NO_PROXY_RAW = "Prism decodes and re-encodes what it passes on (paths, queries, bodies), so these bytes never reach the server"
NO_PROXY_EARLY = "Prism reads a whole body before it passes it on, so the server's early answer and close becomes Prism's 500"
NO_PROXY_CHUNKED = "Prism passes a chunked body on with both Transfer-Encoding and Content-Length, which the server refuses"
NO_PROXY_BIG_HEAD = "Prism's HTTP parser refuses a request head over 16 KiB itself (431)"


def proxy_mode():
    return os.environ.get(PROXY_ENV) == "1"


def proxy_skip(name, fn):
    """In proxy mode, say so and return True for a test marked @test(proxy=...)."""
    reason = getattr(fn, "no_proxy", None)
    if not (reason and proxy_mode()):
        return False
    SKIPPED.append(name)
    print(f"SKIP {name}: not through Prism: {reason}", flush=True)
    return True


def summary(passed, failed):
    """The closing line: `N passed, N failed`, and `, N skipped` when proxy mode skipped any."""
    line = f"{passed} passed, {failed} failed"
    return line + (f", {len(SKIPPED)} skipped" if SKIPPED else "")


def front_with_proxy(ctx):
    """In proxy mode, start Prism in front of the server that answers on ctx.port
    and point ctx.port at Prism. Returns an error string or None."""
    if not proxy_mode():
        return None
    if not os.access(PRISM, os.X_OK):
        return f"proxy mode needs {PRISM}: run `npm ci` in tests/openapi (make test does)"
    tmp = tempfile.mkdtemp(prefix="newsstand-prism-")
    _proxy.update(tmp=tmp, upstream=ctx.port, proc=None)
    c = http.client.HTTPConnection(HOST, ctx.port, timeout=10)
    try:
        c.request("GET", "/openapi.json")
        r = c.getresponse()
        doc = r.read()
    except (OSError, http.client.HTTPException) as e:
        return f"GET /openapi.json from the server: {e}"
    finally:
        c.close()
    if r.status != 200:
        return f"GET /openapi.json from the server answered {r.status}"
    spec = os.path.join(tmp, "openapi.json")
    with open(spec, "wb") as f:
        f.write(doc)
    _proxy["paths"] = list(json.loads(doc).get("paths", {}))
    port = free_port()
    log = os.path.join(tmp, "prism.log")
    _proxy["log"] = log
    with open(log, "wb") as out:  # no colours: the log is parsed
        _proxy["proc"] = subprocess.Popen(
            [PRISM, "proxy", spec, f"http://{HOST}:{ctx.port}", "--host", HOST, "--port", str(port),
             "--no-cors", "--no-multiprocess"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(os.environ, FORCE_COLOR="0"), cwd=tmp)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read()
        if "Prism is listening on" in text:
            ctx.port = port
            return None
        if _proxy["proc"].poll() is not None:
            return f"Prism exited with {_proxy['proc'].returncode}: {short(text[-600:], 600)}"
        time.sleep(0.1)
    return "Prism did not start listening within 60 s"


_PRISM_LINE = re.compile(r"\[(HTTP SERVER|PROXY|VALIDATOR|NEGOTIATOR|CLI)\]\s*(.*)$")


def _template(paths, path):
    """The document's path template that path matches (literal segments beat parameters)."""
    best = None
    for p in paths:
        rx = "^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(p)) + "$"
        if re.match(rx, path):
            rank = p.count("{")
            if best is None or rank < best[0]:
                best = (rank, p)
    return best[1] if best else path


def _prism_requests(text, upstream):
    """Prism's log as one record per request, in the order they arrived."""
    reqs = []
    for ln in text.splitlines():
        m = _PRISM_LINE.search(ln)
        if not m:
            continue
        who, rest = m.groups()
        if who == "HTTP SERVER":
            # "get /v1/articles ℹ  info      Request received" (the message is sometimes lost
            # in Prism's log formatting: an info line of the HTTP server is an arrival)
            mm = re.match(r"(\S+) (\S+) \S+\s+(\w+)\s*(.*)$", rest)
            if not mm:
                continue
            method, path, level, msg = mm.groups()
            if level == "info":
                reqs.append({"method": method.upper(), "path": path, "url": path, "status": None,
                             "forwarded": False, "request": [], "response": [], "error": None})
            elif msg.startswith("Request terminated with error"):
                for r in reversed(reqs):
                    if r["method"] == method.upper() and r["path"] == path and r["error"] is None:
                        r["error"] = msg
                        break
        elif who == "PROXY":
            mm = re.search(r'Forwarding "\w+" request to (\S+?)(?:\.\.\.)?$', rest)
            if mm:
                for r in reversed(reqs):
                    if not r["forwarded"]:
                        r["forwarded"] = True
                        r["url"] = mm.group(1).split(f"{HOST}:{upstream}", 1)[-1]
                        break
            mm = re.search(r"The upstream call to (\S+) has returned (\d+)", rest)
            if mm:
                for r in reversed(reqs):
                    if r["status"] is None and r["path"] == mm.group(1):
                        r["status"] = int(mm.group(2))
                        break
        elif who == "VALIDATOR":
            mm = re.search(r"Violation: (\S*) ?(.*)$", rest)
            if mm:
                loc, msg = mm.groups()
                # a request's violations are logged together once its answer is back:
                # they belong to the latest request that has its status
                for r in reversed(reqs):
                    if r["status"] is not None or r["error"]:
                        side = "request" if loc.split(".")[0] == "request" else "response"
                        r[side].append(f"{loc} {msg}".strip())
                        break
    return reqs


def finish_proxy():
    """Stop Prism and return its verdict as results: one failure per distinct violation
    (per method, path template and message), or one pass. [] outside proxy mode."""
    if not _proxy:
        return []
    proc = _proxy.get("proc")
    results = []
    try:
        if proc is None:
            return []
        if proc.poll() is not None:
            with open(_proxy["log"], encoding="utf-8", errors="replace") as f:
                tail = f.read()[-800:]
            results.append(("contract_prism_stays_up", [f"Prism exited ({proc.returncode}) during the run: {short(tail, 800)}"]))
        else:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with open(_proxy["log"], encoding="utf-8", errors="replace") as f:
            reqs = _prism_requests(f.read(), _proxy["upstream"])
        groups, refused = {}, 0
        for r in reqs:
            where = f"{r['method']} {_template(_proxy['paths'], r['path'])}"
            found = []
            if r["error"]:
                found.append(f"Prism could not carry it: {r['error']}")
            elif r["status"] is None:
                found.append("Prism logged no answer from the server")
            if r["request"]:
                if r["status"] is not None and 400 <= r["status"] < 500:
                    refused += 1
                else:
                    found += [f"the server answered {r['status']} to a request the document calls invalid: {v}"
                              for v in r["request"]]
            found += r["response"]
            for v in found:
                key = (where, re.sub(r"(?<=[A-Za-z_])\.\d+(?=[.\s]|$)", ".N", v))
                g = groups.setdefault(key, [0, r])
                g[0] += 1
        print(f"prism: {len(reqs)} requests checked against the document; {refused} that it calls invalid "
              f"were refused by the server too (4xx)", flush=True)
        if not reqs:
            results.append(("contract_requests_went_through_prism", ["Prism logged no request"]))
        for (where, v), (n, r) in sorted(groups.items()):
            results.append((f"contract {where}", [f"{v} ({n} request{'s' if n > 1 else ''}, "
                                                   f"e.g. {r['method']} {short(r['url'], 160)} -> {r['status']})"]))
        if not results:
            results.append(("contract_matches_the_document", []))
        for name, failures in results:
            for f in failures:
                print(f"FAIL {name}: {f}", flush=True)
        return results
    finally:
        if os.environ.get("NEWSSTAND_E2E_KEEP_PRISM_LOG") and _proxy.get("log"):
            print(f"prism log kept: {_proxy['log']}", flush=True)
        else:
            shutil.rmtree(_proxy["tmp"], ignore_errors=True)
        _proxy.clear()
