/*
 * handlers.h - every route handler, one file per resource behind it.
 */
#ifndef NS_HANDLERS_H
#define NS_HANDLERS_H

#include "api/api.h"

/* articles.c */
void handle_articles_list(struct req *rq, struct resp *rs);
void handle_article_get(struct req *rq, struct resp *rs);

/*
 * Serves an article list with the parameters of GET /v1/articles. route is
 * the route template (it scopes cursors); fixed_param names the filter the
 * path fixes ("publication" or "author") with its id, or is NULL.
 */
void articles_list(struct req *rq, struct resp *rs, const char *route, const char *fixed_param,
                   int64_t fixed_id);

/* The reader's personal feed: articles matching any of their follows, newest first. */
void articles_feed(struct req *rq, struct resp *rs, int64_t follower);

/* publications.c (publications and authors) */
void handle_publications_list(struct req *rq, struct resp *rs);
void handle_publication_get(struct req *rq, struct resp *rs);
void handle_publication_articles(struct req *rq, struct resp *rs);
void handle_author_get(struct req *rq, struct resp *rs);
void handle_author_articles(struct req *rq, struct resp *rs);

/* entities.c */
void handle_entities_list(struct req *rq, struct resp *rs);
void handle_entity_get(struct req *rq, struct resp *rs);
void handle_entity_articles(struct req *rq, struct resp *rs);
void handle_entity_related(struct req *rq, struct resp *rs);

/* topics.c */
void handle_topics_list(struct req *rq, struct resp *rs);
void handle_topic_get(struct req *rq, struct resp *rs);
void handle_topic_articles(struct req *rq, struct resp *rs);

/* writes.c: articles written over HTTP (the same path as the import command) */

/* Takes the write lock and begins a transaction; false (answered) when it cannot. */
bool write_begin(struct req *rq, struct resp *rs);
/* Commits when err is NS_OK, else rolls back; releases the lock; returns the outcome. */
enum ns_err write_end(struct req *rq, enum ns_err err);
/* Answers a failed write: 400 malformed JSON, 409 conflict, 422 naming fields, else by code. */
void write_problem(struct req *rq, struct resp *rs, enum ns_err err, const struct field_errors *fe);

void handle_article_post(struct req *rq, struct resp *rs);
void handle_article_patch(struct req *rq, struct resp *rs);
void handle_article_delete(struct req *rq, struct resp *rs);
enum ns_err import_feed(struct req *rq, const char *data, size_t len);
void handle_import_finish(struct req *rq, struct resp *rs);
void import_stream_free(void *stream);

/* admin.c: entities, topics, publications and picks */
void handle_entity_post(struct req *rq, struct resp *rs);
void handle_entity_patch(struct req *rq, struct resp *rs);
void handle_entity_merge(struct req *rq, struct resp *rs);
void handle_topic_post(struct req *rq, struct resp *rs);
void handle_topic_patch(struct req *rq, struct resp *rs);
void handle_publication_post(struct req *rq, struct resp *rs);
void handle_publication_patch(struct req *rq, struct resp *rs);
void handle_picks_put(struct req *rq, struct resp *rs);
void handle_picks_get(struct req *rq, struct resp *rs);

/* readers.c: accounts and membership */
void handle_user_post(struct req *rq, struct resp *rs);
void handle_session_post(struct req *rq, struct resp *rs);
void handle_session_delete(struct req *rq, struct resp *rs);
void handle_me_get(struct req *rq, struct resp *rs);
void handle_me_patch(struct req *rq, struct resp *rs);
void handle_me_delete(struct req *rq, struct resp *rs);
void handle_membership_put(struct req *rq, struct resp *rs);

/* library.c: follows, feed, bookmarks, history, reads, top stories, related */
void handle_follow_put(struct req *rq, struct resp *rs);
void handle_follow_delete(struct req *rq, struct resp *rs);
void handle_follows_get(struct req *rq, struct resp *rs);
void handle_feed(struct req *rq, struct resp *rs);
void handle_bookmarks_get(struct req *rq, struct resp *rs);
void handle_bookmark_put(struct req *rq, struct resp *rs);
void handle_bookmark_delete(struct req *rq, struct resp *rs);
void handle_history_get(struct req *rq, struct resp *rs);
void handle_read_post(struct req *rq, struct resp *rs);
void handle_top_stories(struct req *rq, struct resp *rs);
void handle_related(struct req *rq, struct resp *rs);

/* ops.c */
void handle_healthz(struct req *rq, struct resp *rs);
void handle_readyz(struct req *rq, struct resp *rs);
void handle_openapi(struct req *rq, struct resp *rs);
void handle_metrics(struct req *rq, struct resp *rs);

#endif
