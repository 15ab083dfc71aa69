/*
 * article.h - the article model shared by the write path and the store.
 *
 * Plain C structs, no behaviour. Strings are owned by whatever arena the
 * caller filled them from; NULL means "absent".
 */
#ifndef NS_ARTICLE_H
#define NS_ARTICLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/entity.h"

struct image {
    const char *url; /* NULL when the article has no image */
    const char *caption;
    const char *credit;
    const char *alt;
    int width; /* 0 when unknown */
    int height;
};

enum block_type { BLOCK_PARAGRAPH, BLOCK_HEADING, BLOCK_QUOTE, BLOCK_IMAGE };

struct block {
    enum block_type type;
    const char *text;        /* paragraph, heading, quote */
    const char *attribution; /* quote, optional */
    const char *url;         /* image */
    const char *caption;     /* image, optional */
    const char *credit;      /* image, optional */
};

/* A publication as named by a write: by slug alone, or with its details. */
struct publication_write {
    const char *slug; /* NULL: derive from name */
    const char *name; /* NULL: the write named an existing slug only */
    const char *homepage;
    const char *country;
    const char *language;
};

/* A validated article as it is about to be stored. */
struct article_write {
    struct publication_write publication;
    const char *external_id;
    const char *url;
    const char *headline;
    const char *standfirst;
    const char *section;
    const char *language;
    bool premium;
    const char **authors;
    size_t n_authors;
    int64_t published_at;
    struct image image;
    const struct block *blocks;
    size_t n_blocks;
    const char **topics; /* names or slugs, as written */
    size_t n_topics;
    const struct entity_write *entities; /* named by the writer */
    size_t n_entities;
    const char *blocks_json; /* the blocks in their stored (wire) form */
    int word_count;
    unsigned char content_hash[16]; /* of the normalised write: spots no-op updates */
};

#endif
