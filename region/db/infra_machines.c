/* An infrastructure's instances bound to machines (docs/deploy.md,
 * "Infrastructures"): deploy gives every instance without a machine the
 * best-fitting READY machine of the infrastructure's zone that meets its
 * array's requirements (region/ipam/plan.h, plan_bind), ALLOCATED to
 * "infrastructure NAME"; an instance that goes gives its machine back; the
 * addresses a WAN gives an instance's ports become static links on the
 * machine's interfaces, in IPAM subnets mirroring the WAN's blocks
 * (migrations/0011_infra_machines.sql). Runs inside deploy's transaction,
 * so a plan (rolled back) shows exactly what deploy would bind. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/alloc_db.h"
#include "region/db/infra_internal.h"

/* READY machines of a zone considered for one deploy. */
#define BIND_CANDIDATES_MAX 100000

static void owner_of(const char *infra, char *buf, size_t len)
{
	snprintf(buf, len, "infrastructure %s", infra);
}

static struct infra_binding *binding_push(struct infra_deploy *d, enum infra_bind_op op, const char *array,
					  uint32_t index, const char *machine, int64_t machine_id)
{
	struct infra_plan_result *o = d->out;
	o->bindings = xreallocarray(o->bindings, o->n_bindings + 1, sizeof(*o->bindings));
	struct infra_binding *b = &o->bindings[o->n_bindings++];
	*b = (struct infra_binding){
	    .op = op, .array = xstrdup(array), .index = index, .machine = xstrdup(machine), .machine_id = machine_id};
	return b;
}

/* ---- instances that go ---- */

/* The machines of the infrastructure's instances that go (all: every
 * one) are given back: an ALLOCATED one at once (it never ran anything
 * of ours), a deployed one (DEPLOYED, FAILED_DEPLOYMENT) is unbound here
 * and released by the caller after the commit (handoff: powered off by
 * its release); one mid-deploy refuses the change until it is aborted. */
static int release(struct infra_deploy *d, bool all)
{
	char owner[128], event[256];
	const char *p[] = {d->id, all ? "true" : "false"};
	PGresult *res;

	owner_of(d->infra, owner, sizeof(owner));
	int r = db_exec(
	    d->db,
	    "SELECT i.array_id, i.idx, coalesce(a.d_name, a.s_name), m.id, m.hostname, m.status "
	    "FROM infra_instance i JOIN infra_array a ON a.id = i.array_id JOIN machine m ON m.id = i.machine_id "
	    "WHERE a.infrastructure_id = $1::bigint AND (i.idx >= coalesce(a.s_instances, 0) OR $2::boolean) "
	    "ORDER BY i.array_id, i.idx",
	    2, p, &res);
	if (r < 0)
		return r;
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		const char *array = PQgetvalue(res, i, 2), *host = PQgetvalue(res, i, 4),
			   *status = PQgetvalue(res, i, 5);
		uint32_t idx = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10);
		int64_t machine = strtoll(PQgetvalue(res, i, 3), NULL, 10);
		if (strcmp(status, "DEPLOYING") == 0) {
			r = infra_fail(d->err, -EBUSY, "instances",
				       "instance %s#%" PRIu32 " goes, but its machine %s is DEPLOYING: abort it first "
				       "(ironrack machines abort %s)",
				       array, idx, host, host);
			break;
		}
		bool handoff = strcmp(status, "DEPLOYED") == 0 || strcmp(status, "FAILED_DEPLOYMENT") == 0;
		snprintf(event, sizeof(event), "instance %s#%" PRIu32 " of %s removed", array, idx, owner);
		/* A machine someone else moved on (released, marked broken)
		 * is only unbound. */
		if (strcmp(status, "ALLOCATED") == 0)
			r = alloc_db_give_back(d->db, machine, owner, event);
		const char *q[] = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)};
		if (r == 0)
			r = db_exec(d->db,
				    "DELETE FROM infra_instance_link WHERE array_id = $1::bigint AND idx = $2::int", 2,
				    q, NULL);
		if (r == 0)
			r = db_exec(d->db,
				    "UPDATE infra_instance SET machine_id = NULL WHERE array_id = $1::bigint "
				    "AND idx = $2::int",
				    2, q, NULL);
		if (r == -EAGAIN)
			r = infra_fail(d->err, -EBUSY, "", "machine %s changed state meanwhile; deploy again", host);
		if (r == 0)
			binding_push(d, INFRA_RELEASE_MACHINE, array, idx, host, machine)->handoff = handoff;
	}
	PQclear(res);
	return r;
}

int infra_machines_release_gone(struct infra_deploy *d)
{
	return release(d, false);
}

int infra_machines_release_all(struct db *db, const char *infra, const char *id, struct infra_err *err)
{
	struct infra_plan_result out = {0};
	struct infra_deploy d = {.db = db, .infra = infra, .out = &out, .err = err};

	snprintf(d.id, sizeof(d.id), "%s", id);
	int r = release(&d, true);
	/* Nobody would release a deployed machine after the infrastructure
	 * is gone: the operator does, first. */
	for (size_t i = 0; i < out.n_bindings && r == 0; i++)
		if (out.bindings[i].handoff)
			r = infra_fail(err, -EBUSY, "",
				       "machine %s of instance %s#%" PRIu32
				       " is deployed: release it first (ironrack machines release %s)",
				       out.bindings[i].machine, out.bindings[i].array, out.bindings[i].index,
				       out.bindings[i].machine);
	db_infra_plan_result_done(&out);
	return r;
}

