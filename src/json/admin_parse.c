/*
 * admin_parse.c - validation of the editorial write bodies.
 */
#include "json/admin_parse.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "domain/params.h"
#include "domain/slug.h"
#include "json/entity_parse.h"
#include "json/fields.h"

enum { NAME_MAX_CHARS = 200, DESCRIPTION_MAX_CHARS = 2000 };

/* Loads the body as a JSON object; NULL with the error recorded (and *err set). */
/* Present and null: the client asks to clear the field. */
static bool is_null(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v && json_is_null(v);
}

enum ns_err entity_patch_parse(struct arena *a, const char *text, size_t len,
                               struct entity_patch *out, struct field_errors *fe)
{
    static const char *const keys[] = {"name", "type", "aliases", "wikidata", "description"};
    enum ns_err err;
    json_t *root = fields_load_object(text, len, fe, &err);
    if (!root)
        return err;
    struct field_ctx c = {a, fe};
    memset(out, 0, sizeof(*out));
    fields_check_keys(&c, root, "", keys, 5);
    if (is_null(root, "name"))
        field_errors_add(fe, "name", "cannot be removed");
    out->name = fields_string(&c, root, "name", "name", NAME_MAX_CHARS, false, false);
    out->type = fields_string(&c, root, "type", "type", 32, false, false);
    if (out->type && !entity_type_valid(out->type))
        field_errors_add(fe, "type", "must be person, organization, place, event, work or other");
    out->set_wikidata = json_object_get(root, "wikidata") != NULL;
    out->wikidata = fields_string(&c, root, "wikidata", "wikidata", 16, false, false);
    if (out->wikidata && !entity_wikidata_valid(out->wikidata))
        field_errors_add(fe, "wikidata", "must be a Wikidata item id such as Q42");
    out->set_description = json_object_get(root, "description") != NULL;
    out->description = fields_string(&c, root, "description", "description",
                                     DESCRIPTION_MAX_CHARS, false, true);
    json_t *aliases = json_object_get(root, "aliases");
    if (aliases) {
        /* read through the entity reader so aliases follow one rule set */
        json_t *wrap = json_pack("{ss,sO}", "name", "x", "aliases", aliases);
        struct entity_write w;
        if (wrap && entity_from_json(&c, wrap, "", &w)) {
            out->set_aliases = true;
            out->aliases = w.aliases;
            out->n_aliases = w.n_aliases;
        }
        json_decref(wrap);
    }
    json_decref(root);
    return fe->count ? NS_ERR_INVALID : NS_OK;
}

/* Reads an id-or-slug member: a positive integer or a non-empty string. */
static const char *id_or_slug(struct field_ctx *c, json_t *root, const char *key, bool required)
{
    json_t *v = json_object_get(root, key);
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        char *s = arena_alloc(c->a, 24);
        if (s)
            snprintf(s, 24, "%lld", (long long)json_integer_value(v));
        return s;
    }
    if (v && !json_is_string(v) && !json_is_null(v)) {
        field_errors_add(c->fe, key, "must be an id or a slug");
        return NULL;
    }
    return fields_string(c, root, key, key, 200, required, false);
}

enum ns_err merge_parse(struct arena *a, const char *text, size_t len, const char **into,
                        struct field_errors *fe)
{
    static const char *const keys[] = {"into"};
    enum ns_err err;
    json_t *root = fields_load_object(text, len, fe, &err);
    if (!root)
        return err;
    struct field_ctx c = {a, fe};
    fields_check_keys(&c, root, "", keys, 1);
    *into = id_or_slug(&c, root, "into", true);
    json_decref(root);
    return fe->count ? NS_ERR_INVALID : NS_OK;
}

enum ns_err topic_parse(struct arena *a, const char *text, size_t len, bool create,
                        struct topic_write *out, struct field_errors *fe)
{
    static const char *const create_keys[] = {"name", "slug", "parent"};
    static const char *const patch_keys[] = {"name", "parent"};
    enum ns_err err;
    json_t *root = fields_load_object(text, len, fe, &err);
    if (!root)
        return err;
    struct field_ctx c = {a, fe};
    memset(out, 0, sizeof(*out));
    fields_check_keys(&c, root, "", create ? create_keys : patch_keys, create ? 3 : 2);
    if (!create && is_null(root, "name"))
        field_errors_add(fe, "name", "cannot be removed");
    out->name = fields_string(&c, root, "name", "name", NAME_MAX_CHARS, create, false);
    out->slug = fields_string(&c, root, "slug", "slug", SLUG_MAX, false, false);
    if (out->slug) {
        char made[SLUG_BUF];
        slug_make(out->slug, "", made);
        if (strcmp(made, out->slug) != 0)
            field_errors_add(fe, "slug", "must be a slug such as middle-east");
    }
    out->set_parent = json_object_get(root, "parent") != NULL;
    out->parent = id_or_slug(&c, root, "parent", false);
    json_decref(root);
    return fe->count ? NS_ERR_INVALID : NS_OK;
}

