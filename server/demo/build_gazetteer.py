#!/usr/bin/env python3
"""Build the newsstand demo gazetteer (server/demo/gazetteer.ndjson).

One entity a line, in the format `newsstand entities import` reads:
    {"name", "type", "aliases": [...], "wikidata": null, "description"}

Sources (see ATTRIBUTION.md):

  1. every country and territory of ISO 3166-1, read at build time from
     Debian's iso-codes package (/usr/share/iso-codes/json/iso_3166-1.json,
     `apt-get install iso-codes`).  The name is the natural short name
     ("South Korea", not "Korea, Republic of"); the other ISO names and a
     few well-known short forms ("USA", "U.S.", "UK", "Britain") are aliases;
  2. the entities annotated in the demo articles: the typed GUM annotations
     of the English Wikinews articles and the linked Wikipedia articles of
     the Wikipedia "Current events" items that build.py selects.

Which annotations are entities (the same rules decide what goes into the
gazetteer and what build.py leaves in each article's payload `entities`):
  * A name that is not a name at all goes, whatever the source: a pronoun or
    indefinite ("Anyone", "Someone"), a quantity ("Hundreds", "10,000",
    "180 Officers"), a date word or a bare year ("Sunday", "June", "1930s",
    "1776"), a generic noun for people or things ("People", "World",
    "Voters", "Police", "Technology"; the list is NOT_NAMES below) or a
    generic group "of" something ("Members of the Sea Org").  A GUM mention
    that is not a Wikipedia title also goes when it is a speaker plus "I"
    ("Rebecca and I"), a bare possessive ("Thad's") or two mentions run
    together ("DAB's Ben Chan and Leung Che-cheung"); titles such as
    "Claire's" (a shop) are names.
  * GUM (Wikinews): the name must also start like a name: with an upper-case
    letter or a digit, or with a short lower-case prefix glued to a capital
    ("wikiHow", "eHow", "iPhone", "al-Mahrah").
  * Current events: the portal links common nouns to Wikipedia articles
    ("rubble" -> Rubble, "shooting attack" -> Mass shooting).  An entity is
    kept only if at least one of its surface forms in the selected items
    (its link texts, or its title when the link text is the title):
      - starts like a name (as above; a symbol such as "€" for Euro does not
        count against it),
      - is not a bare number ("1950" -> 1950 in Japan), and
      - is not capitalised merely because it opens a sentence: there it
        counts only if every word in it is capitalised and, for one word,
        that word is nowhere in the demo articles written in lower case
        ("Public broadcasters ..." and "Police ..." do not make Public
        broadcasting or Jharkhand Police names; "Israel Defense Forces
        confirms ..." and "Montenegro ..." do).
    The decision is made once per entity over all the items, so "President
    of the United States" (also written "U.S. President") stays even in an
    item that only says "the president".  Countries always stay, and so does
    an entity that GUM annotates as a name.
  * Payload entities (build.py): each annotation that stays is written with
    the gazetteer entry's name and type, and only those of its own name and
    link texts that the entry keeps as aliases (after the alias rules
    below); annotations of the same entry in one article are merged.  So
    importing the articles after the gazetteer adds no alias to any entity.

Rules for names, types and aliases:
  * Names are kept as the sources give them, except that the underscores of
    Wikipedia titles become spaces ("United_States" -> "United States"; the
    server folds both to the same key) and the language code of a link to
    another Wikipedia goes ("es:Augusto Blacker Miller").
  * Entries with the same folded name are merged and their aliases united.
    An annotated entity whose name is a country's name or alias is merged
    into that country ("U.S.", "Turkey", "Republic of Ireland").
  * Types: countries are places; otherwise the GUM type (most frequent, ties
    broken place > person > organization > event > work > other); a
    Current-events entity that GUM does not type stays "other", unless its
    name is exactly an ISO 3166-2 subdivision name and it is written with a
    capital in the items, which makes it a place ("Tennessee", "Kyiv").
  * Aliases are another name for the entity, so the link texts of the
    sources are kept as aliases only when they look like one:
      - they contain an upper-case letter or a digit, at least one letter,
        and at least two letters or digits ("rubble", "shooting attack",
        "1950" and "R" go);
      - every word is capitalised, apart from joining words such as "of" or
        "the" ("A fire", "Pakistani soldiers", "U.S. president" go);
      - not the bare part of a disambiguated Wikipedia title: Wikipedia
        itself says "Washington" alone is ambiguous when it titles the
        article "Washington (state)" (same for "Punjab, Pakistan");
      - not the generic head of an "X of Y" name ("Prime Minister" for
        "Prime Minister of Hungary", "Governor" for "Governor of Utah");
      - a one-word alias must begin like the name ("Gaza" for "Gaza Strip",
        "Houthi" for "Houthis"), not be a word taken from the sentence
        ("Pakistani" for "High Commission of Pakistan, New Delhi").
    Countries keep only the names listed here (no demonyms such as
    "Bolivian", which the items use as link text for some countries only).
    An alias that folds to the entry's own name is dropped; one that is
    another entry's name or a country's alias, or that several entries
    share in the sources ("President", "Supreme Court"), is ambiguous and
    stays only with the entry it names, if any.

Standard library only; deterministic (same input, same bytes).

Usage (from the repository top):
    python3 server/demo/build_gazetteer.py [--data DIR] [--iso-codes DIR] [--out FILE]
"""

