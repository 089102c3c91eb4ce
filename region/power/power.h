/* Power in the region (docs/power.md): a machine's BMC parameters as the
 * API writes them, actions sent to the rack that reaches the BMC, the
 * outcomes and polled states racks report, and the poll sets each rack
 * gets.
 *
 *   machine.c  parameters on write: merge, check (common/power_params),
 *              seal the password (region/secret.h); and a machine's
 *              PowerTarget for a rack (password opened only for that)
 *   action.c   an action: the rack, the action row, the command on the
 *              rack's session
 *   rpc.c      the session feature: PowerReport in, poll sets out
 *
 * Database work runs in jobs (region/db/pool.h); the functions marked
 * "job" take the job's connection and must not touch loop state. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironrack/v1/region.pb-c.h"

struct region;
struct db;
struct power_db_machine;

/* Lifecycle (region/main.c). */
int region_power_start(struct region *r);
void region_power_stop(struct region *r);

extern const struct region_session_feature region_power_session;

/* ---- machine.c ---- */

/* Does key belong to power (power_type, power_address, power_options,
 * power_<parameter>)? */
bool region_power_key(const char *key);

struct region_power_err {
	int status; /* HTTP */
	char code[32];
	char field[64];
	char message[512];
};

/* job: apply the power keys of body (a JSON object; others are ignored)
 * to machine id: merge with what is stored, check, and when store is set
 * seal a new password and store. -EINVAL/-ENOENT/-EIO with err filled.
 * Returns 1 when there were power keys, 0 when none. */
int region_power_machine_write(struct region *r, struct db *db, int64_t id, json_t *body, bool store,
			       struct region_power_err *err);
/* The same check without storing (before a create). */
int region_power_machine_check(json_t *body, struct region_power_err *err);

/* job: a PowerTarget for m, its password opened (caller frees with
 * region_power_target_free, which wipes it). iface: the rack interface
 * for Wake-on-LAN ("" = none known). -EINVAL with msg when the stored
 * parameters no longer check or the password cannot be opened. */
int region_power_target(struct region *r, const struct power_db_machine *m, const char *iface,
			Ironrack__V1__PowerTarget **ret, char *msg, size_t msg_len);
void region_power_target_free(Ironrack__V1__PowerTarget *t);

/* The machine JSON the API shows gets these (power_options as an object,
 * power_pass_set): job. */
int region_power_machine_json(struct db *db, int64_t id, json_t *obj);

/* ---- action.c ---- */

struct region_power_request {
	int64_t machine_id;
	char action[8]; /* on | off | cycle | query */
	char boot[8];	/* "" | pxe | disk */
	bool boot_persistent;
	bool boot_efi;
	char requested_by[128];
};

/* An action prepared in a job and sent from the loop. */
struct region_power_action;

/* job: check the machine can be acted on, pick its rack, record the
 * action (and its event), build the command. On refusal returns < 0 with
 * err (409 no power type, 503 no rack, 404 no machine). */
int region_power_action_prepare(struct region *r, struct db *db, const struct region_power_request *req,
				struct region_power_action **ret, struct region_power_err *err);
int64_t region_power_action_id(const struct region_power_action *a);
/* loop: send it to its rack (takes a). The rack's Status comes back
 * later; a refusal or a lost session fails the action in the database.
 * Returns 0, or -ENOTCONN when the rack's session is gone (the action is
 * failed in the database, msg says so). */
int region_power_action_send(struct region *r, struct region_power_action *a, char *msg, size_t msg_len);
void region_power_action_free(struct region_power_action *a);

/* ---- rpc.c ---- */

/* Power parameters changed somewhere: recompute and resend the poll sets
 * of the connected racks (debounced). */
void region_power_changed(struct region *r);
/* Fail the action id (on machine_id) with message, in a job of its own. */
void region_power_action_fail(struct region *r, int64_t machine_id, int64_t action_id, const char *message);
