-- 002_entities_topics: who and what articles are about.
-- Names are matched on their folded form (case and accents removed), kept
-- in *_key columns; slugs are the public handles.

CREATE TABLE entities (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    slug          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL,        -- folded name, for lookups and prefix search
    type          TEXT NOT NULL CHECK (type IN ('person', 'organization', 'place', 'event',
                                                'work', 'other')),
    description   TEXT,
    wikidata      TEXT UNIQUE,
    article_count INTEGER NOT NULL DEFAULT 0,
    first_seen    INTEGER,              -- min published_at of linked articles
    last_seen     INTEGER,              -- max published_at of linked articles
    created_at    INTEGER NOT NULL
);

CREATE INDEX entities_by_name_key ON entities (name_key, id);
CREATE INDEX entities_by_article_count ON entities (article_count DESC, id);
CREATE INDEX entities_by_type ON entities (type, article_count DESC, id);

CREATE TABLE entity_aliases (
    entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    alias     TEXT NOT NULL,
    alias_key TEXT NOT NULL,            -- folded alias, for prefix search and matching
    alias_slug TEXT NOT NULL,           -- the alias in slug form, for lookups by path
    PRIMARY KEY (entity_id, alias)
) WITHOUT ROWID;

CREATE INDEX entity_aliases_by_key ON entity_aliases (alias_key);
CREATE INDEX entity_aliases_by_slug ON entity_aliases (alias_slug);

CREATE TABLE topics (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    parent_id  INTEGER REFERENCES topics (id),
    created_at INTEGER NOT NULL
);

CREATE TABLE article_entities (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    entity_id  INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    mentions   INTEGER NOT NULL,
    salience   REAL NOT NULL,
    given      INTEGER NOT NULL DEFAULT 0,  -- named by the writer: kept by relink
    PRIMARY KEY (article_id, entity_id)
) WITHOUT ROWID;

CREATE INDEX article_entities_by_entity ON article_entities (entity_id, article_id);

CREATE TABLE article_topics (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    topic_id   INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    PRIMARY KEY (article_id, topic_id)
) WITHOUT ROWID;

CREATE INDEX article_topics_by_topic ON article_topics (topic_id, article_id);
