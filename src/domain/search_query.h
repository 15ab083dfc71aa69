/*
 * search_query.h - what readers type into `q`, translated to a safe FTS5
 * query.
 *
 * The language: words (all must match), "exact phrases", OR between two
 * terms, -word or -"phrase" to exclude. Anything else is taken as plain
 * words: every term reaches FTS5 as a quoted string, so no user input is
 * ever read as FTS5 syntax (NEAR, *, ^, column filters, parentheses).
 *
 * Pure logic, no I/O.
 */
#ifndef NS_SEARCH_QUERY_H
#define NS_SEARCH_QUERY_H

#include <stdbool.h>

#include "core/arena.h"

#define SEARCH_Q_MAX_CHARS 500
#define SEARCH_TERMS_MAX 32

/*
 * Translates q. Returns the FTS5 MATCH expression (in the arena), or NULL
 * with *why set to a reason fit for a 400 (static storage) when q is too
 * long, has too many terms, or has nothing to search for.
 */
const char *search_query_translate(struct arena *a, const char *q, const char **why);
/* (When memory runs out, it returns NULL with *why NULL: no reason to give a client.) */

#endif
