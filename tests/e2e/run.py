#!/usr/bin/env python3
"""End-to-end tests for newsstand: drive the real binary over the CLI and HTTP.

Usage (from the top of the repository):

    python3 tests/e2e/run.py [--bin ./newsstand] [--keep] [--verbose]

What it does, in order:
  1. imports tests/e2e/fixtures/articles.ndjson into a fresh database in a temp
     dir, imports it again (everything must be `unchanged`), then imports
     tests/e2e/fixtures/bad.ndjson (bad lines reported by number on stderr, the
     good ones go in);
  2. starts `newsstand serve` on a free port and runs the HTTP tests against it
     (contract: /work/shared/API.md; decisions where it is silent: the design
     notes for issue 2);
  3. sends SIGTERM, expects exit status 0 within 10 s and no sanitizer report.

Expectations are computed from a small model of the fixture files (see Model),
never from the server's own answers, except for ids and slugs, which the
server assigns and the model then learns (Ctx.sync).

Every test is a named function taking (t, ctx). `t.check(...)` records a
failure and lets the test go on; `t.require(...)` records it and stops that
test. Failures print one line each; the last line is `N passed, N failed`;
the exit status is 1 when anything failed.

Python 3 standard library only.
"""

import argparse
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unicodedata
import urllib.parse
from datetime import datetime, timedelta, timezone
from harness import (
    run_phases,
    server_env,
    TESTS, register_shutdown_tests, TestFailure, test, free_port, parse_time, fmt_time,
    reported_lines,
    front_with_proxy, finish_proxy, summary, NO_PROXY_HEAD, NO_PROXY_RAW,
)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURE = os.path.join(HERE, "fixtures", "articles.ndjson")
BAD_FIXTURE = os.path.join(HERE, "fixtures", "bad.ndjson")

HOST = "127.0.0.1"
PROBLEM_BASE = "https://newsstand.dev/problems/"
PROBLEM_SLUG = {400: "invalid-parameter", 401: "unauthorized", 403: "forbidden",
                404: "not-found", 405: "method-not-allowed", 409: "conflict",
                413: "payload-too-large", 415: "unsupported-media-type",
                422: "validation-failed", 429: "too-many-requests",
                500: "internal", 503: "unavailable"}
SUMMARY_KEYS = {"id", "slug", "headline", "standfirst", "url", "publication", "section",
                "authors", "image", "published_at", "updated_at", "language", "access",
                "word_count", "reading_time_minutes", "topics", "entities"}
FULL_KEYS = SUMMARY_KEYS | {"blocks", "paywall"}
IMAGE_KEYS = {"url", "caption", "credit", "alt", "width", "height"}
PUBLICATION_KEYS = {"id", "slug", "name", "homepage", "country", "language", "article_count"}
AUTHOR_KEYS = {"id", "slug", "name", "publication", "article_count"}
LOCKED_PAYWALL = {"locked": True, "reason": "membership_required", "preview_blocks": 2, "trial_days": 14}
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
STRONG_ETAG = re.compile(r'^"[\x21\x23-\x7e]*"$')
SUMMARY_LINE = re.compile(r"^imported: (\d+) created, (\d+) updated, (\d+) unchanged, (\d+) rejected$")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")
# Words that appear only in blocks 3+ of premium articles: must never reach an anonymous client.
PREMIUM_SECRET = "Kestrelwood"

# bad.ndjson: line number -> words of which at least one must appear in the reason
# (the design: "reason names the field"; invalid JSON says "invalid JSON").
BAD_LINES = {
    2: ["invalid json"],
    3: ["headline"],
    5: ["published_at"],
    6: ["colour"],
    7: ["access"],
    8: ["blocks", "body_text"],
    9: ["duplicate", "headline"],
    12: ["external_id", "url"],
    13: ["url"],
    14: ["language"],
    15: ["block", "type", "video"],
    16: ["image"],
    17: ["authors"],
    18: [""],                      # a JSON array, not an object: any reason
    19: ["headline"],
    20: ["topics"],
    21: ["entities"],
    22: ["publication"],
}
BAD_GOOD_LINES = [1, 10, 11]     # 1 and 10 create, 11 updates fixture article tg-028
BAD_BLANK_LINES = [4]


# ---------------------------------------------------------------- results


class T:
    """Failure collector for one test."""

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


def short(v, n=160):
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str) if not isinstance(v, bytes) else repr(v)
    return s if len(s) <= n else s[:n] + "..."


# ---------------------------------------------------------------- HTTP helpers

class Response:
    def __init__(self, method, path, status, headers, body):
        self.method, self.path, self.status = method, path, status
        self.headers = headers            # list of (name, value)
        self.body = body
        self._json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def label(self):
        return f"{self.method} {short(self.path, 120)}"

    @property
    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise TestFailure(f"{self.label}: body is not JSON ({e}): {short(self.body)}")
        return self._json


def url(path, params=None):
    """path + query; params is a dict or a list of pairs, values are percent-encoded."""
    if not params:
        return path
    items = params.items() if isinstance(params, dict) else params
    return path + "?" + urllib.parse.urlencode(list(items), quote_via=urllib.parse.quote, safe="")


def seg(s):
    """One percent-encoded path segment."""
    return urllib.parse.quote(str(s), safe="")


class Client:
    """One keep-alive HTTP/1.1 connection, reopened (once per request) if the server closed it."""

    def __init__(self, port, timeout=10):
        self.port, self.timeout = port, timeout
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def request(self, method, path, headers=None, body=None, retry=True):
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                return Response(method, path, r.status, r.getheaders(), data)
            except (http.client.RemoteDisconnected, http.client.CannotSendRequest,
                    http.client.ResponseNotReady, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt == 1 or not retry:
                    raise
        raise AssertionError("unreachable")

    def get(self, path, params=None, headers=None):
        return self.request("GET", url(path, params), headers=headers)

    def close(self):
        self.conn.close()


def raw_request(port, request_bytes, head=False, timeout=5):
    """Send raw bytes on a fresh connection; returns (status, headers, body).
    For HEAD (head=True) the body is whatever arrives after the header block:
    it must be empty."""
    s = socket.create_connection((HOST, port), timeout=timeout)
    try:
        s.sendall(request_bytes)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        head_part, _, rest = buf.partition(b"\r\n\r\n")
        lines = head_part.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        headers = []
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers.append((k.strip(), v.strip()))
        if head:
            s.settimeout(0.5)
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
            except socket.timeout:
                pass
            return status, headers, rest
        length = None
        for k, v in headers:
            if k.lower() == "content-length":
                length = int(v)
        while length is not None and len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, headers, rest
    finally:
        s.close()


def hget(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def expect_status(t, r, status):
    return t.check(r.status == status, f"{r.label}: expected {status}, got {r.status}: {short(r.body)}")


def expect_json_ok(t, r):
    """200 with application/json; returns the parsed body or raises TestFailure."""
    t.require(r.status == 200, f"{r.label}: expected 200, got {r.status}: {short(r.body)}")
    ct = (r.header("Content-Type") or "").split(";")[0].strip()
    t.check(ct == "application/json", f"{r.label}: Content-Type {ct!r}, expected application/json")
    return r.json


def expect_problem(t, r, status, field=None, mention=None):
    """r must be an RFC 9457 problem with this status (and, for 400/422, an
    errors entry on `field`; `mention` must appear in detail or a message)."""
    if not t.check(r.status == status, f"{r.label}: expected {status} problem, got {r.status}: {short(r.body)}"):
        return None
    ct = (r.header("Content-Type") or "").split(";")[0].strip()
    t.check(ct == "application/problem+json", f"{r.label}: Content-Type {ct!r}, expected application/problem+json")
    try:
        p = json.loads(r.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        t.check(False, f"{r.label}: problem body is not JSON: {short(r.body)}")
        return None
    if not t.check(isinstance(p, dict), f"{r.label}: problem is not an object"):
        return None
    for k in ("type", "title", "status", "detail", "request_id"):
        t.check(k in p, f"{r.label}: problem lacks {k!r}: {short(p)}")
    slug = PROBLEM_SLUG.get(status)
    if slug:
        t.eq(p.get("type"), PROBLEM_BASE + slug, f"{r.label}: problem type")
    t.eq(p.get("status"), status, f"{r.label}: problem status")
    t.check(isinstance(p.get("title"), str) and p.get("title"), f"{r.label}: problem title must be a non-empty string")
    t.check(isinstance(p.get("detail"), str), f"{r.label}: problem detail must be a string")
    t.eq(p.get("request_id"), r.header("X-Request-Id"), f"{r.label}: problem request_id vs X-Request-Id header")
    cc = r.header("Cache-Control") or ""
    t.check("no-store" in cc, f"{r.label}: error Cache-Control {cc!r} lacks no-store")
    low = r.body.decode("utf-8", "replace").lower()
    for leak in ("sqlite", "select ", "/work/", ".c:", "traceback", "segmentation"):
        t.check(leak not in low, f"{r.label}: problem leaks internals ({leak!r}): {short(r.body)}")
    if status in (400, 422):
        errs = p.get("errors")
        if t.check(isinstance(errs, list) and errs, f"{r.label}: problem lacks a non-empty errors list: {short(p)}"):
            for e in errs:
                t.check(isinstance(e, dict) and isinstance(e.get("field"), str) and isinstance(e.get("message"), str),
                        f"{r.label}: errors entry must be {{field, message}} strings: {short(e)}")
            fields = [e.get("field") for e in errs if isinstance(e, dict)]
            if field is not None:
                t.check(field in fields, f"{r.label}: errors name fields {fields}, expected {field!r}")
    if mention is not None:
        texts = [str(p.get("detail", ""))] + [str(e.get("message", "")) for e in (p.get("errors") or []) if isinstance(e, dict)]
        t.check(any(mention in x for x in texts), f"{r.label}: problem does not name {mention!r}: {short(p)}")
    return p


def check_envelope(t, r, limit, path):
    """The list envelope {data, meta, links}; returns the parsed body."""
    env = expect_json_ok(t, r)
    t.require(isinstance(env, dict), f"{r.label}: list body is not an object")
    t.eq(set(env), {"data", "meta", "links"}, f"{r.label}: envelope keys")
    t.require(isinstance(env.get("data"), list), f"{r.label}: data is not a list")
    meta, links = env.get("meta") or {}, env.get("links") or {}
    t.eq(meta.get("limit"), limit, f"{r.label}: meta.limit")
    t.check(isinstance(meta.get("total"), int) and not isinstance(meta.get("total"), bool) and meta.get("total") >= 0,
            f"{r.label}: meta.total must be a non-negative integer: {short(meta)}")
    t.check("next_cursor" in meta and (meta["next_cursor"] is None or (isinstance(meta["next_cursor"], str) and meta["next_cursor"])),
            f"{r.label}: meta.next_cursor must be a string or null: {short(meta)}")
    t.check("self" in links and "next" in links, f"{r.label}: links must have self and next: {short(links)}")
    t.check(isinstance(links.get("self"), str) and links.get("self", "").startswith(path),
            f"{r.label}: links.self {short(links.get('self'))} is not a relative URL under {path}")
    t.check(len(env["data"]) <= limit, f"{r.label}: {len(env['data'])} items > limit {limit}")
    nc, nx = meta.get("next_cursor"), links.get("next")
    link_hdr = r.header("Link")
    if nc is None:
        t.check(nx is None, f"{r.label}: next_cursor null but links.next {short(nx)}")
        t.check(link_hdr is None, f"{r.label}: last page must not send a Link header, got {short(link_hdr)}")
    else:
        if t.check(isinstance(nx, str) and nx.startswith(path + "?"), f"{r.label}: links.next {short(nx)} must be a relative URL under {path}"):
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(nx).query, keep_blank_values=True)
            t.eq(q.get("cursor"), [nc], f"{r.label}: cursor in links.next")
        m = re.fullmatch(r'\s*<([^>]*)>\s*;\s*rel="?next"?\s*', link_hdr or "")
        t.check(m is not None and m.group(1) == nx, f"{r.label}: Link header {short(link_hdr)} does not carry links.next {short(nx)}")
    return env


def walk_pages(t, client, path, params=None, limit=20, follow="links", max_pages=400):
    """Walk every page of one query; returns the items in order. Checks each
    envelope, that filters survive into links.next, and that the items sum to
    the first page's meta.total."""
    params = dict(params or {})
    base = dict(params, limit=str(limit))
    target = url(path, base)
    items, total, pages = [], None, 0
    while target is not None:
        pages += 1
        t.require(pages <= max_pages, f"walk {path} {params} limit={limit}: more than {max_pages} pages")
        r = client.get(target)
        env = check_envelope(t, r, limit, path)
        if total is None:
            total = env["meta"].get("total")
        items.extend(env["data"])
        nc, nx = env["meta"].get("next_cursor"), env["links"].get("next")
        if nc is None:
            break
        t.require(env["data"], f"{r.label}: empty page with a next cursor")
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(nx or "").query, keep_blank_values=True)
        for k, v in base.items():
            t.check(q.get(k) == [v], f"{r.label}: links.next lost parameter {k}={v}: {short(nx)}")
        target = nx if follow == "links" else url(path, dict(base, cursor=nc))
    t.check(total == len(items), f"walk {path} {params} limit={limit}: visited {len(items)} items, meta.total said {total}")
    return items


# ---------------------------------------------------------------- the model


def fold(s):
    """Case- and accent-insensitive form (NFKD, marks stripped, case-folded)."""
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c)).casefold()


