/*
 * slug.h - readable, URL-safe identifiers made from Unicode text.
 *
 * Pure logic: no I/O. Uniqueness against stored slugs is the store's job;
 * this module only makes the base form and its numbered variants.
 */
#ifndef NS_SLUG_H
#define NS_SLUG_H

#include <stdbool.h>
#include <stddef.h>

/* Longest slug in bytes, before a "-N" suffix for clashes. */
#define SLUG_MAX 80
/* Room for a slug with its clash suffix and terminator. */
#define SLUG_BUF (SLUG_MAX + 24)

/*
 * Writes the slug of text into out (SLUG_BUF bytes): compatibility-decomposed,
 * accents stripped, case-folded, common Latin ligatures spelled out
 * ("Ærø" -> "aero"), apostrophes dropped, any other run of non letters/digits
 * made one '-', trimmed, cut to SLUG_MAX bytes at a '-' where possible.
 * A result of digits only is prefixed with "n-" so it never reads as an id;
 * an empty result becomes fallback. Returns false (out holds fallback) when
 * text is not valid UTF-8.
 */
bool slug_make(const char *text, const char *fallback, char out[SLUG_BUF]);

/* Writes "base-n" (n >= 2) into out, cutting base so the result fits. */
void slug_with_suffix(const char *base, unsigned n, char out[SLUG_BUF]);

/* True when s is 1..18 ASCII digits with no leading zero: an id, not a slug. */
bool slug_is_id(const char *s, long long *id);

#endif
