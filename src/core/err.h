/*
 * err.h - the one error enum of newsstand.
 *
 * Every action below the HTTP layer returns 0 (NS_OK) or one of these codes.
 * The mapping to an HTTP status lives in exactly one place, api/problem.c;
 * nothing else may turn an error into a status number.
 */
#ifndef NS_ERR_H
#define NS_ERR_H

enum ns_err {
    NS_OK = 0,
    NS_ERR_NOMEM,       /* allocation failed */
    NS_ERR_BAD_PARAM,   /* a query parameter or path value is malformed */
    NS_ERR_INVALID,     /* well-formed input that breaks a rule (a written field) */
    NS_ERR_NOT_FOUND,   /* no such resource */
    NS_ERR_CONFLICT,    /* the write clashes with what is stored */
    NS_ERR_BUSY,        /* the database is locked or the server is draining */
    NS_ERR_DB,          /* the database failed: corruption or a misuse */
    NS_ERR_TOO_NEW,     /* the database was written by a newer binary */
    NS_ERR_IO,          /* a file (or the database's) could not be read or written */
    NS_ERR_METHOD,      /* the resource exists but not with this method */
    NS_ERR_TOO_LARGE,   /* the request body is over the limit */
    NS_ERR_MEDIA_TYPE,  /* the request body is not of a type the route takes */
    NS_ERR_BAD_JSON,    /* the request body is not valid JSON */
    NS_ERR_UNAVAILABLE, /* not ready: starting or draining */
    NS_ERR_UNAUTHORIZED, /* no credentials, or credentials that are not valid */
    NS_ERR_FORBIDDEN,   /* valid credentials without the right */
    NS_ERR_RATE_LIMITED, /* too many attempts: retry later */
    NS_ERR_URI_TOO_LONG, /* the request target is over the limit */
    NS_ERR_HEADERS_TOO_LARGE, /* the request head is over the limit */
    NS_ERR_BAD_REQUEST, /* the request's framing or header syntax is not acceptable */
    NS_ERR_DISK_FULL,   /* the database's disk (or file size limit) is full */
    NS_ERR_READ_ONLY,   /* the database cannot be written: a read-only file or file system */
};

/* A short, stable English name for an error code, for logs and the CLI. */
const char *ns_err_str(enum ns_err err);

#endif
