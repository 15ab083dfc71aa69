/*
 * apikey.h - API keys: making them, reading them from a header, hashing
 * their secret.
 *
 * A key reads "ns_<key id>_<secret>": the key id (8 hex digits) finds the
 * stored record, the secret (32 random bytes, base64url) is checked against
 * its stored hash in constant time. No I/O.
 */
#ifndef NS_APIKEY_H
#define NS_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#define APIKEY_ID_LEN 8
#define APIKEY_HASH_LEN 32
/* "ns_" + id + "_" + 43 base64url characters + NUL */
#define APIKEY_TEXT_MAX (3 + APIKEY_ID_LEN + 1 + 43 + 1)

struct apikey {
    char id[APIKEY_ID_LEN + 1];
    unsigned char hash[APIKEY_HASH_LEN]; /* of the secret */
};

/* Makes a new random key: its text (to show once) and what to store. */
void apikey_generate(char text[APIKEY_TEXT_MAX], struct apikey *key);

/* Reads a key's text; false when it is not shaped like a key. */
bool apikey_parse(const char *text, struct apikey *key);

/*
 * Reads an Authorization header value "Bearer <token>" (scheme
 * case-insensitive, one or more spaces); returns the token or NULL.
 * The token points into header.
 */
const char *apikey_bearer(const char *header);

/* Constant-time comparison of two secret hashes. */
bool apikey_hash_equal(const unsigned char a[APIKEY_HASH_LEN],
                       const unsigned char b[APIKEY_HASH_LEN]);

/* Reader session tokens: "nss_" + 43 base64url characters (32 random bytes). */
#define SESSION_TOKEN_MAX (4 + 43 + 1)
#define SESSION_TOKEN_HASH_LEN 32

/* Makes a new session token: its text (handed to the reader once) and its hash (stored). */
void session_token_generate(char text[SESSION_TOKEN_MAX],
                            unsigned char hash[SESSION_TOKEN_HASH_LEN]);

/* Hashes a presented token; false when it is not shaped like a session token. */
bool session_token_parse(const char *text, unsigned char hash[SESSION_TOKEN_HASH_LEN]);

/* True for a key name: 1..64 characters of [A-Za-z0-9._-]. */
bool apikey_name_valid(const char *name);

#endif