import argparse
import json
import os
import re
import sys
import unicodedata
from collections import Counter, OrderedDict, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ beside the scripts
import build  # noqa: E402  (the demo corpus builder: same selection of items)

ISO_CODES_DIR = "/usr/share/iso-codes/json"
TYPES = ("person", "organization", "place", "event", "work", "other")
# Tie-break between GUM types given to the same name by different articles.
TYPE_PRIORITY = ("place", "person", "organization", "event", "work", "other")

# ---------------------------------------------------------------------------
# Countries: names and aliases beyond what iso-codes gives.
#   "name":  the natural short name to use instead of iso-codes' choice;
#   "aliases": extra aliases (well-known short or former names, and the
#              Wikipedia article title where it differs);
#   "drop":  iso-codes names NOT to use as aliases (ambiguous).
# ---------------------------------------------------------------------------
COUNTRY_EXTRA = {
    "US": {"aliases": ["United States of America", "USA", "U.S.", "U.S.A.", "US"]},
    "GB": {"aliases": ["UK", "U.K.", "Britain", "Great Britain"]},
    "AE": {"aliases": ["UAE"]},
    "RU": {"name": "Russia"},
    "KR": {"aliases": ["Republic of Korea"]},
    "KP": {"aliases": ["DPRK"]},
    "LA": {"aliases": ["Lao PDR"]},
    "CZ": {"aliases": ["Czech Republic"]},
    "TR": {"aliases": ["Turkey"]},
    "CD": {"name": "Democratic Republic of the Congo",
           "aliases": ["DR Congo", "DRC", "Congo-Kinshasa"]},
    # "Congo" alone is left out: in the news it usually means the DR Congo.
    "CG": {"name": "Republic of the Congo", "aliases": ["Congo-Brazzaville"],
           "drop": ["Congo"]},
    "CI": {"aliases": ["Ivory Coast"]},
    "TL": {"aliases": ["East Timor"]},
    "CV": {"aliases": ["Cape Verde"]},
    "SZ": {"aliases": ["Swaziland"]},
    "MM": {"aliases": ["Burma"]},
    "BN": {"name": "Brunei"},
    "MO": {"aliases": ["Macau"]},
    "VA": {"name": "Vatican City", "aliases": ["Holy See", "Vatican", "Vatican City State"]},
    "PS": {"name": "Palestine"},
    "FM": {"name": "Micronesia"},
    "VG": {"name": "British Virgin Islands"},
    "VI": {"name": "United States Virgin Islands", "aliases": ["U.S. Virgin Islands"]},
    "FK": {"name": "Falkland Islands", "aliases": ["Falklands", "Malvinas"]},
    "SX": {"name": "Sint Maarten"},
    "MF": {"aliases": ["Collectivity of Saint Martin"]},
    "CC": {"aliases": ["Cocos Islands"]},
    "PN": {"aliases": ["Pitcairn Islands"]},
    "BQ": {"aliases": ["Caribbean Netherlands"]},
    "GE": {"aliases": ["Georgia (country)"]},
    "IE": {"aliases": ["Republic of Ireland"]},
    "GM": {"aliases": ["The Gambia"]},
    "BS": {"aliases": ["The Bahamas"]},
}


