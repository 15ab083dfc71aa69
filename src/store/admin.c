/*
 * admin.c - editorial writes: entity edits and merges, topics,
 * publications and the editors' picks. Each runs inside the caller's
 * transaction.
 */
#include "store/store_impl.h"

#include <string.h>

#include "domain/fold.h"
#include "domain/slug.h"
#include "store/slugs.h"

static enum ns_err run(struct store *st, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    (void)st;
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? NS_OK : store_err(rc);
}

enum ns_err store_entity_reindex(struct store *st, int64_t entity_id)
{
    PREPARE(s, "UPDATE article_search SET entities = coalesce((SELECT group_concat(n, ' ') FROM ("
               " SELECT e.name AS n FROM article_entities x JOIN entities e ON e.id = x.entity_id"
               " WHERE x.article_id = article_search.rowid UNION ALL SELECT al.alias"
               " FROM article_entities x JOIN entity_aliases al ON al.entity_id = x.entity_id"
               " WHERE x.article_id = article_search.rowid)), '')"
               " WHERE rowid IN (SELECT article_id FROM article_entities WHERE entity_id = ?)");
    sqlite3_bind_int64(s, 1, entity_id);
    return run(st, s);
}

enum ns_err store_entity_patch(struct store *st, struct arena *a, int64_t id,
                               const struct entity_patch *p)
{
    enum ns_err err = NS_OK;
    if (p->name) {
        char *key = fold_key(a, p->name);
        if (!key)
            return NS_ERR_NOMEM;
        PREPARE(taken, "SELECT 1 FROM entities WHERE name_key = ? AND id != ?");
        bind_text(taken, 1, key);
        sqlite3_bind_int64(taken, 2, id);
        int rc = sqlite3_step(taken);
        sqlite3_reset(taken);
        if (rc == SQLITE_ROW)
            return NS_ERR_CONFLICT; /* two entities of one name could not be told apart */
        PREPARE(s, "UPDATE entities SET name = ?2, name_key = ?3 WHERE id = ?1");
        sqlite3_bind_int64(s, 1, id);
        bind_text(s, 2, p->name);
        bind_text(s, 3, key);
        err = run(st, s);
    }
    if (!err && p->type) {
        PREPARE(s, "UPDATE entities SET type = ? WHERE id = ?");
        bind_text(s, 1, p->type);
        sqlite3_bind_int64(s, 2, id);
        err = run(st, s);
    }
    if (!err && p->set_description) {
        PREPARE(s, "UPDATE entities SET description = ? WHERE id = ?");
        bind_text(s, 1, p->description);
        sqlite3_bind_int64(s, 2, id);
        err = run(st, s);
    }
    if (!err && p->set_wikidata) {
        PREPARE(s, "UPDATE entities SET wikidata = ? WHERE id = ?");
        bind_text(s, 1, p->wikidata);
        sqlite3_bind_int64(s, 2, id);
        err = run(st, s);
    }
    if (!err && p->set_aliases) {
        PREPARE(s, "DELETE FROM entity_aliases WHERE entity_id = ?");
        sqlite3_bind_int64(s, 1, id);
        err = run(st, s);
        for (size_t i = 0; i < p->n_aliases && !err; i++) {
            char *key = fold_key(a, p->aliases[i]);
            char slug[SLUG_BUF];
            slug_make(p->aliases[i], "", slug);
            if (!key)
                return NS_ERR_NOMEM;
            PREPARE(ins, "INSERT OR IGNORE INTO entity_aliases (entity_id, alias, alias_key,"
                         " alias_slug) VALUES (?, ?, ?, ?)");
            sqlite3_bind_int64(ins, 1, id);
            bind_text(ins, 2, p->aliases[i]);
            bind_text(ins, 3, key);
            bind_text(ins, 4, slug);
            err = run(st, ins);
        }
    }
    return err ? err : store_entity_reindex(st, id);
}

