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

#include "common/util.h"
#include "region/db/infra_internal.h"

static void view_done(struct infra_view *v)
{
	free(v->arrays);
	free(v->networks);
	free(v->conns);
	memset(v, 0, sizeof(*v));
}

static void view_build(const struct infra_design_rows *rows, struct infra_view *v)
{
	memset(v, 0, sizeof(*v));
	v->arrays = xcalloc(rows->n_arrays + 1, sizeof(*v->arrays));
	v->networks = xcalloc(rows->n_networks + 1, sizeof(*v->networks));
	v->conns = xcalloc(rows->n_conns + 1, sizeof(*v->conns));
	for (size_t i = 0; i < rows->n_arrays; i++) {
		const struct infra_array_row *a = &rows->arrays[i];
		v->arrays[i] = (struct infra_array){.id = a->id,
						    .name = a->name,
						    .instance_count = a->instances,
						    .n_ports = a->ports,
						    .drive_count = (uint32_t)a->n_drives,
						    .min_cpu = a->min_cpu,
						    .min_memory_gib = a->min_memory_gib,
						    .min_disk_gb = a->min_disk_gb,
						    .image = a->image,
						    .user_data = a->user_data,
						    .ssh_keys = a->ssh_keys};
	}
	for (size_t i = 0; i < rows->n_networks; i++) {
		const struct infra_network_row *n = &rows->networks[i];
		v->networks[i] = (struct infra_network){.id = n->id, .name = n->name, .type = n->type};
	}
	for (size_t i = 0; i < rows->n_conns; i++) {
		const struct infra_conn_row *c = &rows->conns[i];
		v->conns[i] =
		    (struct infra_connection){.array_id = c->array_id, .port = c->port, .network_id = c->network_id};
	}
	v->d = (struct infra_design){v->arrays, rows->n_arrays, v->networks, rows->n_networks, v->conns, rows->n_conns};
}

void infra_deploy_done(struct infra_deploy *d)
{
	free(d->fabric);
	free(d->zone);
	free(d->pools);
	db_infra_row_done(&d->row);
	view_done(&d->dep);
	view_done(&d->stg);
	plan_done(&d->plan);
}

/* ---- the result ---- */

struct infra_alloc *infra_alloc_push(struct infra_deploy *d, enum infra_alloc_kind kind, const char *network)
{
	struct infra_plan_result *o = d->out;

	o->allocs = xreallocarray(o->allocs, o->n_allocs + 1, sizeof(*o->allocs));
	struct infra_alloc *alloc = &o->allocs[o->n_allocs++];
	memset(alloc, 0, sizeof(*alloc));
	alloc->kind = kind;
	alloc->network = xstrdup(network ? network : "");
	return alloc;
}

static char *name_dup(const char *s)
{
	return xstrdup(s ? s : "");
}

