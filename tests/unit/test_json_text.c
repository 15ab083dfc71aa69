/*
 * test_json_text.c - unit tests for the JSON text writer (json/json_text)
 * and the article forms written with it (json/resource_json): the text
 * must be what jansson would dump for the same values, so that both
 * writers can serve one resource and ETags do not change with the writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "json/json_text.h"
#include "json/resource_json.h"

static char *dumped(json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(10) | JSON_ENCODE_ANY);
    json_decref(v);
    return text;
}

static void test_strings_escape_as_jansson(void **state)
{
    (void)state;
    const char *cases[] = {
        "",         "plain",       "quote \" and backslash \\", "tab\tnew\nline\rcr",
        "\b\f",     "\x01\x1f\x7f", "café – ünïcödé 東京 😀",        "</script>",
        "slash / ok",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b;
        buf_init(&b);
        json_text_string(&b, cases[i]);
        char *want = dumped(json_string(cases[i]));
        assert_non_null(want);
        assert_false(buf_failed(&b));
        assert_string_equal(b.data, want);
        free(want);
        buf_release(&b);
    }
    struct buf b;
    buf_init(&b);
    json_text_string(&b, NULL);
    assert_string_equal(b.data, "null");
    buf_release(&b);
}

static void test_numbers_as_jansson(void **state)
{
    (void)state;
    const double reals[] = {0.0, 1.0, -2.0, 0.287, 0.209, 19.75, 1e-7, 123456789012.0, 3.0e21,
                            -0.5, 0.1 + 0.2};
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        struct buf b;
        buf_init(&b);
        json_text_real(&b, reals[i]);
        char *want = dumped(json_real(reals[i]));
        assert_string_equal(b.data, want);
        free(want);
        buf_release(&b);
    }
    const int64_t ints[] = {0, 1, -1, 17, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        struct buf b;
        buf_init(&b);
        json_text_int(&b, ints[i]);
        char *want = dumped(json_integer(ints[i]));
        assert_string_equal(b.data, want);
        free(want);
        buf_release(&b);
    }
    struct buf b;
    buf_init(&b);
    json_text_real(&b, 1.0 / 0.0);
    assert_string_equal(b.data, "null");
    buf_release(&b);
}

static struct article_row sample(void)
{
    static struct author_ref authors[] = {{4, "amy-hawkins", "Amy \"AH\" Hawkins"}};
    static struct topic_ref topics[] = {{2, "security", "Security"}, {3, "asia", "Asia"}};
    static struct entity_ref entities[] = {
        {.id = 9, .slug = "sun-weidong", .name = "Sun Weidong", .type = "person", .mentions = 3,
         .salience = 0.4213},
        {.id = 10, .slug = "japan", .name = "Japan", .type = "place", .mentions = 1,
         .salience = 0.1},
    };
    struct article_row r = {
        .id = 17,
        .slug = "china-and-japan-meet",
        .url = "https://publisher.example/a?b=1&c=2",
        .headline = "China and Japan meet\tfor talks",
        .standfirst = NULL,
        .section = "World",
        .language = "en",
        .premium = true,
        .publication = {1, "the-guardian-uk", "The Guardian - UK"},
        .image = {.url = "https://img.example/1.jpg", .caption = "A caption", .width = 1200},
        .published_at = 1677074700,
        .updated_at = 1677078300,
        .word_count = 612,
        .authors = authors,
        .n_authors = 1,
        .topics = topics,
        .n_topics = 2,
        .entities = entities,
        .n_entities = 2,
        .blocks_json = "[{\"type\":\"paragraph\",\"text\":\"One.\"},{\"type\":\"heading\","
                       "\"text\":\"Two\"},{\"type\":\"paragraph\",\"text\":\"Three.\"},"
                       "{\"type\":\"quote\",\"text\":\"Four\",\"attribution\":\"X\"},"
                       "{\"type\":\"paragraph\",\"text\":\"Five.\"}]",
    };
    return r;
}

static void test_article_forms(void **state)
{
    (void)state;
    struct article_row r = sample();
    json_t *summary = article_summary_to_json(&r);
    assert_non_null(summary);
    assert_string_equal(json_string_value(json_object_get(summary, "headline")),
                        "China and Japan meet\tfor talks");
    assert_true(json_is_null(json_object_get(summary, "standfirst")));
    assert_int_equal(json_integer_value(json_object_get(summary, "reading_time_minutes")), 3);
    assert_string_equal(json_string_value(json_object_get(summary, "access")), "premium");
    assert_true(json_is_null(json_object_get(json_object_get(summary, "image"), "height")));
    assert_int_equal(json_array_size(json_object_get(summary, "entities")), 2);
    assert_null(json_object_get(json_array_get(json_object_get(summary, "entities"), 0),
                                "salience"));
    json_decref(summary);

    json_t *open = article_full_to_json(&r, false);
    assert_non_null(open);
    assert_int_equal(json_array_size(json_object_get(open, "blocks")), 5);
    assert_true(json_is_false(json_object_get(json_object_get(open, "paywall"), "locked")));
    json_t *first = json_array_get(json_object_get(open, "entities"), 0);
    assert_true(json_real_value(json_object_get(first, "salience")) == 0.421);
    json_decref(open);

    json_t *locked = article_full_to_json(&r, true);
    assert_non_null(locked);
    assert_int_equal(json_array_size(json_object_get(locked, "blocks")), 2);
    json_t *paywall = json_object_get(locked, "paywall");
    assert_true(json_is_true(json_object_get(paywall, "locked")));
    assert_int_equal(json_integer_value(json_object_get(paywall, "preview_blocks")), 2);
    json_decref(locked);

    r.blocks_json = "not json";
    struct buf b;
    buf_init(&b);
    assert_false(article_full_write(&b, &r, true)); /* a locked preview needs readable blocks */
    buf_release(&b);
}

static void test_extra_members(void **state)
{
    (void)state;
    struct article_row r = sample();
    struct buf b;
    buf_init(&b);
    article_counted_write(&b, &r, "reads", 42);
    json_t *v = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "reads")), 42);
    assert_int_equal(json_integer_value(json_object_get(v, "id")), 17);
    json_decref(v);
    buf_reset(&b);
    article_hit_write(&b, &r, 19.75, "<mark>China</mark>", "a &amp; b");
    v = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(v);
    assert_true(json_real_value(json_object_get(v, "score")) == 19.75);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(v, "highlight"), "headline")),
        "<mark>China</mark>");
    json_decref(v);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_escape_as_jansson),
        cmocka_unit_test(test_numbers_as_jansson),
        cmocka_unit_test(test_article_forms),
        cmocka_unit_test(test_extra_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
