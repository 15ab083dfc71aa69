/*
 * store.c - connections, pragmas, the statement cache and transactions.
 *
 * Every statement text used by the store is a fixed string or assembled
 * from fixed fragments; values are always bound, never spliced into SQL.
 */
#include "store/store_impl.h"

#include "core/buf.h"
#include "store/search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void store_global_init(void)
{
    /* Memory statistics take a global mutex on every allocation. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
}

enum ns_err store_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return NS_OK;
    case SQLITE_NOMEM:
        return NS_ERR_NOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return NS_ERR_BUSY;
    case SQLITE_CONSTRAINT:
        return NS_ERR_CONFLICT;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
        return NS_ERR_IO;
    default:
        return NS_ERR_DB;
    }
}

static const char *const pragmas =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = NORMAL;"
    "PRAGMA foreign_keys = ON;"
    "PRAGMA temp_store = MEMORY;"
    "PRAGMA mmap_size = 268435456;"
    "PRAGMA cache_size = -16000;";

enum ns_err store_open(const char *path, struct store **out)
{
    *out = NULL;
    struct store *st = calloc(1, sizeof(*st));
    if (!st)
        return NS_ERR_NOMEM;
    int rc = sqlite3_open_v2(path, &st->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(st->db, 5000);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(st->db, pragmas, NULL, NULL, NULL);
    if (rc == SQLITE_OK && store_search_register(st) != NS_OK)
        rc = SQLITE_ERROR;
    if (rc != SQLITE_OK) {
        enum ns_err err = store_err(rc);
        store_close(st);
        return err == NS_OK ? NS_ERR_DB : err;
    }
    *out = st;
    return NS_OK;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < STMT_CACHE_SLOTS; i++) {
        sqlite3_finalize(st->cache[i].stmt);
        free(st->cache[i].sql);
    }
    sqlite3_close_v2(st->db);
    free(st);
}

const char *store_errmsg(const struct store *st)
{
    return st && st->db ? sqlite3_errmsg(st->db) : "no database";
}

static size_t sql_hash(const char *sql)
{
    size_t h = 5381;
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = h * 33 + *p;
    return h;
}

sqlite3_stmt *store_stmt(struct store *st, const char *sql)
{
    size_t start = sql_hash(sql) % STMT_CACHE_SLOTS;
    for (size_t k = 0; k < STMT_CACHE_SLOTS; k++) {
        struct stmt_slot *slot = &st->cache[(start + k) % STMT_CACHE_SLOTS];
        if (!slot->sql)
            break;
        if (strcmp(slot->sql, sql) == 0) {
            sqlite3_reset(slot->stmt);
            sqlite3_clear_bindings(slot->stmt);
            return slot->stmt;
        }
    }
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK)
        return NULL;
    char *copy = strdup(sql);
    if (!copy) {
        sqlite3_finalize(stmt);
        return NULL;
    }
    struct stmt_slot *slot = NULL;
    for (size_t k = 0; k < STMT_CACHE_SLOTS && !slot; k++)
        if (!st->cache[(start + k) % STMT_CACHE_SLOTS].sql)
            slot = &st->cache[(start + k) % STMT_CACHE_SLOTS];
    if (!slot) {
        /* Full: evict round-robin. Shapes are bounded, so this is rare. Open
         * addressing needs no tombstones because a full table has no gaps. */
        slot = &st->cache[st->next_evict++ % STMT_CACHE_SLOTS];
        sqlite3_finalize(slot->stmt);
        free(slot->sql);
    }
    slot->sql = copy;
    slot->stmt = stmt;
    return stmt;
}

enum ns_err store_step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

const char *col_text(struct arena *a, sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    if (!t)
        return NULL;
    return arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(s, i));
}

