/*
 * query.c - shared query-string validation and the list envelope.
 *
 * Links are relative (path and query only): the Host header is the
 * client's to choose, so it never goes into a URL we hand back.
 */
#include "api/query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "domain/params.h"
#include "domain/slug.h"
#include "json/fields.h"

void query_check(const struct req *rq, const char *const *allowed, struct field_errors *fe)
{
    for (size_t i = 0; i < rq->n_query; i++) {
        const char *key = rq->query[i].key;
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++)
            known = strcmp(*a, key) == 0;
        if (!known) {
            field_errors_add(fe, key, "is not a parameter of this endpoint");
            continue;
        }
        bool repeated = false;
        for (size_t j = 0; j < i && !repeated; j++)
            repeated = strcmp(rq->query[j].key, key) == 0;
        if (repeated)
            field_errors_add(fe, key, "must be given at most once");
        else if (!rq->query[i].value || !rq->query[i].value[0])
            field_errors_add(fe, key, "must not be empty");
    }
}

bool query_none(struct req *rq, struct resp *rs)
{
    static const char *const none[] = {NULL};
    struct field_errors fe;
    field_errors_init(&fe, rq->arena);
    query_check(rq, none, &fe);
    if (fe.count)
        resp_problem(rq, rs, NS_ERR_BAD_PARAM, "this endpoint takes no parameters", &fe);
    return fe.count == 0;
}

bool query_refused(struct req *rq, struct resp *rs, const struct field_errors *fe)
{
    if (!fe->count)
        return false;
    /* a parameter that could not be read for want of memory is no client's fault */
    if (fe->out_of_memory || rq->arena->failed)
        resp_problem(rq, rs, NS_ERR_NOMEM, NULL, NULL);
    else
        resp_problem(rq, rs, NS_ERR_BAD_PARAM, "the query has invalid parameters", fe);
    return true;
}

const char *query_get(const struct req *rq, const char *key)
{
    for (size_t i = 0; i < rq->n_query; i++)
        if (strcmp(rq->query[i].key, key) == 0)
            return rq->query[i].value && rq->query[i].value[0] ? rq->query[i].value : NULL;
    return NULL;
}

void query_page(const struct req *rq, const char *canonical, struct page *pg,
                struct field_errors *fe)
{
    const char *why = NULL;
    const char *limit = query_get(rq, "limit");
    pg->limit = LIMIT_DEFAULT;
    pg->has_cursor = false;
    pg->scope = cursor_scope(canonical);
    if (limit && !params_limit(limit, &pg->limit, &why))
        field_errors_add(fe, "limit", "%s", why);

    const char *text = query_get(rq, "cursor");
    if (!text)
        return;
    switch (cursor_decode(text, rq->ctx->cursor_key, pg->scope, &pg->cursor)) {
    case CURSOR_OK:
        pg->has_cursor = true;
        break;
    case CURSOR_WRONG_QUERY:
        field_errors_add(fe, "cursor",
                         "belongs to a different query: keep every other parameter as it was");
        break;
    case CURSOR_GARBLED:
        field_errors_add(fe, "cursor", "is not a valid cursor: use meta.next_cursor as given");
        break;
    }
}

int64_t query_path_id(const struct req *rq, const char **slug)
{
    long long id = 0;
    *slug = rq->path_params[0];
    return slug_is_id(*slug, &id) ? id : 0;
}

bool query_page_trim(const struct page *pg, size_t *n)
{
    if (*n <= (size_t)pg->limit)
        return false;
    *n = (size_t)pg->limit;
    return true;
}

json_t *query_rows_to_json(const void *rows, size_t n, size_t size, json_t *(*fn)(const void *))
{
    json_t *data = json_array();
    for (size_t i = 0; data && i < n; i++) {
        if (json_array_append_new(data, fn((const char *)rows + i * size))) {
            json_decref(data);
            return NULL;
        }
    }
    return data;
}

/* Appends the encoded path: each segment percent-encoded, slashes kept. */
static void put_path(struct buf *b, const char *path)
{
    const char *p = path;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        char *seg = strndup(p, len);
        if (!seg) {
            b->failed = true;
            return;
        }
        buf_put_urlencoded(b, seg);
        free(seg);
        p += len;
        if (*p == '/') {
            buf_putc(b, '/');
            p++;
        }
    }
}

