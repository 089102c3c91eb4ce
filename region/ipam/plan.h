/* Infrastructure deploy planner (MetalSoft infrastructure editor, seed 000).
 *
 * Edits in the infrastructure editor are *staged*; Deploy turns the staged
 * design into the deployed one. This engine computes the difference as an
 * ordered list of actions that is safe to apply one by one. Pure: plain
 * structs in, an action list out; no I/O, no globals.
 *
 * Identity: instance arrays and networks are matched between the two designs
 * by id (the database gives a staged-only object its id when it is staged). A
 * connection is the triple (array id, port, network id); it is created or
 * deleted, never changed (moving a port = disconnect + connect). The editor
 * connects a port to one network (region/db/infra_stage.c); the planner
 * still accepts a port on several, as a design deployed before that rule
 * may have it.
 *
 * SAN rule: "SAN - ... only present if drives are attached to server
 * instances". A SAN network of the staged design that is not connected to any
 * instance array with drive_count > 0 is treated as absent: it is not created,
 * or is deleted if deployed, and its staged connections are dropped. The
 * action carries san_pruned = true so the caller can say why.
 *
 * Action order (every prefix of the list is a consistent state):
 *   1. create networks           (before anything connects to them)
 *   2. create instance arrays
 *   3. change networks
 *   4. delete connections        (disconnect, before ports or networks go)
 *   5. change instance arrays    (after disconnects from removed ports,
 *                                 before connects on added ports)
 *   6. create connections        (connect)
 *   7. delete instance arrays    (their connections are gone after 4)
 *   8. delete networks           (nothing is connected after 4)
 * Within a step: ascending id; connections by (array id, port, network id).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "region/machine/alloc.h"

enum infra_net_type {
	INFRA_NET_LAN = 0, /* pure L2, no addresses allocated */
	INFRA_NET_WAN,	   /* L2 + gateway, DHCP and addresses from the infrastructure's subnet */
	INFRA_NET_SAN,	   /* storage; exists only while drives are attached */
};

/* An instance array: N identical server instances with n_ports ports each
 * (ports are numbered 0..n_ports-1). */
struct infra_array {
	int64_t id;
	const char *name; /* borrowed; compared with strcmp, NULL equals "" */
	uint32_t instance_count;
	uint32_t n_ports;
	uint32_t drive_count; /* drives attached per instance; > 0 keeps a SAN alive */
	/* What its instances' machines must have (0: anything); a change
	 * applies to instances bound from then on. */
	uint32_t min_cpu, min_memory_gib, min_disk_gb;
	/* The OS its machines get (borrowed, NULL equals ""): an image name,
	 * user-data, SSH keys as JSON; a change applies to machines not yet
	 * deployed. */
	const char *image, *user_data, *ssh_keys;
};

struct infra_network {
	int64_t id;
	const char *name; /* borrowed */
	enum infra_net_type type;
};

struct infra_connection {
	int64_t array_id;
	uint32_t port;
	int64_t network_id;
};

/* One design (deployed or staged). Borrowed; arrays in any order. */
struct infra_design {
	const struct infra_array *arrays;
	size_t n_arrays;
	const struct infra_network *networks;
	size_t n_networks;
	const struct infra_connection *conns;
	size_t n_conns;
};

enum plan_op {
	PLAN_OP_CREATE = 0,
	PLAN_OP_CHANGE,
	PLAN_OP_DELETE,
};

enum plan_object {
	PLAN_OBJ_NETWORK = 0,
	PLAN_OBJ_ARRAY,
	PLAN_OBJ_CONNECTION,
};

