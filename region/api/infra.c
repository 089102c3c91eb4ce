/* /api/v1/infrastructures: the infrastructure editor. Staged edits answer
 * with the whole infrastructure (both designs), as an editor redraws it;
 * plan / deploy answer with the action list. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/log.h"
#include "common/util.h"
#include "region/api/infra.h"
#include "region/api/internal.h"
#include "region/db/db.h"
#include "region/machine/machine.h"
#include "region/power/power.h"
#include "region/region.h"

#define INFRA_LIST_LIMIT_MAX 1000

/* The reply for a refused or failed db call. */
static void reply_db(struct api_call *call, int r, const struct infra_err *err)
{
	const char *msg = err->message[0] ? err->message : db_last_error(call->db);
	const char *field = err->field;

	if (!*msg)
		msg = strerror(-r);
	switch (r) {
	case -EINVAL:
		api_reply_error(call, 400, "invalid_argument", field, "%s", msg);
		break;
	case -ENOENT:
		api_reply_error(call, 404, "not_found", field, "%s", msg);
		break;
	case -EEXIST:
		api_reply_error(call, 409, "already_exists", field, "%s", msg);
		break;
	case -EBUSY:
		api_reply_error(call, 409, "conflict", field, "%s", msg);
		break;
	case -ENOSPC:
		api_reply_error(call, 409, "exhausted", field, "%s", msg);
		break;
	default:
		api_reply_db_error(call, r);
		break;
	}
}

/* The reply for a body the codec refused. */
static void reply_fail(struct api_call *call, const struct api_fail *fail)
{
	api_reply_error(call, 400, "invalid_argument", fail->field, "%s", fail->message);
}

/* Answer with the infrastructure as it is now. */
static void reply_infra(struct api_call *call, int status, const char *name)
{
	struct infra_row row;
	struct infra_err err = {{0}, {0}};

	int r = db_infra_get(call->db, name, &row);
	if (r == -ENOENT)
		snprintf(err.message, sizeof(err.message), "infrastructure \"%s\" not found", name);
	if (r < 0) {
		reply_db(call, r, &err);
		return;
	}
	api_reply_json(call, status, api_infra_json(&row, true));
	db_infra_row_done(&row);
}

/* The body of a POST/PATCH; NULL when the 400 is already recorded. */
static json_t *body_get(struct api_call *call)
{
	json_t *body = NULL;

	return api_body_json(call, &body) < 0 ? NULL : body;
}

/* ---- infrastructures ---- */

/* A query parameter's value, copied into buf; false when absent. */
static bool query_str(struct api_call *call, const char *name, char *buf, size_t len)
{
	const char *query = call->query;
	struct evkeyvalq kv;
	bool found = false;

	if (!query || !*query)
		return false;
	TAILQ_INIT(&kv);
	if (evhttp_parse_query_str(query, &kv) == 0) {
		const char *v = evhttp_find_header(&kv, name);
		if (v) {
			snprintf(buf, len, "%s", v);
			found = true;
		}
	}
	evhttp_clear_headers(&kv);
	return found;
}

