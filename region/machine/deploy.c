/* Deploy and release (docs/deploy.md): the operator's requests, checked
 * against the lifecycle and written in one transaction with what they
 * leave for the loop (a power action, boot configs racks must forget).
 * The agent's reports that move them on are step.c's. See machine.h. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "region/db/db.h"
#include "region/db/deploy_db.h"
#include "region/db/dhcp_db.h"
#include "region/db/image_db.h"
#include "region/db/machine_db.h"
#include "region/machine/machine.h"
#include "region/machine/nocloud.h"
#include "region/machine/token.h"
#include "region/region.h"
#include "region/secret.h"

int region_machine_conf_check(const char *deployed_when, char *msg, size_t msg_len)
{
	if (deployed_when && (strcmp(deployed_when, "boot") == 0 || strcmp(deployed_when, "dhcp") == 0))
		return 0;
	snprintf(msg, msg_len, "deployed_when: must be boot or dhcp, not \"%.32s\"",
		 deployed_when ? deployed_when : "");
	return -EINVAL;
}

/* A one-time token for purpose, valid a minute past deadline: its hash
 * and a sealed copy stored (every earlier live token of the machine is
 * spent). */
static int token_issue(struct region *r, struct db *db, int64_t id, const char *purpose, int64_t deadline,
		       struct region_machine_op_result *res)
{
	char token[MACHINE_TOKEN_HEX + 1], hash[65], aad[96];
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	int64_t token_id = 0;

	machine_token_new(token);
	machine_token_hash(token, hash);
	snprintf(aad, sizeof(aad), "machine:%" PRId64 ":%s_token", id, purpose);
	int rc = secret_box_seal(r->secrets, aad, token, &sealed, &sealed_len);
	explicit_bzero(token, sizeof(token));
	if (rc < 0) {
		region_machine_result_set(res, 503, "unavailable", "the region cannot seal the machine's token: %s",
					  strerror(-rc));
		return rc;
	}
	rc = machine_db_token_new(db, id, purpose, hash, sealed, sealed_len, deadline + 60000, &token_id);
	free(sealed);
	return rc < 0 ? region_machine_result_db(db, res, rc) : 0;
}

/* Power the machine up into the ephemeral environment (a BMC's cycle with
 * PXE; on for wol and manual) and make that action drive the state. */
static int power_up(struct region *r, struct db *db, const struct machine_db_row *m, const char *who, const char *doing,
		    struct region_machine_op_result *res)
{
	char msg[512];
	int64_t action = region_machine_power(r, db, m->id, m->power_type, true, who, &res->after, msg, sizeof(msg));
	if (action < 0) {
		region_machine_result_set(res, action == -EAGAIN ? 503 : 409,
					  action == -EAGAIN ? "unavailable" : "conflict",
					  "machine %s cannot be powered on to %s: %s", m->hostname, doing, msg);
		return (int)action;
	}
	if (action == 0)
		return 0;
	snprintf(msg, sizeof(msg), "powering on through its BMC to %s (power action %" PRId64 ")", doing, action);
	if (strcmp(m->power_type, "manual") == 0 || strcmp(m->power_type, "wol") == 0)
		snprintf(msg, sizeof(msg), "power action %" PRId64 " (%s) sent", action, m->power_type);
	int rc = machine_db_set_action(db, m->id, action, msg);
	return rc < 0 ? region_machine_result_db(db, res, rc) : 0;
}

/* Lock the machine and check the action against its state: 0 with *m
 * and *ret_next, else res set. */
static int machine_check(struct db *db, int64_t id, enum machine_action action, struct machine_db_row *m,
			 enum machine_state *ret_next, struct region_machine_op_result *res)
{
	enum machine_state state, previous;
	char why[256];

	int rc = machine_db_get(db, id, true, m);
	if (rc < 0)
		return region_machine_result_db(db, res, rc);
	if (machine_state_parse(m->status, &state) < 0) {
		region_machine_result_set(res, 503, "unavailable", "machine %s has an unknown status %s", m->hostname,
					  m->status);
		return -EIO;
	}
	if (machine_state_parse(m->previous, &previous) < 0)
		previous = MS_NEW;
	if (machine_lifecycle_step(state, action, previous, ret_next, why, sizeof(why)) < 0) {
		region_machine_result_set(res, 409, "state", "machine %s %s", m->hostname, why);
		return -EPERM;
	}
	return 0;
}

/* Would the seed render for the machine with this user-data and these
 * keys? A deploy that could not start is refused before it begins:
 * 0, -EINVAL with msg, or another -errno from the database. */
