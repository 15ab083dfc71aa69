/*
 * ingest.c - parse + validate + upsert + link, each write undone alone on
 * failure.
 */
#include "ingest/ingest.h"

#include <stdlib.h>
#include <string.h>

#include "domain/linking.h"
#include "domain/paywall.h"
#include "json/article_parse.h"
#include "json/entity_parse.h"

static void learn_name(void *cls, const char *name, int64_t id)
{
    /* A name with no words cannot be matched; a full matcher only misses it. */
    (void)matcher_add(cls, name, id);
}

/* A matcher that remembers whether a write taught it names (to undo them on rollback). */
struct learning {
    struct matcher *m;
    bool learned;
};

static void learn_new_name(void *cls, const char *name, int64_t id)
{
    struct learning *l = cls;
    l->learned = true;
    learn_name(l->m, name, id);
}

/*
 * Rolls back a failed write's savepoint; when the write had taught the
 * matcher names, the entities behind them are gone again, so the matcher is
 * rebuilt. Returns err, or the rollback's or the rebuild's own failure (a
 * failed rollback is never a refusal of the input: the transaction must go).
 */
static enum ns_err undo_write(struct store *st, const struct learning *l, enum ns_err err)
{
    enum ns_err undone = store_rollback_savepoint(st);
    if (undone)
        return undone; /* half the write may remain: the caller must drop the transaction */
    if (l->learned) {
        enum ns_err refreshed = ingest_matcher_refresh(st, l->m);
        if (refreshed)
            return refreshed;
    }
    return err;
}

enum ns_err ingest_matcher_refresh(struct store *st, struct matcher *m)
{
    struct matcher *fresh = NULL;
    enum ns_err err = ingest_matcher_load(st, &fresh);
    if (!err)
        matcher_swap(m, fresh);
    matcher_free(fresh);
    return err;
}

enum ns_err ingest_matcher_load(struct store *st, struct matcher **out)
{
    *out = matcher_new();
    if (!*out)
        return NS_ERR_NOMEM;
    enum ns_err err = store_entity_names_each(st, learn_name, *out);
    if (err) {
        matcher_free(*out);
        *out = NULL;
    }
    return err;
}

/* The text of blocks [from, to) joined by spaces, in the arena; NULL when memory runs out. */
static char *blocks_text(struct arena *a, const struct block *blocks, size_t from, size_t to)
{
    size_t len = 1;
    for (size_t i = from; i < to; i++)
        len += blocks[i].text ? strlen(blocks[i].text) + 1 : 0;
    char *out = arena_alloc(a, len), *p = out;
    if (!out)
        return NULL;
    for (size_t i = from; i < to; i++) {
        if (!blocks[i].text)
            continue;
        size_t n = strlen(blocks[i].text);
        if (p != out)
            *p++ = ' ';
        memcpy(p, blocks[i].text, n);
        p += n;
    }
    *p = '\0';
    return out;
}

/* Indexes the article for search, its body split where a locked reader's preview ends. */
static enum ns_err index_article(struct store *st, struct arena *a, int64_t id,
                                 const struct block *blocks, size_t n)
{
    size_t preview = (size_t)paywall_preview_blocks(n);
    char *lead = blocks_text(a, blocks, 0, preview), *rest = blocks_text(a, blocks, preview, n);
    if (!lead || !rest)
        return NS_ERR_NOMEM;
    return store_article_search_refresh(st, id, lead, rest);
}

/* Links the article to its topics and to the entities it names and mentions. */
static enum ns_err link_article(struct store *st, struct learning *l, struct arena *a,
                                const struct article_write *w, int64_t id, bool created,
                                int64_t now)
{
    int64_t *topic_ids = arena_calloc(a, w->n_topics + 1, sizeof(*topic_ids));
    int64_t *given = arena_calloc(a, w->n_entities + 1, sizeof(*given));
    if (!topic_ids || !given)
        return NS_ERR_NOMEM;
    enum ns_err err = NS_OK;
    for (size_t i = 0; i < w->n_topics && !err; i++)
        err = store_topic_resolve(st, w->topics[i], now, &topic_ids[i]);
    if (!err)
        err = store_article_topics_set(st, id, topic_ids, w->n_topics);
    for (size_t i = 0; i < w->n_entities && !err; i++) {
        enum upsert_result r;
        err = store_entity_upsert(st, a, &w->entities[i], false, now, &r, &given[i],
                                  learn_new_name, l);
    }
    if (err)
        return err;
    struct link_input in = {w->headline, w->standfirst, w->blocks, w->n_blocks, given,
                            w->n_entities};
    struct entity_link *links = NULL;
    long n = linking_run(l->m, &in, &links);
    if (n < 0)
        return NS_ERR_NOMEM;
    err = store_article_links_set(st, id, created, links, (size_t)n);
    free(links);
    if (!err)
        err = index_article(st, a, id, w->blocks, w->n_blocks);
    return err;
}

