/*
 * respcache.h - whole answers to anonymous reads, kept for a moment and
 * dropped the instant the data may have changed.
 *
 * An entry is the body as sent (gzip or not), its ETag, content type and
 * the handler's own headers, keyed by what decides them: the path, the
 * decoded query in order, and the encoding. Entries carry the generation
 * they were computed in; anything that may change the data bumps the
 * generation (the caller asks the store before every lookup), so a read
 * after a write never sees an answer from before it. A short time to live
 * bounds answers that depend on the clock (top stories' windows). Memory
 * is capped; over the cap the oldest entries go first.
 */
#ifndef NS_RESPCACHE_H
#define NS_RESPCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESPCACHE_HEADERS_MAX 4

struct respcache;

/* One answer, as handed in (copied) and as shown to a hit's callback (borrowed). */
struct respcache_entry {
    const char *body;
    size_t len;
    const char *etag;
    const char *content_type;
    bool gzipped;
    const char *header_names[RESPCACHE_HEADERS_MAX];
    const char *header_values[RESPCACHE_HEADERS_MAX];
    size_t n_headers;
};

/* A cache of at most max_bytes, entries living ttl_ms; NULL when out of memory. */
struct respcache *respcache_new(size_t max_bytes, unsigned ttl_ms);
void respcache_free(struct respcache *c);

/* Drops every entry at once (by moving to a new generation). */
void respcache_invalidate(struct respcache *c);

/* The current generation: read it before computing an answer, pass it to put. */
uint64_t respcache_generation(const struct respcache *c);

/*
 * Looks key up; on a live entry of the current generation calls use(e, arg)
 * while the entry is held (the callback must copy what it keeps) and
 * returns true. Otherwise returns false and calls nothing.
 */
bool respcache_get(struct respcache *c, const char *key, size_t key_len,
                   void (*use)(const struct respcache_entry *e, void *arg), void *arg);

/*
 * Stores a copy of e under key, computed in generation gen. Does nothing
 * when gen is no longer current, the entry is too large, or memory fails.
 */
void respcache_put(struct respcache *c, const char *key, size_t key_len, uint64_t gen,
                   const struct respcache_entry *e);

#endif
