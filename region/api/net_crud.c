/* List, get, create, update and delete for every kind of the network
 * model. The kind is the route's collection segment; the work is
 * region/db/net.h's generic calls checked by net_codec.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/util.h"
#include "region/api/net_api.h"
#include "region/api/net_codec.h"
#include "region/region.h"

#define API_PREFIX_LEN (sizeof("/api/v1/") - 1)
#define API_OFFSET_MAX 1000000000L

static const struct {
	const char *segment;
	enum net_kind kind;
} api_net_paths[] = {
    {"zones", NET_ZONE},	   {"fabrics", NET_FABRIC},  {"spaces", NET_SPACE},
    {"vlans", NET_VLAN},	   {"subnets", NET_SUBNET},  {"ip-ranges", NET_RANGE},
    {"static-routes", NET_ROUTE},  {"ip-addresses", NET_IP}, {"machines", NET_MACHINE},
    {"interfaces", NET_INTERFACE}, {"devices", NET_DEVICE},  {"neighbours", NET_NEIGHBOUR},
};

/* The kind of the route's collection: "/api/v1/<segment>[/...]". */
static int api_net_kind(struct api_call *call, enum net_kind *ret)
{
	const char *seg = call->match->route->pattern + API_PREFIX_LEN;
	size_t n = strcspn(seg, "/");

	for (size_t i = 0; i < sizeof(api_net_paths) / sizeof(api_net_paths[0]); i++) {
		if (strlen(api_net_paths[i].segment) == n && strncmp(seg, api_net_paths[i].segment, n) == 0) {
			*ret = api_net_paths[i].kind;
			return 0;
		}
	}
	api_reply_error(call, 500, "internal", NULL, "no network kind for route %s", call->match->route->pattern);
	return -ENOENT;
}

void api_net_reply_err(struct api_call *call, int r, const struct net_err *err)
{
	const char *field = err->field[0] ? err->field : NULL;

	switch (r) {
	case -EINVAL:
		api_reply_error(call, 400, "invalid_argument", field, "%s", err->message);
		break;
	case -ENOENT:
		/* Something the body names is missing: the request is wrong.
		 * The object of the path is missing: 404. */
		if (field)
			api_reply_error(call, 400, "invalid_argument", field, "%s", err->message);
		else
			api_reply_error(call, 404, "not_found", NULL, "%s", err->message);
		break;
	case -EEXIST:
		api_reply_error(call, 409, "already_exists", field, "%s", err->message);
		break;
	case -EBUSY:
		api_reply_error(call, 409, "conflict", field, "%s", err->message);
		break;
	case -EPERM:
		api_reply_error(call, 409, "protected", field, "%s", err->message);
		break;
	case -ENOSPC:
		api_reply_error(call, 409, "exhausted", field, "%s", err->message);
		break;
	default:
		api_reply_db_error(call, r);
		break;
	}
}

bool api_net_lookup(struct api_call *call, enum net_kind kind, size_t param, int64_t *ret_id)
{
	char key[API_PARAM_MAX + 1];
	struct net_err err;

	if (kind == NET_SUBNET)
		api_net_subnet_key(call->match->params[param], key, sizeof(key));
	else
		snprintf(key, sizeof(key), "%s", call->match->params[param]);
	int r = net_resolve(call->db, kind, key, ret_id, &err);
	if (r < 0) {
		/* The path names the object: a miss is a 404 here. */
		err.field[0] = '\0';
		api_net_reply_err(call, r, &err);
		return false;
	}
	return true;
}

void api_net_reply_object(struct api_call *call, int status, enum net_kind kind, int64_t id, json_t *extra)
{
	struct net_rows rows;
	struct net_err err;

	int r = net_get(call->db, kind, id, &rows, &err);
	if (r < 0) {
		json_decref(extra);
		api_net_reply_err(call, r, &err);
		return;
	}
	json_t *o = api_net_row_json(net_kind_info(kind), &rows, 0);
	net_rows_done(&rows);
	if (o && extra && json_object_update(o, extra) < 0) {
		json_decref(o);
		o = NULL;
	}
	json_decref(extra);
	api_reply_json(call, status, o);
}

