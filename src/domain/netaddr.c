/*
 * netaddr.c - address parsing and X-Forwarded-For, on top of inet_pton.
 */
#include "domain/netaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void netaddr_from_bytes(const unsigned char *bytes, size_t n, struct netaddr *out)
{
    if (n == 4) {
        memcpy(out->b, v4_mapped, sizeof(v4_mapped));
        memcpy(out->b + 12, bytes, 4);
    } else {
        memcpy(out->b, bytes, 16);
    }
}

bool netaddr_is_v4(const struct netaddr *a)
{
    return memcmp(a->b, v4_mapped, sizeof(v4_mapped)) == 0;
}

bool netaddr_parse(const char *text, size_t len, struct netaddr *out)
{
    while (len && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    char s[NETADDR_TEXT_MAX];
    if (len == 0 || len >= sizeof(s))
        return false;
    memcpy(s, text, len);
    s[len] = '\0';
    unsigned char raw[16];
    if (inet_pton(AF_INET, s, raw) == 1) {
        netaddr_from_bytes(raw, 4, out);
        return true;
    }
    if (inet_pton(AF_INET6, s, raw) == 1) {
        netaddr_from_bytes(raw, 16, out);
        return true;
    }
    return false;
}

void netaddr_format(const struct netaddr *a, char out[NETADDR_TEXT_MAX])
{
    if (netaddr_is_v4(a))
        inet_ntop(AF_INET, a->b + 12, out, NETADDR_TEXT_MAX);
    else
        inet_ntop(AF_INET6, a->b, out, NETADDR_TEXT_MAX);
}

bool netprefix_parse(const char *text, struct netprefix *out)
{
    const char *slash = strchr(text, '/');
    size_t len = slash ? (size_t)(slash - text) : strlen(text);
    if (!netaddr_parse(text, len, &out->addr))
        return false;
    unsigned max = netaddr_is_v4(&out->addr) ? 32 : 128;
    unsigned bits = max;
    if (slash) {
        char *end = NULL;
        unsigned long v = strtoul(slash + 1, &end, 10);
        if (!slash[1] || *end || slash[1] == '-' || slash[1] == '+' || v > max)
            return false;
        bits = (unsigned)v;
    }
    out->bits = bits + (max == 32 ? 96 : 0);
    return true;
}

bool netprefix_contains(const struct netprefix *p, const struct netaddr *a)
{
    unsigned whole = p->bits / 8, rest = p->bits % 8;
    if (memcmp(p->addr.b, a->b, whole) != 0)
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (p->addr.b[whole] & mask) == (a->b[whole] & mask);
}

static bool trusted_one(const struct netaddr *a, const struct netprefix *trusted, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (netprefix_contains(&trusted[i], a))
            return true;
    return false;
}

struct netaddr netaddr_client(const struct netaddr *peer, const char *xff,
                              const struct netprefix *trusted, size_t n_trusted)
{
    struct netaddr client = *peer;
    if (!xff || !trusted_one(peer, trusted, n_trusted))
        return client;
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        struct netaddr hop;
        if (!netaddr_parse(start, (size_t)(end - start), &hop))
            break; /* a garbled hop: believe no further left */
        client = hop;
        if (!trusted_one(&hop, trusted, n_trusted))
            break;
        end = start > xff ? start - 1 : start;
    }
    return client;
}
