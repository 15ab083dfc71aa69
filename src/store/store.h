/*
 * store.h - newsstand's database: the only interface to SQLite.
 *
 * A struct store is one connection with its prepared-statement cache; it is
 * used by one thread at a time (each server worker owns one). Functions
 * return 0 or an enum ns_err and hand back plain C structs whose strings
 * live in the caller's arena. Nothing here knows JSON or HTTP.
 */
#ifndef NS_STORE_H
#define NS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "domain/apikey.h"
#include "domain/article.h"
#include "domain/cursor.h"
#include "domain/entity.h"
#include "domain/linking.h"

struct store;

/* Process-wide SQLite setup; call once before any store_open. */
void store_global_init(void);

/*
 * Opens (creating if need be) the database at path. Returns 0 and *out, or
 * an error with *out NULL; on error nothing stays open.
 */
enum ns_err store_open(const char *path, struct store **out);
/* Closes the connection and every cached statement. NULL is ignored. */
void store_close(struct store *st);
/*
 * Once every other connection of the process is closed: opens one more and
 * closes it, so the last close checkpoints the WAL and removes the -wal and
 * -shm files. Connections closed by exiting threads at once may each find
 * the others still open and leave them behind, and a -wal or -shm left by
 * one user can keep another user's server from writing.
 */
void store_settle(const char *path);

/* The last SQLite error message of this connection, for logs only. */
const char *store_errmsg(const struct store *st);

/*
 * Opens a write transaction, waiting up to 5 s for another process's write
 * lock (NS_ERR_BUSY after that). A connection opened while the file was
 * read-only is first opened anew if the file is writable now. Returns
 * NS_ERR_READ_ONLY, NS_ERR_DISK_FULL or NS_ERR_IO when the database cannot
 * be written; nothing is open then.
 */
enum ns_err store_begin(struct store *st);
/* store_begin, waiting at most wait_ms (0: not at all) for another's write lock. */
enum ns_err store_begin_wait(struct store *st, int wait_ms);
/*
 * A read snapshot: everything read until store_commit sees one state of the
 * database (a list and its total agree), and the WAL read lock is taken once.
 */
enum ns_err store_begin_read(struct store *st);
enum ns_err store_commit(struct store *st);
/* Rolls back if a transaction is open; safe to call when none is. */
void store_rollback(struct store *st);

/*
 * Savepoints nest inside a transaction so one bad article in a batch is
 * undone alone: store_savepoint, then store_release to keep the work or
 * store_rollback_savepoint to drop it (the savepoint is gone after either).
 * When dropping fails, the savepoint's work may still be in the
 * transaction: the caller must then roll the whole transaction back.
 */
enum ns_err store_savepoint(struct store *st);
enum ns_err store_release(struct store *st);
enum ns_err store_rollback_savepoint(struct store *st);

/* --- migrations (migrate.c) --- */

/*
 * Applies the migrations built into the binary that the database lacks, in
 * order, each in its own transaction. Returns NS_ERR_TOO_NEW (applying
 * nothing) when the database has migrations this binary does not know.
 * *applied counts what was applied now; *version is the resulting version.
 */
enum ns_err store_migrate(struct store *st, int *applied, int *version);
/* The number of the newest migration this binary knows. */
int store_schema_version_known(void);

/*
 * Runs SQLite's integrity and foreign-key checks and FTS5's check of the
 * search index; *ok false with *report (arena) otherwise. Returns an error
 * when a check cannot run (FTS5's writes: NS_ERR_READ_ONLY on a read-only file).
 */
enum ns_err store_check(struct store *st, struct arena *a, bool *ok, const char **report);

/*
 * Copies the whole database to a new file at dest, consistently, while
 * others keep reading and writing. The caller makes sure dest is new.
 */
enum ns_err store_backup(struct store *st, const char *dest);

/* Reads the cursor-sealing key made by the first migration. */
enum ns_err store_cursor_key(struct store *st, unsigned char key[CURSOR_KEY_LEN]);

/* --- publications and authors (publications.c) --- */

struct publication_ref {
    int64_t id;
    const char *slug;
    const char *name;
};

