/* /api/v1/dhcp-snippets, /api/v1/dhcp-conflicts and /api/v1/racks/{id}/dhcp.
 *
 * A snippet is checked and encoded here with the rack's own encoder
 * (dhcp4_snippet_encode), so a value the rack would refuse never reaches
 * the database; codes the DHCP server sets itself are refused as the
 * rack's validator refuses them. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/log.h"
#include "common/util.h"
#include "common/wire/dhcp4.h"
#include "region/api/codec.h"
#include "region/api/dhcp_api.h"
#include "region/api/net_api.h"
#include "region/api/net_codec.h"
#include "region/db/db.h"
#include "region/db/dhcp_db.h"
#include "region/db/dhcp_snippet.h"
#include "region/dhcp/dhcp.h"
#include "region/region.h"

#define API_OFFSET_MAX 1000000000L

static const char *const snippet_types[] = {"u8", "u16", "u32", "i32", "bool", "ip", "ips", "string", "hex", "routes"};
#define N_TYPES (sizeof(snippet_types) / sizeof(snippet_types[0]))

/* Options people set most, for messages and for the JSON's "option". */
static const struct {
	unsigned code;
	const char *name;
	bool server; /* set by the DHCP server itself: no snippet may */
} dhcp_options[] = {
    {1, "subnet mask", false},
    {2, "time offset", false},
    {3, "routers", false},
    {6, "DNS servers", false},
    {12, "host name", false},
    {15, "domain name", false},
    {26, "interface MTU", false},
    {28, "broadcast address", false},
    {33, "static routes", false},
    {42, "NTP servers", false},
    {43, "vendor-specific information", false},
    {44, "NetBIOS name servers", false},
    {50, "requested address", true},
    {51, "lease time", true},
    {52, "option overload", true},
    {53, "message type", true},
    {54, "server identifier", true},
    {55, "parameter request list", true},
    {57, "maximum message size", true},
    {58, "renewal time", true},
    {59, "rebinding time", true},
    {60, "vendor class", false},
    {61, "client identifier", true},
    {66, "TFTP server name", false},
    {67, "boot file name", false},
    {82, "relay agent information", true},
    {119, "domain search", false},
    {121, "classless static routes", false},
    {150, "TFTP server addresses", false},
};

static const char *option_name(unsigned code, bool *ret_server)
{
	*ret_server = false;
	for (size_t i = 0; i < sizeof(dhcp_options) / sizeof(dhcp_options[0]); i++) {
		if (dhcp_options[i].code == code) {
			*ret_server = dhcp_options[i].server;
			return dhcp_options[i].name;
		}
	}
	return NULL;
}

/* ---- route classification (the hook in http.c) ---- */

bool api_dhcp_route_affects_dhcp(const struct api_route *route)
{
	static const char *const segments[] = {"vlans",	   "subnets",	 "ip-ranges", "ip-addresses",  "static-routes",
					       "machines", "interfaces", "devices",   "dhcp-snippets", "fabrics"};
	static const char prefix[] = "/api/v1/";
	const char *p = route->pattern;

	if (strncmp(p, prefix, sizeof(prefix) - 1) != 0)
		return false;
	p += sizeof(prefix) - 1;
	size_t n = strcspn(p, "/");
	for (size_t i = 0; i < sizeof(segments) / sizeof(segments[0]); i++)
		if (strlen(segments[i]) == n && strncmp(p, segments[i], n) == 0)
			return true;
	return false;
}

/* ---- JSON ---- */

static json_t *hex_json(const uint8_t *data, size_t len)
{
	char *buf = xmalloc(2 * len + 1);

	hex_encode(data, len, buf);
	json_t *j = json_string(buf);
	free(buf);
	return j;
}

static json_t *id_or_null(int64_t id)
{
	return id > 0 ? json_integer((json_int_t)id) : json_null();
}

