/* Plan, deploy and discard an infrastructure's staged design.
 *
 * The diff is the planner's (region/ipam/plan.h) and WAN addressing is the
 * WAN engine's (region/ipam/wan.h); this file loads their inputs under the
 * infrastructure's row lock and applies their answers. A dry-run plan runs
 * the very same code in a transaction that is rolled back, so what `plan`
 * shows is what `deploy` would do at that moment. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "region/db/infra_internal.h"
#include "region/ipam/wan.h"

/* pg_advisory_xact_lock key serialising every allocation from the VLAN id
 * pools and the WAN pools (the migration lock's key + 1). Deploys are
 * rare; one lock keeps two of them from planning the same free space. */
#define INFRA_POOL_LOCK_KEY "7598258041483518828"
/* Extra (ordered) blocks per WAN. */
#define INFRA_EXTRA_BLOCKS_MAX 64

/* A design as the planner sees it, borrowing names from the rows. */
struct view {
	struct infra_array *arrays;
	struct infra_network *networks;
	struct infra_connection *conns;
	struct infra_design d;
};

struct deploy {
	struct db *db;
	const char *infra;
	char id[INFRA_ID_STRLEN];
	char fabric_id[INFRA_ID_STRLEN];
	char *fabric; /* its name, for messages */
	int64_t revision;
	struct ipprefix *pools;
	size_t n_pools;
	struct infra_row row;
	struct view dep, stg;
	struct plan plan;
	struct infra_plan_result *out;
	struct infra_err *err;
};

static void view_done(struct view *v)
{
	free(v->arrays);
	free(v->networks);
	free(v->conns);
	memset(v, 0, sizeof(*v));
}

static int view_build(const struct infra_design_rows *rows, struct view *v)
{
	memset(v, 0, sizeof(*v));
	v->arrays = calloc(rows->n_arrays + 1, sizeof(*v->arrays));
	v->networks = calloc(rows->n_networks + 1, sizeof(*v->networks));
	v->conns = calloc(rows->n_conns + 1, sizeof(*v->conns));
	if (!v->arrays || !v->networks || !v->conns)
		return -ENOMEM;
	for (size_t i = 0; i < rows->n_arrays; i++) {
		const struct infra_array_row *a = &rows->arrays[i];
		v->arrays[i] = (struct infra_array){.id = a->id,
						    .name = a->name,
						    .instance_count = a->instances,
						    .n_ports = a->ports,
						    .drive_count = (uint32_t)a->n_drives};
	}
	for (size_t i = 0; i < rows->n_networks; i++) {
		const struct infra_network_row *n = &rows->networks[i];
		v->networks[i] = (struct infra_network){.id = n->id, .name = n->name, .type = n->type};
	}
	for (size_t i = 0; i < rows->n_conns; i++) {
		const struct infra_conn_row *c = &rows->conns[i];
		v->conns[i] = (struct infra_connection){.array_id = c->array_id, .port = c->port,
							.network_id = c->network_id};
	}
	v->d = (struct infra_design){v->arrays, rows->n_arrays, v->networks, rows->n_networks, v->conns, rows->n_conns};
	return 0;
}

static void deploy_done(struct deploy *d)
{
	free(d->fabric);
	free(d->pools);
	db_infra_row_done(&d->row);
	view_done(&d->dep);
	view_done(&d->stg);
	plan_done(&d->plan);
}

/* ---- the result ---- */

static struct infra_alloc *alloc_push(struct deploy *d, enum infra_alloc_kind kind, const char *network)
{
	struct infra_plan_result *o = d->out;
	struct infra_alloc *n = realloc(o->allocs, (o->n_allocs + 1) * sizeof(*n));

	if (!n)
		return NULL;
	o->allocs = n;
	n = &n[o->n_allocs];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->network = strdup(network ? network : "");
	if (!n->network)
		return NULL;
	o->n_allocs++;
	return n;
}

static char *name_dup(const char *s, bool *oom)
{
	char *c = strdup(s ? s : "");
	*oom |= !c;
	return c;
}

static int action_describe(const struct deploy *d, const struct plan_action *a, struct infra_action *o)
{
	bool oom = false;

	memset(o, 0, sizeof(*o));
	o->op = a->op;
	o->object = a->object;
	o->changed = a->changed;
	o->san_pruned = a->san_pruned;
	if (a->object == PLAN_OBJ_NETWORK) {
		const struct infra_network *n = a->network_new ? a->network_new : a->network_old;
		o->name = name_dup(n->name, &oom);
		o->type = n->type;
		if (a->op == PLAN_OP_CHANGE && (a->changed & PLAN_CHANGED_NAME))
			o->old_name = name_dup(a->network_old->name, &oom);
	} else if (a->object == PLAN_OBJ_ARRAY) {
		const struct infra_array *n = a->array_new ? a->array_new : a->array_old;
		o->name = name_dup(n->name, &oom);
		if (a->op == PLAN_OP_CHANGE && (a->changed & PLAN_CHANGED_NAME))
			o->old_name = name_dup(a->array_old->name, &oom);
		if (a->array_old) {
			o->old_instances = a->array_old->instance_count;
			o->old_ports = a->array_old->n_ports;
			o->old_drives = a->array_old->drive_count;
		}
		if (a->array_new) {
			o->new_instances = a->array_new->instance_count;
			o->new_ports = a->array_new->n_ports;
			o->new_drives = a->array_new->drive_count;
		}
	} else {
		/* A connection that is created exists in the staged design; one
		 * that is deleted, in the deployed one. */
		const struct infra_design_rows *rows = a->op == PLAN_OP_CREATE ? &d->row.staged : &d->row.deployed;
		const struct infra_array_row *ar = infra_rows_array(rows, a->conn.array_id);
		const struct infra_network_row *nr = infra_rows_network(rows, a->conn.network_id);
		o->array = name_dup(ar ? ar->name : "?", &oom);
		o->network = name_dup(nr ? nr->name : "?", &oom);
		o->port = a->conn.port;
		o->type = nr ? nr->type : INFRA_NET_LAN;
	}
	return oom ? -ENOMEM : 0;
}

