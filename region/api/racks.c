/* /api/v1/racks: list and show racks (database), ping them and push them
 * configuration (live sessions, answered asynchronously). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "common/util.h"
#include "region/api/codec.h"
#include "region/api/internal.h"
#include "region/db/db.h"
#include "region/region.h"

/* Bounds of ?timeout_ms= for commands that wait on a rack. The CLI's own
 * HTTP timeout (70 s) is above the maximum. */
#define RACK_TIMEOUT_MIN_MS  1
#define RACK_TIMEOUT_MAX_MS  60000
#define RACK_PING_TIMEOUT_MS 5000
/* A config push waits for the rack to write and fsync it. */
#define RACK_CONFIG_TIMEOUT_MS 10000

/* Our own session table is the truth for racks this region holds; the
 * database flag only speaks for sessions held by another region (a flag
 * naming us but without a live session is stale). */
static json_t *rack_json(struct api_call *call, const struct rack_row *row)
{
	bool elsewhere = row->connected && row->connected_region && row->connected_region[0] &&
			 strcmp(row->connected_region, call->r->name) != 0;
	return api_rack_json(row, region_rack_connected(call->r, row->id) || elsewhere);
}

/* Rows read by the database job, shown on the loop where the session
 * table lives. */
struct racks_state {
	struct rack_row *rows;
	size_t n;
};

static void racks_state_free(void *arg)
{
	struct racks_state *st = arg;
	db_rack_rows_free(st->rows, st->n);
	free(st);
}

