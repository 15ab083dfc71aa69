#!/usr/bin/env python3
"""End-to-end tests for newsstand's readers (issue 6): accounts and sessions,
membership set by the administration route, the paywall in every place text
could leak, follows, the personal feed, bookmarks, reads and history, top
stories, related articles, and that one reader never sees or changes another
reader's data.

Usage (from the top of the repository):

    python3 tests/e2e/readers.py [--bin ./newsstand] [--keep] [--verbose] [--only NAME]

What it does, in order:
  1. in a fresh temp dir: `entities import` of fixtures/readers_gazetteer.ndjson
     and of 505 generated filler entities (they match no article; they are for
     the 500-follows cap), `import` of fixtures/readers_articles.ndjson
     (15 articles over two publications; 5 premium ones hide a secret marker
     word after their preview blocks), `keys create` of an admin and an
     ingest key;
  2. starts `newsstand serve` on a free loopback port and runs the HTTP tests
     (each named test_*; they run in the order below and later ones build on
     the readers, follows, bookmarks and reads earlier ones left);
  3. sends SIGTERM, expects exit status 0 within 10 s, no sanitizer report and
     no session token or password in any log.

The cast: readers A and B (trial), M (member, set by the admin route),
L (a lapsed trial: expires_at in the past), F (free), D (deletes itself),
E (changes email and password), C (hits the follows cap), R and S (hit the
sign-in rate limit), T (sign-in timing), Z and Y (a deleted account and the
newcomer after it), and an anonymous client.

Every response is audited on the way in: no session token may appear in any
answer but the sign-up/sign-in answer that issued it, no password in any
answer, and every answer to a request carrying Authorization must be
`Cache-Control: private, no-store`.

Contract: /work/shared/API.md; decisions: /work/notes/design6.md (and the
notes for issues 2, 3 and 5). Every test is a named function taking (t, ctx);
failures print one line each, the last line is `N passed, N failed`, and the
exit status is 1 when anything failed. Python 3 standard library only;
loopback only; every loop is bounded.
"""

import argparse
import gzip
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from harness import (
    server_env,
    TESTS, register_shutdown_tests, TestFailure, T, test, free_port, seg, encode_body,
    error_fields, names_field, run_phases, short,
    front_with_proxy, finish_proxy, proxy_skip, summary, NO_PROXY_BAD_JSON, NO_PROXY_EARLY, NO_PROXY_HEAD,
)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
GAZETTEER = os.path.join(HERE, "fixtures", "readers_gazetteer.ndjson")
ARTICLES = os.path.join(HERE, "fixtures", "readers_articles.ndjson")

HOST = "127.0.0.1"
PROBLEM_BASE = "https://newsstand.dev/problems/"
PROBLEM_SLUG = {401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
                409: "conflict", 415: "unsupported-media-type", 422: "validation-failed",
                429: "too-many-requests", 500: "internal", 503: "unavailable"}
SUMMARY_KEYS = {"id", "slug", "headline", "standfirst", "url", "publication", "section",
                "authors", "image", "published_at", "updated_at", "language", "access",
                "word_count", "reading_time_minutes", "topics", "entities"}
USER_KEYS = {"id", "email", "name", "membership", "created_at"}
FOLLOW_KEYS = {"kind", "id", "slug", "name", "followed_at"}
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")
TOKEN_RE = re.compile(r"^nss_[A-Za-z0-9_-]{43}$")
KEY_RE = re.compile(r"^ns_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$")
IMPORTED_LINE = re.compile(r"^imported: (\d+) created, (\d+) updated, (\d+) unchanged, (\d+) rejected$")
ENTITIES_LINE = re.compile(r"^entities: (\d+) created, (\d+) updated, (\d+) unchanged, (\d+) rejected$")
UNKNOWN_ID = 987654321
FILLERS = 505
FOLLOW_CAP = 500
DOMAIN = "readers.example"

# The premium fixture articles: external_id -> (secret marker word, the words around it, for ?q=).
PREMIUM = {"rw-01": ("zzsecretalpha", "quokka marmalade"),
           "rd-03": ("zzsecretbravo", "pangolin saxophone"),
           "rw-04": ("zzsecretcharlie", "walrus trombone"),
           "rw-05": ("zzsecretdelta", "iguana clarinet"),
           "rw-07": ("zzsecretecho", "axolotl bagpipe")}
SECRET_STEM = b"zzsecret"

# Who sees what: (label, reader name or None for anonymous, locked?)
VIEWERS = [("anonymous", None, True), ("free", "F", True), ("lapsed trial", "L", True),
           ("trial", "A", False), ("member", "M", False)]


# ---------------------------------------------------------------- results


# ---------------------------------------------------------------- time

def parse_time(s):
    if not isinstance(s, str) or not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", s):
        return None
    try:
        return datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def rfc3339(dt):
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utcnow():
    return datetime.now(timezone.utc)


def near(t, s, lo, hi, slack, what):
    """s is an RFC 3339 UTC time within [lo - slack, hi + slack]."""
    dt = parse_time(s)
    if not t.check(dt is not None, f"{what}: not an RFC 3339 UTC time: {short(s)}"):
        return
    t.check(lo - slack <= dt <= hi + slack,
            f"{what}: {s} is not between {rfc3339(lo - slack)} and {rfc3339(hi + slack)}")


# ---------------------------------------------------------------- HTTP

class Response:
    def __init__(self, method, path, status, headers, body, authorized=False):
        self.method, self.path, self.status, self.headers, self.body = method, path, status, headers, body
        self.authorized = authorized
        self._json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def ctype(self):
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def label(self):
        return f"{self.method} {short(self.path, 120)}" + (" [token]" if self.authorized else "")

    @property
    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise TestFailure(f"{self.label}: body is not JSON ({e}): {short(self.body)} (status {self.status})")
        return self._json

    def plain_body(self):
        if (self.header("Content-Encoding") or "").lower() == "gzip":
            try:
                return gzip.decompress(self.body)
            except (OSError, EOFError):
                return self.body
        return self.body

    def has_secret(self):
        text = self.plain_body().lower() + b"\n".join(f"{k}: {v}".encode("utf-8", "replace").lower()
                                              for k, v in self.headers)
        return SECRET_STEM in text


DEFAULT = object()


