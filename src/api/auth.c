/*
 * auth.c - API-key checks for the administration routes.
 */
#include "api/api.h"

#include "domain/apikey.h"

enum ns_err api_authorize(struct req *rq, const char *authorization, enum route_auth need)
{
    if (need == AUTH_NONE)
        return NS_OK;
    const char *token = apikey_bearer(authorization);
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
