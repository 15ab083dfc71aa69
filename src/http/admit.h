/*
 * admit.h - the rules server.c applies to a request's head before any
 * handler runs, kept apart so the whole-request fuzzer (tests/fuzz) runs
 * the very same ones.
 */
#ifndef NS_ADMIT_H
#define NS_ADMIT_H

#include <stdbool.h>

#include "api/api.h"
#include "core/errors.h"

/* Query parameters read from one request; more is a 400. */
enum { ADMIT_QUERY_MAX = 64 };

/*
 * Adds a field error for a path, parameter name or value that is not clean
 * UTF-8 (or has control characters), and one when the query had more than
 * ADMIT_QUERY_MAX parameters (too_many). Returns true when any was added:
 * the request is a 400 before routing.
 */
bool admit_text_refused(const struct req *rq, bool too_many, struct field_errors *fe);

/* True when a Content-Type header value is the media type `type` (parameters allowed). */
bool admit_media_type_is(const char *header, const char *type);

struct route;

/*
 * What a route makes of a request's credentials and body: 0, or the problem
 * to answer (401/403 from api_authorize, 415 for the wrong media type, 413
 * for a JSON body whose Content-Length is over body_max). content_length is
 * the header's value, NULL when there is none (chunked, or no body).
 */
enum ns_err admit_route(struct req *rq, const struct route *route, const char *authorization,
                        const char *content_type, const char *content_length, size_t body_max);

#endif
