/* A machine's lifecycle (docs/machines.md, "States"): the one table of
 * which action moves which state where. Pure: the region's handlers ask
 * it before they write, and the write itself is conditional on the state
 * read (UPDATE ... WHERE status = $seen), so two clients acting at once
 * cannot both win. Unit-tested state by action (tests/unit/test_lifecycle.c).
 *
 *   NEW --commission--> COMMISSIONING --commission_done--> READY
 *   READY --allocate--> ALLOCATED --deploy--> DEPLOYING --deploy_done--> DEPLOYED
 *   ALLOCATED | DEPLOYED | FAILED_DEPLOYMENT --release--> RELEASING --release_done--> READY
 *   COMMISSIONING --commission_fail | timeout--> FAILED_COMMISSIONING
 *   DEPLOYING --deploy_fail | timeout--> FAILED_DEPLOYMENT
 *   RELEASING --release_fail (the erase failed) | timeout--> BROKEN
 *   COMMISSIONING --abort--> the state before it; DEPLOYING --abort--> ALLOCATED
 *   any but BROKEN --mark_broken--> BROKEN --mark_fixed--> READY
 *   commission also from READY, FAILED_COMMISSIONING, FAILED_DEPLOYMENT, BROKEN
 *   enlist (the agent re-posting a NEW machine's inventory): NEW --> NEW
 *   delete from NEW, READY, FAILED_COMMISSIONING, FAILED_DEPLOYMENT, BROKEN
 *     (a machine in use is released first, one mid-action aborted first) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum machine_state {
	MS_NEW,
	MS_COMMISSIONING,
	MS_READY,
	MS_ALLOCATED,
	MS_DEPLOYING,
	MS_DEPLOYED,
	MS_RELEASING,
	MS_FAILED_COMMISSIONING,
	MS_FAILED_DEPLOYMENT,
	MS_BROKEN,
	MS__COUNT,
};

enum machine_action {
	MA_ENLIST,
	MA_COMMISSION,
	MA_COMMISSION_DONE,
	MA_COMMISSION_FAIL,
	MA_ABORT,
	MA_ALLOCATE,
	MA_DEPLOY,
	MA_DEPLOY_DONE,
	MA_DEPLOY_FAIL,
	MA_RELEASE,
	MA_RELEASE_DONE,
	MA_RELEASE_FAIL,
	MA_MARK_BROKEN,
	MA_MARK_FIXED,
	MA_DELETE,
	MA_TIMEOUT,
	MA__COUNT,
};

/* "NEW", "FAILED_COMMISSIONING", ... as stored and shown. */
const char *machine_state_name(enum machine_state s);
/* -EINVAL for an unknown name (exact, upper case). */
int machine_state_parse(const char *name, enum machine_state *ret);
/* "commission", "mark-broken", "commission-done", ... (the API's verbs). */
const char *machine_action_name(enum machine_action a);
int machine_action_parse(const char *name, enum machine_action *ret);

/* Where action takes a machine in state (previous: the state it was in
 * before the current one, for abort; when it is not a state commissioning
 * starts from, abort goes to NEW). 0 with *ret_next and msg ""; MA_DELETE
 * gives *ret_next = state (the row goes). -EPERM when the state does not
 * allow the action, with msg the words after "machine NAME ":
 * "is READY: commission, allocate, mark-broken or delete is possible"
 * (the actions an operator can ask for in that state, in enum order;
 * internal ones — commission_done, commission_fail, deploy_done,
 * deploy_fail, release_done, release_fail, timeout, enlist — are not listed; none:
 * "is X: nothing is possible until it finishes"), so the caller writes
 * "machine %s %s" with the hostname and msg. -EINVAL for a state or
 * action out of range. */
int machine_lifecycle_step(enum machine_state state, enum machine_action action, enum machine_state previous,
			   enum machine_state *ret_next, char *msg, size_t msg_len);

/* Does the state run against a clock (COMMISSIONING, DEPLOYING,
 * RELEASING)? */
bool machine_state_timed(enum machine_state s);

struct machine_timeouts {
	uint32_t commissioning_s; /* default 1800 */
	uint32_t deploying_s;	  /* default 1800 */
	uint32_t releasing_s;	  /* default 600 */
};

/* The deadline (ms) of a machine that entered state at since_ms; 0 when
 * the state has none. */
int64_t machine_state_deadline(enum machine_state s, int64_t since_ms, const struct machine_timeouts *t);

/* The reason a timed-out machine's next state carries: "commissioning
 * did not finish within 30m0s (no report from the machine's agent)",
 * "deployment did not finish within 30m0s", "releasing did not finish
 * within 10m0s" (durations as Go writes them); "" for an untimed state. */
void machine_timeout_reason(enum machine_state s, const struct machine_timeouts *t, char *buf, size_t len);