static int actions_describe(struct deploy *d)
{
	struct infra_plan_result *o = d->out;

	o->actions = calloc(d->plan.n + 1, sizeof(*o->actions));
	if (!o->actions)
		return -ENOMEM;
	for (size_t i = 0; i < d->plan.n; i++) {
		int r = action_describe(d, &d->plan.actions[i], &o->actions[i]);
		o->n_actions++;
		if (r < 0)
			return r;
	}
	return 0;
}

void db_infra_plan_result_done(struct infra_plan_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_actions; i++) {
		free(r->actions[i].name);
		free(r->actions[i].old_name);
		free(r->actions[i].array);
		free(r->actions[i].network);
	}
	free(r->actions);
	for (size_t i = 0; i < r->n_allocs; i++)
		free(r->allocs[i].network);
	free(r->allocs);
	memset(r, 0, sizeof(*r));
}

/* ---- loading ---- */

static int deploy_load(struct deploy *d)
{
	const char *p[] = {NULL};
	PGresult *res;
	struct plan_error perr;

	int r = infra_lock(d->db, d->infra, d->id, d->err);
	if (r < 0)
		return r;
	p[0] = d->id;
	r = db_exec(d->db,
		    "SELECT i.fabric_id, f.name, array_to_string(i.wan_pools, ' '), i.revision "
		    "FROM infrastructure i JOIN fabric f ON f.id = i.fabric_id WHERE i.id = $1::bigint",
		    1, p, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return -EIO;
	}
	snprintf(d->fabric_id, sizeof(d->fabric_id), "%s", PQgetvalue(res, 0, 0));
	d->fabric = strdup(PQgetvalue(res, 0, 1));
	d->revision = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	r = d->fabric ? infra_pools_parse(PQgetvalue(res, 0, 2), &d->pools, &d->n_pools) : -ENOMEM;
	PQclear(res);
	if (r == 0)
		r = infra_design_load(d->db, d->id, &d->row);
	if (r == 0)
		r = view_build(&d->row.deployed, &d->dep);
	if (r == 0)
		r = view_build(&d->row.staged, &d->stg);
	if (r == 0)
		r = plan_compute(&d->dep.d, &d->stg.d, &d->plan, &perr);
	if (r == -EINVAL)
		/* Staged edits keep the designs valid; this is a bug or a
		 * hand-edited database, not the caller's input. */
		r = infra_fail(d->err, -EBUSY, "", "the %s design of \"%s\" is inconsistent (%s)",
			       perr.staged ? "staged" : "deployed", d->infra, perr.reason ? perr.reason : "?");
	d->out->revision = d->revision;
	return r;
}

/* ---- resources ---- */

static int vlan_take(struct deploy *d, const char *net_id, const char *name)
{
	char first[16], last[16], *v = NULL;
	const char *seed[] = {d->fabric_id, first, last};
	const char *take[] = {d->fabric_id, net_id};

	snprintf(first, sizeof(first), "%d", INFRA_VLAN_POOL_FIRST);
	snprintf(last, sizeof(last), "%d", INFRA_VLAN_POOL_LAST);
	/* A fabric's pool is filled with the default range when first used. */
	int r = db_exec(d->db,
			"INSERT INTO infra_vlan_pool (fabric_id, vid) "
			"SELECT $1::bigint, g FROM generate_series($2::int, $3::int) AS g "
			"WHERE NOT EXISTS (SELECT 1 FROM infra_vlan_pool WHERE fabric_id = $1::bigint) "
			"ON CONFLICT DO NOTHING",
			3, seed, NULL);
	/* Never a vid that the network model already uses on this fabric. */
	if (r == 0)
		r = db_query_value(d->db,
				   "UPDATE infra_vlan_pool SET network_id = $2::bigint "
				   "WHERE fabric_id = $1::bigint AND vid = (SELECT p.vid FROM infra_vlan_pool p "
				   "WHERE p.fabric_id = $1::bigint AND p.network_id IS NULL AND NOT EXISTS ("
				   "SELECT 1 FROM vlan v WHERE v.fabric_id = p.fabric_id AND v.vid = p.vid) "
				   "ORDER BY p.vid LIMIT 1) RETURNING vid",
				   2, take, &v);
	if (r == -ENOENT)
		return infra_fail(d->err, -ENOSPC, "networks",
				  "no free VLAN id left in the pool of fabric \"%s\" for network \"%s\"", d->fabric,
				  name);
	if (r == 0) {
		struct infra_alloc *a = alloc_push(d, INFRA_ALLOC_VLAN, name);
		if (a)
			a->vid = (uint32_t)strtoul(v, NULL, 10);
		r = a ? 0 : -ENOMEM;
	}
	free(v);
	return r;
}

