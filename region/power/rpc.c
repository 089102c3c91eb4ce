/* Power on the rack sessions: the outcomes and polled states racks report
 * (PowerReport), the poll set each rack gets (PowerPollSet) when its
 * session starts and whenever power parameters change, and the actions a
 * rack can no longer report because its session ended. See power.h. */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "region/db/db.h"
#include "region/db/power_db.h"
#include "region/power/power.h"
#include "region/region.h"
#include "region/rpc/dbjob.h"
#include "region/rpc/session.h"

/* Changes within this window go out as one poll-set push. */
#define POLLSET_DEBOUNCE_MS 500
#define POLLSET_TIMEOUT_MS  30000
/* Poll sets follow power parameter writes and racks coming and going at
 * once; other changes that move a machine to another rack (a VLAN's
 * primary rack, subnets, interfaces) within this time. */
#define POLLSET_REFRESH_S 60

/* What each rack was last sent, to send a poll set only when it changed. */
struct sent_set {
	char rack[64];
	uint64_t hash;
	struct sent_set *next;
};

struct region_power {
	struct event *pollset_timer;
	struct event *refresh_timer;
	struct sent_set *sent;
	bool pollset_running; /* a push job is on its way */
	bool pollset_again;   /* changed meanwhile: push again after it */
};

/* ---- reports ---- */

struct report_job {
	struct region *r;
	struct region_session_ref ref;
	uint64_t request_id;
	Ironrack__V1__PowerReport *rep; /* unpacked copy */
	int applied, changed, refused;
	char err[256];
};

static int report_apply(struct db *db, void *arg)
{
	struct report_job *j = arg;
	for (size_t i = 0; i < j->rep->n_results; i++) {
		const Ironrack__V1__PowerResult *res = j->rep->results[i];
		const char *state = res->state ? res->state : "";
		const char *error = res->error ? res->error : "";
		int rc;
		if (res->action_id) {
			rc = power_db_action_finish(db, (int64_t)res->machine_id, (int64_t)res->action_id,
						    j->ref.rack_id, res->ok, state, error, res->needs_person);
			if (rc == -ENOENT) /* already finished (a resend), or failed meanwhile */
				continue;
		} else {
			rc = power_db_state_set(db, (int64_t)res->machine_id, res->ok ? state : "error", error,
						j->ref.rack_id);
			if (rc == -ENOENT) /* deleted meanwhile */
				continue;
			if (rc == 1)
				j->changed++;
		}
		if (rc == -EACCES) { /* not this rack's machine or action */
			j->refused++;
			continue;
		}
		if (rc < 0) {
			snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
			return rc;
		}
		j->applied++;
	}
	return 0;
}

static void report_applied(void *arg, int status)
{
	struct report_job *j = arg;
	if (status != -ECANCELED) {
		if (status < 0)
			log_err("rack %s: power report not recorded: %s", j->ref.rack_id,
				j->err[0] ? j->err : strerror(-status));
		else
			log_debug("rack %s: power report: %d result%s recorded, %d state change%s", j->ref.rack_id,
				  j->applied, j->applied == 1 ? "" : "s", j->changed, j->changed == 1 ? "" : "s");
		if (status == 0 && j->refused)
			log_warn("rack %s: power report: %d result%s refused: about machines another rack polls or "
				 "actions asked of another rack",
				 j->ref.rack_id, j->refused, j->refused == 1 ? "" : "s");
		struct rack_session *s = region_session_find(j->r, &j->ref);
		if (s)
			region_session_reply_status(s, j->request_id, status < 0 ? -EIO : 0, j->err);
	}
	ironrack__v1__power_report__free_unpacked(j->rep, NULL);
	free(j);
}

