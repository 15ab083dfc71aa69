/*
 * article_parse.c - validation of the article write format.
 *
 * Rules: unknown and duplicate keys are refused; strings are checked for
 * type, length and control characters; blocks or body_text (exactly one)
 * become typed blocks; the normalised article is hashed so an identical
 * re-import is recognised as unchanged.
 */
#include "json/article_parse.h"

#include "json/entity_parse.h"
#include "json/fields.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/blocks.h"
#include "domain/params.h"
#include "domain/slug.h"
#include "domain/timefmt.h"

/* Lengths are in characters (Unicode code points), not bytes. */
enum {
    HEADLINE_MAX = 500,
    STANDFIRST_MAX = 4000,
    SHORT_MAX = 200,
    URL_MAX = 2048,
    ID_MAX = 200,
    AUTHORS_MAX = 20,
    BLOCKS_MAX = 2000,
    TEXT_MAX = 100000,
    TOPICS_MAX = 100,
    ENTITIES_MAX = 500,
};

/* Fields a client may send; anything else is refused (no mass assignment). */
static const char *const known_fields[] = {
    "publication", "external_id", "url",      "headline", "standfirst",
    "section",     "authors",     "published_at", "language", "access",
    "image",       "blocks",      "body_text", "topics",   "entities",
};

/* True when s is already in slug form (what slug_make would make of it). */
static bool is_slug(const char *s)
{
    char made[SLUG_BUF];
    slug_make(s, "", made);
    return strcmp(made, s) == 0;
}

static void parse_publication(struct field_ctx *c, json_t *root, struct publication_write *p)
{
    static const char *const keys[] = {"slug", "name", "homepage", "country", "language"};
    json_t *v = json_object_get(root, "publication");
    memset(p, 0, sizeof(*p));
    if (!v || json_is_null(v)) {
        field_errors_add(c->fe, "publication", "is required");
        return;
    }
    if (json_is_string(v)) {
        p->slug = fields_string(c, root, "publication", "publication", SHORT_MAX, true, false);
        if (p->slug && !is_slug(p->slug))
            field_errors_add(c->fe, "publication", "must be a slug such as the-guardian-uk");
        return;
    }
    if (!json_is_object(v)) {
        field_errors_add(c->fe, "publication", "must be a slug or an object");
        return;
    }
    fields_check_keys(c, v, "publication.", keys, sizeof(keys) / sizeof(keys[0]));
    p->slug = fields_string(c, v, "slug", "publication.slug", SHORT_MAX, false, false);
    p->name = fields_string(c, v, "name", "publication.name", SHORT_MAX, true, false);
    p->homepage = fields_url(c, v, "homepage", "publication.homepage", false);
    p->country = fields_string(c, v, "country", "publication.country", 2, false, false);
    p->language = fields_string(c, v, "language", "publication.language", 35, false, false);
    if (p->language && !params_language(p->language))
        field_errors_add(c->fe, "publication.language", "must be a language code such as en");
    if (p->slug && !is_slug(p->slug))
        field_errors_add(c->fe, "publication.slug", "must be a slug such as the-guardian-uk");
}

static void parse_image(struct field_ctx *c, json_t *root, struct image *img)
{
    static const char *const keys[] = {"url", "caption", "credit", "alt", "width", "height"};
    json_t *v = json_object_get(root, "image");
    memset(img, 0, sizeof(*img));
    if (!v || json_is_null(v))
        return;
    if (!json_is_object(v)) {
        field_errors_add(c->fe, "image", "must be an object or null");
        return;
    }
    fields_check_keys(c, v, "image.", keys, sizeof(keys) / sizeof(keys[0]));
    img->url = fields_url(c, v, "url", "image.url", true);
    img->caption = fields_string(c, v, "caption", "image.caption", STANDFIRST_MAX, false, false);
    img->credit = fields_string(c, v, "credit", "image.credit", SHORT_MAX, false, false);
    img->alt = fields_string(c, v, "alt", "image.alt", STANDFIRST_MAX, false, false);
    const char *dims[] = {"width", "height"};
    int *out[] = {&img->width, &img->height};
    for (int i = 0; i < 2; i++) {
        json_t *d = json_object_get(v, dims[i]);
        if (!d || json_is_null(d))
            continue;
        char field[32];
        snprintf(field, sizeof(field), "image.%s", dims[i]);
        if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > 100000)
            field_errors_add(c->fe, field, "must be an integer from 1 to 100000");
        else
            *out[i] = (int)json_integer_value(d);
    }
}

