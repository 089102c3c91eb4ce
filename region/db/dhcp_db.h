/* The SQL of region/dhcp: what a rack's DHCP server is built from, and the
 * leases, conflicts and external DHCP servers racks report. Errors as in
 * db.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "region/db/db.h"

/* Everything rack_id's DHCP config is built from, as one JSON document
 * (malloc'd text), every array in id order so that the same model gives the
 * same document:
 *   {"vlans": [{"id", "vid", "mtu", "name", "fabric",
 *               "iface", "address"        (null: the rack has no address
 *                                          in a managed IPv4 subnet here),
 *               "subnets": [SUBNET], "relayed": [SUBNET]}],
 *    "options": [OPTION]}                  (global snippets)
 *   SUBNET: {"id", "cidr", "server", "router", "dns": [], "domain",
 *            "ntp": [], "lease_time" (null = default), "match_client_id",
 *            "disabled_arches": [],
 *            "routes": [{"destination", "gateway"}],
 *            "ranges": [{"id", "first", "last", "options"}],
 *            "hosts": [{"mac", "address", "hostname", "options"}],
 *            "options"}
 *   OPTION: {"code", "data" (hex)}
 * Only managed IPv4 subnets with a dynamic range or a reservation, only
 * enabled snippets. */
int dhcp_db_rack_model(struct db *db, const char *rack_id, char **ret_json);

/* Replace the rack's HA status (a JSON array, see migration 0019); the
 * previous one in *ret_old (malloc'd text, "[]" when none). */
int dhcp_db_rack_ha_status_set(struct db *db, const char *rack_id, const char *json, char **ret_old);
/* The rack's HA status and when it was reported: {"pairs": [...], "at": ms|null}. */
int dhcp_db_rack_ha_status(struct db *db, const char *rack_id, char **ret_json);

/* DHCP HA partner-down (migration 0020). The VLAN's pair as the API checks
 * it: {"id", "dhcp_on", "primary", "secondary", "holder", "since" (ms),
 * "status": the reported pair of rack_id for this VLAN or null}; -ENOENT
 * for no such VLAN. */
int dhcp_db_partner_down_get(struct db *db, uint64_t vlan_id, const char *rack_id, char **ret_json);
/* Record rack_id (NULL: nobody) as the holder; the time it was set in
 * *ret_ms (0 when cleared). -ENOENT for no such VLAN. */
int dhcp_db_partner_down_set(struct db *db, uint64_t vlan_id, const char *rack_id, int64_t *ret_ms);
/* Clear the partner-down rack_id holds on the VLANs its report (a JSON
 * array as in migration 0019) shows in state normal since after the
 * partner-down was declared. The VLAN ids cleared, as a JSON array, in
 * *ret_json. */
int dhcp_db_partner_down_clear_normal(struct db *db, const char *rack_id, const char *json, char **ret_json);
/* Automatic partner-down, the region as witness (docs/dhcp-ha.md,
 * PARTNER-DOWN): on every VLAN of a pair with none held, grant it to the
 * rack that is connected and reports its link down in
 * communications-interrupted, when the other rack is not connected and
 * was last seen longer ago than the VLAN's dhcp_ha_auto_down (NULL:
 * auto_down_s; 0: never). The grants, as a JSON array of {vlan, holder,
 * partner, unheard, wait}, in *ret_json. */
int dhcp_db_partner_down_witness(struct db *db, long auto_down_s, char **ret_json);
/* DHCP HA events (migration 0023). events_add: a JSON array of {vlan,
 * kind, rack, partner, state, description}; VLANs gone meanwhile are
 * skipped. conflicts_add: the recent_conflicts of a rack's stored status
 * (JSON as migration 0019, each {ip, kept, lost, at, kind}), each kept
 * once; the new ones as [{vlan, description}] in *ret_json. events_json:
 * {"events": [...]} after id `after`, oldest first; NULL text (ENOENT
 * from the caller's view) when the VLAN does not exist. */
int dhcp_db_ha_events_add(struct db *db, const char *json);
int dhcp_db_ha_conflicts_add(struct db *db, const char *rack_id, const char *json, char **ret_json);
int dhcp_db_ha_events_json(struct db *db, uint64_t vlan_id, int64_t after, long limit, char **ret);
/* last_seen = now() for rack_id: a session is starting (the witness must
 * not grant against it from here on). */
int dhcp_db_rack_touch(struct db *db, const char *rack_id);
/* The VLANs whose partner holds partner-down against rack_id, as a JSON
 * array of ids. */
int dhcp_db_partner_down_against(struct db *db, const char *rack_id, char **ret_json);

/* Store where the rack's HA partner link listens: 1 when it changed, 0
 * when it was already that (or the rack is gone), or -errno. */
int dhcp_db_rack_ha_endpoint_set(struct db *db, const char *rack_id, const char *endpoint);

/* Remove quarantine records whose end has passed (a rack that reported
 * them may never report their expiry: it was replaced, or lied). *ret_n:
 * how many. */
int dhcp_db_conflicts_expire(struct db *db, long *ret_n);

enum dhcp_db_event_kind {
	DHCP_DB_GRANTED = 1,
	DHCP_DB_RELEASED = 2,
	DHCP_DB_EXPIRED = 3,
	DHCP_DB_CONFLICT = 4,
};

/* One lease event, validated by the caller (ip a dotted quad, mac "" or
 * aa:bb:cc:dd:ee:ff, reason one of decline/arp/icmp/admin for a conflict).
 * Strings are borrowed. */
struct dhcp_db_event {
	enum dhcp_db_event_kind kind;
	const char *ip;
	const char *mac;
	const char *hostname;
	uint64_t subnet_id;
	int64_t expiry_unix;
	const char *reason;
	/* Out: 0 applied; -ENOENT unknown subnet (or the address is not in
	 * it); -EEXIST the address is held by something that is not a DHCP
	 * lease (holder says what); -EINVAL PostgreSQL refused it. */
	int result;
	char holder[160];
};

/* Apply events in one transaction (each in a savepoint: a refused event
 * does not undo the others). keep_leases / keep_conflicts (PostgreSQL
 * array literals of addresses, e.g. "{10.0.0.5,10.0.0.6}"): when not NULL,
 * the end of a full report: rack_id's DHCP lease addresses and conflicts
 * not in them are removed; *ret_dropped counts them. */
int dhcp_db_leases_apply(struct db *db, const char *rack_id, struct dhcp_db_event *ev, size_t n,
			 const char *keep_leases, const char *keep_conflicts, long *ret_dropped);

/* What dhcp_db_external_set found and did. */
struct dhcp_db_external {
	char label[320];   /* "VLAN 0 of fabric-0" */
	char previous[48]; /* the external server before ("" = none) */
	bool changed;	   /* external_dhcp changed */
};

/* server (dotted quad) seen by rack_id on VLAN vlan_id; NULL: the rack saw
 * none, which clears the VLAN's server only if rack_id reported it last.
 * -ENOENT: no such VLAN. */
int dhcp_db_external_set(struct db *db, uint64_t vlan_id, const char *rack_id, const char *server,
			 struct dhcp_db_external *ret);
