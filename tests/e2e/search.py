#!/usr/bin/env python3
"""End-to-end tests for newsstand's full-text search: the `q` parameter of
GET /v1/articles (words, stemming, accents, "exact phrases", OR, -exclusions,
everything else plain words), scores and highlights, the paywall in snippets,
filters, sorts, facets and cursors combined with q, and hostile queries.

Usage (from the top of the repository):

    python3 tests/e2e/search.py [--bin ./newsstand] [--keep] [--verbose]

What it does, in order:
  1. in a fresh database in a temp dir: `entities import server/demo/gazetteer.ndjson`
     (when the file exists), `import server/demo/articles.ndjson` (the real demo
     corpus: Wikinews articles and Wikipedia current-events items) and `import
     tests/e2e/fixtures/search_extra.ndjson` (a headline full of HTML
     characters with a distinctive author, and premium articles of 1 to 5
     blocks whose every block names its own token, for the paywall rules);
  2. starts `newsstand serve` on a free loopback port and runs the HTTP tests;
  3. imports two more articles with the CLI while a relevance cursor walk is
     half-way, and checks the walk still visits every old match exactly once;
  4. sends SIGTERM, expects exit status 0 within 10 s and no sanitizer report.

Contract: /work/shared/API.md; decisions: the design notes. Expectations come
from the source files (the known-item cases were chosen by reading the demo
corpus, and each case re-checks in the source that it still means what it
claims), from set algebra between queries (a -b = a minus b, ...), or from
listings without q (filters, dates); never from the answer under test itself,
except the ids the server assigns, learned from the plain listing.

Every test is a named function taking (t, ctx); failures print one line each,
the last line is `N passed, N failed`, and the exit status is 1 when anything
failed. Python 3 standard library only; every loop is bounded.
"""

import argparse
import html
import http.client
import json
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
from datetime import datetime, timezone
from harness import (
    run_one,
    server_env,
    TESTS, register_shutdown_tests, TestFailure, T, test, free_port, Response, url, Client,
    expect_ok, fold, parse_time,
    front_with_proxy, finish_proxy, summary, NO_PROXY_BIG_HEAD, NO_PROXY_HEAD, NO_PROXY_RAW,
)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEMO_ARTICLES = os.path.join(REPO, "server", "demo", "articles.ndjson")
DEMO_GAZETTEER = os.path.join(REPO, "server", "demo", "gazetteer.ndjson")
EXTRA = os.path.join(HERE, "fixtures", "search_extra.ndjson")

HOST = "127.0.0.1"
PROBLEM_BASE = "https://newsstand.dev/problems/"
PROBLEM_SLUG = {400: "invalid-parameter", 404: "not-found", 405: "method-not-allowed", 422: "validation-failed",
                500: "internal", 503: "unavailable"}
SUMMARY_KEYS = {"id", "slug", "headline", "standfirst", "url", "publication", "section",
                "authors", "image", "published_at", "updated_at", "language", "access",
                "word_count", "reading_time_minutes", "topics", "entities"}
HIT_KEYS = SUMMARY_KEYS | {"score", "highlight"}
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")
IMPORTED_LINE = re.compile(r"^imported: (\d+) created, (\d+) updated, (\d+) unchanged, (\d+) rejected$")
ENTITIES_LINE = re.compile(r"^entities: (\d+) created, (\d+) updated, (\d+) unchanged, (\d+) rejected$")
PREVIEW_MAX = 2
ELLIPSIS = "\u2026"
# Entities a highlight may use; an apostrophe may also stay raw (it is harmless in HTML text).
ENTITY = re.compile(r"&(amp|lt|gt|quot|#39|#x27|apos|#34|#x22);")


# ---------------------------------------------------------------- results


def short(v, n=220):
    if isinstance(v, bytes):
        s = repr(v)
    elif isinstance(v, str):
        s = v
    else:
        s = json.dumps(v, ensure_ascii=False, default=str)
    return s if len(s) <= n else s[:n] + "..."


# ---------------------------------------------------------------- HTTP helpers


def expect_problem(t, r, status, field=None):
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
    if status in PROBLEM_SLUG:
        t.eq(p.get("type"), PROBLEM_BASE + PROBLEM_SLUG[status], f"{r.label}: problem type")
    t.eq(p.get("status"), status, f"{r.label}: problem status")
    errs = p.get("errors") if isinstance(p.get("errors"), list) else []
    if status in (400, 422):
        fields = [e.get("field") for e in errs if isinstance(e, dict)]
        t.check(errs, f"{r.label}: problem lacks a non-empty errors list: {short(p)}")
        if field is not None:
            t.check(field in fields, f"{r.label}: errors name fields {fields}, expected {field!r}")
    return p


def check_envelope(t, r, limit):
    env = expect_ok(t, r)
    t.require(isinstance(env, dict) and isinstance(env.get("data"), list), f"{r.label}: not a list envelope: {short(env)}")
    meta, links = env.get("meta") or {}, env.get("links") or {}
    t.eq(meta.get("limit"), limit, f"{r.label}: meta.limit")
    t.check(isinstance(meta.get("total"), int) and meta.get("total") >= 0, f"{r.label}: meta.total {short(meta)}")
    t.check(len(env["data"]) <= limit, f"{r.label}: {len(env['data'])} items > limit {limit}")
    nc, nx = meta.get("next_cursor"), links.get("next")
    if nc is None:
        t.check(nx is None, f"{r.label}: last page with links.next {short(nx)}")
    else:
        t.check(isinstance(nx, str) and nx.startswith("/v1/articles?"), f"{r.label}: links.next {short(nx)}")
    return env


def page(t, ctx, params, limit=20):
    """One page of GET /v1/articles with params (a dict); returns the envelope."""
    p = dict(params)
    p["limit"] = str(limit)
    return check_envelope(t, ctx.client.get("/v1/articles", p), limit)


def walk(t, ctx, params, limit=100, max_pages=600):
    """Every item of one query, following links.next; checks meta.total against the count.
    Returns (items, first page's meta)."""
    base = dict(params)
    base["limit"] = str(limit)
    target = url("/v1/articles", base)
    items, first_meta, pages = [], None, 0
    while target is not None:
        pages += 1
        t.require(pages <= max_pages, f"walk {short(params)}: more than {max_pages} pages")
        r = ctx.client.get(target)
        env = check_envelope(t, r, limit)
        if first_meta is None:
            first_meta = env["meta"]
        items.extend(env["data"])
        if env["meta"].get("next_cursor") is None:
            break
        t.require(env["data"], f"{r.label}: empty page with a next cursor")
        nx = env["links"].get("next") or ""
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(nx).query, keep_blank_values=True)
        for k, v in base.items():
            t.check(q.get(k) == [v], f"{r.label}: links.next lost {k}={short(v, 60)}: {short(nx)}")
        target = nx
    t.check(first_meta.get("total") == len(items),
            f"walk {short(params)} limit={limit}: visited {len(items)} items, meta.total said {first_meta.get('total')}")
    ids = [a.get("id") for a in items]
    t.check(len(ids) == len(set(ids)), f"walk {short(params)} limit={limit}: an item came twice")
    return items, first_meta


def search_ids(t, ctx, q, **extra):
    """Ids of every match of q (relevance order, or extra's sort)."""
    items, _ = walk(t, ctx, dict(extra, q=q))
    return [a["id"] for a in items]


# ---------------------------------------------------------------- the source model

WORD = re.compile(r"[^\W_]+")


def words(s):
    return [fold(w) for w in WORD.findall(s or "")]


def slugify(s):
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"['\u2019\u02bc]", "", fold(s))).strip("-")


def body_text_blocks(text):
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
        s = " ".join(x.strip() for x in p).strip()
        if s:
            out.append({"type": "paragraph", "text": s})
    return out


