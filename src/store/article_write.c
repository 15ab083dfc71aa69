/*
 * article_write.c - creating and updating articles with their publication
 * and authors, inside the caller's transaction.
 *
 * Identity is publication + external_id, else publication + url. An
 * article's slug is fixed when it is created; an update never moves it.
 */
#include "store/store_impl.h"

#include <stdio.h>
#include <string.h>

#include "domain/slug.h"
#include "store/slugs.h"

/* Runs a bound INSERT and hands back the new row's id; *id is untouched on error. */
static enum ns_err step_insert(struct store *st, sqlite3_stmt *s, int64_t *id)
{
    enum ns_err err = store_step_done(s);
    if (!err)
        *id = sqlite3_last_insert_rowid(st->db);
    return err;
}

/* Looks up one integer by a statement already bound; NS_ERR_NOT_FOUND when no row. */
static enum ns_err step_id(sqlite3_stmt *s, int64_t *id)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? NS_OK : rc == SQLITE_DONE ? NS_ERR_NOT_FOUND : store_err(rc);
}

static enum ns_err publication_resolve(struct store *st, const struct publication_write *p,
                                       int64_t now, int64_t *id)
{
    char slug[SLUG_BUF];
    if (p->slug)
        snprintf(slug, sizeof(slug), "%s", p->slug);
    else
        slug_make(p->name, "publication", slug);

    PREPARE(find, "SELECT id FROM publications WHERE slug = ?");
    bind_text(find, 1, slug);
    enum ns_err err = step_id(find, id);
    if (err != NS_ERR_NOT_FOUND || !p->name)
        return err;

    PREPARE(ins, "INSERT INTO publications (slug, name, homepage, country, language, created_at)"
                 " VALUES (?, ?, ?, ?, ?, ?)");
    bind_text(ins, 1, slug);
    bind_text(ins, 2, p->name);
    bind_text(ins, 3, p->homepage);
    bind_text(ins, 4, p->country);
    bind_text(ins, 5, p->language);
    sqlite3_bind_int64(ins, 6, now);
    return step_insert(st, ins, id);
}

static enum ns_err author_resolve(struct store *st, int64_t publication_id, const char *name,
                                  int64_t now, int64_t *id)
{
    PREPARE(find, "SELECT id FROM authors WHERE publication_id = ? AND name = ?");
    sqlite3_bind_int64(find, 1, publication_id);
    bind_text(find, 2, name);
    enum ns_err err = step_id(find, id);
    if (err != NS_ERR_NOT_FOUND)
        return err;

    char base[SLUG_BUF], slug[SLUG_BUF];
    slug_make(name, "author", base);
    err = store_unique_slug(st, SLUG_AUTHORS, base, slug);
    if (err)
        return err;
    PREPARE(ins,
            "INSERT INTO authors (slug, name, publication_id, created_at) VALUES (?, ?, ?, ?)");
    bind_text(ins, 1, slug);
    bind_text(ins, 2, name);
    sqlite3_bind_int64(ins, 3, publication_id);
    sqlite3_bind_int64(ins, 4, now);
    return step_insert(st, ins, id);
}

/* Finds the stored article with w's identity, and whether its content hash equals w's. */
static enum ns_err article_find(struct store *st, int64_t publication_id,
                                const struct article_write *w, int64_t *id, bool *same)
{
    /* Two statements, not one with CASE: each must be able to use its own unique index. */
    PREPARE(s,
            w->external_id
                ? "SELECT id, content_hash FROM articles"
                  " WHERE publication_id = ?1 AND external_id = ?2"
                : "SELECT id, content_hash FROM articles WHERE publication_id = ?1 AND url = ?2");
    sqlite3_bind_int64(s, 1, publication_id);
    bind_text(s, 2, w->external_id ? w->external_id : w->url);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        *same = sqlite3_column_bytes(s, 1) == (int)sizeof(w->content_hash) &&
                memcmp(sqlite3_column_blob(s, 1), w->content_hash, sizeof(w->content_hash)) == 0;
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? NS_OK : rc == SQLITE_DONE ? NS_ERR_NOT_FOUND : store_err(rc);
}

