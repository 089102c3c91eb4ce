/* Generic list / get / create / update / delete for every kind of the
 * network model, driven by the kind tables (net_sql_*.c), and the mapping
 * of the database's diagnostics to errors a client can act on. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/net_internal.h"

static const struct net_kind_def *const net_defs[NET_KIND_N + 1] = {
    [NET_ZONE] = &net_def_zone,		  [NET_FABRIC] = &net_def_fabric, [NET_SPACE] = &net_def_space,
    [NET_VLAN] = &net_def_vlan,		  [NET_SUBNET] = &net_def_subnet, [NET_RANGE] = &net_def_range,
    [NET_ROUTE] = &net_def_route,	  [NET_IP] = &net_def_ip,	  [NET_MACHINE] = &net_def_machine,
    [NET_INTERFACE] = &net_def_interface, [NET_DEVICE] = &net_def_device, [NET_NEIGHBOUR] = &net_def_neighbour,
    [NET_RACK] = &net_def_rack,
};

const struct net_kind_def *net_def(enum net_kind kind)
{
	return (unsigned)kind <= NET_KIND_N ? net_defs[kind] : NULL;
}

const struct net_kind_info *net_kind_info(enum net_kind kind)
{
	return (unsigned)kind < NET_KIND_N ? &net_defs[kind]->info : NULL;
}

int net_col_index(enum net_kind kind, const char *name)
{
	const struct net_kind_info *k = net_kind_info(kind);
	for (size_t i = 0; k && i < k->n_cols; i++)
		if (strcmp(k->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

int net_field_index(enum net_kind kind, const char *name)
{
	const struct net_kind_info *k = net_kind_info(kind);
	for (size_t i = 0; k && i < k->n_fields; i++)
		if (strcmp(k->fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

int net_err_set(struct net_err *err, int code, const char *field, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

void net_id_text(int64_t id, char buf[24])
{
	snprintf(buf, 24, "%" PRId64, id);
}

/* Constraints whose violation is the client's doing, said in its terms.
 * "%s" is the value of field when the request gave one. */
static const struct {
	const char *constraint;
	const char *field;
	int code;
	const char *with_value; /* may be NULL */
	const char *without;
} net_constraints[] = {
    {"zone_name_key", "name", -EEXIST, "a zone named '%s' already exists", "the zone name is taken"},
    {"space_name_key", "name", -EEXIST, "a space named '%s' already exists", "the space name is taken"},
    {"fabric_name_key", "name", -EEXIST, "a fabric named '%s' already exists", "the fabric name is taken"},
    {"vlan_fabric_vid_key", "vid", -EEXIST, "the fabric already has a VLAN %s", "the fabric already has that VLAN"},
    {"vlan_vid_range", "vid", -EINVAL, NULL, "vid must be from 0 to 4094"},
    {"vlan_mtu_range", "mtu", -EINVAL, NULL, "mtu must be from 552 to 65535"},
    {"subnet_cidr_key", "cidr", -EEXIST, "subnet %s already exists", "the subnet already exists"},
    {"subnet_name_key", "name", -EEXIST, "a subnet named '%s' already exists", "the subnet name is taken"},
    {"subnet_name_text", "name", -EINVAL, NULL, "name must not contain control characters"},
    {"vlan_name_text", "name", -EINVAL, NULL, "name must not contain control characters"},
    {"subnet_no_overlap", "cidr", -EBUSY, "%s overlaps another subnet", "the subnet overlaps another subnet"},
    {"subnet_gateway_inside", "gateway", -EINVAL, "gateway %s is outside the subnet",
     "the gateway is outside the subnet"},
    {"ip_range_no_overlap", "start_ip", -EBUSY, NULL, "the range overlaps another range"},
    {"ip_range_order", "end_ip", -EINVAL, NULL, "end_ip must not be below start_ip, in the same address family"},
    {"static_route_key", "gateway", -EEXIST, NULL, "the same route (source, destination, gateway) already exists"},
    {"machine_hostname_key", "hostname", -EEXIST, "a machine named '%s' already exists", "the host name is taken"},
    {"device_hostname_key", "hostname", -EEXIST, "a device named '%s' already exists", "the host name is taken"},
    {"interface_mac_key", "mac", -EEXIST, "MAC %s already belongs to an interface", "the MAC address is taken"},
    {"interface_name_key", "name", -EEXIST, "the machine already has an interface named '%s'",
     "the machine already has an interface of that name"},
    {"interface_name_check", "name", -EINVAL, NULL,
     "interface names are 1-15 characters: letters, digits and . _ : @ - (starting with a letter or digit)"},
    {"ip_address_ip_key", "ip", -EEXIST, "%s is already assigned", "the address is already assigned"},
    {"ir_name_check", "name", -EINVAL, NULL,
     "names are 1-63 characters: letters, digits, '.', '_' and '-', starting with a letter or digit, not all digits"},
    {"ir_hostname_check", "hostname", -EINVAL, NULL,
     "host names are one DNS label: 1-63 letters, digits and '-', not starting or ending with '-', not all digits"},
};

