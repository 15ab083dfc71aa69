/*
 * commands.c - the migrate, check and import subcommands.
 *
 * Import batches lines into transactions (one commit per IMPORT_BATCH
 * articles); a bad line is undone alone and reported with its number, and
 * never stops the rest.
 */
#include "cli/cli.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "domain/timefmt.h"
#include "ingest/ingest.h"

enum { IMPORT_BATCH = 1000, LINE_MAX_BYTES = 16 * 1024 * 1024 };

enum ns_err cli_open_store(const char *db, bool verbose, struct store **out)
{
    int applied = 0, version = 0;
    enum ns_err err = store_open(db, out);
    if (err) {
        fprintf(stderr, "newsstand: cannot open database %s: %s\n", db, ns_err_str(err));
        return err;
    }
    err = store_migrate(*out, &applied, &version);
    if (err == NS_ERR_TOO_NEW) {
        fprintf(stderr,
                "newsstand: database %s has schema version %d, but this program knows only up "
                "to %d: it was written by a newer newsstand; upgrade newsstand to use it\n",
                db, version, store_schema_version_known());
    } else if (err) {
        fprintf(stderr, "newsstand: cannot migrate database %s: %s (%s)\n", db, ns_err_str(err),
                store_errmsg(*out));
    } else if (verbose || applied) {
        fprintf(stderr, "newsstand: database %s at schema version %d (%d migration%s applied)\n",
                db, version, applied, applied == 1 ? "" : "s");
    }
    if (err) {
        store_close(*out);
        *out = NULL;
    }
    return err;
}

int cli_migrate(const struct config *cfg)
{
    struct store *st = NULL;
    if (cli_open_store(cfg->db, true, &st))
        return 1;
    store_close(st);
    return 0;
}

int cli_check(const struct config *cfg)
{
    struct store *st = NULL;
    struct arena a;
    bool ok = false;
    const char *report = "";
    if (cli_open_store(cfg->db, false, &st))
        return 1;
    arena_init(&a);
    enum ns_err err = store_check(st, &a, &ok, &report);
    if (err)
        fprintf(stderr, "newsstand: check failed to run: %s\n", ns_err_str(err));
    else if (!ok)
        fprintf(stderr, "newsstand: %s is damaged:\n%s", cfg->db, report);
    else
        printf("%s: ok\n", cfg->db);
    arena_release(&a);
    store_close(st);
    return err || !ok ? 1 : 0;
}

struct import_counts {
    long created, updated, unchanged, rejected;
};

/* One line's writer: ingest_article or ingest_entity. */
typedef enum ns_err (*ingest_fn)(struct store *st, struct matcher *m, struct arena *a,
                                 const char *json, size_t len, int64_t now,
                                 enum upsert_result *result, int64_t *id,
                                 struct field_errors *fe);

struct import_job {
    struct store *st;
    struct matcher *m;
    ingest_fn write;
    struct import_counts c;
};

