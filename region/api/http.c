/* The REST API server: evhttp setup, authentication, routing and the
 * JSON reply helpers every handler uses. */
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

#include "common/log.h"
#include "common/net.h"
#include "common/version.h"
#include "region/api/api.h"
#include "region/api/codec.h"
#include "region/api/dhcp_api.h"
#include "region/api/infra.h"
#include "region/api/internal.h"
#include "region/api/net_api.h"
#include "region/db/db.h"
#include "region/dhcp/dhcp.h"
#include "region/region.h"

#define API_DEFAULT_PORT 5240
#define API_PREFIX	 "/api/v1"

static void api_version(struct api_call *call);

static const struct api_route api_routes[] = {
    {API_PREFIX "/version", API_GET, api_version, true},
    {API_PREFIX "/racks", API_GET, api_racks_list, false},
    {API_PREFIX "/racks/{id}", API_GET, api_rack_get, false},
    {API_PREFIX "/racks/{id}/ping", API_POST, api_rack_ping, false},
    {API_PREFIX "/racks/{id}/config", API_POST, api_rack_config, false},
    {API_PREFIX "/racks/{id}/dhcp", API_GET, api_rack_dhcp, false},
    /* The network model (net_*.c): the kind is the collection segment. */
    {API_PREFIX "/zones", API_GET | API_POST, api_net_collection, false},
    {API_PREFIX "/zones/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false},
    {API_PREFIX "/fabrics", API_GET | API_POST, api_net_collection, false},
    {API_PREFIX "/fabrics/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false},
    {API_PREFIX "/spaces", API_GET | API_POST, api_net_collection, false},
    {API_PREFIX "/spaces/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false},
    {API_PREFIX "/vlans", API_GET | API_POST, api_net_collection, false},
    {API_PREFIX "/vlans/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false},
    {API_PREFIX "/subnets", API_GET | API_POST, api_net_collection, false},
    {API_PREFIX "/subnets/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false},
    {API_PREFIX "/subnets/{id}/utilisation", API_GET, api_subnet_utilisation, false},
    {API_PREFIX "/subnets/{id}/next-free", API_GET, api_subnet_next_free, false},
    {API_PREFIX "/subnets/{id}/suggestions", API_GET, api_subnet_suggestions, false},
    {API_PREFIX "/subnets/{id}/allocate-ip", API_POST, api_subnet_allocate_ip, false},
    {API_PREFIX "/subnets/{id}/release-ip", API_POST, api_subnet_release_ip, false},
    {API_PREFIX "/ip-ranges", API_GET | API_POST, api_net_collection, false},
    {API_PREFIX "/ip-ranges/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false},
    {API_PREFIX "/static-routes", API_GET | API_POST, api_net_collection, false},
    {API_PREFIX "/static-routes/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false},
    {API_PREFIX "/ip-addresses", API_GET, api_net_collection, false},
    {API_PREFIX "/ip-addresses/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false},
    {API_PREFIX "/machines", API_GET | API_POST, api_net_collection, false},
    {API_PREFIX "/machines/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false},
    {API_PREFIX "/machines/{id}/interfaces", API_GET | API_POST, api_machine_interfaces, false},
    {API_PREFIX "/interfaces", API_GET, api_net_collection, false},
    {API_PREFIX "/interfaces/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false},
    {API_PREFIX "/interfaces/{id}/links", API_POST, api_interface_link, false},
    {API_PREFIX "/interfaces/{id}/links/{link}", API_DELETE, api_interface_unlink, false},
    {API_PREFIX "/devices", API_GET | API_POST, api_net_collection, false},
    {API_PREFIX "/devices/{id}", API_GET | API_PATCH | API_DELETE, api_net_object, false},
    {API_PREFIX "/neighbours", API_GET | API_POST, api_net_collection, false},
    {API_PREFIX "/neighbours/{id}", API_GET | API_DELETE, api_net_object, false},
    /* DHCP (region/api/dhcp.c) */
    {API_PREFIX "/dhcp-snippets", API_GET | API_POST, api_dhcp_snippets, false},
    {API_PREFIX "/dhcp-snippets/{id}", API_GET | API_PATCH | API_DELETE, api_dhcp_snippet, false},
    {API_PREFIX "/dhcp-conflicts", API_GET, api_dhcp_conflicts, false},
    /* infrastructure editor (region/api/infra.c) */
    {API_PREFIX "/infrastructures", API_GET, api_infra_list, false},
    {API_PREFIX "/infrastructures", API_POST, api_infra_create, false},
    {API_PREFIX "/infrastructures/{name}", API_GET, api_infra_get, false},
    {API_PREFIX "/infrastructures/{name}", API_PATCH, api_infra_update, false},
    {API_PREFIX "/infrastructures/{name}", API_DELETE, api_infra_delete, false},
    {API_PREFIX "/infrastructures/{name}/instance-arrays", API_POST, api_infra_array_add, false},
    {API_PREFIX "/infrastructures/{name}/instance-arrays/{array}", API_PATCH, api_infra_array_update, false},
    {API_PREFIX "/infrastructures/{name}/instance-arrays/{array}", API_DELETE, api_infra_array_remove, false},
    {API_PREFIX "/infrastructures/{name}/instance-arrays/{array}/drives", API_POST, api_infra_drive_add, false},
    {API_PREFIX "/infrastructures/{name}/instance-arrays/{array}/drives/{id}", API_DELETE, api_infra_drive_remove,
     false},
    {API_PREFIX "/infrastructures/{name}/networks", API_POST, api_infra_network_add, false},
    {API_PREFIX "/infrastructures/{name}/networks/{net}", API_PATCH, api_infra_network_update, false},
    {API_PREFIX "/infrastructures/{name}/networks/{net}", API_DELETE, api_infra_network_remove, false},
    {API_PREFIX "/infrastructures/{name}/networks/{net}/subnets", API_GET, api_infra_subnets_list, false},
    {API_PREFIX "/infrastructures/{name}/networks/{net}/subnets", API_POST, api_infra_subnet_order, false},
    {API_PREFIX "/infrastructures/{name}/connections", API_POST, api_infra_connect, false},
    {API_PREFIX "/infrastructures/{name}/connections/{array}/{port}/{net}", API_DELETE, api_infra_disconnect, false},
    {API_PREFIX "/infrastructures/{name}/plan", API_POST, api_infra_plan, false},
    {API_PREFIX "/infrastructures/{name}/deploy", API_POST, api_infra_deploy, false},
    {API_PREFIX "/infrastructures/{name}/discard", API_POST, api_infra_discard, false},
    {API_PREFIX "/infrastructures/{name}/deploys", API_GET, api_infra_history, false},
};

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

/* The status of the last reply sent, for the router to look at after a
 * handler returns (the request itself may be gone by then). The region
 * runs its API on one thread. */
static int api_replied_status;

int api_query_parse(struct api_call *call, const char *query, struct evkeyvalq *kv)
{
	TAILQ_INIT(kv);
	if (evhttp_parse_query_str(query, kv) < 0) {
		evhttp_clear_headers(kv);
		api_reply_error(call->req, 400, "invalid_argument", NULL, "malformed query string");
		return -EINVAL;
	}
	return 0;
}

void api_reply_json(struct evhttp_request *req, int status, json_t *body)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evbuffer_new();
	/* 9 significant digits: rtt_ms 0.446, not 0.44600000000000001 */
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;

	json_decref(body);
	if (!text) {
		/* Out of memory: a body we can send without allocating. */
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
	api_replied_status = status;
	evhttp_send_reply(req, status, NULL, buf); /* may free req (client gone) */
	evbuffer_free(buf);
}

void api_reply_error(struct evhttp_request *req, int status, const char *code, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status >= 500)
		log_warn("REST %s: %d %s: %s", evhttp_request_get_uri(req), status, code, msg);
	api_reply_json(req, status, api_error_new(code, msg, field));
}

void api_reply_db_error(struct api_call *call, int err)
{
	log_warn("REST database error: %s", db_last_error(call->r->db));
	api_reply_error(call->req, 503, "unavailable", NULL, "database unavailable (%s)", strerror(-err));
}

int api_body_json(struct api_call *call, json_t **ret)
{
	struct evbuffer *buf = evhttp_request_get_input_buffer(call->req);
	size_t len = evbuffer_get_length(buf);
	json_error_t jerr;
	char msg[300];

	if (len == 0) {
		api_reply_error(call->req, 400, "invalid_json", NULL, "request body is empty: send a JSON object");
		return -EBADMSG;
	}
	/* evhttp already capped len at max_body_bytes. */
	const char *data = (const char *)evbuffer_pullup(buf, -1);
	if (!data) {
		api_reply_error(call->req, 500, "internal", NULL, "out of memory");
		return -ENOMEM;
	}
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		api_json_error_format(&jerr, msg, sizeof(msg));
		api_reply_error(call->req, 400, "invalid_json", NULL, "%s", msg);
		return -EBADMSG;
	}
	*ret = j;
	return 0;
}

int api_query_long(struct api_call *call, const char *name, long def, long min, long max, long *ret)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(call->req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq kv;
	int rc = 0;

	*ret = def;
	if (!query || !*query)
		return 0;
	if (api_query_parse(call, query, &kv) < 0)
		return -EINVAL;
	const char *v = evhttp_find_header(&kv, name);
	if (v && api_long_parse(v, min, max, ret) < 0) {
		api_reply_error(call->req, 400, "invalid_argument", name, "%s must be an integer from %ld to %ld", name,
				min, max);
		rc = -EINVAL;
	}
	evhttp_clear_headers(&kv);
	return rc;
}

/* true if the request carries a valid API key; otherwise the 401 (or 503)
 * is sent. The key itself is never logged. */
static bool api_authenticate(struct api_call *call)
{
	struct evhttp_request *req = call->req;
	const char *hdr = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	char key[API_KEY_MAX + 1];
	char *peer = NULL;
	ev_uint16_t port = 0;

	int rc = api_bearer_parse(hdr, key, sizeof(key));
	if (rc == 0)
		rc = db_apikey_check(call->r->db, key);
	else if (rc != -ENOENT)
		rc = -EACCES;
	explicit_bzero(key, sizeof(key));
	if (rc == 0)
		return true;
	if (rc == -ENOENT || rc == -EACCES) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
		if (rc == -EACCES) {
			evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &port);
			log_info("REST rejected an invalid API key from %s", peer ? peer : "?");
			api_reply_error(req, 401, "unauthenticated", NULL, "invalid API key");
		} else {
			api_reply_error(req, 401, "unauthenticated", NULL,
					"missing API key: send Authorization: Bearer <key>");
		}
		return false;
	}
	api_reply_db_error(call, rc);
	return false;
}

static bool path_is_api(const char *path)
{
	size_t n = strlen(API_PREFIX);
	return strncmp(path, API_PREFIX, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Every rack's DHCP config is built from the network model: a write to it
 * that succeeded asks for a rebuild (debounced by region/dhcp). One place
 * for every handler: they all answer before returning, and status is what
 * they answered. A handler that parks its request (api_pending) has not
 * answered yet (status 0) and must call region_dhcp_changed() itself; no
 * network-model handler parks today. */
static void api_dhcp_after_write(const struct api_call *call, int status)
{
	if (!(call->method & (API_POST | API_PUT | API_PATCH | API_DELETE)) ||
	    !api_dhcp_route_affects_dhcp(call->match->route))
		return;
	if (status >= 200 && status <= 299)
		region_dhcp_changed(call->r);
}

static void api_dispatch(struct evhttp_request *req, void *arg)
{
	struct api *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct api_match m;
	struct api_call call = {.api = api, .r = api->r, .req = req, .match = &m};
	char allow[96];

	if (!path || !*path)
		path = "/";
	call.method = method_from_evhttp(evhttp_request_get_command(req));
	int rc = api_route_find(api_routes, sizeof(api_routes) / sizeof(api_routes[0]), call.method, path, &m);
	if (path_is_api(path) && !(m.route && m.route->public) && !api_authenticate(&call))
		return;
	if (rc == -ENOENT) {
		api_reply_error(req, 404, "not_found", NULL, "no such endpoint: %.200s", path);
	} else if (rc == -EOPNOTSUPP) {
		api_allow_format(m.allow, allow, sizeof(allow));
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
		api_reply_error(req, 405, "method_not_allowed", NULL, "%s is not allowed on %.200s (allowed: %s)",
				api_method_name(call.method), path, allow);
	} else {
		api_replied_status = 0;
		m.route->handler(&call);
		api_dhcp_after_write(&call, api_replied_status);
	}
}

static void api_version(struct api_call *call)
{
	api_reply_json(call->req, 200,
		       json_pack("{s:s, s:s, s:s}", "version", IRONRACK_VERSION, "api", "v1", "region", call->r->name));
}

/* The port actually bound (differs from the configured one for port 0). */
static uint16_t bound_port(struct evhttp_bound_socket *sock, uint16_t fallback)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len) < 0)
		return fallback;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return fallback;
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

int api_start(struct region *r, const char *listen, struct api **ret)
{
	char host[256];
	uint16_t port;
	struct api *api;

	if (endpoint_parse(listen, API_DEFAULT_PORT, host, sizeof(host), &port) < 0) {
		log_err("REST API: invalid listen address \"%s\" (expected host:port)", listen);
		return -EINVAL;
	}
	api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	api->r = r;
	api->http = evhttp_new(r->base);
	if (!api->http) {
		free(api);
		return -ENOMEM;
	}
	api_limits_set(api);
	errno = 0;
	api->sock = evhttp_bind_socket_with_handle(api->http, host, port);
	if (!api->sock) {
		int err = errno ? errno : EADDRNOTAVAIL;
		log_err("REST API: cannot listen on %s: %s", listen, strerror(err));
		evhttp_free(api->http);
		free(api);
		return -err;
	}
	port = bound_port(api->sock, port);
	if (strchr(host, ':'))
		log_info("REST API listening on http://[%s]:%u", host, port);
	else
		log_info("REST API listening on http://%s:%u", host, port);
	*ret = api;
	return 0;
}

void api_stop(struct api *api)
{
	if (!api)
		return;
	/* Racks may still answer parked requests later; those callbacks must
	 * find neither the api nor the (freed) requests. */
	api_pending_abandon_all(api);
	evhttp_free(api->http);
	free(api);
}