static int net_err_from_state(struct db *db, int r, struct net_err *err)
{
	const char *st = db->last_state;
	const char *msg = db->last_message[0] ? db->last_message : db->last_error;

	if (strncmp(st, "IR", 2) == 0) {
		int code = strcmp(st, "IR404") == 0   ? -ENOENT
			   : strcmp(st, "IR409") == 0 ? -EBUSY
			   : strcmp(st, "IR403") == 0 ? -EPERM
						      : -EINVAL;
		return net_err_set(err, code, db->last_column, "%s", msg);
	}
	for (size_t i = 0; i < sizeof(net_constraints) / sizeof(net_constraints[0]); i++)
		if (strcmp(db->last_constraint, net_constraints[i].constraint) == 0)
			return net_err_set(err, net_constraints[i].code, net_constraints[i].field, "%s",
					   net_constraints[i].without);
	if (strcmp(st, "23503") == 0)
		return net_err_set(err, -ENOENT, NULL, "an object the request refers to no longer exists");
	if (strcmp(st, "23502") == 0)
		return net_err_set(err, -EINVAL, db->last_column, "%s must not be null", db->last_column);
	if (strcmp(st, "23505") == 0 || strcmp(st, "23P01") == 0)
		return net_err_set(err, strcmp(st, "23505") == 0 ? -EEXIST : -EBUSY, NULL, "%s", msg);
	if (strncmp(st, "22", 2) == 0 || strcmp(st, "23514") == 0)
		return net_err_set(err, -EINVAL, db->last_column, "%s", msg);
	return net_err_set(err, r < 0 ? r : -EIO, NULL, "database error");
}

int net_exec(struct db *db, const char *sql, int n, const char *const *params, PGresult **ret, struct net_err *err)
{
	db->last_state[0] = db->last_column[0] = db->last_constraint[0] = db->last_message[0] = '\0';
	int r = db_exec(db, sql, n, params, ret);
	if (r < 0 && err)
		return net_err_from_state(db, r, err);
	return r;
}

/* A constraint message with the value the client sent, when it sent one. */
static void net_err_refine(struct db *db, const struct net_kind_info *k, const struct net_input *in,
			   struct net_err *err)
{
	for (size_t i = 0; i < sizeof(net_constraints) / sizeof(net_constraints[0]); i++) {
		if (strcmp(db->last_constraint, net_constraints[i].constraint) != 0 || !net_constraints[i].with_value)
			continue;
		for (size_t f = 0; f < k->n_fields; f++)
			if (strcmp(k->fields[f].name, net_constraints[i].field) == 0 && (in->given & (1u << f)) &&
			    in->val[f])
				snprintf(err->message, sizeof(err->message), net_constraints[i].with_value, in->val[f]);
	}
}

void net_rows_done(struct net_rows *r)
{
	if (!r || !r->val)
		return;
	for (size_t i = 0; i < r->n * r->n_cols; i++)
		free(r->val[i]);
	free(r->val);
	r->val = NULL;
	r->n = 0;
}

