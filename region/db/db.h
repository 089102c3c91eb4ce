/* All SQL the region speaks lives in region/db/. This is its interface.
 * Every query is parameterised (PQexecParams). Functions return >= 0 on
 * success, -ENOENT when a row is missing, -EIO for a database failure (the
 * message is logged at debug and kept in db_last_error), -EINVAL for a
 * value PostgreSQL rejects (bad JSON, MAC, address, VLAN), -EEXIST for a
 * duplicate. A lost connection is re-established once before -EIO.
 * One struct db is one connection: not for use by two threads at once.
 * While the region's loop runs, these run on region/db/pool.h's workers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/* Connect and run migrations. err explains a failure (a newer schema than
 * this binary knows is a clear refusal). */
int db_open(const char *dsn, struct db **ret, char *err, size_t errlen);
/* Connect without touching the schema (pool workers, after db_open has
 * migrated it), giving up on an unreachable server after
 * connect_timeout_s. */
int db_connect(const char *dsn, int connect_timeout_s, struct db **ret, char *err, size_t errlen);
void db_close(struct db *db);
const char *db_last_error(const struct db *db);
/* Schema version the database is at. */
int db_schema_version(struct db *db);

/* A transaction inside one job (never across jobs). db_rollback returns
 * r, for "return db_rollback(db, r);". */
int db_begin(struct db *db);
int db_commit(struct db *db);
int db_rollback(struct db *db, int r);

/* Limits for db_rack_register (-EINVAL beyond them). */
#define DB_RACK_IFACES_MAX    1024
#define DB_RACK_ADDRESSES_MAX 256

struct rack_iface {
	char *name;
	char *mac;	  /* "" = unknown */
	char **addresses; /* CIDR text, "10.0.0.5/24" (always with /len) */
	size_t n_addresses;
	uint32_t vlan;
};

struct rack_row {
	char *id;
	char *hostname;
	char *version; /* "" until registered */
	char *cert_fingerprint;
	int64_t enrolled_ms;   /* unix ms */
	int64_t registered_ms; /* 0 = never */
	int64_t last_seen_ms;  /* 0 = never */
	bool connected;
	char *connected_region;	       /* "" when not connected */
	uint64_t config_version;       /* latest config version stored, 0 none */
	uint64_t acked_config_version; /* latest version the rack acknowledged */
	struct rack_iface *ifaces;
	size_t n_ifaces;
};

/* Record a newly enrolled rack (id is also its certificate CN). */
int db_rack_enrol(struct db *db, const char *id, const char *hostname, const char *cert_serial,
		  const char *cert_fingerprint);
/* 1 if the rack exists, 0 if not, -EIO. */
int db_rack_exists(struct db *db, const char *id);
/* Remove a rack with its interfaces and config snapshots; -ENOENT. */
int db_rack_delete(struct db *db, const char *id);
/* Store hostname, version and replace the interface list; sets registered. */
int db_rack_register(struct db *db, const char *id, const char *hostname, const char *version,
		     const struct rack_iface *ifaces, size_t n);
/* last_seen = now(); connected flag and the region holding the session.
 * A disconnect (connected false) only clears the session if region_name
 * still holds it, so a late disconnect cannot undo a newer connection. */
int db_rack_seen(struct db *db, const char *id, bool connected, const char *region_name);
/* Mark every rack this region held as disconnected (region start-up). */
int db_racks_disconnect_region(struct db *db, const char *region_name);

int db_rack_list(struct db *db, struct rack_row **ret, size_t *ret_n);
int db_rack_get(struct db *db, const char *id, struct rack_row *ret);
void db_rack_row_done(struct rack_row *row);
void db_rack_rows_free(struct rack_row *rows, size_t n);

/* Store a new config snapshot for a rack; its version is one more than the
 * rack's previous one. settings_json must be a JSON object of string
 * values (-EINVAL otherwise); -ENOENT if the rack does not exist. The
 * boot configs are the previous version's. */
int db_rack_config_put(struct db *db, const char *rack_id, const char *settings_json, uint64_t *ret_version);
/* The same with the snapshot's boot configs (a JSON array, checked by the
 * caller; the jsonb type only makes sure it is an array); NULL keeps the
 * previous version's. *ret_boot_configs_json (if not NULL; malloc'd): the
 * boot configs stored. */
int db_rack_config_put_boot(struct db *db, const char *rack_id, const char *settings_json,
			    const char *boot_configs_json, uint64_t *ret_version, char **ret_boot_configs_json);
/* Latest snapshot: -ENOENT if none. *ret_settings_json is malloc'd. */
int db_rack_config_get(struct db *db, const char *rack_id, uint64_t *ret_version, char **ret_settings_json);
/* The same with its boot configs (JSON array text, malloc'd) when
 * ret_boot_configs_json is not NULL. */
int db_rack_config_get_boot(struct db *db, const char *rack_id, uint64_t *ret_version, char **ret_settings_json,
			    char **ret_boot_configs_json);
/* One snapshot with everything it holds. */
struct rack_config_row {
	uint64_t version;
	char *settings_json;	 /* JSON object of strings */
	char *boot_configs_json; /* JSON array */
	uint8_t *dhcp;		 /* packed ironrack.v1.DhcpConfig; dhcp_len 0 = none */
	size_t dhcp_len;
};
/* Snapshot version of a rack (0 = the latest); -ENOENT if none. Every
 * put above carries the previous snapshot's DHCP config over unchanged. */
int db_rack_config_get_full(struct db *db, const char *rack_id, uint64_t version, struct rack_config_row *ret);
void db_rack_config_row_done(struct rack_config_row *row);
/* Store a new snapshot with this DHCP config and the latest snapshot's
 * settings and boot configs, unless the latest already holds exactly these
 * bytes (no snapshot counts as an empty DHCP config): 1 stored (version in
 * *ret_version), 0 unchanged, -ENOENT no such rack. */
int db_rack_config_put_dhcp(struct db *db, const char *rack_id, const uint8_t *dhcp, size_t len, uint64_t *ret_version);
/* Record the rack's acknowledgement; the stored version never decreases. */
int db_rack_config_acked(struct db *db, const char *rack_id, uint64_t version);

/* API keys: only a SHA-256 of the key is stored. The plaintext key
 * ("irk_" + 40 hex) is returned once, malloc'd. */
int db_apikey_create(struct db *db, const char *name, char **ret_key);
/* 0 if key is valid (and last_used is updated, to the minute), -EACCES
 * if not. */
/* ret_name (may be NULL): the key's name when it is good. */
int db_apikey_check(struct db *db, const char *key, char *ret_name, size_t name_len);
int db_apikey_count(struct db *db, long *ret);
/* Delete every key named name (*ret_n of them); -ENOENT if none. A region
 * that cached one stops accepting it within API_AUTH_FRESH_MS plus one
 * check (region/api/auth.c). */
int db_apikey_revoke(struct db *db, const char *name, long *ret_n);