static json_t *snippet_json(const struct dhcp_snippet *s)
{
	bool server;
	const char *opt = option_name(s->code, &server);

	return json_pack("{s:I, s:s, s:s, s:i, s:o, s:s, s:s, s:o, s:b, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
			 (json_int_t)s->id, "name", s->name, "description", s->description, "code", (int)s->code,
			 "option", opt ? json_string(opt) : json_null(), "type", s->type, "value", s->value, "data",
			 hex_json(s->data, s->data_len), "enabled", s->enabled, "scope", dhcp_scope_name(s->scope),
			 "subnet", id_or_null(s->scope == DHCP_SCOPE_SUBNET ? s->scope_id : s->subnet_id), "ip_range",
			 id_or_null(s->scope == DHCP_SCOPE_RANGE ? s->scope_id : 0), "interface",
			 id_or_null(s->scope == DHCP_SCOPE_INTERFACE ? s->scope_id : 0), "scope_label",
			 s->scope_label[0] ? json_string(s->scope_label) : json_null(), "created",
			 api_time_json(s->created_ms), "updated", api_time_json(s->updated_ms));
}

static void reply_snippet(struct api_call *call, int status, int64_t id)
{
	struct dhcp_snippet s;
	struct net_err err;

	int r = dhcp_snippet_get(call->db, id, &s, &err);
	if (r < 0) {
		api_net_reply_err(call, r, &err);
		return;
	}
	json_t *o = snippet_json(&s);
	size_t need;
	/* Stored and served all the same: the rack leaves it out for clients
	 * that take no more than 576 bytes (docs/dhcp.md, Snippets). */
	if (o && s.enabled && !region_dhcp_option_fits(s.code, s.data, s.data_len, &need)) {
		char w[320];
		snprintf(w, sizeof(w),
			 "option %u is %zu bytes: a reply carrying it needs %zu, more than the 576 every client takes; "
			 "clients that send no larger option 57 get their address without it",
			 s.code, s.data_len, need);
		log_warn("DHCP snippet %lld (%s): %s", (long long)s.id, s.name, w);
		json_object_set_new(o, "warnings", json_pack("[s]", w));
	}
	api_reply_json(call, status, o);
}

/* ---- request bodies ---- */

/* What a body asks of a snippet's scope: nothing, global, or one object
 * named by key (an id or, for a subnet, a CIDR). */
struct scope_req {
	bool given;
	enum dhcp_scope scope;
	char key[API_PARAM_MAX + 1];
};

static const char *const scope_fields[] = {
    [DHCP_SCOPE_SUBNET] = "subnet", [DHCP_SCOPE_RANGE] = "ip_range", [DHCP_SCOPE_INTERFACE] = "interface"};

static int text_get(const json_t *v, const char *field, size_t min, size_t max, char *buf, size_t len,
		    struct api_fail *fail)
{
	if (!json_is_string(v))
		return api_fail_set(fail, field, "%s must be a string", field);
	size_t n = json_string_length(v);
	if (strlen(json_string_value(v)) != n)
		return api_fail_set(fail, field, "%s must not contain NUL characters", field);
	if (n < min || n > max)
		return api_fail_set(fail, field, "%s must be %zu to %zu characters long", field, min, max);
	snprintf(buf, len, "%s", json_string_value(v));
	return 0;
}

static int scope_get(const json_t *v, enum dhcp_scope scope, struct scope_req *sr, struct api_fail *fail)
{
	const char *field = scope_fields[scope];

	if (json_is_null(v))
		return 0;
	if (sr->given && sr->scope != DHCP_SCOPE_GLOBAL)
		return api_fail_set(fail, field,
				    "a snippet has one scope: give at most one of subnet, ip_range and interface "
				    "(none: global)");
	sr->given = true;
	sr->scope = scope;
	if (json_is_integer(v) && json_integer_value(v) > 0) {
		snprintf(sr->key, sizeof(sr->key), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return 0;
	}
	if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= API_PARAM_MAX &&
	    strlen(json_string_value(v)) == json_string_length(v)) {
		if (scope == DHCP_SCOPE_SUBNET)
			api_net_subnet_key(json_string_value(v), sr->key, sizeof(sr->key));
		else
			snprintf(sr->key, sizeof(sr->key), "%s", json_string_value(v));
		return 0;
	}
	return api_fail_set(fail, field, "%s must be an id (a positive integer)%s, or null", field,
			    scope == DHCP_SCOPE_SUBNET ? " or a CIDR" : "");
}

