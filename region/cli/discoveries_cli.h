/* `ironrack discoveries list [--unknown] | clear | claim IP --hostname H |
 * events` (the region's /api/v1/discoveries routes, docs/discovery.md).
 * discoveries_format.c is pure (unit-tested by
 * tests/unit/test_discoveries_cli.c); discoveries.c talks to the region. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cli;

/* "/api/v1/discoveries" or ".../discoveries?unknown=true". */
const char *cli_discoveries_path(bool unknown_only);
/* The KNOWN cell of a discovery: "no", or what accounts for it
 * ("machine 'node-1' interface eth0", "device 'printer'", "a DHCP lease"). */
void cli_discovery_known_text(const json_t *d, char *buf, size_t len);
/* The discoveries array as a table: IP, MAC, HOSTNAME, SUBNET, RACK,
 * INTERFACE, FIRST SEEN and LAST SEEN (as ages at now_ms), KNOWN. Text
 * from the region is sanitised. -errno on a write error. */
int cli_discoveries_print(const json_t *list, int64_t now_ms, FILE *out);
/* The events array: AT, KIND, IP, MAC, OLD MAC, DESCRIPTION. */
int cli_discovery_events_print(const json_t *events, FILE *out);
/* {"ip": ip, "hostname": hostname} (new reference). */
json_t *cli_discoveries_claim_body(const char *ip, const char *hostname);
/* "printer-1 (02:00:00:00:00:05) is device 7 with address 10.0.0.5" from
 * the claim's answer. */
void cli_discoveries_claim_format(const json_t *answer, char *buf, size_t len);

/* discoveries.c */
int cli_cmd_discoveries_list(struct cli *cli, char **argv, size_t argc);
int cli_cmd_discoveries_clear(struct cli *cli, char **argv, size_t argc);
int cli_cmd_discoveries_claim(struct cli *cli, char **argv, size_t argc);
int cli_cmd_discoveries_events(struct cli *cli, char **argv, size_t argc);
