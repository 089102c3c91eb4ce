#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "region/machine/lifecycle.h"

/* The documented transitions (lifecycle.h, docs/machines.md "States"),
 * written out again by hand: every (state, action) pair not listed here
 * must be refused. Abort from COMMISSIONING is checked separately (its
 * next state is the previous one); here previous is READY. */
struct triple {
	enum machine_state state;
	enum machine_action action;
	enum machine_state next;
};

static const struct triple allowed[] = {
    {MS_NEW, MA_ENLIST, MS_NEW},
    {MS_NEW, MA_COMMISSION, MS_COMMISSIONING},
    {MS_NEW, MA_MARK_BROKEN, MS_BROKEN},
    {MS_NEW, MA_DELETE, MS_NEW},

    {MS_COMMISSIONING, MA_COMMISSION_DONE, MS_READY},
    {MS_COMMISSIONING, MA_COMMISSION_FAIL, MS_FAILED_COMMISSIONING},
    {MS_COMMISSIONING, MA_TIMEOUT, MS_FAILED_COMMISSIONING},
    {MS_COMMISSIONING, MA_ABORT, MS_READY},
    {MS_COMMISSIONING, MA_MARK_BROKEN, MS_BROKEN},

    {MS_READY, MA_COMMISSION, MS_COMMISSIONING},
    {MS_READY, MA_ALLOCATE, MS_ALLOCATED},
    {MS_READY, MA_MARK_BROKEN, MS_BROKEN},
    {MS_READY, MA_DELETE, MS_READY},

    {MS_ALLOCATED, MA_DEPLOY, MS_DEPLOYING},
    {MS_ALLOCATED, MA_RELEASE, MS_RELEASING},
    {MS_ALLOCATED, MA_MARK_BROKEN, MS_BROKEN},

    {MS_DEPLOYING, MA_DEPLOY_DONE, MS_DEPLOYED},
    {MS_DEPLOYING, MA_DEPLOY_FAIL, MS_FAILED_DEPLOYMENT},
    {MS_DEPLOYING, MA_TIMEOUT, MS_FAILED_DEPLOYMENT},
    {MS_DEPLOYING, MA_ABORT, MS_ALLOCATED},
    {MS_DEPLOYING, MA_MARK_BROKEN, MS_BROKEN},

    {MS_DEPLOYED, MA_RELEASE, MS_RELEASING},
    {MS_DEPLOYED, MA_MARK_BROKEN, MS_BROKEN},

    {MS_RELEASING, MA_RELEASE_DONE, MS_READY},
    {MS_RELEASING, MA_RELEASE_FAIL, MS_BROKEN},
    {MS_RELEASING, MA_TIMEOUT, MS_BROKEN},
    {MS_RELEASING, MA_MARK_BROKEN, MS_BROKEN},

    {MS_FAILED_COMMISSIONING, MA_COMMISSION, MS_COMMISSIONING},
    {MS_FAILED_COMMISSIONING, MA_MARK_BROKEN, MS_BROKEN},
    {MS_FAILED_COMMISSIONING, MA_DELETE, MS_FAILED_COMMISSIONING},

    {MS_FAILED_DEPLOYMENT, MA_COMMISSION, MS_COMMISSIONING},
    {MS_FAILED_DEPLOYMENT, MA_RELEASE, MS_RELEASING},
    {MS_FAILED_DEPLOYMENT, MA_MARK_BROKEN, MS_BROKEN},
    {MS_FAILED_DEPLOYMENT, MA_DELETE, MS_FAILED_DEPLOYMENT},

    {MS_BROKEN, MA_COMMISSION, MS_COMMISSIONING},
    {MS_BROKEN, MA_MARK_FIXED, MS_READY},
    {MS_BROKEN, MA_DELETE, MS_BROKEN},
};

