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
    " a.image_width, a.image_height, a.published_at, a.updated_at, a.word_count, a.reads"

enum { SUMMARY_NCOLS = 21 };

static enum ns_err read_authors(struct store *st, struct arena *a, struct article_row *r)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT au.id, au.slug, au.name FROM article_authors aa"
                                     " JOIN authors au ON au.id = aa.author_id"
                                     " WHERE aa.article_id = ? ORDER BY aa.position");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, r->id);
    size_t cap = 0;
    r->authors = NULL;
    r->n_authors = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct author_ref *grown = arena_grow(a, r->authors, r->n_authors, &cap, sizeof(*grown));
        if (!grown) {
            sqlite3_reset(s);
            return NS_ERR_NOMEM;
        }
        r->authors = grown;
        struct author_ref *au = &r->authors[r->n_authors++];
        au->id = sqlite3_column_int64(s, 0);
        au->slug = col_text(a, s, 1);
        au->name = col_text(a, s, 2);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

static enum ns_err read_topics(struct store *st, struct arena *a, struct article_row *r)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT t.id, t.slug, t.name FROM article_topics x"
                                     " JOIN topics t ON t.id = x.topic_id"
                                     " WHERE x.article_id = ? ORDER BY t.name, t.id");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, r->id);
    size_t cap = 0;
    int rc;
    r->topics = NULL;
    r->n_topics = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct topic_ref *grown = arena_grow(a, r->topics, r->n_topics, &cap, sizeof(*grown));
        if (!grown) {
            sqlite3_reset(s);
            return NS_ERR_NOMEM;
        }
        r->topics = grown;
        struct topic_ref *t = &r->topics[r->n_topics++];
        t->id = sqlite3_column_int64(s, 0);
        t->slug = col_text(a, s, 1);
        t->name = col_text(a, s, 2);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

/* Reads the article's entities, most salient first; at most max of them (-1: all). */
static enum ns_err read_entities(struct store *st, struct arena *a, struct article_row *r,
                                 int max)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT e.id, e.slug, e.name, e.type, x.mentions, x.salience,"
                                     " x.given"
                                     " FROM article_entities x JOIN entities e ON e.id = x.entity_id"
                                     " WHERE x.article_id = ?"
                                     " ORDER BY x.salience DESC, x.mentions DESC, e.id LIMIT ?");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, r->id);
    sqlite3_bind_int(s, 2, max);
    size_t cap = 0;
    int rc;
    r->entities = NULL;
    r->n_entities = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct entity_ref *grown =
            arena_grow(a, r->entities, r->n_entities, &cap, sizeof(*grown));
        if (!grown) {
            sqlite3_reset(s);
            return NS_ERR_NOMEM;
        }
        r->entities = grown;
        struct entity_ref *e = &r->entities[r->n_entities++];
        e->id = sqlite3_column_int64(s, 0);
        e->slug = col_text(a, s, 1);
        e->name = col_text(a, s, 2);
        e->type = col_text(a, s, 3);
        e->mentions = sqlite3_column_int(s, 4);
        e->salience = sqlite3_column_double(s, 5);
        e->given = sqlite3_column_int(s, 6);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

/* Authors, topics and entities of a row already read. */
static enum ns_err read_links(struct store *st, struct arena *a, struct article_row *r,
                              int max_entities)
{
    enum ns_err err = read_authors(st, a, r);
    if (!err)
        err = read_topics(st, a, r);
    if (!err)
        err = read_entities(st, a, r, max_entities);
    return err;
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
    r->reads = sqlite3_column_int64(s, 20);
}

enum ns_err store_article_get(struct store *st, struct arena *a, int64_t id, const char *slug,
                              struct article_row *out)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " SUMMARY_COLUMNS ", a.blocks, a.external_id"
                                     " FROM articles a"
                                     " JOIN publications p ON p.id = a.publication_id"
                                     " WHERE a.id = ?1 OR a.slug = ?2");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, id > 0 ? id : -1);
    bind_text(s, 2, id > 0 ? NULL : slug);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        read_summary(a, s, out);
        out->blocks_json = col_text(a, s, SUMMARY_NCOLS);
        out->external_id = col_text(a, s, SUMMARY_NCOLS + 1);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? NS_ERR_NOT_FOUND : store_err(rc);
    return read_links(st, a, out, -1);
}

