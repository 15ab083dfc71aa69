/*
 * readers.c - reader accounts: sign-up, sign-in and out, the account
 * itself, and membership (set by editors with an admin key).
 *
 * Passwords are hashed with Argon2id before the write lock is taken (a hash
 * takes tens of milliseconds); a sign-in for an unknown email verifies
 * against a dummy hash so both failures take about as long.
 */
#include "api/handlers.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/query.h"
#include "domain/apikey.h"
#include "domain/slug.h"
#include "domain/timefmt.h"
#include "json/reader_parse.h"
#include "json/resource_json.h"

enum {
    SESSION_SECONDS = 30 * 86400,
    TRIAL_SECONDS = PAYWALL_TRIAL_DAYS * 86400,
    SIGN_IN_FAILURES_MAX = 5,
    SIGN_IN_WINDOW = 15 * 60,
};

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* Fuzzing builds only (tests/fuzz): the cheapest Argon2id, so the fuzzer tests the handlers. */
#define PWHASH_OPS crypto_pwhash_OPSLIMIT_MIN
#define PWHASH_MEM crypto_pwhash_MEMLIMIT_MIN
#else
/* At or above OWASP's Argon2id minimum (19 MiB, 2 passes, 1 lane). */
#define PWHASH_OPS 2
#define PWHASH_MEM (19u * 1024 * 1024)
#endif

static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

/* A hash no password matches, made once: verifying against it costs what a real check costs. */
static void make_dummy_hash(void)
{
    unsigned char random[32];
    randombytes_buf(random, sizeof(random));
    if (crypto_pwhash_str(dummy_hash, (const char *)random, sizeof(random), PWHASH_OPS,
                          PWHASH_MEM) != 0)
        dummy_hash[0] = '\0';
}

static bool hash_password(const char *password, char out[crypto_pwhash_STRBYTES])
{
    return crypto_pwhash_str(out, password, strlen(password), PWHASH_OPS, PWHASH_MEM) == 0;
}

static bool password_matches(const char *hash, const char *password)
{
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

/* Opens a session for user: its token goes into *token (arena). */
static enum ns_err open_session(struct req *rq, int64_t user_id, const char **token,
                                int64_t *expires)
{
    char text[SESSION_TOKEN_MAX];
    unsigned char hash[SESSION_TOKEN_HASH_LEN];
    session_token_generate(text, hash);
    *expires = rq->now + SESSION_SECONDS;
    enum ns_err err = store_session_create(rq->store, hash, user_id, rq->now, *expires);
    *token = err ? NULL : arena_strdup(rq->arena, text);
    sodium_memzero(text, sizeof(text));
    return err ? err : *token ? NS_OK : NS_ERR_NOMEM;
}

/* Answers {token, expires_at, user} (sign-in) or {user, token, expires_at} (sign-up). */
static void reply_session(struct req *rq, struct resp *rs, int64_t user_id, const char *token,
                          int64_t expires)
{
    struct user_row user;
    char when[TIMEFMT_LEN];
    enum ns_err err = store_user_get(rq->store, rq->arena, user_id, &user);
    if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
        return;
    }
    timefmt_format(expires, when);
    resp_json(rq, rs, 201,
              json_pack("{ss,ss,so}", "token", token, "expires_at", when, "user",
                        user_to_json(&user)));
}

void handle_user_post(struct req *rq, struct resp *rs)
{
    struct field_errors fe;
    struct account_write w;
    char hash[crypto_pwhash_STRBYTES];
    int64_t id = 0, expires = 0;
    const char *token = NULL;
    field_errors_init(&fe, rq->arena);
    if (!query_none(rq, rs))
        return;
    enum ns_err err = account_parse(rq->arena, rq->body, rq->body_len, FORM_SIGN_UP, &w, &fe);
    if (!err && !hash_password(w.password, hash))
        err = NS_ERR_NOMEM;
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    if (!write_begin(rq, rs))
        return;
    err = store_user_create(rq->store, w.email, w.name, hash, "trial", rq->now + TRIAL_SECONDS,
                            rq->now, &id);
    if (err == NS_ERR_CONFLICT)
        field_errors_add(&fe, "email", "is registered already: sign in instead");
    if (!err)
        err = open_session(rq, id, &token, &expires);
    err = write_end(rq, err);
    if (err)
        write_problem(rq, rs, err, &fe);
    else
        reply_session(rq, rs, id, token, expires);
}

static void sign_in_refused(struct req *rq, struct resp *rs)
{
    resp_problem(rq, rs, NS_ERR_UNAUTHORIZED, "email or password is wrong", NULL);
}

/*
 * Counts a password check against email's failures before it is made (the
 * success clears them), under the write lock, so parallel guesses cannot all
 * slip in under the limit. Returns true when the check may go ahead; else it
 * has answered: 429 with Retry-After once SIGN_IN_FAILURES_MAX failed in
 * SIGN_IN_WINDOW, or the store's problem. Sign-in and the password a
 * PATCH /v1/me must give share the count.
 */
static bool password_attempt(struct req *rq, struct resp *rs, const char *email)
{
    int failures = 0;
    int64_t window_at = 0;
    int64_t since = rq->now - SIGN_IN_WINDOW;
    if (!write_begin(rq, rs))
        return false;
    enum ns_err err = store_sign_in_failures(rq->store, email, since, &failures, &window_at);
    bool throttled = !err && failures >= SIGN_IN_FAILURES_MAX;
    if (!err && !throttled)
        err = store_sign_in_failed(rq->store, email, rq->now, since);
    err = write_end(rq, err);
    if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
        return false;
    }
    if (throttled) {
        char *retry = arena_alloc(rq->arena, 24);
        resp_problem(rq, rs, NS_ERR_RATE_LIMITED, "too many failed sign-ins: try again later",
                     NULL);
        if (retry) {
            snprintf(retry, 24, "%lld", (long long)(window_at + SIGN_IN_WINDOW - rq->now + 1));
            resp_header(rs, "Retry-After", retry);
        }
        return false;
    }
    return true;
}

