/*
 * server.c - libmicrohttpd glue: per-request state, routing, the headers
 * every response carries, and sending.
 *
 * Requests are answered on the access handler's second (or later) call,
 * never the first: answering on the first makes libmicrohttpd 0.9.75 close
 * the connection after every response, which loses keep-alive.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/oom.h"
#include "domain/netaddr.h"
#include "domain/timefmt.h"
#include "http/admit.h"
#include "http/encoding.h"
#include "http/headwatch.h"
#include "http/respcache.h"
#include "http/router.h"

enum {
    REQUEST_ID_MAX = 128,
    TARGET_MAX = 16384,        /* longest request target (path and query, decoded): else 414 */
    BUCKET_SLOTS = 32768,      /* rate-limit buckets kept; about 1 MiB */
    TRUSTED_MAX = 16,
    SPARE_FDS = 64,            /* files beyond the connections: databases, logs, wake-ups */
    CACHE_TTL_MS = 1000,       /* how long a cached answer may be reused with no write at all */
};

struct http_server {
    struct MHD_Daemon *daemon;
    struct ratelimit *buckets;
    struct headwatch *watch; /* deadlines for request heads */
    struct respcache *cache; /* anonymous reads' answers; NULL when off */
    unsigned char bucket_key[crypto_generichash_KEYBYTES]; /* so clients cannot aim at a slot */
    struct netprefix trusted[TRUSTED_MAX];
    size_t n_trusted;
    const char *route_names[METRICS_ROUTES]; /* for /metrics, by route index */
    const char *route_methods[METRICS_ROUTES];
    struct api_ctx *ctx;
    struct http_config cfg;
    pthread_key_t store_key;
    atomic_int in_flight;
};

/* What one request carries between the access handler's calls. */
struct request_state {
    struct arena arena;
    struct buf body;
    struct http_server *srv;
    struct param query[ADMIT_QUERY_MAX];
    bool too_many_params;
    struct req rq;
    const struct route *route;
    enum route_match match;
    char allow[128];
    enum ns_err early; /* decided before the body: answered at the end, body discarded */
    const char *early_detail; /* its detail, when more specific than early_detail() */
    struct field_errors early_errors;
    struct MHD_Connection *conn;
    bool options; /* an OPTIONS request: answered from the route table */
    struct timespec started;
    int status; /* as sent, for the access log */
    size_t bytes;
    struct netaddr client;          /* the peer, or the client behind a trusted proxy */
    bool metered;                   /* a rate limit applied: limit holds its verdict */
    struct ratelimit_verdict limit;
    char *cache_key;    /* an anonymous read that may be cached: its key (arena), else NULL */
    size_t cache_key_len;
    uint64_t cache_gen;     /* the cache generation the answer is computed in */
    char *cached_etag;      /* a cache hit: the stored ETag (arena) */
    bool cached_gzipped;
    unsigned long oom_at; /* oom_count() when the request began: its answer checks from there */
};

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Percent-decodes the path and query values in place. Unlike the default,
 * "%00" becomes DEL, which the UTF-8 check then refuses: a NUL would
 * silently cut the text short ("limit=1%00" read as "limit=1").
 */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    char *out = s;
    (void)cls;
    (void)conn;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = hex_value(p[1])) >= 0 && (lo = hex_value(p[2])) >= 0) {
            int v = hi * 16 + lo;
            *out++ = v ? (char)v : '\x7f';
            p += 2;
        } else {
            *out++ = *p;
        }
    }
    *out = '\0';
    return (size_t)(out - s);
}

static void close_store(void *p)
{
    store_close(p);
}

/* This worker thread's database connection, opened on first use; NULL if it cannot open. */
static struct store *thread_store(struct http_server *srv)
{
    struct store *st = pthread_getspecific(srv->store_key);
    if (st)
        return st;
    if (store_open(srv->cfg.db_path, &st) != NS_OK)
        return NULL;
    if (pthread_setspecific(srv->store_key, st) != 0) {
        store_close(st);
        return NULL;
    }
    return st;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct request_state *st = cls;
    (void)kind;
    if (st->rq.n_query == ADMIT_QUERY_MAX) {
        st->too_many_params = true;
        return MHD_NO;
    }
    st->query[st->rq.n_query++] = (struct param){key, value};
    return MHD_YES;
}

/* The client's request id if it is sane, else a fresh random one (arena). */
static const char *request_id(struct MHD_Connection *conn, struct arena *a)
{
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (given) {
        size_t len = strlen(given);
        bool sane = len > 0 && len <= REQUEST_ID_MAX;
        for (size_t i = 0; sane && i < len; i++) {
            char c = given[i];
            sane = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_' || c == '.';
        }
        if (sane)
            return arena_strdup(a, given);
    }
    unsigned char raw[16];
    char *hex = arena_alloc(a, sizeof(raw) * 2 + 1);
    randombytes_buf(raw, sizeof(raw));
    if (hex)
        sodium_bin2hex(hex, sizeof(raw) * 2 + 1, raw, sizeof(raw));
    return hex ? hex : "-";
}

