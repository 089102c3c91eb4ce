/* The power commands: ask the region to switch a machine's power (and
 * wait for the outcome), show its power status and its events; and read
 * a BMC password from standard input for power_pass=-. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "region/cli/commands.h"
#include "region/cli/net_cli.h"
#include "region/cli/power_cli.h"

#define PATH_LEN 2048

static int usage(const char *msg)
{
	fprintf(stderr, "error: %s\n", msg);
	return CLI_EXIT_USAGE;
}

/* ---- power_pass=- ---- */

/* The terminal's settings while its echo is off, for the signal handler
 * that puts them back (an interrupted prompt must not leave the terminal
 * silent). */
static struct termios tty_saved;

static void tty_restore_and_raise(int sig)
{
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

int cli_power_secret_read(const char *prompt, char *buf, size_t len)
{
	bool quiet = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tty_saved) == 0;
	void (*old_int)(int) = SIG_DFL, (*old_term)(int) = SIG_DFL;

	if (quiet) {
		struct termios t = tty_saved;
		t.c_lflag &= ~(tcflag_t)ECHO;
		t.c_lflag |= ECHONL;
		old_int = signal(SIGINT, tty_restore_and_raise);
		old_term = signal(SIGTERM, tty_restore_and_raise);
		fprintf(stderr, "%s: ", prompt);
		fflush(stderr);
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
	}
	char *line = fgets(buf, (int)len, stdin);
	if (quiet) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_saved);
		signal(SIGINT, old_int);
		signal(SIGTERM, old_term);
	}
	if (!line) {
		buf[0] = '\0';
		return -ENODATA;
	}
	size_t n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == len - 1) {
		/* The line did not fit: refuse it rather than cut it. */
		explicit_bzero(buf, len);
		return -ENAMETOOLONG;
	}
	buf[n] = '\0';
	return 0;
}

/* ---- power-on|off|cycle|query ---- */

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The "action" object of an answer (new reference), or NULL with the
 * problem printed. */
static json_t *answer_action(const struct cli *cli, const struct cli_resp *resp)
{
	json_t *a = json_object_get(resp->json, "action");

	if (!json_is_object(a) || !json_is_integer(json_object_get(a, "id"))) {
		fprintf(stderr, "error: the region at %s answered without an action\n", cli->target.url);
		return NULL;
	}
	return json_incref(a);
}

/* Poll GET .../power/actions/{id} until *act is no longer pending or
 * req->timeout_ms after start_ms. *act is replaced by each answer. */
static int action_wait(struct cli *cli, const char *host, const struct cli_power_req *req, json_t **act,
		       int64_t start_ms)
{
	char suffix[64], path[PATH_LEN];
	json_int_t id = json_integer_value(json_object_get(*act, "id"));

	snprintf(suffix, sizeof(suffix), "/actions/%" JSON_INTEGER_FORMAT, id);
	if (cli_power_path(host, suffix, cli_path_escape, path, sizeof(path)) < 0)
		return usage("the machine's name is too long");
	for (unsigned n = 0; cli_power_action_outcome(*act) == CLI_POWER_PENDING; n++) {
		int64_t left = start_ms + req->timeout_ms - clock_mono_ms();
		if (left <= 0) {
			fprintf(stderr,
				"error: %s: power %s: still pending after %lld s (action %" JSON_INTEGER_FORMAT
				"); see 'ironrack machines power %s'\n",
				host, req->action, (long long)(req->timeout_ms / 1000), id, host);
			return CLI_EXIT_FAIL;
		}
		int64_t d = cli_power_poll_delay_ms(n);
		sleep_ms(d < left ? d : left);
		struct cli_resp resp;
		int rc = cli_net_request(cli, "GET", path, NULL, &resp);
		if (rc != CLI_EXIT_OK) {
			fprintf(stderr,
				"error: stopped waiting for action %" JSON_INTEGER_FORMAT
				" (it may still finish; see 'ironrack machines power %s')\n",
				id, host);
			return rc;
		}
		json_t *next = answer_action(cli, &resp);
		cli_resp_done(&resp);
		if (!next)
			return CLI_EXIT_FAIL;
		json_decref(*act);
		*act = next;
	}
	return CLI_EXIT_OK;
}

