/* REST handlers for discovery; see discoveries_api.h. */
#include "region/api/discoveries_api.h"

#include <ctype.h>
#include <errno.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/net.h"
#include "region/db/discovery_db.h"

#define API_DISC_OFFSET_MAX 1000000000L

/* ---- pure ---- */

bool api_discovery_hostname_ok(const char *s)
{
	size_t n = strlen(s);
	bool digits_only = true;
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isascii(c) || !(isalnum(c) || c == '-'))
			return false;
		if (!isdigit(c))
			digits_only = false;
	}
	return !digits_only;
}

int api_discovery_claim_parse(const json_t *body, char *ip, size_t ip_len, char *hostname, size_t hostname_len,
			      struct api_fail *fail)
{
	struct ipaddr a;
	const char *key;
	json_t *v;
	if (!json_is_object(body))
		return api_fail_set(fail, NULL, "the body must be a JSON object with ip and hostname");
	json_object_foreach((json_t *)body, key, v)
	{
		if (strcmp(key, "ip") != 0 && strcmp(key, "hostname") != 0)
			return api_fail_set(fail, key, "unknown field");
	}
	const json_t *jip = json_object_get(body, "ip"), *jh = json_object_get(body, "hostname");
	if (!json_is_string(jip) || ipaddr_parse(json_string_value(jip), &a) < 0)
		return api_fail_set(fail, "ip", "must be an IP address");
	if (!json_is_string(jh) || !api_discovery_hostname_ok(json_string_value(jh)))
		return api_fail_set(fail, "hostname",
				    "must be a host name: 1-63 letters, digits and '-', not all digits, no '-' at "
				    "either end");
	ipaddr_format(&a, ip, ip_len);
	snprintf(hostname, hostname_len, "%s", json_string_value(jh));
	return 0;
}

static json_t *id_or_null(int64_t id)
{
	return id > 0 ? json_integer((json_int_t)id) : json_null();
}

static json_t *str_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

json_t *api_discovery_json(const struct disc_row *d)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:b, s:o}", "ip", d->ip, "mac",
			 d->mac, "hostname", str_or_null(d->hostname), "hostname_source",
			 str_or_null(d->hostname_source), "vlan", id_or_null(d->vlan_id), "subnet",
			 id_or_null(d->subnet_id), "subnet_cidr", str_or_null(d->subnet_cidr), "rack",
			 str_or_null(d->rack), "interface", str_or_null(d->interface), "first_seen",
			 api_time_json(d->first_seen_ms), "last_seen", api_time_json(d->last_seen_ms), "count",
			 (json_int_t)d->count, "known", d->known, "known_as", str_or_null(d->known_as));
}

json_t *api_discovery_event_json(const struct disc_event_row *e)
{
	return json_pack("{s:I, s:o, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s}", "id", (json_int_t)e->id, "at",
			 api_time_json(e->at_ms), "kind", e->kind, "ip", e->ip, "mac", e->mac, "old_mac",
			 str_or_null(e->old_mac), "rack", str_or_null(e->rack), "interface", str_or_null(e->interface),
			 "subnet", id_or_null(e->subnet_id), "description", e->description);
}

/* ---- handlers ---- */

/* ?unknown=true|false; false (400 recorded) for anything else. */
static int query_unknown(struct api_call *call, bool *ret)
{
	struct evkeyvalq kv;
	int r = 0;
	*ret = false;
	if (!call->query || !*call->query)
		return 0;
	if (api_query_parse(call, call->query, &kv) < 0)
		return -EINVAL;
	const char *v = evhttp_find_header(&kv, "unknown");
	if (v && strcmp(v, "true") == 0) {
		*ret = true;
	} else if (v && strcmp(v, "false") != 0) {
		api_reply_error(call, 400, "invalid_argument", "unknown", "unknown must be true or false");
		r = -EINVAL;
	}
	evhttp_clear_headers(&kv);
	return r;
}

static void discoveries_list(struct api_call *call)
{
	struct disc_row *rows = NULL;
	size_t n = 0;
	int64_t total = 0;
	long limit, offset;
	bool unknown;
	if (query_unknown(call, &unknown) < 0 ||
	    api_query_long(call, "limit", 1000, 1, API_DISCOVERIES_LIMIT_MAX, &limit) < 0 ||
	    api_query_long(call, "offset", 0, 0, API_DISC_OFFSET_MAX, &offset) < 0)
		return;
	int r = disc_db_list(call->db, unknown, limit, offset, &rows, &n, &total);
	if (r < 0) {
		api_reply_db_error(call, r);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		if (json_array_append_new(arr, api_discovery_json(&rows[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	free(rows);
	api_reply_json(call, 200,
		       arr ? json_pack("{s:o, s:I, s:I, s:I}", "discoveries", arr, "total", (json_int_t)total, "limit",
				       (json_int_t)limit, "offset", (json_int_t)offset)
			   : NULL);
}

static void discoveries_clear(struct api_call *call)
{
	long n = 0;
	int r = disc_db_clear(call->db, &n);
	if (r < 0) {
		api_reply_db_error(call, r);
		return;
	}
	log_info("discovery: %ld sightings cleared by %s", n, call->who[0] ? call->who : call->peer);
	api_reply_json(call, 200, json_pack("{s:I}", "deleted", (json_int_t)n));
}

void api_discoveries(struct api_call *call)
{
	if (call->method == API_DELETE)
		discoveries_clear(call);
	else
		discoveries_list(call);
}

void api_discoveries_claim(struct api_call *call)
{
	json_t *body = NULL;
	struct api_fail fail = {0};
	char ip[IPADDR_STRLEN], hostname[64], mac[18] = "", why[512];
	int64_t device_id = 0;
	if (api_body_json(call, &body) < 0)
		return;
	int r = api_discovery_claim_parse(body, ip, sizeof(ip), hostname, sizeof(hostname), &fail);
	json_decref(body);
	if (r < 0) {
		api_reply_error(call, 400, "invalid_argument", fail.field[0] ? fail.field : NULL, "%s", fail.message);
		return;
	}
	r = disc_db_claim(call->db, ip, hostname, &device_id, mac, why, sizeof(why));
	if (r == -ENOENT) {
		api_reply_error(call, 404, "not_found", "ip", "%s", why);
		return;
	}
	if (r == -EINVAL || r == -EEXIST) {
		api_reply_error(call, r == -EINVAL ? 400 : 409, r == -EINVAL ? "invalid_argument" : "conflict",
				strncmp(why, "cannot create device", 20) == 0 ? "hostname" : "ip", "%s", why);
		return;
	}
	if (r < 0) {
		api_reply_db_error(call, r);
		return;
	}
	log_info("discovery: %s (%s) claimed as device %s by %s", ip, mac, hostname,
		 call->who[0] ? call->who : call->peer);
	api_reply_json(call, 201,
		       json_pack("{s:I, s:s, s:s, s:s}", "device", (json_int_t)device_id, "hostname", hostname, "mac",
				 mac, "ip", ip));
}

void api_discoveries_events(struct api_call *call)
{
	struct disc_event_row *rows = NULL;
	size_t n = 0;
	long limit;
	if (api_query_long(call, "limit", 100, 1, API_DISCOVERY_EVENTS_MAX, &limit) < 0)
		return;
	int r = disc_db_events(call->db, limit, &rows, &n);
	if (r < 0) {
		api_reply_db_error(call, r);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		if (json_array_append_new(arr, api_discovery_event_json(&rows[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	free(rows);
	api_reply_json(call, 200, arr ? json_pack("{s:o}", "events", arr) : NULL);
}
