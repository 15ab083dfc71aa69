#!/usr/bin/env python3
"""Build the newsstand demo corpus (server/demo/articles.ndjson).

The corpus is made only from redistributable sources in the shared data
folder (see ATTRIBUTION.md):

  * all English Wikinews articles of the GUM corpus
    (gum-wikinews/articles.ndjson), and
  * a fixed, deterministic selection of Wikipedia "Current events" items
    (wikipedia-current-events/items.ndjson): the same number from every
    month, shared among the portal sections present in that month.

Every record keeps its source fields unchanged.  The only additions are
SAMPLE values the sources lack, chosen deterministically (no randomness):

  * "access": "premium" on about 1 in 4 Wikinews articles and about
    1 in 10 Wikipedia items (all others keep "free");
  * an "image" object (a placeholder URL under images.newsstand.dev/sample/)
    on about half the Wikinews articles and a few dozen Wikipedia items.

Standard library only.  Running it twice gives byte-identical output.

Usage (from the repository top):
    python3 server/demo/build.py [--data DIR] [--out FILE]
"""

import argparse
import hashlib
import json
import os
import re
import sys
from collections import OrderedDict, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_TOP = os.path.dirname(os.path.dirname(HERE))

WIKINEWS_FILE = os.path.join("gum-wikinews", "articles.ndjson")
CURRENT_EVENTS_FILE = os.path.join("wikipedia-current-events", "items.ndjson")

# Wikipedia items taken from each month of the portal.
PER_MONTH_QUOTA = 21

# Share of records that get the sample values.
WIKINEWS_PREMIUM = 1 / 4
WIKINEWS_IMAGE = 1 / 2
CURRENT_EVENTS_PREMIUM = 1 / 10
CURRENT_EVENTS_IMAGES = 36  # "a few dozen"

# Output keys, in output order; anything else in a source record is dropped.
ALLOWED_KEYS = (
    "publication", "external_id", "url", "headline", "standfirst", "section",
    "authors", "published_at", "language", "access", "image", "blocks",
    "body_text", "topics", "entities",
)

SAMPLE_IMAGE_CAPTION = (
    "Sample image for the newsstand demo (placeholder, not from the source)")
SAMPLE_IMAGE_CREDIT = "newsstand sample data"

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class BuildError(Exception):
    pass


def _no_duplicate_keys(pairs):
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise BuildError("duplicate key %r" % key)
        seen.add(key)
    return OrderedDict(pairs)


def read_ndjson(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line, object_pairs_hook=_no_duplicate_keys))
            except (ValueError, BuildError) as e:
                raise BuildError("%s:%d: %s" % (path, number, e))
    return records


def stable_rank(salt, record):
    """A fixed pseudo-random sort key: SHA-256 of salt and external id."""
    text = "%s:%s" % (salt, record["external_id"])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def share_out(total, weights):
    """Split `total` over keys in proportion to `weights` (largest remainder;
    ties broken by key so the result is always the same)."""
    weight_sum = sum(weights.values())
    if weight_sum == 0 or total <= 0:
        return {k: 0 for k in weights}
    exact = {k: total * w / weight_sum for k, w in weights.items()}
    shares = {k: int(v) for k, v in exact.items()}
    left = total - sum(shares.values())
    for k in sorted(weights, key=lambda k: (-(exact[k] - shares[k]), k))[:left]:
        shares[k] += 1
    return shares


def choose_stratified(records, count, salt):
    """Pick `count` records, spread over sections in proportion to their size,
    and within a section by a fixed hash order.  Returns a set of ids."""
    by_section = defaultdict(list)
    for r in records:
        by_section[r["section"]].append(r)
    shares = share_out(count, {s: len(rs) for s, rs in by_section.items()})
    chosen = set()
    for section, rs in by_section.items():
        rs = sorted(rs, key=lambda r: stable_rank(salt, r))
        chosen.update(r["external_id"] for r in rs[:shares[section]])
    return chosen