enum ns_err store_entity_merge(struct store *st, int64_t from, int64_t into)
{
    static const char *const steps[] = {
        /* articles linked to both: the survivor takes the sum */
        "UPDATE article_entities AS t SET mentions = t.mentions + f.mentions,"
        " salience = t.salience + f.salience, given = max(t.given, f.given)"
        " FROM article_entities AS f WHERE f.entity_id = ?1 AND t.entity_id = ?2"
        " AND t.article_id = f.article_id",
        "DELETE FROM article_entities WHERE entity_id = ?1 AND article_id IN"
        " (SELECT article_id FROM article_entities WHERE entity_id = ?2)",
        "UPDATE article_entities SET entity_id = ?2 WHERE entity_id = ?1",
        /* names: the merged entity's name and aliases become the survivor's aliases */
        "INSERT OR IGNORE INTO entity_aliases (entity_id, alias, alias_key, alias_slug)"
        " SELECT ?2, alias, alias_key, alias_slug FROM entity_aliases WHERE entity_id = ?1",
        "INSERT OR IGNORE INTO entity_aliases (entity_id, alias, alias_key, alias_slug)"
        " SELECT ?2, name, name_key, slug FROM entities WHERE id = ?1",
        "DELETE FROM entity_aliases WHERE entity_id = ?2"
        " AND alias = (SELECT name FROM entities WHERE id = ?2)",
        /* readers who followed the merged entity now follow the survivor */
        "UPDATE OR IGNORE follows SET target_id = ?2 WHERE kind = 'entity' AND target_id = ?1",
        "DELETE FROM follows WHERE kind = 'entity' AND target_id = ?1",
        /* the old id and slug, and whatever already pointed at them, now lead to the survivor */
        "UPDATE entity_redirects SET into_id = ?2 WHERE into_id = ?1",
        "INSERT INTO entity_redirects (old_id, old_slug, into_id)"
        " SELECT id, slug, ?2 FROM entities WHERE id = ?1",
        "UPDATE entities SET wikidata = coalesce(wikidata,"
        " (SELECT wikidata FROM entities WHERE id = ?1)) WHERE id = ?2"
        " AND (SELECT wikidata FROM entities WHERE id = ?1) IS NOT NULL",
        "DELETE FROM entities WHERE id = ?1",
        "UPDATE entities SET"
        " article_count = (SELECT count(*) FROM article_entities WHERE entity_id = ?2),"
        " first_seen = (SELECT min(a.published_at) FROM article_entities x"
        "   JOIN articles a ON a.id = x.article_id WHERE x.entity_id = ?2),"
        " last_seen = (SELECT max(a.published_at) FROM article_entities x"
        "   JOIN articles a ON a.id = x.article_id WHERE x.entity_id = ?2)"
        " WHERE id = ?2",
    };
    enum ns_err err = NS_OK;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && !err; i++) {
        PREPARE(s, steps[i]);
        sqlite3_bind_int64(s, 1, from);
        sqlite3_bind_int64(s, 2, into);
        err = run(st, s);
    }
    return err ? err : store_entity_reindex(st, into);
}

enum ns_err store_topic_create(struct store *st, const char *name, const char *slug,
                               int64_t parent, int64_t now, int64_t *id)
{
    char made[SLUG_BUF];
    if (!slug) {
        slug_make(name, "topic", made);
        slug = made;
    }
    PREPARE(s, "INSERT INTO topics (slug, name, parent_id, created_at) VALUES (?, ?, ?, ?)");
    bind_text(s, 1, slug);
    bind_text(s, 2, name);
    if (parent > 0)
        sqlite3_bind_int64(s, 3, parent);
    else
        sqlite3_bind_null(s, 3);
    sqlite3_bind_int64(s, 4, now);
    enum ns_err err = run(st, s);
    if (!err)
        *id = sqlite3_last_insert_rowid(st->db);
    return err;
}

/* True when making parent the parent of id would close a loop (parent is id or below it). */
static enum ns_err topic_would_cycle(struct store *st, int64_t id, int64_t parent, bool *cycle)
{
    PREPARE(s, "WITH RECURSIVE up(t) AS (SELECT ?1 UNION SELECT parent_id FROM topics, up"
               " WHERE topics.id = up.t AND parent_id IS NOT NULL)"
               " SELECT count(*) FROM up WHERE t = ?2");
    sqlite3_bind_int64(s, 1, parent);
    sqlite3_bind_int64(s, 2, id);
    int rc = sqlite3_step(s);
    *cycle = rc == SQLITE_ROW && sqlite3_column_int(s, 0) > 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? NS_OK : store_err(rc);
}

