/* The network model in the database (issue 3): zones, fabrics, VLANs,
 * spaces, subnets, IP ranges, static routes, IP addresses, machines and
 * their interfaces, devices and neighbours.
 *
 * Every kind of object is described by one table (struct net_kind_info):
 * the columns a row has (what the API shows), the fields a client may write
 * and the filters a list takes. The generic functions below do list / get /
 * create / update / delete for every kind from those tables and from static,
 * parameterised SQL (region/db/net_sql_*.c); rules that span rows are
 * triggers in migrations/0002_network.sql, so they hold for every writer
 * and inside the same transaction as the write. Allocation (net_alloc.c)
 * loads a view of one subnet under a row lock and asks the IPAM engine
 * (region/ipam/ipam.h).
 *
 * Errors: >= 0 success, else -errno with struct net_err filled:
 *   -EINVAL  a value is wrong (err->field names the API field)
 *   -ENOENT  the object, or an object a field refers to, does not exist
 *   -EEXIST  a duplicate (name, CIDR, MAC, address already assigned ...)
 *   -EBUSY   conflicts with what is stored (overlap, in use, holder named)
 *   -EPERM   a protected object (the default zone, a fabric's default VLAN)
 *   -ENOSPC  no free address
 *   -EIO     the database failed (db_last_error says why)
 * A refused call leaves the database as it was. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/net.h"
#include "region/ipam/ipam.h"

struct db;

enum net_kind {
	NET_ZONE,
	NET_FABRIC,
	NET_SPACE,
	NET_VLAN,
	NET_SUBNET,
	NET_RANGE,
	NET_ROUTE,
	NET_IP,
	NET_MACHINE,
	NET_INTERFACE,
	NET_DEVICE,
	NET_NEIGHBOUR,
	NET_KIND_N,
};

/* How a value travels. In and out of the database every value is text;
 * the type says what that text is and how the API shows or checks it. */
enum net_type {
	NET_T_INT,  /* decimal (ids, counts, vid, mtu) */
	NET_T_BOOL, /* "t"/"f" from the database, "true"/"false" to it */
	NET_T_TEXT, /* free text */
	NET_T_NAME, /* zone/fabric/space name (ir_name in SQL) */
	NET_T_HOST, /* machine/device host name (one DNS label) */
	NET_T_INET, /* one address, canonical text, no prefix length */
	NET_T_CIDR, /* a prefix, normalised */
	NET_T_MAC,  /* aa:bb:cc:dd:ee:ff */
	NET_T_TIME, /* out: unix milliseconds; in: RFC 3339 */
	NET_T_LIST, /* addresses: out space-separated, in a PostgreSQL array literal */
	NET_T_INTS, /* integers in [min, max]: out space-separated, in a PostgreSQL array literal */
	NET_T_ENUM, /* one of net_field.choices */
	NET_T_REF,  /* another object: an id, or its name (net_field.ref says which kind) */
	NET_T_JSON, /* out only: a JSON document (power_options) */
	NET_T_TAGS, /* machine tags (region/machine/alloc.h): out space-separated, in a PostgreSQL array literal */
};

/* A column of a row, in the order rows carry them. */
struct net_col {
	const char *name; /* the API's JSON name */
	enum net_type type;
};

enum net_field_flag {
	NET_F_REQUIRED = 1u << 0, /* must be given on create */
	NET_F_NULLABLE = 1u << 1, /* JSON null clears it */
	NET_F_CREATE = 1u << 2,	  /* given on create only; an update may not change it */
	NET_F_NOUPDATE = NET_F_CREATE,
};

/* A field a client writes. */
struct net_field {
	const char *name;
	enum net_type type;
	unsigned flags;		    /* enum net_field_flag */
	long min, max;		    /* NET_T_INT bounds; NET_T_TEXT length bounds */
	const char *const *choices; /* NET_T_ENUM: NULL-terminated */
	enum net_kind ref;	    /* NET_T_REF: the kind referred to */
};

/* A filter of a list: ?name=value. */
struct net_filter_def {
	const char *name;
	enum net_type type; /* NET_T_REF filters take an id or a name */
	const char *const *choices;
	enum net_kind ref;
};

struct net_kind_info {
	const char *name;   /* "subnet", for messages */
	const char *plural; /* "subnets", the JSON key of a list */
	const struct net_col *cols;
	size_t n_cols;
	const struct net_field *fields;
	size_t n_fields;
	const struct net_filter_def *filters;
	size_t n_filters;
	bool no_update; /* the kind has no writable fields after create */
};

const struct net_kind_info *net_kind_info(enum net_kind kind);
/* Index of the column / field / filter called name, or -1. */
int net_col_index(enum net_kind kind, const char *name);
int net_field_index(enum net_kind kind, const char *name);

#define NET_FIELDS_MAX	       20
#define NET_FILTERS_MAX	       8
#define NET_LIST_LIMIT_MAX     1000
#define NET_LIST_LIMIT_DEFAULT 100

/* Why a call failed; field is "" when no single field is to blame. */
struct net_err {
	char field[64];
	char message[400];
};

/* Values for the fields of one kind, by field index. A field is given when
 * its bit is set in given; val NULL then means JSON null. Values are the
 * canonical text of their type (the API's codec makes them); NET_T_REF
 * values are an id or a name, resolved here. Borrowed. */
struct net_input {
	uint32_t given;
	const char *val[NET_FIELDS_MAX];
};

