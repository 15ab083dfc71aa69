/*
 * ingest.h - the one write path for articles and entities: parse, validate,
 * store, link.
 *
 * The import commands use it now and the write API will; both therefore
 * apply the same rules. Every article written is scanned for the known
 * entities (the caller's matcher, built from the gazetteer with
 * ingest_matcher_load) and linked to them and to its topics.
 */
#ifndef NS_INGEST_H
#define NS_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/errors.h"
#include "domain/matcher.h"
#include "store/store.h"

/*
 * Builds a matcher of every entity name and alias in the store. Returns 0
 * and *out (free it with matcher_free), or an error and NULL.
 */
enum ns_err ingest_matcher_load(struct store *st, struct matcher **out);

/*
 * Rebuilds m in place from the store as it now stands (after a rollback
 * undid entities m had learned). m is unchanged when the rebuild fails.
 */
enum ns_err ingest_matcher_refresh(struct store *st, struct matcher *m);

/*
 * Writes one article given as write-format JSON, with its topics and entity
 * links. Must run inside a transaction; the article's changes are undone
 * alone if it fails (a savepoint), so the transaction stays usable. Entities
 * the article names are added to m. Returns NS_ERR_INVALID with the reasons
 * in *fe for a bad article, another error when the store fails.
 */
enum ns_err ingest_article(struct store *st, struct matcher *m, struct arena *a, const char *json,
                           size_t len, int64_t now, enum upsert_result *result, int64_t *id,
                           struct field_errors *fe);

/* Like ingest_article, but the write replaces exactly the article target (PATCH). */
enum ns_err ingest_article_replace(struct store *st, struct matcher *m, struct arena *a,
                                   const char *json, size_t len, int64_t target, int64_t now,
                                   enum upsert_result *result, struct field_errors *fe);

/* Writes one gazetteer entity (JSON), like ingest_article; its names are added to m. */
enum ns_err ingest_entity(struct store *st, struct matcher *m, struct arena *a, const char *json,
                          size_t len, int64_t now, enum upsert_result *result, int64_t *id,
                          struct field_errors *fe);

/*
 * Re-scans every article against m and rewrites its links (keeping the
 * entities its writer named) and its search index row. Must run inside a transaction. *count says
 * how many articles were scanned.
 */
enum ns_err ingest_relink(struct store *st, const struct matcher *m, long *count);

#endif
