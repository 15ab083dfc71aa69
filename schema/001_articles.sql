-- 001_articles: publications, authors, articles and the article-author link.
-- Times are seconds since the Unix epoch (UTC). Ids are never reused.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- The key that seals pagination cursors; made once per database so cursors
-- survive restarts but cannot be forged.
INSERT INTO settings (key, value) VALUES ('cursor_key', randomblob(32));

CREATE TABLE publications (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    homepage   TEXT,
    country    TEXT,
    language   TEXT,
    created_at INTEGER NOT NULL
);

-- A byline belongs to the publication it was first seen at: the same name at
-- two publications is two authors until an editor says otherwise.
CREATE TABLE authors (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    slug           TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    publication_id INTEGER REFERENCES publications (id),
    created_at     INTEGER NOT NULL,
    UNIQUE (publication_id, name)
);

CREATE TABLE articles (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    slug           TEXT NOT NULL UNIQUE,
    publication_id INTEGER NOT NULL REFERENCES publications (id),
    external_id    TEXT,
    url            TEXT,
    headline       TEXT NOT NULL,
    standfirst     TEXT,
    section        TEXT,
    section_key    TEXT,            -- the section's slug, for case/accent-blind filters
    language       TEXT NOT NULL,
    access         TEXT NOT NULL CHECK (access IN ('free', 'premium')),
    image_url      TEXT,
    image_caption  TEXT,
    image_credit   TEXT,
    image_alt      TEXT,
    image_width    INTEGER,
    image_height   INTEGER,
    blocks         TEXT NOT NULL,   -- JSON array of typed blocks, as served
    word_count     INTEGER NOT NULL,
    published_at   INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    content_hash   BLOB NOT NULL    -- of the normalised write, to spot no-op updates
);

CREATE UNIQUE INDEX articles_by_external_id ON articles (publication_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX articles_by_url ON articles (publication_id, url)
    WHERE url IS NOT NULL;
CREATE INDEX articles_by_time ON articles (published_at, id);
CREATE INDEX articles_by_publication_time ON articles (publication_id, published_at, id);
CREATE INDEX articles_by_section_time ON articles (section_key, published_at, id);

CREATE TABLE article_authors (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    author_id  INTEGER NOT NULL REFERENCES authors (id),
    position   INTEGER NOT NULL,
    PRIMARY KEY (article_id, author_id)
) WITHOUT ROWID;

CREATE INDEX article_authors_by_author ON article_authors (author_id, article_id);
