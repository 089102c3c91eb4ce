/* The power driver table and what every driver shares. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rack/power/driver.h"

const struct power_driver *const power_drivers[] = {
    &power_driver_ipmi,
    &power_driver_redfish,
    &power_driver_wol,
    &power_driver_manual,
};
const size_t power_drivers_n = sizeof(power_drivers) / sizeof(power_drivers[0]);

const struct power_driver *power_driver_find(const char *name)
{
	for (size_t i = 0; name && i < power_drivers_n; i++)
		if (strcmp(power_drivers[i]->name, name) == 0)
			return power_drivers[i];
	return NULL;
}

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
