/*
 * library.c - what a reader keeps and does: follows, bookmarks, history,
 * reads; and what reads rank: top stories, popular, related articles.
 */
#include "store/store_impl.h"

#include <string.h>

/* Reads (article id, value) rows of a bound statement, at most limit, into *rows (arena). */
static enum ns_err read_ranked(sqlite3_stmt *s, struct arena *a, int limit,
                               struct ranked_row **rows, size_t *n)
{
    int rc = SQLITE_DONE;
    *rows = arena_calloc(a, (size_t)limit + 1, sizeof(**rows));
    *n = 0;
    while (*rows && *n < (size_t)limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        (*rows)[*n].article_id = sqlite3_column_int64(s, 0);
        (*rows)[(*n)++].value = sqlite3_column_double(s, 1);
    }
    sqlite3_reset(s);
    if (!*rows)
        return NS_ERR_NOMEM;
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? NS_OK : store_err(rc);
}

enum ns_err store_follow_set(struct store *st, int64_t user_id, const char *kind, int64_t target,
                             bool on, int64_t now)
{
    if (!on) {
        PREPARE(s, "DELETE FROM follows WHERE user_id = ? AND kind = ? AND target_id = ?");
        sqlite3_bind_int64(s, 1, user_id);
        bind_text(s, 2, kind);
        sqlite3_bind_int64(s, 3, target);
        return store_step_done(s);
    }
    PREPARE(c, "SELECT count(*) FROM follows WHERE user_id = ?");
    sqlite3_bind_int64(c, 1, user_id);
    int rc = sqlite3_step(c);
    int64_t count = rc == SQLITE_ROW ? sqlite3_column_int64(c, 0) : 0;
    sqlite3_reset(c);
    PREPARE(s, "INSERT INTO follows (user_id, kind, target_id, created_at)"
               " SELECT ?1, ?2, ?3, ?4 WHERE ?5 < ?6 OR EXISTS (SELECT 1 FROM follows"
               " WHERE user_id = ?1 AND kind = ?2 AND target_id = ?3)"
               " ON CONFLICT DO NOTHING");
    sqlite3_bind_int64(s, 1, user_id);
    bind_text(s, 2, kind);
    sqlite3_bind_int64(s, 3, target);
    sqlite3_bind_int64(s, 4, now);
    sqlite3_bind_int64(s, 5, count);
    sqlite3_bind_int64(s, 6, FOLLOWS_MAX);
    enum ns_err err = store_step_done(s);
    if (err)
        return err;
    if (count >= FOLLOWS_MAX && sqlite3_changes(st->db) == 0) {
        PREPARE(e, "SELECT 1 FROM follows WHERE user_id = ? AND kind = ? AND target_id = ?");
        sqlite3_bind_int64(e, 1, user_id);
        bind_text(e, 2, kind);
        sqlite3_bind_int64(e, 3, target);
        rc = sqlite3_step(e);
        sqlite3_reset(e);
        return rc == SQLITE_ROW ? NS_OK : NS_ERR_INVALID;
    }
    return NS_OK;
}

