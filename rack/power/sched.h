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
 * submit: the submission is taken after the current step).
 *
 * Decisions where the rules above leave room:
 *   - A request is queued until its first attempt starts, and running
 *     from then until it finishes, its backoffs included. Only a queued
 *     action is superseded; a query joins a queued query or a started one
 *     (running, in its backoff, or waiting for a slot for its retry).
 *   - Arrival order is the order in which machines come to want a slot:
 *     the first request of an idle machine, the next queued request when
 *     the machine's call ends, a retry when its backoff ends. One FIFO.
 *   - A retry is taken only when now + backoff < the deadline (strictly).
 *     A retry that waits for a slot past the deadline times out there.
 *   - Timeout message: "no answer from the BMC within 30 s" ("2.5 s" for
 *     a fraction), plus "; last error: <message>" when an earlier attempt
 *     ended TRANSIENT. A done that arrives after the deadline but before
 *     tick has fired it is the answer (nothing has finished yet).
 *   - attempts in finish: the attempts started (0 for a request that
 *     never started: superseded, or cancelled by free).
 *   - Re-entrancy, widened: any callback may call power_sched_submit, and
 *     start and cancel may call power_sched_done (an async driver that
 *     completes at once). Both are copied and taken, in order, after the
 *     current step. tick and free must not be called from a callback.
 *   - free cancels the calls whose requests are still waited for (a call
 *     already cancelled at its deadline is not cancelled twice), then
 *     finishes every waiter; submissions made from those finishes finish
 *     CANCELLED too. Every power_run dies with the scheduler: the owner
 *     must not call power_sched_done after free.
 *   - Messages name actions in PowerCommand's words: on, off, cycle,
 *     query ("superseded by off"). */
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
unsigned power_sched_queued(const struct power_sched *s); /* requests not yet started (each waiter counts) */
/* The machine has a request queued or started, or a call the driver has
 * not given back yet. */
bool power_sched_busy(const struct power_sched *s, uint64_t machine_id);
