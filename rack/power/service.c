/* The rack's power feature: commands in, drivers run under the scheduler
 * and the poll plan, results out. See service.h. */
#include "rack/power/service.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "common/work.h"
#include "rack/netns.h"
#include "rack/power/driver.h"
#include "rack/power/poll.h"
#include "rack/power/report.h"
#include "rack/power/sched.h"
#include "rack/rack.h"

/* Worker threads for blocking drivers: one per slot of the concurrency
 * limit (an IPMI call waiting for a thread would spend its deadline
 * there), up to this many. */
#define POWER_THREADS_MAX 256
#define MACHINES_BUCKETS  4096

/* What the rack knows of a machine: its latest parameters, from the last
 * command or poll set that named it. */
struct machine {
	uint64_t id;
	char hostname[64];
	const struct power_driver *driver;
	struct power_params params;
	bool polled;
	struct machine *next; /* hash chain */
};

struct rack_power {
	struct rack *rack;
	struct power_sched *sched;
	struct power_poll *poll;
	struct power_reports *reports;
	struct work_pool *pool;
	void *driver_ctx[8]; /* by index in power_drivers[] */
	struct event *tick_timer, *poll_timer;
	int nsfd; /* the rack's netns, or -1 */
	struct machine *buckets[MACHINES_BUCKETS];
	size_t n_machines;
	bool stopping;
};

static struct rack_power *power_of(struct rack *rack)
{
	return rack->power;
}

/* ---- machines ---- */

