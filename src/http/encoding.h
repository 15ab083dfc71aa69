/*
 * encoding.h - gzip for response bodies (zlib), and reading Accept-Encoding.
 */
#ifndef NS_ENCODING_H
#define NS_ENCODING_H

#include <stdbool.h>
#include <stddef.h>

/* Bodies smaller than this are sent as they are: gzip would not pay for itself. */
#define GZIP_MIN_BYTES 1024

/* True when an Accept-Encoding header value accepts gzip (and does not give it q=0). */
bool encoding_accepts_gzip(const char *accept_encoding);

/* The gzip form of data (malloc'd, *out_len bytes), or NULL when it fails or is no smaller. */
char *encoding_gzip(const char *data, size_t len, size_t *out_len);

#endif