static void racks_list_show(struct api_call *call)
{
	struct racks_state *st = call->state;
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < st->n; i++) {
		if (json_array_append_new(arr, rack_json(call, &st->rows[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	api_reply_json(call, 200, arr ? json_pack("{s:o}", "racks", arr) : NULL);
}

static void rack_get_show(struct api_call *call)
{
	struct racks_state *st = call->state;
	api_reply_json(call, 200, rack_json(call, &st->rows[0]));
}

void api_racks_list(struct api_call *call)
{
	struct racks_state *st = xcalloc(1, sizeof(*st));

	int rc = db_rack_list(call->db, &st->rows, &st->n);
	if (rc < 0) {
		free(st);
		api_reply_db_error(call, rc);
		return;
	}
	call->state = st;
	call->state_free = racks_state_free;
	call->then = racks_list_show;
}

void api_rack_get(struct api_call *call)
{
	const char *id = call->match->params[0];
	struct racks_state *st = xcalloc(1, sizeof(*st));

	st->rows = xcalloc(1, sizeof(*st->rows));
	st->n = 1;
	int rc = db_rack_get(call->db, id, &st->rows[0]);
	if (rc < 0) {
		racks_state_free(st);
		if (rc == -ENOENT)
			api_reply_error(call, 404, "not_found", NULL, "rack \"%s\" not found", id);
		else
			api_reply_db_error(call, rc);
		return;
	}
	call->state = st;
	call->state_free = racks_state_free;
	call->then = rack_get_show;
}

/* true if the rack exists; otherwise the 404 (or 503) is recorded. Checked
 * up front so that an unknown id is a 404, not a "disconnected" 409. */
static bool rack_exists(struct api_call *call, const char *id)
{
	int rc = db_rack_exists(call->db, id);
	if (rc > 0)
		return true;
	if (rc == 0)
		api_reply_error(call, 404, "not_found", NULL, "rack \"%s\" not found", id);
	else
		api_reply_db_error(call, rc);
	return false;
}

/* The failures a ping and a config push share. */
static void reply_rack_failure(struct evhttp_request *req, const struct api_pending *p, int status, const char *message)
{
	const char *id = p->subject;
	const char *why = message && *message ? message : strerror(-status);

	switch (status) {
	case -ENOTCONN:
		api_send_error(req, 409, "rack_disconnected", NULL, "rack \"%s\" is not connected", id);
		break;
	case -ETIMEDOUT:
		api_send_error(req, 504, "timeout", NULL, "rack \"%s\" did not answer within %ld ms", id,
			       p->timeout_ms);
		break;
	case -ENOENT:
		api_send_error(req, 404, "not_found", NULL, "rack \"%s\" not found", id);
		break;
	case -ECANCELED:
		api_send_error(req, 502, "rack_error", NULL, "rack \"%s\": session ended before it answered", id);
		break;
	default:
		api_send_error(req, 502, "rack_error", NULL, "rack \"%s\": %s", id, why);
		break;
	}
}

static void ping_done(void *arg, int status, const char *message, int64_t rtt_us, uint64_t version)
{
	struct api_pending *p = arg;
	struct evhttp_request *req = api_pending_release(p);

	if (req && status == 0)
		api_send_json(req, 200,
			      json_pack("{s:s, s:s, s:f}", "rack", p->subject, "result", "pong", "rtt_ms",
					(double)rtt_us / 1000.0));
	else if (req)
		reply_rack_failure(req, p, status, message);
	api_pending_free(p);
}

/* The loop step of a ping: the rack exists; ask its session. */
static void rack_ping_send(struct api_call *call)
{
	const char *id = call->match->params[0];
	long timeout = *(long *)call->state;

	struct api_pending *p = api_pending_start(call, id, timeout);
	if (!p)
		return;
	/* May call ping_done before returning; p is not ours after this. */
	region_rack_ping(call->r, id, (int)timeout, ping_done, p);
}

void api_rack_ping(struct api_call *call)
{
	const char *id = call->match->params[0];
	long timeout;

	if (api_query_long(call, "timeout_ms", RACK_PING_TIMEOUT_MS, RACK_TIMEOUT_MIN_MS, RACK_TIMEOUT_MAX_MS,
			   &timeout) < 0)
		return;
	if (!rack_exists(call, id))
		return;
	long *st = xmalloc(sizeof(*st));
	*st = timeout;
	call->state = st;
	call->state_free = free;
	call->then = rack_ping_send;
}

static json_t *version_json(uint64_t version)
{
	return version ? json_integer((json_int_t)version) : json_null();
}

static void config_done(void *arg, int status, const char *message, int64_t rtt_us, uint64_t version)
{
	struct api_pending *p = arg;
	struct evhttp_request *req = api_pending_release(p);
	const char *id = p->subject;

	if (!req) {
		/* nobody to tell */
	} else if (status == 0) {
		api_send_json(req, 200,
			      json_pack("{s:s, s:o, s:b}", "rack", id, "version", version_json(version), "acked", 1));
	} else if (status == -ENOTCONN) {
		/* Stored; the rack gets it when it next connects. */
		api_send_json(req, 202,
			      json_pack("{s:s, s:o, s:b}", "rack", id, "version", version_json(version), "acked", 0));
	} else if (status == -ETIMEDOUT) {
		api_send_error(req, 504, "timeout", NULL,
			       "config version %llu is stored, but rack \"%s\" did not acknowledge it within %ld ms",
			       (unsigned long long)version, id, p->timeout_ms);
	} else if (status == -EREMOTEIO) {
		api_send_error(req, 502, "rack_error", NULL, "rack \"%s\" rejected config version %llu: %s", id,
			       (unsigned long long)version, message && *message ? message : "no reason given");
	} else {
		reply_rack_failure(req, p, status, message);
	}
	api_pending_free(p);
}

struct rack_config_state {
	char *settings, *boot;
	long timeout;
};

static void rack_config_state_free(void *arg)
{
	struct rack_config_state *st = arg;
	free(st->settings);
	free(st->boot);
	free(st);
}

/* The loop step of a config push: store it and send it (region/rpc). */
static void rack_config_send(struct api_call *call)
{
	struct rack_config_state *st = call->state;
	const char *id = call->match->params[0];

	struct api_pending *p = api_pending_start(call, id, st->timeout);
	if (p)
		region_rack_push_config_boot(call->r, id, st->settings, st->boot, (int)st->timeout, config_done, p);
}

void api_rack_config(struct api_call *call)
{
	const char *id = call->match->params[0];
	json_t *body = NULL, *settings;
	struct api_fail fail;
	long timeout;

	if (api_query_long(call, "timeout_ms", RACK_CONFIG_TIMEOUT_MS, RACK_TIMEOUT_MIN_MS, RACK_TIMEOUT_MAX_MS,
			   &timeout) < 0)
		return;
	/* A malformed request is a 400 whether or not the rack exists. */
	if (api_body_json(call, &body) < 0)
		return;
	if (api_config_body_check(body, &settings, &fail) < 0) {
		api_reply_error(call, 400, "invalid_argument", fail.field, "%s", fail.message);
		json_decref(body);
		return;
	}
	if (!rack_exists(call, id)) {
		json_decref(body);
		return;
	}
	/* Sorted so that equal settings always store as equal text. */
	struct rack_config_state *st = xcalloc(1, sizeof(*st));
	json_t *boot_configs = json_object_get(body, "boot_configs");
	st->settings = json_dumps(settings, JSON_COMPACT | JSON_SORT_KEYS);
	st->boot = boot_configs ? json_dumps(boot_configs, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	st->timeout = timeout;
	json_decref(body);
	if (!st->settings || (boot_configs && !st->boot))
		oom_abort(0);
	call->state = st;
	call->state_free = rack_config_state_free;
	call->then = rack_config_send;
}
