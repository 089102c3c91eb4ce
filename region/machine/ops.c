/* An operator's action on a machine, and what every transition leaves for
 * the loop (a power action, boot configs racks must forget). See
 * machine.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "region/db/db.h"
#include "region/db/machine_db.h"
#include "region/machine/machine.h"
#include "region/machine/token.h"
#include "region/power/power.h"
#include "region/region.h"
#include "region/rpc/session.h"
#include "region/secret.h"

#define BOOT_FORGET_TIMEOUT_MS 10000

void region_machine_timeouts(const struct region *r, struct machine_timeouts *ret)
{
	ret->commissioning_s = (uint32_t)r->conf.commissioning_timeout;
	ret->deploying_s = (uint32_t)r->conf.deploying_timeout;
	ret->releasing_s = (uint32_t)r->conf.releasing_timeout;
}

/* ---- after a transition ---- */

void region_machine_after_free(struct region_machine_after *a)
{
	region_power_action_free(a->power);
	free(a->macs);
	memset(a, 0, sizeof(*a));
}

int region_machine_after_macs(struct db *db, int64_t id, struct region_machine_after *a)
{
	free(a->macs);
	a->macs = NULL;
	a->n_macs = 0;
	return machine_db_macs(db, id, &a->macs, &a->n_macs);
}

static void forget_answered(void *arg, int status, const char *message, const Ironrack__V1__RackMessage *reply,
			    int64_t rtt_us)
{
	if (status != 0 && status != -ECANCELED)
		log_warn("machines: a rack did not take a boot-config change: %s",
			 status == -EREMOTEIO && message && *message ? message : strerror(-status));
}

static void forget_send(struct rack_session *s, void *arg)
{
	Ironrack__V1__BootForget *f = arg;
	Ironrack__V1__Command cmd = IRONRACK__V1__COMMAND__INIT;
	cmd.command_case = IRONRACK__V1__COMMAND__COMMAND_BOOT_FORGET;
	cmd.boot_forget = f;
	Ironrack__V1__RegionMessage m = IRONRACK__V1__REGION_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__REGION_MESSAGE__BODY_COMMAND;
	m.command = &cmd;
	region_session_request(s, &m, BOOT_FORGET_TIMEOUT_MS, forget_answered, NULL);
}

void region_machine_after_run(struct region *r, struct region_machine_after *a)
{
	/* The racks forget the old boot config before the machine is powered
	 * (each session's messages go out in order). */
	if (a->n_macs) {
		Ironrack__V1__BootForget f = IRONRACK__V1__BOOT_FORGET__INIT;
		char **macs = xcalloc(a->n_macs, sizeof(*macs));
		for (size_t i = 0; i < a->n_macs; i++)
			macs[i] = a->macs[i];
		f.n_macs = a->n_macs;
		f.macs = macs;
		region_sessions_each(r, forget_send, &f);
		free(macs);
	}
	if (a->power) {
		char msg[256];
		struct region_power_action *p = a->power;
		a->power = NULL;
		if (region_power_action_send(r, p, msg, sizeof(msg)) < 0)
			log_warn("machines: %s", msg);
	}
	region_machine_after_free(a);
}

int64_t region_machine_power(struct region *r, struct db *db, int64_t id, const char *power_type, bool up,
			     const char *who, struct region_machine_after *a, char *msg, size_t msg_len)
{
	bool bmc = strcmp(power_type, "ipmi") == 0 || strcmp(power_type, "redfish") == 0;
	bool other = strcmp(power_type, "wol") == 0 || strcmp(power_type, "manual") == 0;
	if (!bmc && !(up && other))
		return 0;
	struct region_power_request req = {.machine_id = id};
	snprintf(req.action, sizeof(req.action), "%s", !up ? "off" : bmc ? "cycle" : "on");
	snprintf(req.boot, sizeof(req.boot), "%s", up && bmc ? "pxe" : "");
	snprintf(req.requested_by, sizeof(req.requested_by), "%s", who);
	struct region_power_err err = {0};
	struct region_power_action *p = NULL;
	if (region_power_action_prepare(r, db, &req, &p, &err) < 0) {
		snprintf(msg, msg_len, "%s", err.message);
		return err.status == 503 ? -EAGAIN : -EPERM;
	}
	region_power_action_free(a->power);
	a->power = p;
	return region_power_action_id(p);
}

/* ---- operator actions ---- */

