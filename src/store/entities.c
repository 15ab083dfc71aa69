/*
 * entities.c - entities, their aliases, and their links to articles.
 *
 * Entity counters (article_count, first_seen, last_seen) are kept in the
 * entities table so lists can sort by them; every change of an article's
 * links updates them in the same transaction.
 */
#include "store/store_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/fold.h"
#include "domain/slug.h"
#include "store/slugs.h"

#define ENTITY_COLUMNS                                                                             \
    "e.id, e.slug, e.name, e.type, e.description, e.wikidata, e.article_count, e.first_seen,"      \
    " e.last_seen"

static void read_entity(struct arena *a, sqlite3_stmt *s, struct entity_row *r)
{
    r->id = sqlite3_column_int64(s, 0);
    r->slug = col_text(a, s, 1);
    r->name = col_text(a, s, 2);
    r->type = col_text(a, s, 3);
    r->description = col_text(a, s, 4);
    r->wikidata = col_text(a, s, 5);
    r->article_count = sqlite3_column_int64(s, 6);
    r->seen = sqlite3_column_type(s, 7) != SQLITE_NULL;
    r->first_seen = sqlite3_column_int64(s, 7);
    r->last_seen = sqlite3_column_int64(s, 8);
    r->aliases = NULL;
    r->n_aliases = 0;
}

static enum ns_err read_aliases(struct store *st, struct arena *a, struct entity_row *r)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT alias FROM entity_aliases WHERE entity_id = ?"
                                     " ORDER BY alias_key, alias");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, r->id);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char **grown = arena_grow(a, r->aliases, r->n_aliases, &cap, sizeof(*grown));
        if (!grown) {
            sqlite3_reset(s);
            return NS_ERR_NOMEM;
        }
        r->aliases = grown;
        r->aliases[r->n_aliases++] = col_text(a, s, 0);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

/* Looks up one id with a statement whose ?1 is bound to text; 0 when no row. */
static enum ns_err lookup_id(struct store *st, const char *sql, const char *text, int64_t *id)
{
    sqlite3_stmt *s = store_stmt(st, sql);
    if (!s)
        return store_stmt_failed(st);
    bind_text(s, 1, text);
    int rc = sqlite3_step(s);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

static enum ns_err entity_get_by_id(struct store *st, struct arena *a, int64_t id,
                                    struct entity_row *out)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " ENTITY_COLUMNS " FROM entities e WHERE e.id = ?");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_entity(a, s, out);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? NS_ERR_NOT_FOUND : store_err(rc);
    return read_aliases(st, a, out);
}

enum ns_err store_entity_find(struct store *st, struct arena *a, const char *ref,
                              struct entity_row *out)
{
    long long numeric = 0;
    if (slug_is_id(ref, &numeric)) {
        enum ns_err err = entity_get_by_id(st, a, numeric, out);
        if (err != NS_ERR_NOT_FOUND)
            return err;
        sqlite3_stmt *s = store_stmt(st, "SELECT into_id FROM entity_redirects WHERE old_id = ?");
        if (!s)
            return store_stmt_failed(st);
        sqlite3_bind_int64(s, 1, numeric);
        int rc = sqlite3_step(s);
        int64_t into = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
        return into ? entity_get_by_id(st, a, into, out) : NS_ERR_NOT_FOUND;
    }
    char slug[SLUG_BUF];
    slug_make(ref, "", slug);
    int64_t id = 0;
    enum ns_err err = lookup_id(st, "SELECT id FROM entities WHERE slug = ?1", ref, &id);
    if (!err && !id && slug[0])
        err = lookup_id(st, "SELECT id FROM entities WHERE slug = ?1", slug, &id);
    if (!err && !id && slug[0])
        err = lookup_id(st,
                        "SELECT entity_id FROM entity_aliases WHERE alias_slug = ?1"
                        " ORDER BY entity_id LIMIT 1",
                        slug, &id);
    if (!err && !id) /* merged away: the survivor answers for it */
        err = lookup_id(st, "SELECT into_id FROM entity_redirects WHERE old_slug = ?1", slug, &id);
    if (err)
        return err;
    return id ? entity_get_by_id(st, a, id, out) : NS_ERR_NOT_FOUND;
}

enum ns_err store_entities_list(struct store *st, struct arena *a, const struct entity_filter *f,
                                struct entity_row **rows, size_t *n, int64_t *total)
{
    /* Prefix search covers names and aliases; an entity found by several counts once. */
    static const char *const match =
        " FROM entities e WHERE (?1 IS NULL OR e.type = ?1) AND (?2 IS NULL"
        " OR (e.name_key >= ?2 AND e.name_key < ?2 || x'f48fbfbf')"
        " OR e.id IN (SELECT entity_id FROM entity_aliases"
        "   WHERE alias_key >= ?2 AND alias_key < ?2 || x'f48fbfbf'))";
    char sql[1024];
    snprintf(sql, sizeof(sql), "SELECT count(*)%s", match);
    sqlite3_stmt *s = store_stmt(st, sql);
    if (!s)
        return store_stmt_failed(st);
    bind_text(s, 1, f->type);
    bind_text(s, 2, f->prefix_key);
    int rc = sqlite3_step(s);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return store_err(rc);

