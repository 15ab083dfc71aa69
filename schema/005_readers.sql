-- 005_readers: reader accounts, sessions, follows, bookmarks, reads.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT NOT NULL UNIQUE,     -- trimmed and lowercased
    name            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,            -- Argon2id, libsodium's string form
    plan            TEXT NOT NULL CHECK (plan IN ('free', 'trial', 'member')),
    plan_expires_at INTEGER,
    created_at      INTEGER NOT NULL
);

-- A session token is kept only as a hash.
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_by_user ON sessions (user_id);

-- Failed sign-ins per email, for throttling.
CREATE TABLE sign_in_failures (
    email     TEXT PRIMARY KEY,
    failures  INTEGER NOT NULL,
    window_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE follows (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('topic', 'entity', 'publication', 'author')),
    target_id  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind, target_id)
) WITHOUT ROWID;

CREATE TABLE bookmarks (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, article_id)
) WITHOUT ROWID;

CREATE INDEX bookmarks_by_time ON bookmarks (user_id, created_at, article_id);

-- A reader's history: the latest read of each article.
CREATE TABLE history (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    read_at    INTEGER NOT NULL,
    PRIMARY KEY (user_id, article_id)
) WITHOUT ROWID;

CREATE INDEX history_by_time ON history (user_id, read_at, article_id);

-- Reads counted per article and hour: top stories sum a window of buckets
-- instead of counting every read.
CREATE TABLE read_counts (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    hour       INTEGER NOT NULL,              -- seconds since the epoch / 3600
    reads      INTEGER NOT NULL,
    PRIMARY KEY (article_id, hour)
) WITHOUT ROWID;

CREATE INDEX read_counts_by_hour ON read_counts (hour, article_id);

ALTER TABLE articles ADD COLUMN reads INTEGER NOT NULL DEFAULT 0;   -- all-time, for sort=popular
CREATE INDEX articles_by_reads ON articles (reads, id);
