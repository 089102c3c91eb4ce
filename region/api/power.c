/* REST for power (docs/power.md): machines' power parameters on create
 * and update, actions, the power state and a machine's events. The work
 * is region/power's; this file speaks HTTP. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "region/api/codec.h"
#include "region/api/internal.h"
#include "region/api/machines_api.h"
#include "region/api/net_api.h"
#include "region/api/power_api.h"
#include "region/db/db.h"
#include "region/db/power_db.h"
#include "region/power/power.h"
#include "region/region.h"

static void reply_power_err(struct api_call *call, const struct region_power_err *err)
{
	api_reply_error(call, err->status ? err->status : 500, err->code[0] ? err->code : "internal",
			err->field[0] ? err->field : NULL, "%s", err->message);
}

/* The request body without its power keys, for the generic machine code;
 * NULL when nothing else is left. */
static char *body_without_power(json_t *body, bool *ret_power)
{
	json_t *rest = json_object();
	const char *k;
	json_t *v;
	*ret_power = false;
	json_object_foreach(body, k, v)
	{
		if (region_power_key(k))
			*ret_power = true;
		else
			json_object_set(rest, k, v);
	}
	char *text = json_object_size(rest) ? json_dumps(rest, JSON_COMPACT) : NULL;
	json_decref(rest);
	return text;
}

static void body_replace(struct api_call *call, char *text)
{
	free(call->body);
	call->body = text;
	call->body_len = text ? strlen(text) : 0;
}

/* After a write that changed power parameters: the poll sets follow, and
 * the recorded object goes out. */
struct written {
	int status;
	json_t *obj;
};

static void written_free(void *arg)
{
	struct written *w = arg;
	json_decref(w->obj);
	free(w);
}

static void written_send(struct api_call *call)
{
	struct written *w = call->state;
	region_power_changed(call->r);
	api_reply_json(call, w->status, w->obj);
	w->obj = NULL;
}

static void defer_reply(struct api_call *call)
{
	struct written *w = xcalloc(1, sizeof(*w));
	api_reply_take(call, &w->status, &w->obj);
	call->state = w;
	call->state_free = written_free;
	call->then = written_send;
}

static int64_t reply_id(struct api_call *call)
{
	return (int64_t)json_integer_value(json_object_get(call->reply, "id"));
}

/* POST /machines and PATCH /machines/{id}: the generic machine fields
 * through region/api/net_crud.c, power_* through region/power. A power
 * key that does not check refuses the whole request before anything is
 * written. */
static void machine_write(struct api_call *call, bool create, int64_t id)
{
	struct region_power_err err = {0};
	json_t *body = NULL;
	bool power;

	if (api_body_json(call, &body) < 0)
		return;
	char *rest = body_without_power(body, &power);
	if (!power) {
		free(rest);
		json_decref(body);
		if (create)
			api_net_create(call, NET_MACHINE, 0);
		else
			api_net_object(call);
		return;
	}
	int rc = create ? region_power_machine_check(body, &err)
			: region_power_machine_write(call->r, call->db, id, body, false, &err);
	if (rc < 0) {
		reply_power_err(call, &err);
		goto out;
	}
	if (create || rest) {
		body_replace(call, rest ? rest : xstrdup("{}"));
		rest = NULL;
		if (create)
			api_net_create(call, NET_MACHINE, 0);
		else
			api_net_object(call);
		if (call->status / 100 != 2)
			goto out;
		id = reply_id(call);
	}
	rc = region_power_machine_write(call->r, call->db, id, body, true, &err);
	if (rc < 0) {
		reply_power_err(call, &err);
		goto out;
	}
	api_net_reply_object(call, create ? 201 : 200, NET_MACHINE, id, NULL);
	if (call->status / 100 == 2)
		defer_reply(call);
out:
	free(rest);
	json_decref(body);
}

void api_machines(struct api_call *call)
{
	if (call->method == API_POST)
		machine_write(call, true, 0);
	else
		api_net_collection(call);
}

void api_machine(struct api_call *call)
{
	int64_t id;
	if (call->method == API_PATCH) {
		if (api_net_lookup(call, NET_MACHINE, 0, &id))
			machine_write(call, false, id);
		return;
	}
	if (call->method == API_DELETE) {
		/* Checked against its state; a deleted machine leaves its rack's
		 * poll set (machines.c sends that). */
		if (api_net_lookup(call, NET_MACHINE, 0, &id))
			api_machine_delete(call, id);
		return;
	}
	api_net_object(call);
	if (call->method == API_GET && call->status == 200)
		api_machine_details_add(call, reply_id(call));
}

/* ---- actions ---- */

struct action_state {
	struct region *r;
	struct region_power_action *a;
	json_t *obj;
};

static void action_state_free(void *arg)
{
	struct action_state *st = arg;
	if (st->a) {
		/* The client went away before its action went out: it still
		 * goes (or fails in the record when the rack is gone). */
		char msg[256];
		if (st->r->stopping)
			region_power_action_fail(st->r, 0, region_power_action_id(st->a), "the region stopped");
		else
			region_power_action_send(st->r, st->a, msg, sizeof(msg));
		if (st->r->stopping)
			region_power_action_free(st->a);
	}
	json_decref(st->obj);
	free(st);
}

static void action_send(struct api_call *call)
{
	struct action_state *st = call->state;
	char msg[256];
	struct region_power_action *a = st->a;
	st->a = NULL;
	if (region_power_action_send(call->r, a, msg, sizeof(msg)) < 0) {
		api_reply_error(call, 503, "unavailable", NULL, "%s", msg);
		return;
	}
	api_reply_json(call, 202, json_pack("{s:O}", "action", st->obj));
}

