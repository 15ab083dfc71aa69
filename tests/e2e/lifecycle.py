#!/usr/bin/env python3
"""End-to-end tests of the newsstand program's life cycle, over its command
line and real HTTP on loopback: flags and environment, schema migrations
(an older database is upgraded, a newer one refused untouched), integrity
checks, binding, and a graceful stop that never cuts a response short.

Usage: python3 tests/e2e/lifecycle.py [--bin ./newsstand]
Prints one line per failure and closes with `N passed, N failed`.
Python 3 standard library only; every loop is bounded in count and time.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import harness  # noqa: F401 - importing it sets the environment servers start with

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "articles.ndjson")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Failed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failed(msg)


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Env:
    def __init__(self, binary, tmp):
        self.bin = binary
        self.tmp = tmp
        self.n = 0

    def db(self):
        self.n += 1
        return os.path.join(self.tmp, f"db{self.n}.sqlite")

    def run(self, *args, env=None, stdin=None, timeout=30):
        full_env = dict(os.environ)
        for k in list(full_env):
            if k.startswith("NEWSSTAND_"):
                del full_env[k]
        full_env.update(env or {})
        return subprocess.run([self.bin, *args], capture_output=True, text=True, env=full_env,
                              input=stdin, timeout=timeout)


class Server:
    """A running `newsstand serve`; stop() returns (exit code, stderr)."""

    def __init__(self, env, db, port=None, bind="127.0.0.1", extra_env=None, args=()):
        self.port = port or free_port()
        self.bind = bind
        self.err = tempfile.TemporaryFile(mode="w+")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSSTAND_")}
        full_env.update(extra_env or {})
        cmd = [env.bin, "serve", "--db", db, "--bind", bind, "--threads", "2", *args]
        if "NEWSSTAND_PORT" not in (extra_env or {}):
            cmd += ["--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.err,
                                     env=full_env)

    def wait_ready(self, host="127.0.0.1", timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                c = http.client.HTTPConnection(host, self.port, timeout=1)
                c.request("GET", "/readyz")
                ok = c.getresponse().status == 200
                c.close()
                if ok:
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = "timeout"
        self.err.seek(0)
        return code, self.err.read()


def no_sanitizer_report(stderr):
    for m in SANITIZER_MARKERS:
        check(m not in stderr, f"sanitizer report in server stderr: {stderr[-2000:]}")


def schema_version(path):
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    finally:
        con.close()


# ---------------------------------------------------------------- command line

@test
def test_version_and_help(env):
    r = env.run("--version")
    check(r.returncode == 0 and r.stdout.startswith("newsstand "), f"--version: {r}")
    r = env.run("--help")
    check(r.returncode == 0 and "usage: newsstand" in r.stdout, f"--help: {r}")
    for cmd in ("serve", "import", "migrate", "check", "healthcheck", "--db"):
        check(cmd in r.stdout, f"--help does not mention {cmd}")
    r = env.run("serve", "--help")
    check(r.returncode == 0 and "usage" in r.stdout, "serve --help")


@test
def test_bad_command_lines(env):
    for args in (["frobnicate"], ["serve", "--port", "0"], ["serve", "--port", "99999"],
                 ["serve", "--threads", "x"], ["import"], ["serve", "--nope"], ["serve", "--db"]):
        r = env.run(*args)
        check(r.returncode == 2, f"{args}: expected exit 2, got {r.returncode}")
        check(r.stderr.startswith("newsstand: "), f"{args}: no message on stderr: {r.stderr!r}")
    r = env.run("serve", env={"NEWSSTAND_PORT": "http"})
    check(r.returncode == 2 and "NEWSSTAND_PORT" in r.stderr, f"bad NEWSSTAND_PORT: {r}")


# ---------------------------------------------------------------- migrations

@test
def test_migrate_fresh_database(env):
    db = env.db()
    r = env.run("migrate", "--db", db)
    check(r.returncode == 0, f"migrate: {r}")
    check("schema version" in r.stderr, f"migrate says nothing of the version: {r.stderr!r}")
    v = schema_version(db)
    check(isinstance(v, int) and v >= 1, f"schema_migrations max version {v}")
    r = env.run("migrate", "--db", db)
    check(r.returncode == 0 and "0 migrations applied" in r.stderr,
          f"second migrate should apply nothing: {r.stderr!r}")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT count(*), count(DISTINCT version) FROM schema_migrations").fetchone()
    con.close()
    check(rows[0] == rows[1] == v, f"each migration recorded once: {rows}, version {v}")


@test
def test_older_database_is_upgraded_by_serve(env):
    db = env.db()
    con = sqlite3.connect(db)  # a database from before any migration ran
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at INTEGER NOT NULL)")
    con.commit()
    con.close()
    s = Server(env, db)
    ready = s.wait_ready()
    code, err = s.stop()
    check(ready, f"server did not become ready on an old database: {err[-500:]}")
    check(code == 0, f"exit {code}")
    check(schema_version(db) >= 1, "serve did not migrate the old database")
    no_sanitizer_report(err)


@test
def test_newer_database_is_refused_untouched(env):
    db = env.db()
    r = env.run("migrate", "--db", db)
    check(r.returncode == 0, "migrate")
    con = sqlite3.connect(db)
    con.execute("INSERT INTO schema_migrations VALUES (999, '999_future.sql', 0)")
    con.commit()
    tables_before = con.execute("SELECT group_concat(name) FROM sqlite_master").fetchone()[0]
    con.close()
    for cmd in (["migrate"], ["check"], ["serve", "--port", str(free_port()), "--bind", "127.0.0.1"],
                ["import", FIXTURE]):
        r = env.run(*cmd, "--db", db, timeout=10)
        check(r.returncode == 1, f"{cmd[0]} on a newer database: exit {r.returncode}")
        check("newer" in r.stderr and "999" in r.stderr,
              f"{cmd[0]}: message should say the database is newer: {r.stderr!r}")
    con = sqlite3.connect(db)
    tables_after = con.execute("SELECT group_concat(name) FROM sqlite_master").fetchone()[0]
    n = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    con.close()
    check(tables_before == tables_after and n == 0, "a refused database was changed")


# ---------------------------------------------------------------- check

@test
def test_check_sound_and_damaged(env):
    db = env.db()
    r = env.run("import", FIXTURE, "--db", db)
    check(r.returncode == 0, f"import: {r.stderr}")
    r = env.run("check", "--db", db)
    check(r.returncode == 0 and "ok" in r.stdout, f"check on a sound database: {r}")
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    check(pages > 4, f"fixture database too small to damage: {pages} pages")
    with open(db, "r+b") as f:  # overwrite every page but the header page with noise
        for p in range(1, pages):
            f.seek(p * page_size + 100)
            f.write(bytes((i * 37 + p) % 251 for i in range(page_size - 200)))
    r = env.run("check", "--db", db)
    check(r.returncode != 0, f"check passed a damaged database: {r}")


# ---------------------------------------------------------------- serving

def get_json(host, port, path):
    c = http.client.HTTPConnection(host, port, timeout=5)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, json.loads(body)


@test
def test_environment_and_flags(env):
    db = env.db()
    check(env.run("import", FIXTURE, "--db", db).returncode == 0, "import")
    port = free_port()
    s = Server(env, "/nonexistent/ignored.db", extra_env={"NEWSSTAND_PORT": str(port)},
               args=("--db", db))
    s.port = port
    ready = s.wait_ready()
    status, body = get_json("127.0.0.1", port, "/v1/articles?limit=1") if ready else (0, {})
    code, err = s.stop()
    check(ready, f"server with NEWSSTAND_PORT did not start: {err[-500:]}")
    check(status == 200 and body["meta"]["total"] > 0, "the --db flag should win over the default")
    check(code == 0, f"exit {code}")
    r = env.run("migrate", env={"NEWSSTAND_DB": os.path.join(env.tmp, "from-env.db")})
    check(r.returncode == 0 and os.path.exists(os.path.join(env.tmp, "from-env.db")),
          "NEWSSTAND_DB not used")


@test
def test_port_in_use_fails_cleanly(env):
    db = env.db()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = env.run("serve", "--db", db, "--bind", "127.0.0.1", "--port", str(port), timeout=10)
    check(r.returncode == 1 and "cannot listen" in r.stderr, f"port in use: {r}")
    r = env.run("serve", "--db", db, "--bind", "not-an-address", "--port", str(free_port()))
    check(r.returncode == 1 and "--bind" in r.stderr, f"bad bind: {r}")


@test
def test_ipv6_loopback(env):
    try:
        port = free_port(socket.AF_INET6, "::1")
    except OSError:
        raise Failed("no IPv6 loopback on this machine: cannot test --bind ::1")
    db = env.db()
    s = Server(env, db, port=port, bind="::1")
    ready = s.wait_ready(host="::1")
    code, err = s.stop()
    check(ready, f"not serving on [::1]: {err[-300:]}")
    check(code == 0, f"exit {code}")


# ---------------------------------------------------------------- healthcheck

class FakeServer:
    """A loopback listener that answers every connection with `reply` (bytes),
    or with nothing at all when reply is None; serves until close()."""

    def __init__(self, reply):
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    self.requests.append(conn.recv(4096))
                    if self.reply is None:
                        self.done.wait(6)  # hold the connection open, silent
                    else:
                        conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        self.done.set()
        self.thread.join(10)
        self.sock.close()


@test
def test_healthcheck_against_a_running_server(env):
    db = env.db()
    s = Server(env, db)
    ready = s.wait_ready()
    by_flag = env.run("healthcheck", "--port", str(s.port), timeout=10) if ready else None
    by_env = env.run("healthcheck", env={"NEWSSTAND_PORT": str(s.port)}, timeout=10) if ready else None
    by_host = env.run("healthcheck", "--host", "127.0.0.1", f"--port={s.port}",
                      timeout=10) if ready else None
    code, err = s.stop()
    check(ready, f"server did not start: {err[-300:]}")
    for what, r in (("--port", by_flag), ("NEWSSTAND_PORT", by_env), ("--host", by_host)):
        check(r.returncode == 0 and "ready" in r.stdout,
              f"healthcheck with {what} against a ready server: {r}")
    check(code == 0, f"exit {code}")
    r = env.run("healthcheck", "--port", str(s.port), timeout=10)
    check(r.returncode == 1 and "not ready" in r.stderr,
          f"healthcheck after the server stopped: {r}")
    no_sanitizer_report(err + by_flag.stderr + r.stderr)


@test
def test_healthcheck_ipv6_literal(env):
    try:
        port = free_port(socket.AF_INET6, "::1")
    except OSError:
        raise Failed("no IPv6 loopback on this machine: cannot test healthcheck --host ::1")
    s = Server(env, env.db(), port=port, bind="::1")
    ready = s.wait_ready(host="::1")
    bare = env.run("healthcheck", "--host", "::1", "--port", str(port), timeout=10)
    bracketed = env.run("healthcheck", "--host", "[::1]", "--port", str(port), timeout=10)
    code, _ = s.stop()
    check(ready, "not serving on [::1]")
    check(bare.returncode == 0, f"healthcheck --host ::1: {bare}")
    check(bracketed.returncode == 0, f"healthcheck --host [::1]: {bracketed}")
    check(code == 0, f"exit {code}")


@test
def test_healthcheck_nothing_listening(env):
    r = env.run("healthcheck", "--port", str(free_port()), timeout=10)
    check(r.returncode == 1 and "not ready" in r.stderr, f"nothing listening: {r}")


@test
def test_healthcheck_answers_other_than_200(env):
    cases = (
        (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", "503"),
        (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", "500"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "no HTTP status"),
        (b"SSH-2.0-OpenSSH_9.2\r\n", "no HTTP status"),
        (b"", "no HTTP status"),
    )
    for reply, said in cases:
        fake = FakeServer(reply)
        try:
            r = env.run("healthcheck", "--port", str(fake.port), timeout=10)
        finally:
            fake.close()
        check(r.returncode == 1 and said in r.stderr, f"answer {reply!r}: {r}")
        first = fake.requests[0].split(b"\r\n", 1)[0] if fake.requests else b""
        check(first == b"GET /readyz HTTP/1.1", f"request line sent: {first!r}")
    fake = FakeServer(b"HTTP/1.0 200 OK\r\n\r\n")
    try:
        r = env.run("healthcheck", "--port", str(fake.port), timeout=10)
    finally:
        fake.close()
    check(r.returncode == 0, f"an HTTP/1.0 200 is ready: {r}")


@test
def test_healthcheck_fails_while_the_server_drains(env):
    s = Server(env, env.db(), args=("--drain-grace", "2"))
    ready = s.wait_ready()
    before = env.run("healthcheck", "--port", str(s.port), timeout=10) if ready else None
    if ready:
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
    during = env.run("healthcheck", "--port", str(s.port), timeout=10) if ready else None
    code, err = s.stop()
    check(ready, f"server did not start: {err[-300:]}")
    check(before.returncode == 0, f"healthcheck before SIGTERM: {before}")
    check(during.returncode == 1 and "503" in during.stderr,
          f"healthcheck in the drain grace should see /readyz 503: {during}")
    check(code == 0, f"exit {code}")


@test
def test_healthcheck_gives_up_on_a_silent_server(env):
    fake = FakeServer(None)
    t0 = time.time()
    try:
        r = env.run("healthcheck", "--port", str(fake.port), timeout=15)
    finally:
        took = time.time() - t0
        fake.close()
    check(r.returncode == 1 and "timed out" in r.stderr, f"silent server: {r}")
    check(2.5 <= took < 5, f"gave up after {took:.1f} s, not about 3 s")


@test
def test_healthcheck_bad_command_lines(env):
    for args in (["healthcheck", "--host", "localhost.invalid"], ["healthcheck", "--port", "0"],
                 ["healthcheck", "--host"], ["healthcheck", "--bind", "127.0.0.1"]):
        r = env.run(*args, timeout=10)
        check(r.returncode == 2 and r.stderr.startswith("newsstand: "), f"{args}: {r}")


def hammer(port, stop_at, results, lock):
    """Keep-alive GETs until stop_at; records ('ok'|'refused'|'cut', detail)."""
    conn = None
    while time.time() < stop_at:
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/v1/articles?limit=20")
            r = conn.getresponse()
            body = r.read()  # raises IncompleteRead when a response is cut short
            declared = int(r.getheader("Content-Length", "-1"))
            if r.status != 200 or len(body) != declared:
                outcome = ("cut", f"status {r.status}, {len(body)} of {declared} bytes")
            else:
                json.loads(body)
                outcome = ("ok", "")
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except http.client.IncompleteRead as e:
            outcome = ("cut", f"incomplete read: {e!r}")
            conn = None
        except ValueError as e:
            outcome = ("cut", f"bad JSON: {e!r}")
            conn = None
        except (ConnectionError, http.client.RemoteDisconnected, socket.timeout, OSError):
            # Not served at all: refused after the stop, or an idle keep-alive
            # connection closed by the server. Never a partial answer.
            outcome = ("refused", "")
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.01)
        with lock:
            results.append(outcome)
    if conn is not None:
        conn.close()


def graceful_stop(env, sig):
    db = env.db()
    check(env.run("import", FIXTURE, "--db", db).returncode == 0, "import")
    s = Server(env, db, args=("--rate-limit", "0"))  # eight hammering threads, one address
    check(s.wait_ready(), "server did not start")
    results, lock = [], threading.Lock()
    stop_at = time.time() + 2.0
    threads = [threading.Thread(target=hammer, args=(s.port, stop_at, results, lock))
               for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.7)
    with lock:
        served_before = sum(1 for o, _ in results if o == "ok")
    t0 = time.time()
    code, err = s.stop(sig)
    stopped_in = time.time() - t0
    for t in threads:
        t.join(10)
    cut = [d for o, d in results if o == "cut"]
    check(served_before > 0, "no request was served before the stop")
    check(not cut, f"{len(cut)} responses cut short or broken during the stop: {cut[:3]}")
    check(code == 0, f"exit status after {sig.name}: {code}; stderr: {err[-500:]}")
    check(stopped_in < 12, f"stop took {stopped_in:.1f} s")
    check("draining" in err and "stopped" in err, f"no drain messages: {err[-300:]}")
    no_sanitizer_report(err)


@test
def test_sigterm_drains_without_cutting_responses(env):
    graceful_stop(env, signal.SIGTERM)


@test
def test_sigint_stops_gracefully(env):
    graceful_stop(env, signal.SIGINT)


@test
def test_clean_stop_leaves_no_wal_or_shm(env):
    """Every worker's connection closes at a clean stop, and the last close checkpoints and removes
    the -wal and -shm files. Closed by exiting threads all at once, each connection could find the
    others still open and keep them; a -wal or -shm left by one user stops another user's server
    from writing. Several stops, each after reads that open every worker's connection."""
    db = env.db()
    r = env.run("migrate", "--db", db)
    check(r.returncode == 0, f"migrate: {r.stderr}")
    for n in range(12):
        s = Server(env, db, args=("--threads", "4"))
        check(s.wait_ready(), f"stop {n}: the server did not start")
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda i: get(s.port, f"/v1/articles?limit={1 + i % 5}")[0], range(32)))
            made = list(pool.map(lambda i: sign_up(s.port, f"settle-{n}-{i}@example.org"), range(4)))
        check(statuses == [200] * 32, f"stop {n}: reads {sorted(set(statuses))}")
        check(made == [201] * 4, f"stop {n}: sign-ups {made}")
        code, err = s.stop()
        check(code == 0, f"stop {n}: exit status {code}: {err[-500:]}")
        left = [suffix for suffix in ("-wal", "-shm") if os.path.exists(db + suffix)]
        check(not left, f"stop {n}: a clean stop left {left} behind")


