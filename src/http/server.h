/*
 * server.h - the HTTP server: the only code that includes <microhttpd.h>.
 *
 * It owns the libmicrohttpd daemon, a database connection per worker
 * thread, per-request state and body limits; it turns each request into a
 * struct req for the route's handler and sends back the struct resp, adding
 * the headers every response carries (request id, ETag, caching, rate
 * limits, security headers). It enforces the connection, size and rate
 * limits of struct http_config.
 */
#ifndef NS_HTTP_SERVER_H
#define NS_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "core/err.h"
#include "domain/ratelimit.h"

struct http_config {
    const char *bind; /* an IPv4 or IPv6 address literal */
    uint16_t port;
    unsigned threads;
    const char *db_path;
    size_t body_max;          /* largest buffered request body */
    size_t header_max;        /* largest request head: request line and headers */
    size_t connection_memory; /* libmicrohttpd's memory pool per connection */
    unsigned idle_timeout_s;
    unsigned max_connections;
    unsigned max_connections_per_ip; /* 0: no limit */
    size_t response_cache_bytes;     /* anonymous reads' answers kept; 0: no cache */
    struct ratelimit_policy client_limit; /* per client address (rate 0: off) */
    struct ratelimit_policy key_limit;    /* per API key or session token */
    const char *const *trusted_proxies; /* "ADDR" or "ADDR/BITS"; NULL-terminated */
    const char *const *cors_origins; /* allowed browser origins ("*": any); NULL-terminated */
};

struct http_server;

/*
 * Starts listening and serving on worker threads. Returns 0 and *out, or
 * an error (with a message on stderr) and nothing running.
 */
enum ns_err http_start(const struct http_config *cfg, struct api_ctx *ctx,
                       struct http_server **out);

/*
 * Stops taking connections, lets the requests in flight finish (waiting at
 * most timeout_ms), then stops the workers and closes their database
 * connections, and frees the server.
 */
void http_stop(struct http_server *srv, unsigned timeout_ms);

#endif
