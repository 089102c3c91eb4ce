/* The agent's deploy and erase steps (docs/deploy.md, "The agent's
 * protocol"), applied inside agent.c's transaction:
 *
 *   deploy start   the job: the image (url on the rack, format, sha256,
 *                  size) and the NoCloud seed; the token is not spent
 *   deploy done    the result kept, the boot config local, a power cycle;
 *                  DEPLOYED when that is done (deployed_when boot) or at
 *                  its OS's first DHCP lease (dhcp; region/dhcp/report.c)
 *   deploy failed  FAILED_DEPLOYMENT "deploy failed at STAGE: ERROR"
 *   erase start    {"action": "erase", "mode": quick|full}
 *   erase done     READY, powered off
 *   erase failed   BROKEN "erase failed at STAGE: ERROR"
 *
 * done and failed spend the token. See machine.h. */
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
#include "common/util.h"
#include "region/db/db.h"
#include "region/db/deploy_db.h"
#include "region/db/image_db.h"
#include "region/db/machine_db.h"
#include "region/machine/machine.h"
#include "region/machine/nocloud.h"
#include "region/machine/token.h"
#include "region/power/power.h"
#include "region/region.h"

#define STEP_REPORT_EVERY_MS 5000

/* What one report is about. */
struct step {
	struct region *r;
	struct db *db;
	const struct inventory *inv;
	const char *actor;
	struct region_machine_step_res *res;
	struct machine_db_row m;
	int64_t token_id;
};

static int refuse(struct step *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct step *s, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->res->msg, sizeof(s->res->msg), fmt, ap);
	va_end(ap);
	s->res->rc = rc;
	return rc;
}

static int db_fail(struct step *s, int rc)
{
	if (rc == -EAGAIN)
		return refuse(s, -EPERM, "the machine's state changed meanwhile");
	return refuse(s, -EIO, "database: %s", db_last_error(s->db));
}

/* The token's verdict and the machine it names, locked. */
static int token_machine(struct step *s)
{
	const struct inventory *inv = s->inv;
	char hash[65], mac[MAC_STRLEN], why[256];
	struct machine_token_row row, *rowp = NULL;
	int64_t mac_machine = 0;

	if (machine_token_well_formed(inv->token)) {
		machine_token_hash(inv->token, hash);
		int rc = machine_db_token_find(s->db, hash, &row, &s->token_id);
		if (rc == 0)
			rowp = &row;
		else if (rc != -ENOENT)
			return db_fail(s, rc);
	}
	if (inv->has_boot_mac) {
		mac_format(inv->boot_mac, mac, sizeof(mac));
		int rc = machine_db_by_mac(s->db, mac, &mac_machine);
		if (rc == -ENOENT)
			mac_machine = 0;
		else if (rc < 0)
			return db_fail(s, rc);
	}
	if (machine_token_check(inv->token, inventory_purpose_name(inv->purpose), rowp, mac_machine, clock_real_ms(),
				why, sizeof(why)) != TOKEN_OK)
		return refuse(s, -EACCES, "%s", why);
	int rc = machine_db_get(s->db, row.machine_id, true, &s->m);
	if (rc < 0)
		return db_fail(s, rc);
	snprintf(s->res->hostname, sizeof(s->res->hostname), "%s", s->m.hostname);
	return 0;
}

/* done and failed use the token up. */
static int token_spend(struct step *s)
{
	int rc = machine_db_token_use(s->db, s->token_id);
	if (rc == -EAGAIN)
		return refuse(s, -EACCES, "token already used");
	return rc < 0 ? db_fail(s, rc) : 0;
}

static int set_message(struct step *s, const char *msg)
{
	int rc = deploy_db_message(s->db, s->m.id, msg);
	return rc < 0 ? db_fail(s, rc) : 0;
}

/* Move the machine by action (deploy_fail, release_done, release_fail)
 * with message, switch it off, and let racks forget its boot config. */
