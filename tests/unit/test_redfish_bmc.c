/* rack/power/redfish_bmc.c: the Redfish driver's per-BMC memory: base
 * URLs from power_address, which ops share a BMC (and so a session
 * token), and forgetting the least recently used one past the limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rack/power/redfish_bmc.h"

static void test_base(void **state)
{
	static const struct {
		const char *address;
		unsigned port;
		const char *base;
	} cases[] = {
	    {"10.0.0.5", 0, "https://10.0.0.5"},
	    {"10.0.0.5", 8443, "https://10.0.0.5:8443"},
	    {"bmc-17.example", 0, "https://bmc-17.example"},
	    {"fd00::5", 0, "https://[fd00::5]"},
	    {"fd00::5", 443, "https://[fd00::5]:443"},
	    {"[fd00::5]", 0, "https://[fd00::5]"},
	    /* A URL: its scheme and authority; port is not added, a path is dropped. */
	    {"https://10.0.0.5:8443", 0, "https://10.0.0.5:8443"},
	    {"http://127.0.0.1:8000/", 9, "http://127.0.0.1:8000"},
	    {"HTTPS://bmc/redfish/v1/", 0, "HTTPS://bmc"},
	    {"https://bmc?x#y", 0, "https://bmc"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *b = rf_bmc_base(cases[i].address, cases[i].port);
		assert_string_equal(b, cases[i].base);
		free(b);
	}
}

static struct power_params params(const char *address, unsigned port, const char *user, const char *password)
{
	struct power_params p;

	memset(&p, 0, sizeof(p));
	p.address = (char *)address;
	p.port = port;
	p.user = (char *)user;
	p.password = (char *)password;
	p.session = true;
	return p;
}

static void test_sharing(void **state)
{
	struct rf_bmcs t;
	memset(&t, 0, sizeof(t));

	struct power_params p1 = params("10.0.0.5", 0, "admin", "pw");
	struct power_params p2 = params("10.0.0.5", 443, "admin", "pw"); /* another base URL */
	struct power_params p3 = params("10.0.0.5", 0, "admin", "other");
	struct power_params p4 = params("10.0.0.5", 0, "root", "pw");
	struct power_params p5 = params("https://10.0.0.5/redfish/v1", 0, "admin", "pw");

	struct rf_bmc *a = rf_bmc_get(&t, &p1);
	struct rf_bmc *b = rf_bmc_get(&t, &p1);
	assert_ptr_equal(a, b);
	assert_int_equal(a->refs, 2);
	assert_string_equal(a->base, "https://10.0.0.5");
	assert_null(a->token);
	rf_bmc_set(&a->token, "tok-1");

	/* The same BMC as p1 (p5's base is the same URL): it sees the token. */
	struct rf_bmc *e = rf_bmc_get(&t, &p5);
	assert_ptr_equal(e, a);
	assert_string_equal(e->token, "tok-1");

	/* Another password or user never rides on that session. */
	struct rf_bmc *c = rf_bmc_get(&t, &p3);
	struct rf_bmc *d = rf_bmc_get(&t, &p4);
	struct rf_bmc *f = rf_bmc_get(&t, &p2);
	assert_ptr_not_equal(c, a);
	assert_ptr_not_equal(d, a);
	assert_ptr_not_equal(f, a);
	assert_ptr_not_equal(c, d);
	assert_null(c->token);
	assert_null(d->token);
	assert_int_equal(t.n, 4);

	rf_bmc_put(a);
	rf_bmc_put(b);
	rf_bmc_put(e);
	rf_bmc_put(c);
	rf_bmc_put(d);
	rf_bmc_put(f);
	assert_int_equal(a->refs, 0);
	rf_bmcs_clear(&t);
	assert_int_equal(t.n, 0);
}

static void test_limit(void **state)
{
	struct rf_bmcs t;
	char addr[32];
	memset(&t, 0, sizeof(t));

	/* The first BMC stays held; every other one is put back at once. */
	struct power_params p0 = params("10.9.9.9", 0, "admin", "pw");
	struct rf_bmc *held = rf_bmc_get(&t, &p0);
	rf_bmc_set(&held->token, "held");
	for (unsigned i = 0; i < RF_BMC_MAX + 10; i++) {
		snprintf(addr, sizeof(addr), "10.1.%u.%u", i / 256, i % 256);
		struct power_params p = params(addr, 0, "admin", "pw");
		struct rf_bmc *b = rf_bmc_get(&t, &p);
		rf_bmc_put(b);
		if (i == 0) { /* the oldest of all: it goes first */
			rf_bmc_set(&b->token, "first");
			b->used_us = 1;
		}
		assert_true(t.n <= RF_BMC_MAX);
	}
	assert_int_equal(t.n, RF_BMC_MAX);
	/* The held one was not forgotten: the same entry, its token kept. */
	struct rf_bmc *again = rf_bmc_get(&t, &p0);
	assert_ptr_equal(again, held);
	assert_string_equal(again->token, "held");
	/* The oldest idle one went: 10.1.0.0 is new again, without its token. */
	struct power_params first = params("10.1.0.0", 0, "admin", "pw");
	struct rf_bmc *fresh = rf_bmc_get(&t, &first);
	assert_null(fresh->token);
	assert_int_equal(t.n, RF_BMC_MAX); /* one in, one out */
	assert_int_equal(fresh->refs, 1);
	rf_bmc_put(fresh);
	rf_bmc_put(again);
	rf_bmc_put(held);
	rf_bmcs_clear(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base),
	    cmocka_unit_test(test_sharing),
	    cmocka_unit_test(test_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
