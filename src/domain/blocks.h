/*
 * blocks.h - body text to typed blocks, and word counts.
 *
 * Pure logic over arena memory; no I/O.
 */
#ifndef NS_BLOCKS_H
#define NS_BLOCKS_H

#include "core/arena.h"
#include "domain/article.h"

/* Reading speed used for reading_time_minutes. */
#define WORDS_PER_MINUTE 230

/*
 * Splits text into paragraph blocks: blank lines (or lines of white space)
 * separate paragraphs, single line breaks inside a paragraph become spaces,
 * and surrounding white space is trimmed; empty paragraphs are dropped.
 * Returns the number of blocks written to *out (0 for empty text), or -1
 * when memory runs out (then *out is unspecified).
 */
long blocks_from_text(struct arena *a, const char *text, struct block **out);

/* Counts the words (runs of non-space bytes) in s. */
int words_in(const char *s);

/* Words in the text-bearing blocks (paragraph, heading, quote). */
int blocks_word_count(const struct block *blocks, size_t n);

/* Minutes to read word_count words: at least 1. */
int reading_time_minutes(int word_count);

#endif