/* ---- instances that need a machine ---- */

struct bind_job {
	struct plan_bind_need *needs;
	struct alloc_filter *filters; /* one per array */
	char (*arrays)[INFRA_NAME_MAX + 1];
	size_t n, n_filters;
};

static void bind_job_done(struct bind_job *j)
{
	free(j->needs);
	free(j->filters);
	free(j->arrays);
}

/* The instances without a machine, array by array, with each array's
 * requirements: the zone, its minimums, an interface per port up to its
 * highest connected one. */
static int needs_load(struct infra_deploy *d, struct bind_job *j)
{
	const char *p[] = {d->id};
	PGresult *res;
	int r = db_exec(d->db,
			"SELECT i.array_id, a.d_name, i.idx, a.d_min_cpu, a.d_min_memory_gib, a.d_min_disk_gb, "
			"coalesce((SELECT max(c.port) + 1 FROM infra_connection c WHERE c.array_id = a.id "
			"AND c.deployed), 0) "
			"FROM infra_instance i JOIN infra_array a ON a.id = i.array_id "
			"WHERE a.infrastructure_id = $1::bigint AND a.d_name IS NOT NULL AND i.machine_id IS NULL "
			"ORDER BY i.array_id, i.idx",
			1, p, &res);
	if (r < 0)
		return r;
	size_t n = (size_t)PQntuples(res);
	j->needs = xcalloc(n + 1, sizeof(*j->needs));
	j->filters = xcalloc(n + 1, sizeof(*j->filters));
	j->arrays = xcalloc(n + 1, sizeof(*j->arrays));
	for (size_t i = 0; i < n; i++) {
		int row = (int)i;
		int64_t array_id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
		if (i == 0 || j->needs[i - 1].array_id != array_id) {
			struct alloc_filter *f = &j->filters[j->n_filters];
			snprintf(f->zone, sizeof(f->zone), "%s", d->zone);
			f->min_cpu = (uint32_t)strtoul(PQgetvalue(res, row, 3), NULL, 10);
			f->min_memory_gib = (uint32_t)strtoul(PQgetvalue(res, row, 4), NULL, 10);
			f->min_disk_gb = (uint32_t)strtoul(PQgetvalue(res, row, 5), NULL, 10);
			f->min_interfaces = (uint32_t)strtoul(PQgetvalue(res, row, 6), NULL, 10);
			snprintf(j->arrays[j->n_filters], INFRA_NAME_MAX + 1, "%s", PQgetvalue(res, row, 1));
			j->n_filters++;
		}
		j->needs[i] = (struct plan_bind_need){
		    .array_id = array_id,
		    .array = j->arrays[j->n_filters - 1],
		    .index = (uint32_t)strtoul(PQgetvalue(res, row, 2), NULL, 10),
		    .filter = &j->filters[j->n_filters - 1],
		};
	}
	j->n = n;
	PQclear(res);
	return 0;
}

static int bind_one(struct infra_deploy *d, const struct plan_bind_need *need, const struct alloc_machine *m)
{
	char owner[128], event[256], ids[INFRA_ID_STRLEN], idx[16], aid[INFRA_ID_STRLEN];
	const char *p[] = {ids, aid, idx};

	owner_of(d->infra, owner, sizeof(owner));
	snprintf(event, sizeof(event), "instance %s#%" PRIu32 " of %s", need->array, need->index, owner);
	snprintf(ids, sizeof(ids), "%" PRId64, m->id);
	snprintf(aid, sizeof(aid), "%" PRId64, need->array_id);
	snprintf(idx, sizeof(idx), "%" PRIu32, need->index);
	int r = alloc_db_take_id(d->db, m->id, owner, owner, event);
	if (r == -EAGAIN || r == -ENOENT)
		return infra_fail(d->err, -EBUSY, "", "machine %s was taken meanwhile; plan and deploy again",
				  m->hostname);
	if (r == 0)
		r = db_exec(d->db,
			    "UPDATE infra_instance SET machine_id = $1::bigint WHERE array_id = $2::bigint "
			    "AND idx = $3::int",
			    3, p, NULL);
	if (r == 0)
		binding_push(d, INFRA_BIND_MACHINE, need->array, need->index, m->hostname, m->id);
	return r;
}

int infra_machines_bind(struct infra_deploy *d)
{
	struct bind_job j = {0};
	struct alloc_db_set ready = {0};
	long *pick = NULL;
	char text[1024];

	int r = needs_load(d, &j);
	if (r == 0 && j.n > 0)
		r = alloc_db_ready(d->db, d->zone, BIND_CANDIDATES_MAX, &ready);
	if (r < 0 || j.n == 0)
		goto out;
	pick = xcalloc(j.n, sizeof(*pick));
	if (plan_bind(j.needs, j.n, ready.m, ready.n, pick) > 0) {
		plan_bind_shortage(j.needs, j.n, pick, ready.m, ready.n, text, sizeof(text));
		d->out->shortage = xstrdup(text);
		/* Deploy refuses before anything changes (the transaction is
		 * rolled back); a plan goes on to show what it can bind. */
		if (d->commit) {
			r = infra_fail(d->err, -EBUSY, "instances", "not enough machines: %s", text);
			goto out;
		}
	}
	for (size_t i = 0; i < j.n && r == 0; i++)
		if (pick[i] >= 0)
			r = bind_one(d, &j.needs[i], &ready.m[pick[i]]);
out:
	free(pick);
	alloc_db_set_done(&ready);
	bind_job_done(&j);
	return r;
}
