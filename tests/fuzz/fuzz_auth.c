/*
 * fuzz_auth.c - the Authorization header (src/domain/apikey.c reads
 * "Bearer <token>", an API key or a reader's session token;
 * src/api/auth.c checks it against the seeded database for a route).
 *
 * The first byte picks the route's need (none, ingest key, admin key,
 * reader); the rest is the header value (no header when it is empty).
 * Checks the whole truth table: a request passes exactly when it needs
 * nothing and sends nothing, or sends a live credential the route takes;
 * the admin route says 403 only to the ingest key; a reader route knows
 * the reader afterwards.
 */
#include "fuzz.h"

#include <string.h>
#include <time.h>

#include "domain/apikey.h"

static bool token_is(const char *token, const char *want)
{
    return token && strcmp(token, want) == 0;
}

/* What api_authorize must answer for this header and need. */
static enum ns_err expected(const char *header, enum route_auth need)
{
    const char *token = apikey_bearer(header);
    bool admin = token_is(token, FUZZ_ADMIN_KEY), ingest = token_is(token, FUZZ_INGEST_KEY);
    bool reader = token_is(token, FUZZ_MEMBER_SESSION) || token_is(token, FUZZ_TRIAL_SESSION);
    switch (need) {
    case AUTH_NONE:
        return !header || admin || ingest || reader ? NS_OK : NS_ERR_UNAUTHORIZED;
    case AUTH_READER:
        return reader ? NS_OK : NS_ERR_UNAUTHORIZED;
    case AUTH_INGEST:
        return admin || ingest ? NS_OK : NS_ERR_UNAUTHORIZED;
    case AUTH_ADMIN:
        return admin ? NS_OK : ingest ? NS_ERR_FORBIDDEN : NS_ERR_UNAUTHORIZED;
    }
    return NS_ERR_INVALID;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_world *w = fuzz_world_get();
    if (size == 0)
        return 0;
    enum route_auth need = (enum route_auth)(data[0] % 4);
    struct arena a;
    arena_init(&a);
    const char *header = size > 1 ? fuzz_cstr(&a, data + 1, size - 1) : NULL;
    struct req rq = {.method = "GET", .path = "/", .request_id = "fuzz", .now = (int64_t)time(NULL),
                     .arena = &a, .store = w->st, .ctx = &w->ctx};
    enum ns_err got = api_authorize(&rq, header, need);
    FUZZ_CHECK(got == expected(header, need));
    FUZZ_CHECK(rq.authorized == (header != NULL));
    if (need == AUTH_READER && got == NS_OK)
        FUZZ_CHECK(rq.reader && rq.reader->user_id > 0);
    if (rq.reader)
        FUZZ_CHECK(token_is(apikey_bearer(header), FUZZ_MEMBER_SESSION) ||
                   token_is(apikey_bearer(header), FUZZ_TRIAL_SESSION));
    arena_release(&a);
    return 0;
}
