/*
 * store.c - connections, pragmas, the statement cache and transactions.
 *
 * Every statement text used by the store is a fixed string or assembled
 * from fixed fragments; values are always bound, never spliced into SQL.
 */
#include "store/store_impl.h"

#include "core/buf.h"
#include "core/oom.h"
#include "store/search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SQLite's allocator, as configured before store_global_init, and a wrapper that notes refusals. */
static sqlite3_mem_methods sqlite_mem;

static void *noting_malloc(int n)
{
    void *p = sqlite_mem.xMalloc(n);
    if (!p && n > 0)
        oom_note();
    return p;
}

static void *noting_realloc(void *p, int n)
{
    void *q = sqlite_mem.xRealloc(p, n);
    if (!q && n > 0)
        oom_note();
    return q;
}

void store_global_init(void)
{
    /* Memory statistics take a global mutex on every allocation. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    /*
     * SQLite sometimes reports a failed allocation as SQLITE_ERROR; noting
     * each one lets the answer be a 503, not a 500. The default allocator
     * is only filled in by the first initialisation, so start once to read it.
     */
    sqlite3_initialize();
    sqlite3_shutdown();
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_mem) == SQLITE_OK && sqlite_mem.xMalloc &&
        sqlite_mem.xMalloc != noting_malloc) {
        sqlite3_mem_methods noting = sqlite_mem;
        noting.xMalloc = noting_malloc;
        noting.xRealloc = noting_realloc;
        sqlite3_config(SQLITE_CONFIG_MALLOC, &noting);
    }
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
    case SQLITE_FULL:
        return NS_ERR_DISK_FULL;
    case SQLITE_READONLY:
        return NS_ERR_READ_ONLY;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
        return NS_ERR_IO;
    default:
        return NS_ERR_DB;
    }
}

/*
 * No memory map, and an 8 MB page cache per connection: on the 100,000-article
 * bench database a 256 MB map made the server's resident set 530 MB under load
 * (the file's pages counted as the server's), against 60 MB without it, at
 * the same speed within the noise (article, lists, search).
 */
static const char *const pragmas =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = NORMAL;"
    "PRAGMA foreign_keys = ON;"
    "PRAGMA temp_store = MEMORY;"
    "PRAGMA mmap_size = 0;"
    "PRAGMA cache_size = -8000;";

/*
 * SQLite makes the -wal and -shm files with the database file's mode. A
 * process that once opened the database while the file was read-only to it
 * leaves a read-only -shm behind, and from then on no connection of that
 * user can write, though the database is writable again: every write fails
 * READONLY, across restarts. Gives such a file of ours back its owner's
 * write permission. Does nothing when the database itself is not writable.
 */
static void sidecar_mode_repair(const char *path)
{
    static const char *const suffixes[] = {"-shm", "-wal"};
    char name[4096];
    struct stat sb;
    if (access(path, W_OK) != 0)
        return;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (snprintf(name, sizeof(name), "%s%s", path, suffixes[i]) >= (int)sizeof(name))
            return;
        if (stat(name, &sb) == 0 && sb.st_uid == geteuid() && access(name, W_OK) != 0)
            chmod(name, (sb.st_mode & 0777) | S_IWUSR);
    }
}

