/* `ironrack infra ...`: the infrastructure editor from the command line.
 * Edits are staged; `plan` shows what `deploy` would do, `deploy` applies
 * it, `discard` drops the staged edits. Tables are drawn in infra_print.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/cli/commands.h"
#include "region/cli/infra.h"

#define INFRA_PATH "/api/v1/infrastructures"

/* INFRA_PATH + "/" + each segment %-escaped, joined by "/"; malloc'd. */
static char *infra_path(const char *const *segments, size_t n)
{
	size_t len = sizeof(INFRA_PATH);
	char **esc = xcalloc(n + 1, sizeof(*esc));

	for (size_t i = 0; i < n; i++) {
		esc[i] = cli_path_escape(segments[i]);
		len += strlen(esc[i]) + 1;
	}
	char *path = xmalloc(len);
	size_t used = (size_t)snprintf(path, len, "%s", INFRA_PATH);
	for (size_t i = 0; i < n; i++) {
		used += (size_t)snprintf(path + used, len - used, "/%s", esc[i]);
		free(esc[i]);
	}
	free(esc);
	return path;
}

/* METHOD path with body (stolen, may be NULL); the answer must be one of
 * the ok statuses and JSON. On success *resp is to be released. */
static int infra_request(struct cli *cli, const char *method, const char *const *segments, size_t n, json_t *body,
			 long ok, struct cli_resp *resp)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	char *path = infra_path(segments, n);
	int rc = cli_target_resolve(cli, true);

	json_decref(body);
	if (rc == CLI_EXIT_OK && body && !text)
		rc = CLI_EXIT_FAIL;
	if (rc == CLI_EXIT_OK && cli_request(&cli->target, method, path, text ? text : (body ? "{}" : NULL), resp) < 0)
		rc = CLI_EXIT_FAIL;
	free(text);
	free(path);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (resp->status != ok) {
		rc = cli_resp_error(&cli->target, resp);
		cli_resp_done(resp);
		return rc;
	}
	if (!resp->json) {
		fprintf(stderr, "error: the region at %s answered HTTP %ld without JSON\n", cli->target.url,
			resp->status);
		cli_resp_done(resp);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static bool want_json(const struct cli *cli)
{
	return cli->args->given & CLI_OPT_JSON;
}

static int json_out(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	return CLI_EXIT_OK;
}

/* A staged edit: send it, then confirm in one line (or print the JSON). */
static int stage(struct cli *cli, const char *method, const char *const *segments, size_t n, json_t *body, long ok,
		 const char *infra, const char *what)
{
	struct cli_resp resp;
	int rc = infra_request(cli, method, segments, n, body, ok, &resp);

	if (rc != CLI_EXIT_OK)
		return rc;
	if (want_json(cli))
		json_out(resp.json);
	else
		printf("staged: %s\nRun 'ironrack infra plan %s' to review, 'ironrack infra deploy %s' to apply.\n",
		       what, infra, infra);
	cli_resp_done(&resp);
	return CLI_EXIT_OK;
}

/* A decimal option value within [min, max]; -1 after saying why. */
static long opt_number(const struct cli *cli, uint64_t opt, long min, long max)
{
	const char *v = cli_opt_value(cli->args, opt);
	char *end;

	if (!v)
		return -1;
	long n = strtol(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || n < min || n > max) {
		fprintf(stderr, "error: %s wants a number from %ld to %ld, not \"%s\"\n", cli_opt_name(opt), min, max,
			v);
		return -2;
	}
	return n;
}

/* ---- infrastructures ---- */

int cli_cmd_infra_list(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	int rc = infra_request(cli, "GET", NULL, 0, NULL, 200, &resp);

	if (rc != CLI_EXIT_OK)
		return rc;
	const json_t *list = json_object_get(resp.json, "infrastructures");
	if (want_json(cli))
		rc = json_out(resp.json);
	else if (json_array_size(list) == 0)
		printf("No infrastructures.\n");
	else
		rc = cli_infra_list_print(list, stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	cli_resp_done(&resp);
	return rc;
}

int cli_cmd_infra_show(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	const char *seg[] = {argv[0]};
	int rc = infra_request(cli, "GET", seg, 1, NULL, 200, &resp);

	if (rc != CLI_EXIT_OK)
		return rc;
	if (want_json(cli))
		rc = json_out(resp.json);
	else
		rc = cli_infra_show_print(resp.json, stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	cli_resp_done(&resp);
	return rc;
}

/* "a,b , c" -> ["a","b","c"]; NULL after saying why. */
static json_t *list_json(const char *opt, const char *text)
{
	json_t *arr = json_array();
	const char *p = text;

	while (arr && *p) {
		size_t n = strcspn(p, ",");
		const char *s = p, *e = p + n;
		while (s < e && *s == ' ')
			s++;
		while (e > s && e[-1] == ' ')
			e--;
		if (e == s) {
			fprintf(stderr, "error: %s has an empty item\n", opt);
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, json_stringn(s, (size_t)(e - s)));
		p += n + (p[n] == ',');
	}
	return arr;
}

int cli_cmd_infra_create(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	json_t *body = json_pack("{s:s}", "name", argv[0]);
	const char *desc = cli_opt_value(cli->args, CLI_OPT_DESCRIPTION);
	const char *fabric = cli_opt_value(cli->args, CLI_OPT_FABRIC);
	const char *zone = cli_opt_value(cli->args, CLI_OPT_ZONE);
	const char *pools = cli_opt_value(cli->args, CLI_OPT_WAN_POOLS);

	if (body && desc)
		json_object_set_new(body, "description", json_string(desc));
	if (body && fabric)
		json_object_set_new(body, "fabric", json_string(fabric));
	if (body && zone)
		json_object_set_new(body, "zone", json_string(zone));
	if (body && pools) {
		json_t *arr = list_json("--wan-pools", pools);
		if (!arr) {
			json_decref(body);
			return CLI_EXIT_USAGE;
		}
		json_object_set_new(body, "wan_pools", arr);
	}
	int rc = infra_request(cli, "POST", NULL, 0, body, 201, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (want_json(cli))
		json_out(resp.json);
	else
		printf("created infrastructure %s\n", argv[0]);
	cli_resp_done(&resp);
	return CLI_EXIT_OK;
}

int cli_cmd_infra_delete(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	const char *seg[] = {argv[0]};
	int rc = infra_request(cli, "DELETE", seg, 1, NULL, 200, &resp);

	if (rc != CLI_EXIT_OK)
		return rc;
	if (want_json(cli))
		json_out(resp.json);
	else
		printf("deleted infrastructure %s\n", argv[0]);
	cli_resp_done(&resp);
	return CLI_EXIT_OK;
}

/* ---- instance arrays ---- */

#define ARRAY_USER_DATA_MAX (64 * 1024) /* bytes, as the region takes them */
#define ARRAY_SSH_KEYS_MAX  32

/* The --user-data file's text (NUL-terminated, malloc'd); NULL after
 * saying why. "-" is standard input. */
static char *user_data_read(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "error: --user-data %s: %s\n", path, strerror(errno));
		return NULL;
	}
	char *buf = xmalloc(ARRAY_USER_DATA_MAX + 2);
	size_t n = fread(buf, 1, ARRAY_USER_DATA_MAX + 1, f);
	int failed = ferror(f);
	if (f != stdin)
		fclose(f);
	buf[n] = '\0';
	const char *why = failed			 ? "cannot read it"
			  : n > ARRAY_USER_DATA_MAX	 ? "larger than 65536 bytes"
			  : memchr(buf, '\0', n) != NULL ? "not text"
							 : NULL;
	if (why) {
		fprintf(stderr, "error: --user-data %s: %s\n", path, why);
		free(buf);
		return NULL;
	}
	return buf;
}

/* The array's OS into body from --image NAME ("" = none), --user-data
 * FILE and --ssh-key KEY (repeated; --ssh-key "" alone clears them).
 * false after saying why; *any when one was given. */
static bool array_os(const struct cli *cli, json_t *body, bool *any)
{
	const char *keys[ARRAY_SSH_KEYS_MAX + 1];

	if (cli->args->given & CLI_OPT_IMAGE) {
		json_t *v = json_string(cli_opt_value(cli->args, CLI_OPT_IMAGE));
		if (!v) {
			fprintf(stderr, "error: --image is not UTF-8 text\n");
			return false;
		}
		json_object_set_new(body, "image", v);
		*any = true;
	}
	if (cli->args->given & CLI_OPT_USER_DATA) {
		char *text = user_data_read(cli_opt_value(cli->args, CLI_OPT_USER_DATA));
		json_t *v = text ? json_string(text) : NULL;
		free(text);
		if (!v) {
			if (text)
				fprintf(stderr, "error: --user-data: the file is not UTF-8 text\n");
			return false;
		}
		json_object_set_new(body, "user_data", v);
		*any = true;
	}
	size_t n = cli_opt_values(cli->args, CLI_OPT_SSH_KEY, keys, ARRAY_SSH_KEYS_MAX + 1);
	if (n > ARRAY_SSH_KEYS_MAX) {
		fprintf(stderr, "error: --ssh-key: at most %d keys\n", ARRAY_SSH_KEYS_MAX);
		return false;
	}
	if (n == 0)
		return true;
	json_t *arr = json_array();
	json_object_set_new(body, "ssh_keys", arr);
	*any = true;
	for (size_t i = 0; i < n; i++) {
		json_t *v = keys[i][0] ? json_string(keys[i]) : NULL;
		if (keys[i][0] && (!v || strpbrk(keys[i], "\r\n"))) {
			json_decref(v);
			fprintf(stderr, "error: --ssh-key: a key is one line of UTF-8 text\n");
			return false;
		}
		if (v && json_array_append_new(arr, v) < 0)
			oom_abort(0);
	}
	return true;
}

/* {"instance_count":N,"ports":N,"min_cpu":N,...} from --count, --ports,
 * --min-cpu, --min-memory and --min-disk; NULL on a bad value. */
static json_t *array_body(const struct cli *cli, bool need_one)
{
	static const struct {
		uint64_t opt;
		const char *field;
		long min, max;
	} opts[] = {
	    {CLI_OPT_COUNT, "instance_count", 0, 1024},	      {CLI_OPT_PORTS, "ports", 1, 16},
	    {CLI_OPT_MIN_CPU, "min_cpu", 0, 1048576},	      {CLI_OPT_MIN_MEMORY, "min_memory_gib", 0, 1073741824},
	    {CLI_OPT_MIN_DISK, "min_disk_gb", 0, 1073741824},
	};
	long v[sizeof(opts) / sizeof(opts[0])];
	bool any = false;

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		v[i] = opt_number(cli, opts[i].opt, opts[i].min, opts[i].max);
		if (v[i] < -1)
			return NULL;
		any |= v[i] >= 0;
	}
	json_t *body = json_object();
	if (!body)
		oom_abort(0);
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (v[i] >= 0)
			json_object_set_new(body, opts[i].field, json_integer(v[i]));
	if (!array_os(cli, body, &any)) {
		json_decref(body);
		return NULL;
	}
	if (need_one && !any) {
		fprintf(stderr, "error: give --count N, --ports N, --min-cpu N, --min-memory GiB, --min-disk GB, "
				"--image NAME, --user-data FILE or --ssh-key KEY\n");
		json_decref(body);
		return NULL;
	}
	return body;
}

int cli_cmd_infra_array_add(struct cli *cli, char **argv, size_t argc)
{
	char what[256];
	const char *seg[] = {argv[0], "instance-arrays"};
	json_t *body = array_body(cli, false);

	if (!body)
		return CLI_EXIT_USAGE;
	json_object_set_new(body, "name", json_string(argv[1]));
	snprintf(what, sizeof(what), "new instance array %s in %s", argv[1], argv[0]);
	return stage(cli, "POST", seg, 2, body, 201, argv[0], what);
}

int cli_cmd_infra_array_set(struct cli *cli, char **argv, size_t argc)
{
	char what[256];
	const char *seg[] = {argv[0], "instance-arrays", argv[1]};
	json_t *body = array_body(cli, true);

	if (!body)
		return CLI_EXIT_USAGE;
	snprintf(what, sizeof(what), "changed instance array %s in %s", argv[1], argv[0]);
	return stage(cli, "PATCH", seg, 3, body, 200, argv[0], what);
}

int cli_cmd_infra_array_remove(struct cli *cli, char **argv, size_t argc)
{
	char what[256];
	const char *seg[] = {argv[0], "instance-arrays", argv[1]};

	snprintf(what, sizeof(what), "removal of instance array %s from %s", argv[1], argv[0]);
	return stage(cli, "DELETE", seg, 3, NULL, 200, argv[0], what);
}

/* ---- networks ---- */

int cli_cmd_infra_network_add(struct cli *cli, char **argv, size_t argc)
{
	char what[256];
	const char *seg[] = {argv[0], "networks"};
	const char *type = cli_opt_value(cli->args, CLI_OPT_TYPE);

	if (!type) {
		fprintf(stderr, "error: give --type lan, wan or san\n");
		return CLI_EXIT_USAGE;
	}
	snprintf(what, sizeof(what), "new %s network %s in %s", type, argv[1], argv[0]);
	return stage(cli, "POST", seg, 2, json_pack("{s:s, s:s}", "name", argv[1], "type", type), 201, argv[0], what);
}

int cli_cmd_infra_network_remove(struct cli *cli, char **argv, size_t argc)
{
	char what[256];
	const char *seg[] = {argv[0], "networks", argv[1]};

	snprintf(what, sizeof(what), "removal of network %s from %s", argv[1], argv[0]);
	return stage(cli, "DELETE", seg, 3, NULL, 200, argv[0], what);
}

/* ---- connections ---- */

static int connection(struct cli *cli, char **argv, bool connect)
{
	char array[128], what[384];
	const char *port;

	if (cli_infra_port_split(argv[1], array, sizeof(array), &port) < 0) {
		fprintf(stderr, "error: \"%s\" is not ARRAY or ARRAY:PORT (e.g. web:eth1)\n", argv[1]);
		return CLI_EXIT_USAGE;
	}
	snprintf(what, sizeof(what), "%s %s:%s %s %s in %s", connect ? "connect" : "disconnect", array, port,
		 connect ? "to" : "from", argv[2], argv[0]);
	if (connect) {
		const char *seg[] = {argv[0], "connections"};
		return stage(cli, "POST", seg, 2,
			     json_pack("{s:s, s:s, s:s}", "array", array, "port", port, "network", argv[2]), 201,
			     argv[0], what);
	}
	const char *seg[] = {argv[0], "connections", array, port, argv[2]};
	return stage(cli, "DELETE", seg, 5, NULL, 200, argv[0], what);
}

int cli_cmd_infra_connect(struct cli *cli, char **argv, size_t argc)
{
	return connection(cli, argv, true);
}

int cli_cmd_infra_disconnect(struct cli *cli, char **argv, size_t argc)
{
	return connection(cli, argv, false);
}

/* ---- drives ---- */

int cli_cmd_infra_drive_add(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	const char *seg[] = {argv[0], "instance-arrays", argv[1], "drives"};
	long size = opt_number(cli, CLI_OPT_SIZE, 1, 1048576);

	if (size == -1)
		fprintf(stderr, "error: give --size GB\n");
	if (size < 0)
		return CLI_EXIT_USAGE;
	int rc = infra_request(cli, "POST", seg, 4, json_pack("{s:I}", "size_gb", (json_int_t)size), 201, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (want_json(cli))
		json_out(resp.json);
	else
		printf("staged: drive %lld (%ld GB) on every instance of %s in %s\n",
		       (long long)json_integer_value(json_object_get(resp.json, "id")), size, argv[1], argv[0]);
	cli_resp_done(&resp);
	return CLI_EXIT_OK;
}

int cli_cmd_infra_drive_remove(struct cli *cli, char **argv, size_t argc)
{
	char what[256];
	const char *seg[] = {argv[0], "instance-arrays", argv[1], "drives", argv[2]};

	snprintf(what, sizeof(what), "removal of drive %s from %s in %s", argv[2], argv[1], argv[0]);
	return stage(cli, "DELETE", seg, 5, NULL, 200, argv[0], what);
}

/* ---- WAN subnets ---- */

int cli_cmd_infra_subnet_list(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	const char *seg[] = {argv[0], "networks", argv[1], "subnets"};
	int rc = infra_request(cli, "GET", seg, 4, NULL, 200, &resp);

	if (rc != CLI_EXIT_OK)
		return rc;
	if (want_json(cli))
		rc = json_out(resp.json);
	else
		rc = cli_infra_subnets_print(json_object_get(resp.json, "subnets"), stdout) < 0 ? CLI_EXIT_FAIL
												: CLI_EXIT_OK;
	cli_resp_done(&resp);
	return rc;
}

int cli_cmd_infra_subnet_add(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	const char *seg[] = {argv[0], "networks", argv[1], "subnets"};
	const char *len = argv[2] + (argv[2][0] == '/');
	char *end;
	long n = strtol(len, &end, 10);

	if (*len < '0' || *len > '9' || *end != '\0' || n < 1 || n > 32) {
		fprintf(stderr, "error: \"%s\" is not a prefix length such as /28\n", argv[2]);
		return CLI_EXIT_USAGE;
	}
	int rc = infra_request(cli, "POST", seg, 4, json_pack("{s:I}", "prefix_length", (json_int_t)n), 201, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (want_json(cli))
		json_out(resp.json);
	else
		printf("routed %s to WAN %s of %s\n",
		       json_string_value(json_object_get(json_object_get(resp.json, "subnet"), "prefix")), argv[1],
		       argv[0]);
	cli_resp_done(&resp);
	return CLI_EXIT_OK;
}

/* ---- plan, deploy, discard ---- */

static int plan_cmd(struct cli *cli, const char *infra, bool deploy)
{
	struct cli_resp resp;
	const char *seg[] = {infra, deploy ? "deploy" : "plan"};
	int rc = infra_request(cli, "POST", seg, 2, json_object(), 200, &resp);

	if (rc != CLI_EXIT_OK)
		return rc;
	if (want_json(cli))
		rc = json_out(resp.json);
	else
		rc = cli_infra_plan_print(resp.json, deploy, stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	cli_resp_done(&resp);
	return rc;
}

int cli_cmd_infra_plan(struct cli *cli, char **argv, size_t argc)
{
	return plan_cmd(cli, argv[0], false);
}

int cli_cmd_infra_deploy(struct cli *cli, char **argv, size_t argc)
{
	return plan_cmd(cli, argv[0], true);
}

int cli_cmd_infra_discard(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	const char *seg[] = {argv[0], "discard"};
	int rc = infra_request(cli, "POST", seg, 2, json_object(), 200, &resp);

	if (rc != CLI_EXIT_OK)
		return rc;
	if (want_json(cli))
		json_out(resp.json);
	else
		printf("discarded the staged edits of %s: the staged design is the deployed one again\n", argv[0]);
	cli_resp_done(&resp);
	return CLI_EXIT_OK;
}

int cli_cmd_infra_history(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	const char *seg[] = {argv[0], "deploys"};
	int rc = infra_request(cli, "GET", seg, 2, NULL, 200, &resp);

	if (rc != CLI_EXIT_OK)
		return rc;
	if (want_json(cli))
		rc = json_out(resp.json);
	else
		rc = cli_infra_history_print(resp.json, stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	cli_resp_done(&resp);
	return rc;
}
