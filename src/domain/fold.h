/*
 * fold.h - Unicode folding of words, the same way for article text and for
 * entity names: compatibility-decomposed, case-folded, accents stripped,
 * customary ASCII spellings for letters without a decomposition ("æ" ->
 * "ae"). Words are runs of letters and digits; everything else, apostrophes
 * included, separates them.
 *
 * Pure logic, no I/O, no allocation on the per-word path.
 */
#ifndef NS_FOLD_H
#define NS_FOLD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"

/* Longest folded word kept; longer words are cut (they match nothing anyway). */
#define FOLD_WORD_MAX 96

struct fold_word {
    const char *start; /* the word in the original text */
    size_t len;
    char folded[FOLD_WORD_MAX + 1];
    size_t folded_len;
    bool all_caps; /* every letter was upper case, and there was at least one */
};

/*
 * Calls fn for every word of text (len bytes; invalid UTF-8 bytes separate
 * words). Stops early when fn returns false.
 */
void fold_words(const char *text, size_t len, bool (*fn)(void *cls, const struct fold_word *w),
                void *cls);

/* Longest folded key in bytes: keys sort and page by it, so it must fit a cursor. */
#define FOLD_KEY_MAX 600

/*
 * The folded key of text: its folded words joined by single spaces
 * ("Zürich's Café" -> "zurich s cafe"), cut to FOLD_KEY_MAX bytes at a
 * word boundary, in the arena; NULL when memory runs out. Prefix search and name identity compare keys.
 */
char *fold_key(struct arena *a, const char *text);

/* True for a letter or digit (any script): what words are made of. */
bool fold_is_word_char(int codepoint);

/* The ASCII spelling of a letter that has no decomposition, or NULL. */
const char *fold_spell_out(int codepoint);

#endif