/* Strong ETag of a body: a quoted BLAKE2b-128 in hex. */
static void make_etag(const struct resp *rs, char out[48])
{
    unsigned char h[16];
    crypto_generichash(h, sizeof(h), (const unsigned char *)rs->body, rs->len, NULL, 0);
    out[0] = '"';
    sodium_bin2hex(out + 1, 33, h, sizeof(h));
    out[33] = '"';
    out[34] = '\0';
}

/* True when an If-None-Match header lists etag (weak comparison, RFC 9110 13.1.2) or is "*". */
static bool etag_matches(const char *header, const char *etag)
{
    const char *p = header;
    size_t elen = strlen(etag);
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (strncmp(p, etag, elen) == 0 && (p[elen] == '\0' || p[elen] == ',' ||
                                           p[elen] == ' ' || p[elen] == '\t'))
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

/* The connection's head-watch slot, kept in its socket context as slot + 1. */
static int watch_slot(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (int)(intptr_t)ci->socket_context - 1 : -1;
}

/* The peer's address, or the client a trusted proxy forwards for. */
static struct netaddr client_address(const struct http_server *srv, struct MHD_Connection *conn)
{
    struct netaddr peer;
    memset(&peer, 0, sizeof(peer));
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        netaddr_from_bytes((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr, 4,
                           &peer);
    else if (sa && sa->sa_family == AF_INET6)
        netaddr_from_bytes(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, 16, &peer);
    const char *xff = srv->n_trusted ? MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                                   "X-Forwarded-For")
                                     : NULL;
    return netaddr_client(&peer, xff, srv->trusted, srv->n_trusted);
}

/* The bucket key for a client address (kind 'a') or a credential (kind 'k'). */
static void bucket_key(const struct http_server *srv, char kind, const void *data, size_t len,
                       unsigned char key[RATELIMIT_KEY_LEN])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, srv->bucket_key, sizeof(srv->bucket_key), RATELIMIT_KEY_LEN);
    crypto_generichash_update(&h, (const unsigned char *)&kind, 1);
    crypto_generichash_update(&h, data, len);
    crypto_generichash_final(&h, key, RATELIMIT_KEY_LEN);
}

/*
 * Charges the request to its client address's bucket and, when it carries
 * credentials, to theirs as well, so neither many addresses sharing one
 * key nor many made-up keys from one address get past. Returns false when
 * either bucket is empty; st->limit is the verdict to report (the tighter).
 */
static bool take_tokens(struct request_state *st, const char *auth)
{
    const struct http_server *srv = st->srv;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double t = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    unsigned char key[RATELIMIT_KEY_LEN];
    if (srv->cfg.client_limit.rate > 0) {
        struct netaddr a = st->client;
        if (!netaddr_is_v4(&a))
            memset(a.b + 8, 0, 8); /* an IPv6 client has its whole /64 to pick from */
        bucket_key(srv, 'a', a.b, sizeof(a.b), key);
        ratelimit_take(srv->buckets, key, &srv->cfg.client_limit, t, &st->limit);
        st->metered = true;
    }
    if (auth && srv->cfg.key_limit.rate > 0 && (!st->metered || st->limit.allowed)) {
        struct ratelimit_verdict kv;
        bucket_key(srv, 'k', auth, strlen(auth), key);
        ratelimit_take(srv->buckets, key, &srv->cfg.key_limit, t, &kv);
        if (!st->metered || !kv.allowed || kv.remaining < st->limit.remaining)
            st->limit = kv;
        st->metered = true;
    }
    return !st->metered || st->limit.allowed;
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    size_t *n = cls;
    (void)kind;
    *n += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    return MHD_YES;
}

struct framing {
    unsigned content_lengths, transfer_encodings, hosts;
    bool bad_name, bad_value;
};

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static enum MHD_Result inspect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct framing *f = cls;
    (void)kind;
    f->content_lengths += strcasecmp(key, "Content-Length") == 0;
    f->transfer_encodings += strcasecmp(key, "Transfer-Encoding") == 0;
    f->hosts += strcasecmp(key, "Host") == 0;
    f->bad_name |= !*key;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        f->bad_name |= !is_tchar(*p);
    for (const unsigned char *p = (const unsigned char *)(value ? value : ""); *p; p++)
        f->bad_value |= (*p < 0x20 && *p != '\t') || *p == 0x7f;
    return MHD_YES;
}

