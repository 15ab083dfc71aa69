/*
 * ratelimit.h - token buckets for per-client rate limiting.
 *
 * A bounded table of buckets keyed by a 16-byte client key (a hash of the
 * client's address or credential, made by the caller). Each bucket holds
 * up to `burst` tokens and refills at `rate` tokens a second; a request
 * takes one. The table never grows: when it is full, the bucket that has
 * refilled the most (the least useful to keep) gives up its slot, so an
 * active abuser keeps its drained bucket while idle clients are forgotten.
 * No I/O; the clock is passed in, so tests can drive it.
 */
#ifndef NS_RATELIMIT_H
#define NS_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

#define RATELIMIT_KEY_LEN 16

struct ratelimit;

/* A bucket's policy: rate tokens a second, at most burst held. rate 0: no limit. */
struct ratelimit_policy {
    double rate;
    double burst;
};

/* What one take decided, for the RateLimit-* and Retry-After headers. */
struct ratelimit_verdict {
    bool allowed;
    unsigned limit;       /* the bucket size */
    unsigned remaining;   /* whole tokens left after this request */
    unsigned reset_s;     /* seconds until the bucket is full again */
    unsigned retry_after; /* when refused: seconds until one token is back (>= 1) */
};

/* A table of about `slots` buckets (at least 64). Returns NULL when out of memory. */
struct ratelimit *ratelimit_new(size_t slots);
void ratelimit_free(struct ratelimit *rl);

/*
 * Takes a token from key's bucket at time now (seconds, monotonic) and
 * fills *v. Returns v->allowed. A refused request takes nothing. Thread-safe.
 */
bool ratelimit_take(struct ratelimit *rl, const unsigned char key[RATELIMIT_KEY_LEN],
                    const struct ratelimit_policy *p, double now, struct ratelimit_verdict *v);

#endif