enum ns_err store_open(const char *path, struct store **out)
{
    *out = NULL;
    sidecar_mode_repair(path);
    struct store *st = calloc(1, sizeof(*st));
    if (!st)
        return NS_ERR_NOMEM;
    /* A file the process may not write opens read-only: reads work, writes fail READONLY. */
    int rc = sqlite3_open_v2(path, &st->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(st->db, pragmas, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(st->db, "ROLLBACK", -1, SQLITE_PREPARE_PERSISTENT, &st->rollback,
                                NULL);
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

/* Finalizes the cached statements and closes the connection; st itself stays. */
static void store_release_connection(struct store *st)
{
    sqlite3_finalize(st->rollback);
    for (size_t i = 0; i < STMT_CACHE_SLOTS; i++) {
        sqlite3_finalize(st->cache[i].stmt);
        free(st->cache[i].sql);
    }
    for (size_t i = 0; i < COUNT_MEMO_SLOTS; i++)
        sqlite3_free(st->memo[i].query);
    sqlite3_close_v2(st->db);
}

void store_close(struct store *st)
{
    if (!st)
        return;
    store_release_connection(st);
    free(st);
}

void store_settle(const char *path)
{
    sqlite3 *db = NULL;
    /* a read opens the WAL, so closing the last connection checkpoints and removes it */
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK)
        sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    sqlite3_close(db);
}

/*
 * Opens a new connection to st's file in place of st's own; st keeps its
 * address. With writable, refuses (NS_ERR_READ_ONLY) a connection that
 * still cannot write. On any failure st is unchanged.
 */
static enum ns_err reopen(struct store *st, bool writable)
{
    const char *name = sqlite3_db_filename(st->db, "main");
    if (!name || !*name)
        return NS_ERR_DB;
    char *path = strdup(name);
    if (!path)
        return NS_ERR_NOMEM;
    struct store *fresh = NULL;
    enum ns_err err = store_open(path, &fresh);
    free(path);
    if (err)
        return err;
    if (writable && sqlite3_db_readonly(fresh->db, "main") == 1) {
        store_close(fresh);
        return NS_ERR_READ_ONLY;
    }
    store_release_connection(st);
    *st = *fresh;
    free(fresh);
    return NS_OK;
}

/*
 * A connection opened while its file could not be written stays read-only
 * after the file is writable again (its descriptor was opened so). When the
 * process may write the file now, opens a new connection in place of this
 * one. Returns NS_ERR_READ_ONLY while the file is still read-only.
 */
static enum ns_err reopen_if_writable(struct store *st)
{
    if (sqlite3_db_readonly(st->db, "main") != 1)
        return NS_OK;
    const char *name = sqlite3_db_filename(st->db, "main");
    if (!name || !*name || access(name, W_OK) != 0)
        return NS_ERR_READ_ONLY;
    return reopen(st, true);
}

/* A new connection after memory ran out in a rolled-back transaction (st->renew). */
static enum ns_err renew_if_needed(struct store *st)
{
    return st->renew ? reopen(st, false) : NS_OK;
}

enum ns_err store_stmt_failed(struct store *st)
{
    enum ns_err err = store_err(sqlite3_errcode(st->db));
    return err ? err : NS_ERR_NOMEM;
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

static enum ns_err run_count(sqlite3_stmt *s, int64_t *count)
{
    int rc = sqlite3_step(s);
    *count = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? NS_OK : store_err(rc);
}

/* The version of the database this connection's open read transaction sees; false when
 * there is none to vouch for a memo (autocommit, or a write under way). */
static bool read_version(struct store *st, unsigned *version)
{
    if (sqlite3_get_autocommit(st->db))
        return false;
    if (sqlite3_txn_state(st->db, "main") == SQLITE_TXN_NONE) {
        /* BEGIN DEFERRED has read nothing yet: take the snapshot the count would take */
        sqlite3_stmt *s = store_stmt(st, "SELECT 1 FROM sqlite_schema LIMIT 1");
        if (!s)
            return false;
        sqlite3_step(s);
        sqlite3_reset(s);
    }
    return sqlite3_txn_state(st->db, "main") == SQLITE_TXN_READ &&
           sqlite3_file_control(st->db, "main", SQLITE_FCNTL_DATA_VERSION, version) ==
               SQLITE_OK;
}

enum ns_err store_count(struct store *st, sqlite3_stmt *s, int64_t *count)
{
    unsigned version = 0;
    char *query = read_version(st, &version) ? sqlite3_expanded_sql(s) : NULL;
    if (!query)
        return run_count(s, count);
    size_t hash = sql_hash(query);
    for (size_t i = 0; i < COUNT_MEMO_SLOTS; i++) {
        struct count_memo *m = &st->memo[i];
        if (m->query && m->hash == hash && m->version == version &&
            strcmp(m->query, query) == 0) {
            sqlite3_free(query);
            sqlite3_reset(s);
            *count = m->value;
            return NS_OK;
        }
    }
    enum ns_err err = run_count(s, count);
    if (err) {
        sqlite3_free(query);
        return err;
    }
    struct count_memo *m = &st->memo[st->next_memo++ % COUNT_MEMO_SLOTS];
    sqlite3_free(m->query);
    *m = (struct count_memo){query, hash, version, *count};
    return NS_OK;
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
        return store_stmt_failed(st);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

/* True when an allocation was refused on this thread since the write transaction began. */
static bool oom_in_transaction(const struct store *st)
{
    return oom_count() != st->oom_at_begin;
}

enum ns_err store_begin(struct store *st)
{
    enum ns_err err = renew_if_needed(st);
    if (!err)
        err = reopen_if_writable(st);
    st->oom_at_begin = oom_count();
    if (!err)
        err = exec_simple(st, "BEGIN IMMEDIATE");
    st->writing = !err;
    return err;
}

enum ns_err store_begin_wait(struct store *st, int wait_ms)
{
    sqlite3_busy_timeout(st->db, wait_ms > 0 ? wait_ms : 0);
    enum ns_err err = store_begin(st);
    /* store_begin may have opened a new connection, with the usual timeout already */
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    return err;
}

enum ns_err store_begin_read(struct store *st)
{
    enum ns_err err = renew_if_needed(st);
    return err ? err : exec_simple(st, "BEGIN DEFERRED");
}

enum ns_err store_commit(struct store *st)
{
    if (st->writing && oom_in_transaction(st))
        return NS_ERR_NOMEM; /* what ran out of memory may have been FTS5 mid-update: roll back */
    enum ns_err err = exec_simple(st, "COMMIT");
    if (!err)
        st->writing = false;
    return err;
}

void store_rollback(struct store *st)
{
    /* Preparing a ROLLBACK allocates, and memory may be what ran out: a
     * transaction left open would wedge this connection for good. */
    bool wrote = st->writing;
    for (int tries = 0; tries < 3 && !sqlite3_get_autocommit(st->db); tries++) {
        sqlite3_step(st->rollback);
        sqlite3_reset(st->rollback);
    }
    st->writing = false;
    /* SQLite may have rolled the transaction back itself already (as it may on SQLITE_NOMEM) */
    if (wrote && oom_in_transaction(st))
        st->renew = true;
}

enum ns_err store_savepoint(struct store *st)
{
    return exec_simple(st, "SAVEPOINT article");
}

enum ns_err store_release(struct store *st)
{
    return exec_simple(st, "RELEASE article");
}

enum ns_err store_rollback_savepoint(struct store *st)
{
    if (oom_in_transaction(st))
        return NS_ERR_NOMEM; /* FTS5 may not undo cleanly what it half did: roll back it all */
    enum ns_err err = exec_simple(st, "ROLLBACK TO article");
    return err ? err : exec_simple(st, "RELEASE article");
}

enum ns_err store_cursor_key(struct store *st, unsigned char key[CURSOR_KEY_LEN])
{
    sqlite3_stmt *s = store_stmt(st, "SELECT value FROM settings WHERE key = 'cursor_key'");
    if (!s)
        return store_stmt_failed(st);
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
    /* FTS5's check is a write: a read-only or locked database cannot run it,
     * which says nothing about damage (that is NS_ERR_DB, SQLITE_CORRUPT) */
    enum ns_err fts = err == NS_OK ? store_search_check(st) : NS_OK;
    if (fts == NS_ERR_DB) {
        *ok = false;
        buf_printf(&out, "search index: %s\n", sqlite3_errmsg(st->db));
    } else if (fts) {
        err = fts;
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

bool store_changed(struct store *st)
{
    /* data_version moves with commits by other connections (and processes), total_changes with
       this connection's own; a failed check counts as a change, which is always safe */
    int64_t changes = sqlite3_total_changes64(st->db), version = -1;
    sqlite3_stmt *s = store_stmt(st, "PRAGMA data_version");
    if (s && sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int64(s, 0);
    if (s)
        sqlite3_reset(s);
    bool changed = version < 0 || version != st->seen_version || changes != st->seen_changes;
    st->seen_version = version;
    st->seen_changes = changes;
    return changed;
}
