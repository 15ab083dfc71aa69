#!/usr/bin/env python3
"""linking_eval.py - how well newsstand's own entity linking finds what the
Reuters-21578 annotators marked.

Steps:
  1. a fresh database in a temporary directory;
  2. a gazetteer loaded with `newsstand entities import`: server/demo/
     gazetteer.ndjson when it exists (countries with aliases such as USA,
     U.S.), plus one entity for every annotated Reuters entity name that
     the demo gazetteer does not already know by that name or an alias, so
     every annotated entity is known by its annotated name;
  3. the Reuters articles imported with their `entities` removed, so every
     link comes from the server scanning the text;
  4. the links read back with sqlite3 and compared, article by article, with
     the annotations (an annotated name stands for the entity whose name or
     alias equals it, case-insensitively);
  5. precision, recall and F1, micro-averaged over (article, entity) pairs,
     overall and by annotated type; the most-missed annotated names and the
     most frequent linked-but-unannotated names.

Data: Reuters-21578, Distribution 1.0 (research use only; read from
../shared/data, never copied into the repository).

usage: bench/linking_eval.py [--data DIR] [--newsstand PATH] [--keep DIR]
Python 3 standard library only.
"""

import argparse
import collections
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import unicodedata

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYPES = ("place", "person", "organization")
WORD = re.compile(r"[^\W_]+")


