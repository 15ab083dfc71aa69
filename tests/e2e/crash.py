#!/usr/bin/env python3
"""Crash safety: newsstand is killed with SIGKILL at a random moment while
it ingests (POST, PATCH and DELETE of articles, streamed POST /v1/import)
and serves reads, then started again on the same database file, over and
over. After every kill:

  - `newsstand check` passes (SQLite's integrity and foreign-key checks and
    FTS5's check of the search index);
  - every write the server acknowledged (a 2xx the client received) is
    there with the content acknowledged, read from the file with sqlite3 and
    over HTTP from the restarted server;
  - every article is whole or absent: its row, blocks, author, topic and
    entity links and its search entry agree with one version the client
    wrote (the acknowledged one, or the write in flight at the kill), and
    the search index finds it by the word only that version's body has and
    by no other version's word; nothing points at an article that is gone.

While the server runs, readers check that a search hit for a version's word
always comes with that version's headline (no reader sees half a write).

Every random choice comes from --seed (printed first, so a failure can be
rerun); the thread interleaving and so the exact kill point cannot be
replayed. The loop is bounded: --iterations kills.

Usage: python3 tests/e2e/crash.py [--bin ./newsstand] [--iterations 6] [--seed N] [-v]
Prints a line per failure, the figures, and closes with `N passed, N failed`
(a test per kill and restart, and one for the clean stop at the end).
Python 3 standard library only.
"""

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time

import faultlib as fl
from harness import T, TestFailure

WORKERS = 4       # writers, each owning its own articles, so each article's writes are ordered
READERS = 2
KILL_AFTER = (0.15, 1.2)  # seconds of load before SIGKILL, drawn uniformly
MATCHED = "Harbour Council"  # a gazetteer entity every body mentions: linked by the matcher
GAZETTEER = [{"name": MATCHED, "type": "organization", "aliases": []}]


class Version:
    """One content an article was written with (or deleted: doc None)."""

    def __init__(self, doc, word):
        self.doc, self.word = doc, word


class Article:
    def __init__(self, ext):
        self.ext = ext
        self.id = None           # known once a write answered, or found in the file
        self.acked = None        # the last acknowledged Version (None: never created)
        self.inflight = None     # the Version written when the server died, outcome unknown
        self.words = set()       # every word any version of it ever carried
        self.touched = True      # written to since the last check of the file

    def present(self):
        return self.acked is not None and self.acked.doc is not None


class Figures:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {"iterations": 0, "acknowledged writes": 0, "posts": 0, "updates": 0, "patches": 0,
                  "deletes": 0, "import lines": 0, "writes in flight at a kill": 0,
                  "in-flight writes found applied": 0, "503 refusals": 0, "reads": 0,
                  "articles verified in the file": 0, "articles verified over HTTP": 0}

    def add(self, key, n=1):
        with self.lock:
            self.c[key] += n


class Run:
    """One server lifetime: load until the kill, recording what was acknowledged."""

    def __init__(self, ctx, srv, it_rng):
        self.ctx, self.srv, self.rng = ctx, srv, it_rng
        self.stop = threading.Event()
        self.killed_at = None
        self.errors = []
        self.lock = threading.Lock()

    def fail(self, msg):
        with self.lock:
            self.errors.append(msg)

    def dropped(self, r, what):
        """A request that got no answer: fine if the kill came first, else a failure."""
        if self.killed_at is None:
            self.fail(f"{what}: no answer while the server was alive: {r.body[:200]!r}")

    def unexpected(self, r, what):
        if r.status is None:
            self.dropped(r, what)
            return True
        if r.status == 503:
            self.ctx.figures.add("503 refusals")
            return True
        self.fail(f"{what}: unexpected answer {r}")
        return True


def new_version(rng, art):
    art.touched = True
    word = fl.unique_word(rng)
    art.words.add(word)
    doc = fl.article(rng, art.ext, word)
    doc["headline"] = f"Dispatch {art.ext} {word[1:5]}"
    return Version(doc, word)


