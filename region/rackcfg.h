/* region/rackcfg.c: the RackConfig a rack is sent, composed from the parts
 * features contribute (like nginx's {name, parser, offset} rows: one row
 * per part), and the config operations on racks — store and push, offer
 * the latest stored snapshot, renew every rack's snapshot.
 *
 * A stored snapshot (region/db rack_config_row) holds settings, boot
 * configs and the DHCP config; boot resources are the region's current
 * list (region/boot). Adding a part = a fill/free pair in the feature's
 * folder and one row in rackcfg.c. */
#pragma once

#include "ironrack/v1/region.pb-c.h"

struct region;
struct rack_config_row;
struct region_session_feature;

struct rackcfg_part {
	const char *name;
	/* Fill this part of cfg from the snapshot row (and the feature's own
	 * loop state). Runs on the loop thread. 0 (a part that can do without
	 * its data logs and leaves it out), or -errno: the snapshot is not
	 * sent at all. */
	int (*fill)(struct region *r, const char *rack_id, const struct rack_config_row *row,
		    Ironrack__V1__RackConfig *cfg);
	/* Free what fill put into cfg (also after a failed fill). NULL: none. */
	void (*free)(Ironrack__V1__RackConfig *cfg);
};

/* Compose the RackConfig for a snapshot; free with rackcfg_done (also
 * after a failure). -errno: a part refused (logged). */
int rackcfg_compose(struct region *r, const char *rack_id, const struct rack_config_row *row,
		    Ironrack__V1__RackConfig *ret);
void rackcfg_done(Ironrack__V1__RackConfig *cfg);

/* Give every rack a new snapshot version with its settings unchanged
 * (what a new boot-resource list needs: racks away now get it when they
 * return); connected racks are offered it. why is for the log. */
void region_racks_config_renew(struct region *r, const char *why);

/* The session rows of configs: Hello (offer the latest), ConfigAck. */
extern const struct region_session_feature region_rackcfg_session;
