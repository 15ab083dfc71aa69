/*
 * fuzz_cursor.c - pagination cursors (src/domain/cursor.c).
 *
 * The first byte picks what the rest is:
 *   0: cursor text as a client sends it back (?cursor=...);
 *   1: the fields of a cursor to seal: sort key, id (8 bytes each), string key;
 *   2: raw bytes sealed with the right key, so the checks behind the tag are
 *      reached (a forged tag is refused before them).
 * Checks: text that opens is exactly what sealing its contents gives back;
 * a sealed cursor opens to what went in, is refused for another query, and
 * is refused as garbled when any character changes.
 */
#include "fuzz.h"

#include <sodium.h>
#include <string.h>

static const unsigned char key[CURSOR_KEY_LEN] = "fuzz-cursor-key-0123456789abcdef";
static const uint64_t scope = 0x5eed5eed5eed5eedULL;

static void check_text(struct arena *a, const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(a, data, size);
    struct cursor c;
    enum cursor_status st = cursor_decode(text, key, scope, &c);
    FUZZ_CHECK(st == CURSOR_OK || st == CURSOR_GARBLED || st == CURSOR_WRONG_QUERY);
    if (st == CURSOR_GARBLED)
        return;
    char again[CURSOR_TEXT_MAX];
    FUZZ_CHECK(strlen(c.skey) <= CURSOR_SKEY_MAX);
    FUZZ_CHECK(cursor_encode(&c, key, again));
    FUZZ_CHECK(st == CURSOR_WRONG_QUERY || strcmp(again, text) == 0);
}

static void check_sealed(const uint8_t *data, size_t size)
{
    struct cursor c = {.scope = scope}, back;
    uint64_t k = 0, id = 0;
    memcpy(&k, data, size < 8 ? size : 8);
    if (size > 8)
        memcpy(&id, data + 8, size < 16 ? size - 8 : 8);
    c.key = (int64_t)k;
    c.id = (int64_t)id;
    size_t slen = size > 16 ? size - 16 : 0;
    if (slen > CURSOR_SKEY_MAX)
        slen = CURSOR_SKEY_MAX;
    memcpy(c.skey, data + (size > 16 ? 16 : size), slen);
    c.skey[slen] = '\0';
    char text[CURSOR_TEXT_MAX];
    FUZZ_CHECK(cursor_encode(&c, key, text));
    FUZZ_CHECK(cursor_decode(text, key, scope, &back) == CURSOR_OK);
    FUZZ_CHECK(back.key == c.key && back.id == c.id && strcmp(back.skey, c.skey) == 0);
    FUZZ_CHECK(cursor_decode(text, key, scope + 1, &back) == CURSOR_WRONG_QUERY);
    size_t len = strlen(text), at = (size_t)(c.key & 0x7fffffff) % len;
    text[at] = text[at] == 'A' ? 'B' : 'A';
    FUZZ_CHECK(cursor_decode(text, key, scope, &back) == CURSOR_GARBLED);
}

/* Seals arbitrary bytes with the cursor key the way cursor_encode does, then opens them. */
static void check_raw(const uint8_t *data, size_t size)
{
    enum { TAG = 16, RAW_MAX = 1 + 8 + 8 + 8 + 2 + CURSOR_SKEY_MAX + TAG };
    unsigned char raw[RAW_MAX];
    if (size > RAW_MAX - TAG)
        size = RAW_MAX - TAG;
    memcpy(raw, data, size);
    crypto_generichash(raw + size, TAG, raw, size, key, CURSOR_KEY_LEN);
    char text[CURSOR_TEXT_MAX];
    sodium_bin2base64(text, sizeof(text), raw, size + TAG,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    struct cursor c;
    enum cursor_status st = cursor_decode(text, key, scope, &c);
    FUZZ_CHECK(st == CURSOR_OK || st == CURSOR_GARBLED || st == CURSOR_WRONG_QUERY);
    if (st != CURSOR_GARBLED)
        FUZZ_CHECK(strlen(c.skey) <= CURSOR_SKEY_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready)
        ready = sodium_init() >= 0;
    if (size == 0)
        return 0;
    struct arena a;
    arena_init(&a);
    switch (data[0] % 3) {
    case 0:
        check_text(&a, data + 1, size - 1);
        break;
    case 1:
        check_sealed(data + 1, size - 1);
        break;
    default:
        check_raw(data + 1, size - 1);
        break;
    }
    arena_release(&a);
    return 0;
}
