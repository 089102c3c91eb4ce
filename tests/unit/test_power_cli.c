/* Unit tests for the power commands' pure text handling
 * (region/cli/power_format.c): options to requests, paths, the poll
 * schedule, action lines, the status and event tables, the machine view
 * of `machines show` and power_* words to JSON. region/cli/ is its own
 * binary, so the files under test are included here directly. */
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
#include "region/cli/net_format.c"
#include "region/cli/power_format.c"
#include "region/cli/table.c"

#define ARGC(a) ((int)(sizeof(a) / sizeof(a[0])))

/* Parse argv as main does and check the options for action. */
static int req_parse(int argc, char **argv, const char *action, struct cli_power_req *r, char *err, size_t errlen)
{
	struct cli_args a;

	assert_int_equal(cli_args_parse(argc, argv, &a, err, errlen), 0);
	int rc = cli_power_req_parse(action, &a, r, err, errlen);
	cli_args_done(&a);
	return rc;
}

static char *fake_escape(const char *s)
{
	char *out = malloc(3 * strlen(s) + 1), *o = out;

	for (; *s; s++)
		o += (*s == '/' || *s == ' ') ? sprintf(o, "%%%02X", (unsigned char)*s) : sprintf(o, "%c", *s);
	*o = '\0';
	return out;
}

static char *render(int (*print)(const json_t *, FILE *), const json_t *j)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(print(j, f), 0);
	fclose(f);
	return text;
}

static int64_t at(const char *rfc3339)
{
	int64_t ms;

	assert_int_equal(cli_rfc3339_parse(rfc3339, &ms), 0);
	return ms;
}

static void test_action_words(void **state)
{
	assert_string_equal(cli_power_action_of("power-on"), "on");
	assert_string_equal(cli_power_action_of("power-off"), "off");
	assert_string_equal(cli_power_action_of("power-cycle"), "cycle");
	assert_string_equal(cli_power_action_of("power-query"), "query");
	assert_null(cli_power_action_of("power"));
	assert_null(cli_power_action_of("power-onn"));
}

static void test_req_options(void **state)
{
	char *full[] = {"ironrack",  "machines", "power-cycle", "n",   "--wait",
			"--timeout", "30",	 "--boot",	"pxe", "--boot-persistent"};
	char *plain[] = {"ironrack", "machines", "power-on", "n", "--wait"};
	struct cli_power_req r;
	char err[160];

	assert_int_equal(req_parse(ARGC(full), full, "cycle", &r, err, sizeof(err)), 0);
	assert_true(r.wait);
	assert_int_equal(r.timeout_ms, 30000);
	assert_string_equal(r.boot, "pxe");
	assert_true(r.boot_persistent);
	assert_false(r.boot_efi);
	assert_int_equal(req_parse(ARGC(plain), plain, "on", &r, err, sizeof(err)), 0);
	assert_true(r.wait);
	assert_int_equal(r.timeout_ms, 120000);
	assert_null(r.boot);
}

