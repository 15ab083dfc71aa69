/*
 * params.h - parsing of query-parameter values: page sizes, comma lists,
 * time bounds, language codes.
 *
 * Pure logic. Each parser returns false and sets *why to a short English
 * message (static storage) when the value breaks its rule; the caller names
 * the parameter.
 */
#ifndef NS_PARAMS_H
#define NS_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

#define LIMIT_DEFAULT 20
#define LIMIT_MAX 100
/* Most values a comma list may carry (each adds a join to the query). */
#define LIST_MAX_ITEMS 10

/* A page size: a decimal integer from 1 to LIMIT_MAX. */
bool params_limit(const char *s, int *out, const char **why);

/*
 * Splits a comma list into its items (copied into a), refusing empty items,
 * duplicates and more than max items. Returns the count, or -1 with *why set.
 */
long params_list(struct arena *a, const char *s, size_t max, const char ***out,
                 const char **why);

/*
 * A time bound for from/to: an RFC 3339 date-time, or a date YYYY-MM-DD that
 * stands for the day's first second (lower bound) or its last (upper).
 */
bool params_time_bound(const char *s, bool upper, int64_t *out, const char **why);

/* A language tag such as "en", "fr", "pt-br" (lowercase, 2-3 letters, optional subtags). */
bool params_language(const char *s);

#endif
