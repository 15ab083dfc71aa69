/*
 * entity_parse.h - an entity as written (gazetteer line or article payload)
 * from JSON to a validated struct entity_write.
 */
#ifndef NS_ENTITY_PARSE_H
#define NS_ENTITY_PARSE_H

#include <jansson.h>

#include "core/err.h"
#include "domain/entity.h"
#include "json/fields.h"

/*
 * Reads the entity object obj; problems are recorded under prefix
 * ("entities[2]."). Returns false (and *out unspecified) when it is invalid.
 */
bool entity_from_json(struct field_ctx *c, json_t *obj, const char *prefix,
                      struct entity_write *out);

/* Parses one gazetteer line. NS_ERR_INVALID with the reasons in *fe when bad. */
enum ns_err entity_parse(struct arena *a, const char *text, size_t len, struct entity_write *out,
                         struct field_errors *fe);

#endif
