/* The manual driver: the machine has no BMC the rack can reach. An action
 * is logged and reported as needing a person; a query answers unknown. */
#include "common/log.h"
#include "rack/power/driver.h"

static void manual_start(void *ctx, struct power_op *op)
{
	op->result.state = POWER_STATE_UNKNOWN;
	if (op->action == POWER_QUERY) {
		power_result_set(&op->result, POWER_OK, "%s", "");
	} else {
		op->result.needs_person = true;
		power_result_set(&op->result, POWER_OK, "manual power control: someone must power %s machine %llu",
				 op->action == POWER_CYCLE ? "cycle" : power_action_name(op->action),
				 (unsigned long long)op->machine_id);
		log_warn("power: %s", op->result.message);
	}
	op->done(op);
}

static void manual_cancel(void *ctx, struct power_op *op)
{
	/* Never pending: manual_start completes at once. */
}

const struct power_driver power_driver_manual = {
    .name = "manual",
    .start = manual_start,
    .cancel = manual_cancel,
};
