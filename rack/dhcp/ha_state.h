/* DHCP HA: the state machine of docs/dhcp-ha.md ("States") and the lease
 * time arithmetic that keeps one address from two clients ("Why no
 * address goes to two clients", "Rules the code keeps").
 *
 * Two layers, both pure:
 *   - ha_transition(): the table. (state, event, conditions) -> (state,
 *     actions). Conditions are the few facts a row depends on (is the
 *     partner in contact, has it been declared lost, does the region answer
 *     and hold no partner-down against us).
 *   - struct ha_sm: the table plus the clocks. The shell feeds it events
 *     with `now` (monotonic microseconds, clock_mono_us()); ha_sm_due()
 *     says which timer event is due (partner timeout, fence timeout, MCLT
 *     elapsed in PARTNER-DOWN) and ha_sm_deadline() when to look again.
 *     Durations are measured on this rack's monotonic clock only, never
 *     compared with another machine's clock.
 *
 * The actions are what the shell must do after a step; the machine does
 * nothing itself. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum ha_state {
	HA_RECOVER = 1,
	HA_NORMAL = 2,
	HA_COMM_INTERRUPTED = 3,
	HA_PARTNER_DOWN = 4,
	HA_FENCED = 5,
};
#define HA_STATE_MAX HA_FENCED

enum ha_event {
	HA_EV_NONE = 0,
	HA_EV_PARTNER_HELLO = 1,     /* a Hello from the partner: a (new) session */
	HA_EV_PARTNER_HEARTBEAT = 2, /* any other message from the partner */
	HA_EV_PARTNER_TIMEOUT = 3,   /* nothing from the partner for ha_timeout (ha_sm_due) */
	HA_EV_SYNC_DONE = 4,	     /* RECOVER's merge is done here and the partner says so too */
	HA_EV_WITNESS_GRANT = 5,     /* the region granted partner-down (auto, as witness) */
	HA_EV_OPERATOR_DOWN = 6,     /* the operator's partner-down, through the region */
	HA_EV_REGION_UP = 7,	     /* the region answered, and holds no partner-down against us */
	HA_EV_REGION_DOWN = 8,	     /* the region session is lost */
	HA_EV_FENCE_TIMEOUT = 9,     /* neither partner nor region for ha_fence (ha_sm_due) */
	HA_EV_MCLT_ELAPSED = 10,     /* MCLT (+ margins) since entering PARTNER-DOWN (ha_sm_due) */
	HA_EV_DECLARED_DOWN = 11,    /* the region says the partner holds partner-down against us */
};
#define HA_EVENT_MAX HA_EV_DECLARED_DOWN

/* Conditions a row may require (bits). */
enum {
	HA_C_PARTNER_UP = 1u << 0,   /* in contact with the partner (no timeout since the last message) */
	HA_C_PARTNER_LOST = 1u << 1, /* the partner timed out and has not been heard since */
	HA_C_REGION_UP = 1u << 2,    /* the region answers and holds no partner-down against us */
};

/* What the shell does after a step (bits). */
enum {
	HA_ACT_SEND_SYNC = 1u << 0,	/* Sync{from_seq}: ask for the partner's journal tail, then merge */
	HA_ACT_SEND_STATE = 1u << 1,	/* State{} to the partner (the new state) */
	HA_ACT_REPORT = 1u << 2,	/* tell the region the new state (degraded / normal event) */
	HA_ACT_QUEUE_UPDATES = 1u << 3, /* stop waiting for UpdatesAck before ACKs; queue updates */
	HA_ACT_SEND_QUEUED = 1u << 4,	/* send the queued updates from the partner's last_seq_seen */
	HA_ACT_WAIT_ACKS = 1u << 5,	/* from now every ACK waits for the partner's UpdatesAck */
	HA_ACT_REBALANCE = 1u << 6,	/* compare shares; PoolRequest when ours is short */
	HA_ACT_ASK_WITNESS = 1u << 7,	/* tell the region the partner is lost (it may grant PD) */
	HA_ACT_TAKEOVER = 1u << 8,	/* start allocating from the partner's share too */
	HA_ACT_STOP_TAKEOVER = 1u << 9, /* stop allocating from the partner's share */
	HA_ACT_REFUSE = 1u << 10,	/* a partner-down refused: the partner is in contact */
};

struct ha_transition {
	enum ha_state to;
	unsigned actions;
};

/* The table. Always fills ret (an event a state ignores keeps the state
 * with no actions). Returns true when a row other than "ignore" matched. */
bool ha_transition(enum ha_state from, enum ha_event ev, unsigned conds, struct ha_transition *ret);

