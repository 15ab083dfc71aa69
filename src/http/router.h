/*
 * router.h - the route table and path matching.
 *
 * Routes are data: one static table of method, pattern and handler
 * (routes.c). Adding an endpoint is adding a row there.
 */
#ifndef NS_ROUTER_H
#define NS_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"

/* What body a route takes. */
enum route_body { BODY_NONE, BODY_JSON, BODY_NDJSON };

struct route {
    const char *method;  /* "GET", "POST", ...; a GET route also answers HEAD */
    const char *pattern; /* "/v1/articles/{id}": a {name} segment matches any one segment */
    handler_fn handler;  /* answers once the whole request is in */
    enum route_auth auth;
    enum route_body body;
    feed_fn feed; /* streaming routes: takes the body chunk by chunk (else NULL) */
    stream_free_fn stream_free;
    bool unmetered; /* never rate-limited: health checks and metrics scrapes */
};

extern const struct route routes[];
extern const size_t routes_count;

enum route_match { ROUTE_FOUND, ROUTE_NO_PATH, ROUTE_NO_METHOD };

/*
 * Finds the route for method and path. On ROUTE_FOUND sets *found and
 * fills params with the captured segments (pointers into scratch, which
 * must hold strlen(path) + 1 bytes). On ROUTE_NO_METHOD writes the methods
 * the path does take, comma-separated, into allow (allow_len bytes).
 */
enum route_match router_match(const char *method, const char *path, char *scratch,
                              const struct route **found, const char *params[PATH_PARAMS_MAX],
                              char *allow, size_t allow_len);

#endif
