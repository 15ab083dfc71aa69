/*
 * search.c - the full-text index (FTS5) and its ranking.
 *
 * The index row of an article is rewritten from the stored article inside
 * the write's transaction, so search never disagrees with what is served.
 *
 * Ranking is ns_score(), a BM25-style sum over matched terms with column
 * weights and fixed average lengths, but without corpus-wide statistics:
 * an article's score depends only on the article and the query. New
 * articles therefore never reorder old ones, which keeps relevance cursors
 * exact while articles arrive.
 */
#include "store/store_impl.h"

#include <string.h>

#include "core/buf.h"
#include "store/search.h"

/* Columns of article_search, in order. */
enum { COL_HEADLINE, COL_STANDFIRST, COL_LEAD, COL_REST, COL_AUTHORS, COL_ENTITIES, COLS };

static const double col_weight[COLS] = {10.0, 4.0, 2.0, 1.0, 3.0, 3.0};
/* Typical lengths in tokens, standing in for corpus averages. */
static const double col_avglen[COLS] = {12.0, 30.0, 80.0, 400.0, 3.0, 20.0};
static const double k1 = 1.2, b = 0.75;

enum { PHRASES_MAX = 64 };

/*
 * ns_score(article_search [, hide_rest]): with hide_rest true the hidden
 * part of a premium body does not count, so a reader without access cannot
 * learn what it says from how an article ranks.
 */
static void ns_score(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
                     int nval, sqlite3_value **val)
{
    bool hide_rest = nval >= 1 && sqlite3_value_int(val[0]) != 0;
    int n_inst = 0, n_phrase = api->xPhraseCount(fts), n_col = api->xColumnCount(fts);
    int tf[PHRASES_MAX][COLS];
    if (n_phrase > PHRASES_MAX)
        n_phrase = PHRASES_MAX;
    if (n_col > COLS)
        n_col = COLS;
    memset(tf, 0, sizeof(tf));
    if (api->xInstCount(fts, &n_inst) != SQLITE_OK) {
        sqlite3_result_error(ctx, "ns_score: no instances", -1);
        return;
    }
    for (int i = 0; i < n_inst; i++) {
        int phrase, col, off;
        if (api->xInst(fts, i, &phrase, &col, &off) == SQLITE_OK && phrase < n_phrase &&
            col < n_col)
            tf[phrase][col]++;
    }
    double score = 0;
    for (int c = 0; c < n_col; c++) {
        int len = 0;
        if ((hide_rest && c == COL_REST) || api->xColumnSize(fts, c, &len) != SQLITE_OK)
            continue;
        double norm = k1 * (1 - b + b * (double)len / col_avglen[c]);
        for (int p = 0; p < n_phrase; p++)
            if (tf[p][c])
                score += col_weight[c] * tf[p][c] * (k1 + 1) / (tf[p][c] + norm);
    }
    /* Rounded to what clients see, so the published scores explain the order (ties by id). */
    sqlite3_result_double(ctx, (double)(long long)(score * 1e3 + 0.5) / 1e3);
}

enum ns_err store_search_register(struct store *st)
{
    fts5_api *api = NULL;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT fts5(?1)", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
        sqlite3_step(s);
    }
    sqlite3_finalize(s);
    if (!api || api->iVersion < 2)
        return NS_ERR_DB;
    rc = api->xCreateFunction(api, "ns_score", NULL, ns_score, NULL);
    return rc == SQLITE_OK ? NS_OK : store_err(rc);
}

