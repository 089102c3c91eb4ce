/* Infrastructure deploy planner: deployed design + staged design -> ordered
 * actions. Both designs are indexed (arrays and networks by id, connections by
 * their triple) in sorted pointer arrays; every lookup is a binary search, so
 * a plan costs O(n log n) in the size of the designs. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/ipam/plan.h"

/* One design, indexed. */
struct index {
	const struct infra_design *d;
	const struct infra_array **arrays;
	const struct infra_network **networks;
	const struct infra_connection **conns;
	bool *san_alive; /* per networks[] entry (sorted order): false for a SAN without drives */
};

static int cmp_i64(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

/* Equal keys keep their input order (ties broken by position), so a duplicate
 * is always reported at its later occurrence. */
static int cmp_pos(const void *x, const void *y)
{
	uintptr_t a = (uintptr_t)x, b = (uintptr_t)y;

	return (a > b) - (a < b);
}

static int cmp_array(const void *a, const void *b)
{
	const struct infra_array *x = *(const struct infra_array *const *)a, *y = *(const struct infra_array *const *)b;
	int r = cmp_i64(x->id, y->id);

	return r ? r : cmp_pos(x, y);
}

static int cmp_network(const void *a, const void *b)
{
	const struct infra_network *x = *(const struct infra_network *const *)a;
	const struct infra_network *y = *(const struct infra_network *const *)b;
	int r = cmp_i64(x->id, y->id);

	return r ? r : cmp_pos(x, y);
}

static int conn_cmp(const struct infra_connection *x, const struct infra_connection *y)
{
	int r = cmp_i64(x->array_id, y->array_id);

	if (r == 0)
		r = (x->port > y->port) - (x->port < y->port);
	if (r == 0)
		r = cmp_i64(x->network_id, y->network_id);
	return r;
}

static int cmp_conn(const void *a, const void *b)
{
	const struct infra_connection *x = *(const struct infra_connection *const *)a;
	const struct infra_connection *y = *(const struct infra_connection *const *)b;
	int r = conn_cmp(x, y);

	return r ? r : cmp_pos(x, y);
}

static const struct infra_array *find_array(const struct index *ix, int64_t id, size_t *ret_pos)
{
	size_t lo = 0, hi = ix->d->n_arrays;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ix->arrays[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ix->d->n_arrays && ix->arrays[lo]->id == id) {
		if (ret_pos)
			*ret_pos = lo;
		return ix->arrays[lo];
	}
	return NULL;
}

static const struct infra_network *find_network(const struct index *ix, int64_t id, size_t *ret_pos)
{
	size_t lo = 0, hi = ix->d->n_networks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ix->networks[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ix->d->n_networks && ix->networks[lo]->id == id) {
		if (ret_pos)
			*ret_pos = lo;
		return ix->networks[lo];
	}
	return NULL;
}

static bool has_conn(const struct index *ix, const struct infra_connection *c)
{
	size_t lo = 0, hi = ix->d->n_conns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (conn_cmp(ix->conns[mid], c) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ix->d->n_conns && conn_cmp(ix->conns[lo], c) == 0;
}

static void index_done(struct index *ix)
{
	free(ix->arrays);
	free(ix->networks);
	free(ix->conns);
	free(ix->san_alive);
}

static int invalid(struct plan_error *err, bool staged, enum plan_object o, size_t i, const char *reason)
{
	if (err)
		*err = (struct plan_error){.staged = staged, .object = o, .index = i, .reason = reason};
	return -EINVAL;
}

/* Position of p in the design's own array (for error reports). */
#define POS(base, p) ((size_t)((p) - (base)))

static int index_check(const struct index *ix, bool staged, struct plan_error *err)
{
	const struct infra_design *d = ix->d;

	for (size_t i = 1; i < d->n_arrays; i++)
		if (ix->arrays[i]->id == ix->arrays[i - 1]->id)
			return invalid(err, staged, PLAN_OBJ_ARRAY, POS(d->arrays, ix->arrays[i]), "duplicate id");
	for (size_t i = 1; i < d->n_networks; i++)
		if (ix->networks[i]->id == ix->networks[i - 1]->id)
			return invalid(err, staged, PLAN_OBJ_NETWORK, POS(d->networks, ix->networks[i]),
				       "duplicate id");
	for (size_t i = 0; i < d->n_networks; i++) {
		enum infra_net_type t = d->networks[i].type;
		if (t != INFRA_NET_LAN && t != INFRA_NET_WAN && t != INFRA_NET_SAN)
			return invalid(err, staged, PLAN_OBJ_NETWORK, i, "bad network type");
	}
	for (size_t i = 0; i < d->n_conns; i++) {
		const struct infra_connection *c = &d->conns[i];
		const struct infra_array *a = find_array(ix, c->array_id, NULL);
		if (!a)
			return invalid(err, staged, PLAN_OBJ_CONNECTION, i, "unknown instance array");
		if (!find_network(ix, c->network_id, NULL))
			return invalid(err, staged, PLAN_OBJ_CONNECTION, i, "unknown network");
		if (c->port >= a->n_ports)
			return invalid(err, staged, PLAN_OBJ_CONNECTION, i, "port out of range");
	}
	for (size_t i = 1; i < d->n_conns; i++)
		if (conn_cmp(ix->conns[i], ix->conns[i - 1]) == 0)
			return invalid(err, staged, PLAN_OBJ_CONNECTION, POS(d->conns, ix->conns[i]),
				       "duplicate connection");
	return 0;
}

/* A SAN lives while an instance array with drives is connected to it. */
static void index_mark_sans(struct index *ix)
{
	const struct infra_design *d = ix->d;
	size_t pos;

	for (size_t i = 0; i < d->n_networks; i++)
		ix->san_alive[i] = ix->networks[i]->type != INFRA_NET_SAN;
	for (size_t i = 0; i < d->n_conns; i++) {
		const struct infra_array *a = find_array(ix, d->conns[i].array_id, NULL);
		if (find_network(ix, d->conns[i].network_id, &pos) && a && a->drive_count > 0)
			ix->san_alive[pos] = true;
	}
}

static int index_build(struct index *ix, const struct infra_design *d, bool staged, struct plan_error *err)
{
	memset(ix, 0, sizeof(*ix));
	ix->d = d;
	ix->arrays = xcalloc(d->n_arrays + 1, sizeof(*ix->arrays));
	ix->networks = xcalloc(d->n_networks + 1, sizeof(*ix->networks));
	ix->conns = xcalloc(d->n_conns + 1, sizeof(*ix->conns));
	ix->san_alive = xcalloc(d->n_networks + 1, sizeof(*ix->san_alive));
	for (size_t i = 0; i < d->n_arrays; i++)
		ix->arrays[i] = &d->arrays[i];
	for (size_t i = 0; i < d->n_networks; i++)
		ix->networks[i] = &d->networks[i];
	for (size_t i = 0; i < d->n_conns; i++)
		ix->conns[i] = &d->conns[i];
	if (d->n_arrays > 1)
		qsort(ix->arrays, d->n_arrays, sizeof(*ix->arrays), cmp_array);
	if (d->n_networks > 1)
		qsort(ix->networks, d->n_networks, sizeof(*ix->networks), cmp_network);
	if (d->n_conns > 1)
		qsort(ix->conns, d->n_conns, sizeof(*ix->conns), cmp_conn);
	int r = index_check(ix, staged, err);
	if (r == 0)
		index_mark_sans(ix);
	return r;
}

/* Is the network present in the design after SAN pruning? pruned is set when
 * it is present but pruned. */
static const struct infra_network *live_network(const struct index *ix, int64_t id, bool *ret_pruned)
{
	size_t pos;
	const struct infra_network *n = find_network(ix, id, &pos);

	*ret_pruned = n && !ix->san_alive[pos];
	return n && ix->san_alive[pos] ? n : NULL;
}

/* --- the diff ------------------------------------------------------------- */

struct planner {
	struct index dep, stg;
	struct plan *out;
};

static struct plan_action *emit(struct planner *p, enum plan_op op, enum plan_object o, int64_t id)
{
	struct plan_action *a = &p->out->actions[p->out->n++];

	*a = (struct plan_action){.op = op, .object = o, .id = id};
	return a;
}

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static unsigned network_changes(const struct infra_network *o, const struct infra_network *n)
{
	return (str_eq(o->name, n->name) ? 0 : PLAN_CHANGED_NAME) | (o->type == n->type ? 0 : PLAN_CHANGED_TYPE);
}

static unsigned array_changes(const struct infra_array *o, const struct infra_array *n)
{
	return (str_eq(o->name, n->name) ? 0 : PLAN_CHANGED_NAME) |
	       (o->instance_count == n->instance_count ? 0 : PLAN_CHANGED_INSTANCES) |
	       (o->n_ports == n->n_ports ? 0 : PLAN_CHANGED_PORTS) |
	       (o->drive_count == n->drive_count ? 0 : PLAN_CHANGED_DRIVES) |
	       (o->min_cpu == n->min_cpu && o->min_memory_gib == n->min_memory_gib && o->min_disk_gb == n->min_disk_gb
		    ? 0
		    : PLAN_CHANGED_REQUIREMENTS) |
	       (str_eq(o->image, n->image) && str_eq(o->user_data, n->user_data) && str_eq(o->ssh_keys, n->ssh_keys)
		    ? 0
		    : PLAN_CHANGED_OS);
}

/* Steps 1 and 3: create networks / change networks. */
static void step_networks(struct planner *p, bool change)
{
	for (size_t i = 0; i < p->stg.d->n_networks; i++) {
		const struct infra_network *n = p->stg.networks[i];
		if (!p->stg.san_alive[i])
			continue;
		const struct infra_network *o = find_network(&p->dep, n->id, NULL);
		if (!change && !o) {
			emit(p, PLAN_OP_CREATE, PLAN_OBJ_NETWORK, n->id)->network_new = n;
		} else if (change && o && network_changes(o, n)) {
			struct plan_action *a = emit(p, PLAN_OP_CHANGE, PLAN_OBJ_NETWORK, n->id);
			a->network_old = o;
			a->network_new = n;
			a->changed = network_changes(o, n);
		}
	}
}

/* Steps 2 and 5: create instance arrays / change instance arrays. */
static void step_arrays(struct planner *p, bool change)
{
	for (size_t i = 0; i < p->stg.d->n_arrays; i++) {
		const struct infra_array *n = p->stg.arrays[i];
		const struct infra_array *o = find_array(&p->dep, n->id, NULL);
		if (!change && !o) {
			emit(p, PLAN_OP_CREATE, PLAN_OBJ_ARRAY, n->id)->array_new = n;
		} else if (change && o && array_changes(o, n)) {
			struct plan_action *a = emit(p, PLAN_OP_CHANGE, PLAN_OBJ_ARRAY, n->id);
			a->array_old = o;
			a->array_new = n;
			a->changed = array_changes(o, n);
		}
	}
}

/* Step 4: disconnect what the staged design (after SAN pruning) lacks. */
static void step_disconnect(struct planner *p)
{
	bool pruned;

	for (size_t i = 0; i < p->dep.d->n_conns; i++) {
		const struct infra_connection *c = p->dep.conns[i];
		bool live = live_network(&p->stg, c->network_id, &pruned) != NULL;
		bool staged = has_conn(&p->stg, c);
		if (live && staged)
			continue;
		struct plan_action *a = emit(p, PLAN_OP_DELETE, PLAN_OBJ_CONNECTION, 0);
		a->conn = *c;
		a->san_pruned = pruned && staged;
	}
}

/* Step 6: connect. */
static void step_connect(struct planner *p)
{
	bool pruned;

	for (size_t i = 0; i < p->stg.d->n_conns; i++) {
		const struct infra_connection *c = p->stg.conns[i];
		if (!live_network(&p->stg, c->network_id, &pruned) || has_conn(&p->dep, c))
			continue;
		emit(p, PLAN_OP_CREATE, PLAN_OBJ_CONNECTION, 0)->conn = *c;
	}
}

/* Steps 7 and 8: delete instance arrays, then networks. */
static void step_delete(struct planner *p)
{
	bool pruned;

	for (size_t i = 0; i < p->dep.d->n_arrays; i++) {
		const struct infra_array *o = p->dep.arrays[i];
		if (!find_array(&p->stg, o->id, NULL))
			emit(p, PLAN_OP_DELETE, PLAN_OBJ_ARRAY, o->id)->array_old = o;
	}
	for (size_t i = 0; i < p->dep.d->n_networks; i++) {
		const struct infra_network *o = p->dep.networks[i];
		if (live_network(&p->stg, o->id, &pruned))
			continue;
		struct plan_action *a = emit(p, PLAN_OP_DELETE, PLAN_OBJ_NETWORK, o->id);
		a->network_old = o;
		a->san_pruned = pruned;
	}
}

static const struct infra_design empty_design;

int plan_compute(const struct infra_design *deployed, const struct infra_design *staged, struct plan *ret,
		 struct plan_error *ret_err)
{
	struct planner p = {.out = ret};
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!deployed)
		deployed = &empty_design;
	if (!staged)
		staged = &empty_design;
	r = index_build(&p.dep, deployed, false, ret_err);
	if (r == 0)
		r = index_build(&p.stg, staged, true, ret_err);
	size_t cap = deployed->n_arrays + deployed->n_networks + deployed->n_conns + staged->n_arrays +
		     staged->n_networks + staged->n_conns + 1;
	if (r == 0)
		ret->actions = xcalloc(cap, sizeof(*ret->actions));
	if (r == 0) {
		step_networks(&p, false);
		step_arrays(&p, false);
		step_networks(&p, true);
		step_disconnect(&p);
		step_arrays(&p, true);
		step_connect(&p);
		step_delete(&p);
	}
	index_done(&p.dep);
	index_done(&p.stg);
	if (r < 0)
		plan_done(ret);
	return r;
}

void plan_done(struct plan *p)
{
	if (!p)
		return;
	free(p->actions);
	p->actions = NULL;
	p->n = 0;
}

const char *plan_op_name(enum plan_op op)
{
	switch (op) {
	case PLAN_OP_CREATE:
		return "create";
	case PLAN_OP_CHANGE:
		return "change";
	case PLAN_OP_DELETE:
		return "delete";
	}
	return "?";
}

const char *plan_object_name(enum plan_object o)
{
	switch (o) {
	case PLAN_OBJ_NETWORK:
		return "network";
	case PLAN_OBJ_ARRAY:
		return "instance_array";
	case PLAN_OBJ_CONNECTION:
		return "connection";
	}
	return "?";
}

const char *infra_net_type_name(enum infra_net_type t)
{
	switch (t) {
	case INFRA_NET_LAN:
		return "lan";
	case INFRA_NET_WAN:
		return "wan";
	case INFRA_NET_SAN:
		return "san";
	}
	return "?";
}

/* ---- machine binding ---- */

size_t plan_bind(const struct plan_bind_need *needs, size_t n_needs, const struct alloc_machine *machines,
		 size_t n_machines, long *ret_pick)
{
	bool *taken = xcalloc(n_machines + 1, sizeof(*taken));
	size_t unbound = 0;

	for (size_t i = 0; i < n_needs; i++) {
		long k = alloc_pick(needs[i].filter, machines, n_machines, taken);
		ret_pick[i] = k;
		if (k < 0)
			unbound++;
		else
			taken[k] = true;
	}
	free(taken);
	return unbound;
}

/* Append to buf at *off, never past len. */
static void bind_put(char *buf, size_t len, size_t *off, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void bind_put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n < len - *off ? (size_t)n : len - *off - 1;
}

void plan_bind_shortage(const struct plan_bind_need *needs, size_t n_needs, const long *pick,
			const struct alloc_machine *machines, size_t n_machines, char *buf, size_t len)
{
	size_t off = 0;
	char text[1024];

	if (!buf || !len)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < n_needs; i++) {
		/* One sentence per array, at its first need that went unbound. */
		bool first = true;
		for (size_t k = 0; k < i && first; k++)
			first = !(needs[k].array_id == needs[i].array_id && pick[k] < 0);
		if (pick[i] >= 0 || !first)
			continue;
		size_t wanted = 0, match = 0;
		for (size_t k = 0; k < n_needs; k++)
			wanted += needs[k].array_id == needs[i].array_id;
		for (size_t k = 0; k < n_machines; k++)
			match += alloc_match(needs[i].filter, &machines[k]);
		if (match == 0) {
			alloc_explain(needs[i].filter, machines, n_machines, text, sizeof(text));
			bind_put(buf, len, &off, "%sinstance array \"%s\": %s", off ? "; " : "", needs[i].array, text);
			continue;
		}
		alloc_filter_text(needs[i].filter, text, sizeof(text));
		bind_put(buf, len, &off, "%sinstance array \"%s\" needs %zu machine%s%s%s; %zu READY machine%s match%s",
			 off ? "; " : "", needs[i].array, wanted, wanted == 1 ? "" : "s", text[0] ? " " : "", text,
			 match, match == 1 ? "" : "s", match == 1 ? "es" : "");
		size_t others = 0;
		for (size_t k = 0; k < n_needs; k++)
			others += needs[k].array_id != needs[i].array_id && pick[k] >= 0 &&
				  alloc_match(needs[i].filter, &machines[pick[k]]);
		if (others)
			bind_put(buf, len, &off, " (%zu of them for instances of other arrays)", others);
	}
}
