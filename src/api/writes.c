/*
 * writes.c - articles written over HTTP: POST /v1/articles, PATCH and DELETE
 * /v1/articles/{id}, and the streamed POST /v1/import.
 *
 * Every write goes through src/ingest, the path the import command takes,
 * inside one transaction under the write lock, so a failed write leaves
 * nothing behind and readers see a write whole or not at all.
 */
#include "api/handlers.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/query.h"
#include "core/buf.h"
#include "domain/paywall.h"
#include "ingest/ingest.h"
#include "json/fields.h"
#include "json/resource_json.h"
#include "json/write_form.h"

enum {
    IMPORT_LINE_MAX = 1024 * 1024,
    WRITE_WAIT_MS = 2000, /* longest wait for the write lock, this process's and SQLite's */
};

/*
 * Takes the write lock and opens a write transaction, waiting WRITE_WAIT_MS
 * at most in all: a worker blocked on a lock (another process's import, a
 * backup, a stuck transaction) serves no one else meanwhile, so a write
 * that cannot start soon is refused NS_ERR_BUSY (503, retry) rather than
 * queued behind the lock. On error nothing is held.
 */
static enum ns_err write_lock_take(struct req *rq)
{
    struct timespec deadline, now;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += WRITE_WAIT_MS / 1000;
    deadline.tv_nsec += (long)(WRITE_WAIT_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    if (pthread_mutex_clocklock(&rq->ctx->write_lock, CLOCK_MONOTONIC, &deadline) != 0)
        return NS_ERR_BUSY;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left_ms = (long)(deadline.tv_sec - now.tv_sec) * 1000L +
                   (deadline.tv_nsec - now.tv_nsec) / 1000000L;
    enum ns_err err = store_begin_wait(rq->store, left_ms > 0 ? (int)left_ms : 0);
    if (err)
        pthread_mutex_unlock(&rq->ctx->write_lock);
    return err;
}

/* Takes the write lock and opens a write transaction; false (answered) when it cannot. */
bool write_begin(struct req *rq, struct resp *rs)
{
    enum ns_err err = write_lock_take(rq);
    if (err) {
        resp_problem(rq, rs, err, NULL, NULL);
        return false;
    }
    return true;
}

/* Commits (when err is NS_OK) or rolls back, and releases the write lock; returns the outcome. */
enum ns_err write_end(struct req *rq, enum ns_err err)
{
    bool committing = !err;
    if (!err)
        err = store_commit(rq->store);
    if (err)
        store_rollback(rq->store);
    /* a failed commit, or a write the store failed midway, undoes entities the matcher
     * may have learned during it */
    if (err && (committing || problem_status(err) >= 500))
        ingest_matcher_refresh(rq->store, rq->ctx->matcher);
    pthread_mutex_unlock(&rq->ctx->write_lock);
    return err;
}

/* Answers a write's failure: 400 for broken JSON, 409/422 naming fields, else by code. */
void write_problem(struct req *rq, struct resp *rs, enum ns_err err, const struct field_errors *fe)
{
    const char *detail = err == NS_ERR_BAD_JSON   ? "the body is not valid JSON"
                         : err == NS_ERR_INVALID  ? "the body breaks the rules listed in errors"
                         : err == NS_ERR_CONFLICT ? "the write clashes with another resource"
                                                  : NULL;
    /* field errors explain a refusal of the input; a 5xx is no verdict on it */
    resp_problem(rq, rs, err, detail, fe && fe->count && problem_status(err) < 500 ? fe : NULL);
}

/* Answers the stored article as an anonymous reader sees it. */
static void reply_article(struct req *rq, struct resp *rs, int64_t id, int status)
{
    struct article_row row;
    enum ns_err err = store_article_get(rq->store, rq->arena, id, NULL, &row);
    if (err) {
        resp_lookup_problem(rq, rs, err, "article");
        return;
    }
    resp_json(rq, rs, status, article_full_to_json(&row, paywall_locked(row.premium, NULL, rq->now)));
    if (status == 201) {
        char *location = arena_alloc(rq->arena, 48);
        if (location) {
            snprintf(location, 48, "/v1/articles/%lld", (long long)id);
            resp_header(rs, "Location", location);
        }
    }
}

void handle_article_post(struct req *rq, struct resp *rs)
{
    struct field_errors fe;
    enum upsert_result result = UPSERT_UNCHANGED;
    int64_t id = 0;
    field_errors_init(&fe, rq->arena);
    if (!query_none(rq, rs) || !write_begin(rq, rs))
        return;
    enum ns_err err = ingest_article(rq->store, rq->ctx->matcher, rq->arena, rq->body,
                                     rq->body_len, rq->now, &result, &id, &fe);
    err = write_end(rq, err);
    if (err) {
        write_problem(rq, rs, err, &fe);
        return;
    }
    reply_article(rq, rs, id, result == UPSERT_CREATED ? 201 : 200);
}

/* The article's write form with the request's merge patch applied, as JSON text (malloc'd). */
static char *patched_write_form(struct req *rq, const struct article_row *row, enum ns_err *err,
                                struct field_errors *fe)
{
    json_error_t jerr;
    json_t *patch = fields_load(rq->body, rq->body_len, &jerr);
    if (!patch && fields_load_out_of_memory(&jerr)) {
        *err = NS_ERR_NOMEM;
        return NULL;
    }
    if (!patch) {
        field_errors_add(fe, "body", "invalid JSON: %s", jerr.text);
        *err = NS_ERR_BAD_JSON;
        return NULL;
    }
    if (!json_is_object(patch)) {
        json_decref(patch);
        field_errors_add(fe, "body", "must be a JSON object (a merge patch)");
        *err = NS_ERR_INVALID;
        return NULL;
    }
    json_t *merged = merge_patch(article_to_write_form(row), patch);
    json_decref(patch);
    char *text = fields_dumps(merged, JSON_COMPACT);
    json_decref(merged);
    if (text && fields_memory_failed()) {
        /* a member the stored article has may be missing: never write that back */
        free(text);
        text = NULL;
    }
    *err = text ? NS_OK : NS_ERR_NOMEM;
    return text;
}

void handle_article_patch(struct req *rq, struct resp *rs)
{
    struct field_errors fe;
    struct article_row row;
    enum upsert_result result;
    field_errors_init(&fe, rq->arena);
    if (!query_none(rq, rs) || !write_begin(rq, rs))
        return;
    const char *slug;
    int64_t id = query_path_id(rq, &slug);
    enum ns_err err = store_article_get(rq->store, rq->arena, id, slug, &row);
    char *text = err ? NULL : patched_write_form(rq, &row, &err, &fe);
    if (!err)
        err = ingest_article_replace(rq->store, rq->ctx->matcher, rq->arena, text, strlen(text),
                                     row.id, rq->now, &result, &fe);
    free(text);
    err = write_end(rq, err);
    if (err == NS_ERR_NOT_FOUND && !fe.count)
        resp_lookup_problem(rq, rs, err, "article");
    else if (err)
        write_problem(rq, rs, err, &fe);
    else
        reply_article(rq, rs, row.id, 200);
}

void handle_article_delete(struct req *rq, struct resp *rs)
{
    struct article_row row;
    if (!query_none(rq, rs) || !write_begin(rq, rs))
        return;
    const char *slug;
    int64_t id = query_path_id(rq, &slug);
    enum ns_err err = store_article_get(rq->store, rq->arena, id, slug, &row);
    if (!err)
        err = store_article_delete(rq->store, row.id);
    err = write_end(rq, err);
    if (err) {
        resp_lookup_problem(rq, rs, err, "article");
        return;
    }
    resp_no_content(rs);
}

/* --- POST /v1/import: lines are written as they arrive, a batch per chunk --- */

struct import_stream {
    struct buf line;   /* the line being received */
    bool line_too_long;
    struct buf out;    /* the NDJSON answer, one line per input line */
    long number;       /* lines seen */
    long created, updated, unchanged, rejected;
};

void import_stream_free(void *stream)
{
    struct import_stream *s = stream;
    buf_release(&s->line);
    buf_release(&s->out);
    free(s);
}

static void report_error(struct import_stream *s, int status, const char *title,
                         const struct field_errors *fe)
{
    json_t *errors = json_array();
    for (size_t i = 0; fe && errors && i < field_errors_held(fe); i++)
        json_array_append_new(errors, json_pack("{ss,ss}", "field", fe->items[i].field,
                                                "message", fe->items[i].message));
    json_t *o = json_pack("{sI,si,s{ss,so}}", "line", (json_int_t)s->number, "status", status,
                          "error", "title", title, "errors", errors ? errors : json_array());
    char *text = fields_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text) {
        buf_puts(&s->out, text);
        buf_putc(&s->out, '\n');
    } else {
        s->out.failed = true; /* a line's report lost: the answer is not whole */
    }
    free(text);
    s->rejected++;
}