def preview_blocks(n):
    return min(PREVIEW_MAX, n // 2)


class Src:
    """One article as the source files wrote it."""

    def __init__(self, d, origin):
        self.raw, self.origin = d, origin
        p = d["publication"]
        self.pub = p["slug"] if isinstance(p, dict) else p
        self.ext = d.get("external_id") or d.get("url")
        self.headline = d["headline"]
        self.standfirst = d.get("standfirst") or ""
        self.section = d.get("section")
        self.access = d.get("access", "free")
        self.published = parse_time(d["published_at"])
        self.authors = d.get("authors") or []
        blocks = d["blocks"] if "blocks" in d else body_text_blocks(d["body_text"])
        self.n_blocks = len(blocks)
        self.preview = preview_blocks(len(blocks))
        texts = [(i, b.get("text")) for i, b in enumerate(blocks)
                 if b.get("type") in ("paragraph", "heading", "quote") and b.get("text")]
        self.lead = " ".join(x for i, x in texts if i < self.preview)
        self.rest = " ".join(x for i, x in texts if i >= self.preview)
        self.body = " ".join(x for _, x in texts)
        self.id = None

    @property
    def key(self):
        return (self.pub, self.headline, self.published)

    def __repr__(self):
        return f"<{self.ext} id={self.id}>"


# ---------------------------------------------------------------- context

class Ctx:
    def __init__(self, args):
        self.bin = args.bin
        self.tmp = tempfile.mkdtemp(prefix="newsstand-search-")
        self.db = os.path.join(self.tmp, "db")
        self.env = server_env()
        self.proc = self.port = self.client = None
        self.server_err = os.path.join(self.tmp, "server.stderr")
        self.cli_stderr = []
        self.has_gazetteer = os.path.isfile(DEMO_GAZETTEER)
        self.src = []
        for path, origin in ((DEMO_ARTICLES, "demo"), (EXTRA, "extra")):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        self.src.append(Src(json.loads(line), origin))
        self.by_ext = {}
        for s in self.src:
            self.by_ext.setdefault(s.ext, s)
        self.synced = False

    def run_cli(self, *argv, timeout=120):
        p = subprocess.run([self.bin, *argv], capture_output=True, env=self.env, timeout=timeout, cwd=self.tmp)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        self.cli_stderr.append((" ".join(argv[:2]), err))
        return p.returncode, out, err

    def art(self, ext):
        """The source article with this external id, with its server id (learned by test_learn_ids)."""
        s = self.by_ext.get(ext)
        if s is None:
            raise TestFailure(f"the source files no longer hold an article {ext!r}: the case needs a new pick")
        if s.id is None:
            raise TestFailure(f"no server id learned for {ext!r} (test_learn_ids failed)")
        return s

    def by_id(self, i):
        for s in self.src:
            if s.id == i:
                return s
        return None


# ---------------------------------------------------------------- highlight checks

def parse_highlight(t, s, label):
    """Checks that s is text with only <mark>...</mark> as markup and everything else
    escaped; returns (plain text, [marked texts]) unescaped, or None."""
    if not t.check(isinstance(s, str), f"{label}: not a string: {short(s)}"):
        return None
    parts = re.split(r"(</?mark>)", s)
    plain, marks, open_, ok = [], [], False, True
    for part in parts:
        if part == "<mark>":
            ok &= t.check(not open_, f"{label}: nested <mark>: {short(s)}")
            open_ = True
            marks.append("")
            continue
        if part == "</mark>":
            ok &= t.check(open_, f"{label}: </mark> without <mark>: {short(s)}")
            open_ = False
            continue
        for ch in "<>\"":
            ok &= t.check(ch not in part, f"{label}: raw {ch!r} outside the marks' tags: {short(s)}")
        amps = [m.start() for m in re.finditer("&", part)]
        for i in amps:
            ok &= t.check(ENTITY.match(part, i) is not None, f"{label}: raw '&' not escaped at {short(part[i:i + 12])!r}: {short(s)}")
        text = html.unescape(part)
        plain.append(text)
        if open_:
            marks[-1] += text
    ok &= t.check(not open_, f"{label}: unclosed <mark>: {short(s)}")
    ok &= t.check(all(m.strip() for m in marks), f"{label}: an empty <mark></mark>: {short(s)}")
    return ("".join(plain), marks) if ok else None


def check_hit(t, ctx, hit, label, src=None):
    """Shape, score and highlights of one search result against its source article:
    the headline highlight is the headline; each piece of the snippet is text of the
    article's body the reader may see (only the preview when the article is locked)."""
    t.eq(set(hit), HIT_KEYS, f"{label}: keys of a search result")
    sc = hit.get("score")
    t.check(isinstance(sc, (int, float)) and not isinstance(sc, bool) and sc > 0,
            f"{label}: score {short(sc)} is not a positive number")
    hl = hit.get("highlight")
    if not t.check(isinstance(hl, dict) and set(hl) == {"headline", "snippet"},
                   f"{label}: highlight {short(hl)} is not {{headline, snippet}}"):
        return None
    src = src or ctx.by_id(hit.get("id"))
    h = parse_highlight(t, hl["headline"], f"{label}: highlight.headline")
    sn = parse_highlight(t, hl["snippet"], f"{label}: highlight.snippet")
    if src is None:
        return h, sn
    if h is not None:
        t.eq(h[0], src.headline, f"{label}: highlight.headline without marks")
    if sn is not None:
        locked = src.access == "premium"
        allowed = [squash(src.lead)] if locked else [squash(src.lead), squash(src.rest)]
        for piece in sn[0].split(ELLIPSIS):
            piece = squash(piece)
            if piece:
                t.check(any(piece in a for a in allowed),
                        f"{label}: snippet piece {short(piece, 120)!r} is not text of the "
                        f"{'preview' if locked else 'body'} of {src.ext}")
    return h, sn


def squash(s):
    """Runs of white space as one space (the server folds them inside a paragraph)."""
    return " ".join((s or "").split())


def marked_words(hs):
    """Folded words inside the marks of parsed highlights."""
    out = set()
    for h in hs:
        if h is not None:
            for m in h[1]:
                out.update(words(m))
    return out


# ================================================================ CLI phase

def parse_summary(t, out, rx, what):
    lines = [ln for ln in out.splitlines() if rx.match(ln)]
    t.require(len(lines) == 1, f"{what}: expected one summary line on stdout, got {short(out)}")
    return tuple(int(x) for x in rx.match(lines[0]).groups())


@test("cli")
def test_import_gazetteer(t, ctx):
    if not ctx.has_gazetteer:
        raise TestFailure("no server/demo/gazetteer.ndjson in this checkout")
    rc, out, err = ctx.run_cli("entities", "import", DEMO_GAZETTEER, "--db", ctx.db)
    t.eq(rc, 0, f"entities import exit status (stderr {short(err)})")
    created, updated, unchanged, rejected = parse_summary(t, out, ENTITIES_LINE, "entities import")
    t.check(created > 0, f"entities import created nothing: {short(out)}")
    t.eq(rejected, 0, f"rejected gazetteer lines (stderr {short(err)})")


@test("cli")
def test_import_demo_articles(t, ctx):
    rc, out, err = ctx.run_cli("import", DEMO_ARTICLES, "--db", ctx.db)
    t.eq(rc, 0, f"import exit status (stderr {short(err)})")
    n = sum(1 for s in ctx.src if s.origin == "demo")
    t.eq(parse_summary(t, out, IMPORTED_LINE, "import"), (n, 0, 0, 0), f"demo import summary (stderr {short(err)})")


@test("cli")
def test_import_extra_fixture(t, ctx):
    rc, out, err = ctx.run_cli("import", EXTRA, "--db", ctx.db)
    t.eq(rc, 0, f"import exit status (stderr {short(err)})")
    n = sum(1 for s in ctx.src if s.origin == "extra")
    t.eq(parse_summary(t, out, IMPORTED_LINE, "import"), (n, 0, 0, 0), f"fixture import summary (stderr {short(err)})")


# ================================================================ learning ids

@test()
def test_learn_ids(t, ctx):
    keys = {}
    for s in ctx.src:
        t.require(s.key not in keys, f"two source articles share publication, headline and date: {s.ext}, {keys.get(s.key)}")
        keys[s.key] = s
    items, meta = walk(t, ctx, {})
    t.eq(meta.get("sort"), "newest", "meta.sort without q")
    t.eq(len(items), len(ctx.src), "articles listed")
    for a in items:
        k = ((a.get("publication") or {}).get("slug"), a.get("headline"), parse_time(a.get("published_at")))
        s = keys.get(k)
        if t.check(s is not None, f"listed article {a.get('id')} {short(a.get('headline'), 80)!r} is not in the sources"):
            s.id = a["id"]
    t.check(all(s.id is not None for s in ctx.src), "some source articles were not listed")
    ctx.synced = True


# ================================================================ known items

# (name, q, expected first, extra). Chosen by reading server/demo/articles.ndjson;
# each was checked to be the only match or far ahead of the next one.
# extra: absent = exts that must not match; not_in = source fields that must not
# hold any of the query's words (so a body-only case stays body-only); literal_absent =
# a word that must not occur literally anywhere in the sources (stemming cases);
# marks = folded words the highlights may mark; gazetteer = needs the demo gazetteer.
KNOWN = [
    ("single_word", "librivox", "GUM_interview_mcguire", {"marks": {"librivox"}}),
    ("single_word_2", "iodine", "GUM_news_iodine", {"marks": {"iodine"}}),
    ("single_word_wikipedia_item", "Zochrot", "2025-01-05-012", {}),
    ("multi_word", "lantern festival taipei", "GUM_news_lanterns", {"marks": {"lantern", "festival", "taipei"}}),
    ("multi_word_ranked", "wheelchair basketball", "GUM_interview_mckenzie", {}),
    ("multi_word_narrows", "hackers scientology", "GUM_news_hackers", {}),
    ("ranked_headline_first", "Hajj", "GUM_news_stampede", {}),
    ("ranked_among_seven", "World Cup", "GUM_news_soccer", {}),
    ("ranked_among_three", "paralympics", "GUM_interview_licen", {}),
    ("multi_word_wikipedia_item", "Chinnaswamy stadium", "2025-06-04-004", {}),
    ("phrase", '"Santorum cocktail"', "GUM_interview_cocktail", {}),
    ("phrase_not_adjacent_elsewhere", '"space capsule"', "GUM_interview_stardust", {"absent": ["2025-12-09-026"]}),
    ("phrase_not_adjacent_elsewhere_2", '"Korean Central"', "GUM_news_korea", {"absent": ["2025-08-06-012"]}),
    ("phrase_not_adjacent_elsewhere_3", '"partly based"', "GUM_news_flag", {}),
    ("phrase_in_body", '"wave of people"', "GUM_news_stampede", {"marks": {"wave", "of", "people"}}),
    ("exclusion", "stampede -hajj", "2025-06-04-004", {"absent": ["GUM_news_stampede"]}),
    ("exclusion_2", "scientology -hackers", "GUM_news_defector", {"absent": ["GUM_news_hackers"]}),
    ("or_two_spellings", "cyclone Phalin OR Phailin", "GUM_interview_cyclone", {}),
    ("or_with_unknown_word", "xylophonequux OR Zochrot", "2025-01-05-012", {}),
    ("accent_insensitive_query_plain", "piendamo", "2025-03-26-004", {"marks": {"piendamo"}}),
    ("accent_insensitive_query_plain_2", "heliovaara", "2025-01-25-014", {"marks": {"heliovaara"}}),
    ("accent_insensitive_query_accented", "Tàipéi lantérn", "GUM_news_lanterns", {"marks": {"taipei", "lantern"}}),
    ("stemming_plural", "stampedes", "GUM_news_stampede", {"marks": {"stampede", "stampedes"}}),
    ("stemming_plural_2", "deficiencies", "GUM_news_iodine", {"literal_absent": "deficiencies",
                                                              "marks": {"deficiency", "deficient"}}),
    ("stemming_ing", "interviewing meteorologists", "GUM_interview_cyclone", {"literal_absent": "interviewing"}),
    ("case_upper", "LIBRIVOX", "GUM_interview_mcguire", {}),
    ("case_mixed", "iOdInE DeFiCiEnCy", "GUM_news_iodine", {}),
    ("body_only", "goiter", "GUM_news_iodine", {"not_in": ("headline", "standfirst"), "marks": {"goiter"},
                                                "snippet_mark": True}),
    ("body_only_2", "Dostoyevsky", "GUM_interview_mcguire", {"not_in": ("headline", "standfirst"), "snippet_mark": True}),
    ("entity_name_only", "Jamaraat", "GUM_news_stampede", {"not_in": ("headline", "standfirst", "body")}),
    ("entity_name_via_alias_in_text", "Czechia", "2025-11-05-009", {"not_in": ("headline", "standfirst", "body"),
                                                                   "gazetteer": True}),
    ("entity_alias_only", "Plurinational", "2025-11-06-011", {"not_in": ("headline", "standfirst", "body"),
                                                            "gazetteer": True}),
    ("author_name_only", "Featherstonehaugh", "search-html-1", {"not_in": ("headline", "standfirst", "body")}),
    ("punctuation_is_plain", "Stardust@home", "GUM_interview_stardust", {}),
    ("hyphenated_word", "all-girl robotics", "GUM_news_afghan", {}),
]


def source_text(ctx):
    return "\n".join(f"{s.headline}\n{s.standfirst}\n{s.body}" for s in ctx.src)


def make_known_item_test(name, q, ext, extra):
    def fn(t, ctx):
        if extra.get("gazetteer") and not ctx.has_gazetteer:
            raise TestFailure("needs server/demo/gazetteer.ndjson, which this checkout lacks")
        s = ctx.art(ext)
        # the case still means what it says in the sources
        for field in extra.get("not_in", ()):
            text = set(words(getattr(s, field)))
            for w in words(q):
                t.require(w not in text, f"source drift: {w!r} is in the {field} of {ext}, the case needs a new pick")
        lit = extra.get("literal_absent")
        if lit:
            t.require(lit not in set(words(source_text(ctx))), f"source drift: {lit!r} now occurs literally")
        env = page(t, ctx, {"q": q}, limit=10)
        data = env["data"]
        t.eq(env["meta"].get("sort"), "relevance", f"q={q!r}: meta.sort")
        t.require(data, f"q={q!r}: no results, expected {ext} (id {s.id}) first")
        got = [(a.get("id"), a.get("score"), short(a.get("headline"), 60)) for a in data[:3]]
        t.check(data[0].get("id") == s.id, f"q={q!r}: expected {ext} (id {s.id}) first, got {short(got, 400)}")
        for other in extra.get("absent", ()):
            o = ctx.art(other)
            every = search_ids(t, ctx, q)
            t.check(o.id not in every, f"q={q!r}: {other} (id {o.id}) must not match")
        hit = next((a for a in data if a.get("id") == s.id), None)
        if hit is not None:
            parsed = check_hit(t, ctx, hit, f"q={q!r} {ext}", s)
            if parsed and "marks" in extra:
                mw = marked_words(parsed)
                t.check(mw, f"q={q!r}: nothing marked in the headline or snippet of {ext}: {short(hit.get('highlight'))}")
                t.check(mw <= extra["marks"], f"q={q!r}: marked words {sorted(mw)} beyond {sorted(extra['marks'])}")
            if parsed and extra.get("snippet_mark"):
                t.check(parsed[1] is not None and parsed[1][1],
                        f"q={q!r}: the body match is not marked in the snippet: {short(hit['highlight'].get('snippet'))}")
    fn.__name__ = f"test_known_item_{name}"
    return fn


for _case in KNOWN:
    _fn = make_known_item_test(*_case)
    TESTS.append((_fn.__name__, _fn, "http"))


@test()
def test_known_item_cases_are_many(t, ctx):
    t.check(len(KNOWN) >= 20, f"only {len(KNOWN)} known-item cases")


@test()
def test_phrase_needs_adjacent_words(t, ctx):
    """Without the quotes, another article that has both words apart ranks first;
    with them, it does not match at all."""
    for phrase, want, other in (('"space capsule"', "GUM_interview_stardust", "2025-12-09-026"),
                                ('"Korean Central"', "GUM_news_korea", "2025-08-06-012"),
                                ('"partly based"', "GUM_news_flag", "2025-06-11-006")):
        w, o = ctx.art(want), ctx.art(other)
        plain = phrase.strip('"')
        ids_plain = search_ids(t, ctx, plain)
        ids_phrase = search_ids(t, ctx, phrase)
        t.check(ids_plain[:1] == [o.id], f"q={plain!r}: expected {other} (id {o.id}) first, got {ids_plain[:3]}")
        t.check(w.id in ids_plain, f"q={plain!r}: {want} (id {w.id}) missing")
        t.eq(ids_phrase, [w.id], f"q={phrase!r}: matches")


# ================================================================ query algebra

def id_set(t, ctx, q):
    return set(search_ids(t, ctx, q))


@test()
def test_all_words_must_match(t, ctx):
    for a, b in (("killed", "israel"), ("interview", "wikinews"), ("stampede", "hajj"), ("flood", "pakistan")):
        both = id_set(t, ctx, f"{a} {b}")
        t.eq(both, id_set(t, ctx, a) & id_set(t, ctx, b), f"q='{a} {b}' versus the intersection")


@test()
def test_or_is_a_union(t, ctx):
    for a, b in (("Zochrot", "Chinnaswamy"), ("librivox", "wikihow"), ("flood", "earthquake"),
                 ('"wave of people"', "iodine")):
        t.eq(id_set(t, ctx, f"{a} OR {b}"), id_set(t, ctx, a) | id_set(t, ctx, b), f"q='{a} OR {b}' versus the union")
    t.eq(id_set(t, ctx, "killed flood OR earthquake"),
         id_set(t, ctx, "killed") & (id_set(t, ctx, "flood") | id_set(t, ctx, "earthquake")),
         "q='killed flood OR earthquake' = killed AND (flood OR earthquake)")
    t.eq(id_set(t, ctx, "flood OR earthquake OR storm"),
         id_set(t, ctx, "flood") | id_set(t, ctx, "earthquake") | id_set(t, ctx, "storm"), "three-way OR")


@test()
def test_exclusion_is_a_difference(t, ctx):
    for q, ex in (("killed", ["israel"]), ("killed", ["israel", "gaza"]), ("interview", ["wikinews"]),
                  ("stampede", ['"hajj stampede"']), ("flood OR earthquake", ["pakistan"])):
        want = id_set(t, ctx, q)
        for x in ex:
            want -= id_set(t, ctx, x)
        qq = q + " " + " ".join("-" + x for x in ex)
        t.eq(id_set(t, ctx, qq), want, f"q={qq!r} versus the difference")


@test()
def test_stemming_accents_case_are_equivalent(t, ctx):
    for a, b in (("stampedes", "stampede"), ("interviewing", "interview"), ("Heliövaara", "heliovaara"),
                 ("Bogota", "Bogotá"), ("LIBRIVOX", "librivox"), ("PaKiStAn", "pakistan"), ("Mbappe", "MBAPPÉ")):
        ia, ib = search_ids(t, ctx, a), search_ids(t, ctx, b)
        t.check(ia, f"q={a!r}: no match")
        t.eq(ia, ib, f"q={a!r} versus q={b!r}")


# ================================================================ results, scores, highlights

SCORE_QUERIES = ["killed", "interview", "the", "people OR killed", "Wikipedia contributors",
                 "stampede OR crane OR iodine"]


@test()
def test_results_shape_and_highlights_everywhere(t, ctx):
    """Every result of several broad queries: keys, positive score, the headline highlight
    is the headline (escaped, marks only), snippet pieces are body text the reader may see."""
    for q in ("killed", "the", "interview", "a OR the"):
        items, meta = walk(t, ctx, {"q": q})
        t.eq(meta.get("sort"), "relevance", f"q={q!r}: meta.sort")
        bad = len(t.failures)
        for a in items:
            check_hit(t, ctx, a, f"q={q!r} id {a.get('id')}")
            if len(t.failures) - bad > 8:
                break


@test()
def test_results_sorted_by_score(t, ctx):
    """score desc, ties by id asc, as the scores are published."""
    for q in SCORE_QUERIES:
        items, _ = walk(t, ctx, {"q": q})
        for x, y in zip(items, items[1:]):
            sx, sy = x.get("score"), y.get("score")
            if not (isinstance(sx, (int, float)) and isinstance(sy, (int, float))):
                t.check(False, f"q={q!r}: non-numeric score near id {x.get('id')}")
                break
            t.check(sx > sy or (sx == sy and x["id"] < y["id"]),
                    f"q={q!r}: id {x['id']} (score {sx}) is listed before id {y['id']} (score {sy})")


@test()
def test_score_is_the_same_in_every_sort(t, ctx):
    for q in ("killed", "stampede OR crane"):
        rel = {a["id"]: a.get("score") for a in walk(t, ctx, {"q": q})[0]}
        for sort in ("newest", "oldest"):
            other = {a["id"]: a.get("score") for a in walk(t, ctx, {"q": q, "sort": sort})[0]}
            t.eq(other, rel, f"q={q!r} sort={sort}: scores by id")


@test()
def test_highlight_escapes_html(t, ctx):
    s = ctx.art("search-html-1")

    def norm(x):  # the apostrophe may be escaped in any of these ways, or not at all
        for e in ("&#39;", "&#x27;", "&apos;"):
            x = x.replace(e, "'")
        return x.replace("&#34;", "&quot;").replace("&#x22;", "&quot;")

    env = page(t, ctx, {"q": "quokkas"})
    t.require(env["data"] and env["data"][0].get("id") == s.id, f"q=quokkas: expected id {s.id} first")
    hit = env["data"][0]
    check_hit(t, ctx, hit, "q=quokkas", s)
    t.eq(norm(hit["highlight"]["headline"]),
         "Q&amp;A: Why &lt;Zephyrine&gt; <mark>quokkas</mark> beat &quot;O'Malley's&quot; lemurs &amp; more",
         "q=quokkas: highlight.headline")
    t.eq(norm(hit["highlight"]["snippet"]),
         "<mark>Quokkas</mark> &amp; lemurs &lt;compete&gt; for &quot;snacks&quot; at the zoo, where 5 &gt; 3 and 2 &lt; 4.",
         "q=quokkas: highlight.snippet")
    env = page(t, ctx, {"q": "Zephyrine"})
    t.require(env["data"] and env["data"][0].get("id") == s.id, f"q=Zephyrine: expected id {s.id} first")
    t.eq(norm(env["data"][0]["highlight"]["headline"]),
         "Q&amp;A: Why &lt;<mark>Zephyrine</mark>&gt; quokkas beat &quot;O'Malley's&quot; lemurs &amp; more",
         "q=Zephyrine: highlight.headline")
    for q in ('"O\'Malley\'s"', "lemurs & more", "<Zephyrine>", "\"snacks\" 5 > 3"):
        env = page(t, ctx, {"q": q})
        hit = next((a for a in env["data"] if a.get("id") == s.id), None)
        if t.check(hit is not None, f"q={q!r}: id {s.id} not found"):
            parsed = check_hit(t, ctx, hit, f"q={q!r}", s)
            t.check(parsed and (parsed[0] and parsed[0][1] or parsed[1] and parsed[1][1]),
                    f"q={q!r}: nothing marked: {short(hit.get('highlight'))}")


@test()
def test_highlight_marks_stemmed_and_accented_forms(t, ctx):
    for q, ext, want in (("stampedes", "GUM_news_stampede", "stampede"),
                         ("piendamo", "2025-03-26-004", "Piendamó"),
                         ("PIENDAMÓ", "2025-03-26-004", "Piendamó"),
                         ("interviewed", "GUM_interview_herrick", "interviewed")):
        s = ctx.art(ext)
        env = page(t, ctx, {"q": q}, limit=100)
        hit = next((a for a in env["data"] if a.get("id") == s.id), None)
        if t.check(hit is not None, f"q={q!r}: {ext} not among the first 100"):
            parsed = check_hit(t, ctx, hit, f"q={q!r} {ext}", s)
            if parsed and parsed[0]:
                t.check(want in parsed[0][1], f"q={q!r}: headline marks {parsed[0][1]}, expected {want!r} marked")


@test()
def test_highlight_phrase_and_or(t, ctx):
    s = ctx.art("GUM_news_stampede")
    env = page(t, ctx, {"q": '"wave of people"'})
    hit = env["data"][0] if env["data"] else {}
    parsed = check_hit(t, ctx, hit, "q='\"wave of people\"'", s) if hit.get("id") == s.id else None
    if t.check(parsed and parsed[1], f"q='\"wave of people\"': {s.ext} not first"):
        t.eq(" ".join(" ".join(parsed[1][1]).split()), "wave of people", "phrase marks in the snippet")
    l1, l2 = ctx.art("GUM_interview_mcguire"), ctx.art("GUM_interview_herrick")
    env = page(t, ctx, {"q": "librivox OR wikihow"})
    got = {a.get("id"): a for a in env["data"]}
    t.eq(set(got), {l1.id, l2.id}, "q='librivox OR wikihow': results")
    for s, w in ((l1, "librivox"), (l2, "wikihow")):
        if s.id in got:
            parsed = check_hit(t, ctx, got[s.id], f"q='librivox OR wikihow' {s.ext}", s)
            t.check(parsed and parsed[0] and w in marked_words([parsed[0]]),
                    f"q='librivox OR wikihow': {w} not marked in the headline of {s.ext}")


@test()
def test_snippet_from_body_when_body_matches(t, ctx):
    for q, ext in (("goiter", "GUM_news_iodine"), ("qzf5b4", "search-free-5"), ("angostura", "GUM_interview_cocktail")):
        s = ctx.art(ext)
        env = page(t, ctx, {"q": q})
        t.require(env["data"] and env["data"][0].get("id") == s.id, f"q={q!r}: expected {ext} first")
        parsed = check_hit(t, ctx, env["data"][0], f"q={q!r}", s)
        t.check(parsed and parsed[1] and fold(q) in marked_words([parsed[1]]),
                f"q={q!r}: snippet lacks <mark>{q}</mark>: {short(env['data'][0]['highlight'].get('snippet'))}")


# ================================================================ paywall

def check_locked_hit(t, ctx, q, ext, secrets, label):
    """q (words after the preview) does not find the locked premium article ext, and nothing of
    its locked blocks is in the answer."""
    s = ctx.art(ext)
    t.require(s.access == "premium", f"source drift: {ext} is not premium")
    visible = set(words(s.headline)) | set(words(s.standfirst)) | set(words(s.lead))
    for w in secrets:
        t.require(fold(w) not in visible and fold(w) in set(words(s.rest)),
                  f"source drift: {w!r} is not only after the preview of {ext}")
    for sort in ("relevance", "newest"):
        env = page(t, ctx, {"q": q, "sort": sort}, limit=100)
        hit = next((a for a in env["data"] if a.get("id") == s.id), None)
        # words only a paying reader may read must not find the article for anyone else:
        # otherwise searches could probe the hidden text phrase by phrase
        t.check(hit is None, f"{label} q={q!r} sort={sort}: {ext} found by its hidden words")
        blob = fold(json.dumps(env["data"], ensure_ascii=False))
        for w in secrets:
            t.check(fold(w) not in blob, f"{label} q={q!r} sort={sort}: the locked word {w!r} is in the results")
    full = expect_ok(t, ctx.client.get(f"/v1/articles/{s.id}"))
    t.eq(len(full.get("blocks") or []), s.preview, f"{label}: blocks of the locked article")


@test()
def test_paywall_demo_premium_snippets(t, ctx):
    check_locked_hit(t, ctx, "sorghum", "GUM_news_warming", ["sorghum"], "8 blocks")
    check_locked_hit(t, ctx, "Islamophobia", "GUM_news_clock", ["islamophobia"], "15 blocks")
    check_locked_hit(t, ctx, "secunia", "GUM_news_ie9", ["secunia"], "6 blocks")
    check_locked_hit(t, ctx, "picnicking", "2025-06-27-003", ["picnicking"], "1 block")
    check_locked_hit(t, ctx, "slanderous", "2025-09-08-013", ["slanderous"], "1 block")


@test()
def test_paywall_preview_never_more_than_half(t, ctx):
    """Premium fixtures of 1..5 blocks: block k names qzp{n}b{k}. A token in a preview block
    finds the article and is marked in the snippet; a token after the preview finds nothing
    for an anonymous client, and no locked token appears anywhere in any answer."""
    for n in range(1, 6):
        ext = f"search-prem-{n}"
        s = ctx.art(ext)
        t.eq(s.preview, min(2, n // 2), f"{ext}: preview size in the model")
        locked = [f"qzp{n}b{k}" for k in range(s.preview, n)]
        for k in range(n):
            tok = f"qzp{n}b{k}"
            env = page(t, ctx, {"q": tok})
            if k >= s.preview:
                t.check(env["data"] == [] and env["meta"]["total"] == 0,
                        f"q={tok}: a word after the preview found {ext} for an anonymous client")
                continue
            if not t.check([a.get("id") for a in env["data"]] == [s.id], f"q={tok}: expected exactly {ext} (id {s.id})"):
                continue
            parsed = check_hit(t, ctx, env["data"][0], f"q={tok}", s)
            snip = env["data"][0]["highlight"].get("snippet", "")
            if k < s.preview:
                t.check(parsed and parsed[1] and tok in marked_words([parsed[1]]), f"q={tok}: preview token not marked: {short(snip)}")
            blob = fold(json.dumps(env["data"], ensure_ascii=False))
            for x in locked:
                t.check(x not in blob, f"q={tok}: locked token {x} of {ext} is in the results: {short(snip)}")
    s = ctx.art("search-prem-typed")
    t.eq(s.preview, 2, "search-prem-typed: preview size in the model")
    for tok, visible in (("qztb0", True), ("qztb2", False), ("qztb3", False), ("qztb4", False)):
        env = page(t, ctx, {"q": tok})
        if not visible:
            t.check(env["data"] == [], f"q={tok}: a hidden word found search-prem-typed")
            continue
        if not t.check([a.get("id") for a in env["data"]] == [s.id], f"q={tok}: expected exactly search-prem-typed"):
            continue
        check_hit(t, ctx, env["data"][0], f"q={tok}", s)
        blob = fold(json.dumps(env["data"], ensure_ascii=False))
        for x in ("qztb2", "qztb3", "qztb4"):
            t.check(x not in blob, f"q={tok}: locked token {x} is in the results")
        if visible:
            t.check("<mark>qztb0</mark>" in env["data"][0]["highlight"].get("snippet", ""), f"q={tok}: preview heading not marked")


@test()
def test_paywall_across_filters_and_pages(t, ctx):
    """Every premium result of broad queries, walked in small pages and with access=premium."""
    for q in ("killed", "the", "fixture"):
        items, _ = walk(t, ctx, {"q": q, "access": "premium"}, limit=7)
        t.check(all(a.get("access") == "premium" for a in items), f"q={q!r} access=premium: a free article listed")
        bad = len(t.failures)
        for a in items:
            check_hit(t, ctx, a, f"q={q!r} access=premium id {a.get('id')}")
            if len(t.failures) - bad > 8:
                break


# ================================================================ filters, sorts, facets

FILTER_QUERIES = ["killed", "people OR police"]
FILTERS = [
    {"publication": "english-wikinews"},
    {"publication": "wikipedia-current-events"},
    {"section": "Law and crime"},
    {"section": "news"},
    {"from": "2025-06-01", "to": "2025-08-31"},
    {"from": "2025-03-01T00:00:00Z"},
    {"to": "2016-12-31"},
    {"access": "premium"},
    {"access": "free"},
    {"topic": "conflict"},
    {"topic": "disasters"},
    {"entity": "pakistan"},
    {"author": "wikipedia-contributors"},
    {"publication": "wikipedia-current-events", "access": "free", "from": "2025-03-01", "topic": "disasters"},
]


@test()
def test_filters_combine_with_q(t, ctx):
    """q + filter = the q results (in relevance order) that the filter alone lists."""
    for q in FILTER_QUERIES:
        base = walk(t, ctx, {"q": q})[0]
        for f in FILTERS:
            if "entity" in f and not ctx.has_gazetteer:
                continue
            allowed = {a["id"] for a in walk(t, ctx, f)[0]}
            want = [a["id"] for a in base if a["id"] in allowed]
            items, meta = walk(t, ctx, dict(f, q=q))
            t.eq([a["id"] for a in items], want, f"q={q!r} {f}: ids in relevance order")
            t.eq(meta.get("sort"), "relevance", f"q={q!r} {f}: meta.sort")
            t.check(len(want) > 0 or f.get("to") == "2016-12-31", f"q={q!r} {f}: the case is empty, pick another")


@test()
def test_sort_newest_oldest_with_q(t, ctx):
    for q in ("killed", "interview", "stampede OR crane OR iodine"):
        rel = walk(t, ctx, {"q": q})[0]
        for sort in ("newest", "oldest"):
            items, meta = walk(t, ctx, {"q": q, "sort": sort}, limit=3)
            t.eq(meta.get("sort"), sort, f"q={q!r} sort={sort}: meta.sort")
            t.eq(sorted(a["id"] for a in items), sorted(a["id"] for a in rel), f"q={q!r} sort={sort}: same matches")
            key = [(parse_time(a["published_at"]), a["id"]) for a in items]
            want = sorted(key, reverse=(sort == "newest"))
            t.check(key == want, f"q={q!r} sort={sort}: not ordered by published_at then id: "
                                 f"{short([(str(k[0])[:10], k[1]) for k in key][:12])}")
            for a in items[:5]:
                check_hit(t, ctx, a, f"q={q!r} sort={sort} id {a.get('id')}")
    env = page(t, ctx, {"q": "killed", "sort": "relevance"})
    t.eq(env["meta"].get("sort"), "relevance", "explicit sort=relevance: meta.sort")


def expected_facets(items, name):
    counts = {}
    for a in items:
        if name == "publication":
            keys = [(a["publication"]["slug"], a["publication"]["name"])]
        elif name == "section":
            keys = [(slugify(a["section"]), a["section"])] if a.get("section") else []
        else:
            keys = [(tp["slug"], tp["name"]) for tp in a.get("topics") or []]
        for k in set(keys):
            counts[k] = counts.get(k, 0) + 1
    rows = [{"slug": s, "name": n, "count": c} for (s, n), c in counts.items()]
    return sorted(rows, key=lambda r: (-r["count"], r["slug"]))[:10]


@test()
def test_facets_respect_q(t, ctx):
    for params in ({"q": "killed"}, {"q": "interview"}, {"q": "flood OR earthquake -pakistan"},
                   {"q": "killed", "publication": "wikipedia-current-events", "from": "2025-06-01"}):
        items, meta = walk(t, ctx, params)
        env = page(t, ctx, dict(params, facets="publication,section,topic"), limit=1)
        facets = env["meta"].get("facets") or {}
        t.eq(env["meta"].get("total"), len(items), f"{params}: meta.total with facets")
        for name in ("publication", "section", "topic"):
            t.eq(facets.get(name), expected_facets(items, name), f"{params}: facet {name}")
        pubs = facets.get("publication") or []
        t.eq(sum(r.get("count", 0) for r in pubs), meta.get("total"), f"{params}: publication facet counts sum")
        if env["meta"].get("next_cursor"):
            nxt = check_envelope(t, ctx.client.get(env["links"]["next"]), 1)
            t.eq(nxt["meta"].get("facets"), facets, f"{params}: facets on the second page")


@test()
def test_entity_facet_respects_q(t, ctx):
    """The entity facet of q counts, over the q results, the entities each full article lists."""
    for params in ({"q": "interview"}, {"q": "flood OR earthquake -pakistan"}, {"q": "stampede OR crane OR iodine"}):
        items, _ = walk(t, ctx, params)
        counts = {}
        for a in items:
            full = expect_ok(t, ctx.client.get(f"/v1/articles/{a['id']}"))
            for e in {(e.get("slug"), e.get("name")) for e in full.get("entities") or []}:
                counts[e] = counts.get(e, 0) + 1
        want = sorted(({"slug": s, "name": n, "count": c} for (s, n), c in counts.items()),
                      key=lambda r: (-r["count"], r["slug"]))[:10]
        env = page(t, ctx, dict(params, facets="entity"), limit=1)
        t.eq((env["meta"].get("facets") or {}).get("entity"), want, f"{params}: facet entity")
        for row in want[:3]:
            n = page(t, ctx, dict(params, entity=row["slug"]), limit=1)["meta"].get("total")
            t.eq(n, row["count"], f"{params} entity={row['slug']}: meta.total versus the facet count")


@test()
def test_cursor_walk_under_relevance(t, ctx):
    """limit 1, 3, 7: every match exactly once, in the order of one big page, count = meta.total."""
    for q in ("killed", "the", "stampede OR crane OR iodine", "Wikipedia contributors"):
        ref = [a["id"] for a in walk(t, ctx, {"q": q}, limit=100)[0]]
        for limit in (1, 3, 7):
            if limit == 1 and len(ref) > 150:
                continue
            items, meta = walk(t, ctx, {"q": q}, limit=limit)
            t.eq([a["id"] for a in items], ref, f"q={q!r} limit={limit}: walk order")
    ref = [a["id"] for a in walk(t, ctx, {"q": "killed", "access": "free"}, limit=100)[0]]
    t.eq([a["id"] for a in walk(t, ctx, {"q": "killed", "access": "free"}, limit=3)[0]], ref,
         "q=killed access=free limit=3: walk order")


@test()
def test_cursor_bound_to_its_query(t, ctx):
    env = page(t, ctx, {"q": "killed"}, limit=2)
    cur = env["meta"].get("next_cursor")
    t.require(cur, "q=killed limit=2: no next cursor")
    r = ctx.client.get("/v1/articles", {"q": "people", "limit": "2", "cursor": cur})
    expect_problem(t, r, 400, "cursor")
    r = ctx.client.get("/v1/articles", {"q": "killed", "sort": "newest", "limit": "2", "cursor": cur})
    expect_problem(t, r, 400, "cursor")
    r = ctx.client.get("/v1/articles", {"limit": "2", "cursor": cur})
    expect_problem(t, r, 400, "cursor")
    r = ctx.client.get("/v1/articles", {"q": "killed", "access": "free", "limit": "2", "cursor": cur})
    expect_problem(t, r, 400, "cursor")
    plain = page(t, ctx, {}, limit=2)["meta"].get("next_cursor")
    r = ctx.client.get("/v1/articles", {"q": "killed", "limit": "2", "cursor": plain})
    expect_problem(t, r, 400, "cursor")
    garbled = cur[:-3] + ("AAA" if not cur.endswith("AAA") else "BBB")
    r = ctx.client.get("/v1/articles", {"q": "killed", "limit": "2", "cursor": garbled})
    expect_problem(t, r, 400, "cursor")
    same = ctx.client.get("/v1/articles", {"q": "killed", "sort": "relevance", "limit": "2", "cursor": cur})
    t.eq(same.status, 200, "a cursor of q=killed with sort=relevance spelled out (the same query)")
    env2 = check_envelope(t, ctx.client.get("/v1/articles", {"q": "killed", "limit": "2", "cursor": cur}), 2)
    t.check(env2["data"] and env2["data"][0]["id"] not in [a["id"] for a in env["data"]], "the cursor's own query goes on")


@test()
def test_sort_parameter_rules(t, ctx):
    # popular (all-time reads desc, ties by id asc) works with and without q; nothing is read
    # in this suite, so it is the id order, and with q exactly the matches of q
    popular = page(t, ctx, {"sort": "popular"}, limit=100)
    t.eq(popular["meta"].get("sort"), "popular", "meta.sort=popular")
    ids = [a["id"] for a in popular["data"]]
    t.eq(ids, sorted(ids), "sort=popular with no reads is id order")
    popular_q = page(t, ctx, {"q": "killed", "sort": "popular"}, limit=100)
    relevance_q = page(t, ctx, {"q": "killed"}, limit=100)
    t.eq(sorted(a["id"] for a in popular_q["data"]), sorted(a["id"] for a in relevance_q["data"]),
         "q=killed&sort=popular finds the same articles as by relevance")
    t.check(all("score" in a for a in popular_q["data"]), "hits of q carry score under sort=popular")
    expect_problem(t, ctx.client.get("/v1/articles", {"sort": "relevance"}), 400, "sort")
    expect_problem(t, ctx.client.get("/v1/articles", {"q": "killed", "sort": "score"}), 400, "sort")
    expect_problem(t, ctx.client.get("/v1/articles", {"q": ""}), 400, "q")
    expect_problem(t, ctx.client.get("/v1/articles?q=killed&q=people"), 400, "q")
    env = page(t, ctx, {})
    t.eq(env["meta"].get("sort"), "newest", "meta.sort without q")
    t.check(all("score" not in a and "highlight" not in a for a in env["data"]), "score or highlight without q")


# ================================================================ limits and hostile input

def expect_200_or_q_400(t, ctx, q, label=None):
    label = label or f"q={short(q, 60)!r}"
    try:
        r = ctx.client.get("/v1/articles", {"q": q})
    except (http.client.HTTPException, OSError) as e:
        t.check(False, f"{label}: connection failed: {e!r}")
        return None
    if r.status == 200:
        env = check_envelope(t, r, 20)
        for a in env["data"][:5]:
            check_hit(t, ctx, a, f"{label} id {a.get('id')}")
        return env
    t.check(r.status < 500, f"{label}: {r.status} {short(r.body)}")
    expect_problem(t, r, 400, "q")
    return None


@test(proxy=NO_PROXY_BIG_HEAD)
def test_q_length_limit(t, ctx):
    t.check(expect_200_or_q_400(t, ctx, "a" * 500, "500 ASCII characters") is not None, "500 characters must be accepted")
    t.check(expect_200_or_q_400(t, ctx, "é" * 500, "500 two-byte characters") is not None,
            "500 characters (1000 bytes) must be accepted")
    t.check(expect_200_or_q_400(t, ctx, "stampede " + "x" * 491, "500 characters, two words") is not None,
            "500 characters must be accepted")
    for q, what in (("a" * 501, "501 characters"), ("é" * 501, "501 two-byte characters"),
                    (("lorem ipsum dolor " * 700)[:10240], "10 KB of words"),
                    ('"' * 10240, "10 KB of quotes"), ("x" * 10240, "10 KB word")):
        r = ctx.client.get("/v1/articles", {"q": q})
        expect_problem(t, r, 400, "q")


@test()
def test_q_term_limit(t, ctx):
    w32 = " ".join(f"w{i}" for i in range(32))
    t.check(expect_200_or_q_400(t, ctx, w32, "32 words") is not None, "32 terms must be accepted")
    t.check(expect_200_or_q_400(t, ctx, " OR ".join(f"w{i}" for i in range(32)), "32 ORed words") is not None,
            "32 ORed terms must be accepted")
    env = expect_200_or_q_400(t, ctx, "stampede " + " ".join(f"-w{i}" for i in range(31)), "1 word, 31 exclusions")
    if t.check(env is not None, "1 word and 31 exclusions must be accepted"):
        t.eq(sorted(a["id"] for a in env["data"]), sorted(id_set(t, ctx, "stampede")), "stampede minus 31 unknown words")
    for q in (w32 + " w32", "stampede " + " ".join(f"-w{i}" for i in range(32)),
              " ".join(f'"p{i} q{i}"' for i in range(33))):
        expect_problem(t, ctx.client.get("/v1/articles", {"q": q}), 400, "q")


@test()
def test_q_nothing_to_search_for(t, ctx):
    for q in (" ", "-", "--", "- -", "-stampede", "-stampede -hajj", '-"hajj stampede"', '"', '""', '" "',
              "...", "*", ":", "^", "()", "!?", "😀", "😀😀 🎉", "\\", "_", "´"):
        expect_problem(t, ctx.client.get("/v1/articles", {"q": q}), 400, "q")


HOSTILE = [
    '"unbalanced', 'unbalanced"', '"stampede', 'stampede"', 'a"b"c', '""stampede""', '"stampede""hajj"',
    "NEAR(", "NEAR(stampede hajj)", "NEAR(stampede hajj, 2)", "stampede NEAR hajj", "a NEAR/3 b",
    "*", "stamp*", "*stampede", "stampede*", ":", "headline:x", "headline:stampede", "rest:goiter",
    "{headline}: x", "{headline standfirst}: stampede", "- headline : stampede",
    "^", "^stampede", "stampede^", "OR", "AND", "NOT", "OR OR OR", "AND OR NOT", "stampede OR", "OR stampede",
    "stampede AND hajj", "stampede NOT hajj", "stampede OR -hajj", "-", "- stampede", "stampede -", "--stampede",
    "' OR 1=1 --", "'; DROP TABLE articles; --", "\" OR \"\"=\"", "1) OR (1=1", "stampede') --", "%", "%%",
    "a + b", "+stampede", "stampede + -", "(stampede)", "((stampede) OR (hajj))", ")(", "[stampede]",
    "rank:1", "rowid=1", "article_search", "MATCH", "x'01'", "\\x01", "\\\"", "'", "''", "`", "$", "#", "@",
    "😀", "😀 stampede", "stampede 🔥🔥", "🇺🇦", "Паралімпійскі", "Україна", "Москва OR Київ", "東京", "中国 日本",
    "北京大学", "한국", "日本語のテキスト", "עברית", "العربية", "Ελλάδα", "ǅ", "ﬁre", "İstanbul", "straße",
    "\u200b", "stampede\u200bhajj", "\u00a0stampede\u00a0", "\ufeffstampede", "\u202ehajj", "e\u0301", "\u0301",
    "a" * 120, "x" * 499 + '"', '"' * 499 + "a", "-" * 500, "OR " * 160, "\"a\" " * 120,
]


@test()
def test_hostile_queries_never_500(t, ctx):
    for q in HOSTILE:
        expect_200_or_q_400(t, ctx, q)
    r = ctx.client.get("/healthz")
    t.eq(r.status, 200, "GET /healthz after the hostile queries")


# q -> a plain query it must equal: no syntax gets through to the index
PLAIN_EQUIVALENTS = [
    ("stamp*", "stamp"), ("^stampede", "stampede"), ("NEAR(", "near"), ("(stampede)", "stampede"),
    ("headline:stampede", '"headline stampede"'), ("{headline}: stampede", "headline stampede"),
    ("a + b", "a b"), ("stampede*", "stampede"), ("+stampede", "stampede"), ("😀 stampede", "stampede"),
    ("NEAR(stampede hajj)", '"near stampede" hajj'), ("stampede AND hajj", "stampede and hajj"),
    ("stampede NOT hajj", "stampede not hajj"), ("[stampede]", "stampede"), ('"stampede', "stampede"),
    ("stampede OR", "stampede or"), ("stampede -", "stampede"), ("- stampede", "stampede"),
]


@test()
def test_query_syntax_is_plain_words(t, ctx):
    for q, plain in PLAIN_EQUIVALENTS:
        a = search_ids(t, ctx, q)
        b = search_ids(t, ctx, plain)
        t.eq(a, b, f"q={q!r} versus q={plain!r}")
    t.check(ctx.art("GUM_news_stampede").id in search_ids(t, ctx, "stampede"), "stampede finds the Hajj article")
    t.eq(search_ids(t, ctx, "headline:stampede"), [], "a column filter is not read as one")


@test(proxy=NO_PROXY_RAW)
def test_q_malformed_bytes_400(t, ctx):
    not_q = []
    for raw in ("%00", "a%00b", "%01", "stampede%01", "%1F", "%7F", "stampede%0A", "%FF", "stampede%FF", "%C3",
                "%C3%28", "%ED%A0%80", "%C0%AF", "%F4%90%80%80", "%FE%FF"):
        r = ctx.client.request("GET", "/v1/articles?q=" + raw)
        p = expect_problem(t, r, 400)
        if p is not None:
            fields = [e.get("field") for e in p.get("errors") or [] if isinstance(e, dict)]
            if "q" not in fields:
                not_q.append((raw, fields))
            links = (p.get("links") or {}) if isinstance(p.get("links"), dict) else {}
            t.check(raw not in json.dumps(links), f"q={raw}: bad bytes echoed in links: {short(p)}")
    t.check(not not_q, f"{len(not_q)} malformed q values answered with a problem that does not name the "
                       f"parameter q: {short(not_q, 300)}")
    r = ctx.client.get("/healthz")
    t.eq(r.status, 200, "GET /healthz after malformed queries")


@test(proxy=NO_PROXY_HEAD)
def test_head_and_etag_with_q(t, ctx):
    r = ctx.client.get("/v1/articles", {"q": "stampede"})
    body = expect_ok(t, r)
    etag = r.header("ETag")
    t.check(etag, "no ETag on a search answer")
    h = ctx.client.request("HEAD", url("/v1/articles", {"q": "stampede"}))
    t.eq(h.status, 200, "HEAD with q")
    t.eq(h.body, b"", "HEAD body")
    again = ctx.client.get("/v1/articles", {"q": "stampede"})
    t.eq(again.json, body, "the same search twice")


# ================================================================ live phase

def live_article(ext, headline, body, when):
    return {"publication": "search-fixture-press", "external_id": ext, "url": f"https://search-fixture.example/{ext}",
            "headline": headline, "section": "Features", "authors": ["Search Fixture Desk"],
            "published_at": when, "language": "en", "access": "free", "body_text": body}


@test("live")
def test_relevance_walk_exact_while_articles_arrive(t, ctx):
    q, limit = "killed", 5
    before = [a["id"] for a in walk(t, ctx, {"q": q})[0]]
    t.require(len(before) > 4 * limit, f"q={q!r}: too few matches for this test")
    target = url("/v1/articles", {"q": q, "limit": str(limit)})
    seen = []
    for _ in range(2):
        env = check_envelope(t, ctx.client.get(target), limit)
        seen += [a["id"] for a in env["data"]]
        target = env["links"]["next"]
    t.require(target, "no next page")
    # one new match that ranks above the cursor, one that ranks far below it
    lines = [live_article("search-live-top", "Killed, killed, killed: three killed in live storm",
                          "Killed in the storm.\n\nMore killed.", "2030-01-01T00:00:00Z"),
             live_article("search-live-low", "Live fixture with a long body",
                          "\n\n".join(["Filler words about the weather and the roads."] * 12 + ["One person was killed."]),
                          "2001-01-01T00:00:00Z")]
    path = os.path.join(ctx.tmp, "live.ndjson")
    with open(path, "w", encoding="utf-8") as f:
        for d in lines:
            f.write(json.dumps(d) + "\n")
    rc, out, err = ctx.run_cli("import", path, "--db", ctx.db)
    t.require(rc == 0, f"live import failed: {rc} {short(out)} {short(err)}")
    after = [a["id"] for a in walk(t, ctx, {"q": q})[0]]
    new = set(after) - set(before)
    t.eq(len(new), 2, "new matches after the live import")
    pages = 0
    while target is not None and pages < 200:
        pages += 1
        env = check_envelope(t, ctx.client.get(target), limit)
        seen += [a["id"] for a in env["data"]]
        target = env["links"].get("next")
    t.check(len(seen) == len(set(seen)), f"an item came twice during the walk: {sorted(i for i in seen if seen.count(i) > 1)}")
    t.eq([i for i in seen if i not in new], before, "old matches visited exactly once, in their order")
    t.require(after and after[0] in new, f"the new headline match does not rank first: {after[:3]}")
    t.check(after[0] not in seen, "the new top match appeared although it ranks before the cursor")
    low = [i for i in new if i != after[0]]
    cut = after.index(seen[2 * limit - 1]) if seen[2 * limit - 1] in after else len(after)
    if low and after.index(low[0]) > cut:
        t.check(low[0] in seen, "the new low match, ranked after the cursor, was not visited")


# ================================================================ shutdown

register_shutdown_tests()


# ================================================================ runner


def start_server(ctx):
    ctx.port = free_port()
    ctx.proc = subprocess.Popen([ctx.bin, "serve", "--db", ctx.db, "--bind", HOST, "--port", str(ctx.port),
                                 "--threads", "2"], stdout=subprocess.DEVNULL,
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
                ctx.client = Client(ctx.port, timeout=30)
                return err
        except OSError:
            pass
        time.sleep(0.1)
    return "server did not answer GET /healthz with 200 within 10 s"


def server_answers(ctx):
    try:
        c = http.client.HTTPConnection(HOST, ctx.port, timeout=5)
        c.request("GET", "/healthz")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except (OSError, http.client.HTTPException):
        return False




def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "newsstand"))
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (database, server log)")
    ap.add_argument("--verbose", "-v", action="store_true", help="also print passing tests")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    results = []
    if not (os.path.isfile(args.bin) and os.access(args.bin, os.X_OK)):
        for name, _, _ in TESTS:
            print(f"FAIL {name}: not run: no executable at {args.bin}")
        print(f"0 passed, {len(TESTS)} failed")
        return 1
    ctx = Ctx(args)
    order = ("cli", "http", "live", "shutdown")
    try:
        err = None
        for phase in order:
            if phase == "http":
                err = start_server(ctx)
            for name, fn, ph in TESTS:
                if ph != phase:
                    continue
                if err and phase != "shutdown" and phase != "cli":
                    results.append((name, [f"not run: {err}"]))
                    print(f"FAIL {name}: not run: {err}")
                    continue
                run_one(name, fn, ctx, results, args.verbose)
                if phase in ("http", "live") and not err and results[-1][1] and not server_answers(ctx):
                    try:  # gone or going: let it finish, to say why
                        ctx.proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        pass
                if phase in ("http", "live") and ctx.proc is not None and ctx.proc.poll() is not None and not err:
                    with open(ctx.server_err, encoding="utf-8", errors="replace") as f:
                        tail = f.read()[-600:]
                    err = f"the server exited (status {ctx.proc.returncode}) during or after {name}: {short(tail, 600)}"
                    results.append(("server_stays_up", [err]))
                    print(f"FAIL server_stays_up: {err}", flush=True)
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
    print(summary(len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
