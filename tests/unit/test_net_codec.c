/* Unit tests for the network model's pure parts: the REST codec
 * (region/api/net_codec.c) and the kind tables with their SQL
 * (region/db/net_sql_*.c): every statement uses exactly the parameters the
 * generic code sends, so none is left without a type. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "region/api/net_codec.h"
#include "region/db/net_internal.h"

static const struct net_field *field_of(enum net_kind kind, const char *name)
{
	int i = net_field_index(kind, name);
	assert_true(i >= 0);
	return &net_kind_info(kind)->fields[i];
}

/* Parse JSON text as field f's value: the canonical text or NULL. */
static int parse(const struct net_field *f, const char *json, char **ret, struct api_fail *fail)
{
	json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	assert_non_null(v);
	int r = api_net_value_parse(f, v, ret, fail);
	json_decref(v);
	return r;
}

static void expect_ok(const struct net_field *f, const char *json, const char *want)
{
	struct api_fail fail;
	char *out = NULL;

	assert_int_equal(parse(f, json, &out, &fail), 0);
	if (want)
		assert_string_equal(out, want);
	else
		assert_null(out);
	free(out);
}

static void expect_fail(const struct net_field *f, const char *json, const char *in_message)
{
	struct api_fail fail;
	char *out = NULL;

	assert_int_equal(parse(f, json, &out, &fail), -EINVAL);
	assert_null(out);
	assert_string_equal(fail.field, f->name);
	assert_non_null(strstr(fail.message, in_message));
}

static void test_values_addresses(void **state)
{
	const struct net_field *cidr = field_of(NET_SUBNET, "cidr"), *gw = field_of(NET_SUBNET, "gateway");
	const struct net_field *dns = field_of(NET_SUBNET, "dns_servers"), *mac = field_of(NET_INTERFACE, "mac");

	expect_ok(cidr, "\"10.0.0.0/24\"", "10.0.0.0/24");
	expect_ok(cidr, "\"2001:DB8::/32\"", "2001:db8::/32");
	expect_fail(cidr, "\"10.0.0.5/24\"", "has host bits set; did you mean 10.0.0.0/24?");
	expect_fail(cidr, "\"2001:db8::1/64\"", "did you mean 2001:db8::/64?");
	expect_fail(cidr, "\"10.0.0.0\"", "no prefix length");
	expect_fail(cidr, "\"10.0.0.0/33\"", "not a CIDR");
	expect_fail(cidr, "24", "must be a string");
	expect_ok(gw, "\"2001:0db8:0000::0001\"", "2001:db8::1");
	expect_ok(gw, "null", NULL);
	expect_fail(gw, "\"10.0.0.1/24\"", "without a prefix length");
	expect_fail(gw, "\"10.0.0.256\"", "not an IPv4 or IPv6 address");
	expect_ok(dns, "[\"10.0.0.2\", \"2001:db8::53\"]", "{10.0.0.2,2001:db8::53}");
	expect_ok(dns, "[]", "{}");
	expect_fail(dns, "\"10.0.0.2\"", "array");
	expect_fail(dns, "[1]", "array of IP address strings");
	expect_fail(dns, "[\"x\"]", "not an IPv4 or IPv6 address");
	expect_fail(dns,
		    "[\"1.1.1.1\",\"1.1.1.2\",\"1.1.1.3\",\"1.1.1.4\",\"1.1.1.5\",\"1.1.1.6\",\"1.1.1.7\",\"1.1.1.8\","
		    "\"1.1.1.9\",\"1.1.1.10\",\"1.1.1.11\",\"1.1.1.12\",\"1.1.1.13\",\"1.1.1.14\",\"1.1.1.15\","
		    "\"1.1.1.16\",\"1.1.1.17\"]",
		    "at most 16");
	expect_ok(mac, "\"02-AA-bb-00-00-01\"", "02:aa:bb:00:00:01");
	expect_fail(mac, "\"02:aa\"", "not a MAC address");
	expect_fail(mac, "null", "must not be null");
}

