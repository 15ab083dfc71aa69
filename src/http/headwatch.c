/*
 * headwatch.c - a table of watched sockets and one thread that checks it
 * about every second.
 *
 * The table lock guards adding, removing and the scan, so a descriptor is
 * only ever shut down while its connection is still open; the per-slot
 * deadline is an atomic, so the per-request calls take no lock.
 */
#include "http/headwatch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct slot {
    int fd;                   /* -1: free */
    atomic_llong deadline_ms; /* when the connection is cut; 0: no deadline */
};

struct headwatch {
    pthread_mutex_t lock;
    pthread_cond_t stop_cond;
    pthread_t thread;
    bool stop;
    long long timeout_ms;
    struct slot *slots;
    unsigned n;
    unsigned hint; /* where to look for a free slot next */
};

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Shuts down the sockets past their deadline; libmicrohttpd then sees them end. */
static void sweep(struct headwatch *hw)
{
    long long now = now_ms();
    for (unsigned i = 0; i < hw->n; i++) {
        long long deadline = atomic_load(&hw->slots[i].deadline_ms);
        if (hw->slots[i].fd >= 0 && deadline && now > deadline) {
            shutdown(hw->slots[i].fd, SHUT_RDWR);
            atomic_store(&hw->slots[i].deadline_ms, 0); /* once is enough */
        }
    }
}

static void *watch(void *arg)
{
    struct headwatch *hw = arg;
    pthread_mutex_lock(&hw->lock);
    while (!hw->stop) {
        struct timespec wake;
        clock_gettime(CLOCK_REALTIME, &wake);
        wake.tv_sec += 1;
        pthread_cond_timedwait(&hw->stop_cond, &hw->lock, &wake);
        if (!hw->stop)
            sweep(hw);
    }
    pthread_mutex_unlock(&hw->lock);
    return NULL;
}

struct headwatch *headwatch_new(unsigned slots, unsigned timeout_s)
{
    struct headwatch *hw = calloc(1, sizeof(*hw));
    if (!hw)
        return NULL;
    hw->slots = calloc(slots ? slots : 1, sizeof(*hw->slots));
    if (!hw->slots) {
        free(hw);
        return NULL;
    }
    hw->n = slots ? slots : 1;
    hw->timeout_ms = (long long)timeout_s * 1000;
    for (unsigned i = 0; i < hw->n; i++)
        hw->slots[i].fd = -1;
    pthread_mutex_init(&hw->lock, NULL);
    pthread_cond_init(&hw->stop_cond, NULL);
    if (pthread_create(&hw->thread, NULL, watch, hw) != 0) {
        pthread_cond_destroy(&hw->stop_cond);
        pthread_mutex_destroy(&hw->lock);
        free(hw->slots);
        free(hw);
        return NULL;
    }
    return hw;
}

void headwatch_free(struct headwatch *hw)
{
    if (!hw)
        return;
    pthread_mutex_lock(&hw->lock);
    hw->stop = true;
    pthread_cond_signal(&hw->stop_cond);
    pthread_mutex_unlock(&hw->lock);
    pthread_join(hw->thread, NULL);
    pthread_cond_destroy(&hw->stop_cond);
    pthread_mutex_destroy(&hw->lock);
    free(hw->slots);
    free(hw);
}

int headwatch_add(struct headwatch *hw, int fd)
{
    int slot = -1;
    pthread_mutex_lock(&hw->lock);
    for (unsigned k = 0; k < hw->n && slot < 0; k++) {
        unsigned i = (hw->hint + k) % hw->n;
        if (hw->slots[i].fd < 0) {
            slot = (int)i;
            hw->slots[i].fd = fd;
            atomic_store(&hw->slots[i].deadline_ms, now_ms() + hw->timeout_ms);
            hw->hint = i + 1;
        }
    }
    pthread_mutex_unlock(&hw->lock);
    return slot;
}

void headwatch_remove(struct headwatch *hw, int slot)
{
    if (slot < 0 || (unsigned)slot >= hw->n)
        return;
    pthread_mutex_lock(&hw->lock);
    hw->slots[slot].fd = -1;
    atomic_store(&hw->slots[slot].deadline_ms, 0);
    pthread_mutex_unlock(&hw->lock);
}

void headwatch_busy(struct headwatch *hw, int slot)
{
    if (slot >= 0 && (unsigned)slot < hw->n)
        atomic_store(&hw->slots[slot].deadline_ms, 0);
}

void headwatch_waiting(struct headwatch *hw, int slot)
{
    if (slot >= 0 && (unsigned)slot < hw->n)
        atomic_store(&hw->slots[slot].deadline_ms, now_ms() + hw->timeout_ms);
}

void headwatch_transfer(struct headwatch *hw, int slot, size_t bytes)
{
    if (slot >= 0 && (unsigned)slot < hw->n)
        atomic_store(&hw->slots[slot].deadline_ms,
                     now_ms() + hw->timeout_ms + (long long)(bytes * 1000 / HEADWATCH_MIN_RATE));
}

void headwatch_extend(struct headwatch *hw, int slot, size_t bytes, long long ms)
{
    long long more = (long long)(bytes * 1000 / HEADWATCH_MIN_RATE) + ms;
    if (slot >= 0 && (unsigned)slot < hw->n && atomic_load(&hw->slots[slot].deadline_ms))
        atomic_fetch_add(&hw->slots[slot].deadline_ms, more);
}
