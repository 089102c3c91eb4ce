/* `ironrack machines allocate`: one READY machine that meets the options,
 * ALLOCATED to the caller (docs/deploy.md, "Allocation"). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/cli/commands.h"
#include "region/cli/machines_cli.h"
#include "region/cli/net_cli.h"

#define NUMBER_MAX 1073741824L

static int usage(const char *msg)
{
	fprintf(stderr, "error: %s\n", msg);
	return CLI_EXIT_USAGE;
}

/* A whole number from 0 to NUMBER_MAX, and nothing else. */
static int number_parse(const char *opt, const char *v, json_t *body, const char *field, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	long n = v ? strtol(v, &end, 10) : -1;
	if (!v || *v < '0' || *v > '9' || *end || errno || n > NUMBER_MAX) {
		snprintf(err, errlen, "%s wants a whole number from 0 to %ld, not \"%s\"", opt, NUMBER_MAX, v ? v : "");
		return -EINVAL;
	}
	json_object_set_new(body, field, json_integer(n));
	return 0;
}

int cli_machines_alloc_body(const struct cli_args *a, json_t **ret, char *err, size_t errlen)
{
	static const struct {
		uint64_t opt;
		const char *name, *field;
	} numbers[] = {
	    {CLI_OPT_MIN_CPU, "--min-cpu", "min_cpu"},
	    {CLI_OPT_MIN_MEMORY, "--min-memory", "min_memory_gib"},
	    {CLI_OPT_MIN_DISK, "--min-disk", "min_disk_gb"},
	};
	json_t *body = json_object();

	if ((a->given & CLI_OPT_ZONE) && cli_opt_value(a, CLI_OPT_ZONE))
		json_object_set_new(body, "zone", json_string(cli_opt_value(a, CLI_OPT_ZONE)));
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		if ((a->given & numbers[i].opt) && number_parse(numbers[i].name, cli_opt_value(a, numbers[i].opt), body,
								numbers[i].field, err, errlen) < 0) {
			json_decref(body);
			return -EINVAL;
		}
	if ((a->given & CLI_OPT_TAGS) && cli_opt_value(a, CLI_OPT_TAGS)) {
		json_t *tags = json_array();
		for (const char *p = cli_opt_value(a, CLI_OPT_TAGS); *p;) {
			size_t n = strcspn(p, ",");
			if (n)
				json_array_append_new(tags, json_stringn(p, n));
			p += n;
			p += *p == ',';
		}
		json_object_set_new(body, "tags", tags);
	}
	if ((a->given & CLI_OPT_COMMENT) && cli_opt_value(a, CLI_OPT_COMMENT))
		json_object_set_new(body, "comment", json_string(cli_opt_value(a, CLI_OPT_COMMENT)));
	*ret = body;
	return 0;
}

int cli_cmd_machines_allocate(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	char err[256], line[768];
	json_t *body = NULL;

	if (cli_machines_alloc_body(cli->args, &body, err, sizeof(err)) < 0)
		return usage(err);
	int rc = cli_net_request(cli, "POST", "/api/v1/machines/allocate", body, &resp);
	json_decref(body);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON) {
		rc = cli_net_json_print(resp.json);
	} else {
		cli_machines_status_line(resp.json, line, sizeof(line));
		printf("%s\n", line);
	}
	cli_resp_done(&resp);
	return rc;
}
