/* Passive discovery wired into the rack (issue 17): the service started by
 * rack/services.c, and its rows in the session tables (rack/registry.c).
 *
 * It watches every interface the rack serves DHCP on (the stored
 * DhcpConfig's interfaces, followed as new configs are committed) and the
 * interfaces of discovery_interfaces, one capture each (capture.h), in
 * the rack's network namespace; all of them feed one neighbour table
 * (neigh.h) whose events go to the region in NeighbourReports
 * (report.h). A served interface's events carry the region's VLAN id of
 * that interface, so the region can check the rack serves it; an
 * observed-only interface's carry 0.
 *
 * An interface that cannot be captured (absent, down for good, not
 * Ethernet) is logged and skipped; the rack runs on without it and the
 * next config tries again. With discovery = off nothing is opened. */
#pragma once

#include "rack/session.h"

struct rack;
struct rack_discovery;

int rack_discovery_start(struct rack *rack);
void rack_discovery_stop(struct rack *rack);

extern const struct rack_config_part rack_discovery_config_part;
extern const struct rack_session_hook rack_discovery_session_hook;
extern const struct rack_reply_route rack_discovery_report_route;
/* DiscoveryScanRequest: the active scan of one subnet, now (scanner.h). */
extern const struct rack_command rack_discovery_scan_command;
