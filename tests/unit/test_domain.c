/*
 * test_domain.c - unit tests for the pure logic in src/domain: slugs,
 * timestamps, parameter values, body text to blocks, the paywall rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "domain/blocks.h"
#include "domain/params.h"
#include "domain/paywall.h"
#include "domain/slug.h"
#include "domain/timefmt.h"

static void slug_is(const char *text, const char *want)
{
    char out[SLUG_BUF];
    slug_make(text, "article", out);
    assert_string_equal(out, want);
}

static void test_slug_ascii(void **state)
{
    (void)state;
    slug_is("China and Japan meet for formal security talks",
            "china-and-japan-meet-for-formal-security-talks");
    slug_is("  --Hello,   World!--  ", "hello-world");
    slug_is("Japan's defence ministry", "japans-defence-ministry");
}

static void test_slug_unicode_folds_accents(void **state)
{
    (void)state;
    slug_is("Zürich café", "zurich-cafe");
    slug_is("Ærø Straße Łódź", "aero-strasse-lodz");
    slug_is("Crème brûlée ½", "creme-brulee-1-2");
    slug_is("Москва сегодня", "москва-сегодня"); /* non-Latin letters are kept */
}

static void test_slug_edge_cases(void **state)
{
    (void)state;
    slug_is("2024", "n-2024");
    slug_is("!!!", "article");
    slug_is("", "article");
    char out[SLUG_BUF];
    assert_false(slug_make("bad \xff utf8", "article", out));
    assert_string_equal(out, "article");
}

static void test_slug_length_cut_at_word(void **state)
{
    (void)state;
    char text[400], out[SLUG_BUF];
    strcpy(text, "");
    for (int i = 0; i < 40; i++)
        strcat(text, "word ");
    slug_make(text, "article", out);
    assert_true(strlen(out) <= SLUG_MAX);
    assert_int_not_equal(out[strlen(out) - 1], '-');
    assert_string_equal(out + strlen(out) - 4, "word");
}

/* Found by tests/fuzz/fuzz_params.c: "n-" once took a digits-only slug past SLUG_MAX. */
static void test_slug_long_number_stays_a_slug(void **state)
{
    (void)state;
    char text[200], out[SLUG_BUF], again[SLUG_BUF];
    memset(text, '7', 120);
    strcpy(text + 120, ".x");
    slug_make(text, "article", out);
    assert_true(strlen(out) <= SLUG_MAX);
    assert_memory_equal(out, "n-777", 5);
    slug_make(out, "article", again); /* a slug is its own slug: writes may name it */
    assert_string_equal(again, out);
    memset(text, '7', SLUG_MAX);
    text[SLUG_MAX] = '\0';
    slug_make(text, "article", out);
    assert_int_equal(strlen(out), SLUG_MAX);
    slug_make(out, "article", again);
    assert_string_equal(again, out);
}

static void test_slug_suffix_and_ids(void **state)
{
    (void)state;
    char out[SLUG_BUF];
    slug_with_suffix("hello-world", 2, out);
    assert_string_equal(out, "hello-world-2");
    long long id = 0;
    assert_true(slug_is_id("17", &id));
    assert_int_equal(id, 17);
    assert_false(slug_is_id("017", &id));
    assert_false(slug_is_id("n-2024", &id));
    assert_false(slug_is_id("", &id));
    assert_false(slug_is_id("99999999999999999999", &id));
}

static void test_time_roundtrip(void **state)
{
    (void)state;
    int64_t t = 0;
    char out[TIMEFMT_LEN];
    assert_true(timefmt_parse("2023-02-22T14:05:00Z", &t));
    assert_int_equal(t, 1677074700);
    timefmt_format(t, out);
    assert_string_equal(out, "2023-02-22T14:05:00Z");
    assert_true(timefmt_parse("2023-02-22T15:05:00.123+01:00", &t));
    assert_int_equal(t, 1677074700);
    assert_true(timefmt_parse("1987-03-31T23:59:59-05:30", &t));
    timefmt_format(t, out);
    assert_string_equal(out, "1987-04-01T05:29:59Z");
    timefmt_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
}

static void test_time_rejects(void **state)
{
    (void)state;
    int64_t t = 42;
    const char *bad[] = {"", "2023-02-22", "2023-02-30T00:00:00Z", "2023-13-01T00:00:00Z",
                         "2023-02-22T24:00:00Z", "2023-02-22 14:05:00Z", "2023-02-22T14:05:00",
                         "1987-03-31T605:12:19Z", "2023-02-22T14:05:00Zjunk", "2023-02-22T14:05Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(timefmt_parse(bad[i], &t));
    assert_int_equal(t, 42);
    assert_true(timefmt_parse_date("2024-02-29", &t));
    assert_false(timefmt_parse_date("2023-02-29", &t));
}

/*
 * Found with tests/fuzz/fuzz_params.c's read-back check: an offset took the
 * instant out of years 1..9999, where timefmt_format cannot write it (it was
 * served as 0000-...), so what was accepted did not read back.
 */
static void test_time_offset_keeps_the_year_range(void **state)
{
    (void)state;
    int64_t t = 42;
    char text[TIMEFMT_LEN];
    assert_false(timefmt_parse("0001-01-01T00:00:00+01:00", &t));
    assert_false(timefmt_parse("0001-01-01T00:30:00+23:59", &t));
    assert_false(timefmt_parse("9999-12-31T23:59:59-01:00", &t));
    assert_int_equal(t, 42);
    const char *edges[] = {"0001-01-01T00:00:00Z", "0001-01-01T01:00:00+01:00",
                           "9999-12-31T23:59:59Z", "9999-12-31T22:59:59-01:00"};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        int64_t back = 0;
        assert_true(timefmt_parse(edges[i], &t));
        timefmt_format(t, text);
        assert_true(timefmt_parse(text, &back));
        assert_int_equal(back, t);
    }
}

