/*
 * migrate.c - schema migrations built into the binary from the files in schema/.
 *
 * Each migration runs once, in name order, inside its own transaction, and
 * is recorded in schema_migrations. A database that records a migration
 * this binary does not know was written by a newer newsstand and is refused
 * untouched.
 */
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/embedded.h"

static int migration_number(const char *name)
{
    return atoi(name);
}

int store_schema_version_known(void)
{
    return schema_files_count ? migration_number(schema_files[schema_files_count - 1].name) : 0;
}

static enum ns_err current_version(struct store *st, int *version)
{
    int rc = sqlite3_exec(st->db,
                          "CREATE TABLE IF NOT EXISTS schema_migrations ("
                          " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                          " applied_at INTEGER NOT NULL)",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return store_err(rc);
    sqlite3_stmt *s = store_stmt(st, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (!s)
        return store_stmt_failed(st);
    rc = sqlite3_step(s);
    *version = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? NS_OK : store_err(rc);
}

/* Applies f unless another process applied it since we looked (checked inside the lock). */
static enum ns_err apply_one(struct store *st, const struct embedded_file *f)
{
    int version = 0;
    enum ns_err err = store_begin(st);
    if (err)
        return err;
    err = current_version(st, &version);
    if (err || version >= migration_number(f->name)) {
        store_rollback(st);
        return err;
    }
    int rc = sqlite3_exec(st->db, f->data, NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_stmt *s = store_stmt(
            st, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
        if (!s) {
            rc = sqlite3_errcode(st->db);
        } else {
            sqlite3_bind_int(s, 1, migration_number(f->name));
            bind_text(s, 2, f->name);
            sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL));
            rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(st->db);
            sqlite3_reset(s);
        }
    }
    if (rc != SQLITE_OK) {
        store_rollback(st);
        err = store_err(rc);
        return err == NS_OK ? NS_ERR_DB : err;
    }
    return store_commit(st);
}

enum ns_err store_migrate(struct store *st, int *applied, int *version)
{
    *applied = 0;
    enum ns_err err = current_version(st, version);
    if (err)
        return err;
    if (*version > store_schema_version_known())
        return NS_ERR_TOO_NEW;
    for (size_t i = 0; i < schema_files_count; i++) {
        int n = migration_number(schema_files[i].name);
        if (n <= *version)
            continue;
        err = apply_one(st, &schema_files[i]);
        if (err)
            return err;
        *version = n;
        (*applied)++;
    }
    return NS_OK;
}
