/* The power driver table. */
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
