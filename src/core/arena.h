/*
 * arena.h - a bump allocator that lives as long as one request or one
 * imported line.
 *
 * Everything a store query returns for a request (strings, row arrays) is
 * carved out of the request's arena and freed at once when the request ends,
 * so callers never free rows one by one. Allocation failure returns NULL and
 * leaves the arena usable.
 */
#ifndef NS_ARENA_H
#define NS_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct arena_chunk;

struct arena {
    struct arena_chunk *head;
    bool failed; /* an allocation failed: what was built from this arena may lack parts */
};

void arena_init(struct arena *a);
/* Frees every chunk; the arena is empty and usable again afterwards. */
void arena_release(struct arena *a);

/* Returns len bytes aligned for any type, or NULL when memory runs out. */
void *arena_alloc(struct arena *a, size_t len);
/* Returns a zeroed array of n elements of size sz, or NULL (also on overflow). */
void *arena_calloc(struct arena *a, size_t n, size_t sz);
/*
 * Makes room for one more element in an arena array of n elements of size
 * sz with capacity *cap: when full, returns a copy with twice the capacity
 * (the old one stays in the arena), else arr itself. Returns NULL when memory
 * runs out (arr is untouched then).
 */
void *arena_grow(struct arena *a, void *arr, size_t n, size_t *cap, size_t sz);

/* Copies s (NULL gives NULL); returns NULL when memory runs out. */
char *arena_strdup(struct arena *a, const char *s);
/* Copies len bytes of s and terminates them; returns NULL when memory runs out. */
char *arena_strndup(struct arena *a, const char *s, size_t len);

#endif
