/*
 * seed.c - the database the auth and whole-request harnesses run against.
 *
 * Built once per process in a temporary directory (on /dev/shm when there
 * is one): the readers fixtures' gazetteer and articles, the API keys and
 * readers of fuzz.h, and three picks. The seeded file stays open beside the
 * working one, so a reset is one SQLite backup onto the working file.
 */
#include "fuzz.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "domain/apikey.h"
#include "domain/matcher.h"
#include "http/router.h"
#include "ingest/ingest.h"

static struct fuzz_world world;
static struct store *seeded; /* the pristine copy, kept open for resets */
static const char *route_names[METRICS_ROUTES], *route_methods[METRICS_ROUTES];

#define SEED_CHECK(expr)                                                                           \
    do {                                                                                           \
        enum ns_err seed_err = (expr);                                                             \
        if (seed_err) {                                                                            \
            fprintf(stderr, "fuzz seed: %s: %s\n", #expr, ns_err_str(seed_err));                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void remove_world(void)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char path[320];
    store_close(world.st);
    store_close(seeded);
    world.st = seeded = NULL;
    matcher_free(world.ctx.matcher);
    world.ctx.matcher = NULL;
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s%s", world.db, suffixes[i]);
        unlink(path);
        snprintf(path, sizeof(path), "%s%s", world.pristine, suffixes[i]);
        unlink(path);
    }
    rmdir(world.dir);
}

/* One gazetteer or article line's writer: ingest_entity or ingest_article. */
typedef enum ns_err (*seed_writer)(struct store *, struct matcher *, struct arena *, const char *,
                                   size_t, int64_t, enum upsert_result *, int64_t *,
                                   struct field_errors *);

/* Writes each line of the embedded NDJSON file name with write (one arena for the lot). */
static void ingest_lines(struct store *st, struct matcher *m, struct arena *a, const char *name,
                         seed_writer write)
{
    const struct embedded_file *f = NULL;
    for (size_t i = 0; i < fuzz_seed_files_count; i++)
        if (strcmp(fuzz_seed_files[i].name, name) == 0)
            f = &fuzz_seed_files[i];
    FUZZ_CHECK(f != NULL);
    for (const char *line = f->data; *line;) {
        size_t len = strcspn(line, "\n");
        struct field_errors fe;
        enum upsert_result result;
        int64_t id = 0;
        field_errors_init(&fe, a);
        if (len)
            SEED_CHECK(write(st, m, a, line, len, (int64_t)time(NULL), &result, &id, &fe));
        line += line[len] ? len + 1 : len;
    }
}

static void add_key(struct store *st, const char *name, const char *scope, const char *text,
                    int64_t now)
{
    struct apikey key;
    FUZZ_CHECK(apikey_parse(text, &key));
    SEED_CHECK(store_key_create(st, name, scope, &key, now));
}

static void add_reader(struct store *st, const char *email, const char *plan, const char *token,
                       int64_t now)
{
    /* the cheapest Argon2id: the harness signs in, it does not test the hash */
    char hash[crypto_pwhash_STRBYTES];
    unsigned char token_hash[SESSION_TOKEN_HASH_LEN];
    int64_t id = 0;
    FUZZ_CHECK(crypto_pwhash_str(hash, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD),
                                 crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN) == 0);
    SEED_CHECK(store_user_create(st, email, "Fuzz Reader", hash, "trial", now + 14 * 86400, now,
                                 &id));
    if (strcmp(plan, "member") == 0)
        SEED_CHECK(store_user_membership(st, id, "member", false, 0));
    FUZZ_CHECK(session_token_parse(token, token_hash));
    SEED_CHECK(store_session_create(st, token_hash, id, now, now + 30 * 86400));
}

static void seed(struct store *st)
{
    struct matcher *m = NULL;
    struct arena a;
    int applied = 0, version = 0;
    int64_t now = (int64_t)time(NULL), picks[] = {3, 1, 2};
    arena_init(&a);
    SEED_CHECK(store_migrate(st, &applied, &version));
    SEED_CHECK(ingest_matcher_load(st, &m));
    SEED_CHECK(store_begin(st));
    ingest_lines(st, m, &a, "readers_gazetteer.ndjson", ingest_entity);
    ingest_lines(st, m, &a, "readers_articles.ndjson", ingest_article);
    arena_release(&a);
    add_key(st, "fuzz-admin", "admin", FUZZ_ADMIN_KEY, now);
    add_key(st, "fuzz-ingest", "ingest", FUZZ_INGEST_KEY, now);
    add_key(st, "fuzz-revoked", "ingest", FUZZ_REVOKED_KEY, now);
    SEED_CHECK(store_key_revoke(st, "fuzz-revoked", now));
    add_reader(st, FUZZ_MEMBER_EMAIL, "member", FUZZ_MEMBER_SESSION, now);
    add_reader(st, "trial@fuzz.example", "trial", FUZZ_TRIAL_SESSION, now);
    SEED_CHECK(store_picks_set(st, picks, sizeof(picks) / sizeof(picks[0])));
    SEED_CHECK(store_commit(st));
    matcher_free(m);
}

/* A fresh private directory, on tmpfs when the machine has one. */
static void make_dir(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(world.dir, sizeof(world.dir), "%s/newsstand-fuzz-XXXXXX", base ? base : "/tmp");
    FUZZ_CHECK(mkdtemp(world.dir) != NULL);
    snprintf(world.pristine, sizeof(world.pristine), "%s/seeded.db", world.dir);
    snprintf(world.db, sizeof(world.db), "%s/work.db", world.dir);
}

struct fuzz_world *fuzz_world_get(void)
{
    if (seeded)
        return &world;
    FUZZ_CHECK(sodium_init() >= 0);
    store_global_init();
    make_dir();
    atexit(remove_world);
    SEED_CHECK(store_open(world.pristine, &seeded));
    seed(seeded);
    /* a fixed key, not the database's random one: cursors in the corpus stay valid */
    memcpy(world.ctx.cursor_key, FUZZ_CURSOR_KEY, CURSOR_KEY_LEN);
    atomic_init(&world.ctx.draining, false);
    pthread_mutex_init(&world.ctx.write_lock, NULL);
    for (size_t i = 0; i < routes_count && i < METRICS_ROUTES; i++) {
        route_names[i] = routes[i].pattern;
        route_methods[i] = routes[i].method;
    }
    world.ctx.route_names = route_names;
    world.ctx.route_methods = route_methods;
    world.ctx.n_routes = routes_count < METRICS_ROUTES ? routes_count : METRICS_ROUTES;
    fuzz_world_reset(&world);
    return &world;
}

void fuzz_world_reset(struct fuzz_world *w)
{
    store_close(w->st);
    w->st = NULL;
    SEED_CHECK(store_backup(seeded, w->db));
    SEED_CHECK(store_open(w->db, &w->st));
    matcher_free(w->ctx.matcher);
    w->ctx.matcher = NULL;
    SEED_CHECK(ingest_matcher_load(w->st, &w->ctx.matcher));
}
