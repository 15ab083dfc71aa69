/*
 * slugs.c - unique slugs for articles, publications and authors.
 *
 * The base slug comes from domain/slug.c; a clash gets the next free "-N".
 */
#include "store/store_impl.h"

#include <stdio.h>
#include <string.h>

#include "domain/slug.h"
#include "store/slugs.h"

struct slug_sql {
    const char *exists;
    const char *max_suffix;
};

#define SLUG_SQL(table)                                                                            \
    {"SELECT 1 FROM " table " WHERE slug = ?1",                                                    \
     "SELECT max(CAST(substr(slug, length(?1) + 2) AS INTEGER)) FROM " table                       \
     " WHERE slug GLOB ?2"}

static const struct slug_sql slug_sql[] = {
    [SLUG_ARTICLES] = SLUG_SQL("articles"),
    [SLUG_PUBLICATIONS] = SLUG_SQL("publications"),
    [SLUG_AUTHORS] = SLUG_SQL("authors"),
    /* a merged entity's old slug still leads to the survivor: it is never handed out again */
    [SLUG_ENTITIES] = {"SELECT 1 FROM entities WHERE slug = ?1"
                       " UNION ALL SELECT 1 FROM entity_redirects WHERE old_slug = ?1",
                       "SELECT max(CAST(substr(slug, length(?1) + 2) AS INTEGER)) FROM entities"
                       " WHERE slug GLOB ?2"},
    [SLUG_TOPICS] = SLUG_SQL("topics"),
};

/* Sets *taken; returns an error only when the query fails. */
static enum ns_err slug_taken(struct store *st, enum slug_table t, const char *slug, bool *taken)
{
    sqlite3_stmt *s = store_stmt(st, slug_sql[t].exists);
    if (!s)
        return store_stmt_failed(st);
    bind_text(s, 1, slug);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    *taken = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

enum ns_err store_unique_slug(struct store *st, enum slug_table t, const char *base,
                              char out[SLUG_BUF])
{
    bool taken;
    enum ns_err err = slug_taken(st, t, base, &taken);
    if (err)
        return err;
    snprintf(out, SLUG_BUF, "%s", base);
    if (!taken)
        return NS_OK;

    sqlite3_stmt *s = store_stmt(st, slug_sql[t].max_suffix);
    if (!s)
        return store_stmt_failed(st);
    char pattern[SLUG_BUF + 8];
    snprintf(pattern, sizeof(pattern), "%s-[0-9]*", base); /* slugs hold no GLOB metacharacters */
    bind_text(s, 1, base);
    bind_text(s, 2, pattern);
    int rc = sqlite3_step(s);
    long long next = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) + 1 : 2;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return store_err(rc);
    if (next < 2)
        next = 2;
    /* A long base is cut to fit its suffix, so the max above may miss; probe on. */
    for (int tries = 0; tries < 1000; tries++, next++) {
        slug_with_suffix(base, (unsigned)next, out);
        err = slug_taken(st, t, out, &taken);
        if (err || !taken)
            return err;
    }
    return NS_ERR_CONFLICT;
}
