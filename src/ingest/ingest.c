/*
 * ingest.c - parse + validate + upsert of one article, undone alone on failure.
 */
#include "ingest/ingest.h"

#include "json/article_parse.h"

enum ns_err ingest_article(struct store *st, struct arena *a, const char *json, size_t len,
                           int64_t now, enum upsert_result *result, int64_t *id,
                           struct field_errors *fe)
{
    struct article_write w;
    enum ns_err err = article_parse(a, json, len, &w, fe);
    if (err)
        return err;
    err = store_savepoint(st);
    if (err)
        return err;
    err = store_article_upsert(st, a, &w, now, result, id);
    if (err == NS_OK)
        return store_release(st);
    store_rollback_savepoint(st);
    if (err == NS_ERR_NOT_FOUND) {
        field_errors_add(fe, "publication",
                         "no publication '%s': give an object with a name to create it",
                         w.publication.slug ? w.publication.slug : "");
        return NS_ERR_INVALID;
    }
    if (err == NS_ERR_CONFLICT) {
        field_errors_add(fe, "url", "belongs to another article of this publication");
        return NS_ERR_INVALID;
    }
    return err;
}
