/* The agent endpoint's shell; see agent.h. */
#include "rack/machine/agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/inventory.h"
#include "common/log.h"
#include "common/net.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "ironrack/v1/region.pb-c.h"
#include "rack/rack.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

#define AGENT_CLIENT_STRLEN 64
#define AGENT_RESEND_US	    1000000 /* a send the stream refused is tried again after this */

/* One report waiting on the region. */
struct agent_pending {
	struct agent_req q;
	struct rack_agent *a;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct event *watch; /* the client's socket: did it go away? */
	char client[AGENT_CLIENT_STRLEN];
	char address[INET6_ADDRSTRLEN];
	char iface[32];
	char mac[MAC_STRLEN];
	const char *purpose; /* static */
	char token[INV_TOKEN_LEN + 1];
	uint8_t *body;
	size_t len;
	int64_t received_ms;
	int64_t started_us;
	bool was_sent; /* for the 503's message */
};

struct rack_agent {
	struct event_base *base;
	struct rack *rack;
	struct agent_queue queue;
	struct event *timer;
};

static struct rack_agent *agent_of(struct rack *rack)
{
	return rack->agent;
}

/* ---- answers ---- */

/* Send the answer; returns the body's length. */
static size_t send_verdict(struct evhttp_request *req, const struct agent_verdict *v, const char *message)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();
	char *json = agent_body_json(v, message);
	size_t len = strlen(json) + 1;

	if (!body)
		oom_abort(0); /* a library's NULL: out of memory */
	evbuffer_add(body, json, len - 1);
	evbuffer_add(body, "\n", 1);
	free(json);
	evhttp_add_header(out, "Content-Type", "application/json");
	if (v->retry_after) {
		char s[16];
		snprintf(s, sizeof(s), "%d", AGENT_RETRY_AFTER_S);
		evhttp_add_header(out, "Retry-After", s);
	}
	evhttp_send_reply(req, v->http_status, v->reason, body);
	evbuffer_free(body);
	return len;
}

/* The region's job for the agent: 200, the body as the region wrote it. */
static size_t send_job(struct evhttp_request *req, const uint8_t *data, size_t len)
{
	struct evbuffer *body = evbuffer_new();

	if (!body)
		oom_abort(0); /* a library's NULL: out of memory */
	evbuffer_add(body, data, len);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
	return len;
}

/* The one line per report, in the HTTP server's format (client, method,
 * path, status, bytes) followed by what the report was and its outcome. */
static void log_outcome(const char *client, const char *mac, const char *purpose, int status, size_t bytes,
			const char *message, double secs)
{
	log_msg(status == 200 ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
		"http: %s POST '%s' %d, %zu bytes: %s report, mac %s: %s (%.3f s)", client, AGENT_REPORT_PATH, status,
		bytes, purpose ? purpose : "unread", mac[0] ? mac : "not given", message && message[0] ? message : "-",
		secs);
}

static void pending_free(struct agent_pending *p)
{
	if (p->watch)
		event_free(p->watch);
	/* The body and the copy hold the machine's one-time token. */
	if (p->body)
		explicit_bzero(p->body, p->len);
	explicit_bzero(p->token, sizeof(p->token));
	free(p->body);
	free(p);
}

/* Answer p with a verdict and forget it. */
static void pending_answer(struct agent_pending *p, int code, const char *message)
{
	struct agent_verdict v;

	agent_verdict_of(code, &v);
	agent_queue_remove(&p->a->queue, &p->q);
	size_t bytes = send_verdict(p->req, &v, message);
	log_outcome(p->client, p->mac, p->purpose, v.http_status, bytes, message,
		    (double)(clock_mono_us() - p->started_us) / 1e6);
	pending_free(p);
}

/* Answer p with the region's job and forget it. */
static void pending_answer_job(struct agent_pending *p, const char *message, const uint8_t *data, size_t len)
{
	agent_queue_remove(&p->a->queue, &p->q);
	size_t bytes = send_job(p->req, data, len);
	log_outcome(p->client, p->mac, p->purpose, 200, bytes, message,
		    (double)(clock_mono_us() - p->started_us) / 1e6);
	pending_free(p);
}

/* ---- the timer: deadlines, and sends the stream refused ---- */

static void agent_arm(struct rack_agent *a)
{
	int64_t next = agent_queue_next_deadline(&a->queue), now = clock_mono_us();

	if (next < 0) {
		evtimer_del(a->timer);
		return;
	}
	if (agent_queue_next_held(&a->queue) && rack_session_is_connected(a->rack) && next > now + AGENT_RESEND_US)
		next = now + AGENT_RESEND_US;
	int64_t d = next > now ? next - now : 0;
	struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
	evtimer_add(a->timer, &tv);
}

