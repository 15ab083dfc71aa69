#!/usr/bin/env python3
"""End-to-end tests of newsstand under storage faults, over real HTTP on
loopback: a database another process has locked, a database file that
cannot be written, and a full disk. Under each, every write is refused with a
clean 503 and a Retry-After (never a crash, a hang or a half-written
article), reads keep answering, and once the fault clears the same server
takes writes again; every write it acknowledged is there, whole, and
`newsstand check` passes.

A fault is made for real or the test is not counted as passed: where this
machine cannot make it one way (mounting needs CAP_SYS_ADMIN, chattr +i
needs CAP_LINUX_IMMUTABLE and an ext4-like file system, a read-only file
needs a server that is not root) the test says SKIP and why; when no way of
making a read-only file works at all, that is a failure.

Usage: python3 tests/e2e/faults.py [--bin ./newsstand] [-v]
Prints a line per failure (and per skip) and closes with `N passed, N failed`.
Python 3 standard library only; every wait is bounded.
"""

import argparse
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import faultlib as fl
from harness import T, TestFailure, short

TESTS = []
WRITE_WAIT_S = 2.0  # src/api/writes.c WRITE_WAIT_MS: the longest a write waits for a lock
OLD_BUSY_S = 5.0    # what a write used to wait per request, queued behind every other


def test(fn):
    TESTS.append(fn)
    return fn


class Skip(Exception):
    """The fault could not be made this way on this machine: the test did not run."""


class Ctx:
    def __init__(self, binary, tmp, verbose):
        self.bin, self.tmp, self.verbose = binary, tmp, verbose
        self.rng = random.Random(9)
        self.n = 0
        self.figures = {"faults injected": 0, "faults recovered": 0, "writes refused with 503": 0,
                        "acknowledged writes verified": 0}

    def workdir(self):
        self.n += 1
        d = os.path.join(self.tmp, f"w{self.n}")
        os.mkdir(d)
        return d

    def note(self, msg):
        if self.verbose:
            print(f"     {msg}", flush=True)


def require_503(t, r, what):
    t.require(r.status is not None, f"{what}: the connection failed ({r.body!r}): did the server crash?")
    t.require(r.status == 503, f"{what}: expected 503, got {r.status}: {short(r.body)}")
    ra = r.header("Retry-After") or ""
    t.check(ra.isdigit() and int(ra) >= 1, f"{what}: 503 without a Retry-After in seconds: {ra!r}")
    ct = (r.header("Content-Type") or "").split(";")[0]
    t.check(ct == "application/problem+json", f"{what}: Content-Type {ct!r}")
    j = r.json() or {}
    t.check(j.get("status") == 503, f"{what}: problem body {short(r.body)}")
    for leak in ("sqlite", "SQLITE", "/tmp", ".db", "disk I/O"):
        t.check(leak not in r.body.decode("utf-8", "replace"), f"{what}: the body leaks {leak!r}: {short(r.body)}")


def reads_work(t, port, acked, what):
    """Every acknowledged article reads back, and its word finds it; health answers."""
    t.eq(fl.call(port, "GET", "/healthz").status, 200, f"{what}: /healthz")
    r = fl.call(port, "GET", "/v1/articles?limit=5")
    t.eq(r.status, 200, f"{what}: GET /v1/articles")
    for ext, (aid, doc, word) in list(acked.items())[:6]:
        r = fl.call(port, "GET", f"/v1/articles/{aid}")
        t.check(r.status == 200 and (r.json() or {}).get("headline") == doc["headline"],
                f"{what}: GET /v1/articles/{aid}: {r}")
        t.check(fl.search_ids(port, word) == [aid], f"{what}: search for {ext}'s word finds "
                                                    f"{fl.search_ids(port, word)}, not [{aid}]")