def worker(run, wid, arts, rng):
    ctx, port, key = run.ctx, run.srv.port, run.ctx.key
    mine = [a for a in arts if a.ext.startswith(f"w{wid}-")]
    while not run.stop.is_set():
        live = [a for a in mine if a.present()]
        op = rng.choices(["post", "update", "patch", "delete", "import"], [30, 20, 15, 10, 25])[0]
        if op in ("update", "patch", "delete") and not live:
            op = "post"
        if op == "post":
            art = Article(f"w{wid}-{ctx.next_ext()}")
            mine.append(art)
            with ctx.lock:
                ctx.articles[art.ext] = art
            v = new_version(rng, art)
            art.inflight = v
            r = fl.call(port, "POST", "/v1/articles", v.doc, key=key)
            if r.status == 201:
                settle(ctx, art, v, r, "posts")
            elif run.unexpected(r, f"POST {art.ext}"):
                if r.status is not None:
                    art.inflight = None
        elif op == "update":
            art = rng.choice(live)
            v = new_version(rng, art)
            art.inflight = v
            r = fl.call(port, "POST", "/v1/articles", v.doc, key=key)
            if r.status == 200:
                settle(ctx, art, v, r, "updates")
            elif run.unexpected(r, f"POST (update) {art.ext}"):
                if r.status is not None:
                    art.inflight = None
        elif op == "patch":
            art = rng.choice(live)
            v = new_version(rng, art)
            patch = {"headline": v.doc["headline"],
                     "blocks": [{"type": "paragraph", "text": p} for p in fl.body_paragraphs(v.doc)]}
            art.inflight = v
            r = fl.call(port, "PATCH", f"/v1/articles/{art.id}", patch, key=key)
            if r.status == 200:
                settle(ctx, art, v, r, "patches")
            elif run.unexpected(r, f"PATCH {art.ext}"):
                if r.status is not None:
                    art.inflight = None
        elif op == "delete":
            art = rng.choice(live)
            v = Version(None, None)
            art.touched = True
            art.inflight = v
            r = fl.call(port, "DELETE", f"/v1/articles/{art.id}", key=key)
            if r.status == 204:
                settle(ctx, art, v, None, "deletes")
            elif run.unexpected(r, f"DELETE {art.ext}"):
                if r.status is not None:
                    art.inflight = None
        else:
            batch = []
            for _ in range(rng.randint(1, 4)):
                if live and rng.random() < 0.4:
                    art = rng.choice(live)
                    live.remove(art)
                else:
                    art = Article(f"w{wid}-{ctx.next_ext()}")
                    mine.append(art)
                    with ctx.lock:
                        ctx.articles[art.ext] = art
                v = new_version(rng, art)
                art.inflight = v
                batch.append((art, v))
            r, answers = fl.stream_import(port, key, [v.doc for _, v in batch],
                                          chunk_pause=rng.choice([0, 0, 0.01, 0.03]))
            if r.status == 200:
                by_line = {a.get("line"): a for a in answers if "line" in a}
                for n, (art, v) in enumerate(batch, 1):
                    a = by_line.get(n, {})
                    if a.get("status") in (200, 201):
                        art.id = a.get("id")
                        settle(ctx, art, v, None, "import lines")
                    else:
                        run.fail(f"import line {n} ({art.ext}) answered {a}")
                        art.inflight = None
            elif run.unexpected(r, f"POST /v1/import ({len(batch)} lines)"):
                if r.status is not None:
                    for art, _ in batch:
                        art.inflight = None
        if r.status is None:
            return  # the server is gone: whatever this worker had in flight stays unknown


def settle(ctx, art, v, r, kind):
    if r is not None:
        j = r.json() or {}
        if j.get("id"):
            art.id = j["id"]
    art.acked = v
    art.inflight = None
    with ctx.lock:
        if v.doc is not None:
            ctx.live_words[v.word] = v.doc["headline"]
    ctx.figures.add("acknowledged writes")
    ctx.figures.add(kind)


def reader(run, rng):
    ctx, port = run.ctx, run.srv.port
    while not run.stop.is_set():
        with ctx.lock:
            words = list(ctx.live_words.items())
        if not words:
            time.sleep(0.01)
            continue
        word, headline = rng.choice(words)
        r = fl.call(port, "GET", f"/v1/articles?q={word}")
        ctx.figures.add("reads")
        if r.status is None:
            run.dropped(r, f"GET ?q={word}")
            return
        if r.status != 200:
            run.fail(f"search for {word}: {r}")
            continue
        for hit in (r.json() or {}).get("data", []):
            # the version with this word has exactly this headline: a hit with another is half a write
            if hit.get("headline") != headline:
                run.fail(f"search for {word} found {hit.get('id')} headed {hit.get('headline')!r}, "
                         f"but the version with that word is headed {headline!r}")
        if rng.random() < 0.3:
            r = fl.call(port, "GET", "/v1/articles?limit=10")
            ctx.figures.add("reads")
            if r.status is None:
                run.dropped(r, "GET /v1/articles")
                return
            if r.status != 200:
                run.fail(f"GET /v1/articles: {r}")