static int finish(struct step *s, enum machine_action action, const char *message, const char *event)
{
	enum machine_state state, next;
	char why[256], pmsg[256];

	if (machine_state_parse(s->m.status, &state) < 0 ||
	    machine_lifecycle_step(state, action, state, &next, why, sizeof(why)) < 0)
		return refuse(s, -EPERM, "machine %s %s", s->m.hostname, why);
	int rc = machine_db_transition(s->db, s->m.id, s->m.status, machine_state_name(next), 0, message, s->actor,
				       event, 0);
	if (rc == 0)
		rc = machine_db_tokens_spend(s->db, s->m.id);
	if (rc < 0)
		return db_fail(s, rc);
	if (region_machine_power(s->r, s->db, s->m.id, s->m.power_type, false, s->actor, &s->res->after, pmsg,
				 sizeof(pmsg)) < 0)
		log_warn("machines: %s is %s, but not powered off: %s", s->m.hostname, machine_state_name(next), pmsg);
	if (region_machine_after_macs(s->db, s->m.id, &s->res->after) < 0)
		return db_fail(s, -EIO);
	snprintf(s->res->msg, sizeof(s->res->msg), "%s (machine %" PRId64 "): %s", s->m.hostname, s->m.id,
		 machine_state_name(next));
	return 0;
}

/* ---- deploy ---- */

static json_t *checked(json_t *j)
{
	if (!j)
		oom_abort(0);
	return j;
}

/* The seed of the deploy d, or -EINVAL with msg (a model that cannot be
 * rendered fails the deploy at its seed). */
static int seed_build(struct step *s, const struct deploy_db_row *d, json_t **ret, char *msg, size_t msg_len)
{
	struct nocloud_model model;
	struct nocloud_seed seed;

	memset(&model, 0, sizeof(model));
	snprintf(model.instance_id, sizeof(model.instance_id), "ironrack-%" PRId64 "-%d", s->m.id, d->number);
	snprintf(model.hostname, sizeof(model.hostname), "%s", s->m.hostname);
	model.user_data = d->user_data;
	model.ssh_keys = (const char *const *)d->ssh_keys;
	model.n_ssh_keys = d->n_ssh_keys;
	int rc = nocloud_load(s->db, s->m.id, &model);
	if (rc == -E2BIG) {
		nocloud_model_free(&model);
		snprintf(msg, msg_len, "the machine's network has more than the seed can carry");
		return -EINVAL;
	}
	if (rc < 0) {
		nocloud_model_free(&model);
		return db_fail(s, rc);
	}
	rc = nocloud_build(&model, &seed, msg, msg_len);
	nocloud_model_free(&model);
	if (rc < 0)
		return -EINVAL;
	*ret = checked(json_pack("{s:s, s:s, s:s}", "meta-data", seed.meta_data, "user-data", seed.user_data,
				 "network-config", seed.network_config));
	nocloud_seed_free(&seed);
	return 0;
}

/* A deploy the region cannot go on with (its image gone, a seed it cannot
 * render) fails here, committed, and the agent is refused with why. */
static int deploy_fail_here(struct step *s, const char *stage, const char *error)
{
	char message[600];
	snprintf(message, sizeof(message), "deploy failed at %s: %.500s", stage, error);
	json_t *o = checked(json_pack("{s:s, s:s, s:s}", "stage", stage, "error", error, "by", "region"));
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	int rc = deploy_db_step(s->db, s->m.id, "failed", text, NULL);
	free(text);
	if (rc < 0)
		return db_fail(s, rc);
	rc = finish(s, MA_DEPLOY_FAIL, message, message);
	if (rc < 0)
		return rc;
	refuse(s, -EPERM, "%s", message);
	return 0; /* commit the failure, refuse the agent */
}

static int deploy_start(struct step *s, const struct deploy_db_row *d)
{
	struct image_row img;
	char msg[512];

	int rc = image_db_get(s->db, d->image_name, &img);
	if (rc < 0 && rc != -ENOENT)
		return db_fail(s, rc);
	if (rc == -ENOENT || strcmp(img.sha256, d->image_sha256) != 0 || strcmp(img.status, "ready") != 0) {
		snprintf(msg, sizeof(msg), "image %s was %s since the deploy was asked for", d->image_name,
			 rc == -ENOENT ? "deleted" : "replaced");
		return deploy_fail_here(s, "download", msg);
	}
	json_t *seed = NULL;
	rc = seed_build(s, d, &seed, msg, sizeof(msg));
	if (rc == -EINVAL)
		return deploy_fail_here(s, "seed", msg);
	if (rc < 0)
		return rc;
	char url[96];
	snprintf(url, sizeof(url), "/images/%s", img.name);
	json_t *job =
	    checked(json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:I}, s:s, s:o, s:i}", "action", "deploy", "image", "name",
			      img.name, "url", url, "format", img.format, "sha256", img.sha256, "size",
			      (json_int_t)img.size, "disk", "", "seed", seed, "report_every_ms", STEP_REPORT_EVERY_MS));
	s->res->answer = json_dumps(job, JSON_COMPACT);
	json_decref(job);
	if (!s->res->answer)
		oom_abort(0);
	if (strcmp(d->step, "pending") == 0) {
		rc = deploy_db_step(s->db, s->m.id, "started", NULL, NULL);
		if (rc < 0)
			return db_fail(s, rc);
		snprintf(msg, sizeof(msg), "writing %s (%" PRId64 " bytes, %s) to its disk", img.name, img.size,
			 img.format);
		if ((rc = set_message(s, msg)) < 0)
			return rc;
	}
	snprintf(s->res->msg, sizeof(s->res->msg), "%s (machine %" PRId64 "): deploy %s", s->m.hostname, s->m.id,
		 img.name);
	return 0;
}

