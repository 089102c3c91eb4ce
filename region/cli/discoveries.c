/* `ironrack discoveries ...`: requests to the region; see discoveries_cli.h. */
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"
#include "region/cli/commands.h"
#include "region/cli/discoveries_cli.h"
#include "region/cli/net_cli.h"

static int discoveries_print_now(const json_t *list, FILE *out)
{
	return cli_discoveries_print(list, clock_real_ms(), out);
}

int cli_cmd_discoveries_list(struct cli *cli, char **argv, size_t argc)
{
	return cli_net_list(cli, cli_discoveries_path(cli->args->given & CLI_OPT_UNKNOWN), "discoveries",
			    "No discoveries.", discoveries_print_now);
}

int cli_cmd_discoveries_clear(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	int rc = cli_net_request(cli, "DELETE", "/api/v1/discoveries", NULL, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON)
		rc = cli_net_json_print(resp.json);
	else
		printf("%lld sightings forgotten.\n",
		       (long long)json_integer_value(json_object_get(resp.json, "deleted")));
	cli_resp_done(&resp);
	return rc;
}

int cli_cmd_discoveries_claim(struct cli *cli, char **argv, size_t argc)
{
	const char *hostname = cli_opt_value(cli->args, CLI_OPT_HOSTNAME);
	struct cli_resp resp;
	char line[512];
	if (!hostname || !hostname[0]) {
		fprintf(stderr, "error: discoveries claim needs --hostname NAME\n");
		return CLI_EXIT_USAGE;
	}
	json_t *body = cli_discoveries_claim_body(argv[0], hostname);
	int rc = cli_net_request(cli, "POST", "/api/v1/discoveries/claim", body, &resp);
	json_decref(body);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON) {
		rc = cli_net_json_print(resp.json);
	} else {
		cli_discoveries_claim_format(resp.json, line, sizeof(line));
		printf("%s\n", line);
	}
	cli_resp_done(&resp);
	return rc;
}

int cli_cmd_discoveries_events(struct cli *cli, char **argv, size_t argc)
{
	return cli_net_list(cli, "/api/v1/discoveries/events", "events", "No events.", cli_discovery_events_print);
}
