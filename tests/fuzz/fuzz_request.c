/*
 * fuzz_request.c - whole requests through the real route table, handlers
 * and store (src/http/router.c, routes.c, the handlers in src/api), against the seeded
 * database of seed.c.
 *
 * Input, HTTP-shaped:
 *     METHOD TARGET\n
 *     Name: value\n        (Authorization, Content-Type, Accept-Encoding)
 *     \n
 *     body
 * The request is built the way src/http/server.c builds it from what
 * libmicrohttpd hands over (decoded path and query, the same checks before
 * routing, credentials, media type and size, then the handler; a streaming
 * route takes its body in chunks). server.c itself needs a live socket, so
 * this file repeats its decisions in short; keep the two in step.
 *
 * Checks: every answer has a status from 200 to 499 (a 5xx for any input
 * is a bug: nothing here is busy, full or out of memory), a body, and JSON
 * wherever the type says JSON; the write lock is free again afterwards. After a request that may have written, the
 * database is put back as seeded, so each input meets the same data.
 */
#include "fuzz.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/admit.h"
#include "http/encoding.h"
#include "http/router.h"
#include "core/oom.h"

enum { BODY_MAX = 1024 * 1024 };

struct fuzz_request {
    struct req rq;
    struct param query[ADMIT_QUERY_MAX];
    bool too_many;
    const char *authorization, *content_type, *accept_encoding;
    const char *body;
    size_t body_len;
};

/* Reads the request line, headers and body; false when there is no request line. */
static bool read_request(struct arena *a, const uint8_t *data, size_t size,
                         struct fuzz_request *fr)
{
    char *line = fuzz_take(a, &data, &size, '\n');
    char *target = strchr(line, ' ');
    if (!target || target == line)
        return false;
    *target++ = '\0';
    target[strcspn(target, " ")] = '\0'; /* drop " HTTP/1.1" */
    char *qs = strchr(target, '?');
    if (qs)
        *qs++ = '\0';
    fuzz_unescape(target);
    fr->rq.method = line;
    fr->rq.path = target;
    fr->rq.query = fr->query;
    fr->rq.n_query = qs ? fuzz_query_parse(a, qs, fr->query, ADMIT_QUERY_MAX, &fr->too_many) : 0;
    while (size) {
        char *h = fuzz_take(a, &data, &size, '\n');
        char *colon = strchr(h, ':');
        if (!h[0])
            break;
        if (!colon)
            continue;
        *colon++ = '\0';
        colon += strspn(colon, " \t");
        if (strcasecmp(h, "Authorization") == 0)
            fr->authorization = colon;
        else if (strcasecmp(h, "Content-Type") == 0)
            fr->content_type = colon;
        else if (strcasecmp(h, "Accept-Encoding") == 0)
            fr->accept_encoding = colon;
    }
    fr->body = (const char *)data;
    fr->body_len = size;
    return true;
}

/* What server.c decides from the head (http/admit.c): the problem to answer instead, or 0. */
static enum ns_err decide(struct fuzz_request *fr, const struct route *route)
{
    char length[24];
    snprintf(length, sizeof(length), "%zu", fr->body_len);
    return admit_route(&fr->rq, route, fr->authorization, fr->content_type,
                       route->body == BODY_NONE ? NULL : length, BODY_MAX);
}

/* Runs the route's handler the way server.c's dispatch and take_body do. */
static void run_handler(struct fuzz_request *fr, const struct route *route, struct resp *rs)
{
    struct req *rq = &fr->rq;
    enum ns_err err = NS_OK;
    if (route->feed) {
        size_t chunk = 1 + fr->body_len % 97; /* libmicrohttpd hands bodies over in pieces */
        for (size_t at = 0; at < fr->body_len && !err; at += chunk)
            err = route->feed(rq, fr->body + at,
                              fr->body_len - at < chunk ? fr->body_len - at : chunk);
    }
    if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
    } else {
        bool reading = strcmp(route->method, "GET") == 0;
        FUZZ_CHECK(!reading || store_begin_read(rq->store) == NS_OK);
        rq->body = route->body == BODY_JSON ? fr->body : "";
        rq->body_len = route->body == BODY_JSON ? fr->body_len : 0;
        route->handler(rq, rs);
        if (reading)
            store_rollback(rq->store);
    }
    if (rq->stream && route->stream_free)
        route->stream_free(rq->stream);
}

