/* REST handlers for machines' lifecycle (docs/machines.md): the operator's
 * actions (commission, abort, mark-broken, mark-fixed), DELETE checked
 * against the state, and a machine's hardware on GET. The decisions are
 * region/machine's; this file only speaks HTTP. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/api/internal.h"
#include "region/api/machines_api.h"
#include "region/api/net_api.h"
#include "region/db/deploy_db.h"
#include "region/db/machine_db.h"
#include "region/machine/machine.h"
#include "region/power/power.h"
#include "region/region.h"

struct op_state {
	struct region *r;
	struct region_machine_after after;
	int status;
	json_t *obj;
};

static void op_state_free(void *arg)
{
	struct op_state *st = arg;
	/* The client may be gone: what was decided still goes out. */
	if (!st->r->stopping)
		region_machine_after_run(st->r, &st->after);
	region_machine_after_free(&st->after);
	json_decref(st->obj);
	free(st);
}

static void op_send(struct api_call *call)
{
	struct op_state *st = call->state;
	region_machine_after_run(call->r, &st->after);
	region_power_changed(call->r);
	api_reply_json(call, st->status, st->obj);
	st->obj = NULL;
}

/* Run op and record the reply (the machine's object as it is now, or the
 * error); what the transition sends goes out from the loop. */
static void op_run(struct api_call *call, struct region_machine_op *op)
{
	struct region_machine_op_result res;
	json_t *before = NULL;

	snprintf(op->who, sizeof(op->who), "%s", call->who[0] ? call->who : call->peer);
	if (op->action == MA_DELETE) {
		/* The object as it was, for the reply. */
		api_net_reply_object(call, 200, NET_MACHINE, op->id, NULL);
		if (call->status != 200)
			return;
		int status;
		api_reply_take(call, &status, &before);
		/* What goes with it (docs/network.md, "Deletes"), read just
		 * before the delete's own transaction. */
		struct net_err nerr;
		char *with = NULL;
		if (net_deleted_with(call->db, NET_MACHINE, op->id, &with, &nerr) == 0)
			api_net_deleted_with_add(before, with);
		free(with);
	}
	region_machine_op_run(call->r, call->db, op, &res);
	if (res.status != 200) {
		json_decref(before);
		api_reply_error(call, res.status, res.code, NULL, "%s", res.message);
		return;
	}
	struct op_state *st = xcalloc(1, sizeof(*st));
	st->r = call->r;
	st->after = res.after;
	if (before) {
		st->status = 200;
		st->obj = before;
	} else {
		api_net_reply_object(call, 200, NET_MACHINE, op->id, NULL);
		api_reply_take(call, &st->status, &st->obj);
	}
	call->state = st;
	call->state_free = op_state_free;
	call->then = op_send;
}

void api_machine_op(struct api_call *call)
{
	struct region_machine_op op = {0};
	json_t *body = NULL;

	const char *verb = strrchr(call->match->route->pattern, '/') + 1;
	if (machine_action_parse(verb, &op.action) < 0) {
		api_reply_error(call, 404, "not_found", NULL, "no such action");
		return;
	}
	if (!api_net_lookup(call, NET_MACHINE, 0, &op.id))
		return;
	if (call->body_len) {
		if (api_body_json(call, &body) < 0)
			return;
		const char *k;
		json_t *v;
		json_object_foreach(body, k, v)
		{
			if (strcmp(k, "comment") != 0 || !json_is_string(v)) {
				api_reply_error(call, 400, "invalid_argument", k,
						strcmp(k, "comment")
						    ? "unknown field '%.64s'; an action takes only comment"
						    : "%s must be a string",
						k);
				json_decref(body);
				return;
			}
			if (strlen(json_string_value(v)) >= sizeof(op.comment)) {
				api_reply_error(call, 400, "invalid_argument", k, "comment: at most %zu characters",
						sizeof(op.comment) - 1);
				json_decref(body);
				return;
			}
			snprintf(op.comment, sizeof(op.comment), "%s", json_string_value(v));
		}
		json_decref(body);
	}
	op_run(call, &op);
}

void api_machine_delete(struct api_call *call, int64_t id)
{
	struct region_machine_op op = {.id = id, .action = MA_DELETE};
	op_run(call, &op);
}

void api_machine_details_add(struct api_call *call, int64_t id)
{
	char *text = NULL;
	if (call->status != 200 || !json_is_object(call->reply))
		return;
	if (machine_db_hardware_json(call->db, id, &text) == 0) {
		json_t *hw = json_loads(text, 0, NULL);
		json_object_set_new(call->reply, "hardware", hw ? hw : json_object());
	}
	free(text);
	text = NULL;
	/* What it is (being) deployed with; null when nothing is. */
	json_t *dep = deploy_db_json(call->db, id, &text) == 0 ? json_loads(text, 0, NULL) : NULL;
	json_object_set_new(call->reply, "deploy", dep ? dep : json_null());
	free(text);
}
