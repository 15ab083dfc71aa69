/*
 * test_headwatch.c - unit tests for the connection deadlines: a socket is
 * shut down once its deadline passes (waiting for a head, a body that earns
 * time by the byte, an answer to send), and never while the server works.
 *
 * The watch sweeps about once a second; the sockets are added half a second
 * after it starts, so each deadline falls between two sweeps and each check
 * has half a second of margin. About 3.5 s in all.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/headwatch.h"

/* True when the watch has shut the socket down (our end reads end-of-file without waiting). */
static bool was_cut(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_deadlines(void **state)
{
    (void)state;
    enum { WAITING, BUSY, ANSWER, BODY, N };
    int pairs[N][2];
    int slots[N];
    /* timeout 0: each deadline is the credit alone (a second per HEADWATCH_MIN_RATE bytes) */
    struct headwatch *hw = headwatch_new(8, 0);
    assert_non_null(hw);
    sleep_ms(500);
    for (int i = 0; i < N; i++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]), 0);
        slots[i] = headwatch_add(hw, pairs[i][0]);
        assert_true(slots[i] >= 0);
    }
    headwatch_busy(hw, slots[BUSY]);                              /* no deadline */
    headwatch_transfer(hw, slots[ANSWER], HEADWATCH_MIN_RATE);    /* +1 s */
    headwatch_waiting(hw, slots[BODY]);
    headwatch_extend(hw, slots[BODY], 2 * HEADWATCH_MIN_RATE, 0); /* +2 s */
    headwatch_extend(hw, slots[BUSY], 100, 0);                    /* still none */

    sleep_ms(1000); /* t = 1.5 s: one sweep past the head's deadline */
    assert_true(was_cut(pairs[WAITING][1]));
    assert_false(was_cut(pairs[BUSY][1]));
    assert_false(was_cut(pairs[ANSWER][1]));
    assert_false(was_cut(pairs[BODY][1]));

    sleep_ms(1000); /* t = 2.5 s */
    assert_true(was_cut(pairs[ANSWER][1]));
    assert_false(was_cut(pairs[BODY][1]));
    assert_false(was_cut(pairs[BUSY][1]));

    sleep_ms(1000); /* t = 3.5 s */
    assert_true(was_cut(pairs[BODY][1]));
    assert_false(was_cut(pairs[BUSY][1]));

    for (int i = 0; i < N; i++) {
        headwatch_remove(hw, slots[i]);
        close(pairs[i][0]);
        close(pairs[i][1]);
    }
    headwatch_free(hw);
}

static void test_slots_are_reused_and_bounded(void **state)
{
    (void)state;
    struct headwatch *hw = headwatch_new(2, 30);
    assert_non_null(hw);
    int a = headwatch_add(hw, 100), b = headwatch_add(hw, 101);
    assert_true(a >= 0 && b >= 0 && a != b);
    assert_int_equal(headwatch_add(hw, 102), -1); /* full */
    headwatch_remove(hw, a);
    assert_int_equal(headwatch_add(hw, 103), a);
    /* out-of-range slots are ignored */
    headwatch_busy(hw, -1);
    headwatch_waiting(hw, 7);
    headwatch_transfer(hw, -1, 10);
    headwatch_extend(hw, 9, 10, 0);
    headwatch_remove(hw, -1);
    headwatch_free(hw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_slots_are_reused_and_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
