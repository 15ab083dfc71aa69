/*
 * highlight.h - search highlights as safe HTML.
 *
 * The index marks matches with \x01 (start) and \x02 (end); this turns them
 * into <mark> and </mark> and HTML-escapes everything else, so a client can
 * insert the result as HTML without ever running publisher text as markup.
 * Pure logic.
 */
#ifndef NS_HIGHLIGHT_H
#define NS_HIGHLIGHT_H

#include <stdbool.h>

#include "core/arena.h"

#define HIGHLIGHT_START '\x01'
#define HIGHLIGHT_END '\x02'

/* The HTML form of marked text in the arena; NULL when memory runs out. */
char *highlight_html(struct arena *a, const char *marked);

/* True when marked text holds at least one match. */
bool highlight_has_match(const char *marked);

#endif
