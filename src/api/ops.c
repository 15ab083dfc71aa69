/*
 * ops.c - /healthz, /readyz and /openapi.json.
 */
#include "api/handlers.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"
#include "core/buf.h"
#include "core/embedded.h"

void handle_healthz(struct req *rq, struct resp *rs)
{
    if (!query_none(rq, rs))
        return;
    rs->no_store = true;
    resp_json(rq, rs, 200, json_pack("{ss}", "status", "ok"));
}

void handle_readyz(struct req *rq, struct resp *rs)
{
    if (!query_none(rq, rs))
        return;
    if (atomic_load(&rq->ctx->draining)) {
        resp_problem(rq, rs, NS_ERR_UNAVAILABLE, NULL, NULL);
        return;
    }
    rs->no_store = true;
    resp_json(rq, rs, 200, json_pack("{ss}", "status", "ready"));
}

void handle_openapi(struct req *rq, struct resp *rs)
{
    if (!query_none(rq, rs))
        return;
    rs->body = openapi_files_count ? strdup(openapi_files[0].data) : NULL;
    if (!rs->body) {
        resp_problem(rq, rs, NS_ERR_NOMEM, NULL, NULL);
        return;
    }
    rs->len = strlen(rs->body);
    rs->status = 200;
    rs->content_type = "application/json";
}

static const int statuses[METRICS_STATUSES] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 409,
                                               413, 414, 415, 422, 429, 431, 500, 503, 0};
static const double bounds_ms[METRICS_BUCKETS - 1] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000};

void metrics_observe(struct metrics *m, size_t route, int status, double ms)
{
    size_t s = 0;
    while (s < METRICS_STATUSES - 1 && statuses[s] != status)
        s++; /* the last slot counts any other status */
    atomic_fetch_add(&m->requests[route < METRICS_ROUTES ? route : METRICS_ROUTES][s], 1);
    for (size_t b = 0; b < METRICS_BUCKETS; b++)
        if (b == METRICS_BUCKETS - 1 || ms <= bounds_ms[b])
            atomic_fetch_add(&m->latency[b], 1);
    atomic_fetch_add(&m->latency_count, 1);
    atomic_fetch_add(&m->latency_sum_us, (unsigned long)(ms * 1000.0));
}

/*
 * Prometheus text format: requests by route template and status, latency,
 * in flight, connections, rate-limit refusals, database cache and size.
 */
void handle_metrics(struct req *rq, struct resp *rs)
{
    if (!query_none(rq, rs))
        return;
    struct metrics *m = &rq->ctx->metrics;
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "# HELP newsstand_requests_total Requests answered, by route template and status.\n"
                 "# TYPE newsstand_requests_total counter\n");
    for (size_t r = 0; r <= rq->ctx->n_routes && r <= METRICS_ROUTES; r++) {
        bool known = r < rq->ctx->n_routes;
        for (size_t s = 0; s < METRICS_STATUSES; s++) {
            unsigned long n = atomic_load(&m->requests[known ? r : METRICS_ROUTES][s]);
            if (!n)
                continue;
            char status[8];
            snprintf(status, sizeof(status), statuses[s] ? "%d" : "other", statuses[s]);
            buf_printf(&b, "newsstand_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %lu\n",
                       known ? rq->ctx->route_methods[r] : "", known ? rq->ctx->route_names[r] : "none",
                       status, n);
        }
    }
    buf_puts(&b, "# HELP newsstand_request_duration_seconds Time from request to answer.\n"
                 "# TYPE newsstand_request_duration_seconds histogram\n");
    for (size_t i = 0; i < METRICS_BUCKETS; i++) {
        if (i < METRICS_BUCKETS - 1)
            buf_printf(&b, "newsstand_request_duration_seconds_bucket{le=\"%g\"} %lu\n",
                       bounds_ms[i] / 1000.0, atomic_load(&m->latency[i]));
        else
            buf_printf(&b, "newsstand_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n",
                       atomic_load(&m->latency[i]));
    }
    buf_printf(&b, "newsstand_request_duration_seconds_sum %.6f\n"
                   "newsstand_request_duration_seconds_count %lu\n",
               (double)atomic_load(&m->latency_sum_us) / 1e6, atomic_load(&m->latency_count));
    buf_printf(&b, "# HELP newsstand_requests_in_flight Requests being answered now.\n"
                   "# TYPE newsstand_requests_in_flight gauge\n"
                   "newsstand_requests_in_flight %d\n",
               atomic_load(&m->in_flight));
    buf_printf(&b, "# HELP newsstand_connections Client connections open now.\n"
                   "# TYPE newsstand_connections gauge\n"
                   "newsstand_connections %d\n"
                   "# HELP newsstand_rate_limited_total Requests refused by the rate limiter.\n"
                   "# TYPE newsstand_rate_limited_total counter\n"
                   "newsstand_rate_limited_total %lu\n"
                   "# HELP newsstand_db_cache_hits_total SQLite page cache hits, all workers.\n"
                   "# TYPE newsstand_db_cache_hits_total counter\n"
                   "newsstand_db_cache_hits_total %lu\n"
                   "# HELP newsstand_db_cache_misses_total SQLite page cache misses, all workers.\n"
                   "# TYPE newsstand_db_cache_misses_total counter\n"
                   "newsstand_db_cache_misses_total %lu\n"
                   "# HELP newsstand_response_cache_hits_total Anonymous reads answered from the "
                   "response cache.\n"
                   "# TYPE newsstand_response_cache_hits_total counter\n"
                   "newsstand_response_cache_hits_total %lu\n"
                   "# HELP newsstand_response_cache_misses_total Anonymous reads the response cache "
                   "could not answer.\n"
                   "# TYPE newsstand_response_cache_misses_total counter\n"
                   "newsstand_response_cache_misses_total %lu\n",
               atomic_load(&m->connections), atomic_load(&m->rate_limited),
               atomic_load(&m->db_cache_hits), atomic_load(&m->db_cache_misses),
               atomic_load(&m->response_cache_hits), atomic_load(&m->response_cache_misses));
    int64_t articles = 0, db_bytes = 0, wal_bytes = 0;
    if (store_article_total(rq->store, &articles) == NS_OK)
        buf_printf(&b, "# HELP newsstand_articles Articles stored.\n"
                       "# TYPE newsstand_articles gauge\nnewsstand_articles %lld\n",
                   (long long)articles);
    if (store_size(rq->store, &db_bytes, &wal_bytes) == NS_OK)
        buf_printf(&b, "# HELP newsstand_db_bytes Size of the database file.\n"
                       "# TYPE newsstand_db_bytes gauge\nnewsstand_db_bytes %lld\n"
                       "# HELP newsstand_db_wal_bytes Size of the write-ahead log.\n"
                       "# TYPE newsstand_db_wal_bytes gauge\nnewsstand_db_wal_bytes %lld\n",
                   (long long)db_bytes, (long long)wal_bytes);
    if (buf_failed(&b)) {
        buf_release(&b);
        resp_problem(rq, rs, NS_ERR_NOMEM, NULL, NULL);
        return;
    }
    rs->status = 200;
    rs->len = b.len;
    rs->body = buf_steal(&b);
    rs->content_type = "text/plain; version=0.0.4";
    rs->no_store = true;
}