class BuildError(Exception):
    pass


# ---------------------------------------------------------------------------
# Folding: the same key the server computes (src/domain/fold.h): compatibility
# decomposition, case folding, accents stripped, words are runs of letters and
# digits joined by single spaces.
# ---------------------------------------------------------------------------
SPELL_OUT = {"æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "ł": "l",
             "þ": "th", "ı": "i", "ħ": "h", "ŋ": "n", "ß": "ss"}


def fold_key(text):
    out = []
    for ch in unicodedata.normalize("NFKD", text):
        if unicodedata.category(ch) == "Mn":
            continue
        for c in ch.casefold():
            c = SPELL_OUT.get(c, c)
            out.append(c if c.isalnum() else " ")
    return " ".join("".join(out).split())


JOINING_WORDS = frozenset(
    "a an and at by da de del della der des di do dos du e el en et for from "
    "in la las le les los of on the to und van von y".split())


def alias_is_useful(alias):
    """The lead rule: an upper-case letter or a digit (so common lower-case
    words that would link everywhere go), at least one letter, and at least
    two letters or digits (so "1950", "R" or "€" go)."""
    if not any(c.isupper() or c.isdigit() for c in alias):
        return False
    if not any(c.isalpha() for c in alias):
        return False
    return len(fold_key(alias).replace(" ", "")) >= 2


def alias_looks_like_name(alias, name):
    """The further rules of the module docstring; True when alias may stay."""
    for word in alias.split():
        if word.lower() in JOINING_WORDS:
            continue
        if not any(c.isupper() or c.isdigit() for c in word):
            return False  # "A fire", "Pakistani soldiers"
    for sep in (" (", ", "):
        if sep in name and alias == name.split(sep, 1)[0]:
            return False  # "Washington" of "Washington (state)"
    if name.startswith(alias + " of "):
        return False  # "Prime Minister" of "Prime Minister of Hungary"
    if " " not in alias and not (alias.isupper() and len(alias) <= 5):
        head = fold_key(name).split(" ")[0]
        if fold_key(alias)[:3] != head[:3]:
            return False  # "Pakistani" for "High Commission of Pakistan"
    return True


_INTERWIKI = re.compile(r"^[a-z]{2,3}:(?=\S)")


def readable(name):
    """Wikipedia titles use underscores for spaces; a link to another
    language's Wikipedia starts with its code ("es:Augusto Blacker Miller")."""
    return " ".join(_INTERWIKI.sub("", name).replace("_", " ").split())


def strip_the(name):
    return name[4:] if name.startswith("the ") else name


# ---------------------------------------------------------------------------
# Which annotations are named entities.  Shared with build.py, which uses the
# decisions recorded by make_gazetteer() for the articles' payload entities.
# ---------------------------------------------------------------------------
# Whole names (folded) that are not names of anything: GUM annotates every
# mention, and the one-word ones below are pronouns, quantities, dates or
# generic nouns that would link every article using the word.
NOT_NAMES = frozenset([
    # pronouns and indefinites
    "i", "me", "we", "us", "you", "he", "she", "it", "they", "them",
    "anyone", "anybody", "someone", "somebody", "everyone", "everybody",
    "no one", "nobody", "none", "others", "another",
    # quantities
    "hundreds", "thousands", "millions", "billions", "dozens", "many",
    "few", "several", "some", "all", "both", "most",
    # dates and seasons
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
    "sunday", "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
    "today", "tonight", "yesterday", "tomorrow", "weekend",
    "spring", "summer", "autumn", "fall", "winter",
    # generic nouns for people, groups and things
    "people", "person", "world", "public", "visitors", "voters", "parents",
    "politicians", "scientists", "hackers", "magicians", "magazines",
    "armies", "army", "officers", "police", "customs", "pilot", "jet pilot",
    "agnostics", "artist", "editor", "ed", "members", "commanders",
    "technology", "mathematics", "humanities", "peace", "citation",
    "international president", "muslim student", "scientology critic",
])
# "<group> of ...": a generic group, not the name of one.
GROUP_NOUNS = frozenset(["members", "commanders", "officers", "people", "leaders"])


