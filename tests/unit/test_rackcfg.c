/* region/rackcfg.c and region/rpc/handlers.c: the RackConfig composed from
 * its parts, and the session handler table every feature registers in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>

#include "region/db/db.h"
#include "region/rackcfg.h"
#include "region/region.h"
#include "region/rpc/session.h"

static void test_compose_parts(void **state)
{
	static struct region r;
	struct rack_config_row row = {
	    .version = 7,
	    .settings_json = "{\"ntp\":\"10.0.0.1\",\"debug\":\"1\"}",
	    .boot_configs_json = "[{\"mac\":\"aa:bb:cc:dd:ee:ff\",\"purpose\":\"deploy\",\"kernel\":\"k\"}]",
	};
	Ironrack__V1__RackConfig cfg;
	assert_int_equal(rackcfg_compose(&r, "rack-1", &row, &cfg), 0);
	assert_int_equal(cfg.version, 7);
	assert_true(cfg.generated_unix_ms > 0);
	assert_int_equal(cfg.n_settings, 2);
	bool ntp = false;
	for (size_t i = 0; i < cfg.n_settings; i++)
		ntp |= strcmp(cfg.settings[i]->key, "ntp") == 0 && strcmp(cfg.settings[i]->value, "10.0.0.1") == 0;
	assert_true(ntp);
	assert_int_equal(cfg.n_boot_configs, 1);
	assert_string_equal(cfg.boot_configs[0]->mac, "aa:bb:cc:dd:ee:ff");
	assert_string_equal(cfg.boot_configs[0]->purpose, "deploy");
	assert_string_equal(cfg.boot_configs[0]->initrd, ""); /* missing field */
	assert_int_equal(cfg.n_boot_resources, 0);	      /* region/boot not started */
	assert_null(cfg.dhcp);
	rackcfg_done(&cfg);
	assert_int_equal(cfg.n_settings, 0);
	assert_null(cfg.boot_configs);
}

static void test_compose_refuses_bad_settings(void **state)
{
	static struct region r;
	struct rack_config_row row = {.version = 3, .settings_json = "[1,2]"};
	Ironrack__V1__RackConfig cfg;
	assert_true(rackcfg_compose(&r, "rack-1", &row, &cfg) < 0);
	rackcfg_done(&cfg);
}

static void test_compose_bad_dhcp_left_out(void **state)
{
	static struct region r;
	uint8_t junk[] = {0xff, 0xff, 0xff};
	struct rack_config_row row = {.version = 4, .settings_json = "{}", .dhcp = junk, .dhcp_len = sizeof(junk)};
	Ironrack__V1__RackConfig cfg;
	assert_int_equal(rackcfg_compose(&r, "rack-1", &row, &cfg), 0);
	assert_null(cfg.dhcp);
	rackcfg_done(&cfg);
}

static bool handled(Ironrack__V1__RackMessage__BodyCase body, size_t *count)
{
	*count = 0;
	for (size_t i = 0; i < region_session_features_n; i++) {
		const struct region_session_feature *f = region_session_features[i];
		for (size_t k = 0; k < f->n_handlers; k++)
			*count += f->handlers[k].body == body;
	}
	return *count > 0;
}

/* One row per body case: a second would never be reached. */
static void test_handler_table(void **state)
{
	size_t n;
	assert_true(handled(IRONRACK__V1__RACK_MESSAGE__BODY_HELLO, &n) && n == 1);
	assert_true(handled(IRONRACK__V1__RACK_MESSAGE__BODY_CONFIG_ACK, &n) && n == 1);
	assert_true(handled(IRONRACK__V1__RACK_MESSAGE__BODY_LEASE_REPORT, &n) && n == 1);
	assert_true(handled(IRONRACK__V1__RACK_MESSAGE__BODY_EXTERNAL_DHCP, &n) && n == 1);
	/* The transport's own: liveness and replies. */
	assert_false(handled(IRONRACK__V1__RACK_MESSAGE__BODY_HEARTBEAT, &n));
	assert_false(handled(IRONRACK__V1__RACK_MESSAGE__BODY_RESULT, &n));
	for (size_t i = 0; i < region_session_features_n; i++) {
		assert_non_null(region_session_features[i]->name);
		for (size_t k = 0; k < region_session_features[i]->n_handlers; k++)
			assert_non_null(region_session_features[i]->handlers[k].fn);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_compose_parts),
	    cmocka_unit_test(test_compose_refuses_bad_settings),
	    cmocka_unit_test(test_compose_bad_dhcp_left_out),
	    cmocka_unit_test(test_handler_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