static void action_describe(const struct infra_deploy *d, const struct plan_action *a, struct infra_action *o)
{
	memset(o, 0, sizeof(*o));
	o->op = a->op;
	o->object = a->object;
	o->changed = a->changed;
	o->san_pruned = a->san_pruned;
	if (a->object == PLAN_OBJ_NETWORK) {
		const struct infra_network *n = a->network_new ? a->network_new : a->network_old;
		o->name = name_dup(n->name);
		o->type = n->type;
		if (a->op == PLAN_OP_CHANGE && (a->changed & PLAN_CHANGED_NAME))
			o->old_name = name_dup(a->network_old->name);
	} else if (a->object == PLAN_OBJ_ARRAY) {
		const struct infra_array *n = a->array_new ? a->array_new : a->array_old;
		o->name = name_dup(n->name);
		if (a->op == PLAN_OP_CHANGE && (a->changed & PLAN_CHANGED_NAME))
			o->old_name = name_dup(a->array_old->name);
		if (a->array_old) {
			o->old_instances = a->array_old->instance_count;
			o->old_ports = a->array_old->n_ports;
			o->old_drives = a->array_old->drive_count;
			o->old_req[0] = a->array_old->min_cpu;
			o->old_req[1] = a->array_old->min_memory_gib;
			o->old_req[2] = a->array_old->min_disk_gb;
			o->old_image = name_dup(a->array_old->image);
		}
		if (a->array_new) {
			o->new_instances = a->array_new->instance_count;
			o->new_ports = a->array_new->n_ports;
			o->new_drives = a->array_new->drive_count;
			o->new_req[0] = a->array_new->min_cpu;
			o->new_req[1] = a->array_new->min_memory_gib;
			o->new_req[2] = a->array_new->min_disk_gb;
			o->new_image = name_dup(a->array_new->image);
		}
	} else {
		/* A connection that is created exists in the staged design; one
		 * that is deleted, in the deployed one. */
		const struct infra_design_rows *rows = a->op == PLAN_OP_CREATE ? &d->row.staged : &d->row.deployed;
		const struct infra_array_row *ar = infra_rows_array(rows, a->conn.array_id);
		const struct infra_network_row *nr = infra_rows_network(rows, a->conn.network_id);
		o->array = name_dup(ar ? ar->name : "?");
		o->network = name_dup(nr ? nr->name : "?");
		o->port = a->conn.port;
		o->type = nr ? nr->type : INFRA_NET_LAN;
	}
}

static void actions_describe(struct infra_deploy *d)
{
	struct infra_plan_result *o = d->out;

	o->actions = xcalloc(d->plan.n + 1, sizeof(*o->actions));
	for (size_t i = 0; i < d->plan.n; i++) {
		action_describe(d, &d->plan.actions[i], &o->actions[i]);
		o->n_actions++;
	}
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
		free(r->actions[i].old_image);
		free(r->actions[i].new_image);
	}
	free(r->actions);
	for (size_t i = 0; i < r->n_allocs; i++)
		free(r->allocs[i].network);
	free(r->allocs);
	for (size_t i = 0; i < r->n_bindings; i++) {
		free(r->bindings[i].array);
		free(r->bindings[i].machine);
	}
	free(r->bindings);
	for (size_t i = 0; i < r->n_links; i++) {
		free(r->links[i].array);
		free(r->links[i].network);
		free(r->links[i].machine);
		free(r->links[i].interface);
		free(r->links[i].ip);
	}
	free(r->links);
	free(r->shortage);
	memset(r, 0, sizeof(*r));
}

/* ---- loading ---- */

static int deploy_load(struct infra_deploy *d)
{
	const char *p[] = {NULL};
	PGresult *res;
	struct plan_error perr;

	int r = infra_lock(d->db, d->infra, d->id, d->err);
	if (r < 0)
		return r;
	p[0] = d->id;
	r = db_exec(d->db,
		    "SELECT i.fabric_id, f.name, array_to_string(i.wan_pools, ' '), i.revision, z.name "
		    "FROM infrastructure i JOIN fabric f ON f.id = i.fabric_id JOIN zone z ON z.id = i.zone_id "
		    "WHERE i.id = $1::bigint",
		    1, p, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return -EIO;
	}
	snprintf(d->fabric_id, sizeof(d->fabric_id), "%s", PQgetvalue(res, 0, 0));
	d->fabric = xstrdup(PQgetvalue(res, 0, 1));
	d->revision = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	d->zone = xstrdup(PQgetvalue(res, 0, 4));
	r = infra_pools_parse(PQgetvalue(res, 0, 2), &d->pools, &d->n_pools);
	PQclear(res);
	if (r == 0)
		r = infra_design_load(d->db, d->id, &d->row);
	if (r == 0) {
		view_build(&d->row.deployed, &d->dep);
		view_build(&d->row.staged, &d->stg);
		r = plan_compute(&d->dep.d, &d->stg.d, &d->plan, &perr);
	}
	if (r == -EINVAL)
		/* Staged edits keep the designs valid; this is a bug or a
		 * hand-edited database, not the caller's input. */
		r = infra_fail(d->err, -EBUSY, "", "the %s design of \"%s\" is inconsistent (%s)",
			       perr.staged ? "staged" : "deployed", d->infra, perr.reason ? perr.reason : "?");
	d->out->revision = d->revision;
	return r;
}

