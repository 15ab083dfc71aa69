/*
 * problem.c - error codes to HTTP statuses and RFC 9457 problem bodies.
 *
 * This table is the only place an enum ns_err becomes a status number. A
 * problem body never carries SQL, paths or stack traces: 5xx details are
 * fixed sentences.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/query.h"
#include "core/buf.h"
#include "core/oom.h"
#include "json/fields.h"

struct problem_kind {
    enum ns_err err;
    int status;
    const char *slug;
    const char *title;
    const char *retry_after; /* seconds, for a 503 a retry may cure */
    const char *detail;      /* the fixed sentence a 5xx answers with */
};

static const struct problem_kind kinds[] = {
    {NS_ERR_BAD_PARAM, 400, "invalid-parameter", "Invalid parameter", NULL, NULL},
    {NS_ERR_BAD_JSON, 400, "malformed-body", "Malformed request body", NULL, NULL},
    {NS_ERR_BAD_REQUEST, 400, "bad-request", "Bad request", NULL, NULL},
    {NS_ERR_UNAUTHORIZED, 401, "unauthorized", "Unauthorized", NULL, NULL},
    {NS_ERR_FORBIDDEN, 403, "forbidden", "Forbidden", NULL, NULL},
    {NS_ERR_NOT_FOUND, 404, "not-found", "Not found", NULL, NULL},
    {NS_ERR_METHOD, 405, "method-not-allowed", "Method not allowed", NULL, NULL},
    {NS_ERR_CONFLICT, 409, "conflict", "Conflict", NULL, NULL},
    {NS_ERR_TOO_LARGE, 413, "payload-too-large", "Payload too large", NULL, NULL},
    {NS_ERR_URI_TOO_LONG, 414, "uri-too-long", "URI too long", NULL, NULL},
    {NS_ERR_MEDIA_TYPE, 415, "unsupported-media-type", "Unsupported media type", NULL, NULL},
    {NS_ERR_INVALID, 422, "validation-failed", "Validation failed", NULL, NULL},
    {NS_ERR_RATE_LIMITED, 429, "too-many-requests", "Too many requests", NULL, NULL},
    {NS_ERR_HEADERS_TOO_LARGE, 431, "header-fields-too-large", "Request header fields too large",
     NULL, NULL},
    /* Faults that pass (a lock released, memory or disk space freed, the file
     * made writable again): 503, and when to try again. */
    {NS_ERR_BUSY, 503, "unavailable", "Service unavailable", "1",
     "the database is busy; retry shortly"},
    {NS_ERR_NOMEM, 503, "unavailable", "Service unavailable", "1",
     "the server is short of memory; retry shortly"},
    {NS_ERR_UNAVAILABLE, 503, "unavailable", "Service unavailable", "5",
     "the service cannot answer now; retry shortly"},
    {NS_ERR_IO, 503, "unavailable", "Service unavailable", "5",
     "the database could not be read or written; retry shortly"},
    {NS_ERR_DISK_FULL, 503, "unavailable", "Service unavailable", "30",
     "the service cannot store writes now; retry later"},
    {NS_ERR_READ_ONLY, 503, "unavailable", "Service unavailable", "30",
     "the service cannot store writes now; retry later"},
};

static const struct problem_kind internal = {NS_ERR_DB, 500, "internal", "Internal error", NULL,
                                             "the server failed to answer this request"};

static const struct problem_kind *kind_of(enum ns_err err)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (kinds[i].err == err)
            return &kinds[i];
    return &internal;
}

int problem_status(enum ns_err err)
{
    return kind_of(err)->status;
}

void resp_header(struct resp *rs, const char *name, const char *value)
{
    if (rs->n_headers < RESP_HEADERS_MAX)
        rs->headers[rs->n_headers++] = (struct header){name, value};
}

