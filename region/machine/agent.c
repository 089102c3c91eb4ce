/* The ephemeral agent's reports, forwarded by racks (AgentReport): an
 * enlistment creates (or refreshes) a NEW machine, a commissioning report
 * with its token stores the hardware and makes the machine READY, a deploy
 * or erase step moves a deploy or release on (step.c). The region checks
 * the report itself (common/inventory.h) and answers the rack with a
 * Status the rack turns into the agent's HTTP answer, and for a step's
 * start with the job in an AgentAnswer. See docs/machines.md and
 * docs/deploy.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/inventory.h"
#include "common/log.h"
#include "common/net.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "region/db/db.h"
#include "region/db/machine_db.h"
#include "region/machine/machine.h"
#include "region/machine/token.h"
#include "region/region.h"
#include "region/rpc/dbjob.h"
#include "region/rpc/session.h"

struct report_job {
	struct region *r;
	struct region_session_ref ref;
	uint64_t request_id;
	char purpose[16];
	char token[INV_TOKEN_LEN + 1];
	char mac[MAC_STRLEN];
	char client[64];
	char *body;
	size_t body_len;
	/* the outcome */
	int rc; /* 0, -EINVAL, -EACCES, -EPERM, -EIO */
	char msg[512];
	char hostname[64];
	struct region_machine_after after;
	char *answer;	  /* a step's start: the job, sent as an AgentAnswer */
	bool after_first; /* racks forget the boot config before the verdict goes */
};

