/*
 * admin_parse.h - the bodies of the editorial write routes, from JSON to
 * validated structs. Each returns NS_OK, NS_ERR_BAD_JSON (not JSON) or
 * NS_ERR_INVALID with every problem in *fe.
 */
#ifndef NS_ADMIN_PARSE_H
#define NS_ADMIN_PARSE_H

#include "core/errors.h"
#include "store/store.h"

/* PATCH /v1/entities/{id}: name, type, aliases (replaces), wikidata, description. */
enum ns_err entity_patch_parse(struct arena *a, const char *text, size_t len,
                               struct entity_patch *out, struct field_errors *fe);

/* POST /v1/entities/{id}/merge: {"into": id or slug}. */
enum ns_err merge_parse(struct arena *a, const char *text, size_t len, const char **into,
                        struct field_errors *fe);

struct topic_write {
    const char *name, *slug;
    bool set_parent;
    const char *parent; /* id or slug; NULL with set_parent: no parent */
};

/* POST (create: name required) and PATCH /v1/topics bodies. */
enum ns_err topic_parse(struct arena *a, const char *text, size_t len, bool create,
                        struct topic_write *out, struct field_errors *fe);

/* POST (create: name required) and PATCH /v1/publications bodies. */
enum ns_err publication_parse(struct arena *a, const char *text, size_t len, bool create,
                              struct publication_write *out, struct publication_patch *patch,
                              struct field_errors *fe);

#define PICKS_MAX 50

/* PUT /v1/picks: {"article_ids": [1..50 distinct positive ids]}. */
enum ns_err picks_parse(struct arena *a, const char *text, size_t len, int64_t **ids, size_t *n,
                        struct field_errors *fe);

#endif
