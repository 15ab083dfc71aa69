/*
 * fuzz_bodies.c - every other JSON body the API reads (src/json/): the
 * gazetteer line, entity patch and merge, topics, publications, picks,
 * reader accounts and membership, and the JSON merge patch that PATCH
 * /v1/articles applies. The first byte picks the reader; the rest is the
 * body.
 *
 * Checks: an answer is OK, INVALID or BAD_JSON; a refusal names a problem
 * and an acceptance names none; accepted values obey their rules (picks
 * positive and distinct, names present); a merge patch applied twice gives
 * what it gave once (RFC 7386 patches are idempotent).
 */
#include "fuzz.h"

#include <jansson.h>
#include <string.h>

#include "json/admin_parse.h"
#include "json/entity_parse.h"
#include "json/fields.h"
#include "json/reader_parse.h"
#include "json/write_form.h"

enum body_kind {
    BODY_ENTITY,
    BODY_ENTITY_PATCH,
    BODY_MERGE,
    BODY_TOPIC_CREATE,
    BODY_TOPIC_PATCH,
    BODY_PUBLICATION_CREATE,
    BODY_PUBLICATION_PATCH,
    BODY_PICKS,
    BODY_SIGN_UP,
    BODY_SIGN_IN,
    BODY_ACCOUNT_PATCH,
    BODY_MEMBERSHIP,
    BODY_MERGE_PATCH,
    BODY_KINDS
};

static void check_picks(const int64_t *ids, size_t n)
{
    FUZZ_CHECK(n >= 1 && n <= PICKS_MAX);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(ids[i] > 0);
        for (size_t k = 0; k < i; k++)
            FUZZ_CHECK(ids[k] != ids[i]);
    }
}

/* Parses with the reader of kind; returns its answer after checking what it accepted. */
static enum ns_err parse_body(struct arena *a, enum body_kind kind, const char *text, size_t len,
                              struct field_errors *fe)
{
    union {
        struct entity_write entity;
        struct entity_patch entity_patch;
        struct topic_write topic;
        struct account_write account;
        struct membership_write membership;
    } out;
    struct publication_write pub;
    struct publication_patch pub_patch;
    const char *into = NULL;
    int64_t *ids = NULL;
    size_t n = 0;
    enum ns_err err = NS_ERR_INVALID;
    switch (kind) {
    case BODY_ENTITY:
        err = entity_parse(a, text, len, &out.entity, fe);
        FUZZ_CHECK(err || (out.entity.name && out.entity.name[0]));
        break;
    case BODY_ENTITY_PATCH:
        err = entity_patch_parse(a, text, len, &out.entity_patch, fe);
        break;
    case BODY_MERGE:
        err = merge_parse(a, text, len, &into, fe);
        FUZZ_CHECK(err || (into && into[0]));
        break;
    case BODY_TOPIC_CREATE:
    case BODY_TOPIC_PATCH:
        err = topic_parse(a, text, len, kind == BODY_TOPIC_CREATE, &out.topic, fe);
        FUZZ_CHECK(err || kind == BODY_TOPIC_PATCH || out.topic.name);
        break;
    case BODY_PUBLICATION_CREATE:
    case BODY_PUBLICATION_PATCH:
        err = publication_parse(a, text, len, kind == BODY_PUBLICATION_CREATE, &pub, &pub_patch,
                                fe);
        FUZZ_CHECK(err || kind == BODY_PUBLICATION_PATCH || pub.name);
        break;
    case BODY_PICKS:
        err = picks_parse(a, text, len, &ids, &n, fe);
        if (!err)
            check_picks(ids, n);
        break;
    case BODY_SIGN_UP:
    case BODY_SIGN_IN:
    case BODY_ACCOUNT_PATCH:
        err = account_parse(a, text, len, (enum account_form)(kind - BODY_SIGN_UP), &out.account,
                            fe);
        FUZZ_CHECK(err || kind == BODY_ACCOUNT_PATCH ||
                   (out.account.email && out.account.password));
        break;
    case BODY_MEMBERSHIP:
        err = membership_parse(a, text, len, &out.membership, fe);
        FUZZ_CHECK(err || out.membership.plan);
        break;
    case BODY_MERGE_PATCH:
    case BODY_KINDS:
        break;
    }
    return err;
}

/* The document and the patch are the two halves of the body, cut at its first newline. */
static void check_merge_patch(const char *text, size_t len)
{
    const char *nl = memchr(text, '\n', len);
    json_error_t jerr;
    size_t first = nl ? (size_t)(nl - text) : len;
    json_t *target = fields_load(text, first, &jerr);
    json_t *patch = nl ? fields_load(nl + 1, len - first - 1, &jerr) : NULL;
    if (target && patch) {
        json_t *once = merge_patch(json_deep_copy(target), patch);
        json_t *twice = merge_patch(json_deep_copy(once), patch);
        FUZZ_CHECK(once && twice && json_equal(once, twice));
        json_decref(once);
        json_decref(twice);
    }
    json_decref(target);
    json_decref(patch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    enum body_kind kind = (enum body_kind)(data[0] % BODY_KINDS);
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (kind == BODY_MERGE_PATCH) {
        check_merge_patch(text, len);
        return 0;
    }
    struct arena a;
    struct field_errors fe;
    arena_init(&a);
    field_errors_init(&fe, &a);
    enum ns_err err = parse_body(&a, kind, text, len, &fe);
    FUZZ_CHECK(err == NS_OK || err == NS_ERR_INVALID || err == NS_ERR_BAD_JSON);
    FUZZ_CHECK((err == NS_OK) == (fe.count == 0));
    arena_release(&a);
    return 0;
}
