/* Failures per source, throttled and their log lines aggregated: what the
 * region uses against floods of wrong enrolment secrets and bad API keys
 * (the secrets are long, so guessing is not the risk; the log and the
 * work are).
 *
 * Per key (a source address) a token bucket in its GCRA form: a key may
 * fail `burst` times at once, then once per `refill_us`; past that it is
 * throttled (the caller refuses cheaply). Log lines: the first failure of
 * a key in a window is logged in full; the rest of the window is counted
 * and reported once, as a summary, when the window is over (on the next
 * event or by ratelimit_flush from a timer). First lines across all keys
 * share one more bucket (lines_burst, one per lines_refill_us), so many
 * sources cannot flood the log either: what it holds back shows in their
 * summaries.
 *
 * The table is fixed (RATELIMIT_KEYS_MAX, least recently used evicted; an
 * evicted key's uncounted failures go to an "other sources" summary).
 * Pure: no I/O, the clock is the caller's (microseconds, monotonic). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_KEYS_MAX 256
#define RATELIMIT_KEY_LEN  64

struct ratelimit_conf {
	uint32_t burst;		 /* failures a key may make at once (>= 1) */
	int64_t refill_us;	 /* then one more per refill_us */
	int64_t window_us;	 /* a summary at most once per window per key */
	uint32_t lines_burst;	 /* first lines across all keys at once */
	int64_t lines_refill_us; /* then one more per lines_refill_us */
};

struct ratelimit_entry {
	char key[RATELIMIT_KEY_LEN];
	int64_t tat_us;		 /* GCRA theoretical arrival time */
	int64_t window_start_us; /* 0: no window open */
	uint64_t unlogged;	 /* failures in the window not logged yet */
	uint64_t throttled;	 /* of those, refused unchecked */
	int64_t last_us;	 /* for the LRU */
	bool used;
};

struct ratelimit {
	struct ratelimit_conf conf;
	struct ratelimit_entry entries[RATELIMIT_KEYS_MAX];
	int64_t lines_tat_us;
	uint64_t evicted_unlogged; /* from keys evicted with counts pending */
	int64_t evicted_since_us;
};

/* What one event means for the caller's log. */
struct ratelimit_verdict {
	bool log_this; /* log this failure in full */
	/* A summary of the key's previous window, due now (count 0: none). */
	uint64_t summary_count;
	uint64_t summary_throttled;
	int64_t summary_span_us;
};

void ratelimit_init(struct ratelimit *rl, const struct ratelimit_conf *conf);

/* May key try now? false: it failed too often; refuse without checking
 * (and report it with ratelimit_fail(..., true, ...)). Changes nothing. */
bool ratelimit_allowed(const struct ratelimit *rl, const char *key, int64_t now_us);

/* key failed (throttled: it was refused unchecked). Consumes a token and
 * says what to log. */
void ratelimit_fail(struct ratelimit *rl, const char *key, bool throttled, int64_t now_us,
		    struct ratelimit_verdict *ret);

/* Summaries whose window is over, one cb call each (key "" = the evicted
 * "other sources"); returns how many. */
typedef void (*ratelimit_summary_fn)(void *arg, const char *key, uint64_t count, uint64_t throttled, int64_t span_us);
size_t ratelimit_flush(struct ratelimit *rl, int64_t now_us, ratelimit_summary_fn cb, void *arg);

/* When ratelimit_flush next has something to say (0: nothing pending). */
int64_t ratelimit_next_flush(const struct ratelimit *rl);

/* The address part of a peer string as the key: "ipv4:10.0.0.1:5000" ->
 * "10.0.0.1", "ipv6:[::1]:5000" -> "::1", "10.0.0.1" -> itself. */
void ratelimit_peer_key(const char *peer, char *buf, size_t size);
