/*
 * test_alloc_fail.c - allocation failure, injected (in the manner of
 * jansson's test_chaos.c) into the real handlers of the write and read
 * routes over a real database file: the Nth allocation of a request fails,
 * for every N the request makes, then every allocation from the Nth on.
 *
 * Every allocation counts: newsstand's own (malloc, calloc, realloc,
 * strdup and strndup are wrapped at link time, -Wl,--wrap), jansson's
 * (fields_global_init routes them through malloc) and SQLite's
 * (SQLITE_CONFIG_MALLOC). Each failed request must answer a clean 500/503
 * problem, or succeed with the whole answer if what failed was optional (a
 * success with a member missing is a failure, as is one whose text
 * jansson's dump garbled); never crash, leak (LeakSanitizer at exit), leave
 * the write lock held or a transaction open, or store half an article; and
 * the next request must work.
 *
 * The warm passes try every N; the cold-cache pass (a new connection each
 * time, so statement preparation fails too) every NEWSSTAND_ALLOC_EVERY-th
 * (8 by default; 1 in make check-hard). NEWSSTAND_ALLOC_TRACE=N prints where
 * allocation N is made when it fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <execinfo.h>
#include <jansson.h>
#include <sqlite3.h>

#include "api/handlers.h"
#include "ingest/ingest.h"
#include "core/oom.h"
#include "json/fields.h"
#include "store/store.h"

/* --- the failing allocator ------------------------------------------------ */

static long alloc_seen;    /* allocations since the count was last reset */
static long fail_at;       /* the allocation that fails (0: none) */
static bool fail_onwards;  /* and every one after it */
static long failures_made; /* allocations refused, all told */
static long trying;        /* the fail_at of the run being checked, for messages */
static bool trying_onwards;
static long trace_at; /* NEWSSTAND_ALLOC_TRACE=N: print where allocation N is made, when it fails */

