/*
 * err.c - names for the error codes of err.h.
 */
#include "core/err.h"

const char *ns_err_str(enum ns_err err)
{
    switch (err) {
    case NS_OK:
        return "ok";
    case NS_ERR_NOMEM:
        return "out of memory";
    case NS_ERR_BAD_PARAM:
        return "bad parameter";
    case NS_ERR_INVALID:
        return "invalid input";
    case NS_ERR_METHOD:
        return "method not allowed";
    case NS_ERR_TOO_LARGE:
        return "request too large";
    case NS_ERR_MEDIA_TYPE:
        return "unsupported media type";
    case NS_ERR_BAD_JSON:
        return "malformed JSON";
    case NS_ERR_UNAVAILABLE:
        return "unavailable";
    case NS_ERR_UNAUTHORIZED:
        return "unauthorized";
    case NS_ERR_FORBIDDEN:
        return "forbidden";
    case NS_ERR_RATE_LIMITED:
        return "rate limited";
    case NS_ERR_BAD_REQUEST:
        return "bad request";
    case NS_ERR_URI_TOO_LONG:
        return "request target too long";
    case NS_ERR_HEADERS_TOO_LARGE:
        return "request headers too large";
    case NS_ERR_NOT_FOUND:
        return "not found";
    case NS_ERR_CONFLICT:
        return "conflict";
    case NS_ERR_BUSY:
        return "busy";
    case NS_ERR_DB:
        return "database error";
    case NS_ERR_TOO_NEW:
        return "database is newer than this program";
    case NS_ERR_IO:
        return "i/o error";
    case NS_ERR_DISK_FULL:
        return "disk full";
    case NS_ERR_READ_ONLY:
        return "read-only database";
    }
    return "unknown error";
}
