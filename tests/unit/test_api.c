/* Unit tests for the pure parts of the REST API: routing, path decoding,
 * error bodies, timestamps, bearer parsing, config body checks and the
 * rack JSON, and the API key cache. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "region/api/codec.h"
#include "region/api/internal.h"
#include "region/api/route.h"
#include "region/db/db.h"

static void h_a(struct api_call *c)
{
	(void)c;
}
static void h_b(struct api_call *c)
{
	(void)c;
}
static void h_c(struct api_call *c)
{
	(void)c;
}

static const struct api_route routes[] = {
    {"/api/v1/version", API_GET, h_a, true, API_RUN_DEFAULT},
    {"/api/v1/racks", API_GET, h_a, false, API_RUN_DEFAULT},
    {"/api/v1/racks/{id}", API_GET, h_b, false, API_RUN_DEFAULT},
    {"/api/v1/racks/{id}", API_DELETE, h_c, false, API_RUN_DEFAULT},
    {"/api/v1/racks/{id}/ping", API_POST, h_c, false, API_RUN_DEFAULT},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static void test_route_exact(void **state)
{
	struct api_match m;

	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "/api/v1/racks", &m), 0);
	assert_ptr_equal(m.route, &routes[1]);
	assert_int_equal(m.n_params, 0);
	/* one trailing slash is tolerated, two are not */
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "/api/v1/racks/", &m), 0);
	assert_ptr_equal(m.route, &routes[1]);
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "/api/v1/racks//", &m), -ENOENT);
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "/api/v1/rack", &m), -ENOENT);
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "/api/v1/racksx", &m), -ENOENT);
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "/api/v1", &m), -ENOENT);
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "/", &m), -ENOENT);
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "", &m), -ENOENT);
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "api/v1/racks", &m), -ENOENT);
}

static void test_route_params(void **state)
{
	struct api_match m;

	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "/api/v1/racks/rack-1", &m), 0);
	assert_ptr_equal(m.route, &routes[2]);
	assert_int_equal(m.n_params, 1);
	assert_string_equal(m.params[0], "rack-1");

	/* the method picks between routes with the same pattern */
	assert_int_equal(api_route_find(routes, N_ROUTES, API_DELETE, "/api/v1/racks/rack-1", &m), 0);
	assert_ptr_equal(m.route, &routes[3]);

	assert_int_equal(api_route_find(routes, N_ROUTES, API_POST, "/api/v1/racks/r%2D2/ping", &m), 0);
	assert_ptr_equal(m.route, &routes[4]);
	assert_string_equal(m.params[0], "r-2");
	assert_int_equal(api_route_find(routes, N_ROUTES, API_POST, "/api/v1/racks/r%c3%bc/ping/", &m), 0);
	assert_string_equal(m.params[0], "r\xc3\xbc");

	/* an empty segment is not a parameter */
	assert_int_equal(api_route_find(routes, N_ROUTES, API_POST, "/api/v1/racks//ping", &m), -ENOENT);
	assert_int_equal(api_route_find(routes, N_ROUTES, API_POST, "/api/v1/racks/a/ping/x", &m), -ENOENT);
}

static void test_route_bad_escapes(void **state)
{
	struct api_match m;
	char path[API_PARAM_MAX + 64];

	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "/api/v1/racks/a%2Fb", &m), -ENOENT);
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "/api/v1/racks/a%2fb", &m), -ENOENT);
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "/api/v1/racks/a%00", &m), -ENOENT);
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "/api/v1/racks/a%zz", &m), -ENOENT);
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "/api/v1/racks/a%4", &m), -ENOENT);
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, "/api/v1/racks/%", &m), -ENOENT);

	/* a parameter of exactly API_PARAM_MAX bytes matches, one more does not */
	strcpy(path, "/api/v1/racks/");
	memset(path + strlen(path), 'x', API_PARAM_MAX);
	path[strlen("/api/v1/racks/") + API_PARAM_MAX] = '\0';
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, path, &m), 0);
	assert_int_equal(strlen(m.params[0]), API_PARAM_MAX);
	strcat(path, "x");
	assert_int_equal(api_route_find(routes, N_ROUTES, API_GET, path, &m), -ENOENT);
}

