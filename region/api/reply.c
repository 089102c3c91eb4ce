/* Recording a handler's reply and reading its inputs. These run on
 * whichever thread runs the handler (a database worker or the loop), so
 * they touch only the call, never the evhttp request: the dispatcher
 * (http.c) sends the reply on the loop. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/log.h"
#include "region/api/codec.h"
#include "region/api/internal.h"
#include "region/db/db.h"

void api_reply_json(struct api_call *call, int status, json_t *body)
{
	json_decref(call->reply); /* a later reply replaces an earlier one */
	call->status = body ? status : 500;
	call->reply = body;
}

void api_reply_error(struct api_call *call, int status, const char *code, const char *field, const char *fmt, ...)
{
	char msg[512], clean[512], clean_field[API_PARAM_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A message may quote the request (a path, a name): bytes that are
	 * not UTF-8 would make the JSON unencodable and the answer a 500. */
	api_utf8_sanitize(msg, clean, sizeof(clean));
	if (field)
		api_utf8_sanitize(field, clean_field, sizeof(clean_field));
	api_reply_json(call, status, api_error_new(code, clean, field ? clean_field : NULL));
}

void api_reply_db_error(struct api_call *call, int err)
{
	/* db_last_error() is the database layer's own wording (region/db/db.c
	 * never passes PostgreSQL's text on): a value the database refused is
	 * the client's input, not an outage. */
	const char *why = call->db ? db_last_error(call->db) : "";

	if (err == -EINVAL || err == -EEXIST) {
		api_reply_error(call, err == -EINVAL ? 400 : 409, err == -EINVAL ? "invalid_argument" : "conflict",
				NULL, "%s", *why ? why : "the database refused a value of the request");
		return;
	}
	snprintf(call->db_error, sizeof(call->db_error), "%s", why);
	call->retry_after_s = 1;
	api_reply_error(call, 503, "unavailable", NULL, "database unavailable (%s)", strerror(-err));
}

int api_query_parse(struct api_call *call, const char *query, struct evkeyvalq *kv)
{
	TAILQ_INIT(kv);
	if (evhttp_parse_query_str(query, kv) < 0) {
		evhttp_clear_headers(kv);
		api_reply_error(call, 400, "invalid_argument", NULL, "malformed query string");
		return -EINVAL;
	}
	return 0;
}

int api_body_json(struct api_call *call, json_t **ret)
{
	json_error_t jerr;
	char msg[300];

	if (!call->body || call->body_len == 0) {
		api_reply_error(call, 400, "invalid_json", NULL, "request body is empty: send a JSON object");
		return -EBADMSG;
	}
	/* evhttp already capped the length at max_body_bytes. */
	json_t *j = json_loadb(call->body, call->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		api_json_error_format(&jerr, msg, sizeof(msg));
		api_reply_error(call, 400, "invalid_json", NULL, "%s", msg);
		return -EBADMSG;
	}
	*ret = j;
	return 0;
}

int api_query_long(struct api_call *call, const char *name, long def, long min, long max, long *ret)
{
	struct evkeyvalq kv;
	int rc = 0;

	*ret = def;
	if (!call->query || !*call->query)
		return 0;
	if (api_query_parse(call, call->query, &kv) < 0)
		return -EINVAL;
	const char *v = evhttp_find_header(&kv, name);
	if (v && api_long_parse(v, min, max, ret) < 0) {
		api_reply_error(call, 400, "invalid_argument", name, "%s must be an integer from %ld to %ld", name, min,
				max);
		rc = -EINVAL;
	}
	evhttp_clear_headers(&kv);
	return rc;
}

void api_reply_take(struct api_call *call, int *ret_status, json_t **ret_obj)
{
	*ret_status = call->status;
	*ret_obj = call->reply;
	call->reply = NULL;
	call->status = 0;
}