def write_attempts(ctx, port, key, acked, tag):
    """A POST, a PATCH, a DELETE and a streamed import: [(label, thunk giving a Reply)],
    and the articles (external id, word) that must not exist unless acknowledged."""
    word = fl.unique_word(ctx.rng)
    doc = fl.article(ctx.rng, f"refused-{tag}-{word[1:7]}", word)
    w2 = fl.unique_word(ctx.rng)
    line = fl.article(ctx.rng, f"refused-import-{tag}-{w2[1:7]}", w2)
    aid = next(iter(acked.values()))[0]
    attempts = [
        ("POST /v1/articles", lambda: fl.call(port, "POST", "/v1/articles", doc, key=key)),
        (f"PATCH /v1/articles/{aid}",
         lambda: fl.call(port, "PATCH", f"/v1/articles/{aid}", {"headline": "Never stored"}, key=key)),
        (f"DELETE /v1/articles/{aid}", lambda: fl.call(port, "DELETE", f"/v1/articles/{aid}", key=key)),
        ("POST /v1/import", lambda: fl.stream_import(port, key, [line])[0]),
    ]
    return attempts, [(doc["external_id"], word), (line["external_id"], w2)]


def make_reader(t, ctx, port):
    """A reader account made while the database is writable: {email, password, token, name}."""
    n = ctx.rng.randrange(10**9)
    rd = {"email": f"fault.reader.{n}@faults.example", "password": f"pw-fault-reader-{n}", "name": "Fault Reader"}
    r = fl.call(port, "POST", "/v1/users", {"email": rd["email"], "password": rd["password"], "name": rd["name"]})
    t.require(r.status == 201, f"sign-up before the fault: {r}")
    rd["token"] = (r.json() or {}).get("token")
    return rd


def reader_attempts(ctx, port, rd, acked):
    """A reader's writes: sign-up, sign-in (a session row), a bookmark, a profile change."""
    n = ctx.rng.randrange(10**9)
    aid = next(iter(acked.values()))[0]
    newcomer = {"email": f"fault.newcomer.{n}@faults.example", "password": f"pw-newcomer-{n}", "name": "New"}
    rd.setdefault("refused_emails", []).append(newcomer["email"])
    return [
        ("POST /v1/users", lambda: fl.call(port, "POST", "/v1/users", newcomer)),
        ("POST /v1/sessions", lambda: fl.call(port, "POST", "/v1/sessions",
                                              {"email": rd["email"], "password": rd["password"]})),
        (f"PUT /v1/me/bookmarks/{aid}", lambda: fl.call(port, "PUT", f"/v1/me/bookmarks/{aid}", key=rd["token"])),
        ("PATCH /v1/me", lambda: fl.call(port, "PATCH", "/v1/me", {"name": "Never Stored"}, key=rd["token"])),
    ]


def reader_untouched(t, port, rd, what):
    """After the fault: the reader's refused writes left nothing, and the account works."""
    me = fl.call(port, "GET", "/v1/me", key=rd["token"])
    t.require(me.status == 200, f"{what}: the reader's token after the fault: {me}")
    t.eq((me.json() or {}).get("name"), rd["name"], f"{what}: the reader's name (the refused PATCH)")
    marks = fl.call(port, "GET", "/v1/me/bookmarks", key=rd["token"])
    t.eq((marks.json() or {}).get("data"), [], f"{what}: the reader's bookmarks (the refused PUT)")
    for email in rd.get("refused_emails", []):
        r = fl.call(port, "POST", "/v1/sessions", {"email": email, "password": "pw-anything-1"})
        t.eq(r.status, 401, f"{what}: signing in as {email}, whose sign-up was refused")


def writes_refused(t, ctx, port, key, acked, what, reader=None):
    """POST, PATCH, DELETE and a streamed import during the fault, and a reader's writes when
    a reader is given (read-only faults only: on a full disk a small write may still fit in
    the file's free pages, and succeed): each a clean 503."""
    attempts, refused = write_attempts(ctx, port, key, acked, str(ctx.n))
    if reader:
        attempts += reader_attempts(ctx, port, reader, acked)
    for label, thunk in attempts:
        require_503(t, thunk(), f"{what}: {label}")
    ctx.figures["writes refused with 503"] += len(attempts)
    return refused


