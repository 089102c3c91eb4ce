/* Where each rack feature registers with the session (rack/session.h):
 * one row per command it answers, per part of the RackConfig it takes,
 * per session event it needs, per kind of report the region replies to.
 * A new feature (power, discovery, HA) adds its rows here and nothing in
 * session.c. */
#include "rack/session.h"

#include "rack/boot/resources.h"
#include "rack/boot/service.h"
#include "rack/dhcp/glue.h"
#include "rack/dhcp/ha_service.h"
#include "rack/discovery/service.h"
#include "rack/machine/agent.h"
#include "rack/ping.h"
#include "rack/power/service.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

const struct rack_command *const rack_commands[] = {
    &rack_ping_command,	       &rack_power_command,	     &rack_power_poll_set_command,
    &rack_boot_forget_command, &rack_discovery_scan_command,
};
const size_t rack_commands_n = ARRAY_SIZE(rack_commands);

/* Checked in this order, committed in this order. Parts that take effect
 * in their check (DHCP) come after the parts that only check. */
const struct rack_config_part *const rack_config_parts[] = {
    &rack_resources_config_part, &rack_boot_config_part, &rack_dhcp_config_part,
    &rack_discovery_config_part, &rack_ha_config_part,
};
const size_t rack_config_parts_n = ARRAY_SIZE(rack_config_parts);

const struct rack_session_hook *const rack_session_hooks[] = {
    &rack_dhcp_session_hook,  &rack_power_session_hook,	    &rack_boot_session_hook,
    &rack_agent_session_hook, &rack_discovery_session_hook, &rack_ha_session_hook,
};
const size_t rack_session_hooks_n = ARRAY_SIZE(rack_session_hooks);

const struct rack_reply_route *const rack_reply_routes[] = {
    &rack_dhcp_lease_route,   &rack_dhcp_external_route,    &rack_power_report_route,
    &rack_agent_report_route, &rack_discovery_report_route,
};
const size_t rack_reply_routes_n = ARRAY_SIZE(rack_reply_routes);

const struct rack_answer_route *const rack_answer_routes[] = {
    &rack_agent_answer_route,
};
const size_t rack_answer_routes_n = ARRAY_SIZE(rack_answer_routes);