static struct machine **machine_slot(struct rack_power *p, uint64_t id)
{
	struct machine **pp = &p->buckets[(id * 0x9e3779b97f4a7c15ull) >> 52];
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

static struct machine *machine_find(struct rack_power *p, uint64_t id)
{
	return *machine_slot(p, id);
}

static void machine_free(struct machine *m)
{
	power_params_free(&m->params);
	free(m);
}

/* Forget a machine nothing needs any more (not polled, nothing queued). */
static void machine_gc(struct rack_power *p, uint64_t id)
{
	struct machine **pp = machine_slot(p, id);
	struct machine *m = *pp;
	if (!m || m->polled || power_sched_busy(p->sched, id))
		return;
	*pp = m->next;
	p->n_machines--;
	machine_free(m);
}

/* Decode a PowerTarget into the machine's entry (created if new). */
static int machine_update(struct rack_power *p, const Ironrack__V1__PowerTarget *t, struct machine **ret, char *msg,
			  size_t len)
{
	const struct power_driver *d = power_driver_find(t->driver);
	if (!d) {
		snprintf(msg, len, "power_type: no driver '%.32s' on this rack", t->driver);
		return -EINVAL;
	}
	const char **keys = xcalloc(t->n_options + 1, sizeof(*keys));
	const char **vals = xcalloc(t->n_options + 1, sizeof(*vals));
	for (size_t i = 0; i < t->n_options; i++) {
		keys[i] = t->options[i]->key;
		vals[i] = t->options[i]->value;
	}
	struct power_params params;
	int rc = power_params_decode(t->driver, t->address, t->user, t->password, keys, vals, t->n_options, &params,
				     msg, len);
	free(keys);
	free(vals);
	if (rc < 0)
		return rc;
	struct machine **pp = machine_slot(p, t->machine_id);
	struct machine *m = *pp;
	if (!m) {
		m = xcalloc(1, sizeof(*m));
		m->id = t->machine_id;
		*pp = m;
		p->n_machines++;
	} else {
		power_params_free(&m->params);
	}
	snprintf(m->hostname, sizeof(m->hostname), "%s", t->hostname[0] ? t->hostname : "?");
	m->driver = d;
	m->params = params;
	*ret = m;
	return 0;
}

/* ---- running calls ---- */

static void rearm_tick(struct rack_power *p)
{
	int64_t next = power_sched_next_tick(p->sched);
	if (next == INT64_MAX) {
		evtimer_del(p->tick_timer);
		return;
	}
	int64_t wait = next - clock_mono_us();
	if (wait < 0)
		wait = 0;
	struct timeval tv = {wait / 1000000, wait % 1000000};
	evtimer_add(p->tick_timer, &tv);
}

/* One driver call: the op the driver sees and what the shell needs back. */
struct call {
	struct power_op op;
	struct rack_power *p;
	struct power_run *run;
	bool async;
};

static void call_free(struct call *c)
{
	power_params_free(&c->op.params);
	free(c);
}

static void call_finish(struct call *c)
{
	struct rack_power *p = c->p;
	if (p->stopping) { /* cancelled by power_sched_free: the run is gone */
		call_free(c);
		return;
	}
	power_sched_done(p->sched, c->run, &c->op.result, clock_mono_us());
	call_free(c);
	rearm_tick(p);
}

/* async drivers: on the loop */
static void call_async_done(struct power_op *op)
{
	call_finish(op->owner);
}

/* Blocking drivers: the worker thread enters the rack's namespace once
 * (setns changes only the calling thread) and stays there. */
static __thread int thread_nsfd = -1;

static void call_work(void *arg)
{
	struct call *c = arg;
	if (c->op.nsfd >= 0 && thread_nsfd != c->op.nsfd) {
		if (setns(c->op.nsfd, CLONE_NEWNET) < 0) {
			power_result_set(&c->op.result, POWER_FAIL, "cannot enter the rack's network namespace: %s",
					 strerror(errno));
			return;
		}
		thread_nsfd = c->op.nsfd;
	}
	c->op.driver->run(&c->op);
}

static void call_work_done(void *arg, bool cancelled)
{
	struct call *c = arg;
	if (cancelled) { /* the pool is going away with the scheduler */
		call_free(c);
		return;
	}
	call_finish(c);
}

static void *driver_ctx(struct rack_power *p, const struct power_driver *d)
{
	for (size_t i = 0; i < power_drivers_n; i++)
		if (power_drivers[i] == d)
			return p->driver_ctx[i];
	return NULL;
}

static void sched_start(void *ctx, struct power_run *run)
{
	struct rack_power *p = ctx;
	struct machine *m = machine_find(p, run->machine_id);
	struct call *c = xcalloc(1, sizeof(*c));
	c->p = p;
	c->run = run;
	run->owner = c;
	c->op.machine_id = run->machine_id;
	c->op.action = run->action;
	c->op.boot = run->boot;
	c->op.deadline_us = run->deadline_us;
	c->op.nsfd = p->nsfd;
	c->op.owner = c;
	c->op.done = call_async_done;
	if (!m || power_params_copy(&c->op.params, &m->params) < 0) {
		power_result_set(&c->op.result, POWER_FAIL, "the rack has no power parameters for machine %" PRIu64,
				 run->machine_id);
		call_finish(c);
		return;
	}
	c->op.driver = m->driver;
	log_debug("power: %s: %s (attempt %u)", m->hostname, power_action_name(run->action), run->attempt);
	if (m->driver->run) {
		work_submit(p->pool, call_work, call_work_done, c);
	} else {
		c->async = true;
		m->driver->start(driver_ctx(p, m->driver), &c->op);
	}
}

static void sched_cancel(void *ctx, struct power_run *run)
{
	struct rack_power *p = ctx;
	struct call *c = run->owner;
	/* A blocking call cannot be interrupted: it returns by its deadline. */
	if (c && c->async)
		c->op.driver->cancel(driver_ctx(p, c->op.driver), &c->op);
}

/* What a request carries for the log: who asked, when. */
struct req_info {
	int64_t started_us;
	char hostname[64];
};

static void sched_finish(void *ctx, const struct power_req *req, const struct power_result *res, unsigned attempts)
{
	struct rack_power *p = ctx;
	struct req_info *info = req->arg;
	struct machine *m = machine_find(p, req->machine_id);
	const char *host = m ? m->hostname : info ? info->hostname : "?";
	Ironrack__V1__PowerResult pb = IRONRACK__V1__POWER_RESULT__INIT;

	if (p->stopping) {
		free(info);
		return;
	}
	pb.machine_id = req->machine_id;
	pb.action_id = req->action_id;
	pb.action = (char *)power_action_name(req->action);
	pb.ok = res->status == POWER_OK;
	pb.state = (char *)(res->status == POWER_OK ? power_state_name(res->state) : "");
	pb.error = (char *)(res->status == POWER_OK ? "" : res->message);
	pb.needs_person = res->needs_person;
	pb.at_unix_ms = clock_real_ms();
	pb.attempts = attempts;
	if (info)
		pb.duration_ms = (uint32_t)((clock_mono_us() - info->started_us) / 1000);

	if (req->action_id) {
		if (pb.ok)
			log_info("power: %s: %s done%s%s (action %" PRIu64 ", %u attempt%s, %u ms)", host, pb.action,
				 res->state != POWER_STATE_UNKNOWN ? ", state " : "",
				 res->state != POWER_STATE_UNKNOWN ? pb.state : "", req->action_id, attempts,
				 attempts == 1 ? "" : "s", pb.duration_ms);
		else
			log_warn("power: %s: %s failed (action %" PRIu64 ", %u attempt%s): %s", host, pb.action,
				 req->action_id, attempts, attempts == 1 ? "" : "s", res->message);
		power_reports_add(p->reports, &pb);
		/* What the action found is what the region now shows: the poll
		 * reports a change from that, not from its own last look (which
		 * may predate the action, and equal a later change made at the
		 * machine). Not polled: -ENOENT, nothing to do. */
		if (pb.ok && res->state != POWER_STATE_UNKNOWN)
			(void)power_poll_record(p->poll, req->machine_id, res->state, true, NULL, pb.at_unix_ms);
	} else if (power_poll_record(p->poll, req->machine_id, pb.ok ? res->state : POWER_STATE_UNKNOWN, pb.ok,
				     pb.error, pb.at_unix_ms) == 1) {
		if (!pb.ok)
			log_warn("power: %s: query failed: %s", host, res->message);
		power_reports_add(p->reports, &pb);
	}
	free(info);
	machine_gc(p, req->machine_id);
}

static const struct power_sched_ops sched_ops = {
    .start = sched_start,
    .cancel = sched_cancel,
    .finish = sched_finish,
};

static void submit(struct rack_power *p, const struct power_req *req)
{
	power_sched_submit(p->sched, req, clock_mono_us());
	rearm_tick(p);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rack_power *p = arg;
	power_sched_tick(p->sched, clock_mono_us());
	rearm_tick(p);
}

/* ---- polling ---- */

static void rearm_poll(struct rack_power *p)
{
	int64_t next = power_poll_next_due(p->poll);
	if (next == INT64_MAX) {
		evtimer_del(p->poll_timer);
		return;
	}
	int64_t wait = next - clock_mono_us();
	if (wait < 0)
		wait = 0;
	struct timeval tv = {wait / 1000000, wait % 1000000};
	evtimer_add(p->poll_timer, &tv);
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rack_power *p = arg;
	struct power_poll_target due[256];
	size_t n;
	int64_t now = clock_mono_us();
	while ((n = power_poll_due(p->poll, now, due, sizeof(due) / sizeof(due[0]))) > 0) {
		for (size_t i = 0; i < n; i++) {
			struct power_req req = {.machine_id = due[i].machine_id, .action = POWER_QUERY};
			power_sched_submit(p->sched, &req, now);
		}
		if (n < sizeof(due) / sizeof(due[0]))
			break;
	}
	rearm_tick(p);
	rearm_poll(p);
}

/* ---- commands from the region ---- */

static int parse_action(const char *s, enum power_action *ret)
{
	static const struct {
		const char *name;
		enum power_action a;
	} t[] = {{"on", POWER_ON}, {"off", POWER_OFF}, {"cycle", POWER_CYCLE}, {"query", POWER_QUERY}};
	for (size_t i = 0; s && i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].name) == 0) {
			*ret = t[i].a;
			return 0;
		}
	return -EINVAL;
}

