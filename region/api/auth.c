/* The API key cache. Keys are kept only as SHA-256 digests. A key checked
 * within API_AUTH_FRESH_MS is accepted without the database; an older
 * entry is still accepted while a background check (a database job the
 * dispatcher starts) confirms it, so a revoked key stops working within
 * seconds and a slow or absent database does not hold authentication up.
 * Past API_AUTH_STALE_MS an entry is no proof at all. Pure: the clock is
 * the caller's. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/api/internal.h"

struct api_auth_entry {
	uint8_t digest[32];
	int64_t checked_ms;
	bool revalidating;
	bool used;
	char name[64]; /* the key's name, for records of who asked */
};

struct api_auth_cache {
	struct api_auth_entry entries[API_AUTH_CACHE_MAX];
};

static void auth_digest(const char *key, uint8_t out[32])
{
	unsigned len = 32;
	if (EVP_Digest(key, strlen(key), out, &len, EVP_sha256(), NULL) != 1)
		memset(out, 0, 32); /* never matches a stored entry's real digest in practice */
}

static struct api_auth_entry *auth_find(struct api_auth_cache *c, const char *key)
{
	uint8_t d[32];
	auth_digest(key, d);
	for (size_t i = 0; i < API_AUTH_CACHE_MAX; i++)
		if (c->entries[i].used && memcmp(c->entries[i].digest, d, sizeof(d)) == 0)
			return &c->entries[i];
	return NULL;
}

int api_auth_cache_lookup(struct api_auth_cache *c, const char *key, int64_t now_ms)
{
	struct api_auth_entry *e = auth_find(c, key);
	if (!e)
		return 0;
	int64_t age = now_ms - e->checked_ms;
	if (age < API_AUTH_FRESH_MS)
		return 1;
	if (age < API_AUTH_STALE_MS)
		return 2;
	return 0;
}

void api_auth_cache_store(struct api_auth_cache *c, const char *key, bool good, int64_t now_ms)
{
	struct api_auth_entry *e = auth_find(c, key);
	if (!good) {
		if (e)
			memset(e, 0, sizeof(*e));
		return;
	}
	if (!e) {
		/* A free slot, else the entry checked longest ago. */
		e = &c->entries[0];
		for (size_t i = 0; i < API_AUTH_CACHE_MAX; i++) {
			if (!c->entries[i].used) {
				e = &c->entries[i];
				break;
			}
			if (c->entries[i].checked_ms < e->checked_ms)
				e = &c->entries[i];
		}
		auth_digest(key, e->digest);
		e->used = true;
	}
	e->checked_ms = now_ms;
	e->revalidating = false;
}

bool api_auth_cache_revalidating(struct api_auth_cache *c, const char *key, bool set)
{
	struct api_auth_entry *e = auth_find(c, key);
	if (!e)
		return false;
	bool was = e->revalidating;
	if (set)
		e->revalidating = true;
	return was;
}

struct api_auth_cache *api_auth_cache_new(void)
{
	return xcalloc(1, sizeof(struct api_auth_cache));
}

void api_auth_cache_free(struct api_auth_cache *c)
{
	free(c);
}

void api_auth_cache_set_name(struct api_auth_cache *c, const char *key, const char *name)
{
	struct api_auth_entry *e = auth_find(c, key);
	if (e)
		snprintf(e->name, sizeof(e->name), "%s", name ? name : "");
}

const char *api_auth_cache_name(struct api_auth_cache *c, const char *key)
{
	struct api_auth_entry *e = auth_find(c, key);
	return e && e->name[0] ? e->name : NULL;
}
