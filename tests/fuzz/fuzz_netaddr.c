/*
 * fuzz_netaddr.c - client addresses (src/domain/netaddr.c): the
 * X-Forwarded-For header read behind trusted proxies, address literals and
 * the --trusted-proxy prefixes.
 *
 * Input: trusted prefixes (comma-separated) on the first line, the peer's
 * address on the second, the X-Forwarded-For value after that.
 * Checks: an address that parses prints and parses back to itself; a prefix
 * holds its own address; the client is the peer unless the peer is trusted,
 * and otherwise the peer or one of the header's own entries.
 */
#include "fuzz.h"

#include <string.h>

#include "domain/netaddr.h"

enum { TRUSTED_MAX = 8 };

static bool parse_checked(const char *text, size_t len, struct netaddr *out)
{
    if (!netaddr_parse(text, len, out))
        return false;
    char printed[NETADDR_TEXT_MAX];
    struct netaddr back;
    netaddr_format(out, printed);
    FUZZ_CHECK(netaddr_parse(printed, strlen(printed), &back));
    FUZZ_CHECK(memcmp(back.b, out->b, sizeof(back.b)) == 0);
    return true;
}

static size_t read_trusted(char *list, struct netprefix *trusted)
{
    size_t n = 0;
    for (char *item = strtok(list, ","); item && n < TRUSTED_MAX; item = strtok(NULL, ",")) {
        if (!netprefix_parse(item, &trusted[n]))
            continue;
        FUZZ_CHECK(trusted[n].bits <= 128);
        FUZZ_CHECK(netprefix_contains(&trusted[n], &trusted[n].addr));
        n++;
    }
    return n;
}

/* True when client is what one comma-separated entry of xff reads as. */
static bool from_header(const struct netaddr *client, const char *xff)
{
    for (const char *p = xff;;) {
        size_t len = strcspn(p, ",");
        struct netaddr hop;
        if (parse_checked(p, len, &hop) && memcmp(hop.b, client->b, sizeof(hop.b)) == 0)
            return true;
        if (!p[len])
            return false;
        p += len + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena a;
    struct netprefix trusted[TRUSTED_MAX];
    struct netaddr peer;
    arena_init(&a);
    char *list = fuzz_take(&a, &data, &size, '\n');
    char *peer_text = fuzz_take(&a, &data, &size, '\n');
    const char *xff = size ? fuzz_cstr(&a, data, size) : NULL;
    size_t n = read_trusted(list, trusted);
    if (parse_checked(peer_text, strlen(peer_text), &peer)) {
        struct netaddr client = netaddr_client(&peer, xff, trusted, n);
        bool peer_trusted = false;
        for (size_t i = 0; i < n; i++)
            peer_trusted |= netprefix_contains(&trusted[i], &peer);
        bool is_peer = memcmp(client.b, peer.b, sizeof(peer.b)) == 0;
        FUZZ_CHECK(is_peer || (peer_trusted && xff && from_header(&client, xff)));
    }
    arena_release(&a);
    return 0;
}
