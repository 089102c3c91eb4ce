/* `ironrack machines list|show|commission|abort|mark-broken|mark-fixed`:
 * a machine's lifecycle from the command line (docs/machines.md,
 * "States" and "CLI"). machines_format.c is pure (unit-tested by
 * tests/unit/test_machines_cli.c); machines.c talks to the region.
 * create, update and delete stay with the generic group (net_cmds.c). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "region/cli/cli.h"

struct cli;

/* commission --wait gives up after this long unless --timeout SECONDS
 * says otherwise (the region's own commissioning_timeout is 30m). */
#define CLI_MACHINES_WAIT_DEFAULT_S 1800
#define CLI_MACHINES_WAIT_MAX_S	    36000
/* How many of a machine's latest events `machines show` prints. */
#define CLI_MACHINES_SHOW_EVENTS 20
/* Longest --comment sent (bytes). */
#define CLI_MACHINES_COMMENT_MAX 1024

/* A size for people: "512 MiB", "3.0 GiB", "466 GiB", "—" for 0
 * (unknown). One decimal below 10 of a unit, none from 10 up. */
void cli_machines_size_format(uint64_t bytes, char *buf, size_t len);

/* Options of a lifecycle action: --comment TEXT (any action), --wait and
 * --timeout SECONDS (1..CLI_MACHINES_WAIT_MAX_S, only with --wait, only
 * for commission). *ret_wait_ms is 0 without --wait. The request body
 * (new reference; {} or {"comment": TEXT}) in *ret_body. -EINVAL with
 * err set. */
int cli_machines_action_parse(const char *action, const struct cli_args *a, int64_t *ret_wait_ms, json_t **ret_body,
			      char *err, size_t errlen);
/* "/api/v1/machines/<host><tail>" into buf, host %-escaped by escape
 * (which returns a malloc'd string). -ENOSPC when it does not fit. */
int cli_machines_path(const char *host, const char *tail, char *(*escape)(const char *), char *buf, size_t len);
/* How long to sleep before poll number n (0, 1, ...) of commission
 * --wait: 1 s, growing by half each time, at most 5 s. */
int64_t cli_machines_poll_delay_ms(unsigned n);
/* --wait and --timeout SECONDS (1..CLI_MACHINES_WAIT_MAX_S, only with
 * --wait; default CLI_MACHINES_WAIT_DEFAULT_S): *ret_wait_ms, 0 without
 * --wait. -EINVAL with err. */
int cli_machines_wait_parse(const struct cli_args *a, int64_t *ret_wait_ms, char *err, size_t errlen);
/* Is the machine (an API object) in status ("COMMISSIONING", "DEPLOYING")? */
bool cli_machine_is(const json_t *machine, const char *status);
/* POST body (taken) to /machines/HOST/ACTION and print the machine; with
 * wait_ms, poll while it is `during` and succeed only when it ends `goal`
 * (commission: COMMISSIONING, READY; deploy: DEPLOYING, DEPLOYED). */
int cli_machines_act(struct cli *cli, const char *host, const char *action, json_t *body, int64_t wait_ms,
		     const char *during, const char *goal);
/* "node-1: READY", "node-1: COMMISSIONING (waiting for someone to power
 * the machine on (manual power))" — the status_message in brackets when
 * there is one. Sanitised (no control characters). */
void cli_machines_status_line(const json_t *machine, char *buf, size_t len);

/* GET /machines' array as a table: HOSTNAME STATUS POWER ZONE CPUS RAM
 * DISK, in the order given. */
int cli_machines_list_print(const json_t *machines, FILE *out);
/* `machines show`: view is {"machine": {...}, "interfaces": [...],
 * "links": [...], "events": [...]} as --json prints it. now_ms for the
 * ages of times. */
int cli_machines_show_print(const json_t *view, int64_t now_ms, FILE *out);

/* machines.c: the run functions of the command table */
int cli_cmd_machines_list(struct cli *cli, char **argv, size_t argc);
int cli_cmd_machines_show(struct cli *cli, char **argv, size_t argc);
int cli_cmd_machines_commission(struct cli *cli, char **argv, size_t argc);
int cli_cmd_machines_abort(struct cli *cli, char **argv, size_t argc);
int cli_cmd_machines_mark_broken(struct cli *cli, char **argv, size_t argc);
int cli_cmd_machines_mark_fixed(struct cli *cli, char **argv, size_t argc);

/* machines_alloc.c: `machines allocate`; its options as the request
 * body (new reference in *ret). -EINVAL with err set. */
int cli_machines_alloc_body(const struct cli_args *a, json_t **ret, char *err, size_t errlen);
int cli_cmd_machines_allocate(struct cli *cli, char **argv, size_t argc);
#define CLI_MACHINES_ALLOCATE_OPTS                                                                                     \
	(CLI_OPT_URL | CLI_OPT_KEY | CLI_OPT_JSON | CLI_OPT_ZONE | CLI_OPT_MIN_CPU | CLI_OPT_MIN_MEMORY |              \
	 CLI_OPT_MIN_DISK | CLI_OPT_TAGS | CLI_OPT_COMMENT)

#define CLI_MACHINES_LIST_OPTS                                                                                         \
	(CLI_OPT_URL | CLI_OPT_KEY | CLI_OPT_JSON | CLI_OPT_ZONE | CLI_OPT_HOSTNAME | CLI_OPT_STATUS)
#define CLI_MACHINES_ACTION_OPTS     (CLI_OPT_URL | CLI_OPT_KEY | CLI_OPT_JSON | CLI_OPT_COMMENT)
#define CLI_MACHINES_COMMISSION_OPTS (CLI_MACHINES_ACTION_OPTS | CLI_OPT_WAIT | CLI_OPT_TIMEOUT)
