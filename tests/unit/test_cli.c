/* Unit tests for the pure parts of the `ironrack` CLI: argument parsing,
 * URL normalisation, the table formatter and rack text formatting.
 *
 * region/cli/ is not part of libregion.a (it is its own binary), so the
 * files under test are included here directly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "region/cli/args.c"
#include "region/cli/format.c"
#include "region/cli/table.c"

#define ARGC(a) ((int)(sizeof(a) / sizeof(a[0])))

static void test_args_options_anywhere(void **state)
{
	char *argv[] = {"ironrack", "racks", "--json", "list", "--url=http://h:1", "--key", "k1"};
	struct cli_args a;
	char err[128];

	assert_int_equal(cli_args_parse(ARGC(argv), argv, &a, err, sizeof(err)), 0);
	assert_int_equal(a.n_words, 2);
	assert_string_equal(a.words[0], "racks");
	assert_string_equal(a.words[1], "list");
	assert_int_equal(a.given, CLI_OPT_JSON | CLI_OPT_URL | CLI_OPT_KEY);
	assert_string_equal(a.url, "http://h:1");
	assert_string_equal(a.key, "k1");
	cli_args_done(&a);
}

static void test_args_timeout(void **state)
{
	char *ok[] = {"ironrack", "racks", "ping", "r1", "--timeout", "60000"};
	char *zero[] = {"ironrack", "--timeout", "0"};
	char *big[] = {"ironrack", "--timeout=60001"};
	char *junk[] = {"ironrack", "--timeout=5s"};
	char *neg[] = {"ironrack", "--timeout=-5"};
	char *missing[] = {"ironrack", "racks", "--timeout"};
	struct cli_args a;
	char err[128];

	assert_int_equal(cli_args_parse(ARGC(ok), ok, &a, err, sizeof(err)), 0);
	assert_int_equal(a.timeout_ms, 60000);
	assert_true(a.given & CLI_OPT_TIMEOUT);
	assert_int_equal(a.n_words, 3);
	cli_args_done(&a);

	assert_int_equal(cli_args_parse(ARGC(zero), zero, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--timeout"));
	assert_int_equal(cli_args_parse(ARGC(big), big, &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(cli_args_parse(ARGC(junk), junk, &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(cli_args_parse(ARGC(neg), neg, &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(cli_args_parse(ARGC(missing), missing, &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--timeout needs a value");
}

static void test_args_errors_and_words(void **state)
{
	char *unknown[] = {"ironrack", "racks", "--jsn"};
	char *flag_value[] = {"ironrack", "--json=yes"};
	char *dashdash[] = {"ironrack", "racks", "push-config", "r", "--", "--x=1", "-"};
	char *help[] = {"ironrack", "-h"};
	struct cli_args a;
	char err[128];

	assert_int_equal(cli_args_parse(ARGC(unknown), unknown, &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown option \"--jsn\"");
	assert_int_equal(cli_args_parse(ARGC(flag_value), flag_value, &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--json takes no value");

	assert_int_equal(cli_args_parse(ARGC(dashdash), dashdash, &a, err, sizeof(err)), 0);
	assert_int_equal(a.n_words, 5);
	assert_string_equal(a.words[3], "--x=1");
	assert_string_equal(a.words[4], "-");
	assert_int_equal(a.given, 0);
	cli_args_done(&a);

	assert_int_equal(cli_args_parse(ARGC(help), help, &a, err, sizeof(err)), 0);
	assert_int_equal(a.given, CLI_OPT_HELP);
	assert_int_equal(a.n_words, 0);
	cli_args_done(&a);
	assert_string_equal(cli_opt_name(CLI_OPT_TIMEOUT | CLI_OPT_JSON), "--json");
}

static void test_setting_parse(void **state)
{
	char *buf;
	const char *k, *v;

	assert_int_equal(cli_setting_parse("dns=192.0.2.1", &buf, &k, &v), 0);
	assert_string_equal(k, "dns");
	assert_string_equal(v, "192.0.2.1");
	free(buf);
	assert_int_equal(cli_setting_parse("opt=a=b", &buf, &k, &v), 0);
	assert_string_equal(k, "opt");
	assert_string_equal(v, "a=b");
	free(buf);
	assert_int_equal(cli_setting_parse("empty=", &buf, &k, &v), 0);
	assert_string_equal(v, "");
	free(buf);
	assert_int_equal(cli_setting_parse("novalue", &buf, &k, &v), -EINVAL);
	assert_int_equal(cli_setting_parse("=v", &buf, &k, &v), -EINVAL);
}

static void check_url(const char *in, int want, const char *out)
{
	char buf[256];

	assert_int_equal(cli_url_normalize(in, buf, sizeof(buf)), want);
	if (want == 0)
		assert_string_equal(buf, out);
}

static void test_url_normalize(void **state)
{
	char small[12];

	check_url("http://127.0.0.1:5240", 0, "http://127.0.0.1:5240");
	check_url("127.0.0.1:5240", 0, "http://127.0.0.1:5240");
	check_url("  https://region.example/ ", 0, "https://region.example");
	check_url("HTTP://r:1/api/v1/", 0, "HTTP://r:1");
	check_url("http://r/prefix/api/v1", 0, "http://r/prefix");
	check_url("http://[::1]:5240//", 0, "http://[::1]:5240");
	check_url("ftp://r", -EINVAL, NULL);
	check_url("file:///etc/passwd", -EINVAL, NULL);
	check_url("http://", -EINVAL, NULL);
	check_url("https:///", -EINVAL, NULL);
	check_url("", -EINVAL, NULL);
	check_url("/api/v1", -EINVAL, NULL);
	assert_int_equal(cli_url_normalize("http://a-long-host:5240", small, sizeof(small)), -ENOSPC);
}

static char *table_render(const struct cli_table *t)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(cli_table_print(t, f), 0);
	fclose(f);
	return text;
}

static void test_table_layout(void **state)
{
	static const char *const hdr[] = {"ID", "HOSTNAME", "STATUS"};
	const char *r1[] = {"rack-1", "h", "connected"};
	const char *r2[] = {"r2", "long-hostname", NULL};
	struct cli_table t;
	size_t w[3];

	assert_int_equal(cli_table_init(&t, hdr, 3), 0);
	cli_table_add(&t, r1);
	cli_table_add(&t, r2);
	cli_table_widths(&t, w);
	assert_int_equal(w[0], 6);
	assert_int_equal(w[1], 13);
	assert_int_equal(w[2], 9);
	char *text = table_render(&t);
	assert_string_equal(text, "ID      HOSTNAME       STATUS\n"
				  "rack-1  h              connected\n"
				  "r2      long-hostname  -\n");
	free(text);
	cli_table_done(&t);
}

static void test_table_utf8_and_sanitize(void **state)
{
	const char *r1[] = {"h\xc3\xa9llo", "x"};
	const char *r2[] = {"\x1b[31mred", "y"};
	struct cli_table t;
	size_t w[2];

	assert_int_equal(cli_text_width("h\xc3\xa9llo"), 5);
	assert_int_equal(cli_text_width(""), 0);
	assert_int_equal(cli_table_init(&t, NULL, 2), 0);
	cli_table_add(&t, r1);
	cli_table_add(&t, r2);
	cli_table_widths(&t, w);
	assert_int_equal(w[0], 8); /* "?[31mred" */
	char *text = table_render(&t);
	assert_string_equal(text, "h\xc3\xa9llo     x\n"
				  "?[31mred  y\n");
	free(text);
	cli_table_done(&t);
	assert_int_equal(cli_table_init(&t, NULL, 0), -EINVAL);
}