/* Binds the content columns shared by INSERT and UPDATE as ?1..?19. */
static void bind_content(sqlite3_stmt *s, int64_t publication_id, const struct article_write *w,
                         const char *section_key)
{
    sqlite3_bind_int64(s, 1, publication_id);
    bind_text(s, 2, w->external_id);
    bind_text(s, 3, w->url);
    bind_text(s, 4, w->headline);
    bind_text(s, 5, w->standfirst);
    bind_text(s, 6, w->section);
    bind_text(s, 7, section_key);
    bind_text(s, 8, w->language);
    bind_text(s, 9, w->premium ? "premium" : "free");
    bind_text(s, 10, w->image.url);
    bind_text(s, 11, w->image.url ? w->image.caption : NULL);
    bind_text(s, 12, w->image.url ? w->image.credit : NULL);
    bind_text(s, 13, w->image.url ? w->image.alt : NULL);
    if (w->image.url && w->image.width > 0)
        sqlite3_bind_int(s, 14, w->image.width);
    if (w->image.url && w->image.height > 0)
        sqlite3_bind_int(s, 15, w->image.height);
    bind_text(s, 16, w->blocks_json);
    sqlite3_bind_int(s, 17, w->word_count);
    sqlite3_bind_int64(s, 18, w->published_at);
    sqlite3_bind_blob(s, 19, w->content_hash, sizeof(w->content_hash), SQLITE_STATIC);
}

static enum ns_err article_insert(struct store *st, int64_t publication_id,
                                  const struct article_write *w, const char *section_key,
                                  int64_t now, int64_t *id)
{
    char base[SLUG_BUF], slug[SLUG_BUF];
    slug_make(w->headline, "article", base);
    enum ns_err err = store_unique_slug(st, SLUG_ARTICLES, base, slug);
    if (err)
        return err;
    PREPARE(s, "INSERT INTO articles (publication_id, external_id, url, headline, standfirst,"
               " section, section_key, language, access, image_url, image_caption,"
               " image_credit, image_alt, image_width, image_height, blocks, word_count,"
               " published_at, content_hash, slug, updated_at, created_at)"
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
               " ?16, ?17, ?18, ?19, ?20, ?18, ?21)");
    bind_content(s, publication_id, w, section_key);
    bind_text(s, 20, slug);
    sqlite3_bind_int64(s, 21, now);
    return step_insert(st, s, id);
}

static enum ns_err article_update(struct store *st, int64_t publication_id,
                                  const struct article_write *w, const char *section_key,
                                  int64_t now, int64_t id)
{
    PREPARE(s, "UPDATE articles SET publication_id = ?1, external_id = ?2, url = ?3,"
               " headline = ?4, standfirst = ?5, section = ?6, section_key = ?7,"
               " language = ?8, access = ?9, image_url = ?10, image_caption = ?11,"
               " image_credit = ?12, image_alt = ?13, image_width = ?14, image_height = ?15,"
               " blocks = ?16, word_count = ?17, published_at = ?18, content_hash = ?19,"
               " updated_at = max(?20, ?18) WHERE id = ?21");
    bind_content(s, publication_id, w, section_key);
    sqlite3_bind_int64(s, 20, now);
    sqlite3_bind_int64(s, 21, id);
    return store_step_done(s);
}

