/*
 * router.c - matching a request path against the route table.
 */
#include "http/router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum { SEGMENTS_MAX = 16 };

/*
 * Matches path against pattern segment by segment. Captures point into
 * scratch, a private copy of the path cut at its slashes.
 */
static bool pattern_match(const char *pattern, const char *path, char *scratch,
                          const char *params[PATH_PARAMS_MAX])
{
    if (path[0] != '/')
        return false;
    strcpy(scratch, path);
    char *segs[SEGMENTS_MAX];
    size_t nseg = 0;
    for (char *p = scratch + 1;;) {
        if (nseg == SEGMENTS_MAX)
            return false;
        segs[nseg++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    size_t i = 0, n = 0;
    for (const char *pp = pattern + 1;; i++) {
        const char *pend = strchr(pp, '/');
        size_t plen = pend ? (size_t)(pend - pp) : strlen(pp);
        if (i >= nseg)
            return false;
        if (pp[0] == '{') {
            if (!segs[i][0] || n == PATH_PARAMS_MAX)
                return false;
            params[n++] = segs[i];
        } else if (strlen(segs[i]) != plen || strncmp(pp, segs[i], plen) != 0) {
            return false;
        }
        if (!pend)
            break;
        pp = pend + 1;
    }
    return i + 1 == nseg;
}

enum route_match router_match(const char *method, const char *path, char *scratch,
                              const struct route **found, const char *params[PATH_PARAMS_MAX],
                              char *allow, size_t allow_len)
{
    bool path_known = false;
    size_t used = 0;
    allow[0] = '\0';
    for (size_t i = 0; i < routes_count; i++) {
        const char *caps[PATH_PARAMS_MAX] = {0};
        if (!pattern_match(routes[i].pattern, path, scratch, caps))
            continue;
        path_known = true;
        bool is_get = strcmp(routes[i].method, "GET") == 0;
        if (strcmp(routes[i].method, method) == 0 || (is_get && strcmp(method, "HEAD") == 0)) {
            *found = &routes[i];
            memcpy(params, caps, sizeof(caps));
            return ROUTE_FOUND;
        }
        int w = snprintf(allow + used, allow_len - used, "%s%s%s", used ? ", " : "",
                         routes[i].method, is_get ? ", HEAD" : "");
        if (w > 0 && (size_t)w < allow_len - used)
            used += (size_t)w;
    }
    return path_known ? ROUTE_NO_METHOD : ROUTE_NO_PATH;
}
