/*
 * fuzz_params.c - query parameters: the value parsers of
 * src/domain/params.c (limits, comma lists, time bounds, languages), ids
 * and slugs, and src/api/query.c's checks, page reading and the links it
 * builds back from the request.
 *
 * Input: a request target "path?query", a newline, then the next page's
 * cursor fields (8 bytes sort key, 8 bytes id, the rest the string key).
 *
 * Checks: parsed values obey their rules (a limit is 1..100, a list's items
 * are distinct, non-empty and rejoin to the text, a time bound prints and
 * reads back to itself, a slug is made once); and the self and next links
 * read back to the same path and parameters, with a next cursor that opens
 * to the one given.
 */
#include "fuzz.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"
#include "core/text.h"
#include "domain/params.h"
#include "domain/slug.h"
#include "domain/timefmt.h"

enum { QUERY_MAX = 64 };

static const char *const allowed[] = {"limit", "cursor", "q",  "publication", "section",
                                      "from",  "to",     "language", "sort", NULL};

static void check_list(struct arena *a, const char *v)
{
    const char **items = NULL;
    const char *why = NULL;
    long n = params_list(a, v, LIST_MAX_ITEMS, &items, &why);
    if (n < 0) {
        FUZZ_CHECK(why != NULL);
        return;
    }
    FUZZ_CHECK(n >= 1 && n <= LIST_MAX_ITEMS);
    size_t at = 0;
    for (long i = 0; i < n; i++) {
        size_t len = strlen(items[i]);
        FUZZ_CHECK(len > 0 && !strchr(items[i], ','));
        FUZZ_CHECK(strncmp(v + at, items[i], len) == 0);
        at += len;
        FUZZ_CHECK(v[at] == (i + 1 < n ? ',' : '\0'));
        at += i + 1 < n;
        for (long k = 0; k < i; k++)
            FUZZ_CHECK(strcmp(items[k], items[i]) != 0);
    }
}

static void check_time(const char *v)
{
    int64_t lo = 0, hi = 0, back = 0;
    const char *why = NULL;
    char text[TIMEFMT_LEN];
    bool has_lo = params_time_bound(v, false, &lo, &why);
    bool has_hi = params_time_bound(v, true, &hi, &why);
    FUZZ_CHECK(has_lo == has_hi);
    if (!has_lo) {
        FUZZ_CHECK(why != NULL);
        return;
    }
    FUZZ_CHECK(lo <= hi && hi - lo < 86400);
    timefmt_format(lo, text);
    FUZZ_CHECK(timefmt_parse(text, &back) && back == lo);
}

static void check_value(struct arena *a, const char *v)
{
    int limit = 0;
    const char *why = NULL;
    long long id = 0;
    char slug[SLUG_BUF], again[SLUG_BUF];
    if (params_limit(v, &limit, &why))
        FUZZ_CHECK(limit >= 1 && limit <= LIMIT_MAX);
    else
        FUZZ_CHECK(why != NULL);
    check_list(a, v);
    check_time(v);
    params_language(v);
    if (slug_is_id(v, &id))
        FUZZ_CHECK(id > 0);
    slug_make(v, "fallback", slug);
    FUZZ_CHECK(strlen(slug) < SLUG_BUF && slug[0]);
    slug_make(slug, "fallback", again);
    FUZZ_CHECK(strcmp(slug, again) == 0);
    FUZZ_CHECK(!slug_is_id(slug, &id));
}

/* Reads a link back: its path must be rq's, its parameters rq's (cursor moved last, maybe new). */
static void check_link(struct arena *a, const struct req *rq, const char *link,
                       const char *cursor, const struct page *pg, const struct cursor *next)
{
    char *copy = arena_strdup(a, link);
    FUZZ_CHECK(copy != NULL);
    char *q = strchr(copy, '?');
    if (q)
        *q++ = '\0';
    fuzz_unescape(copy);
    FUZZ_CHECK(strcmp(copy, rq->path) == 0);
    struct param back[QUERY_MAX + 1];
    bool too_many = false;
    size_t n = q ? fuzz_query_parse(a, q, back, QUERY_MAX + 1, &too_many) : 0, k = 0;
    for (size_t i = 0; i < rq->n_query; i++) {
        if (strcmp(rq->query[i].key, "cursor") == 0)
            continue;
        FUZZ_CHECK(k < n && strcmp(back[k].key, rq->query[i].key) == 0);
        const char *want = rq->query[i].value ? rq->query[i].value : "";
        FUZZ_CHECK(back[k].value && strcmp(back[k].value, want) == 0);
        k++;
    }
    if (cursor) {
        FUZZ_CHECK(k < n && strcmp(back[k].key, "cursor") == 0 && back[k].value);
        if (next) {
            struct cursor opened;
            FUZZ_CHECK(cursor_decode(back[k].value, rq->ctx->cursor_key, pg->scope, &opened) ==
                       CURSOR_OK);
            FUZZ_CHECK(opened.key == next->key && opened.id == next->id);
            FUZZ_CHECK(strcmp(opened.skey, next->skey) == 0);
        } else {
            FUZZ_CHECK(strcmp(back[k].value, cursor) == 0);
        }
        k++;
    }
    FUZZ_CHECK(k == n);
}

