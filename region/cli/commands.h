/* The CLI's commands. Each returns an exit status (CLI_EXIT_*). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "region/cli/cli.h"
#include "region/cli/client.h"

struct cli {
	const struct cli_args *args;
	struct cli_target target;
	char conf_path[PATH_MAX];
};

/* Fill cli->target from (weakest first) the saved login, IRONRACK_URL /
 * IRONRACK_KEY and --url / --key. Prints what is missing and returns
 * CLI_EXIT_FAIL when there is no URL, or no key and need_key. */
int cli_target_resolve(struct cli *cli, bool need_key);

/* session.c */
int cli_cmd_login(struct cli *cli, char **argv, size_t argc);
int cli_cmd_logout(struct cli *cli, char **argv, size_t argc);
int cli_cmd_version(struct cli *cli, char **argv, size_t argc);

/* racks.c */
int cli_cmd_racks_list(struct cli *cli, char **argv, size_t argc);
int cli_cmd_racks_show(struct cli *cli, char **argv, size_t argc);
int cli_cmd_racks_ping(struct cli *cli, char **argv, size_t argc);
int cli_cmd_racks_push_config(struct cli *cli, char **argv, size_t argc);
int cli_cmd_racks_dhcp(struct cli *cli, char **argv, size_t argc);
int cli_cmd_racks_dhcp_partner_down(struct cli *cli, char **argv, size_t argc);
int cli_cmd_racks_dhcp_events(struct cli *cli, char **argv, size_t argc);
