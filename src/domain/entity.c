/*
 * entity.c - entity type vocabulary and Wikidata ids.
 */
#include "domain/entity.h"

#include <string.h>

bool entity_type_valid(const char *type)
{
    static const char *const types[] = {"person", "organization", "place",
                                        "event",  "work",         "other"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(type, types[i]) == 0)
            return true;
    return false;
}

bool entity_wikidata_valid(const char *id)
{
    size_t len = strlen(id);
    if (len < 2 || len > 12 || id[0] != 'Q' || id[1] == '0')
        return false;
    for (size_t i = 1; i < len; i++)
        if (id[i] < '0' || id[i] > '9')
            return false;
    return true;
}
