/*
 * api.h - what a handler is handed and what it hands back.
 *
 * The HTTP layer fills a struct req from the wire, calls the route's
 * handler, and sends the struct resp it gets back. Handlers never see
 * libmicrohttpd or SQLite: they validate, call the store, build JSON.
 */
#ifndef NS_API_H
#define NS_API_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/errors.h"
#include "domain/cursor.h"
#include "domain/paywall.h"
#include "store/store.h"

/* What every handler shares for the life of the server (read-only once serving). */
struct matcher;

/* Request counters for /metrics, updated by the HTTP layer with atomics. */
#define METRICS_ROUTES 64
#define METRICS_STATUSES 19
#define METRICS_BUCKETS 11
struct metrics {
    atomic_ulong requests[METRICS_ROUTES + 1][METRICS_STATUSES]; /* last route: unmatched */
    atomic_ulong latency[METRICS_BUCKETS];                       /* cumulative counts */
    atomic_ulong latency_count;
    atomic_ulong latency_sum_us;
    atomic_int in_flight;
    atomic_int connections;     /* open client connections */
    atomic_ulong rate_limited;  /* requests refused by the rate limiter */
    atomic_ulong db_cache_hits; /* SQLite page cache, summed over the workers */
    atomic_ulong db_cache_misses;
    atomic_ulong response_cache_hits; /* anonymous reads answered from the response cache */
    atomic_ulong response_cache_misses;
};

/* Counts one answered request: route index (or METRICS_ROUTES), status, duration. */
void metrics_observe(struct metrics *m, size_t route, int status, double ms);

struct api_ctx {
    unsigned char cursor_key[CURSOR_KEY_LEN];
    atomic_bool draining; /* set on SIGTERM: /readyz answers 503 */
    /*
     * Writes take write_lock for their whole transaction: SQLite runs one
     * writer at a time anyway, and the matcher (which writes extend with new
     * entity names) may then be read by writes without further locking.
     */
    pthread_mutex_t write_lock;
    struct matcher *matcher;
    struct metrics metrics;
    const char *const *route_names; /* route templates, by index, for /metrics */
    const char *const *route_methods;
    size_t n_routes;
};

/* Who may call a route. */
enum route_auth { AUTH_NONE, AUTH_INGEST, AUTH_ADMIN, AUTH_READER };

/* The signed-in reader a request speaks for. */
struct reader {
    int64_t user_id;
    struct reader_access access; /* plan and expiry, for the paywall */
    unsigned char token_hash[32];
};

struct param {
    const char *key;
    const char *value; /* NULL for "?key" with no '=' */
};

#define PATH_PARAMS_MAX 4
#define RESP_HEADERS_MAX 8

struct req {
    const char *method;
    const char *path; /* decoded path, without the query */
    const char *path_params[PATH_PARAMS_MAX];
    const struct param *query;
    size_t n_query;
    const char *request_id;
    int64_t now;
    struct arena *arena; /* freed when the request ends */
    struct store *store; /* this worker thread's connection */
    struct api_ctx *ctx;
    const char *body; /* the request body (JSON routes), NUL-terminated */
    size_t body_len;
    void *stream; /* streaming routes: their state between chunks */
    const struct reader *reader; /* NULL: anonymous (or an API key) */
    bool authorized; /* the request carried credentials: its answer is private */
};

struct header {
    const char *name;
    const char *value; /* in the request's arena or static */
};

struct resp {
    int status;
    char *body; /* malloc'd, owned by the response */
    size_t len;
    const char *content_type;
    struct header headers[RESP_HEADERS_MAX];
    size_t n_headers;
    bool no_store; /* never cache (errors, health) */
};

typedef void (*handler_fn)(struct req *rq, struct resp *rs);

/*
 * A streaming route's feed: takes the next chunk of the body (len 0 at the
 * end is never sent); keeps its state in rq->stream. Returns 0, or an error
 * that ends the request with that problem.
 */
typedef enum ns_err (*feed_fn)(struct req *rq, const char *data, size_t len);
/* Frees rq->stream whatever happened; called once when the request ends. */
typedef void (*stream_free_fn)(void *stream);

/*
 * Checks the Authorization header value against the keys in the store:
 * NS_OK when the route may be called, NS_ERR_UNAUTHORIZED (no key, a bad or
 * revoked one) or NS_ERR_FORBIDDEN (a key without the scope).
 */
enum ns_err api_authorize(struct req *rq, const char *authorization, enum route_auth need);

/* The paywall's view of the request's reader: NULL for an anonymous client. */
const struct reader_access *api_reader_access(const struct req *rq);

/* Adds a header to the response; silently drops it past RESP_HEADERS_MAX. */
void resp_header(struct resp *rs, const char *name, const char *value);

/* Answers 204 No Content. */
void resp_no_content(struct resp *rs);

/* Answers 200 (or status) with the JSON value j, which is stolen. */
void resp_json(struct req *rq, struct resp *rs, int status, void *j);

/*
 * Answers with an RFC 9457 problem for err: detail in plain English, fe
 * (may be NULL) listing field-level problems. The status comes from err.
 */
void resp_problem(struct req *rq, struct resp *rs, enum ns_err err, const char *detail,
                  const struct field_errors *fe);

/* Answers the problem for a failed lookup of one `what` ("article"): 404 when not found. */
void resp_lookup_problem(struct req *rq, struct resp *rs, enum ns_err err, const char *what);

/* The HTTP status of an error code: the one mapping in the program. */
int problem_status(enum ns_err err);

#endif
