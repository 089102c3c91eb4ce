/* Subnet questions and address assignment: utilisation, next free address,
 * suggestions, allocate-ip / release-ip; a machine's interfaces and their
 * links to subnets. The decisions are the IPAM engine's (region/ipam). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "region/api/net_api.h"
#include "region/api/net_codec.h"
#include "region/region.h"

static const char *const alloc_modes[] = {"auto", "static", "dhcp", "discovered", "unconfigured", NULL};

/* The body of allocate-ip (and of a link, which adds subnet and fixes the
 * interface). Checked with the same codec as the kinds' fields. */
enum {
	AF_IP,
	AF_MODE,
	AF_HOSTNAME,
	AF_COMMENT,
	AF_INTERFACE,
	AF_DEVICE,
	AF_RACK,
	AF_RACK_INTERFACE,
	AF_SUBNET,
};

static const struct net_field alloc_fields[] = {
    [AF_IP] = {"ip", NET_T_INET, 0, 0, 0, NULL, 0},
    [AF_MODE] = {"mode", NET_T_ENUM, 0, 0, 0, alloc_modes, 0},
    [AF_HOSTNAME] = {"hostname", NET_T_TEXT, 0, 0, 255, NULL, 0},
    [AF_COMMENT] = {"comment", NET_T_TEXT, 0, 0, 1024, NULL, 0},
    [AF_INTERFACE] = {"interface", NET_T_REF, 0, 0, 0, NULL, NET_INTERFACE},
    [AF_DEVICE] = {"device", NET_T_REF, 0, 0, 0, NULL, NET_DEVICE},
    [AF_RACK] = {"rack", NET_T_REF, 0, 0, 0, NULL, NET_KIND_N},
    [AF_RACK_INTERFACE] = {"rack_interface", NET_T_TEXT, 0, 1, 15, NULL, 0},
    [AF_SUBNET] = {"subnet", NET_T_REF, NET_F_REQUIRED, 0, 0, NULL, NET_SUBNET},
};

static const struct net_kind_info alloc_info = {
    "address request", NULL, NULL, 0, alloc_fields, AF_SUBNET, NULL, 0, false,
};
static const struct net_field link_fields[] = {
    {"subnet", NET_T_REF, NET_F_REQUIRED, 0, 0, NULL, NET_SUBNET},
    {"mode", NET_T_ENUM, 0, 0, 0, alloc_modes, 0},
    {"ip", NET_T_INET, 0, 0, 0, NULL, 0},
    {"hostname", NET_T_TEXT, 0, 0, 255, NULL, 0},
    {"comment", NET_T_TEXT, 0, 0, 1024, NULL, 0},
};
static const struct net_kind_info link_info = {
    "link", NULL, NULL, 0, link_fields, sizeof(link_fields) / sizeof(link_fields[0]), NULL, 0, false,
};
static const struct net_field release_fields[] = {
    {"ip", NET_T_INET, NET_F_REQUIRED, 0, 0, NULL, 0},
};
static const struct net_kind_info release_info = {"release", NULL, NULL, 0, release_fields, 1, NULL, 0, false};

/* Parse the body against info; the 400 is recorded on failure. */
static int body_parse(struct api_call *call, const struct net_kind_info *info, struct api_net_body *ret)
{
	struct api_fail fail;
	json_t *body = NULL;

	if (api_body_json(call, &body) < 0)
		return -EINVAL;
	int r = api_net_body_parse(info, body, true, ret, &fail);
	json_decref(body);
	if (r < 0)
		api_reply_error(call, 400, "invalid_argument", fail.field, "%s", fail.message);
	return r;
}

/* A subnet's view for read-only questions; false when the reply is recorded. */
static bool view_load(struct api_call *call, int64_t *ret_id, struct net_view *v)
{
	struct net_err err;

	if (!api_net_lookup(call, NET_SUBNET, 0, ret_id))
		return false;
	int r = net_view_load(call->db, *ret_id, v, &err);
	if (r < 0) {
		api_net_reply_err(call, r, &err);
		return false;
	}
	return true;
}

void api_subnet_utilisation(struct api_call *call)
{
	struct ipam_utilisation u;
	struct net_view v;
	int64_t id;

	if (!view_load(call, &id, &v))
		return;
	ipam_utilisation(&v.v, &u);
	json_t *o = api_net_utilisation_json(&v.v, v.cidr, &u);
	if (o)
		json_object_set_new(o, "subnet", json_integer((json_int_t)id));
	net_view_done(&v);
	api_reply_json(call, 200, o);
}

