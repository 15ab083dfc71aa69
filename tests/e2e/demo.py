#!/usr/bin/env python3
"""End-to-end check of the demo corpus that `make run` serves: the gazetteer
and the articles in server/demo import cleanly, and the server links real
articles to the right entities and topics, aliases included.

Usage: python3 tests/e2e/demo.py [--bin ./newsstand]
Closes with `N passed, N failed`. Python 3 standard library only; loopback.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEMO = os.path.join(REPO, "server", "demo")
ARTICLES = os.path.join(DEMO, "articles.ndjson")
GAZETTEER = os.path.join(DEMO, "gazetteer.ndjson")
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


def read_ndjson(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class Ctx:
    def __init__(self, binary, tmp):
        self.bin = binary
        self.db = os.path.join(tmp, "demo.db")
        self.articles = read_ndjson(ARTICLES)
        self.gazetteer = read_ndjson(GAZETTEER)
        self.port = None
        self.proc = None
        self.err = open(os.path.join(tmp, "serve.err"), "w+")
        self.cli_err = ""

    def get(self, path, params=None):
        if params:
            path += "?" + urllib.parse.urlencode(params)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, json.loads(body) if body else None

    def ok(self, path, params=None):
        status, body = self.get(path, params)
        check(status == 200, f"GET {path} {params or ''}: status {status}: {body}")
        return body

    def all_pages(self, path, params):
        params = dict(params, limit=100)
        items = []
        for _ in range(100):
            body = self.ok(path, params)
            items += body["data"]
            if not body["meta"]["next_cursor"]:
                return items, body["meta"]["total"]
            params["cursor"] = body["meta"]["next_cursor"]
        raise Failed(f"{path}: more than 100 pages")

    def article(self, slug_prefix):
        matches = [a for a in self.all_articles if a["slug"].startswith(slug_prefix)]
        check(len(matches) == 1, f"expected one article with slug {slug_prefix}…, got {len(matches)}")
        return self.ok(f"/v1/articles/{matches[0]['id']}")


def cli(ctx, *args):
    r = subprocess.run([ctx.bin, *args, "--db", ctx.db], capture_output=True, text=True, timeout=120)
    ctx.cli_err += r.stderr
    return r


@test
def test_demo_imports_cleanly(ctx):
    r = cli(ctx, "entities", "import", GAZETTEER)
    check(r.returncode == 0, f"entities import: {r.stderr[-500:]}")
    want = f"entities: {len(ctx.gazetteer)} created, 0 updated, 0 unchanged, 0 rejected"
    check(want in r.stdout, f"gazetteer summary: {r.stdout!r}, want {want!r}")
    r = cli(ctx, "import", ARTICLES)
    check(r.returncode == 0, f"import: {r.stderr[-500:]}")
    want = f"imported: {len(ctx.articles)} created, 0 updated, 0 unchanged, 0 rejected"
    check(want in r.stdout, f"articles summary: {r.stdout!r}, want {want!r}")
    r = cli(ctx, "check")
    check(r.returncode == 0, f"check after the demo import: {r.stderr}")


def start_server(ctx):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        ctx.port = s.getsockname()[1]
    ctx.proc = subprocess.Popen([ctx.bin, "serve", "--db", ctx.db, "--bind", "127.0.0.1",
                                 "--port", str(ctx.port), "--threads", "2"],
                                stdout=subprocess.DEVNULL, stderr=ctx.err)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            if ctx.get("/readyz")[0] == 200:
                ctx.all_articles, _ = ctx.all_pages("/v1/articles", {})
                return
        except OSError:
            time.sleep(0.05)
    raise Failed("server did not become ready")


@test
def test_every_article_served(ctx):
    start_server(ctx)
    check(len(ctx.all_articles) == len(ctx.articles),
          f"{len(ctx.all_articles)} articles served, {len(ctx.articles)} in the corpus")
    pubs = ctx.ok("/v1/publications")["data"]
    want = {}
    for a in ctx.articles:
        want[a["publication"]["slug"]] = want.get(a["publication"]["slug"], 0) + 1
    check({p["slug"]: p["article_count"] for p in pubs} == want, f"publications: {pubs}")


@test
def test_hajj_stampede_links_by_salience(ctx):
    art = ctx.article("hundreds-dead-in-hajj-stampede")
    names = [e["name"] for e in art["entities"]]
    check(names[:3] == ["Hajj", "Mecca", "Saudi Arabia"], f"most salient entities: {names[:5]}")
    hajj = art["entities"][0]
    check(hajj["mentions"] >= 5 and hajj["salience"] > art["entities"][1]["salience"],
          f"Hajj mentions/salience: {hajj}")
    check("Hundreds" not in names, "the word Hundreds must not be an entity")


@test
def test_alias_in_text_links_the_country(ctx):
    # The text writes only "U.S."; the gazetteer knows it as an alias of United States.
    art = ctx.article("hundreds-of-white-south-africans-hold-a-protest-outside-the-u-s")
    text = " ".join(b.get("text", "") for b in art["blocks"]) + " " + art["headline"]
    check("U.S." in text and "United States" not in text, "fixture assumption: only U.S. is written")
    us = [e for e in art["entities"] if e["name"] == "United States"]
    check(us and us[0]["mentions"] >= 1, f"United States not linked from 'U.S.': {art['entities']}")


@test
def test_aliases_resolve_everywhere(ctx):
    for alias, name in (("u-s", "United States"), ("U.S.", "United States"), ("britain", "United Kingdom"),
                        ("Turkey", "Türkiye"), ("republic-of-korea", "South Korea")):
        e = ctx.ok("/v1/entities/" + urllib.parse.quote(alias, safe=""))
        check(e["name"] == name, f"/v1/entities/{alias} is {e['name']}, want {name}")
    by_alias, n1 = ctx.all_pages("/v1/articles", {"entity": "britain"})
    by_slug, n2 = ctx.all_pages("/v1/articles", {"entity": "united-kingdom"})
    check(n1 == n2 > 0 and [a["id"] for a in by_alias] == [a["id"] for a in by_slug],
          f"entity=britain gives {n1}, entity=united-kingdom {n2}")
    found = ctx.ok("/v1/entities", {"q": "turk"})["data"]
    check([e["name"] for e in found].count("Türkiye") == 1, f"q=turk: {[e['name'] for e in found]}")


@test
def test_topics_from_the_corpus(ctx):
    counts = {}
    for a in ctx.articles:
        for t in a.get("topics", []):
            counts[t] = counts.get(t, 0) + 1
    for name in ("Conflict", "Culture", "Disasters"):
        t = ctx.ok("/v1/topics/" + urllib.parse.quote(name.lower()))
        check(t["name"] == name and t["article_count"] == counts[name],
              f"topic {name}: {t}, want article_count {counts[name]}")
        items, total = ctx.all_pages(f"/v1/topics/{t['slug']}/articles", {})
        check(total == counts[name] and len(items) == total, f"topic {name} articles: {total}")
    art = ctx.article("wikinews-interviews-president-of-the-international-brotherhood")
    check([t["name"] for t in art["topics"]] == ["Culture"], f"magicians interview topics: {art['topics']}")


@test
def test_entity_counts_match_links(ctx):
    top = ctx.ok("/v1/entities", {"limit": 5})["data"]
    check(top and top[0]["name"] == "United States", f"most-covered entity: {top[:1]}")
    for e in top:
        items, total = ctx.all_pages(f"/v1/entities/{e['id']}/articles", {})
        check(total == e["article_count"] == len(items),
              f"{e['name']}: article_count {e['article_count']}, listed {total}")
        dates = sorted(a["published_at"] for a in items)
        check((e["first_seen"], e["last_seen"]) == (dates[0], dates[-1]),
              f"{e['name']}: first/last seen {e['first_seen']}..{e['last_seen']} vs {dates[0]}..{dates[-1]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="./newsstand")
    args = ap.parse_args()
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="newsstand-demo-") as tmp:
        ctx = Ctx(os.path.abspath(args.bin), tmp)
        try:
            for fn in TESTS:
                try:
                    fn(ctx)
                    passed += 1
                except Failed as e:
                    failed += 1
                    print(f"FAIL {fn.__name__}: {e}")
                except Exception as e:  # a broken test is a failure, never a pass
                    failed += 1
                    print(f"FAIL {fn.__name__}: {type(e).__name__}: {e}")
        finally:
            if ctx.proc:
                ctx.proc.send_signal(signal.SIGTERM)
                try:
                    code = ctx.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    ctx.proc.kill()
                    code = "timeout"
                ctx.err.seek(0)
                err = ctx.err.read() + ctx.cli_err
                if code == 0 and not any(m in err for m in SANITIZER_MARKERS):
                    passed += 1
                else:
                    failed += 1
                    print(f"FAIL test_clean_shutdown: exit {code}; {err[-1500:]}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