/* What a refusal in each state must say, word for word. */
static const char *const refusal[MS__COUNT] = {
    [MS_NEW] = "is NEW: commission, mark-broken or delete is possible",
    [MS_COMMISSIONING] = "is COMMISSIONING: abort or mark-broken is possible",
    [MS_READY] = "is READY: commission, allocate, mark-broken or delete is possible",
    [MS_ALLOCATED] = "is ALLOCATED: deploy, release or mark-broken is possible",
    [MS_DEPLOYING] = "is DEPLOYING: abort or mark-broken is possible",
    [MS_DEPLOYED] = "is DEPLOYED: release or mark-broken is possible",
    [MS_RELEASING] = "is RELEASING: mark-broken is possible",
    [MS_FAILED_COMMISSIONING] = "is FAILED_COMMISSIONING: commission, mark-broken or delete is possible",
    [MS_FAILED_DEPLOYMENT] = "is FAILED_DEPLOYMENT: commission, release, mark-broken or delete is possible",
    [MS_BROKEN] = "is BROKEN: commission, mark-fixed or delete is possible",
};

static const struct triple *find_allowed(enum machine_state s, enum machine_action a)
{
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (allowed[i].state == s && allowed[i].action == a)
			return &allowed[i];
	return NULL;
}

static void test_every_pair(void **state)
{
	(void)state;
	size_t n_ok = 0, n_refused = 0;

	for (int s = 0; s < MS__COUNT; s++)
		for (int a = 0; a < MA__COUNT; a++) {
			const struct triple *t = find_allowed(s, a);
			enum machine_state next = MS__COUNT;
			char msg[256] = "junk";
			int r = machine_lifecycle_step(s, a, MS_READY, &next, msg, sizeof(msg));
			if (t) {
				if (r != 0 || next != t->next)
					fail_msg("%s --%s--> r=%d next=%d, expected %s", machine_state_name(s),
						 machine_action_name(a), r, (int)next, machine_state_name(t->next));
				assert_string_equal(msg, "");
				n_ok++;
			} else {
				if (r != -EPERM)
					fail_msg("%s --%s--> r=%d, expected -EPERM", machine_state_name(s),
						 machine_action_name(a), r);
				assert_int_equal(next, MS__COUNT); /* untouched */
				assert_string_equal(msg, refusal[s]);
				n_refused++;
			}
		}
	assert_int_equal(n_ok, sizeof(allowed) / sizeof(allowed[0]));
	assert_int_equal(n_ok + n_refused, (size_t)MS__COUNT * MA__COUNT);
}

static void test_refusal_as_the_region_writes_it(void **state)
{
	(void)state;
	enum machine_state next;
	char msg[256], line[320];

	assert_int_equal(machine_lifecycle_step(MS_READY, MA_DEPLOY, MS_NEW, &next, msg, sizeof(msg)), -EPERM);
	snprintf(line, sizeof(line), "machine %s %s", "node-5254001a2b3c", msg);
	assert_string_equal(
	    line, "machine node-5254001a2b3c is READY: commission, allocate, mark-broken or delete is possible");
}

static void test_refusal_small_buffer(void **state)
{
	(void)state;
	enum machine_state next;
	char msg[16];

	memset(msg, 'x', sizeof(msg));
	assert_int_equal(machine_lifecycle_step(MS_READY, MA_DEPLOY, MS_NEW, &next, msg, 12), -EPERM);
	assert_string_equal(msg, "is READY: c");
	assert_int_equal(msg[12], 'x'); /* nothing written past msg_len */
	/* No buffer at all is allowed too. */
	assert_int_equal(machine_lifecycle_step(MS_READY, MA_DEPLOY, MS_NEW, &next, NULL, 0), -EPERM);
	assert_int_equal(machine_lifecycle_step(MS_READY, MA_ALLOCATE, MS_NEW, &next, NULL, 0), 0);
	assert_int_equal(next, MS_ALLOCATED);
}

