/* The agent endpoint's pure part; see agent_engine.h. */
#include "rack/machine/agent_engine.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/rpc/rpc.h"
#include "common/util.h"

void agent_verdict_of(int rpc_code, struct agent_verdict *ret)
{
	switch (rpc_code) {
	case RPC_OK:
		*ret = (struct agent_verdict){200, "OK", NULL, false};
		break;
	case RPC_INVALID_ARGUMENT:
		*ret = (struct agent_verdict){400, "Bad Request", "invalid", false};
		break;
	case RPC_PERMISSION_DENIED:
	case RPC_UNAUTHENTICATED:
		*ret = (struct agent_verdict){403, "Forbidden", "token", false};
		break;
	case RPC_NOT_FOUND:
		*ret = (struct agent_verdict){404, "Not Found", "not_found", false};
		break;
	case RPC_FAILED_PRECONDITION:
	case RPC_ALREADY_EXISTS:
	case RPC_ABORTED:
		*ret = (struct agent_verdict){409, "Conflict", "state", false};
		break;
	case RPC_RESOURCE_EXHAUSTED:
		*ret = (struct agent_verdict){429, "Too Many Requests", "busy", true};
		break;
	default:
		/* UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNIMPLEMENTED (a
		 * region without the feature), ...: the agent tries again. */
		*ret = (struct agent_verdict){503, "Service Unavailable", "unavailable", true};
		break;
	}
}

char *agent_body_json(const struct agent_verdict *v, const char *message)
{
	json_t *o = v->error ? json_pack("{s:s, s:s}", "error", v->error, "message", message ? message : "")
			     : json_pack("{s:s, s:s}", "result", "ok", "message", message ? message : "");
	char *s = NULL;

	if (!o) {
		/* message was not UTF-8 (jansson refuses it): say so instead */
		o = v->error ? json_pack("{s:s, s:s}", "error", v->error, "message", "(not UTF-8)")
			     : json_pack("{s:s, s:s}", "result", "ok", "message", "(not UTF-8)");
	}
	if (o)
		s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		oom_abort(0); /* a library's NULL: out of memory */
	return s;
}

const char *agent_answer_problem(int rpc_code, const uint8_t *body, size_t len)
{
	if (rpc_code != RPC_OK)
		return "the region refused the report";
	if (!body || len == 0)
		return "the region's answer is empty";
	if (len > AGENT_ANSWER_MAX)
		return "the region's answer is too large";
	json_t *j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, NULL);
	bool object = json_is_object(j);
	json_decref(j);
	return object ? NULL : "the region's answer is not a JSON object";
}

/* ---- the queue ---- */

void agent_queue_init(struct agent_queue *q, size_t max)
{
	memset(q, 0, sizeof(*q));
	q->max = max;
}

int agent_queue_add(struct agent_queue *q, struct agent_req *r, int64_t now_us, int64_t timeout_us)
{
	if (q->n >= q->max)
		return -ENOSPC;
	r->state = AGENT_REQ_HELD;
	r->request_id = 0;
	r->deadline_us = now_us + timeout_us;
	r->next = NULL;
	r->prev = q->tail;
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->n++;
	return 0;
}

void agent_queue_remove(struct agent_queue *q, struct agent_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		q->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		q->tail = r->prev;
	r->prev = r->next = NULL;
	q->n--;
}

struct agent_req *agent_queue_next_held(const struct agent_queue *q)
{
	for (struct agent_req *r = q->head; r; r = r->next)
		if (r->state == AGENT_REQ_HELD)
			return r;
	return NULL;
}

void agent_queue_sent(struct agent_queue *q, struct agent_req *r, uint64_t id)
{
	r->state = AGENT_REQ_SENT;
	r->request_id = id;
}

struct agent_req *agent_queue_find(const struct agent_queue *q, uint64_t id)
{
	for (struct agent_req *r = q->head; r; r = r->next)
		if (r->state == AGENT_REQ_SENT && r->request_id == id)
			return r;
	return NULL;
}

size_t agent_queue_disconnected(struct agent_queue *q)
{
	size_t n = 0;

	for (struct agent_req *r = q->head; r; r = r->next) {
		if (r->state == AGENT_REQ_SENT) {
			r->state = AGENT_REQ_HELD;
			r->request_id = 0;
			n++;
		}
	}
	return n;
}

struct agent_req *agent_queue_expired(const struct agent_queue *q, int64_t now_us)
{
	for (struct agent_req *r = q->head; r; r = r->next)
		if (r->deadline_us <= now_us)
			return r;
	return NULL;
}

int64_t agent_queue_next_deadline(const struct agent_queue *q)
{
	int64_t d = -1;

	for (struct agent_req *r = q->head; r; r = r->next)
		if (d < 0 || r->deadline_us < d)
			d = r->deadline_us;
	return d;
}
