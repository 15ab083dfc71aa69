#!/usr/bin/env python3
"""suite.py - newsstand's HTTP benchmark (issue 8): newsstand, the ceiling and
the peer on the same 100,000-article database, in one run.

Steps:
  1. the benchmark database: bench/corpus.py multiplies Reuters-21578 to
     BENCH_ARTICLES (100,000) articles and writes a 100,000-name gazetteer;
     `newsstand entities import` and `newsstand import` load them (the
     import rate with linking is measured here). The database is cached in
     build/bench/db-<key>/, key = a hash of everything that decides its
     content (the data, the generator, schema/ and the code under src/ that
     writes it), so a rerun with the same code reuses it;
  2. a working copy of it; newsstand started on it several times to time
     start -> first 200 from /readyz; a reader signed up over HTTP who follows
     200 things (the 100 entities and 100 topics with most articles), and
     2,000 reads on 300 articles for top stories;
  3. the ceiling (bench/ceiling, serving one typical article response from
     memory) and the peer (bench/peer: Node.js, Fastify, better-sqlite3,
     as many workers as newsstand has threads) on the same database file;
  4. every endpoint asked once on each server: right status, no
     `Connection: close`, gzip where asked;
  5. wrk on loopback, 2 threads, 64 keep-alive connections: a warm-up for
     each server and endpoint, then ROUNDS rounds of DURATION seconds each,
     servers interleaved within a round; medians of the rounds;
  6. newsstand paced at half of its own median peak for each endpoint
     (bench/paced.lua), for p99 at half load, checking every answer;
  7. resident memory of both servers sampled from /proc during the load;
  8. the table: printed, and written into bench/RESULTS.md between the
     "latest run" markers (the history below them is kept).

Environment: BENCH_QUICK=1 (1 round of 2 s: for development, not for the
record), BENCH_REBUILD=1 (rebuild the cached database), BENCH_ARTICLES=N.
Data: Reuters-21578, Distribution 1.0 (research use only; read from
../shared/data, never copied into the repository).

usage: bench/suite.py [--data DIR] [--results FILE | --no-results]
Python 3 standard library only; needs wrk, node and the binaries `make bench` builds.
"""

import argparse
import glob
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEWSSTAND = os.path.join(REPO, "newsstand")
CEILING = os.path.join(REPO, "bench", "ceiling")
MATCHER_BENCH = os.path.join(REPO, "bench", "matcher_bench")
PEER = os.path.join(REPO, "bench", "peer", "server.js")
CACHE = os.path.join(REPO, "build", "bench")
MARK_START = "<!-- make bench: latest run (written by bench/suite.py) -->"
MARK_END = "<!-- end of latest run -->"

QUICK = os.environ.get("BENCH_QUICK") == "1"
ARTICLES = int(os.environ.get("BENCH_ARTICLES", "100000"))
SERVER_THREADS = 2
CONNECTIONS = 64
WRK_THREADS = 2
ROUNDS = 1 if QUICK else 3
DURATION = 2 if QUICK else 5
WARMUP = 1 if QUICK else 2
HALF_DURATION = 3 if QUICK else 6
STARTS = 3 if QUICK else 5

TARGETS = {  # endpoint key: (x ceiling, x peer)
    "article": (0.6, 3.0),
    "list": (0.35, 3.0),
    "search": (None, 2.0),
}
P99_HALF_MS = 5.0
IMPORT_RATE = 10000.0
RSS_MB = 64.0
READY_MS = 200.0


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def die(msg):
    log(msg)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- the cached database ------------------------------------------------------------------


def cache_key(source):
    h = hashlib.sha256()
    h.update(b"articles=%d\n" % ARTICLES)
    files = [source, os.path.join(REPO, "bench", "corpus.py"), os.path.join(REPO, "bench",
                                                                            "matcher_bench.c")]
    files += sorted(glob.glob(os.path.join(REPO, "schema", "*")))
    for sub in ("core", "domain", "ingest", "json", "store", "cli"):
        files += sorted(glob.glob(os.path.join(REPO, "src", sub, "*.[ch]")))
    for path in files:
        h.update(os.path.relpath(path, REPO).encode() + b"\0")
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def run_timed(cmd, what):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    took = time.monotonic() - t0
    if p.returncode != 0:
        die("%s failed (exit %d): %s" % (what, p.returncode, (p.stdout + p.stderr)[-2000:]))
    return p.stdout + p.stderr, took