static int value_get(const json_t *v, struct dhcp_snippet *s, struct api_fail *fail)
{
	if (json_is_integer(v)) {
		snprintf(s->value, sizeof(s->value), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return 0;
	}
	if (json_is_boolean(v)) {
		snprintf(s->value, sizeof(s->value), "%s", json_is_true(v) ? "true" : "false");
		return 0;
	}
	return text_get(v, "value", 1, DHCP_SNIPPET_VALUE_MAX, s->value, sizeof(s->value), fail);
}

static int type_get(const json_t *v, struct dhcp_snippet *s, struct api_fail *fail)
{
	const char *t = json_string_value(v);

	for (size_t i = 0; t && i < N_TYPES; i++) {
		if (strcmp(t, snippet_types[i]) == 0) {
			snprintf(s->type, sizeof(s->type), "%s", t);
			return 0;
		}
	}
	return api_fail_set(fail, "type", "type must be one of: u8, u16, u32, i32, bool, ip, ips, string, hex, routes");
}

/* One member of a snippet body. */
static int member_apply(const char *key, const json_t *v, struct dhcp_snippet *s, struct scope_req *sr,
			struct api_fail *fail)
{
	if (strcmp(key, "name") == 0)
		return text_get(v, "name", 1, DHCP_SNIPPET_NAME_MAX, s->name, sizeof(s->name), fail);
	if (strcmp(key, "description") == 0)
		return text_get(v, "description", 0, DHCP_SNIPPET_DESC_MAX, s->description, sizeof(s->description),
				fail);
	if (strcmp(key, "code") == 0) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 254)
			return api_fail_set(fail, "code", "code must be an integer from 1 to 254 (the DHCP option)");
		s->code = (unsigned)json_integer_value(v);
		return 0;
	}
	if (strcmp(key, "type") == 0)
		return type_get(v, s, fail);
	if (strcmp(key, "value") == 0)
		return value_get(v, s, fail);
	if (strcmp(key, "enabled") == 0) {
		if (!json_is_boolean(v))
			return api_fail_set(fail, "enabled", "enabled must be true or false");
		s->enabled = json_is_true(v);
		return 0;
	}
	for (enum dhcp_scope sc = DHCP_SCOPE_SUBNET; sc <= DHCP_SCOPE_INTERFACE; sc++) {
		if (strcmp(key, scope_fields[sc]) != 0)
			continue;
		/* null alone means "make it global"; an object wins. */
		if (json_is_null(v) && !sr->given) {
			sr->given = true;
			sr->scope = DHCP_SCOPE_GLOBAL;
		}
		return scope_get(v, sc, sr, fail);
	}
	return api_fail_set(fail, key,
			    "unknown field '%.64s'; a DHCP snippet has: name, description, code, type, value, enabled, "
			    "subnet, ip_range, interface",
			    key);
}

/* Apply body to s (defaults for a create, the stored snippet for an
 * update). */
static int snippet_body_apply(const json_t *body, bool create, struct dhcp_snippet *s, struct scope_req *sr,
			      struct api_fail *fail)
{
	static const char *const required[] = {"name", "code", "type", "value"};
	const char *key;
	json_t *v;