static bool refuse(void)
{
    alloc_seen++;
    if (fail_at > 0 && (alloc_seen == fail_at || (fail_onwards && alloc_seen > fail_at))) {
        failures_made++;
        if (trace_at == fail_at && alloc_seen == fail_at) {
            void *frames[24];
            backtrace_symbols_fd(frames, backtrace(frames, 24), 2);
        }
        return true;
    }
    return false;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t n)
{
    return refuse() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return refuse() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return refuse() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = refuse() ? NULL : __real_malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

char *__wrap_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = refuse() ? NULL : __real_malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* SQLite wants each block's size back: keep it in a 16-byte header. */
static void *sql_malloc(int n)
{
    if (refuse())
        return NULL;
    int64_t *p = __real_malloc((size_t)n + 16);
    if (!p)
        return NULL;
    p[0] = n;
    return p + 2;
}

static void sql_free(void *p)
{
    if (p)
        free((int64_t *)p - 2);
}

static void *sql_realloc(void *p, int n)
{
    if (refuse())
        return NULL;
    int64_t *q = __real_realloc((int64_t *)p - 2, (size_t)n + 16);
    if (!q)
        return NULL;
    q[0] = n;
    return q + 2;
}

static int sql_size(void *p)
{
    return (int)((int64_t *)p - 2)[0];
}

static int sql_roundup(int n)
{
    return (n + 7) & ~7;
}

static int sql_init(void *app)
{
    (void)app;
    return SQLITE_OK;
}

static void sql_shutdown(void *app)
{
    (void)app;
}

static const sqlite3_mem_methods failing_sqlite = {
    sql_malloc, sql_free, sql_realloc, sql_size, sql_roundup, sql_init, sql_shutdown, NULL};

/* --- a server's worth of state, without HTTP ------------------------------ */

struct fixture {
    char dir[64];
    char path[96];
    struct store *st;
    struct api_ctx ctx;
    struct sqlite3 *peek; /* a second connection, to look at the file */
    struct sqlite3 *check; /* a third, writable: FTS5's integrity check is an INSERT */
    long serial;
    long checks;
};

static struct fixture fx;

struct call {
    struct arena arena;
    struct req rq;
    struct resp rs;
    struct param query[2];
};

static void call_init(struct call *c, const char *method, const char *path, const char *id,
                      const char *body)
{
    memset(c, 0, sizeof(*c));
    arena_init(&c->arena);
    c->rq = (struct req){.method = method,
                         .path = path,
                         .query = c->query,
                         .request_id = "alloc-test",
                         .now = 1714557600,
                         .arena = &c->arena,
                         .store = fx.st,
                         .ctx = &fx.ctx,
                         .body = body ? body : "",
                         .body_len = body ? strlen(body) : 0};
    c->rq.path_params[0] = id;
    c->rs.status = 500;
    oom_mark(); /* a request begins */
}

static char *last_body; /* the body of the last answer, kept for the shape checks */

static void call_release(struct call *c)
{
    free(last_body);
    last_body = c->rs.body ? strndup(c->rs.body, c->rs.len) : NULL;
    if (c->rq.stream)
        import_stream_free(c->rq.stream);
    free(c->rs.body);
    arena_release(&c->arena);
}

/* What server.c does with an answer that has no body: a 503 problem (or its fixed fallback). */
static void settle(struct call *c)
{
    if (!c->rs.body)
        resp_problem(&c->rq, &c->rs, NS_ERR_NOMEM, NULL, NULL);
}

/* A GET as server.c's dispatch runs it: in a read transaction, or a 503 when none can begin. */
static void dispatch_read(struct call *c, handler_fn handler)
{
    if (store_begin_read(fx.st) == NS_OK) {
        handler(&c->rq, &c->rs);
        store_rollback(fx.st);
    } else {
        resp_problem(&c->rq, &c->rs, NS_ERR_UNAVAILABLE, NULL, NULL);
    }
    settle(c);
}

static const char *header_of(const struct resp *rs, const char *name)
{
    for (size_t i = 0; i < rs->n_headers; i++)
        if (strcmp(rs->headers[i].name, name) == 0)
            return rs->headers[i].value;
    return NULL;
}

static char *article_json(long n, const char *word)
{
    char *s = NULL;
    int len = asprintf(&s,
                       "{\"publication\":{\"slug\":\"chaos\",\"name\":\"Chaos Courier\"},"
                       "\"external_id\":\"c%ld\",\"headline\":\"Chaos report %ld\","
                       "\"published_at\":\"2024-05-01T10:00:00Z\",\"language\":\"en\","
                       "\"authors\":[\"Nora Null\"],\"topics\":[\"faults\"],"
                       "\"body_text\":\"The %s reading came first.\\n\\nThe harbour council "
                       "met at noon.\\n\\nA third paragraph ends it.\","
                       "\"entities\":[{\"name\":\"Mallory Chaos %ld\",\"type\":\"person\"}]}",
                       n, n, word, n);
    assert_true(len > 0);
    return s;
}

static void word_of(long n, char out[16])
{
    /* consonants only: no stemmer changes it, no other article has it */
    static const char letters[] = "bcdfghjklmnpqrstvwxz";
    out[0] = 'q';
    for (int i = 1; i < 10; i++) {
        out[i] = letters[n % 20];
        n /= 20;
    }
    out[10] = '\0';
}

static int peek_int(const char *sql, const char *text)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(fx.peek, sql, -1, &s, NULL), SQLITE_OK);
    if (text)
        sqlite3_bind_text(s, 1, text, -1, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* The article c<n> is stored whole (row, search entry, links), or not at all. */
static bool article_whole(long n, bool *present)
{
    char ext[32], word[16];
    snprintf(ext, sizeof(ext), "c%ld", n);
    word_of(n, word);
    int rows = peek_int("SELECT count(*) FROM articles WHERE external_id = ?", ext);
    int found = peek_int("SELECT count(*) FROM article_search WHERE article_search MATCH ?", word);
    int links = peek_int("SELECT count(*) FROM article_entities x JOIN articles a"
                         " ON a.id = x.article_id WHERE a.external_id = ?",
                         ext);
    int topics = peek_int("SELECT count(*) FROM article_topics x JOIN articles a"
                          " ON a.id = x.article_id WHERE a.external_id = ?",
                          ext);
    *present = rows == 1;
    bool whole = rows == 0 ? found == 0 && links == 0 && topics == 0
                           : rows == 1 && found == 1 && links >= 1 && topics == 1;
    if (!whole)
        print_message("article %s with allocation %ld failing%s: %d rows, %d search hits, %d entity "
                      "links, %d topic links\n",
                      ext, trying, trying_onwards ? " (and on)" : "", rows, found, links, topics);
    return whole;
}

/* Nothing anywhere points at an article that is not there; SQLite and FTS5 call the file sound. */
static void no_orphans(void)
{
    char *msg = NULL;
    int rc = sqlite3_exec(fx.check,
                          "INSERT INTO article_search (article_search) VALUES ('integrity-check')",
                          NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("FTS5 integrity check after allocation %ld failing%s: %s", trying,
                 trying_onwards ? " (and on)" : "", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(fx.peek, "PRAGMA quick_check", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    if (strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0)
        fail_msg("quick_check after allocation %ld failing: %s", trying, sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    assert_int_equal(peek_int("SELECT count(*) FROM article_search s WHERE NOT EXISTS"
                              " (SELECT 1 FROM articles a WHERE a.id = s.rowid)",
                              NULL),
                     0);
    assert_int_equal(peek_int("SELECT count(*) FROM articles a WHERE NOT EXISTS"
                              " (SELECT 1 FROM article_search s WHERE s.rowid = a.id)",
                              NULL),
                     0);
    assert_int_equal(peek_int("SELECT count(*) FROM entities e WHERE e.article_count !="
                              " (SELECT count(*) FROM article_entities x WHERE x.entity_id = e.id)",
                              NULL),
                     0);
}

/*
 * The answer is a success in ok, or a 503 problem with Retry-After: memory
 * running out is worth retrying, never a 500, whatever a library called it.
 */
static void answer_clean(const struct resp *rs, int ok)
{
    if (rs->status == ok)
        return;
    if (rs->status != 503)
        fail_msg("allocation %ld failing%s: expected %d or a 503 problem, got %d: %.400s", trying,
                 trying_onwards ? " (and on)" : "", ok, rs->status,
                 rs->body ? rs->body : "(no body)");
    if (!header_of(rs, "Retry-After"))
        fail_msg("allocation %ld failing%s: a 503 without Retry-After", trying,
                 trying_onwards ? " (and on)" : "");
    if (!rs->body)
        return; /* not even the fixed problem could be copied: the head says it all */
    json_t *j = json_loads(rs->body, 0, NULL);
    if (!j)
        fail_msg("%d with a body that is not JSON: %.200s", rs->status, rs->body);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), rs->status);
    assert_non_null(strstr(rs->content_type, "problem+json"));
    json_decref(j);
}

/* No lock held, no transaction left open: the next write can start. */
static void nothing_held(void)
{
    assert_int_equal(pthread_mutex_trylock(&fx.ctx.write_lock), 0);
    pthread_mutex_unlock(&fx.ctx.write_lock);
    oom_mark(); /* a request of its own */
    enum ns_err err = store_begin(fx.st);
    if (err)
        fail_msg("allocation %ld failing%s left the connection unable to begin: %s (%s)", trying,
                 trying_onwards ? " (and on)" : "", ns_err_str(err), store_errmsg(fx.st));
    store_rollback(fx.st);
}

/* --- requests --------------------------------------------------------------- */

static int post_article(long n)
{
    char word[16];
    word_of(n, word);
    char *body = article_json(n, word);
    struct call c;
    call_init(&c, "POST", "/v1/articles", NULL, body);
    handle_article_post(&c.rq, &c.rs);
    settle(&c);
    int status = c.rs.status;
    fail_at = 0;
    answer_clean(&c.rs, 201);
    call_release(&c);
    free(body);
    return status;
}

static int import_two(long n)
{
    char word[16], word2[16];
    word_of(n, word);
    word_of(n + 1, word2);
    char *a = article_json(n, word), *b = article_json(n + 1, word2);
    struct call c;
    call_init(&c, "POST", "/v1/import", NULL, NULL);
    enum ns_err err = import_feed(&c.rq, a, strlen(a));
    if (!err)
        err = import_feed(&c.rq, "\n", 1);
    if (!err)
        err = import_feed(&c.rq, b, strlen(b)); /* the last line without its newline */
    if (err)
        resp_problem(&c.rq, &c.rs, err, NULL, NULL);
    else
        handle_import_finish(&c.rq, &c.rs);
    settle(&c);
    int status = c.rs.status;
    fail_at = 0;
    answer_clean(&c.rs, 200);
    call_release(&c);
    free(a);
    free(b);
    return status;
}

static int patch_article(long n, const char *id)
{
    char body[160];
    snprintf(body, sizeof(body), "{\"headline\":\"Patched %ld\",\"standfirst\":\"Now %ld.\"}", n, n);
    struct call c;
    call_init(&c, "PATCH", "/v1/articles/1", id, body);
    handle_article_patch(&c.rq, &c.rs);
    settle(&c);
    int status = c.rs.status;
    fail_at = 0;
    answer_clean(&c.rs, 200);
    call_release(&c);
    return status;
}

static int delete_article(const char *id)
{
    struct call c;
    call_init(&c, "DELETE", "/v1/articles/x", id, NULL);
    handle_article_delete(&c.rq, &c.rs);
    settle(&c);
    int status = c.rs.status;
    fail_at = 0;
    answer_clean(&c.rs, 204);
    call_release(&c);
    return status;
}

static int read_search(long n)
{
    char word[16];
    word_of(n, word);
    struct call c;
    call_init(&c, "GET", "/v1/articles", NULL, NULL);
    c.query[0] = (struct param){"q", word};
    c.rq.n_query = 1;
    dispatch_read(&c, handle_articles_list);
    int status = c.rs.status;
    fail_at = 0;
    answer_clean(&c.rs, 200);
    call_release(&c);
    return status;
}

static int read_article(const char *id)
{
    struct call c;
    call_init(&c, "GET", "/v1/articles/1", id, NULL);
    dispatch_read(&c, handle_article_get);
    int status = c.rs.status;
    fail_at = 0;
    answer_clean(&c.rs, 200);
    call_release(&c);
    return status;
}

/* --- the loops ------------------------------------------------------------ */

enum scenario { POST, IMPORT, PATCH, DELETE, SEARCH, GET };

/* Runs one request of scenario s as article n (with fail_at armed by the caller). */
static int run(enum scenario s, long n)
{
    char id[24];
    switch (s) {
    case POST:
        return post_article(n);
    case IMPORT:
        return import_two(n);
    case PATCH:
        return patch_article(n, "1");
    case DELETE:
        snprintf(id, sizeof(id), "%ld", n);
        return delete_article(id);
    case SEARCH:
        return read_search(1);
    case GET:
        return read_article("1");
    }
    return 0;
}

/* The request's article number (for a DELETE: an article made to be deleted, its id). */
static long prepare(enum scenario s)
{
    long n = ++fx.serial * 2 + 100;
    if (s != DELETE)
        return n;
    assert_int_equal(post_article(n), 201);
    return peek_int("SELECT max(id) FROM articles", NULL);
}

/* Article 1's headline in its row and in its search entry: one version, the same in both. */
static bool patched_as(long n)
{
    char want[32];
    snprintf(want, sizeof(want), "Patched %ld", n);
    int in_row = peek_int("SELECT count(*) FROM articles WHERE id = 1 AND headline = ?", want);
    int in_index = peek_int("SELECT count(*) FROM article_search WHERE rowid = 1 AND headline = ?",
                            want);
    assert_int_equal(in_row, in_index);
    return in_row == 1;
}

/*
 * After a request under failure: whole or absent, nothing held, and the
 * next request works. An acknowledged write is there; a refused one may be
 * there too (whole) when what failed was building the answer after the commit.
 */
static void after(enum scenario s, long n, int status)
{
    bool present = false;
    if (s == POST || s == IMPORT) {
        assert_true(article_whole(n, &present));
        if (status == 201 || status == 200)
            assert_true(present);
        if (s == IMPORT) {
            bool second = false;
            assert_true(article_whole(n + 1, &second));
            if (status == 200) /* acknowledged: both lines are there */
                assert_true(present && second);
        }
    }
    if (s == PATCH && patched_as(n) != (status == 200))
        assert_true(status >= 500); /* stored, but the answer could not be made */
    if (s == DELETE) {
        char ext[32];
        snprintf(ext, sizeof(ext), "%ld", n);
        int rows = peek_int("SELECT count(*) FROM articles WHERE id = CAST(? AS INTEGER)", ext);
        if (status == 204)
            assert_int_equal(rows, 0);
    }
    /* the whole file now and then (it grows with every run: scans add up) */
    if (++fx.checks % 64 == 0)
        no_orphans();
    nothing_held();
}

/*
 * A 2xx answer under failure is the whole answer: every member the clean
 * run's answer has, with a value of the same kind, arrays as long, all the
 * way down (values differ: each run writes its own article). A member
 * dropped because adding it failed is a defect.
 */
static bool same_shape(const json_t *a, const json_t *b, const char *where)
{
    if (json_typeof(a) != json_typeof(b) &&
        !(json_is_number(a) && json_is_number(b))) {
        print_message("%s: a %d where the clean answer has a %d\n", where, json_typeof(a),
                      json_typeof(b));
        return false;
    }
    char sub[256];
    if (json_is_object(b)) {
        const char *key;
        json_t *v;
        if (json_object_size(a) != json_object_size(b))
            print_message("%s: %zu members, the clean answer %zu\n", where, json_object_size(a),
                          json_object_size(b));
        json_object_foreach ((json_t *)b, key, v) {
            snprintf(sub, sizeof(sub), "%s.%s", where, key);
            const json_t *w = json_object_get(a, key);
            if (!w) {
                print_message("%s missing\n", sub);
                return false;
            }
            if (!same_shape(w, v, sub))
                return false;
        }
        return json_object_size(a) == json_object_size(b);
    }
    if (json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b)) {
            print_message("%s: %zu items, the clean answer %zu\n", where, json_array_size(a),
                          json_array_size(b));
            return false;
        }
        for (size_t i = 0; i < json_array_size(b); i++) {
            snprintf(sub, sizeof(sub), "%s[%zu]", where, i);
            if (!same_shape(json_array_get(a, i), json_array_get(b, i), sub))
                return false;
        }
    }
    return true;
}

/* A JSON body, or NDJSON (an import's answer): each line a value, wrapped in an array. */
static json_t *load_answer(const char *text)
{
    json_t *lines = json_array();
    assert_non_null(lines);
    for (const char *p = text; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        json_t *v = json_loadb(p, len, 0, NULL);
        if (!v) {
            json_decref(lines);
            return NULL;
        }
        json_array_append_new(lines, v);
        p = end ? end + 1 : NULL;
    }
    return lines;
}

static void answer_whole(const char *clean, int status)
{
    if (status < 200 || status >= 300 || status == 204)
        return;
    json_t *want = load_answer(clean);
    json_t *got = last_body ? load_answer(last_body) : NULL;
    assert_non_null(want);
    if (!got)
        fail_msg("allocation %ld failing%s: a %d whose body is not JSON: %.200s", trying,
                 trying_onwards ? " (and on)" : "", status, last_body ? last_body : "(none)");
    if (!same_shape(got, want, "$"))
        fail_msg("allocation %ld failing%s: a %d with less than the whole answer: %.600s", trying,
                 trying_onwards ? " (and on)" : "", status, last_body);
    json_decref(want);
    json_decref(got);
}

/* Fails each allocation of the request in turn (every `every`-th), then from each on. */
static void chaos(enum scenario s, bool cold, long every)
{
    /* a clean run to count what the request allocates */
    if (cold) {
        store_close(fx.st);
        assert_int_equal(store_open(fx.path, &fx.st), NS_OK);
    }
    long n = prepare(s);
    alloc_seen = 0;
    int status = run(s, n);
    long total = alloc_seen;
    assert_true(status >= 200 && status < 300);
    char *clean = last_body ? strdup(last_body) : NULL;
    assert_non_null(clean);
    after(s, n, status);
    assert_true(total > 0);
    long tried = 0, refused = 0;
    for (int onwards = 0; onwards < 2; onwards++) {
        for (long k = 1; k <= total + 1; k += every) {
            if (cold) {
                store_close(fx.st);
                assert_int_equal(store_open(fx.path, &fx.st), NS_OK);
            }
            n = prepare(s);
            alloc_seen = 0;
            fail_at = trying = k;
            fail_onwards = trying_onwards = onwards;
            status = run(s, n);
            fail_at = 0;
            fail_onwards = false;
            answer_whole(clean, status);
            after(s, n, status);
            tried++;
            refused += status == 503;
        }
    }
    /* and the server's state is fine: the same request, nothing failing, succeeds */
    n = prepare(s);
    status = run(s, n);
    assert_true(status >= 200 && status < 300);
    answer_whole(clean, status);
    free(clean);
    after(s, n, status);
    no_orphans();
    printf("[ CHAOS    ] %-6s %s: %ld allocations a request; %ld runs with one failing, %ld "
           "answered 503, the rest absorbed the failure\n",
           s == POST     ? "POST"
           : s == IMPORT ? "IMPORT"
           : s == PATCH  ? "PATCH"
           : s == DELETE ? "DELETE"
           : s == SEARCH ? "SEARCH"
                         : "GET",
           cold ? "cold" : "warm", total, tried, refused);
}

static long env_every(long fallback)
{
    const char *e = getenv("NEWSSTAND_ALLOC_EVERY");
    long v = e ? strtol(e, NULL, 10) : 0;
    return v > 0 ? v : fallback;
}

static void test_post(void **state)
{
    (void)state;
    chaos(POST, false, 1);
}

static void test_import(void **state)
{
    (void)state;
    chaos(IMPORT, false, 1);
}

static void test_patch(void **state)
{
    (void)state;
    chaos(PATCH, false, 1);
}

static void test_delete(void **state)
{
    (void)state;
    chaos(DELETE, false, 1);
}

static void test_search(void **state)
{
    (void)state;
    chaos(SEARCH, false, 1);
}

static void test_get(void **state)
{
    (void)state;
    chaos(GET, false, 1);
}

/* With a new connection every time: statement preparation and schema loading fail too. */
static void test_post_cold(void **state)
{
    (void)state;
    chaos(POST, true, env_every(8));
}

static int setup(void **state)
{
    (void)state;
    /* in memory where there is a tmpfs: thousands of commits, and no disk to wait for */
    snprintf(fx.dir, sizeof(fx.dir), "%s/newsstand-alloc-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    assert_non_null(mkdtemp(fx.dir));
    snprintf(fx.path, sizeof(fx.path), "%s/chaos.db", fx.dir);
    int applied = 0, version = 0;
    assert_int_equal(store_open(fx.path, &fx.st), NS_OK);
    assert_int_equal(store_migrate(fx.st, &applied, &version), NS_OK);
    assert_int_equal(store_cursor_key(fx.st, fx.ctx.cursor_key), NS_OK);
    assert_int_equal(ingest_matcher_load(fx.st, &fx.ctx.matcher), NS_OK);
    pthread_mutex_init(&fx.ctx.write_lock, NULL);
    assert_int_equal(sqlite3_open_v2(fx.path, &fx.peek, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_open_v2(fx.path, &fx.check, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(fx.check, 5000);
    assert_int_equal(post_article(1), 201); /* article 1: patched, read and searched */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char path[128];
    sqlite3_close(fx.peek);
    sqlite3_close(fx.check);
    store_close(fx.st);
    matcher_free(fx.ctx.matcher);
    pthread_mutex_destroy(&fx.ctx.write_lock);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(path, sizeof(path), "%s%s", fx.path, suffixes[i]);
        unlink(path);
    }
    rmdir(fx.dir);
    free(last_body);
    last_body = NULL;
    printf("[ CHAOS    ] %ld allocations refused in all\n", failures_made);
    return 0;
}

int main(void)
{
    /* before SQLite starts: every allocation it makes goes through the counter */
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &failing_sqlite) != SQLITE_OK)
        return 1;
    fields_global_init(); /* jansson allocates with malloc, which is wrapped */
    trace_at = getenv("NEWSSTAND_ALLOC_TRACE") ? atol(getenv("NEWSSTAND_ALLOC_TRACE")) : 0;
    store_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post),   cmocka_unit_test(test_import), cmocka_unit_test(test_patch),
        cmocka_unit_test(test_delete), cmocka_unit_test(test_search), cmocka_unit_test(test_get),
        cmocka_unit_test(test_post_cold),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
