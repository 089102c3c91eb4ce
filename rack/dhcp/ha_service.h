/* DHCP HA wired into the rack (docs/dhcp-ha.md): for every HA pair of the
 * stored DhcpConfig (DhcpConfig.ha: VLAN, role, partner, the partner's
 * endpoint), the partner link (ha_link.h) — the primary dials the
 * partner's endpoint, the secondary listens on ha_listen — followed as new
 * configs are committed. Links run in the rack's own namespace (the
 * management network), never in netns.
 *
 * What is built: the link, its identity checks and heartbeats. What is
 * not yet: the DHCP engine's use of it (buckets, shares, updates acked by
 * the partner before the ACK, partner-down) — until then the region sends
 * a secondary no interfaces to serve, and a primary serves its VLAN alone
 * as it did before HA. At most one pair per rack as secondary (one
 * ha_listen); others are logged and skipped. */
#pragma once

#include "rack/session.h"

struct rack;

int rack_ha_start(struct rack *rack);
void rack_ha_stop(struct rack *rack);

extern const struct rack_config_part rack_ha_config_part;
/* An HaStatusReport of every pair when the session (re)connects. */
extern const struct rack_session_hook rack_ha_session_hook;