static void test_values_scalars(void **state)
{
	const struct net_field *vid = field_of(NET_VLAN, "vid"), *mtu = field_of(NET_VLAN, "mtu");
	const struct net_field *dhcp = field_of(NET_VLAN, "dhcp_on"), *name = field_of(NET_ZONE, "name");
	const struct net_field *host = field_of(NET_MACHINE, "hostname"), *type = field_of(NET_RANGE, "type");
	const struct net_field *seen = field_of(NET_NEIGHBOUR, "last_seen"), *desc = field_of(NET_ZONE, "description");

	expect_ok(vid, "0", "0");
	expect_ok(vid, "4094", "4094");
	expect_fail(vid, "4095", "from 0 to 4094");
	expect_fail(vid, "-1", "from 0 to 4094");
	expect_fail(vid, "\"5\"", "integer");
	expect_fail(vid, "5.5", "integer");
	expect_fail(mtu, "551", "552 to 65535");
	expect_ok(dhcp, "true", "true");
	expect_fail(dhcp, "1", "true or false");
	expect_ok(name, "\"rack-room_2.a\"", "rack-room_2.a");
	expect_fail(name, "\"2024\"", "not all digits");
	expect_fail(name, "\"bad name\"", "not valid");
	expect_fail(name, "\"-x\"", "not valid");
	expect_ok(host, "\"node-3\"", "node-3");
	expect_fail(host, "\"node-\"", "not valid");
	expect_fail(host, "\"node_3\"", "not valid");
	expect_ok(type, "\"dynamic\"", "dynamic");
	expect_fail(type, "\"static\"", "one of: reserved, dynamic");
	expect_ok(seen, "\"2024-05-01T12:00:00Z\"", "2024-05-01T12:00:00Z");
	expect_ok(seen, "\"2024-05-01T12:00:00.5+02:00\"", "2024-05-01T12:00:00.5+02:00");
	expect_fail(seen, "\"yesterday\"", "RFC 3339");
	expect_fail(seen, "\"2024-05-01 12:00:00\"", "RFC 3339");
	expect_fail(desc, "\"a\\u0000b\"", "NUL");
	char big[1100];
	memset(big, 'x', sizeof(big));
	big[0] = '"';
	big[sizeof(big) - 2] = '"';
	big[sizeof(big) - 1] = '\0';
	expect_fail(desc, big, "0 to 1024 characters");
}

/* Names are one line of text: no control character (C0, DEL, C1) in any
 * kind's name; descriptions and comments may break lines but hold no other
 * control character (issue 13). */
static void test_values_control_characters(void **state)
{
	const struct net_field *names[] = {
	    field_of(NET_SUBNET, "name"),     field_of(NET_VLAN, "name"),  field_of(NET_ZONE, "name"),
	    field_of(NET_FABRIC, "name"),     field_of(NET_SPACE, "name"), field_of(NET_MACHINE, "hostname"),
	    field_of(NET_DEVICE, "hostname"),
	};
	const struct net_field *desc = field_of(NET_SUBNET, "description"), *comment = field_of(NET_RANGE, "comment");
	const struct net_field *owner = field_of(NET_RANGE, "owner");

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		expect_fail(names[i], "\"lab\\u0007x\"", names[i]->name);
		expect_fail(names[i], "\"lab\\nx\"", names[i]->name);
		expect_fail(names[i], "\"lab\\u007fx\"", names[i]->name);
		expect_fail(names[i], "\"lab\\u0085x\"", names[i]->name);
		expect_fail(names[i], "\"lab\\tx\"", names[i]->name);
	}
	expect_fail(field_of(NET_SUBNET, "name"), "\"a\\u001bb\"", "must not contain control characters");
	expect_fail(field_of(NET_VLAN, "name"), "\"storage\\r\"", "must not contain control characters");
	/* Not a control character: U+00A0 (C2 A0), U+00E9, U+2028 stay. */
	expect_ok(field_of(NET_SUBNET, "name"), "\"caf\\u00e9 \\u00a0row\\u2028\"",
		  "caf\xc3\xa9 \xc2\xa0row\xe2\x80\xa8");
	expect_ok(field_of(NET_VLAN, "name"), "\"storage (row 2)\"", "storage (row 2)");
	expect_ok(desc, "\"line one\\nline\\ttwo\\r\\n\"", "line one\nline\ttwo\r\n");
	expect_fail(desc, "\"bell\\u0007\"", "other than tabs and line breaks");
	expect_ok(comment, "\"PXE\\nrow 2\"", "PXE\nrow 2");
	expect_fail(comment, "\"x\\u009by\"", "control characters");
	expect_fail(owner, "\"ops\\nteam\"", "must not contain control characters");
}

static void test_values_refs(void **state)
{
	const struct net_field *fabric = field_of(NET_VLAN, "fabric"), *space = field_of(NET_VLAN, "space");
	const struct net_field *subnet = field_of(NET_RANGE, "subnet");

	expect_ok(fabric, "7", "7");
	expect_ok(fabric, "\"fabric-0\"", "fabric-0");
	expect_fail(fabric, "0", "positive integer");
	expect_fail(fabric, "\"\"", "id");
	expect_fail(fabric, "true", "id");
	expect_fail(fabric, "null", "must not be null");
	expect_ok(space, "null", NULL);
	expect_ok(subnet, "\"10.0.0.0-24\"", "10.0.0.0/24");
	expect_ok(subnet, "\"2001:db8::/32\"", "2001:db8::/32");
}