static int vlan_release(struct deploy *d, const char *net_id, const char *name)
{
	const char *p[] = {net_id};
	char *v = NULL;
	int r = db_query_value(d->db, "UPDATE infra_vlan_pool SET network_id = NULL WHERE network_id = $1::bigint "
				      "RETURNING vid",
			       1, p, &v);
	if (r == -ENOENT)
		return 0;
	if (r == 0) {
		struct infra_alloc *a = alloc_push(d, INFRA_ALLOC_VLAN_RELEASE, name);
		if (a)
			a->vid = (uint32_t)strtoul(v, NULL, 10);
		r = a ? 0 : -ENOMEM;
	}
	free(v);
	return r;
}

static int blocks_release(struct deploy *d, const char *net_id, const char *name)
{
	const char *p[] = {net_id};
	PGresult *res;
	int r = db_exec(d->db, "DELETE FROM infra_wan_block WHERE network_id = $1::bigint RETURNING prefix, kind", 1,
			p, &res);
	if (r < 0)
		return r;
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		struct infra_alloc *a = alloc_push(d, INFRA_ALLOC_BLOCK_RELEASE, name);
		if (!a) {
			r = -ENOMEM;
			break;
		}
		ipprefix_parse(PQgetvalue(res, i, 0), false, &a->block);
		a->extra = strcmp(PQgetvalue(res, i, 1), "extra") == 0;
	}
	PQclear(res);
	return r;
}

/* Every block taken from the infrastructure's pools, by any WAN. */
static int taken_load(struct deploy *d, struct ipprefix **ret, size_t *ret_n)
{
	char *pools = NULL;
	size_t len = 3 + d->n_pools * (IPPREFIX_STRLEN + 1);
	PGresult *res;

	pools = malloc(len);
	if (!pools)
		return -ENOMEM;
	size_t used = (size_t)snprintf(pools, len, "{");
	for (size_t i = 0; i < d->n_pools; i++) {
		char t[IPPREFIX_STRLEN];
		used += (size_t)snprintf(pools + used, len - used, "%s%s", i ? "," : "",
					 ipprefix_format(&d->pools[i], t, sizeof(t)));
	}
	snprintf(pools + used, len - used, "}");
	const char *p[] = {pools};
	int r = db_exec(d->db, "SELECT prefix FROM infra_wan_block WHERE prefix && ANY ($1::cidr[]) ORDER BY prefix", 1,
			p, &res);
	free(pools);
	if (r < 0)
		return r;
	int n = PQntuples(res);
	struct ipprefix *taken = calloc((size_t)n + 1, sizeof(*taken));
	size_t k = 0;
	for (int i = 0; taken && i < n; i++)
		if (ipprefix_parse(PQgetvalue(res, i, 0), false, &taken[k]) == 0)
			k++;
	PQclear(res);
	if (!taken)
		return -ENOMEM;
	*ret = taken;
	*ret_n = k;
	return 0;
}

static int pools_required(struct deploy *d, const char *name)
{
	if (d->n_pools > 0)
		return 0;
	return infra_fail(d->err, -EBUSY, "wan_pools",
			  "infrastructure \"%s\" has no WAN pool to give WAN \"%s\" addresses; set wan_pools first",
			  d->infra, name);
}

static int block_insert(struct deploy *d, const char *net_id, const struct ipprefix *block, bool extra)
{
	char t[IPPREFIX_STRLEN];
	const char *p[] = {net_id, ipprefix_format(block, t, sizeof(t)), extra ? "extra" : "primary"};

	return db_exec(d->db, "INSERT INTO infra_wan_block (network_id, prefix, kind) VALUES ($1::bigint, $2, $3)", 3,
		       p, NULL);
}

/* A new WAN's first block (seed 000: "By default a /29 IPv4 block"). */
static int wan_first_block(struct deploy *d, const char *net_id, const char *name)
{
	struct ipprefix *taken = NULL;
	size_t n_taken = 0;
	struct wan_plan wp;

	int r = pools_required(d, name);
	if (r == 0)
		r = taken_load(d, &taken, &n_taken);
	if (r < 0)
		return r;
	struct wan_pool pool = {d->pools, d->n_pools, taken, n_taken};
	r = wan_plan_new(&pool, &wp);
	free(taken);
	if (r == -ENOSPC)
		return infra_fail(d->err, r, "wan_pools", "the WAN pools of \"%s\" have no free /%d for WAN \"%s\"",
				  d->infra, WAN_DEFAULT_LEN, name);
	if (r < 0 || wp.n != 1)
		return r < 0 ? r : -EIO;
	r = block_insert(d, net_id, &wp.actions[0].block, false);
	struct infra_alloc *a = r == 0 ? alloc_push(d, INFRA_ALLOC_BLOCK_ADD, name) : NULL;
	if (r == 0 && !a)
		r = -ENOMEM;
	if (a)
		a->block = wp.actions[0].block;
	return r;
}

