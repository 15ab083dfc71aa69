/*
 * admin.c - editorial writes: entities (create, edit, merge), topics,
 * publications, and the editors' picks (and reading them).
 *
 * Entity writes change what the matcher must know, so after each one the
 * matcher is rebuilt from the store under the write lock.
 */
#include "api/handlers.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"
#include "domain/matcher.h"
#include "ingest/ingest.h"
#include "json/admin_parse.h"
#include "json/entity_parse.h"
#include "json/resource_json.h"

/* Rebuilds the shared matcher from the gazetteer as it now stands. */
static void matcher_reload(struct req *rq)
{
    struct matcher *m = NULL;
    pthread_mutex_lock(&rq->ctx->write_lock);
    if (ingest_matcher_load(rq->store, &m) == NS_OK) {
        matcher_free(rq->ctx->matcher);
        rq->ctx->matcher = m;
    }
    pthread_mutex_unlock(&rq->ctx->write_lock);
}

static void set_location(struct req *rq, struct resp *rs, const char *collection, int64_t id)
{
    char *location = arena_alloc(rq->arena, 64);
    if (location) {
        snprintf(location, 64, "/v1/%s/%lld", collection, (long long)id);
        resp_header(rs, "Location", location);
    }
}

static void reply_entity(struct req *rq, struct resp *rs, int64_t id, int status)
{
    char ref[24];
    struct entity_row row;
    snprintf(ref, sizeof(ref), "%lld", (long long)id);
    enum ns_err err = store_entity_find(rq->store, rq->arena, ref, &row);
    if (err) {
        resp_lookup_problem(rq, rs, err, "entity");
        return;
    }
    resp_json(rq, rs, status, entity_to_json(&row));
    if (status == 201)
        set_location(rq, rs, "entities", id);
}

void handle_entity_post(struct req *rq, struct resp *rs)
{
    struct field_errors fe;
    struct entity_write w;
    enum upsert_result result = UPSERT_UNCHANGED;
    int64_t id = 0;
    field_errors_init(&fe, rq->arena);
    if (!query_none(rq, rs))
        return;
    enum ns_err err = entity_parse(rq->arena, rq->body, rq->body_len, &w, &fe);
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    if (!write_begin(rq, rs))
        return;
    err = store_entity_upsert(rq->store, rq->arena, &w, false, rq->now, &result, &id, NULL, NULL);
    if (!err && result != UPSERT_CREATED) {
        field_errors_add(&fe, "name", "an entity with this name, alias or wikidata id exists: %lld",
                         (long long)id);
        err = NS_ERR_CONFLICT;
    }
    if (err == NS_ERR_INVALID)
        field_errors_add(&fe, "name", "has no letters or digits");
    err = write_end(rq, err);
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    matcher_reload(rq);
    reply_entity(rq, rs, id, 201);
}

void handle_entity_patch(struct req *rq, struct resp *rs)
{
    struct field_errors fe;
    struct entity_patch patch;
    struct entity_row row;
    field_errors_init(&fe, rq->arena);
    if (!query_none(rq, rs))
        return;
    enum ns_err err = entity_patch_parse(rq->arena, rq->body, rq->body_len, &patch, &fe);
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    if (!write_begin(rq, rs))
        return;
    err = store_entity_find(rq->store, rq->arena, rq->path_params[0], &row);
    if (!err)
        err = store_entity_patch(rq->store, rq->arena, row.id, &patch);
    if (err == NS_ERR_CONFLICT)
        field_errors_add(&fe, patch.name ? "name" : "wikidata",
                         patch.name ? "is another entity's name (merge them instead)"
                                    : "belongs to another entity");
    err = write_end(rq, err);
    if (err == NS_ERR_NOT_FOUND) {
        resp_lookup_problem(rq, rs, err, "entity");
        return;
    }
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    matcher_reload(rq);
    reply_entity(rq, rs, row.id, 200);
}

