/* What a rack may report on: the VLANs and subnets of the DhcpConfig the
 * region pushed it (its own subnets and those relayed to it). A rack's
 * lease, conflict and external-DHCP reports are checked against this
 * before anything is stored, so an enrolled rack cannot write another
 * rack's DHCP state (issue: "any enrolled rack can rewrite other racks'
 * DHCP state").
 *
 * Pure: built from a decoded or packed DhcpConfig, no I/O. The session
 * layer (sessions.c) keeps two per rack: the config it acknowledged and
 * the one sent last, and a report passes if either allows it (a rack
 * serves the old config until it has stored the new one). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironrack/v1/region.pb-c.h"

struct rack_scope_subnet {
	uint64_t id;
	uint64_t vlan_id;   /* the VLAN it is served on (relayed: the relaying one's) */
	uint32_t net, mask; /* host order */
};

struct rack_scope {
	uint64_t version; /* the config version it came from */
	uint64_t *vlans;
	char **ifnames; /* the rack interface serving vlans[i] */
	size_t n_vlans;
	struct rack_scope_subnet *subnets;
	size_t n_subnets;
};

/* cfg NULL or disabled: a scope that serves nothing. Never fails (a subnet
 * whose cidr does not parse is left out). Free with rack_scope_free. */
struct rack_scope *rack_scope_new(const Ironrack__V1__DhcpConfig *cfg, uint64_t version);
/* From the packed DhcpConfig a snapshot stores (len 0: none); -EBADMSG if
 * it does not unpack. */
int rack_scope_from_packed(const uint8_t *data, size_t len, uint64_t version, struct rack_scope **ret);
void rack_scope_free(struct rack_scope *s);

/* Checks against any of n scopes (NULL entries skipped). */
bool rack_scope_has_vlan(const struct rack_scope *const *scopes, size_t n, uint64_t vlan_id);

/* A lease event (GRANTED, RELEASED, EXPIRED, CONFLICT) on address in
 * subnet_id (0: whichever served subnet holds it): 0 if a scope serves the
 * subnet and the address is inside it; -EACCES with why ("subnet 12 is
 * unknown or not served by this rack", "10.9.0.1 is outside subnet 12
 * (10.55.0.0/24)"); -EINVAL if address is not a dotted quad. */
int rack_scope_check_lease(const struct rack_scope *const *scopes, size_t n, uint64_t subnet_id, const char *address,
			   char *why, size_t why_len);

/* A discovery event (NeighbourEvent) seen on the rack's interface ifname
 * and attributed to the region's VLAN vlan_id: 0 if a scope serves that
 * VLAN on that interface; -EACCES with why ("VLAN 7 is not served by this
 * rack on eth1") otherwise. vlan_id 0 (an interface observed only) is not
 * decided here (-ENOENT): the region keeps such sightings only inside the
 * networks of the rack's own addresses on that interface. */
int rack_scope_check_neighbour(const struct rack_scope *const *scopes, size_t n, const char *ifname, uint64_t vlan_id,
			       char *why, size_t why_len);