static int seed_check(struct db *db, const struct machine_db_row *m, const struct region_machine_deploy_req *req,
		      char *msg, size_t msg_len)
{
	struct nocloud_model model;
	struct nocloud_seed seed;
	json_t *keys = json_loads(req->ssh_keys_json, 0, NULL);
	size_t n = json_array_size(keys);
	const char **k = xcalloc(n + 1, sizeof(*k));

	for (size_t i = 0; i < n; i++)
		k[i] = json_string_value(json_array_get(keys, i));
	memset(&model, 0, sizeof(model));
	snprintf(model.instance_id, sizeof(model.instance_id), "ironrack-%" PRId64 "-0", m->id);
	snprintf(model.hostname, sizeof(model.hostname), "%s", m->hostname);
	model.user_data = req->user_data;
	model.ssh_keys = k;
	model.n_ssh_keys = n;
	int rc = nocloud_load(db, m->id, &model);
	if (rc == -E2BIG)
		snprintf(msg, msg_len, "the machine's network has more than the seed can carry");
	if (rc == 0) {
		rc = nocloud_build(&model, &seed, msg, msg_len);
		if (rc == 0)
			nocloud_seed_free(&seed);
	}
	nocloud_model_free(&model);
	free(k);
	json_decref(keys);
	return rc == -E2BIG ? -EINVAL : rc;
}

static int deploy_write(struct region *r, struct db *db, const struct region_machine_deploy_req *req,
			struct region_machine_op_result *res)
{
	struct machine_db_row m;
	struct image_row img;
	enum machine_state next;
	struct machine_timeouts t;
	char event[768];
	int number = 0;

	int rc = machine_check(db, req->id, MA_DEPLOY, &m, &next, res);
	if (rc < 0)
		return rc;
	rc = image_db_get(db, req->image, &img);
	if (rc == -ENOENT) {
		region_machine_result_set(res, 400, "invalid_argument", "no image named %s", req->image);
		snprintf(res->field, sizeof(res->field), "image");
		return rc;
	}
	if (rc < 0)
		return region_machine_result_db(db, res, rc);
	if (strcmp(img.status, "ready") != 0) {
		region_machine_result_set(res, 409, "conflict",
					  "image %s is not ready: %s, %" PRId64 " of %" PRId64
					  " bytes uploaded (ironrack images add "
					  "resumes it)",
					  img.name, img.status, img.uploaded, img.size);
		return -EPERM;
	}
	char msg[512];
	rc = seed_check(db, &m, req, msg, sizeof(msg));
	if (rc == -EINVAL) {
		region_machine_result_set(res, 400, "invalid_argument",
					  "machine %s: its NoCloud seed cannot be made: %s", m.hostname, msg);
		return rc;
	}
	if (rc < 0)
		return region_machine_result_db(db, res, rc);
	rc = deploy_db_create(db, m.id, img.id, img.name, img.sha256, req->user_data, req->ssh_keys_json, &number);
	if (rc < 0)
		return region_machine_result_db(db, res, rc);
	region_machine_timeouts(r, &t);
	int64_t deadline = machine_state_deadline(MS_DEPLOYING, clock_real_ms(), &t);
	rc = token_issue(r, db, m.id, "deploy", deadline, res);
	if (rc < 0)
		return rc;
	snprintf(event, sizeof(event), "deploy %s requested%s%.500s", img.name, req->comment[0] ? ": " : "",
		 req->comment);
	const char *waiting = m.power_type[0] ? ""
					      : "no power type: power the machine on by hand (it must boot "
						"from the network)";
	rc = machine_db_transition(db, m.id, m.status, machine_state_name(next), deadline, waiting, req->who, event, 0);
	if (rc < 0)
		return region_machine_result_db(db, res, rc);
	rc = power_up(r, db, &m, req->who, "deploy", res);
	if (rc < 0)
		return rc;
	rc = region_machine_after_macs(db, m.id, &res->after);
	if (rc < 0)
		return region_machine_result_db(db, res, rc);
	snprintf(res->new_status, sizeof(res->new_status), "%s", machine_state_name(next));
	log_info("machines: %s: deploy %s (#%d) by %s: %s → %s", m.hostname, img.name, number, req->who, m.status,
		 res->new_status);
	return 0;
}

/* Run write in a transaction; res->status 200 when it committed. */
static void run_tx(struct db *db, struct region_machine_op_result *res, int rc)
{
	if (rc < 0) {
		db_rollback(db, rc);
		region_machine_after_free(&res->after);
		return;
	}
	rc = db_commit(db);
	if (rc < 0) {
		region_machine_result_db(db, res, rc);
		region_machine_after_free(&res->after);
		return;
	}
	res->status = 200;
}

void region_machine_deploy_run(struct region *r, struct db *db, const struct region_machine_deploy_req *req,
			       struct region_machine_op_result *res)
{
	memset(res, 0, sizeof(*res));
	int rc = db_begin(db);
	if (rc < 0) {
		region_machine_result_db(db, res, rc);
		return;
	}
	run_tx(db, res, deploy_write(r, db, req, res));
}

static int release_write(struct region *r, struct db *db, const struct region_machine_release_req *req,
			 struct region_machine_op_result *res)
{
	struct machine_db_row m;
	enum machine_state next;
	struct machine_timeouts t;
	char event[768], msg[512];
	long freed = 0;

