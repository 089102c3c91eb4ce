/* Machines in the region (docs/machines.md): the lifecycle each write
 * obeys, enlistment and commissioning through the ephemeral agent's
 * reports, the boot config a machine gets, and the clock that fails a
 * machine stuck in a timed state.
 *
 *   lifecycle.c  the transition table (pure)
 *   token.c      one-time tokens (pure but for the RNG)
 *   ops.c        an operator's action (commission, abort, mark-broken,
 *                mark-fixed, delete): checked and written in a job, its
 *                power action and boot-config change sent from the loop
 *   agent.c      the session feature: AgentReport in (enlist, commission
 *                done), the Status back
 *   clock.c      the timer that fails timed-out machines
 *   bootcfg.c    GetBootConfig's answer from a machine's state
 *   deploy.c     deploy and release (docs/deploy.md): checked and written
 *                in a job like ops.c's actions
 *   step.c       the agent's deploy and erase steps (start: the job it
 *                runs; done; failed), for agent.c
 *
 * Functions marked "job" run in a database job with its connection and
 * must not touch loop state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bootconf.h"
#include "region/machine/lifecycle.h"

struct region;
struct db;
struct region_power_action;

/* Lifecycle (region/main.c): the timeout clock. */
int region_machines_start(struct region *r);
void region_machines_stop(struct region *r);

extern const struct region_session_feature region_machine_session;

/* The timeouts of r's configuration. */
void region_machine_timeouts(const struct region *r, struct machine_timeouts *ret);

/* ---- what a transition leaves for the loop ---- */

/* Sent from the loop after the job that decided them committed: a power
 * action, and the MACs whose cached boot config every rack must drop. */
struct region_machine_after {
	struct region_power_action *power;
	char (*macs)[18];
	size_t n_macs;
};
/* loop: send and free (safe on a zeroed one). */
void region_machine_after_run(struct region *r, struct region_machine_after *a);
void region_machine_after_free(struct region_machine_after *a);
/* job: fill a->macs with machine id's MACs. */
int region_machine_after_macs(struct db *db, int64_t id, struct region_machine_after *a);
/* job: prepare a power action (off, or cycle with PXE) for machine id when
 * its power type can do it (ipmi, redfish; on for wol and manual when
 * powering up). Returns the action id (0 when none was prepared), < 0 with
 * msg when it could not be prepared. */
int64_t region_machine_power(struct region *r, struct db *db, int64_t id, const char *power_type, bool up,
			     const char *who, struct region_machine_after *a, char *msg, size_t msg_len);

/* ---- ops.c: an operator's action ---- */

struct region_machine_op {
	int64_t id;
	enum machine_action action; /* commission, abort, mark-broken, mark-fixed, delete */
	char who[128];		    /* "key admin" */
	char comment[512];
};

struct region_machine_op_result {
	int status; /* HTTP: 200, 404, 409, 503 */
	char code[32];
	char field[32]; /* the request's field the refusal is about, "" = none */
	char message[512];
	char new_status[24];
	struct region_machine_after after;
};

/* res's status, code and message (ops.c; deploy.c answers the same way). */
void region_machine_result_set(struct region_machine_op_result *res, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* res for a failed database call rc (-EAGAIN: the state changed, 409;
 * -ENOENT: 404; else 503 with the database's error); returns rc. */
int region_machine_result_db(struct db *db, struct region_machine_op_result *res, int rc);

/* job: check op against the machine's state and write it (a transaction).
 * res->status says how it went. */
void region_machine_op_run(struct region *r, struct db *db, const struct region_machine_op *op,
			   struct region_machine_op_result *res);

/* ---- deploy.c: deploy and release ---- */

struct region_machine_deploy_req {
	int64_t id;
	char who[128];
	char comment[512];
	char image[64];
	const char *user_data;	   /* borrowed; "" = none */
	const char *ssh_keys_json; /* borrowed; a JSON array of strings */
};

/* job: ALLOCATED → DEPLOYING with image (which must be ready): the
 * machine_deploy row, a deploy token, the deadline, a power cycle into the
 * ephemeral environment. res as for region_machine_op_run (400 for an
 * unknown image, 409 for one not ready or a state that refuses). */
void region_machine_deploy_run(struct region *r, struct db *db, const struct region_machine_deploy_req *req,
			       struct region_machine_op_result *res);

struct region_machine_release_req {
	int64_t id;
	char who[128];
	char comment[512];
	char erase[8]; /* "" (none), "quick", "full" */
};

/* job: ALLOCATED, DEPLOYED or FAILED_DEPLOYMENT → RELEASING: auto-mode
 * addresses freed, the deploy row dropped, the owner cleared; without
 * erase powered off (READY when the off is done, at once for a machine no
 * BMC can switch off), with erase a token and a power cycle into the
 * ephemeral environment, whose agent erases the disks. */
void region_machine_release_run(struct region *r, struct db *db, const struct region_machine_release_req *req,
				struct region_machine_op_result *res);

/* job: leases granted by rack_id (n events of an incremental lease
 * report, region/db/dhcp_db.h) make the machines DEPLOYED whose deploy
 * waits for its OS's first DHCP lease (deployed_when dhcp). Logs them;
 * a database failure is logged, not returned (the leases stand). */
struct dhcp_db_event;
void region_machine_leases_seen(struct region *r, struct db *db, const char *rack_id, const struct dhcp_db_event *ev,
				size_t n);

/* Is s a deployed_when the region knows (boot, dhcp)? msg says what is. */
int region_machine_conf_check(const char *deployed_when, char *msg, size_t msg_len);

/* ---- step.c: the agent's deploy and erase steps ---- */

struct inventory;

struct region_machine_step_res {
	int rc; /* the verdict: 0, -EACCES (token), -EPERM (state), -EINVAL, -EIO */
	char msg[512];
	char hostname[64];
	char *answer;	  /* start: the job for the agent (JSON), malloc'd */
	bool after_first; /* send after before the verdict (racks forget the boot config first) */
	struct region_machine_after after;
};

/* job, inside the caller's transaction: apply a deploy or erase report.
 * Returns < 0 when the transaction must be rolled back, 0 to commit (res->rc
 * may still refuse: a failure written with the refusal). */
int region_machine_step(struct region *r, struct db *db, const struct inventory *inv, const char *actor,
			struct region_machine_step_res *res);
void region_machine_step_res_free(struct region_machine_step_res *res);

/* ---- bootcfg.c ---- */

struct region_machine_boot {
	enum boot_purpose purpose;
	int64_t machine_id; /* 0 = unknown MAC */
	char hostname[64];
	char status[24];
	char kernel[BOOT_FIELD_MAX + 1];
	char initrd[BOOT_FIELD_MAX + 1];
	char cmdline[BOOT_FIELD_MAX + 1];
};

/* job: what mac boots: unknown or NEW → enlist; COMMISSIONING →
 * commission with its token; DEPLOYING before the agent's done → deploy
 * with its token; RELEASING with erase → erase with its token; anything
 * else → local. -EIO when the
 * database fails; a token that cannot be opened answers local and logs. */
int region_machine_boot_config(struct region *r, struct db *db, const char *mac, struct region_machine_boot *ret);

/* Pure: base (the region's enlist_cmdline) with its ironrack.purpose= and
 * ironrack.token= words replaced by purpose and token (NULL = none);
 * other words kept in order, blanks collapsed. Words that would not fit
 * in len are dropped, never cut. */
void region_machine_cmdline(const char *base, const char *purpose, const char *token, char *out, size_t len);