	memset(sr, 0, sizeof(*sr));
	if (!json_is_object(body))
		return api_fail_set(fail, "", "the body must be a JSON object");
	if (!create && json_object_size(body) == 0)
		return api_fail_set(fail, "",
				    "nothing to change: give at least one of name, description, code, type, value, "
				    "enabled, subnet, ip_range, interface");
	for (size_t i = 0; create && i < sizeof(required) / sizeof(required[0]); i++)
		if (!json_object_get(body, required[i]))
			return api_fail_set(fail, required[i], "%s is required", required[i]);
	json_object_foreach((json_t *)body, key, v)
	{
		int r = member_apply(key, v, s, sr, fail);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Encode s->value into s->data the way the rack will; refuse what the
 * rack's validator refuses, in the operator's terms. */
static int snippet_encode(struct dhcp_snippet *s, struct api_fail *fail)
{
	bool server;
	const char *name = option_name(s->code, &server);
	char label[64];
	const char *why = NULL;

	snprintf(label, sizeof(label), "option %u%s%s%s", s->code, name ? " (" : "", name ? name : "", name ? ")" : "");
	if (server)
		return api_fail_set(fail, "code", "%s is set by the DHCP server itself; a snippet cannot set it%s",
				    label,
				    s->code == DHCP4_OPT_LEASE_TIME ? " (use the subnet's dhcp_lease_time)" : "");
	int n = dhcp4_snippet_encode(s->code, s->type, s->value, s->data, sizeof(s->data), &why);
	if (n < 0) {
		why = why ? why : "cannot be encoded";
		if (strncmp(why, "not ", 4) == 0)
			return api_fail_set(fail, "value", "%s value '%.80s' is %s (type %s)", label, s->value, why,
					    s->type);
		return api_fail_set(fail, "value", "%s value '%.80s' is refused: %s (type %s)", label, s->value, why,
				    s->type);
	}
	s->data_len = (size_t)n;
	return 0;
}

/* Resolve the scope a body asked for into s. false: the reply is
 * recorded (404 naming the object, or 503). */
static bool scope_resolve(struct api_call *call, const struct scope_req *sr, struct dhcp_snippet *s)
{
	static const enum net_kind kinds[] = {
	    [DHCP_SCOPE_SUBNET] = NET_SUBNET, [DHCP_SCOPE_RANGE] = NET_RANGE, [DHCP_SCOPE_INTERFACE] = NET_INTERFACE};
	struct net_err err;
	int64_t id;

	if (!sr->given)
		return true;
	if (sr->scope == DHCP_SCOPE_GLOBAL) {
		s->scope = DHCP_SCOPE_GLOBAL;
		s->scope_id = 0;
		return true;
	}
	int r = net_resolve(call->db, kinds[sr->scope], sr->key, &id, &err);
	if (r == -ENOENT) {
		api_reply_error(call, 404, "not_found", scope_fields[sr->scope], "%s", err.message);
		return false;
	}
	if (r < 0) {
		api_net_reply_err(call, r, &err);
		return false;
	}
	s->scope = sr->scope;
	s->scope_id = id;
	return true;
}

/* ---- snippets ---- */

static int query_parse(struct api_call *call, struct dhcp_snippet_filter *f)
{
	const char *query = call->query;
	struct evkeyvalq kv;
	struct evkeyval *e;
	struct net_err err;
	char key[API_PARAM_MAX + 1];
	int r = 0;

	memset(f, 0, sizeof(*f));
	f->enabled = -1;
	f->limit = 100;
	if (!query || !*query)
		return 0;
	if (api_query_parse(call, query, &kv) < 0)
		return -EINVAL;
	TAILQ_FOREACH(e, &kv, next)
	{
		if (strcmp(e->key, "limit") == 0 || strcmp(e->key, "offset") == 0) {
			bool lim = e->key[0] == 'l';
			if (api_long_parse(e->value, lim ? 1 : 0, lim ? DHCP_LIST_LIMIT_MAX : API_OFFSET_MAX,
					   lim ? &f->limit : &f->offset) < 0) {
				api_reply_error(call, 400, "invalid_argument", e->key,
						"%s must be an integer from %d to %ld", e->key, lim ? 1 : 0,
						lim ? (long)DHCP_LIST_LIMIT_MAX : API_OFFSET_MAX);
				r = -EINVAL;
			}
		} else if (strcmp(e->key, "enabled") == 0) {
			if (strcmp(e->value, "true") != 0 && strcmp(e->value, "false") != 0) {
				api_reply_error(call, 400, "invalid_argument", "enabled",
						"enabled must be true or false");
				r = -EINVAL;
			}
			f->enabled = strcmp(e->value, "true") == 0;
		} else if (strcmp(e->key, "subnet") == 0) {
			api_net_subnet_key(e->value, key, sizeof(key));
			r = net_resolve(call->db, NET_SUBNET, key, &f->subnet_id, &err);
			if (r < 0) {
				snprintf(err.field, sizeof(err.field), "subnet");
				api_net_reply_err(call, r, &err);
			}
		} else {
			api_reply_error(call, 400, "invalid_argument", e->key,
					"unknown query parameter '%.64s'; dhcp_snippets takes: limit, offset, "
					"subnet, enabled",
					e->key);
			r = -EINVAL;
		}
		if (r < 0)
			break;
	}
	evhttp_clear_headers(&kv);
	return r;
}

static void snippets_list(struct api_call *call)
{
	struct dhcp_snippet_filter f;
	struct dhcp_snippet *rows = NULL;
	struct net_err err;
	int64_t total = 0;
	size_t n = 0;

	if (query_parse(call, &f) < 0)
		return;
	int r = dhcp_snippet_list(call->db, &f, &rows, &n, &total, &err);
	if (r < 0) {
		api_net_reply_err(call, r, &err);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		if (json_array_append_new(arr, snippet_json(&rows[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	free(rows);
	api_reply_json(call, 200,
		       arr ? json_pack("{s:o, s:I, s:I, s:I}", "dhcp_snippets", arr, "total", (json_int_t)total,
				       "limit", (json_int_t)f.limit, "offset", (json_int_t)f.offset)
			   : NULL);
}

/* Parse, resolve and encode a body onto s. false: the reply is recorded. */
static bool snippet_from_request(struct api_call *call, bool create, struct dhcp_snippet *s)
{
	struct scope_req sr;
	struct api_fail fail;
	json_t *body = NULL;

	if (api_body_json(call, &body) < 0)
		return false;
	int r = snippet_body_apply(body, create, s, &sr, &fail);
	json_decref(body);
	if (r == 0)
		r = snippet_encode(s, &fail);
	if (r < 0) {
		api_reply_error(call, 400, "invalid_argument", fail.field, "%s", fail.message);
		return false;
	}
	return scope_resolve(call, &sr, s);
}

static void snippet_create(struct api_call *call)
{
	struct dhcp_snippet *s = xcalloc(1, sizeof(*s));
	struct net_err err;
	int64_t id;

	s->enabled = true;
	if (snippet_from_request(call, true, s)) {
		int r = dhcp_snippet_create(call->db, s, &id, &err);
		if (r < 0)
			api_net_reply_err(call, r, &err);
		else
			reply_snippet(call, 201, id);
	}
	free(s);
}

void api_dhcp_snippets(struct api_call *call)
{
	if (call->method == API_POST)
		snippet_create(call);
	else
		snippets_list(call);
}

void api_dhcp_snippet(struct api_call *call)
{
	struct dhcp_snippet *s = xcalloc(1, sizeof(*s));
	struct net_err err;
	int64_t id;
	int r;

	r = dhcp_snippet_resolve(call->db, call->match->params[0], &id, &err);
	if (r == 0)
		r = dhcp_snippet_get(call->db, id, s, &err);
	if (r < 0) {
		err.field[0] = '\0';
		api_net_reply_err(call, r, &err);
	} else if (call->method == API_PATCH) {
		/* The stored snippet with the body applied is checked and
		 * encoded as a whole: a new type re-checks the old value. */
		if (snippet_from_request(call, false, s)) {
			r = dhcp_snippet_update(call->db, s, &err);
			if (r < 0)
				api_net_reply_err(call, r, &err);
			else
				reply_snippet(call, 200, id);
		}
	} else if (call->method == API_DELETE) {
		r = dhcp_snippet_delete(call->db, id, &err);
		if (r < 0)
			api_net_reply_err(call, r, &err);
		else
			api_reply_json(call, 200, snippet_json(s));
	} else {
		api_reply_json(call, 200, snippet_json(s));
	}
	free(s);
}

/* ---- quarantined addresses ---- */

void api_dhcp_conflicts(struct api_call *call)
{
	struct dhcp_conflict *rows = NULL;
	struct net_err err;
	int64_t total = 0;
	size_t n = 0;
	long limit, offset;

	if (api_query_long(call, "limit", 100, 1, DHCP_LIST_LIMIT_MAX, &limit) < 0 ||
	    api_query_long(call, "offset", 0, 0, API_OFFSET_MAX, &offset) < 0)
		return;
	int r = dhcp_conflict_list(call->db, NULL, limit, offset, &rows, &n, &total, &err);
	if (r < 0) {
		api_net_reply_err(call, r, &err);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		const struct dhcp_conflict *c = &rows[i];
		json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:o, s:o}", "ip", c->ip, "rack", c->rack,
				      "subnet", id_or_null(c->subnet_id), "subnet_cidr",
				      c->subnet_cidr[0] ? json_string(c->subnet_cidr) : json_null(), "mac",
				      c->mac[0] ? json_string(c->mac) : json_null(), "reason", c->reason, "until",
				      api_time_json(c->until_ms), "first_seen", api_time_json(c->first_seen_ms),
				      "last_seen", api_time_json(c->last_seen_ms));
		if (json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	free(rows);
	api_reply_json(call, 200,
		       arr ? json_pack("{s:o, s:I, s:I, s:I}", "dhcp_conflicts", arr, "total", (json_int_t)total,
				       "limit", (json_int_t)limit, "offset", (json_int_t)offset)
			   : NULL);
}

/* ---- what a rack serves: ironrack.v1.DhcpConfig as JSON ---- */

static json_t *strings_json(char **v, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, json_string(v[i] ? v[i] : ""));
	return arr;
}

static json_t *options_json(Ironrack__V1__DhcpOption **v, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, json_pack("{s:i, s:o}", "code", (int)v[i]->code, "hex",
						     hex_json(v[i]->data.data, v[i]->data.len)));
	return arr;
}

static json_t *subnet_json(const Ironrack__V1__DhcpSubnet *s)
{
	json_t *routes = json_array(), *ranges = json_array(), *hosts = json_array(), *arches = json_array();

	for (size_t i = 0; routes && i < s->n_routes; i++)
		json_array_append_new(routes, json_pack("{s:s, s:s}", "destination", s->routes[i]->destination,
							"gateway", s->routes[i]->gateway));
	for (size_t i = 0; ranges && i < s->n_ranges; i++) {
		const Ironrack__V1__DhcpRange *g = s->ranges[i];
		json_array_append_new(ranges,
				      json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)g->id, "first", g->first,
						"last", g->last, "options", options_json(g->options, g->n_options)));
	}
	for (size_t i = 0; hosts && i < s->n_hosts; i++) {
		const Ironrack__V1__DhcpHost *h = s->hosts[i];
		json_array_append_new(hosts, json_pack("{s:s, s:s, s:s, s:o}", "mac", h->mac, "address", h->address,
						       "hostname", h->hostname, "options",
						       options_json(h->options, h->n_options)));
	}
	for (size_t i = 0; arches && i < s->n_disabled_arches; i++)
		json_array_append_new(arches, json_integer(s->disabled_arches[i]));
	return json_pack("{s:I, s:s, s:s, s:s, s:o, s:s, s:o, s:i, s:o, s:I, s:o, s:o, s:o, s:o}", "id",
			 (json_int_t)s->id, "cidr", s->cidr, "server_address", s->server_address, "router", s->router,
			 "dns", strings_json(s->dns, s->n_dns), "domain", s->domain, "ntp",
			 strings_json(s->ntp, s->n_ntp), "mtu", (int)s->mtu, "routes", routes, "lease_time",
			 (json_int_t)s->lease_time, "ranges", ranges, "hosts", hosts, "options",
			 options_json(s->options, s->n_options), "disabled_arches", arches);
}

static json_t *subnets_json(Ironrack__V1__DhcpSubnet **v, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, subnet_json(v[i]));
	return arr;
}

static json_t *pxe_json(const Ironrack__V1__DhcpPxe *p)
{
	json_t *files = json_array();

	if (!p)
		return json_null();
	for (size_t i = 0; files && i < p->n_files; i++)
		json_array_append_new(files, json_pack("{s:i, s:s, s:b}", "arch", (int)p->files[i]->arch, "file",
						       p->files[i]->file, "http", p->files[i]->http));
	return json_pack("{s:b, s:o, s:i, s:i}", "enabled", p->enabled, "files", files, "http_port", (int)p->http_port,
			 "lease_time", (int)p->lease_time);
}

static json_t *scans_json(Ironrack__V1__DiscoveryScan **v, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:o, s:i}", "subnet", (json_int_t)v[i]->subnet_id,
						     "cidr", v[i]->cidr, "source", v[i]->source, "own",
						     strings_json(v[i]->own, v[i]->n_own), "interval_s",
						     (int)v[i]->interval_s));
	return arr;
}

