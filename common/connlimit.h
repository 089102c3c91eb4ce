/* Connections a server holds at once: in all, and per client address.
 *
 * Pure bookkeeping (no sockets, no clock): the shell asks before it keeps
 * an accepted connection and tells when it is gone. Clients are keyed by
 * address; IPv6 clients by their /64, since one host usually holds a whole
 * /64, and an IPv4-mapped IPv6 address counts as the IPv4 one. The table
 * holds one entry per client with a connection, so its size is bounded by
 * max_total; the hash is keyed with a caller-supplied seed so a peer cannot
 * choose colliding addresses. */
#pragma once

#include <stdint.h>

#include "common/net.h"

struct connlimit;

enum connlimit_verdict {
	CONNLIMIT_OK,	       /* counted: release it later */
	CONNLIMIT_FULL,	       /* max_total connections already */
	CONNLIMIT_CLIENT_FULL, /* max_per_client from this client already */
};

/* max_total and max_per_client are at least 1. */
struct connlimit *connlimit_new(unsigned max_total, unsigned max_per_client, uint64_t seed);
void connlimit_free(struct connlimit *cl);

/* The key a client is counted under (see above). */
void connlimit_key(const struct ipaddr *addr, struct ipaddr *ret);

enum connlimit_verdict connlimit_admit(struct connlimit *cl, const struct ipaddr *addr);
/* A connection connlimit_admit counted is gone. */
void connlimit_release(struct connlimit *cl, const struct ipaddr *addr);

unsigned connlimit_total(const struct connlimit *cl);
unsigned connlimit_of(const struct connlimit *cl, const struct ipaddr *addr);
unsigned connlimit_clients(const struct connlimit *cl);
