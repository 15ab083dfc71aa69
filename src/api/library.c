/*
 * library.c - what readers keep and what their reading ranks: follows,
 * the personal feed, bookmarks, history, reads, top stories and related
 * articles. Every /v1/me route acts on the token's own reader only.
 */
#include "api/handlers.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"
#include "domain/params.h"
#include "domain/slug.h"
#include "domain/timefmt.h"
#include "json/resource_json.h"

static const char *const follow_kinds[] = {"topic", "entity", "publication", "author"};

/* Finds what a follow names; NS_ERR_NOT_FOUND for an unknown kind or target. */
static enum ns_err follow_target(struct req *rq, const char *kind, const char *ref, int64_t *id)
{
    long long numeric = 0;
    bool is_id = slug_is_id(ref, &numeric);
    enum ns_err err = NS_ERR_NOT_FOUND;
    if (strcmp(kind, "topic") == 0) {
        struct topic_row t = {0};
        err = store_topic_find(rq->store, rq->arena, ref, &t);
        *id = t.id;
    } else if (strcmp(kind, "entity") == 0) {
        struct entity_row e = {0};
        err = store_entity_find(rq->store, rq->arena, ref, &e);
        *id = e.id;
    } else if (strcmp(kind, "publication") == 0) {
        struct publication_row p = {0};
        err = store_publication_get(rq->store, rq->arena, is_id ? numeric : 0, ref, &p);
        *id = p.id;
    } else if (strcmp(kind, "author") == 0) {
        struct author_row au = {0};
        err = store_author_get(rq->store, rq->arena, is_id ? numeric : 0, ref, &au);
        *id = au.id;
    }
    return err;
}

static void follow_write(struct req *rq, struct resp *rs, bool on)
{
    const char *kind = rq->path_params[0];
    bool known = false;
    for (size_t i = 0; i < 4 && !known; i++)
        known = strcmp(kind, follow_kinds[i]) == 0;
    if (!query_none(rq, rs))
        return;
    if (!known) {
        resp_problem(rq, rs, NS_ERR_NOT_FOUND,
                     "no such kind: follow a topic, entity, publication or author", NULL);
        return;
    }
    if (!write_begin(rq, rs))
        return;
    int64_t target = 0;
    enum ns_err err = follow_target(rq, kind, rq->path_params[1], &target);
    bool missing = err == NS_ERR_NOT_FOUND;
    if (!err)
        err = store_follow_set(rq->store, rq->reader->user_id, kind, target, on, rq->now);
    err = write_end(rq, err);
    if (missing) {
        resp_lookup_problem(rq, rs, NS_ERR_NOT_FOUND, kind);
    } else if (err == NS_ERR_INVALID) {
        struct field_errors fe;
        field_errors_init(&fe, rq->arena);
        field_errors_add(&fe, "follows", "a reader may follow at most %d things", FOLLOWS_MAX);
        resp_problem(rq, rs, err, "too many follows", &fe);
    } else if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
    } else {
        resp_no_content(rs);
    }
}

void handle_follow_put(struct req *rq, struct resp *rs)
{
    follow_write(rq, rs, true);
}

void handle_follow_delete(struct req *rq, struct resp *rs)
{
    follow_write(rq, rs, false);
}

static json_t *follow_json(const void *row)
{
    return follow_to_json(row);
}

void handle_follows_get(struct req *rq, struct resp *rs)
{
    static const char *const params[] = {"limit", "cursor", NULL};
    struct field_errors fe;
    struct page pg;
    char canonical[48];
    field_errors_init(&fe, rq->arena);
    query_check(rq, params, &fe);
    snprintf(canonical, sizeof(canonical), "follows|%lld", (long long)rq->reader->user_id);
    if (!fe.count)
        query_page(rq, canonical, &pg, &fe);
    if (query_refused(rq, rs, &fe))
        return;
    struct follow_row after = {0}, *rows = NULL;
    if (pg.has_cursor)
        after = (struct follow_row){
            .kind = pg.cursor.skey, .id = pg.cursor.id, .followed_at = pg.cursor.key};
    size_t n = 0;
    int64_t total = 0;
    enum ns_err err = store_follows_list(rq->store, rq->arena, rq->reader->user_id,
                                         pg.has_cursor ? &after : NULL, pg.limit + 1, &rows, &n,
                                         &total);
    if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    bool more = query_page_trim(&pg, &n);
    struct cursor next = {.scope = pg.scope};
    if (more) {
        next.key = rows[n - 1].followed_at;
        next.id = rows[n - 1].id;
        snprintf(next.skey, sizeof(next.skey), "%s", rows[n - 1].kind);
    }
    query_list_reply(rq, rs, query_rows_to_json(rows, n, sizeof(*rows), follow_json),
                     json_object(), &pg, total, more ? &next : NULL);
}