enum ns_err store_article_read_row(struct store *st, struct arena *a, struct article_row *r)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " SUMMARY_COLUMNS " FROM articles a"
                                     " JOIN publications p ON p.id = a.publication_id"
                                     " WHERE a.id = ?");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, r->id);
    int rc = sqlite3_step(s);
    double score = r->score;
    if (rc == SQLITE_ROW)
        read_summary(a, s, r);
    r->score = score;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? NS_ERR_NOT_FOUND : store_err(rc);
    return read_links(st, a, r, SUMMARY_ENTITIES_MAX);
}

/* One bound value of a dynamically assembled query. */
struct bind {
    enum { BIND_INT, BIND_TEXT, BIND_DOUBLE } type;
    int64_t i;
    double d;
    const char *t;
};

/* Ids across all list filters; the rest of a query binds at most 16 more values. */
#define FILTER_IDS_MAX 40

struct query {
    struct buf sql;
    struct bind binds[FILTER_IDS_MAX + 16];
    int n;
    bool has_where; /* a WHERE is written: the next condition is ANDed to it */
};

/*
 * Appends a fragment. A condition is written as " AND ..."; the first one
 * opens the WHERE clause instead (a "WHERE 1" would stop SQLite from
 * counting a whole table from its smallest index).
 */
static void q_put(struct query *q, const char *frag)
{
    if (strncmp(frag, " AND ", 5) == 0 && !q->has_where) {
        buf_puts(&q->sql, " WHERE ");
        buf_puts(&q->sql, frag + 5);
        q->has_where = true;
        return;
    }
    buf_puts(&q->sql, frag);
}

static void q_int(struct query *q, const char *frag, int64_t v)
{
    q_put(q, frag);
    q->binds[q->n++] = (struct bind){.i = v};
}

static void q_text(struct query *q, const char *frag, const char *v)
{
    q_put(q, frag);
    q->binds[q->n++] = (struct bind){.type = BIND_TEXT, .t = v};
}

static void q_double(struct query *q, const char *frag, double v)
{
    q_put(q, frag);
    q->binds[q->n++] = (struct bind){.type = BIND_DOUBLE, .d = v};
}

/*
 * Where a list starts: every article (DRIVE_NONE), or the links of one of
 * the author, topic or entity filters, the one linking the fewest articles.
 * Counting "crude and USA" then visits crude's 2,900 links, probing each for
 * USA, instead of probing all 100,000 articles for both.
 */
enum drive_kind { DRIVE_NONE, DRIVE_AUTHOR, DRIVE_TOPIC, DRIVE_ENTITY };

struct driver {
    enum drive_kind kind;
    int64_t id;       /* the author, topic or entity */
    int64_t estimate; /* how many articles it links (at most the next best's) */
};

static const struct {
    const char *from; /* the links as `d`, with their article in d.article_id */
    const char *key;  /* condition binding the driver's id */
} drive_sql[] = {
    [DRIVE_AUTHOR] = {"article_authors d", " AND d.author_id = ?"},
    [DRIVE_TOPIC] = {"article_topics d", " AND d.topic_id = ?"},
    [DRIVE_ENTITY] = {"article_entities d", " AND d.entity_id = ?"},
};

static bool is_driver(const struct driver *d, enum drive_kind kind, int64_t id)
{
    return d && d->kind == kind && d->id == id;
}

/* The probes of the id filters: on the article `a`, or on the driver's link `d` alone. */
static const char *const probe_sql[2][3] = {
    {" AND EXISTS (SELECT 1 FROM article_authors aa WHERE aa.article_id = a.id"
     " AND aa.author_id = ?)",
     " AND EXISTS (SELECT 1 FROM article_topics xt WHERE xt.article_id = a.id"
     " AND xt.topic_id = ?)",
     " AND EXISTS (SELECT 1 FROM article_entities xe WHERE xe.article_id = a.id"
     " AND xe.entity_id = ?)"},
    {" AND EXISTS (SELECT 1 FROM article_authors aa WHERE aa.article_id = d.article_id"
     " AND aa.author_id = ?)",
     " AND EXISTS (SELECT 1 FROM article_topics xt WHERE xt.article_id = d.article_id"
     " AND xt.topic_id = ?)",
     " AND EXISTS (SELECT 1 FROM article_entities xe WHERE xe.article_id = d.article_id"
     " AND xe.entity_id = ?)"},
};

