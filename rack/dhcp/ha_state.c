/* The HA state machine as a table, its timers, and the lease time rules;
 * see ha_state.h and docs/dhcp-ha.md. */
#include <errno.h>
#include <stddef.h>

#include "rack/dhcp/ha_state.h"

#define BACK (HA_ACT_SEND_SYNC | HA_ACT_SEND_QUEUED | HA_ACT_SEND_STATE)

/* First row whose state and event match, whose `need` bits are all set
 * and whose `forbid` bits are all clear, wins. No row: ignore. */
struct row {
	enum ha_state from;
	enum ha_event ev;
	unsigned need, forbid;
	enum ha_state to;
	unsigned actions;
};

static const struct row rows[] = {
    /* RECOVER: exchange Hello, sync, merge; no new addresses. */
    {HA_RECOVER, HA_EV_PARTNER_HELLO, 0, 0, HA_RECOVER, BACK},
    {HA_RECOVER, HA_EV_PARTNER_HEARTBEAT, HA_C_PARTNER_LOST, 0, HA_RECOVER, BACK},
    {HA_RECOVER, HA_EV_SYNC_DONE, HA_C_PARTNER_UP, 0, HA_NORMAL,
     HA_ACT_WAIT_ACKS | HA_ACT_SEND_STATE | HA_ACT_REPORT | HA_ACT_REBALANCE},
    /* Alone: only the region's word that no partner-down is held against
     * us lets a restarted rack allocate from its own share again. */
    {HA_RECOVER, HA_EV_PARTNER_TIMEOUT, HA_C_REGION_UP, 0, HA_COMM_INTERRUPTED, HA_ACT_REPORT | HA_ACT_ASK_WITNESS},
    {HA_RECOVER, HA_EV_REGION_UP, HA_C_PARTNER_LOST, 0, HA_COMM_INTERRUPTED, HA_ACT_REPORT | HA_ACT_ASK_WITNESS},
    {HA_RECOVER, HA_EV_WITNESS_GRANT, HA_C_PARTNER_UP, 0, HA_RECOVER, HA_ACT_REFUSE},
    {HA_RECOVER, HA_EV_WITNESS_GRANT, 0, 0, HA_PARTNER_DOWN, HA_ACT_REPORT},
    {HA_RECOVER, HA_EV_OPERATOR_DOWN, HA_C_PARTNER_UP, 0, HA_RECOVER, HA_ACT_REFUSE},
    {HA_RECOVER, HA_EV_OPERATOR_DOWN, 0, 0, HA_PARTNER_DOWN, HA_ACT_REPORT},
    {HA_RECOVER, HA_EV_FENCE_TIMEOUT, HA_C_PARTNER_LOST, HA_C_PARTNER_UP | HA_C_REGION_UP, HA_FENCED, HA_ACT_REPORT},

    /* NORMAL: both answer their buckets; ACKs wait for the partner. */
    {HA_NORMAL, HA_EV_PARTNER_HELLO, 0, 0, HA_RECOVER, BACK | HA_ACT_QUEUE_UPDATES | HA_ACT_REPORT},
    {HA_NORMAL, HA_EV_PARTNER_TIMEOUT, 0, 0, HA_COMM_INTERRUPTED,
     HA_ACT_QUEUE_UPDATES | HA_ACT_REPORT | HA_ACT_ASK_WITNESS},
    {HA_NORMAL, HA_EV_WITNESS_GRANT, 0, 0, HA_NORMAL, HA_ACT_REFUSE},
    {HA_NORMAL, HA_EV_OPERATOR_DOWN, 0, 0, HA_NORMAL, HA_ACT_REFUSE},

    /* COMMUNICATIONS-INTERRUPTED: own share only, capped renewals. */
    {HA_COMM_INTERRUPTED, HA_EV_PARTNER_HELLO, 0, 0, HA_RECOVER, BACK | HA_ACT_REPORT},
    {HA_COMM_INTERRUPTED, HA_EV_PARTNER_HEARTBEAT, 0, 0, HA_RECOVER, BACK | HA_ACT_REPORT},
    {HA_COMM_INTERRUPTED, HA_EV_WITNESS_GRANT, 0, 0, HA_PARTNER_DOWN, HA_ACT_REPORT},
    {HA_COMM_INTERRUPTED, HA_EV_OPERATOR_DOWN, 0, 0, HA_PARTNER_DOWN, HA_ACT_REPORT},
    {HA_COMM_INTERRUPTED, HA_EV_REGION_UP, 0, 0, HA_COMM_INTERRUPTED, HA_ACT_ASK_WITNESS},
    {HA_COMM_INTERRUPTED, HA_EV_FENCE_TIMEOUT, 0, HA_C_REGION_UP, HA_FENCED, HA_ACT_REPORT},
    {HA_COMM_INTERRUPTED, HA_EV_DECLARED_DOWN, 0, 0, HA_RECOVER, HA_ACT_REPORT},

    /* PARTNER-DOWN: as CI until the MCLT has passed, then both shares. */
    {HA_PARTNER_DOWN, HA_EV_PARTNER_HELLO, 0, 0, HA_RECOVER, BACK | HA_ACT_REPORT | HA_ACT_STOP_TAKEOVER},
    {HA_PARTNER_DOWN, HA_EV_PARTNER_HEARTBEAT, 0, 0, HA_RECOVER, BACK | HA_ACT_REPORT | HA_ACT_STOP_TAKEOVER},
    {HA_PARTNER_DOWN, HA_EV_MCLT_ELAPSED, 0, 0, HA_PARTNER_DOWN, HA_ACT_TAKEOVER | HA_ACT_REPORT},
    {HA_PARTNER_DOWN, HA_EV_DECLARED_DOWN, 0, 0, HA_RECOVER, HA_ACT_REPORT | HA_ACT_STOP_TAKEOVER},

    /* FENCED: no extensions, nothing new, until someone answers. */
    {HA_FENCED, HA_EV_PARTNER_HELLO, 0, 0, HA_RECOVER, BACK | HA_ACT_REPORT},
    {HA_FENCED, HA_EV_PARTNER_HEARTBEAT, 0, 0, HA_RECOVER, BACK | HA_ACT_REPORT},
    {HA_FENCED, HA_EV_REGION_UP, 0, 0, HA_COMM_INTERRUPTED, HA_ACT_REPORT | HA_ACT_ASK_WITNESS},
    {HA_FENCED, HA_EV_WITNESS_GRANT, 0, 0, HA_PARTNER_DOWN, HA_ACT_REPORT},
    {HA_FENCED, HA_EV_OPERATOR_DOWN, 0, 0, HA_PARTNER_DOWN, HA_ACT_REPORT},
    {HA_FENCED, HA_EV_DECLARED_DOWN, 0, 0, HA_RECOVER, HA_ACT_REPORT},
};

