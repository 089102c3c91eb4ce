/* Machines' lifecycle and hardware in the database
 * (migrations/0008_machines.sql): states and their transitions (each
 * conditional on the state it was decided from), events, one-time tokens,
 * the inventory agents post, enlistment.
 *
 * Every function runs in a database job (region/db/pool.h) and returns
 * >= 0 or -errno: -ENOENT no such machine, -EAGAIN the machine is no
 * longer in the state the caller saw (someone else moved it), -EIO the
 * database failed (db_last_error says why). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct inventory;

struct machine_db_row {
	int64_t id;
	char hostname[64];
	char status[24];
	char previous[24];
	char power_type[16];
	char status_message[512];
	int64_t status_since_ms;
};

/* lock: FOR UPDATE (inside a transaction). */
int machine_db_get(struct db *db, int64_t id, bool lock, struct machine_db_row *ret);

/* Move machine id from status `from` to `to` (previous = from), with its
 * deadline (0 = none), message, and a "status" event "FROM → TO: event"
 * by actor. -EAGAIN when it is not in `from` any more. action_id (0 =
 * none) is the power action that drives the new state. */
int machine_db_transition(struct db *db, int64_t id, const char *from, const char *to, int64_t deadline_ms,
			  const char *message, const char *actor, const char *event, int64_t action_id);
/* The same with `to` set to the status the machine had before `from`
 * (abort): *ret_to tells which. */
int machine_db_transition_back(struct db *db, int64_t id, const char *from, const char *fallback, const char *message,
			       const char *actor, const char *event, char ret_to[24]);
int machine_db_set_action(struct db *db, int64_t id, int64_t action_id, const char *message);
int machine_db_delete(struct db *db, int64_t id, const char *from);

/* ---- tokens ---- */

/* A new token for machine id and purpose: its hash and sealed copy;
 * every earlier unused token of the machine is spent. */
int machine_db_token_new(struct db *db, int64_t id, const char *purpose, const char *hash, const uint8_t *sealed,
			 size_t sealed_len, int64_t expires_ms, int64_t *ret_token_id);
/* The row whose hash is hash: -ENOENT when none. */
struct machine_token_row;
int machine_db_token_find(struct db *db, const char *hash, struct machine_token_row *ret, int64_t *ret_token_id);
/* The sealed copy of machine id's live token for purpose (unused, not
 * expired): malloc'd; -ENOENT when none. */
int machine_db_token_sealed(struct db *db, int64_t id, const char *purpose, int64_t *ret_token_id, uint8_t **ret,
			    size_t *ret_len);
int machine_db_token_use(struct db *db, int64_t token_id);
/* Spend every unused token of machine id (abort, failure). */
int machine_db_tokens_spend(struct db *db, int64_t id);

/* ---- lookups ---- */

/* The machine one of whose interfaces has mac ("aa:bb:..."): -ENOENT. */
int machine_db_by_mac(struct db *db, const char *mac, int64_t *ret);
/* The MACs of machine id's interfaces, each 18 bytes ("aa:..\0"). */
int machine_db_macs(struct db *db, int64_t id, char (**ret)[18], size_t *ret_n);

/* ---- hardware ---- */

/* Store inv (inv_json: its normalised JSON) as machine id's hardware:
 * the summary columns, the interfaces (known MACs updated, new ones
 * added, ones no longer seen removed — except when the agent saw none of
 * them), and link the boot interface to the subnet of client_address
 * (a DHCP link) when IPAM knows one. ret_added and ret_removed count
 * interfaces. */
int machine_db_hardware_store(struct db *db, int64_t id, const struct inventory *inv, const char *inv_json,
			      const char *client_address, int *ret_added, int *ret_removed);

/* A new machine in NEW for an agent's enlistment report: hostname
 * "node-" + the boot MAC's (else the first NIC's) 12 hex digits (a
 * suffix "-2", "-3"... if taken), then its hardware as above and an
 * "status" event "enlisted by rack RACK". */
int machine_db_enlist_new(struct db *db, const struct inventory *inv, const char *inv_json, const char *client_address,
			  const char *actor, int64_t *ret_id, char ret_hostname[64]);

/* ---- clocks ---- */

struct machine_db_due {
	int64_t id;
	char hostname[64];
	char status[24];
};
/* Machines whose deadline has passed (at most limit). */
int machine_db_due(struct db *db, long limit, struct machine_db_due **ret, size_t *ret_n);

/* Machine id's hardware as stored (JSON text, malloc'd; "{}" when never
 * seen). */
int machine_db_hardware_json(struct db *db, int64_t id, char **ret);