/*
 * Refuses requests whose length could be read two ways (the stuff of
 * request smuggling behind a proxy) or whose header bytes are not HTTP:
 * more than one Content-Length or Transfer-Encoding line, Content-Length
 * with Transfer-Encoding, a transfer coding other than chunked, more than
 * one Host (RFC 9112 3.2), a header name that is not a token, control
 * bytes in a value. Returns the detail for a 400, or NULL. (libmicrohttpd
 * 0.9.75 itself cuts a name or value at a NUL and drops a line with an
 * empty name: those bytes never reach this check.)
 */
static const char *framing_error(struct MHD_Connection *conn)
{
    struct framing f = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, inspect_header, &f);
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
    if (f.content_lengths > 1)
        return "the request has more than one Content-Length";
    if (f.transfer_encodings > 1)
        return "the request has more than one Transfer-Encoding";
    if (te && f.content_lengths)
        return "the request has both Content-Length and Transfer-Encoding";
    if (te && strcasecmp(te, "chunked") != 0)
        return "chunked is the only transfer coding accepted";
    if (f.hosts > 1)
        return "the request has more than one Host";
    if (f.bad_name)
        return "a header name is not an HTTP token";
    if (f.bad_value)
        return "a header value has control characters";
    return NULL;
}

/* 414 for a request target over the limit, 431 for a head over it, else 0. */
static enum ns_err head_size_error(const struct request_state *st, struct MHD_Connection *conn)
{
    const struct req *rq = &st->rq;
    size_t target = strlen(rq->path);
    for (size_t i = 0; i < rq->n_query; i++)
        target += strlen(rq->query[i].key) + 2 + (rq->query[i].value ? strlen(rq->query[i].value) : 0);
    size_t max = st->srv->cfg.header_max < TARGET_MAX ? st->srv->cfg.header_max : TARGET_MAX;
    if (target > max)
        return NS_ERR_URI_TOO_LONG;
    size_t head = strlen(rq->method) + target + 12; /* " HTTP/1.1" and CRLF */
    MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header_size, &head);
    return head > st->srv->cfg.header_max ? NS_ERR_HEADERS_TOO_LARGE : NS_OK;
}

/* Checks the path and query text; records a 400 in st->early when they are malformed. */
static void check_text(struct request_state *st)
{
    struct field_errors fe;
    field_errors_init(&fe, st->rq.arena);
    if (admit_text_refused(&st->rq, st->too_many_params, &fe)) {
        st->early = NS_ERR_BAD_PARAM;
        st->early_errors = fe;
    }
}

/*
 * Everything decided from the request head, before any body arrives: the
 * route, the rate limits, head size, text checks, credentials, media type
 * and declared size. Returns true when the request must be refused at
 * once, without reading its body.
 */
static bool decide_head(struct request_state *st, struct MHD_Connection *conn)
{
    struct req *rq = &st->rq;
    size_t plen = strlen(rq->path);
    char *scratch = arena_alloc(rq->arena, plen + 1);
    if (!scratch) {
        st->early = NS_ERR_NOMEM;
        return false;
    }
    st->match = router_match(rq->method, rq->path, scratch, &st->route, rq->path_params,
                             st->allow, sizeof(st->allow));
    st->options = strcmp(rq->method, "OPTIONS") == 0 && st->match == ROUTE_NO_METHOD;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    bool has_body = (length && strtoull(length, NULL, 10) > 0) ||
                    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
    if ((st->early_detail = framing_error(conn))) {
        st->early = NS_ERR_BAD_REQUEST;
        return true; /* never read a body whose length is in doubt: answer and close */
    }
    bool unmetered = st->match == ROUTE_FOUND && st->route->unmetered;
    if (!unmetered && !take_tokens(st, auth)) {
        st->early = NS_ERR_RATE_LIMITED;
        atomic_fetch_add(&st->srv->ctx->metrics.rate_limited, 1);
        return has_body;
    }
    if ((st->early = head_size_error(st, conn)))
        return has_body;
    check_text(st);
    if (st->early || st->match != ROUTE_FOUND)
        return false;
    if (!rq->store) {
        st->early = NS_ERR_UNAVAILABLE;
        return false;
    }
    const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    st->early = admit_route(rq, st->route, auth, type, length, st->srv->cfg.body_max);
    if (st->early == NS_ERR_TOO_LARGE)
        return true;
    /* never read a body for a caller refused already: answer and close */
    return st->early ? has_body : false;
}

/* Takes a chunk of body: streamed to the route, buffered, or dropped when refused already. */
static void take_body(struct request_state *st, const char *data, size_t len)
{
    const struct route *route = st->route;
    if (st->early || st->match != ROUTE_FOUND || route->body == BODY_NONE)
        return;
    if (route->feed) {
        st->early = route->feed(&st->rq, data, len);
        return;
    }
    if (st->body.len + len > st->srv->cfg.body_max) {
        st->early = NS_ERR_TOO_LARGE;
        buf_release(&st->body);
        return;
    }
    buf_append(&st->body, data, len);
    if (buf_failed(&st->body))
        st->early = NS_ERR_NOMEM;
}