static void power_on_report(struct rack_session *sess, const Ironrack__V1__RackMessage *m)
{
	/* m dies with this call: keep a copy of the report for the job. */
	size_t len = ironrack__v1__power_report__get_packed_size(m->power_report);
	uint8_t *buf = xmalloc(len ? len : 1);
	ironrack__v1__power_report__pack(m->power_report, buf);
	Ironrack__V1__PowerReport *rep = ironrack__v1__power_report__unpack(NULL, len, buf);
	free(buf);
	if (!rep) {
		region_session_reply_status(sess, m->request_id, -EINVAL, "malformed power report");
		return;
	}
	for (size_t i = 0; i < rep->n_results; i++) {
		const Ironrack__V1__PowerResult *res = rep->results[i];
		if (res->action_id)
			log_info("rack %s: power %s of machine %" PRIu64 " (action %" PRIu64 "): %s%s%s%s",
				 region_session_rack_id(sess), res->action, res->machine_id, res->action_id,
				 res->needs_person ? "needs a person"
				 : res->ok	   ? "done"
						   : "failed",
				 res->state[0] ? ", state " : "", res->state, "");
		if (res->action_id && !res->ok)
			log_warn("rack %s: power %s of machine %" PRIu64 " failed: %s", region_session_rack_id(sess),
				 res->action, res->machine_id, res->error);
	}
	struct report_job *j = xcalloc(1, sizeof(*j));
	j->r = region_session_region(sess);
	region_session_ref_get(sess, &j->ref);
	j->request_id = m->request_id;
	j->rep = rep;
	region_dbjob_submit(j->r, DB_LANE_WRITE, report_apply, report_applied, j);
}

/* ---- failing actions ---- */

struct fail_job {
	int64_t machine_id, action_id; /* 0: every pending action of rack */
	char rack[64];
	char message[512];
	int n;
};

static int fail_run(struct db *db, void *arg)
{
	struct fail_job *j = arg;
	if (j->action_id) {
		int rc = power_db_action_finish(db, j->machine_id, j->action_id, NULL, false, "", j->message, false);
		return rc == -ENOENT ? 0 : rc;
	}
	j->n = power_db_actions_fail_rack(db, j->rack, j->message);
	return j->n < 0 ? j->n : 0;
}

static void fail_done(void *arg, int status)
{
	struct fail_job *j = arg;
	if (status < 0 && status != -ECANCELED)
		log_err("power: cannot record the failure of %s: %s", j->action_id ? "an action" : "pending actions",
			strerror(-status));
	else if (status == 0 && j->n > 0)
		log_warn("power: %d pending action%s of rack %s failed: %s", j->n, j->n == 1 ? "" : "s", j->rack,
			 j->message);
	free(j);
}

void region_power_action_fail(struct region *r, int64_t machine_id, int64_t action_id, const char *message)
{
	struct fail_job *j = xcalloc(1, sizeof(*j));
	j->machine_id = machine_id;
	j->action_id = action_id;
	snprintf(j->message, sizeof(j->message), "%s", message);
	region_dbjob_submit(r, DB_LANE_WRITE, fail_run, fail_done, j);
}

/* ---- poll sets ---- */

struct pollset {
	char rack[64];
	Ironrack__V1__PowerPollSet set;
};

struct pollset_job {
	struct region *r;
	char only[64]; /* "" = every connected rack; else that one, sent even if unchanged */
	struct pollset *sets;
	size_t n;
	char err[256];
};

static void pollset_free(struct pollset *p)
{
	for (size_t i = 0; i < p->set.n_targets; i++)
		region_power_target_free(p->set.targets[i]);
	free(p->set.targets);
}