static void test_subnet_key(void **state)
{
	char buf[64];

	api_net_subnet_key("10.0.0.0-24", buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.0/24");
	api_net_subnet_key("2001:db8::-32", buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::/32");
	api_net_subnet_key("12", buf, sizeof(buf));
	assert_string_equal(buf, "12");
	api_net_subnet_key("lab-2", buf, sizeof(buf));
	assert_string_equal(buf, "lab-2");
	api_net_subnet_key("10.0.0.0-x", buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.0-x");
}

static void test_body(void **state)
{
	const struct net_kind_info *k = net_kind_info(NET_RANGE);
	struct api_net_body b;
	struct api_fail fail;
	json_t *j;

	j = json_pack("{s:s, s:s, s:s, s:s}", "subnet", "10.0.0.0/24", "type", "reserved", "start_ip", "10.0.0.10",
		      "end_ip", "10.0.0.20");
	assert_int_equal(api_net_body_parse(k, j, true, &b, &fail), 0);
	assert_int_equal(b.in.given, 0xf);
	assert_string_equal(b.in.val[2], "10.0.0.10");
	api_net_body_done(&b);
	/* an update may not move the range to another subnet */
	assert_int_equal(api_net_body_parse(k, j, false, &b, &fail), -EINVAL);
	assert_string_equal(fail.field, "subnet");
	assert_non_null(strstr(fail.message, "cannot be changed"));
	json_object_del(j, "end_ip");
	assert_int_equal(api_net_body_parse(k, j, true, &b, &fail), -EINVAL);
	assert_string_equal(fail.field, "end_ip");
	assert_non_null(strstr(fail.message, "required"));
	json_object_set_new(j, "colour", json_string("red"));
	assert_int_equal(api_net_body_parse(k, j, true, &b, &fail), -EINVAL);
	assert_string_equal(fail.field, "colour");
	assert_non_null(strstr(fail.message, "unknown field 'colour'"));
	json_decref(j);
	j = json_object();
	assert_int_equal(api_net_body_parse(k, j, false, &b, &fail), -EINVAL);
	assert_non_null(strstr(fail.message, "nothing to change"));
	json_decref(j);
	j = json_array();
	assert_int_equal(api_net_body_parse(k, j, true, &b, &fail), -EINVAL);
	assert_non_null(strstr(fail.message, "JSON object"));
	json_decref(j);
}

static void test_filters(void **state)
{
	const struct net_kind_info *k = net_kind_info(NET_SUBNET);
	struct api_fail fail;
	char *out = NULL;

	for (size_t i = 0; i < k->n_filters; i++) {
		const struct net_filter_def *f = &k->filters[i];
		if (strcmp(f->name, "managed") == 0) {
			assert_int_equal(api_net_filter_parse(f, "false", &out, &fail), 0);
			assert_string_equal(out, "false");
			free(out);
			assert_int_equal(api_net_filter_parse(f, "no", &out, &fail), -EINVAL);
		} else if (strcmp(f->name, "family") == 0) {
			assert_int_equal(api_net_filter_parse(f, "6", &out, &fail), 0);
			free(out);
			assert_int_equal(api_net_filter_parse(f, "5", &out, &fail), -EINVAL);
		} else if (strcmp(f->name, "cidr") == 0) {
			assert_int_equal(api_net_filter_parse(f, "10.0.0.1/24", &out, &fail), -EINVAL);
			assert_non_null(strstr(fail.message, "10.0.0.0/24"));
		}
	}
	const struct net_filter_def *vid = &net_kind_info(NET_VLAN)->filters[1];
	assert_string_equal(vid->name, "vid");
	assert_int_equal(api_net_filter_parse(vid, "12", &out, &fail), 0);
	assert_string_equal(out, "12");
	free(out);
	assert_int_equal(api_net_filter_parse(vid, "12x", &out, &fail), -EINVAL);
	/* A %ff in the query decodes to a byte no JSON string may hold: a
	 * 400 that names the filter, not a failed allocation. */
	const struct net_filter_def *name = &net_kind_info(NET_ZONE)->filters[0];
	assert_string_equal(name->name, "name");
	memset(&fail, 0, sizeof(fail));
	out = NULL;
	assert_int_equal(api_net_filter_parse(name, "zone\xff", &out, &fail), -EINVAL);
	assert_null(out);
	assert_string_equal(fail.field, "name");
	assert_non_null(strstr(fail.message, "UTF-8"));
}

static void test_u128_json(void **state)
{
	json_t *j = api_net_u128_json(254);
	assert_true(json_is_integer(j) && json_integer_value(j) == 254);
	json_decref(j);
	j = api_net_u128_json(((u128)1 << 53) - 1);
	assert_true(json_is_integer(j));
	json_decref(j);
	j = api_net_u128_json((u128)1 << 64);
	assert_true(json_is_string(j));
	assert_string_equal(json_string_value(j), "18446744073709551616");
	json_decref(j);
}

static void test_row_json(void **state)
{
	const struct net_kind_info *k = net_kind_info(NET_SUBNET);
	char *vals[64] = {NULL};
	struct net_rows rows = {.kind = NET_SUBNET, .n = 1, .n_cols = k->n_cols, .val = vals};

	assert_true(k->n_cols <= 64);
	vals[net_col_index(NET_SUBNET, "id")] = "7";
	vals[net_col_index(NET_SUBNET, "cidr")] = "10.0.0.0/24";
	vals[net_col_index(NET_SUBNET, "managed")] = "f";
	vals[net_col_index(NET_SUBNET, "dns_servers")] = "10.0.0.2 2001:db8::53";
	vals[net_col_index(NET_SUBNET, "created")] = "1714564800123";
	json_t *o = api_net_row_json(k, &rows, 0);
	assert_int_equal(json_integer_value(json_object_get(o, "id")), 7);
	assert_true(json_is_false(json_object_get(o, "managed")));
	assert_true(json_is_null(json_object_get(o, "gateway")));
	assert_int_equal(json_array_size(json_object_get(o, "dns_servers")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "dns_servers"), 1)), "2001:db8::53");
	assert_string_equal(json_string_value(json_object_get(o, "created")), "2024-05-01T12:00:00.123Z");
	assert_int_equal(json_object_size(o), k->n_cols);
	json_decref(o);
}

/* The highest $n in sql, and whether every $1..$n occurs. */
static int sql_params(const char *sql, bool *ret_dense)
{
	bool seen[64] = {false};
	int max = 0;

	for (const char *p = strchr(sql, '$'); p; p = strchr(p + 1, '$')) {
		int n = atoi(p + 1);
		assert_true(n > 0 && n < 64);
		seen[n] = true;
		if (n > max)
			max = n;
	}
	*ret_dense = true;
	for (int i = 1; i <= max; i++)
		*ret_dense &= seen[i];
	return max;
}

static void test_kind_tables_match_their_sql(void **state)
{
	for (int kind = 0; kind < NET_KIND_N; kind++) {
		const struct net_kind_def *d = net_def((enum net_kind)kind);
		const struct net_kind_info *k = &d->info;
		bool dense;

		assert_non_null(d);
		assert_true(k->n_fields <= NET_FIELDS_MAX && k->n_filters <= NET_FILTERS_MAX);
		assert_int_equal(net_col_index((enum net_kind)kind, "id"), 0);
		/* list: limit, offset, id, then one per filter */
		assert_int_equal(sql_params(d->sql.list, &dense), 3 + (int)k->n_filters);
		assert_true(dense);
		if (d->sql.insert) {
			int want = (int)k->n_fields + (d->sql.insert_parent ? 1 : 0);
			assert_int_equal(sql_params(d->sql.insert, &dense), want);
			assert_true(dense);
		}
		if (d->sql.update) {
			assert_int_equal(sql_params(d->sql.update, &dense), 2 + (int)k->n_fields);
			assert_true(dense);
		}
		assert_int_equal(sql_params(d->sql.del, &dense), 1);
		assert_int_equal(sql_params(d->sql.resolve, &dense), 2);
		assert_true(dense);
		for (size_t i = 0; i < k->n_fields; i++)
			for (size_t j = i + 1; j < k->n_fields; j++)
				assert_string_not_equal(k->fields[i].name, k->fields[j].name);
	}
	assert_int_equal(sql_params(net_def(NET_RACK)->sql.resolve, &(bool){false}), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_values_addresses),
	    cmocka_unit_test(test_values_scalars),
	    cmocka_unit_test(test_values_control_characters),
	    cmocka_unit_test(test_values_refs),
	    cmocka_unit_test(test_subnet_key),
	    cmocka_unit_test(test_body),
	    cmocka_unit_test(test_filters),
	    cmocka_unit_test(test_u128_json),
	    cmocka_unit_test(test_row_json),
	    cmocka_unit_test(test_kind_tables_match_their_sql),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