def evenly_spaced(items, k):
    """k items spread evenly over the (already ordered) list."""
    n = len(items)
    k = min(k, n)
    return [items[(2 * i + 1) * n // (2 * k)] for i in range(k)]


def select_current_events(items, per_month):
    """A fixed per-month quota, shared over the sections present in that month:
    every section present gets one item, the rest goes in proportion to the
    section sizes; within a section the items are evenly spaced in time."""
    by_month = defaultdict(list)
    for it in items:
        by_month[it["published_at"][:7]].append(it)
    selected = []
    for month in sorted(by_month):
        by_section = defaultdict(list)
        for it in by_month[month]:
            by_section[it["section"]].append(it)
        for rs in by_section.values():
            rs.sort(key=lambda r: (r["published_at"], r["external_id"]))
        shares = {s: 1 for s in by_section}
        extra = share_out(per_month - len(by_section),
                          {s: len(rs) - 1 for s, rs in by_section.items()})
        for s in by_section:
            shares[s] += extra[s]
        for section in sorted(by_section):
            selected.extend(evenly_spaced(by_section[section], shares[section]))
    selected.sort(key=lambda r: (r["published_at"], r["external_id"]))
    return selected


def alt_from_headline(headline, limit=90):
    """A short image description derived from the headline."""
    text = " ".join(headline.split()).rstrip(" .")
    if len(text) > limit:
        cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.-")
        text = cut + "…"
    return "Placeholder picture for the story: " + text


def sample_image(record):
    return OrderedDict([
        ("url", "https://images.newsstand.dev/sample/%s.jpg" % record["external_id"]),
        ("caption", SAMPLE_IMAGE_CAPTION),
        ("credit", SAMPLE_IMAGE_CREDIT),
        ("alt", alt_from_headline(record["headline"])),
        ("width", 1200),
        ("height", 800),
    ])


def finish(record, premium_ids, image_ids):
    """Keep the allowed source fields as they are, add the sample values."""
    if "published_at" not in record or not RFC3339_UTC.match(record["published_at"]):
        raise BuildError("%s: published_at %r is not RFC 3339 UTC"
                         % (record.get("external_id"), record.get("published_at")))
    out = OrderedDict()
    for key in ALLOWED_KEYS:
        if key in record:
            out[key] = record[key]
    eid = record["external_id"]
    out["access"] = "premium" if eid in premium_ids else out.get("access", "free")
    if eid in image_ids:
        out["image"] = sample_image(record)
    return OrderedDict((k, out[k]) for k in ALLOWED_KEYS if k in out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", default=None,
        help="shared data folder (default: ../shared/data from the repository top)")
    parser.add_argument(
        "--out", default=os.path.join(HERE, "articles.ndjson"),
        help="output file (default: server/demo/articles.ndjson)")
    args = parser.parse_args(argv)
    data = args.data or os.path.normpath(os.path.join(REPO_TOP, "..", "shared", "data"))

    wikinews = read_ndjson(os.path.join(data, WIKINEWS_FILE))
    wikinews.sort(key=lambda r: (r["published_at"], r["external_id"]))
    items = select_current_events(
        read_ndjson(os.path.join(data, CURRENT_EVENTS_FILE)), PER_MONTH_QUOTA)

    premium = choose_stratified(
        wikinews, int(len(wikinews) * WIKINEWS_PREMIUM + 0.5), "premium")
    premium |= choose_stratified(
        items, int(len(items) * CURRENT_EVENTS_PREMIUM + 0.5), "premium")
    images = choose_stratified(
        wikinews, int(len(wikinews) * WIKINEWS_IMAGE + 0.5), "image")
    images |= choose_stratified(items, CURRENT_EVENTS_IMAGES, "image")

    seen = set()
    lines = []
    for record in wikinews + items:
        key = (json.dumps(record["publication"], sort_keys=True), record["external_id"])
        if key in seen:
            raise BuildError("duplicate external_id %r" % record["external_id"])
        seen.add(key)
        lines.append(json.dumps(finish(record, premium, images),
                                ensure_ascii=False, separators=(",", ":")))

    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
    os.replace(tmp, args.out)

    print("wrote %s: %d articles (%d Wikinews, %d Wikipedia current events), "
          "%d premium, %d with a sample image, %d bytes"
          % (args.out, len(lines), len(wikinews), len(items), len(premium),
             len(images), os.path.getsize(args.out)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BuildError, OSError) as e:
        print("build.py: %s" % e, file=sys.stderr)
        sys.exit(1)