static enum ns_err authors_link(struct store *st, int64_t article_id, int64_t publication_id,
                                const struct article_write *w, int64_t now)
{
    PREPARE(del, "DELETE FROM article_authors WHERE article_id = ?");
    sqlite3_bind_int64(del, 1, article_id);
    enum ns_err err = store_step_done(del);
    for (size_t i = 0; i < w->n_authors && !err; i++) {
        int64_t author_id = 0;
        err = author_resolve(st, publication_id, w->authors[i], now, &author_id);
        if (err)
            break;
        PREPARE(ins, "INSERT OR IGNORE INTO article_authors (article_id, author_id, position)"
                     " VALUES (?, ?, ?)");
        sqlite3_bind_int64(ins, 1, article_id);
        sqlite3_bind_int64(ins, 2, author_id);
        sqlite3_bind_int64(ins, 3, (int64_t)i);
        err = store_step_done(ins);
    }
    return err;
}

/* True when url is another article's (not except_id's) in the publication. */
static enum ns_err url_taken(struct store *st, int64_t publication_id, const char *url,
                             int64_t except_id, bool *taken)
{
    PREPARE(s, "SELECT 1 FROM articles WHERE publication_id = ? AND url = ? AND id != ?");
    sqlite3_bind_int64(s, 1, publication_id);
    bind_text(s, 2, url);
    sqlite3_bind_int64(s, 3, except_id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    *taken = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? NS_OK : store_err(rc);
}

enum ns_err store_article_upsert(struct store *st, struct arena *a, const struct article_write *w,
                                 int64_t target, int64_t now, enum upsert_result *result,
                                 int64_t *id, bool *url_clash)
{
    (void)a;
    int64_t publication_id = 0;
    enum ns_err err = publication_resolve(st, &w->publication, now, &publication_id);
    if (err)
        return err;

    char section_key[SLUG_BUF];
    if (w->section)
        slug_make(w->section, "section", section_key);

    bool same = false;
    err = article_find(st, publication_id, w, id, &same);
    if (target > 0) {
        /* an update of one article: its new identity must not be another's */
        if (err == NS_OK && *id != target)
            return NS_ERR_CONFLICT;
        if (err && err != NS_ERR_NOT_FOUND)
            return err;
        err = NS_OK;
        same = same && *id == target;
        *id = target;
    }
    if (err == NS_OK && same) {
        *result = UPSERT_UNCHANGED;
        return NS_OK;
    }
    *url_clash = false;
    if ((err == NS_OK || err == NS_ERR_NOT_FOUND) && w->url) {
        enum ns_err check =
            url_taken(st, publication_id, w->url, err == NS_OK ? *id : 0, url_clash);
        if (check)
            return check;
        if (*url_clash)
            return NS_ERR_CONFLICT;
    }
    if (err == NS_OK) {
        *result = UPSERT_UPDATED;
        err = article_update(st, publication_id, w, w->section ? section_key : NULL, now, *id);
    } else if (err == NS_ERR_NOT_FOUND) {
        *result = UPSERT_CREATED;
        err = article_insert(st, publication_id, w, w->section ? section_key : NULL, now, id);
    }
    if (err)
        return err;
    return authors_link(st, *id, publication_id, w, now);
}

enum ns_err store_article_delete(struct store *st, int64_t id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT 1 FROM articles WHERE id = ?");
    if (!s)
        return store_stmt_failed(st);
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? NS_ERR_NOT_FOUND : store_err(rc);
    /* unlink first so the entities' counters are recounted without it */
    enum ns_err err = store_article_links_set(st, id, false, NULL, 0);
    static const char *const deletes[] = {
        "DELETE FROM article_search WHERE rowid = ?",
        "DELETE FROM article_topics WHERE article_id = ?",
        "DELETE FROM article_authors WHERE article_id = ?",
        "DELETE FROM picks WHERE article_id = ?",
        "DELETE FROM articles WHERE id = ?",
    };
    for (size_t i = 0; i < sizeof(deletes) / sizeof(deletes[0]) && !err; i++) {
        s = store_stmt(st, deletes[i]);
        if (!s)
            return store_stmt_failed(st);
        sqlite3_bind_int64(s, 1, id);
        err = store_step_done(s);
    }
    return err;
}
