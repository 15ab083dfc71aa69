/*
 * highlight.c - marked text to escaped HTML.
 */
#include "domain/highlight.h"

#include <string.h>

#include "core/buf.h"

char *highlight_html(struct arena *a, const char *marked)
{
    struct buf b;
    bool open = false;
    buf_init(&b);
    for (const char *p = marked ? marked : ""; *p; p++) {
        switch (*p) {
        case HIGHLIGHT_START:
            if (!open)
                buf_puts(&b, "<mark>");
            open = true;
            break;
        case HIGHLIGHT_END:
            if (open)
                buf_puts(&b, "</mark>");
            open = false;
            break;
        case '&':
            buf_puts(&b, "&amp;");
            break;
        case '<':
            buf_puts(&b, "&lt;");
            break;
        case '>':
            buf_puts(&b, "&gt;");
            break;
        case '"':
            buf_puts(&b, "&quot;");
            break;
        case '\'':
            buf_puts(&b, "&#39;");
            break;
        default:
            buf_putc(&b, *p);
        }
    }
    if (open)
        buf_puts(&b, "</mark>");
    char *out = buf_failed(&b) ? NULL : arena_strdup(a, b.data ? b.data : "");
    buf_release(&b);
    return out;
}

bool highlight_has_match(const char *marked)
{
    return marked && strchr(marked, HIGHLIGHT_START) != NULL;
}
