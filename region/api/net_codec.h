/* REST codec for the network model: request bodies and query values
 * checked and turned into the canonical text region/db/net.h takes, and
 * database rows turned into JSON. Pure: no I/O, no logging, no database.
 * Every json_t returned is a new reference owned by the caller. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "region/api/codec.h"
#include "region/db/net.h"
#include "region/ipam/ipam.h"

/* A request body checked against a kind's fields. in.val[] points into
 * owned[] (or is NULL for JSON null). Release with api_net_body_done(). */
struct api_net_body {
	struct net_input in;
	char *owned[NET_FIELDS_MAX];
};

/* Check body (a JSON object) for create or update: unknown fields, types,
 * bounds, addresses, CIDRs (host bits set: the message gives the
 * normalised CIDR), MACs, names. An update must change something.
 * -EINVAL with fail filled. */
int api_net_body_parse(const struct net_kind_info *k, const json_t *body, bool create, struct api_net_body *ret,
		       struct api_fail *fail);
void api_net_body_done(struct api_net_body *b);

/* One value of field f from JSON, as canonical text (malloc'd; NULL for
 * JSON null when f allows it). Used for bodies and, with a JSON string
 * made from the query text, for filters. */
int api_net_value_parse(const struct net_field *f, const json_t *v, char **ret, struct api_fail *fail);

/* A query filter value ("?fabric=fabric-1"): checked like a field of the
 * same type, canonical text in *ret (malloc'd). */
int api_net_filter_parse(const struct net_filter_def *f, const char *text, char **ret, struct api_fail *fail);

/* A subnet path segment: "10.0.0.0-24" (a '/' cannot travel in a path
 * segment) becomes "10.0.0.0/24"; ids and anything else are copied. */
void api_net_subnet_key(const char *segment, char *buf, size_t len);

/* Row row of rows as a JSON object: columns by type, SQL NULL as null,
 * times as RFC 3339, address lists as arrays. NULL when out of memory. */
json_t *api_net_row_json(const struct net_kind_info *k, const struct net_rows *rows, size_t row);

/* A count of addresses: a JSON integer, or a decimal string beyond what a
 * JSON integer holds exactly (2^53 - 1: most IPv6 counts). */
json_t *api_net_u128_json(u128 v);

/* The utilisation of a view as the API shows it. */
json_t *api_net_utilisation_json(const struct ipam_view *v, const char *cidr, const struct ipam_utilisation *u);
/* Suggestions: {"gateway": ... or null, "dynamic_range": {...} or null}. */
json_t *api_net_suggestion_json(const struct ipam_view *v, const struct ipam_suggestion *s);
/* u128 of the subnet's family as address text. */
json_t *api_net_addr_json(uint8_t family, u128 a);
