/* The DHCP feature's side of the rack: the service (lease store + server +
 * lease reports, started by rack/services.c) and its rows in the session
 * tables (rack/registry.c): the DHCP part of a RackConfig, the session
 * hook that sends the full lease report on connect, and the reply routes
 * of lease and external-DHCP reports. Talks to the region only through
 * rack/session.h. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rack/session.h"

struct rack;

/* Open the lease store, start the server and the lease reports, and serve
 * the stored config (a stored config that does not load is logged and
 * nothing is served until the region sends a good one). */
int rack_dhcp_start(struct rack *rack);
void rack_dhcp_stop(struct rack *rack);

/* Where the lease store lives: dhcp_dir, else STATE_DIR/dhcp (-EINVAL,
 * logged, for a relative dhcp_dir). */
int rack_dhcp_lease_dir(const struct rack *rack, char *dir, size_t len);
/* ironrack-rackd --dump-leases: the lease store as the files say now
 * (read only: a running rack is not disturbed), one JSON object per line
 * and address, on out. 0, or -errno (logged). */
int rack_dhcp_dump_leases(const struct rack *rack, FILE *out);

/* Load, validate and serve the DHCP part of config version (NULL or
 * disabled: serve nothing). On failure -errno with a reason in why and the
 * old config keeps serving. */
int rack_dhcp_apply(struct rack *rack, const Ironrack__V1__DhcpConfig *pb, uint64_t version, char *why, size_t why_len);

extern const struct rack_config_part rack_dhcp_config_part;
extern const struct rack_session_hook rack_dhcp_session_hook;
extern const struct rack_reply_route rack_dhcp_lease_route;
extern const struct rack_reply_route rack_dhcp_external_route;
