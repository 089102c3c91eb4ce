/* The lifecycle commands: list machines with their state and hardware,
 * show one with its interfaces, links and latest events, and ask the
 * region to commission (and wait for the outcome), abort, mark broken or
 * mark fixed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "region/cli/commands.h"
#include "region/cli/machines_cli.h"
#include "region/cli/net_cli.h"

#define N(a)	 (sizeof(a) / sizeof((a)[0]))
#define PATH_LEN 2048
/* Events are read a page at a time (the API's largest) to find the
 * latest; a machine with more pages than this shows the latest of the
 * first ones read (power polls can write many). */
#define EVENTS_PAGE	 1000
#define EVENTS_PAGES_MAX 100

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

/* ---- list ---- */

int cli_cmd_machines_list(struct cli *cli, char **argv, size_t argc)
{
	static const struct {
		unsigned opt;
		const char *field;
	} filters[] = {{CLI_OPT_ZONE, "zone"}, {CLI_OPT_HOSTNAME, "hostname"}, {CLI_OPT_STATUS, "status"}};
	char **words = xcalloc(argc + N(filters), sizeof(char *));
	char query[1024], path[PATH_LEN], err[256];
	struct cli_resp resp;
	size_t n = 0;

	/* --status, --zone and --hostname as options, and the API's filters
	 * as words too (status=READY). */
	for (size_t i = 0; i < N(filters); i++) {
		const char *v = cli_opt_value(cli->args, filters[i].opt);
		if ((cli->args->given & filters[i].opt) && v)
			words[n++] = xasprintf("%s=%s", filters[i].field, v);
	}
	for (size_t i = 0; i < argc; i++)
		words[n++] = xstrdup(argv[i]);
	int r = cli_net_query(words, n, cli_path_escape, query, sizeof(query), err, sizeof(err));
	for (size_t i = 0; i < n; i++)
		free(words[i]);
	free(words);
	if (r < 0)
		return usage(err);
	snprintf(path, sizeof(path), "/api/v1/machines%s", query);
	int rc = cli_net_request(cli, "GET", path, NULL, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	const json_t *items = json_object_get(resp.json, "machines");
	if (cli->args->given & CLI_OPT_JSON) {
		rc = cli_net_json_print(resp.json);
	} else if (json_array_size(items) == 0) {
		printf("No machines.\n");
	} else {
		rc = cli_machines_list_print(items, stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
		json_int_t total = json_integer_value(json_object_get(resp.json, "total"));
		if (total > (json_int_t)json_array_size(items))
			printf("(%zu of %" JSON_INTEGER_FORMAT "; use offset=N and limit=N for more)\n",
			       json_array_size(items), total);
	}
	cli_resp_done(&resp);
	return rc;
}

/* ---- show ---- */

/* GET path and take member key of the answer (new reference) into
 * *ret. */
static int get_member(struct cli *cli, const char *path, const char *key, json_t **ret)
{
	struct cli_resp resp;
	int rc = cli_net_request(cli, "GET", path, NULL, &resp);

	if (rc != CLI_EXIT_OK)
		return rc;
	json_t *v = json_object_get(resp.json, key);
	if (!json_is_array(v)) {
		fprintf(stderr, "error: the region at %s answered %s without \"%s\"\n", cli->target.url, path, key);
		cli_resp_done(&resp);
		return CLI_EXIT_FAIL;
	}
	*ret = json_incref(v);
	cli_resp_done(&resp);
	return CLI_EXIT_OK;
}

/* The machine's latest CLI_MACHINES_SHOW_EVENTS events, oldest first:
 * the API pages from the oldest, so read on until a short page. */
static int events_latest(struct cli *cli, const char *host, json_t **ret)
{
	json_t *keep = json_array();
	json_int_t after = 0;
	char tail[96], path[PATH_LEN];

	for (unsigned page = 0; page < EVENTS_PAGES_MAX; page++) {
		json_t *events;
		snprintf(tail, sizeof(tail), "/events?limit=%d&after=%" JSON_INTEGER_FORMAT, EVENTS_PAGE, after);
		if (cli_machines_path(host, tail, cli_path_escape, path, sizeof(path)) < 0) {
			json_decref(keep);
			return usage("the machine's name is too long");
		}
		int rc = get_member(cli, path, "events", &events);
		if (rc != CLI_EXIT_OK) {
			json_decref(keep);
			return rc;
		}
		size_t n = json_array_size(events);
		json_array_extend(keep, events);
		while (json_array_size(keep) > CLI_MACHINES_SHOW_EVENTS)
			json_array_remove(keep, 0);
		if (n > 0)
			after = json_integer_value(json_object_get(json_array_get(events, n - 1), "id"));
		json_decref(events);
		if (n < EVENTS_PAGE || after <= 0)
			break;
	}
	*ret = keep;
	return CLI_EXIT_OK;
}

/* {"machine", "interfaces", "links", "events"} of host into *ret. */
static int show_fetch(struct cli *cli, const char *host, json_t **ret)
{
	char path[PATH_LEN], *esc;
	struct cli_resp resp;
	json_t *ifaces = NULL, *links = NULL, *events = NULL;

	if (cli_machines_path(host, "", cli_path_escape, path, sizeof(path)) < 0)
		return usage("the machine's name is too long");
	int rc = cli_net_request(cli, "GET", path, NULL, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	json_t *m = json_incref(resp.json);
	cli_resp_done(&resp);
	/* The rest by the name the region answered with (HOST may be an id). */
	const char *name = json_string_value(json_object_get(m, "hostname"));
	if (!name) {
		fprintf(stderr, "error: the region at %s answered without the machine's hostname\n", cli->target.url);
		json_decref(m);
		return CLI_EXIT_FAIL;
	}
	rc = cli_machines_path(name, "/interfaces?limit=1000", cli_path_escape, path, sizeof(path)) < 0
		 ? usage("the machine's name is too long")
		 : get_member(cli, path, "interfaces", &ifaces);
	if (rc == CLI_EXIT_OK) {
		esc = cli_path_escape(name);
		snprintf(path, sizeof(path), "/api/v1/ip-addresses?limit=1000&machine=%s", esc);
		free(esc);
		rc = get_member(cli, path, "ip_addresses", &links);
	}
	if (rc == CLI_EXIT_OK)
		rc = events_latest(cli, name, &events);
	if (rc == CLI_EXIT_OK)
		*ret = json_pack("{s:o, s:o, s:o, s:o}", "machine", m, "interfaces", ifaces, "links", links, "events",
				 events);
	else {
		json_decref(m);
		json_decref(ifaces);
		json_decref(links);
		json_decref(events);
	}
	if (rc == CLI_EXIT_OK && !*ret)
		oom_abort(0);
	return rc;
}

int cli_cmd_machines_show(struct cli *cli, char **argv, size_t argc)
{
	json_t *view;
	int rc = show_fetch(cli, argv[0], &view);

	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON)
		rc = cli_net_json_print(view);
	else
		rc = cli_machines_show_print(view, clock_real_ms(), stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	json_decref(view);
	return rc;
}

/* ---- commission, abort, mark-broken, mark-fixed ---- */

/* The machine object of an answer (new reference), or NULL with the
 * problem printed. */
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
int cli_machines_act(struct cli *cli, const char *host, const char *action, json_t *body, int64_t wait_ms,
		     const char *during, const char *goal)
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

static int action_run(struct cli *cli, const char *action, const char *host)
{
	char err[256];
	int64_t wait_ms;
	json_t *body;

	if (cli_machines_action_parse(action, cli->args, &wait_ms, &body, err, sizeof(err)) < 0)
		return usage(err);
	return cli_machines_act(cli, host, action, body, wait_ms, "COMMISSIONING", "READY");
}

int cli_cmd_machines_commission(struct cli *cli, char **argv, size_t argc)
{
	return action_run(cli, "commission", argv[0]);
}

int cli_cmd_machines_abort(struct cli *cli, char **argv, size_t argc)
{
	return action_run(cli, "abort", argv[0]);
}

int cli_cmd_machines_mark_broken(struct cli *cli, char **argv, size_t argc)
{
	return action_run(cli, "mark-broken", argv[0]);
}

int cli_cmd_machines_mark_fixed(struct cli *cli, char **argv, size_t argc)
{
	return action_run(cli, "mark-fixed", argv[0]);
}