static void net_rows_from(const PGresult *res, enum net_kind kind, size_t n_cols, struct net_rows *ret)
{
	size_t n = (size_t)PQntuples(res);

	memset(ret, 0, sizeof(*ret));
	ret->kind = kind;
	ret->n_cols = n_cols;
	ret->val = xcalloc(n * n_cols + 1, sizeof(char *));
	ret->n = n;
	for (size_t r = 0; r < n; r++) {
		for (size_t c = 0; c < n_cols; c++) {
			if (!PQgetisnull(res, (int)r, (int)c))
				ret->val[r * n_cols + c] = xstrdup(PQgetvalue(res, (int)r, (int)c));
		}
	}
	if (n > 0)
		ret->total = strtoll(PQgetvalue(res, 0, (int)n_cols), NULL, 10);
}

static bool net_is_id(const char *s)
{
	size_t n = strspn(s, "0123456789");
	return n > 0 && n <= 18 && s[n] == '\0';
}

int net_resolve_text(struct db *db, enum net_kind kind, const char *key, char *buf, size_t len, struct net_err *err)
{
	const struct net_kind_def *d = net_def(kind);
	char canon[IPPREFIX_STRLEN];
	const char *p[2] = {NULL, NULL};
	char *v = NULL;

	if (!d || !key || !*key)
		return net_err_set(err, -EINVAL, NULL, "missing %s", d ? d->info.name : "object");
	if (net_is_id(key)) {
		p[0] = key;
	} else if (d->sql.key_type == NET_T_CIDR) {
		struct ipprefix pfx;
		if (ipprefix_parse(key, true, &pfx) < 0)
			return net_err_set(err, -ENOENT, NULL, "%s '%s' not found (give an id or a CIDR)", d->info.name,
					   key);
		p[1] = ipprefix_format(&pfx, canon, sizeof(canon));
	} else if (d->sql.key_type == NET_T_INET) {
		struct ipaddr a;
		if (ipaddr_parse(key, &a) < 0)
			return net_err_set(err, -ENOENT, NULL, "%s '%s' not found (give an id or an address)",
					   d->info.name, key);
		p[1] = ipaddr_format(&a, canon, sizeof(canon));
	} else if (d->sql.key_type == NET_T_TEXT) {
		p[1] = key;
	} else {
		return net_err_set(err, -ENOENT, NULL, "%s '%s' not found (give its id)", d->info.name, key);
	}
	int r = db_query_value(db, d->sql.resolve, 2, p, &v);
	if (r == -ENOENT)
		return net_err_set(err, -ENOENT, NULL, "%s '%s' not found", d->info.name, key);
	if (r < 0)
		return net_err_set(err, r, NULL, "database error");
	snprintf(buf, len, "%s", v);
	free(v);
	return 0;
}

int net_resolve(struct db *db, enum net_kind kind, const char *key, int64_t *ret_id, struct net_err *err)
{
	char buf[NET_ID_TEXT_MAX];
	int r = net_resolve_text(db, kind, key, buf, sizeof(buf), err);
	if (r == 0)
		*ret_id = strtoll(buf, NULL, 10);
	return r;
}