static void power_command_run(struct rack *rack, const Ironrack__V1__RegionMessage *in)
{
	struct rack_power *p = power_of(rack);
	const Ironrack__V1__PowerCommand *cmd = in->command->power;
	struct power_req req = {0};
	struct machine *m;
	char msg[512];

	if (!p) {
		rack_session_reply_status(rack, in->request_id, RPC_UNAVAILABLE, "power control is not running");
		return;
	}
	if (!cmd->target || parse_action(cmd->action, &req.action) < 0) {
		rack_session_reply_status(rack, in->request_id, RPC_INVALID_ARGUMENT,
					  "a power command needs a target and an action (on, off, cycle, query)");
		return;
	}
	if (cmd->boot[0] && strcmp(cmd->boot, "pxe") && strcmp(cmd->boot, "disk")) {
		rack_session_reply_status(rack, in->request_id, RPC_INVALID_ARGUMENT, "boot must be pxe or disk");
		return;
	}
	if (machine_update(p, cmd->target, &m, msg, sizeof(msg)) < 0) {
		rack_session_reply_status(rack, in->request_id, RPC_INVALID_ARGUMENT, msg);
		return;
	}
	req.machine_id = m->id;
	req.action_id = cmd->action_id;
	req.boot.dev = !cmd->boot[0] ? POWER_BOOT_KEEP : cmd->boot[0] == 'p' ? POWER_BOOT_PXE : POWER_BOOT_DISK;
	req.boot.persistent = cmd->boot_persistent;
	req.boot.efi = cmd->boot_efi;
	struct req_info *info = xcalloc(1, sizeof(*info));
	info->started_us = clock_mono_us();
	snprintf(info->hostname, sizeof(info->hostname), "%s", m->hostname);
	req.arg = info;
	log_info("power: %s: %s%s%s requested by %s (action %" PRIu64 ", %s)", m->hostname, cmd->action,
		 cmd->boot[0] ? ", next boot " : "", cmd->boot, cmd->requested_by[0] ? cmd->requested_by : "the region",
		 cmd->action_id, m->driver->name);
	rack_session_reply_status(rack, in->request_id, RPC_OK, "");
	submit(p, &req);
}