def _is_number(word):
    """A number, year or decade as folded: "10", "1776", "1930s"."""
    return word.isdigit() or (word[:-1].isdigit() and word.endswith("s"))


def is_title(source, ent):
    """Whether a source annotation is named by a Wikipedia title (every
    Current-events link, and the GUM entities GUM links to Wikipedia, which
    have underscores and carry the readable title as an alias) rather than
    by its mention text."""
    return source != "gum" or "_" in ent["name"] or bool(ent.get("aliases"))


def not_a_name(name, title=False):
    """Why a name (as readable() gives it) is not the name of anything, or
    None.  The rule for every source; the rules on the shape of a mention
    ("Rebecca and I", "Thad's") only for names that are not Wikipedia titles
    ("Claire's" is a shop)."""
    words = fold_key(name).split(" ")
    if all(_is_number(w) for w in words):
        return "number or date"
    if name.isupper() and 2 <= len(name) <= 5:
        return None  # an acronym ("US", "IT"), not the word
    if all(_is_number(w) or w in NOT_NAMES for w in words) or " ".join(words) in NOT_NAMES:
        return "pronoun, quantity, date or generic noun"
    if len(words) > 2 and words[0] in GROUP_NOUNS and words[1] == "of":
        return "pronoun, quantity, date or generic noun"
    if title:
        return None
    if words[-2:] == ["and", "i"]:
        return "speaker and I"
    plain = name.replace("\u2019", "'")
    if plain.endswith("'s") or ("'s " in plain and " and " in plain):
        return "possessive or two mentions"
    return None


def starts_like_name(text):
    """An upper-case letter or a digit first, or a short lower-case prefix
    glued to a capital in the first word ("iPhone", "wikiHow", "al-Mahrah")."""
    if not text:
        return False
    if text[0].isupper() or text[0].isdigit():
        return True
    first = text.split()[0]
    for i, c in enumerate(first[:6]):
        if c.isupper():
            return i > 0 and all(ch.islower() or ch == "-" for ch in first[:i])
        if not (c.islower() or c == "-"):
            return False
    return False


def every_word_capitalised(text):
    return all(starts_like_name(w) or w.lower() in JOINING_WORDS for w in text.split())


_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)]*\s+$")


def lower_case_words(texts):
    """The words written in lower case somewhere in the texts."""
    return frozenset(w for t in texts for w in re.findall(r"\w+", t) if w.islower())


def surface_is_name(form, text, lower_words=frozenset()):
    """Whether a link text `form`, as written in the item `text`, is written
    as a name: it starts like one, is not a bare number, and is not
    capitalised only because it opens a sentence.  At the start of a
    sentence a form counts only if all its words are capitalised and, for a
    single word, that word is not written in lower case elsewhere in the
    demo articles (`lower_words`): "Police ..." and "Fashion ..." do not
    count."""
    form = " ".join(form.split())
    if form and not form[0].isalnum():
        return True  # a symbol ("€" for Euro): nothing to tell by
    if not starts_like_name(form) or all(_is_number(w) for w in fold_key(form).split(" ")):
        return False
    starts = [m.start() for m in re.finditer(re.escape(form), text)]
    if any(i > 0 and not _SENTENCE_END.search(text[:i]) for i in starts) or not starts:
        return True  # written so mid-sentence (or not found: judge the form)
    if " " not in form:
        return form.lower() not in lower_words
    return every_word_capitalised(form)


def surface_forms(ent):
    """The link texts of a Current-events entity: its aliases, or its title
    when the link text is the title itself."""
    return [readable(a) for a in ent.get("aliases") or []] or [readable(ent["name"])]


def item_text(record):
    return record.get("body_text") or record.get("headline") or ""