class Ctx:
    def __init__(self, binary, tmp, seed, verbose):
        self.bin, self.tmp, self.seed, self.verbose = binary, tmp, seed, verbose
        self.db = os.path.join(tmp, "crash.db")
        self.articles = {}
        self.live_words = {}
        self.lock = threading.Lock()
        self.counter = 0
        self.figures = Figures()
        self.key = None

    def next_ext(self):
        with self.lock:
            self.counter += 1
            return f"{self.counter:05d}"


def iteration(t, ctx, n):
    rng = random.Random(ctx.seed * 1000 + n)
    srv = fl.Server(ctx.bin, ctx.db, threads=2)
    t.require(srv.wait_ready(), f"the server did not start on the database left by the last kill: "
                                f"{srv.stderr()[-800:]}")
    verify_http(t, ctx, srv, rng)
    run = Run(ctx, srv, rng)
    threads = [threading.Thread(target=worker, args=(run, w, list(ctx.articles.values()),
                                                     random.Random(rng.random())))
               for w in range(WORKERS)]
    threads += [threading.Thread(target=reader, args=(run, random.Random(rng.random())))
                for _ in range(READERS)]
    for th in threads:
        th.start()
    delay = rng.uniform(*KILL_AFTER)
    time.sleep(delay)
    run.killed_at = time.monotonic()
    srv.kill()
    run.stop.set()
    for th in threads:
        th.join(timeout=60)
        t.require(not th.is_alive(), "a client thread did not finish within 60 s of the kill")
    err = srv.stderr()
    rep = fl.sanitizer_report(err)
    t.check(rep is None, f"sanitizer report before the kill: {rep}")
    for e in run.errors[:10]:
        t.check(False, e)
    ctx.figures.add("iterations")
    inflight = [a for a in ctx.articles.values() if a.inflight is not None]
    ctx.figures.add("writes in flight at a kill", len(inflight))
    if ctx.verbose:
        print(f"     kill {n}: after {delay:.2f}s, {len(ctx.articles)} articles known, "
              f"{len(inflight)} writes in flight", flush=True)
    verify_file(t, ctx, rng=rng)


def verify_file(t, ctx, everything=False, rng=None):
    """After a kill: check passes; every article written to since the last check (and a
    sample of the others; all of them when everything) is its acknowledged version, or its
    in-flight one, whole; settles in-flight writes to what the file shows."""
    ok, out = fl.check_database(ctx.bin, ctx.db)
    t.check(ok, f"newsstand check after the kill: {out}")
    con = fl.sqlite_open(ctx.db)
    try:
        for o in fl.orphans(con):
            t.check(False, f"the file has {o}")
        arts = list(ctx.articles.values())
        others = [a for a in arts if not a.touched]
        chosen = arts if everything else [a for a in arts if a.touched] + \
            (rng or random).sample(others, min(100, len(others)))
        for art in chosen:
            settle_from_file(t, ctx, con, art)
            art.touched = False
            ctx.figures.add("articles verified in the file")
    finally:
        con.close()


def matches(con, art, v):
    """Problems of the stored article against version v (a deletion: absent)."""
    if v is None or v.doc is None:
        return [] if fl.stored_article(con, art.ext) is None else ["present, but deleted (or never made)"]
    bad = fl.whole_problems(con, art.ext, v.doc, v.word)
    got = fl.stored_article(con, art.ext)
    if got and MATCHED not in got["entities"]:
        bad.append(f"not linked to {MATCHED}: {got['entities']}")
    return bad


def settle_from_file(t, ctx, con, art):
    allowed = [art.acked] + ([art.inflight] if art.inflight is not None else [])
    results = [(v, matches(con, art, v)) for v in allowed]
    fits = [v for v, bad in results if not bad]
    if not fits:
        what = "acknowledged" if art.inflight is None else "acknowledged or in flight"
        t.check(False, f"article {art.ext} is not its {what} version, whole: "
                       f"{'; '.join(str(bad) for _, bad in results)}")
        return
    now = fits[-1] if art.inflight is not None and art.inflight in fits else fits[0]
    if art.inflight is not None and now is art.inflight:
        ctx.figures.add("in-flight writes found applied")
    art.acked, art.inflight = now, None
    got = fl.stored_article(con, art.ext)
    if got:
        art.id = got["id"]
    live = now.word if now is not None and now.doc is not None else None
    for w in art.words - {live}:
        n = con.execute("SELECT count(*) FROM article_search WHERE article_search MATCH ?", (w,)).fetchone()[0]
        t.check(n == 0, f"article {art.ext}: the search index still finds the word {w} of a "
                        f"version that is not (or no longer) stored")
    with ctx.lock:
        for w in art.words:
            ctx.live_words.pop(w, None)
        if live:
            ctx.live_words[live] = now.doc["headline"]


