/* `ironrack machines deploy|release` (docs/deploy.md): deploy_format.c is
 * pure (unit-tested by tests/unit/test_deploy_cli.c), machines_deploy.c
 * talks to the region. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "region/cli/cli.h"

struct cli;

#define CLI_DEPLOY_USER_DATA_MAX (64 * 1024) /* bytes, as the region takes them */
#define CLI_DEPLOY_SSH_KEYS_MAX	 32

/* POST /machines/HOST/deploy's body from --image NAME (required),
 * user_data (the --user-data file's text, NULL when not given), every
 * --ssh-key and --comment. New reference in *ret. -EINVAL with err. */
int cli_deploy_body(const struct cli_args *a, const char *user_data, size_t user_data_len, json_t **ret, char *err,
		    size_t errlen);

/* POST /machines/HOST/release's body from --erase quick|full|none and
 * --comment. New reference in *ret. -EINVAL with err. */
int cli_release_body(const struct cli_args *a, json_t **ret, char *err, size_t errlen);

int cli_cmd_machines_deploy(struct cli *cli, char **argv, size_t argc);
int cli_cmd_machines_release(struct cli *cli, char **argv, size_t argc);

#define CLI_MACHINES_DEPLOY_OPTS                                                                                       \
	(CLI_OPT_URL | CLI_OPT_KEY | CLI_OPT_JSON | CLI_OPT_COMMENT | CLI_OPT_WAIT | CLI_OPT_TIMEOUT | CLI_OPT_IMAGE | \
	 CLI_OPT_USER_DATA | CLI_OPT_SSH_KEY)
#define CLI_MACHINES_RELEASE_OPTS                                                                                      \
	(CLI_OPT_URL | CLI_OPT_KEY | CLI_OPT_JSON | CLI_OPT_COMMENT | CLI_OPT_WAIT | CLI_OPT_TIMEOUT | CLI_OPT_ERASE)
