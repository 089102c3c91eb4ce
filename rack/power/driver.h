/* The power driver interface: one table row per way of reaching a BMC
 * (rack/power/ipmi.c, redfish.c, wol.c, manual.c), nginx-style.
 *
 * A driver acts on one machine at a time per call. The shell
 * (rack/power/service.c) decides what runs when (rack/power/sched.h:
 * one action at a time per machine, a rack-wide limit, timeouts,
 * retries) and calls the driver in one of two ways:
 *
 *   - run:   blocking (libfreeipmi). Called on a worker thread with a
 *            private copy of everything it needs; must return by
 *            op->deadline_us (pass the remaining time to the library as
 *            its timeout). Touches nothing but op.
 *   - start: asynchronous (Redfish on libcurl multi + libevent, WoL).
 *            Called on the loop; completes later, or before returning, by
 *            calling op->done(op). cancel (on the loop) asks it to stop
 *            early; it still calls op->done, once.
 *
 * Exactly one of run/start is set. A driver reports what the BMC said in
 * op->result.message: "BMC 10.0.0.5: password invalid" beats "error 13". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/power_params.h"

struct event_base;

enum power_action { POWER_QUERY, POWER_ON, POWER_OFF, POWER_CYCLE };
enum power_state { POWER_STATE_UNKNOWN, POWER_STATE_ON, POWER_STATE_OFF };
enum power_boot_dev { POWER_BOOT_KEEP, POWER_BOOT_PXE, POWER_BOOT_DISK };

/* How a call ended. TRANSIENT: worth retrying (the BMC was busy, dropped
 * the session, a connection was reset); FAIL: retrying will not help
 * (bad password, unsupported action); TIMEOUT: no answer by the deadline. */
enum power_status { POWER_OK, POWER_FAIL, POWER_TRANSIENT, POWER_TIMEOUT, POWER_CANCELLED };

struct power_boot {
	enum power_boot_dev dev; /* KEEP: do not touch the boot device */
	bool persistent;	 /* false: the next boot only */
	bool efi;
};

struct power_result {
	enum power_status status;
	enum power_state state; /* query: the answer; on/off: the state reached, when known */
	bool needs_person;	/* manual: nothing was done, a person must */
	char message[512];	/* "" when OK; else what failed, naming the BMC */
};

struct power_driver;

/* One call into a driver. The shell owns it; the driver owns driver_state
 * between start and done. */
struct power_op {
	uint64_t machine_id;
	const struct power_driver *driver;
	struct power_params params; /* decoded, owned by the op */
	enum power_action action;
	struct power_boot boot; /* applied before ON and CYCLE when dev != KEEP */
	int64_t deadline_us;	/* clock_mono_us() by which the call must end */
	/* The network namespace the BMC network is reached from (the rack's
	 * netns key, rack/netns.h), or -1 for the rack's own. Sockets are made
	 * there: async drivers through netns_socket (curl:
	 * CURLOPT_OPENSOCKETFUNCTION), blocking ones by entering it on their
	 * worker thread (setns changes only that thread) before the library
	 * opens its socket. Owned by the shell; never closed by a driver. */
	int nsfd;
	struct power_result result;

	/* async drivers only */
	void (*done)(struct power_op *op);
	void *driver_state;
	void *owner; /* the shell's */
};

struct power_driver {
	const char *name; /* "ipmi", "redfish", "wol", "manual": PowerTarget.driver */
	/* Process-wide set-up on the loop (Redfish: the curl multi handle);
	 * NULL: none. *ret_ctx is passed back to start/cancel as ctx. */
	int (*init)(struct event_base *base, void **ret_ctx);
	void (*fini)(void *ctx);
	void (*run)(struct power_op *op);
	void (*start)(void *ctx, struct power_op *op);
	void (*cancel)(void *ctx, struct power_op *op);
};

/* rack/power/drivers.c: every driver, and lookup by name (NULL: none). */
extern const struct power_driver *const power_drivers[];
extern const size_t power_drivers_n;
const struct power_driver *power_driver_find(const char *name);

extern const struct power_driver power_driver_ipmi;
extern const struct power_driver power_driver_redfish;
extern const struct power_driver power_driver_wol;
extern const struct power_driver power_driver_manual;

const char *power_action_name(enum power_action a);
const char *power_state_name(enum power_state s);
/* Set op->result (status, printf-style message). */
void power_result_set(struct power_result *r, enum power_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
