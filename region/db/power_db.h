/* Power in the database (migrations/0007_power.sql): a machine's driver,
 * parameters and sealed password; which rack reaches its BMC; actions and
 * their outcomes; the power state racks report; the machine's events.
 *
 * Every function runs in a database job (region/db/pool.h) and returns
 * >= 0 or -errno: -ENOENT no such machine/action, -EIO the database
 * failed (db_last_error says why). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

struct power_db_machine {
	int64_t id;
	char hostname[64];
	char type[16];	   /* "" = none */
	char *params_json; /* {"address": ..., "user": ..., "options": {...}} */
	uint8_t *secret;   /* sealed password, NULL = none */
	size_t secret_len;
	char state[16];
	char mac[18]; /* the machine's first interface, "" if none (Wake-on-LAN's default) */
};
void power_db_machine_done(struct power_db_machine *m);

/* lock: SELECT ... FOR UPDATE (inside a transaction). */
int power_db_machine_get(struct db *db, int64_t id, bool lock, struct power_db_machine *ret);
/* Store type and params; secret NULL with set_secret clears the password,
 * set_secret false leaves it. */
int power_db_params_set(struct db *db, int64_t id, const char *type, const char *params_json, const uint8_t *secret,
			size_t secret_len, bool set_secret);

/* The rack that acts on machine id (power_rack_for in SQL). -ENOENT when
 * no connected rack of region_name does. iface/how may be "" */
int power_db_rack_for(struct db *db, int64_t id, const char *region_name, char rack[64], char iface[32], char how[160]);

/* A new pending action, and its "power.requested" event. */
int power_db_action_new(struct db *db, int64_t machine_id, const char *action, const char *boot,
			const char *requested_by, const char *rack_id, int64_t *ret_id);
/* An action's outcome: the action row, an event, and (when the state is
 * known) the machine's power state. -ENOENT: no pending action with that
 * id on that machine (already finished: a repeated report); -EACCES: the
 * action was asked of another rack than rack_id (NULL: any rack, for the
 * region's own verdicts). */
int power_db_action_finish(struct db *db, int64_t machine_id, int64_t action_id, const char *rack_id, bool ok,
			   const char *state, const char *message, bool needs_person);
/* Fail every action still pending on rack_id (its session ended). Returns
 * how many. */
int power_db_actions_fail_rack(struct db *db, const char *rack_id, const char *message);
/* A polled state from the rack that polls the machine (its power_rack_id):
 * stored; a change of state or error also becomes a "power.state" event.
 * Returns 1 when it changed, 0 when not; -ENOENT: no such machine;
 * -EACCES: another rack polls it (nothing changed). */
int power_db_state_set(struct db *db, int64_t machine_id, const char *state, const char *error, const char *rack_id);

/* JSON documents for the API (text, to json_loads; free()). */
int power_db_action_json(struct db *db, int64_t machine_id, int64_t action_id, char **ret);
int power_db_power_json(struct db *db, int64_t machine_id, char **ret);
int power_db_events_json(struct db *db, int64_t machine_id, int64_t after, long limit, char **ret);

/* The machines rack_id polls: every machine with an ipmi or redfish BMC
 * whose rack (power_rack_for) is rack_id, in hostname order; their
 * power_rack_id is set to rack_id. Free with power_db_machines_free. */
int power_db_poll_machines(struct db *db, const char *rack_id, const char *region_name, struct power_db_machine **ret,
			   size_t *ret_n);
void power_db_machines_free(struct power_db_machine *m, size_t n);
/* The racks connected to region_name (ids, 64 bytes each; free()). */
int power_db_connected_racks(struct db *db, const char *region_name, char (**ret)[64], size_t *ret_n);
