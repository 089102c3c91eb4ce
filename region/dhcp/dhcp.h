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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironrack/v1/region.pb-c.h"

struct region;
struct db;
struct rack_config_row;
struct region_session_feature;
struct dhcp_boot_file;

/* Set up / tear down (timers). */
int region_dhcp_init(struct region *r);
void region_dhcp_done(struct region *r);

/* The network model changed (API write, rack registration): rebuild every
 * rack's DHCP config soon (debounced), push where it differs. */
void region_dhcp_changed(struct region *r);

/* A rack's hello said where its HA partner link listens (ha_endpoint):
 * store it (a wildcard host becomes the address the session came from)
 * and, when it changed, rebuild the configs (its partner's names it). */
struct rack_session;
void region_dhcp_ha_hello(struct rack_session *s, const char *ha_endpoint);
/* A rack's HaStatusReport: stored (racks dhcp shows it); a pair whose link
 * went down is logged as degraded, one that came back as restored. */
void region_dhcp_on_ha_status(struct rack_session *s, const Ironrack__V1__RackMessage *m);

/* What a build needs besides the model: regiond.conf's DHCP keys, copied
 * on the loop so a database job can build without touching loop state. */
struct dhcp_build_conf {
	bool pxe;
	long pxe_lease_time, lease_time;
	bool probe;
	long external_probe_interval;
	long ha_auto_down; /* seconds; a VLAN's dhcp_ha_auto_down overrides it */
	struct dhcp_boot_file *files;
	size_t n_files;
};
void region_dhcp_build_conf_get(struct region *r, struct dhcp_build_conf *ret);
void region_dhcp_build_conf_done(struct dhcp_build_conf *c);

/* Can a reply carrying this option (with the options every reply has)
 * fit the 576 bytes every client takes? *ret_need: its length without
 * overload. The rack still serves a config that cannot; it leaves the
 * option out for such clients. */
bool region_dhcp_option_fits(uint8_t code, const uint8_t *data, size_t len, size_t *ret_need);

/* Build the DHCP config rack_id should serve now, packed (ironrack.v1.
 * DhcpConfig; empty when the rack serves no DHCP). *ret is malloc'ed.
 * -errno with a reason in why (e.g. a VLAN whose primary is this rack but
 * on which the rack has no interface address is skipped with a warning,
 * not an error). region_dhcp_build_db runs in a database job (any lane:
 * it only reads); region_dhcp_build uses the start-up connection
 * (-ENOTCONN once the loop runs). */
int region_dhcp_build_db(struct db *db, const struct dhcp_build_conf *c, const char *rack_id, uint8_t **ret,
			 size_t *ret_len, char *why, size_t why_len);
int region_dhcp_build(struct region *r, const char *rack_id, uint8_t **ret, size_t *ret_len, char *why, size_t why_len);

/* The DHCP rows of rack sessions (lease and external-DHCP reports; a rack
 * that connects may serve new VLANs), listed in region/rpc/handlers.c. */
extern const struct region_session_feature region_dhcp_session;

/* The DHCP part of a RackConfig (region/rackcfg.c): the snapshot's packed
 * DhcpConfig. */
int region_dhcp_rackcfg_fill(struct region *r, const char *rack_id, const struct rack_config_row *row,
			     Ironrack__V1__RackConfig *cfg);
void region_dhcp_rackcfg_free(Ironrack__V1__RackConfig *cfg);