static void check_reply(struct req *rq, const struct page *pg, const struct cursor *next)
{
    struct resp rs = {.status = 0};
    query_list_reply(rq, &rs, json_array(), json_object(), pg, 0, next);
    FUZZ_CHECK(rs.body != NULL);
    json_t *body = json_loadb(rs.body, rs.len, 0, NULL);
    FUZZ_CHECK(body != NULL);
    if (rs.status == 200) {
        const char *self = json_string_value(json_object_get(json_object_get(body, "links"), "self"));
        const char *nxt = json_string_value(json_object_get(json_object_get(body, "links"), "next"));
        FUZZ_CHECK(self && (nxt != NULL) == (next != NULL));
        check_link(rq->arena, rq, self, query_get(rq, "cursor"), pg, NULL);
        if (next) {
            const char *text = json_string_value(json_object_get(json_object_get(body, "meta"),
                                                                 "next_cursor"));
            check_link(rq->arena, rq, nxt, text, pg, next);
        }
    } else {
        FUZZ_CHECK(next && strlen(next->skey) > CURSOR_SKEY_MAX);
    }
    json_decref(body);
    free(rs.body);
}

/* Everything the server would refuse as malformed text never reaches a handler. */
static bool clean_request(const struct req *rq, bool too_many)
{
    if (too_many || !text_is_clean_utf8(rq->path))
        return false;
    for (size_t i = 0; i < rq->n_query; i++)
        if (!text_is_clean_utf8(rq->query[i].key) ||
            (rq->query[i].value && !text_is_clean_utf8(rq->query[i].value)))
            return false;
    return true;
}

static void read_next(const uint8_t *data, size_t size, struct cursor *next)
{
    uint64_t key = 0, id = 0;
    memcpy(&key, data, size < 8 ? size : 8);
    if (size > 8)
        memcpy(&id, data + 8, size < 16 ? size - 8 : 8);
    next->key = (int64_t)key;
    next->id = (int64_t)id;
    size_t slen = size > 16 ? size - 16 : 0;
    slen = slen > CURSOR_SKEY_MAX ? CURSOR_SKEY_MAX : slen;
    memcpy(next->skey, data + (size > 16 ? 16 : size), slen);
    next->skey[slen] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct api_ctx ctx;
    static bool ready;
    if (!ready) {
        ready = sodium_init() >= 0;
        memcpy(ctx.cursor_key, "fuzz-params-cursor-key-000000000", CURSOR_KEY_LEN);
    }
    struct arena a;
    struct param query[QUERY_MAX];
    bool too_many = false;
    arena_init(&a);
    char *target = fuzz_take(&a, &data, &size, '\n');
    char *qs = strchr(target, '?');
    if (qs)
        *qs++ = '\0';
    fuzz_unescape(target);
    struct req rq = {.method = "GET", .path = target, .query = query, .request_id = "fuzz",
                     .arena = &a, .ctx = &ctx};
    rq.n_query = qs ? fuzz_query_parse(&a, qs, query, QUERY_MAX, &too_many) : 0;
    for (size_t i = 0; i < rq.n_query; i++)
        if (query[i].value)
            check_value(&a, query[i].value);
    if (clean_request(&rq, too_many)) {
        struct field_errors fe;
        struct page pg;
        struct cursor next = {.scope = 0};
        field_errors_init(&fe, &a);
        query_check(&rq, allowed, &fe);
        query_page(&rq, "articles|fuzz", &pg, &fe);
        FUZZ_CHECK(pg.limit >= 1 && pg.limit <= LIMIT_MAX);
        read_next(data, size, &next);
        next.scope = pg.scope;
        check_reply(&rq, &pg, size ? &next : NULL);
    }
    arena_release(&a);
    return 0;
}
