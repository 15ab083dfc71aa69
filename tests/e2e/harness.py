"""harness.py - what the end-to-end suites share: the test registry and
result collector, the shutdown checks every suite ends with, a keep-alive
HTTP client, and small helpers. Python 3 standard library only.

A suite imports what it uses; it runs in its own process, so the registry
(TESTS) holds that suite's tests alone.
"""

import http.client
import json
import signal
import socket
import subprocess
import unicodedata
import urllib.parse
from datetime import datetime, timezone

HOST = "127.0.0.1"
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