# ---------------------------------------------------------------------------
class Entry:
    def __init__(self, name, country_code=None):
        self.name = name
        self.country_code = country_code
        self.aliases = []  # in first-seen order; sorted at output
        self.types = Counter()
        self.description = None
        self.capitalised = False  # written with a capital somewhere
        self.curated = None  # a country's own aliases (set of strings)
        self.sources = set()

    def add_alias(self, alias):
        alias = " ".join(alias.split())
        if alias and alias not in self.aliases:
            self.aliases.append(alias)


class Gazetteer:
    def __init__(self):
        self.entries = []
        self.by_name = {}  # folded name -> entry
        self.country_keys = {}  # folded country name or alias -> entry
        # (publication slug, external id) -> [entry or None], one per source
        # annotation of that article, in order
        self.decisions = {}

    def find_or_add(self, name, source):
        key = fold_key(name)
        if not key:
            raise BuildError("entity name %r has no letters or digits" % name)
        entry = self.by_name.get(key)
        if entry is None and source != "iso":
            entry = self.country_keys.get(key)
        if entry is None:
            entry = Entry(name)
            self.entries.append(entry)
            self.by_name[key] = entry
        entry.sources.add(source)
        return entry


def load_countries(gaz, iso_dir):
    path = os.path.join(iso_dir, "iso_3166-1.json")
    try:
        with open(path, encoding="utf-8") as f:
            countries = json.load(f)["3166-1"]
    except OSError as e:
        raise BuildError("%s (install Debian's iso-codes package: "
                         "apt-get install -y iso-codes)" % e)
    known = {c["alpha_2"] for c in countries}
    unknown = sorted(set(COUNTRY_EXTRA) - known)
    if unknown:
        raise BuildError("COUNTRY_EXTRA names codes iso-codes lacks: %s" % unknown)
    for c in sorted(countries, key=lambda c: c["alpha_2"]):
        extra = COUNTRY_EXTRA.get(c["alpha_2"], {})
        name = extra.get("name") or c.get("common_name") or c["name"]
        candidates = [c["name"], strip_the(c.get("official_name", "")),
                      c.get("common_name", "")] + extra.get("aliases", [])
        entry = gaz.find_or_add(name, "iso")
        if entry.country_code:
            raise BuildError("two countries named %r" % name)
        entry.country_code = c["alpha_2"]
        entry.types["place"] += 1
        entry.capitalised = True
        entry.description = "Country or territory (ISO 3166-1 code %s)" % c["alpha_2"]
        for alias in candidates:
            if alias and alias != name and alias not in extra.get("drop", []):
                entry.add_alias(alias)
        entry.curated = set(entry.aliases)
        for key in [fold_key(name)] + [fold_key(a) for a in entry.aliases]:
            other = gaz.country_keys.setdefault(key, entry)
            if other is not entry:
                raise BuildError("%r and %r share the name key %r"
                                 % (other.name, entry.name, key))
    return len(countries)


def read_sources(data):
    """The annotated records: all GUM Wikinews articles and the Current-events
    items build.py selects, in the order build_gazetteer reads them."""
    wikinews = build.read_ndjson(os.path.join(data, build.WIKINEWS_FILE))
    items = build.select_current_events(
        build.read_ndjson(os.path.join(data, build.CURRENT_EVENTS_FILE)),
        build.PER_MONTH_QUOTA)
    return wikinews, items


def record_key(record):
    return (record["publication"]["slug"], record["external_id"])


