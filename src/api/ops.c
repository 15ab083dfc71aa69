/*
 * ops.c - /healthz, /readyz and /openapi.json.
 */
#include "api/handlers.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"
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
