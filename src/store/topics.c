/*
 * topics.c - the aggregator's topic taxonomy.
 *
 * Article counts are computed from the article_topics index on read; a
 * topic list is small enough that ranking by them stays cheap.
 */
#include "store/store_impl.h"

#include <stdio.h>
#include <string.h>

#include "domain/slug.h"
#include "store/slugs.h"

#define TOPIC_COLUMNS                                                                              \
    "t.id AS id, t.slug AS slug, t.name AS name, p.id AS pid, p.slug AS pslug, p.name AS pname,"  \
    " (SELECT count(*) FROM article_topics x WHERE x.topic_id = t.id) AS n"

static void read_topic(struct arena *a, sqlite3_stmt *s, struct topic_row *r)
{
    r->id = sqlite3_column_int64(s, 0);
    r->slug = col_text(a, s, 1);
    r->name = col_text(a, s, 2);
    r->has_parent = sqlite3_column_type(s, 3) != SQLITE_NULL;
    r->parent.id = sqlite3_column_int64(s, 3);
    r->parent.slug = col_text(a, s, 4);
    r->parent.name = col_text(a, s, 5);
    r->article_count = sqlite3_column_int64(s, 6);
    r->trend_articles = 0;
    r->trend_reads = 0;
}

enum ns_err store_topic_find(struct store *st, struct arena *a, const char *ref,
                             struct topic_row *out)
{
    long long id = 0;
    char slug[SLUG_BUF];
    bool numeric = slug_is_id(ref, &id);
    slug_make(ref, "", slug);
    sqlite3_stmt *s = store_stmt(st, "SELECT " TOPIC_COLUMNS " FROM topics t"
                                     " LEFT JOIN topics p ON p.id = t.parent_id"
                                     " WHERE t.id = ?1 OR t.slug = ?2 OR t.slug = ?3"
                                     " ORDER BY t.slug = ?2 DESC LIMIT 1");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, numeric ? id : -1);
    bind_text(s, 2, numeric ? NULL : ref);
    bind_text(s, 3, numeric || !slug[0] ? NULL : slug);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_topic(a, s, out);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? NS_OK : rc == SQLITE_DONE ? NS_ERR_NOT_FOUND : store_err(rc);
}

enum ns_err store_topic_resolve(struct store *st, const char *text, int64_t now, int64_t *id)
{
    char slug[SLUG_BUF];
    if (!slug_make(text, "", slug) || !slug[0])
        return NS_ERR_INVALID;
    sqlite3_stmt *s = store_stmt(st, "SELECT id FROM topics WHERE slug = ?");
    if (!s)
        return store_stmt_failed(st);
    bind_text(s, 1, slug);
    int rc = sqlite3_step(s);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return NS_OK;
    if (rc != SQLITE_DONE)
        return store_err(rc);
    s = store_stmt(st, "INSERT INTO topics (slug, name, created_at) VALUES (?, ?, ?)");
    if (!s)
        return store_stmt_failed(st);
    bind_text(s, 1, slug);
    bind_text(s, 2, text);
    sqlite3_bind_int64(s, 3, now);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_err(rc);
    *id = sqlite3_last_insert_rowid(st->db);
    return NS_OK;
}

/*
 * The list query of each sort: ?1 ?9 the window (start, end), ?2 has_after,
 * ?3 ?4 ?8 the counts of the last row seen, ?5 its slug, ?6 its id, ?7 the
 * limit.
 */
static const char *topics_sql(enum topic_sort sort)
{
    switch (sort) {
    case TOPICS_BY_NAME:
        return "SELECT " TOPIC_COLUMNS ", 0, 0 FROM topics t"
               " LEFT JOIN topics p ON p.id = t.parent_id"
               " WHERE ?2 = 0 OR t.slug > ?5 ORDER BY t.slug LIMIT ?7";
    case TOPICS_BY_ARTICLES:
        return "SELECT * FROM (SELECT " TOPIC_COLUMNS ", 0, 0 FROM topics t"
               " LEFT JOIN topics p ON p.id = t.parent_id)"
               " WHERE ?2 = 0 OR n < ?3 OR (n = ?3 AND id > ?6)"
               " ORDER BY n DESC, id LIMIT ?7";
    case TOPICS_TRENDING:
        /* reads are summed from the hourly buckets of the window */
        return "SELECT * FROM (SELECT " TOPIC_COLUMNS ","
               " (SELECT count(*) FROM article_topics x JOIN articles a ON a.id = x.article_id"
               "  WHERE x.topic_id = t.id AND a.published_at >= ?1 AND a.published_at <= ?9) AS recent,"
               " (SELECT coalesce(sum(rc.reads), 0) FROM article_topics x"
               "  JOIN read_counts rc ON rc.article_id = x.article_id"
               "  WHERE x.topic_id = t.id AND rc.hour >= ?1 / 3600) AS reads"
               " FROM topics t LEFT JOIN topics p ON p.id = t.parent_id)"
               " WHERE ?2 = 0 OR recent < ?3 OR (recent = ?3 AND (reads < ?4"
               "   OR (reads = ?4 AND (n < ?8 OR (n = ?8 AND id > ?6)))))"
               " ORDER BY recent DESC, reads DESC, n DESC, id LIMIT ?7";
    }
    return NULL;
}

enum ns_err store_topics_list(struct store *st, struct arena *a, const struct topic_filter *f,
                              struct topic_row **rows, size_t *n, int64_t *total)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT count(*) FROM topics");
    if (!s)
        return store_stmt_failed(st);
    int rc = sqlite3_step(s);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return store_err(rc);
    s = store_stmt(st, topics_sql(f->sort));
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, f->since);
    sqlite3_bind_int(s, 2, f->has_after);
    sqlite3_bind_int64(s, 3, f->after_a);
    sqlite3_bind_int64(s, 4, f->after_b);
    bind_text(s, 5, f->after_slug ? f->after_slug : "");
    sqlite3_bind_int64(s, 6, f->after_id);
    sqlite3_bind_int(s, 7, f->limit);
    sqlite3_bind_int64(s, 8, f->after_c);
    sqlite3_bind_int64(s, 9, f->until);
    *n = 0;
    *rows = arena_calloc(a, (size_t)f->limit, sizeof(**rows));
    if (!*rows) {
        sqlite3_reset(s);
        return NS_ERR_NOMEM;
    }
    while (*n < (size_t)f->limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct topic_row *r = &(*rows)[(*n)++];
        read_topic(a, s, r);
        r->trend_articles = sqlite3_column_int64(s, 7);
        r->trend_reads = sqlite3_column_int64(s, 8);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

enum ns_err store_article_topics_set(struct store *st, int64_t article_id, const int64_t *ids,
                                     size_t n)
{
    sqlite3_stmt *s = store_stmt(st, "DELETE FROM article_topics WHERE article_id = ?");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, article_id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    for (size_t i = 0; i < n && rc == SQLITE_DONE; i++) {
        s = store_stmt(st, "INSERT OR IGNORE INTO article_topics (article_id, topic_id)"
                           " VALUES (?, ?)");
        if (!s)
            return store_stmt_failed(st);
        sqlite3_bind_int64(s, 1, article_id);
        sqlite3_bind_int64(s, 2, ids[i]);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
    }
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}