/* The id filters other than the driver's, probed on the article or (on_link) the link. */
static void id_filters(struct query *q, const struct article_filter *f, bool on_link,
                       const struct driver *d)
{
    const char *const *probe = probe_sql[on_link];
    for (size_t i = 0; i < f->n_authors; i++)
        if (!is_driver(d, DRIVE_AUTHOR, f->author_ids[i]))
            q_int(q, probe[0], f->author_ids[i]);
    for (size_t i = 0; i < f->n_topics; i++)
        if (!is_driver(d, DRIVE_TOPIC, f->topic_ids[i]))
            q_int(q, probe[1], f->topic_ids[i]);
    for (size_t i = 0; i < f->n_entities; i++)
        if (!is_driver(d, DRIVE_ENTITY, f->entity_ids[i]))
            q_int(q, probe[2], f->entity_ids[i]);
}

/* True when f filters on columns of the article row itself (not only on its links). */
static bool filters_row(const struct article_filter *f)
{
    return f->match || f->n_publications || f->section_key || f->language ||
           f->access != ACCESS_ANY || f->follower > 0 || f->has_from || f->has_to;
}

/*
 * Appends the WHERE conditions of f (not the keyset) to q, on the articles
 * `a`; the search too unless joined already; the id filter d drives the
 * query, so it is not repeated (d may be NULL).
 */
static void where_filters(struct query *q, const struct article_filter *f, bool search_joined,
                          const struct driver *d)
{
    if (f->match && !search_joined)
        q_text(q, " AND a.id IN (SELECT rowid FROM article_search WHERE article_search MATCH ?)",
               f->match);
    if (f->match && f->hide_premium_rest && f->match_public)
        q_text(q,
               " AND (a.access = 'free' OR a.id IN (SELECT rowid FROM article_search"
               " WHERE article_search MATCH ?))",
               f->match_public);
    for (size_t i = 0; i < f->n_publications; i++)
        q_int(q, " AND a.publication_id = ?", f->publication_ids[i]);
    id_filters(q, f, false, d);
    if (f->section_key)
        q_text(q, " AND a.section_key = ?", f->section_key);
    if (f->language)
        q_text(q, " AND a.language = ?", f->language);
    if (f->access != ACCESS_ANY)
        q_text(q, " AND a.access = ?", f->access == ACCESS_PREMIUM ? "premium" : "free");
    if (f->follower > 0 && f->limit > 0) {
        /* A page walks articles newest first and stops at the limit, so testing each
         * against the follows (index probes) beats building the whole followed set. */
        q_int(q,
              " AND (EXISTS (SELECT 1 FROM article_entities fe JOIN follows fo"
              " ON fo.user_id = ? AND fo.kind = 'entity' AND fo.target_id = fe.entity_id"
              " WHERE fe.article_id = a.id)",
              f->follower);
        q_int(q,
              " OR EXISTS (SELECT 1 FROM article_topics ft JOIN follows fo"
              " ON fo.user_id = ? AND fo.kind = 'topic' AND fo.target_id = ft.topic_id"
              " WHERE ft.article_id = a.id)",
              f->follower);
        q_int(q,
              " OR EXISTS (SELECT 1 FROM article_authors fa JOIN follows fo"
              " ON fo.user_id = ? AND fo.kind = 'author' AND fo.target_id = fa.author_id"
              " WHERE fa.article_id = a.id)",
              f->follower);
        q_int(q,
              " OR EXISTS (SELECT 1 FROM follows fo WHERE fo.user_id = ? AND"
              " fo.kind = 'publication' AND fo.target_id = a.publication_id))",
              f->follower);
    } else if (f->follower > 0) {
        /* Counting visits every match anyway: build the followed set once from each
         * kind's index rather than probing every article four times. */
        q_int(q,
              " AND a.id IN (SELECT article_id FROM article_entities WHERE entity_id IN"
              " (SELECT target_id FROM follows WHERE user_id = ? AND kind = 'entity')",
              f->follower);
        q_int(q,
              " UNION SELECT article_id FROM article_topics WHERE topic_id IN"
              " (SELECT target_id FROM follows WHERE user_id = ? AND kind = 'topic')",
              f->follower);
        q_int(q,
              " UNION SELECT article_id FROM article_authors WHERE author_id IN"
              " (SELECT target_id FROM follows WHERE user_id = ? AND kind = 'author')",
              f->follower);
        q_int(q,
              " UNION SELECT id FROM articles WHERE publication_id IN"
              " (SELECT target_id FROM follows WHERE user_id = ? AND kind = 'publication'))",
              f->follower);
    }
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
        if (q->binds[i].type == BIND_TEXT)
            bind_text(s, i + 1, q->binds[i].t);
        else if (q->binds[i].type == BIND_DOUBLE)
            sqlite3_bind_double(s, i + 1, q->binds[i].d);
        else
            sqlite3_bind_int64(s, i + 1, q->binds[i].i);
    }
    return s;
}

