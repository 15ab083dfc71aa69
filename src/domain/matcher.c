/*
 * matcher.c - a word trie with hashed edges.
 *
 * Words get ids from a vocabulary table; an edge is keyed by (parent node,
 * word id, capitals-only bit). A text word unknown to the vocabulary ends a
 * walk at once, which is the common case and keeps scanning cheap.
 */
#include "domain/matcher.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "domain/fold.h"

#define NO_WORD UINT32_MAX

struct vocab_slot {
    uint64_t hash;
    uint32_t offset; /* into the string pool; word id = slot's id */
    uint32_t id;     /* NO_WORD when the slot is empty */
};

struct edge_slot {
    uint64_t key; /* (parent + 1) << 33 | word << 1 | caps; 0 = empty */
    uint32_t child;
};

struct matcher {
    struct vocab_slot *vocab;
    size_t vocab_cap, vocab_len;
    char *pool;
    size_t pool_len, pool_cap;
    struct edge_slot *edges;
    size_t edges_cap, edges_len;
    int64_t *terminal; /* per node: entity id, 0 when no name ends here */
    size_t nodes, nodes_cap;
    size_t names;
};

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

struct matcher *matcher_new(void)
{
    struct matcher *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->nodes_cap = 1024;
    m->terminal = calloc(m->nodes_cap, sizeof(*m->terminal));
    if (!m->terminal) {
        free(m);
        return NULL;
    }
    m->nodes = 1; /* node 0 is the root */
    return m;
}

void matcher_free(struct matcher *m)
{
    if (!m)
        return;
    free(m->vocab);
    free(m->pool);
    free(m->edges);
    free(m->terminal);
    free(m);
}

void matcher_swap(struct matcher *a, struct matcher *b)
{
    struct matcher tmp = *a;
    *a = *b;
    *b = tmp;
}

size_t matcher_size(const struct matcher *m)
{
    return m->names;
}

/* Returns the vocabulary slot of word (empty slot if absent); the table must have room. */
static struct vocab_slot *vocab_find(const struct matcher *m, const char *w, size_t len,
                                     uint64_t h)
{
    if (!m->vocab_cap)
        return NULL;
    size_t mask = m->vocab_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct vocab_slot *s = &m->vocab[i];
        if (s->id == NO_WORD)
            return s;
        if (s->hash == h && strncmp(m->pool + s->offset, w, len) == 0 &&
            m->pool[s->offset + len] == '\0')
            return s;
    }
}

static uint32_t vocab_lookup(const struct matcher *m, const char *w, size_t len)
{
    struct vocab_slot *s = vocab_find(m, w, len, hash_bytes(w, len));
    return s ? s->id : NO_WORD;
}

static bool vocab_grow(struct matcher *m)
{
    size_t cap = m->vocab_cap ? m->vocab_cap * 2 : 1024;
    struct vocab_slot *old = m->vocab, *fresh = malloc(cap * sizeof(*fresh));
    if (!fresh)
        return false;
    for (size_t i = 0; i < cap; i++)
        fresh[i].id = NO_WORD;
    size_t old_cap = m->vocab_cap;
    m->vocab = fresh;
    m->vocab_cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].id == NO_WORD)
            continue;
        size_t mask = cap - 1, j = old[i].hash & mask;
        while (fresh[j].id != NO_WORD)
            j = (j + 1) & mask;
        fresh[j] = old[i];
    }
    free(old);
    return true;
}

/* Interns word and returns its id, or NO_WORD when memory runs out. */
static uint32_t vocab_intern(struct matcher *m, const char *w, size_t len)
{
    if ((m->vocab_len + 1) * 10 >= m->vocab_cap * 7 && !vocab_grow(m))
        return NO_WORD;
    uint64_t h = hash_bytes(w, len);
    struct vocab_slot *s = vocab_find(m, w, len, h);
    if (s->id != NO_WORD)
        return s->id;
    if (m->pool_len + len + 1 > m->pool_cap) {
        size_t cap = m->pool_cap ? m->pool_cap * 2 : 65536;
        while (cap < m->pool_len + len + 1)
            cap *= 2;
        char *pool = realloc(m->pool, cap);
        if (!pool)
            return NO_WORD;
        m->pool = pool;
        m->pool_cap = cap;
    }
    memcpy(m->pool + m->pool_len, w, len);
    m->pool[m->pool_len + len] = '\0';
    s->hash = h;
    s->offset = (uint32_t)m->pool_len;
    s->id = (uint32_t)m->vocab_len++;
    m->pool_len += len + 1;
    return s->id;
}

static uint64_t edge_key(uint32_t parent, uint32_t word, bool caps)
{
    /* parent + 1: the root's edges must not produce the empty-slot key 0 */
    return ((uint64_t)(parent + 1) << 33) | ((uint64_t)word << 1) | (caps ? 1 : 0);
}

static struct edge_slot *edge_find(const struct matcher *m, uint64_t key)
{
    if (!m->edges_cap)
        return NULL;
    size_t mask = m->edges_cap - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask)
        if (m->edges[i].key == key || m->edges[i].key == 0)
            return &m->edges[i];
}

/* The child of parent by (word, caps), or 0 when there is none (0 is the root, never a child). */
static uint32_t edge_child(const struct matcher *m, uint32_t parent, uint32_t word, bool caps)
{
    struct edge_slot *e = edge_find(m, edge_key(parent, word, caps));
    return e && e->key ? e->child : 0;
}

static bool edges_grow(struct matcher *m)
{
    size_t cap = m->edges_cap ? m->edges_cap * 2 : 4096;
    struct edge_slot *old = m->edges, *fresh = calloc(cap, sizeof(*fresh));
    if (!fresh)
        return false;
    size_t old_cap = m->edges_cap;
    m->edges = fresh;
    m->edges_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key)
            *edge_find(m, old[i].key) = old[i];
    free(old);
    return true;
}