def body_text_blocks(text):
    """The design's body_text -> blocks rule."""
    paras, cur = [], []
    for line in text.split("\n"):
        if line.strip() == "":
            if cur:
                paras.append(cur)
            cur = []
        else:
            cur.append(line)
    if cur:
        paras.append(cur)
    out = []
    for p in paras:
        s = " ".join(p).strip()
        if s:
            out.append({"type": "paragraph", "text": s})
    return out


def word_count(blocks, with_attribution=False):
    n = 0
    for b in blocks:
        if b.get("type") in ("paragraph", "heading", "quote"):
            n += len(b.get("text", "").split())
            if with_attribution and b.get("type") == "quote":
                n += len((b.get("attribution") or "").split())
    return n


def ascii_slug(s):
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


class Art:
    """What the server should hold for one article of the write format."""

    def __init__(self, ref, d):
        self.ref = ref
        self.id = None
        self.summary = None
        self.first_headline = d["headline"]
        self.set(d)

    def set(self, d):
        self.raw = d
        p = d["publication"]
        self.pub = p["slug"] if isinstance(p, dict) else p
        self.ext = d.get("external_id")
        self.url = d.get("url")
        self.headline = d["headline"]
        self.standfirst = d.get("standfirst")
        self.section = d.get("section")
        self.authors = list(d.get("authors") or [])
        self.published = parse_time(d["published_at"])
        self.language = d.get("language")
        self.access = d.get("access", "free")
        self.image = d.get("image")
        self.blocks = d["blocks"] if "blocks" in d else body_text_blocks(d["body_text"])

    @property
    def identity(self):
        return (self.pub, "ext", self.ext) if self.ext else (self.pub, "url", self.url)

    def key(self):
        return (self.published, self.id)

    def __repr__(self):
        return f"<{self.ref} id={self.id} {self.headline[:30]!r}>"


class Model:
    def __init__(self):
        self.arts = []
        self.pubs = {}          # slug -> publication object of the write format

    def apply(self, ref, d):
        p = d["publication"]
        if isinstance(p, dict):
            self.pubs.setdefault(p["slug"], p)
        new = Art(ref, d)
        for a in self.arts:
            if a.identity == new.identity:
                a.set(d)
                return a
        self.arts.append(new)
        return new

    def ref(self, ref):
        for a in self.arts:
            if a.ref == ref:
                return a
        raise KeyError(ref)

    def select(self, pred=lambda a: True, sort="newest"):
        """Matching articles in the server's order (needs ids)."""
        out = [a for a in self.arts if pred(a)]
        if any(a.id is None for a in out):
            raise TestFailure("model: some articles have no server id (the listing test failed)")
        return sorted(out, key=Art.key, reverse=(sort == "newest"))


