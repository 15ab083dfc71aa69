/*
 * resource_json.h - articles, publications and authors in their wire form.
 *
 * The one place that knows the field names clients read. Builders return a
 * new reference (jansson's json_t), or NULL when memory runs out.
 */
#ifndef NS_RESOURCE_JSON_H
#define NS_RESOURCE_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "core/buf.h"
#include "store/store.h"

/* The summary form used in every list. */
json_t *article_summary_to_json(const struct article_row *r);

/*
 * The full form: the summary plus blocks and paywall. When locked, only the
 * preview blocks are included and the paywall says so.
 */
json_t *article_full_to_json(const struct article_row *r, bool locked);

/*
 * The same forms written as text into b (json_text.h), the way every
 * article response is built: the *_to_json builders above parse this text.
 * Failures are recorded in b (buf_failed).
 */
void article_summary_write(struct buf *b, const struct article_row *r);
/* The summary with one more integer member, e.g. "reads" in top stories. */
void article_counted_write(struct buf *b, const struct article_row *r, const char *key,
                           int64_t value);
/* A search result: the summary with its score and highlights (HTML, already escaped). */
void article_hit_write(struct buf *b, const struct article_row *r, double score,
                       const char *headline_html, const char *snippet_html);
/* The full form; false when the stored blocks cannot be read or memory runs out. */
bool article_full_write(struct buf *b, const struct article_row *r, bool locked);

/* An entity reference; with_mentions adds mentions and salience (full article form). */
json_t *entity_ref_to_json(const struct entity_ref *e, bool with_mentions);
json_t *entity_to_json(const struct entity_row *e);
json_t *related_to_json(const struct related_row *r);
/* A topic; trend_window (e.g. "24h") adds its trend figures, NULL leaves them out. */
json_t *topic_to_json(const struct topic_row *t, const char *trend_window);
json_t *facet_to_json(const struct facet_row *f);
/* A reader's account: never its password or tokens. */
json_t *user_to_json(const struct user_row *u);
json_t *follow_to_json(const struct follow_row *f);

json_t *publication_ref_to_json(const struct publication_ref *p);
json_t *publication_to_json(const struct publication_row *p);
json_t *author_to_json(const struct author_row *a);

#endif
