/*
 * write_form.h - a stored article back in the write format, and RFC 7386
 * JSON merge patches: together they make PATCH /v1/articles/{id} a write
 * like any other.
 */
#ifndef NS_WRITE_FORM_H
#define NS_WRITE_FORM_H

#include <jansson.h>

#include "store/store.h"

/*
 * The article as it would be written to produce what is stored (its
 * publication by slug, authors by name, topics by name, the entities its
 * writer named). A new reference, or NULL when memory runs out.
 */
json_t *article_to_write_form(const struct article_row *r);

/* Applies patch to target in place (RFC 7386); returns target, or a new value when patch is not an object. */
json_t *merge_patch(json_t *target, json_t *patch);

#endif
