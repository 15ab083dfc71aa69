/*
 * articles.c - GET /v1/articles and /v1/articles/{id}, and the article list
 * query that the publication and author lists share (one filter fixed).
 */
#include "api/handlers.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/query.h"
#include "domain/highlight.h"
#include "domain/params.h"
#include "domain/search_query.h"
#include "domain/paywall.h"
#include "core/buf.h"
#include "domain/slug.h"
#include "json/resource_json.h"

static const char *const list_params[] = {
    "limit", "cursor", "q", "publication", "author", "topic", "entity", "section",
    "language", "access", "from", "to", "sort", "facets", NULL,
};

/* The filters that take ids or slugs, in the order of enum ref_kind. */
enum ref_kind { REF_PUBLICATION, REF_AUTHOR, REF_TOPIC, REF_ENTITY, REF_KINDS };
static const char *const ref_params[REF_KINDS] = {"publication", "author", "topic", "entity"};

/* Finds the id of a publication, author, topic or entity named by text. */
static enum ns_err find_ref(struct req *rq, enum ref_kind kind, const char *text, int64_t *id)
{
    long long numeric = 0;
    bool is_id = slug_is_id(text, &numeric);
    enum ns_err err = NS_ERR_NOT_FOUND;
    switch (kind) {
    case REF_PUBLICATION: {
        struct publication_row row = {0};
        err = store_publication_get(rq->store, rq->arena, is_id ? numeric : 0, text, &row);
        *id = row.id;
        break;
    }
    case REF_AUTHOR: {
        struct author_row row = {0};
        err = store_author_get(rq->store, rq->arena, is_id ? numeric : 0, text, &row);
        *id = row.id;
        break;
    }
    case REF_TOPIC: {
        struct topic_row row = {0};
        err = store_topic_find(rq->store, rq->arena, text, &row);
        *id = row.id;
        break;
    }
    case REF_ENTITY: {
        struct entity_row row = {0};
        err = store_entity_find(rq->store, rq->arena, text, &row);
        *id = row.id;
        break;
    }
    case REF_KINDS:
        break;
    }
    return err;
}

/* Resolves the comma list of parameter kind to ids (all must exist). */
static void resolve_ids(struct req *rq, enum ref_kind kind, const int64_t **out, size_t *n,
                        struct field_errors *fe)
{
    const char *param = ref_params[kind];
    const char *value = query_get(rq, param);
    const char **items = NULL;
    const char *why = NULL;
    *n = 0;
    if (!value)
        return;
    long count = params_list(rq->arena, value, LIST_MAX_ITEMS, &items, &why);
    if (count < 0) {
        field_errors_add(fe, param, "%s", why);
        return;
    }
    int64_t *ids = arena_calloc(rq->arena, (size_t)count, sizeof(*ids));
    if (!ids) {
        field_errors_add(fe, param, "out of memory");
        return;
    }
    for (long i = 0; i < count; i++) {
        ids[i] = 0;
        enum ns_err err = find_ref(rq, kind, items[i], &ids[i]);
        if (err == NS_ERR_NOT_FOUND)
            field_errors_add(fe, param, "no %s '%.100s'", param, items[i]);
        else if (err)
            field_errors_add(fe, param, "could not be looked up");
    }
    *out = ids;
    *n = (size_t)count;
}