void handle_session_post(struct req *rq, struct resp *rs)
{
    struct field_errors fe;
    struct account_write w;
    struct user_row user;
    int64_t expires = 0;
    const char *token = NULL;
    field_errors_init(&fe, rq->arena);
    if (!query_none(rq, rs))
        return;
    enum ns_err err = account_parse(rq->arena, rq->body, rq->body_len, FORM_SIGN_IN, &w, &fe);
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    /* counted as a failure before the (slow) password check; a success clears it */
    if (!password_attempt(rq, rs, w.email))
        return;
    enum ns_err found = store_user_by_email(rq->store, rq->arena, w.email, &user);
    if (found && found != NS_ERR_NOT_FOUND) {
        resp_problem(rq, rs, found, NULL, NULL);
        return;
    }
    pthread_once(&dummy_once, make_dummy_hash);
    bool ok = password_matches(found ? dummy_hash : user.password_hash, w.password) && !found;
    if (!ok) {
        sign_in_refused(rq, rs);
        return;
    }
    if (!write_begin(rq, rs))
        return;
    err = store_sign_in_clear(rq->store, w.email);
    if (!err)
        err = open_session(rq, user.id, &token, &expires);
    err = write_end(rq, err);
    if (err)
        resp_problem(rq, rs, err, NULL, NULL);
    else
        reply_session(rq, rs, user.id, token, expires);
}

void handle_session_delete(struct req *rq, struct resp *rs)
{
    if (!query_none(rq, rs) || !write_begin(rq, rs))
        return;
    enum ns_err err = write_end(rq, store_session_delete(rq->store, rq->reader->token_hash));
    if (err)
        resp_problem(rq, rs, err, NULL, NULL);
    else
        resp_no_content(rs);
}

static void reply_me(struct req *rq, struct resp *rs, int64_t id)
{
    struct user_row user;
    enum ns_err err = store_user_get(rq->store, rq->arena, id, &user);
    if (err)
        resp_lookup_problem(rq, rs, err, "user");
    else
        resp_json(rq, rs, 200, user_to_json(&user));
}

void handle_me_get(struct req *rq, struct resp *rs)
{
    if (query_none(rq, rs))
        reply_me(rq, rs, rq->reader->user_id);
}

void handle_me_patch(struct req *rq, struct resp *rs)
{
    struct field_errors fe;
    struct account_write w;
    struct user_row user;
    char hash[crypto_pwhash_STRBYTES];
    field_errors_init(&fe, rq->arena);
    if (!query_none(rq, rs))
        return;
    enum ns_err err = account_parse(rq->arena, rq->body, rq->body_len, FORM_ACCOUNT_PATCH, &w, &fe);
    if (!err)
        err = store_user_get(rq->store, rq->arena, rq->reader->user_id, &user);
    /* a changed email or password needs the current password: guessed no faster than at sign-in */
    bool checked = !err && (w.email || w.password) && w.current_password;
    if (checked && !password_attempt(rq, rs, user.email))
        return;
    if (!err && (w.email || w.password) &&
        !(w.current_password && password_matches(user.password_hash, w.current_password))) {
        field_errors_add(&fe, "current_password", "is not this account's password");
        err = NS_ERR_INVALID;
    }
    if (!err && w.password && !hash_password(w.password, hash))
        err = NS_ERR_NOMEM;
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    if (!write_begin(rq, rs))
        return;
    err = store_user_update(rq->store, user.id, w.name, w.email, w.password ? hash : NULL);
    if (!err && checked)
        err = store_sign_in_clear(rq->store, user.email); /* the right password: the count restarts */
    if (err == NS_ERR_CONFLICT)
        field_errors_add(&fe, "email", "is registered to another account");
    /* a new password ends every other session: a thief's copy stops working */
    if (!err && w.password)
        err = store_sessions_end_others(rq->store, user.id, rq->reader->token_hash);
    err = write_end(rq, err);
    if (err)
        write_problem(rq, rs, err, &fe);
    else
        reply_me(rq, rs, user.id);
}

void handle_me_delete(struct req *rq, struct resp *rs)
{
    if (!query_none(rq, rs) || !write_begin(rq, rs))
        return;
    enum ns_err err = write_end(rq, store_user_delete(rq->store, rq->reader->user_id));
    if (err)
        resp_problem(rq, rs, err, NULL, NULL);
    else
        resp_no_content(rs);
}

void handle_membership_put(struct req *rq, struct resp *rs)
{
    struct field_errors fe;
    struct membership_write w;
    long long id = 0;
    field_errors_init(&fe, rq->arena);
    if (!query_none(rq, rs))
        return;
    if (!slug_is_id(rq->path_params[0], &id)) {
        resp_lookup_problem(rq, rs, NS_ERR_NOT_FOUND, "user");
        return;
    }
    enum ns_err err = membership_parse(rq->arena, rq->body, rq->body_len, &w, &fe);
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    if (!write_begin(rq, rs))
        return;
    err = write_end(rq, store_user_membership(rq->store, id, w.plan, w.has_expiry, w.expires_at));
    if (err == NS_ERR_NOT_FOUND)
        resp_lookup_problem(rq, rs, err, "user");
    else if (err)
        write_problem(rq, rs, err, &fe);
    else
        reply_me(rq, rs, id);
}