/* A summary with one extra member (a time or a number) under `key`. */
static json_t *summary_with(const struct article_row *row, const char *key, json_t *value)
{
    json_t *o = article_summary_to_json(row);
    if (!o || json_object_set_new(o, key, value)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *time_value(int64_t t)
{
    char text[TIMEFMT_LEN];
    timefmt_format(t, text);
    return json_string(text);
}

/* Lists a shelf (bookmarks or history) of the reader as summaries with their time. */
static void shelf_list(struct req *rq, struct resp *rs, enum shelf shelf, const char *time_key)
{
    static const char *const params[] = {"limit", "cursor", NULL};
    struct field_errors fe;
    struct page pg;
    char canonical[48];
    field_errors_init(&fe, rq->arena);
    query_check(rq, params, &fe);
    snprintf(canonical, sizeof(canonical), "shelf|%d|%lld", (int)shelf,
             (long long)rq->reader->user_id);
    if (!fe.count)
        query_page(rq, canonical, &pg, &fe);
    if (query_refused(rq, rs, &fe))
        return;
    struct shelf_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    enum ns_err err = store_shelf_list(rq->store, rq->arena, shelf, rq->reader->user_id,
                                       pg.has_cursor, pg.cursor.key, pg.cursor.id, pg.limit + 1,
                                       &rows, &n, &total);
    if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    bool more = query_page_trim(&pg, &n);
    json_t *data = json_array();
    for (size_t i = 0; data && i < n && !err; i++) {
        struct article_row row;
        err = store_article_summary(rq->store, rq->arena, rows[i].article_id, &row);
        if (!err && json_array_append_new(data, summary_with(&row, time_key, time_value(rows[i].at))))
            err = NS_ERR_NOMEM;
    }
    if (err) {
        json_decref(data);
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    struct cursor next = {.scope = pg.scope};
    if (more) {
        next.key = rows[n - 1].at;
        next.id = rows[n - 1].article_id;
    }
    query_list_reply(rq, rs, data, json_object(), &pg, total, more ? &next : NULL);
}

void handle_bookmarks_get(struct req *rq, struct resp *rs)
{
    shelf_list(rq, rs, SHELF_BOOKMARKS, "bookmarked_at");
}

void handle_history_get(struct req *rq, struct resp *rs)
{
    shelf_list(rq, rs, SHELF_HISTORY, "read_at");
}

static void bookmark_write(struct req *rq, struct resp *rs, bool on)
{
    struct article_row row;
    if (!query_none(rq, rs) || !write_begin(rq, rs))
        return;
    const char *slug;
    int64_t id = query_path_id(rq, &slug);
    enum ns_err err = store_article_get(rq->store, rq->arena, id, slug, &row);
    if (!err)
        err = store_bookmark_set(rq->store, rq->reader->user_id, row.id, on, rq->now);
    err = write_end(rq, err);
    if (err)
        resp_lookup_problem(rq, rs, err, "article");
    else
        resp_no_content(rs);
}

void handle_bookmark_put(struct req *rq, struct resp *rs)
{
    bookmark_write(rq, rs, true);
}

void handle_bookmark_delete(struct req *rq, struct resp *rs)
{
    bookmark_write(rq, rs, false);
}

void handle_read_post(struct req *rq, struct resp *rs)
{
    struct article_row row;
    if (!query_none(rq, rs) || !write_begin(rq, rs))
        return;
    const char *slug;
    int64_t id = query_path_id(rq, &slug);
    enum ns_err err = store_article_get(rq->store, rq->arena, id, slug, &row);
    if (!err)
        err = store_read_record(rq->store, row.id, rq->reader ? rq->reader->user_id : 0, rq->now);
    err = write_end(rq, err);
    if (err)
        resp_lookup_problem(rq, rs, err, "article");
    else
        resp_no_content(rs);
}

static const struct {
    const char *name;
    int64_t hours;
} windows[] = {{"1h", 1}, {"24h", 24}, {"7d", 7 * 24}};

/* Top stories of a window as a list reply; window_name must be one of windows[]. */
static void top_stories(struct req *rq, struct resp *rs, const char *window_name, json_t *meta)
{
    struct field_errors fe;
    struct page pg;
    int64_t hours = 24;
    for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++)
        if (strcmp(windows[i].name, window_name) == 0)
            hours = windows[i].hours;
    char canonical[32];
    snprintf(canonical, sizeof(canonical), "top|%s", window_name);
    field_errors_init(&fe, rq->arena);
    query_page(rq, canonical, &pg, &fe);
    if (fe.count) {
        json_decref(meta);
        resp_problem(rq, rs, NS_ERR_BAD_PARAM, "the query has invalid parameters", &fe);
        return;
    }
    struct ranked_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    /* reads are counted in whole hours: the window reaches back to the start of the hour
     * that was `hours` ago, so a read is never dropped before the window has passed it
     * (the same buckets trending topics sum) */
    enum ns_err err = store_top_stories(rq->store, rq->arena, (rq->now - hours * 3600) / 3600,
                                        pg.has_cursor, pg.cursor.key, pg.cursor.id, pg.limit + 1,
                                        &rows, &n, &total);
    bool more = !err && query_page_trim(&pg, &n);
    struct buf data;
    buf_init(&data);
    buf_putc(&data, '[');
    for (size_t i = 0; i < n && !err; i++) {
        struct article_row row;
        err = store_article_summary(rq->store, rq->arena, rows[i].article_id, &row);
        if (!err) {
            if (i)
                buf_putc(&data, ',');
            article_counted_write(&data, &row, "reads", (int64_t)rows[i].value);
        }
    }
    buf_putc(&data, ']');
    if (!err && buf_failed(&data))
        err = NS_ERR_NOMEM;
    if (err) {
        buf_release(&data);
        json_decref(meta);
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    struct cursor next = {.scope = pg.scope};
    if (more) {
        next.key = (int64_t)rows[n - 1].value;
        next.id = rows[n - 1].article_id;
    }
    json_object_set_new(meta, "window", json_string(window_name));
    query_list_reply_text(rq, rs, &data, meta, &pg, total, more ? &next : NULL);
}

void handle_top_stories(struct req *rq, struct resp *rs)
{
    static const char *const params[] = {"limit", "cursor", "window", NULL};
    struct field_errors fe;
    field_errors_init(&fe, rq->arena);
    query_check(rq, params, &fe);
    const char *window = query_get(rq, "window");
    bool known = !window;
    for (size_t i = 0; window && i < sizeof(windows) / sizeof(windows[0]); i++)
        known = known || strcmp(window, windows[i].name) == 0;
    if (!known)
        field_errors_add(&fe, "window", "must be 1h, 24h or 7d");
    if (query_refused(rq, rs, &fe))
        return;
    top_stories(rq, rs, window ? window : "24h", json_object());
}

void handle_feed(struct req *rq, struct resp *rs)
{
    static const char *const params[] = {"limit", "cursor", NULL};
    struct field_errors fe;
    struct follow_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    field_errors_init(&fe, rq->arena);
    query_check(rq, params, &fe);
    if (query_refused(rq, rs, &fe))
        return;
    enum ns_err err =
        store_follows_list(rq->store, rq->arena, rq->reader->user_id, NULL, 1, &rows, &n, &total);
    if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    if (total == 0) {
        /* nothing followed yet: the most read of the day instead of an empty page */
        top_stories(rq, rs, "24h", json_pack("{ss}", "source", "top-stories"));
        return;
    }
    articles_feed(rq, rs, rq->reader->user_id);
}

void handle_related(struct req *rq, struct resp *rs)
{
    static const char *const params[] = {"limit", NULL};
    struct field_errors fe;
    struct article_row article;
    int limit = 10;
    const char *why = NULL;
    field_errors_init(&fe, rq->arena);
    query_check(rq, params, &fe);
    const char *v = query_get(rq, "limit");
    if (v && (!params_limit(v, &limit, &why) || limit > 50))
        field_errors_add(&fe, "limit", "must be between 1 and 50");
    if (query_refused(rq, rs, &fe))
        return;
    const char *slug;
    int64_t id = query_path_id(rq, &slug);
    enum ns_err err = store_article_get(rq->store, rq->arena, id, slug, &article);
    struct ranked_row *rows = NULL;
    size_t n = 0;
    if (!err)
        err = store_article_related(rq->store, rq->arena, article.id, rq->now, limit, &rows, &n);
    json_t *data = err ? NULL : json_array();
    for (size_t i = 0; data && i < n && !err; i++) {
        struct article_row row;
        double score = (double)(long long)(rows[i].value * 1000.0 + 0.5) / 1000.0;
        err = store_article_summary(rq->store, rq->arena, rows[i].article_id, &row);
        if (!err && json_array_append_new(data, summary_with(&row, "relatedness", json_real(score))))
            err = NS_ERR_NOMEM;
    }
    if (err) {
        json_decref(data);
        resp_lookup_problem(rq, rs, err, "article");
        return;
    }
    json_t *body = json_pack("{so,s{si,sI,sn},s{ss,sn}}", "data", data, "meta", "limit", limit,
                             "total", (json_int_t)n, "next_cursor", "links", "self", rq->path,
                             "next");
    resp_json(rq, rs, 200, body);
}
