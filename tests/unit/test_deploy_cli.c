/* `ironrack machines deploy|release`: the options into request bodies
 * (region/cli/deploy_format.c) and repeated options kept in order
 * (region/cli/args.c). The pure CLI files are included here directly. */
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
#include "region/cli/deploy_format.c"
#include "region/cli/format.c"
#include "region/cli/machines_format.c"
#include "region/cli/table.c"

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

/* Parse argv, build the deploy body with user_data; the body's JSON (or
 * NULL) and err. */
static char *deploy_body(int argc, char **argv, const char *user_data, size_t len, int *rc, char *err)
{
	struct cli_args a;
	json_t *body = NULL;
	char *text = NULL;

	assert_int_equal(cli_args_parse(argc, argv, &a, err, 256), 0);
	*rc = cli_deploy_body(&a, user_data, len, &body, err, 256);
	if (*rc == 0)
		text = dump(body);
	json_decref(body);
	cli_args_done(&a);
	return text;
}

static void test_repeated_values(void **state)
{
	char *argv[] = {"ironrack", "--ssh-key", "k1",	    "machines", "--ssh-key=k2", "deploy",
			"--image",  "a",	 "--image", "b",	"--ssh-key",	"k3"};
	struct cli_args a;
	char err[256];
	const char *got[2];

	assert_int_equal(cli_args_parse(12, argv, &a, err, sizeof(err)), 0);
	assert_true(a.given & CLI_OPT_SSH_KEY);
	assert_int_equal(cli_opt_values(&a, CLI_OPT_SSH_KEY, got, 2), 3);
	assert_string_equal(got[0], "k1");
	assert_string_equal(got[1], "k2");
	assert_string_equal(cli_opt_value(&a, CLI_OPT_SSH_KEY), "k3");
	assert_string_equal(cli_opt_value(&a, CLI_OPT_IMAGE), "b"); /* the last one */
	assert_int_equal(cli_opt_values(&a, CLI_OPT_IMAGE, got, 2), 2);
	assert_int_equal(cli_opt_values(&a, CLI_OPT_ERASE, got, 2), 0);
	assert_int_equal(a.n_words, 2);
	cli_args_done(&a);
	assert_null(a.given_values);
	assert_int_equal(a.n_given_values, 0);
}

static void test_deploy_body(void **state)
{
	char err[256];
	int rc;

	char *full[] = {"ironrack",  "machines",	"deploy",    "n",
			"--image",   "debian-12",	"--ssh-key", "ssh-ed25519 AAA a@b",
			"--ssh-key", "ssh-rsa BBB c@d", "--comment", "web tier"};
	char *text = deploy_body(12, full, "#cloud-config\n", 14, &rc, err);
	assert_int_equal(rc, 0);
	assert_string_equal(text,
			    "{\"comment\":\"web tier\",\"image\":\"debian-12\",\"ssh_keys\":[\"ssh-ed25519 AAA a@b\","
			    "\"ssh-rsa BBB c@d\"],\"user_data\":\"#cloud-config\\n\"}");
	free(text);

	char *plain[] = {"ironrack", "machines", "deploy", "n", "--image", "img"};
	text = deploy_body(6, plain, NULL, 0, &rc, err);
	assert_string_equal(text, "{\"image\":\"img\"}");
	free(text);

	/* An empty user-data file is sent (as ""), not dropped. */
	text = deploy_body(6, plain, "", 0, &rc, err);
	assert_string_equal(text, "{\"image\":\"img\",\"user_data\":\"\"}");
	free(text);

	char *no_image[] = {"ironrack", "machines", "deploy", "n"};
	assert_null(deploy_body(4, no_image, NULL, 0, &rc, err));
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err, "--image NAME is required (ironrack images list shows them)");

	assert_null(deploy_body(6, plain, "a\0b", 3, &rc, err));
	assert_string_equal(err, "--user-data: the file is not UTF-8 text");
	assert_null(deploy_body(6, plain, "\xff\xfe", 2, &rc, err));
	assert_string_equal(err, "--user-data: the file is not UTF-8 text");
	static char big[CLI_DEPLOY_USER_DATA_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	assert_null(deploy_body(6, plain, big, CLI_DEPLOY_USER_DATA_MAX + 1, &rc, err));
	assert_string_equal(err, "--user-data: the file is larger than 65536 bytes");
	assert_non_null(text = deploy_body(6, plain, big, CLI_DEPLOY_USER_DATA_MAX, &rc, err));
	free(text);

	char *two_lines[] = {"ironrack", "machines", "deploy",	  "n",
			     "--image",	 "i",	     "--ssh-key", "ssh-rsa A\nssh-rsa B"};
	assert_null(deploy_body(8, two_lines, NULL, 0, &rc, err));
	assert_non_null(strstr(err, "--ssh-key: a key is one line"));
	char *empty_key[] = {"ironrack", "machines", "deploy", "n", "--image", "i", "--ssh-key", ""};
	assert_null(deploy_body(8, empty_key, NULL, 0, &rc, err));

	/* More keys than the region takes. */
	char *many[3 + 2 * (CLI_DEPLOY_SSH_KEYS_MAX + 1) + 2];
	int n = 0;
	many[n++] = "ironrack";
	many[n++] = "--image";
	many[n++] = "i";
	for (int i = 0; i <= CLI_DEPLOY_SSH_KEYS_MAX; i++) {
		many[n++] = "--ssh-key";
		many[n++] = "ssh-rsa K";
	}
	assert_null(deploy_body(n, many, NULL, 0, &rc, err));
	assert_string_equal(err, "--ssh-key: at most 32 keys");
	assert_non_null(text = deploy_body(n - 2, many, NULL, 0, &rc, err));
	free(text);
}

