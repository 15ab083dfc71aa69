/*
 * fields.c - typed, bounded reads of JSON object members with field-level
 * errors: the checks every written resource shares.
 */
#include "json/fields.h"

#include "core/oom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { URL_MAX = 2048 };

static _Thread_local bool json_alloc_failed; /* since this thread's last fields_load began */

static void *json_alloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        json_alloc_failed = true;
        oom_note();
    }
    return p;
}

char *fields_dumps(const json_t *v, size_t flags)
{
    /* jansson 2.14 drops a key's closing quote when appending it fails, and goes on */
    unsigned long before = oom_count();
    char *text = v ? json_dumps(v, flags) : NULL;
    if (text && oom_count() != before) {
        free(text);
        return NULL;
    }
    return text;
}

void fields_global_init(void)
{
    json_set_alloc_funcs(json_alloc, free);
}

bool fields_memory_failed(void)
{
    return json_alloc_failed;
}

bool fields_load_out_of_memory(const json_error_t *err)
{
    /* jansson leaves the text empty only when it failed before reading a byte */
    return json_alloc_failed || json_error_code(err) == json_error_out_of_memory || !err->text[0];
}

/* True when s has no control characters (multi_line allows \n, \r and \t). */
static bool clean_text(const char *s, bool multi_line)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == 0x7f)
            return false;
        if (*p < 0x20 && !(multi_line && (*p == '\n' || *p == '\r' || *p == '\t')))
            return false;
    }
    return true;
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

size_t fields_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

const char *fields_string(struct field_ctx *c, json_t *obj, const char *key, const char *field,
                              size_t max, bool required, bool multi_line)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            field_errors_add(c->fe, field, "is required");
        return NULL;
    }
    if (!json_is_string(v)) {
        field_errors_add(c->fe, field, "must be a string");
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len != strlen(s) || !clean_text(s, multi_line)) {
        field_errors_add(c->fe, field, "must not contain control characters");
        return NULL;
    }
    if (blank(s)) {
        if (required)
            field_errors_add(c->fe, field, "must not be empty");
        else
            field_errors_add(c->fe, field, "must not be empty (leave it out instead)");
        return NULL;
    }
    if (fields_chars(s) > max) {
        field_errors_add(c->fe, field, "must be at most %zu characters", max);
        return NULL;
    }
    return arena_strdup(c->a, s);
}

static bool is_http_url(const char *s)
{
    const char *rest = NULL;
    if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    if (!rest || !*rest || *rest == '/')
        return false;
    for (const char *p = s; *p; p++)
        if (*p == ' ')
            return false;
    return true;
}

const char *fields_url(struct field_ctx *c, json_t *obj, const char *key, const char *field,
                           bool required)
{
    const char *s = fields_string(c, obj, key, field, URL_MAX, required, false);
    if (s && !is_http_url(s)) {
        field_errors_add(c->fe, field, "must be an absolute http or https URL");
        return NULL;
    }
    return s;
}

void fields_check_keys(struct field_ctx *c, json_t *obj, const char *prefix, const char *const *allowed,
                       size_t n_allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < n_allowed && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known) {
            char field[256];
            snprintf(field, sizeof(field), "%s%.200s", prefix, key);
            field_errors_add(c->fe, field, "is not a known field");
        }
    }
}

static bool depth_ok(json_t *v, int depth)
{
    if (depth > FIELDS_DEPTH_MAX)
        return false;
    const char *key;
    size_t i;
    json_t *child;
    if (json_is_object(v)) {
        json_object_foreach(v, key, child)
        {
            if (!depth_ok(child, depth + 1))
                return false;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child)
        {
            if (!depth_ok(child, depth + 1))
                return false;
        }
    }
    return true;
}

json_t *fields_load(const char *text, size_t len, json_error_t *err)
{
    json_alloc_failed = false;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, err);
    if (root && !depth_ok(root, 1)) {
        json_decref(root);
        /* jansson succeeded, so it set no error code: clear the struct, or
         * fields_load_out_of_memory would read whatever the stack held */
        memset(err, 0, sizeof(*err));
        snprintf(err->text, sizeof(err->text), "nested deeper than %d levels", FIELDS_DEPTH_MAX);
        return NULL;
    }
    return root;
}

json_t *fields_load_object(const char *text, size_t len, struct field_errors *fe,
                           enum ns_err *err)
{
    json_error_t jerr;
    json_t *root = fields_load(text, len, &jerr);
    *err = NS_OK;
    if (!root) {
        *err = fields_load_out_of_memory(&jerr) ? NS_ERR_NOMEM : NS_ERR_BAD_JSON;
        if (*err == NS_ERR_BAD_JSON)
            field_errors_add(fe, "body", "invalid JSON: %s", jerr.text);
    } else if (!json_is_object(root)) {
        json_decref(root);
        root = NULL;
        field_errors_add(fe, "body", "must be a JSON object");
        *err = NS_ERR_INVALID;
    }
    return root;
}
