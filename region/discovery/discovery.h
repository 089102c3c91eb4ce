/* Discovery in the region (docs/discovery.md): the racks' NeighbourReports
 * stored as neighbour rows (region/db/discovery_db.h), possible address
 * conflicts raised as discovery events and logged. The REST side is
 * region/api/discoveries.c. */
#pragma once

struct region_session_feature;

/* Its row in region/rpc/handlers.c. */
extern const struct region_session_feature region_discovery_session;