/* Send held reports, oldest first, while the session takes them. */
static void agent_pump(struct rack_agent *a)
{
	struct agent_req *r;

	while (rack_session_is_connected(a->rack) && (r = agent_queue_next_held(&a->queue)) != NULL) {
		struct agent_pending *p = container_of(r, struct agent_pending, q);
		Ironrack__V1__AgentReport ar = IRONRACK__V1__AGENT_REPORT__INIT;
		Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
		ar.purpose = (char *)p->purpose;
		ar.token = p->token;
		ar.mac = p->mac;
		ar.client_address = p->address;
		ar.interface = p->iface;
		ar.inventory.data = p->body;
		ar.inventory.len = p->len;
		ar.received_unix_ms = p->received_ms;
		m.request_id = rack_session_request_id(a->rack, &rack_agent_report_route);
		m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_AGENT_REPORT;
		m.agent_report = &ar;
		if (rack_session_send(a->rack, &m) < 0)
			break; /* held; tried again on the timer or the next session */
		agent_queue_sent(&a->queue, r, m.request_id);
		p->was_sent = true;
	}
	agent_arm(a);
}

static void agent_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rack_agent *a = arg;
	struct agent_req *r;

	while ((r = agent_queue_expired(&a->queue, clock_mono_us())) != NULL) {
		struct agent_pending *p = container_of(r, struct agent_pending, q);
		char msg[128];
		snprintf(msg, sizeof(msg), "%s within %d s; post the report again",
			 r->state == AGENT_REQ_SENT || p->was_sent ? "the region did not answer"
								   : "the rack could not reach the region",
			 (int)a->rack->conf.agent_hold_timeout);
		pending_answer(p, RPC_UNAVAILABLE, msg);
	}
	agent_pump(a);
}

/* ---- the client going away ---- */

static void pending_drop(struct agent_pending *p, const char *why)
{
	agent_queue_remove(&p->a->queue, &p->q);
	log_info("http: %s POST '%s' dropped: %s report, mac %s: %s (%.3f s)", p->client, AGENT_REPORT_PATH, p->purpose,
		 p->mac[0] ? p->mac : "not given", why, (double)(clock_mono_us() - p->started_us) / 1e6);
	pending_free(p);
}

/* libevent stops reading a connection while its request is with us, so it
 * would notice a client that closed only when it writes the answer; we
 * look ourselves. */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent_pending *p = arg;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n > 0) {
		event_del(p->watch); /* the client sent more (a pipelined request): it is there */
		return;
	}
	struct evhttp_connection *evcon = p->evcon;
	struct rack_agent *a = p->a;
	pending_drop(p, "the client went away before the verdict: dropped");
	/* Frees the request with it; its close callback finds p gone. */
	evhttp_connection_free(evcon);
	agent_arm(a);
}

static void pending_watch(struct agent_pending *p)
{
	struct bufferevent *bev = p->evcon ? evhttp_connection_get_bufferevent(p->evcon) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;

	if (fd < 0)
		return;
	p->watch = event_new(p->a->base, fd, EV_READ | EV_PERSIST, watch_cb, p);
	if (!p->watch)
		oom_abort(0); /* a library's NULL: out of memory */
	event_add(p->watch, NULL);
}

void rack_agent_conn_closed(struct rack_agent *a, struct evhttp_connection *evcon)
{
	struct agent_req *r = a ? a->queue.head : NULL;

	while (r) {
		struct agent_pending *p = container_of(r, struct agent_pending, q);
		r = r->next;
		if (p->evcon != evcon)
			continue;
		/* A request libevent detached from its connection is ours to
		 * free; one still on it goes with the connection. */
		if (!evhttp_request_get_connection(p->req))
			evhttp_request_free(p->req);
		pending_drop(p, "the connection closed before the verdict: dropped");
	}
	if (a)
		agent_arm(a);
}

/* ---- requests ---- */

static void reply_now(struct evhttp_request *req, const char *client, const char *mac, const char *purpose, int code,
		      const char *message)
{
	struct agent_verdict v;

	agent_verdict_of(code, &v);
	size_t bytes = send_verdict(req, &v, message);
	log_outcome(client, mac, purpose, v.http_status, bytes, message, 0);
}

static void peer_address(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;

	buf[0] = '\0';
	if (evcon)
		evhttp_connection_get_peer(evcon, &addr, &port);
	if (addr)
		snprintf(buf, len, "%s", strncmp(addr, "::ffff:", 7) == 0 && strchr(addr, '.') ? addr + 7 : addr);
}

