/*
 * encoding.c - gzip with zlib at level 1: fast, and most of the gain on JSON.
 */
#include "http/encoding.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>
#include <zlib.h>

bool encoding_accepts_gzip(const char *header)
{
    const char *p = header;
    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if ((len >= 4 && strncasecmp(p, "gzip", 4) == 0 &&
             (len == 4 || p[4] == ';' || p[4] == ' ')) ||
            (len >= 1 && p[0] == '*' && (len == 1 || p[1] == ';' || p[1] == ' '))) {
            const char *q = memchr(p, 'q', len);
            /* "gzip;q=0" (or q=0.0...) refuses it */
            if (q && q[1] == '=' && strtod(q + 2, NULL) <= 0.0)
                return false;
            return true;
        }
        p = end;
    }
    return false;
}

char *encoding_gzip(const char *data, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)len);
    char *out = malloc(cap);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END || *out_len >= len) {
        free(out);
        return NULL;
    }
    return out;
}
