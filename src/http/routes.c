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
    {"GET", "/healthz", handle_healthz},
    {"GET", "/readyz", handle_readyz},
    {"GET", "/openapi.json", handle_openapi},
};

const size_t routes_count = sizeof(routes) / sizeof(routes[0]);
