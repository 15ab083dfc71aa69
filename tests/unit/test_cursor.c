/*
 * test_cursor.c - unit tests for sealed pagination cursors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "domain/cursor.h"

static const unsigned char key[CURSOR_KEY_LEN] = "0123456789abcdef0123456789abcde";

static void test_roundtrip(void **state)
{
    (void)state;
    struct cursor c = {.scope = cursor_scope("articles|newest"), .key = 1677074700, .id = 17};
    strcpy(c.skey, "the-guardian-uk");
    char text[CURSOR_TEXT_MAX];
    assert_true(cursor_encode(&c, key, text));
    struct cursor back;
    assert_int_equal(cursor_decode(text, key, c.scope, &back), CURSOR_OK);
    assert_int_equal(back.key, 1677074700);
    assert_int_equal(back.id, 17);
    assert_string_equal(back.skey, "the-guardian-uk");
    for (const char *p = text; *p; p++) /* URL-safe as it is */
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                               *p));
}

static void test_negative_key(void **state)
{
    (void)state;
    struct cursor c = {.scope = 7, .key = -86400, .id = 1}, back;
    char text[CURSOR_TEXT_MAX];
    assert_true(cursor_encode(&c, key, text));
    assert_int_equal(cursor_decode(text, key, 7, &back), CURSOR_OK);
    assert_int_equal(back.key, -86400);
}

static void test_tampering_detected(void **state)
{
    (void)state;
    struct cursor c = {.scope = 1, .key = 2, .id = 3}, back;
    char text[CURSOR_TEXT_MAX];
    assert_true(cursor_encode(&c, key, text));
    for (size_t i = 0; text[i]; i++) {
        char forged[CURSOR_TEXT_MAX];
        strcpy(forged, text);
        forged[i] = forged[i] == 'A' ? 'B' : 'A';
        assert_int_not_equal(cursor_decode(forged, key, 1, &back), CURSOR_OK);
    }
    unsigned char other[CURSOR_KEY_LEN] = {0};
    assert_int_equal(cursor_decode(text, other, 1, &back), CURSOR_GARBLED);
}

static void test_garbage_and_wrong_query(void **state)
{
    (void)state;
    struct cursor back;
    const char *bad[] = {"", "x", "garbage!!", "AAAA", "%%%", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cursor_decode(bad[i], key, 1, &back), CURSOR_GARBLED);
    struct cursor c = {.scope = cursor_scope("a"), .key = 1, .id = 1};
    char text[CURSOR_TEXT_MAX];
    assert_true(cursor_encode(&c, key, text));
    assert_int_equal(cursor_decode(text, key, cursor_scope("b"), &back), CURSOR_WRONG_QUERY);
}

/*
 * Found by tests/fuzz/fuzz_cursor.c: libsodium 1.0.18 reads some bytes >= 0x80
 * as '-' or '_' in URL-safe base64, so other spellings of a real cursor opened.
 */
static void test_only_base64url_characters(void **state)
{
    (void)state;
    struct cursor c = {.scope = 3, .key = 0, .id = 0}, back;
    char text[CURSOR_TEXT_MAX];
    char *dash = NULL, *underscore = NULL;
    for (c.id = 1; !(dash && underscore) && c.id < 10000; c.id++) {
        assert_true(cursor_encode(&c, key, text));
        dash = strchr(text, '-');
        underscore = strchr(text, '_');
    }
    assert_true(dash && underscore);
    assert_int_equal(cursor_decode(text, key, 3, &back), CURSOR_OK);
    for (int b = 0x80; b <= 0xff; b++) {
        *dash = (char)b;
        assert_int_equal(cursor_decode(text, key, 3, &back), CURSOR_GARBLED);
        *dash = '-';
        *underscore = (char)b;
        assert_int_equal(cursor_decode(text, key, 3, &back), CURSOR_GARBLED);
        *underscore = '_';
    }
    const char *others = "+/= .";
    for (const char *o = others; *o; o++) {
        *dash = *o;
        assert_int_equal(cursor_decode(text, key, 3, &back), CURSOR_GARBLED);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_negative_key),
        cmocka_unit_test(test_tampering_detected),
        cmocka_unit_test(test_garbage_and_wrong_query),
        cmocka_unit_test(test_only_base64url_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