static json_t *dhcp_config_json(const char *rack, const Ironrack__V1__DhcpConfig *c)
{
	json_t *ifaces = json_array();

	for (size_t i = 0; ifaces && i < c->n_interfaces; i++) {
		const Ironrack__V1__DhcpInterface *f = c->interfaces[i];
		json_array_append_new(ifaces, json_pack("{s:s, s:i, s:I, s:o, s:o, s:o}", "name", f->name, "vid",
							(int)f->vid, "vlan", (json_int_t)f->vlan_id, "subnets",
							subnets_json(f->subnets, f->n_subnets), "relayed",
							subnets_json(f->relayed, f->n_relayed), "scans",
							scans_json(f->scans, f->n_scans)));
	}
	json_t *ha = json_array();
	for (size_t i = 0; ha && i < c->n_ha; i++) {
		const Ironrack__V1__DhcpHaPair *p = c->ha[i];
		json_array_append_new(
		    ha,
		    json_pack("{s:I, s:i, s:s, s:s, s:o, s:o, s:o, s:I}", "vlan", (json_int_t)p->vlan_id, "vid",
			      (int)p->vid, "role", p->role == 1 ? "primary" : "secondary", "partner",
			      p->partner_rack_id, "partner_address",
			      p->partner_address[0] ? json_string(p->partner_address) : json_null(), "partner_down_by",
			      p->partner_down_by[0] ? json_string(p->partner_down_by) : json_null(), "partner_down_how",
			      !p->partner_down_by[0]	? json_null()
			      : p->partner_down_witness ? json_string("witness")
							: json_string("operator"),
			      "auto_down_s", (json_int_t)(p->auto_down_ms / 1000)));
	}
	return json_pack("{s:s, s:b, s:o, s:o, s:o, s:i, s:i, s:i, s:b, s:i, s:o}", "rack", rack, "enabled", c->enabled,
			 "interfaces", ifaces, "options", options_json(c->options, c->n_options), "pxe",
			 pxe_json(c->pxe), "lease_time", (int)c->lease_time, "offer_hold", (int)c->offer_hold,
			 "quarantine_time", (int)c->quarantine_time, "probe", c->probe, "external_probe_interval_s",
			 (int)c->external_probe_interval_s, "ha", ha);
}

