/*
 * entity.h - the entity model: who or what an article is about.
 *
 * Plain structs and the type vocabulary; no I/O.
 */
#ifndef NS_ENTITY_H
#define NS_ENTITY_H

#include <stdbool.h>
#include <stddef.h>

#define ENTITY_ALIASES_MAX 50

/* An entity as written by a gazetteer line or an article's payload. */
struct entity_write {
    const char *name;
    const char *type; /* NULL: not given (a new entity becomes "other") */
    const char **aliases;
    size_t n_aliases;
    const char *wikidata; /* "Q42" or NULL */
    const char *description;
};

/* True for person, organization, place, event, work, other. */
bool entity_type_valid(const char *type);

/* True for a Wikidata item id: "Q" and a positive number without leading zeros. */
bool entity_wikidata_valid(const char *id);

#endif
