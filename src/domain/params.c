/*
 * params.c - query-parameter value parsers of params.h.
 */
#include "domain/params.h"

#include <string.h>

#include "domain/timefmt.h"

bool params_limit(const char *s, int *out, const char **why)
{
    long v = 0;
    size_t len = strlen(s);
    if (len == 0 || len > 4) {
        *why = "limit must be an integer between 1 and 100";
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            *why = "limit must be an integer between 1 and 100";
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > LIMIT_MAX) {
        *why = "limit must be between 1 and 100";
        return false;
    }
    *out = (int)v;
    return true;
}

long params_list(struct arena *a, const char *s, size_t max, const char ***out,
                 const char **why)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    if (n > max) {
        *why = "too many values in the list";
        return -1;
    }
    const char **items = arena_calloc(a, n, sizeof(*items));
    if (!items) {
        *why = "out of memory";
        return -1;
    }
    const char *start = s;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (len == 0) {
            *why = "empty value in the list";
            return -1;
        }
        items[i] = arena_strndup(a, start, len);
        if (!items[i]) {
            *why = "out of memory";
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(items[j], items[i]) == 0) {
                *why = "a value appears twice in the list";
                return -1;
            }
        }
        start = end ? end + 1 : start + len;
    }
    *out = items;
    return (long)n;
}

bool params_time_bound(const char *s, bool upper, int64_t *out, const char **why)
{
    if (timefmt_parse(s, out))
        return true;
    if (timefmt_parse_date(s, out)) {
        if (upper)
            *out += 86400 - 1;
        return true;
    }
    *why = "must be an RFC 3339 date-time (2023-02-22T14:05:00Z) or a date (2023-02-22)";
    return false;
}

static bool lower_run(const char **p, size_t min, size_t max, bool alnum)
{
    size_t n = 0;
    while ((**p >= 'a' && **p <= 'z') || (alnum && **p >= '0' && **p <= '9')) {
        (*p)++;
        n++;
    }
    return n >= min && n <= max;
}

bool params_language(const char *s)
{
    const char *p = s;
    if (!lower_run(&p, 2, 3, false))
        return false;
    while (*p == '-') {
        p++;
        if (!lower_run(&p, 2, 8, true))
            return false;
    }
    return *p == '\0';
}
