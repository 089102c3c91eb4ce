/* `ironrack machines deploy HOST --image NAME [--user-data FILE]
 * [--ssh-key KEY]... [--wait [--timeout S]]` and `machines release HOST
 * [--erase quick|full] [--wait]`: the request, then (with --wait) the
 * machine polled until it leaves DEPLOYING or RELEASING. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/cli/commands.h"
#include "region/cli/deploy_cli.h"
#include "region/cli/machines_cli.h"
#include "region/cli/net_cli.h"

static int usage(const char *msg)
{
	fprintf(stderr, "error: %s\n", msg);
	return CLI_EXIT_USAGE;
}

/* The file's bytes (malloc'd, NUL-terminated) in *ret: at most max + 1 are
 * read, so the caller sees one that is too large. "-" is standard input. */
static int file_read(const char *path, size_t max, char **ret, size_t *ret_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "error: --user-data %s: %s\n", path, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	char *buf = xmalloc(max + 2);
	size_t n = fread(buf, 1, max + 1, f);
	int failed = ferror(f);
	if (f != stdin)
		fclose(f);
	if (failed) {
		free(buf);
		fprintf(stderr, "error: --user-data %s: cannot read it\n", path);
		return CLI_EXIT_USAGE;
	}
	buf[n] = '\0';
	*ret = buf;
	*ret_len = n;
	return CLI_EXIT_OK;
}

int cli_cmd_machines_deploy(struct cli *cli, char **argv, size_t argc)
{
	char err[256], *user_data = NULL;
	size_t len = 0;
	int64_t wait_ms;
	json_t *body;

	if (cli_machines_wait_parse(cli->args, &wait_ms, err, sizeof(err)) < 0)
		return usage(err);
	const char *file = cli_opt_value(cli->args, CLI_OPT_USER_DATA);
	if ((cli->args->given & CLI_OPT_USER_DATA) && file) {
		int rc = file_read(file, CLI_DEPLOY_USER_DATA_MAX, &user_data, &len);
		if (rc != CLI_EXIT_OK)
			return rc;
	}
	int rc = cli_deploy_body(cli->args, user_data, len, &body, err, sizeof(err));
	free(user_data);
	if (rc < 0)
		return usage(err);
	return cli_machines_act(cli, argv[0], "deploy", body, wait_ms, "DEPLOYING", "DEPLOYED");
}

int cli_cmd_machines_release(struct cli *cli, char **argv, size_t argc)
{
	char err[256];
	int64_t wait_ms;
	json_t *body;

	if (cli_machines_wait_parse(cli->args, &wait_ms, err, sizeof(err)) < 0 ||
	    cli_release_body(cli->args, &body, err, sizeof(err)) < 0)
		return usage(err);
	return cli_machines_act(cli, argv[0], "release", body, wait_ms, "RELEASING", "READY");
}