enum ns_err store_follows_list(struct store *st, struct arena *a, int64_t user_id,
                               const struct follow_row *after, int limit, struct follow_row **rows,
                               size_t *n, int64_t *total)
{
    PREPARE(c, "SELECT count(*) FROM follows WHERE user_id = ?");
    sqlite3_bind_int64(c, 1, user_id);
    int rc = sqlite3_step(c);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(c, 0) : 0;
    sqlite3_reset(c);
    PREPARE(s, "SELECT f.kind, f.target_id, f.created_at,"
               " CASE f.kind WHEN 'topic' THEN (SELECT slug FROM topics WHERE id = f.target_id)"
               " WHEN 'entity' THEN (SELECT slug FROM entities WHERE id = f.target_id)"
               " WHEN 'publication' THEN (SELECT slug FROM publications WHERE id = f.target_id)"
               " ELSE (SELECT slug FROM authors WHERE id = f.target_id) END,"
               " CASE f.kind WHEN 'topic' THEN (SELECT name FROM topics WHERE id = f.target_id)"
               " WHEN 'entity' THEN (SELECT name FROM entities WHERE id = f.target_id)"
               " WHEN 'publication' THEN (SELECT name FROM publications WHERE id = f.target_id)"
               " ELSE (SELECT name FROM authors WHERE id = f.target_id) END"
               " FROM follows f WHERE f.user_id = ?1 AND (?2 = 0 OR f.created_at < ?3"
               " OR (f.created_at = ?3 AND (f.kind > ?4 OR (f.kind = ?4 AND f.target_id > ?5))))"
               " ORDER BY f.created_at DESC, f.kind, f.target_id LIMIT ?6");
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int(s, 2, after != NULL);
    sqlite3_bind_int64(s, 3, after ? after->followed_at : 0);
    bind_text(s, 4, after ? after->kind : "");
    sqlite3_bind_int64(s, 5, after ? after->id : 0);
    sqlite3_bind_int(s, 6, limit);
    *rows = arena_calloc(a, (size_t)limit + 1, sizeof(**rows));
    *n = 0;
    if (!*rows) {
        sqlite3_reset(s);
        return NS_ERR_NOMEM;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < (size_t)limit) {
        struct follow_row *r = &(*rows)[(*n)++];
        r->kind = col_text(a, s, 0);
        r->id = sqlite3_column_int64(s, 1);
        r->followed_at = sqlite3_column_int64(s, 2);
        r->slug = col_text(a, s, 3);
        r->name = col_text(a, s, 4);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? NS_OK : store_err(rc);
}

enum ns_err store_bookmark_set(struct store *st, int64_t user_id, int64_t article_id, bool on,
                               int64_t now)
{
    PREPARE(s, on ? "INSERT INTO bookmarks (user_id, article_id, created_at) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING"
                  : "DELETE FROM bookmarks WHERE user_id = ? AND article_id = ?");
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, article_id);
    if (on)
        sqlite3_bind_int64(s, 3, now);
    return store_step_done(s);
}