enum ns_err publication_parse(struct arena *a, const char *text, size_t len, bool create,
                              struct publication_write *out, struct publication_patch *patch,
                              struct field_errors *fe)
{
    static const char *const keys[] = {"name", "slug", "homepage", "country", "language"};
    enum ns_err err;
    json_t *root = fields_load_object(text, len, fe, &err);
    if (!root)
        return err;
    struct field_ctx c = {a, fe};
    memset(out, 0, sizeof(*out));
    memset(patch, 0, sizeof(*patch));
    fields_check_keys(&c, root, "", keys, create ? 5 : 5);
    if (!create && json_object_get(root, "slug"))
        field_errors_add(fe, "slug", "cannot be changed: links and bookmarks use it");
    if (!create && is_null(root, "name"))
        field_errors_add(fe, "name", "cannot be removed");
    out->name = fields_string(&c, root, "name", "name", NAME_MAX_CHARS, create, false);
    out->slug = create ? fields_string(&c, root, "slug", "slug", SLUG_MAX, false, false) : NULL;
    if (out->slug) {
        char made[SLUG_BUF];
        slug_make(out->slug, "", made);
        if (strcmp(made, out->slug) != 0)
            field_errors_add(fe, "slug", "must be a slug such as the-guardian-uk");
    }
    out->homepage = fields_url(&c, root, "homepage", "homepage", false);
    out->country = fields_string(&c, root, "country", "country", 2, false, false);
    if (out->country && (strlen(out->country) != 2 || out->country[0] < 'A' ||
                         out->country[0] > 'Z' || out->country[1] < 'A' || out->country[1] > 'Z'))
        field_errors_add(fe, "country", "must be an ISO 3166-1 alpha-2 code such as GB");
    out->language = fields_string(&c, root, "language", "language", 35, false, false);
    if (out->language && !params_language(out->language))
        field_errors_add(fe, "language", "must be a language code such as en");
    patch->name = out->name;
    patch->set_homepage = json_object_get(root, "homepage") != NULL;
    patch->homepage = out->homepage;
    patch->set_country = json_object_get(root, "country") != NULL;
    patch->country = out->country;
    patch->set_language = json_object_get(root, "language") != NULL;
    patch->language = out->language;
    json_decref(root);
    return fe->count ? NS_ERR_INVALID : NS_OK;
}

enum ns_err picks_parse(struct arena *a, const char *text, size_t len, int64_t **ids, size_t *n,
                        struct field_errors *fe)
{
    static const char *const keys[] = {"article_ids"};
    enum ns_err err;
    json_t *root = fields_load_object(text, len, fe, &err);
    if (!root)
        return err;
    struct field_ctx c = {a, fe};
    fields_check_keys(&c, root, "", keys, 1);
    json_t *arr = json_object_get(root, "article_ids");
    *n = 0;
    *ids = NULL;
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > PICKS_MAX) {
        field_errors_add(fe, "article_ids", "must be an array of 1 to %d article ids", PICKS_MAX);
    } else if ((*ids = arena_calloc(a, json_array_size(arr) + 1, sizeof(**ids)))) {
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
            char field[48];
            snprintf(field, sizeof(field), "article_ids[%zu]", i);
            json_int_t id = json_is_integer(v) ? json_integer_value(v) : 0;
            bool dup = false;
            for (size_t k = 0; k < *n && !dup; k++)
                dup = (*ids)[k] == id;
            if (id <= 0)
                field_errors_add(fe, field, "must be a positive article id");
            else if (dup)
                field_errors_add(fe, field, "appears twice");
            else
                (*ids)[(*n)++] = id;
        }
    }
    json_decref(root);
    return fe->count ? NS_ERR_INVALID : NS_OK;
}
