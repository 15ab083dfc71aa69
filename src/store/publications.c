/*
 * publications.c - reading publications and authors.
 *
 * Article counts are computed from the indexes on every read rather than
 * kept in counters, so they can never drift from the articles themselves.
 */
#include "store/store_impl.h"

#define PUBLICATION_COLUMNS                                                                        \
    "p.id, p.slug, p.name, p.homepage, p.country, p.language,"                                     \
    " (SELECT count(*) FROM articles x WHERE x.publication_id = p.id)"

static void read_publication(struct arena *a, sqlite3_stmt *s, struct publication_row *r)
{
    r->id = sqlite3_column_int64(s, 0);
    r->slug = col_text(a, s, 1);
    r->name = col_text(a, s, 2);
    r->homepage = col_text(a, s, 3);
    r->country = col_text(a, s, 4);
    r->language = col_text(a, s, 5);
    r->article_count = sqlite3_column_int64(s, 6);
}

/* Binds id or slug to a "WHERE x.id = ?1 OR x.slug = ?2"-shaped statement. */
static void bind_id_or_slug(sqlite3_stmt *s, int64_t id, const char *slug)
{
    sqlite3_bind_int64(s, 1, id > 0 ? id : -1);
    bind_text(s, 2, id > 0 ? NULL : slug);
}

enum ns_err store_publication_get(struct store *st, struct arena *a, int64_t id, const char *slug,
                                  struct publication_row *out)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " PUBLICATION_COLUMNS " FROM publications p"
                                     " WHERE p.id = ?1 OR p.slug = ?2");
    if (!s)
        return store_stmt_failed(st);
    bind_id_or_slug(s, id, slug);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_publication(a, s, out);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? NS_OK : rc == SQLITE_DONE ? NS_ERR_NOT_FOUND : store_err(rc);
}

enum ns_err store_publications_list(struct store *st, struct arena *a, const char *after,
                                    int limit, struct publication_row **rows, size_t *n,
                                    int64_t *total)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT count(*) FROM publications");
    if (!s)
        return store_stmt_failed(st);
    int rc = sqlite3_step(s);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return store_err(rc);

    s = store_stmt(st, "SELECT " PUBLICATION_COLUMNS " FROM publications p"
                       " WHERE ?1 IS NULL OR p.slug > ?1 ORDER BY p.slug LIMIT ?2");
    if (!s)
        return store_stmt_failed(st);
    bind_text(s, 1, after);
    sqlite3_bind_int(s, 2, limit);
    *rows = arena_calloc(a, (size_t)limit, sizeof(**rows));
    *n = 0;
    if (!*rows)
        return NS_ERR_NOMEM;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < (size_t)limit)
        read_publication(a, s, &(*rows)[(*n)++]);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? NS_OK : store_err(rc);
}

enum ns_err store_author_get(struct store *st, struct arena *a, int64_t id, const char *slug,
                             struct author_row *out)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT au.id, au.slug, au.name, p.id, p.slug, p.name,"
            " (SELECT count(*) FROM article_authors x WHERE x.author_id = au.id)"
            " FROM authors au LEFT JOIN publications p ON p.id = au.publication_id"
            " WHERE au.id = ?1 OR au.slug = ?2");
    if (!s)
        return store_stmt_failed(st);
    bind_id_or_slug(s, id, slug);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        out->slug = col_text(a, s, 1);
        out->name = col_text(a, s, 2);
        out->has_publication = sqlite3_column_type(s, 3) != SQLITE_NULL;
        out->publication.id = sqlite3_column_int64(s, 3);
        out->publication.slug = col_text(a, s, 4);
        out->publication.name = col_text(a, s, 5);
        out->article_count = sqlite3_column_int64(s, 6);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? NS_OK : rc == SQLITE_DONE ? NS_ERR_NOT_FOUND : store_err(rc);
}
