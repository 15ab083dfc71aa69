/*
 * auth.c - API-key checks for the administration routes.
 */
#include "api/api.h"

#include "domain/apikey.h"

#include <string.h>

/* Resolves a reader session token; NS_ERR_UNAUTHORIZED when it is not a live session. */
static enum ns_err reader_from_token(struct req *rq, const char *token)
{
    struct reader *r = arena_calloc(rq->arena, 1, sizeof(*r));
    struct user_row user;
    if (!r)
        return NS_ERR_NOMEM;
    if (!session_token_parse(token, r->token_hash))
        return NS_ERR_UNAUTHORIZED;
    enum ns_err err = store_session_user(rq->store, rq->arena, r->token_hash, rq->now, &user);
    if (err)
        return err == NS_ERR_NOT_FOUND ? NS_ERR_UNAUTHORIZED : err;
    r->user_id = user.id;
    r->access.plan = strcmp(user.plan, "member") == 0  ? PLAN_MEMBER
                     : strcmp(user.plan, "trial") == 0 ? PLAN_TRIAL
                                                       : PLAN_FREE;
    r->access.expires_at = user.has_expiry ? user.expires_at : 0;
    rq->reader = r;
    return NS_OK;
}

const struct reader_access *api_reader_access(const struct req *rq)
{
    return rq->reader ? &rq->reader->access : NULL;
}

enum ns_err api_authorize(struct req *rq, const char *authorization, enum route_auth need)
{
    const char *token = apikey_bearer(authorization);
    rq->authorized = authorization != NULL;
    if (need == AUTH_NONE || need == AUTH_READER) {
        /* a reader's token is checked wherever it is sent: a dead session must be noticed */
        if (authorization && !token)
            return NS_ERR_UNAUTHORIZED;
        if (token && strncmp(token, "nss_", 4) == 0) {
            enum ns_err err = reader_from_token(rq, token);
            if (err)
                return err;
        } else if (token && need == AUTH_NONE) {
            struct apikey key;
            bool admin = false;
            /* an API key on a public route is fine if it is valid */
            if (!apikey_parse(token, &key) ||
                store_key_verify(rq->store, &key, rq->now, &admin) != NS_OK)
                return NS_ERR_UNAUTHORIZED;
        }
        return need == AUTH_READER && !rq->reader ? NS_ERR_UNAUTHORIZED : NS_OK;
    }
    struct apikey key;
    if (!token || !apikey_parse(token, &key))
        return NS_ERR_UNAUTHORIZED;
    bool admin = false;
    enum ns_err err = store_key_verify(rq->store, &key, rq->now, &admin);
    if (err == NS_ERR_NOT_FOUND)
        return NS_ERR_UNAUTHORIZED;
    if (err)
        return err;
    return need == AUTH_ADMIN && !admin ? NS_ERR_FORBIDDEN : NS_OK;
}
