/*
 * fields.h - reading members of a written JSON object with validation.
 *
 * Each reader records what is wrong in the context's field_errors under the
 * field's path ("image.url") and returns NULL, so a caller can check every
 * field and report all problems at once.
 */
#ifndef NS_FIELDS_H
#define NS_FIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/errors.h"

struct field_ctx {
    struct arena *a;
    struct field_errors *fe;
};

/* Deepest nesting of objects and arrays a written body may have. */
#define FIELDS_DEPTH_MAX 32

/*
 * Routes jansson's allocations through a wrapper that notices when one
 * fails, so fields_load_out_of_memory can tell, and notes it with oom_note
 * (core/oom.h): a failed json_object_set_new leaves the member out and says
 * so only in its return value. Call once, before any thread.
 */
void fields_global_init(void);

/*
 * Parses a written body: strict JSON, no duplicate keys, nesting at most
 * FIELDS_DEPTH_MAX. Returns a new reference, or NULL with *err explained.
 */
json_t *fields_load(const char *text, size_t len, json_error_t *err);

/*
 * True when the last fields_load of this thread failed because memory ran
 * out, not because of the text: jansson often reports a failed allocation
 * as a syntax error (or not at all), which must not become a 400.
 */
bool fields_load_out_of_memory(const json_error_t *err);

/*
 * True when a jansson allocation of this thread failed since its last
 * fields_load began: a json_pack or json_dumps that came back NULL, or a
 * value silently missing from an object built meanwhile.
 */
bool fields_memory_failed(void);

/*
 * json_dumps, or NULL when any allocation failed on the way: jansson's own
 * dump can lose a byte to a failed allocation and still return the text.
 */
char *fields_dumps(const json_t *v, size_t flags);

/*
 * Parses a written body that must be a JSON object. Returns it, or NULL
 * with the problem recorded on field "body" and *err set: NS_ERR_BAD_JSON
 * for broken JSON, NS_ERR_INVALID for valid JSON that is not an object.
 */
json_t *fields_load_object(const char *text, size_t len, struct field_errors *fe,
                           enum ns_err *err);

/*
 * Reads key of obj as a string of 1..max characters with no control
 * characters (multi_line allows \n, \r, \t). Absent or null gives NULL, and
 * an error when required. Returns an arena copy, or NULL.
 */
const char *fields_string(struct field_ctx *c, json_t *obj, const char *key, const char *field,
                          size_t max, bool required, bool multi_line);

/* Code points in valid UTF-8 (jansson has checked it): the bytes that start a character. */
size_t fields_chars(const char *s);

/* Like fields_string, for an absolute http(s) URL. */
const char *fields_url(struct field_ctx *c, json_t *obj, const char *key, const char *field,
                       bool required);

/* Records an error for every member of obj not in allowed (n_allowed names). */
void fields_check_keys(struct field_ctx *c, json_t *obj, const char *prefix,
                       const char *const *allowed, size_t n_allowed);

#endif
