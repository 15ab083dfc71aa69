#!/usr/bin/env python3
"""corpus.py - the benchmark corpus: Reuters-21578 multiplied to N articles,
and a 100,000-name gazetteer, both deterministic.

Articles: copy k (k = 0, 1, ...) of every Reuters record, in file order,
until N are written. Copy 0 is the record as it is; copy k > 0 gets
  - external_id "<original>-c<k>" and url "<original>?c=<k>" (distinct),
  - published_at shifted by k * 240 days (the collection spans 235 days, so
    the copies follow one another: about four years of wire in all),
and keeps headline, text, section, access, topics and entities. Headlines
repeat across copies as syndicated wire stories do; the server gives each
copy its own slug ("-2", "-3", ...). Records whose date the server would
refuse (one in the collection) are skipped, so all N import.

Gazetteer: every entity the Reuters annotators used (name and type), then
the synthetic names `matcher_bench --print-synthetic` adds to reach 100,000
distinct names: the same names as matcher_bench's "100k (+ synthetic)" row.
Acronyms become organisations; the other synthetic names take person,
place, organization and other in turn.

Data: Reuters-21578, Distribution 1.0 (research use only; read from
../shared/data, written only under build/, never into the repository).

usage: bench/corpus.py --data DIR --out DIR [--articles N] [--matcher-bench PATH]
Python 3 standard library only.
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys

SHIFT = datetime.timedelta(days=240)
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
TYPES = ("person", "place", "organization", "other")


def shifted(published_at, k):
    t = datetime.datetime.strptime(published_at, "%Y-%m-%dT%H:%M:%SZ") + k * SHIFT
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def read_source(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            a = json.loads(line)
            if DATE.fullmatch(a.get("published_at", "")):
                records.append(a)
    return records


def write_articles(records, n, path):
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        k = 0
        while written < n:
            for a in records:
                if written == n:
                    break
                if k:
                    a = dict(a)
                    a["external_id"] = "%s-c%d" % (a["external_id"], k)
                    if a.get("url"):
                        a["url"] = "%s?c=%d" % (a["url"], k)
                    a["published_at"] = shifted(a["published_at"], k)
                out.write(json.dumps(a, ensure_ascii=False, separators=(",", ":")) + "\n")
                written += 1
            k += 1
    return written, k


def write_gazetteer(records, data, matcher_bench, path):
    annotated = {}
    for a in records:
        for e in a.get("entities") or []:
            annotated.setdefault(e["name"], e.get("type", "other"))
    p = subprocess.run([matcher_bench, "--data", data, "--print-synthetic"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("corpus: %s --print-synthetic failed: %s" % (matcher_bench, p.stderr.strip()))
    synthetic = p.stdout.split("\n")[:-1]
    with open(path, "w", encoding="utf-8") as out:
        for name in sorted(annotated):
            out.write(json.dumps({"name": name, "type": annotated[name]}) + "\n")
        for i, name in enumerate(synthetic):
            kind = "organization" if name.isupper() else TYPES[i % len(TYPES)]
            out.write(json.dumps({"name": name, "type": kind}) + "\n")
    return len(annotated), len(synthetic)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--articles", type=int, default=100000)
    ap.add_argument("--matcher-bench", default=os.path.join(os.path.dirname(__file__),
                                                             "matcher_bench"))
    args = ap.parse_args()
    source = os.path.join(args.data, "reuters-21578", "articles.ndjson")
    if not os.path.exists(source):
        sys.exit("corpus: %s not found (see ../shared/data/SOURCE.md)" % source)
    os.makedirs(args.out, exist_ok=True)
    records = read_source(source)
    n, copies = write_articles(records, args.articles, os.path.join(args.out, "articles.ndjson"))
    real, syn = write_gazetteer(records, args.data, args.matcher_bench,
                                os.path.join(args.out, "gazetteer.ndjson"))
    print("corpus: %d articles (%d copies of %d Reuters records); gazetteer %d names"
          " (%d annotated + %d synthetic)" % (n, copies, len(records), real + syn, real, syn))
    return 0


if __name__ == "__main__":
    sys.exit(main())