/* Answers fr; returns the route that ran its handler, or NULL when none did. */
static const struct route *answer(struct fuzz_request *fr, struct resp *rs)
{
    struct req *rq = &fr->rq;
    struct field_errors fe;
    const struct route *route = NULL;
    char allow[128];
    field_errors_init(&fe, rq->arena);
    if (admit_text_refused(&fr->rq, fr->too_many, &fe)) {
        rq->n_query = 0;
        resp_problem(rq, rs, NS_ERR_BAD_PARAM, "the request has malformed text", &fe);
        return NULL;
    }
    char *scratch = arena_alloc(rq->arena, strlen(rq->path) + 1);
    FUZZ_CHECK(scratch != NULL);
    enum route_match m = router_match(rq->method, rq->path, scratch, &route, rq->path_params,
                                      allow, sizeof(allow));
    if (m == ROUTE_NO_PATH) {
        resp_problem(rq, rs, NS_ERR_NOT_FOUND, "no resource at this path", NULL);
        return NULL;
    }
    if (m == ROUTE_NO_METHOD) {
        FUZZ_CHECK(allow[0] != '\0');
        if (strcmp(rq->method, "OPTIONS") == 0)
            resp_no_content(rs);
        else
            resp_problem(rq, rs, NS_ERR_METHOD, "this resource answers only other methods", NULL);
        return NULL;
    }
    enum ns_err early = decide(fr, route);
    if (early) {
        resp_problem(rq, rs, early, NULL, NULL);
        return NULL;
    }
    run_handler(fr, route, rs);
    return route;
}

static void check_response(const struct fuzz_request *fr, struct resp *rs)
{
    if (getenv("FUZZ_SHOW")) /* for writing corpus files: what did that request get? */
        printf("%d %.*s\n", rs->status, (int)rs->len, rs->body ? rs->body : "");
    if (rs->status >= 500)
        fprintf(stderr, "fuzz: %s %s answered %d: %.*s\n", fr->rq.method, fr->rq.path,
                rs->status, (int)(rs->len < 300 ? rs->len : 300), rs->body ? rs->body : "");
    FUZZ_CHECK(rs->status >= 200 && rs->status < 500);
    FUZZ_CHECK(rs->status == 204 || rs->body != NULL);
    if (rs->status != 204 && rs->body && rs->content_type && strstr(rs->content_type, "json") &&
        !strstr(rs->content_type, "ndjson")) {
        json_error_t jerr;
        json_t *j = json_loadb(rs->body, rs->len, 0, &jerr);
        FUZZ_CHECK(j != NULL);
        json_decref(j);
    }
    if (rs->status == 200 && rs->len >= GZIP_MIN_BYTES && encoding_accepts_gzip(fr->accept_encoding)) {
        size_t len = 0;
        free(encoding_gzip(rs->body, rs->len, &len));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_world *w = fuzz_world_get();
    struct arena a;
    struct fuzz_request fr = {.rq = {.request_id = "fuzz"}};
    arena_init(&a);
    fr.rq.arena = &a;
    fr.rq.store = w->st;
    fr.rq.ctx = &w->ctx;
    fr.rq.now = (int64_t)time(NULL);
    fr.rq.authorized = false;
    oom_mark(); /* a request begins, as in server.c */
    if (read_request(&a, data, size, &fr)) {
        struct resp rs = {.status = 500};
        fr.rq.authorized = fr.authorization != NULL;
        const struct route *ran = answer(&fr, &rs);
        check_response(&fr, &rs);
        /* a handler that kept the write lock would stop every later write on the server */
        FUZZ_CHECK(pthread_mutex_trylock(&w->ctx.write_lock) == 0);
        pthread_mutex_unlock(&w->ctx.write_lock);
        metrics_observe(&w->ctx.metrics, ran ? (size_t)(ran - routes) : METRICS_ROUTES,
                        rs.status, 0.5);
        free(rs.body);
        if (ran && strcmp(ran->method, "GET") != 0)
            fuzz_world_reset(w);
    }
    arena_release(&a);
    return 0;
}