/* What a 401 tells the caller to send: it depends on who may call the route. */
static const char *unauthorized_detail(const struct route *route)
{
    switch (route ? route->auth : AUTH_NONE) {
    case AUTH_INGEST:
    case AUTH_ADMIN:
        return "this endpoint needs a valid API key: Authorization: Bearer <key>";
    case AUTH_READER:
        return "this endpoint needs a valid session token (POST /v1/sessions): "
               "Authorization: Bearer <token>";
    case AUTH_NONE:
        break;
    }
    return "the credentials sent are not valid (or revoked); send none to read anonymously";
}

static const char *early_detail(enum ns_err err, const struct route *route)
{
    switch (err) {
    case NS_ERR_BAD_PARAM:
        return "the request has malformed text";
    case NS_ERR_UNAUTHORIZED:
        return unauthorized_detail(route);
    case NS_ERR_FORBIDDEN:
        return "this API key's scope does not allow this endpoint";
    case NS_ERR_MEDIA_TYPE:
        return "send the body as application/json (application/x-ndjson for /v1/import)";
    case NS_ERR_TOO_LARGE:
        return "the request body is too large";
    case NS_ERR_RATE_LIMITED:
        return "too many requests from this client; retry after the seconds in Retry-After";
    case NS_ERR_URI_TOO_LONG:
        return "the request target (path and query) is too long";
    case NS_ERR_HEADERS_TOO_LARGE:
        return "the request headers are too large";
    default:
        return NULL;
    }
}

/* Answers the request once it is all in: a problem decided early, 404/405, or the handler. */
static void dispatch(struct request_state *st, struct resp *rs)
{
    struct req *rq = &st->rq;
    if (st->early) {
        if (st->early == NS_ERR_BAD_PARAM)
            rq->n_query = 0; /* never echo bad bytes back in links */
        resp_problem(rq, rs, st->early, st->early_detail ? st->early_detail : early_detail(st->early, st->route),
                     st->early == NS_ERR_BAD_PARAM ? &st->early_errors : NULL);
        /* a token was sent and refused: say so (RFC 6750), in place of the plain challenge */
        for (size_t i = 0; st->early == NS_ERR_UNAUTHORIZED && i < rs->n_headers; i++)
            if (strcmp(rs->headers[i].name, "WWW-Authenticate") == 0 &&
                MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, "Authorization"))
                rs->headers[i].value = "Bearer realm=\"newsstand\", error=\"invalid_token\"";
        return;
    }
    if (st->match == ROUTE_NO_PATH) {
        resp_problem(rq, rs, NS_ERR_NOT_FOUND, "no resource at this path", NULL);
        return;
    }
    if (st->options) {
        /* the methods of this path; CORS headers for a preflight are added when sending */
        char *allow = arena_alloc(rq->arena, strlen(st->allow) + 16);
        if (allow)
            snprintf(allow, strlen(st->allow) + 16, "%s, OPTIONS", st->allow);
        resp_no_content(rs);
        resp_header(rs, "Allow", allow);
        return;
    }
    if (st->match == ROUTE_NO_METHOD) {
        char detail[192];
        snprintf(detail, sizeof(detail), "this resource answers only %s", st->allow);
        resp_problem(rq, rs, NS_ERR_METHOD, detail, NULL);
        resp_header(rs, "Allow", arena_strdup(rq->arena, st->allow));
        return;
    }
    bool reading = strcmp(st->route->method, "GET") == 0;
    if (reading && store_begin_read(rq->store) != NS_OK) {
        resp_problem(rq, rs, NS_ERR_UNAVAILABLE, NULL, NULL);
        return;
    }
    rq->body = st->body.data ? st->body.data : "";
    rq->body_len = st->body.len;
    st->route->handler(rq, rs);
    if (reading)
        store_rollback(rq->store); /* a read snapshot has nothing to keep */
    int64_t hits = 0, misses = 0;
    store_cache_stats_take(rq->store, &hits, &misses);
    atomic_fetch_add(&rq->ctx->metrics.db_cache_hits, (unsigned long)hits);
    atomic_fetch_add(&rq->ctx->metrics.db_cache_misses, (unsigned long)misses);
}

/* Sends rs, adding the headers every response carries. Takes rs->body. */
/* The request's Origin when the operator allows it (or allows any), else NULL. */
static const char *allowed_origin(const struct http_server *srv, struct MHD_Connection *conn)
{
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    for (const char *const *o = srv->cfg.cors_origins; origin && o && *o; o++)
        if (strcmp(*o, "*") == 0 || strcmp(*o, origin) == 0)
            return strcmp(*o, "*") == 0 ? "*" : origin;
    return NULL;
}