void handle_entity_merge(struct req *rq, struct resp *rs)
{
    struct field_errors fe;
    struct entity_row from, into;
    const char *into_ref = NULL;
    field_errors_init(&fe, rq->arena);
    if (!query_none(rq, rs))
        return;
    enum ns_err err = merge_parse(rq->arena, rq->body, rq->body_len, &into_ref, &fe);
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    if (!write_begin(rq, rs))
        return;
    err = store_entity_find(rq->store, rq->arena, rq->path_params[0], &from);
    bool path_missing = err == NS_ERR_NOT_FOUND;
    if (!err) {
        err = store_entity_find(rq->store, rq->arena, into_ref, &into);
        if (err == NS_ERR_NOT_FOUND) {
            field_errors_add(&fe, "into", "no entity '%.100s'", into_ref);
            err = NS_ERR_INVALID;
        } else if (!err && into.id == from.id) {
            field_errors_add(&fe, "into", "must be another entity than the one merged");
            err = NS_ERR_INVALID;
        }
    }
    if (!err)
        err = store_entity_merge(rq->store, from.id, into.id);
    err = write_end(rq, err);
    if (path_missing) {
        resp_lookup_problem(rq, rs, NS_ERR_NOT_FOUND, "entity");
        return;
    }
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    matcher_reload(rq);
    reply_entity(rq, rs, into.id, 200);
}

static void reply_topic(struct req *rq, struct resp *rs, int64_t id, int status)
{
    char ref[24];
    struct topic_row row;
    snprintf(ref, sizeof(ref), "%lld", (long long)id);
    enum ns_err err = store_topic_find(rq->store, rq->arena, ref, &row);
    if (err) {
        resp_lookup_problem(rq, rs, err, "topic");
        return;
    }
    resp_json(rq, rs, status, topic_to_json(&row, NULL));
    if (status == 201)
        set_location(rq, rs, "topics", id);
}

/* Resolves w->parent to an id (0 for none); records a field error when unknown. */
static enum ns_err topic_parent(struct req *rq, const struct topic_write *w, int64_t *parent,
                                struct field_errors *fe)
{
    struct topic_row row = {0};
    *parent = 0;
    if (!w->parent)
        return NS_OK;
    enum ns_err err = store_topic_find(rq->store, rq->arena, w->parent, &row);
    if (err == NS_ERR_NOT_FOUND) {
        field_errors_add(fe, "parent", "no topic '%.100s'", w->parent);
        return NS_ERR_INVALID;
    }
    *parent = row.id;
    return err;
}

void handle_topic_post(struct req *rq, struct resp *rs)
{
    struct field_errors fe;
    struct topic_write w;
    int64_t parent = 0, id = 0;
    field_errors_init(&fe, rq->arena);
    if (!query_none(rq, rs))
        return;
    enum ns_err err = topic_parse(rq->arena, rq->body, rq->body_len, true, &w, &fe);
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    if (!write_begin(rq, rs))
        return;
    err = topic_parent(rq, &w, &parent, &fe);
    if (!err)
        err = store_topic_create(rq->store, w.name, w.slug, parent, rq->now, &id);
    if (err == NS_ERR_CONFLICT)
        field_errors_add(&fe, "slug", "a topic with this slug exists");
    err = write_end(rq, err);
    if (err)
        write_problem(rq, rs, err, &fe);
    else
        reply_topic(rq, rs, id, 201);
}

void handle_topic_patch(struct req *rq, struct resp *rs)
{
    struct field_errors fe;
    struct topic_write w;
    struct topic_row row;
    int64_t parent = 0;
    field_errors_init(&fe, rq->arena);
    if (!query_none(rq, rs))
        return;
    enum ns_err err = topic_parse(rq->arena, rq->body, rq->body_len, false, &w, &fe);
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    if (!write_begin(rq, rs))
        return;
    err = store_topic_find(rq->store, rq->arena, rq->path_params[0], &row);
    bool missing = err == NS_ERR_NOT_FOUND;
    if (!err)
        err = topic_parent(rq, &w, &parent, &fe);
    if (!err) {
        err = store_topic_patch(rq->store, row.id, w.name, w.set_parent, parent);
        if (err == NS_ERR_INVALID)
            field_errors_add(&fe, "parent", "would make the topic its own ancestor");
    }
    err = write_end(rq, err);
    if (missing)
        resp_lookup_problem(rq, rs, NS_ERR_NOT_FOUND, "topic");
    else if (err)
        write_problem(rq, rs, err, &fe);
    else
        reply_topic(rq, rs, row.id, 200);
}

static void reply_publication(struct req *rq, struct resp *rs, int64_t id, int status)
{
    struct publication_row row;
    enum ns_err err = store_publication_get(rq->store, rq->arena, id, NULL, &row);
    if (err) {
        resp_lookup_problem(rq, rs, err, "publication");
        return;
    }
    resp_json(rq, rs, status, publication_to_json(&row));
    if (status == 201)
        set_location(rq, rs, "publications", id);
}