    snprintf(sql, sizeof(sql), "SELECT " ENTITY_COLUMNS ", e.name_key%s AND (?3 = 0 OR %s)%s",
             match,
             f->by_name ? "e.name_key > ?5 OR (e.name_key = ?5 AND e.id > ?6)"
                        : "e.article_count < ?4 OR (e.article_count = ?4 AND e.id > ?6)",
             f->by_name ? " ORDER BY e.name_key, e.id LIMIT ?7"
                        : " ORDER BY e.article_count DESC, e.id LIMIT ?7");
    s = store_stmt(st, sql);
    if (!s)
        return store_stmt_failed(st);
    bind_text(s, 1, f->type);
    bind_text(s, 2, f->prefix_key);
    sqlite3_bind_int(s, 3, f->has_after);
    sqlite3_bind_int64(s, 4, f->after_count);
    bind_text(s, 5, f->after_key ? f->after_key : "");
    sqlite3_bind_int64(s, 6, f->after_id);
    sqlite3_bind_int(s, 7, f->limit);
    *n = 0;
    *rows = arena_calloc(a, (size_t)f->limit, sizeof(**rows));
    if (!*rows) {
        sqlite3_reset(s);
        return NS_ERR_NOMEM;
    }
    while (*n < (size_t)f->limit && (rc = sqlite3_step(s)) == SQLITE_ROW)
        read_entity(a, s, &(*rows)[(*n)++]);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_err(rc);
    enum ns_err err = NS_OK;
    for (size_t i = 0; i < *n && !err; i++)
        err = read_aliases(st, a, &(*rows)[i]);
    return err;
}

enum ns_err store_entity_related(struct store *st, struct arena *a, int64_t entity_id,
                                 bool has_after, int64_t after_count, int64_t after_id, int limit,
                                 struct related_row **rows, size_t *n, int64_t *total)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT count(DISTINCT b.entity_id) FROM article_entities x"
            " JOIN article_entities b ON b.article_id = x.article_id AND b.entity_id != x.entity_id"
            " WHERE x.entity_id = ?1");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, entity_id);
    int rc = sqlite3_step(s);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return store_err(rc);

    s = store_stmt(st,
                   "SELECT e.id, e.slug, e.name, e.type, count(*) AS shared FROM article_entities x"
                   " JOIN article_entities b ON b.article_id = x.article_id"
                   "   AND b.entity_id != x.entity_id"
                   " JOIN entities e ON e.id = b.entity_id WHERE x.entity_id = ?1"
                   " GROUP BY e.id HAVING ?2 = 0 OR shared < ?3 OR (shared = ?3 AND e.id > ?4)"
                   " ORDER BY shared DESC, e.id LIMIT ?5");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, entity_id);
    sqlite3_bind_int(s, 2, has_after);
    sqlite3_bind_int64(s, 3, after_count);
    sqlite3_bind_int64(s, 4, after_id);
    sqlite3_bind_int(s, 5, limit);
    *n = 0;
    *rows = arena_calloc(a, (size_t)limit, sizeof(**rows));
    if (!*rows) {
        sqlite3_reset(s);
        return NS_ERR_NOMEM;
    }
    while (*n < (size_t)limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct related_row *r = &(*rows)[(*n)++];
        r->entity.id = sqlite3_column_int64(s, 0);
        r->entity.slug = col_text(a, s, 1);
        r->entity.name = col_text(a, s, 2);
        r->entity.type = col_text(a, s, 3);
        r->count = sqlite3_column_int64(s, 4);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

/* The entity whose name or alias folds to key; 0 when none. */
static enum ns_err entity_by_key(struct store *st, const char *key, int64_t *id)
{
    enum ns_err err =
        lookup_id(st, "SELECT id FROM entities WHERE name_key = ?1 ORDER BY id LIMIT 1", key, id);
    if (!err && !*id)
        err = lookup_id(st,
                        "SELECT entity_id FROM entity_aliases WHERE alias_key = ?1"
                        " ORDER BY entity_id LIMIT 1",
                        key, id);
    return err;
}

/* Adds alias unless it is the entity's name or one of its aliases; *added says if it did. */
static enum ns_err alias_add(struct store *st, struct arena *a, int64_t id, const char *alias,
                             bool *added)
{
    char *key = fold_key(a, alias);
    char slug[SLUG_BUF];
    *added = false;
    if (!key)
        return NS_ERR_NOMEM;
    if (!key[0])
        return NS_OK;
    slug_make(alias, "", slug);
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO entity_aliases (entity_id, alias, alias_key, alias_slug)"
            " SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM entity_aliases"
            "   WHERE entity_id = ?1 AND alias = ?2)"
            " AND NOT EXISTS (SELECT 1 FROM entities WHERE id = ?1 AND name = ?2)");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, id);
    bind_text(s, 2, alias);
    bind_text(s, 3, key);
    bind_text(s, 4, slug);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    *added = rc == SQLITE_DONE && sqlite3_changes(st->db) > 0;
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

