/* What runs when: the rack's power scheduler, an engine without I/O
 * (Kea-style: tests drive it with a fake clock and fake drivers).
 *
 * Rules:
 *   - One call at a time per machine.
 *   - Per machine, at most one queued action (on/off/cycle): a newer one
 *     supersedes the queued one, which finishes POWER_CANCELLED with
 *     "superseded by <action>". A running call is never superseded.
 *   - Queries coalesce: a query for a machine whose query is queued or
 *     running joins it and gets the same result.
 *   - After the running call: the queued action first, then the query.
 *   - A rack-wide limit on calls running at once; machines wait their turn
 *     in arrival order.
 *   - A call that ends POWER_TRANSIENT is retried after a backoff
 *     (retry_base_ms, doubling, capped at retry_max_ms) while attempts <
 *     max_attempts and the retry would start before the request's
 *     deadline. A retry waiting its backoff holds no slot of the limit.
 *   - Deadline: timeout_ms from the moment the first attempt starts. At
 *     the deadline the waiters finish POWER_TIMEOUT ("no answer from the
 *     BMC within N s") and the call is cancelled; the machine (and its
 *     slot) stays busy until the driver gives the call back.
 *
 * The owner supplies callbacks; they run synchronously inside the
 * engine's functions and must not re-enter it (except that finish may
 * submit: the submission is taken after the current step). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "rack/power/driver.h"

struct power_sched;

/* A request someone waits for: the region's action (action_id != 0) or a
 * poll (action_id == 0). */
struct power_req {
	uint64_t machine_id;
	enum power_action action;
	struct power_boot boot;
	uint64_t action_id;
	void *arg; /* the owner's */
};

/* A call the engine wants started: the owner builds a power_op for
 * run->machine_id and later calls power_sched_done(s, run, result). */
struct power_run {
	uint64_t machine_id;
	enum power_action action;
	struct power_boot boot;
	unsigned attempt; /* 1, 2, ... */
	int64_t deadline_us;
	void *owner; /* the owner's, e.g. its power_op */
};

struct power_sched_ops {
	void (*start)(void *ctx, struct power_run *run);
	void (*cancel)(void *ctx, struct power_run *run);
	/* Every submitted request finishes exactly once, here. req is freed after. */
	void (*finish)(void *ctx, const struct power_req *req, const struct power_result *res, unsigned attempts);
};

struct power_sched_opts {
	unsigned concurrency;	/* calls at once, rack-wide; default 64 */
	unsigned timeout_ms;	/* per request; default 30000 */
	unsigned max_attempts;	/* default 3 */
	unsigned retry_base_ms; /* default 500 */
	unsigned retry_max_ms;	/* default 4000 */
};

struct power_sched *power_sched_new(const struct power_sched_opts *opts, const struct power_sched_ops *ops, void *ctx);
/* Every waiter finishes POWER_CANCELLED ("rack shutting down"); running
 * calls get cancel first. NULL is fine. */
void power_sched_free(struct power_sched *s);

/* Queue a request (copied). May start calls (ops->start) before returning. */
void power_sched_submit(struct power_sched *s, const struct power_req *req, int64_t now_us);
/* The call run ended. res->status decides: retry (TRANSIENT), or finish
 * its waiters. run must not be used afterwards. */
void power_sched_done(struct power_sched *s, struct power_run *run, const struct power_result *res, int64_t now_us);
/* Time passed: fire deadlines, start retries whose backoff ended. */
void power_sched_tick(struct power_sched *s, int64_t now_us);
/* When tick must next run (clock_mono_us), or INT64_MAX when nothing waits on time. */
int64_t power_sched_next_tick(const struct power_sched *s);

/* For logs and tests. */
unsigned power_sched_running(const struct power_sched *s);
unsigned power_sched_queued(const struct power_sched *s); /* requests waiting, not running */
bool power_sched_busy(const struct power_sched *s, uint64_t machine_id);