/* Memory ran out even for the problem: a fixed one (with no body when even that copy fails). */
static void resp_fallback(struct resp *rs)
{
    static const char body[] = "{\"type\":\"https://newsstand.dev/problems/unavailable\","
                               "\"title\":\"Service unavailable\",\"status\":503}";
    rs->status = 503;
    rs->content_type = "application/problem+json";
    free(rs->body);
    rs->body = strdup(body);
    rs->len = rs->body ? strlen(body) : 0;
    rs->no_store = true;
    rs->n_headers = 0;
    resp_header(rs, "Retry-After", "1");
}

void resp_no_content(struct resp *rs)
{
    rs->status = 204;
    rs->body = strdup("");
    rs->len = 0;
    rs->content_type = "application/json";
}

/*
 * True when a success about to be sent may lack parts: an allocation failed
 * in the request's arena (a value read from the store came back NULL), in
 * jansson (a member was left out) or in SQLite since the request began
 * (oom_mark). It becomes a 503.
 */
static bool answer_incomplete(const struct req *rq, int status)
{
    return status < 400 && ((rq->arena && rq->arena->failed) || oom_since_mark());
}

void resp_json(struct req *rq, struct resp *rs, int status, void *j)
{
    json_t *v = j;
    if (answer_incomplete(rq, status)) {
        json_decref(v);
        resp_problem(rq, rs, NS_ERR_NOMEM, NULL, NULL);
        return;
    }
    /* 10 significant digits: a rounded 0.209 prints as 0.209, not 0.20899999999999999 */
    char *text = fields_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(v);
    if (!text) {
        if (status < 400)
            resp_problem(rq, rs, NS_ERR_NOMEM, NULL, NULL);
        else
            resp_fallback(rs);
        return;
    }
    rs->status = status;
    rs->body = text;
    rs->len = strlen(text);
    if (!rs->content_type)
        rs->content_type = "application/json";
}

void resp_json_text(struct req *rq, struct resp *rs, int status, struct buf *text)
{
    if (buf_failed(text) || !text->data || answer_incomplete(rq, status)) {
        buf_release(text);
        resp_problem(rq, rs, NS_ERR_NOMEM, NULL, NULL);
        return;
    }
    rs->status = status;
    rs->len = text->len;
    rs->body = buf_steal(text);
    if (!rs->content_type)
        rs->content_type = "application/json";
}

void resp_problem(struct req *rq, struct resp *rs, enum ns_err err, const char *detail,
                  const struct field_errors *fe)
{
    const struct problem_kind *k = kind_of(err);
    if (k->status == 500 && oom_since_mark())
        k = kind_of(NS_ERR_NOMEM); /* what failed was memory, whatever the library called it */
    char type[96];
    snprintf(type, sizeof(type), "https://newsstand.dev/problems/%s", k->slug);
    if (k->status >= 500)
        detail = k->detail;
    json_t *o = json_pack("{ss,ss,si,ss,ss}", "type", type, "title", k->title, "status",
                          k->status, "detail", detail ? detail : k->title, "request_id",
                          rq->request_id ? rq->request_id : "");
    if (o && fe && fe->count > 0) {
        json_t *errs = json_array();
        size_t held = field_errors_held(fe);
        for (size_t i = 0; errs && i < held; i++)
            json_array_append_new(errs, json_pack("{ss,ss}", "field", fe->items[i].field,
                                                  "message", fe->items[i].message));
        json_object_set_new(o, "errors", errs ? errs : json_array());
    }
    rs->n_headers = 0;
    rs->content_type = "application/problem+json";
    rs->no_store = true;
    free(rs->body);
    rs->body = NULL;
    resp_json(rq, rs, k->status, o);
    if (rs->status != k->status || rs->n_headers > 0)
        return; /* resp_fallback's fixed 503 answered, Retry-After and all */
    if (k->retry_after)
        resp_header(rs, "Retry-After", k->retry_after);
    if (k->status == 401)
        resp_header(rs, "WWW-Authenticate", "Bearer realm=\"newsstand\"");
}

void resp_lookup_problem(struct req *rq, struct resp *rs, enum ns_err err, const char *what)
{
    char detail[64];
    snprintf(detail, sizeof(detail), "no such %s", what);
    resp_problem(rq, rs, err, err == NS_ERR_NOT_FOUND ? detail : NULL, NULL);
}
