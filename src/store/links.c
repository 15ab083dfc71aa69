/*
 * links.c - an article's links to entities, and the entity counters they
 * drive, plus what relink reads.
 *
 * A new article only adds links, so its entities' counters move by one; an
 * updated article may drop links or move in time, so the counters of every
 * entity it touched are recomputed from the links.
 */
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>

static enum ns_err step_reset(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? NS_OK : store_err(rc);
}

static enum ns_err recount_entity(struct store *st, int64_t entity_id)
{
    sqlite3_stmt *s = store_stmt(
        st, "UPDATE entities SET"
            " article_count = (SELECT count(*) FROM article_entities WHERE entity_id = ?1),"
            " first_seen = (SELECT min(a.published_at) FROM article_entities x"
            "   JOIN articles a ON a.id = x.article_id WHERE x.entity_id = ?1),"
            " last_seen = (SELECT max(a.published_at) FROM article_entities x"
            "   JOIN articles a ON a.id = x.article_id WHERE x.entity_id = ?1)"
            " WHERE id = ?1");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, entity_id);
    return step_reset(s);
}

static enum ns_err count_new_link(struct store *st, int64_t entity_id, int64_t article_id)
{
    sqlite3_stmt *s = store_stmt(
        st, "UPDATE entities SET article_count = article_count + 1,"
            " first_seen = min(coalesce(first_seen, p.t), p.t),"
            " last_seen = max(coalesce(last_seen, p.t), p.t)"
            " FROM (SELECT published_at AS t FROM articles WHERE id = ?2) AS p WHERE id = ?1");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, entity_id);
    sqlite3_bind_int64(s, 2, article_id);
    return step_reset(s);
}

/* The entity ids the article links now (arena-free: malloc'd, caller frees). */
static enum ns_err old_links(struct store *st, int64_t article_id, int64_t **ids, size_t *n)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT entity_id FROM article_entities WHERE article_id = ?");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, article_id);
    size_t cap = 0;
    int rc;
    *ids = NULL;
    *n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *grown = realloc(*ids, cap * sizeof(*grown));
            if (!grown) {
                sqlite3_reset(s);
                return NS_ERR_NOMEM;
            }
            *ids = grown;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(s, 0);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

static enum ns_err insert_links(struct store *st, int64_t article_id,
                                const struct entity_link *links, size_t n)
{
    enum ns_err err = NS_OK;
    for (size_t i = 0; i < n && !err; i++) {
        sqlite3_stmt *s = store_stmt(st, "INSERT INTO article_entities (article_id, entity_id,"
                                         " mentions, salience, given) VALUES (?, ?, ?, ?, ?)");
        if (!s)
            return store_stmt_failed(st);
        sqlite3_bind_int64(s, 1, article_id);
        sqlite3_bind_int64(s, 2, links[i].entity_id);
        sqlite3_bind_int(s, 3, links[i].mentions);
        sqlite3_bind_double(s, 4, links[i].salience);
        sqlite3_bind_int(s, 5, links[i].given);
        err = step_reset(s);
    }
    return err;
}

enum ns_err store_article_links_set(struct store *st, int64_t article_id, bool created,
                                    const struct entity_link *links, size_t n)
{
    if (created) {
        enum ns_err err = insert_links(st, article_id, links, n);
        for (size_t i = 0; i < n && !err; i++)
            err = count_new_link(st, links[i].entity_id, article_id);
        return err;
    }
    int64_t *before = NULL;
    size_t n_before = 0;
    enum ns_err err = old_links(st, article_id, &before, &n_before);
    if (!err) {
        sqlite3_stmt *s = store_stmt(st, "DELETE FROM article_entities WHERE article_id = ?");
        if (!s) {
            free(before);
            return store_stmt_failed(st);
        }
        sqlite3_bind_int64(s, 1, article_id);
        err = step_reset(s);
    }
    if (!err)
        err = insert_links(st, article_id, links, n);
    for (size_t i = 0; i < n_before && !err; i++)
        err = recount_entity(st, before[i]);
    for (size_t i = 0; i < n && !err; i++) {
        bool had = false;
        for (size_t k = 0; k < n_before && !had; k++)
            had = before[k] == links[i].entity_id;
        if (!had)
            err = recount_entity(st, links[i].entity_id);
    }
    free(before);
    return err;
}

enum ns_err store_article_given_entities(struct store *st, struct arena *a, int64_t article_id,
                                         int64_t **ids, size_t *n)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT entity_id FROM article_entities"
                                     " WHERE article_id = ? AND given ORDER BY entity_id");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, article_id);
    size_t cap = 0;
    int rc;
    *n = 0;
    *ids = NULL;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t *grown = arena_grow(a, *ids, *n, &cap, sizeof(*grown));
        if (!grown) {
            sqlite3_reset(s);
            return NS_ERR_NOMEM;
        }
        *ids = grown;
        (*ids)[(*n)++] = sqlite3_column_int64(s, 0);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

enum ns_err store_articles_each_text(struct store *st,
                                     enum ns_err (*fn)(void *cls, const struct article_text *t),
                                     void *cls)
{
    /* A separate statement (not cached): fn writes through the cache meanwhile. */
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT id, headline, standfirst, blocks FROM articles ORDER BY id",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_err(rc);
    enum ns_err err = NS_OK;
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct article_text t = {
            .id = sqlite3_column_int64(s, 0),
            .headline = (const char *)sqlite3_column_text(s, 1),
            .standfirst = (const char *)sqlite3_column_text(s, 2),
            .blocks_json = (const char *)sqlite3_column_text(s, 3),
        };
        err = fn(cls, &t);
    }
    if (!err && rc != SQLITE_DONE)
        err = store_err(rc);
    sqlite3_finalize(s);
    return err;
}