int net_list(struct db *db, enum net_kind kind, const struct net_query *q, struct net_rows *ret, struct net_err *err)
{
	const struct net_kind_def *d = net_def(kind);
	const char *p[3 + NET_FILTERS_MAX] = {NULL};
	char limit[24], offset[24], ids[NET_FILTERS_MAX][NET_ID_TEXT_MAX];
	PGresult *res;

	if (!d || kind == NET_RACK || !d->sql.list)
		return net_err_set(err, -EINVAL, NULL, "cannot list this kind");
	snprintf(limit, sizeof(limit), "%ld", q->limit > 0 ? q->limit : NET_LIST_LIMIT_DEFAULT);
	snprintf(offset, sizeof(offset), "%ld", q->offset > 0 ? q->offset : 0);
	p[0] = limit;
	p[1] = offset;
	for (size_t i = 0; i < d->info.n_filters; i++) {
		const struct net_filter_def *f = &d->info.filters[i];
		if (!q->filter[i])
			continue;
		if (f->type == NET_T_REF) {
			int r = net_resolve_text(db, f->ref, q->filter[i], ids[i], sizeof(ids[i]), err);
			if (r < 0) {
				snprintf(err->field, sizeof(err->field), "%s", f->name);
				return r;
			}
			p[3 + i] = ids[i];
		} else {
			p[3 + i] = q->filter[i];
		}
	}
	int r = net_exec(db, d->sql.list, 3 + (int)d->info.n_filters, p, &res, err);
	if (r < 0)
		return r;
	net_rows_from(res, kind, d->info.n_cols, ret);
	PQclear(res);
	/* Past the end: the count still says how many there are. */
	if (ret->n == 0 && q->offset > 0) {
		p[1] = "0";
		if (net_exec(db, d->sql.list, 3 + (int)d->info.n_filters, p, &res, err) == 0) {
			if (PQntuples(res) > 0)
				ret->total = strtoll(PQgetvalue(res, 0, (int)d->info.n_cols), NULL, 10);
			PQclear(res);
		}
	}
	return 0;
}

int net_get(struct db *db, enum net_kind kind, int64_t id, struct net_rows *ret, struct net_err *err)
{
	const struct net_kind_def *d = net_def(kind);
	const char *p[3 + NET_FILTERS_MAX] = {"1", "0", NULL};
	char idt[24];
	PGresult *res;

	if (!d || kind == NET_RACK)
		return net_err_set(err, -EINVAL, NULL, "cannot read this kind");
	net_id_text(id, idt);
	p[2] = idt;
	int r = net_exec(db, d->sql.list, 3 + (int)d->info.n_filters, p, &res, err);
	if (r < 0)
		return r;
	net_rows_from(res, kind, d->info.n_cols, ret);
	PQclear(res);
	if (ret->n == 0) {
		net_rows_done(ret);
		return net_err_set(err, -ENOENT, NULL, "%s %" PRId64 " not found", d->info.name, id);
	}
	return 0;
}

/* Parameters for the fields of in, refs resolved to ids (in ids[]). */
static int net_fields_bind(struct db *db, const struct net_kind_info *k, const struct net_input *in, const char **p,
			   char ids[][NET_ID_TEXT_MAX], struct net_err *err)
{
	for (size_t i = 0; i < k->n_fields; i++) {
		const struct net_field *f = &k->fields[i];
		p[i] = NULL;
		if (!(in->given & (1u << i)) || !in->val[i])
			continue;
		if (f->type != NET_T_REF) {
			p[i] = in->val[i];
			continue;
		}
		int r = net_resolve_text(db, f->ref, in->val[i], ids[i], sizeof(ids[i]), err);
		if (r < 0) {
			/* The request names something that is not there:
			 * the client's mistake in this field. */
			snprintf(err->field, sizeof(err->field), "%s", f->name);
			return r == -ENOENT ? -EINVAL : r;
		}
		p[i] = ids[i];
	}
	return 0;
}

static int net_input_check(const struct net_kind_info *k, const struct net_input *in, bool create, struct net_err *err)
{
	for (size_t i = 0; i < k->n_fields; i++) {
		const struct net_field *f = &k->fields[i];
		bool given = in->given & (1u << i);
		if (create && (f->flags & NET_F_REQUIRED) && (!given || !in->val[i]))
			return net_err_set(err, -EINVAL, f->name, "%s is required", f->name);
		if (!create && given && (f->flags & NET_F_CREATE))
			return net_err_set(err, -EINVAL, f->name, "the %s of a %s cannot be changed", f->name, k->name);
		if (given && !in->val[i] && !(f->flags & NET_F_NULLABLE))
			return net_err_set(err, -EINVAL, f->name, "%s must not be null", f->name);
	}
	return 0;
}

int net_create(struct db *db, enum net_kind kind, int64_t parent, const struct net_input *in, int64_t *ret_id,
	       struct net_err *err)
{
	const struct net_kind_def *d = net_def(kind);
	const char *p[1 + NET_FIELDS_MAX];
	char ids[NET_FIELDS_MAX][NET_ID_TEXT_MAX], pid[24];
	char *v = NULL;