/* Writes one complete line (inside the caller's transaction) and records its answer. */
static enum ns_err import_line(struct req *rq, struct import_stream *s, const char *text,
                               size_t len)
{
    struct arena a;
    struct field_errors fe;
    enum upsert_result result;
    int64_t id = 0;
    arena_init(&a);
    field_errors_init(&fe, &a);
    enum ns_err err =
        ingest_article(rq->store, rq->ctx->matcher, &a, text, len, rq->now, &result, &id, &fe);
    if (err == NS_ERR_BAD_JSON || err == NS_ERR_INVALID || err == NS_ERR_CONFLICT) {
        report_error(s, problem_status(err),
                     err == NS_ERR_BAD_JSON ? "Malformed line" : "Validation failed", &fe);
        err = NS_OK;
    } else if (!err) {
        int status = result == UPSERT_CREATED ? 201 : 200;
        buf_printf(&s->out, "{\"line\":%ld,\"status\":%d,\"id\":%lld}\n", s->number, status,
                   (long long)id);
        s->created += result == UPSERT_CREATED;
        s->updated += result == UPSERT_UPDATED;
        s->unchanged += result == UPSERT_UNCHANGED;
    }
    arena_release(&a);
    return err;
}

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* Ends the line in s->line: writes it unless blank or too long. */
static enum ns_err end_line(struct req *rq, struct import_stream *s)
{
    enum ns_err err = NS_OK;
    s->number++;
    if (s->line_too_long) {
        report_error(s, 413, "Line too large", NULL);
    } else if (!blank(s->line.data ? s->line.data : "", s->line.len)) {
        err = import_line(rq, s, s->line.data, s->line.len);
    }
    buf_reset(&s->line);
    s->line_too_long = false;
    return err;
}

