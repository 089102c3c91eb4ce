/* The infrastructure editor model (MetalSoft, seed 000) in the database:
 * infrastructures, their staged and deployed designs (instance arrays,
 * LAN/WAN/SAN networks, connections, drives), plan / deploy / discard and
 * the resources a deploy allocates (VLAN ids, WAN blocks, instances).
 * Schema and the staged/deployed layout: migrations/0003_infra.sql.
 *
 * Errors as in db.h, and for refused input one of -EINVAL (bad value),
 * -ENOENT (a named object does not exist), -EEXIST (the name is taken),
 * -EBUSY (conflicts with the current design), -ENOSPC (a pool is
 * exhausted) with *err naming the field to blame and saying why. Every
 * call that fails leaves the database as it was.
 *
 * Ownership: rows and results returned are malloc'd and owned by the
 * caller; release them with the matching _done() function. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/net.h"
#include "region/ipam/plan.h"

struct db;

/* Limits on what an API client can make us store. */
#define INFRA_MAX	      4096 /* infrastructures */
#define INFRA_ARRAYS_MAX      64   /* instance arrays per design */
#define INFRA_NETWORKS_MAX    64   /* networks per design */
#define INFRA_INSTANCES_MAX   1024 /* instances per array */
#define INFRA_CONNECTIONS_MAX 1024 /* connections per design */
#define INFRA_PORTS_MAX	      16   /* ports per instance */
#define INFRA_PORTS_DEFAULT   2
#define INFRA_DRIVES_MAX      16 /* drives per array */
#define INFRA_DRIVE_GB_MAX    1048576
#define INFRA_WAN_POOLS_MAX   16
#define INFRA_DESCRIPTION_MAX 1024
#define INFRA_NAME_MAX	      63
/* Bounds of an instance array's requirements on its machines. */
#define INFRA_MIN_CPU_MAX  1048576
#define INFRA_MIN_SIZE_MAX 1073741824
/* A fabric's VLAN id pool when nobody configured one. */
#define INFRA_VLAN_POOL_FIRST 2000
#define INFRA_VLAN_POOL_LAST  2999

/* Why a request was refused: the API field to blame ("" for none) and a
 * sentence for a human. */
struct infra_err {
	char field[64];
	char message[1024];
};

/* ---- infrastructures ---- */

struct infra_new {
	const char *name;
	const char *description; /* NULL = "" */
	const char *zone;	 /* NULL = the default zone */
	const char *fabric;	 /* NULL = the lowest-numbered fabric */
	const struct ipprefix *wan_pools;
	size_t n_wan_pools;
};

/* A PATCH: only what is set changes. */
struct infra_update {
	const char *description; /* NULL = unchanged */
	const char *zone;	 /* NULL = unchanged */
	bool set_wan_pools;
	const struct ipprefix *wan_pools;
	size_t n_wan_pools;
};

struct infra_drive_row {
	int64_t id;
	uint32_t size_gb;
};

struct infra_instance_row {
	uint32_t index;
	char *machine; /* hostname of the bound machine, NULL when unbound */
};

struct infra_array_row {
	int64_t id;
	char *name;
	uint32_t instances;
	uint32_t ports;
	/* What its instances' machines must have (0: anything). */
	uint32_t min_cpu, min_memory_gib, min_disk_gb;
	/* The OS its machines get: an image name ("" = none, bind only), the
	 * operator's user-data and SSH keys (a JSON array of strings). */
	char *image, *user_data, *ssh_keys;
	struct infra_drive_row *drives;
	size_t n_drives;
	/* deployed design only */
	struct infra_instance_row *inst;
	size_t n_inst;
};

struct infra_block_row {
	struct ipprefix prefix;
	bool extra; /* ordered explicitly (kind 'extra'), not for instances */
};

struct infra_network_row {
	int64_t id;
	char *name;
	enum infra_net_type type;
	/* deployed design only */
	uint32_t vid; /* 0 = none */
	bool has_gateway;
	struct ipaddr gateway; /* WAN: first usable address of its first block */
	struct infra_block_row *blocks;
	size_t n_blocks;
};

struct infra_conn_row {
	int64_t array_id;
	uint32_t port;
	int64_t network_id;
	const char *array;   /* borrowed from the design's arrays */
	const char *network; /* borrowed from the design's networks */
};

struct infra_design_rows {
	struct infra_array_row *arrays;
	size_t n_arrays;
	struct infra_network_row *networks;
	size_t n_networks;
	struct infra_conn_row *conns;
	size_t n_conns;
};

