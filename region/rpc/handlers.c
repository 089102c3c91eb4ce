/* Every feature that takes part in rack sessions, once: its rows of
 * {rack message body case, handler} and its open/close hooks (see
 * session.h). A new feature (power, machines, discovery, ha) adds its
 * line here. */
#include "region/dhcp/dhcp.h"
#include "region/discovery/discovery.h"
#include "region/machine/machine.h"
#include "region/power/power.h"
#include "region/rackcfg.h"
#include "region/rpc/session.h"

const struct region_session_feature *const region_session_features[] = {
    &region_rackcfg_session, &region_dhcp_session,	&region_power_session,
    &region_machine_session, &region_discovery_session,
};

const size_t region_session_features_n = sizeof(region_session_features) / sizeof(region_session_features[0]);
