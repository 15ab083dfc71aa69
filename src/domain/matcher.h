/*
 * matcher.h - finds known entity names in text, fast however many names
 * there are.
 *
 * Names are folded into words (fold.h) and stored in a trie over word ids,
 * so scanning costs a few hash lookups per word of text whatever the size
 * of the gazetteer. Matches are whole words, leftmost-longest and
 * non-overlapping. A name word written in capitals of at most
 * MATCHER_ACRONYM_MAX letters ("US", "WHO") only matches a word in capitals.
 *
 * Pure logic, no I/O. Scanning does not change the matcher, so any number
 * of threads may scan at once; adding names needs exclusive access.
 */
#ifndef NS_MATCHER_H
#define NS_MATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define MATCHER_ACRONYM_MAX 5
/* Names longer than this many words are not matched. */
#define MATCHER_WORDS_MAX 16

struct matcher;

/* Returns an empty matcher, or NULL when memory runs out. */
struct matcher *matcher_new(void);
void matcher_free(struct matcher *m);

/*
 * Registers name as a way of writing entity_id. When the same name is
 * already registered, the first registration stands. Returns NS_ERR_INVALID
 * for a name with no words or too many, NS_ERR_NOMEM when memory runs out
 * (the matcher is unchanged then).
 */
enum ns_err matcher_add(struct matcher *m, const char *name, int64_t entity_id);

/* Exchanges the contents of two matchers (to replace one in place). */
void matcher_swap(struct matcher *a, struct matcher *b);

/* How many distinct names are registered. */
size_t matcher_size(const struct matcher *m);

struct mention {
    int64_t entity_id;
    size_t start, end; /* byte span in the scanned text */
};

/*
 * Calls fn for each match in text (len bytes), in order. Returns NS_OK, or
 * NS_ERR_NOMEM when memory for the scan runs out (some matches may have
 * been reported).
 */
enum ns_err matcher_scan(const struct matcher *m, const char *text, size_t len,
                         void (*fn)(void *cls, const struct mention *mention), void *cls);

#endif