static void parse_authors(struct field_ctx *c, json_t *root, struct article_write *w)
{
    json_t *v = json_object_get(root, "authors");
    w->authors = NULL;
    w->n_authors = 0;
    if (!v || json_is_null(v))
        return;
    if (!json_is_array(v)) {
        field_errors_add(c->fe, "authors", "must be an array of names");
        return;
    }
    if (json_array_size(v) > AUTHORS_MAX) {
        field_errors_add(c->fe, "authors", "must have at most %d names", AUTHORS_MAX);
        return;
    }
    w->authors = arena_calloc(c->a, json_array_size(v) + 1, sizeof(*w->authors));
    if (!w->authors) {
        field_errors_nomem(c->fe, "authors");
        return;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        char field[32];
        snprintf(field, sizeof(field), "authors[%zu]", i);
        json_t *wrap = json_pack("{sO}", "n", item);
        const char *name = wrap ? fields_string(c, wrap, "n", field, SHORT_MAX, true, false) : NULL;
        json_decref(wrap);
        if (!name)
            continue;
        bool dup = false;
        for (size_t k = 0; k < w->n_authors && !dup; k++)
            dup = strcmp(w->authors[k], name) == 0;
        if (!dup)
            w->authors[w->n_authors++] = name;
    }
}

static bool parse_block(struct field_ctx *c, json_t *b, size_t i, struct block *out)
{
    static const char *const text_keys[] = {"type", "text"};
    static const char *const quote_keys[] = {"type", "text", "attribution"};
    static const char *const image_keys[] = {"type", "url", "caption", "credit"};
    char prefix[48], field[64];
    snprintf(prefix, sizeof(prefix), "blocks[%zu].", i);
    if (!json_is_object(b)) {
        snprintf(field, sizeof(field), "blocks[%zu]", i);
        field_errors_add(c->fe, field, "must be an object");
        return false;
    }
    const char *type = json_string_value(json_object_get(b, "type"));
    memset(out, 0, sizeof(*out));
    snprintf(field, sizeof(field), "%stype", prefix);
    if (!type) {
        field_errors_add(c->fe, field, "must be paragraph, heading, quote or image");
        return false;
    }
    size_t before = c->fe->count;
    snprintf(field, sizeof(field), "%stext", prefix);
    if (strcmp(type, "paragraph") == 0 || strcmp(type, "heading") == 0) {
        out->type = type[0] == 'p' ? BLOCK_PARAGRAPH : BLOCK_HEADING;
        fields_check_keys(c, b, prefix, text_keys, 2);
        out->text = fields_string(c, b, "text", field, TEXT_MAX, true, true);
    } else if (strcmp(type, "quote") == 0) {
        out->type = BLOCK_QUOTE;
        fields_check_keys(c, b, prefix, quote_keys, 3);
        out->text = fields_string(c, b, "text", field, TEXT_MAX, true, true);
        snprintf(field, sizeof(field), "%sattribution", prefix);
        out->attribution = fields_string(c, b, "attribution", field, SHORT_MAX, false, false);
    } else if (strcmp(type, "image") == 0) {
        out->type = BLOCK_IMAGE;
        fields_check_keys(c, b, prefix, image_keys, 4);
        snprintf(field, sizeof(field), "%surl", prefix);
        out->url = fields_url(c, b, "url", field, true);
        snprintf(field, sizeof(field), "%scaption", prefix);
        out->caption = fields_string(c, b, "caption", field, STANDFIRST_MAX, false, false);
        snprintf(field, sizeof(field), "%scredit", prefix);
        out->credit = fields_string(c, b, "credit", field, SHORT_MAX, false, false);
    } else {
        snprintf(field, sizeof(field), "%stype", prefix);
        field_errors_add(c->fe, field, "must be paragraph, heading, quote or image");
        return false;
    }
    return c->fe->count == before;
}

