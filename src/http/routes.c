/*
 * routes.c - the route table: every endpoint newsstand serves.
 *
 * Kept in step with src/api/openapi.json; the end-to-end suite checks both
 * list the same routes.
 */
#include "api/handlers.h"
#include "http/router.h"

const struct route routes[] = {
    {"GET", "/v1/articles", handle_articles_list},
    {"GET", "/v1/articles/{id}", handle_article_get},
    {"GET", "/v1/publications", handle_publications_list},
    {"GET", "/v1/publications/{id}", handle_publication_get},
    {"GET", "/v1/publications/{id}/articles", handle_publication_articles},
    {"GET", "/v1/authors/{id}", handle_author_get},
    {"GET", "/v1/authors/{id}/articles", handle_author_articles},
    {"GET", "/v1/entities", handle_entities_list},
    {"GET", "/v1/entities/{id}", handle_entity_get},
    {"GET", "/v1/entities/{id}/articles", handle_entity_articles},
    {"GET", "/v1/entities/{id}/related", handle_entity_related},
    {"GET", "/v1/topics", handle_topics_list},
    {"GET", "/v1/topics/{id}", handle_topic_get},
    {"GET", "/v1/topics/{id}/articles", handle_topic_articles},
    {"GET", "/healthz", handle_healthz},
    {"GET", "/readyz", handle_readyz},
    {"GET", "/openapi.json", handle_openapi},
};

const size_t routes_count = sizeof(routes) / sizeof(routes[0]);
