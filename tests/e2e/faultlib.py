"""faultlib.py - what the crash and fault suites (crash.py, faults.py) share:
a server they can start under a fault and kill, a one-shot HTTP client that
reports a dropped connection instead of raising, a database with an ingest
key, articles that each carry a word no other article has, and the checks
that an article is stored whole (row, blocks, topic and entity links, search
entry) or not at all, read straight from the SQLite file.

Python 3 standard library only.
"""

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

import harness

HOST = "127.0.0.1"
SANITIZER_MARKERS = harness.SANITIZER_MARKERS
PUBLICATION = {"slug": "fault-times", "name": "Fault Times", "homepage": "https://faults.test.example/",
               "country": "GB", "language": "en"}


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """`newsstand serve` on a free loopback port; preexec runs in the child before exec."""

    def __init__(self, binary, db, threads=2, preexec=None, args=(), access_log=False):
        self.port = free_port()
        self.err = tempfile.TemporaryFile(mode="w+")
        self.out = tempfile.TemporaryFile(mode="w+") if access_log else None
        cmd = [binary, "serve", "--db", db, "--bind", HOST, "--port", str(self.port),
               "--threads", str(threads), *args]
        self.proc = subprocess.Popen(cmd, stdout=self.out or subprocess.DEVNULL, stderr=self.err,
                                     env=harness.server_env(), preexec_fn=preexec)

    def access_log(self):
        """The JSON access log lines so far (access_log=True), as dicts."""
        self.out.seek(0)
        lines = []
        for ln in self.out.read().splitlines():
            try:
                lines.append(json.loads(ln))
            except ValueError:
                pass
        return lines

    @property
    def pid(self):
        return self.proc.pid

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            r = call(self.port, "GET", "/readyz", timeout=1)
            if r.status == 200:
                return True
            time.sleep(0.02)
        return False

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        """SIGKILL: no drain, no clean close; returns once the process is gone."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout=20):
        """SIGTERM; returns (exit code or 'timeout', stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = "timeout"
        return code, self.stderr()

    def stderr(self):
        self.err.seek(0)
        return self.err.read()


def sanitizer_report(text):
    for m in SANITIZER_MARKERS:
        if m in text:
            i = text.index(m)
            return text[i:i + 600]
    return None


class Reply:
    def __init__(self, status, headers, body, seconds):
        self.status, self.headers, self.body, self.seconds = status, headers, body, seconds

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    def __repr__(self):
        return f"<{self.status} in {self.seconds:.2f}s {self.body[:160]!r}>"


def call(port, method, path, body=None, key=None, ctype="application/json", timeout=30):
    """One request on a new connection; status None when the connection failed."""
    headers = {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if body is not None:
        if not isinstance(body, bytes):
            body = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers["Content-Type"] = ctype
    start = time.monotonic()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, data,
                     time.monotonic() - start)
    except (OSError, http.client.HTTPException) as e:
        return Reply(None, {}, repr(e).encode(), time.monotonic() - start)
    finally:
        conn.close()


def stream_import(port, key, lines, chunk_pause=0.0, timeout=30):
    """POST /v1/import with a chunked body, a line per chunk; (Reply, per-line answers)."""
    start = time.monotonic()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.putrequest("POST", "/v1/import")
        conn.putheader("Authorization", f"Bearer {key}")
        conn.putheader("Content-Type", "application/x-ndjson")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for line in lines:
            data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
            conn.send(b"%x\r\n%s\r\n" % (len(data), data))
            if chunk_pause:
                time.sleep(chunk_pause)
        conn.send(b"0\r\n\r\n")
        r = conn.getresponse()
        data = r.read()
        reply = Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, data,
                      time.monotonic() - start)
    except (OSError, http.client.HTTPException) as e:
        return Reply(None, {}, repr(e).encode(), time.monotonic() - start), []
    finally:
        conn.close()
    answers = []
    if reply.status == 200:
        for ln in data.decode("utf-8", "replace").splitlines():
            try:
                answers.append(json.loads(ln))
            except ValueError:
                answers.append({"unparsed": ln})
    return reply, answers


def run_cli(binary, *args, timeout=60):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout,
                          env=harness.server_env())


def make_database(binary, db):
    """Migrates a new database at db and makes an ingest key; returns the key."""
    r = run_cli(binary, "migrate", "--db", db)
    if r.returncode != 0:
        raise RuntimeError(f"migrate: {r.stderr}")
    r = run_cli(binary, "keys", "create", "--scope", "ingest", "--name", "faults", "--db", db)
    if r.returncode != 0:
        raise RuntimeError(f"keys create: {r.stderr}")
    return r.stdout.strip().splitlines()[-1]


def check_database(binary, db):
    """`newsstand check`: (ok, output)."""
    r = run_cli(binary, "check", "--db", db, timeout=120)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


LETTERS = "bcdfghjklmnpqrstvwxz"


def unique_word(rng):
    """A word of consonants no dictionary (or porter stemmer) will ever touch: 'q' and 11 more."""
    return "q" + "".join(rng.choice(LETTERS) for _ in range(11))