/* Runs a bound statement whose one row is one integer. */
static enum ns_err one_int(sqlite3_stmt *s, int64_t *v)
{
    int rc = sqlite3_step(s);
    *v = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? NS_OK : store_err(rc);
}

/* How many articles the id links, counting no further than cap. */
static enum ns_err posting_size(struct store *st, enum drive_kind kind, int64_t id, int64_t cap,
                                int64_t *n)
{
    static const char *const sql[] = {
        [DRIVE_AUTHOR] = "SELECT count(*) FROM (SELECT 1 FROM article_authors"
                         " WHERE author_id = ?1 LIMIT ?2)",
        [DRIVE_TOPIC] = "SELECT count(*) FROM (SELECT 1 FROM article_topics"
                        " WHERE topic_id = ?1 LIMIT ?2)",
        /* kept up to date with every link (entities.c) */
        [DRIVE_ENTITY] = "SELECT min(article_count, ?2) FROM entities WHERE id = ?1",
    };
    sqlite3_stmt *s = store_stmt(st, sql[kind]);
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, cap);
    enum ns_err err = one_int(s, n);
    return err == NS_ERR_NOT_FOUND ? NS_OK : err;
}

/*
 * Picks the driver of a list: the id filter linking the fewest articles,
 * entities first (their count is stored) so that counting the links of
 * topics and authors stops at the best so far. No driver for searches and
 * feeds, which have their own starting sets.
 */
static enum ns_err choose_driver(struct store *st, const struct article_filter *f,
                                 struct driver *d)
{
    *d = (struct driver){.kind = DRIVE_NONE, .estimate = INT64_MAX};
    if (f->match || f->follower > 0)
        return NS_OK;
    const struct {
        enum drive_kind kind;
        const int64_t *ids;
        size_t n;
    } kinds[] = {{DRIVE_ENTITY, f->entity_ids, f->n_entities},
                 {DRIVE_TOPIC, f->topic_ids, f->n_topics},
                 {DRIVE_AUTHOR, f->author_ids, f->n_authors}};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        for (size_t i = 0; i < kinds[k].n; i++) {
            int64_t n = 0;
            enum ns_err err = posting_size(st, kinds[k].kind, kinds[k].ids[i], d->estimate, &n);
            if (err)
                return err;
            if (n < d->estimate)
                *d = (struct driver){kinds[k].kind, kinds[k].ids[i], n};
        }
    }
    return NS_OK;
}

/* Starts q at the driver's links, joined to the articles `a` when the filters need the row. */
static void drive_from(struct query *q, const struct driver *d, bool join)
{
    buf_puts(&q->sql, " FROM ");
    buf_puts(&q->sql, drive_sql[d->kind].from);
    if (join)
        buf_puts(&q->sql, " CROSS JOIN articles a ON a.id = d.article_id"); /* d outside */
    q_int(q, drive_sql[d->kind].key, d->id);
}

/* The feed with no other filter: count the followed set itself, without visiting articles. */
static enum ns_err count_followed(struct store *st, int64_t follower, int64_t *total)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT count(*) FROM (SELECT article_id FROM article_entities WHERE entity_id IN"
            " (SELECT target_id FROM follows WHERE user_id = ?1 AND kind = 'entity')"
            " UNION SELECT article_id FROM article_topics WHERE topic_id IN"
            " (SELECT target_id FROM follows WHERE user_id = ?1 AND kind = 'topic')"
            " UNION SELECT article_id FROM article_authors WHERE author_id IN"
            " (SELECT target_id FROM follows WHERE user_id = ?1 AND kind = 'author')"
            " UNION SELECT id FROM articles WHERE publication_id IN"
            " (SELECT target_id FROM follows WHERE user_id = ?1 AND kind = 'publication'))");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, follower);
    return store_count(st, s, total); /* 70 ms for a reader following 100,000 articles */
}