static void test_req_refusals(void **state)
{
	char *boot_off[] = {"ironrack", "--boot", "disk"};
	char *floppy[] = {"ironrack", "--boot=floppy"};
	char *efi_alone[] = {"ironrack", "--boot-efi"};
	char *no_wait[] = {"ironrack", "--timeout", "10"};
	char *too_long[] = {"ironrack", "--wait", "--timeout", "3601"};
	struct cli_power_req r;
	char err[160];

	assert_int_equal(req_parse(ARGC(boot_off), boot_off, "off", &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--boot applies to power-on and power-cycle only");
	assert_int_equal(req_parse(ARGC(boot_off), boot_off, "query", &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(req_parse(ARGC(boot_off), boot_off, "on", &r, err, sizeof(err)), 0);
	assert_int_equal(req_parse(ARGC(floppy), floppy, "on", &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--boot wants pxe or disk, not \"floppy\"");
	assert_int_equal(req_parse(ARGC(efi_alone), efi_alone, "on", &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--boot-efi needs --boot pxe|disk");
	assert_int_equal(req_parse(ARGC(no_wait), no_wait, "on", &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--timeout needs --wait"));
	assert_int_equal(req_parse(ARGC(too_long), too_long, "on", &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--timeout with --wait wants seconds from 1 to 3600, not \"3601\"");
}

static void test_req_body(void **state)
{
	struct cli_power_req r = {.action = "cycle", .boot = "pxe", .boot_efi = true};
	json_t *body = cli_power_req_body(&r);
	char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);

	assert_string_equal(text,
			    "{\"action\":\"cycle\",\"boot\":\"pxe\",\"boot_efi\":true,\"boot_persistent\":false}");
	free(text);
	json_decref(body);
	r = (struct cli_power_req){.action = "query", .wait = true};
	body = cli_power_req_body(&r);
	text = json_dumps(body, JSON_COMPACT);
	assert_string_equal(text, "{\"action\":\"query\"}");
	free(text);
	json_decref(body);
}

static void test_paths(void **state)
{
	char buf[128], small[24], err[128];
	char *none[] = {"ironrack"};
	char *fifty[] = {"ironrack", "--limit", "50"};
	char *zero[] = {"ironrack", "--limit=0"};
	char *junk[] = {"ironrack", "--limit=5x"};
	struct cli_args a;

	assert_int_equal(cli_power_path("node-3", "", fake_escape, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/api/v1/machines/node-3/power");
	assert_int_equal(cli_power_path("12", "/actions/17", fake_escape, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/api/v1/machines/12/power/actions/17");
	assert_int_equal(cli_power_path("a b/c", "", fake_escape, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/api/v1/machines/a%20b%2Fc/power");
	assert_int_equal(cli_power_path("node-3", "", fake_escape, small, sizeof(small)), -ENOSPC);

	assert_int_equal(cli_args_parse(ARGC(none), none, &a, err, sizeof(err)), 0);
	assert_int_equal(cli_power_events_path("node-3", &a, fake_escape, buf, sizeof(buf), err, sizeof(err)), 0);
	assert_string_equal(buf, "/api/v1/machines/node-3/events");
	cli_args_done(&a);
	assert_int_equal(cli_args_parse(ARGC(fifty), fifty, &a, err, sizeof(err)), 0);
	assert_int_equal(cli_power_events_path("node-3", &a, fake_escape, buf, sizeof(buf), err, sizeof(err)), 0);
	assert_string_equal(buf, "/api/v1/machines/node-3/events?limit=50");
	cli_args_done(&a);
	assert_int_equal(cli_args_parse(ARGC(zero), zero, &a, err, sizeof(err)), 0);
	assert_int_equal(cli_power_events_path("n", &a, fake_escape, buf, sizeof(buf), err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--limit wants a number from 1 to 1000, not \"0\"");
	cli_args_done(&a);
	assert_int_equal(cli_args_parse(ARGC(junk), junk, &a, err, sizeof(err)), 0);
	assert_int_equal(cli_power_events_path("n", &a, fake_escape, buf, sizeof(buf), err, sizeof(err)), -EINVAL);
	cli_args_done(&a);
}

static void test_poll_delay(void **state)
{
	const int64_t want[] = {200, 300, 450, 675, 1000, 1000};

	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(cli_power_poll_delay_ms(i), want[i]);
	assert_int_equal(cli_power_poll_delay_ms(100000), 1000);
}

static void check_action(const char *json, bool with_machine, int64_t elapsed_ms, enum cli_power_outcome o,
			 int exit_status, const char *want)
{
	json_t *a = json_loads(json, 0, NULL);
	char buf[256];

	assert_non_null(a);
	assert_int_equal(cli_power_action_outcome(a), o);
	assert_int_equal(cli_power_outcome_exit(o), exit_status);
	cli_power_action_format(a, with_machine, elapsed_ms, buf, sizeof(buf));
	assert_string_equal(buf, want);
	json_decref(a);
}

static void test_action_lines(void **state)
{
	check_action(
	    "{\"id\": 17, \"machine\": \"node-3\", \"action\": \"cycle\", \"boot\": \"pxe\", \"rack\": \"rack-1\","
	    " \"status\": \"pending\", \"finished\": null}",
	    true, -1, CLI_POWER_PENDING, CLI_EXIT_FAIL,
	    "node-3: power cycle, boot pxe: queued (action 17, rack rack-1)");
	check_action("{\"id\": 18, \"machine\": \"node-3\", \"action\": \"on\", \"boot\": \"\", \"rack\": null,"
		     " \"status\": \"pending\"}",
		     true, -1, CLI_POWER_PENDING, CLI_EXIT_FAIL, "node-3: power on: queued (action 18)");
	/* The region's timestamps win over the local measure. */
	check_action(
	    "{\"id\": 17, \"machine\": \"node-3\", \"action\": \"on\", \"status\": \"done\", \"state\": \"on\","
	    " \"requested\": \"2024-05-01T12:00:00.100Z\", \"finished\": \"2024-05-01T12:00:05.300Z\"}",
	    true, 9999, CLI_POWER_DONE, CLI_EXIT_OK, "node-3: power on: done (state on) in 5.2 s");
	check_action("{\"id\": 19, \"machine\": \"node-3\", \"action\": \"query\", \"status\": \"done\","
		     " \"state\": \"off\", \"finished\": null}",
		     true, 420, CLI_POWER_DONE, CLI_EXIT_OK, "node-3: power query: done (state off) in 0.4 s");
	check_action(
	    "{\"id\": 20, \"machine\": \"node-3\", \"action\": \"off\", \"status\": \"done\", \"state\": \"\"}", false,
	    -1, CLI_POWER_DONE, CLI_EXIT_OK, "power off: done");
	check_action("{\"id\": 21, \"machine\": \"node-3\", \"action\": \"on\", \"status\": \"failed\","
		     " \"message\": \"BMC 10.0.0.5: password invalid\"}",
		     true, 3000, CLI_POWER_FAILED, CLI_EXIT_FAIL,
		     "node-3: power on: failed: BMC 10.0.0.5: password invalid");
	/* A message from the BMC cannot drive the terminal. */
	check_action("{\"id\": 22, \"machine\": \"n\", \"action\": \"on\", \"status\": \"failed\","
		     " \"message\": \"bad\\u001b[31m\\nthing\"}",
		     true, -1, CLI_POWER_FAILED, CLI_EXIT_FAIL, "n: power on: failed: bad?[31m?thing");
	check_action("{\"id\": 23, \"machine\": \"n\", \"action\": \"on\", \"status\": \"what\"}", true, -1,
		     CLI_POWER_FAILED, CLI_EXIT_FAIL, "n: power on: failed: (the region gave no reason)");
	check_action(
	    "{\"id\": 24, \"machine\": \"n\", \"action\": \"on\", \"status\": \"failed\", \"needs_person\": true,"
	    " \"message\": \"manual: switch n on by hand\"}",
	    true, -1, CLI_POWER_NEEDS_PERSON, CLI_EXIT_FAIL,
	    "n: power on: needs a person: manual: switch n on by hand");
	/* A line that does not fit is cut, still terminated. */
	json_t *a = json_pack("{s:s, s:s, s:s, s:s}", "machine", "node-3", "action", "on", "status", "failed",
			      "message", "a long reason");
	char small[16];
	cli_power_action_format(a, true, -1, small, sizeof(small));
	assert_string_equal(small, "node-3: power o");
	json_decref(a);
}

static int status_print_at_noon(const json_t *st, FILE *f)
{
	return cli_power_status_print(st, at("2024-05-01T12:05:00Z"), f);
}

static void test_status(void **state)
{
	json_t *st =
	    json_loads("{\"machine\": \"node-3\", \"power_type\": \"ipmi\", \"state\": \"on\","
		       " \"state_at\": \"2024-05-01T12:04:30Z\", \"error\": \"\", \"rack\": \"rack-1\","
		       " \"last_action\": {\"id\": 17, \"machine\": \"node-3\", \"action\": \"on\", \"boot\": \"\","
		       " \"requested_by\": \"admin\", \"requested\": \"2024-05-01T12:00:00Z\", \"rack\": \"rack-1\","
		       " \"status\": \"done\", \"state\": \"on\", \"message\": \"\", \"needs_person\": false,"
		       " \"finished\": \"2024-05-01T12:00:05.200Z\"}}",
		       0, NULL);
	char *text = render(status_print_at_noon, st);

	assert_string_equal(text, "Machine:      node-3\n"
				  "Power type:   ipmi\n"
				  "State:        on (checked 30s ago)\n"
				  "Error:        -\n"
				  "Rack:         rack-1\n"
				  "Last action:  power on: done (state on) in 5.2 s\n"
				  "Requested:    5m ago by admin (action 17)\n");
	free(text);
	json_decref(st);

	st = json_loads("{\"machine\": \"node-4\", \"power_type\": \"\", \"state\": \"unknown\", \"state_at\": null,"
			" \"error\": \"no rack reaches 10.9.0.0/24\", \"rack\": null, \"last_action\": null}",
			0, NULL);
	text = render(status_print_at_noon, st);
	assert_string_equal(text, "Machine:      node-4\n"
				  "Power type:   none\n"
				  "State:        unknown (never checked)\n"
				  "Error:        no rack reaches 10.9.0.0/24\n"
				  "Rack:         -\n"
				  "Last action:  none\n");
	free(text);
	json_decref(st);
}

static void test_events(void **state)
{
	json_t *ev = json_loads("[{\"id\": 1, \"at\": \"2024-05-01T12:00:00Z\", \"kind\": \"power.requested\","
				" \"actor\": \"admin\", \"description\": \"power on\", \"action_id\": 17},"
				" {\"id\": 2, \"at\": \"2024-05-01T12:00:05Z\", \"kind\": \"power.state\","
				" \"actor\": \"rack-1\", \"description\": \"off -> on\", \"action_id\": null}]",
				0, NULL);
	char *text = render(cli_power_events_print, ev);

	assert_string_equal(text, "ID  AT                    KIND             ACTOR   ACTION  DESCRIPTION\n"
				  "1   2024-05-01T12:00:00Z  power.requested  admin   17      power on\n"
				  "2   2024-05-01T12:00:05Z  power.state      rack-1  -       off -> on\n");
	free(text);
	json_decref(ev);
}

static int object_print(const json_t *o, FILE *f)
{
	return cli_net_object_print(o, 0, f);
}

static void test_machine_view(void **state)
{
	json_t *m = json_loads("{\"id\": 3, \"hostname\": \"node-3\", \"power_type\": \"ipmi\","
			       " \"power_address\": \"10.0.0.5\", \"power_user\": \"admin\", \"power_pass_set\": true,"
			       " \"power_pass\": \"leaked\","
			       " \"power_options\": {\"cipher_suite\": \"17\", \"workarounds\": \"opensesspriv\"},"
			       " \"power_state\": \"on\", \"power_state_at\": \"2024-05-01T12:04:00Z\","
			       " \"power_error\": \"\", \"power_rack\": null}",
			       0, NULL);
	json_t *v = cli_power_machine_view(m, at("2024-05-01T12:05:00Z"));

	/* The original is untouched; the view has no password. */
	assert_string_equal(json_string_value(json_object_get(m, "power_pass")), "leaked");
	assert_null(json_object_get(v, "power_pass"));
	char *text = render(object_print, v);
	assert_null(strstr(text, "leaked"));
	assert_non_null(strstr(text, "power_options:   cipher_suite=17, workarounds=opensesspriv\n"));
	assert_non_null(strstr(text, "power_pass_set:  yes\n"));
	assert_non_null(strstr(text, "power_state_at:  2024-05-01T12:04:00Z (1m ago)\n"));
	assert_non_null(strstr(text, "power_rack:      -\n"));
	/* Fields keep the region's order. */
	assert_true(strstr(text, "power_address:") < strstr(text, "power_options:"));
	free(text);
	json_decref(v);
	json_object_set_new(m, "power_options", json_object());
	v = cli_power_machine_view(m, 0);
	assert_string_equal(json_string_value(json_object_get(v, "power_options")), "-");
	json_decref(v);
	json_decref(m);
}

static int secret_calls;
static const char *secret_answer;
static int secret_rc;

static int fake_secret(const char *prompt, char *buf, size_t len)
{
	secret_calls++;
	assert_non_null(strstr(prompt, "power_pass"));
	snprintf(buf, len, "%s", secret_answer);
	return secret_rc;
}

/* power_* words and then the rest as `machines create|update` does. */
static int body_build(char **words, size_t n, json_t *body, char *err, size_t errlen)
{
	char *rest[16];
	size_t n_rest = 99;

	assert_true(n <= 16);
	int r = cli_power_body_add(body, words, n, fake_secret, rest, &n_rest, err, errlen);
	if (r < 0)
		return r;
	assert_true(n_rest <= n);
	return cli_net_body_add(body, rest, n_rest, "hostname", err, errlen);
}

static void test_power_words(void **state)
{
	char *words[] = {"node-3",	"power_type=ipmi",	 "power_address=10.0.0.5",
			 "zone=lab",	"power_cipher_suite=17", "power_verify_tls=false",
			 "power_user=", "power_pass=-"};
	json_t *body = json_object();
	char err[160];

	secret_calls = 0;
	secret_answer = "s3cret";
	secret_rc = 0;
	assert_int_equal(body_build(words, 8, body, err, sizeof(err)), 0);
	assert_int_equal(secret_calls, 1);
	char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	/* Numbers, booleans and "" stay strings; other words go their usual way. */
	assert_string_equal(text,
			    "{\"hostname\":\"node-3\",\"power_address\":\"10.0.0.5\",\"power_cipher_suite\":\"17\","
			    "\"power_pass\":\"s3cret\",\"power_type\":\"ipmi\",\"power_user\":\"\","
			    "\"power_verify_tls\":\"false\",\"zone\":\"lab\"}");
	free(text);
	json_decref(body);

	/* power_pass= clears the password: "" (cli_net_value would send null). */
	char *clear[] = {"power_pass="};
	body = json_object();
	assert_int_equal(body_build(clear, 1, body, err, sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(body, "power_pass")), "");
	json_decref(body);
}

static void test_power_word_refusals(void **state)
{
	char *twice[] = {"power_user=a", "power_user=b"};
	char *dash[] = {"power_pass=-"};
	char *odd[] = {"power_type"};
	json_t *body = json_object();
	char err[160];

	assert_int_equal(body_build(twice, 2, body, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "power_user given twice");
	json_decref(body);

	secret_rc = -ENODATA;
	secret_answer = "";
	body = json_object();
	assert_int_equal(body_build(dash, 1, body, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "power_pass=-: no password on standard input");
	assert_null(json_object_get(body, "power_pass"));
	json_decref(body);
	secret_rc = 0;
	body = json_object();
	assert_int_equal(body_build(dash, 1, body, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty password"));
	json_decref(body);
	secret_rc = -ENAMETOOLONG;
	secret_answer = "x";
	body = json_object();
	assert_int_equal(body_build(dash, 1, body, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer than 255 bytes"));
	json_decref(body);

	/* A power_ word without '=' is left for the usual rules (the bare
	 * word fills hostname once). */
	body = json_object();
	assert_int_equal(body_build(odd, 1, body, err, sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(body, "hostname")), "power_type");
	json_decref(body);
	char bad_utf8[] = "power_pass=\xff\xfe";
	char *bad[] = {bad_utf8};
	body = json_object();
	assert_int_equal(body_build(bad, 1, body, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "power_pass is not UTF-8 text");
	json_decref(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_action_words), cmocka_unit_test(test_req_options),
	    cmocka_unit_test(test_req_refusals), cmocka_unit_test(test_req_body),
	    cmocka_unit_test(test_paths),	 cmocka_unit_test(test_poll_delay),
	    cmocka_unit_test(test_action_lines), cmocka_unit_test(test_status),
	    cmocka_unit_test(test_events),	 cmocka_unit_test(test_machine_view),
	    cmocka_unit_test(test_power_words),	 cmocka_unit_test(test_power_word_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
