/*
 * entity_parse.c - validation of written entities.
 */
#include "json/entity_parse.h"

#include <stdio.h>
#include <string.h>

enum { ENTITY_NAME_MAX = 200, DESCRIPTION_MAX = 2000 };

static void read_aliases(struct field_ctx *c, json_t *obj, const char *prefix,
                         struct entity_write *out)
{
    json_t *v = json_object_get(obj, "aliases");
    char field[128];
    snprintf(field, sizeof(field), "%saliases", prefix);
    out->aliases = NULL;
    out->n_aliases = 0;
    if (!v || json_is_null(v))
        return;
    if (!json_is_array(v) || json_array_size(v) > ENTITY_ALIASES_MAX) {
        field_errors_add(c->fe, field, "must be an array of at most %d names",
                         ENTITY_ALIASES_MAX);
        return;
    }
    out->aliases = arena_calloc(c->a, json_array_size(v) + 1, sizeof(*out->aliases));
    if (!out->aliases) {
        field_errors_nomem(c->fe, field);
        return;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        char item_field[160];
        snprintf(item_field, sizeof(item_field), "%s[%zu]", field, i);
        json_t *wrap = json_pack("{sO}", "alias", item);
        const char *alias =
            wrap ? fields_string(c, wrap, "alias", item_field, ENTITY_NAME_MAX, true, false)
                 : NULL;
        json_decref(wrap);
        if (alias)
            out->aliases[out->n_aliases++] = alias;
    }
}

bool entity_from_json(struct field_ctx *c, json_t *obj, const char *prefix,
                      struct entity_write *out)
{
    static const char *const keys[] = {"name", "type", "aliases", "wikidata", "description"};
    char field[128];
    size_t before = c->fe->count;
    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj)) {
        snprintf(field, sizeof(field), "%.*s", (int)(strlen(prefix) ? strlen(prefix) - 1 : 0),
                 prefix);
        field_errors_add(c->fe, field[0] ? field : "body", "must be an object");
        return false;
    }
    fields_check_keys(c, obj, prefix, keys, sizeof(keys) / sizeof(keys[0]));
    snprintf(field, sizeof(field), "%sname", prefix);
    out->name = fields_string(c, obj, "name", field, ENTITY_NAME_MAX, true, false);
    snprintf(field, sizeof(field), "%stype", prefix);
    out->type = fields_string(c, obj, "type", field, 32, false, false);
    if (out->type && !entity_type_valid(out->type))
        field_errors_add(c->fe, field,
                         "must be person, organization, place, event, work or other");
    snprintf(field, sizeof(field), "%swikidata", prefix);
    out->wikidata = fields_string(c, obj, "wikidata", field, 16, false, false);
    if (out->wikidata && !entity_wikidata_valid(out->wikidata))
        field_errors_add(c->fe, field, "must be a Wikidata item id such as Q42");
    snprintf(field, sizeof(field), "%sdescription", prefix);
    out->description =
        fields_string(c, obj, "description", field, DESCRIPTION_MAX, false, true);
    read_aliases(c, obj, prefix, out);
    return c->fe->count == before;
}

enum ns_err entity_parse(struct arena *a, const char *text, size_t len, struct entity_write *out,
                         struct field_errors *fe)
{
    json_error_t jerr;
    json_t *root = fields_load(text, len, &jerr);
    if (!root) {
        if (fields_load_out_of_memory(&jerr))
            return NS_ERR_NOMEM;
        field_errors_add(fe, "body", "invalid JSON: %s (at byte %d)", jerr.text, jerr.position);
        return NS_ERR_BAD_JSON;
    }
    struct field_ctx c = {.a = a, .fe = fe};
    bool ok = entity_from_json(&c, root, "", out);
    json_decref(root);
    if (fe->out_of_memory || a->failed || fields_memory_failed())
        return NS_ERR_NOMEM;
    return ok ? NS_OK : NS_ERR_INVALID;
}