/* The request's own URL with the cursor replaced by next_cursor (NULL: dropped). */
static char *link_to(const struct req *rq, const char *next_cursor)
{
    struct buf b;
    buf_init(&b);
    put_path(&b, rq->path);
    char sep = '?';
    for (size_t i = 0; i < rq->n_query; i++) {
        if (strcmp(rq->query[i].key, "cursor") == 0)
            continue;
        buf_putc(&b, sep);
        sep = '&';
        buf_put_urlencoded(&b, rq->query[i].key);
        buf_putc(&b, '=');
        buf_put_urlencoded(&b, rq->query[i].value ? rq->query[i].value : "");
    }
    if (next_cursor) {
        buf_putc(&b, sep);
        buf_puts(&b, "cursor=");
        buf_put_urlencoded(&b, next_cursor);
    }
    if (buf_failed(&b)) {
        buf_release(&b);
        return NULL;
    }
    char *s = arena_strdup(rq->arena, b.data ? b.data : "");
    buf_release(&b);
    return s;
}

/* The request's URL as received, cursor included. */
static char *link_self(const struct req *rq)
{
    const char *cursor = query_get(rq, "cursor");
    char *base = link_to(rq, NULL);
    if (!base || !cursor)
        return base;
    struct buf b;
    buf_init(&b);
    buf_puts(&b, base);
    buf_puts(&b, strchr(base, '?') ? "&cursor=" : "?cursor=");
    buf_put_urlencoded(&b, cursor);
    char *s = buf_failed(&b) ? NULL : arena_strdup(rq->arena, b.data);
    buf_release(&b);
    return s;
}

/*
 * The envelope of a list: exactly one of data (a jansson array) and text (an
 * array written as text) is given; both are taken, as is meta.
 */
static void list_reply(struct req *rq, struct resp *rs, json_t *data, struct buf *text,
                       json_t *meta, const struct page *pg, int64_t total,
                       const struct cursor *next)
{
    char cursor_text[CURSOR_TEXT_MAX];
    bool has_next = next != NULL;
    bool text_ok = text && !buf_failed(text) && text->data;
    if (has_next && !cursor_encode(next, rq->ctx->cursor_key, cursor_text)) {
        /* a sort key too long for a cursor is a bug: never end a walk early in silence */
        json_decref(meta);
        json_decref(data);
        if (text)
            buf_release(text);
        resp_problem(rq, rs, NS_ERR_DB, NULL, NULL);
        return;
    }
    char *self = link_self(rq);
    char *next_url = has_next ? link_to(rq, cursor_text) : NULL;
    if (!meta || !(data || text_ok) || !self || (has_next && !next_url)) {
        json_decref(meta);
        json_decref(data);
        if (text)
            buf_release(text);
        resp_problem(rq, rs, NS_ERR_NOMEM, NULL, NULL);
        return;
    }
    json_object_set_new(meta, "limit", json_integer(pg->limit));
    json_object_set_new(meta, "total", json_integer(total));
    json_object_set_new(meta, "next_cursor", has_next ? json_string(cursor_text) : json_null());
    json_t *links =
        json_pack("{ss,so}", "self", self, "next", has_next ? json_string(next_url) : json_null());
    if (has_next) {
        size_t len = strlen(next_url) + 16;
        char *link = arena_alloc(rq->arena, len);
        if (link) {
            snprintf(link, len, "<%s>; rel=\"next\"", next_url);
            resp_header(rs, "Link", link);
        }
    }
    if (data) {
        resp_json(rq, rs, 200, json_pack("{so,so,so}", "data", data, "meta", meta, "links", links));
        return;
    }
    /* {"data":<text>,"meta":...,"links":...}: the members in the order json_pack gives them */
    char *meta_text = fields_dumps(meta, JSON_COMPACT | JSON_REAL_PRECISION(10));
    char *links_text = fields_dumps(links, JSON_COMPACT);
    json_decref(meta);
    json_decref(links);
    struct buf body;
    buf_init(&body);
    buf_puts(&body, "{\"data\":");
    buf_append(&body, text->data, text->len);
    buf_puts(&body, ",\"meta\":");
    buf_puts(&body, meta_text ? meta_text : "");
    buf_puts(&body, ",\"links\":");
    buf_puts(&body, links_text ? links_text : "");
    buf_putc(&body, '}');
    buf_release(text);
    if (!meta_text || !links_text)
        body.failed = true;
    free(meta_text);
    free(links_text);
    resp_json_text(rq, rs, 200, &body);
}

void query_list_reply(struct req *rq, struct resp *rs, json_t *data, json_t *meta,
                      const struct page *pg, int64_t total, const struct cursor *next)
{
    list_reply(rq, rs, data, NULL, meta, pg, total, next);
}

void query_list_reply_text(struct req *rq, struct resp *rs, struct buf *data, json_t *meta,
                           const struct page *pg, int64_t total, const struct cursor *next)
{
    list_reply(rq, rs, NULL, data, meta, pg, total, next);
}