/* Each HA pair's link as the rack last reported it ("link": null before
 * any report). */
static void ha_link_merge(struct api_call *call, const char *rack_id, json_t *ha)
{
	char *text = NULL;
	if (!json_array_size(ha) || dhcp_db_rack_ha_status(call->db, rack_id, &text) < 0)
		return;
	json_t *st = json_loads(text, 0, NULL);
	free(text);
	const json_t *pairs = json_object_get(st, "pairs");
	json_int_t at = json_integer_value(json_object_get(st, "at"));
	size_t i, k;
	json_t *p;
	const json_t *s;
	json_array_foreach(ha, i, p)
	{
		json_t *link = json_null();
		json_array_foreach(pairs, k, s)
		{
			if (json_integer_value(json_object_get(s, "vlan_id")) !=
			    json_integer_value(json_object_get(p, "vlan")))
				continue;
			json_int_t since = json_integer_value(json_object_get(s, "since_unix_ms"));
			json_int_t contact = json_integer_value(json_object_get(s, "last_contact_unix_ms"));
			const char *err = json_string_value(json_object_get(s, "last_error"));
			json_decref(link);
			link =
			    json_pack("{s:b, s:o, s:o, s:I, s:o, s:o}", "up",
				      json_is_true(json_object_get(s, "link_up")), "since", api_time_json(since),
				      "last_contact", contact ? api_time_json(contact) : json_null(), "refused",
				      json_integer_value(json_object_get(s, "refused")), "last_error",
				      err && err[0] ? json_string(err) : json_null(), "reported_at", api_time_json(at));
			/* The pair's state on this rack (docs/dhcp-ha.md "States"). */
			const char *state = json_string_value(json_object_get(s, "state"));
			json_int_t state_since = json_integer_value(json_object_get(s, "state_since_unix_ms"));
			json_object_set_new(link, "state", json_string(state ? state : "unknown"));
			json_object_set_new(link, "state_since",
					    state_since ? api_time_json(state_since) : json_null());
			static const char *const counts[] = {"unacked", "free_own", "free_partner", "conflicts"};
			for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
				json_object_set_new(link, counts[c],
						    json_integer(json_integer_value(json_object_get(s, counts[c]))));
			break;
		}
		json_object_set_new(p, "link", link ? link : json_null());
	}
	json_decref(st);
}