bool ha_transition(enum ha_state from, enum ha_event ev, unsigned conds, struct ha_transition *ret)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		if (r->from == from && r->ev == ev && (conds & r->need) == r->need && !(conds & r->forbid)) {
			ret->to = r->to;
			ret->actions = r->actions;
			return true;
		}
	}
	ret->to = from;
	ret->actions = 0;
	return false;
}

/* ---- timers ---- */

#define SEC 1000000LL

void ha_timing_default(struct ha_timing *t, int64_t auto_down_us)
{
	t->heartbeat_us = 1 * SEC;
	t->timeout_us = 10 * SEC;
	t->mclt_us = 3600 * SEC;
	t->fence_us = auto_down_us > 0 ? auto_down_us / 2 : 0;
}

int ha_timing_check(const struct ha_timing *t, int64_t auto_down_us)
{
	if (t->heartbeat_us <= 0 || t->timeout_us < 2 * t->heartbeat_us || t->mclt_us <= 0)
		return -EINVAL;
	if (t->fence_us != 0 && t->fence_us < t->timeout_us)
		return -EINVAL;
	if (auto_down_us < 0)
		return -EINVAL;
	/* The region's wait must outlast the partner's fence, measured on
	 * another clock that may run 1 % slow. */
	if (auto_down_us > 0 && (t->fence_us == 0 || t->fence_us + t->fence_us / 100 + t->heartbeat_us >= auto_down_us))
		return -EINVAL;
	return 0;
}