def load_annotations(gaz, wikinews, items, subdivisions):
    """Adds the entities of the demo articles (see the module docstring for
    which annotations count).  Records, per article, the entry each of its
    annotations became (None for one that was dropped) in gaz.decisions."""
    counts = Counter()
    dropped = Counter()
    sources = (("gum", wikinews), ("wcep", items))
    for _, records in sources:
        for record in records:
            for ent in record.get("entities") or []:
                if ent.get("type", "other") not in TYPES:
                    raise BuildError("%s: unknown type %r"
                                     % (record["external_id"], ent.get("type")))
    # First pass: which names are written as names somewhere.  A name GUM
    # annotates counts; a Current-events link counts when one of its
    # surface forms is a name (decided over all the items together).
    named = set()
    lower_words = lower_case_words(item_text(r) for r in wikinews + items)
    for source, records in sources:
        for record in records:
            for ent in record.get("entities") or []:
                name = readable(ent["name"])
                if not_a_name(name, is_title(source, ent)):
                    continue
                if source == "gum":
                    if starts_like_name(name):
                        named.add(fold_key(name))
                elif any(surface_is_name(f, item_text(record), lower_words)
                         for f in surface_forms(ent)):
                    named.add(fold_key(name))
    # Second pass: add what stays.
    pending_other = []
    for source, records in sources:
        for record in records:
            decided = gaz.decisions.setdefault(record_key(record), [])
            for ent in record.get("entities") or []:
                counts[source] += 1
                name = readable(ent["name"])
                key = fold_key(name)
                if not key:
                    raise BuildError("entity name %r has no letters or digits" % name)
                reason = not_a_name(name, is_title(source, ent))
                if reason is None and source == "gum" and not starts_like_name(name):
                    reason = "GUM name not capitalised"
                if reason is None and key not in named and key not in gaz.country_keys:
                    reason = "common noun (no link text written as a name)"
                if reason is not None:
                    dropped[reason] += 1
                    decided.append(None)
                    continue
                entry = gaz.find_or_add(name, source)
                decided.append(entry)
                aliases = [readable(a) for a in ent.get("aliases") or []]
                if source == "gum":
                    entry.types[ent["type"]] += 1
                    entry.capitalised = True
                else:
                    pending_other.append(entry)
                    if key in named:
                        entry.capitalised = True
                for alias in aliases:
                    entry.add_alias(alias)
    # Current-events entities have no type; a place only where that is sure.
    for entry in pending_other:
        if not entry.types:
            if entry.capitalised and entry.name in subdivisions:
                entry.types["place"] += 1
            else:
                entry.types["other"] += 1
    return counts, dropped


def load_subdivisions(iso_dir):
    path = os.path.join(iso_dir, "iso_3166-2.json")
    with open(path, encoding="utf-8") as f:
        return {s["name"] for s in json.load(f)["3166-2"]}


def choose_type(entry):
    if entry.country_code:
        return "place"
    top = max(entry.types.values())
    return next(t for t in TYPE_PRIORITY if entry.types.get(t) == top)


def clean_aliases(gaz):
    """Drops useless, redundant and ambiguous aliases.  Returns counts."""
    dropped = Counter()
    # Ambiguity is judged on the link texts as the sources give them: one
    # that points at several entities ("Supreme Court", "Italian") names
    # none of them for sure, even when the other rules drop it elsewhere.
    holders = defaultdict(set)  # folded alias -> entries that have it
    for entry in gaz.entries:
        for alias in entry.aliases:
            holders[fold_key(alias)].add(id(entry))
    for entry in gaz.entries:
        name_key = fold_key(entry.name)
        kept, keys = [], set()
        for alias in sorted(entry.aliases, key=lambda a: (fold_key(a), a)):
            key = fold_key(alias)
            if entry.country_code and alias not in entry.curated:
                dropped["link text of a country"] += 1
            elif not alias_is_useful(alias):
                dropped["lower-case, no letter or too short"] += 1
            elif key == name_key and not (alias.isupper() and len(alias) <= 5):
                dropped["same as the name"] += 1
            elif entry.curated is None and not alias_looks_like_name(alias, entry.name):
                dropped["not a name"] += 1
            elif key in keys:
                dropped["same as another alias"] += 1
            else:
                kept.append(alias)
                keys.add(key)
        entry.aliases = kept
    for entry in gaz.entries:
        kept = []
        for alias in entry.aliases:
            key = fold_key(alias)
            owner = gaz.by_name.get(key) or gaz.country_keys.get(key)
            if owner is not None and owner is not entry:
                dropped["another entity's name"] += 1
            elif owner is None and len(holders[key]) > 1:
                dropped["shared by several entities"] += 1
            else:
                kept.append(alias)
        entry.aliases = kept
    return dropped


