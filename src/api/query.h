/*
 * query.h - query-string rules every list shares: known parameters only,
 * none repeated or empty; limit and cursor; the list envelope with its
 * links and Link header.
 */
#ifndef NS_QUERY_H
#define NS_QUERY_H

#include <jansson.h>

#include "api/api.h"
#include "core/buf.h"

/*
 * Records a 400 entry in fe for every parameter not in allowed (a
 * NULL-terminated list), repeated, or given without a value.
 */
void query_check(const struct req *rq, const char *const *allowed, struct field_errors *fe);

/* For endpoints without parameters: answers 400 and returns false if any was given. */
bool query_none(struct req *rq, struct resp *rs);

/* Answers 400 listing fe's problems and returns true when there are any. */
bool query_refused(struct req *rq, struct resp *rs, const struct field_errors *fe);

/* The value of parameter key, or NULL when absent. */
const char *query_get(const struct req *rq, const char *key);

/* A page request: the limit and, when a cursor was given, its contents. */
struct page {
    int limit;
    bool has_cursor;
    struct cursor cursor;
    uint64_t scope;
};

/*
 * Reads limit and cursor; the cursor must have been made for the query
 * whose canonical text is given. Problems go to fe.
 */
void query_page(const struct req *rq, const char *canonical, struct page *pg,
                struct field_errors *fe);

/* The {id} path segment: returns the id when it is all digits, else 0 with *slug set. */
int64_t query_path_id(const struct req *rq, const char **slug);

/*
 * For a page fetched with one row more than pg->limit: cuts *n to the
 * limit and returns whether a next page exists.
 */
bool query_page_trim(const struct page *pg, size_t *n);

/* A JSON array of fn(row) for n rows of size bytes each; NULL when memory runs out. */
json_t *query_rows_to_json(const void *rows, size_t n, size_t size, json_t *(*fn)(const void *));

/*
 * Answers 200 with the list envelope: data (stolen), meta (stolen, gains
 * limit, total and next_cursor), links self and next, and the Link header.
 * next may be NULL when this is the last page.
 */
void query_list_reply(struct req *rq, struct resp *rs, json_t *data, json_t *meta,
                      const struct page *pg, int64_t total, const struct cursor *next);

/*
 * The same envelope around data written as text: a JSON array in *data
 * (json/json_text.h), whose bytes are taken. Lists of articles are written
 * so, without a jansson tree for every row.
 */
void query_list_reply_text(struct req *rq, struct resp *rs, struct buf *data, json_t *meta,
                           const struct page *pg, int64_t total, const struct cursor *next);

/* Answers status with JSON already written as text, whose bytes are taken; a failed
 * buffer answers 500. */
void resp_json_text(struct req *rq, struct resp *rs, int status, struct buf *text);

#endif