/* Timers, in microseconds of this rack's monotonic clock. */
struct ha_timing {
	int64_t heartbeat_us; /* State heartbeat interval (ha_heartbeat, default 1 s) */
	int64_t timeout_us;   /* partner lost after this silence (ha_timeout, default 10 s) */
	int64_t fence_us;     /* FENCED after this long without partner and region (ha_fence) */
	int64_t mclt_us;      /* maximum client lead time (default 1 h) */
};

/* Defaults of docs/dhcp-ha.md, for auto_down_us = ha_auto_down (0 = never:
 * then fence is ha_timeout * 6, so a lone rack still stops extending). */
void ha_timing_default(struct ha_timing *t, int64_t auto_down_us);
/* 0, or -EINVAL when the timers cannot keep the invariants: heartbeat > 0,
 * timeout >= 2 heartbeats, fence >= timeout, mclt > 0, and with automatic
 * partner-down (auto_down_us > 0) fence plus 1 % drift and a heartbeat
 * below auto_down (docs/dhcp-ha.md "Why...", 3). */
int ha_timing_check(const struct ha_timing *t, int64_t auto_down_us);
/* How long PARTNER-DOWN waits before taking the partner's share: MCLT plus
 * 1 % drift plus one heartbeat. */
int64_t ha_takeover_wait_us(const struct ha_timing *t);

struct ha_sm {
	enum ha_state state;
	int64_t since_us;	 /* entered state */
	int64_t last_partner_us; /* last message from the partner (start time at first) */
	int64_t last_region_us;	 /* last REGION_UP (start time at first) */
	bool partner_up;
	bool partner_lost;
	bool region_up;
	bool takeover; /* PARTNER-DOWN and the MCLT has passed: the partner's share is ours */
};

/* RECOVER, now; nothing heard from anyone yet. */
void ha_sm_init(struct ha_sm *sm, int64_t now_us);

struct ha_step {
	enum ha_state from, to;
	unsigned actions;
};

/* Apply ev at now. Returns true when the state changed. ret may be NULL. */
bool ha_sm_handle(struct ha_sm *sm, enum ha_event ev, int64_t now_us, struct ha_step *ret);

/* The timer event due at now (HA_EV_NONE if none). Feed it back to
 * ha_sm_handle(); call again until it returns HA_EV_NONE. */
enum ha_event ha_sm_due(const struct ha_sm *sm, const struct ha_timing *t, int64_t now_us);
/* When the next timer event falls due (monotonic us); INT64_MAX if none. */
int64_t ha_sm_deadline(const struct ha_sm *sm, const struct ha_timing *t);

/* ---- what a rack may do in a state ---- */

struct ha_permits {
	bool alloc_own;	    /* new addresses from its own share */
	bool alloc_partner; /* new addresses from the partner's share */
	bool renew;	    /* extend leases it holds (see ha_lease_expiry_max for how far) */
	bool wait_ack;	    /* an ACK waits for the partner's UpdatesAck */
};
void ha_permits(enum ha_state st, bool takeover, struct ha_permits *ret);

/* The latest expiry (unix seconds) this rack may promise a client now.
 *   want          now + the lease time the config gives
 *   cur_expiry    the expiry the client already holds here (0 = none)
 *   acked_expiry  the latest expiry the partner acknowledged for this
 *                 lease (0 = the partner has no record of it)
 * NORMAL (the partner acks before the ACK) and PARTNER-DOWN after the
 * takeover: want. RECOVER, COMMUNICATIONS-INTERRUPTED, PARTNER-DOWN before
 * the takeover: at most acked_expiry + MCLT, or now + MCLT for a lease the
 * partner never acked. FENCED: no extension. Never less than cur_expiry
 * (what the client holds already is no new promise). A result <= now means
 * the lease cannot be extended. */
int64_t ha_lease_expiry_max(enum ha_state st, bool takeover, int64_t mclt_s, int64_t now, int64_t want,
			    int64_t cur_expiry, int64_t acked_expiry);

/* The earliest time (unix seconds) this rack may give an address whose
 * last lease ended at `ended` (its latest expiry; a release time for a
 * released lease) to a different client: ended + the partner timeout in
 * NORMAL (an extension the partner sent before `ended` has arrived by
 * then, the stream being ordered), ended + MCLT in every other state (the
 * partner may have extended it that far without us knowing). Plus
 * skew_s, the clock difference the pair tolerates. */
int64_t ha_reuse_after(enum ha_state st, int64_t timeout_s, int64_t mclt_s, int64_t skew_s, int64_t ended);

const char *ha_state_name(enum ha_state st);
const char *ha_event_name(enum ha_event ev);
