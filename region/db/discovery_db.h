/* The SQL of discovery (docs/discovery.md): sightings racks report into
 * neighbour rows, the discovery view, claims, and the events raised.
 * Errors as in db.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "region/db/db.h"

/* One sighting from a rack's NeighbourReport, checked by region/rpc. */
struct disc_db_sighting {
	int kind;	       /* NeighbourEvent.Kind: 1 NEW, 2 MOVED, 3 NAMED, 4 REFRESHED */
	const char *ip;	       /* IPv4 or IPv6 */
	const char *mac;       /* "" = named only: only the name of known rows is updated */
	const char *old_mac;   /* MOVED: the MAC before, else "" */
	const char *hostname;  /* "" = none */
	const char *interface; /* the rack's */
	uint64_t vlan_id;      /* served VLAN, 0 = observed only */
	int64_t first_ms, last_ms;
	/* Results */
	int result;	       /* 0 stored, -ENOENT observed-only outside the rack's networks, -errno */
	bool conflict;	       /* a 'conflict' discovery_event was raised */
	char description[320]; /* its description */
};

/* Apply n sightings of rack_id in one transaction. A MOVED sighting of an
 * address in a managed subnet raises a 'conflict' event ("possible address
 * conflict: ..."). An observed-only sighting (vlan_id 0) is kept only
 * when the address is inside the network of one of the rack's registered
 * addresses on that interface. */
int disc_db_apply(struct db *db, const char *rack_id, struct disc_db_sighting *s, size_t n);

/* A row of the discovery view. */
struct disc_row {
	char ip[46];
	char mac[18];
	char hostname[256];
	char hostname_source[8]; /* "mdns", "dhcp" (option 12 of a lease), "" none */
	int64_t vlan_id;	 /* 0 = none */
	int64_t subnet_id;	 /* 0 = in no subnet */
	char subnet_cidr[64];
	char rack[64];
	char interface[32];
	int64_t first_seen_ms, last_seen_ms;
	int64_t count;
	bool known;
	char known_as[320];
};

/* Discoveries by address then MAC; unknown_only: those nothing accounts
 * for. *ret malloc'd (n rows), *ret_total every match. */
int disc_db_list(struct db *db, bool unknown_only, long limit, long offset, struct disc_row **ret, size_t *ret_n,
		 int64_t *ret_total);
/* Forget every sighting (the events stay). */
int disc_db_clear(struct db *db, long *ret_n);

/* Make a device hostname of the latest discovery of ip: the device carries
 * its MAC, and ip becomes its static address in the subnet holding it.
 * -ENOENT no discovery of ip, -EINVAL ip is in no subnet, -EEXIST the
 * address is held already or the name/MAC is taken (why says which), other
 * -errno. *ret_device_id, ret_mac (18 bytes) say what was made. */
int disc_db_claim(struct db *db, const char *ip, const char *hostname, int64_t *ret_device_id, char *ret_mac, char *why,
		  size_t why_len);

struct disc_event_row {
	int64_t id;
	int64_t at_ms;
	char kind[16];
	char ip[46];
	char mac[18];
	char old_mac[18];
	char rack[64];
	char interface[32];
	int64_t subnet_id;
	char description[320];
};
/* The newest limit events, oldest first. */
int disc_db_events(struct db *db, long limit, struct disc_event_row **ret, size_t *ret_n);

/* Who would scan subnet_id (POST /subnets/{id}/scan): the subnet's CIDR,
 * family and prefix length, its VLAN, and the VLAN's primary rack when
 * DHCP is on there (the rack that serves it; "" none). -ENOENT. */
struct disc_scan_who {
	char cidr[50];
	int family; /* 4 or 6 */
	int prefix;
	int vid;
	char fabric[256];
	char rack_id[64];
};
int disc_db_scan_who(struct db *db, int64_t subnet_id, struct disc_scan_who *ret);
