/* The rack's power feature (docs/power.md): the region's power commands
 * and poll set in, power results out, the drivers run under the
 * scheduler (rack/power/sched.h) and the poll plan (rack/power/poll.h).
 *
 * Blocking drivers (IPMI) run on a pool of worker threads that enter the
 * rack's network namespace; asynchronous ones (Redfish, WoL) on the loop.
 * Results go to the region in PowerReports: an action's outcome is kept
 * until the region has recorded it (across reconnects); a polled state is
 * reported only when it changed, and in full after each reconnect. */
#pragma once

#include "rack/session.h"

struct rack;

int rack_power_start(struct rack *rack);
void rack_power_stop(struct rack *rack);

extern const struct rack_command rack_power_command;
extern const struct rack_command rack_power_poll_set_command;
extern const struct rack_session_hook rack_power_session_hook;
extern const struct rack_reply_route rack_power_report_route;