def sign_up(port, email):
    body = json.dumps({"email": email, "password": "correct horse battery staple", "name": "Settle"})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("POST", "/v1/users", body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()


def half_sent_signup(port):
    """A POST /v1/users whose head and half its body are sent; returns (socket, rest)."""
    body = json.dumps({"email": f"drain-{time.time_ns()}@example.org",
                       "password": "correct horse battery staple", "name": "Drain"}).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10])
    return sock, body[10:]


def read_response(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"content-length: *(\d+)", head, re.I)
            if m and len(rest) >= int(m.group(1)):
                return data


@test
def test_drain_grace_readyz_503_while_still_serving(env):
    db = env.db()
    check(env.run("import", FIXTURE, "--db", db).returncode == 0, "import")
    s = Server(env, db, args=("--drain-grace", "2"))
    check(s.wait_ready(), "server did not start")
    sock, rest = half_sent_signup(s.port)  # a request in flight across the whole stop
    check(get(s.port, "/readyz")[0] == 200, "ready before the signal")
    t0 = time.time()
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    status, headers, body = get(s.port, "/readyz")
    check(status == 503, f"/readyz while draining: {status}")
    check(headers.get("content-type") == "application/problem+json", f"503 type: {headers}")
    check(headers.get("retry-after", "").isdigit(), f"503 without Retry-After: {headers}")
    status, _, body = get(s.port, "/v1/articles?limit=1")
    check(status == 200 and json.loads(body)["data"], f"reads still served in the grace: {status}")
    sock.sendall(rest)
    answer = read_response(sock)
    sock.close()
    check(answer.startswith(b"HTTP/1.1 201"), f"in-flight sign-up lost: {answer[:200]!r}")
    try:
        s.proc.wait(timeout=12)  # no second signal: that would cut the grace short
    except subprocess.TimeoutExpired:
        pass
    took = time.time() - t0
    code, err = s.stop()
    check(code == 0, f"exit {code}: {err[-300:]}")
    check(1.8 <= took < 12, f"stopped {took:.1f} s after SIGTERM with a 2 s grace")
    try:
        get(s.port, "/readyz")
        check(False, "still answering after exit")
    except OSError:
        pass
    no_sanitizer_report(err)


