/* POST /api/v1/machines/allocate (docs/deploy.md, "Allocation"): one READY
 * machine that meets the request's filter, now ALLOCATED to the API key's
 * name; none → 409 saying what was missing. The rules are
 * region/machine/alloc.h's; the pick and the move are one statement
 * (region/db/alloc_db.h). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "region/api/codec.h"
#include "region/api/internal.h"
#include "region/api/machines_api.h"
#include "region/api/net_api.h"
#include "region/db/alloc_db.h"
#include "region/machine/alloc.h"

/* READY machines read to say why none matched. */
#define ALLOC_EXPLAIN_MAX 100000
/* Bounds of the numeric conditions (a machine with more is not a machine). */
#define ALLOC_CPU_MAX	 1048576
#define ALLOC_GIB_MAX	 1073741824
#define ALLOC_GB_MAX	 1073741824
#define ALLOC_EVENT_MAX	 512
#define ALLOC_ZONE_FIELD "zone"

static int u32_get(const json_t *v, const char *name, long max, uint32_t *ret, struct api_fail *fail)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return api_fail_set(fail, name, "%s must be an integer from 0 to %ld", name, max);
	*ret = (uint32_t)json_integer_value(v);
	return 0;
}

int api_alloc_body_parse(const json_t *body, struct alloc_filter *f, char *comment, size_t comment_len,
			 struct api_fail *fail)
{
	const char *k;
	json_t *v;
	char msg[256];

	memset(f, 0, sizeof(*f));
	if (comment_len)
		comment[0] = '\0';
	if (!body)
		return 0;
	if (!json_is_object(body))
		return api_fail_set(fail, "", "body must be a JSON object");
	json_object_foreach((json_t *)body, k, v)
	{
		int r = 0;
		if (strcmp(k, ALLOC_ZONE_FIELD) == 0) {
			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) >= sizeof(f->zone))
				return api_fail_set(fail, k, "zone must be a zone's name");
			snprintf(f->zone, sizeof(f->zone), "%s", json_string_value(v));
		} else if (strcmp(k, "min_cpu") == 0) {
			r = u32_get(v, k, ALLOC_CPU_MAX, &f->min_cpu, fail);
		} else if (strcmp(k, "min_memory_gib") == 0) {
			r = u32_get(v, k, ALLOC_GIB_MAX, &f->min_memory_gib, fail);
		} else if (strcmp(k, "min_disk_gb") == 0) {
			r = u32_get(v, k, ALLOC_GB_MAX, &f->min_disk_gb, fail);
		} else if (strcmp(k, "tags") == 0) {
			size_t i;
			json_t *t;
			if (!json_is_array(v))
				return api_fail_set(fail, k, "tags must be an array of strings");
			json_array_foreach(v, i, t)
			{
				if (!json_is_string(t))
					return api_fail_set(fail, k, "tags must be an array of strings");
				if (alloc_filter_tag_add(f, json_string_value(t), msg, sizeof(msg)) < 0)
					return api_fail_set(fail, k, "%s", msg);
			}
		} else if (strcmp(k, "comment") == 0) {
			if (!json_is_string(v))
				return api_fail_set(fail, k, "comment must be a string");
			if (json_string_length(v) >= comment_len)
				return api_fail_set(fail, k, "comment: at most %zu characters", comment_len - 1);
			snprintf(comment, comment_len, "%s", json_string_value(v));
		} else {
			return api_fail_set(fail, k,
					    "unknown field \"%.64s\"; allocate takes zone, min_cpu, min_memory_gib, "
					    "min_disk_gb, tags and comment",
					    k);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static void alloc_owner(const char *who, const char *peer, char *buf, size_t len)
{
	/* call->who is "key NAME" once the key is known. */
	if (who && strncmp(who, "key ", 4) == 0 && who[4])
		snprintf(buf, len, "%s", who + 4);
	else
		snprintf(buf, len, "%s", who && who[0] ? who : peer ? peer : "");
}

/* 409 with what was missing, or 404 for a zone that does not exist. */
static void reply_no_match(struct api_call *call, const struct alloc_filter *f)
{
	struct alloc_db_set ready;
	char why[1024];

	if (f->zone[0]) {
		int r = alloc_db_zone_exists(call->db, f->zone);
		if (r < 0) {
			api_reply_db_error(call, r);
			return;
		}
		if (r == 0) {
			api_reply_error(call, 404, "not_found", ALLOC_ZONE_FIELD, "zone \"%s\" not found", f->zone);
			return;
		}
	}
	int r = alloc_db_ready(call->db, "", ALLOC_EXPLAIN_MAX, &ready);
	if (r < 0) {
		api_reply_db_error(call, r);
		return;
	}
	alloc_explain(f, ready.m, ready.n, why, sizeof(why));
	alloc_db_set_done(&ready);
	api_reply_error(call, 409, "no_match", NULL, "%s", why);
}

void api_machines_allocate(struct api_call *call)
{
	struct alloc_filter f;
	struct api_fail fail = {{0}, {0}};
	char comment[ALLOC_EVENT_MAX], owner[128], event[ALLOC_EVENT_MAX + 160], hostname[64];
	json_t *body = NULL;
	int64_t id = 0;

	if (call->body_len && api_body_json(call, &body) < 0)
		return;
	int r = api_alloc_body_parse(body, &f, comment, sizeof(comment), &fail);
	json_decref(body);
	if (r < 0) {
		api_reply_error(call, 400, "invalid_argument", fail.field, "%s", fail.message);
		return;
	}
	alloc_owner(call->who, call->peer, owner, sizeof(owner));
	snprintf(event, sizeof(event), "allocated to %s%s%s", owner, comment[0] ? ": " : "", comment);
	r = alloc_db_take(call->db, &f, owner, call->who[0] ? call->who : call->peer, event, &id, hostname);
	if (r == -ENOENT) {
		reply_no_match(call, &f);
		return;
	}
	if (r < 0) {
		api_reply_db_error(call, r);
		return;
	}
	log_info("machines: %s: allocated to %s", hostname, owner);
	api_net_reply_object(call, 200, NET_MACHINE, id, NULL);
}