void handle_publication_post(struct req *rq, struct resp *rs)
{
    struct field_errors fe;
    struct publication_write w;
    struct publication_patch unused;
    int64_t id = 0;
    field_errors_init(&fe, rq->arena);
    if (!query_none(rq, rs))
        return;
    enum ns_err err = publication_parse(rq->arena, rq->body, rq->body_len, true, &w, &unused, &fe);
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    if (!write_begin(rq, rs))
        return;
    err = store_publication_create(rq->store, &w, rq->now, &id);
    if (err == NS_ERR_CONFLICT)
        field_errors_add(&fe, "slug", "a publication with this slug exists");
    err = write_end(rq, err);
    if (err)
        write_problem(rq, rs, err, &fe);
    else
        reply_publication(rq, rs, id, 201);
}

void handle_publication_patch(struct req *rq, struct resp *rs)
{
    struct field_errors fe;
    struct publication_write w;
    struct publication_patch patch;
    struct publication_row row;
    field_errors_init(&fe, rq->arena);
    if (!query_none(rq, rs))
        return;
    enum ns_err err = publication_parse(rq->arena, rq->body, rq->body_len, false, &w, &patch, &fe);
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    if (!write_begin(rq, rs))
        return;
    const char *slug;
    int64_t id = query_path_id(rq, &slug);
    err = store_publication_get(rq->store, rq->arena, id, slug, &row);
    bool missing = err == NS_ERR_NOT_FOUND;
    if (!err)
        err = store_publication_patch(rq->store, row.id, &patch);
    err = write_end(rq, err);
    if (missing)
        resp_lookup_problem(rq, rs, NS_ERR_NOT_FOUND, "publication");
    else if (err)
        write_problem(rq, rs, err, &fe);
    else
        reply_publication(rq, rs, row.id, 200);
}

static json_t *summary_json(const void *row)
{
    return article_summary_to_json(row);
}

/* The picks list: the envelope over the articles in the editors' order; whole when `whole`. */
static void reply_picks(struct req *rq, struct resp *rs, bool whole)
{
    static const char *const params[] = {"limit", "cursor", NULL};
    struct field_errors fe;
    struct page pg;
    field_errors_init(&fe, rq->arena);
    query_check(rq, params, &fe);
    if (!fe.count)
        query_page(rq, "picks", &pg, &fe);
    if (query_refused(rq, rs, &fe))
        return;
    if (whole)
        pg.limit = PICKS_MAX; /* the answer to a PUT shows everything it set */
    int64_t *ids = NULL, *positions = NULL, total = 0;
    size_t n = 0;
    enum ns_err err = store_picks_ids(rq->store, rq->arena, pg.has_cursor ? pg.cursor.key : 0,
                                      pg.limit + 1, &ids, &positions, &n, &total);
    struct article_row *rows = err ? NULL : arena_calloc(rq->arena, n + 1, sizeof(*rows));
    for (size_t i = 0; !err && i < n; i++)
        err = rows ? store_article_summary(rq->store, rq->arena, ids[i], &rows[i]) : NS_ERR_NOMEM;
    if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    bool more = query_page_trim(&pg, &n);
    struct cursor next = {.scope = pg.scope};
    if (more) {
        next.key = positions[n - 1];
        next.id = ids[n - 1];
    }
    query_list_reply(rq, rs, query_rows_to_json(rows, n, sizeof(*rows), summary_json),
                     json_object(), &pg, total, more ? &next : NULL);
}

void handle_picks_get(struct req *rq, struct resp *rs)
{
    reply_picks(rq, rs, false);
}

void handle_picks_put(struct req *rq, struct resp *rs)
{
    struct field_errors fe;
    int64_t *ids = NULL;
    size_t n = 0;
    field_errors_init(&fe, rq->arena);
    if (!query_none(rq, rs))
        return;
    enum ns_err err = picks_parse(rq->arena, rq->body, rq->body_len, &ids, &n, &fe);
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    if (!write_begin(rq, rs))
        return;
    for (size_t i = 0; i < n && !err; i++) {
        struct article_row row;
        enum ns_err found = store_article_summary(rq->store, rq->arena, ids[i], &row);
        if (found == NS_ERR_NOT_FOUND) {
            char field[48];
            snprintf(field, sizeof(field), "article_ids[%zu]", i);
            field_errors_add(&fe, field, "no article %lld", (long long)ids[i]);
        } else {
            err = found;
        }
    }
    if (!err && fe.count)
        err = NS_ERR_INVALID;
    if (!err)
        err = store_picks_set(rq->store, ids, n);
    err = write_end(rq, err);
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    rq->n_query = 0;
    reply_picks(rq, rs, true);
}
