/* The clock of timed states: every CLOCK_TICK_S a job fails the machines
 * whose deadline passed (COMMISSIONING → FAILED_COMMISSIONING, ...), with
 * the reason and an event, spends their tokens and switches off the ones
 * a BMC can switch off. One job at a time; a tick that finds one running
 * is skipped. See machine.h. */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "region/db/db.h"
#include "region/db/machine_db.h"
#include "region/machine/machine.h"
#include "region/region.h"
#include "region/rpc/dbjob.h"

#define CLOCK_TICK_S	2
#define CLOCK_BATCH_MAX 256

struct region_machines {
	struct event *tick;
	bool running;
};

struct clock_job {
	struct region *r;
	struct region_machine_after *after; /* one per machine failed */
	size_t n;
};

static int fail_one(struct clock_job *j, struct db *db, const struct machine_db_due *d,
		    const struct machine_timeouts *t)
{
	struct machine_db_row m;
	enum machine_state state, next;
	char reason[256], why[256], pmsg[256];

	int rc = db_begin(db);
	if (rc < 0)
		return rc;
	rc = machine_db_get(db, d->id, true, &m);
	if (rc < 0 || strcmp(m.status, d->status) != 0 || machine_state_parse(m.status, &state) < 0 ||
	    machine_lifecycle_step(state, MA_TIMEOUT, state, &next, why, sizeof(why)) < 0)
		return db_rollback(db, rc == -ENOENT ? 0 : rc);
	machine_timeout_reason(state, t, reason, sizeof(reason));
	struct region_machine_after *a = &j->after[j->n];
	memset(a, 0, sizeof(*a));
	rc = machine_db_transition(db, m.id, m.status, machine_state_name(next), 0, reason, "region (timeout)", reason,
				   0);
	if (rc == 0)
		rc = machine_db_tokens_spend(db, m.id);
	if (rc == 0 &&
	    region_machine_power(j->r, db, m.id, m.power_type, false, "region (timeout)", a, pmsg, sizeof(pmsg)) < 0)
		log_warn("machines: %s timed out, but is not powered off: %s", m.hostname, pmsg);
	if (rc == 0)
		rc = region_machine_after_macs(db, m.id, a);
	if (rc == 0)
		rc = db_commit(db);
	if (rc < 0) {
		region_machine_after_free(a);
		return db_rollback(db, rc);
	}
	log_warn("machines: %s: %s → %s: %s", m.hostname, m.status, machine_state_name(next), reason);
	j->n++;
	return 0;
}

static int clock_run(struct db *db, void *arg)
{
	struct clock_job *j = arg;
	struct machine_db_due *due = NULL;
	size_t n = 0;
	struct machine_timeouts t;

	region_machine_timeouts(j->r, &t);
	int rc = machine_db_due(db, CLOCK_BATCH_MAX, &due, &n);
	if (rc < 0)
		return rc;
	j->after = xcalloc(n + 1, sizeof(*j->after));
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = fail_one(j, db, &due[i], &t);
	free(due);
	return rc;
}

static void clock_done(void *arg, int status)
{
	struct clock_job *j = arg;
	if (status < 0 && status != -ECANCELED && !region_dbjob_is_outage(status))
		log_err("machines: the timeout clock failed: %s", strerror(-status));
	for (size_t i = 0; i < j->n; i++) {
		if (status != -ECANCELED && !j->r->stopping)
			region_machine_after_run(j->r, &j->after[i]);
		region_machine_after_free(&j->after[i]);
	}
	if (j->r->machines)
		j->r->machines->running = false;
	free(j->after);
	free(j);
}

static void clock_tick(evutil_socket_t fd, short what, void *arg)
{
	struct region *r = arg;
	if (r->machines->running || r->stopping)
		return;
	r->machines->running = true;
	struct clock_job *j = xcalloc(1, sizeof(*j));
	j->r = r;
	region_dbjob_submit(r, DB_LANE_WRITE, clock_run, clock_done, j);
}

int region_machines_start(struct region *r)
{
	r->machines = xcalloc(1, sizeof(*r->machines));
	r->machines->tick = event_new(r->base, -1, EV_PERSIST, clock_tick, r);
	struct timeval every = {CLOCK_TICK_S, 0};
	event_add(r->machines->tick, &every);
	return 0;
}

void region_machines_stop(struct region *r)
{
	if (!r->machines)
		return;
	event_free(r->machines->tick);
	free(r->machines);
	r->machines = NULL;
}
