/*
 * fuzz_search.c - the search query translator (src/domain/search_query.c):
 * any text as ?q=, translated and then run against the seeded database's
 * FTS5 index, for everyone and for a reader who may not read premium text.
 *
 * Checks: a refusal says why; a translation is balanced (quotes and
 * parentheses) and FTS5 accepts it: whatever a reader types, SQLite never
 * sees a syntax error, so no input is read as FTS5 syntax; a page of hits
 * comes back with their highlights.
 */
#include "fuzz.h"

#include <string.h>

#include "domain/highlight.h"
#include "domain/search_query.h"

static void check_balanced(const char *match)
{
    bool quoted = false;
    long depth = 0;
    for (const char *c = match; *c; c++) {
        if (*c == '"')
            quoted = !quoted; /* a doubled quote inside a string toggles twice */
        else if (!quoted && (*c == '(' || *c == ')'))
            depth += *c == '(' ? 1 : -1;
        FUZZ_CHECK(depth >= 0);
    }
    FUZZ_CHECK(!quoted && depth == 0);
}

static void run_search(struct store *st, struct arena *a, const char *match, bool hide_premium)
{
    struct article_filter f = {.match = match, .sort = SORT_RELEVANCE, .limit = 5};
    struct article_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    if (hide_premium) {
        f.hide_premium_rest = true;
        f.match_public = store_search_public(a, match);
        FUZZ_CHECK(f.match_public != NULL);
    }
    FUZZ_CHECK(store_articles_list(st, a, &f, &rows, &n, &total) == NS_OK);
    FUZZ_CHECK(n <= 5 && (int64_t)n <= total);
    if (n == 0)
        return;
    int64_t ids[5];
    struct search_hit hits[5];
    for (size_t i = 0; i < n; i++)
        ids[i] = rows[i].id;
    FUZZ_CHECK(store_search_hits(st, a, match, hide_premium, ids, n, hits) == NS_OK);
    for (size_t i = 0; i < n; i++)
        if (hits[i].found && hits[i].headline)
            FUZZ_CHECK(highlight_html(a, hits[i].headline) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_world *w = fuzz_world_get();
    struct arena a;
    const char *why = NULL;
    arena_init(&a);
    const char *q = fuzz_cstr(&a, data, size);
    const char *match = search_query_translate(&a, q, &why);
    if (!match) {
        FUZZ_CHECK(why != NULL);
    } else {
        check_balanced(match);
        run_search(w->st, &a, match, false);
        run_search(w->st, &a, match, true);
    }
    arena_release(&a);
    return 0;
}
