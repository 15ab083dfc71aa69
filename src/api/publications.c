/*
 * publications.c - publications and authors: the resources, and their
 * article lists (the article list query with one filter fixed by the path).
 */
#include "api/handlers.h"

#include <jansson.h>
#include <stdio.h>

#include "api/query.h"
#include "json/resource_json.h"

static json_t *publication_json(const void *row)
{
    return publication_to_json(row);
}

void handle_publications_list(struct req *rq, struct resp *rs)
{
    static const char *const params[] = {"limit", "cursor", NULL};
    struct field_errors fe;
    struct page pg;
    field_errors_init(&fe, rq->arena);
    query_check(rq, params, &fe);
    if (!fe.count)
        query_page(rq, "publications|slug", &pg, &fe);
    if (query_refused(rq, rs, &fe))
        return;
    struct publication_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    enum ns_err err = store_publications_list(rq->store, rq->arena,
                                              pg.has_cursor ? pg.cursor.skey : NULL,
                                              pg.limit + 1, &rows, &n, &total);
    if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    bool more = query_page_trim(&pg, &n);
    json_t *data = query_rows_to_json(rows, n, sizeof(*rows), publication_json);
    struct cursor next = {.scope = pg.scope};
    if (more) {
        next.id = rows[n - 1].id;
        snprintf(next.skey, sizeof(next.skey), "%s", rows[n - 1].slug);
    }
    query_list_reply(rq, rs, data, json_object(), &pg, total, more ? &next : NULL);
}

/* Finds the publication named by the path; answers the problem and returns false if none. */
static bool path_publication(struct req *rq, struct resp *rs, struct publication_row *row)
{
    const char *slug;
    int64_t id = query_path_id(rq, &slug);
    enum ns_err err = store_publication_get(rq->store, rq->arena, id, slug, row);
    if (err)
        resp_lookup_problem(rq, rs, err, "publication");
    return err == NS_OK;
}

static bool path_author(struct req *rq, struct resp *rs, struct author_row *row)
{
    const char *slug;
    int64_t id = query_path_id(rq, &slug);
    enum ns_err err = store_author_get(rq->store, rq->arena, id, slug, row);
    if (err)
        resp_lookup_problem(rq, rs, err, "author");
    return err == NS_OK;
}

void handle_publication_get(struct req *rq, struct resp *rs)
{
    struct publication_row row;
    if (query_none(rq, rs) && path_publication(rq, rs, &row))
        resp_json(rq, rs, 200, publication_to_json(&row));
}

void handle_publication_articles(struct req *rq, struct resp *rs)
{
    struct publication_row row;
    if (path_publication(rq, rs, &row))
        articles_list(rq, rs, "/v1/publications/{id}/articles", "publication", row.id);
}

void handle_author_get(struct req *rq, struct resp *rs)
{
    struct author_row row;
    if (query_none(rq, rs) && path_author(rq, rs, &row))
        resp_json(rq, rs, 200, author_to_json(&row));
}

void handle_author_articles(struct req *rq, struct resp *rs)
{
    struct author_row row;
    if (path_author(rq, rs, &row))
        articles_list(rq, rs, "/v1/authors/{id}/articles", "author", row.id);
}
