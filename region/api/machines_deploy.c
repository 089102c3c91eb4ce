/* REST handlers for deploy and release (docs/deploy.md): the bodies
 * checked here, the decisions region/machine/deploy.c's. Like the other
 * machine actions (machines.c) the answer is the machine as it is now, and
 * what the transition sends (a power action, boot configs racks must
 * forget) goes out from the loop. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/api/deploy_api.h"
#include "region/api/internal.h"
#include "region/api/net_api.h"
#include "region/db/deploy_db.h"
#include "region/machine/machine.h"
#include "region/machine/nocloud.h"
#include "region/power/power.h"
#include "region/region.h"

#define IMAGE_NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-"

/* ---- bodies (pure) ---- */

static int get_comment(const json_t *v, char comment[512], struct api_fail *fail)
{
	if (!json_is_string(v))
		return api_fail_set(fail, "comment", "comment must be a string");
	if (json_string_length(v) >= 512)
		return api_fail_set(fail, "comment", "comment: at most 511 characters");
	snprintf(comment, 512, "%s", json_string_value(v));
	return 0;
}

/* A string without NUL bytes (JSON can carry \u0000). */
static bool is_text(const json_t *v)
{
	return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

static int get_keys(const json_t *v, char **ret, struct api_fail *fail)
{
	if (!json_is_array(v))
		return api_fail_set(fail, "ssh_keys", "ssh_keys must be an array of strings");
	if (json_array_size(v) > DEPLOY_SSH_KEYS_MAX)
		return api_fail_set(fail, "ssh_keys", "ssh_keys: at most %d keys", DEPLOY_SSH_KEYS_MAX);
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *k = json_array_get(v, i);
		if (!is_text(k) || json_string_length(k) == 0 || json_string_length(k) > NOCLOUD_SSH_KEY_MAX)
			return api_fail_set(fail, "ssh_keys", "ssh_keys[%zu]: a key is a string of 1 to %d characters",
					    i, NOCLOUD_SSH_KEY_MAX);
		const char *s = json_string_value(k);
		for (size_t j = 0; s[j]; j++)
			if ((unsigned char)s[j] < 0x20 || s[j] == 0x7f)
				return api_fail_set(fail, "ssh_keys",
						    "ssh_keys[%zu]: a key is one line without control characters", i);
	}
	*ret = json_dumps(v, JSON_COMPACT);
	if (!*ret)
		oom_abort(0);
	return 0;
}

int api_deploy_body_parse(const json_t *body, struct api_deploy_body *ret, struct api_fail *fail)
{
	const char *k;
	json_t *v;
	int rc = 0;

	memset(ret, 0, sizeof(*ret));
	if (body && !json_is_object(body))
		return api_fail_set(fail, "", "the body must be a JSON object");
	json_object_foreach((json_t *)body, k, v)
	{
		if (strcmp(k, "image") == 0) {
			size_t n = json_is_string(v) ? json_string_length(v) : 0;
			const char *s = json_string_value(v);
			if (n == 0 || n > 63 || strspn(s, IMAGE_NAME_CHARS) != n || s[0] == '.' || s[0] == '_' ||
			    s[0] == '+' || s[0] == '-') {
				rc = api_fail_set(fail, "image", "image must be an image's name");
				break;
			}
			snprintf(ret->image, sizeof(ret->image), "%s", s);
		} else if (strcmp(k, "user_data") == 0) {
			if (!is_text(v) || json_string_length(v) > DEPLOY_USER_DATA_MAX) {
				rc = api_fail_set(fail, "user_data", "user_data must be a string of at most %d bytes",
						  DEPLOY_USER_DATA_MAX);
				break;
			}
			free(ret->user_data);
			ret->user_data = xstrdup(json_string_value(v));
		} else if (strcmp(k, "ssh_keys") == 0) {
			free(ret->ssh_keys_json);
			ret->ssh_keys_json = NULL;
			if ((rc = get_keys(v, &ret->ssh_keys_json, fail)) < 0)
				break;
		} else if (strcmp(k, "comment") == 0) {
			if ((rc = get_comment(v, ret->comment, fail)) < 0)
				break;
		} else {
			rc = api_fail_set(fail, k,
					  "unknown field '%.64s'; deploy takes image, user_data, ssh_keys and "
					  "comment",
					  k);
			break;
		}
	}
	if (rc == 0 && !ret->image[0])
		rc = api_fail_set(fail, "image", "image is required");
	if (rc < 0) {
		api_deploy_body_free(ret);
		return rc;
	}
	if (!ret->user_data)
		ret->user_data = xstrdup("");
	if (!ret->ssh_keys_json)
		ret->ssh_keys_json = xstrdup("[]");
	return 0;
}