struct publication_row {
    int64_t id;
    const char *slug;
    const char *name;
    const char *homepage;
    const char *country;
    const char *language;
    int64_t article_count;
};

struct author_row {
    int64_t id;
    const char *slug;
    const char *name;
    bool has_publication;
    struct publication_ref publication;
    int64_t article_count;
};

/* Finds a publication by id (when id > 0) or slug; NS_ERR_NOT_FOUND when none. */
enum ns_err store_publication_get(struct store *st, struct arena *a, int64_t id, const char *slug,
                                  struct publication_row *out);

/*
 * Lists publications in slug order after the slug `after` (NULL from the start).
 * Returns at most limit rows in *rows (arena), their count in *n, and the
 * number of all publications in *total.
 */
enum ns_err store_publications_list(struct store *st, struct arena *a, const char *after,
                                    int limit, struct publication_row **rows, size_t *n,
                                    int64_t *total);

/* Finds an author by id (when id > 0) or slug; NS_ERR_NOT_FOUND when none. */
enum ns_err store_author_get(struct store *st, struct arena *a, int64_t id, const char *slug,
                             struct author_row *out);

/* --- articles (articles.c) --- */

struct author_ref {
    int64_t id;
    const char *slug;
    const char *name;
};

struct topic_ref {
    int64_t id;
    const char *slug;
    const char *name;
};

struct entity_ref {
    int64_t id;
    const char *slug;
    const char *name;
    const char *type;
    int mentions;
    double salience;
    bool given; /* named by the article's writer */
};

/* Entities carried by an article summary: the most salient ones. */
#define SUMMARY_ENTITIES_MAX 10

struct article_row {
    int64_t id;
    const char *slug;
    const char *url;
    const char *headline;
    const char *standfirst;
    const char *section;
    const char *language;
    bool premium;
    struct publication_ref publication;
    struct author_ref *authors;
    size_t n_authors;
    struct image image;
    int64_t published_at;
    int64_t updated_at;
    int word_count;
    const char *blocks_json; /* only filled by store_article_get */
    const char *external_id; /* only filled by store_article_get */
    struct topic_ref *topics; /* by name */
    size_t n_topics;
    struct entity_ref *entities; /* most salient first */
    size_t n_entities;
    double score; /* relevance, when listed by relevance */
    int64_t reads; /* all-time reads */
};

enum article_access { ACCESS_ANY, ACCESS_FREE, ACCESS_PREMIUM };
enum article_sort { SORT_NEWEST, SORT_OLDEST, SORT_RELEVANCE, SORT_POPULAR };

/* What a list of articles is filtered by, and where its page starts. */
struct article_filter {
    const int64_t *publication_ids; /* all must match */
    size_t n_publications;
    const int64_t *author_ids; /* all must match */
    size_t n_authors;
    const int64_t *topic_ids; /* all must match */
    size_t n_topics;
    const int64_t *entity_ids; /* all must match */
    size_t n_entities;
    int64_t follower; /* > 0: only articles matching any follow of this reader */
    const char *section_key; /* NULL: any */
    const char *language;    /* NULL: any */
    enum article_access access;
    bool has_from, has_to;
    int64_t from, to;  /* inclusive bounds on published_at */
    const char *match; /* FTS5 expression (from search_query); NULL: no search */
    /* the reader may not read premium articles: they match and rank on their
     * public parts only (match_public, from store_search_public) */
    bool hide_premium_rest;
    const char *match_public;
    enum article_sort sort; /* SORT_RELEVANCE needs match */
    bool has_after; /* keyset: continue after (after_time or after_score, after_id) */
    int64_t after_time, after_id;
    double after_score;
    int64_t after_reads; /* keyset of SORT_POPULAR */
    int limit;
};

/*
 * Lists the articles matching f, in published_at order (ties by id), at most
 * f->limit of them, in *rows (arena) with their count in *n, and the count
 * of all matches (ignoring the page) in *total.
 */
enum ns_err store_articles_list(struct store *st, struct arena *a, const struct article_filter *f,
                                struct article_row **rows, size_t *n, int64_t *total);

enum facet_kind { FACET_PUBLICATION, FACET_TOPIC, FACET_ENTITY, FACET_SECTION };
#define FACET_TOP 10

