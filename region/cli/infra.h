/* `ironrack infra ...` (infra.c) and the text it prints (infra_print.c,
 * pure apart from writing to the FILE it is given). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct cli;

/* infra.c */
int cli_cmd_infra_list(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_show(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_create(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_delete(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_array_add(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_array_set(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_array_remove(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_network_add(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_network_remove(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_connect(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_disconnect(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_drive_add(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_drive_remove(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_subnet_list(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_subnet_add(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_plan(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_deploy(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_discard(struct cli *cli, char **argv, size_t argc);
int cli_cmd_infra_history(struct cli *cli, char **argv, size_t argc);

/* infra_print.c */

/* "web:eth1" -> array "web", port "eth1"; "web" -> port "eth0". The port
 * points into arg. -EINVAL for an empty array or port, or an array name
 * that does not fit len. */
int cli_infra_port_split(const char *arg, char *array, size_t len, const char **ret_port);

/* Tables from the API's JSON. 0, or -errno (a write error). */
int cli_infra_list_print(const json_t *infrastructures, FILE *out);
int cli_infra_show_print(const json_t *infra, FILE *out);
/* A plan (deployed: the answer of deploy) as "ACTION OBJECT NAME DETAIL". */
int cli_infra_plan_print(const json_t *plan, bool deployed, FILE *out);
int cli_infra_subnets_print(const json_t *subnets, FILE *out);
/* Each deploy: "Revision N, deployed T:" and its steps. */
int cli_infra_history_print(const json_t *history, FILE *out);