static void parse_body(struct field_ctx *c, json_t *root, struct article_write *w)
{
    json_t *blocks = json_object_get(root, "blocks");
    json_t *text = json_object_get(root, "body_text");
    bool has_blocks = blocks && !json_is_null(blocks), has_text = text && !json_is_null(text);
    w->blocks = NULL;
    w->n_blocks = 0;
    if (has_blocks == has_text) {
        field_errors_add(c->fe, has_blocks ? "body_text" : "blocks",
                         "give exactly one of blocks or body_text");
        return;
    }
    if (has_text) {
        const char *body = fields_string(c, root, "body_text", "body_text", TEXT_MAX * 10, true, true);
        struct block *made = NULL;
        long n = body ? blocks_from_text(c->a, body, &made) : 0;
        if (n < 0)
            field_errors_nomem(c->fe, "body_text");
        if (n > BLOCKS_MAX)
            field_errors_add(c->fe, "body_text", "must have at most %d paragraphs", BLOCKS_MAX);
        bool fits = n > 0 && n <= BLOCKS_MAX;
        /* each paragraph becomes a block: it keeps the limit a block's text has */
        for (long i = 0; fits && i < n; i++) {
            fits = fields_chars(made[i].text) <= TEXT_MAX;
            if (!fits)
                field_errors_add(c->fe, "body_text", "paragraph %ld is longer than %d characters",
                                 i + 1, TEXT_MAX);
        }
        if (fits) {
            w->blocks = made;
            w->n_blocks = (size_t)n;
        }
        return;
    }
    if (!json_is_array(blocks) || json_array_size(blocks) == 0 ||
        json_array_size(blocks) > BLOCKS_MAX) {
        field_errors_add(c->fe, "blocks", "must be an array of 1 to %d blocks", BLOCKS_MAX);
        return;
    }
    struct block *out = arena_calloc(c->a, json_array_size(blocks), sizeof(*out));
    if (!out) {
        field_errors_nomem(c->fe, "blocks");
        return;
    }
    size_t i;
    json_t *b;
    bool ok = true;
    json_array_foreach(blocks, i, b) ok = parse_block(c, b, i, &out[i]) && ok;
    if (ok) {
        w->blocks = out;
        w->n_blocks = json_array_size(blocks);
    }
}

static void parse_topics(struct field_ctx *c, json_t *root, struct article_write *w)
{
    json_t *topics = json_object_get(root, "topics");
    w->topics = NULL;
    w->n_topics = 0;
    if (!topics || json_is_null(topics))
        return;
    if (!json_is_array(topics) || json_array_size(topics) > TOPICS_MAX) {
        field_errors_add(c->fe, "topics", "must be an array of at most %d topic names or slugs",
                         TOPICS_MAX);
        return;
    }
    w->topics = arena_calloc(c->a, json_array_size(topics) + 1, sizeof(*w->topics));
    if (!w->topics) {
        field_errors_nomem(c->fe, "topics");
        return;
    }
    size_t i;
    json_t *t;
    json_array_foreach(topics, i, t)
    {
        char field[32];
        snprintf(field, sizeof(field), "topics[%zu]", i);
        json_t *wrap = json_pack("{sO}", "t", t);
        const char *name = wrap ? fields_string(c, wrap, "t", field, SHORT_MAX, true, false) : NULL;
        json_decref(wrap);
        if (name)
            w->topics[w->n_topics++] = name;
    }
}

static void parse_entities(struct field_ctx *c, json_t *root, struct article_write *w)
{
    json_t *entities = json_object_get(root, "entities");
    w->entities = NULL;
    w->n_entities = 0;
    if (!entities || json_is_null(entities))
        return;
    if (!json_is_array(entities) || json_array_size(entities) > ENTITIES_MAX) {
        field_errors_add(c->fe, "entities", "must be an array of at most %d entities",
                         ENTITIES_MAX);
        return;
    }
    struct entity_write *out = arena_calloc(c->a, json_array_size(entities) + 1, sizeof(*out));
    if (!out) {
        field_errors_nomem(c->fe, "entities");
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(entities, i, e)
    {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "entities[%zu].", i);
        if (entity_from_json(c, e, prefix, &out[w->n_entities]))
            w->n_entities++;
    }
    w->entities = out;
}

static void parse_scalars(struct field_ctx *c, json_t *root, struct article_write *w)
{
    w->external_id = fields_string(c, root, "external_id", "external_id", ID_MAX, false, false);
    w->url = fields_url(c, root, "url", "url", false);
    w->headline = fields_string(c, root, "headline", "headline", HEADLINE_MAX, true, false);
    w->standfirst = fields_string(c, root, "standfirst", "standfirst", STANDFIRST_MAX, false, true);
    w->section = fields_string(c, root, "section", "section", SHORT_MAX, false, false);
    w->language = fields_string(c, root, "language", "language", 35, false, false);
    if (w->language && !params_language(w->language)) {
        field_errors_add(c->fe, "language", "must be a language code such as en or pt-br");
        w->language = NULL;
    }
    const char *published = fields_string(c, root, "published_at", "published_at", 64, true, false);
    if (published && !timefmt_parse(published, &w->published_at))
        field_errors_add(c->fe, "published_at",
                         "must be an RFC 3339 date-time such as 2023-02-22T14:05:00Z");
    const char *access = fields_string(c, root, "access", "access", 16, false, false);
    w->premium = access && strcmp(access, "premium") == 0;
    if (access && !w->premium && strcmp(access, "free") != 0)
        field_errors_add(c->fe, "access", "must be free or premium");
    json_t *ext = json_object_get(root, "external_id"), *url = json_object_get(root, "url");
    if ((!ext || json_is_null(ext)) && (!url || json_is_null(url)))
        field_errors_add(c->fe, "external_id", "give external_id or url to identify the article");
}

