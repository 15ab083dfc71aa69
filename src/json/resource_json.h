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

#include "store/store.h"

/* The summary form used in every list. */
json_t *article_summary_to_json(const struct article_row *r);

/*
 * The full form: the summary plus blocks and paywall. When locked, only the
 * preview blocks are included and the paywall says so.
 */
json_t *article_full_to_json(const struct article_row *r, bool locked);

json_t *publication_ref_to_json(const struct publication_ref *p);
json_t *publication_to_json(const struct publication_row *p);
json_t *author_to_json(const struct author_row *a);

#endif