static enum ns_err count_matches(struct store *st, const struct article_filter *f,
                                 const struct driver *d, int64_t *total)
{
    struct query q = {.n = 0};
    struct article_filter whole = *f;
    whole.limit = 0; /* counting, not paging: see where_filters */
    bool feed_only = f->follower > 0 && !f->match && !f->n_publications && !f->n_authors &&
                     !f->n_topics && !f->n_entities && !f->section_key && !f->language &&
                     f->access == ACCESS_ANY && !f->has_from && !f->has_to;
    if (feed_only)
        return count_followed(st, f->follower, total);
    buf_init(&q.sql);
    buf_puts(&q.sql, "SELECT count(*)");
    if (d->kind == DRIVE_NONE) {
        buf_puts(&q.sql, " FROM articles a");
        where_filters(&q, &whole, false, NULL);
    } else if (filters_row(f)) {
        drive_from(&q, d, true);
        where_filters(&q, &whole, false, d);
    } else {
        drive_from(&q, d, false); /* the links alone answer: no article row is read */
        id_filters(&q, f, true, d);
    }
    sqlite3_stmt *s = q_prepare(st, &q);
    buf_release(&q.sql);
    if (!s)
        return store_stmt_failed(st);
    return store_count(st, s, total);
}

/*
 * Whether a page starts from the driver's links (read them all, sort, keep
 * the first) rather than walking the articles in list order and probing
 * each until the page is full: the walk meets a match every all/total
 * articles, so it reads about limit * all / total of them.
 */
static enum ns_err page_from_driver(struct store *st, const struct article_filter *f,
                                    const struct driver *d, int64_t total, bool *yes)
{
    *yes = false;
    if (d->kind == DRIVE_NONE || f->sort == SORT_RELEVANCE)
        return NS_OK;
    int64_t all = 0;
    enum ns_err err = store_article_total(st, &all);
    double walk = (double)f->limit * (double)all / (double)(total > 0 ? total : 1);
    *yes = !err && (double)d->estimate < walk;
    return err;
}

enum ns_err store_articles_list(struct store *st, struct arena *a, const struct article_filter *f,
                                struct article_row **rows, size_t *n, int64_t *total)
{
    if (f->n_publications + f->n_authors + f->n_topics + f->n_entities > FILTER_IDS_MAX)
        return NS_ERR_BAD_PARAM;
    struct driver d;
    bool from_driver = false;
    enum ns_err err = choose_driver(st, f, &d);
    if (!err)
        err = count_matches(st, f, &d, total);
    if (!err)
        err = page_from_driver(st, f, &d, *total, &from_driver);
    if (err)
        return err;
    *n = 0;
    *rows = arena_calloc(a, (size_t)f->limit, sizeof(**rows));
    if (!*rows)
        return NS_ERR_NOMEM;
    if (*total == 0)
        return NS_OK; /* nothing matches, whatever the page: no walk through all articles */

    struct query q = {.n = 0};
    buf_init(&q.sql);
    bool relevance = f->sort == SORT_RELEVANCE && f->match;
    if (relevance) {
        /* Score in a subquery: ns_score needs the FTS5 cursor that matched the row. */
        q_int(&q,
              "SELECT a.id, s.score FROM (SELECT rowid AS sid, ns_score(article_search, ?"
              " AND (SELECT access = 'premium' FROM articles WHERE id = article_search.rowid))"
              " AS score FROM article_search",
              f->hide_premium_rest);
        q_text(&q, " WHERE article_search MATCH ?) s JOIN articles a ON a.id = s.sid", f->match);
    } else if (from_driver) {
        buf_puts(&q.sql, "SELECT a.id, 0");
        drive_from(&q, &d, true);
    } else {
        buf_puts(&q.sql, "SELECT a.id, 0 FROM articles a");
    }
    bool popular = f->sort == SORT_POPULAR;
    where_filters(&q, f, relevance, from_driver ? &d : NULL);
    if (f->has_after && popular) {
        q_int(&q, " AND (a.reads < ?", f->after_reads);
        q_int(&q, " OR (a.reads = ?", f->after_reads);
        q_int(&q, " AND a.id > ?))", f->after_id);
    } else if (f->has_after && relevance) {
        q_double(&q, " AND (s.score < ?", f->after_score);
        q_double(&q, " OR (s.score = ?", f->after_score);
        q_int(&q, " AND a.id > ?))", f->after_id);
    } else if (f->has_after) {
        const char *cmp = f->sort == SORT_OLDEST ? ">" : "<";
        char frag[160];
        snprintf(frag, sizeof(frag), " AND (a.published_at %s ?", cmp);
        q_int(&q, frag, f->after_time);
        snprintf(frag, sizeof(frag), " OR (a.published_at = ? AND a.id %s ?))", cmp);
        q_int(&q, frag, f->after_time);
        q.binds[q.n++] = (struct bind){.i = f->after_id};
    }
    buf_puts(&q.sql, popular                    ? " ORDER BY a.reads DESC, a.id ASC"
                     : relevance                ? " ORDER BY s.score DESC, a.id ASC"
                     : f->sort == SORT_OLDEST ? " ORDER BY a.published_at ASC, a.id ASC"
                                               : " ORDER BY a.published_at DESC, a.id DESC");
    q_int(&q, " LIMIT ?", f->limit);
    sqlite3_stmt *s = q_prepare(st, &q);
    buf_release(&q.sql);
    if (!s)
        return store_stmt_failed(st);