/* Lists (article id, time) pairs of a reader's bookmarks or history, newest first. */
enum ns_err store_shelf_list(struct store *st, struct arena *a, enum shelf shelf, int64_t user_id,
                             bool has_after, int64_t after_time, int64_t after_id, int limit,
                             struct shelf_row **rows, size_t *n, int64_t *total)
{
    static const char *const counts[] = {
        [SHELF_BOOKMARKS] = "SELECT count(*) FROM bookmarks WHERE user_id = ?",
        [SHELF_HISTORY] = "SELECT count(*) FROM history WHERE user_id = ?",
    };
    static const char *const lists[] = {
        [SHELF_BOOKMARKS] = "SELECT article_id, created_at FROM bookmarks WHERE user_id = ?1"
                            " AND (?2 = 0 OR created_at < ?3 OR (created_at = ?3 AND"
                            " article_id < ?4)) ORDER BY created_at DESC, article_id DESC LIMIT ?5",
        [SHELF_HISTORY] = "SELECT article_id, read_at FROM history WHERE user_id = ?1"
                          " AND (?2 = 0 OR read_at < ?3 OR (read_at = ?3 AND article_id < ?4))"
                          " ORDER BY read_at DESC, article_id DESC LIMIT ?5",
    };
    PREPARE(c, counts[shelf]);
    sqlite3_bind_int64(c, 1, user_id);
    int rc = sqlite3_step(c);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(c, 0) : 0;
    sqlite3_reset(c);
    PREPARE(s, lists[shelf]);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int(s, 2, has_after);
    sqlite3_bind_int64(s, 3, after_time);
    sqlite3_bind_int64(s, 4, after_id);
    sqlite3_bind_int(s, 5, limit);
    *rows = arena_calloc(a, (size_t)limit + 1, sizeof(**rows));
    *n = 0;
    if (!*rows) {
        sqlite3_reset(s);
        return NS_ERR_NOMEM;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < (size_t)limit) {
        (*rows)[*n].article_id = sqlite3_column_int64(s, 0);
        (*rows)[(*n)++].at = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? NS_OK : store_err(rc);
}

enum ns_err store_read_record(struct store *st, int64_t article_id, int64_t user_id, int64_t now)
{
    PREPARE(a, "UPDATE articles SET reads = reads + 1 WHERE id = ?");
    sqlite3_bind_int64(a, 1, article_id);
    enum ns_err err = store_step_done(a);
    if (!err && sqlite3_changes(st->db) == 0)
        return NS_ERR_NOT_FOUND;
    if (!err) {
        PREPARE(b, "INSERT INTO read_counts (article_id, hour, reads) VALUES (?, ?, 1)"
                   " ON CONFLICT DO UPDATE SET reads = reads + 1");
        sqlite3_bind_int64(b, 1, article_id);
        sqlite3_bind_int64(b, 2, now / 3600);
        err = store_step_done(b);
    }
    if (!err && user_id > 0) {
        PREPARE(h, "INSERT INTO history (user_id, article_id, read_at) VALUES (?, ?, ?)"
                   " ON CONFLICT DO UPDATE SET read_at = excluded.read_at");
        sqlite3_bind_int64(h, 1, user_id);
        sqlite3_bind_int64(h, 2, article_id);
        sqlite3_bind_int64(h, 3, now);
        err = store_step_done(h);
    }
    return err;
}

enum ns_err store_top_stories(struct store *st, struct arena *a, int64_t since_hour,
                              bool has_after, int64_t after_reads, int64_t after_id, int limit,
                              struct ranked_row **rows, size_t *n, int64_t *total)
{
    PREPARE(c, "SELECT count(DISTINCT article_id) FROM read_counts WHERE hour >= ?");
    sqlite3_bind_int64(c, 1, since_hour);
    int rc = sqlite3_step(c);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(c, 0) : 0;
    sqlite3_reset(c);
    PREPARE(s, "SELECT article_id, sum(reads) AS r FROM read_counts WHERE hour >= ?1"
               " GROUP BY article_id HAVING ?2 = 0 OR r < ?3 OR (r = ?3 AND article_id > ?4)"
               " ORDER BY r DESC, article_id LIMIT ?5");
    sqlite3_bind_int64(s, 1, since_hour);
    sqlite3_bind_int(s, 2, has_after);
    sqlite3_bind_int64(s, 3, after_reads);
    sqlite3_bind_int64(s, 4, after_id);
    sqlite3_bind_int(s, 5, limit);
    return read_ranked(s, a, limit, rows, n);
}

enum ns_err store_article_related(struct store *st, struct arena *a, int64_t article_id,
                                  int64_t now, int limit, struct ranked_row **rows, size_t *n)
{
    /* Shared entities count by both articles' salience, shared topics a fixed 0.2 each;
     * the sum fades with the other article's age (half after 30 days). */
    PREPARE(s, "SELECT o.id, sum(w) / (1.0 + abs(?2 - o.published_at) / (30.0 * 86400)) AS score"
               " FROM (SELECT y.article_id AS id, x.salience * y.salience + 0.05 AS w"
               "   FROM article_entities x JOIN article_entities y ON y.entity_id = x.entity_id"
               "   WHERE x.article_id = ?1 AND y.article_id != ?1"
               "   UNION ALL SELECT y.article_id, 0.2 FROM article_topics x"
               "   JOIN article_topics y ON y.topic_id = x.topic_id"
               "   WHERE x.article_id = ?1 AND y.article_id != ?1) m"
               " JOIN articles o ON o.id = m.id GROUP BY o.id ORDER BY score DESC, o.id LIMIT ?3");
    sqlite3_bind_int64(s, 1, article_id);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int(s, 3, limit);
    return read_ranked(s, a, limit, rows, n);
}
