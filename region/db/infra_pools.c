/* Resources a deploy takes from pools and gives back: VLAN ids from the
 * fabric's pool, IPv4 blocks for WANs from the infrastructure's WAN pools
 * (placement and growth are the WAN engine's, region/ipam/wan.h), and
 * extra subnets ordered for a deployed WAN. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/infra_internal.h"
#include "region/ipam/wan.h"

/* ---- VLAN ids ---- */

int infra_vlan_take(struct infra_deploy *d, const char *net_id, const char *name)
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
		struct infra_alloc *a = infra_alloc_push(d, INFRA_ALLOC_VLAN, name);
		a->vid = (uint32_t)strtoul(v, NULL, 10);
	}
	free(v);
	return r;
}

int infra_vlan_release(struct infra_deploy *d, const char *net_id, const char *name)
{
	const char *p[] = {net_id};
	char *v = NULL;
	int r = db_query_value(d->db,
			       "UPDATE infra_vlan_pool SET network_id = NULL WHERE network_id = $1::bigint "
			       "RETURNING vid",
			       1, p, &v);
	if (r == -ENOENT)
		return 0;
	if (r == 0) {
		struct infra_alloc *a = infra_alloc_push(d, INFRA_ALLOC_VLAN_RELEASE, name);
		a->vid = (uint32_t)strtoul(v, NULL, 10);
	}
	free(v);
	return r;
}

int infra_blocks_release(struct infra_deploy *d, const char *net_id, const char *name)
{
	const char *p[] = {net_id};
	PGresult *res;
	int r = db_exec(d->db, "DELETE FROM infra_wan_block WHERE network_id = $1::bigint RETURNING prefix, kind", 1, p,
			&res);
	if (r < 0)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		struct infra_alloc *a = infra_alloc_push(d, INFRA_ALLOC_BLOCK_RELEASE, name);
		ipprefix_parse(PQgetvalue(res, i, 0), false, &a->block);
		a->extra = strcmp(PQgetvalue(res, i, 1), "extra") == 0;
	}
	PQclear(res);
	return r;
}

/* Every block taken from the infrastructure's pools, by any WAN, and every
 * IPAM subnet in them that is not a WAN block's mirror: a block is never
 * carved out of one (its mirror could not exist beside it). */
static int taken_load(struct infra_deploy *d, struct ipprefix **ret, size_t *ret_n)
{
	char *pools = NULL;
	size_t len = 3 + d->n_pools * (IPPREFIX_STRLEN + 1);
	PGresult *res;

	pools = xmalloc(len);
	size_t used = (size_t)snprintf(pools, len, "{");
	for (size_t i = 0; i < d->n_pools; i++) {
		char t[IPPREFIX_STRLEN];
		used += (size_t)snprintf(pools + used, len - used, "%s%s", i ? "," : "",
					 ipprefix_format(&d->pools[i], t, sizeof(t)));
	}
	snprintf(pools + used, len - used, "}");
	const char *p[] = {pools};
	int r = db_exec(d->db,
			"SELECT prefix FROM infra_wan_block WHERE prefix && ANY ($1::cidr[]) UNION "
			"SELECT s.cidr FROM subnet s WHERE family(s.cidr) = 4 AND s.cidr && ANY ($1::cidr[]) "
			"AND NOT EXISTS (SELECT 1 FROM infra_ipam_subnet m WHERE m.subnet_id = s.id) ORDER BY 1",
			1, p, &res);
	free(pools);
	if (r < 0)
		return r;
	int n = PQntuples(res);
	struct ipprefix *taken = xcalloc((size_t)n + 1, sizeof(*taken));
	size_t k = 0;
	for (int i = 0; i < n; i++)
		if (ipprefix_parse(PQgetvalue(res, i, 0), false, &taken[k]) == 0)
			k++;
	PQclear(res);
	*ret = taken;
	*ret_n = k;
	return 0;
}

static int pools_required(struct infra_deploy *d, const char *name)
{
	if (d->n_pools > 0)
		return 0;
	return infra_fail(d->err, -EBUSY, "wan_pools",
			  "infrastructure \"%s\" has no WAN pool to give WAN \"%s\" addresses; set wan_pools first",
			  d->infra, name);
}

