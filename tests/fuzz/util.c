/*
 * util.c - input slicing and query-string reading for the fuzz harnesses.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fuzz_input_name;

_Noreturn void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "fuzz: %s:%d: check failed: %s%s%s\n", file, line, what,
            fuzz_input_name ? " on input " : "", fuzz_input_name ? fuzz_input_name : "");
    abort();
}

char *fuzz_cstr(struct arena *a, const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    char *s = arena_strndup(a, (const char *)data, nul ? (size_t)(nul - data) : size);
    FUZZ_CHECK(s != NULL);
    return s;
}

char *fuzz_take(struct arena *a, const uint8_t **data, size_t *size, uint8_t sep)
{
    const uint8_t *end = memchr(*data, sep, *size);
    size_t len = end ? (size_t)(end - *data) : *size;
    char *s = fuzz_cstr(a, *data, len);
    *data += end ? len + 1 : len;
    *size -= end ? len + 1 : len;
    return s;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

void fuzz_unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r; w++) {
        int hi = r[0] == '%' ? hex_digit(r[1]) : -1, lo = hi >= 0 ? hex_digit(r[2]) : -1;
        if (lo < 0) {
            *w = *r++;
            continue;
        }
        *w = hi || lo ? (char)(hi << 4 | lo) : '\x7f';
        r += 3;
    }
    *w = '\0';
}

size_t fuzz_query_parse(struct arena *a, const char *qs, struct param *out, size_t max,
                        bool *too_many)
{
    size_t n = 0;
    *too_many = false;
    char *copy = arena_strdup(a, qs);
    FUZZ_CHECK(copy != NULL);
    for (char *p = copy; *p; p++)
        if (*p == '+')
            *p = ' ';
    for (char *part = copy, *next; part; part = next) {
        next = strchr(part, '&');
        if (next)
            *next++ = '\0';
        if (!*part && !next)
            break; /* libmicrohttpd drops an empty last part, but hands on "a&&b"'s as "" */
        if (n == max) {
            *too_many = true;
            break;
        }
        char *eq = strchr(part, '=');
        if (eq)
            *eq++ = '\0';
        fuzz_unescape(part);
        if (eq)
            fuzz_unescape(eq);
        out[n++] = (struct param){part, eq};
    }
    return n;
}