/* Returns the child, creating it; 0 when memory runs out. */
static uint32_t edge_add(struct matcher *m, uint32_t parent, uint32_t word, bool caps)
{
    uint32_t child = edge_child(m, parent, word, caps);
    if (child)
        return child;
    if ((m->edges_len + 1) * 10 >= m->edges_cap * 7 && !edges_grow(m))
        return 0;
    if (m->nodes == m->nodes_cap) {
        int64_t *t = realloc(m->terminal, m->nodes_cap * 2 * sizeof(*t));
        if (!t)
            return 0;
        memset(t + m->nodes_cap, 0, m->nodes_cap * sizeof(*t));
        m->terminal = t;
        m->nodes_cap *= 2;
    }
    struct edge_slot *e = edge_find(m, edge_key(parent, word, caps));
    e->key = edge_key(parent, word, caps);
    e->child = (uint32_t)m->nodes++;
    m->edges_len++;
    return e->child;
}

/* Words of a name as the trie stores them. */
struct name_words {
    const char *words[MATCHER_WORDS_MAX];
    char buf[MATCHER_WORDS_MAX][FOLD_WORD_MAX + 1];
    size_t lens[MATCHER_WORDS_MAX];
    bool caps[MATCHER_WORDS_MAX];
    size_t n;
    bool too_long;
};

static bool collect_name_word(void *cls, const struct fold_word *w)
{
    struct name_words *nw = cls;
    if (nw->n == MATCHER_WORDS_MAX) {
        nw->too_long = true;
        return false;
    }
    memcpy(nw->buf[nw->n], w->folded, w->folded_len + 1);
    nw->words[nw->n] = nw->buf[nw->n];
    nw->lens[nw->n] = w->folded_len;
    /* Only short words in capitals are acronyms; "NATO" is, "UNESCO" (6) is not. */
    size_t letters = 0;
    for (size_t i = 0; i < w->len; i++)
        letters += ((unsigned char)w->start[i] & 0xC0) != 0x80;
    nw->caps[nw->n] = w->all_caps && letters <= MATCHER_ACRONYM_MAX;
    nw->n++;
    return true;
}

enum ns_err matcher_add(struct matcher *m, const char *name, int64_t entity_id)
{
    struct name_words nw;
    nw.n = 0;
    nw.too_long = false;
    fold_words(name, strlen(name), collect_name_word, &nw);
    if (nw.n == 0 || nw.too_long || entity_id <= 0)
        return NS_ERR_INVALID;
    uint32_t node = 0;
    for (size_t i = 0; i < nw.n; i++) {
        uint32_t word = vocab_intern(m, nw.words[i], nw.lens[i]);
        if (word == NO_WORD)
            return NS_ERR_NOMEM;
        node = edge_add(m, node, word, nw.caps[i]);
        if (!node)
            return NS_ERR_NOMEM;
    }
    if (!m->terminal[node]) {
        m->terminal[node] = entity_id;
        m->names++;
    }
    return NS_OK;
}

struct text_word {
    uint32_t id; /* NO_WORD: not in any name */
    bool caps;
    size_t start, end;
};

struct scan {
    const struct matcher *m;
    const char *text;
    struct text_word *words;
    size_t n, cap;
    bool nomem;
};

static bool collect_text_word(void *cls, const struct fold_word *w)
{
    struct scan *s = cls;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        struct text_word *grown = realloc(s->words, cap * sizeof(*grown));
        if (!grown) {
            s->nomem = true;
            return false;
        }
        s->words = grown;
        s->cap = cap;
    }
    struct text_word *t = &s->words[s->n++];
    t->id = vocab_lookup(s->m, w->folded, w->folded_len);
    t->caps = w->all_caps;
    t->start = (size_t)(w->start - s->text);
    t->end = t->start + w->len;
    return true;
}

/*
 * Longest name starting at words[i] below node: returns the number of
 * words it spans (0 for none) and its entity. A word in capitals may follow
 * either kind of edge; any other word only the case-blind one.
 */
static size_t longest_from(const struct matcher *m, const struct text_word *words, size_t n,
                           size_t i, uint32_t node, size_t depth, int64_t *entity)
{
    size_t best = 0;
    if (i >= n || depth >= MATCHER_WORDS_MAX || words[i].id == NO_WORD)
        return 0;
    for (int caps = 0; caps <= (words[i].caps ? 1 : 0); caps++) {
        uint32_t child = edge_child(m, node, words[i].id, caps);
        if (!child)
            continue;
        int64_t deeper_entity = 0;
        size_t deeper = longest_from(m, words, n, i + 1, child, depth + 1, &deeper_entity);
        if (deeper && deeper + 1 > best) {
            best = deeper + 1;
            *entity = deeper_entity;
        } else if (m->terminal[child] && best < 1) {
            best = 1;
            *entity = m->terminal[child];
        }
    }
    return best;
}

enum ns_err matcher_scan(const struct matcher *m, const char *text, size_t len,
                         void (*fn)(void *cls, const struct mention *mention), void *cls)
{
    struct scan s = {.m = m, .text = text};
    if (m->names == 0)
        return NS_OK;
    fold_words(text, len, collect_text_word, &s);
    for (size_t i = 0; i < s.n;) {
        int64_t entity = 0;
        size_t span = longest_from(m, s.words, s.n, i, 0, 0, &entity);
        if (span) {
            struct mention mention = {entity, s.words[i].start, s.words[i + span - 1].end};
            fn(cls, &mention);
            i += span;
        } else {
            i++;
        }
    }
    free(s.words);
    return s.nomem ? NS_ERR_NOMEM : NS_OK;
}
