/*
 * linking.h - which entities an article mentions, how often, and how
 * central each is to it (salience).
 *
 * Pure logic over a matcher; no I/O.
 */
#ifndef NS_LINKING_H
#define NS_LINKING_H

#include <stddef.h>
#include <stdint.h>

#include "domain/article.h"
#include "domain/matcher.h"

/* Mention weights: where a mention stands says how central the entity is. */
#define LINK_WEIGHT_HEADLINE 3.0
#define LINK_WEIGHT_STANDFIRST 2.0
#define LINK_WEIGHT_BODY_FIRST 1.0
#define LINK_WEIGHT_BODY_LAST 0.5
/* Weight of an entity named by the writer but not found in the text. */
#define LINK_WEIGHT_GIVEN 0.5

struct link_input {
    const char *headline;
    const char *standfirst; /* may be NULL */
    const struct block *blocks;
    size_t n_blocks;
    const int64_t *given; /* entities the writer named (linked even if not found) */
    size_t n_given;
};

struct entity_link {
    int64_t entity_id;
    int mentions;
    double weight;
    double salience; /* weight / total weight of the article, 0..1 */
    bool given;
};

/*
 * Scans the article and returns its links in *out (malloc'd; the caller
 * frees it), most salient first (ties: more mentions, then lower id).
 * Returns the number of links, or -1 when memory runs out.
 */
long linking_run(const struct matcher *m, const struct link_input *in, struct entity_link **out);

#endif