/* The cycle into the machine's disk: a BMC's power cycle without a boot
 * device (the racks answer local to a network boot now); wol and manual:
 * on (the agent powers off after done). */
static int64_t power_to_disk(struct step *s, char *msg, size_t msg_len)
{
	const char *pt = s->m.power_type;
	if (strcmp(pt, "ipmi") != 0 && strcmp(pt, "redfish") != 0)
		return region_machine_power(s->r, s->db, s->m.id, pt, true, s->actor, &s->res->after, msg, msg_len);
	struct region_power_request req = {.machine_id = s->m.id};
	snprintf(req.action, sizeof(req.action), "cycle");
	snprintf(req.requested_by, sizeof(req.requested_by), "%s", s->actor);
	struct region_power_err err = {0};
	struct region_power_action *p = NULL;
	if (region_power_action_prepare(s->r, s->db, &req, &p, &err) < 0) {
		snprintf(msg, msg_len, "%s", err.message);
		return -EPERM;
	}
	region_power_action_free(s->res->after.power);
	s->res->after.power = p;
	return region_power_action_id(p);
}

static int deploy_done(struct step *s, const struct deploy_db_row *d)
{
	const struct inventory *inv = s->inv;
	char msg[512];
	int rc;

	if ((rc = token_spend(s)) < 0)
		return rc;
	json_t *j = inventory_to_json(inv);
	json_t *result = json_object_get(j, "result");
	char *text = result ? json_dumps(result, JSON_COMPACT) : xstrdup("{}");
	json_decref(j);
	if (!text)
		oom_abort(0);
	const char *when = s->r->conf.deployed_when;
	rc = deploy_db_step(s->db, s->m.id, "rebooting", text, when);
	free(text);
	if (rc < 0)
		return db_fail(s, rc);
	int64_t action = power_to_disk(s, msg, sizeof(msg));
	if (action < 0) {
		char error[600];
		snprintf(error, sizeof(error), "power cycle to boot its disk failed: %.500s", msg);
		rc = deploy_db_step(s->db, s->m.id, "failed", NULL, NULL);
		if (rc < 0)
			return db_fail(s, rc);
		rc = finish(s, MA_DEPLOY_FAIL, error, error);
		if (rc == 0)
			refuse(s, -EPERM, "%s", error);
		return rc;
	}
	snprintf(msg, sizeof(msg), "image %s written", d->image_name);
	if (inv->has_result && inv->result.disk[0]) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, " to %s", inv->result.disk);
	}
	size_t n = strlen(msg);
	if (action > 0 || strcmp(when, "dhcp") == 0) {
		snprintf(msg + n, sizeof(msg) - n, "; booting its disk%s",
			 strcmp(when, "dhcp") == 0 ? ", DEPLOYED at its OS's first DHCP lease" : "");
		rc = machine_db_set_action(s->db, s->m.id, action, msg);
		if (rc < 0)
			return db_fail(s, rc);
	} else {
		/* Nothing to wait for: no power type, and deployed_when boot. */
		snprintf(msg + n, sizeof(msg) - n, "; no power type: someone must power it on to boot its disk");
		rc = deploy_db_step(s->db, s->m.id, "deployed", NULL, NULL);
		if (rc == 0)
			rc = machine_db_transition(s->db, s->m.id, s->m.status, "DEPLOYED", 0, msg, s->actor, msg, 0);
		if (rc < 0)
			return db_fail(s, rc);
	}
	if (region_machine_after_macs(s->db, s->m.id, &s->res->after) < 0)
		return db_fail(s, -EIO);
	s->res->after_first = true;
	snprintf(s->res->msg, sizeof(s->res->msg), "%s (machine %" PRId64 "): %s", s->m.hostname, s->m.id, msg);
	return 0;
}

