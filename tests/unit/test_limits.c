/*
 * test_limits.c - unit tests for token buckets and client addresses
 * (X-Forwarded-For behind trusted proxies).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "domain/netaddr.h"
#include "domain/ratelimit.h"

static void key_of(unsigned n, unsigned char key[RATELIMIT_KEY_LEN])
{
    memset(key, 0, RATELIMIT_KEY_LEN);
    /* spread like a hash would, so keys land in different shards */
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL;
    memcpy(key, &h, sizeof(h));
    memcpy(key + 8, &n, sizeof(n));
}

static void test_burst_then_refusal(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(1024);
    assert_non_null(rl);
    struct ratelimit_policy p = {.rate = 2, .burst = 5};
    struct ratelimit_verdict v;
    unsigned char k[RATELIMIT_KEY_LEN];
    key_of(1, k);
    for (unsigned i = 0; i < 5; i++) {
        assert_true(ratelimit_take(rl, k, &p, 100.0, &v));
        assert_int_equal(v.limit, 5);
        assert_int_equal(v.remaining, 4 - i);
    }
    assert_false(ratelimit_take(rl, k, &p, 100.0, &v));
    assert_int_equal(v.remaining, 0);
    assert_int_equal(v.retry_after, 1); /* one token back in 0.5 s: at least a whole second */
    assert_int_equal(v.reset_s, 3);     /* 5 tokens at 2/s */
    /* a refusal takes nothing: half a second later exactly one request passes */
    assert_true(ratelimit_take(rl, k, &p, 100.5, &v));
    assert_false(ratelimit_take(rl, k, &p, 100.5, &v));
    /* another client is not touched */
    key_of(2, k);
    assert_true(ratelimit_take(rl, k, &p, 100.5, &v));
    assert_int_equal(v.remaining, 4);
    ratelimit_free(rl);
}

static void test_refill_caps_at_burst(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(64);
    struct ratelimit_policy p = {.rate = 1, .burst = 3};
    struct ratelimit_verdict v;
    unsigned char k[RATELIMIT_KEY_LEN];
    key_of(7, k);
    for (int i = 0; i < 3; i++)
        assert_true(ratelimit_take(rl, k, &p, 10.0, &v));
    assert_false(ratelimit_take(rl, k, &p, 10.0, &v));
    assert_true(ratelimit_take(rl, k, &p, 1000.0, &v)); /* long idle: full, not 990 */
    assert_int_equal(v.remaining, 2);
    /* a clock that steps back never adds tokens */
    assert_true(ratelimit_take(rl, k, &p, 5.0, &v));
    assert_true(ratelimit_take(rl, k, &p, 5.0, &v));
    assert_false(ratelimit_take(rl, k, &p, 5.0, &v));
    ratelimit_free(rl);
}

static void test_full_table_keeps_drained_buckets(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(64); /* 64 shards of 8 slots */
    struct ratelimit_policy p = {.rate = 0.001, .burst = 2};
    struct ratelimit_verdict v;
    unsigned char abuser[RATELIMIT_KEY_LEN], k[RATELIMIT_KEY_LEN];
    key_of(99999, abuser);
    assert_true(ratelimit_take(rl, abuser, &p, 1.0, &v));
    assert_true(ratelimit_take(rl, abuser, &p, 1.0, &v));
    assert_false(ratelimit_take(rl, abuser, &p, 1.0, &v));
    /* many one-off clients pass through the table */
    for (unsigned i = 0; i < 20000; i++) {
        key_of(i, k);
        ratelimit_take(rl, k, &p, 1.0, &v);
    }
    /* the drained bucket was the last one evicted: still refused */
    assert_false(ratelimit_take(rl, abuser, &p, 1.0, &v));
    ratelimit_free(rl);
}

