/* Unit tests for the network commands' pure text handling
 * (region/cli/net_format.c): KEY=VALUE words to JSON, query strings, path
 * keys and the tables. region/cli/ is its own binary, so the files under
 * test are included here directly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "region/cli/format.c"
#include "region/cli/net_format.c"
#include "region/cli/table.c"

static void test_values(void **state)
{
	char err[128];
	json_t *v;

	v = cli_net_value("vid", "42", err, sizeof(err));
	assert_true(json_is_integer(v) && json_integer_value(v) == 42);
	json_decref(v);
	assert_null(cli_net_value("mtu", "9k", err, sizeof(err)));
	assert_non_null(strstr(err, "mtu wants an integer"));
	v = cli_net_value("managed", "No", err, sizeof(err));
	assert_true(json_is_false(v));
	json_decref(v);
	assert_null(cli_net_value("dhcp_on", "maybe", err, sizeof(err)));
	v = cli_net_value("dns_servers", "10.0.0.2,,2001:db8::53", err, sizeof(err));
	assert_int_equal(json_array_size(v), 2);
	assert_string_equal(json_string_value(json_array_get(v, 1)), "2001:db8::53");
	json_decref(v);
	v = cli_net_value("gateway", "", err, sizeof(err));
	assert_true(json_is_null(v));
	v = cli_net_value("name", "123", err, sizeof(err));
	assert_string_equal(json_string_value(v), "123");
	json_decref(v);
	/* discovery_interval: seconds, or one unit */
	static const struct {
		const char *text;
		json_int_t secs;
	} intervals[] = {{"10800", 10800}, {"3h", 10800}, {"90s", 90}, {"30m", 1800}, {"1d", 86400}};
	for (size_t i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++) {
		v = cli_net_value("discovery_interval", intervals[i].text, err, sizeof(err));
		assert_true(json_is_integer(v) && json_integer_value(v) == intervals[i].secs);
		json_decref(v);
	}
	assert_null(cli_net_value("discovery_interval", "3hours", err, sizeof(err)));
	assert_null(cli_net_value("discovery_interval", "h", err, sizeof(err)));
	assert_null(cli_net_value("discovery_interval", "1h30m", err, sizeof(err)));
	assert_null(cli_net_value("mtu", "9m", err, sizeof(err))); /* units only for the interval */
}

static void test_body_words(void **state)
{
	char err[128];
	char *words[] = {"10.0.0.0/24", "gateway=10.0.0.1", "managed=false", "description=a=b"};
	json_t *body = json_object();

	assert_int_equal(cli_net_body_add(body, words, 4, "cidr", err, sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(body, "cidr")), "10.0.0.0/24");
	assert_string_equal(json_string_value(json_object_get(body, "description")), "a=b");
	assert_true(json_is_false(json_object_get(body, "managed")));
	json_decref(body);

	char *twice[] = {"a", "b"};
	body = json_object();
	assert_int_equal(cli_net_body_add(body, twice, 2, "name", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "\"b\" is not KEY=VALUE");
	json_decref(body);
	char *dup[] = {"mtu=1500", "mtu=9000"};
	body = json_object();
	assert_int_equal(cli_net_body_add(body, dup, 2, NULL, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "mtu given twice");
	json_decref(body);
	char *nokey[] = {"=x"};
	body = json_object();
	assert_int_equal(cli_net_body_add(body, nokey, 1, NULL, err, sizeof(err)), -EINVAL);
	json_decref(body);
}

static char *fake_escape(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *o = out;

	for (; *s; s++)
		o += (*s == '/' || *s == ' ') ? sprintf(o, "%%%02X", (unsigned char)*s) : sprintf(o, "%c", *s);
	*o = '\0';
	return out;
}

static void test_query_and_path(void **state)
{
	char buf[128], err[128];
	char *words[] = {"subnet=10.0.0.0/24", "type=dynamic"};

	assert_int_equal(cli_net_query(words, 2, fake_escape, buf, sizeof(buf), err, sizeof(err)), 0);
	assert_string_equal(buf, "?subnet=10.0.0.0%2F24&type=dynamic");
	assert_int_equal(cli_net_query(words, 0, fake_escape, buf, sizeof(buf), err, sizeof(err)), 0);
	assert_string_equal(buf, "");
	char *bad[] = {"dynamic"};
	assert_int_equal(cli_net_query(bad, 1, fake_escape, buf, sizeof(buf), err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "\"dynamic\" is not FILTER=VALUE");
	assert_int_equal(cli_net_query(words, 2, fake_escape, buf, 10, err, sizeof(err)), -ENOSPC);
	cli_net_path_key("2001:db8::/32", buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::-32");
	cli_net_path_key("node-3", buf, sizeof(buf));
	assert_string_equal(buf, "node-3");
}

static void test_cells_and_tables(void **state)
{
	json_t *o = json_pack("{s:i, s:s, s:b, s:n, s:[s,s], s:s}", "id", 3, "cidr", "10.0.0.0/24", "managed", 1,
			      "gateway", "dns", "10.0.0.2", "9.9.9.9", "name", "");
	struct cli_net_col cols[] = {{"ID", "id", CLI_NF_TEXT},	     {"MANAGED", "managed", CLI_NF_BOOL},
				     {"GW", "gateway", CLI_NF_TEXT}, {"DNS", "dns", CLI_NF_LIST},
				     {"NAME", "name", CLI_NF_TEXT},  {"MISSING", "nope", CLI_NF_TEXT}};
	const char *want[] = {"3", "yes", "-", "10.0.0.2, 9.9.9.9", "-", "-"};
	char buf[64];

	for (size_t i = 0; i < 6; i++) {
		cli_net_cell(o, &cols[i], 0, buf, sizeof(buf));
		assert_string_equal(buf, want[i]);
	}
	struct cli_net_group g = {"subnets", "subnets", "subnets", "subnet", "cidr", "cidr", cols, 2, false, false};
	json_t *list = json_pack("[O, O]", o, o);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_int_equal(cli_net_table_print(&g, list, 0, f), 0);
	fclose(f);
	assert_string_equal(text, "ID  MANAGED\n3   yes\n3   yes\n");
	free(text);
	json_decref(list);
	json_decref(o);
}

static void test_utilisation_text(void **state)
{
	char buf[256];
	json_t *u = json_pack("{s:i, s:i, s:f, s:{s:s, s:s, s:i}}", "total", 254, "available", 250, "used_pct", 1.57,
			      "largest_free", "start", "10.0.0.3", "end", "10.0.0.99", "size", 97);

	cli_net_utilisation_format(u, buf, sizeof(buf));
	assert_string_equal(buf,
			    "254 addresses, 250 available (1.6% used), largest free block 10.0.0.3-10.0.0.99 (97)");
	json_object_set_new(u, "total", json_string("79228162514264337593543950335"));
	json_object_set_new(u, "largest_free", json_null());
	cli_net_utilisation_format(u, buf, sizeof(buf));
	assert_string_equal(buf, "79228162514264337593543950335 addresses, 250 available (1.6% used), no free block");
	json_decref(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_values),	     cmocka_unit_test(test_body_words),
	    cmocka_unit_test(test_query_and_path),   cmocka_unit_test(test_cells_and_tables),
	    cmocka_unit_test(test_utilisation_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
