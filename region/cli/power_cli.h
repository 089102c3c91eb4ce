/* `ironrack machines power-on|power-off|power-cycle|power-query|power|events`
 * and the power fields of `machines create|update|show` (the region's
 * /api/v1/machines/{id}/power routes, docs/api.md "Power").
 * power_format.c is pure (unit-tested by tests/unit/test_power_cli.c);
 * power.c talks to the region. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "region/cli/cli.h"

struct cli;

/* --wait gives up after this long unless --timeout SECONDS says otherwise. */
#define CLI_POWER_WAIT_DEFAULT_S 120
#define CLI_POWER_WAIT_MAX_S	 3600
/* --limit of `machines events` (the API's range). */
#define CLI_POWER_EVENTS_MAX 1000
/* Longest BMC password read for power_pass=- (bytes, without the newline). */
#define CLI_POWER_PASS_MAX 255

/* One power command as its words and options asked for it. */
struct cli_power_req {
	const char *action; /* "on" | "off" | "cycle" | "query" */
	const char *boot;   /* NULL (leave it) | "pxe" | "disk" */
	bool boot_persistent;
	bool boot_efi;
	bool wait;
	int64_t timeout_ms; /* how long --wait polls */
};

/* The API action a command word names ("power-cycle" -> "cycle"), NULL if
 * it names none. */
const char *cli_power_action_of(const char *word);
/* Check the options of a power command for action: --boot only with on and
 * cycle, --boot-persistent and --boot-efi only with --boot, --timeout
 * (1-3600 s) only with --wait. -EINVAL with err set. */
int cli_power_req_parse(const char *action, const struct cli_args *a, struct cli_power_req *ret, char *err,
			size_t errlen);
/* The body of POST /machines/{id}/power (new reference). */
json_t *cli_power_req_body(const struct cli_power_req *r);
/* "/api/v1/machines/<host>/power<suffix>" into buf, host %-escaped by
 * escape (which returns a malloc'd string). -ENOSPC when it does not fit. */
int cli_power_path(const char *host, const char *suffix, char *(*escape)(const char *), char *buf, size_t len);
/* "/api/v1/machines/<host>/events[?limit=N]" from --limit (1-1000).
 * -EINVAL (err set) for a bad --limit, -ENOSPC when it does not fit. */
int cli_power_events_path(const char *host, const struct cli_args *a, char *(*escape)(const char *), char *buf,
			  size_t len, char *err, size_t errlen);
/* How long to sleep before poll number n (0, 1, ...) of an action:
 * 200 ms, growing by half each time, at most 1 s. */
int64_t cli_power_poll_delay_ms(unsigned n);

/* Where an action stands, from its status and needs_person. */
enum cli_power_outcome {
	CLI_POWER_PENDING,
	CLI_POWER_DONE,
	CLI_POWER_FAILED,
	CLI_POWER_NEEDS_PERSON, /* the driver could not act (manual): a person must */
};
enum cli_power_outcome cli_power_action_outcome(const json_t *action);
/* CLI_EXIT_OK for DONE, CLI_EXIT_FAIL otherwise (still pending included). */
int cli_power_outcome_exit(enum cli_power_outcome o);
/* One line about an action (an ACTION object of the API), without a
 * newline: "node-3: power on: done (state on) in 5.2 s",
 * "node-3: power on: failed: BMC 10.0.0.5: password invalid",
 * "node-3: power cycle, boot pxe: queued (action 17, rack rack-1)".
 * with_machine false drops the "node-3: " prefix. elapsed_ms is shown
 * when the action does not carry both requested and finished (-1: none).
 * Text from the region is sanitised (no control characters). */
void cli_power_action_format(const json_t *action, bool with_machine, int64_t elapsed_ms, char *buf, size_t len);
/* GET /machines/{id}/power as "Key: value" lines. */
int cli_power_status_print(const json_t *status, int64_t now_ms, FILE *out);
/* The events array of GET /machines/{id}/events as a table. */
int cli_power_events_print(const json_t *events, FILE *out);
/* A machine object as `machines show` prints it: power_options as
 * "name=value, ..." text, power_state_at with its age, and no power_pass
 * even if a region sent one (new reference). */
json_t *cli_power_machine_view(const json_t *machine, int64_t now_ms);

/* Reads a secret for prompt ("BMC password for power_pass=-") into buf;
 * 0, or a negative errno. */
typedef int (*cli_power_secret_fn)(const char *prompt, char *buf, size_t len);
/* The power_* words of `machines create|update` (power_type=ipmi,
 * power_cipher_suite=17, ...) into body, always as JSON strings ("" clears
 * a field; the region reads numbers and booleans from strings).
 * power_pass=- takes the password from read_secret instead. The other
 * words are left for cli_net_body_add: their pointers go to rest (room
 * for n) and their count to *ret_n_rest. -EINVAL with err set. */
int cli_power_body_add(json_t *body, char **words, size_t n, cli_power_secret_fn read_secret, char **rest,
		       size_t *ret_n_rest, char *err, size_t errlen);

/* power.c */
/* The first line of standard input, with the terminal's echo off when it
 * is one (prompt on stderr then). */
int cli_power_secret_read(const char *prompt, char *buf, size_t len);
int cli_cmd_machines_power_on(struct cli *cli, char **argv, size_t argc);
int cli_cmd_machines_power_off(struct cli *cli, char **argv, size_t argc);
int cli_cmd_machines_power_cycle(struct cli *cli, char **argv, size_t argc);
int cli_cmd_machines_power_query(struct cli *cli, char **argv, size_t argc);
int cli_cmd_machines_power(struct cli *cli, char **argv, size_t argc);
int cli_cmd_machines_events(struct cli *cli, char **argv, size_t argc);

/* Options the power commands accept (for the command table): every
 * action takes --wait [--timeout SECONDS]; on and cycle also --boot. */
#define CLI_POWER_ACTION_OPTS (CLI_OPT_URL | CLI_OPT_KEY | CLI_OPT_JSON | CLI_OPT_WAIT | CLI_OPT_TIMEOUT)
#define CLI_POWER_BOOT_OPTS   (CLI_POWER_ACTION_OPTS | CLI_OPT_BOOT | CLI_OPT_BOOT_PERSISTENT | CLI_OPT_BOOT_EFI)
