/*
 * store_impl.h - what the store's own files share: the connection struct,
 * the statement cache and row-reading helpers. Never included outside
 * src/store/.
 */
#ifndef NS_STORE_IMPL_H
#define NS_STORE_IMPL_H

#include <sqlite3.h>

#include "store/store.h"

#define STMT_CACHE_SLOTS 128
#define COUNT_MEMO_SLOTS 64

/* How long a statement waits for a lock another connection holds. */
#define BUSY_TIMEOUT_MS 5000

struct stmt_slot {
    char *sql;
    sqlite3_stmt *stmt;
};

/* A count this connection computed, and the version of the database it was computed on. */
struct count_memo {
    char *query; /* the statement with its values, as sqlite3_expanded_sql gives it */
    size_t hash;
    unsigned version;
    int64_t value;
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *rollback; /* prepared at open: a rollback must not need memory */
    struct stmt_slot cache[STMT_CACHE_SLOTS];
    unsigned next_evict;
    struct count_memo memo[COUNT_MEMO_SLOTS];
    unsigned next_memo;
    int64_t seen_version; /* store_changed: what it saw last */
    int64_t seen_changes;
    /*
     * Memory running out inside a write transaction can leave FTS5's index
     * half updated with no error returned (SQLite 3.40), and its in-memory
     * state broken after the rollback: such a transaction is never committed,
     * and the next one starts on a new connection.
     */
    unsigned long oom_at_begin; /* oom_count() when the write transaction began */
    bool writing;               /* store_begin succeeded; no commit or rollback since */
    bool renew;
};

/*
 * Returns the cached prepared statement for sql (prepared on first use,
 * reset and unbound on every later one), or NULL on a prepare error. The
 * statement belongs to the cache: never finalize it.
 */
sqlite3_stmt *store_stmt(struct store *st, const char *sql);

/* Declares var as the cached statement for sql, or returns the connection's error. */
#define PREPARE(var, sql)                                                                          \
    sqlite3_stmt *var = store_stmt(st, sql);                                                       \
    if (!var)                                                                                      \
    return store_stmt_failed(st)

/*
 * Runs a bound statement whose one row is a count, and resets it. Inside a
 * read transaction the answer may come from the memo of counts this
 * connection made: a count is reused only while the database is exactly as
 * it was when it was made (SQLITE_FCNTL_DATA_VERSION changes with every
 * commit, this connection's or any other's, in this process or another), so
 * a write is never followed by a stale count. Outside a read transaction
 * (autocommit, or writing) the statement always runs.
 */
enum ns_err store_count(struct store *st, sqlite3_stmt *s, int64_t *count);

/* Steps a bound statement that returns no rows and resets it; NS_OK when it ran. */
enum ns_err store_step_done(sqlite3_stmt *s);

/* Maps a SQLite result code to an ns_err. */
enum ns_err store_err(int rc);

/*
 * The error for a store_stmt that returned NULL: SQLite's, or NS_ERR_NOMEM
 * when SQLite saw none (the cache's copy of the text could not be made).
 * Never NS_OK: a statement that did not run must not pass for one that did.
 */
enum ns_err store_stmt_failed(struct store *st);

/* Copies column i as text into the arena (NULL for SQL NULL). */
const char *col_text(struct arena *a, sqlite3_stmt *s, int i);

/* Binds a C string or NULL. */
int bind_text(sqlite3_stmt *s, int i, const char *v);

#endif