static void test_release_body_and_wait(void **state)
{
	struct cli_args a;
	json_t *body;
	char err[256], *text;
	int64_t wait_ms = -1;

	char *quick[] = {"ironrack", "machines", "release", "n", "--erase", "quick", "--comment", "bye"};
	assert_int_equal(cli_args_parse(8, quick, &a, err, sizeof(err)), 0);
	assert_int_equal(cli_release_body(&a, &body, err, sizeof(err)), 0);
	text = dump(body);
	assert_string_equal(text, "{\"comment\":\"bye\",\"erase\":\"quick\"}");
	free(text);
	json_decref(body);
	assert_int_equal(cli_machines_wait_parse(&a, &wait_ms, err, sizeof(err)), 0);
	assert_int_equal(wait_ms, 0);
	cli_args_done(&a);

	char *bad[] = {"ironrack", "machines", "release", "n", "--erase", "QUICK"};
	assert_int_equal(cli_args_parse(6, bad, &a, err, sizeof(err)), 0);
	assert_int_equal(cli_release_body(&a, &body, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--erase wants quick, full or none, not \"QUICK\"");
	cli_args_done(&a);

	char *plain[] = {"ironrack", "machines", "release", "n", "--wait", "--timeout", "90"};
	assert_int_equal(cli_args_parse(7, plain, &a, err, sizeof(err)), 0);
	assert_int_equal(cli_release_body(&a, &body, err, sizeof(err)), 0);
	text = dump(body);
	assert_string_equal(text, "{}");
	free(text);
	json_decref(body);
	assert_int_equal(cli_machines_wait_parse(&a, &wait_ms, err, sizeof(err)), 0);
	assert_int_equal(wait_ms, 90000);
	cli_args_done(&a);

	char *wait_default[] = {"ironrack", "--wait"};
	assert_int_equal(cli_args_parse(2, wait_default, &a, err, sizeof(err)), 0);
	assert_int_equal(cli_machines_wait_parse(&a, &wait_ms, err, sizeof(err)), 0);
	assert_int_equal(wait_ms, CLI_MACHINES_WAIT_DEFAULT_S * 1000LL);
	cli_args_done(&a);

	char *no_wait[] = {"ironrack", "--timeout", "90"};
	assert_int_equal(cli_args_parse(3, no_wait, &a, err, sizeof(err)), 0);
	assert_int_equal(cli_machines_wait_parse(&a, &wait_ms, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--timeout needs --wait (it bounds the wait)");
	cli_args_done(&a);

	char *too_long[] = {"ironrack", "--wait", "--timeout", "36001"};
	assert_int_equal(cli_args_parse(4, too_long, &a, err, sizeof(err)), 0);
	assert_int_equal(cli_machines_wait_parse(&a, &wait_ms, err, sizeof(err)), -EINVAL);
	cli_args_done(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_repeated_values),
	    cmocka_unit_test(test_deploy_body),
	    cmocka_unit_test(test_release_body_and_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