struct facet_row {
    const char *slug;
    const char *name;
    int64_t count;
};

/* The FACET_TOP most frequent values of kind over every article matching f (page ignored). */
enum ns_err store_articles_facet(struct store *st, struct arena *a, const struct article_filter *f,
                                 enum facet_kind kind, struct facet_row **rows, size_t *n);

/* --- search (search.c) --- */

/* One article's relevance and its marked text: matches wrapped in \x01 ... \x02. */
struct search_hit {
    bool found; /* false: the article does not match (it changed since it was listed) */
    double score;
    const char *headline; /* the whole headline */
    const char *lead;     /* a snippet of the preview blocks */
    const char *rest;     /* a snippet of the blocks after the preview */
};

/*
 * The hits of n articles (ids) for the FTS5 expression match, in hits[i]
 * for ids[i]; with hide_premium_rest, a premium article's hidden body does
 * not count towards its score.
 */
enum ns_err store_search_hits(struct store *st, struct arena *a, const char *match,
                              bool hide_premium_rest, const int64_t *ids, size_t n,
                              struct search_hit *hits);

/* match restricted to what a reader without access may see of an article (arena). */
const char *store_search_public(struct arena *a, const char *match);

/*
 * Rewrites the article's row of the search index: headline, standfirst,
 * authors and entities from what is stored, and the body text as given,
 * split where the paywall preview ends (lead, rest). Inside the caller's
 * transaction.
 */
enum ns_err store_article_search_refresh(struct store *st, int64_t article_id, const char *lead,
                                         const char *rest);

/*
 * Merges the search index into one segment. A bulk import leaves it in
 * dozens, and every term of every search is then looked up in each: after
 * 100,000 articles, searches ran 37% faster merged. Costs about 0.7 s per
 * 100,000 articles, so it is for the end of a bulk load, not for each write.
 */
enum ns_err store_search_optimize(struct store *st);

/* FTS5's own integrity check of the search index. */
enum ns_err store_search_check(struct store *st);

/* The number of stored articles. */
enum ns_err store_article_total(struct store *st, int64_t *total);

/* Bytes in the database file and in its write-ahead log (0 when there is none). */
enum ns_err store_size(struct store *st, int64_t *db_bytes, int64_t *wal_bytes);

/*
 * True when the database may have changed since this connection last asked:
 * a commit by any connection or process, this one included. The first call
 * says true. Never false after a change that committed before the call.
 */
bool store_changed(struct store *st);

/* This connection's page-cache hits and misses since the last call, which resets them. */
void store_cache_stats_take(struct store *st, int64_t *hits, int64_t *misses);

/* Finds one article, with its blocks and every linked entity, by id (when id > 0) or slug. */
enum ns_err store_article_get(struct store *st, struct arena *a, int64_t id, const char *slug,
                              struct article_row *out);

enum upsert_result { UPSERT_CREATED, UPSERT_UPDATED, UPSERT_UNCHANGED };

/*
 * Creates the article, or updates the one with the same publication and
 * external_id (else url); with target > 0, updates exactly that article
 * (NS_ERR_CONFLICT when the write's identity is another article's).
 * Creates the publication and authors on first sight. Must run inside a
 * transaction (store_begin); on error the caller rolls back.
 * NS_ERR_NOT_FOUND when the write names a publication slug that does not
 * exist and gives no name to create it with; NS_ERR_CONFLICT when its url
 * belongs to another article of the publication (then *url_clash is set).
 */
enum ns_err store_article_upsert(struct store *st, struct arena *a, const struct article_write *w,
                                 int64_t target, int64_t now, enum upsert_result *result,
                                 int64_t *id, bool *url_clash);

/*
 * Deletes the article with its links, search row and pick, keeping entity
 * counters exact. Inside the caller's transaction; NS_ERR_NOT_FOUND when
 * there is no such article.
 */
enum ns_err store_article_delete(struct store *st, int64_t id);

/*
 * Replaces the article's topic links and entity links, keeping entity
 * counters (article_count, first_seen, last_seen) exact. Inside the
 * caller's transaction. created says the article is new (cheaper upkeep).
 */