static void parse_filters(struct req *rq, struct article_filter *f, struct field_errors *fe)
{
    const char *why = NULL;
    const char *v;
    if ((v = query_get(rq, "section"))) {
        char *key = arena_alloc(rq->arena, SLUG_BUF);
        if (key && slug_make(v, "", key) && key[0])
            f->section_key = key;
        else
            field_errors_add(fe, "section", "must name a section");
    }
    if ((v = query_get(rq, "language"))) {
        if (params_language(v))
            f->language = v;
        else
            field_errors_add(fe, "language", "must be a language code such as en or pt-br");
    }
    if ((v = query_get(rq, "access"))) {
        if (strcmp(v, "free") == 0)
            f->access = ACCESS_FREE;
        else if (strcmp(v, "premium") == 0)
            f->access = ACCESS_PREMIUM;
        else
            field_errors_add(fe, "access", "must be free or premium");
    }
    if ((v = query_get(rq, "from"))) {
        f->has_from = params_time_bound(v, false, &f->from, &why);
        if (!f->has_from)
            field_errors_add(fe, "from", "%s", why);
    }
    if ((v = query_get(rq, "to"))) {
        f->has_to = params_time_bound(v, true, &f->to, &why);
        if (!f->has_to)
            field_errors_add(fe, "to", "%s", why);
        else if (f->has_from && f->to < f->from)
            field_errors_add(fe, "to", "must not be before from");
    }
    if ((v = query_get(rq, "q"))) {
        f->match = search_query_translate(rq->arena, v, &why);
        if (!f->match && why)
            field_errors_add(fe, "q", "%s", why);
        else if (!f->match)
            field_errors_nomem(fe, "q");
        /* what a reader may not read must not decide what they find either */
        f->hide_premium_rest = paywall_locked(true, api_reader_access(rq), rq->now);
        f->match_public = f->match ? store_search_public(rq->arena, f->match) : NULL;
    }
    f->sort = query_get(rq, "q") ? SORT_RELEVANCE : SORT_NEWEST;
    if ((v = query_get(rq, "sort"))) {
        if (strcmp(v, "oldest") == 0)
            f->sort = SORT_OLDEST;
        else if (strcmp(v, "newest") == 0)
            f->sort = SORT_NEWEST;
        else if (strcmp(v, "relevance") == 0 && query_get(rq, "q"))
            f->sort = SORT_RELEVANCE;
        else if (strcmp(v, "relevance") == 0)
            field_errors_add(fe, "sort", "relevance needs a search: give q");
        else if (strcmp(v, "popular") == 0)
            f->sort = SORT_POPULAR;
        else
            field_errors_add(fe, "sort", "must be newest, oldest, relevance or popular");
    }
}

static json_t *facet_json(const void *row)
{
    return facet_to_json(row);
}

/* Writes n article summaries as a JSON array into out. */
static void summaries_text(const struct article_row *rows, size_t n, struct buf *out)
{
    buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(out, ',');
        article_summary_write(out, &rows[i]);
    }
    buf_putc(out, ']');
}

/* A search result: the summary plus score and highlights, paywall-safe. */
static enum ns_err hit_text(struct req *rq, const struct article_row *row,
                            const struct search_hit *hit, struct buf *out)
{
    /* A locked reader's snippet comes from the preview alone. */
    bool locked = paywall_locked(row->premium, api_reader_access(rq), rq->now);
    const char *snippet = hit->lead;
    if (!locked && !highlight_has_match(hit->lead) &&
        (highlight_has_match(hit->rest) || !hit->lead || !hit->lead[0]))
        snippet = hit->rest;
    char *headline = highlight_html(rq->arena, hit->found ? hit->headline : row->headline);
    char *snippet_html = highlight_html(rq->arena, snippet);
    if (!headline || !snippet_html)
        return NS_ERR_NOMEM;
    article_hit_write(out, row, hit->score, headline, snippet_html);
    return NS_OK;
}

/* Writes the page of search results as a JSON array into out. */
static enum ns_err hits_text(struct req *rq, const struct article_filter *f,
                             const struct article_row *rows, size_t n, struct buf *out)
{
    int64_t *ids = arena_calloc(rq->arena, n + 1, sizeof(*ids));
    struct search_hit *hits = arena_calloc(rq->arena, n + 1, sizeof(*hits));
    if (!ids || !hits)
        return NS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        ids[i] = rows[i].id;
    enum ns_err err =
        store_search_hits(rq->store, rq->arena, f->match, f->hide_premium_rest, ids, n, hits);
    buf_putc(out, '[');
    for (size_t i = 0; i < n && !err; i++) {
        if (i)
            buf_putc(out, ',');
        err = hit_text(rq, &rows[i], &hits[i], out);
    }
    buf_putc(out, ']');
    return err ? err : buf_failed(out) ? NS_ERR_NOMEM : NS_OK;
}

static const char *const facet_names[] = {
    [FACET_PUBLICATION] = "publication",
    [FACET_TOPIC] = "topic",
    [FACET_ENTITY] = "entity",
    [FACET_SECTION] = "section",
};

