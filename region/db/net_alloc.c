/* Address assignment: load a view of one subnet (under its row lock when
 * writing), ask the IPAM engine, insert. The subnet row lock serialises
 * allocations on one subnet across regions; the UNIQUE constraint on the
 * address is the backstop for writers that do not take it, and a lost race
 * is retried with a fresh view. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "region/db/net_internal.h"

/* Fresh views tried before giving up on a busy subnet. */
#define NET_ALLOC_ATTEMPTS 8

static const char *const net_mode_names[] = {
    [NET_MODE_AUTO] = "auto",
    [NET_MODE_STATIC] = "static",
    [NET_MODE_DHCP] = "dhcp",
    [NET_MODE_DISCOVERED] = "discovered",
    [NET_MODE_UNCONFIGURED] = "unconfigured",
};

int net_mode_parse(const char *s, enum net_mode *ret)
{
	for (size_t i = 0; s && i < sizeof(net_mode_names) / sizeof(net_mode_names[0]); i++) {
		if (strcmp(s, net_mode_names[i]) == 0) {
			*ret = (enum net_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *net_mode_name(enum net_mode m)
{
	return (unsigned)m < sizeof(net_mode_names) / sizeof(net_mode_names[0]) ? net_mode_names[m] : "?";
}

/* ---- the view ---- */

static const char sql_head[] = "SELECT cidr::text, managed FROM subnet WHERE id = $1::bigint";
static const char sql_head_lock[] = "SELECT cidr::text, managed FROM subnet WHERE id = $1::bigint FOR UPDATE";
static const char sql_ranges[] = "SELECT type, host(start_ip), host(end_ip) FROM ip_range WHERE subnet_id = $1::bigint "
				 "ORDER BY start_ip";
/* Unordered: sorting tens of thousands of u128 here is cheaper than
 * PostgreSQL sorting them as inet (net_view_fill sorts every array). */
static const char sql_used[] = "SELECT id, host(ip), owner_kind FROM ip_address "
			       "WHERE subnet_id = $1::bigint AND ip IS NOT NULL";
/* Never auto-assigned: the gateway, DNS servers inside the subnet and
 * addresses racks reported on their interfaces. */
static const char sql_excluded[] =
    "SELECT host(a) FROM ("
    "SELECT s.gateway AS a FROM subnet s WHERE s.id = $1::bigint AND s.gateway IS NOT NULL "
    "UNION SELECT host(d)::inet FROM subnet s, unnest(s.dns_servers) d WHERE s.id = $1::bigint AND d <<= s.cidr "
    "UNION SELECT host(x)::inet FROM subnet s, rack_interface ri, unnest(ri.addresses) x "
    "WHERE s.id = $1::bigint AND host(x)::inet <<= s.cidr) e ORDER BY a";
static const char sql_neighbours[] =
    "SELECT host(ip), max(ir_ms(last_seen)) FROM neighbour "
    "WHERE ip <<= (SELECT cidr FROM subnet WHERE id = $1::bigint) GROUP BY ip ORDER BY ip";

void net_view_done(struct net_view *v)
{
	if (!v)
		return;
	free(v->ranges);
	free(v->used);
	free(v->excluded);
	free(v->neighbours);
	memset(v, 0, sizeof(*v));
}

/* Text from the database as the subnet family's u128. */
static int net_addr_u128(const char *text, uint8_t family, u128 *ret)
{
	struct ipaddr a;

	if (ipaddr_parse(text, &a) < 0 || a.family != family)
		return -EINVAL;
	*ret = ipaddr_to_u128(&a);
	return 0;
}

static enum ipam_holder net_holder_kind(const char *owner_kind)
{
	if (strcmp(owner_kind, "machine_interface") == 0)
		return IPAM_HOLDER_MACHINE;
	if (strcmp(owner_kind, "device") == 0)
		return IPAM_HOLDER_DEVICE;
	if (strcmp(owner_kind, "rack_interface") == 0)
		return IPAM_HOLDER_RACK;
	if (strcmp(owner_kind, "user_reservation") == 0)
		return IPAM_HOLDER_USER;
	if (strcmp(owner_kind, "dhcp_lease") == 0)
		return IPAM_HOLDER_DHCP;
	return IPAM_HOLDER_UNKNOWN;
}

/* Run one of the view's statements; *ret_n rows, *ret the result. */
static int net_view_query(struct db *db, const char *sql, const char *id, PGresult **ret, size_t *ret_n,
			  struct net_err *err)
{
	const char *p[] = {id};
	int r = net_exec(db, sql, 1, p, ret, err);
	if (r == 0)
		*ret_n = (size_t)PQntuples(*ret);
	return r;
}

static int net_view_fill(struct db *db, const char *id, struct net_view *v, struct net_err *err)
{
	uint8_t fam = v->v.prefix.addr.family;
	PGresult *res = NULL;
	size_t n = 0;
	int r = net_view_query(db, sql_ranges, id, &res, &n, err);

	v->ranges = r == 0 ? xcalloc(n + 1, sizeof(*v->ranges)) : NULL;
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct ipam_range *g = &v->ranges[i];
		g->kind = strcmp(PQgetvalue(res, (int)i, 0), "dynamic") == 0 ? IPAM_RANGE_DYNAMIC : IPAM_RANGE_RESERVED;
		if (net_addr_u128(PQgetvalue(res, (int)i, 1), fam, &g->first) < 0 ||
		    net_addr_u128(PQgetvalue(res, (int)i, 2), fam, &g->last) < 0)
			r = net_err_set(err, -EIO, NULL, "the database holds a range of another family");
	}
	v->v.n_ranges = n;
	PQclear(res);
	res = NULL;
	if (r == 0)
		r = net_view_query(db, sql_used, id, &res, &n, err);
	v->used = r == 0 ? xcalloc(n + 1, sizeof(*v->used)) : NULL;
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct ipam_used *u = &v->used[i];
		u->holder_id = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
		u->holder = net_holder_kind(PQgetvalue(res, (int)i, 2));
		if (net_addr_u128(PQgetvalue(res, (int)i, 1), fam, &u->addr) < 0)
			r = net_err_set(err, -EIO, NULL, "the database holds an address of another family");
	}
	v->v.n_used = n;
	PQclear(res);
	res = NULL;
	if (r == 0)
		r = net_view_query(db, sql_excluded, id, &res, &n, err);
	v->excluded = r == 0 ? xcalloc(n + 1, sizeof(*v->excluded)) : NULL;
	for (size_t i = 0; r == 0 && i < n; i++)
		if (net_addr_u128(PQgetvalue(res, (int)i, 0), fam, &v->excluded[i]) < 0)
			r = net_err_set(err, -EIO, NULL, "the database holds an address of another family");
	v->v.n_excluded = n;
	PQclear(res);
	res = NULL;
	if (r == 0)
		r = net_view_query(db, sql_neighbours, id, &res, &n, err);
	v->neighbours = r == 0 ? xcalloc(n + 1, sizeof(*v->neighbours)) : NULL;
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct ipam_neighbour *nb = &v->neighbours[i];
		nb->last_seen = strtoll(PQgetvalue(res, (int)i, 1), NULL, 10);
		if (net_addr_u128(PQgetvalue(res, (int)i, 0), fam, &nb->addr) < 0)
			r = net_err_set(err, -EIO, NULL, "the database holds a neighbour of another family");
	}
	v->v.n_neighbours = n;
	PQclear(res);
	if (r < 0)
		return r;
	/* The engine wants every array sorted by u128; the used addresses
	 * come unordered, and for the others this assumes nothing about how
	 * PostgreSQL orders inet. */
	ipam_sort_ranges(v->ranges, v->v.n_ranges);
	ipam_sort_used(v->used, v->v.n_used);
	ipam_sort_addrs(v->excluded, v->v.n_excluded);
	ipam_sort_neighbours(v->neighbours, v->v.n_neighbours);
	v->v.ranges = v->ranges;
	v->v.used = v->used;
	v->v.excluded = v->excluded;
	v->v.neighbours = v->neighbours;
	return 0;
}

static int net_view_load_tx(struct db *db, int64_t subnet_id, bool lock, struct net_view *ret, struct net_err *err)
{
	char id[24];
	const char *p[] = {id};
	PGresult *res;

	memset(ret, 0, sizeof(*ret));
	net_id_text(subnet_id, id);
	int r = net_exec(db, lock ? sql_head_lock : sql_head, 1, p, &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return net_err_set(err, -ENOENT, NULL, "subnet %" PRId64 " not found", subnet_id);
	}
	snprintf(ret->cidr, sizeof(ret->cidr), "%s", PQgetvalue(res, 0, 0));
	ret->v.managed = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	if (ipprefix_parse(ret->cidr, true, &ret->v.prefix) < 0)
		return net_err_set(err, -EIO, NULL, "the database holds a CIDR this region cannot read: %s", ret->cidr);
	r = net_view_fill(db, id, ret, err);
	if (r < 0)
		net_view_done(ret);
	return r;
}

int net_view_load(struct db *db, int64_t subnet_id, struct net_view *ret, struct net_err *err)
{
	/* One snapshot for all five statements. */
	int r = db_begin(db);
	if (r < 0)
		return net_err_set(err, r, NULL, "database unavailable");
	r = net_exec(db, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL, NULL, err);
	if (r == 0)
		r = net_view_load_tx(db, subnet_id, false, ret, err);
	if (r == 0 && (r = db_commit(db)) < 0) {
		net_view_done(ret);
		net_err_set(err, r, NULL, "database error");
	}
	return r < 0 ? db_rollback(db, r) : 0;
}

/* ---- assignment ---- */

/* The owner of a new address, resolved to ids inside the transaction. */
struct net_owner {
	const char *kind; /* owner_kind column */
	char interface[NET_ID_TEXT_MAX];
	char device[NET_ID_TEXT_MAX];
	char rack[NET_ID_TEXT_MAX];
};

static int net_owner_resolve(struct db *db, const struct net_alloc_req *q, struct net_owner *o, struct net_err *err)
{
	int r = 0;

	memset(o, 0, sizeof(*o));
	o->kind = "user_reservation";
	if (q->interface) {
		o->kind = "machine_interface";
		r = net_resolve_text(db, NET_INTERFACE, q->interface, o->interface, sizeof(o->interface), err);
		if (r < 0)
			snprintf(err->field, sizeof(err->field), "interface");
	} else if (q->device) {
		o->kind = "device";
		r = net_resolve_text(db, NET_DEVICE, q->device, o->device, sizeof(o->device), err);
		if (r < 0)
			snprintf(err->field, sizeof(err->field), "device");
	} else if (q->rack) {
		o->kind = "rack_interface";
		r = net_resolve_text(db, NET_RACK, q->rack, o->rack, sizeof(o->rack), err);
		if (r < 0)
			snprintf(err->field, sizeof(err->field), "rack");
	}
	return r == -ENOENT ? -EINVAL : r;
}

/* A machine interface's link: its subnet on the interface's VLAN, a dhcp or
 * unconfigured link alone on the interface (ir_link_check, migrations/0014).
 * An interface without a VLAN takes the subnet's. */
static int net_link_check(struct db *db, const struct net_owner *o, const char *sid, enum net_mode mode,
			  struct net_err *err)
{
	const char *p[] = {o->interface, sid, net_mode_name(mode)};

	return net_exec(db, "SELECT ir_link_check($1::bigint, $2::bigint, $3)", 3, p, NULL, err);
}

/* A request that cannot make sense whatever the database holds. */
static int net_req_check(const struct net_alloc_req *q, struct net_err *err)
{
	int owners = !!q->interface + !!q->device + !!q->rack;

	if (owners > 1)
		return net_err_set(err, -EINVAL, q->interface ? "interface" : "device",
				   "an address has one owner: give at most one of interface, device and rack");
	if (q->rack && (!q->rack_interface || !*q->rack_interface))
		return net_err_set(err, -EINVAL, "rack_interface", "rack_interface is required with rack");
	if (!q->rack && q->rack_interface)
		return net_err_set(err, -EINVAL, "rack_interface", "rack_interface goes with rack");
	switch (q->mode) {
	case NET_MODE_AUTO:
		if (q->ip)
			return net_err_set(err, -EINVAL, "ip",
					   "auto assign picks the address; use mode static to give one");
		break;
	case NET_MODE_STATIC:
	case NET_MODE_DISCOVERED:
		if (!q->ip)
			return net_err_set(err, -EINVAL, "ip", "mode %s needs an ip", net_mode_name(q->mode));
		break;
	case NET_MODE_DHCP:
	case NET_MODE_UNCONFIGURED:
		if (!q->interface && !q->device)
			return net_err_set(err, -EINVAL, "mode", "mode %s is for a machine interface or a device",
					   net_mode_name(q->mode));
		if (q->mode == NET_MODE_UNCONFIGURED && q->ip)
			return net_err_set(err, -EINVAL, "ip", "an unconfigured link has no address");
		/* The address comes from a lease (MAAS refuses one given). */
		if (q->mode == NET_MODE_DHCP && q->ip)
			return net_err_set(err, -EINVAL, "ip",
					   "a dhcp link gets its address from DHCP; give no ip, or use mode static");
		break;
	}
	return 0;
}

/* "the gateway of subnet X", "rack 'r1' interface eth0", ... for an
 * excluded address; "" when the database no longer says. */
static void net_excluded_describe(struct db *db, const char *subnet_id, const char *ip, char *buf, size_t len)
{
	const char *p[] = {subnet_id, ip};
	char *v = NULL;

	buf[0] = '\0';
	if (db_query_value(db,
			   "SELECT CASE WHEN s.gateway = $2::inet THEN 'the gateway of subnet ' || s.cidr "
			   "WHEN $2::inet = ANY (s.dns_servers) THEN 'a DNS server of subnet ' || s.cidr "
			   "ELSE (SELECT 'in use by ' || format('rack %L interface %s', r.hostname, ri.name) "
			   "FROM rack_interface ri JOIN rack r ON r.id = ri.rack_id, unnest(ri.addresses) x "
			   "WHERE host(x)::inet = $2::inet ORDER BY r.hostname, ri.name LIMIT 1) END "
			   "FROM subnet s WHERE s.id = $1::bigint",
			   2, p, &v) == 0)
		snprintf(buf, len, "%s", v);
	free(v);
}

static void net_holder_describe(struct db *db, const char *ip, char *buf, size_t len)
{
	const char *p[] = {ip};
	char *v = NULL;

	buf[0] = '\0';
	if (db_query_value(db, "SELECT ip_holder(id) FROM ip_address WHERE ip = $1::inet", 1, p, &v) == 0)
		snprintf(buf, len, "%s", v);
	free(v);
}

/* The MAC and time of the latest sighting of ip, for warnings. */
static void net_seen_describe(struct db *db, const char *ip, struct net_alloc_res *ret)
{
	const char *p[] = {ip};
	PGresult *res;

	if (net_exec(db,
		     "SELECT mac::text, ir_ms(last_seen) FROM neighbour WHERE ip = $1::inet "
		     "ORDER BY last_seen DESC LIMIT 1",
		     1, p, &res, NULL) < 0)
		return;
	if (PQntuples(res) == 1) {
		ret->seen_on_wire = true;
		snprintf(ret->seen_mac, sizeof(ret->seen_mac), "%s", PQgetvalue(res, 0, 0));
		ret->seen_last_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	}
	PQclear(res);
}

static int net_static_refuse(struct db *db, const struct net_view *v, const char *sid, const char *ip,
			     const struct ipam_static_check *c, struct net_err *err)
{
	char who[300], a[IPADDR_STRLEN], b[IPADDR_STRLEN];
	struct ipaddr x;

	switch (c->verdict) {
	case IPAM_STATIC_OUTSIDE_SUBNET:
		return net_err_set(err, -EINVAL, "ip", "%s is outside subnet %s", ip, v->cidr);
	case IPAM_STATIC_NOT_USABLE:
		return net_err_set(err, -EINVAL, "ip", "%s is not a usable host address of %s (%s)", ip, v->cidr,
				   v->v.prefix.addr.family == AF_INET6 ? "the subnet-router anycast address"
								       : "network or broadcast address");
	case IPAM_STATIC_IN_DYNAMIC:
		ipaddr_from_u128(v->v.prefix.addr.family, v->ranges[c->range].first, &x);
		ipaddr_format(&x, a, sizeof(a));
		ipaddr_from_u128(v->v.prefix.addr.family, v->ranges[c->range].last, &x);
		ipaddr_format(&x, b, sizeof(b));
		if (!v->v.managed)
			return net_err_set(
			    err, -EBUSY, "ip",
			    "%s is inside the dynamic range %s-%s; subnet %s is unmanaged: DHCP never "
			    "leases from an unmanaged subnet, so its dynamic ranges are not used, and their "
			    "addresses are not assigned either until the subnet is managed",
			    ip, a, b, v->cidr);
		return net_err_set(err, -EBUSY, "ip", "%s is inside the dynamic range %s-%s, which DHCP hands out", ip,
				   a, b);
	case IPAM_STATIC_IN_USE:
		net_holder_describe(db, ip, who, sizeof(who));
		return net_err_set(err, -EEXIST, "ip", "%s is already assigned to %s", ip, *who ? who : "someone");
	case IPAM_STATIC_EXCLUDED:
		net_excluded_describe(db, sid, ip, who, sizeof(who));
		return net_err_set(err, -EBUSY, "ip", "%s is %s; it cannot be assigned", ip,
				   *who ? who : "reserved for the subnet's infrastructure");
	case IPAM_STATIC_OK:
		break;
	}
	return 0;
}

/* Why auto assign found nothing, in the seeds' terms. */
static int net_exhausted(const struct net_view *v, struct net_err *err)
{
	size_t reserved = 0;

	for (size_t i = 0; i < v->v.n_ranges; i++)
		reserved += v->ranges[i].kind == IPAM_RANGE_RESERVED;
	if (!v->v.managed && reserved == 0)
		return net_err_set(err, -ENOSPC, NULL,
				   "subnet %s is unmanaged: auto assign only picks addresses inside its reserved "
				   "ranges, and it has none",
				   v->cidr);
	return net_err_set(err, -ENOSPC, NULL, "subnet %s has no free address for auto assign (%s)", v->cidr,
			   !v->v.managed ? "unmanaged: addresses inside its reserved ranges"
			   : ipam_auto_in_reserved(&v->v)
			       ? "IPv6 with reserved ranges: machines get a static address inside its reserved ranges"
			       : "managed: addresses outside its reserved and dynamic ranges");
}

/* Pick or check the address for q under the view. *ret_ip "" = none. */
static int net_address_decide(struct db *db, const struct net_view *v, const char *sid, const struct net_alloc_req *q,
			      u128 from, char *ret_ip, struct net_alloc_res *ret, struct net_err *err)
{
	uint8_t fam = v->v.prefix.addr.family;
	struct ipaddr a;

	ret_ip[0] = '\0';
	if (q->mode == NET_MODE_AUTO) {
		struct ipam_alloc al;
		if (ipam_alloc_next(&v->v, IPAM_POOL_AUTO, from, &al) < 0)
			return net_exhausted(v, err);
		ipaddr_from_u128(fam, al.addr, &a);
		ipaddr_format(&a, ret_ip, IPADDR_STRLEN);
		ret->recheck = al.recheck;
		return 0;
	}
	if (!q->ip)
		return 0;
	if (ipaddr_parse(q->ip, &a) < 0)
		return net_err_set(err, -EINVAL, "ip", "'%s' is not an IP address", q->ip);
	ipaddr_format(&a, ret_ip, IPADDR_STRLEN);
	if (a.family != fam)
		return net_err_set(err, -EINVAL, "ip", "%s is outside subnet %s (another address family)", ret_ip,
				   v->cidr);
	struct ipam_static_check c;
	ipam_static_check(&v->v, ipaddr_to_u128(&a), &c);
	/* Addresses seen in leases or on the wire may sit in the DHCP pool. */
	if (c.verdict == IPAM_STATIC_IN_DYNAMIC && (q->mode == NET_MODE_DHCP || q->mode == NET_MODE_DISCOVERED))
		c.verdict = IPAM_STATIC_OK;
	return net_static_refuse(db, v, sid, ret_ip, &c, err);
}

static int net_address_insert(struct db *db, const struct net_alloc_req *q, const char *sid, const char *ip,
			      const struct net_owner *o, int64_t *ret_id, struct net_err *err)
{
	const char *p[] = {*ip ? ip : NULL,
			   sid,
			   net_mode_name(q->mode),
			   o->kind,
			   *o->interface ? o->interface : NULL,
			   *o->device ? o->device : NULL,
			   *o->rack ? o->rack : NULL,
			   q->rack ? q->rack_interface : NULL,
			   q->hostname ? q->hostname : "",
			   q->comment ? q->comment : ""};
	PGresult *res;
	int r = net_exec(db,
			 "INSERT INTO ip_address (ip, subnet_id, mode, owner_kind, interface_id, device_id, rack_id, "
			 "rack_interface, hostname, comment) VALUES ($1::inet, $2::bigint, $3, $4, $5::bigint, "
			 "$6::bigint, $7, $8, $9, $10) RETURNING id",
			 10, p, &res, err);
	if (r < 0)
		return r;
	*ret_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

/* One attempt in one transaction. -EAGAIN: lost a race for the address
 * (*ret_from says where to look next). */
static int net_allocate_once(struct db *db, const struct net_alloc_req *q, u128 *from, struct net_alloc_res *ret,
			     struct net_err *err)
{
	char sid[24], ip[IPADDR_STRLEN];
	struct net_owner owner;
	struct net_view v;

	net_id_text(q->subnet_id, sid);
	int r = db_begin(db);
	if (r < 0)
		return net_err_set(err, r, NULL, "database unavailable");
	r = net_view_load_tx(db, q->subnet_id, true, &v, err);
	if (r < 0)
		return db_rollback(db, r);
	r = net_owner_resolve(db, q, &owner, err);
	if (r == 0 && *owner.interface)
		r = net_link_check(db, &owner, sid, q->mode, err);
	if (r == 0)
		r = net_address_decide(db, &v, sid, q, *from, ip, ret, err);
	if (r < 0) {
		net_view_done(&v);
		return db_rollback(db, r);
	}
	r = net_address_insert(db, q, sid, ip, &owner, &ret->id, err);
	/* The view said the address was free, yet the UNIQUE constraint
	 * refused it: a writer without the subnet lock got there first. */
	if (r == -EEXIST && q->mode == NET_MODE_AUTO && strcmp(err->field, "ip") == 0) {
		struct ipaddr a;
		ipaddr_parse(ip, &a);
		*from = ipaddr_to_u128(&a) + 1;
		r = -EAGAIN;
	} else if (r == -EEXIST && strcmp(err->field, "ip") == 0) {
		/* Someone took it without the subnet lock: name them. */
		char who[300];
		db_rollback(db, 0);
		net_holder_describe(db, ip, who, sizeof(who));
		net_view_done(&v);
		return net_err_set(err, -EEXIST, "ip", "%s is already assigned to %s", ip, *who ? who : "someone");
	}
	if (r == 0 && (r = db_commit(db)) < 0)
		net_err_set(err, r, NULL, "database error");
	net_view_done(&v);
	if (r < 0)
		return db_rollback(db, r);
	snprintf(ret->ip, sizeof(ret->ip), "%s", ip);
	return 0;
}

int net_ip_allocate(struct db *db, const struct net_alloc_req *q, struct net_alloc_res *ret, struct net_err *err)
{
	u128 from = 0;
	int r = net_req_check(q, err);

	memset(ret, 0, sizeof(*ret));
	if (r < 0)
		return r;
	for (int attempt = 0; attempt < NET_ALLOC_ATTEMPTS; attempt++) {
		r = net_allocate_once(db, q, &from, ret, err);
		if (r != -EAGAIN)
			break;
		ret->retries++;
	}
	if (r == -EAGAIN)
		return net_err_set(err, -EBUSY, NULL, "the subnet is busy; every address tried was taken meanwhile");
	if (r == 0 && ret->ip[0])
		net_seen_describe(db, ret->ip, ret);
	return r;
}

int net_ip_release(struct db *db, int64_t subnet_id, const char *ip, int64_t *ret_id, struct net_err *err)
{
	char sid[24], canon[IPADDR_STRLEN], *cidr = NULL;
	struct ipaddr a;
	PGresult *res;

	if (!ip || ipaddr_parse(ip, &a) < 0)
		return net_err_set(err, -EINVAL, "ip", "'%s' is not an IP address", ip ? ip : "");
	ipaddr_format(&a, canon, sizeof(canon));
	net_id_text(subnet_id, sid);
	const char *p[] = {sid, canon};
	/* A DHCP lease is the rack's to end (ip_address_api_deletable
	 * refuses it with its MAC and rack: IR409). */
	int r = net_exec(db,
			 "DELETE FROM ip_address WHERE subnet_id = $1::bigint AND ip = $2::inet "
			 "AND ip_address_api_deletable(id) RETURNING id",
			 2, p, &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) == 1) {
		*ret_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		return 0;
	}
	PQclear(res);
	r = db_query_value(db,
			   "SELECT cidr::text || CASE WHEN $2::inet <<= cidr THEN '' ELSE ' outside' END "
			   "FROM subnet WHERE id = $1::bigint",
			   2, p, &cidr);
	if (r == -ENOENT)
		return net_err_set(err, -ENOENT, NULL, "subnet %s not found", sid);
	if (r < 0)
		return net_err_set(err, r, NULL, "database error");
	char *sp = strchr(cidr, ' ');
	if (sp) {
		*sp = '\0';
		r = net_err_set(err, -EINVAL, "ip", "%s is outside subnet %s", canon, cidr);
	} else {
		r = net_err_set(err, -ENOENT, "ip", "%s is not assigned in subnet %s", canon, cidr);
	}
	free(cidr);
	return r;
}
