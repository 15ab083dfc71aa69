/*
 * test_headwatch.c - unit tests for the connection deadlines: a socket is
 * shut down once its deadline passes (waiting for a head, a body that earns
 * time by the byte, an answer to send), and never while the server works.
 *
 * The watch sweeps about once a second, so a socket is cut no sooner than
 * its deadline and within a sweep after it. About 3.5 s in all.
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

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_deadlines(void **state)
{
    (void)state;
    enum { WAITING, BUSY, ANSWER, BODY, N };
    int pairs[N][2];
    int slots[N];
    double cut[N] = {0};
    /* timeout 0: each deadline is the credit alone (a second per HEADWATCH_MIN_RATE bytes) */
    struct headwatch *hw = headwatch_new(8, 0);
    assert_non_null(hw);
    sleep_ms(500);
    for (int i = 0; i < N; i++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]), 0);
        slots[i] = headwatch_add(hw, pairs[i][0]);
        assert_true(slots[i] >= 0);
    }
    double t0 = now_s();
    headwatch_busy(hw, slots[BUSY]);                              /* no deadline */
    headwatch_transfer(hw, slots[ANSWER], HEADWATCH_MIN_RATE);    /* 1 s */
    headwatch_waiting(hw, slots[BODY]);
    headwatch_extend(hw, slots[BODY], 2 * HEADWATCH_MIN_RATE, 0); /* 2 s */
    headwatch_extend(hw, slots[BUSY], 100, 0);                    /* still none */
    /* watch until the body's deadline has surely passed (a sweep a second, and slack) */
    while (now_s() - t0 < 4.5 && !cut[BODY]) {
        for (int i = 0; i < N; i++)
            if (!cut[i] && was_cut(pairs[i][1]))
                cut[i] = now_s() - t0;
        sleep_ms(20);
    }
    /* never before its deadline; within a sweep (and slack) after it */
    assert_true(cut[WAITING] > 0 && cut[WAITING] < 1.8);
    assert_true(cut[ANSWER] >= 1.0 && cut[ANSWER] < 2.8);
    assert_true(cut[BODY] >= 2.0 && cut[BODY] < 4.5);
    assert_true(cut[WAITING] < cut[ANSWER] && cut[ANSWER] < cut[BODY]);
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
