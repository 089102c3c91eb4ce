/* The rack's power results on their way to the region (PowerReport).
 *
 * Polled states are batched (one report per POWER_REPORT_FLUSH_MS or per
 * POWER_REPORT_BATCH_MAX results); an action's outcome, which someone may
 * be waiting for, goes at once (with whatever is queued). An action's outcome is kept until the
 * region answers OK for the report that carried it: a refused report or a
 * lost session puts it back in the queue, so it is sent again (the region
 * applies a repeated outcome once). Polled states are kept the same way
 * while connected; while the region is away they are dropped, since the
 * full report after reconnecting carries every machine's last state.
 *
 * Everything runs on the rack's event loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironrack/v1/region.pb-c.h"

#define POWER_REPORT_FLUSH_MS	100
#define POWER_REPORT_BATCH_MAX	500
#define POWER_REPORT_POLLED_MAX 20000 /* queued polled states beyond this are dropped (a full report follows) */

struct event_base;
struct power_reports;

struct power_report_ops {
	bool (*connected)(void *arg);
	/* Send rep with a request id of the reply route; returns that id, or
	 * 0 when it could not be sent. */
	uint64_t (*send)(void *arg, Ironrack__V1__PowerReport *rep);
};

struct power_reports *power_reports_new(struct event_base *base, const struct power_report_ops *ops, void *arg);
void power_reports_free(struct power_reports *q);

/* Queue one result (copied). */
void power_reports_add(struct power_reports *q, const Ironrack__V1__PowerResult *res);
/* Send what is queued now (also called by the timer). */
void power_reports_flush(struct power_reports *q);
/* The region's answer to the report sent with request_id. */
void power_reports_status(struct power_reports *q, uint64_t request_id, bool ok);
/* The session went away: what was in flight goes back to the queue,
 * polled states are dropped. */
void power_reports_disconnected(struct power_reports *q);
/* Send a full report (every polled machine's last state) now. */
void power_reports_full(struct power_reports *q, Ironrack__V1__PowerResult **res, size_t n);

struct power_reports_stats {
	uint64_t results_sent;
	uint64_t reports_sent;
	uint64_t resent;
	uint64_t dropped;
};
void power_reports_get_stats(const struct power_reports *q, struct power_reports_stats *ret);
