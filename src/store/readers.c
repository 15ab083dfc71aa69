/*
 * readers.c - reader accounts, sessions and sign-in throttling.
 *
 * Passwords arrive here already hashed (Argon2id) and tokens as hashes:
 * nothing secret is stored in the clear.
 */
#include "store/store_impl.h"

#include <string.h>

#define USER_COLUMNS "u.id, u.email, u.name, u.plan, u.plan_expires_at, u.created_at, u.password_hash"

static void read_user(struct arena *a, sqlite3_stmt *s, struct user_row *u)
{
    u->id = sqlite3_column_int64(s, 0);
    u->email = col_text(a, s, 1);
    u->name = col_text(a, s, 2);
    u->plan = col_text(a, s, 3);
    u->has_expiry = sqlite3_column_type(s, 4) != SQLITE_NULL;
    u->expires_at = sqlite3_column_int64(s, 4);
    u->created_at = sqlite3_column_int64(s, 5);
    u->password_hash = col_text(a, s, 6);
}

/* Runs a user query bound by the caller; NS_ERR_NOT_FOUND when no row. */
static enum ns_err one_user(struct arena *a, sqlite3_stmt *s, struct user_row *out)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_user(a, s, out);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? NS_OK : rc == SQLITE_DONE ? NS_ERR_NOT_FOUND : store_err(rc);
}

enum ns_err store_user_create(struct store *st, const char *email, const char *name,
                              const char *password_hash, const char *plan, int64_t expires_at,
                              int64_t now, int64_t *id)
{
    PREPARE(s, "INSERT INTO users (email, name, password_hash, plan, plan_expires_at, created_at)"
               " VALUES (?, ?, ?, ?, ?, ?)");
    bind_text(s, 1, email);
    bind_text(s, 2, name);
    bind_text(s, 3, password_hash);
    bind_text(s, 4, plan);
    sqlite3_bind_int64(s, 5, expires_at);
    sqlite3_bind_int64(s, 6, now);
    enum ns_err err = store_step_done(s);
    if (!err)
        *id = sqlite3_last_insert_rowid(st->db);
    return err;
}

enum ns_err store_user_get(struct store *st, struct arena *a, int64_t id, struct user_row *out)
{
    PREPARE(s, "SELECT " USER_COLUMNS " FROM users u WHERE u.id = ?");
    sqlite3_bind_int64(s, 1, id);
    return one_user(a, s, out);
}

enum ns_err store_user_by_email(struct store *st, struct arena *a, const char *email,
                                struct user_row *out)
{
    PREPARE(s, "SELECT " USER_COLUMNS " FROM users u WHERE u.email = ?");
    bind_text(s, 1, email);
    return one_user(a, s, out);
}

enum ns_err store_user_update(struct store *st, int64_t id, const char *name, const char *email,
                              const char *password_hash)
{
    PREPARE(s, "UPDATE users SET name = coalesce(?2, name), email = coalesce(?3, email),"
               " password_hash = coalesce(?4, password_hash) WHERE id = ?1");
    sqlite3_bind_int64(s, 1, id);
    bind_text(s, 2, name);
    bind_text(s, 3, email);
    bind_text(s, 4, password_hash);
    return store_step_done(s);
}

enum ns_err store_user_membership(struct store *st, int64_t id, const char *plan, bool has_expiry,
                                  int64_t expires_at)
{
    PREPARE(s, "UPDATE users SET plan = ?2, plan_expires_at = ?3 WHERE id = ?1");
    sqlite3_bind_int64(s, 1, id);
    bind_text(s, 2, plan);
    if (has_expiry)
        sqlite3_bind_int64(s, 3, expires_at);
    else
        sqlite3_bind_null(s, 3);
    enum ns_err err = store_step_done(s);
    return !err && sqlite3_changes(st->db) == 0 ? NS_ERR_NOT_FOUND : err;
}

enum ns_err store_user_delete(struct store *st, int64_t id)
{
    static const char *const steps[] = {
        "DELETE FROM sessions WHERE user_id = ?",  "DELETE FROM follows WHERE user_id = ?",
        "DELETE FROM bookmarks WHERE user_id = ?", "DELETE FROM history WHERE user_id = ?",
        "DELETE FROM users WHERE id = ?",
    };
    enum ns_err err = NS_OK;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && !err; i++) {
        PREPARE(s, steps[i]);
        sqlite3_bind_int64(s, 1, id);
        err = store_step_done(s);
    }
    return err;
}

enum ns_err store_session_create(struct store *st, const unsigned char hash[SESSION_HASH_LEN],
                                 int64_t user_id, int64_t now, int64_t expires_at)
{
    PREPARE(s, "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)"
               " VALUES (?, ?, ?, ?)");
    sqlite3_bind_blob(s, 1, hash, SESSION_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, user_id);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, expires_at);
    return store_step_done(s);
}

enum ns_err store_session_user(struct store *st, struct arena *a,
                               const unsigned char hash[SESSION_HASH_LEN], int64_t now,
                               struct user_row *out)
{
    PREPARE(s, "SELECT " USER_COLUMNS " FROM sessions x JOIN users u ON u.id = x.user_id"
               " WHERE x.token_hash = ? AND x.expires_at > ?");
    sqlite3_bind_blob(s, 1, hash, SESSION_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    return one_user(a, s, out);
}

enum ns_err store_session_delete(struct store *st, const unsigned char hash[SESSION_HASH_LEN])
{
    PREPARE(s, "DELETE FROM sessions WHERE token_hash = ?");
    sqlite3_bind_blob(s, 1, hash, SESSION_HASH_LEN, SQLITE_STATIC);
    return store_step_done(s);
}

enum ns_err store_sessions_end_others(struct store *st, int64_t user_id,
                                      const unsigned char keep[SESSION_HASH_LEN])
{
    PREPARE(s, "DELETE FROM sessions WHERE user_id = ? AND token_hash != ?");
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_blob(s, 2, keep, SESSION_HASH_LEN, SQLITE_STATIC);
    return store_step_done(s);
}

enum ns_err store_sign_in_failures(struct store *st, const char *email, int64_t since,
                                   int *failures, int64_t *window_at)
{
    PREPARE(s, "SELECT failures, window_at FROM sign_in_failures WHERE email = ? AND window_at >= ?");
    bind_text(s, 1, email);
    sqlite3_bind_int64(s, 2, since);
    int rc = sqlite3_step(s);
    *failures = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    *window_at = rc == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

enum ns_err store_sign_in_failed(struct store *st, const char *email, int64_t now, int64_t since)
{
    /* a window older than `since` starts afresh */
    PREPARE(s, "INSERT INTO sign_in_failures (email, failures, window_at) VALUES (?1, 1, ?2)"
               " ON CONFLICT (email) DO UPDATE SET"
               " failures = CASE WHEN window_at >= ?3 THEN failures + 1 ELSE 1 END,"
               " window_at = CASE WHEN window_at >= ?3 THEN window_at ELSE ?2 END");
    bind_text(s, 1, email);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, since);
    return store_step_done(s);
}

enum ns_err store_sign_in_clear(struct store *st, const char *email)
{
    PREPARE(s, "DELETE FROM sign_in_failures WHERE email = ?");
    bind_text(s, 1, email);
    return store_step_done(s);
}