@test
def test_sigterm_waits_for_a_request_still_uploading(env):
    db = env.db()
    s = Server(env, db)
    check(s.wait_ready(), "server did not start")
    sock, rest = half_sent_signup(s.port)
    time.sleep(0.2)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    check(s.proc.poll() is None, "exited with a request in flight")
    try:
        get(s.port, "/readyz")
        check(False, "a new connection was served after SIGTERM (no grace)")
    except OSError:
        pass
    sock.sendall(rest)
    answer = read_response(sock)
    sock.close()
    check(answer.startswith(b"HTTP/1.1 201"), f"in-flight sign-up lost: {answer[:200]!r}")
    check(b"connection: close" in answer.lower(), "a draining answer closes its connection")
    code, err = s.stop()
    check(code == 0, f"exit {code}: {err[-300:]}")
    no_sanitizer_report(err)


@test
def test_counts_follow_writes_of_another_process(env):
    """The server reuses a count while the database is unchanged (store_count); a
    `newsstand import` in another process must show in the very next answer."""
    db = env.db()
    check(env.run("import", FIXTURE, "--db", db).returncode == 0, "import")
    s = Server(env, db)
    ready = s.wait_ready()
    paths = ("/v1/articles?limit=1", "/v1/articles?limit=1&q=tram", "/v1/articles?limit=1&section=world")
    before, after = {}, {}
    if ready:
        for _ in range(4):  # both worker threads have counted each query
            for p in paths:
                status, body = get_json("127.0.0.1", s.port, p)
                check(status == 200, f"{p}: {status}")
                before[p] = body["meta"]["total"]
        with open(FIXTURE, encoding="utf-8") as f:
            first = json.loads(f.readline())
        extra = os.path.join(env.tmp, "more.ndjson")
        with open(extra, "w", encoding="utf-8") as f:
            for i in range(3):
                a = dict(first, external_id="memo-%d" % i, url="https://gazette.test.example/memo/%d" % i,
                         headline="Tram line vote %d" % i, section="World")
                f.write(json.dumps(a) + "\n")
        r = env.run("import", extra, "--db", db)
        check(r.returncode == 0, f"second import: {r.stderr}")
        for _ in range(4):
            for p in paths:
                status, body = get_json("127.0.0.1", s.port, p)
                after.setdefault(p, set()).add(body["meta"]["total"])
    code, err = s.stop()
    check(ready, f"server did not start: {err[-300:]}")
    for p in paths:
        check(after.get(p) == {before.get(p, 0) + 3},
              f"{p}: total {before.get(p)} before the import, {after.get(p)} after; expected +3")
    check(code == 0, f"exit {code}")