static void power_poll_set_run(struct rack *rack, const Ironrack__V1__RegionMessage *in)
{
	struct rack_power *p = power_of(rack);
	const Ironrack__V1__PowerPollSet *set = in->command->power_poll_set;
	char msg[512];

	if (!p) {
		rack_session_reply_status(rack, in->request_id, RPC_UNAVAILABLE, "power control is not running");
		return;
	}
	struct power_poll_target *ids = xcalloc(set->n_targets + 1, sizeof(*ids));
	size_t n = 0, bad = 0;
	for (size_t b = 0; b < MACHINES_BUCKETS; b++)
		for (struct machine *m = p->buckets[b]; m; m = m->next)
			m->polled = false;
	for (size_t i = 0; i < set->n_targets; i++) {
		struct machine *m;
		if (machine_update(p, set->targets[i], &m, msg, sizeof(msg)) < 0) {
			log_warn("power: %s: not polled: %s", set->targets[i]->hostname, msg);
			bad++;
			continue;
		}
		m->polled = true;
		ids[n++].machine_id = m->id;
	}
	unsigned interval_s = set->interval_s ? set->interval_s : 300;
	power_poll_set(p->poll, ids, n, interval_s, clock_mono_us());
	free(ids);
	/* Machines no longer polled and with nothing queued are forgotten. */
	for (size_t b = 0; b < MACHINES_BUCKETS; b++) {
		struct machine *m = p->buckets[b];
		while (m) {
			struct machine *next = m->next;
			machine_gc(p, m->id);
			m = next;
		}
	}
	log_info("power: polling %zu machine%s every %u s%s", n, n == 1 ? "" : "s", interval_s,
		 bad ? " (some refused, see above)" : "");
	rack_session_reply_status(rack, in->request_id, RPC_OK, "");
	rearm_poll(p);
}

const struct rack_command rack_power_command = {IRONRACK__V1__COMMAND__COMMAND_POWER, power_command_run};
const struct rack_command rack_power_poll_set_command = {IRONRACK__V1__COMMAND__COMMAND_POWER_POLL_SET,
							 power_poll_set_run};

/* ---- reports ---- */

static bool reports_connected(void *arg)
{
	return rack_session_is_connected(arg);
}

static uint64_t reports_send(void *arg, Ironrack__V1__PowerReport *rep)
{
	struct rack *rack = arg;
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.request_id = rack_session_request_id(rack, &rack_power_report_route);
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_POWER_REPORT;
	m.power_report = rep;
	return rack_session_send(rack, &m) < 0 ? 0 : m.request_id;
}

static const struct power_report_ops report_ops = {reports_connected, reports_send};

static void report_status(struct rack *rack, uint64_t request_id, const Ironrack__V1__Status *st)
{
	struct rack_power *p = power_of(rack);
	if (st->code != RPC_OK)
		log_warn("power: the region did not record a power report: %s%s%s", rpc_status_name(st->code),
			 st->message[0] ? ": " : "", st->message);
	/* A report the region cannot read is not sent again (it would be
	 * refused forever); any other refusal is retried. */
	if (p)
		power_reports_status(p->reports, request_id, st->code == RPC_OK || st->code == RPC_INVALID_ARGUMENT);
}

const struct rack_reply_route rack_power_report_route = {"power-report", report_status};

struct full {
	Ironrack__V1__PowerResult *pb;
	Ironrack__V1__PowerResult **pp;
	size_t n;
};

static void full_add(void *ctx, const struct power_poll_state *st)
{
	struct full *f = ctx;
	if (!st->known)
		return;
	Ironrack__V1__PowerResult *r = &f->pb[f->n];
	ironrack__v1__power_result__init(r);
	r->machine_id = st->machine_id;
	r->action = (char *)"query";
	r->ok = st->ok;
	r->state = (char *)(st->ok ? power_state_name(st->state) : "");
	r->error = (char *)(st->error ? st->error : "");
	r->at_unix_ms = st->at_unix_ms;
	f->pp[f->n++] = r;
}