/* Hosts a WAN needs after deploy: one address per instance per port that
 * connects to it. */
static uint64_t wan_hosts_needed(const struct deploy *d, int64_t net_id)
{
	uint64_t n = 0;

	for (size_t i = 0; i < d->row.staged.n_conns; i++) {
		const struct infra_conn_row *c = &d->row.staged.conns[i];
		const struct infra_array_row *a = c->network_id == net_id ? infra_rows_array(&d->row.staged, c->array_id)
									  : NULL;
		if (a)
			n += a->instances;
	}
	return n;
}

static int wan_apply(struct deploy *d, const char *net_id, const char *name, const struct wan_plan *wp,
		     char ids[][INFRA_ID_STRLEN], size_t n_ids)
{
	char t[IPPREFIX_STRLEN];
	int r = 0;

	for (size_t i = 0; i < wp->n && r == 0; i++) {
		const struct wan_action *wa = &wp->actions[i];
		struct infra_alloc *a;
		if (wa->kind == WAN_ACTION_ADD) {
			r = block_insert(d, net_id, &wa->block, false);
			a = r == 0 ? alloc_push(d, INFRA_ALLOC_BLOCK_ADD, name) : NULL;
		} else {
			if (wa->index >= n_ids)
				return -EIO;
			const char *p[] = {ids[wa->index], ipprefix_format(&wa->block, t, sizeof(t))};
			r = db_exec(d->db, "UPDATE infra_wan_block SET prefix = $2 WHERE id = $1::bigint", 2, p, NULL);
			a = r == 0 ? alloc_push(d, INFRA_ALLOC_BLOCK_GROW, name) : NULL;
		}
		if (r == 0 && !a)
			return -ENOMEM;
		if (a) {
			a->from = wa->from;
			a->block = wa->block;
		}
	}
	return r;
}

/* Seed 000: the block "is automatically expanded (to a /28, /27 etc if more
 * IPs are needed) or a new subnet is automatically created". */
static int wan_grow(struct deploy *d, const struct infra_network_row *net)
{
	char net_id[INFRA_ID_STRLEN];
	const char *p[] = {net_id};
	struct ipprefix *taken = NULL, *blocks = NULL;
	size_t n_taken = 0, n_blocks = 0;
	char(*ids)[INFRA_ID_STRLEN] = NULL;
	struct wan_plan wp;
	PGresult *res;

	snprintf(net_id, sizeof(net_id), "%lld", (long long)net->id);
	uint64_t need = wan_hosts_needed(d, net->id);
	int r = db_exec(d->db,
			"SELECT id, prefix FROM infra_wan_block WHERE network_id = $1::bigint AND kind = 'primary' "
			"ORDER BY id",
			1, p, &res);
	if (r < 0)
		return r;
	int n = PQntuples(res);
	blocks = calloc((size_t)n + 1, sizeof(*blocks));
	ids = calloc((size_t)n + 1, sizeof(*ids));
	for (int i = 0; blocks && ids && i < n; i++) {
		snprintf(ids[n_blocks], INFRA_ID_STRLEN, "%s", PQgetvalue(res, i, 0));
		if (ipprefix_parse(PQgetvalue(res, i, 1), false, &blocks[n_blocks]) == 0)
			n_blocks++;
	}
	PQclear(res);
	r = blocks && ids ? 0 : -ENOMEM;
	if (r == 0 && n_blocks == 0)
		r = -EIO; /* every deployed WAN got its first block */
	if (r == 0)
		r = taken_load(d, &taken, &n_taken);
	if (r == 0) {
		struct wan_pool pool = {d->pools, d->n_pools, taken, n_taken};
		r = wan_plan_grow(&pool, blocks, n_blocks, need, &wp);
		if (r == -ENOSPC || r == -E2BIG)
			r = infra_fail(d->err, -ENOSPC, "wan_pools",
				       "the WAN pools of \"%s\" cannot give WAN \"%s\" the %" PRIu64
				       " addresses its instances need",
				       d->infra, net->name, need);
		else if (r == -EINVAL)
			r = infra_fail(d->err, -EBUSY, "wan_pools",
				       "a block of WAN \"%s\" lies outside the WAN pools of \"%s\"", net->name,
				       d->infra);
	}
	if (r == 0)
		r = wan_apply(d, net_id, net->name, &wp, ids, n_blocks);
	free(taken);
	free(blocks);
	free(ids);
	return r;
}

/* ---- applying the plan ---- */

static int exec_id(struct deploy *d, const char *sql, int64_t id)
{
	char t[INFRA_ID_STRLEN];
	const char *p[] = {t};

	snprintf(t, sizeof(t), "%lld", (long long)id);
	return db_exec(d->db, sql, 1, p, NULL);
}