static void test_params_limit(void **state)
{
    (void)state;
    int v = 0;
    const char *why = NULL;
    assert_true(params_limit("1", &v, &why));
    assert_int_equal(v, 1);
    assert_true(params_limit("100", &v, &why));
    assert_int_equal(v, 100);
    const char *bad[] = {"0", "101", "abc", "", "-1", "1.5", "99999999999999999999", " 5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_false(params_limit(bad[i], &v, &why));
        assert_non_null(why);
    }
}

static void test_params_list(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a);
    const char **items = NULL;
    const char *why = NULL;
    assert_int_equal(params_list(&a, "a,b,c", 10, &items, &why), 3);
    assert_string_equal(items[2], "c");
    assert_int_equal(params_list(&a, "a,,c", 10, &items, &why), -1);
    assert_int_equal(params_list(&a, "a,b,a", 10, &items, &why), -1);
    assert_int_equal(params_list(&a, "a,b,c", 2, &items, &why), -1);
    assert_int_equal(params_list(&a, "a,", 10, &items, &why), -1);
    arena_release(&a);
}

static void test_params_time_bound_and_language(void **state)
{
    (void)state;
    int64_t t = 0;
    const char *why = NULL;
    assert_true(params_time_bound("2023-02-22", false, &t, &why));
    assert_int_equal(t, 1677024000);
    assert_true(params_time_bound("2023-02-22", true, &t, &why));
    assert_int_equal(t, 1677024000 + 86399);
    assert_false(params_time_bound("yesterday", false, &t, &why));
    assert_true(params_language("en"));
    assert_true(params_language("pt-br"));
    assert_false(params_language("EN"));
    assert_false(params_language("e"));
    assert_false(params_language("en-"));
}

static void test_blocks_from_text(void **state)
{
    (void)state;
    struct arena a;
    struct block *b = NULL;
    arena_init(&a);
    long n = blocks_from_text(&a, "First line\ncontinues here.\n\n  \n\nSecond  para.\r\n\n", &b);
    assert_int_equal(n, 2);
    assert_string_equal(b[0].text, "First line continues here.");
    assert_string_equal(b[1].text, "Second para.");
    assert_int_equal(b[0].type, BLOCK_PARAGRAPH);
    assert_int_equal(blocks_from_text(&a, "\n\n \n", &b), 0);
    assert_int_equal(blocks_word_count(b, 0), 0);
    arena_release(&a);
}

static void test_word_count_and_reading_time(void **state)
{
    (void)state;
    struct block blocks[] = {
        {.type = BLOCK_PARAGRAPH, .text = "one two three"},
        {.type = BLOCK_IMAGE, .url = "https://x.example/a.jpg", .caption = "not counted"},
        {.type = BLOCK_QUOTE, .text = "four five"},
    };
    assert_int_equal(blocks_word_count(blocks, 3), 5);
    assert_int_equal(reading_time_minutes(0), 1);
    assert_int_equal(reading_time_minutes(230), 1);
    assert_int_equal(reading_time_minutes(231), 2);
}

static void test_paywall(void **state)
{
    (void)state;
    struct reader_access member = {PLAN_MEMBER, 2000};
    struct reader_access lapsed = {PLAN_TRIAL, 500};
    struct reader_access free_plan = {PLAN_FREE, 0};
    assert_false(paywall_locked(false, NULL, 1000));
    assert_true(paywall_locked(true, NULL, 1000));
    assert_false(paywall_locked(true, &member, 1000));
    assert_true(paywall_locked(true, &lapsed, 1000));
    assert_true(paywall_locked(true, &free_plan, 1000));
    assert_int_equal(paywall_preview_blocks(10), 2);
    assert_int_equal(paywall_preview_blocks(3), 1);
    assert_int_equal(paywall_preview_blocks(1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slug_ascii),
        cmocka_unit_test(test_slug_unicode_folds_accents),
        cmocka_unit_test(test_slug_edge_cases),
        cmocka_unit_test(test_slug_length_cut_at_word),
        cmocka_unit_test(test_slug_long_number_stays_a_slug),
        cmocka_unit_test(test_slug_suffix_and_ids),
        cmocka_unit_test(test_time_roundtrip),
        cmocka_unit_test(test_time_rejects),
        cmocka_unit_test(test_time_offset_keeps_the_year_range),
        cmocka_unit_test(test_params_limit),
        cmocka_unit_test(test_params_list),
        cmocka_unit_test(test_params_time_bound_and_language),
        cmocka_unit_test(test_blocks_from_text),
        cmocka_unit_test(test_word_count_and_reading_time),
        cmocka_unit_test(test_paywall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