def post_acked(t, ctx, port, key, acked, filler=0, tag="a"):
    """Posts a new article; records it in acked when the server says 201. Returns the reply."""
    word = fl.unique_word(ctx.rng)
    ext = f"{tag}-{len(acked)}-{word[1:7]}"
    doc = fl.article(ctx.rng, ext, word, filler=filler)
    r = fl.call(port, "POST", "/v1/articles", doc, key=key)
    if r.status == 201:
        acked[ext] = ((r.json() or {}).get("id"), doc, word)
    return r, ext, word


def verify_file(t, ctx, db, acked, refused):
    """Straight from the file: acknowledged articles whole, refused ones absent, nothing orphaned."""
    con = fl.sqlite_open(db)
    try:
        for ext, (aid, doc, word) in acked.items():
            bad = fl.whole_problems(con, ext, doc, word)
            t.check(not bad, f"acknowledged article {ext} is not whole in the file: {bad}")
            ctx.figures["acknowledged writes verified"] += 1
        for ext, word in refused:
            t.check(fl.stored_article(con, ext) is None, f"refused article {ext} was stored")
            hits = con.execute("SELECT count(*) FROM article_search WHERE article_search MATCH ?",
                               (word,)).fetchone()[0]
            t.check(hits == 0, f"refused article {ext}'s word is in the search index")
        for o in fl.orphans(con):
            t.check(False, f"the file has {o}")
    finally:
        con.close()
    ok, out = fl.check_database(ctx.bin, db)
    t.check(ok, f"newsstand check after the fault: {out}")


def stop_clean(t, srv, what):
    code, err = srv.stop()
    t.eq(code, 0, f"{what}: exit status after SIGTERM")
    rep = fl.sanitizer_report(err)
    t.check(rep is None, f"{what}: sanitizer report: {rep}")
    return err


# ---------------------------------------------------------------- a locked database