void region_machine_result_set(struct region_machine_op_result *res, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	res->status = status;
	snprintf(res->code, sizeof(res->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
}

int region_machine_result_db(struct db *db, struct region_machine_op_result *res, int rc)
{
	if (rc == -EAGAIN)
		region_machine_result_set(res, 409, "state", "the machine's state changed meanwhile; try again");
	else if (rc == -ENOENT)
		region_machine_result_set(res, 404, "not_found", "no such machine");
	else
		region_machine_result_set(res, 503, "unavailable", "database: %s", db_last_error(db));
	return rc;
}

/* Commission: a token, the state with its deadline, the power cycle. */
static int op_commission(struct region *r, struct db *db, const struct region_machine_op *op,
			 const struct machine_db_row *m, struct region_machine_op_result *res)
{
	struct machine_timeouts t;
	char token[MACHINE_TOKEN_HEX + 1], hash[65], aad[96], msg[512];
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	int64_t token_id = 0;

	region_machine_timeouts(r, &t);
	int64_t now = clock_real_ms();
	int64_t deadline = machine_state_deadline(MS_COMMISSIONING, now, &t);
	machine_token_new(token);
	machine_token_hash(token, hash);
	snprintf(aad, sizeof(aad), "machine:%" PRId64 ":commission_token", m->id);
	int rc = secret_box_seal(r->secrets, aad, token, &sealed, &sealed_len);
	explicit_bzero(token, sizeof(token));
	if (rc < 0) {
		region_machine_result_set(res, 503, "unavailable", "the region cannot seal the machine's token: %s",
					  strerror(-rc));
		return rc;
	}
	/* The token outlives the state a little: an agent that posts just as
	 * the clock fails the machine is told "expired", not "unknown". */
	rc = machine_db_token_new(db, m->id, "commission", hash, sealed, sealed_len, deadline + 60000, &token_id);
	free(sealed);
	if (rc < 0) {
		region_machine_result_db(db, res, rc);
		return rc;
	}
	const char *waiting = "";
	if (!m->power_type[0])
		waiting = "no power type: power the machine on by hand (it must boot from the network)";
	rc = machine_db_transition(db, m->id, m->status, "COMMISSIONING", deadline, waiting, op->who,
				   op->comment[0] ? op->comment : "commission requested", 0);
	if (rc < 0) {
		region_machine_result_db(db, res, rc);
		return rc;
	}
	int64_t action =
	    region_machine_power(r, db, m->id, m->power_type, true, op->who, &res->after, msg, sizeof(msg));
	if (action < 0) {
		region_machine_result_set(res, action == -EAGAIN ? 503 : 409,
					  action == -EAGAIN ? "unavailable" : "conflict",
					  "machine %s cannot be powered on to commission: %s", m->hostname, msg);
		return (int)action;
	}
	if (action > 0) {
		snprintf(msg, sizeof(msg), "powering on through its BMC (power action %" PRId64 ")", action);
		if (strcmp(m->power_type, "manual") == 0 || strcmp(m->power_type, "wol") == 0)
			snprintf(msg, sizeof(msg), "power action %" PRId64 " (%s) sent", action, m->power_type);
		rc = machine_db_set_action(db, m->id, action, msg);
		if (rc < 0) {
			region_machine_result_db(db, res, rc);
			return rc;
		}
	}
	return region_machine_after_macs(db, m->id, &res->after);
}

void region_machine_op_run(struct region *r, struct db *db, const struct region_machine_op *op,
			   struct region_machine_op_result *res)
{
	struct machine_db_row m;
	enum machine_state state, previous, next;
	char why[256], msg[512];

	memset(res, 0, sizeof(*res));
	int rc = db_begin(db);
	if (rc < 0) {
		region_machine_result_db(db, res, rc);
		return;
	}
	rc = machine_db_get(db, op->id, true, &m);
	if (rc < 0) {
		region_machine_result_db(db, res, rc);
		goto fail;
	}
	if (machine_state_parse(m.status, &state) < 0) {
		region_machine_result_set(res, 503, "unavailable", "machine %s has an unknown status %s", m.hostname,
					  m.status);
		rc = -EIO;
		goto fail;
	}
	if (machine_state_parse(m.previous, &previous) < 0)
		previous = MS_NEW;
	if (machine_lifecycle_step(state, op->action, previous, &next, why, sizeof(why)) < 0) {
		region_machine_result_set(res, 409, "state", "machine %s %s", m.hostname, why);
		rc = -EPERM;
		goto fail;
	}
	const char *event = op->comment[0] ? op->comment : "";
	switch (op->action) {
	case MA_COMMISSION:
		rc = op_commission(r, db, op, &m, res);
		break;
	case MA_ABORT:
	case MA_MARK_BROKEN:
	case MA_MARK_FIXED:
		snprintf(msg, sizeof(msg), "%s by %.100s%s%.300s",
			 op->action == MA_ABORT		? "aborted"
			 : op->action == MA_MARK_BROKEN ? "marked broken"
							: "fixed",
			 op->who, event[0] ? ": " : "", event);
		rc = machine_db_transition(db, m.id, m.status, machine_state_name(next), 0,
					   op->action == MA_MARK_FIXED ? "" : msg, op->who,
					   event[0] ? event : machine_action_name(op->action), 0);
		if (rc == 0)
			rc = machine_db_tokens_spend(db, m.id);
		/* A machine whose ephemeral boot is cut short is switched off. */
		if (rc == 0 && op->action == MA_ABORT) {
			int64_t a = region_machine_power(r, db, m.id, m.power_type, false, op->who, &res->after, msg,
							 sizeof(msg));
			if (a < 0)
				log_warn("machines: %s: aborted, but not powered off: %s", m.hostname, msg);
		}
		if (rc == 0)
			rc = region_machine_after_macs(db, m.id, &res->after);
		if (rc < 0)
			region_machine_result_db(db, res, rc);
		break;
	case MA_DELETE:
		rc = region_machine_after_macs(db, m.id, &res->after);
		if (rc == 0)
			rc = machine_db_delete(db, m.id, m.status);
		if (rc < 0)
			region_machine_result_db(db, res, rc);
		break;
	default:
		region_machine_result_set(res, 400, "invalid_argument", "%s is not an operator's action",
					  machine_action_name(op->action));
		rc = -EINVAL;
		break;
	}
	if (rc < 0)
		goto fail;
	rc = db_commit(db);
	if (rc < 0) {
		region_machine_result_db(db, res, rc);
		region_machine_after_free(&res->after);
		return;
	}
	res->status = 200;
	snprintf(res->new_status, sizeof(res->new_status), "%s", machine_state_name(next));
	log_info("machines: %s: %s by %s: %s → %s", m.hostname, machine_action_name(op->action), op->who, m.status,
		 op->action == MA_DELETE ? "deleted" : res->new_status);
	return;
fail:
	db_rollback(db, rc);
	region_machine_after_free(&res->after);
}
