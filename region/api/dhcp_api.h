/* REST handlers for DHCP (region/api/dhcp.c): snippets, quarantined
 * addresses and the DHCP configuration a rack would be sent now.
 * Registered in the route table of http.c. */
#pragma once

#include "region/api/internal.h"

void api_dhcp_snippets(struct api_call *call); /* GET list, POST create */
void api_dhcp_snippet(struct api_call *call);  /* GET, PATCH, DELETE */
void api_dhcp_conflicts(struct api_call *call);
void api_rack_dhcp(struct api_call *call);
void api_vlan_partner_down(struct api_call *call); /* dhcp_ha.c: POST, DELETE */
void api_vlan_ha_events(struct api_call *call);	   /* dhcp_ha.c: GET ?after=ID&limit=N */

/* Does a write to route change what racks' DHCP servers are built from
 * (the network model, snippets)? */
bool api_dhcp_route_affects_dhcp(const struct api_route *route);