enum ns_err store_article_topics_set(struct store *st, int64_t article_id, const int64_t *ids,
                                     size_t n);
enum ns_err store_article_links_set(struct store *st, int64_t article_id, bool created,
                                    const struct entity_link *links, size_t n);

/* The ids of the entities the writer named for an article (kept by relink). */
enum ns_err store_article_given_entities(struct store *st, struct arena *a, int64_t article_id,
                                         int64_t **ids, size_t *n);

/* What relink reads of each article. */
struct article_text {
    int64_t id;
    const char *headline;
    const char *standfirst;
    const char *blocks_json;
};

/* Calls fn for every article in id order; stops at the first error fn returns. */
enum ns_err store_articles_each_text(struct store *st,
                                     enum ns_err (*fn)(void *cls, const struct article_text *t),
                                     void *cls);

/* --- entities (entities.c) --- */

struct entity_row {
    int64_t id;
    const char *slug;
    const char *name;
    const char *type;
    const char *description;
    const char *wikidata;
    const char **aliases; /* sorted */
    size_t n_aliases;
    int64_t article_count;
    bool seen;
    int64_t first_seen, last_seen;
};

/*
 * Finds an entity by id (digits), slug, or alias (its text or slug form).
 * NS_ERR_NOT_FOUND when none.
 */
enum ns_err store_entity_find(struct store *st, struct arena *a, const char *ref,
                              struct entity_row *out);

struct entity_filter {
    const char *type;       /* NULL: any */
    const char *prefix_key; /* folded prefix of name or alias; NULL: any */
    bool by_name;           /* order by folded name (else by article_count desc) */
    bool has_after;         /* keyset */
    int64_t after_count;
    const char *after_key;
    int64_t after_id;
    int limit;
};

enum ns_err store_entities_list(struct store *st, struct arena *a, const struct entity_filter *f,
                                struct entity_row **rows, size_t *n, int64_t *total);

struct related_row {
    struct entity_ref entity;
    int64_t count;
};

/* Entities sharing articles with entity_id, by shared count desc then id; keyset after (count, id). */
enum ns_err store_entity_related(struct store *st, struct arena *a, int64_t entity_id,
                                 bool has_after, int64_t after_count, int64_t after_id, int limit,
                                 struct related_row **rows, size_t *n, int64_t *total);

/*
 * Creates the entity, or finds the existing one (same wikidata id, else
 * same folded name or alias) and, when update is set, updates its type,
 * description and wikidata. Aliases are always added. Reports every name or
 * alias now known for the entity to on_name (so a matcher can learn it).
 */
enum ns_err store_entity_upsert(struct store *st, struct arena *a, const struct entity_write *w,
                                bool update, int64_t now, enum upsert_result *result,
                                int64_t *id,
                                void (*on_name)(void *cls, const char *name, int64_t id),
                                void *cls);

/* Calls fn with every entity name, then every alias, oldest entity first. */
enum ns_err store_entity_names_each(struct store *st,
                                    void (*fn)(void *cls, const char *name, int64_t id),
                                    void *cls);

/* --- API keys (keys.c) --- */

struct key_row {
    const char *name;
    const char *scope;
    int64_t created_at;
    bool used, revoked;
    int64_t last_used_at, revoked_at;
};

/* Stores a new key; NS_ERR_CONFLICT when the name is taken. */
enum ns_err store_key_create(struct store *st, const char *name, const char *scope,
                             const struct apikey *key, int64_t now);
enum ns_err store_keys_list(struct store *st, struct arena *a, struct key_row **rows, size_t *n);
/* Revokes the key called name (at once); NS_ERR_NOT_FOUND when there is none. */
enum ns_err store_key_revoke(struct store *st, const char *name, int64_t now);
/*
 * Checks a presented key: NS_OK with *admin set when it is known, not
 * revoked and its secret matches; NS_ERR_NOT_FOUND otherwise.
 */
enum ns_err store_key_verify(struct store *st, const struct apikey *key, int64_t now,
                             bool *admin);

/* --- editorial writes (admin.c), inside the caller's transaction --- */

