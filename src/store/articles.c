/*
 * articles.c - reading, listing and writing articles.
 *
 * Lists page by keyset on (published_at, id), never by OFFSET, so a walk of
 * the cursors visits each matching article once even while others arrive.
 * The list query is assembled from fixed fragments by which filters are
 * set; values are bound, never spliced into the SQL text.
 */
#include "store/store_impl.h"

#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "store/slugs.h"

#define SUMMARY_COLUMNS                                                                            \
    "a.id, a.slug, a.url, a.headline, a.standfirst, a.section, a.language, a.access,"              \
    " p.id, p.slug, p.name, a.image_url, a.image_caption, a.image_credit, a.image_alt,"            \
    " a.image_width, a.image_height, a.published_at, a.updated_at, a.word_count"

enum { SUMMARY_NCOLS = 20 };

static enum ns_err read_authors(struct store *st, struct arena *a, struct article_row *r)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT au.id, au.slug, au.name FROM article_authors aa"
                                     " JOIN authors au ON au.id = aa.author_id"
                                     " WHERE aa.article_id = ? ORDER BY aa.position");
    if (!s)
        return store_err(sqlite3_errcode(st->db));
    sqlite3_bind_int64(s, 1, r->id);
    size_t cap = 4;
    r->authors = arena_calloc(a, cap, sizeof(*r->authors));
    r->n_authors = 0;
    int rc = SQLITE_DONE;
    while (r->authors && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (r->n_authors == cap) {
            struct author_ref *grown = arena_calloc(a, cap * 2, sizeof(*grown));
            if (grown)
                memcpy(grown, r->authors, cap * sizeof(*grown));
            r->authors = grown;
            cap *= 2;
            if (!grown)
                break;
        }
        struct author_ref *au = &r->authors[r->n_authors++];
        au->id = sqlite3_column_int64(s, 0);
        au->slug = col_text(a, s, 1);
        au->name = col_text(a, s, 2);
    }
    sqlite3_reset(s);
    if (!r->authors)
        return NS_ERR_NOMEM;
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

static void read_summary(struct arena *a, sqlite3_stmt *s, struct article_row *r)
{
    r->id = sqlite3_column_int64(s, 0);
    r->slug = col_text(a, s, 1);
    r->url = col_text(a, s, 2);
    r->headline = col_text(a, s, 3);
    r->standfirst = col_text(a, s, 4);
    r->section = col_text(a, s, 5);
    r->language = col_text(a, s, 6);
    const char *access = (const char *)sqlite3_column_text(s, 7);
    r->premium = access && strcmp(access, "premium") == 0;
    r->publication.id = sqlite3_column_int64(s, 8);
    r->publication.slug = col_text(a, s, 9);
    r->publication.name = col_text(a, s, 10);
    r->image.url = col_text(a, s, 11);
    r->image.caption = col_text(a, s, 12);
    r->image.credit = col_text(a, s, 13);
    r->image.alt = col_text(a, s, 14);
    r->image.width = sqlite3_column_int(s, 15);
    r->image.height = sqlite3_column_int(s, 16);
    r->published_at = sqlite3_column_int64(s, 17);
    r->updated_at = sqlite3_column_int64(s, 18);
    r->word_count = sqlite3_column_int(s, 19);
}

enum ns_err store_article_get(struct store *st, struct arena *a, int64_t id, const char *slug,
                              struct article_row *out)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " SUMMARY_COLUMNS ", a.blocks FROM articles a"
                                     " JOIN publications p ON p.id = a.publication_id"
                                     " WHERE a.id = ?1 OR a.slug = ?2");
    if (!s)
        return store_err(sqlite3_errcode(st->db));
    sqlite3_bind_int64(s, 1, id > 0 ? id : -1);
    bind_text(s, 2, id > 0 ? NULL : slug);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        read_summary(a, s, out);
        out->blocks_json = col_text(a, s, SUMMARY_NCOLS);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? NS_ERR_NOT_FOUND : store_err(rc);
    return read_authors(st, a, out);
}

/* One bound value of a dynamically assembled query. */
struct bind {
    bool is_text;
    int64_t i;
    const char *t;
};

struct query {
    struct buf sql;
    struct bind binds[32];
    int n;
};

static void q_int(struct query *q, const char *frag, int64_t v)
{
    buf_puts(&q->sql, frag);
    q->binds[q->n++] = (struct bind){.i = v};
}

