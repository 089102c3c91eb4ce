/* Shared by the files of region/dhcp/ only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "region/dhcp/dhcp.h"

struct event;
struct conf_list;

/* One row of dhcp_boot_files. */
struct dhcp_boot_file {
	uint32_t arch; /* option 93 value */
	char *file;
	bool http;
};

#define DHCP_SWEEP_S 60

/* Limits on what a rack's full lease report may make us hold. */
#define DHCP_FULL_REPORT_MAX 262144

/* Per rack: what a full lease report in progress has listed so far, and
 * the last skipped-VLAN warning (logged again only when it changes). */
struct dhcp_rack_state {
	struct dhcp_rack_state *next;
	char rack_id[64];
	char *warning;
	bool full_active;   /* parts 0.. seen in order so far */
	uint32_t full_next; /* the part expected next */
	uint32_t *leases;   /* addresses (host order) listed as leases */
	size_t n_leases, cap_leases;
	uint32_t *conflicts;
	size_t n_conflicts, cap_conflicts;
	/* its last HaStatusReport had a pair in communications-interrupted
	 * with the link down: the witness looks at its VLANs (ha.c) */
	bool ha_interrupted;
};

struct region_dhcp {
	struct region *r;
	struct event *timer; /* the debounce */
	struct event *sweep; /* every DHCP_SWEEP_S: quarantine records past their end go */
	struct dhcp_boot_file *files;
	size_t n_files;
	struct dhcp_rack_state *racks;
	struct event *witness; /* ha.c: every DHCP_WITNESS_MS while a rack is interrupted */
	bool witness_busy;     /* its job is in flight */
};

#define DHCP_WITNESS_MS 1000

/* ha.c: automatic partner-down, the region as witness. */
int dhcp_witness_start(struct region *r);
void dhcp_witness_stop(struct region *r);

/* pxe.c: parse dhcp_boot_files; err names the bad item. */
int dhcp_boot_files_parse(const struct conf_list *l, struct dhcp_boot_file **ret, size_t *ret_n, char *err,
			  size_t errlen);
void dhcp_boot_files_free(struct dhcp_boot_file *files, size_t n);

/* build.c */
struct dhcp_build_stats {
	size_t vlans, subnets, hosts;
};
/* region_dhcp_build with counts for the log; why gets the skipped VLANs
 * ("" when none). */
int dhcp_build(struct db *db, const struct dhcp_build_conf *c, const char *rack_id, uint8_t **ret, size_t *ret_len,
	       struct dhcp_build_stats *st, char *why, size_t why_len);

/* refresh.c: find or add a rack's state. */
struct dhcp_rack_state *dhcp_rack_state_get(struct region_dhcp *d, const char *rack_id);
