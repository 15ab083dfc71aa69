/*
 * test_search.c - unit tests for the `q` to FTS5 translation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "domain/highlight.h"
#include "domain/search_query.h"

static void translates(const char *q, const char *want)
{
    struct arena a;
    const char *why = NULL;
    arena_init(&a);
    const char *got = search_query_translate(&a, q, &why);
    if (!got || strcmp(got, want) != 0)
        fail_msg("q=[%s]: want [%s], got [%s] (%s)", q, want, got ? got : "NULL",
                 why ? why : "");
    arena_release(&a);
}

static void refuses(const char *q)
{
    struct arena a;
    const char *why = NULL;
    arena_init(&a);
    const char *got = search_query_translate(&a, q, &why);
    if (got || !why)
        fail_msg("q=[%s] should be refused, got [%s]", q, got ? got : "NULL");
    arena_release(&a);
}

static void test_words_phrases_or_not(void **state)
{
    (void)state;
    translates("china japan", "(\"china\") AND (\"japan\")");
    translates("\"security talks\"", "(\"security talks\")");
    translates("a b OR c -d", "(\"a\") AND (\"b\" OR \"c\") NOT (\"d\")");
    translates("tokyo -\"prime minister\" -visit",
               "(\"tokyo\") NOT (\"prime minister\" OR \"visit\")");
    translates("x OR y OR z", "(\"x\" OR \"y\" OR \"z\")");
}

static void test_hostile_input_is_plain_words(void **state)
{
    (void)state;
    translates("NEAR(a b)", "(\"NEAR(a\") AND (\"b)\")");
    translates("headline:foo", "(\"headline:foo\")");
    translates("a* ^b", "(\"a*\") AND (\"^b\")");
    translates("say \"hi", "(\"say\") AND (\"hi\")");
    translates("OR a", "(\"OR\") AND (\"a\")");
    translates("OR", "(\"OR\")");
    translates("a OR", "(\"a\") AND (\"OR\")");
    translates("a OR -b", "(\"a\") AND (\"OR\") NOT (\"b\")");
    translates("a AND b", "(\"a\") AND (\"AND\") AND (\"b\")");
    translates("- a", "(\"a\")");
    translates("zürich's", "(\"zürich's\")");
    translates("\"\"\"a\"", "(\"a\")");
}

static void test_refusals(void **state)
{
    (void)state;
    refuses("");
    refuses("   ");
    refuses("-a -b");
    refuses("* ^ : ()");
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    refuses(big);
    char many[400] = "";
    for (int i = 0; i < 40; i++)
        strcat(many, "w ");
    refuses(many);
}

static void test_highlight_html(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a);
    assert_string_equal(highlight_html(&a, "Tom & \x01Jerry\x02 <b>\"'"),
                        "Tom &amp; <mark>Jerry</mark> &lt;b&gt;&quot;&#39;");
    assert_string_equal(highlight_html(&a, "\x01open"), "<mark>open</mark>");
    assert_string_equal(highlight_html(&a, "stray\x02 end"), "stray end");
    assert_true(highlight_has_match("a \x01" "b\x02"));
    assert_false(highlight_has_match("plain"));
    arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words_phrases_or_not),
        cmocka_unit_test(test_hostile_input_is_plain_words),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_highlight_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
