/*
 * slug.c - slugs from Unicode text with utf8proc doing the folding.
 */
#include "domain/slug.h"

#include "domain/fold.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static bool is_apostrophe(utf8proc_int32_t cp)
{
    return cp == '\'' || cp == 0x2019 || cp == 0x02BC;
}

/* Appends bytes to out unless that would pass SLUG_MAX; returns false when full. */
static bool put(char *out, size_t *len, const char *s, size_t n)
{
    if (*len + n > SLUG_MAX)
        return false;
    memcpy(out + *len, s, n);
    *len += n;
    return true;
}

static bool all_digits(const char *s)
{
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

bool slug_make(const char *text, const char *fallback, char out[SLUG_BUF])
{
    utf8proc_uint8_t *folded = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)text, 0, &folded,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPAT |
                                          UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK |
                                          UTF8PROC_CASEFOLD);
    if (n < 0) {
        snprintf(out, SLUG_BUF, "%s", fallback);
        return false;
    }
    size_t len = 0, last_dash = 0;
    bool pending_dash = false, full = false;
    const utf8proc_uint8_t *p = folded, *end = folded + n;
    while (p < end && !full) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t step = utf8proc_iterate(p, end - p, &cp);
        if (step <= 0)
            break;
        const char *bytes = (const char *)p;
        p += step;
        if (is_apostrophe(cp))
            continue;
        if (!fold_is_word_char(cp)) {
            pending_dash = len > 0;
            continue;
        }
        if (pending_dash) {
            last_dash = len;
            full = !put(out, &len, "-", 1);
            pending_dash = false;
        }
        const char *spelled = fold_spell_out(cp);
        if (!full)
            full = spelled ? !put(out, &len, spelled, strlen(spelled))
                           : !put(out, &len, bytes, (size_t)step);
    }
    free(folded);
    if (full && last_dash > 0)
        len = last_dash; /* cut at a word boundary rather than mid-word */
    while (len > 0 && out[len - 1] == '-')
        len--;
    out[len] = '\0';
    if (len == 0) {
        snprintf(out, SLUG_BUF, "%s", fallback);
    } else if (all_digits(out)) {
        /* the prefix must fit in SLUG_MAX too, or the slug would not be its own slug */
        len = len > SLUG_MAX - 2 ? SLUG_MAX - 2 : len;
        out[len] = '\0';
        memmove(out + 2, out, len + 1);
        out[0] = 'n';
        out[1] = '-';
    }
    return true;
}

void slug_with_suffix(const char *base, unsigned n, char out[SLUG_BUF])
{
    char suffix[16];
    int slen = snprintf(suffix, sizeof(suffix), "-%u", n);
    size_t blen = strlen(base);
    if (blen + (size_t)slen > SLUG_MAX)
        blen = SLUG_MAX - (size_t)slen;
    /* never leave a dangling '-' or half a UTF-8 sequence before the suffix */
    while (blen > 0 && (base[blen - 1] == '-' || ((unsigned char)base[blen] & 0xC0) == 0x80))
        blen--;
    snprintf(out, SLUG_BUF, "%.*s%s", (int)blen, base, suffix);
}

bool slug_is_id(const char *s, long long *id)
{
    size_t len = strlen(s);
    if (len == 0 || len > 18 || s[0] == '0')
        return false;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (id)
        *id = v;
    return true;
}