/* CORS headers for an allowed origin; a preflight (OPTIONS) also learns what it may send. */
static void add_cors(const struct http_server *srv, struct MHD_Connection *conn,
                     struct MHD_Response *r, const struct request_state *st)
{
    const char *origin = allowed_origin(srv, conn);
    if (!origin)
        return;
    MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(r, "Access-Control-Expose-Headers",
                            "Link, ETag, X-Request-Id, Retry-After, Location, WWW-Authenticate, "
                            "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset");
    if (st->options) {
        char methods[160];
        snprintf(methods, sizeof(methods), "%s, OPTIONS", st->allow);
        MHD_add_response_header(r, "Access-Control-Allow-Methods", methods);
        MHD_add_response_header(r, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type, If-None-Match, X-Request-Id");
        MHD_add_response_header(r, "Access-Control-Max-Age", "600");
    }
}

/*
 * Replaces rs->body with its gzip form when the client asks for it and it
 * is worth it; the ETag of the compressed variant gets a "-gz" suffix, so a
 * cache never mixes the two. Returns true when the body was compressed.
 */
static bool maybe_gzip(struct MHD_Connection *conn, struct resp *rs, char etag[48])
{
    const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding");
    size_t len = 0;
    char *gz = rs->len >= GZIP_MIN_BYTES && encoding_accepts_gzip(ae)
                   ? encoding_gzip(rs->body, rs->len, &len)
                   : NULL;
    if (!gz)
        return false;
    free(rs->body);
    rs->body = gz;
    rs->len = len;
    size_t n = strlen(etag);
    if (n > 1 && n + 3 < 48) {
        memcpy(etag + n - 1, "-gz\"", 5);
    }
    return true;
}

/*
 * Headers for a JSON API that no browser should render, frame, sniff or
 * refer from; and a Server header without a version.
 */
static void add_security_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Server", "newsstand");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

static bool has_header(const struct resp *rs, const char *name)
{
    for (size_t i = 0; i < rs->n_headers; i++)
        if (rs->headers[i].value && strcasecmp(rs->headers[i].name, name) == 0)
            return true;
    return false;
}

/* RateLimit-Limit, -Remaining and -Reset; and Retry-After when the limiter refused. */
static void add_rate_headers(struct MHD_Response *r, const struct ratelimit_verdict *v,
                             const struct resp *rs)
{
    char n[16];
    snprintf(n, sizeof(n), "%u", v->limit);
    MHD_add_response_header(r, "RateLimit-Limit", n);
    snprintf(n, sizeof(n), "%u", v->remaining);
    MHD_add_response_header(r, "RateLimit-Remaining", n);
    snprintf(n, sizeof(n), "%u", v->reset_s);
    MHD_add_response_header(r, "RateLimit-Reset", n);
    if (!v->allowed && !has_header(rs, "Retry-After")) {
        snprintf(n, sizeof(n), "%u", v->retry_after);
        MHD_add_response_header(r, "Retry-After", n);
    }
}

/*
 * The cache key of an anonymous GET or HEAD of a public route: the
 * encoding it accepts, the path and the decoded query in order, joined by
 * control characters (which check_text has refused in the text itself).
 * Returns false when the request is not one to cache.
 */
static bool cache_key(struct request_state *st, struct MHD_Connection *conn)
{
    const struct req *rq = &st->rq;
    if (!st->srv->cache || st->early || st->match != ROUTE_FOUND || rq->authorized ||
        st->route->auth != AUTH_NONE || st->route->unmetered || strcmp(st->route->method, "GET") != 0 ||
        !rq->store)
        return false;
    const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding");
    struct buf b;
    buf_init(&b);
    buf_puts(&b, encoding_accepts_gzip(ae) ? "z" : "i");
    buf_puts(&b, rq->path);
    for (size_t i = 0; i < rq->n_query; i++) {
        buf_puts(&b, "\x1e");
        buf_puts(&b, rq->query[i].key);
        buf_puts(&b, rq->query[i].value ? "\x1f" : "\x1d");
        buf_puts(&b, rq->query[i].value ? rq->query[i].value : "");
    }
    st->cache_key = buf_failed(&b) ? NULL : arena_strdup(rq->arena, b.data);
    st->cache_key_len = st->cache_key ? b.len : 0;
    buf_release(&b);
    return st->cache_key != NULL;
}

struct cache_hit {
    struct request_state *st;
    struct resp *rs;
};

/* Copies a cached answer into the response (its strings into the request's arena). */
static void take_hit(const struct respcache_entry *e, void *arg)
{
    struct cache_hit *h = arg;
    struct arena *a = h->st->rq.arena;
    h->rs->body = malloc(e->len ? e->len : 1);
    if (!h->rs->body)
        return;
    memcpy(h->rs->body, e->body, e->len);
    h->rs->len = e->len;
    h->rs->status = 200;
    h->rs->content_type = arena_strdup(a, e->content_type);
    for (size_t i = 0; i < e->n_headers; i++)
        resp_header(h->rs, arena_strdup(a, e->header_names[i]),
                    arena_strdup(a, e->header_values[i]));
    h->st->cached_etag = arena_strdup(a, e->etag);
    h->st->cached_gzipped = e->gzipped;
}

/*
 * Answers from the cache when it holds a current answer: true with rs
 * filled. Before looking, asks the store whether anything was committed
 * since this worker last asked; if so, every cached answer goes.
 */
static bool cache_lookup(struct request_state *st, struct MHD_Connection *conn, struct resp *rs)
{
    if (!cache_key(st, conn))
        return false;
    struct metrics *m = &st->srv->ctx->metrics;
    if (store_changed(st->rq.store))
        respcache_invalidate(st->srv->cache);
    st->cache_gen = respcache_generation(st->srv->cache);
    struct cache_hit h = {st, rs};
    if (respcache_get(st->srv->cache, st->cache_key, st->cache_key_len, take_hit, &h) &&
        rs->body && st->cached_etag && rs->content_type) {
        atomic_fetch_add(&m->response_cache_hits, 1);
        return true;
    }
    free(rs->body);
    *rs = (struct resp){.status = 500};
    st->cached_etag = NULL;
    atomic_fetch_add(&m->response_cache_misses, 1);
    return false;
}

/* Keeps a fresh 200 for the next anonymous reader, unless it must not be kept. */
static void cache_store(const struct request_state *st, const struct resp *rs, const char *etag,
                        bool gzipped)
{
    if (!st->cache_key || rs->no_store || rs->n_headers > RESPCACHE_HEADERS_MAX)
        return;
    struct respcache_entry e = {.body = rs->body, .len = rs->len, .etag = etag,
                                .content_type = rs->content_type, .gzipped = gzipped};
    for (size_t i = 0; i < rs->n_headers; i++) {
        if (!rs->headers[i].value)
            continue;
        e.header_names[e.n_headers] = rs->headers[i].name;
        e.header_values[e.n_headers++] = rs->headers[i].value;
    }
    respcache_put(st->srv->cache, st->cache_key, st->cache_key_len, st->cache_gen, &e);
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, const struct http_server *srv,
                                 struct request_state *st, struct req *rq,
                                 struct resp *rs, bool draining)
{
    bool is_get = strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;
    char etag[48] = "";
    bool gzipped = false;
    int status = rs->status;
    if (status == 200 && is_get && st->cached_etag) {
        snprintf(etag, sizeof(etag), "%s", st->cached_etag);
        gzipped = st->cached_gzipped;
    } else if (status == 200 && is_get) {
        make_etag(rs, etag);
        gzipped = maybe_gzip(conn, rs, etag);
        cache_store(st, rs, etag, gzipped);
    }
    if (status == 200 && is_get) {
        const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
        if (inm && etag_matches(inm, etag))
            status = 304;
    }
    size_t body_len = rs->len;
    struct MHD_Response *r =
        status == 304
            ? MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)
            : MHD_create_response_from_buffer(rs->len, rs->body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(rs->body);
        rs->body = NULL;
        return MHD_NO;
    }
    if (status == 304)
        free(rs->body);
    rs->body = NULL;
    if (status != 304)
        MHD_add_response_header(r, "Content-Type", rs->content_type);
    for (size_t i = 0; i < rs->n_headers; i++)
        if (rs->headers[i].value)
            MHD_add_response_header(r, rs->headers[i].name, rs->headers[i].value);
    MHD_add_response_header(r, "X-Request-Id", rq->request_id);
    add_security_headers(r);
    if (st->metered)
        add_rate_headers(r, &st->limit, rs);
    if (etag[0])
        MHD_add_response_header(r, "ETag", etag);
    /* an answer to a request with credentials may be about that caller: never shared */
    MHD_add_response_header(r, "Cache-Control",
                            rq->authorized              ? "private, no-store"
                            : rs->no_store || !is_get ? "no-store"
                                                      : "public, max-age=60");
    if (is_get)
        MHD_add_response_header(r, "Vary", srv->cfg.cors_origins && srv->cfg.cors_origins[0]
                                               ? "Authorization, Accept-Encoding, Origin"
                                               : "Authorization, Accept-Encoding");
    if (gzipped && status != 304)
        MHD_add_response_header(r, "Content-Encoding", "gzip");
    add_cors(srv, conn, r, st);
    if (draining)
        MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    /* a reader that takes the answer a byte at a time is cut off like a slow sender */
    headwatch_transfer(srv->watch, watch_slot(conn), status == 304 ? 0 : body_len);
    st->status = status;
    st->bytes = status == 304 ? 0 : body_len;
    if (status >= 500)
        fprintf(stderr, "newsstand: %s %s -> %d (request %s)\n", rq->method, rq->path, status,
                rq->request_id);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct http_server *srv = cls;
    struct request_state *st = *con_cls;
    (void)version;
    if (st)
        oom_mark_at(st->oom_at); /* other requests may have run on this thread meanwhile */
    if (!st) {
        st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        st->oom_at = oom_count();
        oom_mark_at(st->oom_at);
        arena_init(&st->arena);
        buf_init(&st->body);
        st->srv = srv;
        st->conn = conn;
        headwatch_busy(srv->watch, watch_slot(conn));
        clock_gettime(CLOCK_MONOTONIC, &st->started);
        atomic_fetch_add(&srv->in_flight, 1);
        atomic_fetch_add(&srv->ctx->metrics.in_flight, 1);
        *con_cls = st;
        st->rq = (struct req){
            .method = method,
            .path = url,
            .query = st->query,
            .request_id = request_id(conn, &st->arena),
            .now = (int64_t)time(NULL),
            .arena = &st->arena,
            .store = thread_store(srv),
            .ctx = srv->ctx,
        };
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, st);
        st->client = client_address(srv, conn);
        /* whatever the answer, one to a request with credentials is that caller's alone */
        st->rq.authorized =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization") != NULL;
        if (!decide_head(st, conn)) {
            headwatch_waiting(srv->watch, watch_slot(conn)); /* for the body, if one comes */
            return MHD_YES;
        }
        /* Refused before the body: answer now and let the connection close. */
        struct resp rs = {.status = 500};
        dispatch(st, &rs);
        return send_resp(conn, srv, st, &st->rq, &rs, true);
    }
    if (*upload_data_size) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        take_body(st, upload_data, *upload_data_size);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        /* a body earns time as it arrives; time the server spends on it is not the client's */
        headwatch_extend(srv->watch, watch_slot(conn), *upload_data_size,
                         (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 + 1);
        *upload_data_size = 0;
        return MHD_YES;
    }
    headwatch_busy(srv->watch, watch_slot(conn));
    struct resp rs = {.status = 500};
    if (!cache_lookup(st, conn, &rs))
        dispatch(st, &rs);
    if (!rs.body)
        resp_problem(&st->rq, &rs, NS_ERR_NOMEM, NULL, NULL);
    return send_resp(conn, srv, st, &st->rq, &rs, atomic_load(&srv->ctx->draining));
}

