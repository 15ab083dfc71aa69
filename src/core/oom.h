/*
 * oom.h - has memory run out on this thread since a given moment?
 *
 * Libraries report a failed allocation in their own ways, some not as one:
 * SQLite can give a plain SQLITE_ERROR (or go on with FTS5's index half
 * updated), jansson leaves a member out of an object. The allocators
 * newsstand hands them (store.c for SQLite, fields.c for jansson) and the
 * request arena note each refusal here, per thread. The store refuses to
 * commit a transaction during which one was noted; a request's answer
 * becomes a 503 with Retry-After, never a 500 or a success with parts missing.
 */
#ifndef NS_OOM_H
#define NS_OOM_H

#include <stdbool.h>

/* An allocation was refused on this thread. */
void oom_note(void);
/* How many this thread has had refused, all told. */
unsigned long oom_count(void);
/* A request (or a step of one) begins: what counts is what oom_count says from here on. */
void oom_mark(void);
/* Resumes a request marked earlier at count `at` (a streamed body arrives in pieces). */
void oom_mark_at(unsigned long at);
/* True when an allocation was refused on this thread since the mark. */
bool oom_since_mark(void);

#endif