/* ?pool=auto|dhcp; -EINVAL after the 400. */
static int pool_query(struct api_call *call, enum ipam_pool *ret)
{
	const char *query = call->query;
	struct evkeyvalq kv;
	struct evkeyval *e;
	int r = 0;

	*ret = IPAM_POOL_AUTO;
	if (!query || !*query)
		return 0;
	if (api_query_parse(call, query, &kv) < 0)
		return -EINVAL;
	TAILQ_FOREACH(e, &kv, next)
	{
		if (strcmp(e->key, "pool") == 0 && strcmp(e->value, "dhcp") == 0) {
			*ret = IPAM_POOL_DHCP;
		} else if (strcmp(e->key, "pool") != 0 || strcmp(e->value, "auto") != 0) {
			api_reply_error(call, 400, "invalid_argument", e->key,
					"next-free takes pool=auto (auto assign, the default) or pool=dhcp");
			r = -EINVAL;
			break;
		}
	}
	evhttp_clear_headers(&kv);
	return r;
}

void api_subnet_next_free(struct api_call *call)
{
	struct ipam_alloc a;
	struct net_view v;
	enum ipam_pool pool;
	int64_t id;

	if (pool_query(call, &pool) < 0 || !view_load(call, &id, &v))
		return;
	const char *pool_name = pool == IPAM_POOL_DHCP ? "dhcp" : "auto";
	if (ipam_alloc_next(&v.v, pool, 0, &a) < 0) {
		api_reply_error(call, 409, "exhausted", NULL, "subnet %s has no free address in the %s pool", v.cidr,
				pool_name);
	} else {
		json_t *o =
		    json_pack("{s:I, s:s, s:s, s:o, s:b}", "subnet", (json_int_t)id, "cidr", v.cidr, "pool", pool_name,
			      "ip", api_net_addr_json(v.v.prefix.addr.family, a.addr), "recheck", a.recheck);
		api_reply_json(call, 200, o);
	}
	net_view_done(&v);
}

void api_subnet_suggestions(struct api_call *call)
{
	struct ipam_suggestion s;
	struct net_view v;
	int64_t id;

	if (!view_load(call, &id, &v))
		return;
	ipam_suggest(&v.v, &s);
	json_t *o = api_net_suggestion_json(&v.v, &s);
	if (o) {
		json_object_set_new(o, "subnet", json_integer((json_int_t)id));
		json_object_set_new(o, "cidr", json_string(v.cidr));
	}
	net_view_done(&v);
	api_reply_json(call, 200, o);
}

/* Assign per req and answer 201 with the address object, plus "recheck"
 * and a "warning" when the address was seen on the wire. */
static void allocate_reply(struct api_call *call, struct net_alloc_req *req)
{
	struct net_alloc_res res;
	struct net_err err;
	char warn[300], when[API_TIME_STRLEN];

	int r = net_ip_allocate(call->db, req, &res, &err);
	if (r < 0) {
		api_net_reply_err(call, r, &err);
		return;
	}
	json_t *extra = json_pack("{s:b}", "recheck", res.recheck);
	if (extra && res.seen_on_wire) {
		if (api_time_format(res.seen_last_ms, when, sizeof(when)) < 0)
			snprintf(when, sizeof(when), "?");
		snprintf(warn, sizeof(warn), "%s was seen in use on the wire by %s (last seen %s)%s", res.ip,
			 res.seen_mac, when,
			 res.recheck ? "; no other address is free: check that it is gone before using it" : "");
		json_object_set_new(extra, "warning", json_string(warn));
	}
	api_net_reply_object(call, 201, NET_IP, res.id, extra);
}

static int mode_default(const struct api_net_body *b, const char *mode, enum net_mode *ret)
{
	if (mode)
		return net_mode_parse(mode, ret);
	*ret = b->in.val[AF_IP] ? NET_MODE_STATIC : NET_MODE_AUTO;
	return 0;
}

