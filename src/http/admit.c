/*
 * admit.c - the head rules of admit.h.
 */
#include "http/admit.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"
#include "http/router.h"

bool admit_text_refused(const struct req *rq, bool too_many, struct field_errors *fe)
{
    size_t before = fe->count;
    if (!text_is_clean_utf8(rq->path))
        field_errors_add(fe, "path", "must be valid UTF-8 without control characters");
    if (too_many)
        field_errors_add(fe, "query", "has more than %d parameters", ADMIT_QUERY_MAX);
    for (size_t i = 0; i < rq->n_query; i++) {
        /* name the parameter whose value is bad; a bad name itself cannot be echoed */
        if (!text_is_clean_utf8(rq->query[i].key))
            field_errors_add(fe, "query",
                             "parameter names must be valid UTF-8 without control "
                             "characters");
        else if (rq->query[i].value && !text_is_clean_utf8(rq->query[i].value))
            field_errors_add(fe, rq->query[i].key,
                             "must be valid UTF-8 without control characters");
    }
    return fe->count > before;
}

bool admit_media_type_is(const char *header, const char *type)
{
    size_t n = strlen(type);
    if (!header || strncasecmp(header, type, n) != 0)
        return false;
    return header[n] == '\0' || header[n] == ';' || header[n] == ' ';
}

enum ns_err admit_route(struct req *rq, const struct route *route, const char *authorization,
                        const char *content_type, const char *content_length, size_t body_max)
{
    enum ns_err err = api_authorize(rq, authorization, route->auth);
    if (err || route->body == BODY_NONE)
        return err;
    bool ndjson = route->body == BODY_NDJSON;
    if (!admit_media_type_is(content_type, ndjson ? "application/x-ndjson" : "application/json"))
        return NS_ERR_MEDIA_TYPE;
    if (!ndjson && content_length && strtoull(content_length, NULL, 10) > body_max)
        return NS_ERR_TOO_LARGE;
    return NS_OK;
}
