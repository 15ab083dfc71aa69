/*
 * slugs.h - unique-slug allocation inside the store (private to src/store/).
 */
#ifndef NS_STORE_SLUGS_H
#define NS_STORE_SLUGS_H

#include "domain/slug.h"
#include "store/store_impl.h"

enum slug_table { SLUG_ARTICLES, SLUG_PUBLICATIONS, SLUG_AUTHORS, SLUG_ENTITIES, SLUG_TOPICS };

/*
 * Writes into out the first free slug of table t: base itself, else base-N
 * with the smallest N above any in use. Must run inside the write
 * transaction that then inserts it.
 */
enum ns_err store_unique_slug(struct store *st, enum slug_table t, const char *base,
                              char out[SLUG_BUF]);

#endif
