#!/usr/bin/env python3
"""compare.py - what a change bought: two newsstand binaries on the benchmark
database, the same endpoints, runs alternated (A, B, A, B, ...) so that
other work on the machine weighs on both alike; medians and B/A.

usage: bench/compare.py OLD_BINARY NEW_BINARY [--rounds N] [--seconds S] [ENDPOINT ...]
ENDPOINT is a key of bench/suite.py (article, list, filter, search, entity,
feed, top, revalidate, gzip); default: all. Needs the cached database that
bench/suite.py builds (run make bench, or BENCH_QUICK=1 make bench, once).
"""

import argparse
import glob
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("endpoints", nargs="*")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    args = ap.parse_args()
    cached = sorted(glob.glob(os.path.join(suite.CACHE, "db-*", "bench.db")))
    if not cached:
        suite.die("no cached benchmark database: run make bench (BENCH_QUICK=1 will do) first")
    work = tempfile.mkdtemp(prefix="compare-", dir=suite.CACHE)
    servers = []
    try:
        db = os.path.join(work, "bench.db")
        shutil.copyfile(cached[-1], db)
        for name, binary in (("old", args.old), ("new", args.new)):
            suite.NEWSSTAND = os.path.abspath(binary)
            s = suite.start_newsstand(db, work, suite.newsstand_flags())
            s.name = name
            s.wait_ready()
            servers.append(s)
        token, _ = suite.setup_reader(servers[0].port)
        articles = suite.sqlite3.connect(db).execute("SELECT count(*) FROM articles").fetchone()[0]
        eps = [e for e in suite.endpoints(db, token, articles)
               if not args.endpoints or e.key in args.endpoints]
        for ep in eps:
            if ep.key == "revalidate":
                ep.per_server = {s.name: suite.revalidation_lines(s, ep.paths) for s in servers}
        print("%-34s %12s %12s %7s" % ("endpoint", "old req/s", "new req/s", "new/old"))
        for ep in eps:
            files = {}
            for s in servers:
                files[s.name] = os.path.join(work, "%s-%s.paths" % (s.name, ep.key))
                with open(files[s.name], "w") as f:
                    f.write("\n".join(ep.per_server[s.name] if ep.per_server else ep.paths) + "\n")
                suite.wrk(s.base, files[s.name], 1, headers=[ep.header] if ep.header else [])
                suite.settle(servers)
            got = {s.name: [] for s in servers}
            for r in range(args.rounds):
                for s in (servers if r % 2 == 0 else servers[::-1]):
                    got[s.name].append(suite.wrk(s.base, files[s.name], args.seconds,
                                                 headers=[ep.header] if ep.header else [])["rps"])
                    suite.settle(servers)
            old, new = suite.med(got["old"]), suite.med(got["new"])
            print("%-34s %12.0f %12.0f %7.2f" % (ep.label, old, new, new / old if old else 0))
            sys.stdout.flush()
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