static enum ns_err entity_insert(struct store *st, const struct entity_write *w, const char *key,
                                 int64_t now, int64_t *id)
{
    char base[SLUG_BUF], slug[SLUG_BUF];
    slug_make(w->name, "entity", base);
    enum ns_err err = store_unique_slug(st, SLUG_ENTITIES, base, slug);
    if (err)
        return err;
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO entities (slug, name, name_key, type,"
                                     " description, wikidata, created_at)"
                                     " VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!s)
        return store_stmt_failed(st);
    bind_text(s, 1, slug);
    bind_text(s, 2, w->name);
    bind_text(s, 3, key);
    bind_text(s, 4, w->type ? w->type : "other");
    bind_text(s, 5, w->description);
    bind_text(s, 6, w->wikidata);
    sqlite3_bind_int64(s, 7, now);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_err(rc);
    *id = sqlite3_last_insert_rowid(st->db);
    return NS_OK;
}

/* Sets the fields the write gives; *changed says whether anything differed. */
static enum ns_err entity_update(struct store *st, int64_t id, const struct entity_write *w,
                                 bool *changed)
{
    sqlite3_stmt *s = store_stmt(
        st, "UPDATE entities SET type = coalesce(?2, type), description = coalesce(?3, description),"
            " wikidata = coalesce(?4, wikidata) WHERE id = ?1 AND (type IS NOT coalesce(?2, type)"
            " OR description IS NOT coalesce(?3, description)"
            " OR wikidata IS NOT coalesce(?4, wikidata))");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, id);
    bind_text(s, 2, w->type);
    bind_text(s, 3, w->description);
    bind_text(s, 4, w->wikidata);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    *changed = rc == SQLITE_DONE && sqlite3_changes(st->db) > 0;
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

enum ns_err store_entity_upsert(struct store *st, struct arena *a, const struct entity_write *w,
                                bool update, int64_t now, enum upsert_result *result,
                                int64_t *id,
                                void (*on_name)(void *cls, const char *name, int64_t id),
                                void *cls)
{
    char *key = fold_key(a, w->name);
    if (!key)
        return NS_ERR_NOMEM;
    if (!key[0])
        return NS_ERR_INVALID;
    *id = 0;
    enum ns_err err = NS_OK;
    if (w->wikidata)
        err = lookup_id(st, "SELECT id FROM entities WHERE wikidata = ?1", w->wikidata, id);
    if (!err && !*id)
        err = entity_by_key(st, key, id);
    if (err)
        return err;
    bool changed = false;
    if (!*id) {
        err = entity_insert(st, w, key, now, id);
        *result = UPSERT_CREATED;
        if (!err && on_name)
            on_name(cls, w->name, *id);
    } else {
        *result = UPSERT_UNCHANGED;
        if (update)
            err = entity_update(st, *id, w, &changed);
        int64_t same_name = 0; /* the written name folds to the entity's own name */
        if (!err)
            err = lookup_id(st, "SELECT id FROM entities WHERE name_key = ?1", key, &same_name);
        if (!err && same_name != *id) {
            bool added = false; /* another name for it becomes an alias */
            err = alias_add(st, a, *id, w->name, &added);
            changed = changed || added;
            if (added && on_name)
                on_name(cls, w->name, *id);
        }
    }
    for (size_t i = 0; i < w->n_aliases && !err; i++) {
        bool added = false;
        err = alias_add(st, a, *id, w->aliases[i], &added);
        changed = changed || (added && *result != UPSERT_CREATED);
        if (added && on_name)
            on_name(cls, w->aliases[i], *id);
    }
    if (*result != UPSERT_CREATED)
        *result = changed ? UPSERT_UPDATED : UPSERT_UNCHANGED;
    return err;
}

enum ns_err store_entity_names_each(struct store *st,
                                    void (*fn)(void *cls, const char *name, int64_t id),
                                    void *cls)
{
    static const char *const sql[] = {
        "SELECT name, id FROM entities ORDER BY id",
        "SELECT alias, entity_id FROM entity_aliases ORDER BY entity_id, alias",
    };
    for (size_t q = 0; q < 2; q++) {
        sqlite3_stmt *s = store_stmt(st, sql[q]);
        if (!s)
            return store_stmt_failed(st);
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
            fn(cls, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1));
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return store_err(rc);
    }
    return NS_OK;
}
