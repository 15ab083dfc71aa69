/*
 * routes.c - the route table: every endpoint newsstand serves, who may call
 * it, and what body it takes.
 *
 * Kept in step with src/api/openapi.json; the end-to-end suites check both
 * list the same routes.
 */
#include "api/handlers.h"
#include "http/router.h"

#define READ(pattern, handler) {"GET", pattern, handler, AUTH_NONE, BODY_NONE, NULL, NULL, false}
#define WRITE(method, pattern, handler, auth)                                                      \
    {method, pattern, handler, auth, BODY_JSON, NULL, NULL, false}
#define DROP(pattern, handler, auth) {"DELETE", pattern, handler, auth, BODY_NONE, NULL, NULL, false}
#define MINE(method, pattern, handler) {method, pattern, handler, AUTH_READER, BODY_NONE, NULL, NULL, false}
#define OPS(pattern, handler) {"GET", pattern, handler, AUTH_NONE, BODY_NONE, NULL, NULL, true}
#define MINE_JSON(method, pattern, handler)                                                        \
    {method, pattern, handler, AUTH_READER, BODY_JSON, NULL, NULL, false}

const struct route routes[] = {
    READ("/v1/articles", handle_articles_list),
    WRITE("POST", "/v1/articles", handle_article_post, AUTH_INGEST),
    READ("/v1/articles/{id}", handle_article_get),
    WRITE("PATCH", "/v1/articles/{id}", handle_article_patch, AUTH_INGEST),
    DROP("/v1/articles/{id}", handle_article_delete, AUTH_INGEST),
    {"POST", "/v1/import", handle_import_finish, AUTH_INGEST, BODY_NDJSON, import_feed,
     import_stream_free, false},
    READ("/v1/articles/{id}/related", handle_related),
    {"POST", "/v1/articles/{id}/reads", handle_read_post, AUTH_NONE, BODY_NONE, NULL, NULL, false},
    READ("/v1/top-stories", handle_top_stories),
    READ("/v1/picks", handle_picks_get),
    WRITE("PUT", "/v1/picks", handle_picks_put, AUTH_ADMIN),
    READ("/v1/publications", handle_publications_list),
    WRITE("POST", "/v1/publications", handle_publication_post, AUTH_ADMIN),
    READ("/v1/publications/{id}", handle_publication_get),
    WRITE("PATCH", "/v1/publications/{id}", handle_publication_patch, AUTH_ADMIN),
    READ("/v1/publications/{id}/articles", handle_publication_articles),
    READ("/v1/authors/{id}", handle_author_get),
    READ("/v1/authors/{id}/articles", handle_author_articles),
    READ("/v1/entities", handle_entities_list),
    WRITE("POST", "/v1/entities", handle_entity_post, AUTH_ADMIN),
    READ("/v1/entities/{id}", handle_entity_get),
    WRITE("PATCH", "/v1/entities/{id}", handle_entity_patch, AUTH_ADMIN),
    READ("/v1/entities/{id}/articles", handle_entity_articles),
    READ("/v1/entities/{id}/related", handle_entity_related),
    WRITE("POST", "/v1/entities/{id}/merge", handle_entity_merge, AUTH_ADMIN),
    READ("/v1/topics", handle_topics_list),
    WRITE("POST", "/v1/topics", handle_topic_post, AUTH_ADMIN),
    READ("/v1/topics/{id}", handle_topic_get),
    WRITE("PATCH", "/v1/topics/{id}", handle_topic_patch, AUTH_ADMIN),
    READ("/v1/topics/{id}/articles", handle_topic_articles),
    WRITE("POST", "/v1/users", handle_user_post, AUTH_NONE),
    WRITE("PUT", "/v1/users/{id}/membership", handle_membership_put, AUTH_ADMIN),
    WRITE("POST", "/v1/sessions", handle_session_post, AUTH_NONE),
    MINE("DELETE", "/v1/sessions/current", handle_session_delete),
    MINE("GET", "/v1/me", handle_me_get),
    MINE_JSON("PATCH", "/v1/me", handle_me_patch),
    MINE("DELETE", "/v1/me", handle_me_delete),
    MINE("GET", "/v1/me/follows", handle_follows_get),
    MINE("PUT", "/v1/me/follows/{kind}/{id}", handle_follow_put),
    MINE("DELETE", "/v1/me/follows/{kind}/{id}", handle_follow_delete),
    MINE("GET", "/v1/me/feed", handle_feed),
    MINE("GET", "/v1/me/bookmarks", handle_bookmarks_get),
    MINE("PUT", "/v1/me/bookmarks/{id}", handle_bookmark_put),
    MINE("DELETE", "/v1/me/bookmarks/{id}", handle_bookmark_delete),
    MINE("GET", "/v1/me/history", handle_history_get),
    OPS("/healthz", handle_healthz),
    OPS("/readyz", handle_readyz),
    READ("/openapi.json", handle_openapi),
    OPS("/metrics", handle_metrics),
};

const size_t routes_count = sizeof(routes) / sizeof(routes[0]);
