/*
 * errors.c - the field-problem list of errors.h.
 */
#include "core/errors.h"

#include <stdarg.h>
#include <stdio.h>

void field_errors_init(struct field_errors *e, struct arena *a)
{
    e->arena = a;
    e->count = 0;
    e->out_of_memory = false;
}

void field_errors_nomem(struct field_errors *e, const char *field)
{
    e->out_of_memory = true;
    field_errors_add(e, field, "out of memory");
}

void field_errors_add(struct field_errors *e, const char *field, const char *fmt, ...)
{
    size_t i = e->count++;
    if (i >= FIELD_ERRORS_MAX)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    e->items[i].field = arena_strdup(e->arena, field);
    e->items[i].message = arena_strdup(e->arena, msg);
    if (!e->items[i].field || !e->items[i].message) {
        e->items[i] = (struct field_error){"", "out of memory"};
        e->out_of_memory = true;
    }
}

size_t field_errors_held(const struct field_errors *e)
{
    return e->count < FIELD_ERRORS_MAX ? e->count : FIELD_ERRORS_MAX;
}
