/*
 * keys.c - API keys: only the key id and a hash of the secret are stored.
 */
#include "store/store_impl.h"

#include <string.h>

enum ns_err store_key_create(struct store *st, const char *name, const char *scope,
                             const struct apikey *key, int64_t now)
{
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO api_keys (name, key_id, secret_hash, scope,"
                                     " created_at) VALUES (?, ?, ?, ?, ?)");
    if (!s)
        return store_stmt_failed(st);
    bind_text(s, 1, name);
    bind_text(s, 2, key->id);
    sqlite3_bind_blob(s, 3, key->hash, APIKEY_HASH_LEN, SQLITE_STATIC);
    bind_text(s, 4, scope);
    sqlite3_bind_int64(s, 5, now);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

enum ns_err store_keys_list(struct store *st, struct arena *a, struct key_row **rows, size_t *n)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT name, scope, created_at, last_used_at, revoked_at"
                                     " FROM api_keys ORDER BY name");
    if (!s)
        return store_stmt_failed(st);
    size_t cap = 0;
    int rc;
    *rows = NULL;
    *n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct key_row *grown = arena_grow(a, *rows, *n, &cap, sizeof(*grown));
        if (!grown) {
            sqlite3_reset(s);
            return NS_ERR_NOMEM;
        }
        *rows = grown;
        struct key_row *r = &(*rows)[(*n)++];
        r->name = col_text(a, s, 0);
        r->scope = col_text(a, s, 1);
        r->created_at = sqlite3_column_int64(s, 2);
        r->used = sqlite3_column_type(s, 3) != SQLITE_NULL;
        r->last_used_at = sqlite3_column_int64(s, 3);
        r->revoked = sqlite3_column_type(s, 4) != SQLITE_NULL;
        r->revoked_at = sqlite3_column_int64(s, 4);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

enum ns_err store_key_revoke(struct store *st, const char *name, int64_t now)
{
    sqlite3_stmt *s = store_stmt(st, "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?)"
                                     " WHERE name = ?");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, now);
    bind_text(s, 2, name);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_err(rc);
    return sqlite3_changes(st->db) ? NS_OK : NS_ERR_NOT_FOUND;
}

enum ns_err store_key_verify(struct store *st, const struct apikey *key, int64_t now,
                             bool *admin)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT secret_hash, scope, revoked_at IS NOT NULL,"
                                     " coalesce(last_used_at, 0) FROM api_keys WHERE key_id = ?");
    if (!s)
        return store_stmt_failed(st);
    bind_text(s, 1, key->id);
    int rc = sqlite3_step(s);
    bool ok = false;
    int64_t last_used = 0;
    if (rc == SQLITE_ROW) {
        unsigned char stored[APIKEY_HASH_LEN] = {0};
        if (sqlite3_column_bytes(s, 0) == APIKEY_HASH_LEN)
            memcpy(stored, sqlite3_column_blob(s, 0), APIKEY_HASH_LEN);
        const char *scope = (const char *)sqlite3_column_text(s, 1);
        *admin = scope && strcmp(scope, "admin") == 0;
        ok = apikey_hash_equal(stored, key->hash) && !sqlite3_column_int(s, 2);
        last_used = sqlite3_column_int64(s, 3);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_err(rc);
    if (!ok)
        return NS_ERR_NOT_FOUND;
    if (now - last_used >= 60) { /* a minute's precision is plenty, and spares a write a request */
        s = store_stmt(st, "UPDATE api_keys SET last_used_at = ? WHERE key_id = ?");
        if (s) {
            /* best effort: never hold a request up for a lock another writer has, nor fail
             * it when the database cannot be written (the write itself will say so) */
            sqlite3_busy_timeout(st->db, 0);
            sqlite3_bind_int64(s, 1, now);
            bind_text(s, 2, key->id);
            sqlite3_step(s);
            sqlite3_reset(s);
            sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
        }
    }
    return NS_OK;
}
