/*
 * json_text.c - the JSON value writer of json_text.h.
 */
#include "json/json_text.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void json_text_string(struct buf *b, const char *s)
{
    if (!s) {
        buf_append(b, "null", 4);
        return;
    }
    static const char hex[] = "0123456789ABCDEF";
    buf_putc(b, '"');
    const char *run = s; /* bytes copied as they are, up to the next one to escape */
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_append(b, run, (size_t)(p - run));
        run = p + 1;
        switch (c) {
        case '"':
            buf_append(b, "\\\"", 2);
            break;
        case '\\':
            buf_append(b, "\\\\", 2);
            break;
        case '\b':
            buf_append(b, "\\b", 2);
            break;
        case '\f':
            buf_append(b, "\\f", 2);
            break;
        case '\n':
            buf_append(b, "\\n", 2);
            break;
        case '\r':
            buf_append(b, "\\r", 2);
            break;
        case '\t':
            buf_append(b, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(b, u, sizeof(u));
        }
        }
    }
    buf_append(b, run, strlen(run));
    buf_putc(b, '"');
}

void json_text_int(struct buf *b, int64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof(text), "%" PRId64, v);
    buf_append(b, text, (size_t)n);
}

void json_text_real(struct buf *b, double v)
{
    if (!isfinite(v)) {
        buf_append(b, "null", 4); /* JSON has no infinity; jansson refuses one too */
        return;
    }
    char text[40];
    int n = snprintf(text, sizeof(text), "%.10g", v);
    if (n < 0 || (size_t)n >= sizeof(text) - 2) {
        b->failed = true;
        return;
    }
    /* a locale may write a comma for the point; JSON has only the point */
    for (char *c = text; *c; c++)
        if (*c == ',')
            *c = '.';
    if (!strpbrk(text, ".eE")) {
        memcpy(text + n, ".0", 3);
        n += 2;
    }
    /* as jansson: no '+' and no leading zeros in the exponent ("1e-7", "3e21") */
    char *e = strchr(text, 'e');
    if (e) {
        char *from = e + 1, *to = e + 1;
        if (*from == '-')
            from = ++to;
        else if (*from == '+')
            from++;
        while (*from == '0' && from[1])
            from++;
        memmove(to, from, strlen(from) + 1);
        n = (int)strlen(text);
    }
    buf_append(b, text, (size_t)n);
}