static void q_text(struct query *q, const char *frag, const char *v)
{
    buf_puts(&q->sql, frag);
    q->binds[q->n++] = (struct bind){.is_text = true, .t = v};
}

/* Appends the WHERE conditions of f (not the keyset) to q. */
static void where_filters(struct query *q, const struct article_filter *f)
{
    buf_puts(&q->sql, " WHERE 1");
    for (size_t i = 0; i < f->n_publications; i++)
        q_int(q, " AND a.publication_id = ?", f->publication_ids[i]);
    for (size_t i = 0; i < f->n_authors; i++)
        q_int(q,
              " AND EXISTS (SELECT 1 FROM article_authors aa"
              " WHERE aa.article_id = a.id AND aa.author_id = ?)",
              f->author_ids[i]);
    if (f->section_key)
        q_text(q, " AND a.section_key = ?", f->section_key);
    if (f->language)
        q_text(q, " AND a.language = ?", f->language);
    if (f->access != ACCESS_ANY)
        q_text(q, " AND a.access = ?", f->access == ACCESS_PREMIUM ? "premium" : "free");
    if (f->has_from)
        q_int(q, " AND a.published_at >= ?", f->from);
    if (f->has_to)
        q_int(q, " AND a.published_at <= ?", f->to);
}

static sqlite3_stmt *q_prepare(struct store *st, struct query *q)
{
    if (buf_failed(&q->sql))
        return NULL;
    sqlite3_stmt *s = store_stmt(st, q->sql.data);
    for (int i = 0; s && i < q->n; i++) {
        if (q->binds[i].is_text)
            bind_text(s, i + 1, q->binds[i].t);
        else
            sqlite3_bind_int64(s, i + 1, q->binds[i].i);
    }
    return s;
}

static enum ns_err count_matches(struct store *st, const struct article_filter *f, int64_t *total)
{
    struct query q = {.n = 0};
    buf_init(&q.sql);
    buf_puts(&q.sql, "SELECT count(*) FROM articles a");
    where_filters(&q, f);
    sqlite3_stmt *s = q_prepare(st, &q);
    buf_release(&q.sql);
    if (!s)
        return store_err(sqlite3_errcode(st->db));
    int rc = sqlite3_step(s);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? NS_OK : store_err(rc);
}

enum ns_err store_articles_list(struct store *st, struct arena *a, const struct article_filter *f,
                                struct article_row **rows, size_t *n, int64_t *total)
{
    if (f->n_publications + f->n_authors > 20)
        return NS_ERR_INVALID;
    enum ns_err err = count_matches(st, f, total);
    if (err)
        return err;

    struct query q = {.n = 0};
    buf_init(&q.sql);
    buf_puts(&q.sql, "SELECT " SUMMARY_COLUMNS " FROM articles a"
                     " JOIN publications p ON p.id = a.publication_id");
    where_filters(&q, f);
    if (f->has_after) {
        const char *cmp = f->oldest_first ? ">" : "<";
        char frag[160];
        snprintf(frag, sizeof(frag), " AND (a.published_at %s ?", cmp);
        q_int(&q, frag, f->after_time);
        snprintf(frag, sizeof(frag), " OR (a.published_at = ? AND a.id %s ?))", cmp);
        q_int(&q, frag, f->after_time);
        q.binds[q.n++] = (struct bind){.i = f->after_id};
    }
    buf_puts(&q.sql, f->oldest_first ? " ORDER BY a.published_at ASC, a.id ASC"
                                     : " ORDER BY a.published_at DESC, a.id DESC");
    q_int(&q, " LIMIT ?", f->limit);
    sqlite3_stmt *s = q_prepare(st, &q);
    buf_release(&q.sql);
    if (!s)
        return store_err(sqlite3_errcode(st->db));

    *n = 0;
    *rows = arena_calloc(a, (size_t)f->limit, sizeof(**rows));
    if (!*rows) {
        sqlite3_reset(s);
        return NS_ERR_NOMEM;
    }
    int rc = SQLITE_DONE;
    while (*n < (size_t)f->limit && (rc = sqlite3_step(s)) == SQLITE_ROW)
        read_summary(a, s, &(*rows)[(*n)++]);
    sqlite3_reset(s);
    if (*n < (size_t)f->limit && rc != SQLITE_DONE)
        return store_err(rc);
    for (size_t i = 0; i < *n && !err; i++)
        err = read_authors(st, a, &(*rows)[i]);
    return err;
}
