/* The API key cache. Keys are kept only as SHA-256 digests. A key checked
 * within API_AUTH_FRESH_MS is accepted without the database; an older
 * entry is still accepted while a background check (a database job the
 * dispatcher starts) confirms it, so a revoked key stops working within
 * seconds and a slow or absent database does not hold authentication up.
 * Past API_AUTH_STALE_MS an entry is no proof at all. Pure: the clock is
 * the caller's.
 *
 * Beside it, the failures per source address (auth.h): common/ratelimit
 * decides, a timer on the region's loop says the summaries. */
#include <event2/event.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/ratelimit.h"
#include "common/util.h"
#include "region/api/auth.h"
#include "region/api/internal.h"
#include "region/region.h"

struct api_auth_entry {
	uint8_t digest[32];
	int64_t checked_ms;
	bool revalidating;
	bool used;
	char name[64]; /* the key's name, for records of who asked */
};

struct api_auth_cache {
	struct api_auth_entry entries[API_AUTH_CACHE_MAX];
	/* Failed authentications per source address, and the timer that
	 * logs their summaries (made at the first failure). */
	struct ratelimit failures;
	struct event *flush;
};

/* Past a burst of 10, one failure a second per address; a summary at most
 * every 5 s per address; 20 first lines at once across addresses. */
static const struct ratelimit_conf api_auth_limits = {
    .burst = 10,
    .refill_us = 1000000,
    .window_us = 5 * 1000000LL,
    .lines_burst = 20,
    .lines_refill_us = 1000000,
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
	struct api_auth_cache *c = xcalloc(1, sizeof(struct api_auth_cache));
	ratelimit_init(&c->failures, &api_auth_limits);
	return c;
}

void api_auth_cache_free(struct api_auth_cache *c)
{
	if (c && c->flush)
		event_free(c->flush);
	free(c);
}

/* ---- failed authentication per source address ---- */

static void auth_summary(void *arg, const char *addr, uint64_t count, uint64_t throttled, int64_t span_us)
{
	log_warn("REST: %llu more failed attempts from %s in the last %lld s (%llu refused unchecked: too many)",
		 (unsigned long long)count, addr[0] ? addr : "other addresses", (long long)(span_us / 1000000),
		 (unsigned long long)throttled);
}

static void auth_flush_arm(struct api_auth_cache *c)
{
	int64_t next = ratelimit_next_flush(&c->failures);
	if (!next || !c->flush)
		return;
	int64_t d = next - clock_mono_us();
	if (d < 0)
		d = 0;
	struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
	evtimer_add(c->flush, &tv);
}

static void auth_flush(evutil_socket_t fd, short what, void *arg)
{
	struct api_auth_cache *c = arg;
	ratelimit_flush(&c->failures, clock_mono_us(), auth_summary, NULL);
	auth_flush_arm(c);
}

bool api_auth_may_try(struct api *api, const char *peer)
{
	char addr[RATELIMIT_KEY_LEN];
	ratelimit_peer_key(peer, addr, sizeof(addr));
	return ratelimit_allowed(&api->auth->failures, addr, clock_mono_us());
}

void api_auth_failed(struct api *api, const char *peer, bool throttled)
{
	struct api_auth_cache *c = api->auth;
	struct ratelimit_verdict v;
	char addr[RATELIMIT_KEY_LEN];
	ratelimit_peer_key(peer, addr, sizeof(addr));
	ratelimit_fail(&c->failures, addr, throttled, clock_mono_us(), &v);
	if (v.summary_count)
		auth_summary(NULL, addr, v.summary_count, v.summary_throttled, v.summary_span_us);
	if (v.log_this)
		log_info("REST rejected an invalid API key from %s", addr);
	if (!c->flush) {
		c->flush = evtimer_new(api->r->base, auth_flush, c);
		if (!c->flush)
			oom_abort(sizeof(struct event *));
	}
	if (!evtimer_pending(c->flush, NULL))
		auth_flush_arm(c);
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
