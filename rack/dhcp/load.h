/* From the region's DhcpConfig message (proto/ironrack/v1/region.proto) to
 * the plain structs the engine serves (rack/dhcp/config.h).
 *
 * The loader owns everything it builds in one allocation arena, so a
 * loaded config is freed in one call, and the shell can swap configs
 * whole: build + validate the new one while the old one serves, then
 * switch pointers (nginx-style reload). A config that fails here is never
 * served; the caller keeps the old one and reports the message. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "rack/dhcp/config.h"

struct Ironrack__V1__DhcpConfig;

struct dhcp_loaded {
	struct dhcp_config cfg;		    /* valid (dhcp_config_validate passed) */
	uint32_t external_probe_interval_s; /* 0 = no external DHCP detection */
	uint64_t *vlan_ids;		    /* per cfg.ifaces[i]: the region's VLAN id */
	void *arena;			    /* private */
};

/* Build and validate. Returns 0 and *ret (free with dhcp_loaded_free), or
 * -EINVAL with a one-line reason in why naming the object ("interface
 * eth1 subnet 10.0.0.0/24: range 10.0.0.200-10.0.0.100 is reversed"), or
 * -ENOMEM. version goes into cfg.version. A NULL or disabled message gives
 * *ret = NULL and 0: no DHCP. */
int dhcp_load(const struct Ironrack__V1__DhcpConfig *pb, uint64_t version, struct dhcp_loaded **ret, char *why,
	      size_t why_len);
void dhcp_loaded_free(struct dhcp_loaded *l);