/* A list request: filter values by filter index (NULL = not filtering). */
struct net_query {
	const char *filter[NET_FILTERS_MAX];
	long limit; /* 1..NET_LIST_LIMIT_MAX */
	long offset;
};

/* Rows as the database gives them: val[row * n_cols + col], NULL for SQL
 * NULL. Owned; free with net_rows_done(). */
struct net_rows {
	enum net_kind kind;
	size_t n, n_cols;
	char **val;
	int64_t total; /* matching rows without limit/offset */
};

static inline const char *net_rows_get(const struct net_rows *r, size_t row, size_t col)
{
	return r->val[row * r->n_cols + col];
}

void net_rows_done(struct net_rows *r);

/* Find an object by its path key: an id ("12"), or for kinds with names a
 * name; a subnet also by CIDR ("10.0.0.0/24"), an IP address also by the
 * address. -ENOENT (err says "subnet '10.0.0.0/24' not found"). */
int net_resolve(struct db *db, enum net_kind kind, const char *key, int64_t *ret_id, struct net_err *err);

int net_list(struct db *db, enum net_kind kind, const struct net_query *q, struct net_rows *ret, struct net_err *err);
/* One object (ret->n == 1), -ENOENT. */
int net_get(struct db *db, enum net_kind kind, int64_t id, struct net_rows *ret, struct net_err *err);
/* parent: the owning object for kinds created under another one (a
 * machine's interface: the machine id), else 0. */
int net_create(struct db *db, enum net_kind kind, int64_t parent, const struct net_input *in, int64_t *ret_id,
	       struct net_err *err);
int net_update(struct db *db, enum net_kind kind, int64_t id, const struct net_input *in, struct net_err *err);
int net_delete(struct db *db, enum net_kind kind, int64_t id, struct net_err *err);
/* net_delete() that also says what went with the object through the
 * database's cascades (docs/network.md, "Deletes"): *ret_with is a JSON
 * object as text, {"static_routes": [...], "dhcp_snippets": [...], ...}
 * with empty lists left out ("{}" when nothing went), read in the same
 * transaction as the delete. Malloc'd; NULL on failure. */
int net_delete_with(struct db *db, enum net_kind kind, int64_t id, char **ret_with, struct net_err *err);
/* What deleting the object would take with it now, as net_delete_with()
 * says it, for callers that delete through other code (a machine's
 * lifecycle). */
int net_deleted_with(struct db *db, enum net_kind kind, int64_t id, char **ret_with, struct net_err *err);

/* A warning about an object just written that the model keeps but that
 * does not do what it may seem to (a dynamic range on an unmanaged
 * subnet: DHCP never leases from it). 1 with buf filled, 0 when none,
 * < 0 when the database failed. */
int net_write_warning(struct db *db, enum net_kind kind, int64_t id, char *buf, size_t len);

/* ---- addresses (net_alloc.c) ---- */

enum net_mode {
	NET_MODE_AUTO,
	NET_MODE_STATIC,
	NET_MODE_DHCP,
	NET_MODE_DISCOVERED,
	NET_MODE_UNCONFIGURED,
};

/* "auto" ... "unconfigured"; -EINVAL for anything else. */
int net_mode_parse(const char *s, enum net_mode *ret);
const char *net_mode_name(enum net_mode m);

/* Who an address is for: at most one of interface, device, rack (with
 * rack_interface) is set; none = a user reservation. */
struct net_alloc_req {
	int64_t subnet_id;
	enum net_mode mode;
	const char *ip;	       /* required for static and discovered; NULL = pick one */
	const char *interface; /* machine interface id */
	const char *device;    /* device id or host name */
	const char *rack;      /* rack id or host name */
	const char *rack_interface;
	const char *hostname;
	const char *comment;
};

struct net_alloc_res {
	int64_t id;		/* the ip_address row */
	char ip[IPADDR_STRLEN]; /* "" for a DHCP/unconfigured link without one */
	/* Auto assign found no free address and offers the least recently
	 * seen neighbour's: verify it is gone before use. */
	bool recheck;
	/* The address (static or offered) was seen on the wire. */
	bool seen_on_wire;
	char seen_mac[MAC_STRLEN];
	int64_t seen_last_ms;
	int retries; /* lost races for an address (UNIQUE backstop) */
};

/* Assign an address of the subnet in one transaction: lock the subnet row,
 * load its ranges, addresses in use, excluded addresses (gateway, DNS
 * servers, rack interface addresses) and neighbours, ask the engine (auto)
 * or check the given address (static, discovered), insert. A clash names
 * the holder. */
int net_ip_allocate(struct db *db, const struct net_alloc_req *req, struct net_alloc_res *ret, struct net_err *err);
/* Release the address ip of the subnet. -ENOENT when it is not assigned. */
int net_ip_release(struct db *db, int64_t subnet_id, const char *ip, int64_t *ret_id, struct net_err *err);

/* A subnet's view, loaded for read-only questions. */
struct net_view {
	struct ipam_view v; /* arrays below are owned */
	struct ipam_range *ranges;
	struct ipam_used *used;
	u128 *excluded;
	struct ipam_neighbour *neighbours;
	char cidr[IPPREFIX_STRLEN];
};

int net_view_load(struct db *db, int64_t subnet_id, struct net_view *ret, struct net_err *err);
void net_view_done(struct net_view *v);