static void test_parse_and_prefixes(void **state)
{
    (void)state;
    struct netaddr a;
    char text[NETADDR_TEXT_MAX];
    assert_true(netaddr_parse(" 192.0.2.7 ", 11, &a));
    assert_true(netaddr_is_v4(&a));
    netaddr_format(&a, text);
    assert_string_equal(text, "192.0.2.7");
    assert_true(netaddr_parse("2001:db8::1", 11, &a));
    assert_false(netaddr_is_v4(&a));
    netaddr_format(&a, text);
    assert_string_equal(text, "2001:db8::1");
    assert_false(netaddr_parse("example.com", 11, &a));
    assert_false(netaddr_parse("1.2.3.4:80", 10, &a));
    assert_false(netaddr_parse("", 0, &a));

    struct netprefix p;
    assert_true(netprefix_parse("10.0.0.0/8", &p));
    assert_true(netaddr_parse("10.200.3.4", 10, &a));
    assert_true(netprefix_contains(&p, &a));
    assert_true(netaddr_parse("11.0.0.1", 8, &a));
    assert_false(netprefix_contains(&p, &a));
    assert_true(netprefix_parse("192.168.1.0/23", &p));
    assert_true(netaddr_parse("192.168.0.9", 11, &a));
    assert_true(netprefix_contains(&p, &a));
    assert_true(netaddr_parse("192.168.2.9", 11, &a));
    assert_false(netprefix_contains(&p, &a));
    assert_true(netprefix_parse("fd00::/8", &p));
    assert_true(netaddr_parse("fd12::5", 7, &a));
    assert_true(netprefix_contains(&p, &a));
    assert_true(netprefix_parse("127.0.0.1", &p));
    assert_int_equal(p.bits, 128);
    assert_false(netprefix_parse("10.0.0.0/33", &p));
    assert_false(netprefix_parse("10.0.0.0/", &p));
    assert_false(netprefix_parse("10.0.0.0/-1", &p));
    assert_false(netprefix_parse("::/129", &p));
    assert_false(netprefix_parse("nonsense/8", &p));
}

static void test_forwarded_for(void **state)
{
    (void)state;
    struct netprefix trusted[2];
    assert_true(netprefix_parse("127.0.0.1", &trusted[0]));
    assert_true(netprefix_parse("10.0.0.0/8", &trusted[1]));
    struct netaddr peer, c;
    char text[NETADDR_TEXT_MAX];

    /* from a trusted proxy: the rightmost address that is not a proxy */
    assert_true(netaddr_parse("127.0.0.1", 9, &peer));
    c = netaddr_client(&peer, "203.0.113.9, 198.51.100.2, 10.1.1.1", trusted, 2);
    netaddr_format(&c, text);
    assert_string_equal(text, "198.51.100.2");
    /* a garbled hop stops the walk at the last address believed */
    c = netaddr_client(&peer, "203.0.113.9, nonsense, 10.1.1.1", trusted, 2);
    netaddr_format(&c, text);
    assert_string_equal(text, "10.1.1.1");
    c = netaddr_client(&peer, "", trusted, 2);
    netaddr_format(&c, text);
    assert_string_equal(text, "127.0.0.1");
    c = netaddr_client(&peer, NULL, trusted, 2);
    netaddr_format(&c, text);
    assert_string_equal(text, "127.0.0.1");

    /* from anyone else the header is a client's claim and is ignored */
    assert_true(netaddr_parse("198.51.100.77", 13, &peer));
    c = netaddr_client(&peer, "1.2.3.4", trusted, 2);
    netaddr_format(&c, text);
    assert_string_equal(text, "198.51.100.77");
    /* no trusted proxies at all: always the peer */
    assert_true(netaddr_parse("127.0.0.1", 9, &peer));
    c = netaddr_client(&peer, "1.2.3.4", NULL, 0);
    netaddr_format(&c, text);
    assert_string_equal(text, "127.0.0.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refusal),
        cmocka_unit_test(test_refill_caps_at_burst),
        cmocka_unit_test(test_full_table_keeps_drained_buckets),
        cmocka_unit_test(test_parse_and_prefixes),
        cmocka_unit_test(test_forwarded_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
