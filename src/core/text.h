/*
 * text.h - checks on untrusted text before it goes anywhere else.
 */
#ifndef NS_TEXT_H
#define NS_TEXT_H

#include <stdbool.h>

/* True when s is valid UTF-8 (no overlongs, no surrogates) without C0 controls or DEL. */
bool text_is_clean_utf8(const char *s);

/* True when s is only base64url characters (A-Z a-z 0-9 - _); "" is. */
bool text_is_base64url(const char *s);

#endif