def build_db(data, key):
    """Generates the corpus, imports it, and returns the metadata of the cached database."""
    target = os.path.join(CACHE, "db-" + key)
    meta_path = os.path.join(target, "meta.json")
    if os.path.exists(meta_path) and os.environ.get("BENCH_REBUILD") != "1":
        with open(meta_path) as f:
            meta = json.load(f)
        meta["cached"] = True
        return target, meta
    for old in glob.glob(os.path.join(CACHE, "db-*")):
        shutil.rmtree(old)  # one cached database at a time: each is a few hundred MB
    work = target + ".tmp"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    log("building the %d-article database in %s (once per code version)" % (ARTICLES, target))
    out, _ = run_timed([sys.executable, os.path.join(REPO, "bench", "corpus.py"), "--data", data,
                        "--out", work, "--articles", str(ARTICLES), "--matcher-bench",
                        MATCHER_BENCH], "bench/corpus.py")
    log(out.strip())
    db = os.path.join(work, "bench.db")
    gaz_out, gaz_s = run_timed([NEWSSTAND, "entities", "import",
                                os.path.join(work, "gazetteer.ndjson"), "--db", db],
                               "newsstand entities import")
    imp_out, imp_s = run_timed([NEWSSTAND, "import", os.path.join(work, "articles.ndjson"),
                                "--db", db], "newsstand import")
    m = re.search(r"imported: (\d+) created", imp_out)
    created = int(m.group(1)) if m else 0
    if created != ARTICLES:
        die("newsstand import created %d of %d articles:\n%s" % (created, ARTICLES, imp_out[-2000:]))
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    entities = con.execute("SELECT count(*) FROM entities").fetchone()[0]
    links = con.execute("SELECT count(*) FROM article_entities").fetchone()[0]
    sizes = {}
    try:
        for name, size in con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            sizes[name] = size
    except sqlite3.Error:
        pass  # this SQLite has no dbstat: no breakdown
    con.close()
    for name in ("articles.ndjson", "gazetteer.ndjson"):
        os.remove(os.path.join(work, name))
    meta = {
        "built": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "articles": created,
        "entities": entities,
        "links": links,
        "gazetteer_s": gaz_s,
        "import_s": imp_s,
        "import_rate": created / imp_s,
        "import_output": imp_out.strip().splitlines()[-2:],
        "db_bytes": os.path.getsize(db),
        "table_bytes": sizes,
    }
    with open(os.path.join(work, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    os.rename(work, target)
    meta["cached"] = False
    return target, meta


# --- servers ------------------------------------------------------------------------------


def newsstand_flags():
    """Load comes from one address: the per-client limits would measure the limiter."""
    p = subprocess.run([NEWSSTAND, "--help"], capture_output=True, text=True)
    flags = []
    for flag in ("--rate-limit", "--key-rate-limit", "--max-connections-per-ip"):
        if flag + " " in p.stdout:
            flags += [flag, "0"]
    return flags


class Server:
    """A server process on a free loopback port; stopped with SIGTERM."""

    def __init__(self, name, cmd, port, work, env=None):
        self.name, self.port = name, port
        self.err_path = os.path.join(work, name + ".err")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=open(self.err_path, "w"),
                                     env=dict(os.environ, **(env or {})))
        self.base = "http://127.0.0.1:%d" % port

    def wait_ready(self, path="/readyz", timeout=30.0):
        """Polls path until it answers 200; returns the seconds since the process started."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                with open(self.err_path) as f:
                    die("%s exited: %s" % (self.name, f.read()[-2000:]))
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", path)
                status = c.getresponse().status
                c.close()
                if status == 200:
                    return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.001)
        die("%s was not ready after %.0f s" % (self.name, timeout))

    def pids(self):
        """The process and its children (the peer's workers)."""
        pids = [self.proc.pid]
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid:
                    pids.append(int(stat.split("/")[2]))
            except (OSError, IndexError, ValueError):
                pass
        return pids

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_newsstand(db, work, flags, name="newsstand"):
    port = free_port()
    cmd = [NEWSSTAND, "serve", "--db", db, "--bind", "127.0.0.1", "--port", str(port),
           "--threads", str(SERVER_THREADS)] + flags
    return Server(name, cmd, port, work, {"NEWSSTAND_RATE_LIMIT": "0",
                                          "NEWSSTAND_KEY_RATE_LIMIT": "0"})


# The endpoints also measured with newsstand's response cache off: what computing costs.
UNCACHED = ("article", "list", "filter", "search", "top")


def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def settle(servers, timeout=60.0):
    """Waits until the servers are idle: wrk stops sending when its time is up, but a server
    may still be answering what was queued (slow endpoints), which would steal the cores
    from the next measurement."""
    pids = [pid for s in servers for pid in s.pids()]
    hz = os.sysconf("SC_CLK_TCK")
    t0 = time.monotonic()
    last = cpu_ticks(pids)
    while time.monotonic() - t0 < timeout:
        time.sleep(0.1)
        now = cpu_ticks(pids)
        if (now - last) / hz < 0.01:  # under 10% of one core for 100 ms
            return
        last = now


class MemorySampler(threading.Thread):
    """Samples the resident memory of each server's processes while the load runs."""

    def __init__(self, servers):
        super().__init__(daemon=True)
        self.servers = servers
        self.peak = {s.name: {} for s in servers}
        self.stopping = threading.Event()
        self.pids = {s.name: s.pids() for s in servers}

    def run(self):
        while not self.stopping.wait(0.2):
            for s in self.servers:
                total = {}
                for pid in self.pids[s.name]:
                    for k, v in proc_status(pid).items():
                        total[k] = total.get(k, 0) + v
                peak = self.peak[s.name]
                if total.get("VmRSS", 0) >= peak.get("VmRSS", 0):
                    peak.update({k: total.get(k, 0) for k in ("VmRSS", "RssAnon", "RssFile",
                                                               "RssShmem")})
                peak["VmHWM"] = max(peak.get("VmHWM", 0), total.get("VmHWM", 0))


# --- HTTP setup over the API --------------------------------------------------------------


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None, token=None, headers=None):
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if token:
            h["Authorization"] = "Bearer " + token
        self.conn.request(method, path, body=data, headers=h)
        r = self.conn.getresponse()
        raw = r.read()
        return r.status, r.getheaders(), raw

    def json(self, method, path, body=None, token=None):
        status, _, raw = self.call(method, path, body, token)
        if status >= 300:
            die("%s %s answered %d: %s" % (method, path, status, raw[:300]))
        return json.loads(raw) if raw else None


def setup_reader(port):
    """Signs a reader up, follows 200 things and records 2,000 reads; returns the token."""
    c = Client(port)
    token = c.json("POST", "/v1/users", {"email": "bench-%d@example.com" % os.getpid(),
                                         "password": "benchmark password",
                                         "name": "Bench"})["token"]
    followed = 0
    for kind, path in (("entity", "/v1/entities?limit=100"), ("topic", "/v1/topics?limit=100")):
        for item in c.json("GET", path)["data"]:
            c.json("PUT", "/v1/me/follows/%s/%d" % (kind, item["id"]), token=token)
            followed += 1
    for i in range(2000):
        c.json("POST", "/v1/articles/%d/reads" % (1 + (i * 7919) % 300))
    return token, followed


# --- wrk --------------------------------------------------------------------------------


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        return float("nan")
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else \
        v * 60000 if m.group(2) == "m" else v


def wrk(base, paths_file, seconds, paced_ms=None, expected=200, headers=(),
        connections=CONNECTIONS):
    cmd = ["wrk", "-t%d" % WRK_THREADS, "-c%d" % connections, "-d%ds" % seconds, "--timeout", "10s",
           "--latency"]
    for h in headers:
        cmd += ["-H", h]
    script = "bench/paced.lua" if paced_ms else "bench/load.lua"
    cmd += ["-s", script, base, "--", paths_file]
    if paced_ms:
        cmd += ["%.3f" % paced_ms, str(expected)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    out = p.stdout
    if p.returncode != 0 or "Requests/sec" not in out:
        die("wrk failed: %s\n%s" % (" ".join(cmd), (out + p.stderr)[-2000:]))
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "errors": 0,
         "closes": None}
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(r"^\s+%s%%\s+(\S+)" % pct, out, re.M)
        r[key] = to_ms(m.group(1)) if m else float("nan")
    if r["rps"] == 0:
        r["p50"] = r["p99"] = float("nan")  # nothing answered in time: no latency to give
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["errors"] += int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["errors"] += sum(int(x) for x in m.groups())
    m = re.search(r"paced: unexpected (\d+) closes (\d+)", out)
    if m:
        r["errors"] += int(m.group(1))
        r["closes"] = int(m.group(2))
    return r


# --- the endpoints ----------------------------------------------------------------------

FILTERS = [("crude", "usa"), ("grain", "usa"), ("acq", "canada"), ("money-fx", "japan"),
           ("trade", "west-germany"), ("earn", "uk"), ("interest", "uk"), ("ship", "usa")]


def search_paths():
    with open(os.path.join(REPO, "bench", "search_queries.txt"), encoding="utf-8") as f:
        return ["/v1/articles?q=" + urllib.parse.quote(q.rstrip("\n"))
                for q in f if q.strip()]


class Endpoint:
    def __init__(self, key, label, paths, expected=200, header=None, per_server=None):
        self.key, self.label, self.paths, self.expected = key, label, paths, expected
        self.header = header  # one header on every request (wrk -H)
        self.per_server = per_server  # server name -> list of "path\theader" lines


def endpoints(db, token, articles):
    con = sqlite3.connect(db)
    entity_ids = [r[0] for r in con.execute("SELECT id FROM entities ORDER BY id")]
    con.close()
    article_paths = ["/v1/articles/%d" % (1 + (i * 7919) % articles) for i in range(1000)]
    entity_paths = ["/v1/entities/%d" % entity_ids[(i * 7919) % len(entity_ids)]
                    for i in range(1000)]
    return [
        Endpoint("article", "GET /v1/articles/{id}", article_paths),
        Endpoint("list", "GET /v1/articles?limit=20", ["/v1/articles?limit=20"]),
        Endpoint("filter", "… ?topic=&entity=&limit=20",
                 ["/v1/articles?topic=%s&entity=%s&limit=20" % f for f in FILTERS]),
        Endpoint("search", "GET /v1/articles?q= (mix)", search_paths()),
        Endpoint("entity", "GET /v1/entities/{id}", entity_paths),
        Endpoint("feed", "GET /v1/me/feed (200 follows)", ["/v1/me/feed"],
                 header="Authorization: Bearer " + token),
        Endpoint("top", "GET /v1/top-stories", ["/v1/top-stories"]),
        Endpoint("revalidate", "304 revalidation (article)", article_paths[:64], expected=304),
        Endpoint("gzip", "gzip (article)", article_paths,
                 header="Accept-Encoding: gzip"),
    ]


def check_server(server, ep, fails):
    """Asks each of the endpoint's first paths once; records what is wrong in fails."""
    c = Client(server.port)
    lines = ep.per_server[server.name] if ep.per_server else ep.paths
    for line in lines[:20]:
        fields = line.split("\t")
        headers = dict(h.split(": ", 1) for h in fields[1:])
        if ep.header:
            k, v = ep.header.split(": ", 1)
            headers[k] = v
        status, got, body = c.call("GET", fields[0], headers=headers)
        got = {k.lower(): v for k, v in got}
        if status != ep.expected:
            fails.append("%s %s: %d, not %d" % (server.name, fields[0], status, ep.expected))
        if got.get("connection", "").lower() == "close":
            fails.append("%s %s: Connection: close" % (server.name, fields[0]))
        if ep.key == "gzip" and got.get("content-encoding") != "gzip" and len(body) >= 1024:
            fails.append("%s %s: not gzipped" % (server.name, fields[0]))
        if status == 200 and server.name != "ceiling" and "etag" not in got:
            fails.append("%s %s: no ETag" % (server.name, fields[0]))


def revalidation_lines(server, paths):
    c = Client(server.port)
    lines = []
    for path in paths:
        status, headers, _ = c.call("GET", path)
        etag = dict((k.lower(), v) for k, v in headers).get("etag")
        if status != 200 or not etag:
            die("%s %s: %d without an ETag" % (server.name, path, status))
        lines.append("%s\tIf-None-Match: %s" % (path, etag))
    return lines


# --- the run ----------------------------------------------------------------------------


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / 1024 / 1024
    distro = platform.platform()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass

    def version(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip() or "?"
        except OSError:
            return "?"
    return {
        "cpu": "%s, %d cores" % (cpu, os.cpu_count()),
        "memory": "%.0f GiB" % mem_gib,
        "os": "%s, Linux %s" % (distro, platform.release()),
        "sqlite": version(["pkg-config", "--modversion", "sqlite3"]),
        "mhd": version(["pkg-config", "--modversion", "libmicrohttpd"]),
        "node": version(["node", "--version"]),
        "wrk": version(["sh", "-c", "wrk --version 2>&1 | head -1 | cut -d' ' -f2"]),
        "load": open("/proc/loadavg").read().split()[0],
        "commit": version(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]),
    }


def med(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data"))
    ap.add_argument("--results", default=os.path.join(REPO, "bench", "RESULTS.md"))
    ap.add_argument("--no-results", action="store_true", help="print the table only")
    args = ap.parse_args()
    source = os.path.join(args.data, "reuters-21578", "articles.ndjson")
    for path, hint in ((source, "see ../shared/data/SOURCE.md"), (NEWSSTAND, "run make"),
                       (CEILING, "run make bench"), (MATCHER_BENCH, "run make bench"),
                       (os.path.join(REPO, "bench", "peer", "node_modules"), "run make bench")):
        if not os.path.exists(path):
            die("%s is missing (%s)" % (path, hint))
    for tool in ("wrk", "node"):
        if not shutil.which(tool):
            die("%s is missing (make bench installs it)" % tool)
    started = time.monotonic()
    info = machine()
    os.makedirs(CACHE, exist_ok=True)
    key = cache_key(source)
    cached_dir, meta = build_db(args.data, key)
    log("database: %d articles, %d entities (%s)" % (
        meta["articles"], meta["entities"], "cached, built %s" % meta["built"] if meta["cached"]
        else "built now"))

    work = tempfile.mkdtemp(prefix="run-", dir=CACHE)
    servers = []
    try:
        db = os.path.join(work, "bench.db")
        shutil.copyfile(os.path.join(cached_dir, "bench.db"), db)
        flags = newsstand_flags()

        # start -> ready, then the server that takes the load
        ready = []
        for _ in range(STARTS):
            s = start_newsstand(db, work, flags)
            ready.append(s.wait_ready() * 1000)
            s.stop()
        ns = start_newsstand(db, work, flags)
        ns.wait_ready()
        servers.append(ns)
        log("start to ready: %s ms" % ", ".join("%.0f" % r for r in ready))
        token, followed = setup_reader(ns.port)

        eps = endpoints(db, token, meta["articles"])
        # the ceiling's body: the median-sized of the first article responses
        c = Client(ns.port)
        bodies = sorted((c.call("GET", p)[2] for p in eps[0].paths[:63]), key=len)
        body_path = os.path.join(work, "ceiling-body.json")
        with open(body_path, "wb") as f:
            f.write(bodies[len(bodies) // 2])
        ceiling_bytes = len(bodies[len(bodies) // 2])
        port = free_port()
        ceiling = Server("ceiling", [CEILING, "--port", str(port), "--threads",
                                     str(SERVER_THREADS), "--body", body_path], port, work)
        servers.append(ceiling)
        ceiling.wait_ready()
        uncached = None
        if "--response-cache " in subprocess.run([NEWSSTAND, "--help"], capture_output=True,
                                                 text=True).stdout:
            uncached = start_newsstand(db, work, flags + ["--response-cache", "0"], "uncached")
            servers.append(uncached)
            uncached.wait_ready()
        port = free_port()
        peer = Server("peer", ["node", PEER, "--db", db, "--port", str(port), "--workers",
                               str(SERVER_THREADS)], port, work)
        servers.append(peer)
        peer.wait_ready()

        for ep in eps:
            if ep.key == "revalidate":
                ep.per_server = {s.name: revalidation_lines(s, ep.paths) for s in (ns, peer)}
        fails = []
        for ep in eps:
            for s in (ns, peer):
                check_server(s, ep, fails)
        check_server(ceiling, Endpoint("ceiling", "", ["/"]), fails)
        if fails:
            log("checks failed:\n  " + "\n  ".join(fails))

        def paths_file(server, ep):
            path = os.path.join(work, "%s-%s.paths" % (server.name, ep.key))
            if not os.path.exists(path):
                with open(path, "w") as f:
                    f.write("\n".join(ep.per_server[server.name] if ep.per_server else ep.paths))
                    f.write("\n")
            return path

        ceiling_ep = Endpoint("ceiling", "ceiling", ["/v1/articles/1"])
        def servers_for(ep, order):
            return [s for s in order if s is not uncached or ep.key in UNCACHED]

        plan = [(ceiling, ceiling_ep)] + [(s, ep) for ep in eps
                                          for s in servers_for(ep, (ns, uncached, peer)) if s]
        sampler = MemorySampler([ns, peer])
        sampler.start()
        log("warm-up: %d x %d s" % (len(plan), WARMUP))
        for s, ep in plan:
            wrk(s.base, paths_file(s, ep), WARMUP, headers=[ep.header] if ep.header else [])
            settle(servers)
        runs = {}
        for r in range(ROUNDS):
            log("round %d of %d: %d x %d s" % (r + 1, ROUNDS, len(plan), DURATION))
            order = plan if r % 2 == 0 else [plan[0]] + [
                (s, ep) for ep in eps for s in servers_for(ep, (peer, uncached, ns)) if s]
            for s, ep in order:
                res = wrk(s.base, paths_file(s, ep), DURATION,
                          headers=[ep.header] if ep.header else [])
                runs.setdefault((s.name, ep.key), []).append(res)
                settle(servers)
        half = {}
        log("half load: %d x %d s" % (len(eps), HALF_DURATION))
        for ep in eps:
            peak = max(med([x["rps"] for x in runs[("newsstand", ep.key)]]), 1.0)
            # each connection asks at least every 100 ms: fewer connections for slow endpoints
            conns = max(WRK_THREADS, min(CONNECTIONS, int(peak / 2 * 0.1)))
            interval_ms = conns * 1000.0 / (peak / 2)
            half[ep.key] = wrk(ns.base, paths_file(ns, ep), HALF_DURATION, paced_ms=interval_ms,
                               expected=ep.expected, headers=[ep.header] if ep.header else [],
                               connections=conns)
            half[ep.key]["connections"] = conns
            half[ep.key]["target_rps"] = peak / 2
            settle(servers)
        sampler.stopping.set()
        sampler.join()
        for s in servers:
            s.stop()
        servers = []
        memory = sampler.peak
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)

    summary = {
        "runs": {"%s/%s" % k: v for k, v in runs.items()},
        "half": half, "memory": memory, "ready_ms": ready, "fails": fails,
        "followed": followed, "meta": meta, "info": info, "ceiling_bytes": ceiling_bytes,
        "elapsed_s": time.monotonic() - started,
    }
    with open(os.path.join(CACHE, "last-run.json"), "w") as f:
        json.dump(summary, f, indent=1)
    text = report(summary, eps)
    print(text)
    if not args.no_results and not QUICK:
        write_results(args.results, text)
        log("written to %s" % os.path.relpath(args.results))
    elif QUICK:
        log("BENCH_QUICK: bench/RESULTS.md left as it was")
    return 0


# --- the table --------------------------------------------------------------------------


def fmt_rate(v):
    return "–" if v != v else "{:,.0f}".format(v)


def fmt_ms(v):
    if v != v:
        return "–"
    return "%.2f ms" % v if v < 10 else "%.1f ms" % v if v < 100 else "{:,.0f} ms".format(v)


def verdict(ok):
    return "**yes**" if ok else "**no**"


def report(s, eps):
    runs = s["runs"]

    def fig(server, key, what):
        return med([x[what] for x in runs.get("%s/%s" % (server, key), [])])

    def errors(server, key):
        return sum(x["errors"] for x in runs.get("%s/%s" % (server, key), []))

    ceiling = fig("ceiling", "ceiling", "rps")
    meta, info = s["meta"], s["info"]
    L = []
    w = L.append
    w("## %s — `make bench`" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    w("")
    w("Machine: %s, %s; %s; SQLite %s, libmicrohttpd %s, Node.js %s, wrk %s; load average %s "
      "at the start (other work on the machine shares the cores). Commit %s." % (
          info["cpu"], info["memory"], info["os"], info["sqlite"], info["mhd"], info["node"],
          info["wrk"], info["load"], info["commit"]))
    w("Data: Reuters-21578, Distribution 1.0, multiplied to %s articles (`bench/corpus.py`); "
      "%s entities from a 100,000-name gazetteer; %s article–entity links." % (
          "{:,}".format(meta["articles"]), "{:,}".format(meta["entities"]),
          "{:,}".format(meta["links"])))
    w("Load: wrk on loopback, %d threads, %d keep-alive connections; a %d s warm-up per server "
      "and endpoint, then %d rounds of %d s with the servers interleaved; medians of the rounds. "
      "newsstand and the ceiling run %d threads, the peer %d Node.js workers (cluster); "
      "newsstand runs as shipped (response cache on), and a second instance with "
      "`--response-cache 0` shows what computing each answer costs. The "
      "p99 at half load paces newsstand at half of its own median peak for %d s "
      "(`bench/paced.lua`; 64 connections, fewer for endpoints under 1,280 req/s so that "
      "each connection asks at least every 100 ms)." % (WRK_THREADS, CONNECTIONS, WARMUP, ROUNDS, DURATION,
                                SERVER_THREADS, SERVER_THREADS, HALF_DURATION))
    w("")
    w("The ceiling (`bench/ceiling`, one %s-byte article response from memory): **%s req/s**, "
      "p50 %s, p99 %s." % ("{:,}".format(int(s.get("ceiling_bytes", 0))) if s.get(
          "ceiling_bytes") else "typical", fmt_rate(ceiling),
          fmt_ms(fig("ceiling", "ceiling", "p50")), fmt_ms(fig("ceiling", "ceiling", "p99"))))
    w("")
    w("| endpoint | newsstand req/s | p50 | p99 | p99 at ½ peak | without response cache "
      "| peer req/s | peer p99 | × ceiling | × peer | target | met |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    all_met = []
    for ep in eps:
        rps = fig("newsstand", ep.key, "rps")
        prps = fig("peer", ep.key, "rps")
        h = s["half"].get(ep.key, {})
        xc, xp = rps / ceiling, rps / prps if prps else float("nan")
        goals, met = [], True
        tc, tp = TARGETS.get(ep.key, (None, None))
        if tc:
            goals.append("≥ %.2g× ceiling" % tc)
            met = met and xc >= tc
        if tp:
            goals.append("≥ %g× peer" % tp)
            met = met and xp >= tp
        goals.append("p99 ½ ≤ %g ms" % P99_HALF_MS)
        met = met and h.get("p99", float("nan")) <= P99_HALF_MS
        all_met.append(met)
        err = errors("newsstand", ep.key) + errors("peer", ep.key) + errors("uncached", ep.key) \
            + h.get("errors", 0)
        urps = fig("uncached", ep.key, "rps")
        uncached = "–" if urps != urps else "%s (%.2f× peer)" % (fmt_rate(urps), urps / prps
                                                                 if prps else float("nan"))
        w("| %s | %s | %s | %s | %s (at %s/s) | %s | %s | %s | %.2f | %.2f | %s | %s |" % (
            ep.label + (" ⚠ %d errors" % err if err else ""), fmt_rate(rps),
            fmt_ms(fig("newsstand", ep.key, "p50")), fmt_ms(fig("newsstand", ep.key, "p99")),
            fmt_ms(h.get("p99", float("nan"))), fmt_rate(h.get("rps", float("nan"))),
            uncached, fmt_rate(prps), fmt_ms(fig("peer", ep.key, "p99")), xc, xp,
            "; ".join(goals), verdict(met)))
    w("")
    mem = s["memory"]
    ns_mem, peer_mem = mem.get("newsstand", {}), mem.get("peer", {})
    mb = lambda v: "%.1f MB" % (v / 1e6)
    hwm = ns_mem.get("VmHWM", 0)
    ready = med(s["ready_ms"])
    closes = sum(h.get("closes") or 0 for h in s["half"].values())
    close_fails = [f for f in s["fails"] if "Connection: close" in f]
    import_note = "measured when the cached database was built, %s" % meta["built"] \
        if meta["cached"] else "measured in this run"
    w("| figure | newsstand | target | met |")
    w("|---|---|---|---|")
    w("| import with linking (%s articles, 100,000-name gazetteer) | %s articles/s (%.1f s; %s)"
      " | ≥ 10,000/s | %s |" % ("{:,}".format(meta["articles"]), fmt_rate(meta["import_rate"]),
                                  meta["import_s"], import_note,
                                  verdict(meta["import_rate"] >= IMPORT_RATE)))
    w("| gazetteer import (100,000 names) | %.1f s | – | – |" % meta["gazetteer_s"])
    w("| resident memory under load (peak VmHWM) | %s (at peak VmRSS: %s anonymous + %s file "
      "pages) | ≤ 64 MB | %s |" % (mb(hwm), mb(ns_mem.get("RssAnon", 0)),
                                   mb(ns_mem.get("RssFile", 0) + ns_mem.get("RssShmem", 0)),
                                   verdict(hwm <= RSS_MB * 1e6)))
    w("| peer's resident memory under load (all processes) | %s (%s anonymous) | – | – |" % (
        mb(peer_mem.get("VmRSS", 0)), mb(peer_mem.get("RssAnon", 0))))
    w("| start to ready (spawn → first 200 from /readyz, median of %d) | %.0f ms (%s) "
      "| ≤ 200 ms | %s |" % (len(s["ready_ms"]), ready,
                             ", ".join("%.0f" % r for r in s["ready_ms"]),
                             verdict(ready <= READY_MS)))
    w("| database size per article | %s bytes (%s MB in all) | – | – |" % (
        "{:,.0f}".format(meta["db_bytes"] / meta["articles"]),
        "{:,.0f}".format(meta["db_bytes"] / 1e6)))
    w("| responses with `Connection: close` | %d (paced runs) + %d (checks) | 0 | %s |" % (
        closes, len(close_fails), verdict(closes == 0 and not close_fails)))
    w("")
    other_fails = [f for f in s["fails"] if f not in close_fails]
    if other_fails:
        w("Checks that failed: " + "; ".join(other_fails[:10]))
        w("")
    sizes = meta.get("table_bytes") or {}
    if sizes:
        groups = {}
        for name, size in sizes.items():
            g = "search index (FTS5)" if name.startswith("article_search") else \
                "articles (+ indexes)" if name.startswith("articles") or name == "sqlite_autoindex_articles_1" else \
                "entity links" if name.startswith("article_entities") else \
                "entities, aliases" if name.startswith("entit") or "autoindex_entit" in name else \
                "topics, authors, other"
            groups[g] = groups.get(g, 0) + size
        w("Database by part: " + ", ".join(
            "%s %s MB" % (g, "{:,.0f}".format(v / 1e6))
            for g, v in sorted(groups.items(), key=lambda kv: -kv[1])) + ".")
        w("")
    w("Reader for the feed: follows %d things (the 100 entities with most articles and 100 "
      "topics); 2,000 reads on 300 articles feed top stories. Search mix: "
      "`bench/search_queries.txt`; filters: %d topic + entity pairs; articles and entities: "
      "1,000 ids spread over the database. The peer ranks search with SQLite's bm25() (same "
      "column weights), so its pages hold other articles; its totals match." % (
          s["followed"], len(FILTERS)))
    w("")
    w("Targets met: %d of %d endpoint rows; whole run %.0f s." % (
        sum(all_met), len(all_met), s["elapsed_s"]))
    return "\n".join(L) + "\n"


def write_results(path, text):
    old = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = f.read()
    block = MARK_START + "\n" + text + MARK_END + "\n"
    if MARK_START in old and MARK_END in old:
        head, rest = old.split(MARK_START, 1)
        tail = rest.split(MARK_END, 1)[1].lstrip("\n")
        new = head + block + "\n" + tail
    else:
        lines = old.split("\n## ", 1)
        new = lines[0].rstrip("\n") + "\n\n" + block + ("\n## " + lines[1] if len(lines) > 1
                                                        else "")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    sys.exit(main())
