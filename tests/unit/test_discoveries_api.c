/* The discovery API's pure parts (region/api/discoveries.c): the claim
 * body's checks, host names as devices take them, and a discovery and an
 * event as JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "region/api/discoveries_api.h"

static void test_hostname(void **state)
{
	(void)state;
	assert_true(api_discovery_hostname_ok("labhost"));
	assert_true(api_discovery_hostname_ok("printer-1"));
	assert_true(api_discovery_hostname_ok("1a"));
	assert_false(api_discovery_hostname_ok(""));
	assert_false(api_discovery_hostname_ok("123"));
	assert_false(api_discovery_hostname_ok("-a"));
	assert_false(api_discovery_hostname_ok("a-"));
	assert_false(api_discovery_hostname_ok("lab.host"));
	assert_false(api_discovery_hostname_ok("lab host"));
	assert_false(api_discovery_hostname_ok("l\xc3\xa4"
					       "b"));
	char long_name[70];
	memset(long_name, 'a', 63);
	long_name[63] = '\0';
	assert_true(api_discovery_hostname_ok(long_name));
	long_name[63] = 'a';
	long_name[64] = '\0';
	assert_false(api_discovery_hostname_ok(long_name));
}

static int claim(const char *text, char *ip, char *host, struct api_fail *fail)
{
	json_error_t e;
	json_t *b = json_loads(text, JSON_DECODE_ANY, &e);
	assert_non_null(b);
	int rc = api_discovery_claim_parse(b, ip, 46, host, 64, fail);
	json_decref(b);
	return rc;
}

static void test_claim_body(void **state)
{
	(void)state;
	char ip[46], host[64];
	struct api_fail fail;

	assert_int_equal(claim("{\"ip\": \"10.44.0.2\", \"hostname\": \"labhost\"}", ip, host, &fail), 0);
	assert_string_equal(ip, "10.44.0.2");
	assert_string_equal(host, "labhost");
	/* IPv6 in its canonical form. */
	assert_int_equal(claim("{\"ip\": \"2001:DB8:0::5\", \"hostname\": \"h6\"}", ip, host, &fail), 0);
	assert_string_equal(ip, "2001:db8::5");

	memset(&fail, 0, sizeof(fail));
	assert_int_equal(claim("[1]", ip, host, &fail), -EINVAL);
	assert_non_null(strstr(fail.message, "object"));
	assert_int_equal(claim("{\"ip\": \"10.44.0.300\", \"hostname\": \"x1\"}", ip, host, &fail), -EINVAL);
	assert_string_equal(fail.field, "ip");
	assert_int_equal(claim("{\"hostname\": \"x1\"}", ip, host, &fail), -EINVAL);
	assert_string_equal(fail.field, "ip");
	assert_int_equal(claim("{\"ip\": \"10.44.0.2\", \"hostname\": \"no.dots\"}", ip, host, &fail), -EINVAL);
	assert_string_equal(fail.field, "hostname");
	assert_int_equal(claim("{\"ip\": \"10.44.0.2\", \"hostname\": 5}", ip, host, &fail), -EINVAL);
	assert_string_equal(fail.field, "hostname");
	assert_int_equal(claim("{\"ip\": \"10.44.0.2\", \"hostname\": \"a\", \"mac\": \"x\"}", ip, host, &fail),
			 -EINVAL);
	assert_string_equal(fail.field, "mac");
}

static void test_json(void **state)
{
	(void)state;
	struct disc_row d = {.ip = "10.44.0.2",
			     .mac = "02:00:00:00:44:0b",
			     .hostname = "labhost.local",
			     .vlan_id = 3,
			     .subnet_id = 0,
			     .rack = "rack-ab",
			     .interface = "eth0",
			     .first_seen_ms = 1000,
			     .last_seen_ms = 2000,
			     .count = 4,
			     .known = true,
			     .known_as = "device 'labhost'"};
	json_t *j = api_discovery_json(&d);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "ip")), "10.44.0.2");
	assert_string_equal(json_string_value(json_object_get(j, "hostname")), "labhost.local");
	assert_int_equal(json_integer_value(json_object_get(j, "vlan")), 3);
	assert_true(json_is_null(json_object_get(j, "subnet")));
	assert_true(json_is_null(json_object_get(j, "subnet_cidr")));
	assert_string_equal(json_string_value(json_object_get(j, "first_seen")), "1970-01-01T00:00:01.000Z");
	assert_int_equal(json_integer_value(json_object_get(j, "count")), 4);
	assert_true(json_is_true(json_object_get(j, "known")));
	assert_string_equal(json_string_value(json_object_get(j, "known_as")), "device 'labhost'");
	json_decref(j);

	struct disc_event_row e = {.id = 9,
				   .at_ms = 5000,
				   .kind = "conflict",
				   .ip = "10.44.0.10",
				   .mac = "02:00:00:00:44:aa",
				   .old_mac = "",
				   .subnet_id = 2,
				   .description = "possible address conflict"};
	j = api_discovery_event_json(&e);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "id")), 9);
	assert_true(json_is_null(json_object_get(j, "old_mac")));
	assert_true(json_is_null(json_object_get(j, "rack")));
	assert_int_equal(json_integer_value(json_object_get(j, "subnet")), 2);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "conflict");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hostname),
	    cmocka_unit_test(test_claim_body),
	    cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
