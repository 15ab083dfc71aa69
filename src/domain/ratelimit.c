/*
 * ratelimit.c - token buckets in a fixed table of locked shards.
 *
 * Slots are found by open addressing over a short probe window inside one
 * shard; each shard has its own mutex, so threads rarely wait on each
 * other. Nothing here allocates after ratelimit_new.
 */
#include "domain/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { SHARDS = 64, PROBE = 8 };

struct slot {
    unsigned char key[RATELIMIT_KEY_LEN];
    bool used;
    double tokens;
    double last; /* when tokens was last brought up to date */
};

struct shard {
    pthread_mutex_t lock;
    struct slot *slots;
    size_t n;
};

struct ratelimit {
    struct shard shards[SHARDS];
};

struct ratelimit *ratelimit_new(size_t slots)
{
    struct ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    size_t per = slots / SHARDS < PROBE ? PROBE : slots / SHARDS;
    for (size_t i = 0; i < SHARDS; i++) {
        rl->shards[i].slots = calloc(per, sizeof(struct slot));
        rl->shards[i].n = per;
        pthread_mutex_init(&rl->shards[i].lock, NULL);
        if (!rl->shards[i].slots) {
            ratelimit_free(rl);
            return NULL;
        }
    }
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; i < SHARDS; i++) {
        free(rl->shards[i].slots);
        pthread_mutex_destroy(&rl->shards[i].lock);
    }
    free(rl);
}

static double refilled(const struct slot *s, const struct ratelimit_policy *p, double now)
{
    double t = s->tokens + (now > s->last ? now - s->last : 0) * p->rate;
    return t > p->burst ? p->burst : t;
}

/* The key's slot in the shard, or a free or evicted one made fresh (full bucket). */
static struct slot *find_slot(struct shard *sh, const unsigned char *key, uint64_t h,
                              const struct ratelimit_policy *p, double now)
{
    struct slot *victim = NULL;
    double victim_tokens = -1;
    for (size_t i = 0; i < PROBE; i++) {
        struct slot *s = &sh->slots[(h + i) % sh->n];
        if (s->used && memcmp(s->key, key, RATELIMIT_KEY_LEN) == 0)
            return s;
        double t = s->used ? refilled(s, p, now) : INFINITY;
        if (t > victim_tokens) {
            victim = s;
            victim_tokens = t;
        }
    }
    memcpy(victim->key, key, RATELIMIT_KEY_LEN);
    victim->used = true;
    victim->tokens = p->burst;
    victim->last = now;
    return victim;
}

bool ratelimit_take(struct ratelimit *rl, const unsigned char key[RATELIMIT_KEY_LEN],
                    const struct ratelimit_policy *p, double now, struct ratelimit_verdict *v)
{
    if (p->rate <= 0) {
        *v = (struct ratelimit_verdict){.allowed = true};
        return true;
    }
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    struct shard *sh = &rl->shards[h % SHARDS];
    h /= SHARDS;
    pthread_mutex_lock(&sh->lock);
    struct slot *s = find_slot(sh, key, h, p, now);
    s->tokens = refilled(s, p, now);
    s->last = now;
    v->allowed = s->tokens >= 1.0;
    if (v->allowed)
        s->tokens -= 1.0;
    double tokens = s->tokens;
    pthread_mutex_unlock(&sh->lock);
    v->limit = (unsigned)p->burst;
    v->remaining = (unsigned)floor(tokens);
    v->reset_s = (unsigned)ceil((p->burst - tokens) / p->rate);
    double wait = ceil((1.0 - tokens) / p->rate);
    v->retry_after = v->allowed ? 0 : wait < 1 ? 1 : (unsigned)wait;
    return v->allowed;
}