struct entity_patch {
    const char *name; /* NULL: keep */
    const char *type; /* NULL: keep */
    bool set_description, set_wikidata, set_aliases;
    const char *description, *wikidata; /* NULL with set_*: clear */
    const char **aliases;               /* with set_aliases: the whole new list */
    size_t n_aliases;
};

/* Applies p to entity id (the slug stays); NS_ERR_CONFLICT when wikidata is another's. */
enum ns_err store_entity_patch(struct store *st, struct arena *a, int64_t id,
                               const struct entity_patch *p);
/*
 * Merges entity from into entity into: links (mentions and salience added
 * where both were linked), aliases, name and readers' follows move; the old
 * id and slug keep resolving to into. from is deleted.
 */
enum ns_err store_entity_merge(struct store *st, int64_t from, int64_t into);
/* Rewrites the search index's entity names for every article linked to entity_id. */
enum ns_err store_entity_reindex(struct store *st, int64_t entity_id);

/* Creates a topic; NS_ERR_CONFLICT when the slug is taken. parent 0: none. */
enum ns_err store_topic_create(struct store *st, const char *name, const char *slug,
                               int64_t parent, int64_t now, int64_t *id);
/* Renames and/or re-parents a topic; NS_ERR_INVALID when the parent would make a loop. */
enum ns_err store_topic_patch(struct store *st, int64_t id, const char *name, bool set_parent,
                              int64_t parent);

struct publication_patch {
    const char *name; /* NULL: keep */
    bool set_homepage, set_country, set_language;
    const char *homepage, *country, *language; /* NULL with set_*: clear */
};

/* Creates a publication; NS_ERR_CONFLICT when the slug is taken. */
enum ns_err store_publication_create(struct store *st, const struct publication_write *p,
                                     int64_t now, int64_t *id);
enum ns_err store_publication_patch(struct store *st, int64_t id,
                                    const struct publication_patch *p);

/* Replaces the editors' picks with ids, in order. */
enum ns_err store_picks_set(struct store *st, const int64_t *ids, size_t n);
/* The picks after position after_position: article ids and their positions. */
enum ns_err store_picks_ids(struct store *st, struct arena *a, int64_t after_position, int limit,
                            int64_t **ids, int64_t **positions, size_t *n, int64_t *total);
/* One article's summary row by id (NS_ERR_NOT_FOUND when gone). */
enum ns_err store_article_summary(struct store *st, struct arena *a, int64_t id,
                                  struct article_row *out);
/* Reads the summary and links of the row whose id is set (its score kept). */
enum ns_err store_article_read_row(struct store *st, struct arena *a, struct article_row *r);

/* --- readers (readers.c) --- */

#define SESSION_HASH_LEN 32

struct user_row {
    int64_t id;
    const char *email;
    const char *name;
    const char *plan; /* free, trial, member */
    bool has_expiry;
    int64_t expires_at;
    int64_t created_at;
    const char *password_hash; /* Argon2id string; never leaves the api layer */
};

/* Creates a reader; NS_ERR_CONFLICT when the email is registered. */
enum ns_err store_user_create(struct store *st, const char *email, const char *name,
                              const char *password_hash, const char *plan, int64_t expires_at,
                              int64_t now, int64_t *id);
enum ns_err store_user_get(struct store *st, struct arena *a, int64_t id, struct user_row *out);
enum ns_err store_user_by_email(struct store *st, struct arena *a, const char *email,
                                struct user_row *out);
/* Sets what is given (NULL keeps); NS_ERR_CONFLICT when the email is another reader's. */
enum ns_err store_user_update(struct store *st, int64_t id, const char *name, const char *email,
                              const char *password_hash);
/* Sets the plan; NS_ERR_NOT_FOUND when there is no such reader. */
enum ns_err store_user_membership(struct store *st, int64_t id, const char *plan, bool has_expiry,
                                  int64_t expires_at);
/* Deletes the reader with sessions, follows, bookmarks and history. */
enum ns_err store_user_delete(struct store *st, int64_t id);

enum ns_err store_session_create(struct store *st, const unsigned char hash[SESSION_HASH_LEN],
                                 int64_t user_id, int64_t now, int64_t expires_at);
/* The reader of an unexpired session; NS_ERR_NOT_FOUND otherwise. */
enum ns_err store_session_user(struct store *st, struct arena *a,
                               const unsigned char hash[SESSION_HASH_LEN], int64_t now,
                               struct user_row *out);
