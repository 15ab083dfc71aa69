#!/usr/bin/env python3
"""End-to-end tests of the reader side: accounts and sessions, the paywall in
every place text could leak, follows and the feed, bookmarks, history, reads,
top stories, related articles, and the ownership rule on every /v1/me route.

Readers: A and B (trials), a member, a lapsed trial, a free reader, and an
anonymous client. Usage: python3 tests/e2e/accounts.py [--bin ./newsstand]
Closes with `N passed, N failed`. Standard library only; loopback only.
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
from harness import front_with_proxy, finish_proxy

import harness  # noqa: F401 - importing it sets the environment servers start with

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "accounts_articles.ndjson")
SECRET = "Quillmarrow"  # only after the preview blocks of the premium fixtures
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


class Ctx:
    def __init__(self, binary, tmp):
        self.bin, self.tmp = binary, tmp
        self.db = os.path.join(tmp, "acct.db")
        self.err = open(os.path.join(tmp, "serve.err"), "w+")
        self.tokens = {}
        self.ids = {}

    def call(self, method, path, body=None, token=None, params=None, headers=None):
        if params:
            path += "?" + urllib.parse.urlencode(params)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if token:
            h["Authorization"] = "Bearer " + token
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        return r.status, parsed, hdrs, raw

    def ok(self, method, path, want=200, **kw):
        status, body, hdrs, raw = self.call(method, path, **kw)
        check(status == want, f"{method} {path}: status {status}, want {want}: {raw[:300]!r}")
        return body, hdrs, raw

    def sign_up(self, who, email=None):
        body, _, _ = self.ok("POST", "/v1/users", 201,
                             body={"email": email or f"{who}@example.org", "password": f"{who} password!",
                                   "name": who.title()})
        self.tokens[who] = body["token"]
        self.ids[who] = body["user"]["id"]
        return body

    def set_plan(self, who, plan, expires):
        body = {"plan": plan}
        if expires is not None:
            body["expires_at"] = expires
        self.ok("PUT", f"/v1/users/{self.ids[who]}/membership", 200, body=body, token=self.admin)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@test
def test_sign_up_starts_a_trial(ctx):
    body = ctx.sign_up("ann")
    exp = time.mktime(time.strptime(body["user"]["membership"]["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    now = time.mktime(time.gmtime())
    check(abs(exp - now - 14 * 86400) < 120, f"trial ends {body['user']['membership']}")
    check(body["user"]["membership"]["plan"] == "trial", "plan trial")
    check(body["token"].startswith("nss_") and "password" not in json.dumps(body), "token, no password")
    for who in ("bob", "mem", "lapsed", "free"):
        ctx.sign_up(who)
    ctx.set_plan("mem", "member", iso(time.time() + 86400 * 30))
    ctx.set_plan("lapsed", "trial", iso(time.time() - 3600))
    ctx.set_plan("free", "free", None)


@test
def test_sign_up_rules(ctx):
    status, body, _, _ = ctx.call("POST", "/v1/users", body={"email": "  ANN@Example.ORG ", "password": "whatever1", "name": "X"})
    check(status == 409, f"duplicate email (case, spaces): {status}")
    for bad, field in (({"email": "nope", "password": "longenough", "name": "X"}, "email"),
                       ({"email": "x@y.io", "password": "short", "name": "X"}, "password"),
                       ({"email": "x@y.io", "password": "longenough", "name": "X", "plan": "member"}, "plan")):
        status, body, _, _ = ctx.call("POST", "/v1/users", body=bad)
        check(status == 422 and any(e["field"] == field for e in body.get("errors", [])), f"{field}: {status} {body}")


@test
def test_sign_in_same_answer_and_throttle(ctx):
    ok, _, _ = ctx.ok("POST", "/v1/sessions", 201, body={"email": "bob@example.org", "password": "bob password!"})
    check(ok["user"]["id"] == ctx.ids["bob"] and ok["token"] != ctx.tokens["bob"], "a new session")
    s1, wrong, _, _ = ctx.call("POST", "/v1/sessions", body={"email": "bob@example.org", "password": "not it at all"})
    s2, unknown, _, _ = ctx.call("POST", "/v1/sessions", body={"email": "nobody@example.org", "password": "not it at all"})
    check(s1 == s2 == 401 and wrong["detail"] == unknown["detail"], f"{s1} {s2} {wrong} {unknown}")
    for _ in range(4):
        ctx.call("POST", "/v1/sessions", body={"email": "bob@example.org", "password": "not it at all"})
    status, _, hdrs, _ = ctx.call("POST", "/v1/sessions", body={"email": "bob@example.org", "password": "bob password!"})
    check(status == 429 and int(hdrs.get("retry-after", "0")) > 0, f"throttled: {status} {hdrs.get('retry-after')}")


def premium_ids(ctx):
    items, _, _ = ctx.ok("GET", "/v1/articles", params={"access": "premium", "limit": 100})
    return [a["id"] for a in items["data"]]


def leaks(raw):
    return SECRET.encode() in raw


@test
def test_paywall_article_for_every_kind_of_reader(ctx):
    pid = premium_ids(ctx)[0]
    for who, locked in (("anon", True), ("free", True), ("lapsed", True), ("ann", False), ("mem", False)):
        body, hdrs, raw = ctx.ok("GET", f"/v1/articles/{pid}", token=ctx.tokens.get(who))
        check(body["paywall"]["locked"] == locked, f"{who}: paywall {body['paywall']}")
        check(leaks(raw) == (not locked), f"{who}: secret word {'leaked' if locked else 'missing'}")
        if who != "anon":
            check(hdrs.get("cache-control") == "private, no-store", f"{who}: cache-control {hdrs.get('cache-control')}")
        check("authorization" in hdrs.get("vary", "").lower(), f"{who}: vary {hdrs.get('vary')}")
    _, h1, _ = ctx.ok("GET", f"/v1/articles/{pid}")
    _, h2, _ = ctx.ok("GET", f"/v1/articles/{pid}", token=ctx.tokens["mem"])
    check(h1["etag"] != h2["etag"], "locked and unlocked answers share an ETag")


@test
def test_paywall_in_search_related_feed_shelves(ctx):
    pids = premium_ids(ctx)
    for who in ("anon", "free", "lapsed"):
        tok = ctx.tokens.get(who)
        _, _, raw = ctx.ok("GET", "/v1/articles", params={"q": "harbour council town"}, token=tok)
        check(not leaks(raw), f"{who}: search leaks")
        for pid in pids:
            _, _, raw = ctx.ok("GET", f"/v1/articles/{pid}/related", token=tok)
            check(not leaks(raw), f"{who}: related leaks")
    tok = ctx.tokens["lapsed"]
    ctx.ok("PUT", "/v1/me/follows/publication/acct-gazette", 204, token=tok)
    for pid in pids:
        ctx.ok("PUT", f"/v1/me/bookmarks/{pid}", 204, token=tok)
        ctx.ok("POST", f"/v1/articles/{pid}/reads", 204, token=tok)
    for path in ("/v1/me/feed", "/v1/me/bookmarks", "/v1/me/history"):
        _, _, raw = ctx.ok("GET", path, token=tok, params={"limit": 100})
        check(not leaks(raw), f"lapsed: {path} leaks")


@test
def test_hidden_words_find_premium_only_for_paying_readers(ctx):
    pids = set(premium_ids(ctx))
    for who, finds in (("anon", False), ("free", False), ("lapsed", False), ("mem", True)):
        body, _, raw = ctx.ok("GET", "/v1/articles", params={"q": SECRET, "limit": 100}, token=ctx.tokens.get(who))
        found = {a["id"] for a in body["data"]}
        check((found == pids) if finds else (found == set() and body["meta"]["total"] == 0),
              f"{who}: q={SECRET} found {sorted(found)}, premium ids {sorted(pids)}")
        in_data = SECRET in json.dumps(body["data"])  # links.self echoes q itself
        check(in_data == finds, f"{who}: the hidden word {'missing from' if finds else 'leaked into'} the results")


@test
def test_follows_and_feed(ctx):
    tok = ctx.tokens["ann"]
    body, _, _ = ctx.ok("GET", "/v1/me/feed", token=tok)
    check(body["meta"].get("source") == "top-stories", f"empty follows fall back: {body['meta']}")
    ctx.ok("PUT", "/v1/me/follows/topic/weather", 204, token=tok)
    ctx.ok("PUT", "/v1/me/follows/topic/weather", 204, token=tok)  # idempotent
    ctx.ok("PUT", "/v1/me/follows/entity/velmora", 204, token=tok)
    ctx.ok("PUT", "/v1/me/follows/author/omar-venn", 204, token=tok)
    check(ctx.call("PUT", "/v1/me/follows/planet/mars", token=tok)[0] == 404, "unknown kind")
    check(ctx.call("PUT", "/v1/me/follows/topic/no-such-topic", token=tok)[0] == 404, "unknown target")
    follows, _, _ = ctx.ok("GET", "/v1/me/follows", token=tok)
    check(sorted(f["kind"] for f in follows["data"]) == ["author", "entity", "topic"], f"follows {follows['data']}")
    with open(FIXTURE) as f:
        fixture = [json.loads(l) for l in f if l.strip()]
    want = [a["external_id"] for a in fixture
            if "Weather" in a["topics"] or a["entities"] or a["authors"] == ["Omar Venn"]]
    seen, params = [], {"limit": 3}
    for _ in range(20):
        body, _, _ = ctx.ok("GET", "/v1/me/feed", token=tok, params=params)
        check(body["meta"]["source"] == "follows", "source follows")
        seen += body["data"]
        if not body["meta"]["next_cursor"]:
            break
        params["cursor"] = body["meta"]["next_cursor"]
    check(len(seen) == len(want) == body["meta"]["total"], f"feed has {len(seen)}, want {len(want)}")
    times = [a["published_at"] for a in seen]
    check(times == sorted(times, reverse=True), "feed newest first")
    ctx.ok("DELETE", "/v1/me/follows/author/omar-venn", 204, token=tok)
    body, _, _ = ctx.ok("GET", "/v1/me/feed", token=tok, params={"limit": 100})
    check(all(a["authors"][0]["name"] != "Omar Venn" or a["topics"] and a["topics"][0]["name"] == "Weather"
              or a["entities"] for a in body["data"]), "unfollow takes effect")


@test
def test_bookmarks_history_reads_top_stories(ctx):
    tok = ctx.tokens["bob"]
    items, _, _ = ctx.ok("GET", "/v1/articles", params={"limit": 5})
    ids = [a["id"] for a in items["data"]]
    for i in ids[:3]:
        ctx.ok("PUT", f"/v1/me/bookmarks/{i}", 204, token=tok)
        time.sleep(1.05)
    ctx.ok("PUT", f"/v1/me/bookmarks/{ids[0]}", 204, token=tok)
    ctx.ok("DELETE", f"/v1/me/bookmarks/{ids[1]}", 204, token=tok)
    check(ctx.call("PUT", "/v1/me/bookmarks/999999", token=tok)[0] == 404, "unknown article")
    body, _, _ = ctx.ok("GET", "/v1/me/bookmarks", token=tok)
    check([a["id"] for a in body["data"]] == [ids[2], ids[0]] and "bookmarked_at" in body["data"][0], f"bookmarks {body['data']}")
    for i in (ids[3], ids[4], ids[3]):
        ctx.ok("POST", f"/v1/articles/{i}/reads", 204, token=tok)
    for _ in range(3):
        ctx.ok("POST", f"/v1/articles/{ids[4]}/reads", 204)
    hist, _, _ = ctx.ok("GET", "/v1/me/history", token=tok)
    check([a["id"] for a in hist["data"]][:2] in ([ids[3], ids[4]], [ids[4], ids[3]]) and len(hist["data"]) == 2,
          f"history dedupes: {[a['id'] for a in hist['data']]}")
    for window in ("1h", "24h", "7d"):
        top, _, _ = ctx.ok("GET", "/v1/top-stories", params={"window": window})
        reads = {a["id"]: a["reads"] for a in top["data"]}
        check(reads.get(ids[4]) == 4 and reads.get(ids[3]) == 2, f"{window}: {reads}")
        order = [(-a["reads"], a["id"]) for a in top["data"]]
        check(order == sorted(order), f"{window}: ordered by reads, then id")
    check(ctx.call("GET", "/v1/top-stories", params={"window": "1y"})[0] == 400, "bad window")
    pop, _, _ = ctx.ok("GET", "/v1/articles", params={"sort": "popular", "limit": 3})
    check(pop["data"][0]["id"] in (ids[4],) or pop["data"][0]["id"] in premium_ids(ctx), f"popular first {pop['data'][0]['id']}")


@test
def test_related_never_itself(ctx):
    items, _, _ = ctx.ok("GET", "/v1/articles", params={"limit": 12})
    for a in items["data"]:
        rel, _, _ = ctx.ok("GET", f"/v1/articles/{a['id']}/related")
        check(a["id"] not in [r["id"] for r in rel["data"]] and len(rel["data"]) <= 10, f"related of {a['id']}")
        check(all("relatedness" in r for r in rel["data"]), "relatedness on each")


@test
def test_ownership_every_me_route(ctx):
    a, b = ctx.tokens["ann"], ctx.tokens["bob"]
    me_a, _, _ = ctx.ok("GET", "/v1/me", token=a)
    me_b, _, _ = ctx.ok("GET", "/v1/me", token=b)
    check(me_a["id"] == ctx.ids["ann"] and me_b["id"] == ctx.ids["bob"], "each sees their own account")
    fa, _, _ = ctx.ok("GET", "/v1/me/follows", token=a)
    fb, _, _ = ctx.ok("GET", "/v1/me/follows", token=b)
    check(fa["meta"]["total"] > 0 and fb["meta"]["total"] == 0, "B does not see A's follows")
    ba, _, _ = ctx.ok("GET", "/v1/me/bookmarks", token=a)
    bb, _, _ = ctx.ok("GET", "/v1/me/bookmarks", token=b)
    check(ba["meta"]["total"] == 0 and bb["meta"]["total"] > 0, "A does not see B's bookmarks")
    ha, _, _ = ctx.ok("GET", "/v1/me/history", token=a)
    check(ha["meta"]["total"] == 0, "A does not see B's history")
    # B unfollowing what A follows changes nothing for A
    ctx.ok("DELETE", "/v1/me/follows/topic/weather", 204, token=b)
    fa2, _, _ = ctx.ok("GET", "/v1/me/follows", token=a)
    check(fa2["meta"]["total"] == fa["meta"]["total"], "B's DELETE touched A's follows")
    ctx.ok("PATCH", "/v1/me", 200, body={"name": "Bobby"}, token=b)
    me_a2, _, _ = ctx.ok("GET", "/v1/me", token=a)
    check(me_a2["name"] == "Ann", "B's PATCH changed A")
    for tok, want in ((None, 401), ("nss_" + "A" * 43, 401), (ctx.admin, 401)):
        for method, path in (("GET", "/v1/me"), ("GET", "/v1/me/feed"), ("GET", "/v1/me/follows"),
                             ("GET", "/v1/me/bookmarks"), ("GET", "/v1/me/history"),
                             ("PUT", "/v1/me/bookmarks/1"), ("DELETE", "/v1/sessions/current")):
            status, _, hdrs, _ = ctx.call(method, path, token=tok)
            check(status == want and "bearer" in hdrs.get("www-authenticate", "").lower(),
                  f"{method} {path} with {tok and tok[:8]}: {status}")


@test
def test_membership_route_needs_admin(ctx):
    body = {"plan": "member", "expires_at": iso(time.time() + 86400)}
    path = f"/v1/users/{ctx.ids['bob']}/membership"
    check(ctx.call("PUT", path, body=body)[0] == 401, "no key")
    check(ctx.call("PUT", path, body=body, token=ctx.tokens["bob"])[0] == 401, "a reader token")
    check(ctx.call("PUT", path, body=body, token=ctx.ingest)[0] == 403, "an ingest key")
    check(ctx.call("PUT", "/v1/users/999999/membership", body=body, token=ctx.admin)[0] == 404, "unknown user")
    status, err, _, _ = ctx.call("PUT", path, body={"plan": "gold"}, token=ctx.admin)
    check(status == 422, f"bad plan: {status}")


@test
def test_password_change_and_sign_out_and_delete(ctx):
    old = ctx.tokens["ann"]
    second, _, _ = ctx.ok("POST", "/v1/sessions", 201, body={"email": "ann@example.org", "password": "ann password!"})
    status, body, _, _ = ctx.call("PATCH", "/v1/me", body={"password": "a brand new one"}, token=old)
    check(status == 422 and body["errors"][0]["field"] == "current_password", f"needs current: {status}")
    status, body, _, _ = ctx.call("PATCH", "/v1/me", body={"password": "a brand new one", "current_password": "wrong wrong"}, token=old)
    check(status == 422, f"wrong current password: {status}")
    for sneaky in ({"password": "a brand new one", "current_password": None},
                   {"email": "thief@example.org", "current_password": None},
                   {"email": "thief@example.org", "current_password": 5}):
        status, body, _, _ = ctx.call("PATCH", "/v1/me", body=sneaky, token=old)
        check(status == 422, f"{sneaky}: {status} (a stolen token must not change credentials)")
    me, _, _ = ctx.ok("GET", "/v1/me", token=old)
    check(me["email"] == "ann@example.org", f"email changed without the password: {me['email']}")
    ctx.ok("PATCH", "/v1/me", 200, body={"password": "a brand new one", "current_password": "ann password!"}, token=old)
    check(ctx.call("GET", "/v1/me", token=old)[0] == 200, "the current session stays")
    check(ctx.call("GET", "/v1/me", token=second["token"])[0] == 401, "other sessions end")
    ctx.ok("DELETE", "/v1/sessions/current", 204, token=old)
    check(ctx.call("GET", "/v1/me", token=old)[0] == 401, "signed-out token dead on /v1/me")
    check(ctx.call("GET", "/v1/articles", token=old)[0] == 401, "signed-out token dead on public reads")
    fresh, _, _ = ctx.ok("POST", "/v1/sessions", 201, body={"email": "ann@example.org", "password": "a brand new one"})
    ctx.ok("DELETE", "/v1/me", 204, token=fresh["token"])
    check(ctx.call("GET", "/v1/me", token=fresh["token"])[0] == 401, "deleted account's token")
    check(ctx.call("POST", "/v1/sessions", body={"email": "ann@example.org", "password": "a brand new one"})[0] == 401,
          "deleted account cannot sign in")


@test
def test_rolled_back_entities_are_forgotten(ctx):
    """A write that fails after creating an entity must not leave its name linkable."""
    def post(ext, headline, body, entities=None):
        art = {"publication": "acct-gazette", "external_id": ext, "headline": headline,
               "published_at": "2026-04-01T08:00:00Z", "body_text": body}
        if entities is not None:
            art["entities"] = entities
        return ctx.call("POST", "/v1/articles", body=art, token=ctx.ingest)
    status, _, _, _ = post("rb-1", "Failing write", "Text.", [{"name": "Zorblax Corporation"}, {"name": "!!!"}])
    check(status == 422, f"the write with a nameless entity: {status}")
    status, body, _, _ = post("rb-2", "The Zorblax Corporation grows", "The Zorblax Corporation said so.")
    check(status == 201, f"a later article naming it: {status} {body}")
    check(all(e["name"] != "Zorblax Corporation" for e in body["entities"]), "a rolled-back entity got linked")
    status, body, _, _ = post("rb-3", "Quux Limited opens", "Quux Limited opened.", [{"name": "Quux Limited"}])
    check(status == 201, f"creating Quux: {status}")
    status, body, _, _ = post("rb-4", "Zorblax Corporation again", "Zorblax Corporation, again.")
    check(status == 201 and all(e["name"] != "Quux Limited" for e in body["entities"]),
          f"the old name now points at another entity: {body and body.get('entities')}")


@test
def test_put_picks_answers_every_pick(ctx):
    for i in range(12):
        art = {"publication": "acct-gazette", "external_id": f"pick-{i}", "headline": f"Pick candidate {i}",
               "published_at": "2026-05-01T08:00:00Z", "body_text": "Short."}
        check(ctx.call("POST", "/v1/articles", body=art, token=ctx.ingest)[0] == 201, "creating a pick candidate")
    items, _, _ = ctx.ok("GET", "/v1/articles", params={"limit": 100})
    ids = [a["id"] for a in items["data"]][:25]
    check(len(ids) == 25, f"need 25 articles, have {len(ids)}")
    body, _, _ = ctx.ok("PUT", "/v1/picks", 200, body={"article_ids": ids}, token=ctx.admin)
    check([a["id"] for a in body["data"]] == ids and body["meta"]["next_cursor"] is None,
          f"PUT answered {len(body['data'])} of 25 picks")
    page, _, _ = ctx.ok("GET", "/v1/picks")
    check([a["id"] for a in page["data"]] == ids[:20] and page["meta"]["next_cursor"], "GET pages by 20")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="./newsstand")
    args = ap.parse_args()
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="newsstand-acct-") as tmp:
        ctx = Ctx(os.path.abspath(args.bin), tmp)
        run = lambda *a: subprocess.run([ctx.bin, *a, "--db", ctx.db], capture_output=True, text=True, timeout=60)
        r = run("import", FIXTURE)
        if r.returncode != 0:
            print(f"FAIL setup: import: {r.stderr}")
            print("0 passed, 1 failed")
            return 1
        ctx.admin = run("keys", "create", "--scope", "admin", "--name", "adm").stdout.strip().splitlines()[-1]
        ctx.ingest = run("keys", "create", "--scope", "ingest", "--name", "ing").stdout.strip().splitlines()[-1]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ctx.port = s.getsockname()[1]
        proc = subprocess.Popen([ctx.bin, "serve", "--db", ctx.db, "--bind", "127.0.0.1", "--port", str(ctx.port),
                                 "--threads", "2"], stdout=subprocess.DEVNULL, stderr=ctx.err)
        for _ in range(100):
            try:
                if ctx.call("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        proxy_err = front_with_proxy(ctx)  # proxy mode: ctx.port becomes Prism's
        if proxy_err:
            failed += 1
            print(f"FAIL setup: {proxy_err}")
        try:
            for fn in TESTS if not proxy_err else []:
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
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = "timeout"
            ctx.err.seek(0)
            err = ctx.err.read()
            if code == 0 and not any(m in err for m in SANITIZER_MARKERS):
                passed += 1
            else:
                failed += 1
                print(f"FAIL test_clean_shutdown: exit {code}; {err[-1500:]}")
            for _, failures in finish_proxy():
                passed, failed = (passed, failed + 1) if failures else (passed + 1, failed)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