	if (!d || kind == NET_RACK || !d->sql.insert)
		return net_err_set(err, -EINVAL, NULL, "cannot create this kind");
	int r = net_input_check(&d->info, in, true, err);
	if (r < 0)
		return r;
	/* The parent, for kinds that have one, follows the fields. */
	size_t n = d->info.n_fields;
	net_id_text(parent, pid);
	p[n] = pid;
	n += d->sql.insert_parent ? 1 : 0;
	/* One transaction: the references resolved are the ones inserted,
	 * and a lost connection shows at BEGIN, which is safe to repeat. */
	r = db_begin(db);
	if (r < 0)
		return net_err_set(err, r, NULL, "database unavailable");
	r = net_fields_bind(db, &d->info, in, p, ids, err);
	if (r == 0) {
		PGresult *res;
		r = net_exec(db, d->sql.insert, (int)n, p, &res, err);
		if (r == 0) {
			v = PQntuples(res) > 0 ? xstrdup(PQgetvalue(res, 0, 0)) : NULL;
			r = v ? 0 : net_err_set(err, -EIO, NULL, "the insert returned no row");
			PQclear(res);
		} else {
			net_err_refine(db, &d->info, in, err);
		}
	}
	if (r == 0 && (r = db_commit(db)) < 0)
		net_err_from_state(db, r, err);
	if (r < 0) {
		free(v);
		return db_rollback(db, r);
	}
	if (ret_id)
		*ret_id = strtoll(v, NULL, 10);
	free(v);
	return 0;
}

/* Rules an update is checked against before it is written, for writes
 * the API makes only (migrations/0014: enlistment and infrastructure
 * deploy place links by their own rules). p as the update statement's. */
static int net_update_rules(struct db *db, enum net_kind kind, const struct net_input *in, const char *const *p,
			    struct net_err *err)
{
	int vlan = net_field_index(NET_INTERFACE, "vlan");

	if (kind != NET_INTERFACE || vlan < 0 || !(in->given & (1u << vlan)))
		return 0;
	const char *q[] = {p[0], p[2 + vlan]};
	return net_exec(db, "SELECT ir_interface_vlan_check($1::bigint, $2::bigint)", 2, q, NULL, err);
}

int net_update(struct db *db, enum net_kind kind, int64_t id, const struct net_input *in, struct net_err *err)
{
	const struct net_kind_def *d = net_def(kind);
	const char *p[2 + NET_FIELDS_MAX];
	char ids[NET_FIELDS_MAX][NET_ID_TEXT_MAX], idt[24], mask[24];
	PGresult *res;

	if (!d || kind == NET_RACK || !d->sql.update)
		return net_err_set(err, -EINVAL, NULL, "a %s cannot be changed", d ? d->info.name : "?");
	int r = net_input_check(&d->info, in, false, err);
	if (r < 0)
		return r;
	net_id_text(id, idt);
	snprintf(mask, sizeof(mask), "%" PRIu32, in->given);
	p[0] = idt;
	p[1] = mask;
	r = db_begin(db);
	if (r < 0)
		return net_err_set(err, r, NULL, "database unavailable");
	r = net_fields_bind(db, &d->info, in, p + 2, ids, err);
	if (r == 0)
		r = net_update_rules(db, kind, in, p, err);
	if (r == 0) {
		r = net_exec(db, d->sql.update, 2 + (int)d->info.n_fields, p, &res, err);
		if (r == 0) {
			if (PQntuples(res) == 0)
				r = net_err_set(err, -ENOENT, NULL, "%s %" PRId64 " not found", d->info.name, id);
			PQclear(res);
		} else {
			net_err_refine(db, &d->info, in, err);
		}
	}
	if (r == 0 && (r = db_commit(db)) < 0)
		net_err_from_state(db, r, err);
	return r < 0 ? db_rollback(db, r) : 0;
}

/* The kind as ir_deleted_with() (migrations/0014) names it; NULL for kinds
 * whose delete takes nothing with it. */