void rack_agent_request(struct rack_agent *a, struct evhttp_request *req, const char *client,
			const struct sockaddr *local)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct inventory inv;
	char err[512];

	if (len > INV_BODY_MAX) {
		/* evhttp's own limit answers this first; kept for safety */
		struct evbuffer *body = evbuffer_new();
		if (!body)
			oom_abort(0);
		log_outcome(client, "", NULL, 413, 0, "body over 256 KiB", 0);
		evhttp_send_reply(req, 413, "Payload Too Large", body);
		evbuffer_free(body);
		return;
	}
	const char *data = len ? (const char *)evbuffer_pullup(in, -1) : "";
	int rc = inventory_parse(data, len, &inv, err, sizeof(err));
	if (rc < 0) {
		reply_now(req, client, "", NULL, RPC_INVALID_ARGUMENT, err);
		return;
	}
	struct agent_pending *p = xcalloc(1, sizeof(*p));
	p->a = a;
	p->req = req;
	p->evcon = evhttp_request_get_connection(req);
	p->started_us = clock_mono_us();
	p->received_ms = clock_real_ms();
	p->purpose = inventory_purpose_name(inv.purpose);
	snprintf(p->token, sizeof(p->token), "%s", inv.token);
	if (inv.has_boot_mac)
		mac_format(inv.boot_mac, p->mac, sizeof(p->mac));
	inventory_free(&inv);
	snprintf(p->client, sizeof(p->client), "%s", client);
	peer_address(req, p->address, sizeof(p->address));
	if (local)
		rack_iface_of(a->rack, local, p->iface, sizeof(p->iface));
	if (agent_queue_add(&a->queue, &p->q, p->started_us, (int64_t)a->rack->conf.agent_hold_timeout * 1000000) < 0) {
		reply_now(req, client, p->mac, p->purpose, RPC_UNAVAILABLE,
			  "too many reports waiting on the region; post it again");
		free(p);
		return;
	}
	p->body = xmalloc(len ? len : 1);
	memcpy(p->body, data, len);
	p->len = len;
	pending_watch(p);
	agent_pump(a);
}

/* ---- the region's verdicts and the session ---- */

static void report_status(struct rack *rack, uint64_t request_id, const Ironrack__V1__Status *st)
{
	struct rack_agent *a = agent_of(rack);
	struct agent_req *r = a ? agent_queue_find(&a->queue, request_id) : NULL;

	if (!r) {
		log_debug("agent: the region's verdict on report %llu came after it was answered or dropped; ignored",
			  (unsigned long long)request_id);
		return;
	}
	pending_answer(container_of(r, struct agent_pending, q), st->code, st->message ? st->message : "");
	agent_arm(a);
}

const struct rack_reply_route rack_agent_report_route = {"agent-report", report_status};

/* A step's start answered with its job (docs/deploy.md). */
static void report_answer(struct rack *rack, uint64_t request_id, const Ironrack__V1__Status *st,
			  const Ironrack__V1__AgentAnswer *ans)
{
	struct rack_agent *a = agent_of(rack);
	struct agent_req *r = a ? agent_queue_find(&a->queue, request_id) : NULL;

	if (!r) {
		log_debug("agent: the region's answer to report %llu came after it was answered or dropped; ignored",
			  (unsigned long long)request_id);
		return;
	}
	struct agent_pending *p = container_of(r, struct agent_pending, q);
	const char *problem = agent_answer_problem(st->code, ans->body.data, ans->body.len);
	if (!problem)
		pending_answer_job(p, st->message ? st->message : "", ans->body.data, ans->body.len);
	else if (st->code != RPC_OK)
		pending_answer(p, st->code, st->message ? st->message : "");
	else
		pending_answer(p, RPC_UNAVAILABLE, problem);
	agent_arm(a);
}

const struct rack_answer_route rack_agent_answer_route = {&rack_agent_report_route, report_answer};

static void on_connected(struct rack *rack)
{
	struct rack_agent *a = agent_of(rack);

	if (a && a->queue.n) {
		log_info("agent: session up: sending %zu held reports", a->queue.n);
		agent_pump(a);
	}
}

static void on_disconnected(struct rack *rack)
{
	struct rack_agent *a = agent_of(rack);
	size_t n = a ? agent_queue_disconnected(&a->queue) : 0;

	if (n)
		log_warn("agent: session lost with %zu reports unanswered: held until it is back", n);
	if (a)
		agent_arm(a);
}

const struct rack_session_hook rack_agent_session_hook = {
    .name = "agent",
    .on_connected = on_connected,
    .on_disconnected = on_disconnected,
};

/* ---- lifetime ---- */

struct rack_agent *rack_agent_new(struct event_base *base, struct rack *rack)
{
	struct rack_agent *a = xcalloc(1, sizeof(*a));

	a->base = base;
	a->rack = rack;
	agent_queue_init(&a->queue, AGENT_HELD_MAX);
	a->timer = evtimer_new(base, agent_timer_cb, a);
	if (!a->timer)
		oom_abort(0); /* a library's NULL: out of memory */
	return a;
}

void rack_agent_free(struct rack_agent *a)
{
	if (!a)
		return;
	while (a->queue.head)
		pending_answer(container_of(a->queue.head, struct agent_pending, q), RPC_UNAVAILABLE,
			       "the rack is shutting down; post the report again");
	event_free(a->timer);
	free(a);
}