void api_infra_list(struct api_call *call)
{
	struct infra_row *rows = NULL;
	size_t n = 0;
	long limit, offset;
	char zone[INFRA_NAME_MAX + 2], fabric[INFRA_NAME_MAX + 2];
	bool by_zone = query_str(call, "zone", zone, sizeof(zone));
	bool by_fabric = query_str(call, "fabric", fabric, sizeof(fabric));

	if (api_query_long(call, "limit", INFRA_LIST_LIMIT_MAX, 1, INFRA_LIST_LIMIT_MAX, &limit) < 0 ||
	    api_query_long(call, "offset", 0, 0, INFRA_MAX, &offset) < 0)
		return;
	int r = db_infra_list(call->db, &rows, &n);
	if (r < 0) {
		api_reply_db_error(call, r);
		return;
	}
	json_t *arr = json_array();
	size_t total = 0;
	for (size_t i = 0; arr && i < n; i++) {
		if ((by_zone && strcmp(rows[i].zone, zone) != 0) || (by_fabric && strcmp(rows[i].fabric, fabric) != 0))
			continue;
		if (total++ < (size_t)offset || json_array_size(arr) >= (size_t)limit)
			continue;
		if (json_array_append_new(arr, api_infra_json(&rows[i], false)) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	db_infra_rows_free(rows, n);
	api_reply_json(call, 200,
		       arr ? json_pack("{s:o, s:I, s:I, s:I}", "infrastructures", arr, "total", (json_int_t)total,
				       "limit", (json_int_t)limit, "offset", (json_int_t)offset)
			   : NULL);
}

void api_infra_create(struct api_call *call)
{
	struct infra_new in;
	struct ipprefix *pools = NULL;
	struct api_fail fail;
	struct infra_err err = {{0}, {0}};
	json_t *body = body_get(call);

	if (!body)
		return;
	int r = api_infra_new_parse(body, &in, &pools, &fail);
	if (r < 0)
		reply_fail(call, &fail);
	else if ((r = db_infra_create(call->db, &in, &err)) < 0)
		reply_db(call, r, &err);
	else
		reply_infra(call, 201, in.name);
	free(pools);
	json_decref(body);
}

void api_infra_get(struct api_call *call)
{
	reply_infra(call, 200, call->match->params[0]);
}

void api_infra_update(struct api_call *call)
{
	const char *name = call->match->params[0];
	struct infra_update up;
	struct ipprefix *pools = NULL;
	struct api_fail fail;
	struct infra_err err = {{0}, {0}};
	json_t *body = body_get(call);

	if (!body)
		return;
	int r = api_infra_update_parse(body, &up, &pools, &fail);
	if (r < 0)
		reply_fail(call, &fail);
	else if ((r = db_infra_update(call->db, name, &up, &err)) < 0)
		reply_db(call, r, &err);
	else
		reply_infra(call, 200, name);
	free(pools);
	json_decref(body);
}

void api_infra_delete(struct api_call *call)
{
	const char *name = call->match->params[0];
	struct infra_err err = {{0}, {0}};

	int r = db_infra_delete(call->db, name, &err);
	if (r < 0) {
		reply_db(call, r, &err);
		return;
	}
	api_reply_json(call, 200, json_pack("{s:s, s:b}", "name", name, "deleted", 1));
}

/* ---- instance arrays and drives ---- */

void api_infra_array_add(struct api_call *call)
{
	const char *name = call->match->params[0];
	struct infra_array_spec spec;
	struct api_fail fail;
	struct infra_err err = {{0}, {0}};
	json_t *body = body_get(call);

	if (!body)
		return;
	char *keys = NULL;
	int r = api_infra_array_parse(body, true, &spec, &fail);
	if (r == 0)
		spec.ssh_keys = keys = api_infra_array_keys_dump(body);
	if (r < 0)
		reply_fail(call, &fail);
	else if ((r = db_infra_array_add(call->db, name, &spec, &err)) < 0)
		reply_db(call, r, &err);
	else
		reply_infra(call, 201, name);
	free(keys);
	json_decref(body);
}

void api_infra_array_update(struct api_call *call)
{
	const char *name = call->match->params[0], *array = call->match->params[1];
	struct infra_array_spec spec;
	struct api_fail fail;
	struct infra_err err = {{0}, {0}};
	json_t *body = body_get(call);

	if (!body)
		return;
	char *keys = NULL;
	int r = api_infra_array_parse(body, false, &spec, &fail);
	if (r == 0)
		spec.ssh_keys = keys = api_infra_array_keys_dump(body);
	if (r < 0)
		reply_fail(call, &fail);
	else if ((r = db_infra_array_update(call->db, name, array, &spec, &err)) < 0)
		reply_db(call, r, &err);
	else
		reply_infra(call, 200, name);
	free(keys);
	json_decref(body);
}

void api_infra_array_remove(struct api_call *call)
{
	const char *name = call->match->params[0];
	struct infra_err err = {{0}, {0}};

	int r = db_infra_array_remove(call->db, name, call->match->params[1], &err);
	if (r < 0)
		reply_db(call, r, &err);
	else
		reply_infra(call, 200, name);
}

void api_infra_drive_add(struct api_call *call)
{
	const char *name = call->match->params[0], *array = call->match->params[1];
	struct api_fail fail;
	struct infra_err err = {{0}, {0}};
	uint32_t size = 0;
	int64_t id = 0;
	json_t *body = body_get(call);

	if (!body)
		return;
	int r = api_infra_drive_parse(body, &size, &fail);
	json_decref(body);
	if (r < 0)
		reply_fail(call, &fail);
	else if ((r = db_infra_drive_add(call->db, name, array, size, &id, &err)) < 0)
		reply_db(call, r, &err);
	else
		api_reply_json(
		    call, 201,
		    json_pack("{s:I, s:s, s:I}", "id", (json_int_t)id, "array", array, "size_gb", (json_int_t)size));
}

void api_infra_drive_remove(struct api_call *call)
{
	const char *name = call->match->params[0], *array = call->match->params[1];
	struct infra_err err = {{0}, {0}};
	long id;

	if (api_long_parse(call->match->params[2], 1, LONG_MAX, &id) < 0) {
		api_reply_error(call, 404, "not_found", "drive", "instance array \"%s\" has no drive \"%s\"", array,
				call->match->params[2]);
		return;
	}
	int r = db_infra_drive_remove(call->db, name, array, id, &err);
	if (r < 0)
		reply_db(call, r, &err);
	else
		reply_infra(call, 200, name);
}

/* ---- networks ---- */

void api_infra_network_add(struct api_call *call)
{
	const char *name = call->match->params[0], *net = NULL;
	enum infra_net_type type = INFRA_NET_LAN;
	struct api_fail fail;
	struct infra_err err = {{0}, {0}};
	json_t *body = body_get(call);

	if (!body)
		return;
	int r = api_infra_network_parse(body, true, &net, &type, &fail);
	if (r < 0)
		reply_fail(call, &fail);
	else if ((r = db_infra_network_add(call->db, name, net, type, &err)) < 0)
		reply_db(call, r, &err);
	else
		reply_infra(call, 201, name);
	json_decref(body);
}

void api_infra_network_update(struct api_call *call)
{
	const char *name = call->match->params[0], *net = NULL;
	enum infra_net_type type;
	struct api_fail fail;
	struct infra_err err = {{0}, {0}};
	json_t *body = body_get(call);

	if (!body)
		return;
	int r = api_infra_network_parse(body, false, &net, &type, &fail);
	if (r < 0)
		reply_fail(call, &fail);
	else if ((r = db_infra_network_rename(call->db, name, call->match->params[1], net, &err)) < 0)
		reply_db(call, r, &err);
	else
		reply_infra(call, 200, name);
	json_decref(body);
}

void api_infra_network_remove(struct api_call *call)
{
	const char *name = call->match->params[0];
	struct infra_err err = {{0}, {0}};

	int r = db_infra_network_remove(call->db, name, call->match->params[1], &err);
	if (r < 0)
		reply_db(call, r, &err);
	else
		reply_infra(call, 200, name);
}

/* ---- connections ---- */

void api_infra_connect(struct api_call *call)
{
	const char *name = call->match->params[0], *array = NULL, *net = NULL;
	uint32_t port = 0;
	struct api_fail fail;
	struct infra_err err = {{0}, {0}};
	json_t *body = body_get(call);

	if (!body)
		return;
	int r = api_infra_conn_parse(body, &array, &port, &net, &fail);
	if (r < 0)
		reply_fail(call, &fail);
	else if ((r = db_infra_connect(call->db, name, array, port, net, &err)) < 0)
		reply_db(call, r, &err);
	else
		reply_infra(call, 201, name);
	json_decref(body);
}

void api_infra_disconnect(struct api_call *call)
{
	const char *name = call->match->params[0], *array = call->match->params[1], *net = call->match->params[3];
	struct infra_err err = {{0}, {0}};
	uint32_t port;

	if (api_infra_port_text_parse(call->match->params[2], &port) < 0) {
		api_reply_error(call, 400, "invalid_argument", "port",
				"port must be from 0 to %d (or eth0 to eth%d), not \"%s\"", INFRA_PORTS_MAX - 1,
				INFRA_PORTS_MAX - 1, call->match->params[2]);
		return;
	}
	int r = db_infra_disconnect(call->db, name, array, port, net, &err);
	if (r < 0)
		reply_db(call, r, &err);
	else
		reply_infra(call, 200, name);
}

/* ---- plan, deploy, discard ---- */

/* What the releases of deployed machines leave for the loop (power
 * actions, boot configs racks must forget), sent with the reply. */
struct deploy_after {
	struct region *r;
	struct region_machine_after *after;
	size_t n;
	int status;
	json_t *obj;
};

static void deploy_after_free(void *arg)
{
	struct deploy_after *st = arg;
	for (size_t i = 0; i < st->n; i++) {
		/* The client may be gone: what was decided still goes out. */
		if (!st->r->stopping)
			region_machine_after_run(st->r, &st->after[i]);
		region_machine_after_free(&st->after[i]);
	}
	free(st->after);
	json_decref(st->obj);
	free(st);
}

static void deploy_after_send(struct api_call *call)
{
	struct deploy_after *st = call->state;
	for (size_t i = 0; i < st->n; i++)
		region_machine_after_run(call->r, &st->after[i]);
	st->n = 0;
	region_power_changed(call->r);
	api_reply_json(call, st->status, st->obj);
	st->obj = NULL;
}

/* Keep what a machine release or deploy leaves for the loop. */
static void after_keep(struct api_call *call, struct deploy_after **st, struct region_machine_after *after)
{
	if (!*st) {
		*st = xcalloc(1, sizeof(**st));
		(*st)->r = call->r;
	}
	(*st)->after = xreallocarray((*st)->after, (*st)->n + 1, sizeof(*(*st)->after));
	(*st)->after[(*st)->n++] = *after;
}

/* After a deploy committed: the deployed machines of instances that went
 * are released as any machine is (powered off, back to READY); the
 * answer says how each went ("released": the new status, or
 * "release_error"). */
static void handoffs_run(struct api_call *call, const char *infra, const struct infra_plan_result *res, json_t *reply,
			 struct deploy_after **st)
{
	json_t *machines = json_object_get(reply, "machines");

	for (size_t i = 0; i < res->n_bindings; i++) {
		const struct infra_binding *b = &res->bindings[i];
		if (!b->handoff)
			continue;
		struct region_machine_release_req req = {.id = b->machine_id};
		struct region_machine_op_result out;
		snprintf(req.who, sizeof(req.who), "%s", call->who[0] ? call->who : call->peer);
		snprintf(req.comment, sizeof(req.comment), "instance %s#%u of infrastructure %s removed", b->array,
			 (unsigned)b->index, infra);
		region_machine_release_run(call->r, call->db, &req, &out);
		json_t *o = json_array_get(machines, i);
		if (out.status != 200) {
			log_warn("infrastructure %s: machine %s was unbound but not released: %s", infra, b->machine,
				 out.message);
			json_object_set_new(o, "release_error", json_string(out.message));
			continue;
		}
		json_object_set_new(o, "released", json_string(out.new_status));
		after_keep(call, st, &out.after);
	}
}

/* One instance's machine deploy, as `ironrack machines deploy` does it;
 * its entry in the answer's "deploys" and, for a deploy that applied
 * something, a step in its history. */
static void os_deploy_one(struct api_call *call, const char *infra, const struct infra_plan_result *res,
			  const struct infra_os_job *job, json_t *deploys, struct deploy_after **st)
{
	struct region_machine_deploy_req req = {
	    .id = job->machine_id, .user_data = job->user_data, .ssh_keys_json = job->ssh_keys};
	struct region_machine_op_result out;
	char subject[96], detail[768];

	snprintf(req.who, sizeof(req.who), "%s", call->who[0] ? call->who : call->peer);
	snprintf(req.comment, sizeof(req.comment), "instance %s#%u of infrastructure %s", job->array,
		 (unsigned)job->index, infra);
	snprintf(req.image, sizeof(req.image), "%s", job->image);
	region_machine_deploy_run(call->r, call->db, &req, &out);
	json_t *o = json_pack("{s:s, s:I, s:s, s:s}", "array", job->array, "instance", (json_int_t)job->index,
			      "machine", job->machine, "image", job->image);
	if (out.status == 200) {
		json_object_set_new(o, "status", json_string(out.new_status));
		snprintf(detail, sizeof(detail), "%s image %s: %s", job->machine, job->image, out.new_status);
		after_keep(call, st, &out.after);
	} else {
		log_warn("infrastructure %s: machine %s of instance %s#%u was not deployed: %s", infra, job->machine,
			 job->array, (unsigned)job->index, out.message);
		json_object_set_new(o, "error", json_string(out.message));
		snprintf(detail, sizeof(detail), "%s image %s not started: %.600s", job->machine, job->image,
			 out.message);
	}
	if (json_array_append_new(deploys, o) < 0)
		oom_abort(0);
	snprintf(subject, sizeof(subject), "%s#%u", job->array, (unsigned)job->index);
	if (res->applied &&
	    db_infra_history_append(call->db, infra, res->revision, "deploy", "machine", subject, detail) < 0)
		log_warn("infrastructure %s: the machine deploy of %s is not in the history: %s", infra, subject,
			 db_last_error(call->db));
}

/* After a deploy committed: every instance whose machine is ALLOCATED and
 * whose array names an image gets a machine deploy (docs/deploy.md,
 * "Infrastructures"); the answer's "deploys" says how each went. */
static void os_deploys_run(struct api_call *call, const char *infra, const struct infra_plan_result *res, json_t *reply,
			   struct deploy_after **st)
{
	struct infra_os_job *jobs = NULL;
	size_t n = 0;
	json_t *deploys = json_array();

	if (!deploys)
		oom_abort(0);
	json_object_set_new(reply, "deploys", deploys);
	if (db_infra_os_jobs(call->db, infra, &jobs, &n) < 0) {
		log_err("infrastructure %s: cannot list the machines to deploy: %s", infra, db_last_error(call->db));
		json_object_set_new(reply, "deploys_error", json_string("the machines to deploy cannot be listed"));
		return;
	}
	for (size_t i = 0; i < n; i++)
		os_deploy_one(call, infra, res, &jobs[i], deploys, st);
	db_infra_os_jobs_free(jobs, n);
}

static void deploy_after_reply(struct api_call *call, const char *infra, const struct infra_plan_result *res,
			       json_t *reply)
{
	struct deploy_after *st = NULL;

	handoffs_run(call, infra, res, reply, &st);
	os_deploys_run(call, infra, res, reply, &st);
	if (!st) {
		api_reply_json(call, 200, reply);
		return;
	}
	st->status = 200;
	st->obj = reply;
	call->state = st;
	call->state_free = deploy_after_free;
	call->then = deploy_after_send;
}

static void plan_reply(struct api_call *call, bool deploy)
{
	const char *name = call->match->params[0];
	struct infra_plan_result res;
	struct infra_err err = {{0}, {0}};

	int r = deploy ? db_infra_deploy(call->db, name, &res, &err) : db_infra_plan(call->db, name, &res, &err);
	if (r < 0) {
		reply_db(call, r, &err);
		return;
	}
	json_t *reply = api_infra_plan_json(name, &res);
	if (deploy && reply)
		deploy_after_reply(call, name, &res, reply);
	else
		api_reply_json(call, 200, reply);
	db_infra_plan_result_done(&res);
}

void api_infra_plan(struct api_call *call)
{
	plan_reply(call, false);
}

void api_infra_deploy(struct api_call *call)
{
	plan_reply(call, true);
}

void api_infra_discard(struct api_call *call)
{
	const char *name = call->match->params[0];
	struct infra_err err = {{0}, {0}};

	int r = db_infra_discard(call->db, name, &err);
	if (r < 0)
		reply_db(call, r, &err);
	else
		reply_infra(call, 200, name);
}

void api_infra_history(struct api_call *call)
{
	const char *name = call->match->params[0];
	struct infra_history_row *rows = NULL;
	struct infra_err err = {{0}, {0}};
	size_t n = 0;
	long limit;

	if (api_query_long(call, "limit", 20, 1, INFRA_HISTORY_MAX, &limit) < 0)
		return;
	int r = db_infra_history(call->db, name, (size_t)limit, &rows, &n, &err);
	if (r < 0) {
		reply_db(call, r, &err);
		return;
	}
	api_reply_json(call, 200, api_infra_history_json(name, rows, n));
	db_infra_history_free(rows, n);
}

/* ---- WAN subnets ---- */

void api_infra_subnets_list(struct api_call *call)
{
	const char *name = call->match->params[0], *net = call->match->params[1];
	struct infra_block_row *blocks = NULL;
	struct infra_err err = {{0}, {0}};
	size_t n = 0;

	int r = db_infra_subnets(call->db, name, net, &blocks, &n, &err);
	if (r < 0) {
		reply_db(call, r, &err);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		if (json_array_append_new(arr, api_infra_block_json(&blocks[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	free(blocks);
	api_reply_json(call, 200, arr ? json_pack("{s:s, s:o}", "network", net, "subnets", arr) : NULL);
}

void api_infra_subnet_order(struct api_call *call)
{
	const char *name = call->match->params[0], *net = call->match->params[1];
	struct infra_block_row block = {.extra = true};
	struct api_fail fail;
	struct infra_err err = {{0}, {0}};
	unsigned len = 0;
	json_t *body = body_get(call);

	if (!body)
		return;
	int r = api_infra_order_parse(body, &len, &fail);
	json_decref(body);
	if (r < 0)
		reply_fail(call, &fail);
	else if ((r = db_infra_subnet_order(call->db, name, net, len, &block.prefix, &err)) < 0)
		reply_db(call, r, &err);
	else
		api_reply_json(call, 201,
			       json_pack("{s:s, s:o}", "network", net, "subnet", api_infra_block_json(&block)));
}