/* One JSON line per answered request on stdout: when, which, what came of it, how long. */
static void access_log(const struct request_state *st, double ms)
{
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    char when[TIMEFMT_LEN];
    timefmt_format((int64_t)wall.tv_sec, when);
    /* the route template, never the raw path: no client text reaches the log unescaped */
    const char *route = st->route ? st->route->pattern : st->options ? "OPTIONS" : "-";
    char client[NETADDR_TEXT_MAX];
    netaddr_format(&st->client, client);
    printf("{\"time\":\"%s\",\"request_id\":\"%s\",\"client\":\"%s\",\"method\":\"%s\","
           "\"route\":\"%s\",\"status\":%d,\"bytes\":%zu,\"duration_ms\":%.3f}\n",
           when, st->rq.request_id, client, st->rq.method, route, st->status, st->bytes, ms);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct request_state *st = *con_cls;
    (void)toe;
    if (!st)
        return;
    if (st->status) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double ms = (double)(now.tv_sec - st->started.tv_sec) * 1e3 +
                    (double)(now.tv_nsec - st->started.tv_nsec) / 1e6;
        size_t route = st->route ? (size_t)(st->route - routes) : METRICS_ROUTES;
        metrics_observe(&srv->ctx->metrics, route, st->status, ms);
        access_log(st, ms);
    }
    atomic_fetch_sub(&srv->ctx->metrics.in_flight, 1);
    if (st->rq.stream && st->route && st->route->stream_free)
        st->route->stream_free(st->rq.stream);
    arena_release(&st->arena);
    buf_release(&st->body);
    free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
    headwatch_waiting(srv->watch, watch_slot(conn));
}