    /* The page is chosen on ids alone (narrow rows to sort), then each row is read whole. */
    int rc = SQLITE_DONE;
    while (*n < (size_t)f->limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        (*rows)[*n].id = sqlite3_column_int64(s, 0);
        (*rows)[(*n)++].score = sqlite3_column_double(s, 1);
    }
    sqlite3_reset(s);
    if (*n < (size_t)f->limit && rc != SQLITE_DONE)
        return store_err(rc);
    for (size_t i = 0; i < *n && !err; i++)
        err = store_article_read_row(st, a, &(*rows)[i]);
    return err;
}

/* SELECT heads of each facet: slug, name, count over the filtered articles `a`. */
static const char *const facet_heads[] = {
    [FACET_PUBLICATION] = "SELECT p.slug, p.name, count(*) AS c FROM articles a"
                          " JOIN publications p ON p.id = a.publication_id",
    [FACET_TOPIC] = "SELECT t.slug, t.name, count(*) AS c FROM articles a"
                    " JOIN article_topics ft ON ft.article_id = a.id"
                    " JOIN topics t ON t.id = ft.topic_id",
    [FACET_ENTITY] = "SELECT e.slug, e.name, count(*) AS c FROM articles a"
                     " JOIN article_entities fe ON fe.article_id = a.id"
                     " JOIN entities e ON e.id = fe.entity_id",
    [FACET_SECTION] = "SELECT a.section_key, min(a.section), count(*) AS c FROM articles a",
};

static const char *const facet_tails[] = {
    [FACET_PUBLICATION] = " GROUP BY p.id ORDER BY c DESC, p.slug LIMIT ?",
    [FACET_TOPIC] = " GROUP BY t.id ORDER BY c DESC, t.slug LIMIT ?",
    [FACET_ENTITY] = " GROUP BY e.id ORDER BY c DESC, e.slug LIMIT ?",
    [FACET_SECTION] = " AND a.section_key IS NOT NULL GROUP BY a.section_key"
                      " ORDER BY c DESC, a.section_key LIMIT ?",
};

enum ns_err store_articles_facet(struct store *st, struct arena *a, const struct article_filter *f,
                                 enum facet_kind kind, struct facet_row **rows, size_t *n)
{
    if (f->n_publications + f->n_authors + f->n_topics + f->n_entities > FILTER_IDS_MAX)
        return NS_ERR_BAD_PARAM;
    struct query q = {.n = 0};
    buf_init(&q.sql);
    buf_puts(&q.sql, facet_heads[kind]);
    where_filters(&q, f, false, NULL);
    q_int(&q, facet_tails[kind], FACET_TOP);
    sqlite3_stmt *s = q_prepare(st, &q);
    buf_release(&q.sql);
    if (!s)
        return store_stmt_failed(st);
    *n = 0;
    *rows = arena_calloc(a, FACET_TOP, sizeof(**rows));
    if (!*rows) {
        sqlite3_reset(s);
        return NS_ERR_NOMEM;
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < FACET_TOP) {
        struct facet_row *r = &(*rows)[(*n)++];
        r->slug = col_text(a, s, 0);
        r->name = col_text(a, s, 1);
        r->count = sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? NS_OK : store_err(rc);
}

enum ns_err store_article_total(struct store *st, int64_t *total)
{
    PREPARE(s, "SELECT count(*) FROM articles");
    int rc = sqlite3_step(s);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? NS_OK : store_err(rc);
}
