/* Shared by the files of region/rpc/ only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ratelimit.h"

struct event;
struct rack_session;
struct rpc_call;

/* A unary call answered later (after a database job). The region answers
 * every held call UNAVAILABLE before the server stops, so a job that
 * finishes after that finds its call gone (region_rpc_call_release NULL). */
struct region_call_hold {
	struct region_call_hold *next, **pprev;
	struct rpc_call *call;
};

struct region_racks {
	struct rack_session *head; /* live and still-being-checked sessions */
	uint64_t next_request_id;
	uint64_t next_serial;
	struct event *sweep;
	size_t n;     /* live (checked) sessions */
	bool db_down; /* an outage was logged; cleared when a write works */
	struct region_call_hold *held;
	/* Failed Enrols per source address (service.c). */
	struct ratelimit enrol_failures;
};

/* service.c: summaries of failed Enrols whose window is over (the
 * sessions' sweep calls it every second). */
void region_rpc_auth_flush(struct region *r, int64_t now_us);

void region_rpc_call_hold(struct region *r, struct region_call_hold *h, struct rpc_call *call);
/* The call, now ours to answer, or NULL when the region answered it
 * already (shutting down). */
struct rpc_call *region_rpc_call_release(struct region *r, struct region_call_hold *h);
/* Answer every held call (the server is about to stop). */
void region_rpc_calls_abandon(struct region *r);
