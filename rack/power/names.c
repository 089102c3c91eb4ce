/* Names of actions and states in PowerCommand's words, and setting a
 * result: shared by the drivers, the scheduler and the shell, with no
 * driver table behind them (the engines' tests link without drivers). */
#include <stdarg.h>
#include <stdio.h>

#include "rack/power/driver.h"

const char *power_action_name(enum power_action a)
{
	switch (a) {
	case POWER_QUERY:
		return "query";
	case POWER_ON:
		return "on";
	case POWER_OFF:
		return "off";
	case POWER_CYCLE:
		return "cycle";
	}
	return "?";
}

const char *power_state_name(enum power_state s)
{
	switch (s) {
	case POWER_STATE_ON:
		return "on";
	case POWER_STATE_OFF:
		return "off";
	default:
		return "unknown";
	}
}

void power_result_set(struct power_result *r, enum power_status status, const char *fmt, ...)
{
	va_list ap;
	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}