static void parse_facets(struct req *rq, bool want[FACET_SECTION + 1], struct field_errors *fe)
{
    const char *value = query_get(rq, "facets");
    const char **items = NULL;
    const char *why = NULL;
    if (!value)
        return;
    long n = params_list(rq->arena, value, FACET_SECTION + 1, &items, &why);
    if (n < 0) {
        field_errors_add(fe, "facets", "%s", why);
        return;
    }
    for (long i = 0; i < n; i++) {
        bool known = false;
        for (int k = 0; k <= FACET_SECTION && !known; k++)
            if (strcmp(items[i], facet_names[k]) == 0)
                want[k] = known = true;
        if (!known)
            field_errors_add(fe, "facets",
                             "'%.40s' is not a facet: use publication, topic, entity or section",
                             items[i]);
    }
}

/* Adds meta.facets with the counts of every wanted facet over the whole result. */
static enum ns_err add_facets(struct req *rq, const struct article_filter *f,
                              const bool want[FACET_SECTION + 1], json_t *meta)
{
    json_t *facets = NULL;
    for (int k = 0; k <= FACET_SECTION; k++) {
        if (!want[k])
            continue;
        struct facet_row *rows = NULL;
        size_t n = 0;
        enum ns_err err = store_articles_facet(rq->store, rq->arena, f, (enum facet_kind)k,
                                               &rows, &n);
        if (err)
            return err;
        if (!facets && (!(facets = json_object()) || json_object_set_new(meta, "facets", facets)))
            return NS_ERR_NOMEM;
        json_t *list = query_rows_to_json(rows, n, sizeof(*rows), facet_json);
        if (!list || json_object_set_new(facets, facet_names[k], list))
            return NS_ERR_NOMEM;
    }
    return NS_OK;
}

static const char *const sort_names[] = {
    [SORT_NEWEST] = "newest",
    [SORT_OLDEST] = "oldest",
    [SORT_RELEVANCE] = "relevance",
    [SORT_POPULAR] = "popular",
};

/* The canonical text of the query (minus limit and cursor) that scopes its cursors. */
static const char *canonical(struct req *rq, const char *route, const struct article_filter *f)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "articles|%s|%s|q=%s|h=%d", route, sort_names[f->sort], f->match ? f->match : "",
               (int)f->hide_premium_rest);
    for (size_t i = 0; i < f->n_publications; i++)
        buf_printf(&b, "|p%lld", (long long)f->publication_ids[i]);
    for (size_t i = 0; i < f->n_authors; i++)
        buf_printf(&b, "|a%lld", (long long)f->author_ids[i]);
    for (size_t i = 0; i < f->n_topics; i++)
        buf_printf(&b, "|t%lld", (long long)f->topic_ids[i]);
    for (size_t i = 0; i < f->n_entities; i++)
        buf_printf(&b, "|e%lld", (long long)f->entity_ids[i]);
    buf_printf(&b, "|s=%s|l=%s|x=%d", f->section_key ? f->section_key : "",
               f->language ? f->language : "", (int)f->access);
    if (f->has_from)
        buf_printf(&b, "|from=%lld", (long long)f->from);
    if (f->has_to)
        buf_printf(&b, "|to=%lld", (long long)f->to);
    char *s = buf_failed(&b) ? NULL : arena_strdup(rq->arena, b.data);
    buf_release(&b);
    return s ? s : route;
}