static const char *const actions[] = {"on", "off", "cycle", "query", NULL};

static bool one_of(const char *v, const char *const *set)
{
	for (size_t i = 0; set[i]; i++)
		if (strcmp(v, set[i]) == 0)
			return true;
	return false;
}

static void power_post(struct api_call *call, int64_t id)
{
	struct region_power_request req = {.machine_id = id};
	struct region_power_err err = {0};
	json_t *body = NULL;

	if (api_body_json(call, &body) < 0)
		return;
	const char *action = json_string_value(json_object_get(body, "action"));
	json_t *boot = json_object_get(body, "boot");
	json_t *persistent = json_object_get(body, "boot_persistent");
	json_t *efi = json_object_get(body, "boot_efi");
	const char *k;
	json_t *v;
	json_object_foreach(body, k, v)
	{
		if (strcmp(k, "action") && strcmp(k, "boot") && strcmp(k, "boot_persistent") && strcmp(k, "boot_efi")) {
			api_reply_error(call, 400, "invalid_argument", k,
					"unknown field '%.64s'; a power request takes action, boot, boot_persistent "
					"and boot_efi",
					k);
			goto out;
		}
	}
	if (!action || !one_of(action, actions)) {
		api_reply_error(call, 400, "invalid_argument", "action", "action must be on, off, cycle or query");
		goto out;
	}
	if (boot && !json_is_null(boot) &&
	    (!json_is_string(boot) ||
	     !one_of(json_string_value(boot), (const char *const[]){"", "pxe", "disk", NULL}))) {
		api_reply_error(call, 400, "invalid_argument", "boot", "boot must be pxe or disk");
		goto out;
	}
	if ((persistent && !json_is_boolean(persistent)) || (efi && !json_is_boolean(efi))) {
		api_reply_error(call, 400, "invalid_argument",
				persistent && !json_is_boolean(persistent) ? "boot_persistent" : "boot_efi",
				"boot_persistent and boot_efi must be true or false");
		goto out;
	}
	const char *b = json_string_value(boot) ?: "";
	if (b[0] && strcmp(action, "on") != 0 && strcmp(action, "cycle") != 0) {
		api_reply_error(call, 400, "invalid_argument", "boot",
				"boot sets the device of the next power-on: only with on or cycle");
		goto out;
	}
	snprintf(req.action, sizeof(req.action), "%s", action);
	snprintf(req.boot, sizeof(req.boot), "%s", b);
	req.boot_persistent = json_is_true(persistent);
	req.boot_efi = json_is_true(efi);
	snprintf(req.requested_by, sizeof(req.requested_by), "%s", call->who[0] ? call->who : call->peer);

	struct region_power_action *a = NULL;
	if (region_power_action_prepare(call->r, call->db, &req, &a, &err) < 0) {
		reply_power_err(call, &err);
		goto out;
	}
	char *text = NULL;
	struct action_state *st = xcalloc(1, sizeof(*st));
	st->r = call->r;
	st->a = a;
	if (power_db_action_json(call->db, id, region_power_action_id(a), &text) == 0)
		st->obj = json_loads(text, 0, NULL);
	free(text);
	if (!st->obj)
		st->obj = json_pack("{s:I, s:s}", "id", (json_int_t)region_power_action_id(a), "status", "pending");
	call->state = st;
	call->state_free = action_state_free;
	call->then = action_send;
out:
	json_decref(body);
}

static void reply_text(struct api_call *call, int rc, char *text, const char *what)
{
	if (rc == -ENOENT) {
		api_reply_error(call, 404, "not_found", NULL, "no such %s", what);
		return;
	}
	if (rc < 0) {
		api_reply_db_error(call, rc);
		return;
	}
	api_reply_json(call, 200, json_loads(text, 0, NULL));
	free(text);
}

void api_machine_power(struct api_call *call)
{
	int64_t id;
	char *text = NULL;

	if (!api_net_lookup(call, NET_MACHINE, 0, &id))
		return;
	if (call->method == API_POST) {
		power_post(call, id);
		return;
	}
	int rc = power_db_power_json(call->db, id, &text);
	reply_text(call, rc, text, "machine");
}

void api_machine_power_action(struct api_call *call)
{
	int64_t id;
	long action;
	char *text = NULL;

	if (!api_net_lookup(call, NET_MACHINE, 0, &id))
		return;
	if (api_long_parse(call->match->params[1], 1, INT64_MAX / 2, &action) < 0) {
		api_reply_error(call, 404, "not_found", NULL, "no such action");
		return;
	}
	int rc = power_db_action_json(call->db, id, action, &text);
	if (rc == 0) {
		json_t *a = json_loads(text, 0, NULL);
		free(text);
		api_reply_json(call, 200, a ? json_pack("{s:o}", "action", a) : NULL);
		return;
	}
	reply_text(call, rc, text, "action of this machine");
}

void api_machine_events(struct api_call *call)
{
	int64_t id;
	long limit, after;
	char *text = NULL;

	if (!api_net_lookup(call, NET_MACHINE, 0, &id))
		return;
	if (api_query_long(call, "limit", 100, 1, 1000, &limit) < 0 ||
	    api_query_long(call, "after", 0, 0, INT64_MAX / 2, &after) < 0)
		return;
	int rc = power_db_events_json(call->db, id, after, limit, &text);
	reply_text(call, rc, text, "machine");
}
