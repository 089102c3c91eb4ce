/* The ephemeral agent's endpoint on the rack (docs/machines.md, "The
 * agent's report"): POST /machine/v1/report on the HTTP boot server.
 *
 * The shell. rack/boot/http.c hands it every POST on AGENT_REPORT_PATH
 * with the whole body read (evhttp refuses a body over INV_BODY_MAX with
 * 413 before we see it). The body is checked with common/inventory.h and
 * a bad one answered 400 at once; a good one goes to the region as an
 * AgentReport on the session, and the region's Status becomes the HTTP
 * answer (rack/machine/agent_engine.h) — or, for a deploy or erase start
 * (docs/deploy.md), its AgentAnswer becomes the 200's JSON body. While there is no session the
 * report is held (at most AGENT_HELD_MAX) and sent when one comes up; one
 * without a verdict agent_hold_timeout (25 s) after it arrived gets 503 with
 * Retry-After, and a later verdict for it is ignored. A session that drops
 * holds its unanswered reports again; a client that goes away drops its
 * report.
 *
 * One log line per report: client, MAC, purpose, outcome (never the
 * token). Everything runs on the rack's loop. */
#pragma once

#include <sys/socket.h>

#include "rack/machine/agent_engine.h"
#include "rack/session.h"

struct event_base;
struct evhttp_request;
struct evhttp_connection;
struct rack;
struct rack_agent;

/* Owned by the HTTP boot server (rack/boot/http.c), which lives as long as
 * the rack serves HTTP boot. */
struct rack_agent *rack_agent_new(struct event_base *base, struct rack *rack);
/* Answers every waiting report 503. NULL is fine. */
void rack_agent_free(struct rack_agent *a);

/* A POST on AGENT_REPORT_PATH. client: "ADDRESS:PORT" for the log; local:
 * the rack address the connection arrived on (may be NULL). The request is
 * answered now or later, exactly once. */
void rack_agent_request(struct rack_agent *a, struct evhttp_request *req, const char *client,
			const struct sockaddr *local);
/* evcon is being freed (the HTTP server's close callback): reports on it
 * are dropped unanswered. */
void rack_agent_conn_closed(struct rack_agent *a, struct evhttp_connection *evcon);

/* Rows of rack/registry.c. */
extern const struct rack_reply_route rack_agent_report_route;
extern const struct rack_answer_route rack_agent_answer_route;
extern const struct rack_session_hook rack_agent_session_hook;
