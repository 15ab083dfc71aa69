/*
 * buf.h - a growable byte buffer that is always NUL-terminated.
 *
 * Used to build URLs, SQL-free text and command-line output. After any
 * failed append the buffer is marked failed and keeps its old contents;
 * check buf_failed() once at the end instead of after every call.
 */
#ifndef NS_BUF_H
#define NS_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);

void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s percent-encoded for a URL query component (RFC 3986 unreserved kept). */
void buf_put_urlencoded(struct buf *b, const char *s);

/* Hands the bytes to the caller (free() them) and leaves the buffer empty. */
char *buf_steal(struct buf *b);
bool buf_failed(const struct buf *b);

#endif
