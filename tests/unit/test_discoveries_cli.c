/* Unit tests for the discoveries commands' pure text handling
 * (region/cli/discoveries_format.c): the list path, the KNOWN cell, the
 * table of discoveries and of events, the claim's body and answer line,
 * and the --unknown option. region/cli/ is its own binary, so the files
 * under test are included here directly. */
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
#include "region/cli/discoveries_format.c"
#include "region/cli/format.c"
#include "region/cli/net_format.c"
#include "region/cli/table.c"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("bad JSON in the test: %s", e.text);
	return j;
}

static void test_path_and_option(void **state)
{
	(void)state;
	struct cli_args a;
	char err[128];
	char *argv[] = {"ironrack", "discoveries", "list", "--unknown", "--json"};

	assert_string_equal(cli_discoveries_path(false), "/api/v1/discoveries");
	assert_string_equal(cli_discoveries_path(true), "/api/v1/discoveries?unknown=true");
	assert_int_equal(cli_args_parse(5, argv, &a, err, sizeof(err)), 0);
	assert_true(a.given & CLI_OPT_UNKNOWN);
	assert_true(a.given & CLI_OPT_JSON);
	assert_int_equal(a.n_words, 2);
	cli_args_done(&a);
	/* --unknown takes no value: the next word stays a word. */
	char *argv2[] = {"ironrack", "--unknown", "discoveries", "list"};
	assert_int_equal(cli_args_parse(4, argv2, &a, err, sizeof(err)), 0);
	assert_int_equal(a.n_words, 2);
	assert_string_equal(a.words[0], "discoveries");
	cli_args_done(&a);
}

static void test_known_text(void **state)
{
	(void)state;
	char buf[128];
	json_t *d = parse("{\"known\": false, \"known_as\": null}");
	cli_discovery_known_text(d, buf, sizeof(buf));
	assert_string_equal(buf, "no");
	json_decref(d);
	d = parse("{\"known\": true, \"known_as\": \"device 'printer'\"}");
	cli_discovery_known_text(d, buf, sizeof(buf));
	assert_string_equal(buf, "device 'printer'");
	json_decref(d);
	/* Text from the region cannot drive the terminal. */
	d = parse("{\"known\": true, \"known_as\": \"a\\u001b[2Jb\"}");
	cli_discovery_known_text(d, buf, sizeof(buf));
	assert_string_equal(buf, "a?[2Jb");
	json_decref(d);
	d = parse("{\"known\": true}");
	cli_discovery_known_text(d, buf, sizeof(buf));
	assert_string_equal(buf, "yes");
	json_decref(d);
}

static void test_table(void **state)
{
	(void)state;
	json_t *list =
	    parse("[{\"ip\": \"10.44.0.2\", \"mac\": \"02:00:00:00:44:0b\", \"hostname\": \"labhost.local\","
		  " \"subnet_cidr\": \"10.44.0.0/24\", \"rack\": \"rack-ab\", \"interface\": \"eth0\","
		  " \"first_seen\": \"2026-01-01T00:00:00.000Z\", \"last_seen\": \"2026-01-01T00:55:00.000Z\","
		  " \"known\": false, \"known_as\": null},"
		  " {\"ip\": \"10.44.0.10\", \"mac\": \"02:00:00:00:44:0a\", \"hostname\": null,"
		  " \"subnet_cidr\": null, \"rack\": \"rack-ab\", \"interface\": \"eth0\","
		  " \"first_seen\": \"2026-01-01T00:00:00.000Z\", \"last_seen\": \"2026-01-01T00:59:58.000Z\","
		  " \"known\": true, \"known_as\": \"machine 'node-1' interface eth0\"}]");
	int64_t now;
	assert_int_equal(cli_rfc3339_parse("2026-01-01T01:00:00Z", &now), 0);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_int_equal(cli_discoveries_print(list, now, f), 0);
	fclose(f);
	char *l1 = strchr(text, '\n') + 1, *l2 = strchr(l1, '\n') + 1;
	assert_int_equal(strncmp(text, "IP", 2), 0);
	assert_non_null(strstr(text, "KNOWN"));
	assert_int_equal(strncmp(l1, "10.44.0.2 ", 10), 0);
	assert_non_null(strstr(l1, "labhost.local"));
	assert_non_null(strstr(l1, "10.44.0.0/24"));
	assert_non_null(strstr(l1, "5m ago"));
	assert_int_equal(strncmp(strchr(l1, '\n') - 3, " no", 3), 0);
	assert_non_null(strstr(l2, "machine 'node-1' interface eth0"));
	assert_non_null(strstr(l2, " - ")); /* no name, no subnet */
	free(text);
	json_decref(list);

	json_t *events =
	    parse("[{\"id\": 1, \"at\": \"2026-01-01T00:00:00.000Z\", \"kind\": \"conflict\","
		  " \"ip\": \"10.44.0.10\", \"mac\": \"02:00:00:00:44:aa\", \"old_mac\": \"02:00:00:00:44:0a\","
		  " \"description\": \"possible address conflict: 10.44.0.10\"}]");
	text = NULL;
	f = open_memstream(&text, &len);
	assert_int_equal(cli_discovery_events_print(events, f), 0);
	fclose(f);
	assert_non_null(strstr(text, "OLD MAC"));
	assert_non_null(strstr(text, "conflict"));
	assert_non_null(strstr(text, "02:00:00:00:44:0a"));
	assert_non_null(strstr(text, "possible address conflict: 10.44.0.10"));
	free(text);
	json_decref(events);
}

static void test_claim(void **state)
{
	(void)state;
	char line[256];
	json_t *b = cli_discoveries_claim_body("10.44.0.2", "labhost");
	char *text = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"hostname\":\"labhost\",\"ip\":\"10.44.0.2\"}");
	free(text);
	json_decref(b);
	json_t *ans = parse("{\"device\": 7, \"hostname\": \"labhost\", \"mac\": \"02:00:00:00:44:0b\","
			    " \"ip\": \"10.44.0.2\"}");
	cli_discoveries_claim_format(ans, line, sizeof(line));
	assert_string_equal(line, "labhost (02:00:00:00:44:0b) is device 7 with address 10.44.0.2");
	json_decref(ans);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path_and_option),
	    cmocka_unit_test(test_known_text),
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_claim),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
