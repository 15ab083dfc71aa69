#!/usr/bin/env python3
"""Build the newsstand demo corpus (server/demo/articles.ndjson).

The corpus is made only from redistributable sources in the shared data
folder (see ATTRIBUTION.md):

  * all English Wikinews articles of the GUM corpus
    (gum-wikinews/articles.ndjson), and
  * a fixed, deterministic selection of Wikipedia "Current events" items
    (wikipedia-current-events/items.ndjson): the same number from every
    month, shared among the portal sections present in that month.

Every record keeps its source fields unchanged, except two:

  * `topics` become the aggregator's own taxonomy: a Wikipedia item keeps its
    story-thread topics and gets, in front of them, one broad topic derived
    from its portal section (SECTION_TOPICS); a Wikinews record's
    "interview"/"news" (which is its section, not a topic) is replaced by one
    or two broad topics chosen by hand per article (WIKINEWS_TOPICS);
  * `entities` are cleaned by the rules of build_gazetteer.py (the same
    code, imported from it): annotations that are not named entities
    ("People", "Hundreds", a link "rubble" -> Rubble) go, and the rest carry
    the gazetteer entry's name and type and only the aliases the gazetteer
    keeps for it, so importing the articles after gazetteer.ndjson adds no
    alias the gazetteer dropped.  This needs Debian's iso-codes package,
    like build_gazetteer.py.

The only other additions are SAMPLE values the sources lack, chosen
deterministically (no randomness):

  * "access": "premium" on about 1 in 4 Wikinews articles and about
    1 in 10 Wikipedia items (all others keep "free");
  * an "image" object (a placeholder URL under images.newsstand.dev/sample/)
    on about half the Wikinews articles and a few dozen Wikipedia items.

Standard library only.  Running it twice gives byte-identical output.

Usage (from the repository top):
    python3 server/demo/build.py [--data DIR] [--iso-codes DIR] [--out FILE]
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
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ beside the scripts
# The shared entity rules.  build_gazetteer imports this module in turn (for
# the selection of items); it uses it only when called, so the cycle is safe.
import build_gazetteer  # noqa: E402

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

# Topics: the aggregator's own broad topics, one name per portal section.
# Wikipedia items keep their story-thread topics and get the broad topic of
# their section in front of them.
SECTION_TOPICS = {
    "Armed conflicts and attacks": "Conflict",
    "Politics and elections": "Politics",
    "Business and economy": "Business",
    "Disasters and accidents": "Disasters",
    "Disasters and incidents": "Disasters",
    "Law and crime": "Crime and justice",
    "International relations": "World",
    "Sports": "Sports",
    "Health and environment": "Health",
    "Arts and culture": "Culture",
    "Science and technology": "Science and technology",
}
BROAD_TOPICS = frozenset(SECTION_TOPICS.values())

# The Wikinews records carry only "interview" or "news" as topics, which is
# their section, not a topic.  Each gets one or two broad topics instead,
# chosen by hand from its headline and summary.
WIKINEWS_TOPICS = {
    "GUM_interview_brotherhood": ["Culture"],                 # magicians
    "GUM_interview_chomsky": ["Politics", "World"],           # NATO protests, labour
    "GUM_interview_cocktail": ["Culture", "Politics"],        # Santorum cocktail
    "GUM_interview_cyclone": ["Disasters", "Science and technology"],
    "GUM_interview_dungeon": ["Business"],                    # running a BDSM business
    "GUM_interview_gaming": ["Culture"],                      # webcomics and games team
    "GUM_interview_herrick": ["Science and technology", "Business"],  # wikiHow
    "GUM_interview_hill": ["Politics"],                       # presidential candidate
    "GUM_interview_licen": ["Sports"],                        # Paralympics
    "GUM_interview_mcguire": ["Culture"],                     # LibriVox audiobooks
    "GUM_interview_mckenzie": ["Sports"],                     # wheelchair basketball
    "GUM_interview_messina": ["Culture", "Sports"],           # the Mets poet
    "GUM_interview_peres": ["World", "Politics"],             # peace process
    "GUM_interview_shalev": ["Science and technology", "Culture"],  # mathematician, novelist
    "GUM_interview_stardust": ["Science and technology"],     # Stardust@home
    "GUM_news_afghan": ["Science and technology", "World"],   # robotics team, visas
    "GUM_news_clock": ["Crime and justice"],                  # wrongful arrest
    "GUM_news_crane": ["Disasters"],                          # Mecca crane collapse
    "GUM_news_defector": ["Crime and justice"],               # Scientology arrest
    "GUM_news_election": ["Politics"],                        # Hong Kong election
    "GUM_news_flag": ["Politics"],                            # New Zealand flag
    "GUM_news_hackers": ["Crime and justice", "Science and technology"],
    "GUM_news_homeopathic": ["Crime and justice", "Health"],
    "GUM_news_ie9": ["Science and technology", "Business"],   # Internet Explorer
    "GUM_news_iodine": ["Health"],
    "GUM_news_korea": ["Conflict", "World"],                  # North Korea war footing
    "GUM_news_lanterns": ["Culture"],                         # Lantern Festival
    "GUM_news_nasa": ["Science and technology"],              # space shuttles
    "GUM_news_sensitive": ["Politics"],                       # leaked government document
    "GUM_news_soccer": ["Sports"],
    "GUM_news_stampede": ["Disasters"],                       # Hajj stampede
    "GUM_news_taxes": ["Politics", "Business"],               # taxing religious schools
    "GUM_news_warming": ["Science and technology", "Health"], # climate and crops
    "GUM_news_worship": ["Crime and justice", "Culture"],     # court ruling on religion
}

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


def topic_key(name):
    return " ".join(re.sub(r"[^0-9a-z]+", " ", name.lower()).split())


def topics_for(record):
    """The record's topics: a broad topic first, then its own story threads
    (Wikipedia), or the hand-chosen broad topics (Wikinews)."""
    eid = record["external_id"]
    if record["publication"]["slug"] == "english-wikinews":
        if eid not in WIKINEWS_TOPICS:
            raise BuildError("%s: no topics chosen in WIKINEWS_TOPICS" % eid)
        topics = list(WIKINEWS_TOPICS[eid])
    else:
        section = record.get("section")
        if section not in SECTION_TOPICS:
            raise BuildError("%s: no broad topic for section %r" % (eid, section))
        topics = [SECTION_TOPICS[section]] + list(record.get("topics") or [])
    out, seen = [], set()
    for topic in topics:
        if topic_key(topic) not in seen:
            seen.add(topic_key(topic))
            out.append(topic)
    return out


def finish(record, premium_ids, image_ids, gazetteer):
    """Keep the allowed source fields as they are (entities cleaned), add the
    sample values."""
    if "published_at" not in record or not RFC3339_UTC.match(record["published_at"]):
        raise BuildError("%s: published_at %r is not RFC 3339 UTC"
                         % (record.get("external_id"), record.get("published_at")))
    out = OrderedDict()
    for key in ALLOWED_KEYS:
        if key in record:
            out[key] = record[key]
    eid = record["external_id"]
    out["topics"] = topics_for(record)
    out["entities"] = build_gazetteer.payload_entities(gazetteer, record)
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
        "--iso-codes", default=None,
        help="iso-codes JSON folder, for the gazetteer rules "
             "(default: that of build_gazetteer.py)")
    parser.add_argument(
        "--out", default=os.path.join(HERE, "articles.ndjson"),
        help="output file (default: server/demo/articles.ndjson)")
    args = parser.parse_args(argv)
    data = args.data or os.path.normpath(os.path.join(REPO_TOP, "..", "shared", "data"))

    # The entity rules, and the gazetteer they give, are build_gazetteer's.
    gazetteer, _ = build_gazetteer.make_gazetteer(
        data, args.iso_codes or build_gazetteer.ISO_CODES_DIR)

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

    bad = sorted(t for ts in WIKINEWS_TOPICS.values() for t in ts if t not in BROAD_TOPICS)
    if bad:
        raise BuildError("WIKINEWS_TOPICS uses topics outside SECTION_TOPICS: %s" % bad)
    unused = sorted(set(WIKINEWS_TOPICS) - {r["external_id"] for r in wikinews})
    if unused:
        raise BuildError("WIKINEWS_TOPICS names unknown articles: %s" % unused)

    seen = set()
    lines = []
    broad = defaultdict(int)
    n_entities = 0
    for record in wikinews + items:
        key = (json.dumps(record["publication"], sort_keys=True), record["external_id"])
        if key in seen:
            raise BuildError("duplicate external_id %r" % record["external_id"])
        seen.add(key)
        out = finish(record, premium, images, gazetteer)
        n_entities += len(out["entities"])
        for topic in out["topics"]:
            if topic in BROAD_TOPICS:
                broad[topic] += 1
        lines.append(json.dumps(out, ensure_ascii=False, separators=(",", ":")))

    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
    os.replace(tmp, args.out)

    print("wrote %s: %d articles (%d Wikinews, %d Wikipedia current events), "
          "%d premium, %d with a sample image, %d bytes"
          % (args.out, len(lines), len(wikinews), len(items), len(premium),
             len(images), os.path.getsize(args.out)))
    print("  payload entities: %d (cleaned by the gazetteer rules)" % n_entities)
    print("  broad topics: " + ", ".join(
        "%s %d" % (t, broad[t]) for t in sorted(broad, key=lambda t: (-broad[t], t))))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BuildError, build_gazetteer.BuildError, build_gazetteer.build.BuildError,
            OSError) as e:
        print("build.py: %s" % e, file=sys.stderr)
        sys.exit(1)
