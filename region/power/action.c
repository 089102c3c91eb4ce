/* A power action: checked and recorded in a database job, sent to the
 * rack that reaches the BMC from the loop. See power.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "region/db/db.h"
#include "region/db/power_db.h"
#include "region/power/power.h"
#include "region/region.h"
#include "region/rpc/session.h"

/* How long the rack has to say it queued the action (not to do it). */
#define POWER_SEND_TIMEOUT_MS 10000

struct region_power_action {
	int64_t id;
	int64_t machine_id;
	char hostname[64];
	char rack[64];
	char action[8];
	Ironrack__V1__PowerCommand cmd;
	Ironrack__V1__PowerTarget *target;
};

static int perr_set(struct region_power_err *err, int rc, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int perr_set(struct region_power_err *err, int rc, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	err->field[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return rc;
}

void region_power_action_free(struct region_power_action *a)
{
	if (!a)
		return;
	region_power_target_free(a->target);
	free(a->cmd.action);
	free(a->cmd.boot);
	free(a->cmd.requested_by);
	free(a);
}

int64_t region_power_action_id(const struct region_power_action *a)
{
	return a->id;
}

int region_power_action_prepare(struct region *r, struct db *db, const struct region_power_request *req,
				struct region_power_action **ret, struct region_power_err *err)
{
	struct power_db_machine m;
	char rack[64], iface[32], how[160], msg[512];

	*ret = NULL;
	int rc = power_db_machine_get(db, req->machine_id, false, &m);
	if (rc == -ENOENT)
		return perr_set(err, rc, 404, "not_found", "no such machine");
	if (rc < 0)
		return perr_set(err, rc, 503, "unavailable", "database: %s", db_last_error(db));
	if (!m.type[0]) {
		rc = perr_set(err, -EPERM, 409, "conflict",
			      "machine %s has no power_type: set one (ipmi, redfish, wol or manual) and its parameters "
			      "first",
			      m.hostname);
		goto out;
	}
	rc = power_db_rack_for(db, m.id, r->name, rack, iface, how);
	if (rc == -ENOENT) {
		json_t *p = json_loads(m.params_json, 0, NULL);
		const char *addr = json_string_value(json_object_get(p, "address"));
		if (addr && *addr)
			perr_set(
			    err, rc, 503, "unavailable",
			    "no connected rack reaches BMC %s of machine %s: none is the primary or secondary rack "
			    "of the VLAN of a subnet holding that address, or has an interface on it",
			    addr, m.hostname);
		else
			perr_set(err, rc, 503, "unavailable",
				 "no connected rack reaches machine %s: none serves a subnet on the VLANs of its "
				 "interfaces",
				 m.hostname);
		json_decref(p);
		goto out;
	}
	if (rc < 0) {
		perr_set(err, rc, 503, "unavailable", "database: %s", db_last_error(db));
		goto out;
	}
	struct region_power_action *a = xcalloc(1, sizeof(*a));
	ironrack__v1__power_command__init(&a->cmd);
	/* protobuf-c's init points strings at a static "": ours are owned. */
	a->cmd.action = a->cmd.boot = a->cmd.requested_by = NULL;
	rc = region_power_target(r, &m, iface, &a->target, msg, sizeof(msg));
	if (rc < 0) {
		region_power_action_free(a);
		perr_set(err, rc, 409, "conflict", "%s", msg);
		goto out;
	}
	rc = power_db_action_new(db, m.id, req->action, req->boot, req->requested_by, rack, &a->id);
	if (rc < 0) {
		region_power_action_free(a);
		perr_set(err, rc, 503, "unavailable", "database: %s", db_last_error(db));
		goto out;
	}
	a->machine_id = m.id;
	snprintf(a->hostname, sizeof(a->hostname), "%s", m.hostname);
	snprintf(a->rack, sizeof(a->rack), "%s", rack);
	snprintf(a->action, sizeof(a->action), "%s", req->action);
	a->cmd.action_id = (uint64_t)a->id;
	a->cmd.action = xstrdup(req->action);
	a->cmd.boot = xstrdup(req->boot);
	a->cmd.boot_persistent = req->boot_persistent;
	a->cmd.boot_efi = req->boot_efi;
	a->cmd.requested_by = xstrdup(req->requested_by);
	a->cmd.target = a->target;
	log_info("power: %s %s requested by %s: action %" PRId64 " through rack %s (%s)", req->action, m.hostname,
		 req->requested_by, a->id, rack, how);
	*ret = a;
	rc = 0;
out:
	power_db_machine_done(&m);
	return rc;
}

struct sent {
	struct region *r;
	int64_t machine_id, id;
	char hostname[64];
	char rack[64];
};

static void action_queued(void *arg, int status, const char *message, const Ironrack__V1__RackMessage *reply,
			  int64_t rtt_us)
{
	struct sent *s = arg;
	if (status != 0) {
		char why[512];
		snprintf(why, sizeof(why), "rack %s did not take the action: %s", s->rack,
			 status == -EREMOTEIO && message && *message ? message
			 : status == -ETIMEDOUT			     ? "no answer"
			 : status == -ECANCELED			     ? "its session ended"
								     : strerror(-status));
		log_warn("power: %s: action %" PRId64 ": %s", s->hostname, s->id, why);
		region_power_action_fail(s->r, s->machine_id, s->id, why);
	}
	free(s);
}

int region_power_action_send(struct region *r, struct region_power_action *a, char *msg, size_t msg_len)
{
	struct rack_session *sess = region_session_of_rack(r, a->rack);
	if (!sess) {
		snprintf(msg, msg_len, "rack %s disconnected before the action could be sent", a->rack);
		region_power_action_fail(r, a->machine_id, a->id, msg);
		region_power_action_free(a);
		return -ENOTCONN;
	}
	Ironrack__V1__Command cmd = IRONRACK__V1__COMMAND__INIT;
	cmd.command_case = IRONRACK__V1__COMMAND__COMMAND_POWER;
	cmd.power = &a->cmd;
	Ironrack__V1__RegionMessage m = IRONRACK__V1__REGION_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__REGION_MESSAGE__BODY_COMMAND;
	m.command = &cmd;
	struct sent *s = xcalloc(1, sizeof(*s));
	s->r = r;
	s->machine_id = a->machine_id;
	s->id = a->id;
	snprintf(s->hostname, sizeof(s->hostname), "%s", a->hostname);
	snprintf(s->rack, sizeof(s->rack), "%s", a->rack);
	region_session_request(sess, &m, POWER_SEND_TIMEOUT_MS, action_queued, s);
	region_power_action_free(a); /* packed by the send; the password is wiped here */
	return 0;
}