static void test_route_method_not_allowed(void **state)
{
	struct api_match m;
	char allow[64];

	assert_int_equal(api_route_find(routes, N_ROUTES, API_POST, "/api/v1/racks/x", &m), -EOPNOTSUPP);
	assert_ptr_equal(m.route, &routes[2]);
	assert_int_equal(m.allow, API_GET | API_HEAD | API_DELETE);
	assert_int_equal(api_allow_format(m.allow, allow, sizeof(allow)), 0);
	assert_string_equal(allow, "GET, HEAD, DELETE");

	/* the public flag of the path is known even for the wrong method */
	assert_int_equal(api_route_find(routes, N_ROUTES, API_POST, "/api/v1/version", &m), -EOPNOTSUPP);
	assert_true(m.route->public);

	/* HEAD runs the GET route */
	assert_int_equal(api_route_find(routes, N_ROUTES, API_HEAD, "/api/v1/version", &m), 0);
	assert_ptr_equal(m.route, &routes[0]);
	/* an unknown method (0) is never allowed */
	assert_int_equal(api_route_find(routes, N_ROUTES, 0, "/api/v1/version", &m), -EOPNOTSUPP);
}

static void test_allow_format(void **state)
{
	char buf[8];

	assert_int_equal(api_allow_format(API_POST, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "POST");
	assert_int_equal(api_allow_format(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(api_allow_format(API_GET | API_POST, buf, sizeof(buf)), -ENOSPC);
	assert_string_equal(api_method_name(API_OPTIONS), "OPTIONS");
	assert_string_equal(api_method_name(API_GET | API_POST), "?");
	assert_string_equal(api_method_name(0), "?");
}

static void test_time_format(void **state)
{
	char buf[API_TIME_STRLEN];

	assert_int_equal(api_time_format(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	assert_int_equal(api_time_format(1714564800123LL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2024-05-01T12:00:00.123Z");
	/* floor, not truncation, before the epoch */
	assert_int_equal(api_time_format(-1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
	assert_int_equal(api_time_format(0, buf, 10), -ENOSPC);
}

static void test_time_json(void **state)
{
	json_t *j = api_time_json(0);
	assert_true(json_is_null(j));
	json_decref(j);
	j = api_time_json(86400000LL);
	assert_string_equal(json_string_value(j), "1970-01-02T00:00:00.000Z");
	json_decref(j);
}

static void test_error_json(void **state)
{
	json_t *j = api_error_new("not_found", "rack \"x\" not found", NULL);
	char *s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"error\":{\"code\":\"not_found\",\"message\":\"rack \\\"x\\\" not found\"}}");
	free(s);
	json_decref(j);

	j = api_error_new("invalid_argument", "must be a string", "settings.k");
	json_t *e = json_object_get(j, "error");
	assert_string_equal(json_string_value(json_object_get(e, "field")), "settings.k");
	assert_string_equal(json_string_value(json_object_get(e, "code")), "invalid_argument");
	json_decref(j);

	j = api_error_new("x", "y", "");
	assert_null(json_object_get(json_object_get(j, "error"), "field"));
	json_decref(j);
}

static void test_bearer(void **state)
{
	char key[API_KEY_MAX + 1];
	char small[8];

	assert_int_equal(api_bearer_parse("Bearer irk_0123abcd", key, sizeof(key)), 0);
	assert_string_equal(key, "irk_0123abcd");
	assert_int_equal(api_bearer_parse("bearer  tok+/.~-_==  ", key, sizeof(key)), 0);
	assert_string_equal(key, "tok+/.~-_==");
	assert_int_equal(api_bearer_parse("BEARER\tabc", key, sizeof(key)), 0);
	assert_string_equal(key, "abc");

	assert_int_equal(api_bearer_parse(NULL, key, sizeof(key)), -ENOENT);
	assert_int_equal(api_bearer_parse("", key, sizeof(key)), -ENOENT);
	assert_int_equal(api_bearer_parse("Basic dXNlcjpwYXNz", key, sizeof(key)), -ENOENT);
	assert_int_equal(api_bearer_parse("Bearerabc", key, sizeof(key)), -ENOENT);

	assert_int_equal(api_bearer_parse("Bearer", key, sizeof(key)), -EINVAL);
	assert_int_equal(api_bearer_parse("Bearer   ", key, sizeof(key)), -EINVAL);
	assert_int_equal(api_bearer_parse("Bearer a b", key, sizeof(key)), -EINVAL);
	assert_int_equal(api_bearer_parse("Bearer a\"b", key, sizeof(key)), -EINVAL);
	assert_int_equal(api_bearer_parse("Bearer =abc", key, sizeof(key)), -EINVAL);
	assert_int_equal(api_bearer_parse("Bearer a=b", key, sizeof(key)), -EINVAL);
	assert_int_equal(api_bearer_parse("Bearer 1234567", small, sizeof(small)), 0);
	assert_int_equal(api_bearer_parse("Bearer 12345678", small, sizeof(small)), -EINVAL);
}

static void test_long_parse(void **state)
{
	long v = 7;

	assert_int_equal(api_long_parse("5000", 1, 60000, &v), 0);
	assert_int_equal(v, 5000);
	assert_int_equal(api_long_parse("60000", 1, 60000, &v), 0);
	assert_int_equal(api_long_parse("60001", 1, 60000, &v), -ERANGE);
	assert_int_equal(api_long_parse("0", 1, 60000, &v), -ERANGE);
	assert_int_equal(api_long_parse("-3", 1, 60000, &v), -ERANGE);
	assert_int_equal(api_long_parse("99999999999999999999999", 1, 60000, &v), -ERANGE);
	assert_int_equal(api_long_parse("", 1, 60000, &v), -EINVAL);
	assert_int_equal(api_long_parse(NULL, 1, 60000, &v), -EINVAL);
	assert_int_equal(api_long_parse(" 5", 1, 60000, &v), -EINVAL);
	assert_int_equal(api_long_parse("5ms", 1, 60000, &v), -EINVAL);
	assert_int_equal(api_long_parse("0x10", 1, 60000, &v), -EINVAL);
	assert_int_equal(v, 60000);
}

static void test_json_error_format(void **state)
{
	json_error_t e;
	char buf[300];

	assert_null(json_loads("{\"a\":", 0, &e));
	api_json_error_format(&e, buf, sizeof(buf));
	assert_non_null(strstr(buf, "invalid JSON at line 1, column "));
}

static int check_body(const char *text, struct api_fail *fail)
{
	json_t *body = json_loads(text, JSON_DECODE_ANY, NULL);
	json_t *settings = NULL;
	assert_non_null(body);
	memset(fail, 0, sizeof(*fail));
	int rc = api_config_body_check(body, &settings, fail);
	if (rc == 0)
		assert_true(json_is_object(settings));
	json_decref(body);
	return rc;
}

static void test_config_body(void **state)
{
	struct api_fail f;

	assert_int_equal(check_body("{\"settings\":{\"a\":\"1\",\"b\":\"\"}}", &f), 0);
	assert_int_equal(check_body("{\"settings\":{}}", &f), 0);

	assert_int_equal(check_body("{\"settings\":{\"a\":\"1\",\"k\":2}}", &f), -EINVAL);
	assert_string_equal(f.field, "settings.k");
	assert_int_equal(check_body("{\"settings\":{\"k\":null}}", &f), -EINVAL);
	assert_string_equal(f.field, "settings.k");
	assert_int_equal(check_body("{\"settings\":{\"k\":{\"x\":\"y\"}}}", &f), -EINVAL);
	assert_string_equal(f.field, "settings.k");
	assert_int_equal(check_body("{\"settings\":{\"\":\"v\"}}", &f), -EINVAL);
	assert_string_equal(f.field, "settings");
	assert_int_equal(check_body("{\"settings\":[\"a\"]}", &f), -EINVAL);
	assert_string_equal(f.field, "settings");
	assert_int_equal(check_body("{}", &f), -EINVAL);
	assert_string_equal(f.field, "settings");
	assert_int_equal(check_body("{\"settings\":{},\"extra\":1}", &f), -EINVAL);
	assert_string_equal(f.field, "extra");
	assert_int_equal(check_body("[]", &f), -EINVAL);
	assert_string_equal(f.field, "");
	assert_int_equal(check_body("\"settings\"", &f), -EINVAL);
}

static void test_config_body_boot_configs(void **state)
{
	struct api_fail f;
	static const struct {
		const char *boot;
		const char *field; /* NULL: accepted */
	} cases[] = {
	    {"[]", NULL},
	    {"[{\"mac\":\"52:54:00:12:34:56\",\"purpose\":\"deploy\",\"kernel\":\"e/vmlinuz\",\"initrd\":\"e/i\","
	     "\"cmdline\":\"ro quiet\"},{\"mac\":\"\",\"purpose\":\"enlist\",\"kernel\":\"e/vmlinuz\"},"
	     "{\"mac\":\"52-54-00-12-34-57\",\"purpose\":\"local\"}]",
	     NULL},
	    {"{}", "boot_configs"},
	    {"[1]", "boot_configs[0]"},
	    {"[{\"purpose\":\"local\"}]", "boot_configs[0].mac"},
	    {"[{\"mac\":\"\"}]", "boot_configs[0].purpose"},
	    {"[{\"mac\":\"52:54:00:12:34\",\"purpose\":\"local\"}]", "boot_configs[0].mac"},
	    {"[{\"mac\":\"\",\"purpose\":\"reboot\"}]", "boot_configs[0].purpose"},
	    {"[{\"mac\":\"\",\"purpose\":\"deploy\"}]", "boot_configs[0].kernel"},
	    {"[{\"mac\":\"\",\"purpose\":\"deploy\",\"kernel\":\"a/../b\"}]", "boot_configs[0].kernel"},
	    {"[{\"mac\":\"\",\"purpose\":\"deploy\",\"kernel\":\"k\",\"initrd\":\"/i\"}]", "boot_configs[0].initrd"},
	    {"[{\"mac\":\"\",\"purpose\":\"local\",\"cmdline\":\"a\\nb\"}]", "boot_configs[0].cmdline"},
	    {"[{\"mac\":\"\",\"purpose\":\"local\",\"kernel\":null}]", "boot_configs[0].kernel"},
	    {"[{\"mac\":\"\",\"purpose\":\"local\",\"x\":\"y\"}]", "boot_configs[0].x"},
	    {"[{\"mac\":\"52:54:00:12:34:56\",\"purpose\":\"local\"},{\"mac\":\"\",\"purpose\":\"local\"},"
	     "{\"mac\":\"52-54-00-12-34-56\",\"purpose\":\"local\"}]",
	     "boot_configs[2].mac"},
	    {"[{\"mac\":\"\",\"purpose\":\"local\"},{\"mac\":\"\",\"purpose\":\"local\"}]", "boot_configs[1].mac"},
	};
	char text[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "{\"settings\":{},\"boot_configs\":%s}", cases[i].boot);
		int rc = check_body(text, &f);
		if (!cases[i].field) {
			assert_int_equal(rc, 0);
			continue;
		}
		assert_int_equal(rc, -EINVAL);
		assert_string_equal(f.field, cases[i].field);
		assert_non_null(strstr(f.message, cases[i].field));
	}
}

static void test_config_body_limits(void **state)
{
	struct api_fail f;
	json_t *body = json_object(), *settings = json_object(), *out = NULL;
	char key[API_SETTING_KEY_MAX + 2];

	json_object_set_new(body, "settings", settings);
	memset(key, 'k', API_SETTING_KEY_MAX);
	key[API_SETTING_KEY_MAX] = '\0';
	json_object_set_new(settings, key, json_string("v"));
	assert_int_equal(api_config_body_check(body, &out, &f), 0);
	strcat(key, "k");
	json_object_set_new(settings, key, json_string("v"));
	assert_int_equal(api_config_body_check(body, &out, &f), -EINVAL);
	json_object_clear(settings);
	for (int i = 0; i <= API_SETTINGS_MAX; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		json_object_set_new(settings, key, json_string("v"));
	}
	assert_int_equal(api_config_body_check(body, &out, &f), -EINVAL);
	assert_non_null(strstr(f.message, "too many"));
	json_decref(body);
}

static void test_rack_json(void **state)
{
	char *addrs[] = {"192.0.2.10/24", "2001:db8::10/64"};
	struct rack_iface ifc = {
	    .name = "eth0", .mac = "02:00:00:00:00:01", .addresses = addrs, .n_addresses = 2, .vlan = 12};
	struct rack_row row = {.id = "rack-1",
			       .hostname = "r1",
			       .version = "",
			       .enrolled_ms = 1000,
			       .registered_ms = 0,
			       .last_seen_ms = 1714564800123LL,
			       .config_version = 3,
			       .acked_config_version = 2,
			       .ifaces = &ifc,
			       .n_ifaces = 1};

	json_t *j = api_rack_json(&row, true);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")), "rack-1");
	assert_string_equal(json_string_value(json_object_get(j, "hostname")), "r1");
	assert_true(json_is_null(json_object_get(j, "version")));
	assert_true(json_is_true(json_object_get(j, "connected")));
	assert_string_equal(json_string_value(json_object_get(j, "last_seen")), "2024-05-01T12:00:00.123Z");
	assert_string_equal(json_string_value(json_object_get(j, "enrolled")), "1970-01-01T00:00:01.000Z");
	assert_true(json_is_null(json_object_get(j, "registered")));
	assert_int_equal(json_integer_value(json_object_get(j, "config_version")), 3);
	assert_int_equal(json_integer_value(json_object_get(j, "acked_config_version")), 2);
	json_t *ifs = json_object_get(j, "interfaces");
	assert_int_equal(json_array_size(ifs), 1);
	json_t *i0 = json_array_get(ifs, 0);
	assert_string_equal(json_string_value(json_object_get(i0, "name")), "eth0");
	assert_string_equal(json_string_value(json_object_get(i0, "mac")), "02:00:00:00:00:01");
	assert_int_equal(json_integer_value(json_object_get(i0, "vlan")), 12);
	json_t *a = json_object_get(i0, "addresses");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 1)), "2001:db8::10/64");
	json_decref(j);

	row.n_ifaces = 0;
	row.last_seen_ms = 0;
	j = api_rack_json(&row, false);
	assert_true(json_is_false(json_object_get(j, "connected")));
	assert_true(json_is_null(json_object_get(j, "last_seen")));
	assert_int_equal(json_array_size(json_object_get(j, "interfaces")), 0);
	json_decref(j);
}

/* A key is accepted from the cache while fresh, accepted but due for a
 * check while stale, and unknown once too old; a failed check forgets it. */
static void test_auth_cache(void **state)
{
	struct api_auth_cache *c = api_auth_cache_new();
	const char *k = "irk_0123456789abcdef0123456789abcdef01234567";

	assert_int_equal(api_auth_cache_lookup(c, k, 1000), 0);
	api_auth_cache_store(c, k, true, 1000);
	assert_int_equal(api_auth_cache_lookup(c, k, 1000), 1);
	assert_int_equal(api_auth_cache_lookup(c, "irk_other", 1000), 0);
	assert_int_equal(api_auth_cache_lookup(c, k, 1000 + API_AUTH_FRESH_MS - 1), 1);
	assert_int_equal(api_auth_cache_lookup(c, k, 1000 + API_AUTH_FRESH_MS), 2);
	/* one background check at a time */
	assert_false(api_auth_cache_revalidating(c, k, true));
	assert_true(api_auth_cache_revalidating(c, k, true));
	assert_int_equal(api_auth_cache_lookup(c, k, 1000 + API_AUTH_STALE_MS), 0);
	/* a successful check makes it fresh again and ends the check */
	api_auth_cache_store(c, k, true, 1000 + API_AUTH_FRESH_MS);
	assert_false(api_auth_cache_revalidating(c, k, false));
	assert_int_equal(api_auth_cache_lookup(c, k, 1000 + API_AUTH_FRESH_MS), 1);
	/* revoked: the next check says no, and the key is forgotten */
	api_auth_cache_store(c, k, false, 2000);
	assert_int_equal(api_auth_cache_lookup(c, k, 2000), 0);
	api_auth_cache_free(c);
}

/* A full cache makes room by dropping the entry checked longest ago. */
static void test_auth_cache_eviction(void **state)
{
	struct api_auth_cache *c = api_auth_cache_new();
	char key[64];

	for (int i = 0; i < API_AUTH_CACHE_MAX; i++) {
		snprintf(key, sizeof(key), "irk_key%d", i);
		api_auth_cache_store(c, key, true, 10000 + i);
	}
	api_auth_cache_store(c, "irk_newcomer", true, 20000);
	assert_int_equal(api_auth_cache_lookup(c, "irk_newcomer", 20000), 1);
	assert_int_equal(api_auth_cache_lookup(c, "irk_key0", 10001), 0);
	assert_int_equal(api_auth_cache_lookup(c, "irk_key1", 10001), 1);
	api_auth_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route_exact),
	    cmocka_unit_test(test_route_params),
	    cmocka_unit_test(test_route_bad_escapes),
	    cmocka_unit_test(test_route_method_not_allowed),
	    cmocka_unit_test(test_allow_format),
	    cmocka_unit_test(test_time_format),
	    cmocka_unit_test(test_time_json),
	    cmocka_unit_test(test_error_json),
	    cmocka_unit_test(test_bearer),
	    cmocka_unit_test(test_long_parse),
	    cmocka_unit_test(test_json_error_format),
	    cmocka_unit_test(test_config_body),
	    cmocka_unit_test(test_config_body_limits),
	    cmocka_unit_test(test_config_body_boot_configs),
	    cmocka_unit_test(test_rack_json),
	    cmocka_unit_test(test_auth_cache),
	    cmocka_unit_test(test_auth_cache_eviction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