/* ---- lists ---- */

struct api_net_query {
	struct net_query q;
	char *owned[NET_FILTERS_MAX];
};

static void api_net_query_done(struct api_net_query *aq)
{
	for (size_t i = 0; i < NET_FILTERS_MAX; i++)
		free(aq->owned[i]);
}

static int api_net_query_one(struct api_call *call, const struct net_kind_info *k, const char *name, const char *value,
			     struct api_net_query *aq)
{
	struct api_fail fail;

	if (strcmp(name, "limit") == 0 || strcmp(name, "offset") == 0) {
		long max = name[0] == 'l' ? NET_LIST_LIMIT_MAX : API_OFFSET_MAX, v;
		if (api_long_parse(value, name[0] == 'l' ? 1 : 0, max, &v) < 0) {
			api_reply_error(call, 400, "invalid_argument", name, "%s must be an integer from %d to %ld",
					name, name[0] == 'l' ? 1 : 0, max);
			return -EINVAL;
		}
		*(name[0] == 'l' ? &aq->q.limit : &aq->q.offset) = v;
		return 0;
	}
	for (size_t i = 0; i < k->n_filters; i++) {
		if (strcmp(k->filters[i].name, name) != 0)
			continue;
		free(aq->owned[i]);
		aq->owned[i] = NULL;
		int r = api_net_filter_parse(&k->filters[i], value, &aq->owned[i], &fail);
		if (r < 0) {
			api_reply_error(call, 400, "invalid_argument", fail.field, "%s", fail.message);
			return r;
		}
		aq->q.filter[i] = aq->owned[i];
		return 0;
	}
	char names[256];
	size_t used = snprintf(names, sizeof(names), "limit, offset");
	for (size_t i = 0; i < k->n_filters && used < sizeof(names); i++)
		used += (size_t)snprintf(names + used, sizeof(names) - used, ", %s", k->filters[i].name);
	api_reply_error(call, 400, "invalid_argument", name, "unknown query parameter '%.64s'; %s takes: %s", name,
			k->plural, names);
	return -EINVAL;
}

/* The query string as filters and paging. On failure the 400 is recorded. */
static int api_net_query_parse(struct api_call *call, const struct net_kind_info *k, struct api_net_query *aq)
{
	const char *query = call->query;
	struct evkeyvalq kv;
	struct evkeyval *e;
	int r = 0;

	memset(aq, 0, sizeof(*aq));
	aq->q.limit = NET_LIST_LIMIT_DEFAULT;
	if (!query || !*query)
		return 0;
	if (api_query_parse(call, query, &kv) < 0)
		return -EINVAL;
	TAILQ_FOREACH(e, &kv, next)
	{
		r = api_net_query_one(call, k, e->key, e->value, aq);
		if (r < 0)
			break;
	}
	evhttp_clear_headers(&kv);
	if (r < 0)
		api_net_query_done(aq);
	return r;
}

