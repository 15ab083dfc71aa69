/*
 * cursor.h - opaque, tamper-evident pagination cursors.
 *
 * A cursor carries the sort key of the last item of a page (a number, a
 * string or both, plus the item id as the tie-breaker) and the scope of the
 * query it belongs to. It is sealed with a keyed BLAKE2b tag, so a garbled,
 * forged or foreign cursor is detected and never reaches SQL. Pure logic:
 * the key is passed in by the caller.
 */
#ifndef NS_CURSOR_H
#define NS_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CURSOR_KEY_LEN 32
#define CURSOR_SKEY_MAX 800
/* Room for the encoded form of the largest cursor and its terminator. */
#define CURSOR_TEXT_MAX 1200

struct cursor {
    uint64_t scope;                 /* which query this cursor continues */
    int64_t key;                    /* numeric sort key of the last item */
    int64_t id;                     /* id of the last item */
    char skey[CURSOR_SKEY_MAX + 1]; /* string sort key, "" when unused */
};

enum cursor_status {
    CURSOR_OK = 0,
    CURSOR_GARBLED,     /* not a cursor at all, or tampered with */
    CURSOR_WRONG_QUERY, /* a genuine cursor, but of another query */
};

/* Hashes the canonical text of a query (endpoint, filters, sort) to a scope. */
uint64_t cursor_scope(const char *canonical);

/* Seals c into out (CURSOR_TEXT_MAX bytes). Returns false if skey is too long. */
bool cursor_encode(const struct cursor *c, const unsigned char key[CURSOR_KEY_LEN],
                   char out[CURSOR_TEXT_MAX]);

/*
 * Opens text into *c and checks it was sealed with key for the query with
 * this scope. On any status but CURSOR_OK, *c is unspecified.
 */
enum cursor_status cursor_decode(const char *text, const unsigned char key[CURSOR_KEY_LEN],
                                 uint64_t scope, struct cursor *c);

#endif