/* What a CHANGE changes (bit mask in plan_action.changed). */
#define PLAN_CHANGED_NAME	  (1u << 0) /* array or network */
#define PLAN_CHANGED_INSTANCES	  (1u << 1) /* array instance_count */
#define PLAN_CHANGED_PORTS	  (1u << 2) /* array n_ports */
#define PLAN_CHANGED_DRIVES	  (1u << 3) /* array drive_count */
#define PLAN_CHANGED_TYPE	  (1u << 4) /* network type (the caller may refuse it) */
#define PLAN_CHANGED_REQUIREMENTS (1u << 5) /* array min_cpu, min_memory_gib or min_disk_gb */
#define PLAN_CHANGED_OS		  (1u << 6) /* array image, user_data or ssh_keys */

struct plan_action {
	enum plan_op op;
	enum plan_object object;
	/* NETWORK/ARRAY: the object's id. CONNECTION: 0, see conn. */
	int64_t id;
	struct infra_connection conn; /* CONNECTION only */
	/* The object as deployed (DELETE, CHANGE) or as staged (CREATE, and the
	 * new values of a CHANGE). Borrowed pointers into the designs given to
	 * plan_compute(): valid while those designs are. NULL when not applicable. */
	const struct infra_array *array_old, *array_new;
	const struct infra_network *network_old, *network_new;
	unsigned changed; /* CHANGE: PLAN_CHANGED_* */
	bool san_pruned;  /* DELETE of a SAN (or of a SAN's connection) because no drives are attached */
};

/* The plan. Owns actions[]; release with plan_done(). */
struct plan {
	struct plan_action *actions;
	size_t n;
};

/* Where a design is invalid (plan_compute() returned -EINVAL). */
struct plan_error {
	bool staged; /* in the staged (true) or deployed (false) design */
	enum plan_object object;
	size_t index;	    /* index into that design's arrays/networks/conns */
	const char *reason; /* static string: "duplicate id", "unknown network", "port out of range", ... */
};

/* Compute the actions that turn deployed into staged. Validates both designs:
 * unique array ids, unique network ids, every connection names an existing
 * array and network of its own design and a port < that array's n_ports, no
 * duplicate connection. Returns 0 and fills *ret (n == 0: nothing to do),
 * or -EINVAL with *ret_err filled (ret_err may be NULL) and *ret empty.
 * On error *ret needs no plan_done() but plan_done() is harmless. */
int plan_compute(const struct infra_design *deployed, const struct infra_design *staged, struct plan *ret,
		 struct plan_error *ret_err);

void plan_done(struct plan *p);

/* Static names for logs, JSON and tables: "create", "network", "lan", ... */
const char *plan_op_name(enum plan_op op);
const char *plan_object_name(enum plan_object o);
const char *infra_net_type_name(enum infra_net_type t);

/* ---- machine binding (docs/deploy.md, "Infrastructures") ----
 *
 * Deploy binds every instance that has no machine yet to a READY machine
 * that meets its array's requirements (region/machine/alloc.h: the
 * infrastructure's zone, the array's minimums, enough interfaces for the
 * ports it connects). Instances are served in the order given (array by
 * array, by index); each gets the best-fitting machine left (alloc_pick).
 * Pure; the caller moves the machines in its transaction. */

struct plan_bind_need {
	int64_t array_id;
	const char *array; /* name, borrowed */
	uint32_t index;
	const struct alloc_filter *filter; /* borrowed; instances of one array share one */
};

/* ret_pick[i] (n_needs entries) := index into machines of need i's
 * machine, or -1 when none is left for it. Returns how many needs got
 * none. */
size_t plan_bind(const struct plan_bind_need *needs, size_t n_needs, const struct alloc_machine *machines,
		 size_t n_machines, long *ret_pick);

/* What is missing when plan_bind left needs unbound, one sentence per
 * array, "; " between them: 'instance array "web" needs 3 machines
 * in zone default with at least 1 interface; 2 READY machines match',
 * or, when no READY machine meets the array's requirements at all,
 * 'instance array "web": ' and alloc_explain()'s sentence. "" when every
 * need has a machine. */
void plan_bind_shortage(const struct plan_bind_need *needs, size_t n_needs, const long *pick,
			const struct alloc_machine *machines, size_t n_machines, char *buf, size_t len);