void api_rack_dhcp(struct api_call *call)
{
	const char *id = call->match->params[0];
	uint8_t *packed = NULL;
	size_t len = 0;
	char why[512] = "";
	json_t *o;

	int rc = db_rack_exists(call->db, id);
	if (rc == 0) {
		api_reply_error(call, 404, "not_found", NULL, "rack \"%s\" not found", id);
		return;
	}
	if (rc < 0) {
		api_reply_db_error(call, rc);
		return;
	}
	/* regiond.conf's DHCP keys do not change while the region runs, so
	 * this job may copy them. */
	struct dhcp_build_conf conf;
	region_dhcp_build_conf_get(call->r, &conf);
	rc = region_dhcp_build_db(call->db, &conf, id, &packed, &len, why, sizeof(why));
	region_dhcp_build_conf_done(&conf);
	if (rc < 0) {
		free(packed);
		if (rc == -EIO || rc == -ENOTCONN)
			api_reply_error(call, 503, "unavailable", NULL,
					"cannot build the DHCP config of rack \"%s\": %s", id,
					why[0] ? why : strerror(-rc));
		else
			api_reply_error(call, 500, "internal", NULL, "cannot build the DHCP config of rack \"%s\": %s",
					id, why[0] ? why : strerror(-rc));
		return;
	}
	if (len == 0) {
		/* The rack serves no DHCP: an empty config says so. */
		Ironrack__V1__DhcpConfig empty = IRONRACK__V1__DHCP_CONFIG__INIT;
		o = dhcp_config_json(id, &empty);
	} else {
		Ironrack__V1__DhcpConfig *c = ironrack__v1__dhcp_config__unpack(NULL, len, packed);
		if (!c) {
			free(packed);
			api_reply_error(call, 500, "internal", NULL,
					"the DHCP config built for rack \"%s\" does not unpack", id);
			return;
		}
		o = dhcp_config_json(id, c);
		ironrack__v1__dhcp_config__free_unpacked(c, NULL);
	}
	free(packed);
	if (o)
		ha_link_merge(call, id, json_object_get(o, "ha"));
	/* A VLAN skipped for this rack (no address on it) is worth showing. */
	if (o && why[0])
		json_object_set_new(o, "warning", json_string(why));
	api_reply_json(call, 200, o);
}