static int block_insert(struct infra_deploy *d, const char *net_id, const struct ipprefix *block, bool extra)
{
	char t[IPPREFIX_STRLEN];
	const char *p[] = {net_id, ipprefix_format(block, t, sizeof(t)), extra ? "extra" : "primary"};

	return db_exec(d->db, "INSERT INTO infra_wan_block (network_id, prefix, kind) VALUES ($1::bigint, $2, $3)", 3,
		       p, NULL);
}

/* A new WAN's first block (seed 000: "By default a /29 IPv4 block"). */
int infra_wan_first_block(struct infra_deploy *d, const char *net_id, const char *name)
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
	if (r == 0)
		infra_alloc_push(d, INFRA_ALLOC_BLOCK_ADD, name)->block = wp.actions[0].block;
	return r;
}

/* Hosts a WAN needs after deploy: one address per instance per port that
 * connects to it. */
static uint64_t wan_hosts_needed(const struct infra_deploy *d, int64_t net_id)
{
	uint64_t n = 0;

	for (size_t i = 0; i < d->row.staged.n_conns; i++) {
		const struct infra_conn_row *c = &d->row.staged.conns[i];
		const struct infra_array_row *a =
		    c->network_id == net_id ? infra_rows_array(&d->row.staged, c->array_id) : NULL;
		if (a)
			n += a->instances;
	}
	return n;
}

static int wan_apply(struct infra_deploy *d, const char *net_id, const char *name, const struct wan_plan *wp,
		     char ids[][INFRA_ID_STRLEN], size_t n_ids)
{
	char t[IPPREFIX_STRLEN];
	int r = 0;

	for (size_t i = 0; i < wp->n && r == 0; i++) {
		const struct wan_action *wa = &wp->actions[i];
		struct infra_alloc *a;
		if (wa->kind == WAN_ACTION_ADD) {
			r = block_insert(d, net_id, &wa->block, false);
			a = r == 0 ? infra_alloc_push(d, INFRA_ALLOC_BLOCK_ADD, name) : NULL;
		} else if (wa->kind == WAN_ACTION_RELEASE) {
			if (wa->index >= n_ids)
				return -EIO;
			const char *p[] = {ids[wa->index]};
			r = db_exec(d->db, "DELETE FROM infra_wan_block WHERE id = $1::bigint", 1, p, NULL);
			a = r == 0 ? infra_alloc_push(d, INFRA_ALLOC_BLOCK_RELEASE, name) : NULL;
		} else {
			if (wa->index >= n_ids)
				return -EIO;
			const char *p[] = {ids[wa->index], ipprefix_format(&wa->block, t, sizeof(t))};
			r = db_exec(d->db, "UPDATE infra_wan_block SET prefix = $2 WHERE id = $1::bigint", 2, p, NULL);
			a = r == 0 ? infra_alloc_push(d,
						      wa->kind == WAN_ACTION_GROW ? INFRA_ALLOC_BLOCK_GROW
										  : INFRA_ALLOC_BLOCK_SHRINK,
						      name)
				   : NULL;
		}
		if (a) {
			a->from = wa->from;
			a->block = wa->block;
		}
	}
	return r;
}

/* The addresses in use inside a WAN's primary blocks, for a shrink. */
static int used_load(struct infra_deploy *d, const char *net_id, struct ipaddr **ret, size_t *ret_n)
{
	const char *p[] = {net_id};
	PGresult *res;
	int r = db_exec(d->db,
			"SELECT DISTINCT host(x.ip) FROM ip_address x JOIN infra_wan_block b ON x.ip <<= b.prefix "
			"WHERE b.network_id = $1::bigint AND b.kind = 'primary'",
			1, p, &res);
	if (r < 0)
		return r;
	int n = PQntuples(res);
	struct ipaddr *used = xcalloc((size_t)n + 1, sizeof(*used));
	size_t k = 0;
	for (int i = 0; i < n; i++)
		if (ipaddr_parse(PQgetvalue(res, i, 0), &used[k]) == 0)
			k++;
	PQclear(res);
	*ret = used;
	*ret_n = k;
	return 0;
}

/* MetalSoft's growth reversed: fewer instances give space back. */
static int wan_shrink(struct infra_deploy *d, const char *net_id, const struct ipprefix *blocks, size_t n_blocks,
		      uint64_t need, struct wan_plan *ret)
{
	struct ipaddr *used = NULL;
	size_t n_used = 0;
	int r = used_load(d, net_id, &used, &n_used);

	if (r == 0)
		r = wan_plan_shrink(blocks, n_blocks, used, n_used, need, ret);
	free(used);
	return r == -EINVAL || r == -EAFNOSUPPORT ? -EIO : r; /* the database holds only v4 blocks */
}