static int apply_network(struct deploy *d, const struct plan_action *a)
{
	char id[INFRA_ID_STRLEN];
	int r;

	snprintf(id, sizeof(id), "%lld", (long long)a->id);
	switch (a->op) {
	case PLAN_OP_CREATE:
		r = exec_id(d, "UPDATE infra_network SET d_name = s_name, d_type = s_type WHERE id = $1::bigint", a->id);
		if (r == 0)
			r = vlan_take(d, id, a->network_new->name);
		if (r == 0 && a->network_new->type == INFRA_NET_WAN)
			r = wan_first_block(d, id, a->network_new->name);
		return r;
	case PLAN_OP_CHANGE:
		/* A network's type is fixed for the life of its row. */
		if (a->changed & PLAN_CHANGED_TYPE)
			return infra_fail(d->err, -EBUSY, "type", "network \"%s\" cannot change its type",
					  a->network_new->name);
		return exec_id(d, "UPDATE infra_network SET d_name = s_name WHERE id = $1::bigint", a->id);
	case PLAN_OP_DELETE:
		r = vlan_release(d, id, a->network_old->name);
		if (r == 0)
			r = blocks_release(d, id, a->network_old->name);
		/* A pruned SAN keeps its staged half. */
		if (r == 0)
			r = exec_id(d, "DELETE FROM infra_network WHERE id = $1::bigint AND s_name IS NULL", a->id);
		if (r == 0)
			r = exec_id(d, "UPDATE infra_network SET d_name = NULL, d_type = NULL WHERE id = $1::bigint",
				    a->id);
		return r;
	}
	return -EINVAL;
}

static int apply_array(struct deploy *d, const struct plan_action *a)
{
	int r;

	switch (a->op) {
	case PLAN_OP_CREATE:
	case PLAN_OP_CHANGE:
		return exec_id(d,
			       "UPDATE infra_array SET d_name = s_name, d_instances = s_instances, d_ports = s_ports "
			       "WHERE id = $1::bigint",
			       a->id);
	case PLAN_OP_DELETE:
		r = exec_id(d, "DELETE FROM infra_array WHERE id = $1::bigint AND s_name IS NULL", a->id);
		if (r == 0)
			r = exec_id(d,
				    "UPDATE infra_array SET d_name = NULL, d_instances = NULL, d_ports = NULL "
				    "WHERE id = $1::bigint",
				    a->id);
		return r;
	}
	return -EINVAL;
}

static int apply_connection(struct deploy *d, const struct plan_action *a)
{
	char arr[INFRA_ID_STRLEN], port[16], net[INFRA_ID_STRLEN];
	const char *p[] = {arr, port, net};

	snprintf(arr, sizeof(arr), "%lld", (long long)a->conn.array_id);
	snprintf(port, sizeof(port), "%" PRIu32, a->conn.port);
	snprintf(net, sizeof(net), "%lld", (long long)a->conn.network_id);
	if (a->op == PLAN_OP_CREATE)
		return db_exec(d->db,
			       "UPDATE infra_connection SET deployed = true "
			       "WHERE array_id = $1::bigint AND port = $2::int AND network_id = $3::bigint",
			       3, p, NULL);
	int r = db_exec(d->db,
			"DELETE FROM infra_connection WHERE array_id = $1::bigint AND port = $2::int "
			"AND network_id = $3::bigint AND NOT staged",
			3, p, NULL);
	if (r == 0)
		r = db_exec(d->db,
			    "UPDATE infra_connection SET deployed = false "
			    "WHERE array_id = $1::bigint AND port = $2::int AND network_id = $3::bigint",
			    3, p, NULL);
	return r;
}

/* After the actions, the deployed arrays are the staged ones: their drives
 * become the staged drives and their instances are numbered
 * 0..instances-1 (bindings of surviving instances are kept). */
static int sync_drives_instances(struct deploy *d)
{
	const char *p[] = {d->id};
	int r = db_exec(d->db,
			"DELETE FROM infra_drive x USING infra_array a WHERE a.id = x.array_id "
			"AND a.infrastructure_id = $1::bigint AND NOT x.staged",
			1, p, NULL);
	if (r == 0)
		r = db_exec(d->db,
			    "UPDATE infra_drive x SET deployed = true FROM infra_array a WHERE a.id = x.array_id "
			    "AND a.infrastructure_id = $1::bigint AND NOT x.deployed",
			    1, p, NULL);
	if (r == 0)
		r = db_exec(d->db,
			    "DELETE FROM infra_instance i USING infra_array a WHERE a.id = i.array_id "
			    "AND a.infrastructure_id = $1::bigint AND (a.d_name IS NULL OR i.idx >= a.d_instances)",
			    1, p, NULL);
	if (r == 0)
		r = db_exec(d->db,
			    "INSERT INTO infra_instance (array_id, idx) "
			    "SELECT a.id, g FROM infra_array a, generate_series(0, a.d_instances - 1) AS g "
			    "WHERE a.infrastructure_id = $1::bigint AND a.d_name IS NOT NULL ON CONFLICT DO NOTHING",
			    1, p, NULL);
	return r;
}