/* Counts connections and puts each under the head watch while it is open. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&srv->ctx->metrics.connections, 1);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        int slot = ci ? headwatch_add(srv->watch, ci->connect_fd) : -1;
        *socket_context = (void *)(intptr_t)(slot + 1);
        return;
    }
    atomic_fetch_sub(&srv->ctx->metrics.connections, 1);
    /* libmicrohttpd closes the socket after this returns: the watch lets go first */
    headwatch_remove(srv->watch, (int)(intptr_t)*socket_context - 1);
}

/*
 * Raises the open-file limit to fit the connection limit (up to the hard
 * limit); returns the connections that fit, with a warning when fewer.
 */
static unsigned fit_connections(const struct http_config *cfg)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)cfg->max_connections + SPARE_FDS + 4 * (rlim_t)cfg->threads;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return cfg->max_connections;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return cfg->max_connections;
    rlim_t spare = SPARE_FDS + 4 * (rlim_t)cfg->threads;
    unsigned fit = rl.rlim_cur > spare + 16 ? (unsigned)(rl.rlim_cur - spare) : 16;
    fprintf(stderr, "newsstand: the open-file limit (%llu) allows %u connections, not %u\n",
            (unsigned long long)rl.rlim_cur, fit, cfg->max_connections);
    return fit;
}

