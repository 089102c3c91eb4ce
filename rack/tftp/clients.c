/* Transfers per client address; see clients.h. */
#include "rack/tftp/clients.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct tftp_client_entry {
	struct tftp_client_entry *next;
	struct tftp_client_key key;
	unsigned count;
};

int tftp_client_key_of(const struct sockaddr *sa, struct tftp_client_key *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		ret->addr[10] = 0xff;
		ret->addr[11] = 0xff;
		memcpy(&ret->addr[12], &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		memcpy(ret->addr, &in6->sin6_addr, 16);
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* FNV-1a: the keys are the clients' own choice, but an attacker who
 * collides them only makes its own chain longer; the count per chain is
 * bounded by the server's transfer limit. */
static size_t bucket_of(const struct tftp_client_key *key)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < sizeof(key->addr); i++)
		h = (h ^ key->addr[i]) * 16777619u;
	return h % TFTP_CLIENTS_BUCKETS;
}

static struct tftp_client_entry **find(struct tftp_clients *c, const struct tftp_client_key *key)
{
	struct tftp_client_entry **pp = &c->buckets[bucket_of(key)];
	while (*pp && memcmp((*pp)->key.addr, key->addr, sizeof(key->addr)) != 0)
		pp = &(*pp)->next;
	return pp;
}

void tftp_clients_init(struct tftp_clients *c)
{
	memset(c, 0, sizeof(*c));
}

void tftp_clients_done(struct tftp_clients *c)
{
	for (size_t i = 0; i < TFTP_CLIENTS_BUCKETS; i++) {
		while (c->buckets[i]) {
			struct tftp_client_entry *e = c->buckets[i];
			c->buckets[i] = e->next;
			free(e);
		}
	}
	c->n_entries = 0;
}

int tftp_clients_take(struct tftp_clients *c, const struct tftp_client_key *key, unsigned limit)
{
	struct tftp_client_entry **pp = find(c, key);
	if (*pp) {
		if (limit && (*pp)->count >= limit)
			return -EUSERS;
		(*pp)->count++;
		return 0;
	}
	struct tftp_client_entry *e = xcalloc(1, sizeof(*e));
	e->key = *key;
	e->count = 1;
	*pp = e;
	c->n_entries++;
	return 0;
}

void tftp_clients_put(struct tftp_clients *c, const struct tftp_client_key *key)
{
	struct tftp_client_entry **pp = find(c, key);
	struct tftp_client_entry *e = *pp;
	if (!e)
		return;
	if (--e->count == 0) {
		*pp = e->next;
		free(e);
		c->n_entries--;
	}
}

unsigned tftp_clients_count(const struct tftp_clients *c, const struct tftp_client_key *key)
{
	struct tftp_client_entry **pp = find((struct tftp_clients *)c, key);
	return *pp ? (*pp)->count : 0;
}
