/* Deploy and release in the database (migrations/0010_deploy.sql,
 * docs/deploy.md): a machine's machine_deploy row (what it is deployed
 * with, how far the agent got), what a release erases, and the DHCP
 * leases that end a deploy when the region's deployed_when is dhcp.
 *
 * Every function runs in a database job (region/db/pool.h), on the
 * caller's connection and inside its transaction when it has one, and
 * returns >= 0 or -errno as region/db/machine_db.h says. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

#define DEPLOY_USER_DATA_MAX (64 * 1024) /* bytes of the operator's user-data */
#define DEPLOY_SSH_KEYS_MAX  32

/* A machine_deploy row. */
struct deploy_db_row {
	int64_t machine_id;
	int64_t image_id; /* 0 when the image was deleted since */
	char image_name[64];
	char image_sha256[65];
	char *user_data; /* malloc'd */
	char **ssh_keys; /* malloc'd, n_ssh_keys malloc'd strings */
	size_t n_ssh_keys;
	int number; /* the machine's deploy count at this deploy */
	char step[16];
	char deployed_when[8];
};
void deploy_db_row_free(struct deploy_db_row *d);

/* Write machine id's row for a new deploy (replacing an earlier one) at
 * step pending, and count the deploy on the machine. ssh_keys_json: a JSON
 * array of strings. *ret_number: the deploy's number. */
int deploy_db_create(struct db *db, int64_t id, int64_t image_id, const char *image_name, const char *image_sha256,
		     const char *user_data, const char *ssh_keys_json, int *ret_number);
/* -ENOENT when machine id has no row. */
int deploy_db_get(struct db *db, int64_t id, struct deploy_db_row *ret);
/* What GET /machines/{id} shows of the row, as JSON object text
 * (malloc'd): image, image_sha256, number, step, deployed_when, result
 * (the agent's measurements), created, updated; no user-data or keys.
 * -ENOENT when machine id has no row. */
int deploy_db_json(struct db *db, int64_t id, char **ret);
/* Set the row's step; result (JSON object text) and deployed_when when
 * not NULL. -ENOENT without a row. */
int deploy_db_step(struct db *db, int64_t id, const char *step, const char *result_json, const char *deployed_when);

/* What machine id's boot config depends on besides its status: its
 * deploy's step ("" without a row) and the release's erase mode ("",
 * "quick", "full"). */
int deploy_db_boot_state(struct db *db, int64_t id, char ret_step[16], char ret_erase[8]);

/* A release: set the erase mode ("" none), free the machine's auto-mode
 * addresses, drop its machine_deploy row, clear its owner.
 * *ret_freed: addresses freed. */
int deploy_db_release(struct db *db, int64_t id, const char *erase, long *ret_freed);
/* The status message alone (the action that drives the state stays). */
int deploy_db_message(struct db *db, int64_t id, const char *message);

/* Clear the erase mode (the release is over). */
int deploy_db_release_done(struct db *db, int64_t id);

/* DHCP leases granted (leases_json: [{"mac": M, "ip": A, "expiry": UNIX}],
 * from one incremental lease report of rack_id): machines waiting for one
 * (DEPLOYING, step rebooting, deployed_when dhcp) whose MAC took a lease
 * longer than min_lease_s (firmware PXE leases are that short) become
 * DEPLOYED. Returns how many. */
int deploy_db_leases_seen(struct db *db, const char *rack_id, const char *leases_json, long min_lease_s);