static void test_out_of_range(void **state)
{
	(void)state;
	enum machine_state next = MS_BROKEN;
	char msg[128];

	assert_int_equal(machine_lifecycle_step(MS__COUNT, MA_DELETE, MS_NEW, &next, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(machine_lifecycle_step((enum machine_state) - 1, MA_DELETE, MS_NEW, &next, msg, sizeof(msg)),
			 -EINVAL);
	assert_int_equal(machine_lifecycle_step(MS_READY, MA__COUNT, MS_NEW, &next, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(next, MS_BROKEN);
	assert_string_equal(machine_state_name(MS__COUNT), "UNKNOWN");
	assert_string_equal(machine_action_name(MA__COUNT), "unknown");
}

static void test_abort_uses_previous(void **state)
{
	(void)state;
	static const struct {
		int previous;
		enum machine_state next;
	} cases[] = {
	    /* The states commissioning starts from: back there. */
	    {MS_NEW, MS_NEW},
	    {MS_READY, MS_READY},
	    {MS_FAILED_COMMISSIONING, MS_FAILED_COMMISSIONING},
	    {MS_FAILED_DEPLOYMENT, MS_FAILED_DEPLOYMENT},
	    {MS_BROKEN, MS_BROKEN},
	    /* Itself, states it cannot have come from, nonsense: NEW. */
	    {MS_COMMISSIONING, MS_NEW},
	    {MS_ALLOCATED, MS_NEW},
	    {MS_DEPLOYING, MS_NEW},
	    {MS_DEPLOYED, MS_NEW},
	    {MS_RELEASING, MS_NEW},
	    {MS__COUNT, MS_NEW},
	    {-1, MS_NEW},
	    {1000, MS_NEW},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum machine_state next = MS__COUNT;
		char msg[64];
		assert_int_equal(machine_lifecycle_step(MS_COMMISSIONING, MA_ABORT,
							(enum machine_state)cases[i].previous, &next, msg, sizeof(msg)),
				 0);
		if (next != cases[i].next)
			fail_msg("abort with previous %d: %s, expected %s", cases[i].previous, machine_state_name(next),
				 machine_state_name(cases[i].next));
	}
	/* DEPLOYING's abort ignores previous. */
	enum machine_state next;
	assert_int_equal(machine_lifecycle_step(MS_DEPLOYING, MA_ABORT, MS_NEW, &next, NULL, 0), 0);
	assert_int_equal(next, MS_ALLOCATED);
}

static void test_names_round_trip(void **state)
{
	(void)state;
	static const char *const states[MS__COUNT] = {
	    "NEW",
	    "COMMISSIONING",
	    "READY",
	    "ALLOCATED",
	    "DEPLOYING",
	    "DEPLOYED",
	    "RELEASING",
	    "FAILED_COMMISSIONING",
	    "FAILED_DEPLOYMENT",
	    "BROKEN",
	};
	static const char *const actions[MA__COUNT] = {
	    "enlist",	   "commission",  "commission-done", "commission-fail", "abort",	"allocate",
	    "deploy",	   "deploy-done", "deploy-fail",     "release",		"release-done", "release-fail",
	    "mark-broken", "mark-fixed",  "delete",	     "timeout",
	};

	for (int s = 0; s < MS__COUNT; s++) {
		enum machine_state got = MS__COUNT;
		assert_string_equal(machine_state_name(s), states[s]);
		assert_int_equal(machine_state_parse(states[s], &got), 0);
		assert_int_equal(got, s);
	}
	for (int a = 0; a < MA__COUNT; a++) {
		enum machine_action got = MA__COUNT;
		assert_string_equal(machine_action_name(a), actions[a]);
		assert_int_equal(machine_action_parse(actions[a], &got), 0);
		assert_int_equal(got, a);
	}

	enum machine_state s;
	enum machine_action a;
	assert_int_equal(machine_state_parse("ready", &s), -EINVAL);
	assert_int_equal(machine_state_parse("READY ", &s), -EINVAL);
	assert_int_equal(machine_state_parse("", &s), -EINVAL);
	assert_int_equal(machine_state_parse(NULL, &s), -EINVAL);
	assert_int_equal(machine_action_parse("mark_broken", &a), -EINVAL);
	assert_int_equal(machine_action_parse("Commission", &a), -EINVAL);
	assert_int_equal(machine_action_parse("", &a), -EINVAL);
	assert_int_equal(machine_action_parse(NULL, &a), -EINVAL);
}

static void test_deadlines(void **state)
{
	(void)state;
	const struct machine_timeouts t = {.commissioning_s = 1800, .deploying_s = 1200, .releasing_s = 600};
	const int64_t since = 1700000000123;

	for (int s = 0; s < MS__COUNT; s++) {
		bool timed = s == MS_COMMISSIONING || s == MS_DEPLOYING || s == MS_RELEASING;
		assert_int_equal(machine_state_timed(s), timed);
		if (!timed)
			assert_int_equal(machine_state_deadline(s, since, &t), 0);
	}
	assert_int_equal(machine_state_deadline(MS_COMMISSIONING, since, &t), since + 1800 * 1000);
	assert_int_equal(machine_state_deadline(MS_DEPLOYING, since, &t), since + 1200 * 1000);
	assert_int_equal(machine_state_deadline(MS_RELEASING, since, &t), since + 600 * 1000);

	/* Large values do not overflow 32 bits on the way. */
	const struct machine_timeouts big = {.commissioning_s = UINT32_MAX, .deploying_s = 1, .releasing_s = 2};
	assert_int_equal(machine_state_deadline(MS_COMMISSIONING, 0, &big), (int64_t)UINT32_MAX * 1000);
	assert_int_equal(machine_state_deadline(MS_DEPLOYING, 0, &big), 1000);
	assert_int_equal(machine_state_deadline(MS_RELEASING, 0, &big), 2000);
}

static void test_timeout_reasons(void **state)
{
	(void)state;
	const struct machine_timeouts def = {.commissioning_s = 1800, .deploying_s = 1800, .releasing_s = 600};
	const struct machine_timeouts odd = {.commissioning_s = 45, .deploying_s = 3600, .releasing_s = 3725};
	const struct machine_timeouts zero = {0};
	char buf[128];

	machine_timeout_reason(MS_COMMISSIONING, &def, buf, sizeof(buf));
	assert_string_equal(buf, "commissioning did not finish within 30m0s (no report from the machine's agent)");
	machine_timeout_reason(MS_DEPLOYING, &def, buf, sizeof(buf));
	assert_string_equal(buf, "deployment did not finish within 30m0s");
	machine_timeout_reason(MS_RELEASING, &def, buf, sizeof(buf));
	assert_string_equal(buf, "releasing did not finish within 10m0s");

	machine_timeout_reason(MS_COMMISSIONING, &odd, buf, sizeof(buf));
	assert_string_equal(buf, "commissioning did not finish within 45s (no report from the machine's agent)");
	machine_timeout_reason(MS_DEPLOYING, &odd, buf, sizeof(buf));
	assert_string_equal(buf, "deployment did not finish within 1h0m0s");
	machine_timeout_reason(MS_RELEASING, &odd, buf, sizeof(buf));
	assert_string_equal(buf, "releasing did not finish within 1h2m5s");
	machine_timeout_reason(MS_RELEASING, &zero, buf, sizeof(buf));
	assert_string_equal(buf, "releasing did not finish within 0s");

	for (int s = 0; s < MS__COUNT; s++) {
		if (machine_state_timed(s))
			continue;
		strcpy(buf, "junk");
		machine_timeout_reason(s, &def, buf, sizeof(buf));
		assert_string_equal(buf, "");
	}

	char small[10];
	machine_timeout_reason(MS_DEPLOYING, &def, small, sizeof(small));
	assert_string_equal(small, "deploymen");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_pair),
	    cmocka_unit_test(test_refusal_as_the_region_writes_it),
	    cmocka_unit_test(test_refusal_small_buffer),
	    cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_abort_uses_previous),
	    cmocka_unit_test(test_names_round_trip),
	    cmocka_unit_test(test_deadlines),
	    cmocka_unit_test(test_timeout_reasons),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