struct infra_row {
	int64_t id;
	char *name;
	char *description;
	char *zone;
	char *fabric;
	struct ipprefix *wan_pools;
	size_t n_wan_pools;
	int64_t revision;   /* deploys so far */
	int64_t created_ms; /* unix ms */
	int64_t updated_ms;
	int64_t deployed_ms; /* 0 = never deployed */
	/* Filled by db_infra_get only; db_infra_list gives counts. */
	struct infra_design_rows staged, deployed;
	size_t n_staged_arrays, n_staged_networks, n_deployed_arrays, n_deployed_networks;
};

int db_infra_create(struct db *db, const struct infra_new *in, struct infra_err *err);
int db_infra_update(struct db *db, const char *name, const struct infra_update *up, struct infra_err *err);
/* Deletes the infrastructure with both designs and releases everything
 * deployed (VLAN ids, WAN blocks, instances and their machines and
 * addresses). -EBUSY with err when a machine of it is deployed (it must be
 * released first). */
int db_infra_delete(struct db *db, const char *name, struct infra_err *err);
/* All infrastructures by name, without designs. */
int db_infra_list(struct db *db, struct infra_row **ret, size_t *ret_n);
/* One infrastructure with both designs. */
int db_infra_get(struct db *db, const char *name, struct infra_row *ret);
void db_infra_row_done(struct infra_row *row);
void db_infra_rows_free(struct infra_row *rows, size_t n);

/* ---- staged edits (the deployed design does not change) ---- */

/* An instance array's staged values; for an update, NULL/0 fields keep
 * their value. */
struct infra_array_spec {
	const char *name;
	bool set_instances;
	uint32_t instances;
	bool set_ports;
	uint32_t ports;
	/* The machines' requirements (docs/deploy.md, "Infrastructures"). */
	bool set_min_cpu, set_min_memory_gib, set_min_disk_gb;
	uint32_t min_cpu, min_memory_gib, min_disk_gb;
	/* The OS (NULL = unchanged; image "" = none): an image name, the
	 * user-data, the SSH keys as a JSON array of strings. */
	const char *image, *user_data, *ssh_keys;
};

int db_infra_array_add(struct db *db, const char *infra, const struct infra_array_spec *spec, struct infra_err *err);
int db_infra_array_update(struct db *db, const char *infra, const char *array, const struct infra_array_spec *spec,
			  struct infra_err *err);
/* Removes the array, its connections and drives from the staged design. */
int db_infra_array_remove(struct db *db, const char *infra, const char *array, struct infra_err *err);

int db_infra_network_add(struct db *db, const char *infra, const char *name, enum infra_net_type type,
			 struct infra_err *err);
int db_infra_network_rename(struct db *db, const char *infra, const char *network, const char *new_name,
			    struct infra_err *err);
/* Removes the network and every connection to it from the staged design. */
int db_infra_network_remove(struct db *db, const char *infra, const char *network, struct infra_err *err);

/* Connect port (0-based) of every instance of array to network. -EEXIST
 * if already connected in the staged design. */
int db_infra_connect(struct db *db, const char *infra, const char *array, uint32_t port, const char *network,
		     struct infra_err *err);
int db_infra_disconnect(struct db *db, const char *infra, const char *array, uint32_t port, const char *network,
			struct infra_err *err);

int db_infra_drive_add(struct db *db, const char *infra, const char *array, uint32_t size_gb, int64_t *ret_id,
		       struct infra_err *err);
int db_infra_drive_remove(struct db *db, const char *infra, const char *array, int64_t drive_id, struct infra_err *err);

/* ---- plan, deploy, discard ---- */

/* One action of the planner, with names resolved. */
struct infra_action {
	enum plan_op op;
	enum plan_object object;
	char *name;		  /* array/network: its name (the new one for a rename) */
	char *old_name;		  /* CHANGE with PLAN_CHANGED_NAME: the name before */
	enum infra_net_type type; /* NETWORK */
	char *array;		  /* CONNECTION */
	uint32_t port;		  /* CONNECTION */
	char *network;		  /* CONNECTION */
	unsigned changed;	  /* CHANGE: PLAN_CHANGED_* */
	uint32_t old_instances, new_instances;
	uint32_t old_ports, new_ports;
	uint32_t old_drives, new_drives;
	uint32_t old_req[3], new_req[3]; /* array: min_cpu, min_memory_gib, min_disk_gb */
	char *old_image, *new_image;	 /* array: its image ("" = none) */
	bool san_pruned;
};

enum infra_alloc_kind {
	INFRA_ALLOC_VLAN = 0,	   /* a network took vid from its fabric's pool */
	INFRA_ALLOC_VLAN_RELEASE,  /* ... gave it back */
	INFRA_ALLOC_BLOCK_ADD,	   /* a WAN got block */
	INFRA_ALLOC_BLOCK_GROW,	   /* a WAN's block from grew to block */
	INFRA_ALLOC_BLOCK_RELEASE, /* a WAN gave block back */
	INFRA_ALLOC_BLOCK_SHRINK,  /* a WAN's block from shrank to block (its instances need fewer addresses) */
};

