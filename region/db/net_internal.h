/* Shared by region/db/net_*.c only: each kind's SQL next to its table. */
#pragma once

#include "region/db/db_internal.h"
#include "region/db/net.h"

/* Racks are referred to (a VLAN's DHCP racks, a rack interface's address,
 * where a neighbour was seen) but have their own API: resolve only. */
#define NET_RACK NET_KIND_N

/* Longest id text a resolve gives back (rack ids are text). */
#define NET_ID_TEXT_MAX 160

/* The statements of one kind. All are static text with parameters:
 *  list     $1 limit, $2 offset, $3 id (NULL: any), $4.. the filters in
 *           table order (NULL: not filtering); the columns of the kind's
 *           table, then count(*) OVER ().
 *  insert   $1.. the fields in table order (NULL when not given; refs
 *           already resolved to ids), then the parent id when
 *           insert_parent; RETURNING id.
 *  update   $1 id, $2 bit mask of the fields given (bit i = field i), $3..
 *           the fields; RETURNING id. NULL when the kind has no update.
 *  del      $1 id; RETURNING id.
 *  resolve  $1 id (NULL when the key is not a number), $2 the key as text
 *           (NULL when it is a number); the id found. */
struct net_kind_sql {
	const char *list;
	const char *insert;
	const char *update;
	const char *del;
	const char *resolve;
	bool insert_parent;
	/* resolve: how $2 must look before it is sent (so that a cast in the
	 * statement cannot fail): NET_T_CIDR, NET_T_INET, or NET_T_TEXT. */
	enum net_type key_type;
};

struct net_kind_def {
	struct net_kind_info info;
	struct net_kind_sql sql;
};

extern const struct net_kind_def net_def_zone, net_def_fabric, net_def_space, net_def_vlan;
extern const struct net_kind_def net_def_subnet, net_def_range, net_def_route, net_def_ip;
extern const struct net_kind_def net_def_machine, net_def_interface, net_def_device, net_def_neighbour;
extern const struct net_kind_def net_def_rack;

/* kind may be NET_RACK. */
const struct net_kind_def *net_def(enum net_kind kind);

/* net_db.c */
/* Run a statement; on failure fill err from the database's diagnostics
 * (trigger messages, constraint names) and return -errno as in net.h. */
int net_exec(struct db *db, const char *sql, int n, const char *const *params, PGresult **ret, struct net_err *err);
int net_err_set(struct net_err *err, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* net_resolve() giving the id as text (a rack's id is text). */
int net_resolve_text(struct db *db, enum net_kind kind, const char *key, char *buf, size_t len, struct net_err *err);
/* Canonical decimal text of an id. */
void net_id_text(int64_t id, char buf[24]);
