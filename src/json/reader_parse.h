/*
 * reader_parse.h - bodies of the reader routes: sign-up, sign-in, account
 * changes and membership. Each returns NS_OK, NS_ERR_BAD_JSON or
 * NS_ERR_INVALID with every problem in *fe. Emails come back normalised.
 */
#ifndef NS_READER_PARSE_H
#define NS_READER_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/errors.h"

#define PASSWORD_MIN_CHARS 8
#define PASSWORD_MAX_CHARS 256

struct account_write {
    const char *email, *password, *name, *current_password;
};

/* sign-up (all of email, password, name), sign-in (email, password) or PATCH /v1/me. */
enum account_form { FORM_SIGN_UP, FORM_SIGN_IN, FORM_ACCOUNT_PATCH };

enum ns_err account_parse(struct arena *a, const char *text, size_t len, enum account_form form,
                          struct account_write *out, struct field_errors *fe);

struct membership_write {
    const char *plan;
    bool has_expiry;
    int64_t expires_at;
};

enum ns_err membership_parse(struct arena *a, const char *text, size_t len,
                             struct membership_write *out, struct field_errors *fe);

#endif
