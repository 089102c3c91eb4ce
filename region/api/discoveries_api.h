/* REST handlers for discovery (region/api/discoveries.c, docs/api.yaml):
 *   GET    /api/v1/discoveries[?unknown=true&limit=&offset=]
 *   DELETE /api/v1/discoveries               forget every sighting
 *   POST   /api/v1/discoveries/claim         {"ip", "hostname"}: a device
 *   GET    /api/v1/discoveries/events[?limit=]
 * Registered in the route table of http.c. The JSON conversion and the
 * claim body's checks are pure and unit-tested (tests/unit/test_discovery.c). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "region/api/codec.h"
#include "region/api/internal.h"
#include "region/db/discovery_db.h"

#define API_DISCOVERIES_LIMIT_MAX 10000
#define API_DISCOVERY_EVENTS_MAX  1000

void api_discoveries(struct api_call *call); /* GET list, DELETE clear */
void api_discoveries_claim(struct api_call *call);
void api_discoveries_events(struct api_call *call);
/* POST /api/v1/subnets/{id}/scan[?timeout_ms=]: the subnet's serving rack
 * scans it now (region/api/subnet_scan.c); 202 with the rack's answer. */
void api_subnet_scan(struct api_call *call);
#define SCAN_PREFIX_MIN_API 16 /* as the rack's SCAN_PREFIX_MIN */

/* A host name as devices and machines take it: one DNS label of 1-63
 * letters, digits and '-', not starting or ending with '-', not all
 * digits. */
bool api_discovery_hostname_ok(const char *s);
/* The claim body: {"ip": "10.0.0.5", "hostname": "printer-1"} (nothing
 * else). -EINVAL with fail set. */
int api_discovery_claim_parse(const json_t *body, char *ip, size_t ip_len, char *hostname, size_t hostname_len,
			      struct api_fail *fail);
/* One discovery / one event as the API shows it (new references). */
json_t *api_discovery_json(const struct disc_row *d);
json_t *api_discovery_event_json(const struct disc_event_row *e);