struct infra_alloc {
	enum infra_alloc_kind kind;
	char *network;
	uint32_t vid;
	struct ipprefix from, block;
	bool extra;
};

/* A machine bound to a new instance, or given back by an instance that
 * goes (docs/deploy.md, "Infrastructures"). */
enum infra_bind_op {
	INFRA_BIND_MACHINE = 0,
	INFRA_RELEASE_MACHINE,
};

struct infra_binding {
	enum infra_bind_op op;
	char *array;
	uint32_t index;
	char *machine; /* hostname */
	int64_t machine_id;
	/* RELEASE of a machine that is deployed: unbound by deploy, released
	 * after it commits by the machine's own release
	 * (region_machine_release_run: powered off, back to READY). */
	bool handoff;
};

/* An address a WAN gives an instance's port: a static link on its
 * machine's interface (removed: a link that goes). */
struct infra_link {
	bool removed;
	char *array;
	uint32_t index;
	uint32_t port;
	char *network;
	char *machine;
	char *interface;
	char *ip;
};

struct infra_plan_result {
	int64_t revision; /* after a deploy: the new revision; plan: the current one */
	bool applied;
	struct infra_action *actions;
	size_t n_actions;
	struct infra_alloc *allocs;
	size_t n_allocs;
	struct infra_binding *bindings;
	size_t n_bindings;
	struct infra_link *links;
	size_t n_links;
	/* Why some new instances get no machine (plan only: deploy refuses
	 * with it, -EBUSY); NULL when every one gets one. */
	char *shortage;
};

/* An image an array of the staged design names that is unknown or not
 * ready refuses plan and deploy (-EBUSY, field "image"), before anything
 * changes. */

/* The actions that deploy would apply, with the resources it would take
 * (computed in a transaction that is rolled back). */
int db_infra_plan(struct db *db, const char *infra, struct infra_plan_result *ret, struct infra_err *err);
/* In one transaction: lock the infrastructure, plan, apply, allocate and
 * release resources, bind new instances to machines and give back the
 * machines of instances that go, link their WAN addresses, record the
 * deploy. An empty plan changes nothing (applied = false). Too few
 * machines: -EBUSY with err saying what is missing, nothing changed. */
int db_infra_deploy(struct db *db, const char *infra, struct infra_plan_result *ret, struct infra_err *err);
/* staged := deployed. */
int db_infra_discard(struct db *db, const char *infra, struct infra_err *err);
void db_infra_plan_result_done(struct infra_plan_result *r);

/* ---- deploy history ---- */

struct infra_history_step {
	char *op;      /* "create", "change", "delete", "allocate", "grow", "shrink", "release" */
	char *object;  /* "network", "instance_array", "connection", "vlan", "subnet" */
	char *subject; /* a name, or "array:ethN -> network" */
	char *detail;
};

struct infra_history_row {
	int64_t revision;
	int64_t deployed_ms; /* unix ms */
	struct infra_history_step *steps;
	size_t n_steps;
};

#define INFRA_HISTORY_MAX 100

/* The last limit deploys (newest first) with the plan each applied. */
int db_infra_history(struct db *db, const char *infra, size_t limit, struct infra_history_row **ret, size_t *ret_n,
		     struct infra_err *err);
void db_infra_history_free(struct infra_history_row *rows, size_t n);

/* ---- the OS of bound machines (infra_os.c) ---- */

/* An instance whose machine is ALLOCATED to the infrastructure and whose
 * deployed array names an image: what a machine deploy needs. */
struct infra_os_job {
	char *array;
	uint32_t index;
	int64_t machine_id;
	char *machine; /* hostname */
	char *image;
	char *user_data;
	char *ssh_keys; /* JSON array of strings */
};

/* Every such instance of infra, by array and index. */
int db_infra_os_jobs(struct db *db, const char *infra, struct infra_os_job **ret, size_t *ret_n);
void db_infra_os_jobs_free(struct infra_os_job *jobs, size_t n);
/* Append a step to the history of infra's deploy of that revision (what
 * happened after it committed, such as machine deploys). */
int db_infra_history_append(struct db *db, const char *infra, int64_t revision, const char *op, const char *object,
			    const char *subject, const char *detail);

/* Order an extra block of prefix length len for a deployed WAN, now (it
 * is an allocation, not a design change). */
int db_infra_subnet_order(struct db *db, const char *infra, const char *network, unsigned len,
			  struct ipprefix *ret_block, struct infra_err *err);
/* The blocks of a deployed WAN (first primary first). */
int db_infra_subnets(struct db *db, const char *infra, const char *network, struct infra_block_row **ret, size_t *ret_n,
		     struct infra_err *err);
