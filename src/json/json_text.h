/*
 * json_text.h - JSON values written straight into a buffer.
 *
 * For the hot responses (articles and their lists), which are built from
 * rows in one pass instead of as a jansson tree that is then dumped: no
 * allocation per value, no hashing of keys. The output is what jansson's
 * json_dumps(JSON_COMPACT | JSON_REAL_PRECISION(10)) makes of the same
 * values, so both writers can serve one resource. Failures (out of memory)
 * are recorded in the buffer: check buf_failed() once at the end.
 */
#ifndef NS_JSON_TEXT_H
#define NS_JSON_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Appends s as a JSON string (escaped as jansson does; UTF-8 kept), or null when s is NULL. */
void json_text_string(struct buf *b, const char *s);

/* Appends an integer. */
void json_text_int(struct buf *b, int64_t v);

/* Appends a real with 10 significant digits and always a fraction or exponent ("3.0");
 * null for an infinity or NaN, which JSON cannot write. */
void json_text_real(struct buf *b, double v);

#endif