/* Parses the trusted proxies into srv; false (with a message) for a malformed one. */
static bool load_trusted(struct http_server *srv, const char *const *proxies)
{
    for (const char *const *p = proxies; p && *p; p++) {
        if (srv->n_trusted == TRUSTED_MAX || !netprefix_parse(*p, &srv->trusted[srv->n_trusted])) {
            fprintf(stderr, "newsstand: cannot use trusted proxy %s\n", *p);
            return false;
        }
        srv->n_trusted++;
    }
    return true;
}

/* Fills addr for cfg->bind; returns its length, or 0 when bind is no address literal. */
static socklen_t bind_address(const struct http_config *cfg, struct sockaddr_storage *addr,
                              bool *ipv6)
{
    memset(addr, 0, sizeof(*addr));
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
    if (inet_pton(AF_INET, cfg->bind, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(cfg->port);
        *ipv6 = false;
        return sizeof(*v4);
    }
    if (inet_pton(AF_INET6, cfg->bind, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(cfg->port);
        *ipv6 = true;
        return sizeof(*v6);
    }
    return 0;
}

static void server_free(struct http_server *srv)
{
    headwatch_free(srv->watch);
    respcache_free(srv->cache);
    ratelimit_free(srv->buckets);
    pthread_key_delete(srv->store_key);
    free(srv);
}

enum ns_err http_start(const struct http_config *cfg, struct api_ctx *ctx,
                       struct http_server **out)
{
    struct sockaddr_storage addr;
    bool ipv6 = false;
    *out = NULL;
    if (!bind_address(cfg, &addr, &ipv6)) {
        fprintf(stderr, "newsstand: --bind %s is not an IPv4 or IPv6 address\n", cfg->bind);
        return NS_ERR_INVALID;
    }
    struct http_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NS_ERR_NOMEM;
    srv->cfg = *cfg;
    srv->ctx = ctx;
    for (size_t i = 0; i < routes_count && i < METRICS_ROUTES; i++) {
        srv->route_names[i] = routes[i].pattern;
        srv->route_methods[i] = routes[i].method;
    }
    ctx->route_names = srv->route_names;
    ctx->route_methods = srv->route_methods;
    ctx->n_routes = routes_count < METRICS_ROUTES ? routes_count : METRICS_ROUTES;
    if (pthread_key_create(&srv->store_key, close_store) != 0) {
        free(srv);
        return NS_ERR_NOMEM;
    }
    randombytes_buf(srv->bucket_key, sizeof(srv->bucket_key));
    srv->buckets = ratelimit_new(BUCKET_SLOTS);
    unsigned connections = fit_connections(cfg);
    srv->watch = headwatch_new(connections, cfg->idle_timeout_s);
    srv->cache = cfg->response_cache_bytes ? respcache_new(cfg->response_cache_bytes, CACHE_TTL_MS)
                                           : NULL;
    bool made = srv->buckets && srv->watch && (srv->cache || !cfg->response_cache_bytes);
    if (!made || !load_trusted(srv, cfg->trusted_proxies)) {
        enum ns_err err = made ? NS_ERR_INVALID : NS_ERR_NOMEM;
        server_free(srv);
        return err;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);
    srv->daemon = MHD_start_daemon(
        flags, cfg->port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_CONNECTION_TIMEOUT,
        cfg->idle_timeout_s, MHD_OPTION_CONNECTION_LIMIT, connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->connection_memory, MHD_OPTION_STRICT_FOR_CLIENT,
        1, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
    if (!srv->daemon) {
        fprintf(stderr, "newsstand: cannot listen on %s port %u\n", cfg->bind, cfg->port);
        server_free(srv);
        return NS_ERR_IO;
    }
    *out = srv;
    return NS_OK;
}

void http_stop(struct http_server *srv, unsigned timeout_ms)
{
    if (!srv)
        return;
    MHD_socket listener = MHD_quiesce_daemon(srv->daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (unsigned waited = 0; atomic_load(&srv->in_flight) > 0 && waited < timeout_ms;
         waited += 10)
        nanosleep(&tick, NULL);
    MHD_stop_daemon(srv->daemon); /* joins the workers: their connections are closed */
    store_settle(srv->cfg.db_path);
    server_free(srv);
}
