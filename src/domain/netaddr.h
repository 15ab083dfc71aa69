/*
 * netaddr.h - client addresses: parsing, prefix matching, and finding the
 * client behind trusted reverse proxies.
 *
 * Every address is held as 16 bytes, IPv4 as an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d), so one comparison serves both families. Pure logic.
 */
#ifndef NS_NETADDR_H
#define NS_NETADDR_H

#include <stdbool.h>
#include <stddef.h>

#define NETADDR_TEXT_MAX 46

struct netaddr {
    unsigned char b[16];
};

/* An address and how many leading bits of it count ("10.0.0.0/8"). */
struct netprefix {
    struct netaddr addr;
    unsigned bits; /* 0..128, counted on the mapped form */
};

/* Parses an IPv4 or IPv6 literal (surrounding spaces allowed). Returns false if it is none. */
bool netaddr_parse(const char *text, size_t len, struct netaddr *out);

/* Builds an address from 4 (IPv4) or 16 (IPv6) raw bytes. */
void netaddr_from_bytes(const unsigned char *bytes, size_t n, struct netaddr *out);

bool netaddr_is_v4(const struct netaddr *a);

/* Writes the usual text form ("192.0.2.1", "2001:db8::1") into out. */
void netaddr_format(const struct netaddr *a, char out[NETADDR_TEXT_MAX]);

/* Parses "ADDR" or "ADDR/BITS" (IPv4 bits 0-32, IPv6 0-128). Returns false when malformed. */
bool netprefix_parse(const char *text, struct netprefix *out);

bool netprefix_contains(const struct netprefix *p, const struct netaddr *a);

/*
 * The client a request speaks for. When the peer is one of the trusted
 * proxies, X-Forwarded-For (xff, may be NULL) is read from the right,
 * skipping trusted proxies, and the first other address is the client; a
 * malformed entry stops the walk at the last address believed. Otherwise
 * the peer itself.
 */
struct netaddr netaddr_client(const struct netaddr *peer, const char *xff,
                              const struct netprefix *trusted, size_t n_trusted);

#endif