	int rc = machine_check(db, req->id, MA_RELEASE, &m, &next, res);
	if (rc < 0)
		return rc;
	rc = deploy_db_release(db, m.id, req->erase, &freed);
	if (rc == 0)
		rc = machine_db_tokens_spend(db, m.id);
	if (rc < 0)
		return region_machine_result_db(db, res, rc);
	region_machine_timeouts(r, &t);
	int64_t deadline = machine_state_deadline(MS_RELEASING, clock_real_ms(), &t);
	snprintf(event, sizeof(event), "release%s%s requested%s%.500s", req->erase[0] ? ", erase " : "", req->erase,
		 req->comment[0] ? ": " : "", req->comment);
	if (freed > 0) {
		size_t n = strlen(event);
		snprintf(event + n, sizeof(event) - n, " (%ld address%s freed)", freed, freed == 1 ? "" : "es");
	}
	if (req->erase[0]) {
		rc = token_issue(r, db, m.id, "erase", deadline, res);
		if (rc < 0)
			return rc;
		const char *waiting = m.power_type[0] ? ""
						      : "no power type: power the machine on by hand to erase its "
							"disks (it must boot from the network)";
		rc = machine_db_transition(db, m.id, m.status, machine_state_name(next), deadline, waiting, req->who,
					   event, 0);
		if (rc < 0)
			return region_machine_result_db(db, res, rc);
		rc = power_up(r, db, &m, req->who, "erase its disks", res);
		if (rc < 0)
			return rc;
		snprintf(res->new_status, sizeof(res->new_status), "%s", machine_state_name(next));
		return region_machine_after_macs(db, m.id, &res->after) < 0 ? region_machine_result_db(db, res, -EIO)
									    : 0;
	}
	rc = machine_db_transition(db, m.id, m.status, machine_state_name(next), deadline, "", req->who, event, 0);
	if (rc < 0)
		return region_machine_result_db(db, res, rc);
	int64_t action =
	    region_machine_power(r, db, m.id, m.power_type, false, req->who, &res->after, msg, sizeof(msg));
	if (action < 0) {
		region_machine_result_set(res, action == -EAGAIN ? 503 : 409,
					  action == -EAGAIN ? "unavailable" : "conflict",
					  "machine %s cannot be powered off to release it: %s", m.hostname, msg);
		return (int)action;
	}
	if (action > 0) {
		/* READY when the off is done (0010's trigger), BROKEN if it fails. */
		snprintf(msg, sizeof(msg), "powering off through its BMC (power action %" PRId64 ")", action);
		rc = machine_db_set_action(db, m.id, action, msg);
		snprintf(res->new_status, sizeof(res->new_status), "%s", machine_state_name(next));
	} else {
		/* Nothing can switch it off: released at once. */
		enum machine_state ready;
		machine_lifecycle_step(next, MA_RELEASE_DONE, next, &ready, NULL, 0);
		rc = machine_db_transition(db, m.id, machine_state_name(next), machine_state_name(ready), 0, "",
					   req->who,
					   m.power_type[0] ? "released (its power type cannot switch it off)"
							   : "released (no power type: nothing switches it off)",
					   0);
		snprintf(res->new_status, sizeof(res->new_status), "%s", machine_state_name(ready));
	}
	if (rc == 0)
		rc = region_machine_after_macs(db, m.id, &res->after);
	return rc < 0 ? region_machine_result_db(db, res, rc) : 0;
}

void region_machine_release_run(struct region *r, struct db *db, const struct region_machine_release_req *req,
				struct region_machine_op_result *res)
{
	memset(res, 0, sizeof(*res));
	int rc = db_begin(db);
	if (rc < 0) {
		region_machine_result_db(db, res, rc);
		return;
	}
	run_tx(db, res, release_write(r, db, req, res));
	if (res->status == 200)
		log_info("machines: release%s%s of machine %" PRId64 " by %s: %s", req->erase[0] ? ", erase " : "",
			 req->erase, req->id, req->who, res->new_status);
}

void region_machine_leases_seen(struct region *r, struct db *db, const char *rack_id, const struct dhcp_db_event *ev,
				size_t n)
{
	json_t *leases = NULL;

	for (size_t i = 0; i < n; i++) {
		if (ev[i].kind != DHCP_DB_GRANTED || !ev[i].mac || !ev[i].mac[0] || ev[i].result != 0)
			continue;
		if (!leases && !(leases = json_array()))
			oom_abort(0);
		json_t *o = json_pack("{s:s, s:s, s:I}", "mac", ev[i].mac, "ip", ev[i].ip, "expiry",
				      (json_int_t)ev[i].expiry_unix);
		if (!o || json_array_append_new(leases, o) < 0)
			oom_abort(0);
	}
	if (!leases)
		return;
	char *text = json_dumps(leases, JSON_COMPACT);
	json_decref(leases);
	if (!text)
		oom_abort(0);
	int rc = deploy_db_leases_seen(db, rack_id, text, r->conf.dhcp_pxe_lease_time);
	free(text);
	if (rc < 0)
		log_err("machines: leases from rack %s: cannot check deploys waiting for one: %s", rack_id,
			db_last_error(db));
	else if (rc > 0)
		log_info("machines: %d machine%s DEPLOYED: their OS took a DHCP lease through rack %s", rc,
			 rc == 1 ? "" : "s", rack_id);
}
