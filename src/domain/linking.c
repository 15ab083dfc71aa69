/*
 * linking.c - mention counting and salience scoring.
 */
#include "domain/linking.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct tally {
    struct entity_link *links;
    size_t n, cap;
    double weight; /* weight of each mention in the part being scanned */
    bool nomem;
};

static struct entity_link *tally_find(struct tally *t, int64_t entity_id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->links[i].entity_id == entity_id)
            return &t->links[i];
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct entity_link *grown = realloc(t->links, cap * sizeof(*grown));
        if (!grown) {
            t->nomem = true;
            return NULL;
        }
        t->links = grown;
        t->cap = cap;
    }
    struct entity_link *l = &t->links[t->n++];
    memset(l, 0, sizeof(*l));
    l->entity_id = entity_id;
    return l;
}

static void on_mention(void *cls, const struct mention *mention)
{
    struct tally *t = cls;
    struct entity_link *l = tally_find(t, mention->entity_id);
    if (l) {
        l->mentions++;
        l->weight += t->weight;
    }
}

static void scan_part(const struct matcher *m, struct tally *t, const char *text, double weight)
{
    if (!text || t->nomem)
        return;
    t->weight = weight;
    if (matcher_scan(m, text, strlen(text), on_mention, t) != NS_OK)
        t->nomem = true;
}

static int by_salience(const void *a, const void *b)
{
    const struct entity_link *x = a, *y = b;
    if (x->weight != y->weight)
        return x->weight > y->weight ? -1 : 1;
    if (x->mentions != y->mentions)
        return x->mentions > y->mentions ? -1 : 1;
    return x->entity_id < y->entity_id ? -1 : x->entity_id > y->entity_id;
}

long linking_run(const struct matcher *m, const struct link_input *in, struct entity_link **out)
{
    struct tally t = {0};
    scan_part(m, &t, in->headline, LINK_WEIGHT_HEADLINE);
    scan_part(m, &t, in->standfirst, LINK_WEIGHT_STANDFIRST);
    for (size_t i = 0; i < in->n_blocks; i++) {
        if (in->blocks[i].type == BLOCK_IMAGE)
            continue;
        /* Weight falls linearly from the first block to the last. */
        double pos = in->n_blocks > 1 ? (double)i / (double)(in->n_blocks - 1) : 0.0;
        double w = LINK_WEIGHT_BODY_FIRST - pos * (LINK_WEIGHT_BODY_FIRST - LINK_WEIGHT_BODY_LAST);
        scan_part(m, &t, in->blocks[i].text, w);
    }
    for (size_t i = 0; i < in->n_given && !t.nomem; i++) {
        struct entity_link *l = tally_find(&t, in->given[i]);
        if (l) {
            l->given = true;
            if (l->mentions == 0 && l->weight == 0)
                l->weight = LINK_WEIGHT_GIVEN;
        }
    }
    if (t.nomem) {
        free(t.links);
        return -1;
    }
    double total = 0;
    for (size_t i = 0; i < t.n; i++)
        total += t.links[i].weight;
    for (size_t i = 0; i < t.n; i++)
        t.links[i].salience = total > 0 ? t.links[i].weight / total : 0;
    if (t.n > 1)
        qsort(t.links, t.n, sizeof(*t.links), by_salience);
    *out = t.links;
    return (long)t.n;
}
