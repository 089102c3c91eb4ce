/* See lifecycle.h. */
#include "region/machine/lifecycle.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

static const char *const state_names[MS__COUNT] = {
    [MS_NEW] = "NEW",
    [MS_COMMISSIONING] = "COMMISSIONING",
    [MS_READY] = "READY",
    [MS_ALLOCATED] = "ALLOCATED",
    [MS_DEPLOYING] = "DEPLOYING",
    [MS_DEPLOYED] = "DEPLOYED",
    [MS_RELEASING] = "RELEASING",
    [MS_FAILED_COMMISSIONING] = "FAILED_COMMISSIONING",
    [MS_FAILED_DEPLOYMENT] = "FAILED_DEPLOYMENT",
    [MS_BROKEN] = "BROKEN",
};

static const char *const action_names[MA__COUNT] = {
    [MA_ENLIST] = "enlist",
    [MA_COMMISSION] = "commission",
    [MA_COMMISSION_DONE] = "commission-done",
    [MA_COMMISSION_FAIL] = "commission-fail",
    [MA_ABORT] = "abort",
    [MA_ALLOCATE] = "allocate",
    [MA_DEPLOY] = "deploy",
    [MA_DEPLOY_DONE] = "deploy-done",
    [MA_DEPLOY_FAIL] = "deploy-fail",
    [MA_RELEASE] = "release",
    [MA_RELEASE_DONE] = "release-done",
    [MA_RELEASE_FAIL] = "release-fail",
    [MA_MARK_BROKEN] = "mark-broken",
    [MA_MARK_FIXED] = "mark-fixed",
    [MA_DELETE] = "delete",
    [MA_TIMEOUT] = "timeout",
};

/* Actions an operator asks for; the others are the agent's, a rack's or
 * the clock's, and a refusal does not offer them. */
static const bool action_operator[MA__COUNT] = {
    [MA_COMMISSION] = true, [MA_ABORT] = true,	     [MA_ALLOCATE] = true,   [MA_DEPLOY] = true,
    [MA_RELEASE] = true,    [MA_MARK_BROKEN] = true, [MA_MARK_FIXED] = true, [MA_DELETE] = true,
};

/* The table. A cell holds the next state plus one, so a cell left out of
 * the initialisers (0) is a refusal; PREV is "the state before
 * COMMISSIONING". */
#define TO(s)	((uint8_t)((s) + 1))
#define REFUSED 0
#define PREV	((uint8_t)(MS__COUNT + 1))

static const uint8_t lifecycle_table[MS__COUNT][MA__COUNT] = {
    [MS_NEW] =
	{
	    [MA_ENLIST] = TO(MS_NEW),
	    [MA_COMMISSION] = TO(MS_COMMISSIONING),
	    [MA_MARK_BROKEN] = TO(MS_BROKEN),
	    [MA_DELETE] = TO(MS_NEW),
	},
    [MS_COMMISSIONING] =
	{
	    [MA_COMMISSION_DONE] = TO(MS_READY),
	    [MA_COMMISSION_FAIL] = TO(MS_FAILED_COMMISSIONING),
	    [MA_TIMEOUT] = TO(MS_FAILED_COMMISSIONING),
	    [MA_ABORT] = PREV,
	    [MA_MARK_BROKEN] = TO(MS_BROKEN),
	},
    [MS_READY] =
	{
	    [MA_COMMISSION] = TO(MS_COMMISSIONING),
	    [MA_ALLOCATE] = TO(MS_ALLOCATED),
	    [MA_MARK_BROKEN] = TO(MS_BROKEN),
	    [MA_DELETE] = TO(MS_READY),
	},
    [MS_ALLOCATED] =
	{
	    [MA_DEPLOY] = TO(MS_DEPLOYING),
	    [MA_RELEASE] = TO(MS_RELEASING),
	    [MA_MARK_BROKEN] = TO(MS_BROKEN),
	},
    [MS_DEPLOYING] =
	{
	    [MA_DEPLOY_DONE] = TO(MS_DEPLOYED),
	    [MA_DEPLOY_FAIL] = TO(MS_FAILED_DEPLOYMENT),
	    [MA_TIMEOUT] = TO(MS_FAILED_DEPLOYMENT),
	    [MA_ABORT] = TO(MS_ALLOCATED),
	    [MA_MARK_BROKEN] = TO(MS_BROKEN),
	},
    [MS_DEPLOYED] =
	{
	    [MA_RELEASE] = TO(MS_RELEASING),
	    [MA_MARK_BROKEN] = TO(MS_BROKEN),
	},
    [MS_RELEASING] =
	{
	    [MA_RELEASE_DONE] = TO(MS_READY),
	    [MA_RELEASE_FAIL] = TO(MS_BROKEN),
	    [MA_TIMEOUT] = TO(MS_BROKEN),
	    [MA_MARK_BROKEN] = TO(MS_BROKEN),
	},
    [MS_FAILED_COMMISSIONING] =
	{
	    [MA_COMMISSION] = TO(MS_COMMISSIONING),
	    [MA_MARK_BROKEN] = TO(MS_BROKEN),
	    [MA_DELETE] = TO(MS_FAILED_COMMISSIONING),
	},
    [MS_FAILED_DEPLOYMENT] =
	{
	    [MA_COMMISSION] = TO(MS_COMMISSIONING),
	    [MA_RELEASE] = TO(MS_RELEASING),
	    [MA_MARK_BROKEN] = TO(MS_BROKEN),
	    [MA_DELETE] = TO(MS_FAILED_DEPLOYMENT),
	},
    [MS_BROKEN] =
	{
	    [MA_COMMISSION] = TO(MS_COMMISSIONING),
	    [MA_MARK_FIXED] = TO(MS_READY),
	    [MA_DELETE] = TO(MS_BROKEN),
	},
};