void api_subnet_allocate_ip(struct api_call *call)
{
	struct api_net_body b;
	struct net_alloc_req req;
	int64_t id;

	if (!api_net_lookup(call, NET_SUBNET, 0, &id) || body_parse(call, &alloc_info, &b) < 0)
		return;
	memset(&req, 0, sizeof(req));
	req.subnet_id = id;
	mode_default(&b, b.in.val[AF_MODE], &req.mode);
	req.ip = b.in.val[AF_IP];
	req.hostname = b.in.val[AF_HOSTNAME];
	req.comment = b.in.val[AF_COMMENT];
	req.interface = b.in.val[AF_INTERFACE];
	req.device = b.in.val[AF_DEVICE];
	req.rack = b.in.val[AF_RACK];
	req.rack_interface = b.in.val[AF_RACK_INTERFACE];
	allocate_reply(call, &req);
	api_net_body_done(&b);
}

void api_subnet_release_ip(struct api_call *call)
{
	struct api_net_body b;
	struct net_rows rows;
	struct net_err err;
	int64_t id, ip_id;

	if (!api_net_lookup(call, NET_SUBNET, 0, &id) || body_parse(call, &release_info, &b) < 0)
		return;
	/* Read the row first: the answer shows what was released. */
	json_t *o = NULL;
	if (net_resolve(call->db, NET_IP, b.in.val[0], &ip_id, &err) == 0 &&
	    net_get(call->db, NET_IP, ip_id, &rows, &err) == 0) {
		o = api_net_row_json(net_kind_info(NET_IP), &rows, 0);
		net_rows_done(&rows);
	}
	int r = net_ip_release(call->db, id, b.in.val[0], &ip_id, &err);
	api_net_body_done(&b);
	if (r < 0) {
		json_decref(o);
		api_net_reply_err(call, r, &err);
		return;
	}
	api_reply_json(call, 200, o ? json_pack("{s:o}", "released", o) : NULL);
}

/* ---- machine interfaces and their links ---- */

void api_machine_interfaces(struct api_call *call)
{
	int64_t id;

	if (!api_net_lookup(call, NET_MACHINE, 0, &id))
		return;
	if (call->method == API_POST)
		api_net_create(call, NET_INTERFACE, id);
	else
		api_net_list(call, NET_INTERFACE, "machine", id);
}

void api_interface_link(struct api_call *call)
{
	struct api_net_body b;
	struct net_alloc_req req;
	struct net_err err;
	char iface[24];
	int64_t id, subnet;

	if (!api_net_lookup(call, NET_INTERFACE, 0, &id) || body_parse(call, &link_info, &b) < 0)
		return;
	/* link_fields: subnet, mode, ip, hostname, comment */
	int r = net_resolve(call->db, NET_SUBNET, b.in.val[0], &subnet, &err);
	if (r < 0) {
		snprintf(err.field, sizeof(err.field), "subnet");
		api_net_reply_err(call, r == -ENOENT ? -EINVAL : r, &err);
		api_net_body_done(&b);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.subnet_id = subnet;
	req.ip = b.in.val[2];
	if (b.in.val[1])
		net_mode_parse(b.in.val[1], &req.mode);
	else
		req.mode = req.ip ? NET_MODE_STATIC : NET_MODE_AUTO;
	req.hostname = b.in.val[3];
	req.comment = b.in.val[4];
	snprintf(iface, sizeof(iface), "%" PRId64, id);
	req.interface = iface;
	allocate_reply(call, &req);
	api_net_body_done(&b);
}

void api_interface_unlink(struct api_call *call)
{
	struct net_rows rows;
	struct net_err err;
	int64_t id, link;

	if (!api_net_lookup(call, NET_INTERFACE, 0, &id) || !api_net_lookup(call, NET_IP, 1, &link))
		return;
	int r = net_get(call->db, NET_IP, link, &rows, &err);
	if (r < 0) {
		api_net_reply_err(call, r, &err);
		return;
	}
	const char *owner = net_rows_get(&rows, 0, (size_t)net_col_index(NET_IP, "interface"));
	if (!owner || strtoll(owner, NULL, 10) != id) {
		net_rows_done(&rows);
		api_reply_error(call, 404, "not_found", NULL, "interface %" PRId64 " has no link %" PRId64, id, link);
		return;
	}
	json_t *o = api_net_row_json(net_kind_info(NET_IP), &rows, 0);
	net_rows_done(&rows);
	r = net_delete(call->db, NET_IP, link, &err);
	if (r < 0) {
		json_decref(o);
		api_net_reply_err(call, r, &err);
		return;
	}
	api_reply_json(call, 200, o);
}