static int deploy_apply(struct deploy *d)
{
	int r = db_exec(d->db, "SELECT pg_advisory_xact_lock(" INFRA_POOL_LOCK_KEY ")", 0, NULL, NULL);

	for (size_t i = 0; i < d->plan.n && r == 0; i++) {
		const struct plan_action *a = &d->plan.actions[i];
		if (a->object == PLAN_OBJ_NETWORK)
			r = apply_network(d, a);
		else if (a->object == PLAN_OBJ_ARRAY)
			r = apply_array(d, a);
		else
			r = apply_connection(d, a);
	}
	if (r == 0)
		r = sync_drives_instances(d);
	/* Every WAN of the staged design is deployed now (only SANs are
	 * pruned): give each the addresses its instances need. */
	for (size_t i = 0; i < d->row.staged.n_networks && r == 0; i++)
		if (d->row.staged.networks[i].type == INFRA_NET_WAN)
			r = wan_grow(d, &d->row.staged.networks[i]);
	return r;
}

/* ---- the deploy history ---- */

static void alloc_text(const struct infra_alloc *a, const char **ret_op, const char **ret_object, char *detail,
		       size_t len)
{
	char b[IPPREFIX_STRLEN], f[IPPREFIX_STRLEN];

	ipprefix_format(&a->block, b, sizeof(b));
	*ret_object = a->kind <= INFRA_ALLOC_VLAN_RELEASE ? "vlan" : "subnet";
	switch (a->kind) {
	case INFRA_ALLOC_VLAN:
	case INFRA_ALLOC_VLAN_RELEASE:
		*ret_op = a->kind == INFRA_ALLOC_VLAN ? "allocate" : "release";
		snprintf(detail, len, "vid %" PRIu32, a->vid);
		break;
	case INFRA_ALLOC_BLOCK_ADD:
	case INFRA_ALLOC_BLOCK_RELEASE:
		*ret_op = a->kind == INFRA_ALLOC_BLOCK_ADD ? "allocate" : "release";
		snprintf(detail, len, "%s (%s)", b, a->extra ? "extra" : "primary");
		break;
	case INFRA_ALLOC_BLOCK_GROW:
		*ret_op = "grow";
		snprintf(detail, len, "%s -> %s", ipprefix_format(&a->from, f, sizeof(f)), b);
		break;
	}
}

static void action_text(const struct infra_action *a, char *subject, size_t slen, char *detail, size_t dlen)
{
	detail[0] = '\0';
	if (a->object == PLAN_OBJ_CONNECTION) {
		snprintf(subject, slen, "%s:eth%" PRIu32 " -> %s", a->array, a->port, a->network);
		if (a->san_pruned)
			snprintf(detail, dlen, "SAN without drives");
		return;
	}
	snprintf(subject, slen, "%s", a->name);
	if (a->object == PLAN_OBJ_NETWORK)
		snprintf(detail, dlen, "%s%s%s%s", infra_net_type_name(a->type), a->old_name ? ", renamed from " : "",
			 a->old_name ? a->old_name : "", a->san_pruned ? ", SAN without drives" : "");
	else if (a->op == PLAN_OP_CHANGE)
		snprintf(detail, dlen, "instances %" PRIu32 " -> %" PRIu32 ", ports %" PRIu32 " -> %" PRIu32
			 ", drives %" PRIu32 " -> %" PRIu32 "%s%s",
			 a->old_instances, a->new_instances, a->old_ports, a->new_ports, a->old_drives, a->new_drives,
			 a->old_name ? ", renamed from " : "", a->old_name ? a->old_name : "");
	else if (a->op == PLAN_OP_CREATE)
		snprintf(detail, dlen, "%" PRIu32 " instances, %" PRIu32 " ports, %" PRIu32 " drives", a->new_instances,
			 a->new_ports, a->new_drives);
}

static int step_insert(struct deploy *d, const char *deploy_id, size_t seq, const char *op, const char *object,
		       const char *subject, const char *detail)
{
	char s[24];
	const char *p[] = {deploy_id, s, op, object, subject, detail};

	snprintf(s, sizeof(s), "%zu", seq);
	return db_exec(d->db,
		       "INSERT INTO infra_deploy_step (deploy_id, seq, op, object, subject, detail) "
		       "VALUES ($1::bigint, $2::int, $3, $4, $5, $6)",
		       6, p, NULL);
}

