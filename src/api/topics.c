/*
 * topics.c - GET /v1/topics (by name, by articles, or trending in a
 * window), /v1/topics/{id} and its articles.
 */
#include "api/handlers.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"
#include "json/resource_json.h"

static const struct {
    const char *name;
    int64_t seconds;
} windows[] = {{"1h", 3600}, {"24h", 86400}, {"7d", 7 * 86400}};

struct topic_list {
    struct topic_filter f;
    const char *window; /* trending only */
};

static const char *sort_name(enum topic_sort sort)
{
    return sort == TOPICS_BY_NAME ? "name" : sort == TOPICS_BY_ARTICLES ? "articles" : "trending";
}

static void parse_topic_list(struct req *rq, struct topic_list *l, struct field_errors *fe)
{
    const char *sort = query_get(rq, "sort"), *window = query_get(rq, "window");
    l->f.sort = TOPICS_BY_NAME;
    if (sort && strcmp(sort, "articles") == 0)
        l->f.sort = TOPICS_BY_ARTICLES;
    else if (sort && strcmp(sort, "trending") == 0)
        l->f.sort = TOPICS_TRENDING;
    else if (sort && strcmp(sort, "name") != 0)
        field_errors_add(fe, "sort", "must be name, articles or trending");
    if (window && l->f.sort != TOPICS_TRENDING) {
        field_errors_add(fe, "window", "applies only with sort=trending");
        return;
    }
    if (l->f.sort != TOPICS_TRENDING)
        return;
    l->window = window ? window : "24h";
    size_t k = 0;
    while (k < sizeof(windows) / sizeof(windows[0]) && strcmp(windows[k].name, l->window) != 0)
        k++;
    if (k == sizeof(windows) / sizeof(windows[0])) {
        field_errors_add(fe, "window", "must be 1h, 24h or 7d");
        return;
    }
    l->window = windows[k].name;
    l->f.since = rq->now - windows[k].seconds;
    l->f.until = rq->now;
}

static json_t *topic_list_json(const struct topic_row *rows, size_t n, const char *window)
{
    json_t *data = json_array();
    for (size_t i = 0; data && i < n; i++)
        if (json_array_append_new(data, topic_to_json(&rows[i], window))) {
            json_decref(data);
            return NULL;
        }
    return data;
}

void handle_topics_list(struct req *rq, struct resp *rs)
{
    static const char *const params[] = {"limit", "cursor", "sort", "window", NULL};
    struct field_errors fe;
    struct topic_list l = {{0}, NULL};
    struct page pg;
    field_errors_init(&fe, rq->arena);
    query_check(rq, params, &fe);
    if (!fe.count)
        parse_topic_list(rq, &l, &fe);
    char canonical[64];
    snprintf(canonical, sizeof(canonical), "topics|%s|%s", sort_name(l.f.sort),
             l.window ? l.window : "");
    if (!fe.count)
        query_page(rq, canonical, &pg, &fe);
    if (query_refused(rq, rs, &fe))
        return;
    l.f.limit = pg.limit + 1;
    if (pg.has_cursor) {
        l.f.has_after = true;
        l.f.after_a = pg.cursor.key;
        char *rest = NULL;
        l.f.after_b = strtoll(pg.cursor.skey, &rest, 10);
        l.f.after_c = rest && *rest == ':' ? strtoll(rest + 1, NULL, 10) : 0;
        l.f.after_slug = pg.cursor.skey;
        l.f.after_id = pg.cursor.id;
    }
    struct topic_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    enum ns_err err = store_topics_list(rq->store, rq->arena, &l.f, &rows, &n, &total);
    if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    bool more = query_page_trim(&pg, &n);
    json_t *data = topic_list_json(rows, n, l.window);
    struct cursor next = {.scope = pg.scope};
    if (more) {
        const struct topic_row *last = &rows[n - 1];
        next.id = last->id;
        if (l.f.sort == TOPICS_BY_NAME) {
            snprintf(next.skey, sizeof(next.skey), "%s", last->slug);
        } else if (l.f.sort == TOPICS_BY_ARTICLES) {
            next.key = last->article_count;
        } else {
            next.key = last->trend_articles;
            snprintf(next.skey, sizeof(next.skey), "%lld:%lld", (long long)last->trend_reads,
                     (long long)last->article_count);
        }
    }
    json_t *meta = json_pack("{ss}", "sort", sort_name(l.f.sort));
    if (meta && l.window)
        json_object_set_new(meta, "window", json_string(l.window));
    query_list_reply(rq, rs, data, meta, &pg, total, more ? &next : NULL);
}

static bool path_topic(struct req *rq, struct resp *rs, struct topic_row *row)
{
    enum ns_err err = store_topic_find(rq->store, rq->arena, rq->path_params[0], row);
    if (err)
        resp_lookup_problem(rq, rs, err, "topic");
    return err == NS_OK;
}

void handle_topic_get(struct req *rq, struct resp *rs)
{
    struct topic_row row;
    if (query_none(rq, rs) && path_topic(rq, rs, &row))
        resp_json(rq, rs, 200, topic_to_json(&row, NULL));
}

void handle_topic_articles(struct req *rq, struct resp *rs)
{
    struct topic_row row;
    if (path_topic(rq, rs, &row))
        articles_list(rq, rs, "/v1/topics/{id}/articles", "topic", row.id);
}
