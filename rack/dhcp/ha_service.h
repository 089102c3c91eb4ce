/* DHCP HA wired into the rack (docs/dhcp-ha.md): for every HA pair of the
 * stored DhcpConfig (DhcpConfig.ha: VLAN, role, partner, the partner's
 * endpoint), the partner link (ha_link.h) — the primary dials the
 * partner's endpoint, the secondary listens on ha_listen — followed as new
 * configs are committed. Links run in the rack's own namespace (the
 * management network), never in netns.
 *
 * For each pair it runs the state machine (ha_state.h) from the link's
 * events, the region session and its timers; syncs both racks' records on
 * every link-up; sends the DHCP server's lease changes to the partner and
 * stages the partner's (server.h, "DHCP HA"), acknowledging them once
 * durable; and tells the DHCP server the pair's state. At most one pair
 * per rack as secondary (one ha_listen); others are logged and skipped. */
#pragma once

#include "rack/session.h"

struct rack;

int rack_ha_start(struct rack *rack);
void rack_ha_stop(struct rack *rack);

extern const struct rack_config_part rack_ha_config_part;
/* An HaStatusReport of every pair when the session (re)connects. */
extern const struct rack_session_hook rack_ha_session_hook;
