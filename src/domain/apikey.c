/*
 * apikey.c - key generation and parsing with libsodium.
 */
#include "domain/apikey.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"

enum { SECRET_BYTES = 32 };

static void hash_secret(const char *secret, unsigned char out[APIKEY_HASH_LEN])
{
    crypto_generichash(out, APIKEY_HASH_LEN, (const unsigned char *)secret, strlen(secret), NULL,
                       0);
}

void apikey_generate(char text[APIKEY_TEXT_MAX], struct apikey *key)
{
    unsigned char id_raw[APIKEY_ID_LEN / 2], secret_raw[SECRET_BYTES];
    char secret[sodium_base64_ENCODED_LEN(SECRET_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    randombytes_buf(id_raw, sizeof(id_raw));
    randombytes_buf(secret_raw, sizeof(secret_raw));
    sodium_bin2hex(key->id, sizeof(key->id), id_raw, sizeof(id_raw));
    sodium_bin2base64(secret, sizeof(secret), secret_raw, sizeof(secret_raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hash_secret(secret, key->hash);
    /* 3 + 8 + 1 + 43 + 1 bytes: exactly APIKEY_TEXT_MAX */
    memcpy(text, "ns_", 3);
    memcpy(text + 3, key->id, APIKEY_ID_LEN);
    text[3 + APIKEY_ID_LEN] = '_';
    memcpy(text + 4 + APIKEY_ID_LEN, secret, strlen(secret) + 1);
    sodium_memzero(secret_raw, sizeof(secret_raw));
    sodium_memzero(secret, sizeof(secret));
}

bool apikey_parse(const char *text, struct apikey *key)
{
    size_t len = strlen(text);
    if (len != APIKEY_TEXT_MAX - 1 || strncmp(text, "ns_", 3) != 0 ||
        text[3 + APIKEY_ID_LEN] != '_')
        return false;
    for (size_t i = 0; i < APIKEY_ID_LEN; i++) {
        char c = text[3 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        key->id[i] = c;
    }
    key->id[APIKEY_ID_LEN] = '\0';
    const char *secret = text + 3 + APIKEY_ID_LEN + 1;
    if (!text_is_base64url(secret))
        return false;
    hash_secret(secret, key->hash);
    return true;
}

const char *apikey_bearer(const char *header)
{
    if (!header || strncasecmp(header, "Bearer", 6) != 0 || header[6] != ' ')
        return NULL;
    const char *token = header + 6;
    while (*token == ' ')
        token++;
    return *token ? token : NULL;
}

bool apikey_hash_equal(const unsigned char a[APIKEY_HASH_LEN],
                       const unsigned char b[APIKEY_HASH_LEN])
{
    return sodium_memcmp(a, b, APIKEY_HASH_LEN) == 0;
}

void session_token_generate(char text[SESSION_TOKEN_MAX],
                            unsigned char hash[SESSION_TOKEN_HASH_LEN])
{
    unsigned char raw[SECRET_BYTES];
    randombytes_buf(raw, sizeof(raw));
    memcpy(text, "nss_", 4);
    sodium_bin2base64(text + 4, SESSION_TOKEN_MAX - 4, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    crypto_generichash(hash, SESSION_TOKEN_HASH_LEN, (const unsigned char *)text, strlen(text),
                       NULL, 0);
    sodium_memzero(raw, sizeof(raw));
}

bool session_token_parse(const char *text, unsigned char hash[SESSION_TOKEN_HASH_LEN])
{
    if (strlen(text) != SESSION_TOKEN_MAX - 1 || strncmp(text, "nss_", 4) != 0 ||
        !text_is_base64url(text + 4))
        return false;
    crypto_generichash(hash, SESSION_TOKEN_HASH_LEN, (const unsigned char *)text, strlen(text),
                       NULL, 0);
    return true;
}

bool apikey_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 64)
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.'))
            return false;
    return true;
}
