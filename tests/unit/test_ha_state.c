/* DHCP HA state machine (rack/dhcp/ha_state): every transition of the
 * table of docs/dhcp-ha.md ("States"), the timers that raise the timeout
 * events, what each state permits, and the MCLT arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rack/dhcp/ha_state.h"

#define SEC 1000000LL

enum { R = HA_RECOVER, N = HA_NORMAL, C = HA_COMM_INTERRUPTED, P = HA_PARTNER_DOWN, F = HA_FENCED };
enum { PU = HA_C_PARTNER_UP, PL = HA_C_PARTNER_LOST, RU = HA_C_REGION_UP };
#define BACK (HA_ACT_SEND_SYNC | HA_ACT_SEND_QUEUED | HA_ACT_SEND_STATE)

/* The expected transitions, written from the design: a case applies to
 * every condition set that has all of `need` and none of `forbid`. Every
 * (state, event, conditions) that no case covers must be ignored. */
struct expect {
	int from, ev;
	unsigned need, forbid;
	int to;
	unsigned actions;
};

static const struct expect cases[] = {
    /* RECOVER */
    {R, HA_EV_PARTNER_HELLO, 0, 0, R, BACK},
    {R, HA_EV_PARTNER_HEARTBEAT, PL, 0, R, BACK},
    {R, HA_EV_SYNC_DONE, PU, 0, N, HA_ACT_WAIT_ACKS | HA_ACT_SEND_STATE | HA_ACT_REPORT | HA_ACT_REBALANCE},
    {R, HA_EV_PARTNER_TIMEOUT, RU, 0, C, HA_ACT_REPORT | HA_ACT_ASK_WITNESS},
    {R, HA_EV_REGION_UP, PL, 0, C, HA_ACT_REPORT | HA_ACT_ASK_WITNESS},
    {R, HA_EV_WITNESS_GRANT, PU, 0, R, HA_ACT_REFUSE},
    {R, HA_EV_WITNESS_GRANT, 0, PU, P, HA_ACT_REPORT},
    {R, HA_EV_OPERATOR_DOWN, PU, 0, R, HA_ACT_REFUSE},
    {R, HA_EV_OPERATOR_DOWN, 0, PU, P, HA_ACT_REPORT},
    {R, HA_EV_FENCE_TIMEOUT, PL, PU | RU, F, HA_ACT_REPORT},
    /* NORMAL */
    {N, HA_EV_PARTNER_HELLO, 0, 0, R, BACK | HA_ACT_QUEUE_UPDATES | HA_ACT_REPORT},
    {N, HA_EV_PARTNER_TIMEOUT, 0, 0, C, HA_ACT_QUEUE_UPDATES | HA_ACT_REPORT | HA_ACT_ASK_WITNESS},
    {N, HA_EV_WITNESS_GRANT, 0, 0, N, HA_ACT_REFUSE},
    {N, HA_EV_OPERATOR_DOWN, 0, 0, N, HA_ACT_REFUSE},
    /* COMMUNICATIONS-INTERRUPTED */
    {C, HA_EV_PARTNER_HELLO, 0, 0, R, BACK | HA_ACT_REPORT},
    {C, HA_EV_PARTNER_HEARTBEAT, 0, 0, R, BACK | HA_ACT_REPORT},
    {C, HA_EV_WITNESS_GRANT, 0, 0, P, HA_ACT_REPORT},
    {C, HA_EV_OPERATOR_DOWN, 0, 0, P, HA_ACT_REPORT},
    {C, HA_EV_REGION_UP, 0, 0, C, HA_ACT_ASK_WITNESS},
    {C, HA_EV_FENCE_TIMEOUT, 0, RU, F, HA_ACT_REPORT},
    {C, HA_EV_DECLARED_DOWN, 0, 0, R, HA_ACT_REPORT},
    /* PARTNER-DOWN */
    {P, HA_EV_PARTNER_HELLO, 0, 0, R, BACK | HA_ACT_REPORT | HA_ACT_STOP_TAKEOVER},
    {P, HA_EV_PARTNER_HEARTBEAT, 0, 0, R, BACK | HA_ACT_REPORT | HA_ACT_STOP_TAKEOVER},
    {P, HA_EV_MCLT_ELAPSED, 0, 0, P, HA_ACT_TAKEOVER | HA_ACT_REPORT},
    {P, HA_EV_DECLARED_DOWN, 0, 0, R, HA_ACT_REPORT | HA_ACT_STOP_TAKEOVER},
    /* FENCED */
    {F, HA_EV_PARTNER_HELLO, 0, 0, R, BACK | HA_ACT_REPORT},
    {F, HA_EV_PARTNER_HEARTBEAT, 0, 0, R, BACK | HA_ACT_REPORT},
    {F, HA_EV_REGION_UP, 0, 0, C, HA_ACT_REPORT | HA_ACT_ASK_WITNESS},
    {F, HA_EV_WITNESS_GRANT, 0, 0, P, HA_ACT_REPORT},
    {F, HA_EV_OPERATOR_DOWN, 0, 0, P, HA_ACT_REPORT},
    {F, HA_EV_DECLARED_DOWN, 0, 0, R, HA_ACT_REPORT},
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static void test_table_every_transition(void **state)
{
	unsigned used[N_CASES] = {0};
	unsigned changes = 0, ignored = 0;
	for (int st = 1; st <= HA_STATE_MAX; st++) {
		for (int ev = 1; ev <= HA_EVENT_MAX; ev++) {
			for (unsigned c = 0; c < 8; c++) {
				const struct expect *e = NULL;
				for (size_t i = 0; i < N_CASES && !e; i++) {
					if (cases[i].from == st && cases[i].ev == ev &&
					    (c & cases[i].need) == cases[i].need && !(c & cases[i].forbid)) {
						e = &cases[i];
						used[i]++;
					}
				}
				struct ha_transition tr = {.to = 99, .actions = 99};
				bool matched = ha_transition((enum ha_state)st, (enum ha_event)ev, c, &tr);
				char what[96];
				snprintf(what, sizeof(what), "%s + %s (conds %u)", ha_state_name((enum ha_state)st),
					 ha_event_name((enum ha_event)ev), c);
				if (e) {
					if ((int)tr.to != e->to || tr.actions != e->actions || !matched)
						fail_msg("%s: got %s/%#x, want %s/%#x", what, ha_state_name(tr.to),
							 tr.actions, ha_state_name((enum ha_state)e->to), e->actions);
					changes += (int)tr.to != st;
				} else {
					if ((int)tr.to != st || tr.actions != 0 || matched)
						fail_msg("%s: want ignored, got %s/%#x", what, ha_state_name(tr.to),
							 tr.actions);
					ignored++;
				}
			}
		}
	}
	for (size_t i = 0; i < N_CASES; i++)
		if (!used[i])
			fail_msg("case %zu never applies", i);
	/* Every state is left and entered by some event. */
	assert_true(changes > 0 && ignored > 0);
	for (int st = 1; st <= HA_STATE_MAX; st++) {
		bool in = false, out = false;
		for (size_t i = 0; i < N_CASES; i++) {
			in |= cases[i].to == st && cases[i].from != st;
			out |= cases[i].from == st && cases[i].to != st;
		}
		assert_true(in || st == R);
		assert_true(out);
	}
}

static void test_table_doc_diagram(void **state)
{
	/* The arrows of docs/dhcp-ha.md's diagram, one by one. */
	struct ha_transition tr;
	ha_transition(HA_RECOVER, HA_EV_SYNC_DONE, PU, &tr);
	assert_int_equal(tr.to, HA_NORMAL);
	ha_transition(HA_NORMAL, HA_EV_PARTNER_TIMEOUT, PL, &tr);
	assert_int_equal(tr.to, HA_COMM_INTERRUPTED);
	ha_transition(HA_COMM_INTERRUPTED, HA_EV_PARTNER_HELLO, PL, &tr);
	assert_int_equal(tr.to, HA_RECOVER);
	ha_transition(HA_COMM_INTERRUPTED, HA_EV_WITNESS_GRANT, PL | RU, &tr);
	assert_int_equal(tr.to, HA_PARTNER_DOWN);
	ha_transition(HA_COMM_INTERRUPTED, HA_EV_OPERATOR_DOWN, PL, &tr);
	assert_int_equal(tr.to, HA_PARTNER_DOWN);
	ha_transition(HA_COMM_INTERRUPTED, HA_EV_FENCE_TIMEOUT, PL, &tr);
	assert_int_equal(tr.to, HA_FENCED);
	/* Not while the region answers: it would have to grant the partner
	 * PD through us, and it hears us. */
	ha_transition(HA_COMM_INTERRUPTED, HA_EV_FENCE_TIMEOUT, PL | RU, &tr);
	assert_int_equal(tr.to, HA_COMM_INTERRUPTED);
	/* No partner-down while the partner talks to us. */
	assert_true(ha_transition(HA_NORMAL, HA_EV_OPERATOR_DOWN, PU, &tr));
	assert_int_equal(tr.to, HA_NORMAL);
	assert_int_equal(tr.actions, HA_ACT_REFUSE);
	/* Out-of-range input is ignored, not trusted. */
	assert_false(ha_transition((enum ha_state)0, HA_EV_PARTNER_HELLO, 0, &tr));
	assert_int_equal(tr.actions, 0);
	assert_false(ha_transition(HA_NORMAL, (enum ha_event)77, 0, &tr));
	assert_int_equal(tr.to, HA_NORMAL);
}

static struct ha_timing timing(void)
{
	struct ha_timing t;
	ha_timing_default(&t, 3600 * SEC);
	return t;
}

static void test_timing(void **state)
{
	struct ha_timing t = timing();
	assert_int_equal(t.heartbeat_us, 1 * SEC);
	assert_int_equal(t.timeout_us, 10 * SEC);
	assert_int_equal(t.mclt_us, 3600 * SEC);
	assert_int_equal(t.fence_us, 1800 * SEC);
	assert_int_equal(ha_timing_check(&t, 3600 * SEC), 0);
	/* MCLT + 1 % + a heartbeat. */
	assert_int_equal(ha_takeover_wait_us(&t), 3600 * SEC + 36 * SEC + 1 * SEC);

	struct ha_timing b = t;
	b.fence_us = 3600 * SEC; /* not below auto_down */
	assert_int_equal(ha_timing_check(&b, 3600 * SEC), -EINVAL);
	b.fence_us = 3570 * SEC; /* below, but not with 1 % drift (35.7 s) and a heartbeat */
	assert_int_equal(ha_timing_check(&b, 3600 * SEC), -EINVAL);
	b.fence_us = 3500 * SEC;
	assert_int_equal(ha_timing_check(&b, 3600 * SEC), 0);
	b = t;
	b.timeout_us = 1 * SEC; /* less than two heartbeats */
	assert_int_equal(ha_timing_check(&b, 3600 * SEC), -EINVAL);
	b = t;
	b.fence_us = 5 * SEC; /* fencing before the partner is even lost */
	assert_int_equal(ha_timing_check(&b, 3600 * SEC), -EINVAL);
	b = t;
	b.fence_us = 0; /* automatic partner-down needs fencing */
	assert_int_equal(ha_timing_check(&b, 3600 * SEC), -EINVAL);
	assert_int_equal(ha_timing_check(&b, 0), 0);
	b = t;
	b.mclt_us = 0;
	assert_int_equal(ha_timing_check(&b, 0), -EINVAL);
	b = t;
	b.heartbeat_us = 0;
	assert_int_equal(ha_timing_check(&b, 0), -EINVAL);
	assert_int_equal(ha_timing_check(&t, -1), -EINVAL);

	struct ha_timing never;
	ha_timing_default(&never, 0);
	assert_int_equal(never.fence_us, 0);
	assert_int_equal(ha_timing_check(&never, 0), 0);
}

/* Step through due timer events like the shell's loop does. */
static int run_due(struct ha_sm *sm, const struct ha_timing *t, int64_t now)
{
	int n = 0;
	enum ha_event ev;
	while ((ev = ha_sm_due(sm, t, now)) != HA_EV_NONE) {
		ha_sm_handle(sm, ev, now, NULL);
		assert_true(++n < 10);
	}
	return n;
}

static void test_sm_pair_lifecycle(void **state)
{
	struct ha_timing t = timing();
	struct ha_sm sm;
	struct ha_step st;
	int64_t now = 1000 * SEC;

	ha_sm_init(&sm, now);
	assert_int_equal(sm.state, HA_RECOVER);
	assert_int_equal(ha_sm_deadline(&sm, &t), now + t.timeout_us);

	/* The partner says hello: sync, merge, NORMAL. */
	assert_false(ha_sm_handle(&sm, HA_EV_PARTNER_HELLO, now + 1 * SEC, &st));
	assert_int_equal(st.actions, BACK);
	assert_true(sm.partner_up);
	assert_true(ha_sm_handle(&sm, HA_EV_SYNC_DONE, now + 2 * SEC, &st));
	assert_int_equal(st.from, HA_RECOVER);
	assert_int_equal(st.to, HA_NORMAL);
	assert_true(st.actions & HA_ACT_WAIT_ACKS);
	assert_int_equal(sm.since_us, now + 2 * SEC);

	/* Heartbeats keep it NORMAL; the deadline moves with them. */
	for (int i = 3; i < 30; i++) {
		ha_sm_handle(&sm, HA_EV_PARTNER_HEARTBEAT, now + i * SEC, NULL);
		assert_int_equal(run_due(&sm, &t, now + i * SEC + SEC / 2), 0);
	}
	assert_int_equal(sm.state, HA_NORMAL);
	assert_int_equal(ha_sm_deadline(&sm, &t), now + 29 * SEC + t.timeout_us);

	/* Silence: CI exactly at the timeout, not a microsecond before. */
	int64_t lost = now + 29 * SEC + t.timeout_us;
	assert_int_equal(ha_sm_due(&sm, &t, lost - 1), HA_EV_NONE);
	assert_int_equal(ha_sm_due(&sm, &t, lost), HA_EV_PARTNER_TIMEOUT);
	assert_true(ha_sm_handle(&sm, HA_EV_PARTNER_TIMEOUT, lost, &st));
	assert_int_equal(sm.state, HA_COMM_INTERRUPTED);
	assert_true(st.actions & HA_ACT_QUEUE_UPDATES);
	assert_true(st.actions & HA_ACT_ASK_WITNESS);
	assert_true(sm.partner_lost);
	/* The region still answers: no fencing, no timer at all. */
	ha_sm_handle(&sm, HA_EV_REGION_UP, lost, NULL);
	assert_int_equal(ha_sm_deadline(&sm, &t), INT64_MAX);
	assert_int_equal(run_due(&sm, &t, lost + 100000 * SEC), 0);

	/* The region, as witness, grants PD: the takeover waits MCLT+. */
	int64_t pd = lost + 3600 * SEC;
	assert_true(ha_sm_handle(&sm, HA_EV_WITNESS_GRANT, pd, &st));
	assert_int_equal(sm.state, HA_PARTNER_DOWN);
	assert_false(sm.takeover);
	assert_int_equal(ha_sm_deadline(&sm, &t), pd + ha_takeover_wait_us(&t));
	assert_int_equal(ha_sm_due(&sm, &t, pd + t.mclt_us), HA_EV_NONE);
	assert_int_equal(ha_sm_due(&sm, &t, pd + ha_takeover_wait_us(&t)), HA_EV_MCLT_ELAPSED);
	assert_false(ha_sm_handle(&sm, HA_EV_MCLT_ELAPSED, pd + ha_takeover_wait_us(&t), &st));
	assert_true(st.actions & HA_ACT_TAKEOVER);
	assert_true(sm.takeover);
	assert_int_equal(ha_sm_due(&sm, &t, pd + 10 * ha_takeover_wait_us(&t)), HA_EV_NONE);

	/* The partner comes back: RECOVER, the takeover ends. */
	assert_true(ha_sm_handle(&sm, HA_EV_PARTNER_HELLO, pd + 2 * ha_takeover_wait_us(&t), &st));
	assert_int_equal(sm.state, HA_RECOVER);
	assert_true(st.actions & HA_ACT_STOP_TAKEOVER);
	assert_false(sm.takeover);
	assert_true(ha_sm_handle(&sm, HA_EV_SYNC_DONE, pd + 2 * ha_takeover_wait_us(&t) + SEC, NULL));
	assert_int_equal(sm.state, HA_NORMAL);
}

static void test_sm_start_alone(void **state)
{
	struct ha_timing t = timing();
	struct ha_sm sm;
	int64_t now = 5 * SEC;

	/* No partner, no region: RECOVER past the timeout (nothing new),
	 * then FENCED once ha_fence has passed since the start. */
	ha_sm_init(&sm, now);
	assert_int_equal(run_due(&sm, &t, now + t.timeout_us), 1);
	assert_int_equal(sm.state, HA_RECOVER);
	assert_true(sm.partner_lost);
	assert_int_equal(ha_sm_deadline(&sm, &t), now + t.fence_us);
	assert_int_equal(run_due(&sm, &t, now + t.fence_us - 1), 0);
	assert_int_equal(run_due(&sm, &t, now + t.fence_us), 1);
	assert_int_equal(sm.state, HA_FENCED);
	assert_int_equal(ha_sm_deadline(&sm, &t), INT64_MAX);

	/* The region answers without a partner-down against us: CI. */
	assert_true(ha_sm_handle(&sm, HA_EV_REGION_UP, now + t.fence_us + SEC, NULL));
	assert_int_equal(sm.state, HA_COMM_INTERRUPTED);

	/* Start again; this time the region answers first, then the timeout. */
	ha_sm_init(&sm, now);
	ha_sm_handle(&sm, HA_EV_REGION_UP, now + SEC, NULL);
	assert_int_equal(sm.state, HA_RECOVER);
	assert_int_equal(run_due(&sm, &t, now + t.timeout_us), 1);
	assert_int_equal(sm.state, HA_COMM_INTERRUPTED);

	/* Start again; the region says the partner holds partner-down
	 * against us: stay in RECOVER until the partner is met. */
	ha_sm_init(&sm, now);
	ha_sm_handle(&sm, HA_EV_DECLARED_DOWN, now + SEC, NULL);
	assert_int_equal(run_due(&sm, &t, now + t.timeout_us), 1);
	assert_int_equal(sm.state, HA_RECOVER);
	/* ... and reaching the region counts as contact for the fence. */
	assert_int_equal(ha_sm_deadline(&sm, &t), now + SEC + t.fence_us);
	ha_sm_handle(&sm, HA_EV_PARTNER_HELLO, now + 20 * SEC, NULL);
	assert_int_equal(sm.state, HA_RECOVER);
	ha_sm_handle(&sm, HA_EV_SYNC_DONE, now + 21 * SEC, NULL);
	assert_int_equal(sm.state, HA_NORMAL);
}

static void test_sm_fence_from_ci(void **state)
{
	struct ha_timing t = timing();
	struct ha_sm sm;
	int64_t now = 0;

	ha_sm_init(&sm, now);
	ha_sm_handle(&sm, HA_EV_REGION_UP, 0, NULL);
	ha_sm_handle(&sm, HA_EV_PARTNER_HELLO, 0, NULL);
	ha_sm_handle(&sm, HA_EV_SYNC_DONE, 0, NULL);
	ha_sm_handle(&sm, HA_EV_PARTNER_HEARTBEAT, 100 * SEC, NULL);
	/* Region lost first, partner later: the fence counts from the later. */
	ha_sm_handle(&sm, HA_EV_REGION_DOWN, 50 * SEC, NULL);
	assert_int_equal(run_due(&sm, &t, 110 * SEC), 1);
	assert_int_equal(sm.state, HA_COMM_INTERRUPTED);
	assert_int_equal(ha_sm_deadline(&sm, &t), 100 * SEC + t.fence_us);
	assert_int_equal(run_due(&sm, &t, 100 * SEC + t.fence_us), 1);
	assert_int_equal(sm.state, HA_FENCED);
	/* The partner answers: RECOVER. */
	ha_sm_handle(&sm, HA_EV_PARTNER_HEARTBEAT, 100 * SEC + t.fence_us + SEC, NULL);
	assert_int_equal(sm.state, HA_RECOVER);

	/* Automatic partner-down off: never fenced. */
	struct ha_timing never;
	ha_timing_default(&never, 0);
	ha_sm_init(&sm, 0);
	assert_int_equal(run_due(&sm, &never, 1000000 * SEC), 1);
	assert_int_equal(sm.state, HA_RECOVER);
	assert_int_equal(ha_sm_deadline(&sm, &never), INT64_MAX);
}

/* The region heard for a long while, then lost after the partner: the
 * fence counts from the region's loss, not from when the session began
 * (the witness counts from the last time it heard the rack). */
static void test_sm_fence_from_region_loss(void **state)
{
	struct ha_timing t = timing();
	struct ha_sm sm;

	ha_sm_init(&sm, 0);
	ha_sm_handle(&sm, HA_EV_REGION_UP, 0, NULL);
	ha_sm_handle(&sm, HA_EV_PARTNER_HELLO, 0, NULL);
	ha_sm_handle(&sm, HA_EV_SYNC_DONE, 0, NULL);
	ha_sm_handle(&sm, HA_EV_PARTNER_HEARTBEAT, 100 * SEC, NULL);
	assert_int_equal(run_due(&sm, &t, 100 * SEC + t.timeout_us), 1);
	assert_int_equal(sm.state, HA_COMM_INTERRUPTED);
	/* The region answers throughout CI: no fence however long. */
	assert_int_equal(run_due(&sm, &t, 100 * SEC + 10 * t.fence_us), 0);
	assert_int_equal(sm.state, HA_COMM_INTERRUPTED);
	int64_t lost = 100 * SEC + 10 * t.fence_us;
	ha_sm_handle(&sm, HA_EV_REGION_DOWN, lost, NULL);
	assert_int_equal(ha_sm_deadline(&sm, &t), lost + t.fence_us);
	assert_int_equal(run_due(&sm, &t, lost + t.fence_us - 1), 0);
	assert_int_equal(sm.state, HA_COMM_INTERRUPTED);
	assert_int_equal(run_due(&sm, &t, lost + t.fence_us), 1);
	assert_int_equal(sm.state, HA_FENCED);
	/* The region back: CI again, where the witness may be asked. */
	struct ha_step st;
	ha_sm_handle(&sm, HA_EV_REGION_UP, lost + t.fence_us + SEC, &st);
	assert_int_equal(sm.state, HA_COMM_INTERRUPTED);
	assert_true(st.actions & HA_ACT_ASK_WITNESS);
}

static void test_sm_operator_down_refused_while_heard(void **state)
{
	struct ha_timing t = timing();
	struct ha_sm sm;
	struct ha_step st;

	ha_sm_init(&sm, 0);
	ha_sm_handle(&sm, HA_EV_PARTNER_HELLO, SEC, NULL);
	assert_false(ha_sm_handle(&sm, HA_EV_OPERATOR_DOWN, 2 * SEC, &st));
	assert_int_equal(st.actions, HA_ACT_REFUSE);
	assert_int_equal(sm.state, HA_RECOVER);
	/* Once it is gone the operator's word counts, timeout or not. */
	assert_int_equal(run_due(&sm, &t, 11 * SEC), 1);
	assert_true(ha_sm_handle(&sm, HA_EV_OPERATOR_DOWN, 12 * SEC, &st));
	assert_int_equal(sm.state, HA_PARTNER_DOWN);
	/* Declared down in turn (both were, by mistake): RECOVER, the safe side. */
	assert_true(ha_sm_handle(&sm, HA_EV_DECLARED_DOWN, 13 * SEC, &st));
	assert_int_equal(sm.state, HA_RECOVER);
}

static void test_permits(void **state)
{
	struct ha_permits p;
	ha_permits(HA_RECOVER, false, &p);
	assert_false(p.alloc_own || p.alloc_partner || p.wait_ack);
	assert_true(p.renew);
	ha_permits(HA_NORMAL, false, &p);
	assert_true(p.alloc_own && p.renew && p.wait_ack);
	assert_false(p.alloc_partner);
	ha_permits(HA_COMM_INTERRUPTED, false, &p);
	assert_true(p.alloc_own && p.renew);
	assert_false(p.alloc_partner || p.wait_ack);
	ha_permits(HA_PARTNER_DOWN, false, &p);
	assert_true(p.alloc_own && p.renew);
	assert_false(p.alloc_partner);
	ha_permits(HA_PARTNER_DOWN, true, &p);
	assert_true(p.alloc_own && p.alloc_partner && p.renew);
	ha_permits(HA_FENCED, false, &p);
	assert_false(p.alloc_own || p.alloc_partner || p.renew || p.wait_ack);
}

static void test_lease_caps(void **state)
{
	const int64_t now = 1700000000, mclt = 3600, lt = 86400, want = now + lt;

	/* NORMAL: the ack comes before the ACK, so the full time. */
	assert_int_equal(ha_lease_expiry_max(HA_NORMAL, false, mclt, now, want, 0, 0), want);
	assert_int_equal(ha_lease_expiry_max(HA_NORMAL, false, mclt, now, want, now + 10, now + 10), want);

	/* CI: acked expiry + MCLT; never acked: now + MCLT. */
	assert_int_equal(ha_lease_expiry_max(HA_COMM_INTERRUPTED, false, mclt, now, want, 0, 0), now + mclt);
	assert_int_equal(ha_lease_expiry_max(HA_COMM_INTERRUPTED, false, mclt, now, want, now + 100, now + 100),
			 now + 100 + mclt);
	/* ... not beyond what the config gives. */
	assert_int_equal(ha_lease_expiry_max(HA_COMM_INTERRUPTED, false, mclt, now, now + 600, now + 100, now + 100),
			 now + 600);
	/* ... and not from now: an acked expiry long past gives nothing new,
	 * only what the client holds. */
	assert_int_equal(ha_lease_expiry_max(HA_COMM_INTERRUPTED, false, mclt, now, want, now - 10, now - 2 * mclt),
			 now - 10);
	assert_true(ha_lease_expiry_max(HA_COMM_INTERRUPTED, false, mclt, now, want, now - 10, now - 2 * mclt) <= now);
	/* Renewing again later adds nothing past acked + MCLT. */
	assert_int_equal(
	    ha_lease_expiry_max(HA_COMM_INTERRUPTED, false, mclt, now + 3000, want + 3000, now + mclt, now),
	    now + mclt);

	/* PD before the takeover: as CI. After: the full time. */
	assert_int_equal(ha_lease_expiry_max(HA_PARTNER_DOWN, false, mclt, now, want, 0, 0), now + mclt);
	assert_int_equal(ha_lease_expiry_max(HA_PARTNER_DOWN, false, mclt, now, want, 0, now + 50), now + 50 + mclt);
	assert_int_equal(ha_lease_expiry_max(HA_PARTNER_DOWN, true, mclt, now, want, 0, 0), want);

	/* RECOVER: only leases the partner knows, capped; others keep
	 * what they have. */
	assert_int_equal(ha_lease_expiry_max(HA_RECOVER, false, mclt, now, want, now + 100, now + 100),
			 now + 100 + mclt);
	assert_int_equal(ha_lease_expiry_max(HA_RECOVER, false, mclt, now, want, now + 100, 0), now + 100);
	assert_int_equal(ha_lease_expiry_max(HA_RECOVER, false, mclt, now, want, 0, 0), 0);

	/* FENCED: what the lease already has, nothing more. */
	assert_int_equal(ha_lease_expiry_max(HA_FENCED, false, mclt, now, want, now + 100, now + 100), now + 100);
	assert_int_equal(ha_lease_expiry_max(HA_FENCED, false, mclt, now, want, 0, 0), 0);

	/* Never below what the client holds (e.g. granted in NORMAL). */
	assert_int_equal(ha_lease_expiry_max(HA_COMM_INTERRUPTED, false, mclt, now, now + 60, now + 5000, now + 100),
			 now + 5000);
}

static void test_reuse_after(void **state)
{
	const int64_t t = 1700000000;
	/* NORMAL: one partner timeout past the end (ordered stream). */
	assert_int_equal(ha_reuse_after(HA_NORMAL, 10, 3600, 0, t), t + 10);
	/* Elsewhere the partner may have extended it up to MCLT past. */
	assert_int_equal(ha_reuse_after(HA_COMM_INTERRUPTED, 10, 3600, 0, t), t + 3600);
	assert_int_equal(ha_reuse_after(HA_PARTNER_DOWN, 10, 3600, 5, t), t + 3605);
	assert_int_equal(ha_reuse_after(HA_RECOVER, 10, 3600, 5, t), t + 3605);
	assert_int_equal(ha_reuse_after(HA_FENCED, 10, 3600, 0, t), t + 3600);

	/* What the partner may promise in CI never outlasts the reuse time
	 * here, for any acked expiry: the two rules fit. */
	for (int64_t acked = t - 5000; acked < t + 5000; acked += 250) {
		for (int64_t now = t - 5000; now < t + 9000; now += 333) {
			int64_t promised =
			    ha_lease_expiry_max(HA_COMM_INTERRUPTED, false, 3600, now, now + 86400, 0, acked);
			assert_true(promised <= ha_reuse_after(HA_COMM_INTERRUPTED, 10, 3600, 0, acked));
			promised = ha_lease_expiry_max(HA_RECOVER, false, 3600, now, now + 86400, 0, acked);
			assert_true(promised <= ha_reuse_after(HA_PARTNER_DOWN, 10, 3600, 0, acked));
		}
	}
}

static void test_names(void **state)
{
	assert_string_equal(ha_state_name(HA_COMM_INTERRUPTED), "communications-interrupted");
	assert_string_equal(ha_state_name(HA_PARTNER_DOWN), "partner-down");
	assert_string_equal(ha_state_name((enum ha_state)0), "?");
	assert_string_equal(ha_event_name(HA_EV_MCLT_ELAPSED), "mclt-elapsed");
	assert_string_equal(ha_event_name((enum ha_event)99), "?");
	for (int ev = 0; ev <= HA_EVENT_MAX; ev++)
		assert_non_null(ha_event_name((enum ha_event)ev));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_every_transition),
	    cmocka_unit_test(test_table_doc_diagram),
	    cmocka_unit_test(test_timing),
	    cmocka_unit_test(test_sm_pair_lifecycle),
	    cmocka_unit_test(test_sm_start_alone),
	    cmocka_unit_test(test_sm_fence_from_ci),
	    cmocka_unit_test(test_sm_fence_from_region_loss),
	    cmocka_unit_test(test_sm_operator_down_refused_while_heard),
	    cmocka_unit_test(test_permits),
	    cmocka_unit_test(test_lease_caps),
	    cmocka_unit_test(test_reuse_after),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