@test
def test_backup_while_serving(env):
    db = env.db()
    check(env.run("import", FIXTURE, "--db", db).returncode == 0, "import")
    s = Server(env, db)
    ready = s.wait_ready()
    dest = os.path.join(env.tmp, "backup.sqlite")
    r = env.run("backup", dest, "--db", db) if ready else None
    again = env.run("backup", dest, "--db", db) if ready else None
    code, err = s.stop()
    check(ready, f"server did not start: {err[-300:]}")
    check(r.returncode == 0 and os.path.exists(dest), f"backup: {r.stderr}")
    check(again.returncode == 1 and "exists" in again.stderr, "a backup never overwrites a file")
    check(env.run("check", "--db", dest).returncode == 0, "the copy passes newsstand check")
    def count(path):
        con = sqlite3.connect(path)
        try:
            return con.execute("SELECT count(*) FROM articles").fetchone()[0]
        finally:
            con.close()
    check(count(dest) == count(db) > 0, f"copy has {count(dest)} articles, original {count(db)}")
    check(code == 0, f"exit {code}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="./newsstand")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="newsstand-life-") as tmp:
        env = Env(binary, tmp)
        for fn in TESTS:
            try:
                fn(env)
                passed += 1
            except Failed as e:
                failed += 1
                print(f"FAIL {fn.__name__}: {e}")
            except Exception as e:  # a broken test is a failure, never a pass
                failed += 1
                print(f"FAIL {fn.__name__}: {type(e).__name__}: {e}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