class Client:
    """One keep-alive HTTP/1.1 connection, reopened once if the server closed it."""

    def __init__(self, port, timeout=60):
        self.port, self.timeout = port, timeout
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                if (r.getheader("Connection") or "").lower() == "close":
                    self.conn.close()
                return Response(method, path, r.status, r.getheaders(), data)
            except (http.client.RemoteDisconnected, http.client.CannotSendRequest,
                    http.client.ResponseNotReady, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        self.conn.close()


def raw_request(port, method, path, headers, body, chunked=False, chunk=64 * 1024, timeout=60):
    """One request on its own connection, for big or chunked bodies. Sends the body while
    watching for an early answer (a 401/413 may come before the body is read); returns a
    Response, with .error set when the server gave no readable answer."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close"]
    for k, v in headers.items():
        lines.append(f"{k}: {v}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        payload = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + chunk]), body[i:i + chunk])
                           for i in range(0, len(body), chunk)) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload
    s = socket.create_connection((HOST, port), timeout=timeout)
    try:
        s.setblocking(False)
        off, deadline, sent_all = 0, time.monotonic() + timeout, False
        while off < len(data) and time.monotonic() < deadline:
            r, w, _ = select.select([s], [s], [], max(0.0, deadline - time.monotonic()))
            if r:
                break  # an answer (or a close) before the whole body went out
            if w:
                try:
                    off += s.send(data[off:off + 256 * 1024])
                except (BlockingIOError, InterruptedError):
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    break
        sent_all = off >= len(data)
        s.setblocking(True)
        s.settimeout(max(1.0, deadline - time.monotonic()))
        resp = http.client.HTTPResponse(s, method=method)
        try:
            resp.begin()
            body_in = resp.read()
        except (http.client.HTTPException, OSError) as e:
            return Response(method, path, None, [("X-Test-Error", f"no answer ({type(e).__name__}: {e}); "
                                                                  f"sent {off} of {len(data)} bytes")], b"")
        del sent_all
        return Response(method, path, resp.status, resp.getheaders(), body_in)
    finally:
        s.close()


def expect_ok(t, r, status=200):
    t.require(r.status == status, f"{r.label}: expected {status}, got {r.status}: {short(r.body)}")
    if status == 204:
        t.check(r.body == b"", f"{r.label}: a 204 with a body: {short(r.body)}")
        return None
    t.check(r.ctype == "application/json", f"{r.label}: Content-Type {r.ctype!r}")
    return r.json


def expect_problem(t, r, status, fields=(), slug=DEFAULT, what=None):
    """A problem+json answer with this status (or one of a set), of the right type, naming the fields."""
    label = what or r.label
    ok_status = r.status in status if isinstance(status, (set, tuple)) else r.status == status
    if not t.check(ok_status, f"{label}: expected {status} problem, got {r.status}: {short(r.body)}"):
        return None
    t.check(r.ctype == "application/problem+json",
            f"{label}: Content-Type {r.ctype!r}, expected application/problem+json")
    try:
        p = json.loads(r.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        t.check(False, f"{label}: problem body is not JSON: {short(r.body)}")
        return None
    if not t.check(isinstance(p, dict), f"{label}: problem is not an object"):
        return None
    if slug is DEFAULT:
        sl = PROBLEM_SLUG.get(r.status)
        if r.status == 400:
            t.check(p.get("type") in (PROBLEM_BASE + "invalid-parameter", PROBLEM_BASE + "malformed-body"),
                    f"{label}: problem type {p.get('type')!r}")
    else:
        sl = slug
    if sl:
        t.eq(p.get("type"), PROBLEM_BASE + sl, f"{label}: problem type")
    t.eq(p.get("status"), r.status, f"{label}: problem status")
    got = error_fields(p)
    if r.status in (400, 422):
        t.check(got, f"{label}: problem lacks a non-empty errors list: {short(p)}")
    for f in fields:
        t.check(names_field(got, f), f"{label}: errors name fields {got}, expected {f!r} among them")
    if r.status == 401:
        wa = r.header("WWW-Authenticate") or ""
        t.check(wa.lower().startswith("bearer"), f"{label}: 401 without WWW-Authenticate: Bearer (got {wa!r})")
    if r.status in (429, 503):
        ra = r.header("Retry-After")
        t.check(ra is not None and ra.isdigit(), f"{label}: {r.status} without a Retry-After in seconds: {ra!r}")
    return p


def cc_tokens(r):
    return {x.strip().lower() for x in (r.header("Cache-Control") or "").split(",") if x.strip()}


def vary_tokens(r):
    out = set()
    for v in r.header_all("Vary"):
        out |= {x.strip().lower() for x in v.split(",") if x.strip()}
    return out


def route_of(path):
    p = path.split("?")[0]
    return "/".join("{n}" if x.isdigit() else x for x in p.split("/"))


# ---------------------------------------------------------------- context

class Reader:
    def __init__(self, name, email, password, display):
        self.name, self.email, self.password, self.display = name, email, password, display
        self.token = None
        self.id = None
        self.user = None


class Ctx:
    def __init__(self, args):
        self.bin = args.bin
        self.tmp = tempfile.mkdtemp(prefix="newsstand-readers-")
        self.db = os.path.join(self.tmp, "db.sqlite")
        self.env = server_env()
        self.proc = self.port = self.client = None
        self.server_err = os.path.join(self.tmp, "server.stderr")
        self.server_out = os.path.join(self.tmp, "server.stdout")
        self.cli_stderr = []
        self.keys = {}
        self.readers = {}
        self.tokens = {}          # token -> whose (for the leak audit)
        self.passwords = set()    # every password ever sent
        self.url_tokens = set()   # tokens deliberately sent in a URL (an access log may show those)
        self.leaks = []           # what the audit found
        self.cache_bad = {}       # (method, route, status) -> example
        self.reads = {}           # article id -> reads the server should have counted
        self.first_read = None    # when the first counted read was made (epoch seconds)
        self.fixture = []
        with open(ARTICLES, encoding="utf-8") as f:
            self.fixture = [json.loads(line) for line in f if line.strip()]
        self.by_ext = {d["external_id"]: d for d in self.fixture}
        self.ids = {}             # external_id -> id
        self.summaries = {}       # id -> anonymous summary from GET /v1/articles

    def run_cli(self, *argv, timeout=120):
        p = subprocess.run([self.bin, *argv, "--db", self.db], capture_output=True, env=self.env,
                           timeout=timeout, cwd=self.tmp)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        self.cli_stderr.append((" ".join(argv[:2]), err))
        return p.returncode, out, err

    # -- requests
    def call(self, method, path, body=None, token=None, key=None, ctype=DEFAULT, headers=None):
        """token: a reader name (its current token) or a raw token text; key: an API key name."""
        h = dict(headers or {})
        data = encode_body(body)
        if token is not None:
            tok = self.readers[token].token if token in self.readers else token
            h["Authorization"] = f"Bearer {tok}"
        if key is not None:
            h["Authorization"] = f"Bearer {self.keys[key]}"
        if ctype is DEFAULT:
            if data is not None:
                h["Content-Type"] = "application/json"
        elif ctype is not None:
            h["Content-Type"] = ctype
        r = self.client.request(method, path, body=data, headers=h)
        r.authorized = "Authorization" in h
        self.audit(r)
        return r

    def get(self, path, token=None, headers=None):
        return self.call("GET", path, token=token, headers=headers)

    def audit(self, r):
        text = r.body.decode("utf-8", "replace") + "\n" + "\n".join(f"{k}: {v}" for k, v in r.headers)
        for tok, whose in self.tokens.items():
            if tok in text:
                self.leaks.append(f"{r.label} ({r.status}) answers a session token of {whose}")
        for pw in self.passwords:
            esc = json.dumps(pw, ensure_ascii=True)[1:-1]
            if pw in text or esc in text:
                self.leaks.append(f"{r.label} ({r.status}) echoes a password ({short(pw, 20)})")
        if r.authorized:
            cc = cc_tokens(r)
            if not {"private", "no-store"} <= cc or "public" in cc:
                k = (r.method, route_of(r.path), r.status)
                self.cache_bad.setdefault(k, r.header("Cache-Control"))

    # -- readers
    def signup(self, name, email, password, display):
        self.passwords.add(password)
        rd = Reader(name, email, password, display)
        r = self.call("POST", "/v1/users", {"email": email, "password": password, "name": display})
        if r.status == 201:
            try:
                b = r.json
                rd.token, rd.user = b.get("token"), b.get("user")
                rd.id = (rd.user or {}).get("id")
                if isinstance(rd.token, str):
                    self.tokens[rd.token] = f"{name} (sign-up)"
            except TestFailure:
                pass
            self.readers[name] = rd
        return r

    def signin(self, email, password, whose="?"):
        self.passwords.add(password)
        r = self.call("POST", "/v1/sessions", {"email": email, "password": password})
        tok = None
        if r.status == 201:
            try:
                tok = r.json.get("token")
            except TestFailure:
                tok = None
            if isinstance(tok, str):
                self.tokens[tok] = f"{whose} (sign-in)"
        return r, tok

    def need(self, *names):
        missing = [n for n in names if n not in self.readers or not self.readers[n].token]
        if missing:
            raise TestFailure(f"reader(s) {missing} could not sign up")

    def need_keys(self, *names):
        missing = [n for n in names if n not in self.keys]
        if missing:
            raise TestFailure(f"no API key {missing} (keys create failed)")

    # -- articles
    def aid(self, ext):
        if ext not in self.ids:
            raise TestFailure(f"fixture article {ext} not known (the fixture did not load)")
        return self.ids[ext]

    def ext_of(self, aid):
        for e, i in self.ids.items():
            if i == aid:
                return e
        return f"#{aid}"

    def read(self, t, ext_or_id, token=None, via_slug=False):
        aid = ext_or_id if isinstance(ext_or_id, int) else self.aid(ext_or_id)
        ref = self.summaries[aid]["slug"] if via_slug else aid
        r = self.call("POST", f"/v1/articles/{seg(ref)}/reads", token=token)
        if t.check(r.status == 204, f"{r.label}: expected 204, got {r.status}: {short(r.body)}"):
            self.reads[aid] = self.reads.get(aid, 0) + 1
            self.first_read = self.first_read or time.time()
            t.check(r.body == b"", f"{r.label}: a 204 with a body")
        return r


def walk(t, ctx, path, token=None, limit=None, max_pages=600, what=None):
    """Every item of a list, following links.next (bounded); checks the envelope on the way."""
    sep = "&" if "?" in path else "?"
    target = path + (f"{sep}limit={limit}" if limit else "")
    items, pages, seen_targets = [], 0, set()
    label = what or path
    while target and pages < max_pages:
        pages += 1
        r = ctx.get(target, token=token)
        t.require(r.status == 200, f"{label}: GET {target}: status {r.status}: {short(r.body)}")
        env = r.json
        t.require(isinstance(env, dict) and isinstance(env.get("data"), list) and isinstance(env.get("meta"), dict)
                  and isinstance(env.get("links"), dict), f"{label}: not a list envelope: {short(env)}")
        data = env["data"]
        if limit:
            t.check(len(data) <= limit, f"{label}: a page of {len(data)} items at limit={limit}")
        items.extend(data)
        nxt = env["links"].get("next")
        nc = env["meta"].get("next_cursor")
        t.check((nxt is None) == (nc is None), f"{label}: links.next {short(nxt)} vs meta.next_cursor {short(nc)}")
        link = r.header("Link")
        if nxt is None:
            t.check(link is None, f"{label}: last page sends a Link header {short(link)}")
        else:
            t.check(link is not None and "rel=\"next\"" in link, f"{label}: no Link rel=next header with a next page")
            if limit:
                t.check(len(data) == limit, f"{label}: a short page ({len(data)} < {limit}) with a next page")
            if nxt in seen_targets:
                t.check(False, f"{label}: links.next repeats {short(nxt)}")
                break
            seen_targets.add(nxt)
        target = nxt
    t.check(target is None, f"{label}: more than {max_pages} pages")
    return items


def ids_of(items):
    return [x.get("id") if isinstance(x, dict) else None for x in items]


def exts(ctx, ids):
    return [ctx.ext_of(i) for i in ids]


def sort_newest(ctx, ids):
    return sorted(ids, key=lambda i: (ctx.summaries[i]["published_at"], i), reverse=True)


def check_summary(t, item, what):
    if not t.check(isinstance(item, dict), f"{what}: an item that is not an object"):
        return
    missing = SUMMARY_KEYS - set(item)
    t.check(not missing, f"{what}: item {item.get('id')} lacks {sorted(missing)}")
    t.check("blocks" not in item and "body_text" not in item, f"{what}: a summary carries body text")


def check_user(t, u, what):
    if not t.check(isinstance(u, dict), f"{what}: user is not an object: {short(u)}"):
        return
    t.eq(set(u), USER_KEYS, f"{what}: user fields")
    m = u.get("membership")
    t.check(isinstance(m, dict) and set(m) == {"plan", "expires_at"},
            f"{what}: membership is not {{plan, expires_at}}: {short(m)}")
    for k in u:
        t.check("password" not in k.lower() and "hash" not in k.lower() and "token" not in k.lower(),
                f"{what}: user has a field {k!r}")


# ================================================================ setup (command line)

@test("cli")
def test_setup_fixtures_and_keys(t, ctx):
    rc, out, err = ctx.run_cli("entities", "import", GAZETTEER)
    t.require(rc == 0, f"entities import: exit {rc}: {short(err)}")
    m = ENTITIES_LINE.match(out.strip().splitlines()[-1] if out.strip() else "")
    t.check(m and m.group(1) == "7" and m.group(4) == "0", f"entities import summary: {short(out)}")
    fillers = os.path.join(ctx.tmp, "fillers.ndjson")
    with open(fillers, "w", encoding="utf-8") as f:
        for i in range(1, FILLERS + 1):
            f.write(json.dumps({"name": f"Filler Entity {i:04d}", "type": "other"}) + "\n")
    rc, out, err = ctx.run_cli("entities", "import", fillers)
    t.require(rc == 0, f"entities import (fillers): exit {rc}: {short(err)}")
    rc, out, err = ctx.run_cli("import", ARTICLES)
    t.require(rc == 0, f"import: exit {rc}: {short(err)}")
    m = IMPORTED_LINE.match(out.strip().splitlines()[-1] if out.strip() else "")
    t.check(m and m.groups() == (str(len(ctx.fixture)), "0", "0", "0"), f"import summary: {short(out)}")
    for scope, name in (("admin", "adm"), ("ingest", "ing")):
        rc, out, err = ctx.run_cli("keys", "create", "--scope", scope, "--name", name)
        lines = [x.strip() for x in out.splitlines() if x.strip()]
        if t.check(rc == 0 and lines and KEY_RE.match(lines[-1]),
                   f"keys create --scope {scope}: exit {rc}, stdout {short(out)}, stderr {short(err)}"):
            ctx.keys[name] = lines[-1]


# ================================================================ corpus

@test()
def test_fixture_loaded(t, ctx):
    items = walk(t, ctx, "/v1/articles", limit=100)
    by_url = {s.get("url"): s for s in items}
    for d in ctx.fixture:
        s = by_url.get(d["url"])
        if t.check(s is not None, f"fixture article {d['external_id']} is not listed"):
            ctx.ids[d["external_id"]] = s["id"]
            ctx.summaries[s["id"]] = s
    t.eq(len(items), len(ctx.fixture), "GET /v1/articles: number of articles")
    for ext in PREMIUM:
        if ext in ctx.ids:
            t.eq(ctx.summaries[ctx.aid(ext)].get("access"), "premium", f"{ext}: access")
    # The fixture's own promises: every secret lies after the preview blocks.
    for ext, (secret, _) in PREMIUM.items():
        blocks = ctx.by_ext[ext]["blocks"]
        n = min(2, len(blocks) // 2)
        t.require(all(secret not in json.dumps(b) for b in blocks[:n]) and secret in json.dumps(blocks),
                  f"fixture broken: {ext}'s secret must come after its {n} preview blocks")
    t.require(len(ctx.ids) == len(ctx.fixture), "the fixture did not load")


# ================================================================ sign-up

SIGNUPS = [  # (name, email as typed, display name)
    ("A", "  Reader.A@Readers.Example ", "Ada Reader"),
    ("B", "reader.b@readers.example", "Bea Reader"),
    ("M", "member.m@readers.example", "Max Member"),
    ("L", "lapsed.l@readers.example", "Lou Lapsed"),
    ("F", "free.f@readers.example", "Fay Free"),
    ("D", "delete.d@readers.example", "Dot Deleted"),
    ("E", "change.e@readers.example", "Eve Changer"),
    ("C", "cap.c@readers.example", "Cy Capped"),
    ("R", "limit.r@readers.example", "Rex Limited"),
    ("T", "timing.t@readers.example", "Tam Timing"),
]


def password_for(name):
    return f"pw-{name}-Orchid-{7731 + ord(name)}"


@test()
def test_signup_starts_a_trial(t, ctx):
    for name, email, display in SIGNUPS:
        before = utcnow()
        r = ctx.signup(name, email, password_for(name), display)
        after = utcnow()
        if not t.check(r.status == 201, f"sign-up of {name}: expected 201, got {r.status}: {short(r.body)}"):
            continue
        t.check(r.ctype == "application/json", f"sign-up of {name}: Content-Type {r.ctype!r}")
        t.check("no-store" in cc_tokens(r), f"sign-up of {name}: Cache-Control {r.header('Cache-Control')!r} "
                                            f"lacks no-store (the answer holds a token)")
        b = r.json
        t.check(isinstance(b, dict) and {"user", "token"} <= set(b), f"sign-up of {name}: body keys {short(b)}")
        tok = b.get("token")
        t.check(isinstance(tok, str) and TOKEN_RE.match(tok), f"sign-up of {name}: token {short(tok)} "
                                                             f"is not nss_ + 43 base64url characters")
        if "expires_at" in b:
            near(t, b["expires_at"], before + timedelta(days=30), after + timedelta(days=30),
                 timedelta(minutes=1), f"sign-up of {name}: session expires_at (30 days)")
        else:
            t.check(False, f"sign-up of {name}: no expires_at for the session")
        u = b.get("user")
        check_user(t, u, f"sign-up of {name}")
        if not isinstance(u, dict):
            continue
        t.eq(u.get("email"), email.strip().lower(), f"sign-up of {name}: email (trimmed, lowercased)")
        t.eq(u.get("name"), display, f"sign-up of {name}: name")
        t.check(isinstance(u.get("id"), int) and u["id"] > 0, f"sign-up of {name}: id {short(u.get('id'))}")
        m = u.get("membership") or {}
        t.eq(m.get("plan"), "trial", f"sign-up of {name}: plan")
        near(t, m.get("expires_at"), before + timedelta(days=14), after + timedelta(days=14),
             timedelta(minutes=1), f"sign-up of {name}: trial expires_at (14 days)")
        near(t, u.get("created_at"), before, after, timedelta(minutes=1), f"sign-up of {name}: created_at")
    ids = [rd.id for rd in ctx.readers.values()]
    t.eq(len(set(ids)), len(ids), "every reader has its own id")
    toks = [rd.token for rd in ctx.readers.values()]
    t.eq(len(set(toks)), len(toks), "every sign-up gives its own token")
    for name, rd in list(ctx.readers.items()):
        r = ctx.get("/v1/me", token=name)
        if t.check(r.status == 200, f"GET /v1/me for {name} with its sign-up token: {r.status}: {short(r.body)}"):
            t.eq(r.json.get("id"), rd.id, f"GET /v1/me for {name}: id")
            t.eq(r.json.get("email"), rd.email.strip().lower(), f"GET /v1/me for {name}: email")


@test()
def test_signup_duplicate_email_409(t, ctx):
    ctx.need("A")
    for email in ("reader.a@readers.example", "READER.A@READERS.EXAMPLE", "   Reader.a@readers.Example   "):
        pw = "pw-dup-Attempt-55"
        ctx.passwords.add(pw)
        r = ctx.call("POST", "/v1/users", {"email": email, "password": pw, "name": "Impostor"})
        expect_problem(t, r, 409, what=f"sign-up again as {email!r}")
        t.check("token" not in r.body.decode("utf-8", "replace"), f"sign-up again as {email!r}: answer mentions a token")
    r = ctx.get("/v1/me", token="A")
    if t.check(r.status == 200, f"GET /v1/me for A after the duplicates: {r.status}"):
        t.eq(r.json.get("name"), "Ada Reader", "A's name after duplicate sign-ups")


def long_email(n):
    """A well-formed address of exactly n characters (n >= 80)."""
    local = "x" * 64
    rest = n - len(local) - 1 - len(".com")
    labels = []
    while rest > 0:
        take = min(63, rest)
        if rest - take == 1:  # never leave a lone dot
            take -= 1
        labels.append("d" * take)
        rest -= take + (1 if rest - take > 0 else 0)
    return local + "@" + ".".join(labels) + ".com"


@test(proxy=NO_PROXY_BAD_JSON)
def test_signup_validation(t, ctx):
    good = {"email": "valid.person@readers.example", "password": "pw-valid-Person-01", "name": "Val"}
    ctx.passwords.add(good["password"])

    def body(**over):
        d = dict(good)
        for k, v in over.items():
            if v is DEFAULT:
                d.pop(k, None)
            else:
                d[k] = v
        return d

    ctx.passwords.update({"Pw7-xyz", "p" * 257})
    cases = [
        ("email without @", body(email="not-an-email"), ["email"]),
        ("email without a dot in the domain", body(email="a@readers"), ["email"]),
        ("email with two @", body(email="a@@readers.example"), ["email"]),
        ("email with a space inside", body(email="a b@readers.example"), ["email"]),
        ("empty email", body(email=""), ["email"]),
        ("email of 255 characters", body(email=long_email(255)), ["email"]),
        ("email as a number", body(email=42), ["email"]),
        ("no email", body(email=DEFAULT), ["email"]),
        ("password of 7 characters", body(password="Pw7-xyz"), ["password"]),
        ("password of 257 characters", body(password="p" * 257), ["password"]),
        ("password as a number", body(password=12345678), ["password"]),
        ("no password", body(password=DEFAULT), ["password"]),
        ("empty name", body(name=""), ["name"]),
        ("name of 101 characters", body(name="n" * 101), ["name"]),
        ("no name", body(name=DEFAULT), ["name"]),
        ("unknown field role", body(role="admin"), ["role"]),
        ("unknown field membership", body(membership={"plan": "member", "expires_at": "2099-01-01T00:00:00Z"}),
         ["membership"]),
        ("bad email and short password", body(email="nope", password="Pw7-xyz"), ["email", "password"]),
    ]
    for label, b, fields in cases:
        r = ctx.call("POST", "/v1/users", b)
        expect_problem(t, r, 422, fields, what=f"sign-up with {label}")
    r = ctx.call("POST", "/v1/users", b"[1, 2]")
    expect_problem(t, r, 422, what="sign-up with a JSON array")
    r = ctx.call("POST", "/v1/users", b'{"email": "trunc')
    expect_problem(t, r, 400, ["body"], slug="malformed-body", what="sign-up with broken JSON")
    r = ctx.call("POST", "/v1/users", json.dumps(good), ctype="text/plain")
    expect_problem(t, r, 415, what="sign-up as text/plain")
    # None of the refused bodies made an account: the valid email is still free.
    r = ctx.call("POST", "/v1/users", good)
    t.eq(r.status, 201, "sign-up with the valid body after every refusal")
    if r.status == 201:
        tok = r.json.get("token")
        if isinstance(tok, str):
            ctx.tokens[tok] = "Val (sign-up)"
    email = long_email(254)
    r = ctx.call("POST", "/v1/users", {"email": email, "password": good["password"], "name": "Long"})
    t.check(r.status == 201, f"sign-up with an email of 254 characters: expected 201, got {r.status}: "
                             f"{short(r.body)}")
    if r.status == 201 and isinstance(r.json.get("token"), str):
        ctx.tokens[r.json["token"]] = "Long (sign-up)"


@test()
def test_signup_password_length_counts_characters(t, ctx):
    seven, eight, many = "éèéèéèé", "éèéèéèéè", "é" * 256
    for pw, email, want in ((seven, "seven@readers.example", 422), (eight, "eight@readers.example", 201),
                            (many, "many@readers.example", 201)):
        ctx.passwords.add(pw)
        r = ctx.call("POST", "/v1/users", {"email": email, "password": pw, "name": "Chars"})
        if want == 422:
            expect_problem(t, r, 422, ["password"], what=f"sign-up with a password of {len(pw)} characters "
                                                          f"({len(pw.encode())} bytes)")
        else:
            t.check(r.status == 201, f"sign-up with a password of {len(pw)} characters ({len(pw.encode())} bytes):"
                                     f" expected 201, got {r.status}: {short(r.body)}")
            if r.status == 201 and isinstance(r.json.get("token"), str):
                ctx.tokens[r.json["token"]] = f"{email} (sign-up)"
    r, tok = ctx.signin("eight@readers.example", eight, "eight")
    t.eq(r.status, 201, "sign-in with the 8-character (16-byte) password")


@test()
def test_signup_concurrent_same_email_makes_one(t, ctx):
    email, pw = "race.same@readers.example", "pw-Race-Same-Email-1"
    ctx.passwords.add(pw)
    results, lock = [], threading.Lock()

    def worker():
        c = Client(ctx.port)
        try:
            r = c.request("POST", "/v1/users", body=encode_body({"email": email, "password": pw, "name": "Racer"}),
                          headers={"Content-Type": "application/json"})
            ctx.audit(r)
            if r.status == 201:
                try:
                    tok = json.loads(r.body).get("token")
                    if isinstance(tok, str):
                        ctx.tokens[tok] = "racer (sign-up)"
                except ValueError:
                    pass
            with lock:
                results.append(r.status)
        except OSError as e:
            with lock:
                results.append(f"{type(e).__name__}")
        finally:
            c.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    t.eq(sorted(map(str, results)), sorted(["201"] + ["409"] * 7), "8 simultaneous sign-ups with one email")


@test()
def test_signup_password_with_a_nul_byte(t, ctx):
    pw, other = "Nul-Byte\u0000Tail-1", "Nul-Byte\u0000Other-2"
    ctx.passwords.update({pw, other})
    r = ctx.call("POST", "/v1/users", {"email": "nul.byte@readers.example", "password": pw, "name": "Nul"})
    t.check(r.status in (201, 400, 422), f"sign-up with a NUL in the password: {r.status}: {short(r.body)}")
    if r.status == 201:
        tok = r.json.get("token")
        if isinstance(tok, str):
            ctx.tokens[tok] = "nul (sign-up)"
        r2, _ = ctx.signin("nul.byte@readers.example", other, "nul")
        t.eq(r2.status, 401, "sign-in with another password sharing the part before the NUL")
        r3, _ = ctx.signin("nul.byte@readers.example", "Nul-Byte", "nul")
        t.eq(r3.status, 401, "sign-in with only the part before the NUL")
    r = ctx.call("POST", "/v1/users", {"email": "nul.mail@readers.example\u0000x", "password": "pw-Nul-Mail-01",
                                       "name": "Nul"})
    ctx.passwords.add("pw-Nul-Mail-01")
    t.check(r.status in (400, 422), f"sign-up with a NUL in the email: expected 400/422, got {r.status}")


@test(proxy=NO_PROXY_EARLY)
def test_signup_body_too_large(t, ctx):
    big = {"email": "big@readers.example", "password": "pw-Big-Body-0001", "name": "x" * (2 * 1024 * 1024)}
    ctx.passwords.add("pw-Big-Body-0001")
    for chunked in (False, True):
        r = raw_request(ctx.port, "POST", "/v1/users", {"Content-Type": "application/json"}, encode_body(big),
                        chunked=chunked)
        ctx.audit(r)
        expect_problem(t, r, 413, what=f"sign-up with a 2 MiB body ({'chunked' if chunked else 'Content-Length'})")


# ================================================================ sign-in, sign-out

@test(proxy=NO_PROXY_BAD_JSON)
def test_signin(t, ctx):
    ctx.need("A", "B")
    a = ctx.readers["A"]
    before = utcnow()
    r, tok = ctx.signin("  READER.A@readers.EXAMPLE  ", a.password, "A")
    after = utcnow()
    b = expect_ok(t, r, 201)
    t.check("no-store" in cc_tokens(r), f"sign-in: Cache-Control {r.header('Cache-Control')!r} lacks no-store")
    t.check(isinstance(b, dict) and {"token", "expires_at", "user"} <= set(b), f"sign-in: body keys {short(b)}")
    t.check(isinstance(tok, str) and TOKEN_RE.match(tok), f"sign-in: token {short(tok)}")
    t.check(tok != a.token, "sign-in gave the same token as sign-up")
    near(t, b.get("expires_at"), before + timedelta(days=30), after + timedelta(days=30), timedelta(minutes=1),
         "sign-in: session expires_at")
    check_user(t, b.get("user"), "sign-in")
    t.eq((b.get("user") or {}).get("id"), a.id, "sign-in: user id")
    for which in (tok, a.token):
        r = ctx.get("/v1/me", token=which)
        t.eq(r.status, 200, "GET /v1/me with each of A's two sessions")
    # Wrong password and unknown email: one and the same 401.
    r1, _ = ctx.signin(ctx.readers["B"].email, "pw-wrong-Guess-001", "B")
    p1 = expect_problem(t, r1, 401, what="sign-in with a wrong password")
    r2, _ = ctx.signin("nobody.here@readers.example", "pw-wrong-Guess-002", "nobody")
    p2 = expect_problem(t, r2, 401, what="sign-in with an unknown email")
    if p1 and p2:
        for k in ("type", "title", "detail", "status"):
            t.eq(p2.get(k), p1.get(k), f"sign-in 401 {k}: unknown email vs wrong password")
        t.eq(r2.header("WWW-Authenticate"), r1.header("WWW-Authenticate"),
             "sign-in 401 WWW-Authenticate: unknown email vs wrong password")
    for label, body in (("no password", {"email": ctx.readers["B"].email}),
                        ("unknown field", {"email": ctx.readers["B"].email, "password": "x", "remember": True})):
        r = ctx.call("POST", "/v1/sessions", body)
        t.check(r.status in (400, 401, 422) and r.status != 201,
                f"sign-in with {label}: expected a refusal, got {r.status}: {short(r.body)}")
    r = ctx.call("POST", "/v1/sessions", b"{nope")
    expect_problem(t, r, 400, slug="malformed-body", what="sign-in with broken JSON")


@test()
def test_signin_timing_does_not_tell_unknown_emails(t, ctx):
    ctx.need("T")
    tt = ctx.readers["T"]

    def timed(email, pw):
        s = time.monotonic()
        r, _ = ctx.signin(email, pw, "T")
        return r.status, time.monotonic() - s

    wrong, unknown = [], []
    for i in range(3):
        st, d = timed(tt.email, f"pw-wrong-Timing-{i}")
        t.eq(st, 401, "sign-in with a wrong password (timing)")
        wrong.append(d)
        st, d = timed(f"ghost{i}.timing@readers.example", f"pw-wrong-Timing-{i}")
        t.eq(st, 401, "sign-in with an unknown email (timing)")
        unknown.append(d)
    w, u = sorted(wrong)[1], sorted(unknown)[1]
    t.check(u >= 0.3 * w and w >= 0.3 * u,
            f"sign-in timing differs: wrong password median {w * 1000:.1f} ms, unknown email {u * 1000:.1f} ms")
    r, _ = ctx.signin(tt.email, tt.password, "T")
    t.eq(r.status, 201, "sign-in with the right password after 3 failures")


@test()
def test_signin_rate_limit(t, ctx):
    ctx.need("R", "A")
    rr = ctx.readers["R"]
    for i in range(5):
        r, _ = ctx.signin(rr.email, f"pw-wrong-Limit-{i}", "R")
        expect_problem(t, r, 401, what=f"failed sign-in {i + 1} of 5")
    for label, email, pw in (("the right password", rr.email, rr.password),
                             ("a wrong password", rr.email, "pw-wrong-Limit-9"),
                             ("the right password and another spelling of the email",
                              "  LIMIT.R@Readers.Example ", rr.password)):
        r, tok = ctx.signin(email, pw, "R")
        expect_problem(t, r, 429, what=f"sign-in after 5 failures with {label}")
        if r.status == 429:
            ra = r.header("Retry-After") or ""
            # The window is 15 minutes from the first failure; a failure still counts at exactly 900 s.
            t.check(ra.isdigit() and 1 <= int(ra) <= 15 * 60 + 1, f"sign-in 429: Retry-After {ra!r} "
                                                                   f"(expected seconds up to 901)")
        t.check(tok is None, "a rate-limited sign-in gave a token")
    r = ctx.get("/v1/me", token="R")
    t.eq(r.status, 200, "R's sign-up session still works while its sign-in is rate limited")
    r, tok = ctx.signin(ctx.readers["A"].email, ctx.readers["A"].password, "A")
    t.eq(r.status, 201, "another reader can still sign in")


@test()
def test_signin_rate_limit_unknown_email_and_spellings(t, ctx):
    # An unknown email is limited like a known one (else the 429 tells which accounts exist),
    # and the five failures count together across spellings of one address.
    for email in ("ghost.limit@readers.example", None):
        if email is None:
            pw = "pw-Spell-Limit-0001"
            r = ctx.signup("S", "spell.limit@readers.example", pw, "Sam Spelling")
            t.require(r.status == 201, f"sign-up of S: {r.status}")
            spellings = ["spell.limit@readers.example", "SPELL.LIMIT@readers.example", " Spell.Limit@Readers.Example",
                         "spell.limit@READERS.EXAMPLE ", "Spell.limit@readers.example"]
            right = pw
        else:
            spellings = [email] * 5
            right = "pw-Ghost-Whatever-1"
        for i, e in enumerate(spellings):
            r, _ = ctx.signin(e, f"pw-wrong-Spell-{i}", "S")
            t.eq(r.status, 401, f"failed sign-in {i + 1} of 5 as {e!r}")
        r, tok = ctx.signin(spellings[0].strip().lower(), right, "S")
        expect_problem(t, r, 429, what=f"sign-in after 5 failures ({'unknown' if email else 'known, several spellings'})")


@test()
def test_signout_kills_the_token_at_once(t, ctx):
    ctx.need("A")
    a = ctx.readers["A"]
    r, tok = ctx.signin(a.email, a.password, "A")
    t.require(r.status == 201 and tok, f"sign-in of A: {r.status}")
    t.eq(ctx.get("/v1/me", token=tok).status, 200, "GET /v1/me with the new session")
    r = ctx.call("DELETE", "/v1/sessions/current", token=tok)
    expect_ok(t, r, 204)
    for method, path in (("GET", "/v1/me"), ("GET", "/v1/me/follows"), ("GET", "/v1/articles"),
                         ("GET", f"/v1/articles/{ctx.aid('rw-01')}"), ("GET", "/v1/top-stories"),
                         ("DELETE", "/v1/sessions/current")):
        r = ctx.call(method, path, token=tok)
        expect_problem(t, r, 401, what=f"{method} {path} with the signed-out token")
    r = ctx.call("POST", f"/v1/articles/{ctx.aid('rw-02')}/reads", token=tok)
    expect_problem(t, r, 401, what="POST reads with the signed-out token")
    r = ctx.get("/v1/me", token="A")
    t.eq(r.status, 200, "A's other session survives the sign-out of one session")
    r = ctx.call("DELETE", "/v1/sessions/current")
    expect_problem(t, r, 401, what="DELETE /v1/sessions/current without a token")


@test()
def test_missing_and_bad_tokens(t, ctx):
    ctx.need_keys("adm")
    ctx.need("A")
    for path in ("/v1/me", "/v1/me/follows", "/v1/me/feed", "/v1/me/bookmarks", "/v1/me/history"):
        r = ctx.get(path)
        expect_problem(t, r, 401, what=f"GET {path} without a token")
        r = ctx.get(path, headers={"Authorization": f"Bearer {ctx.keys['adm']}"})
        expect_problem(t, r, 401, what=f"GET {path} with an admin API key")
    forged = "nss_" + "A" * 43
    for path in ("/v1/me", "/v1/articles", f"/v1/articles/{ctx.aid('rw-01')}", "/v1/top-stories",
                 "/v1/topics", f"/v1/articles/{ctx.aid('rd-01')}/related"):
        for label, tok in (("a forged token", forged), ("garbage", "garbage"),
                           ("A's token with a byte more", ctx.readers["A"].token + "x")):
            r = ctx.get(path, token=tok)
            expect_problem(t, r, 401, what=f"GET {path} with {label}")
    # A live token in the URL is not accepted (it is a session of its own: the access log may show URLs).
    r, tok = ctx.signin(ctx.readers["A"].email, ctx.readers["A"].password, "A (sent in a URL)")
    t.require(r.status == 201 and tok, f"sign-in of A: {r.status}")
    ctx.url_tokens.add(tok)
    for q in ("access_token", "token"):
        r = ctx.get(f"/v1/me?{q}={seg(tok)}")
        t.check(r.status in (400, 401), f"GET /v1/me?{q}=<A's token>: expected 400/401, got {r.status}")
    t.eq(ctx.call("DELETE", "/v1/sessions/current", token=tok).status, 204, "sign out the session sent in a URL")


# ================================================================ membership (admin route)

def membership_path(ctx, name):
    return f"/v1/users/{ctx.readers[name].id}/membership"


def plan_of(ctx, name):
    r = ctx.get("/v1/me", token=name)
    if r.status != 200:
        raise TestFailure(f"GET /v1/me for {name}: {r.status}: {short(r.body)}")
    return r.json.get("membership")


@test()
def test_membership_route_needs_an_admin_key(t, ctx):
    ctx.need_keys("adm", "ing")
    ctx.need("E", "A")
    before = plan_of(ctx, "E")
    body = {"plan": "member", "expires_at": "2099-01-01T00:00:00Z"}
    path = membership_path(ctx, "E")
    r = ctx.call("PUT", path, body)
    expect_problem(t, r, 401, what="PUT membership without credentials")
    r = ctx.call("PUT", path, body, token="E")
    expect_problem(t, r, 401, what="PUT membership with the reader's own token")
    r = ctx.call("PUT", path, body, token="A")
    expect_problem(t, r, 401, what="PUT membership with another reader's token")
    r = ctx.call("PUT", path, body, key="ing")
    expect_problem(t, r, 403, what="PUT membership with an ingest key")
    t.eq(plan_of(ctx, "E"), before, "E's membership after refused PUTs")


@test(proxy=NO_PROXY_BAD_JSON)
def test_membership_route_validation(t, ctx):
    ctx.need_keys("adm")
    ctx.need("E")
    before = plan_of(ctx, "E")
    path = membership_path(ctx, "E")
    for label, body, fields in (
            ("an unknown plan", {"plan": "gold", "expires_at": "2099-01-01T00:00:00Z"}, ["plan"]),
            ("member without expires_at", {"plan": "member"}, ["expires_at"]),
            ("trial with expires_at null", {"plan": "trial", "expires_at": None}, ["expires_at"]),
            ("a bad expires_at", {"plan": "member", "expires_at": "next tuesday"}, ["expires_at"]),
            ("no plan", {"expires_at": "2099-01-01T00:00:00Z"}, ["plan"]),
            ("an unknown field", {"plan": "member", "expires_at": "2099-01-01T00:00:00Z", "seats": 3}, ["seats"])):
        r = ctx.call("PUT", path, body, key="adm")
        expect_problem(t, r, 422, fields, what=f"PUT membership with {label}")
    r = ctx.call("PUT", path, b'{"plan": ', key="adm")
    expect_problem(t, r, 400, slug="malformed-body", what="PUT membership with broken JSON")
    r = ctx.call("PUT", path, json.dumps({"plan": "free", "expires_at": None}), key="adm", ctype="text/plain")
    expect_problem(t, r, 415, what="PUT membership as text/plain")
    r = ctx.call("PUT", f"/v1/users/{UNKNOWN_ID}/membership", {"plan": "free", "expires_at": None}, key="adm")
    expect_problem(t, r, 404, what="PUT membership of an unknown user")
    t.eq(plan_of(ctx, "E"), before, "E's membership after refused PUTs")


@test()
def test_membership_member_free_lapsed(t, ctx):
    ctx.need_keys("adm")
    ctx.need("M", "F", "L")
    until = rfc3339(utcnow() + timedelta(days=30))
    for name, body in (("M", {"plan": "member", "expires_at": until}),
                       ("F", {"plan": "free", "expires_at": None}),
                       ("L", {"plan": "trial", "expires_at": "2020-01-01T00:00:00Z"})):
        r = ctx.call("PUT", membership_path(ctx, name), body, key="adm")
        u = expect_ok(t, r, 200)
        check_user(t, u, f"PUT membership of {name}")
        t.eq(u.get("id"), ctx.readers[name].id, f"PUT membership of {name}: user id")
        t.eq(u.get("membership"), body, f"PUT membership of {name}: answer")
        t.eq(plan_of(ctx, name), body, f"GET /v1/me for {name} after PUT membership (stored as it is)")


# ================================================================ /v1/me

@test(proxy=NO_PROXY_HEAD)
def test_me_get_headers(t, ctx):
    ctx.need("A")
    r = ctx.get("/v1/me", token="A")
    u = expect_ok(t, r)
    check_user(t, u, "GET /v1/me")
    t.eq(u.get("email"), "reader.a@readers.example", "GET /v1/me: email")
    t.check("authorization" in vary_tokens(r), f"GET /v1/me: Vary {r.header_all('Vary')} lacks Authorization")
    etag = r.header("ETag")
    t.require(etag, "GET /v1/me: no ETag")
    r2 = ctx.get("/v1/me", token="A", headers={"If-None-Match": etag})
    t.eq(r2.status, 304, "GET /v1/me with If-None-Match of its own ETag")
    r3 = ctx.call("HEAD", "/v1/me", token="A")
    t.eq(r3.status, 200, "HEAD /v1/me")
    t.eq(r3.body, b"", "HEAD /v1/me: body")
    t.eq(r3.header("ETag"), etag, "HEAD /v1/me: ETag")
    for method, path, allow in (("POST", "/v1/me", {"GET", "PATCH", "DELETE"}),
                                ("GET", "/v1/users", {"POST"}), ("GET", "/v1/sessions", {"POST"}),
                                ("GET", "/v1/sessions/current", {"DELETE"})):
        r = ctx.call(method, path, token="A", body={} if method == "POST" else None)
        if expect_problem(t, r, 405, what=f"{method} {path}") is not None:
            got = {x.strip().upper() for x in (r.header("Allow") or "").split(",") if x.strip()}
            t.check(allow <= got, f"{method} {path}: Allow {r.header('Allow')!r} lacks {sorted(allow - got)}")


@test()
def test_me_patch_name(t, ctx):
    ctx.need("E")
    etag = ctx.get("/v1/me", token="E").header("ETag")
    r = ctx.call("PATCH", "/v1/me", {"name": "Eve Renamed"}, token="E")
    u = expect_ok(t, r)
    check_user(t, u, "PATCH /v1/me name")
    r2 = ctx.get("/v1/me", token="E", headers={"If-None-Match": etag or '"none"'})
    t.eq(r2.status, 200, "GET /v1/me with the ETag from before the rename")
    t.eq(u.get("name"), "Eve Renamed", "PATCH /v1/me: name in the answer")
    t.eq(ctx.get("/v1/me", token="E").json.get("name"), "Eve Renamed", "GET /v1/me after the rename")
    r = ctx.call("PATCH", "/v1/me", {"name": "ä" * 100}, token="E")
    t.check(r.status == 200, f"PATCH name of 100 characters (200 bytes): {r.status}: {short(r.body)}")
    for label, name in (("an empty name", ""), ("101 characters", "n" * 101), ("a number", 7)):
        r = ctx.call("PATCH", "/v1/me", {"name": name}, token="E")
        expect_problem(t, r, 422, ["name"], what=f"PATCH /v1/me with {label}")
    r = ctx.call("PATCH", "/v1/me", {"name": "Eve Renamed"}, token="E")
    t.eq(r.status, 200, "PATCH the name back")


@test(proxy=NO_PROXY_BAD_JSON)
def test_me_patch_refuses_other_fields(t, ctx):
    ctx.need("E")
    before = ctx.get("/v1/me", token="E").json
    for label, body, field in (("membership", {"membership": {"plan": "member", "expires_at": "2099-01-01T00:00:00Z"}},
                                "membership"),
                               ("plan", {"plan": "member"}, "plan"), ("id", {"id": 1}, "id"),
                               ("created_at", {"created_at": "2000-01-01T00:00:00Z"}, "created_at"),
                               ("role", {"role": "admin"}, "role")):
        r = ctx.call("PATCH", "/v1/me", body, token="E")
        expect_problem(t, r, 422, [field], what=f"PATCH /v1/me with {label}")
    r = ctx.call("PATCH", "/v1/me", b'{"name": ', token="E")
    expect_problem(t, r, 400, slug="malformed-body", what="PATCH /v1/me with broken JSON")
    r = ctx.call("PATCH", "/v1/me", json.dumps({"name": "X"}), token="E", ctype="text/plain")
    expect_problem(t, r, 415, what="PATCH /v1/me as text/plain")
    r = ctx.call("PATCH", "/v1/me", {"name": "X"})
    expect_problem(t, r, 401, what="PATCH /v1/me without a token")
    t.eq(ctx.get("/v1/me", token="E").json, before, "E's account after refused PATCHes")


@test()
def test_me_patch_email_needs_current_password(t, ctx):
    ctx.need("E", "A")
    e = ctx.readers["E"]
    before = ctx.get("/v1/me", token="E").json
    new = " Eve.New@Readers.Example "
    r = ctx.call("PATCH", "/v1/me", {"email": new}, token="E")
    expect_problem(t, r, 422, ["current_password"], what="PATCH email without current_password")
    ctx.passwords.add("pw-not-Eves-000")
    r = ctx.call("PATCH", "/v1/me", {"email": new, "current_password": "pw-not-Eves-000"}, token="E")
    expect_problem(t, r, 422, ["current_password"], what="PATCH email with a wrong current_password")
    for bad in (None, 12345678, "", ["x"]):
        r = ctx.call("PATCH", "/v1/me", {"email": new, "current_password": bad}, token="E")
        expect_problem(t, r, 422, ["current_password"], what=f"PATCH email with current_password {bad!r}")
    r = ctx.call("PATCH", "/v1/me", {"email": "not-an-email", "current_password": e.password}, token="E")
    expect_problem(t, r, 422, ["email"], what="PATCH email to a bad address")
    r = ctx.call("PATCH", "/v1/me", {"email": " READER.A@readers.example", "current_password": e.password},
                 token="E")
    expect_problem(t, r, 409, what="PATCH email to A's address")
    t.eq(ctx.get("/v1/me", token="E").json, before, "E's account after refused email changes")
    r = ctx.call("PATCH", "/v1/me", {"email": new, "current_password": e.password}, token="E")
    u = expect_ok(t, r)
    t.eq(u.get("email"), "eve.new@readers.example", "PATCH email: the new address, trimmed and lowercased")
    old = e.email
    e.email = "eve.new@readers.example"
    r, _ = ctx.signin(old, e.password, "E")
    expect_problem(t, r, 401, what="sign-in with E's old email")
    r, _ = ctx.signin("EVE.NEW@readers.example", e.password, "E")
    t.eq(r.status, 201, "sign-in with E's new email")
    r = ctx.get("/v1/me", token="E")
    t.eq(r.status, 200, "E's session survives an email change")


@test()
def test_me_patch_password_ends_other_sessions(t, ctx):
    ctx.need("E")
    e = ctx.readers["E"]
    others = []
    for _ in range(2):
        r, tok = ctx.signin(e.email, e.password, "E")
        t.require(r.status == 201 and tok, f"sign-in of E: {r.status}: {short(r.body)}")
        others.append(tok)
    new_pw = "pw-E-Brand-New-Secret-42"
    ctx.passwords.add(new_pw)
    r = ctx.call("PATCH", "/v1/me", {"password": new_pw}, token="E")
    expect_problem(t, r, 422, ["current_password"], what="PATCH password without current_password")
    r = ctx.call("PATCH", "/v1/me", {"password": new_pw, "current_password": "pw-not-Eves-000"}, token="E")
    expect_problem(t, r, 422, ["current_password"], what="PATCH password with a wrong current_password")
    for bad in (None, 12345678, ""):
        r = ctx.call("PATCH", "/v1/me", {"password": new_pw, "current_password": bad}, token="E")
        expect_problem(t, r, 422, ["current_password"], what=f"PATCH password with current_password {bad!r}")
    ctx.passwords.add("Sh0rt")
    r = ctx.call("PATCH", "/v1/me", {"password": "Sh0rt", "current_password": e.password}, token="E")
    expect_problem(t, r, 422, ["password"], what="PATCH password to 5 characters")
    for tok in others:
        t.eq(ctx.get("/v1/me", token=tok).status, 200, "E's other session after refused password changes")
    r = ctx.call("PATCH", "/v1/me", {"password": new_pw, "current_password": e.password}, token="E")
    u = expect_ok(t, r)
    check_user(t, u, "PATCH password")
    old_pw, e.password = e.password, new_pw
    t.eq(ctx.get("/v1/me", token="E").status, 200, "the session that changed the password keeps working")
    for i, tok in enumerate(others):
        r = ctx.get("/v1/me", token=tok)
        expect_problem(t, r, 401, what=f"E's other session {i + 1} after the password change")
        r = ctx.get("/v1/articles", token=tok)
        expect_problem(t, r, 401, what=f"E's other session {i + 1} on a public route after the password change")
    r, _ = ctx.signin(e.email, old_pw, "E")
    expect_problem(t, r, 401, what="sign-in with E's old password")
    r, _ = ctx.signin(e.email, new_pw, "E")
    t.eq(r.status, 201, "sign-in with E's new password")


@test()
def test_me_delete(t, ctx):
    ctx.need("D")
    d = ctx.readers["D"]
    t.eq(ctx.call("PUT", "/v1/me/follows/topic/science", token="D").status, 204, "D follows science")
    t.eq(ctx.call("PUT", f"/v1/me/bookmarks/{ctx.aid('rd-01')}", token="D").status, 204, "D bookmarks rd-01")
    ctx.read(t, "rd-02", token="D")
    ctx.read(t, "rd-02", token="D")
    r = ctx.call("DELETE", "/v1/me", token="D")
    expect_ok(t, r, 204)
    for method, path in (("GET", "/v1/me"), ("GET", "/v1/me/follows"), ("GET", "/v1/me/bookmarks"),
                         ("GET", "/v1/me/history"), ("DELETE", "/v1/me"), ("GET", "/v1/articles")):
        r = ctx.call(method, path, token="D")
        expect_problem(t, r, 401, what=f"{method} {path} with the deleted reader's token")
    r, tok = ctx.signin(d.email, d.password, "D")
    expect_problem(t, r, 401, what="sign-in of the deleted reader")
    r = ctx.call("PUT", membership_path(ctx, "D"), {"plan": "free", "expires_at": None}, key="adm")
    expect_problem(t, r, 404, what="PUT membership of the deleted reader")


# ================================================================ paywall

def check_full_article(t, ctx, r, ext, locked, who):
    label = f"GET {ext} as {who}"
    b = expect_ok(t, r)
    blocks = ctx.by_ext[ext]["blocks"]
    secret = PREMIUM.get(ext, (None,))[0]
    if locked:
        n = min(2, len(blocks) // 2)
        t.eq(b.get("paywall"), {"locked": True, "reason": "membership_required", "preview_blocks": n,
                                "trial_days": 14}, f"{label}: paywall")
        want = blocks[:n]
        t.check(not r.has_secret(), f"{label}: the secret word {secret} is in the locked answer")
    else:
        t.eq(b.get("paywall"), {"locked": False}, f"{label}: paywall")
        want = blocks
        if secret:
            t.check(r.has_secret(), f"{label}: the secret word {secret} is missing from the full answer")
    got = b.get("blocks")
    norm = [{k: x.get(k) for k in ("type", "text", "attribution") if k in x} for x in got] \
        if isinstance(got, list) and all(isinstance(x, dict) for x in got) else got
    t.eq(norm, want, f"{label}: blocks")
    t.eq(b.get("access"), ctx.by_ext[ext]["access"], f"{label}: access")


@test(proxy=NO_PROXY_HEAD)
def test_paywall_article(t, ctx):
    ctx.need("F", "L", "A", "M")
    for ext in list(PREMIUM) + ["rd-01"]:
        aid = ctx.aid(ext)
        for who, name, locked in VIEWERS:
            for ref in (aid, ctx.summaries[aid]["slug"]):
                r = ctx.get(f"/v1/articles/{seg(ref)}", token=name)
                check_full_article(t, ctx, r, ext, locked and ext in PREMIUM, f"{who} (by {'id' if ref == aid else 'slug'})")
            r = ctx.call("HEAD", f"/v1/articles/{aid}", token=name)
            t.check(r.status == 200 and r.body == b"", f"HEAD {ext} as {who}: {r.status} {short(r.body)}")


@test()
def test_paywall_etags_differ_and_304_only_for_the_same_view(t, ctx):
    ctx.need("A", "F")
    aid = ctx.aid("rw-01")
    path = f"/v1/articles/{aid}"
    anon = ctx.get(path)
    trial = ctx.get(path, token="A")
    free = ctx.get(path, token="F")
    ea, et, ef = anon.header("ETag"), trial.header("ETag"), free.header("ETag")
    t.require(ea and et and ef, f"ETags: anonymous {ea!r}, trial {et!r}, free {ef!r}")
    t.check(ea != et, f"locked (anonymous) and unlocked (trial) answers share the ETag {ea}")
    t.check(ef != et, f"locked (free) and unlocked (trial) answers share the ETag {ef}")
    r = ctx.get(path, headers={"If-None-Match": et})
    t.eq(r.status, 200, "anonymous GET with the trial reader's ETag")
    t.check(not r.has_secret(), "anonymous GET with the trial reader's ETag answers the secret")
    r = ctx.get(path, token="F", headers={"If-None-Match": et})
    t.eq(r.status, 200, "free reader's GET with the trial reader's ETag")
    t.check(not r.has_secret(), "free reader's GET with the trial reader's ETag answers the secret")
    r = ctx.get(path, token="A", headers={"If-None-Match": ea})
    t.eq(r.status, 200, "trial reader's GET with the anonymous ETag")
    t.check(r.has_secret(), "trial reader's GET with the anonymous ETag lacks the full text")
    t.eq(ctx.get(path, headers={"If-None-Match": ea}).status, 304, "anonymous GET with its own ETag")
    t.eq(ctx.get(path, token="A", headers={"If-None-Match": et}).status, 304, "trial GET with its own ETag")
    t.check("public" in cc_tokens(anon) and "max-age=60" in cc_tokens(anon),
            f"anonymous article: Cache-Control {anon.header('Cache-Control')!r}")
    for r, who in ((anon, "anonymous"), (trial, "trial"), (free, "free")):
        t.check("authorization" in vary_tokens(r), f"article as {who}: Vary {r.header_all('Vary')} "
                                                   f"lacks Authorization")
        if who != "anonymous":
            t.check({"private", "no-store"} <= cc_tokens(r),
                    f"article as {who}: Cache-Control {r.header('Cache-Control')!r}")


@test()
def test_paywall_follows_membership_changes_at_once(t, ctx):
    ctx.need_keys("adm")
    ctx.need("F")
    aid = ctx.aid("rw-04")
    path = f"/v1/articles/{aid}"
    q = f"/v1/articles?q={seg(PREMIUM['rw-04'][1])}"
    r = ctx.get(path, token="F")
    check_full_article(t, ctx, r, "rw-04", True, "free F")
    etag_locked = r.header("ETag")
    steps = [("member until tomorrow", {"plan": "member", "expires_at": rfc3339(utcnow() + timedelta(days=1))}, False),
             ("member expired a minute ago", {"plan": "member", "expires_at": rfc3339(utcnow() - timedelta(minutes=1))},
              True),
             ("trial until tomorrow", {"plan": "trial", "expires_at": rfc3339(utcnow() + timedelta(days=1))}, False),
             ("free", {"plan": "free", "expires_at": None}, True)]
    for label, body, locked in steps:
        r = ctx.call("PUT", membership_path(ctx, "F"), body, key="adm")
        t.require(r.status == 200, f"PUT membership of F ({label}): {r.status}: {short(r.body)}")
        r = ctx.get(path, token="F", headers={"If-None-Match": etag_locked} if not locked else None)
        check_full_article(t, ctx, r, "rw-04", locked, f"F as {label}")
        r = ctx.get(q, token="F")
        t.eq(r.has_secret(), not locked, f"search snippet for F as {label}: holds the full text")
        for enc in ("gzip", None):
            r = ctx.get(path, token="F", headers={"Accept-Encoding": enc} if enc else None)
            t.eq(r.has_secret(), not locked, f"article for F as {label} (Accept-Encoding {enc}): holds the full text")
    t.eq(plan_of(ctx, "F"), {"plan": "free", "expires_at": None}, "F is free again")


@test()
def test_paywall_search_snippets(t, ctx):
    ctx.need("F", "L", "A", "M")
    for ext, (secret, q) in PREMIUM.items():
        aid = ctx.aid(ext)
        for who, name, locked in VIEWERS:
            path = f"/v1/articles?q={seg(q)}"
            r = ctx.get(path, token=name)
            b = expect_ok(t, r)
            t.check("authorization" in vary_tokens(r), f"search as {who}: Vary {r.header_all('Vary')} "
                                                       f"lacks Authorization")
            found = [x for x in b.get("data", []) if x.get("id") == aid]
            if locked:
                t.check(not r.has_secret(), f"search ?q={q} as {who}: the answer holds {secret}: "
                                            f"{short([x.get('highlight') for x in found])}")
            else:
                if t.check(found, f"search ?q={q} as {who}: {ext} not found"):
                    t.check(secret in json.dumps(found[0].get("highlight")),
                            f"search ?q={q} as {who}: the snippet lacks the full text ({secret}): "
                            f"{short(found[0].get('highlight'))}")
            for x in b.get("data", []):
                check_summary(t, x, f"search ?q={q} as {who}")


@test()
def test_paywall_related(t, ctx):
    ctx.need("F", "L", "A", "M")
    base = ctx.aid("rd-01")
    for who, name, locked in VIEWERS:
        r = ctx.get(f"/v1/articles/{base}/related?limit=50", token=name)
        b = expect_ok(t, r)
        got = set(ids_of(b.get("data", [])))
        for ext in ("rw-01", "rd-03", "rw-04", "rw-07"):
            t.check(ctx.aid(ext) in got, f"related of rd-01 as {who}: premium {ext} missing (it shares Northmarch)")
        t.check(not r.has_secret(), f"related of rd-01 as {who}: the answer holds a secret word")
        t.check("authorization" in vary_tokens(r), f"related as {who}: Vary {r.header_all('Vary')}")
        for x in b.get("data", []):
            check_summary(t, x, f"related of rd-01 as {who}")
        for ext in PREMIUM:
            r = ctx.get(f"/v1/articles/{ctx.aid(ext)}/related", token=name)
            if t.check(r.status == 200, f"related of {ext} as {who}: {r.status}"):
                t.check(not r.has_secret(), f"related of {ext} as {who}: the answer holds a secret word")


PAYWALL_FOLLOWS = ["topic/science", "author/chiara-volta", "entity/corvane", "publication/readers-daily"]


@test()
def test_paywall_feed_bookmarks_history(t, ctx):
    ctx.need("F", "L", "M")
    premium_ids = {ctx.aid(e) for e in PREMIUM}
    for name, who in (("F", "free"), ("L", "lapsed trial"), ("M", "member")):
        for f in PAYWALL_FOLLOWS:
            r = ctx.call("PUT", f"/v1/me/follows/{f}", token=name)
            t.eq(r.status, 204, f"{who}: PUT /v1/me/follows/{f}")
        for ext in PREMIUM:
            r = ctx.call("PUT", f"/v1/me/bookmarks/{ctx.aid(ext)}", token=name)
            t.eq(r.status, 204, f"{who}: bookmark {ext}")
            ctx.read(t, ext, token=name)
        for path in ("/v1/me/feed?limit=100", "/v1/me/bookmarks?limit=100", "/v1/me/history?limit=100"):
            r = ctx.get(path, token=name)
            b = expect_ok(t, r)
            got = set(ids_of(b.get("data", [])))
            t.check(premium_ids <= got, f"{path} as {who}: premium articles missing: "
                                        f"{exts(ctx, sorted(premium_ids - got))}")
            t.check(not r.has_secret(), f"{path} as {who}: the answer holds a secret word")
            for x in b.get("data", []):
                check_summary(t, x, f"{path} as {who}")
            for x in b.get("data", []):
                if x.get("id") in premium_ids:
                    t.eq(x.get("access"), "premium", f"{path} as {who}: access of {ctx.ext_of(x.get('id'))}")


@test()
def test_paywall_anonymous_lists(t, ctx):
    paths = ["/v1/articles?limit=100", "/v1/articles?access=premium", "/v1/topics/science/articles",
             "/v1/entities/northmarch/articles?limit=100", "/v1/publications/readers-wire/articles",
             "/v1/authors/chiara-volta/articles", "/v1/top-stories?window=7d", "/v1/articles?q=Northmarch&limit=100",
             "/v1/articles?sort=popular&limit=100", "/v1/articles?facets=topic,entity&limit=100"]
    for p in paths:
        for who, name, _ in VIEWERS[:3]:
            r = ctx.get(p, token=name)
            if t.check(r.status == 200, f"GET {p} as {who}: {r.status}: {short(r.body)}"):
                t.check(not r.has_secret(), f"GET {p} as {who}: the answer holds a secret word")


# ================================================================ follows

KINDS = [("topic", "science", "/v1/topics/science"), ("entity", "lake-veridia", "/v1/entities/lake-veridia"),
         ("publication", "readers-wire", "/v1/publications/readers-wire"),
         ("author", "dev-patel", "/v1/authors/dev-patel")]


def follows_of(t, ctx, name):
    return walk(t, ctx, "/v1/me/follows", token=name, limit=100, what=f"follows of {name}")


def follow_keys(items):
    return sorted((x.get("kind"), x.get("id")) for x in items)


def lookup(t, ctx, path):
    r = ctx.get(path)
    t.require(r.status == 200, f"GET {path}: {r.status}: {short(r.body)}")
    return r.json


@test()
def test_follows_each_kind_by_id_and_slug(t, ctx):
    ctx.need("A")
    t.eq(follows_of(t, ctx, "A"), [], "A's follows at first")
    for kind, slug, path in KINDS:
        target = lookup(t, ctx, path)
        tid = target["id"]
        before = utcnow()
        r = ctx.call("PUT", f"/v1/me/follows/{kind}/{tid}", token="A")
        expect_ok(t, r, 204)
        r = ctx.call("PUT", f"/v1/me/follows/{kind}/{slug}", token="A")
        expect_ok(t, r, 204)
        r = ctx.call("PUT", f"/v1/me/follows/{kind}/{tid}", token="A")
        expect_ok(t, r, 204)
        items = follows_of(t, ctx, "A")
        mine = [x for x in items if x.get("kind") == kind and x.get("id") == tid]
        if t.check(len(mine) == 1, f"follow {kind} {slug} by id, slug, id again: {len(mine)} entries: {short(items)}"):
            x = mine[0]
            t.eq(set(x), FOLLOW_KEYS, f"follow entry {kind}: fields")
            t.eq(x.get("slug"), slug, f"follow entry {kind}: slug")
            t.eq(x.get("name"), target.get("name"), f"follow entry {kind}: name")
            near(t, x.get("followed_at"), before, utcnow(), timedelta(minutes=1), f"follow entry {kind}: followed_at")
        r = ctx.call("DELETE", f"/v1/me/follows/{kind}/{slug}", token="A")
        expect_ok(t, r, 204)
        t.check(not [x for x in follows_of(t, ctx, "A") if x.get("kind") == kind and x.get("id") == tid],
                f"unfollow {kind} {slug} by slug: still listed")
        r = ctx.call("DELETE", f"/v1/me/follows/{kind}/{tid}", token="A")
        expect_ok(t, r, 204)
        if kind != "publication":
            r = ctx.call("PUT", f"/v1/me/follows/{kind}/{slug}", token="A")
            expect_ok(t, r, 204)
    items = follows_of(t, ctx, "A")
    t.eq(sorted((x.get("kind"), x.get("slug")) for x in items),
         [("author", "dev-patel"), ("entity", "lake-veridia"), ("topic", "science")], "A's follows at the end")


@test()
def test_follow_entity_by_alias(t, ctx):
    ctx.need("A")
    before = follow_keys(follows_of(t, ctx, "A"))
    for ref in ("veridian-lake", seg("Veridian Lake")):
        r = ctx.call("PUT", f"/v1/me/follows/entity/{ref}", token="A")
        expect_ok(t, r, 204)
    t.eq(follow_keys(follows_of(t, ctx, "A")), before, "following Lake Veridia again by its alias changes nothing")
    mosse = lookup(t, ctx, "/v1/entities/halvard-mosse")
    r = ctx.call("PUT", f"/v1/me/follows/entity/{seg('H. Mosse')}", token="A")
    expect_ok(t, r, 204)
    items = follows_of(t, ctx, "A")
    x = [i for i in items if i.get("kind") == "entity" and i.get("id") == mosse["id"]]
    if t.check(len(x) == 1, "follow by the alias 'H. Mosse' lists Halvard Mosse once"):
        t.eq(x[0].get("slug"), "halvard-mosse", "follow by alias: the entity's own slug")
    r = ctx.call("DELETE", "/v1/me/follows/entity/h-mosse", token="A")
    expect_ok(t, r, 204)
    t.eq(follow_keys(follows_of(t, ctx, "A")), before, "A's follows after unfollowing by alias")


@test()
def test_follow_unknown_kind_and_target_404(t, ctx):
    ctx.need("A")
    before = follows_of(t, ctx, "A")
    for method in ("PUT", "DELETE"):
        for path in ("/v1/me/follows/tag/science", "/v1/me/follows/topics/science", "/v1/me/follows/user/1",
                     "/v1/me/follows/Topic/science", "/v1/me/follows/topic/no-such-topic",
                     f"/v1/me/follows/topic/{UNKNOWN_ID}", "/v1/me/follows/entity/no-such-entity",
                     f"/v1/me/follows/entity/{UNKNOWN_ID}", "/v1/me/follows/publication/no-such-paper",
                     f"/v1/me/follows/publication/{UNKNOWN_ID}", "/v1/me/follows/author/no-such-writer",
                     f"/v1/me/follows/author/{UNKNOWN_ID}"):
            r = ctx.call(method, path, token="A")
            expect_problem(t, r, 404, what=f"{method} {path}")
    r = ctx.call("PUT", "/v1/me/follows/topic/science")
    expect_problem(t, r, 401, what="PUT a follow without a token")
    t.eq(follows_of(t, ctx, "A"), before, "A's follows after refused follows")


@test()
def test_follows_list_order_and_cursor(t, ctx):
    ctx.need("A")
    items = follows_of(t, ctx, "A")
    times = [parse_time(x.get("followed_at")) for x in items]
    t.check(None not in times and times == sorted(times, reverse=True),
            f"follows are not newest first: {[x.get('followed_at') for x in items]}")
    one = walk(t, ctx, "/v1/me/follows", token="A", limit=1)
    t.eq([(x.get("kind"), x.get("id")) for x in one], [(x.get("kind"), x.get("id")) for x in items],
         "follows walked at limit=1 vs limit=100")
    r = ctx.get("/v1/me/follows", token="A")
    b = expect_ok(t, r)
    t.eq(b["meta"].get("total"), len(items), "follows meta.total")
    t.eq(b["meta"].get("limit"), 20, "follows meta.limit default")


@test()
def test_follow_cap_500(t, ctx):
    ctx.need("C")
    for i in range(1, FOLLOW_CAP + 1):
        r = ctx.call("PUT", f"/v1/me/follows/entity/filler-entity-{i:04d}", token="C")
        if not t.check(r.status == 204, f"C follows filler {i}: {r.status}: {short(r.body)}"):
            break
    r = ctx.call("PUT", f"/v1/me/follows/entity/filler-entity-{FOLLOW_CAP + 1:04d}", token="C")
    expect_problem(t, r, 422, what=f"follow number {FOLLOW_CAP + 1}")
    r = ctx.call("PUT", "/v1/me/follows/topic/science", token="C")
    expect_problem(t, r, 422, what=f"follow number {FOLLOW_CAP + 1} (another kind)")
    r = ctx.call("PUT", "/v1/me/follows/entity/filler-entity-0001", token="C")
    t.eq(r.status, 204, "following an already followed target at the cap (idempotent)")
    items = walk(t, ctx, "/v1/me/follows", token="C", limit=100)
    t.eq(len(items), FOLLOW_CAP, "C's follows at the cap")
    t.eq(len({(x.get("kind"), x.get("id")) for x in items}), FOLLOW_CAP, "C's follows are distinct")
    r = ctx.get("/v1/me/feed", token="C")
    b = expect_ok(t, r)
    t.eq(b["meta"].get("source"), "follows", "feed of a reader whose follows match nothing: meta.source")
    t.eq(b.get("data"), [], "feed of a reader whose follows match nothing")
    t.eq(ctx.call("DELETE", "/v1/me/follows/entity/filler-entity-0002", token="C").status, 204, "C unfollows one")
    r = ctx.call("PUT", f"/v1/me/follows/entity/filler-entity-{FOLLOW_CAP + 1:04d}", token="C")
    t.eq(r.status, 204, "a follow after making room under the cap")


# ================================================================ feed

def expected_feed(ctx, follows):
    want = {(x.get("kind"), x.get("id")) for x in follows}
    out = []
    for aid, s in ctx.summaries.items():
        keys = {("publication", s["publication"]["id"])}
        keys |= {("author", a["id"]) for a in s.get("authors", [])}
        keys |= {("topic", x["id"]) for x in s.get("topics", [])}
        keys |= {("entity", x["id"]) for x in s.get("entities", [])}
        if keys & want:
            out.append(aid)
    return sort_newest(ctx, out)


A_FEED = ["rw-06", "rw-05", "rd-06", "rw-04", "rd-03", "rw-02", "rw-01", "rd-01"]
A_FEED_DAILY = ["rd-08", "rw-06", "rd-07", "rw-05", "rd-06", "rd-05", "rw-04", "rd-04", "rd-03", "rw-02",
                "rw-01", "rd-02", "rd-01"]


def check_feed(t, ctx, name, want_exts, what):
    follows = follows_of(t, ctx, name)
    want = [ctx.aid(e) for e in want_exts]
    t.eq(exts(ctx, expected_feed(ctx, follows)), want_exts,
         f"{what}: the fixture's expectation vs the articles' own publication/authors/topics/entities")
    r = ctx.get("/v1/me/feed?limit=100", token=name)
    b = expect_ok(t, r)
    t.eq(exts(ctx, ids_of(b.get("data", []))), want_exts, f"{what}: feed at limit=100")
    t.eq(b["meta"].get("source"), "follows", f"{what}: meta.source")
    if "total" in b["meta"]:
        t.eq(b["meta"]["total"], len(want), f"{what}: meta.total")
    for x in b.get("data", []):
        check_summary(t, x, what)
    for limit in (1, 3):
        got = ids_of(walk(t, ctx, "/v1/me/feed", token=name, limit=limit, what=f"{what} at limit={limit}"))
        t.eq(exts(ctx, got), want_exts, f"{what}: cursor walk at limit={limit}")
    return want


@test()
def test_feed_matches_follows_newest_first(t, ctx):
    ctx.need("A")
    check_feed(t, ctx, "A", A_FEED, "A's feed (science, Lake Veridia, Dev Patel)")


@test()
def test_feed_with_a_publication_and_a_published_at_tie(t, ctx):
    ctx.need("A")
    t.eq(ctx.call("PUT", "/v1/me/follows/publication/readers-daily", token="A").status, 204,
         "A follows readers-daily")
    t.check(ctx.summaries[ctx.aid("rd-05")]["published_at"] == ctx.summaries[ctx.aid("rd-06")]["published_at"],
            "fixture: rd-05 and rd-06 share published_at")
    check_feed(t, ctx, "A", A_FEED_DAILY, "A's feed (+ readers-daily)")
    t.eq(ctx.call("DELETE", "/v1/me/follows/publication/readers-daily", token="A").status, 204,
         "A unfollows readers-daily")
    r = ctx.get("/v1/me/feed?limit=100", token="A")
    t.eq(exts(ctx, ids_of(expect_ok(t, r).get("data", []))), A_FEED, "A's feed right after the unfollow")


# ================================================================ bookmarks

def bookmarks_of(t, ctx, name):
    return walk(t, ctx, "/v1/me/bookmarks", token=name, limit=100, what=f"bookmarks of {name}")


@test()
def test_bookmarks_order_and_idempotence(t, ctx):
    ctx.need("A")
    t.eq(bookmarks_of(t, ctx, "A"), [], "A's bookmarks at first")
    before = utcnow()
    order = ["rd-01", "rw-04", "rd-06"]
    for i, ext in enumerate(order):
        if i:
            time.sleep(1.1)
        r = ctx.call("PUT", f"/v1/me/bookmarks/{ctx.aid(ext)}", token="A")
        expect_ok(t, r, 204)
    items = bookmarks_of(t, ctx, "A")
    t.eq(exts(ctx, ids_of(items)), list(reversed(order)), "bookmarks, most recently bookmarked first")
    for x in items:
        check_summary(t, x, "bookmarks")
        near(t, x.get("bookmarked_at"), before, utcnow(), timedelta(minutes=1), f"bookmarked_at of {x.get('id')}")
    r = ctx.call("PUT", f"/v1/me/bookmarks/{ctx.aid('rw-04')}", token="A")
    expect_ok(t, r, 204)
    items = bookmarks_of(t, ctx, "A")
    t.eq(sorted(exts(ctx, ids_of(items))), sorted(order), "bookmarks after bookmarking rw-04 again")
    times = [parse_time(x.get("bookmarked_at")) for x in items]
    t.check(None not in times and times == sorted(times, reverse=True),
            f"bookmarks not in bookmarked_at order: {[x.get('bookmarked_at') for x in items]}")
    one = walk(t, ctx, "/v1/me/bookmarks", token="A", limit=1)
    t.eq(ids_of(one), ids_of(items), "bookmarks walked at limit=1")
    r = ctx.call("DELETE", f"/v1/me/bookmarks/{ctx.aid('rw-04')}", token="A")
    expect_ok(t, r, 204)
    t.eq(sorted(exts(ctx, ids_of(bookmarks_of(t, ctx, "A")))), ["rd-01", "rd-06"], "bookmarks after a DELETE")
    r = ctx.call("DELETE", f"/v1/me/bookmarks/{ctx.aid('rw-04')}", token="A")
    expect_ok(t, r, 204)
    slug = ctx.summaries[ctx.aid("rw-02")]["slug"]
    time.sleep(1.1)  # bookmarked_at has whole seconds: order within one second is not defined
    r = ctx.call("PUT", f"/v1/me/bookmarks/{seg(slug)}", token="A")
    expect_ok(t, r, 204)
    items = bookmarks_of(t, ctx, "A")
    t.eq(exts(ctx, ids_of(items))[:1], ["rw-02"], "bookmark by slug comes first")
    t.eq(sorted(exts(ctx, ids_of(items))), ["rd-01", "rd-06", "rw-02"], "A's bookmarks at the end")


@test()
def test_bookmark_unknown_article_404(t, ctx):
    ctx.need("A")
    before = bookmarks_of(t, ctx, "A")
    for method in ("PUT", "DELETE"):
        for ref in (UNKNOWN_ID, "no-such-article"):
            r = ctx.call(method, f"/v1/me/bookmarks/{ref}", token="A")
            expect_problem(t, r, 404, what=f"{method} /v1/me/bookmarks/{ref}")
    r = ctx.call("PUT", f"/v1/me/bookmarks/{ctx.aid('rd-02')}")
    expect_problem(t, r, 401, what="PUT a bookmark without a token")
    t.eq(bookmarks_of(t, ctx, "A"), before, "A's bookmarks after refused requests")


# ================================================================ reads and history

def history_of(t, ctx, name):
    return walk(t, ctx, "/v1/me/history", token=name, limit=100, what=f"history of {name}")


@test()
def test_reads_anonymous_and_refusals(t, ctx):
    for _ in range(3):
        ctx.read(t, "rw-02")
    ctx.read(t, "rd-04", via_slug=True)
    ctx.read(t, "rd-04")
    ctx.read(t, "rd-07", token="B")   # B's history gets it; its feed test later relies on no follows only
    r = ctx.call("POST", f"/v1/articles/{ctx.aid('rw-03')}/reads", b"{}")
    t.check(r.status in (204, 400, 415, 422), f"POST reads with a JSON body: {r.status}")
    if r.status == 204:
        ctx.reads[ctx.aid("rw-03")] = ctx.reads.get(ctx.aid("rw-03"), 0) + 1
    for ref in (UNKNOWN_ID, "no-such-article"):
        r = ctx.call("POST", f"/v1/articles/{ref}/reads")
        expect_problem(t, r, 404, what=f"POST /v1/articles/{ref}/reads")
    r = ctx.call("POST", f"/v1/articles/{ctx.aid('rw-02')}/reads", token="nss_" + "B" * 43)
    expect_problem(t, r, 401, what="POST reads with a forged token")
    r = ctx.get(f"/v1/articles/{ctx.aid('rw-02')}/reads")
    if expect_problem(t, r, 405, what="GET /v1/articles/{id}/reads") is not None:
        t.check("POST" in (r.header("Allow") or ""), f"GET reads: Allow {r.header('Allow')!r}")


@test()
def test_history_latest_first_deduplicated(t, ctx):
    ctx.need("A")
    t.eq(history_of(t, ctx, "A"), [], "A's history at first (anonymous reads and dead tokens add nothing)")
    before = utcnow()
    ctx.read(t, "rd-02", token="A")
    time.sleep(1.1)
    ctx.read(t, "rw-03", token="A")
    time.sleep(1.1)
    ctx.read(t, "rd-02", token="A")
    items = history_of(t, ctx, "A")
    t.eq(exts(ctx, ids_of(items)), ["rd-02", "rw-03"], "A's history: latest read first, each article once")
    for x in items:
        check_summary(t, x, "history")
        near(t, x.get("read_at"), before, utcnow(), timedelta(minutes=1), f"read_at of {x.get('id')}")
    if len(items) == 2:
        a, b = parse_time(items[0].get("read_at")), parse_time(items[1].get("read_at"))
        t.check(a and b and a > b, f"history read_at: rd-02 {items[0].get('read_at')} should be after "
                                   f"rw-03 {items[1].get('read_at')} (the latest read)")
    one = walk(t, ctx, "/v1/me/history", token="A", limit=1)
    t.eq(ids_of(one), ids_of(items), "history walked at limit=1")
    ctx.read(t, "rw-03", via_slug=True, token="A")
    t.eq(exts(ctx, ids_of(history_of(t, ctx, "A"))), ["rw-03", "rd-02"], "history after reading rw-03 again (by slug)")


@test()
def test_reads_concurrent_are_all_counted(t, ctx):
    aid = ctx.aid("rw-06")
    n_threads, per = 8, 6
    ok, lock = [0], threading.Lock()

    def worker():
        c = Client(ctx.port)
        try:
            for _ in range(per):
                r = c.request("POST", f"/v1/articles/{aid}/reads")
                ctx.audit(r)
                if r.status == 204:
                    with lock:
                        ok[0] += 1
        except OSError:
            pass
        finally:
            c.close()

    threads = [threading.Thread(target=worker) for _ in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    t.eq(ok[0], n_threads * per, "simultaneous anonymous reads answered 204")
    ctx.reads[aid] = ctx.reads.get(aid, 0) + ok[0]
    items = walk(t, ctx, "/v1/top-stories?window=1h", limit=100)
    got = {x.get("id"): x.get("reads") for x in items}
    t.eq(got.get(aid), ctx.reads[aid], "reads of rw-06 after simultaneous reads")


# ================================================================ top stories, popular

def expected_top(ctx):
    return sorted(((aid, n) for aid, n in ctx.reads.items() if n > 0), key=lambda x: (-x[1], x[0]))


def hour_note(ctx):
    """Reads made a few seconds ago belong in every window, also when the clock hour has just changed."""
    if ctx.first_read and int(ctx.first_read // 3600) != int(time.time() // 3600):
        return (f" (the clock hour changed since the first read at "
                f"{rfc3339(datetime.fromtimestamp(ctx.first_read, timezone.utc))}: the window must still count it)")
    return ""


@test()
def test_top_stories_counts_every_window(t, ctx):
    want = expected_top(ctx)
    t.require(len(want) >= 5, f"too few reads recorded to check top stories: {want}")
    t.check(len({n for _, n in want}) < len(want), "fixture: expected at least one tie in read counts")
    for window in ("1h", "24h", "7d", None):
        path = "/v1/top-stories" + (f"?window={window}" if window else "")
        r = ctx.get(path + ("&" if window else "?") + "limit=100")
        b = expect_ok(t, r)
        t.eq(b["meta"].get("window"), window or "24h", f"{path}: meta.window")
        got = [(x.get("id"), x.get("reads")) for x in b.get("data", [])]
        t.eq([(ctx.ext_of(i), n) for i, n in got], [(ctx.ext_of(i), n) for i, n in want],
             f"{path}: (article, reads), reads desc then id{hour_note(ctx)}")
        for x in b.get("data", []):
            check_summary(t, x, path)
        walked = walk(t, ctx, path, limit=2)
        t.eq([(x.get("id"), x.get("reads")) for x in walked], got, f"{path}: cursor walk at limit=2")
    for bad in ("2h", "30d", "", "24H", "all"):
        r = ctx.get(f"/v1/top-stories?window={seg(bad)}")
        expect_problem(t, r, 400, ["window"], what=f"top stories window={bad!r}")


@test()
def test_sort_popular(t, ctx):
    want = sorted(ctx.summaries, key=lambda i: (-ctx.reads.get(i, 0), i))
    items = walk(t, ctx, "/v1/articles?sort=popular", limit=4)
    t.eq(exts(ctx, ids_of(items)), exts(ctx, want), "sort=popular: all-time reads desc, then id")
    r = ctx.get("/v1/articles?sort=popular&limit=1")
    t.eq(expect_ok(t, r)["meta"].get("sort"), "popular", "sort=popular: meta.sort")


@test()
def test_topics_trending_counts_reads(t, ctx):
    sums = {}
    for aid, n in ctx.reads.items():
        for x in ctx.summaries[aid].get("topics", []):
            sums[x["slug"]] = sums.get(x["slug"], 0) + n
    for window in ("1h", "24h", "7d"):
        items = walk(t, ctx, f"/v1/topics?sort=trending&window={window}", limit=100)
        got = {}
        for x in items:
            tr = x.get("trend") or {}
            t.eq(tr.get("window"), window, f"trending ({window}): trend.window of {x.get('slug')}")
            got[x.get("slug")] = tr.get("reads")
        for slug, n in sorted(sums.items()):
            t.eq(got.get(slug), n, f"trending ({window}): trend.reads of {slug}")
        keys = [((x.get("trend") or {}).get("articles", 0), (x.get("trend") or {}).get("reads", 0)) for x in items]
        t.check(keys == sorted(keys, reverse=True), f"trending ({window}): not ranked by articles, then reads: {keys}")


@test()
def test_feed_without_follows_is_top_stories(t, ctx):
    ctx.need("B")
    t.eq(follows_of(t, ctx, "B"), [], "B follows nothing")
    top = ctx.get("/v1/top-stories?window=24h&limit=100")
    want = ids_of(expect_ok(t, top).get("data", []))
    t.check(want, "top stories are empty; the fallback cannot be told from an empty feed")
    r = ctx.get("/v1/me/feed?limit=100", token="B")
    b = expect_ok(t, r)
    t.eq(b["meta"].get("source"), "top-stories", "B's feed without follows: meta.source")
    t.eq(exts(ctx, ids_of(b.get("data", []))), exts(ctx, want), "B's feed without follows: the top stories of 24h")
    r = ctx.get("/v1/me/feed?limit=2", token="B")
    t.eq(exts(ctx, ids_of(expect_ok(t, r).get("data", []))), exts(ctx, want[:2]), "B's fallback feed at limit=2")
    t.eq(ctx.call("PUT", "/v1/me/follows/topic/sport", token="B").status, 204, "B follows sport")
    r = ctx.get("/v1/me/feed?limit=100", token="B")
    b = expect_ok(t, r)
    t.eq(b["meta"].get("source"), "follows", "B's feed after a follow: meta.source")
    t.eq(exts(ctx, ids_of(b.get("data", []))), ["rw-07", "rd-05", "rw-02"], "B's feed (sport)")
    t.eq(ctx.call("DELETE", "/v1/me/follows/topic/sport", token="B").status, 204, "B unfollows sport")
    r = ctx.get("/v1/me/feed?limit=100", token="B")
    t.eq(expect_ok(t, r)["meta"].get("source"), "top-stories", "B's feed after the unfollow: meta.source")


# ================================================================ related

def shares(ctx, a, b):
    sa, sb = ctx.summaries[a], ctx.summaries[b]
    ta = {x["id"] for x in sa.get("topics", [])} | {("e", x["id"]) for x in sa.get("entities", [])}
    tb = {x["id"] for x in sb.get("topics", [])} | {("e", x["id"]) for x in sb.get("entities", [])}
    return bool(ta & tb)


@test()
def test_related(t, ctx):
    base = ctx.aid("rd-01")
    want = {i for i in ctx.summaries if i != base and shares(ctx, base, i)}
    t.require(len(want) > 10, f"fixture: rd-01 should share something with more than 10 articles, not {len(want)}")
    r = ctx.get(f"/v1/articles/{base}/related")
    b = expect_ok(t, r)
    data = b.get("data", [])
    t.eq(len(data), 10, "related of rd-01: default limit")
    if "limit" in b.get("meta", {}):
        t.eq(b["meta"]["limit"], 10, "related: meta.limit default")
    r = ctx.get(f"/v1/articles/{base}/related?limit=50")
    full = expect_ok(t, r).get("data", [])
    got = ids_of(full)
    t.check(base not in got, "related of rd-01 lists rd-01 itself")
    t.eq(sorted(exts(ctx, got)), sorted(exts(ctx, want)), "related of rd-01 at limit=50: the articles sharing "
                                                          "an entity or topic")
    t.eq(len(got), len(set(got)), "related of rd-01: no duplicates")
    scores = [x.get("relatedness") for x in full]
    t.check(all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scores),
            f"related: relatedness must be a number: {scores}")
    if all(isinstance(s, (int, float)) for s in scores):
        t.check(scores == sorted(scores, reverse=True), f"related: not sorted by relatedness: {scores}")
    t.eq(ids_of(data), got[:10], "related: the default page is the first 10 of limit=50")
    r = ctx.get(f"/v1/articles/{base}/related?limit=3")
    t.eq(ids_of(expect_ok(t, r).get("data", [])), got[:3], "related at limit=3")
    slug = ctx.summaries[base]["slug"]
    r = ctx.get(f"/v1/articles/{seg(slug)}/related?limit=50")
    t.eq(ids_of(expect_ok(t, r).get("data", [])), got, "related by slug vs by id")
    # Lake Veridia articles share the most with rd-01 (Climate, Lake Veridia, Northmarch).
    top3 = set(exts(ctx, got[:3]))
    t.check(top3 <= {"rd-06", "rd-03", "rw-04"}, f"related of rd-01: the first three should be the Lake Veridia "
                                                 f"and Climate articles, got {exts(ctx, got[:3])}")


@test()
def test_related_small_and_empty(t, ctx):
    r = ctx.get(f"/v1/articles/{ctx.aid('rw-05')}/related")
    got = ids_of(expect_ok(t, r).get("data", []))
    t.eq(sorted(exts(ctx, got)), ["rd-02", "rw-03"], "related of rw-05 (Corvane Group, Markets)")
    r = ctx.get(f"/v1/articles/{ctx.aid('rd-08')}/related")
    t.eq(expect_ok(t, r).get("data"), [], "related of rd-08 (no entities, no topics)")
    for i in ctx.summaries:
        if i == ctx.aid("rd-08"):
            continue
        r = ctx.get(f"/v1/articles/{i}/related?limit=50")
        if t.check(r.status == 200, f"related of {ctx.ext_of(i)}: {r.status}"):
            got = ids_of(r.json.get("data", []))
            t.check(i not in got, f"related of {ctx.ext_of(i)} lists itself")
            t.check(ctx.aid("rd-08") not in got, f"related of {ctx.ext_of(i)} lists rd-08, which shares nothing")


@test()
def test_related_parameters(t, ctx):
    base = ctx.aid("rd-01")
    for q in ("limit=0", "limit=51", "limit=abc", "limit=", "foo=1"):
        r = ctx.get(f"/v1/articles/{base}/related?{q}")
        expect_problem(t, r, 400, [q.split("=")[0]], what=f"related ?{q}")
    for ref in (UNKNOWN_ID, "no-such-article"):
        r = ctx.get(f"/v1/articles/{ref}/related")
        expect_problem(t, r, 404, what=f"related of {ref}")


# ================================================================ ownership

def account_state(t, ctx, name):
    out = {}
    for p in ("/v1/me", "/v1/me/follows?limit=100", "/v1/me/bookmarks?limit=100", "/v1/me/history?limit=100",
              "/v1/me/feed?limit=100"):
        r = ctx.get(p, token=name)
        t.require(r.status == 200, f"GET {p} as {name}: {r.status}: {short(r.body)}")
        out[p] = (r.json, r.header("ETag"))
    return out


@test()
def test_ownership_b_never_sees_or_changes_a(t, ctx):
    ctx.need("A", "B")
    a, b = ctx.readers["A"], ctx.readers["B"]
    a_before = account_state(t, ctx, "A")
    a_follows = follow_keys(a_before["/v1/me/follows?limit=100"][0]["data"])
    a_bookmarks = ids_of(a_before["/v1/me/bookmarks?limit=100"][0]["data"])
    a_history = ids_of(a_before["/v1/me/history?limit=100"][0]["data"])
    t.require(a_follows and a_bookmarks and a_history, "A needs follows, bookmarks and history for this test")
    # B's own activity
    t.eq(ctx.call("PUT", "/v1/me/follows/topic/politics", token="B").status, 204, "B follows politics")
    t.eq(ctx.call("PUT", f"/v1/me/bookmarks/{ctx.aid('rd-04')}", token="B").status, 204, "B bookmarks rd-04")
    ctx.read(t, "rd-05", token="B")
    # B acting on what A has
    for kind, tid in a_follows:
        r = ctx.call("DELETE", f"/v1/me/follows/{kind}/{tid}", token="B")
        t.eq(r.status, 204, f"B unfollows A's {kind} {tid} (which B does not follow)")
    for aid in a_bookmarks:
        r = ctx.call("DELETE", f"/v1/me/bookmarks/{aid}", token="B")
        t.eq(r.status, 204, f"B deletes a bookmark of A's ({ctx.ext_of(aid)})")
    r = ctx.call("PATCH", "/v1/me", {"name": "Bea Renamed"}, token="B")
    t.eq(r.status, 200, "B renames itself")
    r = ctx.call("PATCH", "/v1/me", {"id": a.id, "name": "Hijack"}, token="B")
    expect_problem(t, r, 422, ["id"], what="B's PATCH /v1/me naming A's id")
    # B's view
    me = ctx.get("/v1/me", token="B").json
    t.eq((me.get("id"), me.get("email"), me.get("name")), (b.id, b.email, "Bea Renamed"), "B's /v1/me")
    bf = follows_of(t, ctx, "B")
    t.eq([(x.get("kind"), x.get("slug")) for x in bf], [("topic", "politics")], "B's follows")
    t.eq(exts(ctx, ids_of(bookmarks_of(t, ctx, "B"))), ["rd-04"], "B's bookmarks")
    t.eq(exts(ctx, ids_of(history_of(t, ctx, "B"))), ["rd-05", "rd-07"], "B's history")
    r = ctx.get("/v1/me/feed?limit=100", token="B")
    t.eq(exts(ctx, ids_of(expect_ok(t, r).get("data", []))), ["rd-07", "rd-04", "rd-03"], "B's feed (politics)")
    # No way to name A
    for q in (f"user={a.id}", f"user_id={a.id}", f"reader={a.id}"):
        for p in ("/v1/me", "/v1/me/follows", "/v1/me/bookmarks", "/v1/me/history", "/v1/me/feed"):
            r = ctx.get(f"{p}?{q}", token="B")
            t.check(r.status == 400, f"GET {p}?{q} as B: expected 400 (unknown parameter), got {r.status}")
            t.check(a.email.encode() not in r.body, f"GET {p}?{q} as B shows A's email")
    for method, p in (("GET", f"/v1/users/{a.id}"), ("GET", f"/v1/users/{a.id}/membership"),
                      ("GET", f"/v1/users/{a.id}/follows"), ("GET", f"/v1/users/{a.id}/bookmarks"),
                      ("PATCH", f"/v1/users/{a.id}"), ("DELETE", f"/v1/users/{a.id}")):
        r = ctx.call(method, p, token="B", body={"name": "x"} if method == "PATCH" else None)
        t.check(r.status in (401, 404, 405), f"{method} {p} as B: expected 401/404/405, got {r.status}")
        t.check(a.email.encode() not in r.body, f"{method} {p} as B shows A's email")
    r = ctx.call("PUT", f"/v1/users/{a.id}/membership", {"plan": "member", "expires_at": "2099-01-01T00:00:00Z"},
                 token="B")
    expect_problem(t, r, 401, what="PUT A's membership with B's token")
    # A's ETags are no good for B
    for p, (_, etag) in a_before.items():
        if etag:
            r = ctx.get(p, token="B", headers={"If-None-Match": etag})
            t.check(r.status == 200, f"GET {p} as B with A's ETag: expected 200, got {r.status}")
    # A unchanged
    a_after = account_state(t, ctx, "A")
    for p in a_before:
        t.eq(a_after[p][0], a_before[p][0], f"A's {p} after B's requests")
    for p in ("/v1/me/follows", "/v1/me/bookmarks", "/v1/me/history", "/v1/me/feed"):
        r = ctx.get(p + "?limit=100", token="B")
        t.check(a.email.encode() not in r.body, f"GET {p} as B mentions A's email")


@test()
def test_entity_merge_moves_follows(t, ctx):
    ctx.need_keys("adm")
    ctx.need("A", "B")
    src, dst = lookup(t, ctx, "/v1/entities/merge-source-thing"), lookup(t, ctx, "/v1/entities/merge-target-thing")
    a_before = follow_keys(follows_of(t, ctx, "A"))
    for name, targets in (("A", ["merge-source-thing"]), ("B", ["merge-source-thing", "merge-target-thing"])):
        for slug in targets:
            t.eq(ctx.call("PUT", f"/v1/me/follows/entity/{slug}", token=name).status, 204, f"{name} follows {slug}")
    r = ctx.call("POST", "/v1/entities/merge-source-thing/merge", {"into": "merge-target-thing"}, key="adm")
    t.require(r.status == 200, f"merge: {r.status}: {short(r.body)}")
    for name in ("A", "B"):
        ents = [x for x in follows_of(t, ctx, name) if x.get("kind") == "entity" and
                x.get("id") in (src["id"], dst["id"])]
        t.eq([(x.get("id"), x.get("slug")) for x in ents], [(dst["id"], "merge-target-thing")],
             f"{name}'s follows after the merge: the survivor, once")
    r = ctx.call("PUT", "/v1/me/follows/entity/merge-source-thing", token="A")
    t.eq(r.status, 204, "following the merged entity by its old slug")
    ents = [x for x in follows_of(t, ctx, "A") if x.get("kind") == "entity" and x.get("id") in (src["id"], dst["id"])]
    t.eq([x.get("id") for x in ents], [dst["id"]], "following by the old slug follows the survivor, once")
    for name in ("A", "B"):
        t.eq(ctx.call("DELETE", "/v1/me/follows/entity/merge-target-thing", token=name).status, 204,
             f"{name} unfollows the survivor")
    t.eq(follow_keys(follows_of(t, ctx, "A")), a_before, "A's follows back as they were")


@test()
def test_feed_cursor_stable_while_articles_arrive(t, ctx):
    ctx.need_keys("ing")
    ctx.need("A")
    want = [ctx.aid(e) for e in A_FEED]
    r = ctx.get("/v1/me/feed?limit=3", token="A")
    b = expect_ok(t, r)
    got = ids_of(b.get("data", []))
    nxt = b["links"].get("next")
    new = {"publication": "readers-wire", "external_id": "rw-late", "url": "https://wire.readers.example/2024/rw-late",
           "headline": "Late science note from Northmarch", "standfirst": "Arrives during a walk.",
           "section": "Science", "authors": ["Fatima Noor"], "published_at": "2024-05-20T08:00:00Z",
           "language": "en", "access": "free", "body_text": "A short note.\n\nAnother line.", "topics": ["Science"]}
    r = ctx.call("POST", "/v1/articles", new, key="ing")
    t.require(r.status == 201, f"POST a new article mid-walk: {r.status}: {short(r.body)}")
    new_id = r.json["id"]
    for _ in range(10):
        if not nxt:
            break
        r = ctx.get(nxt, token="A")
        t.require(r.status == 200, f"GET {nxt}: {r.status}")
        got += ids_of(r.json.get("data", []))
        nxt = r.json["links"].get("next")
    t.eq(exts(ctx, got), A_FEED, "feed walk at limit=3 while an article arrived: each old article exactly once")
    r = ctx.get("/v1/me/feed?limit=100", token="A")
    t.eq(ids_of(expect_ok(t, r).get("data", [])), [new_id] + want, "a fresh feed starts with the new article")
    # Bookmarked and read, then deleted: it leaves every list.
    t.eq(ctx.call("PUT", f"/v1/me/bookmarks/{new_id}", token="A").status, 204, "A bookmarks the new article")
    r = ctx.call("POST", f"/v1/articles/{new_id}/reads", token="A")
    t.eq(r.status, 204, "A reads the new article")
    r = ctx.call("DELETE", f"/v1/articles/{new_id}", key="ing")
    t.require(r.status == 204, f"DELETE the new article: {r.status}: {short(r.body)}")
    for p in ("/v1/me/bookmarks", "/v1/me/history", "/v1/me/feed"):
        items = walk(t, ctx, p, token="A", limit=100)
        t.check(new_id not in ids_of(items), f"{p} still lists the deleted article")
    for w in ("1h", "24h", "7d"):
        items = walk(t, ctx, f"/v1/top-stories?window={w}", limit=100)
        t.check(new_id not in ids_of(items), f"top stories ({w}) list the deleted article")
    t.eq(exts(ctx, ids_of(walk(t, ctx, "/v1/me/feed", token="A", limit=100))), A_FEED, "A's feed after the delete")


@test()
def test_deleted_readers_reads_still_count(t, ctx):
    # D read rd-02 twice before deleting the account; expected_top() counts them.
    want = expected_top(ctx)
    items = walk(t, ctx, "/v1/top-stories?window=1h", limit=100)
    t.eq([(ctx.ext_of(x.get("id")), x.get("reads")) for x in items], [(ctx.ext_of(i), n) for i, n in want],
         f"top stories (1h) at the end (a deleted reader's reads stay){hour_note(ctx)}")


@test()
def test_deleted_account_leaves_nothing_to_a_newcomer(t, ctx):
    r = ctx.signup("Z", "zed.gone@readers.example", "pw-Zed-Gone-0001", "Zed Gone")
    t.require(r.status == 201, f"sign-up of Z: {r.status}: {short(r.body)}")
    z = ctx.readers["Z"]
    r2, z2 = ctx.signin(z.email, z.password, "Z")
    t.require(r2.status == 201 and z2, f"sign-in of Z: {r2.status}")
    t.eq(ctx.call("PUT", "/v1/me/follows/topic/science", token="Z").status, 204, "Z follows science")
    t.eq(ctx.call("PUT", f"/v1/me/bookmarks/{ctx.aid('rd-06')}", token="Z").status, 204, "Z bookmarks rd-06")
    ctx.read(t, "rd-06", token="Z")
    t.eq(ctx.call("DELETE", "/v1/me", token="Z").status, 204, "Z deletes its account")
    r = ctx.signup("Y", "yan.new@readers.example", "pw-Yan-New-00001", "Yan New")
    t.require(r.status == 201, f"sign-up of Y: {r.status}: {short(r.body)}")
    y = ctx.readers["Y"]
    for p in ("/v1/me/follows", "/v1/me/bookmarks", "/v1/me/history"):
        r = ctx.get(p, token="Y")
        t.eq(expect_ok(t, r).get("data"), [], f"GET {p} of a newcomer (id {y.id}; the deleted Z had id {z.id})")
    r = ctx.get("/v1/me/feed", token="Y")
    t.eq(expect_ok(t, r)["meta"].get("source"), "top-stories", "a newcomer's feed falls back to top stories")
    for tok in (z.token, z2):
        r = ctx.get("/v1/me", token=tok)
        expect_problem(t, r, 401, what="GET /v1/me with a session of the deleted Z after a newcomer signed up")
    me = ctx.get("/v1/me", token="Y").json
    t.eq((me.get("email"), me.get("name")), ("yan.new@readers.example", "Yan New"), "the newcomer's /v1/me")


# ================================================================ list parameters, HEAD

@test()
def test_me_list_parameters(t, ctx):
    ctx.need("A")
    for p in ("/v1/me/follows", "/v1/me/feed", "/v1/me/bookmarks", "/v1/me/history"):
        for q, field in (("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
                         ("cursor=garbage", "cursor"), ("cursor=", "cursor"), ("foo=1", "foo")):
            r = ctx.get(f"{p}?{q}", token="A")
            expect_problem(t, r, 400, [field], slug="invalid-parameter", what=f"GET {p}?{q}")
        r = ctx.get(f"{p}?limit=1", token="A")
        b = expect_ok(t, r)
        nc = b["meta"].get("next_cursor")
        if nc:
            forged = nc[:-2] + ("AA" if not nc.endswith("AA") else "BB")
            r = ctx.get(f"{p}?limit=1&cursor={seg(forged)}", token="A")
            expect_problem(t, r, 400, ["cursor"], slug="invalid-parameter", what=f"GET {p} with a forged cursor")


@test(proxy=NO_PROXY_HEAD)
def test_me_routes_head_and_etag(t, ctx):
    ctx.need("A")
    for p in ("/v1/me", "/v1/me/follows", "/v1/me/feed", "/v1/me/bookmarks", "/v1/me/history"):
        r = ctx.get(p, token="A")
        t.require(r.status == 200, f"GET {p}: {r.status}")
        etag = r.header("ETag")
        t.check(etag, f"GET {p}: no ETag")
        t.check("authorization" in vary_tokens(r), f"GET {p}: Vary {r.header_all('Vary')} lacks Authorization")
        h = ctx.call("HEAD", p, token="A")
        t.check(h.status == 200 and h.body == b"", f"HEAD {p}: {h.status} {short(h.body)}")
        t.eq(h.header("ETag"), etag, f"HEAD {p}: ETag")
        if etag:
            t.eq(ctx.get(p, token="A", headers={"If-None-Match": etag}).status, 304, f"GET {p} with its ETag")
        r = ctx.call("HEAD", p)
        t.eq(r.status, 401, f"HEAD {p} without a token")


# ================================================================ audits

@test(proxy=NO_PROXY_HEAD)
def test_authorized_answers_are_private_no_store(t, ctx):
    for (method, route, status), cc in sorted(ctx.cache_bad.items(), key=lambda x: str(x[0])):
        t.check(False, f"{method} {route} -> {status} with Authorization: Cache-Control {cc!r}, "
                       f"expected private, no-store")


@test()
def test_no_token_or_password_in_any_answer(t, ctx):
    t.require(ctx.tokens, "no token was ever issued")
    for x in sorted(set(ctx.leaks))[:30]:
        t.check(False, x)


@test()
def test_tokens_and_passwords_not_stored_in_the_clear(t, ctx):
    blobs = b""
    for suffix in ("", "-wal", "-journal"):
        p = ctx.db + suffix
        if os.path.exists(p):
            with open(p, "rb") as f:
                blobs += f.read()
    t.require(blobs, "no database file")
    for tok, whose in ctx.tokens.items():
        t.check(tok.encode() not in blobs and tok[4:].encode() not in blobs,
                f"the database holds a session token of {whose} in the clear")
    for pw in ctx.passwords:
        if len(pw) >= 8:
            t.check(pw.encode("utf-8") not in blobs, f"the database holds a password in the clear ({short(pw, 12)})")


@test()
def test_server_still_healthy(t, ctx):
    t.eq(ctx.get("/healthz").status, 200, "GET /healthz after every test")
    t.eq(ctx.get("/readyz").status, 200, "GET /readyz after every test")
    rc, out, err = ctx.run_cli("check")
    t.eq(rc, 0, f"newsstand check while serving: {short(out + err)}")


# ================================================================ shutdown

register_shutdown_tests()


@test("shutdown")
def test_no_token_or_password_in_logs(t, ctx):
    for path, what in ((ctx.server_err, "stderr"), (ctx.server_out, "stdout (access log)")):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                log = f.read()
        except OSError:
            continue
        for tok, whose in ctx.tokens.items():
            if tok not in ctx.url_tokens:
                t.check(tok not in log and tok[4:] not in log, f"the server's {what} holds a session token of {whose}")
        for pw in ctx.passwords:
            esc = json.dumps(pw, ensure_ascii=True)[1:-1]
            t.check(pw not in log and esc not in log, f"the server's {what} holds a password ({short(pw, 12)})")
    for what, text in ctx.cli_stderr:
        for tok, whose in ctx.tokens.items():
            t.check(tok not in text, f"`{what}` stderr holds a session token of {whose}")


# ================================================================ runner


def start_server(ctx):
    ctx.port = free_port()
    with open(ctx.server_err, "wb") as err, open(ctx.server_out, "wb") as out:
        ctx.proc = subprocess.Popen([ctx.bin, "serve", "--db", ctx.db, "--bind", HOST, "--port", str(ctx.port),
                                     "--threads", "4"], stdout=out, stderr=err, env=ctx.env,
                                    cwd=ctx.tmp)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ctx.proc.poll() is not None:
            with open(ctx.server_err, encoding="utf-8", errors="replace") as f:
                return f"server exited with {ctx.proc.returncode}: {short(f.read(), 400)}"
        try:
            c = http.client.HTTPConnection(HOST, ctx.port, timeout=1)
            c.request("GET", "/readyz")
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
    return "server did not answer GET /readyz with 200 within 10 s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "newsstand"))
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (database, server log)")
    ap.add_argument("--verbose", "-v", action="store_true", help="also print passing tests")
    ap.add_argument("--only", help="run only the HTTP tests whose names contain this (setup, the fixture check "
                                   "and the shutdown checks always run; later tests rely on earlier ones)")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    results = []
    if not (os.path.isfile(args.bin) and os.access(args.bin, os.X_OK)):
        for name, _, _ in TESTS:
            print(f"FAIL {name}: not run: no executable at {args.bin}")
        print(f"0 passed, {len(TESTS)} failed")
        return 1
    ctx = Ctx(args)
    selected = [(n, f, p) for n, f, p in TESTS
                if not args.only or args.only in n or p != "http" or n == "test_fixture_loaded"]
    try:
        run_phases(selected, ctx, start_server, results, args.verbose)
    finally:
        results.extend(finish_proxy())
        if ctx.proc is not None and ctx.proc.poll() is None:
            ctx.proc.kill()
            ctx.proc.wait()
        if ctx.client is not None:
            ctx.client.close()
        if args.keep:
            print(f"temp dir kept: {ctx.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(ctx.tmp, ignore_errors=True)
    failed = sum(1 for _, f in results if f)
    print(summary(len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