static int deploy_record(struct deploy *d)
{
	const char *p[] = {d->id};
	char *deploy_id = NULL, *rev = NULL, subject[256], detail[256];
	const struct infra_plan_result *o = d->out;

	int r = db_query_value(d->db,
			       "UPDATE infrastructure SET revision = revision + 1, deployed = now() "
			       "WHERE id = $1::bigint RETURNING revision",
			       1, p, &rev);
	const char *q[] = {d->id, rev};
	if (r == 0)
		r = db_query_value(d->db,
				   "INSERT INTO infra_deploy (infrastructure_id, revision) VALUES ($1::bigint, $2::bigint) "
				   "RETURNING id",
				   2, q, &deploy_id);
	size_t seq = 0;
	for (size_t i = 0; i < o->n_actions && r == 0; i++) {
		const struct infra_action *a = &o->actions[i];
		action_text(a, subject, sizeof(subject), detail, sizeof(detail));
		r = step_insert(d, deploy_id, seq++, plan_op_name(a->op), plan_object_name(a->object), subject, detail);
	}
	for (size_t i = 0; i < o->n_allocs && r == 0; i++) {
		const char *op = "", *object = "";
		alloc_text(&o->allocs[i], &op, &object, detail, sizeof(detail));
		r = step_insert(d, deploy_id, seq++, op, object, o->allocs[i].network, detail);
	}
	if (r == 0)
		d->out->revision = strtoll(rev, NULL, 10);
	free(rev);
	free(deploy_id);
	return r;
}

/* ---- entry points ---- */

static int plan_or_deploy(struct db *db, const char *infra, bool commit, struct infra_plan_result *ret,
			  struct infra_err *err)
{
	struct deploy d = {.db = db, .infra = infra, .out = ret, .err = err};

	memset(ret, 0, sizeof(*ret));
	int r = db_begin(db);
	if (r == 0)
		r = deploy_load(&d);
	if (r == 0)
		r = actions_describe(&d);
	if (r == 0)
		r = deploy_apply(&d);
	bool empty = ret->n_actions == 0 && ret->n_allocs == 0;
	if (r == 0 && commit && !empty) {
		r = deploy_record(&d);
		if (r == 0)
			r = db_commit(db);
		ret->applied = r == 0;
	} else {
		db_rollback(db, 0);
	}
	deploy_done(&d);
	if (r < 0) {
		db_rollback(db, r);
		db_infra_plan_result_done(ret);
	}
	return r;
}

int db_infra_plan(struct db *db, const char *infra, struct infra_plan_result *ret, struct infra_err *err)
{
	return plan_or_deploy(db, infra, false, ret, err);
}

int db_infra_deploy(struct db *db, const char *infra, struct infra_plan_result *ret, struct infra_err *err)
{
	return plan_or_deploy(db, infra, true, ret, err);
}

int db_infra_discard(struct db *db, const char *infra, struct infra_err *err)
{
	char id[INFRA_ID_STRLEN];
	const char *p[] = {id};
	static const char *const sql[] = {
		/* Children first: their staged-only rows would otherwise be
		 * removed by the cascade anyway, but explicitly is clearer. */
		"DELETE FROM infra_connection WHERE infrastructure_id = $1::bigint AND NOT deployed",
		"UPDATE infra_connection SET staged = true WHERE infrastructure_id = $1::bigint AND NOT staged",
		"DELETE FROM infra_drive x USING infra_array a WHERE a.id = x.array_id "
		"AND a.infrastructure_id = $1::bigint AND NOT x.deployed",
		"UPDATE infra_drive x SET staged = true FROM infra_array a WHERE a.id = x.array_id "
		"AND a.infrastructure_id = $1::bigint AND NOT x.staged",
		"DELETE FROM infra_array WHERE infrastructure_id = $1::bigint AND d_name IS NULL",
		"UPDATE infra_array SET s_name = d_name, s_instances = d_instances, s_ports = d_ports "
		"WHERE infrastructure_id = $1::bigint",
		"DELETE FROM infra_network WHERE infrastructure_id = $1::bigint AND d_name IS NULL",
		"UPDATE infra_network SET s_name = d_name, s_type = d_type WHERE infrastructure_id = $1::bigint",
		"UPDATE infrastructure SET updated = now() WHERE id = $1::bigint",
	};

	int r = db_begin(db);
	if (r == 0)
		r = infra_lock(db, infra, id, err);
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]) && r == 0; i++)
		r = db_exec(db, sql[i], 1, p, NULL);
	if (r == 0)
		r = db_commit(db);
	return r < 0 ? db_rollback(db, r) : 0;
}

/* ---- ordering an extra subnet ---- */