@test
def test_locked_database(t, ctx):
    """Another process holds the write lock longer than any write waits: writes get a 503
    within WRITE_WAIT_S (not OLD_BUSY_S each, queued), reads keep answering, and writes
    succeed the moment the lock is gone."""
    d = ctx.workdir()
    db = os.path.join(d, "locked.db")
    key = fl.make_database(ctx.bin, db)
    # more workers than writes: each write blocks the worker it lands on, and a free
    # worker must be there to show that reads do not wait for the lock
    srv = fl.Server(ctx.bin, db, threads=10, access_log=True)
    try:
        t.require(srv.wait_ready(), f"server did not start: {srv.stderr()[-500:]}")
        acked = {}
        for _ in range(3):
            r, ext, _ = post_acked(t, ctx, srv.port, key, acked)
            t.require(r.status == 201, f"POST before the lock: {r}")

        attempts, refused = [], []
        for n in range(2):
            more, gone = write_attempts(ctx, srv.port, key, acked, f"locked{n}")
            attempts += more
            refused += gone
        holder = sqlite3.connect(db, timeout=10, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE settings SET value = value WHERE key = 'cursor_key'")
        ctx.figures["faults injected"] += 1
        writes, reads = [], []  # 8 writes, on 8 of the 10 workers
        lock = threading.Lock()
        writing = threading.Event()

        def attempt(label, thunk):
            r = thunk()
            with lock:
                writes.append((label, r))

        def reader():
            aid, _, word = next(iter(acked.values()))
            while writing.is_set():
                for path in (f"/v1/articles/{aid}", "/v1/articles?limit=3", f"/v1/articles?q={word}"):
                    r = fl.call(srv.port, "GET", path)
                    with lock:
                        reads.append((path, r))

        writing.set()
        started = time.monotonic()
        threads = [threading.Thread(target=attempt, args=a) for a in attempts]
        rd = threading.Thread(target=reader)
        rd.start()
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        writing.clear()
        rd.join(timeout=30)
        held = time.monotonic() - started
        holder.execute("ROLLBACK")
        holder.close()

        for label, r in writes:
            require_503(t, r, f"{label} during the lock")
        ctx.figures["writes refused with 503"] += len(writes)
        # how long the server spent on each (a request waits for its worker besides)
        spent = [e.get("duration_ms", 0) / 1000 for e in srv.access_log()
                 if e.get("status") == 503 and e.get("method") in ("POST", "PATCH", "DELETE")]
        t.check(len(spent) == len(writes), f"the access log has {len(spent)} refused writes, "
                                           f"not {len(writes)}")
        # a worker may take up a second request between the head and the body of a first,
        # and that one's wait then counts in the first's time: hence the median, and a cap
        spent.sort()
        median = spent[len(spent) // 2] if spent else 0.0
        t.check(median < WRITE_WAIT_S + 0.5,
                f"writes waited {median:.2f}s (median) for the lock, not {WRITE_WAIT_S}s at most")
        # libmicrohttpd spreads connections over its workers as they come, so on a busy
        # machine two or three of the eight can share one and wait out each other's wait;
        # written one after another they would take 8 x WRITE_WAIT_S (and did 8 x OLD_BUSY_S)
        t.check(max(spent, default=0) < 3 * WRITE_WAIT_S + 0.5,
                f"a write took {max(spent, default=0):.2f}s against the lock")
        t.check(held < 3 * WRITE_WAIT_S + 1.0,
                f"8 writes against a lock took {held:.1f}s all told, not the {WRITE_WAIT_S}s each "
                f"waits side by side ({8 * WRITE_WAIT_S:.0f}s if they queued for the lock)")
        slow = max((r.seconds for _, r in reads), default=0.0)
        t.check(reads, "no read was tried during the lock")
        for path, r in reads:
            t.check(r.status == 200, f"GET {path} during the lock: {r}")
        # a worker can accept a read and a write together and serve the write first, so one
        # read may wait out a write's wait; but reads as such must not wait for the lock
        times = sorted(r.seconds for _, r in reads)
        median = times[len(times) // 2] if times else 0.0
        t.check(median < WRITE_WAIT_S / 4, f"reads during the lock took {median:.2f}s (median): "
                                           f"reads must not wait for the write lock")
        t.check(slow < 2 * WRITE_WAIT_S + 0.5, f"a read during the lock took {slow:.2f}s")
        ctx.note(f"lock held {held:.1f}s: {len(writes)} writes refused (slowest "
                 f"{max(r.seconds for _, r in writes):.2f}s), {len(reads)} reads answered "
                 f"(median {median:.3f}s, slowest {slow:.2f}s)")

        r, ext, _ = post_acked(t, ctx, srv.port, key, acked)
        t.require(r.status == 201, f"POST after the lock was released: {r}")
        ctx.figures["faults recovered"] += 1
        reads_work(t, srv.port, acked, "after the lock")
    finally:
        stop_clean(t, srv, "locked")
    verify_file(t, ctx, db, acked, refused)


@test
def test_lock_held_by_a_cli_import_waits_not_fails(t, ctx):
    """A short lock (shorter than the write wait) delays a write; it does not refuse it."""
    d = ctx.workdir()
    db = os.path.join(d, "short.db")
    key = fl.make_database(ctx.bin, db)
    srv = fl.Server(ctx.bin, db)
    try:
        t.require(srv.wait_ready(), f"server did not start: {srv.stderr()[-500:]}")
        acked = {}
        holder = sqlite3.connect(db, timeout=10, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        timer = threading.Timer(WRITE_WAIT_S / 3, lambda: holder.execute("COMMIT"))
        timer.start()
        r, _, _ = post_acked(t, ctx, srv.port, key, acked)
        timer.join()
        holder.close()
        t.check(r.status == 201, f"a write that waited {WRITE_WAIT_S / 3:.1f}s for a lock: {r}")
        t.check(r.seconds >= WRITE_WAIT_S / 3 - 0.1, f"the write did not wait for the lock ({r.seconds:.2f}s)")
    finally:
        stop_clean(t, srv, "short lock")
    verify_file(t, ctx, db, acked, [])


# ---------------------------------------------------------------- a read-only file

def mount_works():
    probe = tempfile.mkdtemp(prefix="mount-probe-")
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], capture_output=True)
        if r.returncode != 0:
            return False, (r.stderr.decode(errors="replace").strip() or "mount failed")
        subprocess.run(["umount", probe], capture_output=True)
        return True, ""
    except OSError as e:
        return False, str(e)
    finally:
        os.rmdir(probe)


def sh(*cmd):
    try:
        r = subprocess.run(list(cmd), capture_output=True, text=True)
    except OSError as e:  # the command is not installed
        raise Skip(f"{cmd[0]}: {e}") from e
    if r.returncode != 0:
        raise Skip(f"{' '.join(cmd)}: {r.stderr.strip() or r.returncode}")


def read_only_bind_mount(ctx, d, db):
    ok, why = mount_works()
    if not ok:
        raise Skip(f"cannot mount here ({why})")
    sh("mount", "--bind", db, db)
    try:
        sh("mount", "-o", "remount,bind,ro", db)
    except Skip:
        subprocess.run(["umount", "-l", db], capture_output=True)
        raise
    # the server's descriptors keep the mount busy: the fault clears by remounting it writable
    return None, lambda: sh("mount", "-o", "remount,bind,rw", db), lambda: None


def read_only_immutable(ctx, d, db):
    sh("chattr", "+i", db)
    undo = lambda: subprocess.run(["chattr", "-i", db], capture_output=True)  # noqa: E731
    return None, lambda: sh("chattr", "-i", db), undo


def read_only_permissions(ctx, d, db):
    os.chmod(db, 0o444)
    if os.geteuid() != 0:
        return None, lambda: os.chmod(db, 0o644), lambda: os.chmod(db, 0o644)
    # root writes any file: run the server as nobody, from a copy nobody may execute
    binary = os.path.join(d, "newsstand-copy")
    shutil.copy(ctx.bin, binary)
    os.chmod(binary, 0o755)
    os.chmod(d, 0o777)
    os.chmod(os.path.dirname(d), 0o755)
    ctx.bin_override = binary

    def as_nobody():
        os.setgid(65534)
        os.setuid(65534)
    return as_nobody, lambda: os.chmod(db, 0o666), lambda: os.chmod(db, 0o644)


READ_ONLY_WAYS = {}


def read_only_test(name, make):
    def run(t, ctx):
        d = ctx.workdir()
        db = os.path.join(d, "ro.db")
        key = fl.make_database(ctx.bin, db)
        acked = {}
        # a few articles while the file is writable
        srv = fl.Server(ctx.bin, db)
        try:
            t.require(srv.wait_ready(), f"server did not start: {srv.stderr()[-500:]}")
            for _ in range(3):
                r, _, _ = post_acked(t, ctx, srv.port, key, acked)
                t.require(r.status == 201, f"POST before the fault: {r}")
            reader = make_reader(t, ctx, srv.port)
        finally:
            stop_clean(t, srv, f"{name}: before the fault")
        ctx.bin_override = None
        preexec, clear, undo = make(ctx, d, db)
        READ_ONLY_WAYS[name] = "ran"
        ctx.figures["faults injected"] += 1
        binary = ctx.bin_override or ctx.bin
        srv = fl.Server(binary, db, preexec=preexec)
        refused, cleared = [], False
        try:
            t.require(srv.wait_ready(), f"server did not start on a read-only file: {srv.stderr()[-800:]}")
            probe = fl.call(srv.port, "POST", "/v1/articles",
                            fl.article(ctx.rng, "probe-" + name, fl.unique_word(ctx.rng)), key=key)
            t.require(probe.status == 503, f"the file is not read-only to the server ({name}): POST got {probe}")
            refused.append(("probe-" + name, "qqqqqqqqqqqq"))
            reads_work(t, srv.port, acked, f"{name}: read-only")
            refused += writes_refused(t, ctx, srv.port, key, acked, f"{name}: read-only", reader)
            t.check(srv.alive(), f"{name}: the server died during the fault")
            clear()
            cleared = True
            r, _, _ = post_acked(t, ctx, srv.port, key, acked)
            if r.status == 503 and name == "permissions":
                # SQLite's -shm node is shared by the process's connections and was opened
                # read-only: this server stays read-only; a restarted one must write again
                ctx.note(f"{name}: the running server still refuses writes; restarting it")
                stop_clean(t, srv, f"{name}: still read-only")
                srv = fl.Server(binary, db, preexec=preexec)
                t.require(srv.wait_ready(), f"server did not restart: {srv.stderr()[-800:]}")
                r, _, _ = post_acked(t, ctx, srv.port, key, acked)
                ctx.figures["read-only recoveries that needed a restart"] = \
                    ctx.figures.get("read-only recoveries that needed a restart", 0) + 1
            t.require(r.status == 201, f"{name}: POST after the file is writable again: {r}")
            aid = r.json()["id"]
            r = fl.call(srv.port, "PATCH", f"/v1/articles/{aid}", {"standfirst": "Patched after the fault."}, key=key)
            t.check(r.status == 200, f"{name}: PATCH after the fault: {r}")
            acked_doc = [v for v in acked.values() if v[0] == aid][0][1]
            acked_doc["standfirst"] = "Patched after the fault."
            reader_untouched(t, srv.port, reader, f"{name}: after the fault")
            ctx.figures["faults recovered"] += 1
            reads_work(t, srv.port, acked, f"{name}: after the fault")
        finally:
            if not cleared:
                undo()
            stop_clean(t, srv, name)
            if name == "bind_mount":
                subprocess.run(["umount", "-l", db], capture_output=True)
        verify_file(t, ctx, db, acked, refused)
    run.__name__ = f"test_read_only_file_{name}"
    return run


for _name, _make in (("bind_mount", read_only_bind_mount), ("immutable", read_only_immutable),
                     ("permissions", read_only_permissions)):
    test(read_only_test(_name, _make))


@test
def test_read_only_made_somehow(t, ctx):
    """At least one way of making the file read-only worked: else nothing was tested."""
    t.check(READ_ONLY_WAYS, "no way of making a read-only database file worked on this machine")


# ---------------------------------------------------------------- a full disk

def disk_full_test(t, ctx, d, db, key, srv_factory, clear, name):
    acked, refused = {}, []
    srv = srv_factory()
    cleared = False
    try:
        t.require(srv.wait_ready(), f"server did not start: {srv.stderr()[-800:]}")
        full = None
        for i in range(400):
            r, ext, word = post_acked(t, ctx, srv.port, key, acked, filler=1500, tag="full")
            if r.status == 201:
                continue
            t.require(r.status is not None, f"POST {i} while filling the disk: the connection failed: "
                                            f"did the server crash? {srv.stderr()[-800:]}")
            require_503(t, r, f"{name}: POST {i} on a full disk")
            refused.append((ext, word))
            full = i
            break
        t.require(full is not None, f"{name}: 400 articles and the disk never filled: no fault was made")
        t.require(acked, f"{name}: the very first write failed; the disk was full before the test")
        ctx.figures["faults injected"] += 1
        ctx.note(f"{name}: full after {len(acked)} acknowledged articles")
        for _ in range(3):
            r, ext, word = post_acked(t, ctx, srv.port, key, acked, filler=1500, tag="full")
            if r.status != 201:
                require_503(t, r, f"{name}: POST on a full disk")
                refused.append((ext, word))
        refused += writes_refused(t, ctx, srv.port, key, acked, name)
        reads_work(t, srv.port, acked, f"{name}: disk full")
        t.check(srv.alive(), f"{name}: the server died on a full disk: {srv.stderr()[-800:]}")
        clear(srv)
        cleared = True
        for _ in range(3):
            r, _, _ = post_acked(t, ctx, srv.port, key, acked, filler=1500, tag="after")
            t.require(r.status == 201, f"{name}: POST once there is room again (same server): {r}")
        ctx.figures["faults recovered"] += 1
        reads_work(t, srv.port, acked, f"{name}: after the fault")
    finally:
        if not cleared:
            try:
                clear(srv)
            except Exception:  # noqa: BLE001 - the test failed already; free the disk regardless
                pass
        stop_clean(t, srv, name)
    verify_file(t, ctx, db, acked, refused)


@test
def test_disk_full_tmpfs(t, ctx):
    """The database on a small tmpfs: a real ENOSPC (SQLITE_FULL)."""
    ok, why = mount_works()
    if not ok:
        raise Skip(f"cannot mount a tmpfs here ({why}); test_disk_full_file_size_limit makes the fault")
    d = ctx.workdir()
    db = os.path.join(d, "full.db")
    stage = os.path.join(ctx.tmp, "stage.db")
    key = fl.make_database(ctx.bin, stage)
    size_kb = os.path.getsize(stage) // 1024 + 700
    sh("mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", d)
    try:
        shutil.copy(stage, db)

        def clear(srv):
            sh("mount", "-o", "remount,size=64m", d)
        disk_full_test(t, ctx, d, db, key, lambda: fl.Server(ctx.bin, db), clear, "tmpfs")
    finally:
        subprocess.run(["umount", "-l", d], capture_output=True)


@test
def test_disk_full_file_size_limit(t, ctx):
    """RLIMIT_FSIZE (SIGXFSZ ignored) on the server: writes past the limit fail with EFBIG;
    raising the limit on the running server (prlimit) clears the fault. Needs no privilege."""
    d = ctx.workdir()
    db = os.path.join(d, "fsize.db")
    key = fl.make_database(ctx.bin, db)
    limit = os.path.getsize(db) + 600 * 1024

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    def clear(srv):
        resource.prlimit(srv.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    disk_full_test(t, ctx, d, db, key, lambda: fl.Server(ctx.bin, db, preexec=limited), clear, "file size limit")


# ---------------------------------------------------------------- runner

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="./newsstand")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-k", help="run only tests whose name contains this")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    passed = failed = skipped = 0
    tmp = tempfile.mkdtemp(prefix="newsstand-faults-")
    try:
        ctx = Ctx(binary, tmp, args.verbose)
        for fn in TESTS:
            if args.k and args.k not in fn.__name__:
                continue
            t = T(fn.__name__)
            start = time.monotonic()
            try:
                fn(t, ctx)
            except Skip as e:
                skipped += 1
                print(f"SKIP {fn.__name__}: not run: {e}", flush=True)
                continue
            except TestFailure as e:
                t.failures.append(str(e))
            except Exception as e:  # a crash in a test is a failure of that test
                t.failures.append(f"exception {type(e).__name__}: {e}")
            for f in t.failures[:12]:
                print(f"FAIL {fn.__name__}: {f}", flush=True)
            if t.failures:
                failed += 1
            else:
                passed += 1
                if args.verbose:
                    print(f"ok   {fn.__name__} ({time.monotonic() - start:.2f}s)", flush=True)
        figures = ", ".join(f"{v} {k}" for k, v in ctx.figures.items())
        print(f"faults: {figures}; {skipped} ways of making a fault not available here (SKIP above)")
    finally:
        subprocess.run(["chattr", "-R", "-i", tmp], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