void articles_list(struct req *rq, struct resp *rs, const char *route,
                          const char *fixed_param, int64_t fixed_id)
{
    struct field_errors fe;
    struct article_filter f = {.access = ACCESS_ANY};
    struct page pg;
    field_errors_init(&fe, rq->arena);
    query_check(rq, list_params, &fe);
    if (fixed_param && query_get(rq, fixed_param))
        field_errors_add(&fe, fixed_param, "is fixed by the path of this endpoint");
    if (query_refused(rq, rs, &fe))
        return;
    const int64_t **ids[REF_KINDS] = {&f.publication_ids, &f.author_ids, &f.topic_ids,
                                      &f.entity_ids};
    size_t *counts[REF_KINDS] = {&f.n_publications, &f.n_authors, &f.n_topics, &f.n_entities};
    for (int k = 0; k < REF_KINDS; k++) {
        if (fixed_param && strcmp(fixed_param, ref_params[k]) == 0) {
            *ids[k] = &fixed_id;
            *counts[k] = 1;
        } else {
            resolve_ids(rq, (enum ref_kind)k, ids[k], counts[k], &fe);
        }
    }
    parse_filters(rq, &f, &fe);
    bool facets[FACET_SECTION + 1] = {false};
    parse_facets(rq, facets, &fe);
    query_page(rq, canonical(rq, route, &f), &pg, &fe);
    if (query_refused(rq, rs, &fe))
        return;

    /* One row more than asked tells whether a next page exists. */
    f.limit = pg.limit + 1;
    if (pg.has_cursor) {
        f.has_after = true;
        f.after_time = pg.cursor.key;
        memcpy(&f.after_score, &pg.cursor.key, sizeof(f.after_score));
        f.after_reads = pg.cursor.key;
        f.after_id = pg.cursor.id;
    }
    struct article_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    enum ns_err err = store_articles_list(rq->store, rq->arena, &f, &rows, &n, &total);
    if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    bool more = query_page_trim(&pg, &n);
    struct buf data;
    buf_init(&data);
    if (f.match)
        err = hits_text(rq, &f, rows, n, &data);
    else
        summaries_text(rows, n, &data);
    if (err) {
        buf_release(&data);
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    struct cursor next = {.scope = pg.scope};
    if (more) {
        next.key = rows[n - 1].published_at;
        if (f.sort == SORT_RELEVANCE)
            memcpy(&next.key, &rows[n - 1].score, sizeof(next.key));
        else if (f.sort == SORT_POPULAR)
            next.key = rows[n - 1].reads;
        next.id = rows[n - 1].id;
    }
    json_t *meta = json_pack("{ss}", "sort", sort_names[f.sort]);
    err = add_facets(rq, &f, facets, meta);
    if (err) {
        json_decref(meta);
        buf_release(&data);
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    query_list_reply_text(rq, rs, &data, meta, &pg, total, more ? &next : NULL);
}

void articles_feed(struct req *rq, struct resp *rs, int64_t follower)
{
    struct field_errors fe;
    struct article_filter f = {.access = ACCESS_ANY, .sort = SORT_NEWEST, .follower = follower};
    struct page pg;
    char canonical[48];
    field_errors_init(&fe, rq->arena);
    snprintf(canonical, sizeof(canonical), "feed|%lld", (long long)follower);
    query_page(rq, canonical, &pg, &fe);
    if (query_refused(rq, rs, &fe))
        return;
    f.limit = pg.limit + 1;
    if (pg.has_cursor) {
        f.has_after = true;
        f.after_time = pg.cursor.key;
        f.after_id = pg.cursor.id;
    }
    struct article_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    enum ns_err err = store_articles_list(rq->store, rq->arena, &f, &rows, &n, &total);
    if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    bool more = query_page_trim(&pg, &n);
    struct cursor next = {.scope = pg.scope};
    if (more) {
        next.key = rows[n - 1].published_at;
        next.id = rows[n - 1].id;
    }
    struct buf data;
    buf_init(&data);
    summaries_text(rows, n, &data);
    query_list_reply_text(rq, rs, &data, json_pack("{ss}", "source", "follows"), &pg, total,
                          more ? &next : NULL);
}

void handle_articles_list(struct req *rq, struct resp *rs)
{
    articles_list(rq, rs, "/v1/articles", NULL, 0);
}

void handle_article_get(struct req *rq, struct resp *rs)
{
    if (!query_none(rq, rs))
        return;
    const char *slug;
    int64_t id = query_path_id(rq, &slug);
    struct article_row row;
    enum ns_err err = store_article_get(rq->store, rq->arena, id, slug, &row);
    if (err) {
        resp_lookup_problem(rq, rs, err, "article");
        return;
    }
    bool locked = paywall_locked(row.premium, api_reader_access(rq), rq->now);
    struct buf body;
    buf_init(&body);
    if (!article_full_write(&body, &row, locked))
        body.failed = true;
    resp_json_text(rq, rs, 200, &body);
}
