/* Connections per server and per client; see connlimit.h. */
#include "common/connlimit.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"

struct client {
	struct client *next;
	struct ipaddr key;
	unsigned n;
};

struct connlimit {
	unsigned max_total, max_per_client;
	unsigned total, clients;
	uint64_t seed;
	size_t n_buckets; /* a power of two */
	struct client **buckets;
};

#define BUCKETS_MAX 65536

struct connlimit *connlimit_new(unsigned max_total, unsigned max_per_client, uint64_t seed)
{
	struct connlimit *cl = xcalloc(1, sizeof(*cl));
	cl->max_total = max_total ? max_total : 1;
	cl->max_per_client = max_per_client ? max_per_client : 1;
	cl->seed = seed;
	cl->n_buckets = 16;
	while (cl->n_buckets < cl->max_total && cl->n_buckets < BUCKETS_MAX)
		cl->n_buckets *= 2;
	cl->buckets = xcalloc(cl->n_buckets, sizeof(*cl->buckets));
	return cl;
}

void connlimit_free(struct connlimit *cl)
{
	if (!cl)
		return;
	for (size_t i = 0; i < cl->n_buckets; i++) {
		while (cl->buckets[i]) {
			struct client *c = cl->buckets[i];
			cl->buckets[i] = c->next;
			free(c);
		}
	}
	free(cl->buckets);
	free(cl);
}

void connlimit_key(const struct ipaddr *addr, struct ipaddr *ret)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(ret, 0, sizeof(*ret));
	if (addr->family == AF_INET6 && memcmp(addr->bytes, v4mapped, sizeof(v4mapped)) == 0) {
		ret->family = AF_INET;
		memcpy(ret->bytes, addr->bytes + 12, 4);
	} else if (addr->family == AF_INET6) {
		ret->family = AF_INET6;
		memcpy(ret->bytes, addr->bytes, 8); /* the /64 */
	} else {
		ret->family = AF_INET;
		memcpy(ret->bytes, addr->bytes, 4);
	}
}

/* SipHash would do; a seeded 64-bit mix of 17 bytes is plenty here. */
static size_t bucket_of(const struct connlimit *cl, const struct ipaddr *key)
{
	uint64_t h = cl->seed ^ 0x9e3779b97f4a7c15ull;
	uint8_t buf[17];
	buf[0] = key->family;
	memcpy(buf + 1, key->bytes, 16);
	for (size_t i = 0; i < sizeof(buf); i++) {
		h ^= buf[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	h ^= h >> 32;
	return (size_t)(h & (cl->n_buckets - 1));
}

static struct client **client_slot(const struct connlimit *cl, const struct ipaddr *key)
{
	struct client **p = &cl->buckets[bucket_of(cl, key)];
	while (*p && !ipaddr_equal(&(*p)->key, key))
		p = &(*p)->next;
	return p;
}

enum connlimit_verdict connlimit_admit(struct connlimit *cl, const struct ipaddr *addr)
{
	struct ipaddr key;
	connlimit_key(addr, &key);
	struct client **p = client_slot(cl, &key);
	if (*p && (*p)->n >= cl->max_per_client)
		return CONNLIMIT_CLIENT_FULL;
	if (cl->total >= cl->max_total)
		return CONNLIMIT_FULL;
	if (!*p) {
		*p = xcalloc(1, sizeof(**p));
		(*p)->key = key;
		cl->clients++;
	}
	(*p)->n++;
	cl->total++;
	return CONNLIMIT_OK;
}

void connlimit_release(struct connlimit *cl, const struct ipaddr *addr)
{
	struct ipaddr key;
	connlimit_key(addr, &key);
	struct client **p = client_slot(cl, &key);
	struct client *c = *p;
	assert(c && c->n > 0 && cl->total > 0); /* released what was never admitted */
	if (!c)
		return;
	cl->total--;
	if (--c->n == 0) {
		*p = c->next;
		free(c);
		cl->clients--;
	}
}

unsigned connlimit_total(const struct connlimit *cl)
{
	return cl->total;
}

unsigned connlimit_of(const struct connlimit *cl, const struct ipaddr *addr)
{
	struct ipaddr key;
	connlimit_key(addr, &key);
	struct client *const *p = client_slot(cl, &key);
	return *p ? (*p)->n : 0;
}

unsigned connlimit_clients(const struct connlimit *cl)
{
	return cl->clients;
}
