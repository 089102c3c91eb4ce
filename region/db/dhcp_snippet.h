/* DHCP snippets (extra options at global, subnet, range or host scope) and
 * the addresses racks quarantined (dhcp_conflict), in the database.
 *
 * A snippet's value is stored as the operator wrote it and, encoded, as
 * data; the caller (region/api/dhcp.c) encodes it with
 * dhcp4_snippet_encode() before any write, so the database never holds a
 * value the racks would refuse.
 *
 * Errors as in region/db/net.h (struct net_err, -EINVAL/-ENOENT/-EEXIST/
 * -EIO). A refused call leaves the database as it was. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/net.h"
#include "region/db/net.h"

struct db;

#define DHCP_SNIPPET_NAME_MAX  255
#define DHCP_SNIPPET_DESC_MAX  1024
#define DHCP_SNIPPET_VALUE_MAX 4096
#define DHCP_SNIPPET_DATA_MAX  1024 /* DHCP4_SNIPPET_MAX */
#define DHCP_LIST_LIMIT_MAX    1000

enum dhcp_scope {
	DHCP_SCOPE_GLOBAL,
	DHCP_SCOPE_SUBNET,
	DHCP_SCOPE_RANGE,
	DHCP_SCOPE_INTERFACE,
};

/* "global", "subnet", "ip_range", "interface". */
const char *dhcp_scope_name(enum dhcp_scope s);

struct dhcp_snippet {
	int64_t id;
	char name[DHCP_SNIPPET_NAME_MAX + 1];
	char description[DHCP_SNIPPET_DESC_MAX + 1];
	unsigned code;
	char type[8];
	char value[DHCP_SNIPPET_VALUE_MAX + 1];
	uint8_t data[DHCP_SNIPPET_DATA_MAX];
	size_t data_len;
	bool enabled;
	enum dhcp_scope scope;
	int64_t scope_id; /* 0 for global */
	/* Read only: what the scope is, for people: the subnet's CIDR, the
	 * range "first-last", the interface "host/eth0". */
	char scope_label[160];
	int64_t subnet_id; /* the subnet of a subnet or range scope, else 0 */
	int64_t created_ms, updated_ms;
};

struct dhcp_snippet_filter {
	int64_t subnet_id; /* 0: any; else scoped to the subnet or one of its ranges */
	int enabled;	   /* -1: any, 0, 1 */
	long limit, offset;
};

/* *ret is malloc'ed (free()); *ret_total counts every match. */
int dhcp_snippet_list(struct db *db, const struct dhcp_snippet_filter *f, struct dhcp_snippet **ret, size_t *ret_n,
		      int64_t *ret_total, struct net_err *err);
int dhcp_snippet_get(struct db *db, int64_t id, struct dhcp_snippet *ret, struct net_err *err);
/* A snippet by id or name. -ENOENT ("DHCP snippet 'x' not found"). */
int dhcp_snippet_resolve(struct db *db, const char *key, int64_t *ret_id, struct net_err *err);
/* Insert s (id, label and times ignored). -EEXIST for a taken name. */
int dhcp_snippet_create(struct db *db, const struct dhcp_snippet *s, int64_t *ret_id, struct net_err *err);
/* Write every field of s to the row s->id. */
int dhcp_snippet_update(struct db *db, const struct dhcp_snippet *s, struct net_err *err);
int dhcp_snippet_delete(struct db *db, int64_t id, struct net_err *err);

/* ---- addresses racks quarantined ---- */

struct dhcp_conflict {
	char ip[IPADDR_STRLEN];
	char rack[161];
	int64_t subnet_id; /* 0: none */
	char subnet_cidr[IPPREFIX_STRLEN];
	char mac[MAC_STRLEN]; /* "" when unknown */
	char reason[8];
	int64_t until_ms, first_seen_ms, last_seen_ms;
};

/* Newest first; rack NULL for every rack. *ret malloc'ed (free()). */
int dhcp_conflict_list(struct db *db, const char *rack, long limit, long offset, struct dhcp_conflict **ret,
		       size_t *ret_n, int64_t *ret_total, struct net_err *err);