/* Every polled machine's last state, after a (re)connect: whatever
 * changed while the region was away. */
static void full_report(struct rack_power *p)
{
	size_t n = power_poll_count(p->poll);
	struct full f = {xcalloc(n + 1, sizeof(*f.pb)), xcalloc(n + 1, sizeof(*f.pp)), 0};
	power_poll_foreach(p->poll, full_add, &f);
	power_reports_full(p->reports, f.pp, f.n);
	free(f.pb);
	free(f.pp);
}

static void on_connected(struct rack *rack)
{
	struct rack_power *p = power_of(rack);
	if (!p)
		return;
	full_report(p);
	power_reports_flush(p->reports);
}

static void on_disconnected(struct rack *rack)
{
	struct rack_power *p = power_of(rack);
	if (p)
		power_reports_disconnected(p->reports);
}

const struct rack_session_hook rack_power_session_hook = {
    .name = "power",
    .on_connected = on_connected,
    .on_disconnected = on_disconnected,
};

/* ---- lifecycle ---- */

int rack_power_start(struct rack *rack)
{
	struct rack_power *p = xcalloc(1, sizeof(*p));
	struct power_sched_opts opts = {
	    .concurrency = (unsigned)rack->conf.power_concurrency,
	    .timeout_ms = (unsigned)rack->conf.power_timeout * 1000,
	    .max_attempts = (unsigned)rack->conf.power_attempts,
	};
	int rc;

	p->rack = rack;
	p->nsfd = -1;
	if (rack->conf.netns[0]) {
		p->nsfd = netns_open(rack->conf.netns);
		if (p->nsfd < 0) {
			rc = p->nsfd;
			log_err("power: cannot open network namespace %s: %s", rack->conf.netns, strerror(-rc));
			free(p);
			return rc;
		}
	}
	unsigned threads = opts.concurrency < POWER_THREADS_MAX ? opts.concurrency : POWER_THREADS_MAX;
	rc = work_pool_new(rack->base, threads, &p->pool);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < power_drivers_n && i < sizeof(p->driver_ctx) / sizeof(p->driver_ctx[0]); i++) {
		if (!power_drivers[i]->init)
			continue;
		rc = power_drivers[i]->init(rack->base, &p->driver_ctx[i]);
		if (rc < 0) {
			log_err("power: driver %s: cannot start: %s", power_drivers[i]->name, strerror(-rc));
			goto fail;
		}
	}
	p->sched = power_sched_new(&opts, &sched_ops, p);
	p->poll = power_poll_new(NULL);
	p->reports = power_reports_new(rack->base, &report_ops, rack);
	p->tick_timer = evtimer_new(rack->base, tick_cb, p);
	p->poll_timer = evtimer_new(rack->base, poll_cb, p);
	rack->power = p;
	log_info("power: up to %u BMC calls at once (%u worker threads), %ld s per action, %ld attempts",
		 opts.concurrency, threads, rack->conf.power_timeout, rack->conf.power_attempts);
	return 0;
fail:
	rack->power = p;
	rack_power_stop(rack);
	return rc;
}

void rack_power_stop(struct rack *rack)
{
	struct rack_power *p = power_of(rack);
	if (!p)
		return;
	if (p->tick_timer)
		event_free(p->tick_timer);
	if (p->poll_timer)
		event_free(p->poll_timer);
	p->stopping = true;
	/* Cancel what runs (async drivers stop now, blocking ones by their
	 * deadline), then the worker threads go. */
	power_sched_free(p->sched);
	work_pool_free(p->pool);
	for (size_t i = 0; i < power_drivers_n && i < sizeof(p->driver_ctx) / sizeof(p->driver_ctx[0]); i++)
		if (p->driver_ctx[i] && power_drivers[i]->fini)
			power_drivers[i]->fini(p->driver_ctx[i]);
	power_poll_free(p->poll);
	power_reports_free(p->reports);
	for (size_t b = 0; b < MACHINES_BUCKETS; b++) {
		struct machine *m = p->buckets[b];
		while (m) {
			struct machine *next = m->next;
			machine_free(m);
			m = next;
		}
	}
	if (p->nsfd >= 0)
		close(p->nsfd);
	free(p);
	rack->power = NULL;
}