/* Seed 000: the block "is automatically expanded (to a /28, /27 etc if more
 * IPs are needed) or a new subnet is automatically created". */
int infra_wan_grow(struct infra_deploy *d, const struct infra_network_row *net)
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
	blocks = xcalloc((size_t)n + 1, sizeof(*blocks));
	ids = xcalloc((size_t)n + 1, sizeof(*ids));
	for (int i = 0; i < n; i++) {
		snprintf(ids[n_blocks], INFRA_ID_STRLEN, "%s", PQgetvalue(res, i, 0));
		if (ipprefix_parse(PQgetvalue(res, i, 1), false, &blocks[n_blocks]) == 0)
			n_blocks++;
	}
	PQclear(res);
	if (n_blocks == 0)
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
	if (r == 0 && wp.n == 0 && wp.hosts_before > need)
		r = wan_shrink(d, net_id, blocks, n_blocks, need, &wp);
	if (r == 0)
		r = wan_apply(d, net_id, net->name, &wp, ids, n_blocks);
	free(taken);
	free(blocks);
	free(ids);
	return r;
}

/* ---- ordering an extra subnet ---- */

/* The deployed WAN called name: its id. */
static int deployed_wan(struct db *db, const char *id, const char *infra, const char *name,
			char ret_id[INFRA_ID_STRLEN], struct infra_err *err)
{
	const char *p[] = {id, name};
	PGresult *res;
	int r =
	    db_exec(db,
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

static int subnet_order_locked(struct infra_deploy *d, const char *net_id, const char *network, unsigned len,
			       struct ipprefix *ret_block)
{
	const char *p[] = {net_id};
	struct ipprefix *taken = NULL;
	size_t n_taken = 0;
	struct wan_plan wp;
	char *v = NULL;
	unsigned shortest = 32;

	int r = db_query_value(
	    d->db, "SELECT count(*) FROM infra_wan_block WHERE network_id = $1::bigint AND kind = 'extra'", 1, p, &v);
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
	struct infra_deploy d = {.db = db, .infra = infra, .out = &unused, .err = err};
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
		r = db_exec(db, "SELECT array_to_string(wan_pools, ' ') FROM infrastructure WHERE id = $1::bigint", 1,
			    p, &res);
	if (r == 0) {
		r = infra_pools_parse(PQgetvalue(res, 0, 0), &d.pools, &d.n_pools);
		PQclear(res);
	}
	if (r == 0)
		r = subnet_order_locked(&d, net_id, network, len, ret_block);
	/* The block is a subnet of the WAN's VLAN at once, like the others. */
	if (r == 0)
		r = infra_ipam_own(db);
	if (r == 0)
		r = infra_ipam_mirrors_sync(&d);
	if (r == 0)
		r = db_commit(db);
	infra_deploy_done(&d);
	return r < 0 ? db_rollback(db, r) : 0;
}

int db_infra_subnets(struct db *db, const char *infra, const char *network, struct infra_block_row **ret, size_t *ret_n,
		     struct infra_err *err)
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
		*ret = xcalloc(net->n_blocks + 1, sizeof(**ret));
		if (net->n_blocks)
			memcpy(*ret, net->blocks, net->n_blocks * sizeof(**ret));
		*ret_n = net->n_blocks;
	}
	db_infra_row_done(&row);
	return r;
}

/* ---- WAN pools and IPAM ---- */

int infra_pools_ipam_check(struct db *db, const char *pools, struct infra_err *err)
{
	const char *p[] = {pools};
	PGresult *res;
	int r = db_exec(db,
			"SELECT s.cidr, pool.c, (SELECT count(*) FROM ip_address a WHERE a.subnet_id = s.id) "
			"FROM subnet s, unnest($1::cidr[]) AS pool(c) WHERE s.cidr && pool.c "
			"AND EXISTS (SELECT 1 FROM ip_address a WHERE a.subnet_id = s.id) "
			"AND NOT EXISTS (SELECT 1 FROM infra_ipam_subnet m WHERE m.subnet_id = s.id) "
			"ORDER BY s.cidr LIMIT 1",
			1, p, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) > 0)
		r = infra_fail(err, -EBUSY, "wan_pools",
			       "WAN pool %s overlaps subnet %s, which has %s address(es) in use; a WAN's blocks "
			       "would take them away",
			       PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 2));
	PQclear(res);
	return r;
}
