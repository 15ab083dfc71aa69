/*
 * test_matcher.c - unit tests for word folding, the entity matcher and
 * salience scoring.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/fold.h"
#include "domain/linking.h"
#include "domain/matcher.h"

struct found {
    struct mention m[32];
    size_t n;
};

static void collect(void *cls, const struct mention *mention)
{
    struct found *f = cls;
    if (f->n < 32)
        f->m[f->n++] = *mention;
}

static struct found scan(const struct matcher *m, const char *text)
{
    struct found f = {.n = 0};
    assert_int_equal(matcher_scan(m, text, strlen(text), collect, &f), NS_OK);
    return f;
}

static void test_fold_key(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a);
    assert_string_equal(fold_key(&a, "Zürich's Café"), "zurich s cafe");
    assert_string_equal(fold_key(&a, "  ÆRØ -- Straße "), "aero strasse");
    assert_string_equal(fold_key(&a, "U.S."), "u s");
    assert_string_equal(fold_key(&a, "Łódź"), "lodz");
    assert_string_equal(fold_key(&a, "東京 Tower"), "東京 tower");
    assert_string_equal(fold_key(&a, "---"), "");
    arena_release(&a);
}

static void test_whole_words_and_folding(void **state)
{
    (void)state;
    struct matcher *m = matcher_new();
    assert_int_equal(matcher_add(m, "Zürich", 1), NS_OK);
    assert_int_equal(matcher_add(m, "Sun Weidong", 2), NS_OK);
    struct found f = scan(m, "Protests in ZURICH and zurich; Zurichers stayed home.");
    assert_int_equal(f.n, 2); /* "Zurichers" is another word */
    assert_int_equal(f.m[0].entity_id, 1);
    assert_int_equal(f.m[0].start, 12);
    assert_int_equal(f.m[0].end, 18);
    f = scan(m, "Vice minister Sun  Weidong met Sun Wei dong.");
    assert_int_equal(f.n, 1);
    assert_int_equal(f.m[0].entity_id, 2);
    matcher_free(m);
}

static void test_longest_match_wins(void **state)
{
    (void)state;
    struct matcher *m = matcher_new();
    assert_int_equal(matcher_add(m, "Japan", 1), NS_OK);
    assert_int_equal(matcher_add(m, "Japan's defence ministry", 2), NS_OK);
    assert_int_equal(matcher_add(m, "defence", 3), NS_OK);
    struct found f = scan(m, "Japan's defence ministry said Japan's defence is ready.");
    assert_int_equal(f.n, 3);
    assert_int_equal(f.m[0].entity_id, 2);
    assert_int_equal(f.m[1].entity_id, 1);
    assert_int_equal(f.m[2].entity_id, 3);
    matcher_free(m);
}

static void test_acronyms_need_capitals(void **state)
{
    (void)state;
    struct matcher *m = matcher_new();
    assert_int_equal(matcher_add(m, "US", 1), NS_OK);
    assert_int_equal(matcher_add(m, "Nato", 2), NS_OK);
    assert_int_equal(matcher_add(m, "NATO", 2), NS_OK);
    struct found f = scan(m, "Let us see what the US and NATO and nato and Nato do.");
    assert_int_equal(f.n, 4);
    assert_int_equal(f.m[0].entity_id, 1);
    for (size_t i = 1; i < 4; i++)
        assert_int_equal(f.m[i].entity_id, 2);
    matcher_free(m);
}

static void test_first_registration_stands(void **state)
{
    (void)state;
    struct matcher *m = matcher_new();
    assert_int_equal(matcher_add(m, "Georgia", 1), NS_OK);
    assert_int_equal(matcher_add(m, "georgia", 2), NS_OK);
    assert_int_equal(matcher_size(m), 1);
    struct found f = scan(m, "Georgia");
    assert_int_equal(f.m[0].entity_id, 1);
    assert_int_equal(matcher_add(m, "!!!", 3), NS_ERR_INVALID);
    matcher_free(m);
}

static void test_many_names(void **state)
{
    (void)state;
    struct matcher *m = matcher_new();
    char name[64];
    for (int i = 1; i <= 50000; i++) {
        snprintf(name, sizeof(name), "Name%d Person%d", i, i % 97);
        assert_int_equal(matcher_add(m, name, i), NS_OK);
    }
    assert_int_equal(matcher_size(m), 50000);
    struct found f = scan(m, "x name49999 person44 y Name7 Person7 z name7 person8");
    assert_int_equal(f.n, 2);
    assert_int_equal(f.m[0].entity_id, 49999);
    assert_int_equal(f.m[1].entity_id, 7);
    matcher_free(m);
}

static void test_salience(void **state)
{
    (void)state;
    struct matcher *m = matcher_new();
    assert_int_equal(matcher_add(m, "Sun Weidong", 1), NS_OK);
    assert_int_equal(matcher_add(m, "Japan", 2), NS_OK);
    struct block blocks[] = {
        {.type = BLOCK_PARAGRAPH, .text = "Sun Weidong spoke."},
        {.type = BLOCK_PARAGRAPH, .text = "Sun Weidong left."},
        {.type = BLOCK_PARAGRAPH, .text = "Later, Japan replied."},
    };
    int64_t given[] = {9};
    struct link_input in = {"Sun Weidong meets envoys", NULL, blocks, 3, given, 1};
    struct entity_link *links = NULL;
    long n = linking_run(m, &in, &links);
    assert_int_equal(n, 3);
    assert_int_equal(links[0].entity_id, 1);
    assert_int_equal(links[0].mentions, 3);
    assert_int_equal(links[1].entity_id, 2);
    assert_int_equal(links[1].mentions, 1);
    assert_int_equal(links[2].entity_id, 9);
    assert_int_equal(links[2].mentions, 0);
    assert_true(links[2].given);
    double sum = links[0].salience + links[1].salience + links[2].salience;
    assert_true(sum > 0.999 && sum < 1.001);
    assert_true(links[0].salience > links[1].salience);
    free(links);
    matcher_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_key),
        cmocka_unit_test(test_whole_words_and_folding),
        cmocka_unit_test(test_longest_match_wins),
        cmocka_unit_test(test_acronyms_need_capitals),
        cmocka_unit_test(test_first_registration_stands),
        cmocka_unit_test(test_many_names),
        cmocka_unit_test(test_salience),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