static int job_fail(struct report_job *j, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int job_fail(struct report_job *j, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
	va_end(ap);
	j->rc = rc;
	return rc;
}

static int db_fail(struct report_job *j, struct db *db, int rc)
{
	if (rc == -EAGAIN)
		return job_fail(j, -EPERM, "the machine's state changed meanwhile");
	return job_fail(j, -EIO, "database: %s", db_last_error(db));
}

/* The machine any of the inventory's MACs belongs to (the boot MAC
 * first): 0 when none. */
static int machine_of(struct db *db, const struct inventory *inv, int64_t *ret)
{
	char mac[MAC_STRLEN];
	*ret = 0;
	if (inv->has_boot_mac) {
		mac_format(inv->boot_mac, mac, sizeof(mac));
		int rc = machine_db_by_mac(db, mac, ret);
		if (rc != -ENOENT)
			return rc;
	}
	for (size_t i = 0; i < inv->n_nics; i++) {
		mac_format(inv->nics[i].mac, mac, sizeof(mac));
		int rc = machine_db_by_mac(db, mac, ret);
		if (rc != -ENOENT)
			return rc;
	}
	*ret = 0;
	return 0;
}

static int enlist(struct report_job *j, struct db *db, const struct inventory *inv, const char *json, const char *actor)
{
	int64_t id;
	int rc = machine_of(db, inv, &id);
	if (rc < 0)
		return db_fail(j, db, rc);
	if (id == 0) {
		rc = machine_db_enlist_new(db, inv, json, j->client, actor, &id, j->hostname);
		if (rc < 0)
			return db_fail(j, db, rc);
		snprintf(j->msg, sizeof(j->msg), "enlisted as %s (machine %" PRId64 ")", j->hostname, id);
		return region_machine_after_macs(db, id, &j->after) < 0 ? db_fail(j, db, -EIO) : 0;
	}
	struct machine_db_row m;
	rc = machine_db_get(db, id, true, &m);
	if (rc < 0)
		return db_fail(j, db, rc);
	snprintf(j->hostname, sizeof(j->hostname), "%s", m.hostname);
	enum machine_state state, next;
	char why[256];
	if (machine_state_parse(m.status, &state) < 0 ||
	    machine_lifecycle_step(state, MA_ENLIST, state, &next, why, sizeof(why)) < 0)
		return job_fail(j, -EPERM, "machine %s is already known and %s: nothing changed", m.hostname, m.status);
	int added, removed;
	rc = machine_db_hardware_store(db, id, inv, json, j->client, &added, &removed);
	if (rc < 0)
		return db_fail(j, db, rc);
	snprintf(j->msg, sizeof(j->msg), "already enlisted as %s (machine %" PRId64 "): hardware updated", m.hostname,
		 id);
	return 0;
}

static int commission(struct report_job *j, struct db *db, const struct inventory *inv, const char *json,
		      const char *actor)
{
	char hash[65], mac[MAC_STRLEN], why[256];
	struct machine_token_row row, *rowp = NULL;
	int64_t token_id = 0, mac_machine = 0;

	if (machine_token_well_formed(inv->token)) {
		machine_token_hash(inv->token, hash);
		int rc = machine_db_token_find(db, hash, &row, &token_id);
		if (rc == 0)
			rowp = &row;
		else if (rc != -ENOENT)
			return db_fail(j, db, rc);
	}
	if (inv->has_boot_mac) {
		mac_format(inv->boot_mac, mac, sizeof(mac));
		int rc = machine_db_by_mac(db, mac, &mac_machine);
		if (rc == -ENOENT)
			mac_machine = 0;
		else if (rc < 0)
			return db_fail(j, db, rc);
	}
	if (machine_token_check(inv->token, "commission", rowp, mac_machine, clock_real_ms(), why, sizeof(why)) !=
	    TOKEN_OK)
		return job_fail(j, -EACCES, "%s", why);

	struct machine_db_row m;
	int rc = machine_db_get(db, row.machine_id, true, &m);
	if (rc < 0)
		return db_fail(j, db, rc);
	snprintf(j->hostname, sizeof(j->hostname), "%s", m.hostname);
	enum machine_state state, previous, next;
	if (machine_state_parse(m.status, &state) < 0 || machine_state_parse(m.previous, &previous) < 0)
		previous = state = MS_NEW;
	if (machine_lifecycle_step(state, MA_COMMISSION_DONE, previous, &next, why, sizeof(why)) < 0)
		return job_fail(j, -EPERM, "machine %s %s", m.hostname, why);
	rc = machine_db_token_use(db, token_id);
	if (rc < 0)
		return rc == -EAGAIN ? job_fail(j, -EACCES, "token already used") : db_fail(j, db, rc);
	int added = 0, removed = 0;
	rc = machine_db_hardware_store(db, m.id, inv, json, j->client, &added, &removed);
	if (rc < 0)
		return db_fail(j, db, rc);
	char summary[256], event[384];
	snprintf(summary, sizeof(summary), "%u CPU%s, %" PRIu64 " MiB, %zu disk%s, %zu NIC%s", inv->cpu_count,
		 inv->cpu_count == 1 ? "" : "s", inv->memory_mib, inv->n_disks, inv->n_disks == 1 ? "" : "s",
		 inv->n_nics, inv->n_nics == 1 ? "" : "s");
	snprintf(event, sizeof(event), "commissioned: %s (interfaces: %d added, %d removed)", summary, added, removed);
	rc = machine_db_transition(db, m.id, m.status, machine_state_name(next), 0, "", actor, event, 0);
	if (rc < 0)
		return db_fail(j, db, rc);
	char pmsg[256];
	int64_t a = region_machine_power(j->r, db, m.id, m.power_type, false, actor, &j->after, pmsg, sizeof(pmsg));
	if (a < 0)
		log_warn("machines: %s is READY, but not powered off: %s", m.hostname, pmsg);
	if (region_machine_after_macs(db, m.id, &j->after) < 0)
		return db_fail(j, db, -EIO);
	snprintf(j->msg, sizeof(j->msg), "%s (machine %" PRId64 ") commissioned: READY", m.hostname, m.id);
	return 0;
}

/* A deploy or erase step (step.c): its verdict may refuse the agent
 * while what it wrote (a failure) is committed. */
static int step(struct report_job *j, struct db *db, const struct inventory *inv, const char *actor)
{
	struct region_machine_step_res res;
	int rc = region_machine_step(j->r, db, inv, actor, &res);
	j->rc = res.rc;
	snprintf(j->msg, sizeof(j->msg), "%s", res.msg);
	snprintf(j->hostname, sizeof(j->hostname), "%s", res.hostname);
	j->after = res.after;
	j->answer = res.answer;
	j->after_first = res.after_first;
	return rc;
}

/* The verdict with the job for the agent: Status OK and an AgentAnswer. */
static void reply_answer(struct rack_session *s, uint64_t request_id, const char *message, const char *answer)
{
	Ironrack__V1__Status st = IRONRACK__V1__STATUS__INIT;
	Ironrack__V1__AgentAnswer ans = IRONRACK__V1__AGENT_ANSWER__INIT;
	Ironrack__V1__RegionMessage m = IRONRACK__V1__REGION_MESSAGE__INIT;
	st.code = RPC_OK;
	st.message = (char *)message;
	ans.body.data = (uint8_t *)answer;
	ans.body.len = strlen(answer);
	m.request_id = request_id;
	m.status = &st;
	m.body_case = IRONRACK__V1__REGION_MESSAGE__BODY_AGENT_ANSWER;
	m.agent_answer = &ans;
	region_session_send(s, &m);
}

static int report_apply(struct db *db, void *arg)
{
	struct report_job *j = arg;
	struct inventory inv;
	char err[256], actor[128];

	snprintf(actor, sizeof(actor), "rack %.40s (agent at %.46s)", j->ref.rack_id, j->client);
	if (inventory_parse(j->body, j->body_len, &inv, err, sizeof(err)) < 0)
		return job_fail(j, -EINVAL, "%s", err), 0;
	if (strcmp(inventory_purpose_name(inv.purpose), j->purpose) != 0) {
		inventory_free(&inv);
		return job_fail(j, -EINVAL, "purpose: the report says %s, the rack forwarded it as %s",
				inventory_purpose_name(inv.purpose), j->purpose),
		       0;
	}
	json_t *norm = inventory_to_json(&inv);
	char *json = json_dumps(norm, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(norm);
	int rc = db_begin(db);
	if (rc < 0)
		db_fail(j, db, rc);
	else if (inventory_is_step(&inv))
		rc = step(j, db, &inv, actor);
	else
		rc =
		    inv.purpose == INV_ENLIST ? enlist(j, db, &inv, json, actor) : commission(j, db, &inv, json, actor);
	if (rc == 0) {
		rc = db_commit(db);
		if (rc < 0)
			db_fail(j, db, rc);
	} else {
		db_rollback(db, rc);
	}
	if (rc < 0) {
		region_machine_after_free(&j->after);
		free(j->answer);
		j->answer = NULL;
	}
	free(json);
	inventory_free(&inv);
	explicit_bzero(inv.token, sizeof(inv.token));
	return 0;
}

static void report_done(void *arg, int status)
{
	struct report_job *j = arg;
	if (status < 0 && j->rc == 0)
		job_fail(j, -EIO, "the region's database is not available");
	if (j->rc == 0)
		log_info("machines: %s report of %s from rack %s (agent %s): %s", j->purpose, j->mac[0] ? j->mac : "?",
			 j->ref.rack_id, j->client, j->msg);
	else
		log_warn("machines: %s report of %s from rack %s (agent %s) refused: %s", j->purpose,
			 j->mac[0] ? j->mac : "?", j->ref.rack_id, j->client, j->msg);
	/* A machine that reported done may reboot at once: every rack drops
	 * its cached boot config before the agent hears the verdict. */
	if (j->after_first && !j->r->stopping && status >= 0)
		region_machine_after_run(j->r, &j->after);
	struct rack_session *s = region_session_find(j->r, &j->ref);
	if (s && j->rc == 0 && j->answer)
		reply_answer(s, j->request_id, j->msg, j->answer);
	else if (s)
		region_session_reply_status(s, j->request_id, j->rc, j->msg);
	if (!j->r->stopping && status >= 0)
		region_machine_after_run(j->r, &j->after);
	region_machine_after_free(&j->after);
	free(j->answer);
	/* The body holds the machine's one-time token. */
	explicit_bzero(j->token, sizeof(j->token));
	explicit_bzero(j->body, j->body_len);
	free(j->body);
	free(j);
}

static void copy_field(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static void agent_on_report(struct rack_session *sess, const Ironrack__V1__RackMessage *m)
{
	const Ironrack__V1__AgentReport *rep = m->agent_report;
	if (!rep || rep->inventory.len > INV_BODY_MAX) {
		region_session_reply_status(sess, m->request_id, -EINVAL,
					    rep ? "body: larger than 262144 bytes" : "empty report");
		return;
	}
	struct report_job *j = xcalloc(1, sizeof(*j));
	j->r = region_session_region(sess);
	region_session_ref_get(sess, &j->ref);
	j->request_id = m->request_id;
	copy_field(j->purpose, sizeof(j->purpose), rep->purpose);
	copy_field(j->token, sizeof(j->token), rep->token);
	uint8_t mac[6];
	if (rep->mac && mac_parse(rep->mac, mac) == 0)
		mac_format(mac, j->mac, sizeof(j->mac));
	/* Only an address is used (to link the boot interface). */
	unsigned char a[sizeof(struct in6_addr)];
	if (rep->client_address &&
	    (inet_pton(AF_INET, rep->client_address, a) == 1 || inet_pton(AF_INET6, rep->client_address, a) == 1))
		snprintf(j->client, sizeof(j->client), "%s", rep->client_address);
	j->body = xmalloc(rep->inventory.len + 1);
	memcpy(j->body, rep->inventory.data, rep->inventory.len);
	j->body[rep->inventory.len] = '\0';
	j->body_len = rep->inventory.len;
	region_dbjob_submit(j->r, DB_LANE_WRITE, report_apply, report_done, j);
}

static const struct region_session_handler agent_handlers[] = {
    {IRONRACK__V1__RACK_MESSAGE__BODY_AGENT_REPORT, agent_on_report},
};

const struct region_session_feature region_machine_session = {
    .name = "machines",
    .handlers = agent_handlers,
    .n_handlers = sizeof(agent_handlers) / sizeof(agent_handlers[0]),
};