def fold(text):
    """Close to the server's fold (fold.h): decomposed, case-folded, accents
    stripped, runs of letters and digits joined by single spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(WORD.findall(text))


def run(cmd, what):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    took = time.monotonic() - t0
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        sys.exit("linking_eval: %s failed (exit %d): %s" % (what, p.returncode, " ".join(cmd)))
    rejected = [ln for ln in p.stderr.splitlines() if ln.startswith("line ")]
    return p.stdout.strip(), rejected, took


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data"))
    ap.add_argument("--newsstand", default=os.path.join(REPO, "newsstand"))
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep the database there")
    args = ap.parse_args()

    started = time.monotonic()
    source = os.path.join(args.data, "reuters-21578", "articles.ndjson")
    demo = os.path.join(REPO, "server", "demo", "gazetteer.ndjson")
    if not os.path.exists(args.newsstand):
        sys.exit("linking_eval: %s not found; run `make newsstand` first" % args.newsstand)
    if not os.path.exists(source):
        sys.exit("linking_eval: %s not found (see ../shared/data/SOURCE.md)" % source)

    # --- read the articles and their annotations
    articles = []  # (external_id, line without entities)
    gold_names = {}  # external_id -> {annotated name: type}
    annotated_type = {}  # name -> type (as annotated)
    texts = {}  # external_id -> headline, standfirst and body, for the "named at all" check
    with open(source, encoding="utf-8") as f:
        for line in f:
            a = json.loads(line)
            ents = a.pop("entities", None) or []
            gold_names[a["external_id"]] = {e["name"]: e.get("type", "other") for e in ents}
            for e in ents:
                annotated_type.setdefault(e["name"], e.get("type", "other"))
            texts[a["external_id"]] = "\n".join(
                a.get(k) or "" for k in ("headline", "standfirst", "body_text"))
            articles.append(json.dumps(a, ensure_ascii=False))

    workdir_obj = None
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        work = args.keep
    else:
        workdir_obj = tempfile.TemporaryDirectory(prefix="linking_eval.")
        work = workdir_obj.name
    db = os.path.join(work, "eval.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)

    # --- the gazetteer: the demo one, plus every annotated name it does not know
    gaz_lines, known = [], set()
    demo_entities = 0
    if os.path.exists(demo):
        with open(demo, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                e = json.loads(line)
                gaz_lines.append(line.rstrip("\n"))
                demo_entities += 1
                for n in [e["name"]] + list(e.get("aliases") or []):
                    known.add(n.casefold())
    added = 0
    for name in sorted(annotated_type):
        if name.casefold() in known:
            continue
        gaz_lines.append(json.dumps({"name": name, "type": annotated_type[name]}))
        known.add(name.casefold())
        added += 1
    gaz_path = os.path.join(work, "gazetteer.ndjson")
    with open(gaz_path, "w", encoding="utf-8") as f:
        f.write("\n".join(gaz_lines) + "\n")
    art_path = os.path.join(work, "articles.ndjson")
    with open(art_path, "w", encoding="utf-8") as f:
        f.write("\n".join(articles) + "\n")

    gaz_out, gaz_rej, gaz_s = run(
        [args.newsstand, "entities", "import", gaz_path, "--db", db], "entities import")
    imp_out, imp_rej, imp_s = run([args.newsstand, "import", art_path, "--db", db], "import")

    # --- read the links back
    t0 = time.monotonic()
    con = sqlite3.connect(db)
    ent_name, ent_type = {}, {}
    by_name, by_alias = collections.defaultdict(list), collections.defaultdict(list)
    by_name_key, by_alias_key = collections.defaultdict(list), collections.defaultdict(list)
    for eid, name, etype in con.execute("SELECT id, name, type FROM entities ORDER BY id"):
        ent_name[eid], ent_type[eid] = name, etype
        by_name[name.casefold()].append(eid)
        by_name_key[fold(name)].append(eid)
    keys_of = collections.defaultdict(set)  # entity -> folded name and aliases
    for eid, name in ent_name.items():
        keys_of[eid].add(fold(name))
    for eid, alias in con.execute("SELECT entity_id, alias FROM entity_aliases ORDER BY entity_id"):
        keys_of[eid].add(fold(alias))
        by_alias[alias.casefold()].append(eid)
        by_alias_key[fold(alias)].append(eid)
    links = {}
    n_articles = 0
    for ext, eid in con.execute(
            "SELECT a.external_id, ae.entity_id FROM articles a "
            "LEFT JOIN article_entities ae ON ae.article_id = a.id"):
        links.setdefault(ext, set())
        if eid is not None:
            links[ext].add(eid)
    n_articles = len(links)
    con.close()

    # annotated name -> entity: name first, then alias, case-insensitively; the
    # folded form (as the server compares) only when neither matches
    resolve, unresolved = {}, []
    for name in annotated_type:
        k = name.casefold()
        hits = by_name.get(k) or by_alias.get(k) or by_name_key.get(fold(name)) \
            or by_alias_key.get(fold(name))
        if hits:
            resolve[name] = min(hits)
        else:
            unresolved.append(name)
            resolve[name] = ("unresolved", name)  # counts as never found
    # the annotated type of an entity (for false positives): from the annotation
    # that names it, else its type in the database
    type_of = {}
    for name, eid in resolve.items():
        type_of.setdefault(eid, annotated_type[name])

    tp = collections.Counter()
    fp = collections.Counter()
    fn = collections.Counter()
    missed = collections.Counter()
    missed_unwritten = collections.Counter()  # missed, and no name or alias of it in the text
    extra = collections.Counter()
    tp_a = fp_a = fn_a = 0  # over articles that have at least one annotation
    n_annotated = 0
    annotated_count = collections.Counter()  # per annotated name, over compared articles
    skipped = [ext for ext in gold_names if ext not in links]
    for ext, names in gold_names.items():
        if ext not in links:
            continue  # rejected by the import: neither linked nor counted
        gold = {}
        annotated_count.update(names.keys())
        for name, t in names.items():
            gold.setdefault(resolve[name], (name, t))
        got = links.get(ext, set())
        folded_text = None
        for eid, (name, t) in gold.items():
            if eid in got:
                tp[t] += 1
            else:
                fn[t] += 1
                missed[name] += 1
                if folded_text is None:
                    folded_text = " " + fold(texts[ext]) + " "
                if not any(" %s " % k in folded_text for k in keys_of.get(eid, ()) if k):
                    missed_unwritten[name] += 1
        for eid in got - gold.keys():
            t = type_of.get(eid, ent_type[eid])
            fp[t] += 1
            extra[eid] += 1
        if names:
            n_annotated += 1
            tp_a += len(gold.keys() & got)
            fp_a += len(got - gold.keys())
            fn_a += len(gold.keys() - got)
    eval_s = time.monotonic() - t0

    # --- report
    out = []
    w = out.append
    w("linking_eval: newsstand entity linking against human annotations")
    w("data: Reuters-21578, Distribution 1.0 (%s)" % os.path.normpath(source))
    w("  %d articles, %d entity annotations (distinct per article), %d distinct annotated names"
      % (len(gold_names), sum(len(v) for v in gold_names.values()), len(annotated_type)))
    w("gazetteer: %s (%d entities) + %d annotated names it did not know"
      % (os.path.relpath(demo, REPO) if demo_entities else "(no demo gazetteer)", demo_entities,
         added))
    w("  newsstand entities import: %s (%.1f s)%s"
      % (gaz_out, gaz_s, "; %d lines rejected, e.g. %s" % (len(gaz_rej), gaz_rej[0])
         if gaz_rej else ""))
    w("  newsstand import (entities removed): %s (%.1f s)%s"
      % (imp_out, imp_s, "; %d lines rejected, e.g. %s" % (len(imp_rej), imp_rej[0])
         if imp_rej else ""))
    w("  articles in the database: %d; links: %d" % (n_articles, sum(len(v) for v in links.values())))
    w("  compared: %d articles, %d of them with annotations" % (n_articles, n_annotated))
    if skipped:
        w("  not compared (rejected by the import): %s%s"
          % (", ".join(skipped[:5]), " ..." if len(skipped) > 5 else ""))
    if unresolved:
        w("  annotated names matching no entity (always missed): %s" % ", ".join(sorted(unresolved)))
    w("")
    w("%-22s %8s %8s %8s %10s %8s %8s" % ("annotated type", "TP", "FP", "FN", "precision",
                                           "recall", "F1"))
    rows = list(TYPES) + sorted((set(tp) | set(fp) | set(fn)) - set(TYPES))
    for t in rows:
        p, r, f = prf(tp[t], fp[t], fn[t])
        w("%-22s %8d %8d %8d %10.3f %8.3f %8.3f" % (t, tp[t], fp[t], fn[t], p, r, f))
    T, F, N = sum(tp.values()), sum(fp.values()), sum(fn.values())
    p, r, f = prf(T, F, N)
    w("%-22s %8d %8d %8d %10.3f %8.3f %8.3f" % ("all (micro)", T, F, N, p, r, f))
    p, r, f = prf(tp_a, fp_a, fn_a)
    w("%-22s %8d %8d %8d %10.3f %8.3f %8.3f" % ("annotated articles", tp_a, fp_a, fn_a, p, r, f))
    w("(rows by type: TP and FN by the annotation's type; FP by the linked entity's type -")
    w(" the annotated type where an annotated name maps to it, else its gazetteer type.")
    w(" 'annotated articles' counts only the articles with at least one annotation.)")
    w("")
    w("Annotations mark what an article is about, not every name in it: a correct link to a")
    w("country mentioned in passing counts as a false positive, so precision is a lower bound.")
    w("")
    unwritten = sum(missed_unwritten.values())
    w("Of the %d misses, %d are in articles whose text (headline, dateline, body) never writes"
      % (N, unwritten))
    w("the entity's name or an alias, even ignoring case: no text linking can find those. Recall")
    w("over the annotations that are written in the text: %.3f (%d of %d)."
      % (T / (T + N - unwritten) if T + N - unwritten else 0.0, T, T + N - unwritten))
    w("")
    w("10 most-missed annotated names (annotated type, missed / annotated, of the missed: not")
    w("written in the text):")
    for name, c in missed.most_common(10):
        w("  %-28s %-13s %6d / %-6d %6d" % (name, annotated_type[name], c, annotated_count[name],
                                            missed_unwritten[name]))
    w("10 most frequent linked-but-unannotated names (entity type, articles):")
    for eid, c in extra.most_common(10):
        w("  %-28s %-13s %6d" % (ent_name[eid], ent_type[eid], c))
    w("")
    w("time: %.1f s in all (gazetteer import %.1f s, article import %.1f s, comparison %.1f s)"
      % (time.monotonic() - started, gaz_s, imp_s, eval_s))
    if args.keep:
        w("database kept: %s" % db)
    print("\n".join(out))
    if workdir_obj:
        workdir_obj.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
