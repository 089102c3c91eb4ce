/* The REST API server: evhttp setup, authentication, routing, running each
 * handler where its route says (a database job on a worker thread, or the
 * loop for API_RUN_LOOP) and sending the reply the handler recorded. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>

#include "common/fsutil.h"
#include "common/httpguard.h"
#include "common/log.h"
#include "common/net.h"
#include "common/util.h"
#include "common/version.h"
#include "region/api/api.h"
#include "region/api/auth.h"
#include "region/api/codec.h"
#include "region/api/deploy_api.h"
#include "region/api/dhcp_api.h"
#include "region/api/discoveries_api.h"
#include "region/api/https.h"
#include "region/api/images_api.h"
#include "region/api/infra.h"
#include "region/api/internal.h"
#include "region/api/machines_api.h"
#include "region/api/net_api.h"
#include "region/api/power_api.h"
#include "region/db/db.h"
#include "region/db/pool.h"
#include "region/dhcp/dhcp.h"
#include "region/region.h"

#define API_DEFAULT_PORT 5240
#define API_PREFIX	 "/api/v1"

static void api_version(struct api_call *call);

/* clang-format off */
static const struct api_route api_routes[] = {
    {API_PREFIX "/version", API_GET, api_version, true, API_RUN_LOOP},
    {API_PREFIX "/racks", API_GET, api_racks_list, false, API_RUN_DEFAULT},
    {API_PREFIX "/racks/{id}", API_GET, api_rack_get, false, API_RUN_DEFAULT},
    {API_PREFIX "/racks/{id}/ping", API_POST, api_rack_ping, false, API_RUN_READ},
    {API_PREFIX "/racks/{id}/config", API_POST, api_rack_config, false, API_RUN_READ},
    {API_PREFIX "/racks/{id}/dhcp", API_GET, api_rack_dhcp, false, API_RUN_DEFAULT},
    {API_PREFIX "/vlans/{id}/dhcp-partner-down", API_POST | API_DELETE, api_vlan_partner_down, false,
     API_RUN_WRITE},
    {API_PREFIX "/vlans/{id}/dhcp-ha-events", API_GET, api_vlan_ha_events, false, API_RUN_READ},
    /* The network model (net_*.c): the kind is the collection segment. */
    {API_PREFIX "/zones", API_GET | API_POST, api_net_collection, false, API_RUN_DEFAULT},
    {API_PREFIX "/zones/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false, API_RUN_DEFAULT},
    {API_PREFIX "/fabrics", API_GET | API_POST, api_net_collection, false, API_RUN_DEFAULT},
    {API_PREFIX "/fabrics/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false, API_RUN_DEFAULT},
    {API_PREFIX "/spaces", API_GET | API_POST, api_net_collection, false, API_RUN_DEFAULT},
    {API_PREFIX "/spaces/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false, API_RUN_DEFAULT},
    {API_PREFIX "/vlans", API_GET | API_POST, api_net_collection, false, API_RUN_DEFAULT},
    {API_PREFIX "/vlans/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false, API_RUN_DEFAULT},
    {API_PREFIX "/subnets", API_GET | API_POST, api_net_collection, false, API_RUN_DEFAULT},
    {API_PREFIX "/subnets/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false, API_RUN_DEFAULT},
    {API_PREFIX "/subnets/{id}/utilisation", API_GET, api_subnet_utilisation, false, API_RUN_DEFAULT},
    {API_PREFIX "/subnets/{id}/next-free", API_GET, api_subnet_next_free, false, API_RUN_DEFAULT},
    {API_PREFIX "/subnets/{id}/suggestions", API_GET, api_subnet_suggestions, false, API_RUN_DEFAULT},
    {API_PREFIX "/subnets/{id}/allocate-ip", API_POST, api_subnet_allocate_ip, false, API_RUN_DEFAULT},
    {API_PREFIX "/subnets/{id}/release-ip", API_POST, api_subnet_release_ip, false, API_RUN_DEFAULT},
    {API_PREFIX "/subnets/{id}/scan", API_POST, api_subnet_scan, false, API_RUN_READ},
    {API_PREFIX "/ip-ranges", API_GET | API_POST, api_net_collection, false, API_RUN_DEFAULT},
    {API_PREFIX "/ip-ranges/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false, API_RUN_DEFAULT},
    {API_PREFIX "/static-routes", API_GET | API_POST, api_net_collection, false, API_RUN_DEFAULT},
    {API_PREFIX "/static-routes/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false, API_RUN_DEFAULT},
    {API_PREFIX "/ip-addresses", API_GET, api_net_collection, false, API_RUN_DEFAULT},
    {API_PREFIX "/ip-addresses/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false, API_RUN_DEFAULT},
    {API_PREFIX "/machines", API_GET | API_POST, api_machines, false, API_RUN_DEFAULT},
    {API_PREFIX "/machines/allocate", API_POST, api_machines_allocate, false, API_RUN_WRITE},
    {API_PREFIX "/machines/{id}", API_GET | API_PATCH | API_DELETE, api_machine, false, API_RUN_DEFAULT},
    {API_PREFIX "/machines/{id}/power", API_GET | API_POST, api_machine_power, false, API_RUN_DEFAULT},
    {API_PREFIX "/machines/{id}/power/actions/{action}", API_GET, api_machine_power_action, false, API_RUN_DEFAULT},
    {API_PREFIX "/machines/{id}/events", API_GET, api_machine_events, false, API_RUN_DEFAULT},
    {API_PREFIX "/machines/{id}/commission", API_POST, api_machine_op, false, API_RUN_DEFAULT},
    {API_PREFIX "/machines/{id}/abort", API_POST, api_machine_op, false, API_RUN_DEFAULT},
    {API_PREFIX "/machines/{id}/mark-broken", API_POST, api_machine_op, false, API_RUN_DEFAULT},
    {API_PREFIX "/machines/{id}/mark-fixed", API_POST, api_machine_op, false, API_RUN_DEFAULT},
    {API_PREFIX "/machines/{id}/deploy", API_POST, api_machine_deploy, false, API_RUN_DEFAULT},
    {API_PREFIX "/machines/{id}/release", API_POST, api_machine_release, false, API_RUN_DEFAULT},
    {API_PREFIX "/machines/{id}/interfaces", API_GET | API_POST, api_machine_interfaces, false, API_RUN_DEFAULT},
    {API_PREFIX "/interfaces", API_GET, api_net_collection, false, API_RUN_DEFAULT},
    {API_PREFIX "/interfaces/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false, API_RUN_DEFAULT},
    {API_PREFIX "/interfaces/{id}/links", API_POST, api_interface_link, false, API_RUN_DEFAULT},
    {API_PREFIX "/interfaces/{id}/links/{link}", API_DELETE, api_interface_unlink, false, API_RUN_DEFAULT},
    {API_PREFIX "/devices", API_GET | API_POST, api_net_collection, false, API_RUN_DEFAULT},
    {API_PREFIX "/devices/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false, API_RUN_DEFAULT},
    {API_PREFIX "/neighbours", API_GET | API_POST, api_net_collection, false, API_RUN_DEFAULT},
    {API_PREFIX "/neighbours/{id}", API_GET | API_DELETE, api_net_object, false, API_RUN_DEFAULT},
    /* discovery (region/api/discoveries.c) */
    {API_PREFIX "/discoveries", API_GET | API_DELETE, api_discoveries, false, API_RUN_DEFAULT},
    {API_PREFIX "/discoveries/claim", API_POST, api_discoveries_claim, false, API_RUN_DEFAULT},
    {API_PREFIX "/discoveries/events", API_GET, api_discoveries_events, false, API_RUN_DEFAULT},
    /* DHCP (region/api/dhcp.c) */
    {API_PREFIX "/dhcp-snippets", API_GET | API_POST, api_dhcp_snippets, false, API_RUN_DEFAULT},
    {API_PREFIX "/dhcp-snippets/{id}", API_GET | API_PATCH | API_DELETE, api_dhcp_snippet, false, API_RUN_DEFAULT},
    {API_PREFIX "/dhcp-conflicts", API_GET, api_dhcp_conflicts, false, API_RUN_DEFAULT},
    /* infrastructure editor (region/api/infra.c) */
    {API_PREFIX "/infrastructures", API_GET, api_infra_list, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures", API_POST, api_infra_create, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}", API_GET, api_infra_get, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}", API_PATCH, api_infra_update, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}", API_DELETE, api_infra_delete, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/instance-arrays", API_POST, api_infra_array_add, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/instance-arrays/{array}", API_PATCH, api_infra_array_update, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/instance-arrays/{array}", API_DELETE, api_infra_array_remove, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/instance-arrays/{array}/drives", API_POST, api_infra_drive_add, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/instance-arrays/{array}/drives/{id}", API_DELETE, api_infra_drive_remove, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/networks", API_POST, api_infra_network_add, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/networks/{net}", API_PATCH, api_infra_network_update, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/networks/{net}", API_DELETE, api_infra_network_remove, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/networks/{net}/subnets", API_GET, api_infra_subnets_list, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/networks/{net}/subnets", API_POST, api_infra_subnet_order, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/connections", API_POST, api_infra_connect, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/connections/{array}/{port}/{net}", API_DELETE, api_infra_disconnect, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/plan", API_POST, api_infra_plan, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/deploy", API_POST, api_infra_deploy, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/discard", API_POST, api_infra_discard, false, API_RUN_DEFAULT},
    {API_PREFIX "/infrastructures/{name}/deploys", API_GET, api_infra_history, false, API_RUN_DEFAULT},
    /* deployable images (region/api/images.c); PUT reads Content-Range on the loop */
    {API_PREFIX "/images", API_GET | API_POST, api_images, false, API_RUN_DEFAULT},
    {API_PREFIX "/images/{name}", API_GET | API_DELETE, api_image, false, API_RUN_DEFAULT},
    {API_PREFIX "/images/{name}/data", API_PUT, api_image_data, false, API_RUN_LOOP},
};
/* clang-format on */

static unsigned method_from_evhttp(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return API_GET;
	case EVHTTP_REQ_HEAD:
		return API_HEAD;
	case EVHTTP_REQ_POST:
		return API_POST;
	case EVHTTP_REQ_PUT:
		return API_PUT;
	case EVHTTP_REQ_DELETE:
		return API_DELETE;
	case EVHTTP_REQ_PATCH:
		return API_PATCH;
	case EVHTTP_REQ_OPTIONS:
		return API_OPTIONS;
	default:
		return 0;
	}
}

void api_send_json(struct evhttp_request *req, int status, json_t *body)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evbuffer_new();
	/* 9 significant digits: rtt_ms 0.446, not 0.44600000000000001 */
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;

	json_decref(body);
	if (!buf)
		oom_abort(0);
	if (!text) {
		status = 500;
		evbuffer_add_printf(buf, "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}\n");
	} else {
		evbuffer_add_printf(buf, "%s\n", text);
		free(text);
	}
	evhttp_add_header(out, "Content-Type", "application/json");
	evhttp_add_header(out, "Cache-Control", "no-store");
	log_debug("REST %s %s -> %d", api_method_name(method_from_evhttp(evhttp_request_get_command(req))),
		  evhttp_request_get_uri(req), status);
	evhttp_send_reply(req, status, NULL, buf); /* may free req (client gone) */
	evbuffer_free(buf);
}

void api_send_error(struct evhttp_request *req, int status, const char *code, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status >= 500)
		log_warn("REST %s: %d %s: %s", evhttp_request_get_uri(req), status, code, msg);
	api_send_json(req, status, api_error_new(code, msg, field));
}

/* ---- one request's way: authenticate, run the handler where its route
 * says, send what it recorded ---- */

static void api_call_free(struct api_call *call)
{
	api_pending_free(call->parked);
	json_decref(call->reply);
	if (call->state_free)
		call->state_free(call->state);
	free(call->query);
	free(call->body);
	free(call);
}

/* Every rack's DHCP config is built from the network model: a write to it
 * that succeeded asks for a rebuild (debounced by region/dhcp). One place
 * for every handler, on the loop, once the status is known. */
static void api_dhcp_after_write(const struct api_call *call)
{
	if (!(call->method & (API_POST | API_PUT | API_PATCH | API_DELETE)) || !call->match->route ||
	    !api_dhcp_route_affects_dhcp(call->match->route))
		return;
	if (call->status >= 200 && call->status <= 299)
		region_dhcp_changed(call->r);
}

/* Send the recorded reply (if anyone is still listening) and free the
 * call. A call without a recorded reply was parked on a rack by its
 * handler, which answers later. */
static void api_call_finish(struct api_call *call)
{
	if (call->status && call->db_error[0])
		log_warn("REST %s: database error: %s", call->peer, call->db_error);
	if (call->status && call->req) {
		struct evkeyvalq *out = evhttp_request_get_output_headers(call->req);
		char retry[16];
		if (call->status == 401)
			evhttp_add_header(out, "WWW-Authenticate", "Bearer");
		if (call->status == 503 && call->retry_after_s) {
			snprintf(retry, sizeof(retry), "%u", call->retry_after_s);
			evhttp_add_header(out, "Retry-After", retry);
		}
		if (call->status >= 500 && call->reply)
			log_warn("REST %s %s -> %d", api_method_name(call->method), evhttp_request_get_uri(call->req),
				 call->status);
		api_send_json(call->req, call->status, call->reply);
		call->reply = NULL;
	}
	api_dhcp_after_write(call);
	api_call_free(call);
}

static enum db_lane api_lane(const struct api_call *call)
{
	switch (call->match->route->run) {
	case API_RUN_READ:
		return DB_LANE_READ;
	case API_RUN_WRITE:
		return DB_LANE_WRITE;
	default:
		return call->method & (API_GET | API_HEAD) ? DB_LANE_READ : DB_LANE_WRITE;
	}
}

/* The answer when the database pool would not take a job. */
static void api_reply_pool_refused(struct api_call *call, int rc)
{
	call->retry_after_s = 1;
	if (rc == -EAGAIN)
		api_reply_error(call, 503, "busy", NULL, "too many requests waiting on the database; retry later");
	else
		api_reply_error(call, 503, "unavailable", NULL, "database unavailable; retry later");
}

static int api_job_run(struct db *db, void *arg)
{
	struct api_call *call = arg;
	call->db = db;
	call->match->route->handler(call);
	call->db = NULL;
	return 0;
}

/* Back on the loop after a database job: answer, or continue on the loop. */
static void api_job_done(void *arg, int status)
{
	struct api_call *call = arg;

	if (status == -ECANCELED) { /* the API is gone */
		api_call_free(call);
		return;
	}
	call->req = api_pending_release(call->parked);
	api_pending_free(call->parked);
	call->parked = NULL;
	if (status < 0 && !call->status)
		api_reply_pool_refused(call, status);
	if (!call->status && call->then && call->req)
		call->then(call); /* records a reply, or parks on a rack */
	if (!call->status)
		call->req = NULL; /* parked on a rack, or nobody left to answer */
	api_call_finish(call);
}

static void api_call_run(struct api_call *call)
{
	if (call->match->route->run == API_RUN_LOOP) {
		call->match->route->handler(call);
		if (!call->status)
			call->req = NULL; /* parked on a rack */
		api_call_finish(call);
		return;
	}
	api_pending_park(call);
	int rc = db_pool_submit(call->r->dbpool, api_lane(call), api_job_run, api_job_done, call);
	if (rc < 0) {
		call->req = api_pending_release(call->parked);
		api_reply_pool_refused(call, rc);
		api_call_finish(call);
	}
}

/* The caller may go on: send what routing recorded, or run the handler. */
static void api_call_authorised(struct api_call *call)
{
	if (call->status)
		api_call_finish(call);
	else
		api_call_run(call);
}

/* ---- authentication ---- */

struct api_auth_job {
	struct api *api;
	struct api_call *call; /* NULL for a background check */
	char key[API_KEY_MAX + 1];
	int result;
	char name[64];
	char db_error[256];
};

static int api_auth_job_run(struct db *db, void *arg)
{
	struct api_auth_job *j = arg;
	j->result = db_apikey_check(db, j->key, j->name, sizeof(j->name));
	if (j->result < 0 && j->result != -EACCES)
		snprintf(j->db_error, sizeof(j->db_error), "%s", db_last_error(db));
	return 0;
}

static void api_auth_reject(struct api_call *call, int rc)
{
	if (rc == -EACCES) {
		api_auth_failed(call->api, call->peer, false);
		api_reply_error(call, 401, "unauthenticated", NULL, "invalid API key");
	} else {
		snprintf(call->db_error, sizeof(call->db_error), "%s", "");
		api_reply_pool_refused(call, rc == -EAGAIN ? -EAGAIN : -ENOTCONN);
	}
}

static void api_auth_job_done(void *arg, int status)
{
	struct api_auth_job *j = arg;
	struct api_call *call = j->call;
	int rc = status < 0 ? status : j->result;

	if (status != -ECANCELED) {
		if (rc == 0 || rc == -EACCES)
			api_auth_cache_store(j->api->auth, j->key, rc == 0, clock_mono_ms());
		else if (!call)
			api_auth_cache_store(j->api->auth, j->key, true, clock_mono_ms() - API_AUTH_FRESH_MS);
		if (rc == 0)
			api_auth_cache_set_name(j->api->auth, j->key, j->name);
		if (j->db_error[0])
			log_warn("REST API key check: database error: %s", j->db_error);
	}
	char who[sizeof(call->who)];
	snprintf(who, sizeof(who), "key %s", j->name);
	explicit_bzero(j->key, sizeof(j->key));
	free(j);
	if (!call)
		return;
	if (status == -ECANCELED) {
		api_call_free(call);
		return;
	}
	call->req = api_pending_release(call->parked);
	api_pending_free(call->parked);
	call->parked = NULL;
	if (rc == 0) {
		snprintf(call->who, sizeof(call->who), "%s", who);
		api_call_authorised(call);
		return;
	}
	api_auth_reject(call, rc);
	api_call_finish(call);
}

static int api_auth_submit(struct api *api, struct api_call *call, const char *key)
{
	struct api_auth_job *j = xcalloc(1, sizeof(*j));
	j->api = api;
	j->call = call;
	snprintf(j->key, sizeof(j->key), "%s", key);
	int rc = db_pool_submit(api->r->dbpool, DB_LANE_READ, api_auth_job_run, api_auth_job_done, j);
	if (rc < 0) {
		explicit_bzero(j->key, sizeof(j->key));
		free(j);
	}
	return rc;
}

/* Authenticate, then run. The key itself is never logged. */
static void api_call_authenticate(struct api_call *call)
{
	struct api *api = call->api;
	const char *hdr = evhttp_find_header(evhttp_request_get_input_headers(call->req), "Authorization");
	char key[API_KEY_MAX + 1];

	int rc = api_bearer_parse(hdr, key, sizeof(key));
	if (rc < 0) {
		if (rc == -ENOENT)
			api_reply_error(call, 401, "unauthenticated", NULL,
					"missing API key: send Authorization: Bearer <key>");
		else
			api_auth_reject(call, -EACCES);
		explicit_bzero(key, sizeof(key));
		api_call_finish(call);
		return;
	}
	int known = api_auth_cache_lookup(api->auth, key, clock_mono_ms());
	if (known == 2 && !api_auth_cache_revalidating(api->auth, key, true))
		api_auth_submit(api, NULL, key); /* refused: the next request tries again */
	if (known) {
		const char *name = api_auth_cache_name(api->auth, key);
		if (name)
			snprintf(call->who, sizeof(call->who), "key %s", name);
		explicit_bzero(key, sizeof(key));
		api_call_authorised(call);
		return;
	}
	if (!api_auth_may_try(api, call->peer)) {
		explicit_bzero(key, sizeof(key));
		api_auth_failed(api, call->peer, true);
		evhttp_add_header(evhttp_request_get_output_headers(call->req), "Retry-After", "1");
		api_reply_error(call, 429, "too_many_requests", NULL,
				"too many failed authentications from this address; retry later");
		api_call_finish(call);
		return;
	}
	api_pending_park(call);
	rc = api_auth_submit(api, call, key);
	explicit_bzero(key, sizeof(key));
	if (rc < 0) {
		call->req = api_pending_release(call->parked);
		api_reply_pool_refused(call, rc);
		api_call_finish(call);
	}
}

static bool path_is_api(const char *path)
{
	size_t n = strlen(API_PREFIX);
	return strncmp(path, API_PREFIX, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The inputs a handler may read, copied off the evhttp request so that a
 * database worker never touches it. */
static struct api_call *api_call_new(struct api *api, struct evhttp_request *req, unsigned method)
{
	struct api_call *call = xcalloc(1, sizeof(*call));
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char *peer = NULL;
	ev_uint16_t port = 0;

	call->api = api;
	call->r = api->r;
	call->req = req;
	call->method = method;
	call->match = &call->m;
	call->query = query ? xstrdup(query) : NULL;
	if (len) {
		call->body = xmalloc(len + 1);
		evbuffer_copyout(in, call->body, len);
		call->body[len] = '\0';
		call->body_len = len;
	}
	evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &port);
	snprintf(call->peer, sizeof(call->peer), "%s", peer ? peer : "?");
	return call;
}

static void api_dispatch(struct evhttp_request *req, void *arg)
{
	struct api *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct api_call *call = api_call_new(api, req, method_from_evhttp(evhttp_request_get_command(req)));
	char allow[96];

	if (!path || !*path)
		path = "/";
	struct api_input_error bad;
	int rc = api_request_route(api_routes, sizeof(api_routes) / sizeof(api_routes[0]), call->method, path,
				   call->query, &call->m, &bad);
	if (rc == -EILSEQ) {
		api_reply_error(call, 400, "invalid_argument", bad.field, "%s", bad.message);
	} else if (rc == -EOPNOTSUPP) {
		api_allow_format(call->m.allow, allow, sizeof(allow));
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	}
	/* Under /api/v1 even a 404 or 405 is told only to a caller with a
	 * key; it is recorded now and sent once the key checks out. */
	bool need_key = path_is_api(path) && !(call->m.route && call->m.route->public);
	if (rc == -ENOENT) {
		api_reply_error(call, 404, "not_found", NULL, "no such endpoint: %.200s", path);
	} else if (rc == -EOPNOTSUPP) {
		api_reply_error(call, 405, "method_not_allowed", NULL, "%s is not allowed on %.200s (allowed: %s)",
				api_method_name(call->method), path, allow);
	}
	if (need_key)
		api_call_authenticate(call);
	else
		api_call_authorised(call);
}

static void api_version(struct api_call *call)
{
	api_reply_json(call, 200,
		       json_pack("{s:s, s:s, s:s}", "version", IRONRACK_VERSION, "api", "v1", "region", call->r->name));
}

static void api_limits_set(struct api *api)
{
	long body = api->r->conf.max_body_bytes > 0 ? api->r->conf.max_body_bytes : API_DEFAULT_BODY_BYTES;

	evhttp_set_max_body_size(api->http, body);
	evhttp_set_max_headers_size(api->http, API_MAX_HEADERS_BYTES);
	evhttp_set_timeout(api->http, API_IO_TIMEOUT_S);
	/* Accept every method evhttp knows so an unsupported one gets our
	 * JSON 405 instead of evhttp's HTML 501. */
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						  EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_default_content_type(api->http, "application/json");
	evhttp_set_gencb(api->http, api_dispatch, api);
}

/* Connections counted at accept, deadlines, strict framing, accept paused
 * when descriptors run out (common/httpguard.h). The REST API takes at most
 * half of the descriptors the reserve leaves: the boot-resource server and
 * rack sessions need the rest. */
static int api_guard(struct api *api)
{
	const struct region_conf *c = &api->r->conf;
	unsigned want = (unsigned)c->http_max_connections;
	long request_s =
	    c->http_request_timeout > c->http_header_timeout ? c->http_request_timeout : c->http_header_timeout;
	struct httpguard_conf g = {
	    .name = "REST API",
	    .max_conns = httpguard_fd_cap(want, 2, REGION_FD_RESERVE),
	    .max_conns_per_client = (unsigned)c->http_max_connections_per_client,
	    .header_timeout_ms = (unsigned)c->http_header_timeout * 1000,
	    .request_timeout_ms = (unsigned)request_s * 1000,
	    .head_max = API_MAX_HEADERS_BYTES,
	    /* TLS or not, the same guard: the handshake counts against the
	     * header deadline, so a client that never finishes it is closed. */
	    .transport_new = api->tls ? api_tls_transport_new : NULL,
	    .transport_arg = api->tls,
	};
	if (g.max_conns < want)
		log_warn("REST API: at most %u connections, not %u (http_max_connections): the open file limit",
			 g.max_conns, want);
	int rc = httpguard_attach(api->http, api->sock, &g, &api->guard);
	if (rc < 0)
		log_err("REST API: cannot guard the listener: %s", strerror(-rc));
	return rc;
}

/* HTTPS unless http_tls and the address say otherwise (https.h). */
static int api_tls_setup(struct api *api, const char *host)
{
	struct api_tls_plan plan;
	if (api_tls_plan(api->r->conf.http_tls, host, &plan) < 0) {
		log_err("REST API: http_tls must be auto, on or off");
		return -EINVAL;
	}
	if (plan.warn_cleartext)
		log_warn("REST API: plain HTTP on %s because http_tls = off: API keys cross the network in the clear",
			 host);
	if (!plan.tls)
		return 0;
	api->tls = api_tls_ctx_new(&api->r->tls);
	if (!api->tls) {
		log_err("REST API: cannot set up TLS with the region's server certificate");
		return -EIO;
	}
	return 0;
}

static void api_free(struct api *api)
{
	httpguard_free(api->guard);
	if (api->http)
		evhttp_free(api->http);
	SSL_CTX_free(api->tls);
	api_auth_cache_free(api->auth);
	free(api);
}

int api_start(struct region *r, const char *listen, struct api **ret)
{
	char host[256];
	uint16_t port;
	struct api *api;

	if (endpoint_parse(listen, API_DEFAULT_PORT, host, sizeof(host), &port) < 0) {
		log_err("REST API: invalid listen address \"%s\" (expected host:port)", listen);
		return -EINVAL;
	}
	api = xcalloc(1, sizeof(*api));
	api->r = r;
	api->auth = api_auth_cache_new();
	int rc = api_tls_setup(api, host);
	if (rc < 0) {
		api_free(api);
		return rc;
	}
	api->http = evhttp_new(r->base);
	if (!api->http) /* libevent's only failure here is an allocation */
		oom_abort(0);
	api_limits_set(api);
	errno = 0;
	api->sock = evhttp_bind_socket_with_handle(api->http, host, port);
	if (!api->sock) {
		int err = errno ? errno : EADDRNOTAVAIL;
		log_err("REST API: cannot listen on %s: %s", listen, strerror(err));
		api_free(api);
		return -err;
	}
	if (api_guard(api) < 0) {
		api_free(api);
		return -EINVAL;
	}
	int bound = sock_bound_port(evhttp_bound_socket_get_fd(api->sock));
	if (bound > 0)
		port = (uint16_t)bound;
	int prc = port_file_write(r->conf.state_dir, "http", host, port);
	if (prc < 0)
		log_warn("REST API: cannot write %s/ports/http: %s", r->conf.state_dir, strerror(-prc));
	bool v6 = strchr(host, ':') != NULL;
	log_info("REST API listening on %s://%s%s%s:%u%s", api->tls ? "https" : "http", v6 ? "[" : "", host,
		 v6 ? "]" : "", port, api->tls ? " (certificate of the region CA)" : "");
	*ret = api;
	return 0;
}

bool api_is_https(const struct api *api)
{
	return api && api->tls;
}

void api_stop(struct api *api)
{
	if (!api)
		return;
	/* Racks may still answer parked requests later; those callbacks must
	 * find neither the api nor the (freed) requests. */
	api_pending_abandon_all(api);
	api_free(api);
}