def read_ndjson(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            out.append((n, line.rstrip("\n")))
    return out


# ---------------------------------------------------------------- context

class Ctx:
    def __init__(self, args):
        self.bin = args.bin
        self.tmp = tempfile.mkdtemp(prefix="newsstand-e2e-")
        self.db = os.path.join(self.tmp, "db")
        self.env = server_env()
        self.model = Model()
        self.proc = None
        self.port = None
        self.client = None
        self.server_err = os.path.join(self.tmp, "server.stderr")
        self.server_out = os.path.join(self.tmp, "server.stdout")
        self.cli_stderr = []          # stderr of every CLI run, for the sanitizer check
        self.authors = {}             # (publication slug, name) -> {"id", "slug"}
        self.pub_ids = {}             # slug -> id
        for n, line in read_ndjson(FIXTURE):
            if line.strip():
                self.model.apply(f"f{n}", json.loads(line))
        self.fixture_count = len(self.model.arts)

    def run_cli(self, *argv, stdin=None, timeout=60):
        p = subprocess.run([self.bin, *argv], input=stdin, capture_output=True, env=self.env,
                           timeout=timeout, cwd=self.tmp)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        self.cli_stderr.append((" ".join(argv[:2]), err))
        return p.returncode, out, err

    def art(self, ref):
        a = self.model.ref(ref)
        if a.id is None:
            raise TestFailure(f"article {ref} has no server id (the listing test failed)")
        return a

    def author(self, pub, name):
        a = self.authors.get((pub, name))
        if a is None:
            raise TestFailure(f"author {name!r} of {pub} not seen in any article summary")
        return a

    def sync(self, t):
        """Walk every article once and learn the server's ids and slugs."""
        items = walk_pages(t, self.client, "/v1/articles", {}, limit=100)
        seen = {}
        for s in items:
            key = ((s.get("publication") or {}).get("slug"), s.get("headline"))
            t.check(key not in seen, f"two articles with publication+headline {key}")
            seen[key] = s
            pub = s.get("publication") or {}
            if pub.get("slug"):
                self.pub_ids[pub["slug"]] = pub.get("id")
            for au in s.get("authors") or []:
                k = (pub.get("slug"), au.get("name"))
                prev = self.authors.setdefault(k, {"id": au.get("id"), "slug": au.get("slug")})
                t.check(prev == {"id": au.get("id"), "slug": au.get("slug")},
                        f"author {k} appears with two identities: {prev} and {au}")
        for a in self.model.arts:
            s = seen.pop((a.pub, a.headline), None)
            if t.check(s is not None, f"article {a.ref} {a.headline!r} ({a.pub}) missing from /v1/articles"):
                a.id, a.summary = s.get("id"), s
        t.check(not seen, f"unexpected articles in /v1/articles: {short([k for k in seen])}")
        return items


# ================================================================ CLI tests

def check_summary(t, out, want, what):
    lines = [ln for ln in out.splitlines() if ln.strip()]
    if not t.check(lines, f"{what}: no summary line on stdout"):
        return
    m = SUMMARY_LINE.match(lines[-1].strip())
    if t.check(m, f"{what}: last stdout line {lines[-1]!r} is not 'imported: N created, N updated, N unchanged, N rejected'"):
        t.eq(tuple(int(x) for x in m.groups()), want, f"{what}: (created, updated, unchanged, rejected)")


@test("cli")
def test_import_fixture(t, ctx):
    rc, out, err = ctx.run_cli("import", FIXTURE, "--db", ctx.db)
    t.eq(rc, 0, "exit status of the first import")
    check_summary(t, out, (ctx.fixture_count, 0, 0, 0), "first import")
    t.check(not reported_lines(err), f"first import reported bad lines: {short(err)}")


@test("cli")
def test_import_again_is_unchanged(t, ctx):
    rc, out, err = ctx.run_cli("import", FIXTURE, "--db", ctx.db)
    t.eq(rc, 0, "exit status of the second import")
    check_summary(t, out, (0, 0, ctx.fixture_count, 0), "second import of the same file")


@test("cli")
def test_import_bad_lines_reported(t, ctx):
    rc, out, err = ctx.run_cli("import", BAD_FIXTURE, "--db", ctx.db)
    t.eq(rc, 0, "exit status of an import with rejected lines")
    check_summary(t, out, (2, 1, 0, len(BAD_LINES)), "import of bad.ndjson")
    rep = reported_lines(err)
    t.eq(sorted(rep), sorted(BAD_LINES), "line numbers reported on stderr")
    for n, words in BAD_LINES.items():
        if n in rep:
            t.check(any(w in rep[n].lower() for w in words),
                    f"line {n}: reason {rep[n]!r} does not name any of {words}")
    t.check(not reported_lines(out), f"bad lines must be reported on stderr, not stdout: {short(out)}")
    for n, line in read_ndjson(BAD_FIXTURE):
        if n in BAD_GOOD_LINES:
            ctx.model.apply(f"bad{n}", json.loads(line))


@test("cli")
def test_import_from_stdin(t, ctx):
    line = dict(read_ndjson(BAD_FIXTURE))[1] + "\n"
    rc, out, err = ctx.run_cli("import", "-", "--db", ctx.db, stdin=line.encode())
    t.eq(rc, 0, "exit status of `import -`")
    check_summary(t, out, (0, 0, 1, 0), "import - of one known line")


@test("cli")
def test_import_missing_file_fails(t, ctx):
    rc, out, err = ctx.run_cli("import", os.path.join(ctx.tmp, "no-such-file.ndjson"), "--db", ctx.db)
    t.eq(rc, 1, "exit status when the file cannot be opened")


# ================================================================ listing, envelope, fields

@test()
def test_all_articles_listed(t, ctx):
    ctx.sync(t)
    t.eq(len([a for a in ctx.model.arts if a.id is not None]), len(ctx.model.arts), "articles matched to the model")


@test()
def test_list_envelope(t, ctx):
    r = ctx.client.get("/v1/articles")
    env = check_envelope(t, r, 20, "/v1/articles")
    n = len(ctx.model.arts)
    t.eq(env["meta"].get("total"), n, "meta.total of /v1/articles")
    t.eq(len(env["data"]), min(20, n), "items on the first default page")
    t.eq(env["meta"].get("sort"), "newest", "meta.sort default")
    t.check(env["meta"].get("next_cursor") is not None, "first page of more than 20 needs next_cursor")
    env = check_envelope(t, ctx.client.get("/v1/articles", {"sort": "oldest", "limit": "5"}), 5, "/v1/articles")
    t.eq(env["meta"].get("sort"), "oldest", "meta.sort with sort=oldest")


def check_summary_shape(t, s, keys=SUMMARY_KEYS):
    ref = f"article {s.get('id')}"
    t.eq(set(s), keys, f"{ref}: field set")

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    def str_or_null(k):
        t.check(s.get(k) is None or isinstance(s.get(k), str), f"{ref}: {k} must be string or null")

    t.check(is_int(s.get("id")) and s["id"] > 0, f"{ref}: id must be a positive integer")
    for k in ("slug", "headline", "published_at", "updated_at", "language"):
        t.check(isinstance(s.get(k), str) and s.get(k), f"{ref}: {k} must be a non-empty string")
    for k in ("standfirst", "url", "section"):
        str_or_null(k)
    for k in ("published_at", "updated_at"):
        t.check(isinstance(s.get(k), str) and RFC3339_UTC.match(s[k]), f"{ref}: {k} {s.get(k)!r} is not RFC 3339 UTC")
    pub = s.get("publication")
    if t.check(isinstance(pub, dict), f"{ref}: publication must be an object"):
        t.eq(set(pub), {"id", "slug", "name"}, f"{ref}: publication field set")
    au = s.get("authors")
    if t.check(isinstance(au, list), f"{ref}: authors must be a list"):
        for a in au:
            t.check(isinstance(a, dict) and set(a) == {"id", "slug", "name"}, f"{ref}: author must be {{id, slug, name}}: {short(a)}")
    img = s.get("image")
    if img is not None and t.check(isinstance(img, dict), f"{ref}: image must be an object or null"):
        t.eq(set(img), IMAGE_KEYS, f"{ref}: image field set")
    t.check(s.get("access") in ("free", "premium"), f"{ref}: access {s.get('access')!r}")
    t.check(is_int(s.get("word_count")) and s["word_count"] >= 0, f"{ref}: word_count must be an integer >= 0")
    t.check(is_int(s.get("reading_time_minutes")) and s["reading_time_minutes"] >= 1, f"{ref}: reading_time_minutes must be an integer >= 1")
    for k in ("topics", "entities"):
        v = s.get(k)
        if t.check(isinstance(v, list), f"{ref}: {k} must be a list"):
            for e in v:
                t.check(isinstance(e, dict) and {"id", "slug", "name"} <= set(e), f"{ref}: {k} entry lacks id/slug/name: {short(e)}")


@test()
def test_summary_field_set(t, ctx):
    items = walk_pages(t, ctx.client, "/v1/articles", {}, limit=100)
    t.require(items, "no articles")
    for s in items:
        check_summary_shape(t, s)


@test()
def test_summary_values_match_fixture(t, ctx):
    for a in ctx.model.arts:
        s = a.summary
        if s is None:
            continue
        w = f"{a.ref} ({a.headline[:30]})"
        t.eq(s.get("headline"), a.headline, f"{w}: headline")
        t.eq(s.get("standfirst"), a.standfirst, f"{w}: standfirst")
        t.eq(s.get("url"), a.url, f"{w}: url")
        t.eq(s.get("section"), a.section, f"{w}: section")
        t.eq((s.get("publication") or {}).get("slug"), a.pub, f"{w}: publication.slug")
        t.eq((s.get("publication") or {}).get("name"), ctx.model.pubs[a.pub]["name"], f"{w}: publication.name")
        t.eq([x.get("name") for x in s.get("authors") or []], a.authors, f"{w}: author names, in order")
        t.eq(s.get("image"), a.image, f"{w}: image")
        t.eq(s.get("published_at"), fmt_time(a.published), f"{w}: published_at")
        t.eq(s.get("language"), a.language, f"{w}: language")
        t.eq(s.get("access"), a.access, f"{w}: access")


@test()
def test_published_at_offset_normalised_to_utc(t, ctx):
    a = ctx.art("f23")          # written as 2024-03-12T10:00:00+02:00
    t.eq(a.summary.get("published_at"), "2024-03-12T08:00:00Z", "published_at given with +02:00")


@test()
def test_absent_optionals_are_null(t, ctx):
    s = ctx.art("f21").summary  # editorial: no standfirst, section, authors, image
    for k in ("standfirst", "section", "image"):
        t.check(k in s and s[k] is None, f"editorial: {k} must be present and null, got {short(s.get(k))}")
    t.eq(s.get("authors"), [], "editorial: authors")
    s = ctx.art("f29").summary  # no url
    t.check("url" in s and s["url"] is None, f"article without url: url must be null, got {short(s.get('url'))}")


@test()
def test_word_count_and_reading_time(t, ctx):
    for a in ctx.model.arts:
        s = a.summary
        if s is None or a.access != "free":
            continue
        wc = s.get("word_count")
        want = {word_count(a.blocks), word_count(a.blocks, with_attribution=True)}
        t.check(wc in want, f"{a.ref}: word_count {wc}, expected {' or '.join(map(str, sorted(want)))}")
        if isinstance(wc, int):
            t.eq(s.get("reading_time_minutes"), max(1, math.ceil(wc / 230)), f"{a.ref}: reading_time_minutes for {wc} words")
    t.eq(ctx.art("f29").summary.get("word_count"), 480, "letters page word_count")
    t.eq(ctx.art("f29").summary.get("reading_time_minutes"), 3, "letters page reading_time_minutes (480 words)")


# ================================================================ one article

@test()
def test_full_article_free(t, ctx):
    a = ctx.art("f1")
    d = expect_json_ok(t, ctx.client.get(f"/v1/articles/{a.id}"))
    check_summary_shape(t, d, FULL_KEYS)
    t.eq(d.get("blocks"), a.blocks, "blocks of the Zürich article (paragraph, heading, quote, image)")
    t.eq(d.get("paywall"), {"locked": False}, "paywall of a free article")
    for e in d.get("entities") or []:
        t.check("mentions" in e and "salience" in e, f"full-form entity lacks mentions/salience: {short(e)}")
    summary = dict(a.summary)
    full_as_summary = {k: v for k, v in d.items() if k in SUMMARY_KEYS and k != "entities"}
    summary.pop("entities", None)
    t.eq(full_as_summary, summary, "full form agrees with the summary")


@test()
def test_body_text_becomes_paragraphs(t, ctx):
    a = ctx.art("f2")
    d = expect_json_ok(t, ctx.client.get(f"/v1/articles/{a.id}"))
    t.eq(d.get("blocks"), [{"type": "paragraph", "text": "Shares rose on Monday across the region."},
                           {"type": "paragraph", "text": "Analysts expected the move."},
                           {"type": "paragraph", "text": "Trading volumes were light."}], "blocks from body_text")


@test()
def test_premium_paywall(t, ctx):
    premium = [a for a in ctx.model.arts if a.access == "premium"]
    t.require(len(premium) >= 4, "fixture should have premium articles")
    for a in premium:
        t.require(a.id is not None, f"{a.ref} has no id")
        r = ctx.client.get(f"/v1/articles/{a.id}")
        d = expect_json_ok(t, r)
        t.check(len(a.blocks) >= 4, f"{a.ref}: fixture premium article should have >= 4 blocks")
        t.eq(d.get("blocks"), a.blocks[:2], f"{a.ref}: anonymous sees the first 2 blocks only")
        t.eq(d.get("paywall"), LOCKED_PAYWALL, f"{a.ref}: paywall")
        t.check(PREMIUM_SECRET not in r.body.decode("utf-8", "replace"), f"{a.ref}: locked text leaks into the article response")
        r2 = ctx.client.get(f"/v1/articles/{seg(d.get('slug', ''))}")
        t.check(PREMIUM_SECRET not in r2.body.decode("utf-8", "replace"), f"{a.ref}: locked text leaks via the slug route")
    for path in ("/v1/articles", f"/v1/publications/{seg('test-gazette')}/articles"):
        r = ctx.client.get(path, {"access": "premium", "limit": "100"})
        t.check(r.status == 200 and PREMIUM_SECRET not in r.body.decode("utf-8", "replace"), f"{r.label}: locked text leaks into a list")


@test()
def test_get_by_id_and_by_slug_agree(t, ctx):
    for ref in ("f1", "f3", "f5", "f9", "f17", "f21"):
        a = ctx.art(ref)
        by_id = ctx.client.get(f"/v1/articles/{a.id}")
        by_slug = ctx.client.get(f"/v1/articles/{seg(a.summary['slug'])}")
        t.check(by_id.status == 200 and by_slug.status == 200, f"{ref}: by id {by_id.status}, by slug {by_slug.status}")
        if by_id.status == by_slug.status == 200:
            t.check(by_id.json == by_slug.json, f"{ref}: article by id and by slug differ")


# ================================================================ slugs

def slug_is_clean(slug):
    if not slug or slug != slug.strip("-") or "--" in slug:
        return False
    if slug != slug.casefold():
        return False
    return all(c == "-" or (c.isalnum() and not unicodedata.combining(c)) for c in slug) and \
        not any(unicodedata.combining(c) for c in unicodedata.normalize("NFKD", slug))


@test()
def test_slugs_are_clean_and_unique(t, ctx):
    slugs = [a.summary["slug"] for a in ctx.model.arts if a.summary]
    t.eq(len(slugs), len(set(slugs)), "article slugs are unique")
    for s in slugs:
        t.check(slug_is_clean(s), f"slug {s!r} is not folded letters/digits joined by single '-'")
        t.check(len(s.encode()) <= 80 + 4, f"slug {s!r} is longer than 80 bytes (+ a clash suffix)")
        t.check(not s.isdigit(), f"slug {s!r} is all digits")


@test()
def test_slug_accent_folding(t, ctx):
    t.eq(ctx.art("f1").summary.get("slug"), "zurich-council-approves-new-tram-line", "slug of 'Zürich council approves new tram line'")
    t.eq(ctx.art("f9").summary.get("slug"), "egalite-salariale-nouvelles-mesures", "slug of 'Égalité salariale : nouvelles mesures'")
    t.eq(ctx.art("f4").summary.get("slug"), "aero-ferry-service-resumes-after-storm", "slug of 'Ærø ferry service resumes after storm'")
    t.eq(ctx.author("essai-quotidien", "Marc Lefèvre")["slug"], "marc-lefevre", "slug of author Marc Lefèvre")


@test()
def test_slug_clash_gets_suffix(t, ctx):
    a, b = ctx.art("f6"), ctx.art("f7")   # same headline, imported in this order
    t.eq(a.summary.get("slug"), "council-budget-vote-delayed", "first 'Council budget vote delayed'")
    t.eq(b.summary.get("slug"), "council-budget-vote-delayed-2", "second 'Council budget vote delayed'")
    for x in (a, b):
        d = expect_json_ok(t, ctx.client.get(f"/v1/articles/{x.summary['slug']}"))
        t.eq(d.get("id"), x.id, f"lookup by slug {x.summary['slug']}")


@test()
def test_slug_digits_only_gets_prefix(t, ctx):
    a = ctx.art("f5")
    t.eq(a.summary.get("slug"), "n-2024", "slug of headline '2024'")
    d = expect_json_ok(t, ctx.client.get("/v1/articles/n-2024"))
    t.eq(d.get("id"), a.id, "GET /v1/articles/n-2024")
    if a.id != 2024:
        expect_problem(t, ctx.client.get("/v1/articles/2024"), 404)   # all digits: an id, not the slug


@test()
def test_slug_long_headline_cut_at_dash(t, ctx):
    a = ctx.art("f20")
    full = ascii_slug(a.headline)
    want = full if len(full) <= 80 else full[:full.rfind("-", 0, 81)]
    t.eq(a.summary.get("slug"), want, "slug of a 140-character headline (<= 80 bytes, cut at '-')")


@test()
def test_slug_kept_when_headline_changes(t, ctx):
    a = ctx.art("f28")            # headline changed by line 11 of bad.ndjson
    t.eq(a.summary.get("headline"), "Bob on the revised budget numbers", "updated headline")
    t.eq(a.summary.get("slug"), "bob-on-the-budget-numbers", "slug after the headline changed")


@test()
def test_non_latin_slugs_and_percent_encoded_paths(t, ctx):
    for ref in ("f16", "f17", "f4"):
        a = ctx.art(ref)
        slug = a.summary["slug"]
        t.check(slug_is_clean(slug), f"{ref}: slug {slug!r} is not clean")
        t.check(slug.endswith(ascii_slug(a.headline.split(" ", 1)[1])) or ref == "f16",
                f"{ref}: slug {slug!r} lost the Latin words of the headline")
        r = ctx.client.get(f"/v1/articles/{seg(slug)}")
        if expect_status(t, r, 200):
            t.eq(r.json.get("id"), a.id, f"{ref}: lookup by percent-encoded slug {seg(slug)}")
    a = ctx.art("f1")
    slug = a.summary["slug"]
    r = ctx.client.get("/v1/articles/%" + format(ord(slug[0]), "02X") + seg(slug[1:]))
    if expect_status(t, r, 200):
        t.eq(r.json.get("id"), a.id, "slug with its first letter percent-encoded")
    r = ctx.client.get(f"/v1/publications/{seg('test-gazette').replace('t', '%74', 1)}")
    expect_status(t, r, 200)


@test()
def test_author_per_publication(t, ctx):
    g, e = ctx.author("test-gazette", "Jane Doe"), ctx.author("essai-quotidien", "Jane Doe")
    t.check(g["id"] != e["id"], "Jane Doe at two publications must be two authors")
    t.eq(sorted([g["slug"], e["slug"]]), ["jane-doe", "jane-doe-2"], "slugs of the two Jane Does")
    for pub, au in (("test-gazette", g), ("essai-quotidien", e)):
        d = expect_json_ok(t, ctx.client.get(f"/v1/authors/{au['id']}"))
        t.eq((d.get("publication") or {}).get("slug"), pub, f"publication of Jane Doe {au['id']}")
        t.eq(d.get("article_count"), len([a for a in ctx.model.arts if a.pub == pub and "Jane Doe" in a.authors]),
             f"article_count of Jane Doe at {pub}")


# ================================================================ errors

@test()
def test_404_unknown_article_and_routes(t, ctx):
    paths = ["/v1/articles/999999", "/v1/articles/no-such-article", "/v1/publications/999999",
             "/v1/publications/no-such-publication", "/v1/publications/no-such-publication/articles",
             "/v1/publications/999999/articles", "/v1/authors/999999", "/v1/authors/no-such-author",
             "/v1/authors/no-such-author/articles", "/v1/nope", "/v2/articles", "/", "/v1",
             "/v1/articles/1/nope", "/v1/publications/test-gazette/nope", "/healthz/extra"]
    for p in paths:
        expect_problem(t, ctx.client.get(p), 404)


@test()
def test_405_with_allow(t, ctx):
    a = ctx.art("f1")
    alice = ctx.author("test-gazette", "Alice Martin")
    # Only methods the contract never gives these routes (POST /v1/articles, PATCH/DELETE
    # /v1/articles/{id}, POST /v1/publications and PATCH /v1/publications/{id} come later).
    cases = [("/v1/articles", ["PUT", "DELETE"]),
             (f"/v1/articles/{a.id}", ["POST", "PUT"]),
             ("/v1/publications", ["PUT", "DELETE"]),
             ("/v1/publications/test-gazette", ["POST", "PUT", "DELETE"]),
             ("/v1/publications/test-gazette/articles", ["POST", "PUT", "DELETE"]),
             (f"/v1/authors/{alice['id']}", ["POST", "PUT", "DELETE"]),
             (f"/v1/authors/{alice['id']}/articles", ["POST", "PUT", "DELETE"]),
             ("/healthz", ["POST", "PUT", "DELETE"]), ("/readyz", ["POST", "PUT", "DELETE"]),
             ("/openapi.json", ["POST", "PUT", "DELETE"])]
    for path, methods in cases:
        for m in methods:
            r = ctx.client.request(m, path, headers={"Content-Length": "0"})
            expect_problem(t, r, 405)
            allow = {x.strip().upper() for x in (r.header("Allow") or "").split(",") if x.strip()}
            t.check({"GET", "HEAD"} <= allow and m not in allow, f"{r.label}: Allow {r.header('Allow')!r}")


BAD_PARAMS = [
    # (query, field, text the problem must name)
    ("limit=abc", "limit", None), ("limit=0", "limit", None), ("limit=101", "limit", None),
    ("limit=", "limit", None), ("limit=-1", "limit", None), ("limit=1.5", "limit", None),
    ("limit=10abc", "limit", None), ("limit=99999999999999999999", "limit", None),
    ("cursor=garbage", "cursor", None), ("cursor=", "cursor", None),
    ("from=not-a-date", "from", None), ("from=2024-02-30", "from", None), ("to=2024-13-01", "to", None),
    ("from=2024-03-10&to=2024-03-09", "to", None),
    ("from=2024-03-10T12:00:00Z&to=2024-03-10T11:59:59Z", "to", None),
    ("sort=bogus", "sort", None), ("access=gold", "access", None), ("language=", "language", None),
    ("section=", "section", None), ("foo=1", "foo", None), ("limit=1&limit=2", "limit", None),
    ("publication=unknown-slug", "publication", "unknown-slug"),
    ("publication=999999", "publication", "999999"),
    ("author=unknown-author", "author", "unknown-author"),
]


@test()
def test_400_bad_parameters(t, ctx):
    for q, field, mention in BAD_PARAMS:
        expect_problem(t, ctx.client.get("/v1/articles?" + q), 400, field, mention)
    alice = ctx.author("test-gazette", "Alice Martin")["slug"]
    expect_problem(t, ctx.client.get("/v1/articles", {"author": f"{alice},unknown-author"}), 400, "author", "unknown-author")


@test()
def test_400_on_other_lists(t, ctx):
    alice = ctx.author("test-gazette", "Alice Martin")
    for path, q, field in [("/v1/publications", "limit=0", "limit"), ("/v1/publications", "foo=1", "foo"),
                           ("/v1/publications", "cursor=garbage", "cursor"),
                           ("/v1/publications/test-gazette/articles", "limit=101", "limit"),
                           ("/v1/publications/test-gazette/articles", "access=gold", "access"),
                           (f"/v1/authors/{alice['id']}/articles", "sort=bogus", "sort"),
                           (f"/v1/authors/{alice['slug']}/articles", "from=yesterday", "from")]:
        expect_problem(t, ctx.client.get(f"{path}?{q}"), 400, field)


def first_cursor(t, client, path, params):
    env = expect_json_ok(t, client.get(path, params))
    c = env.get("meta", {}).get("next_cursor")
    t.require(isinstance(c, str) and len(c) >= 8, f"{path} {params}: expected a next_cursor, got {short(c)}")
    return c


@test()
def test_400_forged_cursor(t, ctx):
    params = {"limit": "3"}
    c = first_cursor(t, ctx.client, "/v1/articles", params)
    expect_status(t, ctx.client.get("/v1/articles", dict(params, cursor=c)), 200)
    i = len(c) // 2
    forged = c[:i] + ("A" if c[i] != "A" else "B") + c[i + 1:]
    expect_problem(t, ctx.client.get("/v1/articles", dict(params, cursor=forged)), 400, "cursor")
    for bad in (c[:-4], c + "AA", c[::-1], "%" + c):
        expect_problem(t, ctx.client.get("/v1/articles", dict(params, cursor=bad)), 400, "cursor")


@test()
def test_400_cursor_from_another_query(t, ctx):
    c = first_cursor(t, ctx.client, "/v1/articles", {"sort": "oldest", "limit": "2"})
    expect_problem(t, ctx.client.get("/v1/articles", {"sort": "newest", "limit": "2", "cursor": c}), 400, "cursor")
    expect_problem(t, ctx.client.get("/v1/articles", {"limit": "2", "cursor": c}), 400, "cursor")
    c = first_cursor(t, ctx.client, "/v1/articles", {"publication": "test-gazette", "limit": "2"})
    expect_problem(t, ctx.client.get("/v1/articles", {"publication": "test-ledger", "limit": "2", "cursor": c}), 400, "cursor")
    expect_problem(t, ctx.client.get("/v1/articles", {"publication": "test-gazette", "language": "en", "limit": "2", "cursor": c}), 400, "cursor")
    c = first_cursor(t, ctx.client, "/v1/publications", {"limit": "1"})
    expect_problem(t, ctx.client.get("/v1/articles", {"limit": "1", "cursor": c}), 400, "cursor")


# ================================================================ HTTP behaviour

def get_routes(ctx):
    a = ctx.art("f1")
    alice = ctx.author("test-gazette", "Alice Martin")
    return ["/healthz", "/readyz", "/openapi.json", "/v1/articles", "/v1/articles?limit=2&sort=oldest",
            f"/v1/articles/{a.id}", f"/v1/articles/{seg(a.summary['slug'])}", f"/v1/articles/{ctx.art('f3').id}",
            "/v1/publications", "/v1/publications/test-gazette", f"/v1/publications/{ctx.pub_ids.get('test-ledger')}",
            "/v1/publications/test-gazette/articles", f"/v1/authors/{alice['id']}", f"/v1/authors/{alice['slug']}",
            f"/v1/authors/{alice['slug']}/articles?limit=2"]


@test(proxy=NO_PROXY_HEAD)
def test_head_on_every_get_route(t, ctx):
    for path in get_routes(ctx) + ["/v1/no-such-route", "/v1/articles/999999"]:
        g = ctx.client.get(path)
        req = f"HEAD {path} HTTP/1.1\r\nHost: {HOST}:{ctx.port}\r\nConnection: close\r\n\r\n".encode()
        status, headers, body = raw_request(ctx.port, req, head=True)
        w = f"HEAD {path}"
        t.eq(status, g.status, f"{w}: status vs GET")
        t.check(body == b"", f"{w}: HEAD must send no body, got {len(body)} bytes: {short(body)}")
        t.eq(hget(headers, "Content-Length"), str(len(g.body)), f"{w}: Content-Length vs GET body length")
        for h in ("Content-Type", "ETag", "Cache-Control", "Allow"):
            t.eq(hget(headers, h), g.header(h), f"{w}: {h} vs GET")
        t.check(hget(headers, "X-Request-Id"), f"{w}: no X-Request-Id")
        t.check(g.header("Content-Encoding") is None, f"GET {path}: Content-Encoding without Accept-Encoding")


@test()
def test_etag_and_if_none_match(t, ctx):
    tags = {}
    for path in get_routes(ctx):
        r = ctx.client.get(path)
        if not expect_status(t, r, 200):
            continue
        tag = r.header("ETag")
        if not t.check(tag and STRONG_ETAG.match(tag), f"{r.label}: ETag {tag!r} is not a strong quoted tag"):
            continue
        tags[path] = tag
        r2 = ctx.client.get(path, headers={"If-None-Match": tag})
        t.eq(r2.status, 304, f"{r2.label} with If-None-Match: status")
        t.check(r2.body == b"", f"{r2.label}: 304 must have no body")
        t.eq(r2.header("ETag"), tag, f"{r2.label}: 304 ETag")
        t.check(r2.header("X-Request-Id"), f"{r2.label}: 304 without X-Request-Id")
        r3 = ctx.client.get(path, headers={"If-None-Match": '"not-the-tag"'})
        t.eq(r3.status, 200, f"{r3.label} with another tag: status")
    a1, a3 = f"/v1/articles/{ctx.art('f1').id}", f"/v1/articles/{ctx.art('f3').id}"
    if a1 in tags and a3 in tags:
        t.check(tags[a1] != tags[a3], "two different articles have the same ETag")


@test()
def test_cache_control(t, ctx):
    for path in get_routes(ctx):
        if path in ("/healthz", "/readyz"):
            continue
        r = ctx.client.get(path)
        if expect_status(t, r, 200):
            cc = {x.strip().lower() for x in (r.header("Cache-Control") or "").split(",")}
            t.eq(cc, {"public", "max-age=60"}, f"{r.label}: Cache-Control tokens")


@test()
def test_content_length_and_type(t, ctx):
    for path in get_routes(ctx):
        r = ctx.client.get(path)
        if expect_status(t, r, 200):
            t.eq(r.header("Content-Length"), str(len(r.body)), f"{r.label}: Content-Length")
            t.eq((r.header("Content-Type") or "").split(";")[0].strip(), "application/json", f"{r.label}: Content-Type")
            r.json  # must parse


@test()
def test_request_id(t, ctx):
    for rid in ("abc-123.XYZ_9", "a" * 128):
        r = ctx.client.get("/healthz", headers={"X-Request-Id": rid})
        t.eq(r.header("X-Request-Id"), rid, "sane X-Request-Id echoed")
    r = ctx.client.get("/v1/articles/999999", headers={"X-Request-Id": "trace-404"})
    t.eq(r.header("X-Request-Id"), "trace-404", "X-Request-Id echoed on a 404")
    if r.status == 404:
        t.eq(r.json.get("request_id"), "trace-404", "problem request_id on a 404")
    seen = set()
    for hdrs in ({}, {}, {"X-Request-Id": "has space"}, {"X-Request-Id": "<script>"}, {"X-Request-Id": "a" * 129},
                 {"X-Request-Id": "a/b"}, {"X-Request-Id": ""}):
        r = ctx.client.get("/healthz", headers=hdrs)
        rid = r.header("X-Request-Id")
        sent = hdrs.get("X-Request-Id")
        t.check(rid and SANE_REQUEST_ID.match(rid), f"X-Request-Id for {short(sent)} must be generated and sane, got {rid!r}")
        t.check(rid != sent, f"insane X-Request-Id {short(sent)} was echoed")
        t.check(rid not in seen, f"generated X-Request-Id {rid!r} repeated")
        seen.add(rid)
    for path in ("/v1/nope", "/v1/articles?limit=0"):
        r = ctx.client.get(path)
        t.check(r.header("X-Request-Id"), f"{r.label}: no X-Request-Id")
    r = ctx.client.request("DELETE", "/healthz")
    t.check(r.header("X-Request-Id"), f"{r.label}: no X-Request-Id")


@test()
def test_keep_alive(t, ctx):
    c = http.client.HTTPConnection(HOST, ctx.port, timeout=10)
    try:
        c.request("GET", "/healthz")
        r1 = c.getresponse()
        r1.read()
        t.eq(r1.version, 11, "response HTTP version")
        t.check((r1.getheader("Connection") or "").lower() != "close", "HTTP/1.1 response carries Connection: close")
        t.require(c.sock is not None, "server closed the connection after the first response")
        sock, name = c.sock, c.sock.getsockname()
        c.request("GET", "/v1/articles?limit=1")
        r2 = c.getresponse()
        r2.read()
        t.eq(r2.status, 200, "second request on the connection")
        t.check(c.sock is sock and c.sock.getsockname() == name, "second request did not use the same connection")
        c.request("GET", "/v1/nope")
        r3 = c.getresponse()
        r3.read()
        t.check(c.sock is sock, "connection not kept alive after a 404")
    except (http.client.HTTPException, OSError) as e:
        t.check(False, f"keep-alive exchange failed: {e!r}")
    finally:
        c.close()


@test()
def test_server_header(t, ctx):
    r = ctx.client.get("/healthz")
    t.eq(r.header("Server"), "newsstand", "Server header")


# ================================================================ operations

@test()
def test_healthz_and_readyz(t, ctx):
    t.eq(expect_json_ok(t, ctx.client.get("/healthz")), {"status": "ok"}, "/healthz body")
    t.eq(expect_json_ok(t, ctx.client.get("/readyz")), {"status": "ready"}, "/readyz body")


SERVED_ROUTES = ["/v1/articles", "/v1/articles/{}", "/v1/publications", "/v1/publications/{}",
                 "/v1/publications/{}/articles", "/v1/authors/{}", "/v1/authors/{}/articles",
                 "/healthz", "/readyz", "/openapi.json"]


@test()
def test_openapi_document(t, ctx):
    doc = expect_json_ok(t, ctx.client.get("/openapi.json"))
    t.check(isinstance(doc.get("openapi"), str) and re.match(r"^3\.1\.\d+$", doc["openapi"]),
            f"openapi version {short(doc.get('openapi'))} is not 3.1.x")
    t.check(isinstance(doc.get("info"), dict), "openapi: info object missing")
    paths = doc.get("paths")
    t.require(isinstance(paths, dict), "openapi: paths is not an object")
    norm = {re.sub(r"\{[^}]*\}", "{}", p): v for p, v in paths.items()}
    for route in SERVED_ROUTES:
        item = norm.get(route)
        if t.check(item is not None, f"openapi: paths lacks {route}"):
            t.check(isinstance(item, dict) and "get" in item, f"openapi: {route} has no get operation")


ROUTES_C = os.path.join(REPO, "src", "http", "routes.c")
HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace")


def route_table():
    """(METHOD, pattern) of every entry in the server's route table, src/http/routes.c: a
    brace entry names its method and pattern first; a macro entry is read through the
    macro's #define (its method is a literal there or one of its arguments)."""
    with open(ROUTES_C, encoding="utf-8") as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    macros = {}
    for m in re.finditer(r"#define\s+(\w+)\(([^)]*)\)[\s\\]*\{\s*([^,]+?)\s*,\s*([^,]+?)\s*,", text):
        macros[m.group(1)] = ([p.strip() for p in m.group(2).split(",")], m.group(3), m.group(4))
    m = re.search(r"const struct route routes\[\] = \{(.*?)\n\};", text, re.S)
    if not m:
        return None
    routes = []
    for entry in re.finditer(r"(\w+)\s*\(([^()]*)\)|\{\s*\"([^\"]*)\"\s*,\s*\"([^\"]*)\"", m.group(1)):
        name, args, method, pattern = entry.groups()
        if name is not None:
            if name not in macros:
                return None
            params, f_method, f_pattern = macros[name]
            args = [a.strip() for a in args.split(",")]
            pick = lambda field: field if field.startswith('"') else (
                args[params.index(field)] if field in params and len(args) == len(params) else "?")
            method, pattern = pick(f_method).strip('"'), pick(f_pattern).strip('"')
        routes.append((method, pattern))
    return routes


@test()
def test_openapi_operations_match_route_table(t, ctx):
    """Every route the server serves has an operation in /openapi.json, and every
    operation is a route the server serves (HEAD: with every GET, as the server answers)."""
    routes = route_table()
    t.require(routes, f"no route table found in {ROUTES_C}")
    t.check(len(routes) > 40 and all(m in ("GET", "POST", "PUT", "PATCH", "DELETE") for m, _ in routes),
            f"{ROUTES_C}: could not read every entry: {routes}")
    served = set(routes) | {("HEAD", p) for m, p in routes if m == "GET"}
    t.eq(len(served), len(routes) + sum(1 for m, _ in routes if m == "GET"), "distinct routes in the table")
    doc = expect_json_ok(t, ctx.client.get("/openapi.json"))
    paths = doc.get("paths")
    t.require(isinstance(paths, dict), "openapi: paths is not an object")
    documented = {(m.upper(), p) for p, item in paths.items() if isinstance(item, dict)
                  for m in item if m in HTTP_METHODS}
    for m, p in sorted(served - documented):
        t.check(False, f"the server serves {m} {p}, /openapi.json has no such operation")
    for m, p in sorted(documented - served):
        t.check(False, f"/openapi.json describes {m} {p}, the route table has no such route")
    ids = [op.get("operationId") for item in paths.values() if isinstance(item, dict)
           for m, op in item.items() if m in HTTP_METHODS]
    t.check(all(isinstance(i, str) and i for i in ids), "openapi: an operation has no operationId")
    t.eq(len(set(ids)), len(ids), "distinct operationIds")


# ================================================================ filters

def expect_ids(t, ctx, path, params, pred, sort="newest", what=None):
    """The full result of a query must be exactly the model's selection, in order."""
    want = [a.id for a in ctx.model.select(pred, sort)]
    got = [s.get("id") for s in walk_pages(t, ctx.client, path, params, limit=100)]
    what = what or f"{path} {params}"
    if got != want:
        names = {a.id: a.ref for a in ctx.model.arts}
        t.check(False, f"{what}: got {[names.get(i, i) for i in got]}, expected {[names.get(i, i) for i in want]}")
    return got


@test()
def test_filter_publication(t, ctx):
    for slug in ("test-gazette", "essai-quotidien", "test-ledger"):
        pred = lambda a, s=slug: a.pub == s
        t.check(ctx.model.select(pred), f"fixture has no article in {slug}")
        expect_ids(t, ctx, "/v1/articles", {"publication": slug}, pred)
        pid = ctx.pub_ids.get(slug)
        t.require(pid is not None, f"no id known for {slug}")
        expect_ids(t, ctx, "/v1/articles", {"publication": str(pid)}, pred)
        expect_ids(t, ctx, f"/v1/publications/{slug}/articles", {}, pred)
        expect_ids(t, ctx, f"/v1/publications/{pid}/articles", {"sort": "oldest"}, pred, "oldest")


@test()
def test_filter_author(t, ctx):
    alice = ctx.author("test-gazette", "Alice Martin")
    bob = ctx.author("test-gazette", "Bob Chen")
    claire = ctx.author("essai-quotidien", "Claire Dubois")
    marc = ctx.author("essai-quotidien", "Marc Lefèvre")
    jane_g = ctx.author("test-gazette", "Jane Doe")
    sam = ctx.author("test-ledger", "Sam Okafor")
    by = lambda pub, *names: (lambda a: a.pub == pub and all(n in a.authors for n in names))
    expect_ids(t, ctx, "/v1/articles", {"author": alice["slug"]}, by("test-gazette", "Alice Martin"))
    expect_ids(t, ctx, "/v1/articles", {"author": str(alice["id"])}, by("test-gazette", "Alice Martin"))
    expect_ids(t, ctx, "/v1/articles", {"author": jane_g["slug"]}, by("test-gazette", "Jane Doe"))
    got = expect_ids(t, ctx, "/v1/articles", {"author": f"{alice['slug']},{bob['slug']}"}, by("test-gazette", "Alice Martin", "Bob Chen"))
    t.eq(got, [ctx.art("f3").id], "co-author filter alice,bob")
    expect_ids(t, ctx, "/v1/articles", {"author": f"{alice['id']},{bob['slug']}"}, by("test-gazette", "Alice Martin", "Bob Chen"))
    expect_ids(t, ctx, "/v1/articles", {"author": f"{claire['slug']},{marc['id']}"}, by("essai-quotidien", "Claire Dubois", "Marc Lefèvre"))
    expect_ids(t, ctx, "/v1/articles", {"author": f"{alice['slug']},{sam['slug']}"}, lambda a: False)
    expect_ids(t, ctx, f"/v1/authors/{alice['slug']}/articles", {}, by("test-gazette", "Alice Martin"))
    expect_ids(t, ctx, f"/v1/authors/{sam['id']}/articles", {"sort": "oldest"}, by("test-ledger", "Sam Okafor"), "oldest")


@test()
def test_filter_section(t, ctx):
    eco = lambda a: a.section is not None and fold(a.section) == "economie"
    t.check(len({a.section for a in ctx.model.select(eco)}) == 2, "fixture needs 'Économie' and 'economie'")
    for v in ("economie", "Économie", "ÉCONOMIE", "ECONOMIE", "e\u0301conomie"):
        expect_ids(t, ctx, "/v1/articles", {"section": v}, eco, what=f"section={v!r}")
    for v in ("World", "world", "WORLD"):
        expect_ids(t, ctx, "/v1/articles", {"section": v}, lambda a: a.section == "World", what=f"section={v!r}")
    expect_ids(t, ctx, "/v1/articles", {"section": "Nope"}, lambda a: False)
    expect_ids(t, ctx, "/v1/articles", {"section": "Econ"}, lambda a: False)


@test()
def test_filter_language_and_access(t, ctx):
    for lang in ("en", "fr"):
        expect_ids(t, ctx, "/v1/articles", {"language": lang}, lambda a, l=lang: a.language == l)
    for acc in ("free", "premium"):
        expect_ids(t, ctx, "/v1/articles", {"access": acc}, lambda a, x=acc: a.access == x)


def ts(s):
    return parse_time(s)


@test()
def test_filter_dates(t, ctx):
    day0, day1 = ts("2024-03-10T00:00:00Z"), ts("2024-03-11T00:00:00Z")
    cases = [
        ({"from": "2024-03-10"}, lambda a: a.published >= day0),
        ({"to": "2024-03-10"}, lambda a: a.published < day1),
        ({"from": "2024-03-10", "to": "2024-03-10"}, lambda a: day0 <= a.published < day1),
        ({"from": "2024-03-10T12:00:00Z", "to": "2024-03-10T23:59:59Z"},
         lambda a: ts("2024-03-10T12:00:00Z") <= a.published <= ts("2024-03-10T23:59:59Z")),
        ({"from": "2024-03-09T23:59:59Z", "to": "2024-03-10T00:00:00Z"},
         lambda a: ts("2024-03-09T23:59:59Z") <= a.published <= day0),
        ({"from": "2024-03-10T13:00:00+01:00"}, lambda a: a.published >= ts("2024-03-10T12:00:00Z")),
        ({"to": "2024-03-11T00:00:00Z"}, lambda a: a.published <= day1),
        ({"from": "2024-03-11T00:00:00Z", "to": "2024-03-11T00:00:00Z"}, lambda a: a.published == day1),
    ]
    for params, pred in cases:
        expect_ids(t, ctx, "/v1/articles", params, pred)
    t.eq(len(ctx.model.select(cases[2][1])), 6, "fixture: articles on 2024-03-10")


@test()
def test_filter_combinations(t, ctx):
    alice = ctx.author("test-gazette", "Alice Martin")
    cases = [
        ({"publication": "essai-quotidien", "access": "premium"}, lambda a: a.pub == "essai-quotidien" and a.access == "premium"),
        ({"publication": "test-gazette", "author": alice["slug"], "section": "world"},
         lambda a: a.pub == "test-gazette" and "Alice Martin" in a.authors and a.section == "World"),
        ({"language": "fr", "from": "2024-03-13"}, lambda a: a.language == "fr" and a.published >= ts("2024-03-13T00:00:00Z")),
        ({"publication": "test-ledger", "section": "sport", "to": "2024-03-12"},
         lambda a: a.pub == "test-ledger" and a.section == "Sport" and a.published < ts("2024-03-13T00:00:00Z")),
        ({"access": "free", "language": "en", "section": "Business", "sort": "oldest"},
         lambda a: a.access == "free" and a.language == "en" and a.section == "Business"),
    ]
    for params, pred in cases:
        t.check(ctx.model.select(pred), f"fixture: combination {params} selects nothing")
        expect_ids(t, ctx, "/v1/articles", params, pred, params.get("sort", "newest"))


# ================================================================ sorting and pagination

@test()
def test_sort_order_and_ties(t, ctx):
    got = expect_ids(t, ctx, "/v1/articles", {}, lambda a: True, "newest", "default order")
    expect_ids(t, ctx, "/v1/articles", {"sort": "newest"}, lambda a: True, "newest")
    expect_ids(t, ctx, "/v1/articles", {"sort": "oldest"}, lambda a: True, "oldest")
    tie = [ctx.art(r).id for r in ("f8", "f9", "f10", "f11")]
    t.eq([i for i in got if i in tie], sorted(tie, reverse=True), "newest: same published_at ordered by id desc")


PAGINATION_QUERIES = [
    ({}, "newest"), ({"sort": "oldest"}, "oldest"), ({"publication": "test-gazette"}, "newest"),
    ({"language": "fr", "sort": "oldest"}, "oldest"), ({"from": "2024-03-10", "to": "2024-03-10"}, "newest"),
    ({"access": "premium"}, "newest"),
]


@test()
def test_pagination_walks(t, ctx):
    preds = {"publication": lambda a, v: a.pub == v, "language": lambda a, v: a.language == v,
             "access": lambda a, v: a.access == v}
    for params, sort in PAGINATION_QUERIES:
        def pred(a, params=params):
            ok = all(preds[k](a, v) for k, v in params.items() if k in preds)
            if "from" in params:
                ok = ok and ts("2024-03-10T00:00:00Z") <= a.published < ts("2024-03-11T00:00:00Z")
            return ok
        want = [a.id for a in ctx.model.select(pred, sort)]
        for limit in (1, 2, 3, 7):
            got = [s.get("id") for s in walk_pages(t, ctx.client, "/v1/articles", params, limit)]
            t.check(len(got) == len(set(got)), f"walk {params} limit={limit}: repeats {short(got)}")
            t.check(got == want, f"walk {params} limit={limit}: got {short(got)}, expected {short(want)}")


@test()
def test_pagination_with_next_cursor_param(t, ctx):
    alice = ctx.author("test-gazette", "Alice Martin")
    for path, params, pred, sort in [
            ("/v1/articles", {"sort": "oldest"}, lambda a: True, "oldest"),
            (f"/v1/authors/{alice['slug']}/articles", {}, lambda a: a.pub == "test-gazette" and "Alice Martin" in a.authors, "newest"),
            ("/v1/publications/test-ledger/articles", {"sort": "oldest"}, lambda a: a.pub == "test-ledger", "oldest")]:
        want = [a.id for a in ctx.model.select(pred, sort)]
        for limit in (2, 5):
            got = [s.get("id") for s in walk_pages(t, ctx.client, path, params, limit, follow="cursor")]
            t.check(got == want, f"walk {path} {params} limit={limit} via next_cursor: got {short(got)}, expected {short(want)}")


@test()
def test_last_page_has_no_next(t, ctx):
    r = ctx.client.get("/v1/articles", {"limit": "100"})
    env = check_envelope(t, r, 100, "/v1/articles")
    t.check(env["meta"].get("next_cursor") is None and env["links"].get("next") is None and r.header("Link") is None,
            "single-page result must have next_cursor null, links.next null and no Link header")
    r = ctx.client.get("/v1/articles", {"section": "Nope"})
    env = check_envelope(t, r, 20, "/v1/articles")
    t.eq((env["data"], env["meta"].get("total"), env["meta"].get("next_cursor")), ([], 0, None), "empty result")


# ================================================================ publications and authors

@test()
def test_publications_list(t, ctx):
    items = walk_pages(t, ctx.client, "/v1/publications", {}, limit=20)
    t.eq([p.get("slug") for p in items], sorted(ctx.model.pubs, key=lambda s: ctx.model.pubs[s]["name"]), "publications in name order")
    for p in items:
        t.eq(set(p), PUBLICATION_KEYS, f"publication {p.get('slug')}: field set")
        w = ctx.model.pubs.get(p.get("slug"))
        if w:
            for k in ("name", "homepage", "country", "language"):
                t.eq(p.get(k), w[k], f"publication {p.get('slug')}: {k}")
            t.eq(p.get("article_count"), len([a for a in ctx.model.arts if a.pub == p.get("slug")]), f"publication {p.get('slug')}: article_count")
            t.eq(p.get("id"), ctx.pub_ids.get(p.get("slug")), f"publication {p.get('slug')}: id vs article summaries")
    paged = walk_pages(t, ctx.client, "/v1/publications", {}, limit=1)
    t.eq([p.get("id") for p in paged], [p.get("id") for p in items], "publications walked one per page")


@test()
def test_publication_by_id_and_slug(t, ctx):
    for slug in ctx.model.pubs:
        pid = ctx.pub_ids.get(slug)
        a = expect_json_ok(t, ctx.client.get(f"/v1/publications/{slug}"))
        b = expect_json_ok(t, ctx.client.get(f"/v1/publications/{pid}"))
        t.eq(a, b, f"publication {slug} by slug vs by id")
        t.eq(set(a), PUBLICATION_KEYS, f"publication {slug}: field set")
        t.eq(a.get("article_count"), len([x for x in ctx.model.arts if x.pub == slug]), f"publication {slug}: article_count")


@test()
def test_author_resource(t, ctx):
    for pub, name in (("test-gazette", "Alice Martin"), ("essai-quotidien", "Marc Lefèvre"), ("test-ledger", "Sam Okafor")):
        au = ctx.author(pub, name)
        a = expect_json_ok(t, ctx.client.get(f"/v1/authors/{au['id']}"))
        b = expect_json_ok(t, ctx.client.get(f"/v1/authors/{seg(au['slug'])}"))
        t.eq(a, b, f"author {name} by id vs by slug")
        t.eq(set(a), AUTHOR_KEYS, f"author {name}: field set")
        t.eq((a.get("name"), a.get("slug"), a.get("id")), (name, au["slug"], au["id"]), f"author {name}: name/slug/id")
        pubobj = a.get("publication")
        if t.check(isinstance(pubobj, dict), f"author {name}: publication must be an object"):
            t.eq((pubobj.get("id"), pubobj.get("slug")), (ctx.pub_ids.get(pub), pub), f"author {name}: publication")
        t.eq(a.get("article_count"), len([x for x in ctx.model.arts if x.pub == pub and name in x.authors]), f"author {name}: article_count")


@test()
def test_bad_import_good_lines_visible(t, ctx):
    heads = {a.summary.get("headline") for a in ctx.model.arts if a.summary}
    for h in ("Ledger good line: harbour report", "Ledger good line: late results", "Bob on the revised budget numbers"):
        t.check(h in heads, f"good line of bad.ndjson {h!r} not served")
    r = ctx.client.get("/v1/articles", {"limit": "100"})
    body = r.body.decode("utf-8", "replace")
    for bad in ("Rejected line", '"First"', '"Second"', "Bob on the budget numbers\""):
        t.check(bad not in body, f"rejected or superseded content {bad!r} is served")


# ================================================================ pagination while articles arrive

LIVE_ARTICLES = [
    ("live-newest", "2024-04-01T09:00:00Z", "Live import: newest of all"),
    ("live-oldest", "2024-01-01T09:00:00Z", "Live import: oldest of all"),
    ("live-tie", "2024-03-10T12:00:00Z", "Live import: another noon story"),
    ("live-mid", "2024-03-05T00:00:00Z", "Live import: middle of the range"),
]


def walk_start(t, ctx, params, limit, upto):
    items, target = [], url("/v1/articles", dict(params, limit=str(limit)))
    while target and len(items) < upto:
        env = check_envelope(t, ctx.client.get(target), limit, "/v1/articles")
        items.extend(env["data"])
        target = env["links"].get("next")
    return items, target


def walk_rest(t, ctx, target, limit):
    items = []
    while target:
        env = check_envelope(t, ctx.client.get(target), limit, "/v1/articles")
        items.extend(env["data"])
        target = env["links"].get("next")
    return items


@test()
def test_pagination_while_importing(t, ctx):
    before = {a.id for a in ctx.model.arts}
    t.require(None not in before, "model ids unknown")
    half = len(before) // 2
    walks = {}
    for params, sort, limit in (({}, "newest", 3), ({"sort": "oldest"}, "oldest", 4),
                                ({"publication": "test-ledger"}, "newest", 1)):
        items, nxt = walk_start(t, ctx, params, limit, half if not params.get("publication") else 3)
        t.require(nxt, f"walk {params} ended before the import")
        walks[(sort, limit, tuple(params.items()))] = (items, nxt, limit, sort, params)
    unchanged, updated = ctx.art("f1"), ctx.art("f25")
    etag_unchanged = ctx.client.get(f"/v1/articles/{unchanged.id}").header("ETag")
    etag_updated = ctx.client.get(f"/v1/articles/{updated.id}").header("ETag")

    lines = []
    for ref, when, headline in LIVE_ARTICLES:
        lines.append(dict(publication="test-ledger", external_id=ref, url=f"https://ledger.test.example/live/{ref}",
                          headline=headline, standfirst="Imported while a client paginates.", section="World",
                          authors=["Sam Okafor"], published_at=when, language="en", access="free",
                          body_text="Arrived during pagination."))
    upd = dict(updated.raw, standfirst="All the results, now with the late scores.")
    lines.append(upd)
    fixture_lines = dict(read_ndjson(FIXTURE))
    live = os.path.join(ctx.tmp, "live.ndjson")
    with open(live, "w", encoding="utf-8") as f:
        f.write("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n" + fixture_lines[1] + "\n")
    rc, out, err = ctx.run_cli("import", live, "--db", ctx.db)
    t.eq(rc, 0, "exit status of an import while the server runs")
    check_summary(t, out, (len(LIVE_ARTICLES), 1, 1, 0), "import while the server runs")
    for ref, _, _ in LIVE_ARTICLES:
        ctx.model.apply(ref, next(x for x in lines if x.get("external_id") == ref))
    ctx.model.apply("f25", upd)

    for (sort, limit, _), (items, nxt, limit, sort, params) in walks.items():
        items = items + walk_rest(t, ctx, nxt, limit)
        ids = [s.get("id") for s in items]
        w = f"walk {params} limit={limit} across an import"
        t.check(len(ids) == len(set(ids)), f"{w}: repeated ids {short([i for i in ids if ids.count(i) > 1])}")
        scope = {a.id for a in ctx.model.arts if a.id in before and (not params.get("publication") or a.pub == params["publication"])}
        missing = scope - set(ids)
        t.check(not missing, f"{w}: skipped articles that existed at the start: {sorted(missing)}")
        keys = [(parse_time(s["published_at"]), s["id"]) for s in items]
        ordered = sorted(keys, reverse=(sort == "newest"))
        t.check(keys == ordered, f"{w}: items out of order")

    ctx.sync(t)
    t.eq(len(ctx.model.arts), len(before) + len(LIVE_ARTICLES), "articles after the live import")
    t.eq(ctx.client.get(f"/v1/articles/{unchanged.id}").header("ETag"), etag_unchanged, "ETag of an article re-imported unchanged")
    t.check(ctx.client.get(f"/v1/articles/{updated.id}").header("ETag") != etag_updated, "ETag of an updated article did not change")
    t.eq(ctx.art("f25").summary.get("standfirst"), upd["standfirst"], "standfirst after the live update")
    expect_ids(t, ctx, "/v1/articles", {}, lambda a: True, "newest", "all articles after the live import")


# ================================================================ odd inputs: never a 5xx

STRICT_ODD = [  # each must be a 4xx problem+json
    "/v1/articles?limit=99999999999999999999",
    "/v1/articles?limit=-99999999999999999999",
    "/v1/articles?limit=1%00",
    "/v1/articles?sort=newest%00",
    "/v1/articles?publication=test%00gazette",
    "/v1/articles?author=%00",
    "/v1/articles?publication=%FF%FE",
    "/v1/articles?author=%C3%28",
    "/v1/articles?cursor=%FF%FF%FF",
    "/v1/articles?cursor=" + "A" * 4000,
    "/v1/articles?%FF=1",
    "/v1/articles?from=%FF",
    "/v1/articles?to=2024-03-10T25:61:61Z",
    "/v1/articles?from=9999999999-01-01",
    "/v1/articles/%FF",
    "/v1/articles/%C3%28",
    "/v1/articles/abc%00def",
    "/v1/articles/%00",
    "/v1/articles/../../etc/passwd",
    "/v1/articles/..%2F..%2Fetc%2Fpasswd",
    "/v1/articles/%2e%2e",
    "/v1/articles/99999999999999999999999999",
    "/v1/articles/-1",
    "/v1/publications/%FF/articles",
    "/v1/publications/%FF%FE",
    "/v1/authors/%00",
    "/v1/authors/%FF/articles?limit=0",
    "/v1/articles?limit=1&publication=" + "a" * 6000,
    "/v1/articles?" + "x" * 3000 + "=1",
    "/v1/articles?" + "&".join(f"p{i}=1" for i in range(300)),
    "/v1/articles?limit=1&" + "&".join("limit=1" for _ in range(50)),
    "/v1/articles?publication=" + "%C3%A9" * 2000,
    "/v1/articles?section=" + "%C3" * 100,
    "/etc/passwd",
    "/v1/articles%00",
]
LENIENT_ODD = [  # never 5xx; 200 must be JSON; any 4xx (or the connection closed) is fine
    "/v1/articles?section=%FF",
    "/v1/articles?&&&",
    "/v1/articles?=",
    "/v1/articles?limit",
    "/v1/articles/",
    "//v1//articles",
    "/v1/articles?section=" + "%C3%A9" * 3000,
    "/v1/articles?limit=1&publication=" + "a" * 100000,
]


@test(proxy=NO_PROXY_RAW)
def test_odd_inputs_never_500(t, ctx):
    for path in STRICT_ODD:
        try:
            r = ctx.client.request("GET", path)
        except (http.client.HTTPException, OSError) as e:
            t.check(False, f"GET {short(path, 80)}: connection failed: {e!r}")
            continue
        if t.check(400 <= r.status < 500, f"{r.label}: expected a 4xx problem, got {r.status}: {short(r.body)}"):
            expect_problem(t, r, r.status)
    for path in LENIENT_ODD:
        c = Client(ctx.port)
        try:
            r = c.request("GET", path, retry=False)
            t.check(r.status < 500, f"{r.label}: {r.status} {short(r.body)}")
            if r.status == 200:
                r.json
        except (http.client.HTTPException, OSError):
            pass   # the server may refuse an oversized request by closing
        finally:
            c.close()
    for hdrs in ({"X-Request-Id": "x" * 10000}, {"If-None-Match": "\x7f\x01garbage"}, {"Accept-Encoding": "gzip;q=abc, *;q=-1"}):
        c = Client(ctx.port)
        try:
            r = c.request("GET", "/v1/articles?limit=1", headers=hdrs, retry=False)
            t.check(r.status < 500, f"GET with odd header {short(hdrs, 60)}: {r.status}")
        except (http.client.HTTPException, OSError, ValueError):
            pass
        finally:
            c.close()
    t.check(ctx.proc.poll() is None, "server died during the odd inputs")
    r = Client(ctx.port).get("/healthz")
    t.eq(r.status, 200, "/healthz after the odd inputs")


# ================================================================ shutdown

register_shutdown_tests()


# ================================================================ runner


def start_server(ctx):
    """Start `serve` and wait (<= 10 s) for /healthz; returns an error string or None."""
    ctx.port = free_port()
    ctx.proc = subprocess.Popen([ctx.bin, "serve", "--db", ctx.db, "--bind", HOST, "--port", str(ctx.port),
                                 "--threads", "2"], stdout=open(ctx.server_out, "wb"),
                                stderr=open(ctx.server_err, "wb"), env=ctx.env, cwd=ctx.tmp)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ctx.proc.poll() is not None:
            with open(ctx.server_err, encoding="utf-8", errors="replace") as f:
                return f"server exited with {ctx.proc.returncode}: {short(f.read(), 400)}"
        try:
            c = http.client.HTTPConnection(HOST, ctx.port, timeout=1)
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                err = front_with_proxy(ctx)  # proxy mode: ctx.port becomes Prism's
                ctx.client = Client(ctx.port)
                return err
        except OSError:
            pass
        time.sleep(0.1)
    return "server did not answer GET /healthz with 200 within 10 s"




def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "newsstand"), help="the newsstand binary (default: ./newsstand at the repo top)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (database, server logs)")
    ap.add_argument("--verbose", "-v", action="store_true", help="also print passing tests")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    results = []
    started = time.monotonic()

    if not (os.path.isfile(args.bin) and os.access(args.bin, os.X_OK)):
        for name, _, _ in TESTS:
            print(f"FAIL {name}: not run: no executable at {args.bin}")
        print(f"0 passed, {len(TESTS)} failed")
        return 1

    ctx = Ctx(args)
    try:
        run_phases(TESTS, ctx, start_server, results, args.verbose, blocked=lambda phase: phase == "http")
    finally:
        results.extend(finish_proxy())
        if ctx.proc is not None and ctx.proc.poll() is None:
            ctx.proc.kill()
            ctx.proc.wait()
        if args.keep:
            print(f"temp dir kept: {ctx.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(ctx.tmp, ignore_errors=True)
    failed = sum(1 for _, f in results if f)
    if args.verbose:
        print(f"({time.monotonic() - started:.1f}s)", file=sys.stderr)
    print(summary(len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