def verify_http(t, ctx, srv, rng, everything=False):
    """Over HTTP from the restarted server: the newest articles and a sample (or all)."""
    arts = list(ctx.articles.values())
    sample = arts[-40:] + rng.sample(arts, min(20, len(arts)))
    if everything:
        sample = arts
    for art in sample:
        if art.id is None:
            continue
        r = fl.call(srv.port, "GET", f"/v1/articles/{art.id}")
        ctx.figures.add("articles verified over HTTP")
        if not art.present():
            t.check(r.status == 404, f"GET deleted article {art.ext} ({art.id}): {r}")
            continue
        j = r.json() if r.status == 200 else None
        if not t.check(j is not None, f"GET article {art.ext} ({art.id}) after restart: {r}"):
            continue
        doc = art.acked.doc
        t.check(j.get("headline") == doc["headline"], f"{art.ext}: headline {j.get('headline')!r}, "
                                                      f"acknowledged {doc['headline']!r}")
        t.check([b.get("text") for b in j.get("blocks", [])] == fl.body_paragraphs(doc),
                f"{art.ext}: blocks after restart differ from the acknowledged ones")
        names = [e.get("name") for e in j.get("entities", [])]
        t.check(MATCHED in names and doc["entities"][0]["name"] in names,
                f"{art.ext}: entities after restart {names}")
        ids = fl.search_ids(srv.port, art.acked.word)
        t.check(ids == [art.id], f"{art.ext}: search for its word finds {ids}, not [{art.id}]")


def final_stop(t, ctx):
    verify_file(t, ctx, everything=True)
    srv = fl.Server(ctx.bin, ctx.db)
    t.require(srv.wait_ready(), f"the server did not start after the last kill: {srv.stderr()[-800:]}")
    verify_http(t, ctx, srv, random.Random(ctx.seed), everything=True)
    code, err = srv.stop()
    t.eq(code, 0, "exit status after SIGTERM")
    rep = fl.sanitizer_report(err)
    t.check(rep is None, f"sanitizer report: {rep}")
    ok, out = fl.check_database(ctx.bin, ctx.db)
    t.check(ok, f"newsstand check after the clean stop: {out}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="./newsstand")
    ap.add_argument("--iterations", type=int, default=int(os.environ.get("NEWSSTAND_CRASH_ITERATIONS", "6")))
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**9)
    binary = os.path.abspath(args.bin)
    print(f"crash: seed {seed}, {args.iterations} kills (rerun: python3 tests/e2e/crash.py "
          f"--bin {args.bin} --iterations {args.iterations} --seed {seed})", flush=True)
    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="newsstand-crash-")
    started = time.monotonic()
    try:
        ctx = Ctx(binary, tmp, seed, args.verbose)
        gaz = os.path.join(tmp, "gazetteer.ndjson")
        with open(gaz, "w") as f:
            for e in GAZETTEER:
                f.write(json.dumps(e) + "\n")
        ctx.key = fl.make_database(binary, ctx.db)
        r = fl.run_cli(binary, "entities", "import", gaz, "--db", ctx.db)
        if r.returncode != 0:
            raise RuntimeError(f"entities import: {r.stderr}")
        tests = [(f"test_kill_{n + 1}", lambda t, n=n: iteration(t, ctx, n)) for n in range(args.iterations)]
        tests.append(("test_clean_stop_after_the_kills", lambda t: final_stop(t, ctx)))
        for name, fn in tests:
            t = T(name)
            try:
                fn(t)
            except TestFailure as e:
                t.failures.append(str(e))
            except Exception as e:  # a crash in a test is a failure of that test
                t.failures.append(f"exception {type(e).__name__}: {e}")
            for f in t.failures[:12]:
                print(f"FAIL {name}: {f}", flush=True)
            if t.failures:
                failed += 1
            else:
                passed += 1
        c = ctx.figures.c
        print(f"crash: seed {seed}: {c['iterations']} kills in {time.monotonic() - started:.1f}s; "
              f"{c['acknowledged writes']} writes acknowledged ({c['posts']} new, {c['updates']} updates, "
              f"{c['patches']} patches, {c['deletes']} deletes, {c['import lines']} import lines) and all "
              f"found; {c['writes in flight at a kill']} in flight at a kill, "
              f"{c['in-flight writes found applied']} of them found applied (whole); "
              f"{c['503 refusals']} refused with 503; {c['reads']} searches and lists; "
              f"{c['articles verified in the file']} article checks in the file, "
              f"{c['articles verified over HTTP']} over HTTP", flush=True)
    except Exception as e:  # setup failed: nothing was tested
        print(f"FAIL setup: {type(e).__name__}: {e}")
        failed += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