static void report_line(long line, const struct field_errors *fe)
{
    fprintf(stderr, "line %ld:", line);
    size_t held = field_errors_held(fe);
    for (size_t i = 0; i < held; i++)
        fprintf(stderr, "%s %s %s", i ? ";" : "", fe->items[i].field, fe->items[i].message);
    fputc('\n', stderr);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void show_progress(long lines, long bytes, long total_bytes, const struct timespec *t0)
{
    double s = seconds_since(t0);
    if (total_bytes > 0)
        fprintf(stderr, "\r%ld lines, %3.0f%%, %.0f lines/s ", lines,
                100.0 * (double)bytes / (double)total_bytes, s > 0 ? (double)lines / s : 0.0);
    else
        fprintf(stderr, "\r%ld lines, %.0f lines/s ", lines, s > 0 ? (double)lines / s : 0.0);
}

/* Ingests one line, counting the outcome; returns an error only when the store fails. */
static enum ns_err import_line(struct import_job *job, const char *line, size_t len, long number)
{
    struct import_counts *c = &job->c;
    struct arena a;
    struct field_errors fe;
    enum upsert_result result;
    int64_t id = 0;
    arena_init(&a);
    field_errors_init(&fe, &a);
    enum ns_err err =
        job->write(job->st, job->m, &a, line, len, (int64_t)time(NULL), &result, &id, &fe);
    if (err == NS_ERR_INVALID || err == NS_ERR_BAD_JSON || err == NS_ERR_CONFLICT) {
        c->rejected++;
        report_line(number, &fe);
        err = NS_OK;
    } else if (!err) {
        if (result == UPSERT_CREATED)
            c->created++;
        else if (result == UPSERT_UPDATED)
            c->updated++;
        else
            c->unchanged++;
    }
    arena_release(&a);
    return err;
}

static bool blank_line(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static enum ns_err import_stream(struct import_job *job, FILE *in, long total_bytes)
{
    struct store *st = job->st;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long number = 0, bytes = 0, in_batch = 0;
    bool tty = isatty(STDERR_FILENO);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    enum ns_err err = store_begin(st);
    while (!err && (len = getline(&line, &cap, in)) >= 0) {
        number++;
        bytes += len;
        if (blank_line(line, (size_t)len))
            continue;
        if (len > LINE_MAX_BYTES) {
            job->c.rejected++;
            fprintf(stderr, "line %ld: body longer than %d bytes\n", number, LINE_MAX_BYTES);
            continue;
        }
        err = import_line(job, line, (size_t)len, number);
        if (!err && ++in_batch == IMPORT_BATCH) {
            err = store_commit(st);
            if (!err)
                err = store_begin(st);
            in_batch = 0;
            if (tty)
                show_progress(number, bytes, total_bytes, &t0);
        }
    }
    free(line);
    if (!err)
        err = store_commit(st);
    else
        store_rollback(st);
    if (tty)
        fputc('\n', stderr);
    double s = seconds_since(&t0);
    fprintf(stderr, "%ld lines in %.2f s (%.0f lines/s)\n", number, s,
            s > 0 ? (double)number / s : 0.0);
    return err;
}

/* Imports cfg->file line by line with write; prints the summary line headed `what`. */
static int run_import(const struct config *cfg, ingest_fn write, const char *what)
{
    bool from_stdin = strcmp(cfg->file, "-") == 0;
    FILE *in = from_stdin ? stdin : fopen(cfg->file, "r");
    if (!in) {
        fprintf(stderr, "newsstand: cannot open %s\n", cfg->file);
        return 1;
    }
    struct stat sb;
    long total = !from_stdin && fstat(fileno(in), &sb) == 0 ? (long)sb.st_size : 0;
    struct import_job job = {.write = write};
    enum ns_err err = cli_open_store(cfg->db, false, &job.st);
    if (!err) {
        err = ingest_matcher_load(job.st, &job.m);
        if (err)
            fprintf(stderr, "newsstand: cannot load the gazetteer: %s\n", ns_err_str(err));
        else
            err = import_stream(&job, in, total);
        /* after a bulk load of articles, one search index segment instead of dozens */
        if (!err && write == ingest_article && job.c.created + job.c.updated >= IMPORT_BATCH)
            err = store_search_optimize(job.st);
        if (err && job.m)
            fprintf(stderr, "newsstand: import stopped: %s (%s); the current batch was not saved\n",
                    ns_err_str(err), store_errmsg(job.st));
    }
    if (!from_stdin)
        fclose(in);
    matcher_free(job.m);
    store_close(job.st);
    if (job.st || !err)
        printf("%s: %ld created, %ld updated, %ld unchanged, %ld rejected\n", what, job.c.created,
               job.c.updated, job.c.unchanged, job.c.rejected);
    return err ? 1 : 0;
}

int cli_import(const struct config *cfg)
{
    return run_import(cfg, ingest_article, "imported");
}

int cli_entities_import(const struct config *cfg)
{
    return run_import(cfg, ingest_entity, "entities");
}

int cli_relink(const struct config *cfg)
{
    struct store *st = NULL;
    struct matcher *m = NULL;
    long count = 0;
    if (cli_open_store(cfg->db, false, &st))
        return 1;
    enum ns_err err = ingest_matcher_load(st, &m);
    if (!err)
        err = store_begin(st);
    if (!err) {
        err = ingest_relink(st, m, &count);
        if (!err)
            err = store_commit(st);
        else
            store_rollback(st);
    }
    if (err)
        fprintf(stderr, "newsstand: relink failed: %s (%s); nothing was changed\n",
                ns_err_str(err), store_errmsg(st));
    else
        printf("relinked: %ld articles against %zu names\n", count, matcher_size(m));
    matcher_free(m);
    store_close(st);
    return err ? 1 : 0;
}

static void print_time(const char *label, bool set, int64_t t)
{
    char text[TIMEFMT_LEN];
    timefmt_format(t, text);
    printf(" %s=%s", label, set ? text : "never");
}

int cli_keys(const struct config *cfg)
{
    struct store *st = NULL;
    struct arena a;
    if (cli_open_store(cfg->db, false, &st))
        return 1;
    arena_init(&a);
    enum ns_err err = NS_OK;
    int64_t now = (int64_t)time(NULL);
    if (cfg->command == CMD_KEYS_CREATE) {
        char text[APIKEY_TEXT_MAX];
        struct apikey key;
        if (!apikey_name_valid(cfg->name)) {
            fprintf(stderr, "newsstand: a key name is 1-64 characters of A-Z a-z 0-9 . _ -\n");
            err = NS_ERR_INVALID;
        } else {
            apikey_generate(text, &key);
            err = store_key_create(st, cfg->name, cfg->scope, &key, now);
            if (err == NS_ERR_CONFLICT)
                fprintf(stderr, "newsstand: a key named %s exists already\n", cfg->name);
            else if (!err) {
                fprintf(stderr, "newsstand: created %s key '%s'; it is shown once, below: "
                                "keep it secret\n",
                        cfg->scope, cfg->name);
                printf("%s\n", text);
            }
            sodium_memzero(text, sizeof(text));
        }
    } else if (cfg->command == CMD_KEYS_REVOKE) {
        err = store_key_revoke(st, cfg->name, now);
        if (err == NS_ERR_NOT_FOUND)
            fprintf(stderr, "newsstand: no key named %s\n", cfg->name);
        else if (!err)
            printf("revoked %s\n", cfg->name);
    } else {
        struct key_row *rows = NULL;
        size_t n = 0;
        err = store_keys_list(st, &a, &rows, &n);
        for (size_t i = 0; !err && i < n; i++) {
            printf("%s %s", rows[i].name, rows[i].scope);
            print_time("created", true, rows[i].created_at);
            print_time("last_used", rows[i].used, rows[i].last_used_at);
            if (rows[i].revoked)
                print_time("revoked", true, rows[i].revoked_at);
            else
                printf(" active");
            printf("\n");
        }
    }
    if (err && err != NS_ERR_NOT_FOUND && err != NS_ERR_CONFLICT && err != NS_ERR_INVALID)
        fprintf(stderr, "newsstand: keys: %s\n", ns_err_str(err));
    arena_release(&a);
    store_close(st);
    return err ? 1 : 0;
}

int cli_backup(const struct config *cfg)
{
    struct store *st = NULL;
    if (strcmp(cfg->file, "-") == 0 || access(cfg->file, F_OK) == 0) {
        fprintf(stderr, "newsstand: backup: %s exists (or is -): give a new file\n", cfg->file);
        return 1;
    }
    if (cli_open_store(cfg->db, false, &st))
        return 1;
    enum ns_err err = store_backup(st, cfg->file);
    store_close(st);
    if (err) {
        fprintf(stderr, "newsstand: backup to %s failed: %s\n", cfg->file, ns_err_str(err));
        unlink(cfg->file);
        return 1;
    }
    printf("backed up %s to %s\n", cfg->db, cfg->file);
    return 0;
}
