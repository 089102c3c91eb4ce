/* region/dhcp: what each rack's DHCP server serves, built from the network
 * model, and what racks report back (leases, conflicts, external DHCP).
 *
 * The DHCP part of a rack's configuration snapshot is never edited by
 * hand: it is computed from IPAM (VLANs with DHCP on and this rack as
 * primary, their subnets, dynamic ranges, reservations, relayed VLANs,
 * snippets, the PXE boot-file map in regiond.conf). Any change to the
 * model calls region_dhcp_changed(); a short debounce later every rack's
 * DHCP config is rebuilt, and a rack whose result differs from its last
 * snapshot gets a new config version, stored and pushed. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ironrack/v1/region.pb-c.h"

struct region;

/* Set up / tear down (timers). */
int region_dhcp_init(struct region *r);
void region_dhcp_done(struct region *r);

/* The network model changed (API write, rack registration): rebuild every
 * rack's DHCP config soon (debounced), push where it differs. */
void region_dhcp_changed(struct region *r);

/* Build the DHCP config rack_id should serve now, packed (ironrack.v1.
 * DhcpConfig; empty when the rack serves no DHCP). *ret is malloc'ed.
 * -errno with a reason in why (e.g. a VLAN whose primary is this rack but
 * on which the rack has no interface address is skipped with a warning,
 * not an error). */
int region_dhcp_build(struct region *r, const char *rack_id, uint8_t **ret, size_t *ret_len, char *why,
		      size_t why_len);

/* Reports from a rack's Session (region/rpc/sessions.c calls these).
 * 0 or -errno with a reason; applied in one transaction, idempotent. */
int region_dhcp_lease_report(struct region *r, const char *rack_id, const Ironrack__V1__LeaseReport *rep, char *why,
			     size_t why_len);
int region_dhcp_external_report(struct region *r, const char *rack_id, const Ironrack__V1__ExternalDhcpReport *rep,
				char *why, size_t why_len);
