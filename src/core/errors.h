/*
 * errors.h - a list of field-level problems ("limit": "must be between 1
 * and 100") gathered while validating a request or a written article.
 *
 * Messages live in the arena given at init; the list never fails loudly:
 * when memory runs out, later entries are dropped but `count` still grows,
 * so callers know validation failed.
 */
#ifndef NS_ERRORS_H
#define NS_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"

#define FIELD_ERRORS_MAX 32

struct field_error {
    const char *field;
    const char *message;
};

struct field_errors {
    struct arena *arena;
    struct field_error items[FIELD_ERRORS_MAX];
    size_t count;
    bool out_of_memory; /* memory ran out while validating: no verdict on the input */
};

void field_errors_init(struct field_errors *e, struct arena *a);
/* Records a problem; message is printf-formatted into the arena. */
void field_errors_add(struct field_errors *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records that memory ran out while checking field: the input may be fine. */
void field_errors_nomem(struct field_errors *e, const char *field);
/* The number of entries held (at most FIELD_ERRORS_MAX). */
size_t field_errors_held(const struct field_errors *e);

#endif