static int pollset_build(struct db *db, void *arg)
{
	struct pollset_job *j = arg;
	char(*racks)[64] = NULL;
	size_t n_racks = 0;
	int rc;

	if (j->only[0]) {
		racks = xcalloc(1, sizeof(*racks));
		snprintf(racks[0], sizeof(racks[0]), "%s", j->only);
		n_racks = 1;
	} else if ((rc = power_db_connected_racks(db, j->r->name, &racks, &n_racks)) < 0) {
		snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
		return rc;
	}
	j->sets = xcalloc(n_racks ? n_racks : 1, sizeof(*j->sets));
	for (size_t i = 0; i < n_racks; i++) {
		struct pollset *p = &j->sets[j->n++];
		struct power_db_machine *m = NULL;
		size_t n = 0;
		snprintf(p->rack, sizeof(p->rack), "%s", racks[i]);
		ironrack__v1__power_poll_set__init(&p->set);
		p->set.interval_s = (uint32_t)j->r->conf.power_poll_interval;
		rc = power_db_poll_machines(db, racks[i], j->r->name, &m, &n);
		if (rc < 0) {
			snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
			free(racks);
			return rc;
		}
		p->set.targets = xcalloc(n ? n : 1, sizeof(*p->set.targets));
		for (size_t k = 0; k < n; k++) {
			char msg[256];
			Ironrack__V1__PowerTarget *t;
			if (region_power_target(j->r, &m[k], "", &t, msg, sizeof(msg)) < 0) {
				log_warn("power: %s: not polled: %s", m[k].hostname, msg);
				continue;
			}
			p->set.targets[p->set.n_targets++] = t;
		}
		power_db_machines_free(m, n);
	}
	free(racks);
	return 0;
}

struct pollset_sent {
	struct region *r;
	char rack[64];
	size_t n;
};

/* The next push sends rack its set even if it did not change. */
static void pollset_forget(struct region *r, const char *rack)
{
	for (struct sent_set *e = r->power ? r->power->sent : NULL; e; e = e->next)
		if (strcmp(e->rack, rack) == 0)
			e->hash = 0;
}

static void pollset_acked(void *arg, int status, const char *message, const Ironrack__V1__RackMessage *reply,
			  int64_t rtt_us)
{
	struct pollset_sent *s = arg;
	if (status == 0) {
		log_info("rack %s: polls the power of %zu machine%s", s->rack, s->n, s->n == 1 ? "" : "s");
	} else if (status != -ECANCELED) {
		/* The session is still up (a closed one cancels, and its next
		 * open sends the set): send it again, or the rack would keep
		 * its old set until the set changes. */
		log_warn("rack %s: power poll set not taken, sending it again: %s", s->rack,
			 status == -EREMOTEIO && message ? message : strerror(-status));
		pollset_forget(s->r, s->rack);
		region_power_changed(s->r);
	}
	free(s);
}

static void pollset_kick(struct region *r);

/* FNV-1a of the packed set: has rack's poll set changed since it was last
 * sent? (Records the new one.) */
static bool pollset_changed(struct region *r, const char *rack, const Ironrack__V1__PowerPollSet *set)
{
	size_t len = ironrack__v1__power_poll_set__get_packed_size(set);
	uint8_t *buf = xmalloc(len ? len : 1);
	ironrack__v1__power_poll_set__pack(set, buf);
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ buf[i]) * 0x100000001b3ull;
	explicit_bzero(buf, len); /* it holds passwords */
	free(buf);
	if (!r->power)
		return true;
	struct sent_set *e = r->power->sent;
	while (e && strcmp(e->rack, rack) != 0)
		e = e->next;
	if (!e) {
		e = xcalloc(1, sizeof(*e));
		snprintf(e->rack, sizeof(e->rack), "%s", rack);
		e->next = r->power->sent;
		r->power->sent = e;
	} else if (e->hash == h) {
		return false;
	}
	e->hash = h;
	return true;
}

static void pollset_built(void *arg, int status)
{
	struct pollset_job *j = arg;
	struct region *r = j->r;
	bool all = !j->only[0];
	if (status < 0 && status != -ECANCELED)
		log_err("power: poll sets not computed: %s", j->err[0] ? j->err : strerror(-status));
	for (size_t i = 0; status == 0 && i < j->n; i++) {
		struct rack_session *s = region_session_of_rack(r, j->sets[i].rack);
		if (!s || (!pollset_changed(r, j->sets[i].rack, &j->sets[i].set) && all))
			continue;
		Ironrack__V1__Command cmd = IRONRACK__V1__COMMAND__INIT;
		cmd.command_case = IRONRACK__V1__COMMAND__COMMAND_POWER_POLL_SET;
		cmd.power_poll_set = &j->sets[i].set;
		Ironrack__V1__RegionMessage m = IRONRACK__V1__REGION_MESSAGE__INIT;
		m.body_case = IRONRACK__V1__REGION_MESSAGE__BODY_COMMAND;
		m.command = &cmd;
		struct pollset_sent *sent = xcalloc(1, sizeof(*sent));
		sent->r = r;
		snprintf(sent->rack, sizeof(sent->rack), "%s", j->sets[i].rack);
		sent->n = j->sets[i].set.n_targets;
		region_session_request(s, &m, POLLSET_TIMEOUT_MS, pollset_acked, sent);
	}
	for (size_t i = 0; i < j->n; i++)
		pollset_free(&j->sets[i]);
	free(j->sets);
	free(j);
	if (all && status != -ECANCELED && r->power) {
		r->power->pollset_running = false;
		if (r->power->pollset_again) {
			r->power->pollset_again = false;
			pollset_kick(r);
		}
	}
}

