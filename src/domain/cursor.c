/*
 * cursor.c - cursor sealing with libsodium (keyed BLAKE2b, base64url).
 *
 * Wire layout before base64url: version byte, scope (8), key (8), id (8),
 * string-key length (2), string key, tag (16). Integers little-endian.
 */
#include "domain/cursor.h"

#include <sodium.h>
#include <string.h>

#include "core/text.h"

enum { CURSOR_VERSION = 2, TAG_LEN = 16, FIXED_LEN = 1 + 8 + 8 + 8 + 2 };
#define RAW_MAX (FIXED_LEN + CURSOR_SKEY_MAX + TAG_LEN)

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint64_t cursor_scope(const char *canonical)
{
    unsigned char h[8];
    crypto_generichash(h, sizeof(h), (const unsigned char *)canonical, strlen(canonical), NULL,
                       0);
    return get_u64(h);
}

bool cursor_encode(const struct cursor *c, const unsigned char key[CURSOR_KEY_LEN],
                   char out[CURSOR_TEXT_MAX])
{
    unsigned char raw[RAW_MAX];
    size_t slen = strlen(c->skey);
    if (slen > CURSOR_SKEY_MAX)
        return false;
    raw[0] = CURSOR_VERSION;
    put_u64(raw + 1, c->scope);
    put_u64(raw + 9, (uint64_t)c->key);
    put_u64(raw + 17, (uint64_t)c->id);
    raw[25] = (unsigned char)(slen & 0xff);
    raw[26] = (unsigned char)(slen >> 8);
    memcpy(raw + FIXED_LEN, c->skey, slen);
    size_t body = FIXED_LEN + slen;
    crypto_generichash(raw + body, TAG_LEN, raw, body, key, CURSOR_KEY_LEN);
    sodium_bin2base64(out, CURSOR_TEXT_MAX, raw, body + TAG_LEN,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return true;
}

enum cursor_status cursor_decode(const char *text, const unsigned char key[CURSOR_KEY_LEN],
                                 uint64_t scope, struct cursor *c)
{
    unsigned char raw[RAW_MAX], tag[TAG_LEN];
    size_t len = 0;
    /* checked first: libsodium 1.0.18 reads some bytes >= 0x80 as '-' or '_', which would
     * let other spellings of a cursor open as that cursor */
    if (strlen(text) >= CURSOR_TEXT_MAX || !text_is_base64url(text) ||
        sodium_base642bin(raw, sizeof(raw), text, strlen(text), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return CURSOR_GARBLED;
    if (len < FIXED_LEN + TAG_LEN || raw[0] != CURSOR_VERSION)
        return CURSOR_GARBLED;
    size_t slen = (size_t)raw[25] | (size_t)raw[26] << 8;
    if (slen > CURSOR_SKEY_MAX || len != FIXED_LEN + slen + TAG_LEN)
        return CURSOR_GARBLED;
    size_t body = FIXED_LEN + slen;
    crypto_generichash(tag, TAG_LEN, raw, body, key, CURSOR_KEY_LEN);
    if (sodium_memcmp(tag, raw + body, TAG_LEN) != 0)
        return CURSOR_GARBLED;
    c->scope = get_u64(raw + 1);
    c->key = (int64_t)get_u64(raw + 9);
    c->id = (int64_t)get_u64(raw + 17);
    memcpy(c->skey, raw + FIXED_LEN, slen);
    c->skey[slen] = '\0';
    if (c->scope != scope)
        return CURSOR_WRONG_QUERY;
    return CURSOR_OK;
}