enum ns_err store_topic_patch(struct store *st, int64_t id, const char *name, bool set_parent,
                              int64_t parent)
{
    enum ns_err err = NS_OK;
    if (name) {
        PREPARE(s, "UPDATE topics SET name = ? WHERE id = ?");
        bind_text(s, 1, name);
        sqlite3_bind_int64(s, 2, id);
        err = run(st, s);
    }
    if (!err && set_parent) {
        bool cycle = false;
        if (parent > 0)
            err = topic_would_cycle(st, id, parent, &cycle);
        if (!err && cycle)
            return NS_ERR_INVALID;
        PREPARE(s, "UPDATE topics SET parent_id = ? WHERE id = ?");
        if (parent > 0)
            sqlite3_bind_int64(s, 1, parent);
        else
            sqlite3_bind_null(s, 1);
        sqlite3_bind_int64(s, 2, id);
        if (!err)
            err = run(st, s);
    }
    return err;
}

enum ns_err store_publication_create(struct store *st, const struct publication_write *p,
                                     int64_t now, int64_t *id)
{
    char made[SLUG_BUF];
    const char *slug = p->slug;
    if (!slug) {
        slug_make(p->name, "publication", made);
        slug = made;
    }
    PREPARE(s, "INSERT INTO publications (slug, name, homepage, country, language, created_at)"
               " VALUES (?, ?, ?, ?, ?, ?)");
    bind_text(s, 1, slug);
    bind_text(s, 2, p->name);
    bind_text(s, 3, p->homepage);
    bind_text(s, 4, p->country);
    bind_text(s, 5, p->language);
    sqlite3_bind_int64(s, 6, now);
    enum ns_err err = run(st, s);
    if (!err)
        *id = sqlite3_last_insert_rowid(st->db);
    return err;
}

enum ns_err store_publication_patch(struct store *st, int64_t id, const struct publication_patch *p)
{
    PREPARE(s, "UPDATE publications SET name = coalesce(?2, name),"
               " homepage = CASE WHEN ?3 THEN ?4 ELSE homepage END,"
               " country = CASE WHEN ?5 THEN ?6 ELSE country END,"
               " language = CASE WHEN ?7 THEN ?8 ELSE language END WHERE id = ?1");
    sqlite3_bind_int64(s, 1, id);
    bind_text(s, 2, p->name);
    sqlite3_bind_int(s, 3, p->set_homepage);
    bind_text(s, 4, p->homepage);
    sqlite3_bind_int(s, 5, p->set_country);
    bind_text(s, 6, p->country);
    sqlite3_bind_int(s, 7, p->set_language);
    bind_text(s, 8, p->language);
    return run(st, s);
}

enum ns_err store_picks_set(struct store *st, const int64_t *ids, size_t n)
{
    PREPARE(del, "DELETE FROM picks");
    enum ns_err err = run(st, del);
    for (size_t i = 0; i < n && !err; i++) {
        PREPARE(s, "INSERT INTO picks (position, article_id) VALUES (?, ?)");
        sqlite3_bind_int64(s, 1, (int64_t)i + 1);
        sqlite3_bind_int64(s, 2, ids[i]);
        err = run(st, s);
    }
    return err;
}

enum ns_err store_picks_ids(struct store *st, struct arena *a, int64_t after_position, int limit,
                            int64_t **ids, int64_t **positions, size_t *n, int64_t *total)
{
    PREPARE(c, "SELECT count(*) FROM picks");
    int rc = sqlite3_step(c);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(c, 0) : 0;
    sqlite3_reset(c);
    PREPARE(s, "SELECT article_id, position FROM picks WHERE position > ? ORDER BY position"
               " LIMIT ?");
    sqlite3_bind_int64(s, 1, after_position);
    sqlite3_bind_int(s, 2, limit);
    *ids = arena_calloc(a, (size_t)limit + 1, sizeof(**ids));
    *positions = arena_calloc(a, (size_t)limit + 1, sizeof(**positions));
    *n = 0;
    if (!*ids || !*positions) {
        sqlite3_reset(s);
        return NS_ERR_NOMEM;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < (size_t)limit) {
        (*ids)[*n] = sqlite3_column_int64(s, 0);
        (*positions)[(*n)++] = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? NS_OK : store_err(rc);
}

enum ns_err store_article_summary(struct store *st, struct arena *a, int64_t id,
                                  struct article_row *out)
{
    memset(out, 0, sizeof(*out));
    out->id = id;
    return store_article_read_row(st, a, out);
}