enum ns_err store_article_search_refresh(struct store *st, int64_t article_id, const char *lead,
                                         const char *rest)
{
    sqlite3_stmt *s = store_stmt(st, "DELETE FROM article_search WHERE rowid = ?");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, article_id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_err(rc);
    s = store_stmt(
        st,
        "INSERT INTO article_search (rowid, headline, standfirst, lead, rest, authors, entities)"
        " SELECT a.id, a.headline, coalesce(a.standfirst, ''), ?2, ?3,"
        " coalesce((SELECT group_concat(au.name, ' ') FROM article_authors x"
        "   JOIN authors au ON au.id = x.author_id WHERE x.article_id = a.id), ''),"
        " coalesce((SELECT group_concat(n, ' ') FROM ("
        "   SELECT e.name AS n FROM article_entities x JOIN entities e ON e.id = x.entity_id"
        "   WHERE x.article_id = a.id UNION ALL SELECT al.alias FROM article_entities x"
        "   JOIN entity_aliases al ON al.entity_id = x.entity_id WHERE x.article_id = a.id)), '')"
        " FROM articles a WHERE a.id = ?1");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, article_id);
    bind_text(s, 2, lead ? lead : "");
    bind_text(s, 3, rest ? rest : "");
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

const char *store_search_public(struct arena *a, const char *match)
{
    static const char prefix[] = "{headline standfirst lead authors entities} : (";
    size_t len = strlen(match);
    char *out = arena_alloc(a, sizeof(prefix) + len + 1);
    if (out) {
        memcpy(out, prefix, sizeof(prefix) - 1);
        memcpy(out + sizeof(prefix) - 1, match, len);
        out[sizeof(prefix) - 1 + len] = ')';
        out[sizeof(prefix) + len] = '\0';
    }
    return out;
}

enum ns_err store_search_hits(struct store *st, struct arena *a, const char *match,
                              bool hide_premium_rest, const int64_t *ids, size_t n,
                              struct search_hit *hits)
{
    /* One pass over the matches for the whole page: marking text re-reads the query's
     * doclists, so doing it per row would cost a full search per result. */
    struct buf list;
    buf_init(&list);
    buf_putc(&list, '[');
    for (size_t i = 0; i < n; i++)
        buf_printf(&list, "%s%lld", i ? "," : "", (long long)ids[i]);
    buf_putc(&list, ']');
    for (size_t i = 0; i < n; i++)
        hits[i] = (struct search_hit){0};
    sqlite3_stmt *s = store_stmt(
        st, "SELECT rowid, ns_score(article_search, ?3 AND (SELECT access = 'premium'"
            " FROM articles WHERE id = article_search.rowid)),"
            " highlight(article_search, 0, x'01', x'02'),"
            " snippet(article_search, 2, x'01', x'02', '…', 24),"
            " snippet(article_search, 3, x'01', x'02', '…', 24)"
            " FROM article_search WHERE article_search MATCH ?1"
            " AND rowid IN (SELECT value FROM json_each(?2))");
    if (!s || buf_failed(&list)) {
        buf_release(&list);
        return s ? NS_ERR_NOMEM : store_stmt_failed(st);
    }
    bind_text(s, 1, match);
    bind_text(s, 2, list.data);
    sqlite3_bind_int(s, 3, hide_premium_rest);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        for (size_t i = 0; i < n; i++) {
            if (ids[i] != id)
                continue;
            hits[i].found = true;
            hits[i].score = sqlite3_column_double(s, 1);
            hits[i].headline = col_text(a, s, 2);
            hits[i].lead = col_text(a, s, 3);
            hits[i].rest = col_text(a, s, 4);
        }
    }
    sqlite3_reset(s);
    buf_release(&list);
    return rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

enum ns_err store_search_optimize(struct store *st)
{
    int rc = sqlite3_exec(st->db, "INSERT INTO article_search (article_search) VALUES ('optimize')",
                          NULL, NULL, NULL);
    return rc == SQLITE_OK ? NS_OK : store_err(rc);
}

enum ns_err store_search_check(struct store *st)
{
    int rc = sqlite3_exec(st->db,
                          "INSERT INTO article_search (article_search, rank)"
                          " VALUES ('integrity-check', 0)",
                          NULL, NULL, NULL);
    return rc == SQLITE_OK ? NS_OK : store_err(rc);
}