/* Turns store refusals that the writer can fix into field errors. */
static enum ns_err explain(enum ns_err err, const struct article_write *w, bool url_clash,
                           struct field_errors *fe)
{
    if (err == NS_ERR_NOT_FOUND) {
        field_errors_add(fe, "publication",
                         "no publication '%s': give an object with a name to create it",
                         w->publication.slug ? w->publication.slug : "");
        return NS_ERR_INVALID;
    }
    if (err == NS_ERR_CONFLICT) {
        field_errors_add(fe, url_clash || !w->external_id ? "url" : "external_id",
                         "belongs to another article of this publication");
        return NS_ERR_CONFLICT;
    }
    if (err == NS_ERR_INVALID) {
        field_errors_add(fe, "topics", "a topic or entity name has no letters or digits");
        return NS_ERR_INVALID;
    }
    return err;
}

static enum ns_err write_article(struct store *st, struct matcher *m, struct arena *a,
                                 const char *json, size_t len, int64_t target, int64_t now,
                                 enum upsert_result *result, int64_t *id, struct field_errors *fe)
{
    struct article_write w;
    enum ns_err err = article_parse(a, json, len, &w, fe);
    if (err)
        return err;
    err = store_savepoint(st);
    if (err)
        return err;
    bool url_clash = false;
    struct learning l = {m, false};
    err = store_article_upsert(st, a, &w, target, now, result, id, &url_clash);
    if (!err && *result != UPSERT_UNCHANGED)
        err = link_article(st, &l, a, &w, *id, *result == UPSERT_CREATED, now);
    if (err == NS_OK)
        return store_release(st);
    err = undo_write(st, &l, err);
    return explain(err, &w, url_clash, fe);
}

enum ns_err ingest_article(struct store *st, struct matcher *m, struct arena *a, const char *json,
                           size_t len, int64_t now, enum upsert_result *result, int64_t *id,
                           struct field_errors *fe)
{
    return write_article(st, m, a, json, len, 0, now, result, id, fe);
}

enum ns_err ingest_article_replace(struct store *st, struct matcher *m, struct arena *a,
                                   const char *json, size_t len, int64_t target, int64_t now,
                                   enum upsert_result *result, struct field_errors *fe)
{
    int64_t id = 0;
    return write_article(st, m, a, json, len, target, now, result, &id, fe);
}

enum ns_err ingest_entity(struct store *st, struct matcher *m, struct arena *a, const char *json,
                          size_t len, int64_t now, enum upsert_result *result, int64_t *id,
                          struct field_errors *fe)
{
    struct entity_write w;
    enum ns_err err = entity_parse(a, json, len, &w, fe);
    if (err)
        return err;
    err = store_savepoint(st);
    if (err)
        return err;
    struct learning l = {m, false};
    err = store_entity_upsert(st, a, &w, true, now, result, id, learn_new_name, &l);
    if (err == NS_OK)
        return store_release(st);
    err = undo_write(st, &l, err);
    if (err == NS_ERR_INVALID) {
        field_errors_add(fe, "name", "has no letters or digits");
    } else if (err == NS_ERR_CONFLICT) {
        field_errors_add(fe, "wikidata", "belongs to another entity");
        err = NS_ERR_INVALID;
    }
    return err;
}

struct relink_ctx {
    struct store *st;
    const struct matcher *m;
    long count;
};

static enum ns_err relink_one(void *cls, const struct article_text *t)
{
    struct relink_ctx *r = cls;
    struct arena a;
    struct block *blocks = NULL;
    int64_t *given = NULL;
    size_t n_given = 0;
    arena_init(&a);
    long n_blocks = article_blocks_from_json(&a, t->blocks_json, &blocks);
    enum ns_err err = n_blocks < 0 ? NS_ERR_DB : NS_OK;
    if (!err)
        err = store_article_given_entities(r->st, &a, t->id, &given, &n_given);
    if (!err) {
        struct link_input in = {t->headline, t->standfirst, blocks, (size_t)n_blocks, given,
                                n_given};
        struct entity_link *links = NULL;
        long n = linking_run(r->m, &in, &links);
        err = n < 0 ? NS_ERR_NOMEM : store_article_links_set(r->st, t->id, false, links, (size_t)n);
        free(links);
        if (!err)
            err = index_article(r->st, &a, t->id, blocks, (size_t)n_blocks);
    }
    arena_release(&a);
    r->count++;
    return err;
}

enum ns_err ingest_relink(struct store *st, const struct matcher *m, long *count)
{
    struct relink_ctx r = {st, m, 0};
    enum ns_err err = store_articles_each_text(st, relink_one, &r);
    *count = r.count;
    return err;
}