def make_gazetteer(data, iso_dir=ISO_CODES_DIR):
    """Builds the cleaned gazetteer from the sources.  Returns (gaz, stats)."""
    gaz = Gazetteer()
    n_countries = load_countries(gaz, iso_dir)
    subdivisions = load_subdivisions(iso_dir)
    wikinews, items = read_sources(data)
    mentions, entities_dropped = load_annotations(gaz, wikinews, items, subdivisions)
    aliases_dropped = clean_aliases(gaz)
    gaz.entries.sort(key=lambda e: (fold_key(e.name), e.name))
    return gaz, {
        "countries": n_countries, "wikinews": len(wikinews), "items": len(items),
        "mentions": mentions, "entities_dropped": entities_dropped,
        "aliases_dropped": aliases_dropped,
    }


def entry_record(entry):
    """The gazetteer line of an entry."""
    return OrderedDict([
        ("name", entry.name),
        ("type", choose_type(entry)),
        ("aliases", sorted(entry.aliases, key=lambda a: (fold_key(a), a))),
        ("wikidata", None),
        ("description", entry.description),
    ])


def payload_entities(gaz, record):
    """The cleaned `entities` of a source record, for articles.ndjson: the
    annotations that stay, under their gazetteer entry's name and type, with
    only those of their own names and link texts that the entry keeps as
    aliases; one item per entry, in the order of first annotation."""
    decided = gaz.decisions.get(record_key(record))
    ents = record.get("entities") or []
    if decided is None or len(decided) != len(ents):
        raise BuildError("%s: not read by the gazetteer" % record["external_id"])
    out = OrderedDict()  # id(entry) -> (entry, set of aliases)
    for ent, entry in zip(ents, decided):
        if entry is None:
            continue
        _, given = out.setdefault(id(entry), (entry, set()))
        kept = set(entry.aliases)
        for text in [readable(ent["name"])] + [readable(a) for a in ent.get("aliases") or []]:
            if text in kept:
                given.add(text)
    result = []
    for entry, given in out.values():
        item = OrderedDict([("name", entry.name), ("type", choose_type(entry))])
        if given:
            item["aliases"] = sorted(given, key=lambda a: (fold_key(a), a))
        result.append(item)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", default=None,
        help="shared data folder (default: ../shared/data from the repository top)")
    parser.add_argument(
        "--iso-codes", default=ISO_CODES_DIR,
        help="iso-codes JSON folder (default: %s)" % ISO_CODES_DIR)
    parser.add_argument(
        "--out", default=os.path.join(HERE, "gazetteer.ndjson"),
        help="output file (default: server/demo/gazetteer.ndjson)")
    args = parser.parse_args(argv)
    data = args.data or os.path.normpath(os.path.join(build.REPO_TOP, "..", "shared", "data"))

    gaz, stats = make_gazetteer(data, args.iso_codes)
    entries = gaz.entries
    lines = [json.dumps(entry_record(e), ensure_ascii=False, separators=(",", ":"))
             for e in entries]

    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
    os.replace(tmp, args.out)

    by_type = Counter(choose_type(e) for e in entries)
    print("wrote %s: %d entities, %d bytes"
          % (args.out, len(lines), os.path.getsize(args.out)))
    print("  by type: " + ", ".join("%s %d" % (t, by_type[t]) for t in TYPES))
    print("  sources: %d ISO 3166-1 countries; %d GUM annotations from %d Wikinews "
          "articles; %d links from %d Current-events items"
          % (stats["countries"], stats["mentions"]["gum"], stats["wikinews"],
             stats["mentions"]["wcep"], stats["items"]))
    print("  annotations dropped: " + ", ".join(
        "%s %d" % kv for kv in sorted(stats["entities_dropped"].items())))
    print("  countries that absorbed annotated entities: %d"
          % sum(1 for e in entries if e.country_code and len(e.sources) > 1))
    print("  aliases kept: %d; dropped: %s"
          % (sum(len(e.aliases) for e in entries),
             ", ".join("%s %d" % kv for kv in sorted(stats["aliases_dropped"].items()))))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BuildError, build.BuildError, OSError, ValueError, KeyError) as e:
        print("build_gazetteer.py: %s" % e, file=sys.stderr)
        sys.exit(1)