int bind_text(sqlite3_stmt *s, int i, const char *v)
{
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

static enum ns_err exec_simple(struct store *st, const char *sql)
{
    sqlite3_stmt *s = store_stmt(st, sql);
    if (!s)
        return store_err(sqlite3_errcode(st->db));
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

enum ns_err store_begin(struct store *st)
{
    return exec_simple(st, "BEGIN IMMEDIATE");
}

enum ns_err store_begin_read(struct store *st)
{
    return exec_simple(st, "BEGIN DEFERRED");
}

enum ns_err store_commit(struct store *st)
{
    return exec_simple(st, "COMMIT");
}

void store_rollback(struct store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

enum ns_err store_savepoint(struct store *st)
{
    return exec_simple(st, "SAVEPOINT article");
}

enum ns_err store_release(struct store *st)
{
    return exec_simple(st, "RELEASE article");
}

void store_rollback_savepoint(struct store *st)
{
    if (exec_simple(st, "ROLLBACK TO article") == NS_OK)
        exec_simple(st, "RELEASE article");
}

enum ns_err store_cursor_key(struct store *st, unsigned char key[CURSOR_KEY_LEN])
{
    sqlite3_stmt *s = store_stmt(st, "SELECT value FROM settings WHERE key = 'cursor_key'");
    if (!s)
        return store_err(sqlite3_errcode(st->db));
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return rc == SQLITE_DONE ? NS_ERR_NOT_FOUND : store_err(rc);
    }
    enum ns_err err = NS_ERR_DB;
    if (sqlite3_column_bytes(s, 0) == CURSOR_KEY_LEN) {
        memcpy(key, sqlite3_column_blob(s, 0), CURSOR_KEY_LEN);
        err = NS_OK;
    }
    sqlite3_reset(s);
    return err;
}

enum ns_err store_check(struct store *st, struct arena *a, bool *ok, const char **report)
{
    static const char *const checks[] = {"PRAGMA integrity_check", "PRAGMA foreign_key_check"};
    struct buf out;
    enum ns_err err = NS_OK;
    buf_init(&out);
    *ok = true;
    for (size_t c = 0; c < sizeof(checks) / sizeof(checks[0]) && err == NS_OK; c++) {
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(st->db, checks[c], -1, &s, NULL);
        while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            const char *line = (const char *)sqlite3_column_text(s, 0);
            if (c == 0 && line && strcmp(line, "ok") == 0)
                continue;
            *ok = false;
            buf_printf(&out, "%s%s\n", c == 0 ? "" : "foreign key violation in table ",
                       line ? line : "?");
        }
        if (rc != SQLITE_DONE)
            err = store_err(rc);
        sqlite3_finalize(s);
    }
    if (err == NS_OK && store_search_check(st) != NS_OK) {
        *ok = false;
        buf_printf(&out, "search index: %s\n", sqlite3_errmsg(st->db));
    }
    *report = buf_failed(&out) ? "out of memory" : arena_strdup(a, out.data ? out.data : "");
    buf_release(&out);
    return err;
}

enum ns_err store_backup(struct store *st, const char *dest)
{
    sqlite3 *out = NULL;
    int rc = sqlite3_open_v2(dest, &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK) {
        /* one step copies everything under one read lock: a consistent snapshot */
        sqlite3_backup *b = sqlite3_backup_init(out, "main", st->db, "main");
        if (!b) {
            rc = sqlite3_errcode(out);
        } else {
            rc = sqlite3_backup_step(b, -1);
            int finish = sqlite3_backup_finish(b);
            rc = rc == SQLITE_DONE ? finish : rc;
        }
    }
    sqlite3_close_v2(out);
    return rc == SQLITE_OK ? NS_OK : store_err(rc);
}

enum ns_err store_size(struct store *st, int64_t *db_bytes, int64_t *wal_bytes)
{
    *db_bytes = *wal_bytes = 0;
    PREPARE(s, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()");
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *db_bytes = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return store_err(rc);
    const char *path = sqlite3_db_filename(st->db, "main");
    char wal[4096];
    struct stat sb;
    if (path && snprintf(wal, sizeof(wal), "%s-wal", path) < (int)sizeof(wal) &&
        stat(wal, &sb) == 0)
        *wal_bytes = (int64_t)sb.st_size;
    return NS_OK;
}

void store_cache_stats_take(struct store *st, int64_t *hits, int64_t *misses)
{
    int cur = 0, high = 0;
    sqlite3_db_status(st->db, SQLITE_DBSTATUS_CACHE_HIT, &cur, &high, 1);
    *hits = cur;
    cur = 0;
    sqlite3_db_status(st->db, SQLITE_DBSTATUS_CACHE_MISS, &cur, &high, 1);
    *misses = cur;
}
