/*
 * fuzz_article.c - the article write format (src/json/article_parse.c):
 * any bytes as a POST /v1/articles body or an import line.
 *
 * Checks beyond "no crash, no leak": a refusal always names a problem; an
 * accepted article has what storing it needs, clean text in its one-line
 * fields, blocks whose stored form reads back the same, and the same
 * content hash when parsed again.
 */
#include "fuzz.h"

#include <sodium.h>
#include <string.h>

#include "core/text.h"
#include "domain/params.h"
#include "json/article_parse.h"

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_blocks_read_back(struct arena *a, const struct article_write *w)
{
    struct block *back = NULL;
    long n = article_blocks_from_json(a, w->blocks_json, &back);
    FUZZ_CHECK(n == (long)w->n_blocks);
    for (long i = 0; i < n; i++) {
        FUZZ_CHECK(back[i].type == w->blocks[i].type);
        FUZZ_CHECK(same_text(back[i].text, w->blocks[i].text));
        FUZZ_CHECK(same_text(back[i].url, w->blocks[i].url));
        FUZZ_CHECK(same_text(back[i].caption, w->blocks[i].caption));
        FUZZ_CHECK(same_text(back[i].credit, w->blocks[i].credit));
        FUZZ_CHECK(same_text(back[i].attribution, w->blocks[i].attribution));
    }
}

static void check_accepted(struct arena *a, const struct article_write *w, const uint8_t *data,
                           size_t size)
{
    FUZZ_CHECK(w->headline && text_is_clean_utf8(w->headline));
    FUZZ_CHECK(w->external_id || w->url);
    FUZZ_CHECK(!w->external_id || text_is_clean_utf8(w->external_id));
    FUZZ_CHECK(!w->url || text_is_clean_utf8(w->url));
    FUZZ_CHECK(!w->section || text_is_clean_utf8(w->section));
    FUZZ_CHECK(w->publication.slug || w->publication.name);
    FUZZ_CHECK(w->language && params_language(w->language));
    FUZZ_CHECK(w->n_blocks > 0 && w->blocks && w->blocks_json);
    FUZZ_CHECK(w->word_count >= 0);
    for (size_t i = 0; i < w->n_authors; i++)
        FUZZ_CHECK(w->authors[i] && text_is_clean_utf8(w->authors[i]));
    for (size_t i = 0; i < w->n_topics; i++)
        FUZZ_CHECK(w->topics[i] && text_is_clean_utf8(w->topics[i]));
    for (size_t i = 0; i < w->n_entities; i++)
        FUZZ_CHECK(w->entities[i].name && text_is_clean_utf8(w->entities[i].name));
    check_blocks_read_back(a, w);

    struct article_write again;
    struct field_errors fe;
    field_errors_init(&fe, a);
    FUZZ_CHECK(article_parse(a, (const char *)data, size, &again, &fe) == NS_OK);
    FUZZ_CHECK(memcmp(again.content_hash, w->content_hash, sizeof(w->content_hash)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready)
        ready = sodium_init() >= 0;
    struct arena a;
    struct field_errors fe;
    struct article_write w;
    arena_init(&a);
    field_errors_init(&fe, &a);
    enum ns_err err = article_parse(&a, (const char *)data, size, &w, &fe);
    FUZZ_CHECK(err == NS_OK || err == NS_ERR_INVALID || err == NS_ERR_BAD_JSON);
    if (err == NS_OK) {
        FUZZ_CHECK(fe.count == 0);
        check_accepted(&a, &w, data, size);
    } else {
        FUZZ_CHECK(fe.count > 0);
        for (size_t i = 0; i < field_errors_held(&fe); i++)
            FUZZ_CHECK(fe.items[i].field && fe.items[i].message);
    }
    arena_release(&a);
    return 0;
}