/* Serialises the blocks in their stored form; NULL when memory runs out. */
static json_t *blocks_to_json(const struct block *blocks, size_t n)
{
    static const char *const names[] = {"paragraph", "heading", "quote", "image"};
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        const struct block *b = &blocks[i];
        json_t *o = json_object();
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            return NULL;
        }
        json_object_set_new(o, "type", json_string(names[b->type]));
        if (b->type == BLOCK_IMAGE) {
            json_object_set_new(o, "url", json_string(b->url));
            json_object_set_new(o, "caption", b->caption ? json_string(b->caption) : json_null());
            json_object_set_new(o, "credit", b->credit ? json_string(b->credit) : json_null());
        } else {
            json_object_set_new(o, "text", json_string(b->text));
            if (b->type == BLOCK_QUOTE)
                json_object_set_new(o, "attribution",
                                    b->attribution ? json_string(b->attribution) : json_null());
        }
    }
    return arr;
}

/* Fills blocks_json, word_count and the content hash of the normalised write. */
static enum ns_err finish(struct arena *a, json_t *root, struct article_write *w)
{
    json_t *blocks = blocks_to_json(w->blocks, w->n_blocks);
    char *text = fields_dumps(blocks, JSON_COMPACT);
    json_decref(blocks);
    /* a member json_object_set_new could not add is missing without a word: check */
    if (text && fields_memory_failed()) {
        free(text);
        text = NULL;
    }
    if (!text)
        return NS_ERR_NOMEM;
    w->blocks_json = arena_strdup(a, text);
    free(text);
    w->word_count = blocks_word_count(w->blocks, w->n_blocks);

    /* The hash covers the whole write as sent, keys sorted, plus the blocks made from it. */
    char *canon = fields_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    if (!canon || !w->blocks_json) {
        free(canon);
        return NS_ERR_NOMEM;
    }
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, sizeof(w->content_hash));
    crypto_generichash_update(&h, (const unsigned char *)canon, strlen(canon));
    crypto_generichash_update(&h, (const unsigned char *)w->blocks_json, strlen(w->blocks_json));
    crypto_generichash_final(&h, w->content_hash, sizeof(w->content_hash));
    free(canon);
    return NS_OK;
}

enum ns_err article_parse(struct arena *a, const char *text, size_t len, struct article_write *w,
                          struct field_errors *fe)
{
    json_error_t jerr;
    json_t *root = fields_load(text, len, &jerr);
    memset(w, 0, sizeof(*w));
    if (!root) {
        if (fields_load_out_of_memory(&jerr))
            return NS_ERR_NOMEM; /* not the writer's fault: no 400 */
        field_errors_add(fe, "body", "invalid JSON: %s (at byte %d)", jerr.text, jerr.position);
        return NS_ERR_BAD_JSON;
    }
    struct field_ctx c = {.a = a, .fe = fe};
    size_t before = fe->count;
    if (!json_is_object(root)) {
        field_errors_add(fe, "body", "must be a JSON object");
    } else {
        fields_check_keys(&c, root, "", known_fields, sizeof(known_fields) / sizeof(known_fields[0]));
        parse_publication(&c, root, &w->publication);
        parse_scalars(&c, root, w);
        parse_image(&c, root, &w->image);
        parse_authors(&c, root, w);
        parse_body(&c, root, w);
        parse_topics(&c, root, w);
        parse_entities(&c, root, w);
    }
    enum ns_err err = fe->count == before ? NS_OK : NS_ERR_INVALID;
    /* a value lost to a failed allocation must not be stored as absent, nor called invalid */
    if (fe->out_of_memory || a->failed || fields_memory_failed())
        err = NS_ERR_NOMEM;
    if (!err) {
        if (!w->language)
            w->language = w->publication.language ? w->publication.language : "en";
        err = finish(a, root, w);
    }
    json_decref(root);
    return err;
}

long article_blocks_from_json(struct arena *a, const char *text, struct block **out)
{
    json_t *arr = text ? json_loads(text, 0, NULL) : NULL;
    long n = -1;
    if (arr && json_is_array(arr)) {
        struct field_errors fe;
        struct field_ctx c = {.a = a, .fe = &fe};
        field_errors_init(&fe, a);
        *out = arena_calloc(a, json_array_size(arr) + 1, sizeof(**out));
        n = *out ? 0 : -1;
        size_t i;
        json_t *b;
        json_array_foreach(arr, i, b)
        {
            if (n >= 0 && parse_block(&c, b, i, &(*out)[n]))
                n++;
            else
                n = -1;
        }
    }
    json_decref(arr);
    return n;
}