void api_net_list(struct api_call *call, enum net_kind kind, const char *fixed_filter, int64_t fixed_id)
{
	const struct net_kind_info *k = net_kind_info(kind);
	struct api_net_query aq;
	struct net_rows rows;
	struct net_err err;
	char idt[24];

	if (api_net_query_parse(call, k, &aq) < 0)
		return;
	for (size_t i = 0; fixed_filter && i < k->n_filters; i++) {
		if (strcmp(k->filters[i].name, fixed_filter) == 0) {
			snprintf(idt, sizeof(idt), "%" PRId64, fixed_id);
			aq.q.filter[i] = idt;
		}
	}
	int r = net_list(call->db, kind, &aq.q, &rows, &err);
	api_net_query_done(&aq);
	if (r < 0) {
		api_net_reply_err(call, r, &err);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < rows.n; i++) {
		if (json_array_append_new(arr, api_net_row_json(k, &rows, i)) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	json_t *body = arr ? json_pack("{s:o, s:I, s:I, s:I}", k->plural, arr, "total", (json_int_t)rows.total, "limit",
				       (json_int_t)aq.q.limit, "offset", (json_int_t)aq.q.offset)
			   : NULL;
	net_rows_done(&rows);
	api_reply_json(call, 200, body);
}

/* ---- writes ---- */

/* The object just written, with a "warning" when the model keeps it but it
 * does not do what it may seem to (net_write_warning). */
static void api_net_reply_written(struct api_call *call, int status, enum net_kind kind, int64_t id)
{
	char warn[400];
	json_t *extra = NULL;

	if (net_write_warning(call->db, kind, id, warn, sizeof(warn)) > 0)
		extra = json_pack("{s:s}", "warning", warn);
	api_net_reply_object(call, status, kind, id, extra);
}

void api_net_create(struct api_call *call, enum net_kind kind, int64_t parent)
{
	const struct net_kind_info *k = net_kind_info(kind);
	struct api_net_body b;
	struct api_fail fail;
	struct net_err err;
	json_t *body = NULL;
	int64_t id;

	if (api_body_json(call, &body) < 0)
		return;
	int r = api_net_body_parse(k, body, true, &b, &fail);
	json_decref(body);
	if (r < 0) {
		api_reply_error(call, 400, "invalid_argument", fail.field, "%s", fail.message);
		return;
	}
	r = net_create(call->db, kind, parent, &b.in, &id, &err);
	api_net_body_done(&b);
	if (r < 0) {
		api_net_reply_err(call, r, &err);
		return;
	}
	api_net_reply_written(call, 201, kind, id);
}

static void api_net_update(struct api_call *call, enum net_kind kind, int64_t id)
{
	const struct net_kind_info *k = net_kind_info(kind);
	struct api_net_body b;
	struct api_fail fail;
	struct net_err err;
	json_t *body = NULL;

	if (k->no_update) {
		api_reply_error(call, 405, "method_not_allowed", NULL,
				"a %s cannot be changed; delete it and "
				"create it again",
				k->name);
		return;
	}
	if (api_body_json(call, &body) < 0)
		return;
	int r = api_net_body_parse(k, body, false, &b, &fail);
	json_decref(body);
	if (r < 0) {
		api_reply_error(call, 400, "invalid_argument", fail.field, "%s", fail.message);
		return;
	}
	r = net_update(call->db, kind, id, &b.in, &err);
	api_net_body_done(&b);
	if (r < 0) {
		api_net_reply_err(call, r, &err);
		return;
	}
	api_net_reply_written(call, 200, kind, id);
}

/* The answer to a delete is the object as it was, with "deleted_with":
 * what the database's cascades took with it (docs/network.md, "Deletes"). */
static void api_net_delete(struct api_call *call, enum net_kind kind, int64_t id)
{
	struct net_rows rows;
	struct net_err err;
	char *with = NULL;

	int r = net_get(call->db, kind, id, &rows, &err);
	if (r < 0) {
		api_net_reply_err(call, r, &err);
		return;
	}
	json_t *o = api_net_row_json(net_kind_info(kind), &rows, 0);
	net_rows_done(&rows);
	r = net_delete_with(call->db, kind, id, &with, &err);
	if (r < 0) {
		json_decref(o);
		api_net_reply_err(call, r, &err);
		return;
	}
	api_net_deleted_with_add(o, with);
	free(with);
	api_reply_json(call, 200, o);
}

void api_net_deleted_with_add(json_t *o, const char *with)
{
	json_t *w = with ? json_loads(with, 0, NULL) : NULL;

	if (o && json_object_set_new(o, "deleted_with", w ? w : json_object()) < 0)
		oom_abort(0);
}

void api_net_collection(struct api_call *call)
{
	enum net_kind kind;

	if (api_net_kind(call, &kind) < 0)
		return;
	if (call->method == API_POST)
		api_net_create(call, kind, 0);
	else
		api_net_list(call, kind, NULL, 0);
}

void api_net_object(struct api_call *call)
{
	enum net_kind kind;
	int64_t id;

	if (api_net_kind(call, &kind) < 0 || !api_net_lookup(call, kind, 0, &id))
		return;
	if (call->method == API_PATCH)
		api_net_update(call, kind, id);
	else if (call->method == API_DELETE)
		api_net_delete(call, kind, id);
	else
		api_net_reply_object(call, 200, kind, id, NULL);
}
