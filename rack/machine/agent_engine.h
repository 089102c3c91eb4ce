/* The pure part of the agent endpoint (rack/machine/agent.h): what HTTP
 * answer a region Status becomes, the JSON bodies, and the bookkeeping of
 * reports waiting on the region. No I/O, no clock (times come in as
 * arguments), no logging; unit-tested by tests/unit/test_rack_agent.c.
 *
 * A report is HELD while it waits for a session, SENT once it is queued
 * on the stream (its request id then names it). Every report has a
 * deadline from the moment it arrived; a session that drops turns SENT
 * reports back into HELD ones (the region never answered them). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_HELD_MAX	    256		   /* reports waiting on the region at once */
#define AGENT_TIMEOUT_US    (25 * 1000000) /* from arrival to a verdict: agent_hold_timeout's default */
#define AGENT_RETRY_AFTER_S 5		   /* Retry-After of a 503 */
#define AGENT_REPORT_PATH   "/machine/v1/report"
#define AGENT_ANSWER_MAX    (1024 * 1024) /* bytes of a job the region answers a step's start with */

/* The HTTP answer to a region Status code (common/rpc/rpc.h). */
struct agent_verdict {
	int http_status;    /* 200, 400, 403, 404, 409, 429, 503 */
	const char *reason; /* "OK", "Bad Request", ... */
	const char *error;  /* NULL for 200; "invalid", "token", "not_found", "state", "busy", "unavailable" */
	bool retry_after;   /* send Retry-After: AGENT_RETRY_AFTER_S */
};

void agent_verdict_of(int rpc_code, struct agent_verdict *ret);

/* The JSON body of a verdict: {"result":"ok","message":M} for 200, else
 * {"error":E,"message":M}. message may be NULL ("" then). malloc'd,
 * NUL-terminated. */
char *agent_body_json(const struct agent_verdict *v, const char *message);

/* A region reply that carries a job for the agent (a deploy or erase
 * start's AgentAnswer, docs/deploy.md): NULL when the agent gets it as
 * the 200's body, else why not (the Status is not OK, the body is empty,
 * over AGENT_ANSWER_MAX or not a JSON object) — the Status's verdict
 * then stands, a 503 for an OK one (the agent asks again). */
const char *agent_answer_problem(int rpc_code, const uint8_t *body, size_t len);

/* ---- reports waiting on the region ---- */

enum agent_req_state {
	AGENT_REQ_HELD, /* no session: waits for one */
	AGENT_REQ_SENT, /* on the stream; request_id names it */
};

/* One report. The shell embeds it and owns it; the queue only links it. */
struct agent_req {
	struct agent_req *prev, *next; /* arrival order */
	enum agent_req_state state;
	uint64_t request_id; /* SENT only */
	int64_t deadline_us;
};

struct agent_queue {
	struct agent_req *head, *tail;
	size_t n, max;
};

void agent_queue_init(struct agent_queue *q, size_t max);
/* Take r as HELD with deadline now_us + timeout_us. -ENOSPC when max
 * reports wait already (r is not linked). */
int agent_queue_add(struct agent_queue *q, struct agent_req *r, int64_t now_us, int64_t timeout_us);
/* Unlink r (answered, expired, or its client went away). */
void agent_queue_remove(struct agent_queue *q, struct agent_req *r);
/* The oldest HELD report, or NULL. */
struct agent_req *agent_queue_next_held(const struct agent_queue *q);
/* r was queued on the stream as request id. */
void agent_queue_sent(struct agent_queue *q, struct agent_req *r, uint64_t id);
/* The SENT report with this request id, or NULL (answered already,
 * expired, or sent on an earlier session). */
struct agent_req *agent_queue_find(const struct agent_queue *q, uint64_t id);
/* The session dropped: every SENT report is HELD again. Returns how many. */
size_t agent_queue_disconnected(struct agent_queue *q);
/* The oldest report whose deadline is at or before now_us, or NULL. Call
 * until NULL, removing each. */
struct agent_req *agent_queue_expired(const struct agent_queue *q, int64_t now_us);
/* The earliest deadline, or -1 when the queue is empty. */
int64_t agent_queue_next_deadline(const struct agent_queue *q);