static int step_failed(struct step *s, enum machine_action action, const char *what)
{
	char message[600];
	int rc;

	if ((rc = token_spend(s)) < 0)
		return rc;
	snprintf(message, sizeof(message), "%s failed at %s: %s", what, s->inv->stage, s->inv->error);
	if (s->inv->purpose == INV_DEPLOY) {
		json_t *o = checked(json_pack("{s:s, s:s}", "stage", s->inv->stage, "error", s->inv->error));
		char *text = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		rc = deploy_db_step(s->db, s->m.id, "failed", text, NULL);
		free(text);
	} else {
		rc = deploy_db_release_done(s->db, s->m.id);
	}
	if (rc < 0)
		return db_fail(s, rc);
	return finish(s, action, message, message);
}

static int deploy_step(struct step *s)
{
	struct deploy_db_row d;

	if (strcmp(s->m.status, "DEPLOYING") != 0)
		return refuse(s, -EPERM, "machine %s is %s, not DEPLOYING", s->m.hostname, s->m.status);
	int rc = deploy_db_get(s->db, s->m.id, &d);
	if (rc == -ENOENT)
		return refuse(s, -EPERM, "machine %s has no deploy recorded", s->m.hostname);
	if (rc < 0)
		return db_fail(s, rc);
	if (strcmp(d.step, "pending") != 0 && strcmp(d.step, "started") != 0) {
		rc = refuse(s, -EPERM, "machine %s: the deploy is past its agent (%s)", s->m.hostname, d.step);
	} else {
		switch (s->inv->step) {
		case INV_STEP_START:
			rc = deploy_start(s, &d);
			break;
		case INV_STEP_DONE:
			rc = deploy_done(s, &d);
			break;
		default:
			rc = step_failed(s, MA_DEPLOY_FAIL, "deploy");
			break;
		}
	}
	deploy_db_row_free(&d);
	return rc;
}

/* ---- erase ---- */

static int erase_step(struct step *s)
{
	char step[16], erase[8];
	int rc = deploy_db_boot_state(s->db, s->m.id, step, erase);
	if (rc < 0)
		return db_fail(s, rc);
	if (strcmp(s->m.status, "RELEASING") != 0 || !erase[0])
		return refuse(s, -EPERM, "machine %s is %s, not RELEASING with an erase", s->m.hostname, s->m.status);
	switch (s->inv->step) {
	case INV_STEP_START: {
		json_t *job = checked(json_pack("{s:s, s:s}", "action", "erase", "mode", erase));
		s->res->answer = json_dumps(job, JSON_COMPACT);
		json_decref(job);
		if (!s->res->answer)
			oom_abort(0);
		char msg[128];
		snprintf(msg, sizeof(msg), "erasing its disks (%s)", erase);
		if ((rc = set_message(s, msg)) < 0)
			return rc;
		snprintf(s->res->msg, sizeof(s->res->msg), "%s (machine %" PRId64 "): erase %s", s->m.hostname, s->m.id,
			 erase);
		return 0;
	}
	case INV_STEP_DONE:
		if ((rc = token_spend(s)) < 0)
			return rc;
		if ((rc = deploy_db_release_done(s->db, s->m.id)) < 0)
			return db_fail(s, rc);
		char event[96];
		snprintf(event, sizeof(event), "released: disks erased (%s)", erase);
		return finish(s, MA_RELEASE_DONE, "", event);
	default:
		return step_failed(s, MA_RELEASE_FAIL, "erase");
	}
}

int region_machine_step(struct region *r, struct db *db, const struct inventory *inv, const char *actor,
			struct region_machine_step_res *res)
{
	struct step s = {.r = r, .db = db, .inv = inv, .actor = actor, .res = res};

	memset(res, 0, sizeof(*res));
	int rc = token_machine(&s);
	if (rc < 0)
		return rc;
	rc = inv->purpose == INV_DEPLOY ? deploy_step(&s) : erase_step(&s);
	if (rc < 0) {
		free(res->answer);
		res->answer = NULL;
		region_machine_after_free(&res->after);
		if (res->rc == 0)
			refuse(&s, rc, "%s", strerror(-rc));
	}
	return rc;
}

void region_machine_step_res_free(struct region_machine_step_res *res)
{
	free(res->answer);
	res->answer = NULL;
	region_machine_after_free(&res->after);
}