static void pollset_submit(struct region *r, const char *only)
{
	struct pollset_job *j = xcalloc(1, sizeof(*j));
	j->r = r;
	snprintf(j->only, sizeof(j->only), "%s", only ? only : "");
	region_dbjob_submit(r, DB_LANE_WRITE, pollset_build, pollset_built, j);
}

static void pollset_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct region *r = arg;
	if (r->power->pollset_running) {
		r->power->pollset_again = true;
		return;
	}
	r->power->pollset_running = true;
	pollset_submit(r, NULL);
}

static void pollset_kick(struct region *r)
{
	struct timeval tv = {POLLSET_DEBOUNCE_MS / 1000, (POLLSET_DEBOUNCE_MS % 1000) * 1000};
	if (!evtimer_pending(r->power->pollset_timer, NULL))
		evtimer_add(r->power->pollset_timer, &tv);
}

void region_power_changed(struct region *r)
{
	if (r->power)
		pollset_kick(r);
}

/* ---- the session feature ---- */

static void power_on_open(struct region *r, const char *rack_id)
{
	pollset_submit(r, rack_id);
	/* The rack's interfaces came with its Register: other racks' poll
	 * sets may change too (a BMC subnet it now reaches). */
	region_power_changed(r);
}

static void power_on_close(struct region *r, const char *rack_id)
{
	struct fail_job *j = xcalloc(1, sizeof(*j));
	snprintf(j->rack, sizeof(j->rack), "%s", rack_id);
	snprintf(j->message, sizeof(j->message), "rack %s disconnected before it reported the outcome", rack_id);
	region_dbjob_submit(r, DB_LANE_WRITE, fail_run, fail_done, j);
	region_power_changed(r); /* its machines move to another rack, if one reaches them */
}

static const struct region_session_handler power_handlers[] = {
    {IRONRACK__V1__RACK_MESSAGE__BODY_POWER_REPORT, power_on_report},
};

const struct region_session_feature region_power_session = {
    .name = "power",
    .handlers = power_handlers,
    .n_handlers = sizeof(power_handlers) / sizeof(power_handlers[0]),
    .on_open = power_on_open,
    .on_close = power_on_close,
};

static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	region_power_changed(arg);
}

int region_power_start(struct region *r)
{
	struct timeval every = {POLLSET_REFRESH_S, 0};
	r->power = xcalloc(1, sizeof(*r->power));
	r->power->pollset_timer = evtimer_new(r->base, pollset_timer_cb, r);
	r->power->refresh_timer = event_new(r->base, -1, EV_PERSIST, refresh_cb, r);
	if (!r->power->pollset_timer || !r->power->refresh_timer)
		return -ENOMEM;
	event_add(r->power->refresh_timer, &every);
	return 0;
}

void region_power_stop(struct region *r)
{
	if (!r->power)
		return;
	if (r->power->pollset_timer)
		event_free(r->power->pollset_timer);
	if (r->power->refresh_timer)
		event_free(r->power->refresh_timer);
	while (r->power->sent) {
		struct sent_set *next = r->power->sent->next;
		free(r->power->sent);
		r->power->sent = next;
	}
	free(r->power);
	r->power = NULL;
}