static bool state_valid(enum machine_state s)
{
	return (unsigned)s < MS__COUNT;
}

static bool action_valid(enum machine_action a)
{
	return (unsigned)a < MA__COUNT;
}

const char *machine_state_name(enum machine_state s)
{
	return state_valid(s) ? state_names[s] : "UNKNOWN";
}

int machine_state_parse(const char *name, enum machine_state *ret)
{
	for (int i = 0; name && i < MS__COUNT; i++)
		if (strcmp(name, state_names[i]) == 0) {
			*ret = (enum machine_state)i;
			return 0;
		}
	return -EINVAL;
}

const char *machine_action_name(enum machine_action a)
{
	return action_valid(a) ? action_names[a] : "unknown";
}

int machine_action_parse(const char *name, enum machine_action *ret)
{
	for (int i = 0; name && i < MA__COUNT; i++)
		if (strcmp(name, action_names[i]) == 0) {
			*ret = (enum machine_action)i;
			return 0;
		}
	return -EINVAL;
}

/* "is READY: commission, allocate, mark-broken or delete is possible". */
static void refusal_format(enum machine_state state, char *msg, size_t msg_len)
{
	enum machine_action allowed[MA__COUNT];
	size_t n = 0, off;

	for (int a = 0; a < MA__COUNT; a++)
		if (action_operator[a] && lifecycle_table[state][a] != REFUSED)
			allowed[n++] = (enum machine_action)a;
	if (!msg || !msg_len)
		return;
	if (n == 0) {
		snprintf(msg, msg_len, "is %s: nothing is possible until it finishes", state_names[state]);
		return;
	}
	off = (size_t)snprintf(msg, msg_len, "is %s: ", state_names[state]);
	for (size_t i = 0; i < n && off < msg_len; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
		off += (size_t)snprintf(msg + off, msg_len - off, "%s%s", sep, action_names[allowed[i]]);
	}
	if (off < msg_len)
		snprintf(msg + off, msg_len - off, " is possible");
}

int machine_lifecycle_step(enum machine_state state, enum machine_action action, enum machine_state previous,
			   enum machine_state *ret_next, char *msg, size_t msg_len)
{
	if (!state_valid(state) || !action_valid(action)) {
		err_set(msg, msg_len, "is in an unknown state (%d) or the action (%d) is unknown", (int)state,
			(int)action);
		return -EINVAL;
	}
	uint8_t cell = lifecycle_table[state][action];
	if (cell == REFUSED) {
		refusal_format(state, msg, msg_len);
		return -EPERM;
	}
	if (cell == PREV) {
		/* Back where it came from, if commissioning could have started
		 * there (so not COMMISSIONING itself); otherwise to NEW, the
		 * state that promises least. */
		bool sensible =
		    state_valid(previous) && lifecycle_table[previous][MA_COMMISSION] == TO(MS_COMMISSIONING);
		*ret_next = sensible ? previous : MS_NEW;
	} else {
		*ret_next = (enum machine_state)(cell - 1);
	}
	if (msg && msg_len)
		msg[0] = '\0';
	return 0;
}

bool machine_state_timed(enum machine_state s)
{
	return s == MS_COMMISSIONING || s == MS_DEPLOYING || s == MS_RELEASING;
}

static uint32_t timeout_of(enum machine_state s, const struct machine_timeouts *t)
{
	switch (s) {
	case MS_COMMISSIONING:
		return t->commissioning_s;
	case MS_DEPLOYING:
		return t->deploying_s;
	case MS_RELEASING:
		return t->releasing_s;
	default:
		return 0;
	}
}

int64_t machine_state_deadline(enum machine_state s, int64_t since_ms, const struct machine_timeouts *t)
{
	assert(t);
	if (!machine_state_timed(s))
		return 0;
	return since_ms + (int64_t)timeout_of(s, t) * 1000;
}

/* Go's time.Duration form for whole seconds: "45s", "30m0s", "1h0m0s". */
void machine_timeout_reason(enum machine_state s, const struct machine_timeouts *t, char *buf, size_t len)
{
	char d[32];

	assert(t);
	if (!buf || !len)
		return;
	duration_format(timeout_of(s, t), d, sizeof(d));
	switch (s) {
	case MS_COMMISSIONING:
		snprintf(buf, len, "commissioning did not finish within %s (no report from the machine's agent)", d);
		break;
	case MS_DEPLOYING:
		snprintf(buf, len, "deployment did not finish within %s", d);
		break;
	case MS_RELEASING:
		snprintf(buf, len, "releasing did not finish within %s", d);
		break;
	default:
		buf[0] = '\0';
		break;
	}
}