enum ns_err import_feed(struct req *rq, const char *data, size_t len)
{
    struct import_stream *s = rq->stream;
    if (!s) {
        s = rq->stream = calloc(1, sizeof(*s));
        if (!s)
            return NS_ERR_NOMEM;
    }
    enum ns_err err = write_lock_take(rq);
    if (err)
        return err;
    for (size_t i = 0; i < len && !err;) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t take = nl ? (size_t)(nl - (data + i)) : len - i;
        if (s->line.len + take > IMPORT_LINE_MAX)
            s->line_too_long = true;
        else
            buf_append(&s->line, data + i, take);
        i += take;
        if (nl) {
            err = end_line(rq, s);
            i++;
        }
    }
    if (buf_failed(&s->line) || buf_failed(&s->out))
        err = NS_ERR_NOMEM;
    if (!err)
        err = store_commit(rq->store);
    if (err) {
        store_rollback(rq->store);
        ingest_matcher_refresh(rq->store, rq->ctx->matcher);
    }
    pthread_mutex_unlock(&rq->ctx->write_lock);
    return err;
}

void handle_import_finish(struct req *rq, struct resp *rs)
{
    enum ns_err err = NS_OK;
    if (!rq->stream)
        err = import_feed(rq, "", 0); /* an empty body still gets its summary */
    struct import_stream *s = rq->stream;
    if (!err && s && (s->line.len || s->line_too_long)) {
        /* the last line may lack its newline */
        err = write_lock_take(rq);
        if (!err) {
            err = end_line(rq, s);
            if (!err)
                err = store_commit(rq->store);
            if (err) {
                store_rollback(rq->store);
                ingest_matcher_refresh(rq->store, rq->ctx->matcher);
            }
            pthread_mutex_unlock(&rq->ctx->write_lock);
        }
    }
    if (err || !s) {
        resp_problem(rq, rs, err ? err : NS_ERR_NOMEM, NULL, NULL);
        return;
    }
    buf_printf(&s->out,
               "{\"summary\":{\"lines\":%ld,\"created\":%ld,\"updated\":%ld,\"unchanged\":%ld,"
               "\"rejected\":%ld}}\n",
               s->number, s->created, s->updated, s->unchanged, s->rejected);
    if (buf_failed(&s->out)) {
        resp_problem(rq, rs, NS_ERR_NOMEM, NULL, NULL);
        return;
    }
    rs->status = 200;
    rs->len = s->out.len;
    rs->body = buf_steal(&s->out);
    rs->content_type = "application/x-ndjson";
}
