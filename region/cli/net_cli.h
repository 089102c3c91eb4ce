/* `ironrack zones|fabrics|spaces|vlans|subnets|ranges|routes|ips|machines|
 * interfaces|devices|neighbours ACTION ...` and `ironrack subnet ...`: the
 * network model's commands. net_format.c is pure (unit-tested by
 * tests/unit/test_net_cli.c); net_cmds.c talks to the region. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "region/cli/cli.h"

struct cli;
struct cli_resp;

/* How a column's JSON value is shown. */
enum cli_net_fmt {
	CLI_NF_TEXT, /* strings and numbers as they are, null as "-" */
	CLI_NF_BOOL, /* yes / no */
	CLI_NF_LIST, /* array joined with ", " */
	CLI_NF_AGO,  /* RFC 3339 time as "5m ago" */
};

struct cli_net_col {
	const char *header;
	const char *key;
	enum cli_net_fmt fmt;
};

/* One command group: its word, its API collection and how it prints. */
struct cli_net_group {
	const char *word;     /* "ranges" */
	const char *path;     /* "ip-ranges" (/api/v1/<path>) */
	const char *list_key; /* "ip_ranges", the JSON key of a list */
	const char *what;     /* "IP range", for messages */
	const char *primary;  /* field a bare word on create fills ("cidr"), NULL: none */
	const char *label;    /* JSON key naming an object in messages ("cidr") */
	const struct cli_net_col *cols;
	size_t n_cols;
	bool read_only; /* no create/update (ips: allocate-ip creates them) */
	bool no_update;
};

/* Option given on the command line -> JSON field (for create/update) or
 * filter (for list). */
struct cli_net_opt {
	unsigned opt;
	const char *field;
};
extern const struct cli_net_opt cli_net_opts[];
extern const size_t cli_net_opts_n;

/* The text a cell shows. now_ms for CLI_NF_AGO. */
void cli_net_cell(const json_t *o, const struct cli_net_col *c, int64_t now_ms, char *buf, size_t len);
/* A JSON value for KEY=VALUE text: integers for vid, mtu, metric and
 * discovery_interval (which also takes 90s, 30m, 3h, 1d); booleans
 * (true/false, yes/no, on/off) for managed,
 * dhcp_on, active_discovery, allow_proxy, allow_dns; an array of
 * comma-separated addresses for dns_servers; "" means null; otherwise a
 * string. NULL (err set) when the text does not fit the key. */
json_t *cli_net_value(const char *key, const char *value, char *err, size_t errlen);
/* Add KEY=VALUE words to body. A word without '=' fills primary (once);
 * with primary NULL it is an error. */
int cli_net_body_add(json_t *body, char **words, size_t n, const char *primary, char *err, size_t errlen);
/* A key for a URL path: '/' of a CIDR becomes '-' (the API's form). */
void cli_net_path_key(const char *key, char *buf, size_t len);
/* "?k=v&k2=v2" from KEY=VALUE words (values %-escaped by escape). */
int cli_net_query(char **words, size_t n, char *(*escape)(const char *), char *buf, size_t len, char *err,
		  size_t errlen);

/* A list as a table (group's columns); an object as "key: value" lines. */
int cli_net_table_print(const struct cli_net_group *g, const json_t *items, int64_t now_ms, FILE *out);
int cli_net_object_print(const json_t *o, int64_t now_ms, FILE *out);
/* "254 addresses, 250 available (1.6% used), largest free block
 * 10.0.0.3-10.0.0.99 (97)" from a utilisation object. */
void cli_net_utilisation_format(const json_t *u, char *buf, size_t len);

/* net_cmds.c */
/* One request to the region (the target resolved first). CLI_EXIT_OK with
 * a 2xx JSON answer in *resp (release it); otherwise the problem, or the
 * region's error as it sent it, is printed and resp is left empty. */
int cli_net_request(struct cli *cli, const char *method, const char *path, const json_t *body, struct cli_resp *resp);
/* j as indented JSON on stdout (--json). CLI_EXIT_OK. */
int cli_net_json_print(const json_t *j);
/* GET path and show it: the whole answer with --json; else the array
 * under key through print (< 0: failed), or the line empty when it has
 * no item. */
int cli_net_list(struct cli *cli, const char *path, const char *key, const char *empty,
		 int (*print)(const json_t *items, FILE *out));
/* the run functions of the command table */
int cli_cmd_zones(struct cli *cli, char **argv, size_t argc);
int cli_cmd_fabrics(struct cli *cli, char **argv, size_t argc);
int cli_cmd_spaces(struct cli *cli, char **argv, size_t argc);
int cli_cmd_vlans(struct cli *cli, char **argv, size_t argc);
int cli_cmd_subnets(struct cli *cli, char **argv, size_t argc);
int cli_cmd_subnet(struct cli *cli, char **argv, size_t argc);
int cli_cmd_ranges(struct cli *cli, char **argv, size_t argc);
int cli_cmd_routes(struct cli *cli, char **argv, size_t argc);
int cli_cmd_ips(struct cli *cli, char **argv, size_t argc);
int cli_cmd_machines(struct cli *cli, char **argv, size_t argc);
int cli_cmd_interfaces(struct cli *cli, char **argv, size_t argc);
int cli_cmd_devices(struct cli *cli, char **argv, size_t argc);
int cli_cmd_neighbours(struct cli *cli, char **argv, size_t argc);
int cli_cmd_dhcp_snippets(struct cli *cli, char **argv, size_t argc);

/* Options each group accepts (for the command table). */
#define CLI_NET_OPTS                                                                                                   \
	(CLI_OPT_URL | CLI_OPT_KEY | CLI_OPT_JSON | CLI_OPT_SUBNET | CLI_OPT_START | CLI_OPT_END | CLI_OPT_IP |        \
	 CLI_OPT_HOSTNAME | CLI_OPT_COMMENT | CLI_OPT_MODE | CLI_OPT_NAME | CLI_OPT_GATEWAY | CLI_OPT_VID |            \
	 CLI_OPT_TYPE | CLI_OPT_FABRIC | CLI_OPT_ZONE | CLI_OPT_DESCRIPTION)