static const char *net_dependants_kind(enum net_kind kind)
{
	switch (kind) {
	case NET_SUBNET:
		return "subnet";
	case NET_RANGE:
		return "ip_range";
	case NET_INTERFACE:
		return "interface";
	case NET_MACHINE:
		return "machine";
	case NET_DEVICE:
		return "device";
	case NET_FABRIC:
		return "fabric";
	default:
		return NULL;
	}
}

static int net_dependants(struct db *db, enum net_kind kind, const char *idt, char **ret, struct net_err *err)
{
	const char *p[] = {net_dependants_kind(kind), idt};
	PGresult *res;

	if (!p[0]) {
		*ret = xstrdup("{}");
		return 0;
	}
	int r = net_exec(db, "SELECT ir_deleted_with($1, $2::bigint)::text", 2, p, &res, err);
	if (r < 0)
		return r;
	*ret = xstrdup(PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "{}");
	PQclear(res);
	return 0;
}

int net_deleted_with(struct db *db, enum net_kind kind, int64_t id, char **ret_with, struct net_err *err)
{
	char idt[24];

	*ret_with = NULL;
	net_id_text(id, idt);
	int r = db_begin(db);
	if (r < 0)
		return net_err_set(err, r, NULL, "database unavailable");
	r = net_dependants(db, kind, idt, ret_with, err);
	/* Only read: the row locks it took end here. */
	db_rollback(db, 0);
	return r;
}

int net_delete_with(struct db *db, enum net_kind kind, int64_t id, char **ret_with, struct net_err *err)
{
	const struct net_kind_def *d = net_def(kind);
	const char *p[1];
	char idt[24], *with = NULL;
	PGresult *res;

	if (ret_with)
		*ret_with = NULL;
	if (!d || kind == NET_RACK || !d->sql.del)
		return net_err_set(err, -EINVAL, NULL, "cannot delete this kind");
	net_id_text(id, idt);
	p[0] = idt;
	int r = db_begin(db);
	if (r < 0)
		return net_err_set(err, r, NULL, "database unavailable");
	if (ret_with)
		r = net_dependants(db, kind, idt, &with, err);
	if (r == 0)
		r = net_exec(db, d->sql.del, 1, p, &res, err);
	if (r == 0) {
		if (PQntuples(res) == 0)
			r = net_err_set(err, -ENOENT, NULL, "%s %" PRId64 " not found", d->info.name, id);
		PQclear(res);
	}
	if (r == 0 && (r = db_commit(db)) < 0)
		net_err_from_state(db, r, err);
	if (r < 0) {
		free(with);
		return db_rollback(db, r);
	}
	if (ret_with)
		*ret_with = with;
	return 0;
}

int net_delete(struct db *db, enum net_kind kind, int64_t id, struct net_err *err)
{
	return net_delete_with(db, kind, id, NULL, err);
}

int net_write_warning(struct db *db, enum net_kind kind, int64_t id, char *buf, size_t len)
{
	char idt[24], *v = NULL;
	const char *p[] = {idt};

	buf[0] = '\0';
	if (kind != NET_RANGE && kind != NET_SUBNET)
		return 0;
	net_id_text(id, idt);
	/* One rule, said the same way wherever it shows (docs/network.md,
	 * "Unmanaged subnets"). */
	int r = db_query_value(
	    db,
	    kind == NET_RANGE ? "SELECT s.cidr::text FROM ip_range r JOIN subnet s ON s.id = r.subnet_id "
				"WHERE r.id = $1::bigint AND r.type = 'dynamic' AND NOT s.managed"
			      : "SELECT s.cidr::text FROM subnet s WHERE s.id = $1::bigint AND NOT s.managed "
				"AND EXISTS (SELECT 1 FROM ip_range r WHERE r.subnet_id = s.id AND r.type = 'dynamic')",
	    1, p, &v);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	snprintf(buf, len,
		 "subnet %s is unmanaged: DHCP never leases from an unmanaged subnet, so its dynamic ranges are "
		 "not used; their addresses are not assigned either until the subnet is managed",
		 v);
	free(v);
	return 1;
}