int64_t ha_takeover_wait_us(const struct ha_timing *t)
{
	return t->mclt_us + t->mclt_us / 100 + t->heartbeat_us;
}

void ha_sm_init(struct ha_sm *sm, int64_t now_us)
{
	*sm = (struct ha_sm){
	    .state = HA_RECOVER,
	    .since_us = now_us,
	    .last_partner_us = now_us,
	    .last_region_us = now_us,
	};
}

static unsigned sm_conds(const struct ha_sm *sm)
{
	return (sm->partner_up ? HA_C_PARTNER_UP : 0) | (sm->partner_lost ? HA_C_PARTNER_LOST : 0) |
	       (sm->region_up ? HA_C_REGION_UP : 0);
}

bool ha_sm_handle(struct ha_sm *sm, enum ha_event ev, int64_t now_us, struct ha_step *ret)
{
	struct ha_transition tr;
	enum ha_state from = sm->state;

	ha_transition(from, ev, sm_conds(sm), &tr);
	switch (ev) {
	case HA_EV_PARTNER_HELLO:
	case HA_EV_PARTNER_HEARTBEAT:
		sm->partner_up = true;
		sm->partner_lost = false;
		sm->last_partner_us = now_us;
		break;
	case HA_EV_PARTNER_TIMEOUT:
		sm->partner_up = false;
		sm->partner_lost = true;
		break;
	case HA_EV_REGION_UP:
		sm->region_up = true;
		sm->last_region_us = now_us;
		break;
	case HA_EV_REGION_DOWN:
		/* heard until now: the fence counts from here */
		sm->region_up = false;
		sm->last_region_us = now_us;
		break;
	case HA_EV_DECLARED_DOWN:
		/* Reached, but it is no clearance. */
		sm->region_up = false;
		sm->last_region_us = now_us;
		break;
	default:
		break;
	}
	if (tr.actions & HA_ACT_TAKEOVER)
		sm->takeover = true;
	if (tr.to != from) {
		sm->state = tr.to;
		sm->since_us = now_us;
		sm->takeover = false;
	}
	if (ret) {
		ret->from = from;
		ret->to = tr.to;
		ret->actions = tr.actions;
	}
	return tr.to != from;
}

static bool fences(const struct ha_sm *sm, const struct ha_timing *t)
{
	return t->fence_us > 0 && (sm->state == HA_RECOVER || sm->state == HA_COMM_INTERRUPTED) && sm->partner_lost &&
	       !sm->region_up;
}

static int64_t fence_at(const struct ha_sm *sm, const struct ha_timing *t)
{
	int64_t last = sm->last_partner_us > sm->last_region_us ? sm->last_partner_us : sm->last_region_us;
	return last + t->fence_us;
}

enum ha_event ha_sm_due(const struct ha_sm *sm, const struct ha_timing *t, int64_t now_us)
{
	if (!sm->partner_lost && now_us - sm->last_partner_us >= t->timeout_us)
		return HA_EV_PARTNER_TIMEOUT;
	if (fences(sm, t) && now_us >= fence_at(sm, t))
		return HA_EV_FENCE_TIMEOUT;
	if (sm->state == HA_PARTNER_DOWN && !sm->takeover && now_us - sm->since_us >= ha_takeover_wait_us(t))
		return HA_EV_MCLT_ELAPSED;
	return HA_EV_NONE;
}