def article(rng, ext, word, filler=0):
    """A write-format article named ext whose body (and only its body) holds word."""
    paras = [f"Report {ext} opens with the {word} finding from the coast.",
             f"The second paragraph of {ext} mentions the harbour council by name.",
             "A third paragraph closes the piece with a quote from the harbour."]
    if filler:
        paras.append(" ".join(rng.choice(["tide", "quay", "ferry", "gull", "crane", "dock"])
                              for _ in range(filler)))
    return {
        "publication": PUBLICATION,
        "external_id": ext,
        "url": f"https://faults.test.example/{ext}",
        "headline": f"Dispatch {ext}",
        "standfirst": f"What happened at {ext}.",
        "section": "Coast",
        "authors": ["Ada Fault"],
        "published_at": "2024-05-01T10:00:00Z",
        "language": "en",
        "access": "free",
        "body_text": "\n\n".join(paras),
        "topics": ["harbours"],
        "entities": [{"name": f"Harbourmaster {ext.replace('-', ' ').title()}", "type": "person"}],
    }


def body_paragraphs(doc):
    return doc["body_text"].split("\n\n")


def sqlite_open(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    con.execute("PRAGMA query_only = 1")
    return con


def stored_article(con, ext):
    """The article stored as ext, with what hangs off it; None when there is none."""
    row = con.execute("SELECT a.id, a.headline, a.blocks FROM articles a JOIN publications p"
                      " ON p.id = a.publication_id WHERE p.slug = ? AND a.external_id = ?",
                      (PUBLICATION["slug"], ext)).fetchone()
    if not row:
        return None
    aid, headline, blocks = row
    return {
        "id": aid,
        "headline": headline,
        "texts": [b.get("text") for b in json.loads(blocks) if isinstance(b, dict)],
        "search": con.execute("SELECT headline, lead || ' ' || rest FROM article_search WHERE rowid = ?",
                              (aid,)).fetchone(),
        "topics": [r[0] for r in con.execute("SELECT t.slug FROM article_topics x JOIN topics t"
                                             " ON t.id = x.topic_id WHERE x.article_id = ?", (aid,))],
        "entities": [r[0] for r in con.execute("SELECT e.name FROM article_entities x JOIN entities e"
                                               " ON e.id = x.entity_id WHERE x.article_id = ?", (aid,))],
        "authors": [r[0] for r in con.execute("SELECT au.name FROM article_authors x JOIN authors au"
                                              " ON au.id = x.author_id WHERE x.article_id = ?", (aid,))],
    }


def whole_problems(con, ext, doc, word):
    """What is missing or stale in the stored article ext against the write doc (empty: whole)."""
    got = stored_article(con, ext)
    if got is None:
        return ["no row"]
    bad = []
    if got["headline"] != doc["headline"]:
        bad.append(f"headline {got['headline']!r}, wrote {doc['headline']!r}")
    if got["texts"] != body_paragraphs(doc):
        bad.append(f"blocks {got['texts']!r}")
    if not got["search"] or word not in (got["search"][1] or ""):
        bad.append(f"search row {got['search']!r} lacks {word}")
    if "harbours" not in got["topics"]:
        bad.append(f"topics {got['topics']}")
    want_entity = doc["entities"][0]["name"]
    if want_entity not in got["entities"]:
        bad.append(f"entities {got['entities']} lack {want_entity}")
    if got["authors"] != ["Ada Fault"]:
        bad.append(f"authors {got['authors']}")
    hits = [r[0] for r in con.execute("SELECT rowid FROM article_search WHERE article_search MATCH ?",
                                      (word,))]
    if hits != [got["id"]]:
        bad.append(f"search for {word} finds {hits}, not [{got['id']}]")
    return bad


def orphans(con):
    """Rows that name an article that is not there, or articles without a search row."""
    queries = {
        "search rows without an article": "SELECT count(*) FROM article_search s WHERE NOT EXISTS"
                                          " (SELECT 1 FROM articles a WHERE a.id = s.rowid)",
        "articles without a search row": "SELECT count(*) FROM articles a WHERE NOT EXISTS"
                                         " (SELECT 1 FROM article_search s WHERE s.rowid = a.id)",
        "entity links without an article": "SELECT count(*) FROM article_entities x WHERE NOT EXISTS"
                                           " (SELECT 1 FROM articles a WHERE a.id = x.article_id)",
        "topic links without an article": "SELECT count(*) FROM article_topics x WHERE NOT EXISTS"
                                          " (SELECT 1 FROM articles a WHERE a.id = x.article_id)",
        "author links without an article": "SELECT count(*) FROM article_authors x WHERE NOT EXISTS"
                                           " (SELECT 1 FROM articles a WHERE a.id = x.article_id)",
        "entity counts that disagree with the links":
            "SELECT count(*) FROM entities e WHERE e.article_count !="
            " (SELECT count(*) FROM article_entities x WHERE x.entity_id = e.id)",
    }
    found = []
    for what, q in queries.items():
        n = con.execute(q).fetchone()[0]
        if n:
            found.append(f"{n} {what}")
    return found


def search_ids(port, word):
    r = call(port, "GET", f"/v1/articles?q={word}")
    j = r.json() if r.status == 200 else None
    return None if j is None else [a.get("id") for a in j.get("data", [])]