/* The outcome: done on stdout, anything else on stderr. */
static int action_report(const json_t *act, int64_t elapsed_ms)
{
	enum cli_power_outcome o = cli_power_action_outcome(act);
	char line[700];

	cli_power_action_format(act, true, elapsed_ms, line, sizeof(line));
	if (o == CLI_POWER_DONE || o == CLI_POWER_PENDING)
		printf("%s\n", line);
	else
		fprintf(stderr, "%s%s\n", o == CLI_POWER_FAILED ? "error: " : "", line);
	/* Queued without --wait is what was asked for. */
	return o == CLI_POWER_PENDING ? CLI_EXIT_OK : cli_power_outcome_exit(o);
}

static int power_action_run(struct cli *cli, const char *action, const char *host)
{
	struct cli_power_req req;
	struct cli_resp resp;
	char err[256], path[PATH_LEN];

	if (cli_power_req_parse(action, cli->args, &req, err, sizeof(err)) < 0)
		return usage(err);
	if (cli_power_path(host, "", cli_path_escape, path, sizeof(path)) < 0)
		return usage("the machine's name is too long");
	json_t *body = cli_power_req_body(&req);
	int64_t start = clock_mono_ms();
	int rc = cli_net_request(cli, "POST", path, body, &resp);
	json_decref(body);
	if (rc != CLI_EXIT_OK)
		return rc;
	json_t *act = answer_action(cli, &resp);
	cli_resp_done(&resp);
	if (!act)
		return CLI_EXIT_FAIL;
	if (req.wait)
		rc = action_wait(cli, host, &req, &act, start);
	if (rc == CLI_EXIT_OK && (cli->args->given & CLI_OPT_JSON)) {
		json_t *out = json_pack("{s:O}", "action", act);
		cli_net_json_print(out);
		json_decref(out);
		rc = req.wait ? cli_power_outcome_exit(cli_power_action_outcome(act)) : CLI_EXIT_OK;
	} else if (rc == CLI_EXIT_OK) {
		rc = action_report(act, clock_mono_ms() - start);
	}
	json_decref(act);
	return rc;
}

int cli_cmd_machines_power_on(struct cli *cli, char **argv, size_t argc)
{
	return power_action_run(cli, "on", argv[0]);
}

int cli_cmd_machines_power_off(struct cli *cli, char **argv, size_t argc)
{
	return power_action_run(cli, "off", argv[0]);
}

int cli_cmd_machines_power_cycle(struct cli *cli, char **argv, size_t argc)
{
	return power_action_run(cli, "cycle", argv[0]);
}

int cli_cmd_machines_power_query(struct cli *cli, char **argv, size_t argc)
{
	return power_action_run(cli, "query", argv[0]);
}

/* ---- power, events ---- */

int cli_cmd_machines_power(struct cli *cli, char **argv, size_t argc)
{
	char path[PATH_LEN];
	struct cli_resp resp;

	if (cli_power_path(argv[0], "", cli_path_escape, path, sizeof(path)) < 0)
		return usage("the machine's name is too long");
	int rc = cli_net_request(cli, "GET", path, NULL, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON)
		rc = cli_net_json_print(resp.json);
	else
		rc = cli_power_status_print(resp.json, clock_real_ms(), stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	cli_resp_done(&resp);
	return rc;
}

int cli_cmd_machines_events(struct cli *cli, char **argv, size_t argc)
{
	char path[PATH_LEN], err[256];

	if (cli_power_events_path(argv[0], cli->args, cli_path_escape, path, sizeof(path), err, sizeof(err)) < 0)
		return usage(err);
	return cli_net_list(cli, path, "events", "No events.", cli_power_events_print);
}
