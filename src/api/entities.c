/*
 * entities.c - GET /v1/entities, /v1/entities/{id}, its articles and the
 * entities related to it.
 */
#include "api/handlers.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/query.h"
#include "domain/entity.h"
#include "domain/fold.h"
#include "json/resource_json.h"

enum { Q_MAX_CHARS = 100 };

static json_t *entity_json(const void *row)
{
    return entity_to_json(row);
}

static json_t *related_json(const void *row)
{
    return related_to_json(row);
}

/* Reads type, q and sort into f; problems go to fe. */
static void parse_entity_filter(struct req *rq, struct entity_filter *f, struct field_errors *fe)
{
    const char *v;
    if ((v = query_get(rq, "type"))) {
        if (entity_type_valid(v))
            f->type = v;
        else
            field_errors_add(fe, "type", "must be person, organization, place, event, work or other");
    }
    if ((v = query_get(rq, "q"))) {
        size_t chars = 0;
        for (const char *p = v; *p; p++)
            chars += ((unsigned char)*p & 0xC0) != 0x80;
        char *key = chars <= Q_MAX_CHARS ? fold_key(rq->arena, v) : NULL;
        if (chars > Q_MAX_CHARS)
            field_errors_add(fe, "q", "must be at most %d characters", Q_MAX_CHARS);
        else if (!key || !key[0])
            field_errors_add(fe, "q", "must contain a letter or a digit");
        else
            f->prefix_key = key;
    }
    if ((v = query_get(rq, "sort"))) {
        if (strcmp(v, "name") == 0)
            f->by_name = true;
        else if (strcmp(v, "articles") != 0)
            field_errors_add(fe, "sort", "must be articles or name");
    }
}

void handle_entities_list(struct req *rq, struct resp *rs)
{
    static const char *const params[] = {"limit", "cursor", "type", "q", "sort", NULL};
    struct field_errors fe;
    struct entity_filter f = {0};
    struct page pg;
    field_errors_init(&fe, rq->arena);
    query_check(rq, params, &fe);
    if (!fe.count)
        parse_entity_filter(rq, &f, &fe);
    char canonical[256];
    snprintf(canonical, sizeof(canonical), "entities|%s|%s|%s", f.type ? f.type : "",
             f.by_name ? "name" : "articles", f.prefix_key ? f.prefix_key : "");
    if (!fe.count)
        query_page(rq, canonical, &pg, &fe);
    if (query_refused(rq, rs, &fe))
        return;
    f.limit = pg.limit + 1;
    if (pg.has_cursor) {
        f.has_after = true;
        f.after_count = pg.cursor.key;
        f.after_key = pg.cursor.skey;
        f.after_id = pg.cursor.id;
    }
    struct entity_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    enum ns_err err = store_entities_list(rq->store, rq->arena, &f, &rows, &n, &total);
    if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    bool more = query_page_trim(&pg, &n);
    json_t *data = query_rows_to_json(rows, n, sizeof(*rows), entity_json);
    struct cursor next = {.scope = pg.scope};
    if (more) {
        const struct entity_row *last = &rows[n - 1];
        char *key = fold_key(rq->arena, last->name);
        next.key = last->article_count;
        next.id = last->id;
        snprintf(next.skey, sizeof(next.skey), "%s", f.by_name && key ? key : "");
    }
    query_list_reply(rq, rs, data, json_pack("{ss}", "sort", f.by_name ? "name" : "articles"),
                     &pg, total, more ? &next : NULL);
}

/* Finds the entity named by the path; answers the problem and returns false if none. */
static bool path_entity(struct req *rq, struct resp *rs, struct entity_row *row)
{
    enum ns_err err = store_entity_find(rq->store, rq->arena, rq->path_params[0], row);
    if (err)
        resp_lookup_problem(rq, rs, err, "entity");
    return err == NS_OK;
}

void handle_entity_get(struct req *rq, struct resp *rs)
{
    struct entity_row row;
    if (query_none(rq, rs) && path_entity(rq, rs, &row))
        resp_json(rq, rs, 200, entity_to_json(&row));
}

void handle_entity_articles(struct req *rq, struct resp *rs)
{
    struct entity_row row;
    if (path_entity(rq, rs, &row))
        articles_list(rq, rs, "/v1/entities/{id}/articles", "entity", row.id);
}

void handle_entity_related(struct req *rq, struct resp *rs)
{
    static const char *const params[] = {"limit", "cursor", NULL};
    struct field_errors fe;
    struct page pg;
    struct entity_row entity;
    field_errors_init(&fe, rq->arena);
    query_check(rq, params, &fe);
    if (query_refused(rq, rs, &fe))
        return;
    if (!path_entity(rq, rs, &entity))
        return;
    char canonical[64];
    snprintf(canonical, sizeof(canonical), "related|%lld", (long long)entity.id);
    query_page(rq, canonical, &pg, &fe);
    if (query_refused(rq, rs, &fe))
        return;
    struct related_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    enum ns_err err = store_entity_related(rq->store, rq->arena, entity.id, pg.has_cursor,
                                           pg.cursor.key, pg.cursor.id, pg.limit + 1, &rows, &n,
                                           &total);
    if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    bool more = query_page_trim(&pg, &n);
    json_t *data = query_rows_to_json(rows, n, sizeof(*rows), related_json);
    struct cursor next = {.scope = pg.scope};
    if (more) {
        next.key = rows[n - 1].count;
        next.id = rows[n - 1].entity.id;
    }
    query_list_reply(rq, rs, data, json_object(), &pg, total, more ? &next : NULL);
}
