/*
 * ingest.h - the one write path for articles: parse, validate, store.
 *
 * The import command uses it now and the write API will; both therefore
 * apply the same rules and produce the same results.
 */
#ifndef NS_INGEST_H
#define NS_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/errors.h"
#include "store/store.h"

/*
 * Writes one article given as write-format JSON. Must run inside a
 * transaction; the article's changes are undone alone if it fails (a
 * savepoint), so the transaction stays usable. Returns NS_ERR_INVALID with
 * the reasons in *fe for a bad article, another error when the store fails.
 */
enum ns_err ingest_article(struct store *st, struct arena *a, const char *json, size_t len,
                           int64_t now, enum upsert_result *result, int64_t *id,
                           struct field_errors *fe);

#endif
