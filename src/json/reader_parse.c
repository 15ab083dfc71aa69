/*
 * reader_parse.c - validation of account bodies.
 */
#include "json/reader_parse.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>

#include "domain/timefmt.h"
#include "json/fields.h"

/* Trims and lowercases an email in place; false when it does not look like one. */
static bool normalise_email(char *email)
{
    char *start = email, *end;
    while (*start == ' ' || *start == '\t')
        start++;
    end = start + strlen(start);
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    memmove(email, start, (size_t)(end - start));
    email[end - start] = '\0';
    for (char *p = email; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *at = strchr(email, '@');
    if (!at || at == email || strchr(at + 1, '@') || strlen(email) > 254)
        return false;
    const char *dot = strrchr(at, '.');
    if (!dot || dot == at + 1 || !dot[1])
        return false;
    for (const char *p = email; *p; p++)
        if (*p == ' ' || (unsigned char)*p < 0x21)
            return false;
    return true;
}

static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Reads a password member: any characters, PASSWORD_MIN..MAX long. */
static const char *password(struct field_ctx *c, json_t *root, const char *key, bool required,
                            bool check_length)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (required)
            field_errors_add(c->fe, key, "is required");
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v))) {
        field_errors_add(c->fe, key, "must be a string");
        return NULL;
    }
    const char *s = json_string_value(v);
    if (check_length && (chars(s) < PASSWORD_MIN_CHARS || chars(s) > PASSWORD_MAX_CHARS)) {
        field_errors_add(c->fe, key, "must be %d to %d characters", PASSWORD_MIN_CHARS,
                         PASSWORD_MAX_CHARS);
        return NULL;
    }
    return arena_strdup(c->a, s);
}

enum ns_err account_parse(struct arena *a, const char *text, size_t len, enum account_form form,
                          struct account_write *out, struct field_errors *fe)
{
    static const char *const sign_up_keys[] = {"email", "password", "name"};
    static const char *const patch_keys[] = {"email", "password", "name", "current_password"};
    enum ns_err err;
    json_t *root = fields_load_object(text, len, fe, &err);
    if (!root)
        return err;
    struct field_ctx c = {a, fe};
    memset(out, 0, sizeof(*out));
    fields_check_keys(&c, root, "", form == FORM_ACCOUNT_PATCH ? patch_keys : sign_up_keys,
                      form == FORM_ACCOUNT_PATCH ? 4 : form == FORM_SIGN_UP ? 3 : 2);
    bool required = form != FORM_ACCOUNT_PATCH;
    const char *email = fields_string(&c, root, "email", "email", 254, required, false);
    if (email) {
        char *copy = arena_strdup(a, email);
        if (copy && normalise_email(copy))
            out->email = copy;
        else
            field_errors_add(fe, "email", "must be an email address such as reader@example.com");
    }
    /* on sign-in the length is not checked: a wrong password is just wrong */
    out->password = password(&c, root, "password", required, form != FORM_SIGN_IN);
    if (form != FORM_SIGN_IN)
        out->name = fields_string(&c, root, "name", "name", 100, form == FORM_SIGN_UP, false);
    if (form == FORM_ACCOUNT_PATCH) {
        out->current_password = password(&c, root, "current_password", false, false);
        /* null counts as missing: an email or password change always proves the old one */
        if ((out->email || out->password) && !out->current_password &&
            !json_is_string(json_object_get(root, "current_password")))
            field_errors_add(fe, "current_password",
                             "is required to change the email or the password");
    }
    json_decref(root);
    return fe->count ? NS_ERR_INVALID : NS_OK;
}

enum ns_err membership_parse(struct arena *a, const char *text, size_t len,
                             struct membership_write *out, struct field_errors *fe)
{
    static const char *const keys[] = {"plan", "expires_at"};
    enum ns_err err;
    json_t *root = fields_load_object(text, len, fe, &err);
    if (!root)
        return err;
    struct field_ctx c = {a, fe};
    memset(out, 0, sizeof(*out));
    fields_check_keys(&c, root, "", keys, 2);
    out->plan = fields_string(&c, root, "plan", "plan", 16, true, false);
    if (out->plan && strcmp(out->plan, "free") != 0 && strcmp(out->plan, "trial") != 0 &&
        strcmp(out->plan, "member") != 0)
        field_errors_add(fe, "plan", "must be free, trial or member");
    const char *expires = fields_string(&c, root, "expires_at", "expires_at", 64, false, false);
    if (expires) {
        out->has_expiry = timefmt_parse(expires, &out->expires_at);
        if (!out->has_expiry)
            field_errors_add(fe, "expires_at", "must be an RFC 3339 date-time");
    } else if (out->plan && strcmp(out->plan, "free") != 0) {
        field_errors_add(fe, "expires_at", "is required for a trial or a membership");
    }
    json_decref(root);
    return fe->count ? NS_ERR_INVALID : NS_OK;
}