/* The deployed WAN called name: its id. */
static int deployed_wan(struct db *db, const char *id, const char *infra, const char *name,
			char ret_id[INFRA_ID_STRLEN], struct infra_err *err)
{
	const char *p[] = {id, name};
	PGresult *res;
	int r = db_exec(db,
			"SELECT id, d_type, (d_name = $2) IS TRUE FROM infra_network WHERE infrastructure_id = $1::bigint "
			"AND (d_name = $2 OR s_name = $2) ORDER BY (d_name = $2) IS TRUE DESC LIMIT 1",
			2, p, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		r = infra_fail(err, -ENOENT, "network", "infrastructure \"%s\" has no network \"%.*s\"", infra,
			       INFRA_NAME_MAX, name);
	else if (PQgetvalue(res, 0, 2)[0] != 't')
		r = infra_fail(err, -EBUSY, "network", "network \"%s\" is not deployed yet; deploy it first", name);
	else if (strcmp(PQgetvalue(res, 0, 1), "wan") != 0)
		r = infra_fail(err, -EINVAL, "network", "network \"%s\" is a %s network; only a WAN gets subnets", name,
			       PQgetvalue(res, 0, 1));
	else
		snprintf(ret_id, INFRA_ID_STRLEN, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return r;
}

static int subnet_order_locked(struct deploy *d, const char *net_id, const char *network, unsigned len,
			       struct ipprefix *ret_block)
{
	const char *p[] = {net_id};
	struct ipprefix *taken = NULL;
	size_t n_taken = 0;
	struct wan_plan wp;
	char *v = NULL;
	unsigned shortest = 32;

	int r = db_query_value(d->db,
			       "SELECT count(*) FROM infra_wan_block WHERE network_id = $1::bigint AND kind = 'extra'", 1,
			       p, &v);
	if (r == 0 && strtol(v, NULL, 10) >= INFRA_EXTRA_BLOCKS_MAX)
		r = infra_fail(d->err, -ENOSPC, "prefix_length", "WAN \"%s\" already has %d extra subnets", network,
			       INFRA_EXTRA_BLOCKS_MAX);
	free(v);
	if (r == 0)
		r = pools_required(d, network);
	for (size_t i = 0; i < d->n_pools; i++)
		if (d->pools[i].len < shortest)
			shortest = d->pools[i].len;
	if (r == 0 && (len < shortest || len > 32))
		r = infra_fail(d->err, -EINVAL, "prefix_length", "prefix_length must be from %u to 32", shortest);
	if (r == 0)
		r = db_exec(d->db, "SELECT pg_advisory_xact_lock(" INFRA_POOL_LOCK_KEY ")", 0, NULL, NULL);
	if (r == 0)
		r = taken_load(d, &taken, &n_taken);
	if (r == 0) {
		struct wan_pool pool = {d->pools, d->n_pools, taken, n_taken};
		r = wan_plan_order(&pool, len, &wp);
		if (r == -ENOSPC)
			r = infra_fail(d->err, r, "prefix_length", "the WAN pools of \"%s\" have no free /%u", d->infra,
				       len);
		else if (r == -EINVAL)
			r = infra_fail(d->err, r, "prefix_length", "no WAN pool of \"%s\" can hold a /%u", d->infra,
				       len);
	}
	free(taken);
	if (r == 0 && wp.n != 1)
		r = -EIO;
	if (r == 0)
		r = block_insert(d, net_id, &wp.actions[0].block, true);
	if (r == 0)
		*ret_block = wp.actions[0].block;
	return r;
}

int db_infra_subnet_order(struct db *db, const char *infra, const char *network, unsigned len,
			  struct ipprefix *ret_block, struct infra_err *err)
{
	struct infra_plan_result unused;
	struct deploy d = {.db = db, .infra = infra, .out = &unused, .err = err};
	char net_id[INFRA_ID_STRLEN];
	const char *p[] = {NULL};
	PGresult *res;

	memset(&unused, 0, sizeof(unused));
	int r = db_begin(db);
	if (r == 0)
		r = infra_lock(db, infra, d.id, err);
	if (r == 0)
		r = deployed_wan(db, d.id, infra, network, net_id, err);
	p[0] = d.id;
	if (r == 0)
		r = db_exec(db, "SELECT array_to_string(wan_pools, ' ') FROM infrastructure WHERE id = $1::bigint", 1, p,
			    &res);
	if (r == 0) {
		r = infra_pools_parse(PQgetvalue(res, 0, 0), &d.pools, &d.n_pools);
		PQclear(res);
	}
	if (r == 0)
		r = subnet_order_locked(&d, net_id, network, len, ret_block);
	if (r == 0)
		r = db_commit(db);
	deploy_done(&d);
	return r < 0 ? db_rollback(db, r) : 0;
}

int db_infra_subnets(struct db *db, const char *infra, const char *network, struct infra_block_row **ret,
		     size_t *ret_n, struct infra_err *err)
{
	struct infra_row row;
	int r = db_infra_get(db, infra, &row);

	if (r == -ENOENT)
		return infra_fail(err, r, "", "infrastructure \"%.*s\" not found", INFRA_NAME_MAX, infra);
	if (r < 0)
		return r;
	const struct infra_network_row *net = infra_rows_network_named(&row.deployed, network);
	if (!net && infra_rows_network_named(&row.staged, network))
		r = infra_fail(err, -EBUSY, "network", "network \"%s\" is not deployed yet; deploy it first", network);
	else if (!net)
		r = infra_fail(err, -ENOENT, "network", "infrastructure \"%s\" has no network \"%.*s\"", infra,
			       INFRA_NAME_MAX, network);
	else if (net->type != INFRA_NET_WAN)
		r = infra_fail(err, -EINVAL, "network", "network \"%s\" is a %s network; only a WAN gets subnets",
			       network, infra_net_type_name(net->type));
	if (r == 0) {
		*ret = calloc(net->n_blocks + 1, sizeof(**ret));
		if (!*ret)
			r = -ENOMEM;
		else if (net->n_blocks)
			memcpy(*ret, net->blocks, net->n_blocks * sizeof(**ret));
		*ret_n = net->n_blocks;
	}
	db_infra_row_done(&row);
	return r;
}
