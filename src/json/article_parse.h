/*
 * article_parse.h - the article write format (API.md) from JSON text to a
 * validated struct article_write.
 *
 * The one place that knows the write format's field names. Used by the
 * import command and, later, by the write API, so both apply one rule set.
 */
#ifndef NS_ARTICLE_PARSE_H
#define NS_ARTICLE_PARSE_H

#include <stddef.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/errors.h"
#include "domain/article.h"

/*
 * Parses and validates one article. On success fills *w (strings in a,
 * blocks_json, word_count and content_hash computed) and returns NS_OK.
 * Otherwise returns NS_ERR_INVALID with every problem found in *fe (invalid
 * JSON is one problem on field "body"); *w is then unspecified.
 */
enum ns_err article_parse(struct arena *a, const char *text, size_t len, struct article_write *w,
                          struct field_errors *fe);

/*
 * Reads blocks stored by article_parse (blocks_json) back into structs in
 * the arena. Returns their number, or -1 when the text is not such blocks.
 */
long article_blocks_from_json(struct arena *a, const char *text, struct block **out);

#endif
