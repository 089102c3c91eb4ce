/* `ironrack machines deploy HOST --image NAME [--user-data FILE]
 * [--ssh-key KEY]... [--wait [--timeout S]]` and `machines release HOST
 * [--erase quick|full] [--wait]`: the request, then (with --wait) the
 * machine polled until it leaves DEPLOYING or RELEASING. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "region/cli/commands.h"
#include "region/cli/deploy_cli.h"
#include "region/cli/machines_cli.h"
#include "region/cli/net_cli.h"

#define PATH_LEN 2048

static int usage(const char *msg)
{
	fprintf(stderr, "error: %s\n", msg);
	return CLI_EXIT_USAGE;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
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

static json_t *answer_machine(const struct cli *cli, const struct cli_resp *resp)
{
	if (!json_is_string(json_object_get(resp->json, "status"))) {
		fprintf(stderr, "error: the region at %s answered without the machine's status\n", cli->target.url);
		return NULL;
	}
	return json_incref(resp->json);
}

/* Poll the machine while it is in status, until wait_ms after start_ms;
 * *m is replaced by each answer. */
static int wait_while(struct cli *cli, const char *host, const char *status, int64_t wait_ms, int64_t start_ms,
		      json_t **m)
{
	char path[PATH_LEN];

	if (cli_machines_path(host, "", cli_path_escape, path, sizeof(path)) < 0)
		return usage("the machine's name is too long");
	for (unsigned n = 0; cli_machine_is(*m, status); n++) {
		int64_t left = start_ms + wait_ms - clock_mono_ms();
		if (left <= 0) {
			fprintf(stderr,
				"error: %s: still %s after %lld s (it goes on; see 'ironrack machines show %s')\n",
				host, status, (long long)(wait_ms / 1000), host);
			return CLI_EXIT_FAIL;
		}
		int64_t d = cli_machines_poll_delay_ms(n);
		sleep_ms(d < left ? d : left);
		struct cli_resp resp;
		int rc = cli_net_request(cli, "GET", path, NULL, &resp);
		if (rc != CLI_EXIT_OK) {
			fprintf(stderr, "error: stopped waiting for %s (see 'ironrack machines show %s')\n", host,
				host);
			return rc;
		}
		json_t *next = answer_machine(cli, &resp);
		cli_resp_done(&resp);
		if (!next)
			return CLI_EXIT_FAIL;
		json_decref(*m);
		*m = next;
	}
	return CLI_EXIT_OK;
}

/* POST body to /machines/HOST/action; with --wait, wait while the machine
 * is `during` and succeed only when it ends `goal`. */
static int run(struct cli *cli, const char *host, const char *action, json_t *body, int64_t wait_ms, const char *during,
	       const char *goal)
{
	char path[PATH_LEN], tail[32], line[1024];
	struct cli_resp resp;

	snprintf(tail, sizeof(tail), "/%s", action);
	if (cli_machines_path(host, tail, cli_path_escape, path, sizeof(path)) < 0) {
		json_decref(body);
		return usage("the machine's name is too long");
	}
	int64_t start = clock_mono_ms();
	int rc = cli_net_request(cli, "POST", path, body, &resp);
	json_decref(body);
	if (rc != CLI_EXIT_OK)
		return rc;
	json_t *m = answer_machine(cli, &resp);
	cli_resp_done(&resp);
	if (!m)
		return CLI_EXIT_FAIL;
	bool json = cli->args->given & CLI_OPT_JSON;
	if (wait_ms) {
		if (!json) {
			cli_machines_status_line(m, line, sizeof(line));
			printf("%s\n", line);
			fflush(stdout);
		}
		rc = wait_while(cli, host, during, wait_ms, start, &m);
	}
	if (rc == CLI_EXIT_OK) {
		bool good = !wait_ms || cli_machine_is(m, goal);
		if (json) {
			cli_net_json_print(m);
		} else {
			cli_machines_status_line(m, line, sizeof(line));
			fprintf(good ? stdout : stderr, "%s%s\n", good ? "" : "error: ", line);
		}
		rc = good ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	}
	json_decref(m);
	return rc;
}

int cli_cmd_machines_deploy(struct cli *cli, char **argv, size_t argc)
{
	char err[256], *user_data = NULL;
	size_t len = 0;
	int64_t wait_ms;
	json_t *body;

	if (cli_deploy_wait_parse(cli->args, &wait_ms, err, sizeof(err)) < 0)
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
	return run(cli, argv[0], "deploy", body, wait_ms, "DEPLOYING", "DEPLOYED");
}

int cli_cmd_machines_release(struct cli *cli, char **argv, size_t argc)
{
	char err[256];
	int64_t wait_ms;
	json_t *body;

	if (cli_deploy_wait_parse(cli->args, &wait_ms, err, sizeof(err)) < 0 ||
	    cli_release_body(cli->args, &body, err, sizeof(err)) < 0)
		return usage(err);
	return run(cli, argv[0], "release", body, wait_ms, "RELEASING", "READY");
}
