/*
 * respcache.c - a sharded, direct-mapped table of answers.
 *
 * Each key hashes to one shard and one slot in it; a new answer replaces
 * whatever held the slot. Each shard has its own lock and byte budget; a
 * put that would go over it first frees the shard's slots from a clock
 * hand on. Lookups copy under the lock (through the callback), so an entry
 * is never freed while it is read.
 */
#include "http/respcache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SHARDS = 16, SLOTS_PER_SHARD = 512, ENTRY_MAX_FRACTION = 8 };

struct slot {
    char *key; /* NULL: empty; one allocation holds key and all strings */
    size_t key_len;
    uint64_t hash;
    uint64_t gen;
    long long born_ms;
    size_t bytes;
    struct respcache_entry e;
};

struct shard {
    pthread_mutex_t lock;
    struct slot slots[SLOTS_PER_SHARD];
    size_t bytes;
    unsigned hand;
};

struct respcache {
    struct shard shards[SHARDS];
    size_t shard_budget;
    long long ttl_ms;
    atomic_uint_fast64_t gen;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
};

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct respcache *respcache_new(size_t max_bytes, unsigned ttl_ms)
{
    struct respcache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    for (size_t i = 0; i < SHARDS; i++)
        pthread_mutex_init(&c->shards[i].lock, NULL);
    c->shard_budget = max_bytes / SHARDS;
    c->ttl_ms = ttl_ms;
    atomic_init(&c->gen, 1);
    randombytes_buf(c->hash_key, sizeof(c->hash_key));
    return c;
}

static void slot_clear(struct shard *sh, struct slot *s)
{
    free(s->key);
    sh->bytes -= s->bytes;
    memset(s, 0, sizeof(*s));
}

void respcache_free(struct respcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < SHARDS; i++) {
        for (size_t j = 0; j < SLOTS_PER_SHARD; j++)
            free(c->shards[i].slots[j].key);
        pthread_mutex_destroy(&c->shards[i].lock);
    }
    free(c);
}

void respcache_invalidate(struct respcache *c)
{
    atomic_fetch_add(&c->gen, 1);
}

uint64_t respcache_generation(const struct respcache *c)
{
    return atomic_load(&c->gen);
}

static uint64_t hash_of(const struct respcache *c, const char *key, size_t len)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v;
    crypto_shorthash(h, (const unsigned char *)key, len, c->hash_key);
    memcpy(&v, h, sizeof(v));
    return v;
}

bool respcache_get(struct respcache *c, const char *key, size_t key_len,
                   void (*use)(const struct respcache_entry *e, void *arg), void *arg)
{
    uint64_t h = hash_of(c, key, key_len);
    struct shard *sh = &c->shards[h % SHARDS];
    struct slot *s = &sh->slots[(h / SHARDS) % SLOTS_PER_SHARD];
    bool hit = false;
    pthread_mutex_lock(&sh->lock);
    if (s->key && s->hash == h && s->key_len == key_len && memcmp(s->key, key, key_len) == 0 &&
        s->gen == atomic_load(&c->gen) && now_ms() - s->born_ms < c->ttl_ms) {
        use(&s->e, arg);
        hit = true;
    }
    pthread_mutex_unlock(&sh->lock);
    return hit;
}

/* Copies src (may be NULL) to *at and returns where it went; advances at. */
static const char *copy_str(char **at, const char *src, size_t len)
{
    if (!src)
        return NULL;
    char *dst = *at;
    memcpy(dst, src, len);
    dst[len] = '\0';
    *at += len + 1;
    return dst;
}

void respcache_put(struct respcache *c, const char *key, size_t key_len, uint64_t gen,
                   const struct respcache_entry *e)
{
    size_t need = key_len + 1 + e->len + 1 + strlen(e->etag) + 1 + strlen(e->content_type) + 1;
    for (size_t i = 0; i < e->n_headers; i++)
        need += strlen(e->header_names[i]) + strlen(e->header_values[i]) + 2;
    if (gen != atomic_load(&c->gen) || e->n_headers > RESPCACHE_HEADERS_MAX ||
        need > c->shard_budget / ENTRY_MAX_FRACTION)
        return;
    char *mem = malloc(need);
    if (!mem)
        return;
    struct slot fresh = {.key = mem, .key_len = key_len, .gen = gen, .bytes = need};
    char *at = mem;
    copy_str(&at, key, key_len);
    fresh.e.body = copy_str(&at, e->body, e->len);
    fresh.e.len = e->len;
    fresh.e.etag = copy_str(&at, e->etag, strlen(e->etag));
    fresh.e.content_type = copy_str(&at, e->content_type, strlen(e->content_type));
    fresh.e.gzipped = e->gzipped;
    fresh.e.n_headers = e->n_headers;
    for (size_t i = 0; i < e->n_headers; i++) {
        fresh.e.header_names[i] = copy_str(&at, e->header_names[i], strlen(e->header_names[i]));
        fresh.e.header_values[i] = copy_str(&at, e->header_values[i], strlen(e->header_values[i]));
    }
    fresh.hash = hash_of(c, key, key_len);
    fresh.born_ms = now_ms();
    struct shard *sh = &c->shards[fresh.hash % SHARDS];
    struct slot *s = &sh->slots[(fresh.hash / SHARDS) % SLOTS_PER_SHARD];
    pthread_mutex_lock(&sh->lock);
    slot_clear(sh, s);
    for (unsigned k = 0; sh->bytes + need > c->shard_budget && k < SLOTS_PER_SHARD; k++) {
        struct slot *old = &sh->slots[sh->hand++ % SLOTS_PER_SHARD];
        if (old->key)
            slot_clear(sh, old);
    }
    *s = fresh;
    sh->bytes += need;
    pthread_mutex_unlock(&sh->lock);
}