void api_deploy_body_free(struct api_deploy_body *b)
{
	free(b->user_data);
	free(b->ssh_keys_json);
	b->user_data = b->ssh_keys_json = NULL;
}

int api_release_body_parse(const json_t *body, char erase[8], char comment[512], struct api_fail *fail)
{
	const char *k;
	json_t *v;

	erase[0] = comment[0] = '\0';
	if (body && !json_is_object(body))
		return api_fail_set(fail, "", "the body must be a JSON object");
	json_object_foreach((json_t *)body, k, v)
	{
		if (strcmp(k, "erase") == 0) {
			const char *s = json_string_value(v);
			if (!s || (strcmp(s, "none") != 0 && strcmp(s, "quick") != 0 && strcmp(s, "full") != 0))
				return api_fail_set(fail, "erase", "erase must be none, quick or full");
			snprintf(erase, 8, "%s", strcmp(s, "none") == 0 ? "" : s);
		} else if (strcmp(k, "comment") == 0) {
			if (get_comment(v, comment, fail) < 0)
				return -EINVAL;
		} else {
			return api_fail_set(fail, k, "unknown field '%.64s'; release takes erase and comment", k);
		}
	}
	return 0;
}

/* ---- handlers ---- */

struct deploy_state {
	struct region *r;
	struct region_machine_after after;
	int status;
	json_t *obj;
};

static void state_free(void *arg)
{
	struct deploy_state *st = arg;
	/* The client may be gone: what was decided still goes out. */
	if (!st->r->stopping)
		region_machine_after_run(st->r, &st->after);
	region_machine_after_free(&st->after);
	json_decref(st->obj);
	free(st);
}

static void state_send(struct api_call *call)
{
	struct deploy_state *st = call->state;
	region_machine_after_run(call->r, &st->after);
	region_power_changed(call->r);
	api_reply_json(call, st->status, st->obj);
	st->obj = NULL;
}

/* res as the reply: the machine as it is now, what it leaves sent from
 * the loop. */
static void reply(struct api_call *call, int64_t id, struct region_machine_op_result *res)
{
	if (res->status != 200) {
		api_reply_error(call, res->status, res->code, res->field[0] ? res->field : NULL, "%s", res->message);
		return;
	}
	struct deploy_state *st = xcalloc(1, sizeof(*st));
	st->r = call->r;
	st->after = res->after;
	api_net_reply_object(call, 200, NET_MACHINE, id, NULL);
	api_reply_take(call, &st->status, &st->obj);
	call->state = st;
	call->state_free = state_free;
	call->then = state_send;
}

/* The body (NULL when there is none), or false with the 400 recorded. */
static bool body_of(struct api_call *call, json_t **ret)
{
	*ret = NULL;
	return !call->body_len || api_body_json(call, ret) == 0;
}

void api_machine_deploy(struct api_call *call)
{
	struct region_machine_deploy_req req = {0};
	struct region_machine_op_result res;
	struct api_deploy_body b;
	struct api_fail fail = {0};
	json_t *body;

	if (!api_net_lookup(call, NET_MACHINE, 0, &req.id) || !body_of(call, &body))
		return;
	int rc = api_deploy_body_parse(body, &b, &fail);
	json_decref(body);
	if (rc < 0) {
		api_reply_error(call, 400, "invalid_argument", fail.field, "%s", fail.message);
		return;
	}
	snprintf(req.who, sizeof(req.who), "%s", call->who[0] ? call->who : call->peer);
	snprintf(req.comment, sizeof(req.comment), "%s", b.comment);
	snprintf(req.image, sizeof(req.image), "%s", b.image);
	req.user_data = b.user_data;
	req.ssh_keys_json = b.ssh_keys_json;
	region_machine_deploy_run(call->r, call->db, &req, &res);
	api_deploy_body_free(&b);
	reply(call, req.id, &res);
}

void api_machine_release(struct api_call *call)
{
	struct region_machine_release_req req = {0};
	struct region_machine_op_result res;
	struct api_fail fail = {0};
	json_t *body;

	if (!api_net_lookup(call, NET_MACHINE, 0, &req.id) || !body_of(call, &body))
		return;
	int rc = api_release_body_parse(body, req.erase, req.comment, &fail);
	json_decref(body);
	if (rc < 0) {
		api_reply_error(call, 400, "invalid_argument", fail.field, "%s", fail.message);
		return;
	}
	snprintf(req.who, sizeof(req.who), "%s", call->who[0] ? call->who : call->peer);
	region_machine_release_run(call->r, call->db, &req, &res);
	reply(call, req.id, &res);
}