enum ns_err store_session_delete(struct store *st, const unsigned char hash[SESSION_HASH_LEN]);
/* Ends every session of the reader but keep. */
enum ns_err store_sessions_end_others(struct store *st, int64_t user_id,
                                      const unsigned char keep[SESSION_HASH_LEN]);

/* Failed sign-ins for email since `since`, and when their window began. */
enum ns_err store_sign_in_failures(struct store *st, const char *email, int64_t since,
                                   int *failures, int64_t *window_at);
enum ns_err store_sign_in_failed(struct store *st, const char *email, int64_t now, int64_t since);
enum ns_err store_sign_in_clear(struct store *st, const char *email);

/* --- a reader's library and reads (library.c) --- */

#define FOLLOWS_MAX 500

/* Follows (on) or unfollows kind/target; NS_ERR_INVALID past FOLLOWS_MAX. */
enum ns_err store_follow_set(struct store *st, int64_t user_id, const char *kind, int64_t target,
                             bool on, int64_t now);

struct follow_row {
    const char *kind;
    int64_t id;
    const char *slug;
    const char *name;
    int64_t followed_at;
};

/* The reader's follows, newest first, after the row `after` (NULL from the start). */
enum ns_err store_follows_list(struct store *st, struct arena *a, int64_t user_id,
                               const struct follow_row *after, int limit, struct follow_row **rows,
                               size_t *n, int64_t *total);

enum ns_err store_bookmark_set(struct store *st, int64_t user_id, int64_t article_id, bool on,
                               int64_t now);

enum shelf { SHELF_BOOKMARKS, SHELF_HISTORY };

struct shelf_row {
    int64_t article_id;
    int64_t at; /* bookmarked or last read */
};

enum ns_err store_shelf_list(struct store *st, struct arena *a, enum shelf shelf, int64_t user_id,
                             bool has_after, int64_t after_time, int64_t after_id, int limit,
                             struct shelf_row **rows, size_t *n, int64_t *total);

/* Counts a read (all-time and in its hour) and, for a reader (user_id > 0), records history. */
enum ns_err store_read_record(struct store *st, int64_t article_id, int64_t user_id, int64_t now);

struct ranked_row {
    int64_t article_id;
    double value; /* reads, or relatedness */
};

/* Articles by reads in the hours since since_hour, most first (ties by id). */
enum ns_err store_top_stories(struct store *st, struct arena *a, int64_t since_hour,
                              bool has_after, int64_t after_reads, int64_t after_id, int limit,
                              struct ranked_row **rows, size_t *n, int64_t *total);

/* The articles most related to article_id (never itself), best first. */
enum ns_err store_article_related(struct store *st, struct arena *a, int64_t article_id,
                                  int64_t now, int limit, struct ranked_row **rows, size_t *n);

/* --- topics (topics.c) --- */

struct topic_row {
    int64_t id;
    const char *slug;
    const char *name;
    bool has_parent;
    struct topic_ref parent;
    int64_t article_count;
    int64_t trend_articles; /* in the window, for trending lists */
    int64_t trend_reads;
};

/* Finds a topic by id (digits) or slug (of ref). */
enum ns_err store_topic_find(struct store *st, struct arena *a, const char *ref,
                             struct topic_row *out);

/* Finds the topic named or slugged by text, creating it (named text) when new. */
enum ns_err store_topic_resolve(struct store *st, const char *text, int64_t now, int64_t *id);

enum topic_sort { TOPICS_BY_NAME, TOPICS_BY_ARTICLES, TOPICS_TRENDING };

struct topic_filter {
    enum topic_sort sort;
    int64_t since, until; /* trending: the window (articles dated later are not news yet) */
    bool has_after;
    int64_t after_a, after_b, after_c; /* keyset: the counts ranked sorts order by */
    const char *after_slug;   /* keyset for name order */
    int64_t after_id;
    int limit;
};

enum ns_err store_topics_list(struct store *st, struct arena *a, const struct topic_filter *f,
                              struct topic_row **rows, size_t *n, int64_t *total);

#endif
