/* See ratelimit.h. */
#include "common/ratelimit.h"

#include <stdio.h>
#include <string.h>

void ratelimit_init(struct ratelimit *rl, const struct ratelimit_conf *conf)
{
	memset(rl, 0, sizeof(*rl));
	rl->conf = *conf;
	if (rl->conf.burst == 0)
		rl->conf.burst = 1;
	if (rl->conf.lines_burst == 0)
		rl->conf.lines_burst = 1;
}

/* GCRA: an event at now conforms when the bucket's theoretical arrival
 * time is at most (burst - 1) intervals ahead of now. */
static bool gcra_conforms(int64_t tat, uint32_t burst, int64_t refill, int64_t now)
{
	return tat - now <= (int64_t)(burst - 1) * refill;
}

static int64_t gcra_take(int64_t tat, int64_t refill, int64_t now)
{
	return (tat > now ? tat : now) + refill;
}

static const struct ratelimit_entry *entry_find_const(const struct ratelimit *rl, const char *key)
{
	for (size_t i = 0; i < RATELIMIT_KEYS_MAX; i++) {
		const struct ratelimit_entry *e = &rl->entries[i];
		if (e->used && strncmp(e->key, key, sizeof(e->key)) == 0)
			return e;
	}
	return NULL;
}

/* The key's entry, or a new one in place of a free or the least recently
 * used slot. */
static struct ratelimit_entry *entry_get(struct ratelimit *rl, const char *key, int64_t now)
{
	struct ratelimit_entry *e = (struct ratelimit_entry *)entry_find_const(rl, key);
	if (e)
		return e;
	struct ratelimit_entry *victim = &rl->entries[0];
	for (size_t i = 0; i < RATELIMIT_KEYS_MAX; i++) {
		if (!rl->entries[i].used) {
			victim = &rl->entries[i];
			break;
		}
		if (rl->entries[i].last_us < victim->last_us)
			victim = &rl->entries[i];
	}
	if (victim->used && victim->unlogged) {
		if (!rl->evicted_unlogged)
			rl->evicted_since_us = victim->window_start_us;
		rl->evicted_unlogged += victim->unlogged;
	}
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->tat_us = now;
	return victim;
}

bool ratelimit_allowed(const struct ratelimit *rl, const char *key, int64_t now_us)
{
	const struct ratelimit_entry *e = entry_find_const(rl, key);
	return !e || gcra_conforms(e->tat_us, rl->conf.burst, rl->conf.refill_us, now_us);
}

/* Close e's window if it is over; a summary when it counted anything. */
static bool window_close(struct ratelimit *rl, struct ratelimit_entry *e, int64_t now, uint64_t *ret_count,
			 uint64_t *ret_throttled, int64_t *ret_span)
{
	if (!e->window_start_us || now - e->window_start_us < rl->conf.window_us)
		return false;
	bool any = e->unlogged > 0;
	*ret_count = e->unlogged;
	*ret_throttled = e->throttled;
	*ret_span = now - e->window_start_us;
	e->window_start_us = 0;
	e->unlogged = e->throttled = 0;
	return any;
}

void ratelimit_fail(struct ratelimit *rl, const char *key, bool throttled, int64_t now_us,
		    struct ratelimit_verdict *ret)
{
	struct ratelimit_entry *e = entry_get(rl, key, now_us);
	memset(ret, 0, sizeof(*ret));
	e->last_us = now_us;
	window_close(rl, e, now_us, &ret->summary_count, &ret->summary_throttled, &ret->summary_span_us);
	if (!throttled)
		e->tat_us = gcra_take(e->tat_us, rl->conf.refill_us, now_us);
	if (!e->window_start_us) {
		e->window_start_us = now_us ? now_us : 1;
		if (gcra_conforms(rl->lines_tat_us, rl->conf.lines_burst, rl->conf.lines_refill_us, now_us)) {
			rl->lines_tat_us = gcra_take(rl->lines_tat_us, rl->conf.lines_refill_us, now_us);
			ret->log_this = true;
			return;
		}
	}
	e->unlogged++;
	if (throttled)
		e->throttled++;
}

size_t ratelimit_flush(struct ratelimit *rl, int64_t now_us, ratelimit_summary_fn cb, void *arg)
{
	size_t n = 0;
	for (size_t i = 0; i < RATELIMIT_KEYS_MAX; i++) {
		struct ratelimit_entry *e = &rl->entries[i];
		uint64_t count, throttled;
		int64_t span;
		if (e->used && window_close(rl, e, now_us, &count, &throttled, &span)) {
			cb(arg, e->key, count, throttled, span);
			n++;
		}
	}
	if (rl->evicted_unlogged && now_us - rl->evicted_since_us >= rl->conf.window_us) {
		cb(arg, "", rl->evicted_unlogged, 0, now_us - rl->evicted_since_us);
		rl->evicted_unlogged = 0;
		n++;
	}
	return n;
}

int64_t ratelimit_next_flush(const struct ratelimit *rl)
{
	int64_t next = 0;
	for (size_t i = 0; i < RATELIMIT_KEYS_MAX; i++) {
		const struct ratelimit_entry *e = &rl->entries[i];
		int64_t at = e->window_start_us + rl->conf.window_us;
		if (e->used && e->unlogged && (!next || at < next))
			next = at;
	}
	if (rl->evicted_unlogged) {
		int64_t at = rl->evicted_since_us + rl->conf.window_us;
		if (!next || at < next)
			next = at;
	}
	return next;
}

void ratelimit_peer_key(const char *peer, char *buf, size_t size)
{
	const char *s = peer ? peer : "";
	if (strncmp(s, "ipv4:", 5) == 0 || strncmp(s, "ipv6:", 5) == 0)
		s += 5;
	size_t len = strlen(s);
	if (s[0] == '[') {
		/* [addr]:port */
		const char *end = strchr(s, ']');
		s++;
		len = end ? (size_t)(end - s) : strlen(s);
	} else {
		/* addr:port has one colon; a bare IPv6 address has more. */
		const char *colon = strchr(s, ':');
		if (colon && !strchr(colon + 1, ':'))
			len = (size_t)(colon - s);
	}
	if (size == 0)
		return;
	if (len >= size)
		len = size - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
}
