/* Shared by region/db/infra*.c only: the pieces the infrastructure queries
 * (infra_db.c), staged edits (infra_stage.c) and deploy (infra_deploy.c)
 * have in common. */
#pragma once

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "region/db/db_internal.h"
#include "region/db/infra.h"

/* A bigint as parameter text. */
#define INFRA_ID_STRLEN 24

/* Fill err (may be NULL) and return r, for "return infra_fail(...)". */
int infra_fail(struct infra_err *err, int r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* An object name as ir_name accepts it: 1-63 of [A-Za-z0-9._-], starting
 * with a letter or digit, not all digits. -EINVAL with err filled. */
int infra_name_check(const char *name, const char *field, const char *what, struct infra_err *err);

/* Lock the infrastructure's row for the rest of the transaction (staged
 * edits, deploy and discard of one infrastructure run one at a time) and
 * return its id as text. -ENOENT with err filled. */
int infra_lock(struct db *db, const char *name, char ret_id[INFRA_ID_STRLEN], struct infra_err *err);

/* Load both designs of infrastructure id (row->id must be set). */
int infra_design_load(struct db *db, const char *id, struct infra_row *row);
void infra_design_rows_done(struct infra_design_rows *d);

/* Find by id in a design; NULL when absent. */
const struct infra_array_row *infra_rows_array(const struct infra_design_rows *d, int64_t id);
const struct infra_network_row *infra_rows_network(const struct infra_design_rows *d, int64_t id);

/* Row of a design by name; NULL when absent. */
const struct infra_array_row *infra_rows_array_named(const struct infra_design_rows *d, const char *name);
const struct infra_network_row *infra_rows_network_named(const struct infra_design_rows *d, const char *name);

/* Split "a b c" (cidr text, as array_to_string gives it) into prefixes;
 * *ret malloc'd. */
int infra_pools_parse(const char *list, struct ipprefix **ret, size_t *ret_n);

/* "lan"/"wan"/"san" -> type; -EINVAL otherwise. */
int infra_net_type_parse(const char *s, enum infra_net_type *ret);

/* ---- deploy (infra_deploy.c, infra_pools.c) ---- */

/* pg_advisory_xact_lock key serialising every allocation from the VLAN id
 * pools and the WAN pools (the migration lock's key + 1). Deploys are
 * rare; one lock keeps two of them from planning the same free space. */
#define INFRA_POOL_LOCK_KEY "7598258041483518828"
/* Extra (ordered) blocks per WAN. */
#define INFRA_EXTRA_BLOCKS_MAX 64

/* A design as the planner sees it, borrowing names from the rows. */
struct infra_view {
	struct infra_array *arrays;
	struct infra_network *networks;
	struct infra_connection *conns;
	struct infra_design d;
};

struct infra_deploy {
	struct db *db;
	const char *infra;
	char id[INFRA_ID_STRLEN];
	char fabric_id[INFRA_ID_STRLEN];
	char *fabric; /* its name, for messages */
	char *zone;   /* the infrastructure's zone: where its machines come from */
	bool commit;  /* deploy (true) or plan (false, rolled back) */
	int64_t revision;
	struct ipprefix *pools;
	size_t n_pools;
	struct infra_row row;
	struct infra_view dep, stg;
	struct plan plan;
	struct infra_plan_result *out;
	struct infra_err *err;
};

/* Append an allocation to d->out; never NULL (it points into d->out). */
struct infra_alloc *infra_alloc_push(struct infra_deploy *d, enum infra_alloc_kind kind, const char *network);
void infra_deploy_done(struct infra_deploy *d);

/* infra_pools.c: each records what it did in d->out. */
int infra_vlan_take(struct infra_deploy *d, const char *net_id, const char *name);
int infra_vlan_release(struct infra_deploy *d, const char *net_id, const char *name);
int infra_blocks_release(struct infra_deploy *d, const char *net_id, const char *name);
/* A new WAN's first block (seed 000: "By default a /29 IPv4 block"). */
int infra_wan_first_block(struct infra_deploy *d, const char *net_id, const char *name);
/* Grow or add to a WAN's blocks until its instances fit; shrink them or
 * give blocks back when they need fewer addresses (wan_plan_shrink). */
int infra_wan_grow(struct infra_deploy *d, const struct infra_network_row *net);
/* WAN pools (cidr[] text) may not overlap an IPAM subnet with addresses in
 * use, other than the mirrors of WAN blocks (their space is the
 * infrastructures'): -EBUSY (field wan_pools) naming the subnet. */
int infra_pools_ipam_check(struct db *db, const char *pools, struct infra_err *err);

/* infra_machines.c: before the plan is applied, the machines of the
 * instances the staged design drops are given back; after it, every
 * instance without a machine gets one (too few: d->out->shortage, and
 * -EBUSY when committing). */
int infra_machines_release_gone(struct infra_deploy *d);
/* Deleting the infrastructure (id, locked): every instance's machine. */
int infra_machines_release_all(struct db *db, const char *infra, const char *id, struct infra_err *err);
int infra_machines_bind(struct infra_deploy *d);
/* infra_os.c: every image the staged design's arrays name exists and is
 * ready, else -EBUSY (field "image") naming the array and the image. */
int infra_images_check(struct infra_deploy *d);
/* infra_links.c: the networks mirrored in IPAM and the instances'
 * addresses as links on their machines' interfaces. */
int infra_machines_links(struct infra_deploy *d);
/* The links the design no longer gives (before WAN blocks are resized:
 * their addresses no longer hold space). */
int infra_links_stale_remove(struct infra_deploy *d);
/* The IPAM VLANs of the deployed networks and subnets of the WANs' blocks
 * (d->id and d->infra set). */
int infra_ipam_mirrors_sync(struct infra_deploy *d);
/* Tell the triggers of migration 0013 that this transaction is the
 * infrastructure's own (deploy, deletion): it may write the IPAM objects
 * an infrastructure holds. */
int infra_ipam_own(struct db *db);
/* Mirrors of WAN blocks and networks that are gone (any
 * infrastructure's). */
int infra_ipam_prune(struct db *db);

/* Text of a column: "" for NULL. */
static inline const char *infra_val(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col);
}