static void test_rfc3339_parse(void **state)
{
	int64_t ms;

	assert_int_equal(cli_rfc3339_parse("1970-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(cli_rfc3339_parse("2024-05-01T12:00:00.123Z", &ms), 0);
	assert_int_equal(ms, 1714564800123LL);
	assert_int_equal(cli_rfc3339_parse("2024-05-01T12:00:00.1234567Z", &ms), 0);
	assert_int_equal(ms, 1714564800123LL);
	assert_int_equal(cli_rfc3339_parse("2024-05-01T14:00:00+02:00", &ms), 0);
	assert_int_equal(ms, 1714564800000LL);
	assert_int_equal(cli_rfc3339_parse("2024-05-01T07:30:00-04:30", &ms), 0);
	assert_int_equal(ms, 1714564800000LL);
	assert_int_equal(cli_rfc3339_parse("2024-05-01T12:00:00", &ms), -EINVAL);
	assert_int_equal(cli_rfc3339_parse("2024-05-01T12:00:00.Z", &ms), -EINVAL);
	assert_int_equal(cli_rfc3339_parse("2024-13-01T12:00:00Z", &ms), -EINVAL);
	assert_int_equal(cli_rfc3339_parse("2024-05-01X12:00:00Z", &ms), -EINVAL);
	assert_int_equal(cli_rfc3339_parse("2024-05-01T12:00:00Zjunk", &ms), -EINVAL);
	assert_int_equal(cli_rfc3339_parse("yesterday", &ms), -EINVAL);
	assert_int_equal(cli_rfc3339_parse("", &ms), -EINVAL);
}

static void check_rel(int64_t diff_ms, const char *want)
{
	char buf[32];
	const int64_t now = 1714564800000LL;

	cli_reltime_format(now, now - diff_ms, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_reltime(void **state)
{
	check_rel(0, "0s ago");
	check_rel(999, "0s ago");
	check_rel(3000, "3s ago");
	check_rel(59999, "59s ago");
	check_rel(60000, "1m ago");
	check_rel(3599000, "59m ago");
	check_rel(3600000, "1h ago");
	check_rel(47 * 3600000LL, "47h ago");
	check_rel(48 * 3600000LL, "2d ago");
	check_rel(400 * 86400000LL, "400d ago");
	/* small skew reads as now; more is shown as the future it is */
	check_rel(-500, "0s ago");
	check_rel(-5000, "in 5s");
	check_rel(-7200000, "in 2h");
}

static void test_last_seen(void **state)
{
	char buf[32];
	json_t *s = json_string("2024-05-01T12:00:00.000Z"), *bad = json_string("soon"), *null = json_null();

	cli_last_seen_format(s, 1714564803000LL, buf, sizeof(buf));
	assert_string_equal(buf, "3s ago");
	cli_last_seen_format(null, 0, buf, sizeof(buf));
	assert_string_equal(buf, "never");
	cli_last_seen_format(NULL, 0, buf, sizeof(buf));
	assert_string_equal(buf, "never");
	cli_last_seen_format(bad, 0, buf, sizeof(buf));
	assert_string_equal(buf, "?");
	json_decref(s);
	json_decref(bad);
	json_decref(null);
}

static void test_ifaces_format(void **state)
{
	json_t *ifs = json_loads("[{\"name\":\"eth0\",\"mac\":\"02:00:00:00:00:01\",\"vlan\":0,"
				 "\"addresses\":[\"192.0.2.10/24\",\"2001:db8::a/64\"]},"
				 "{\"name\":\"eth1\",\"mac\":\"02:00:00:00:00:02\",\"vlan\":20,\"addresses\":[]}]",
				 0, NULL);
	json_t *empty = json_array();
	char buf[256], small[24];

	assert_non_null(ifs);
	cli_ifaces_format(ifs, buf, sizeof(buf));
	assert_string_equal(buf, "eth0 02:00:00:00:00:01 192.0.2.10/24,2001:db8::a/64; eth1 02:00:00:00:00:02 vlan 20");
	cli_ifaces_format(empty, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	cli_ifaces_format(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	/* too long: cut, and marked as cut */
	cli_ifaces_format(ifs, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_string_equal(small + strlen(small) - 3, "...");
	json_decref(ifs);
	json_decref(empty);
}

static void test_config_format(void **state)
{
	json_t *r = json_pack("{s:I, s:I}", "config_version", (json_int_t)3, "acked_config_version", (json_int_t)2);
	json_t *none = json_pack("{s:I, s:I}", "config_version", (json_int_t)0, "acked_config_version", (json_int_t)0);
	char buf[32];

	cli_config_format(r, buf, sizeof(buf));
	assert_string_equal(buf, "2/3");
	cli_config_format(none, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	json_decref(r);
	json_decref(none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_args_options_anywhere),
	    cmocka_unit_test(test_args_timeout),
	    cmocka_unit_test(test_args_errors_and_words),
	    cmocka_unit_test(test_setting_parse),
	    cmocka_unit_test(test_url_normalize),
	    cmocka_unit_test(test_table_layout),
	    cmocka_unit_test(test_table_utf8_and_sanitize),
	    cmocka_unit_test(test_rfc3339_parse),
	    cmocka_unit_test(test_reltime),
	    cmocka_unit_test(test_last_seen),
	    cmocka_unit_test(test_ifaces_format),
	    cmocka_unit_test(test_config_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
