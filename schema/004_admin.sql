-- 004_admin: API keys, entity merges, editors' picks.

-- A key is "ns_<key_id>_<secret>"; only the key id and a hash of the secret
-- are kept, so a copy of the database gives no working key.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL UNIQUE,
    key_id       TEXT NOT NULL UNIQUE,
    secret_hash  BLOB NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('ingest', 'admin')),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

-- After a merge the old id and slug keep resolving to the survivor.
CREATE TABLE entity_redirects (
    old_id   INTEGER PRIMARY KEY,
    old_slug TEXT NOT NULL UNIQUE,
    into_id  INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE
);

CREATE TABLE picks (
    position   INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL UNIQUE REFERENCES articles (id) ON DELETE CASCADE
);