/* ---- applying the plan ---- */

static int exec_id(struct infra_deploy *d, const char *sql, int64_t id)
{
	char t[INFRA_ID_STRLEN];
	const char *p[] = {t};

	snprintf(t, sizeof(t), "%lld", (long long)id);
	return db_exec(d->db, sql, 1, p, NULL);
}

static int apply_network(struct infra_deploy *d, const struct plan_action *a)
{
	char id[INFRA_ID_STRLEN];
	int r;

	snprintf(id, sizeof(id), "%lld", (long long)a->id);
	switch (a->op) {
	case PLAN_OP_CREATE:
		r = exec_id(d, "UPDATE infra_network SET d_name = s_name, d_type = s_type WHERE id = $1::bigint",
			    a->id);
		if (r == 0)
			r = infra_vlan_take(d, id, a->network_new->name);
		if (r == 0 && a->network_new->type == INFRA_NET_WAN)
			r = infra_wan_first_block(d, id, a->network_new->name);
		return r;
	case PLAN_OP_CHANGE:
		/* A network's type is fixed for the life of its row. */
		if (a->changed & PLAN_CHANGED_TYPE)
			return infra_fail(d->err, -EBUSY, "type", "network \"%s\" cannot change its type",
					  a->network_new->name);
		return exec_id(d, "UPDATE infra_network SET d_name = s_name WHERE id = $1::bigint", a->id);
	case PLAN_OP_DELETE:
		r = infra_vlan_release(d, id, a->network_old->name);
		if (r == 0)
			r = infra_blocks_release(d, id, a->network_old->name);
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

static int apply_array(struct infra_deploy *d, const struct plan_action *a)
{
	int r;

	switch (a->op) {
	case PLAN_OP_CREATE:
	case PLAN_OP_CHANGE:
		return exec_id(
		    d,
		    "UPDATE infra_array SET d_name = s_name, d_instances = s_instances, d_ports = s_ports, "
		    "d_min_cpu = s_min_cpu, d_min_memory_gib = s_min_memory_gib, d_min_disk_gb = s_min_disk_gb, "
		    "d_image = s_image, d_user_data = s_user_data, d_ssh_keys = s_ssh_keys "
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

static int apply_connection(struct infra_deploy *d, const struct plan_action *a)
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
static int sync_drives_instances(struct infra_deploy *d)
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

static int deploy_apply(struct infra_deploy *d)
{
	int r = db_exec(d->db, "SELECT pg_advisory_xact_lock(" INFRA_POOL_LOCK_KEY ")", 0, NULL, NULL);

	/* Before an array's deletion takes its instances with it. */
	/* Refused before anything changes. */
	if (r == 0)
		r = infra_images_check(d);
	if (r == 0)
		r = infra_machines_release_gone(d);
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
	/* Addresses the design no longer gives hold no space in a WAN. */
	if (r == 0)
		r = infra_links_stale_remove(d);
	/* Every WAN of the staged design is deployed now (only SANs are
	 * pruned): give each the addresses its instances need, no more. */
	for (size_t i = 0; i < d->row.staged.n_networks && r == 0; i++)
		if (d->row.staged.networks[i].type == INFRA_NET_WAN)
			r = infra_wan_grow(d, &d->row.staged.networks[i]);
	if (r == 0)
		r = infra_machines_bind(d);
	if (r == 0)
		r = infra_machines_links(d);
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
	case INFRA_ALLOC_BLOCK_SHRINK:
		*ret_op = a->kind == INFRA_ALLOC_BLOCK_GROW ? "grow" : "shrink";
		snprintf(detail, len, "%s -> %s", ipprefix_format(&a->from, f, sizeof(f)), b);
		break;
	}
}

/* "instances 2 -> 6, renamed from web" for what an array CHANGE changes. */
static void array_changes_text(const struct infra_action *a, char *buf, size_t len)
{
	const struct {
		unsigned bit;
		const char *what;
		uint32_t from, to;
	} fields[] = {
	    {PLAN_CHANGED_INSTANCES, "instances", a->old_instances, a->new_instances},
	    {PLAN_CHANGED_PORTS, "ports", a->old_ports, a->new_ports},
	    {PLAN_CHANGED_DRIVES, "drives", a->old_drives, a->new_drives},
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!(a->changed & fields[i].bit) || used >= len)
			continue;
		int n = snprintf(buf + used, len - used, "%s%s %" PRIu32 " -> %" PRIu32, used ? ", " : "",
				 fields[i].what, fields[i].from, fields[i].to);
		used += n > 0 ? (size_t)n : 0;
	}
	if ((a->changed & PLAN_CHANGED_REQUIREMENTS) && used < len) {
		int n = snprintf(buf + used, len - used,
				 "%smachines: min_cpu %" PRIu32 " -> %" PRIu32 ", min_memory_gib %" PRIu32
				 " -> %" PRIu32 ", min_disk_gb %" PRIu32 " -> %" PRIu32,
				 used ? ", " : "", a->old_req[0], a->new_req[0], a->old_req[1], a->new_req[1],
				 a->old_req[2], a->new_req[2]);
		used += n > 0 ? (size_t)n : 0;
	}
	if ((a->changed & PLAN_CHANGED_OS) && used < len) {
		int n = snprintf(buf + used, len - used, "%sos: image %s -> %s", used ? ", " : "",
				 a->old_image && a->old_image[0] ? a->old_image : "(none)",
				 a->new_image && a->new_image[0] ? a->new_image : "(none)");
		used += n > 0 ? (size_t)n : 0;
	}
	if (a->old_name && used < len)
		snprintf(buf + used, len - used, "%srenamed from %s", used ? ", " : "", a->old_name);
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
		array_changes_text(a, detail, dlen);
	else if (a->op == PLAN_OP_CREATE)
		snprintf(detail, dlen, "%" PRIu32 " instances, %" PRIu32 " ports, %" PRIu32 " drives%s%s",
			 a->new_instances, a->new_ports, a->new_drives,
			 a->new_image && a->new_image[0] ? ", image " : "", a->new_image ? a->new_image : "");
}

static int step_insert(struct infra_deploy *d, const char *deploy_id, size_t seq, const char *op, const char *object,
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

/* The machines bound and given back, and the links made and removed, as
 * steps: "bind machine web#0 node-3", "link address web#0:eth0 -> wan1
 * node-3 eth0 192.0.2.2". */
static int machines_record(struct infra_deploy *d, const char *deploy_id, size_t *seq)
{
	const struct infra_plan_result *o = d->out;
	char subject[256], detail[256];
	int r = 0;

	for (size_t i = 0; i < o->n_bindings && r == 0; i++) {
		const struct infra_binding *b = &o->bindings[i];
		snprintf(subject, sizeof(subject), "%s#%" PRIu32, b->array, b->index);
		r = step_insert(d, deploy_id, (*seq)++, b->op == INFRA_BIND_MACHINE ? "bind" : "release", "machine",
				subject, b->machine);
	}
	for (size_t i = 0; i < o->n_links && r == 0; i++) {
		const struct infra_link *l = &o->links[i];
		snprintf(subject, sizeof(subject), "%s#%" PRIu32 ":eth%" PRIu32 " -> %s", l->array, l->index, l->port,
			 l->network);
		snprintf(detail, sizeof(detail), "%s %s %s", l->machine, l->interface, l->ip);
		r = step_insert(d, deploy_id, (*seq)++, l->removed ? "unlink" : "link", "address", subject, detail);
	}
	return r;
}

static int deploy_record(struct infra_deploy *d)
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
		r = db_query_value(
		    d->db,
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
		r = machines_record(d, deploy_id, &seq);
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
	struct infra_deploy d = {.db = db, .infra = infra, .out = ret, .err = err, .commit = commit};

	memset(ret, 0, sizeof(*ret));
	int r = db_begin(db);
	if (r == 0)
		r = infra_ipam_own(db);
	if (r == 0)
		r = deploy_load(&d);
	if (r == 0) {
		actions_describe(&d);
		r = deploy_apply(&d);
	}
	bool empty = ret->n_actions == 0 && ret->n_allocs == 0 && ret->n_bindings == 0 && ret->n_links == 0;
	if (r == 0 && commit && !empty) {
		r = deploy_record(&d);
		if (r == 0)
			r = db_commit(db);
		ret->applied = r == 0;
	} else {
		db_rollback(db, 0);
	}
	infra_deploy_done(&d);
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
	    "UPDATE infra_array SET s_name = d_name, s_instances = d_instances, s_ports = d_ports, "
	    "s_min_cpu = d_min_cpu, s_min_memory_gib = d_min_memory_gib, s_min_disk_gb = d_min_disk_gb, "
	    "s_image = d_image, s_user_data = d_user_data, s_ssh_keys = d_ssh_keys "
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

/* ---- reading the history ---- */

void db_infra_history_free(struct infra_history_row *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++) {
		for (size_t k = 0; k < rows[i].n_steps; k++) {
			free(rows[i].steps[k].op);
			free(rows[i].steps[k].object);
			free(rows[i].steps[k].subject);
			free(rows[i].steps[k].detail);
		}
		free(rows[i].steps);
	}
	free(rows);
}

static void history_step_add(struct infra_history_row *h, const PGresult *res, int i)
{
	h->steps = xreallocarray(h->steps, h->n_steps + 1, sizeof(*h->steps));
	struct infra_history_step *step = &h->steps[h->n_steps++];
	step->op = name_dup(PQgetvalue(res, i, 3));
	step->object = name_dup(PQgetvalue(res, i, 4));
	step->subject = name_dup(PQgetvalue(res, i, 5));
	step->detail = name_dup(PQgetvalue(res, i, 6));
}

int db_infra_history(struct db *db, const char *infra, size_t limit, struct infra_history_row **ret, size_t *ret_n,
		     struct infra_err *err)
{
	char lim[24];
	const char *p[] = {infra, lim};
	PGresult *res;

	snprintf(lim, sizeof(lim), "%zu", limit < INFRA_HISTORY_MAX ? limit : (size_t)INFRA_HISTORY_MAX);
	char *v = NULL;
	int r = db_query_value(db, "SELECT id FROM infrastructure WHERE name = $1", 1, p, &v);
	free(v);
	if (r == -ENOENT)
		return infra_fail(err, r, "", "infrastructure \"%.*s\" not found", INFRA_NAME_MAX, infra);
	if (r < 0)
		return r;
	/* One row per step, newest deploy first; a deploy always has steps. */
	r = db_exec(db,
		    "SELECT d.id, d.revision, (extract(epoch FROM d.deployed) * 1000)::bigint, "
		    "s.op, s.object, s.subject, s.detail FROM (SELECT x.* FROM infra_deploy x "
		    "JOIN infrastructure i ON i.id = x.infrastructure_id WHERE i.name = $1 "
		    "ORDER BY x.revision DESC LIMIT $2::int) d "
		    "JOIN infra_deploy_step s ON s.deploy_id = d.id ORDER BY d.revision DESC, s.seq",
		    2, p, &res);
	if (r < 0)
		return r;
	int n = PQntuples(res);
	struct infra_history_row *rows = xcalloc((size_t)n + 1, sizeof(*rows));
	size_t count = 0;
	for (int i = 0; i < n; i++) {
		int64_t rev = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		if (count == 0 || rows[count - 1].revision != rev) {
			rows[count].revision = rev;
			rows[count].deployed_ms = strtoll(PQgetvalue(res, i, 2), NULL, 10);
			count++;
		}
		history_step_add(&rows[count - 1], res, i);
	}
	PQclear(res);
	*ret = rows;
	*ret_n = count;
	return 0;
}
