/*
 * arena.c - the bump allocator of arena.h.
 *
 * Chunks grow geometrically; a request that needs one large block gets a
 * chunk of its own. Nothing is ever freed individually.
 */
#include "core/arena.h"

#include "core/oom.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    struct arena_chunk *next;
    size_t cap;
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

enum { ARENA_FIRST_CHUNK = 4096 };

void arena_init(struct arena *a)
{
    a->head = NULL;
    a->failed = false;
}

void arena_release(struct arena *a)
{
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->failed = false;
}

void *arena_alloc(struct arena *a, size_t len)
{
    const size_t align = alignof(max_align_t);
    size_t need = (len + align - 1) & ~(align - 1);
    struct arena_chunk *c = a->head;

    if (need < len)
        return NULL;
    if (!c || c->cap - c->used < need) {
        size_t cap = c ? c->cap * 2 : ARENA_FIRST_CHUNK;
        if (cap < need)
            cap = need;
        if (cap > SIZE_MAX - sizeof(*c))
            return NULL;
        c = malloc(sizeof(*c) + cap);
        if (!c) {
            a->failed = true;
            oom_note();
            return NULL;
        }
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    return p;
}

void *arena_calloc(struct arena *a, size_t n, size_t sz)
{
    if (sz && n > SIZE_MAX / sz)
        return NULL;
    size_t len = n * sz;
    void *p = arena_alloc(a, len > 0 ? len : 1);
    if (p)
        memset(p, 0, n * sz);
    return p;
}

void *arena_grow(struct arena *a, void *arr, size_t n, size_t *cap, size_t sz)
{
    if (arr && n < *cap)
        return arr;
    size_t grown = *cap ? *cap * 2 : 8;
    void *fresh = arena_calloc(a, grown, sz);
    if (!fresh)
        return NULL;
    if (arr && n)
        memcpy(fresh, arr, n * sz);
    *cap = grown;
    return fresh;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}