int64_t ha_sm_deadline(const struct ha_sm *sm, const struct ha_timing *t)
{
	int64_t at = INT64_MAX, x;
	if (!sm->partner_lost && (x = sm->last_partner_us + t->timeout_us) < at)
		at = x;
	if (fences(sm, t) && (x = fence_at(sm, t)) < at)
		at = x;
	if (sm->state == HA_PARTNER_DOWN && !sm->takeover && (x = sm->since_us + ha_takeover_wait_us(t)) < at)
		at = x;
	return at;
}

/* ---- what a state allows ---- */

void ha_permits(enum ha_state st, bool takeover, struct ha_permits *ret)
{
	*ret = (struct ha_permits){0};
	switch (st) {
	case HA_RECOVER:
		ret->renew = true;
		break;
	case HA_NORMAL:
		ret->alloc_own = ret->renew = ret->wait_ack = true;
		break;
	case HA_COMM_INTERRUPTED:
		ret->alloc_own = ret->renew = true;
		break;
	case HA_PARTNER_DOWN:
		ret->alloc_own = ret->renew = true;
		ret->alloc_partner = takeover;
		break;
	case HA_FENCED:
		break;
	}
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

int64_t ha_lease_expiry_max(enum ha_state st, bool takeover, int64_t mclt_s, int64_t now, int64_t want,
			    int64_t cur_expiry, int64_t acked_expiry)
{
	int64_t limit;
	switch (st) {
	case HA_NORMAL:
		limit = want;
		break;
	case HA_PARTNER_DOWN:
		limit = takeover ? want : min64(want, (acked_expiry > 0 ? acked_expiry : now) + mclt_s);
		break;
	case HA_COMM_INTERRUPTED:
		limit = min64(want, (acked_expiry > 0 ? acked_expiry : now) + mclt_s);
		break;
	case HA_RECOVER:
		/* Only what the partner knows is extended: a partner in
		 * PARTNER-DOWN takes our share over MCLT after it entered it,
		 * and must not meet a lease it never heard of that we
		 * stretched past that. */
		limit = acked_expiry > 0 ? min64(want, acked_expiry + mclt_s) : cur_expiry;
		break;
	default: /* FENCED */
		limit = cur_expiry;
		break;
	}
	return limit > cur_expiry ? limit : cur_expiry;
}

int64_t ha_reuse_after(enum ha_state st, int64_t timeout_s, int64_t mclt_s, int64_t skew_s, int64_t ended)
{
	return ended + (st == HA_NORMAL ? timeout_s : mclt_s) + skew_s;
}

const char *ha_state_name(enum ha_state st)
{
	switch (st) {
	case HA_RECOVER:
		return "recover";
	case HA_NORMAL:
		return "normal";
	case HA_COMM_INTERRUPTED:
		return "communications-interrupted";
	case HA_PARTNER_DOWN:
		return "partner-down";
	case HA_FENCED:
		return "fenced";
	}
	return "?";
}

const char *ha_event_name(enum ha_event ev)
{
	static const char *const names[] = {
	    [HA_EV_NONE] = "none",
	    [HA_EV_PARTNER_HELLO] = "partner-hello",
	    [HA_EV_PARTNER_HEARTBEAT] = "partner-heartbeat",
	    [HA_EV_PARTNER_TIMEOUT] = "partner-timeout",
	    [HA_EV_SYNC_DONE] = "sync-done",
	    [HA_EV_WITNESS_GRANT] = "witness-grant",
	    [HA_EV_OPERATOR_DOWN] = "operator-partner-down",
	    [HA_EV_REGION_UP] = "region-up",
	    [HA_EV_REGION_DOWN] = "region-down",
	    [HA_EV_FENCE_TIMEOUT] = "fence-timeout",
	    [HA_EV_MCLT_ELAPSED] = "mclt-elapsed",
	    [HA_EV_DECLARED_DOWN] = "declared-down",
	};
	return (unsigned)ev <= HA_EVENT_MAX ? names[ev] : "?";
}
