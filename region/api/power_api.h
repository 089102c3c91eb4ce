/* REST handlers for power (region/api/power.c). */
#pragma once

struct api_call;

void api_machines(struct api_call *call);	      /* GET list, POST create (power_* included) */
void api_machine(struct api_call *call);	      /* GET, PATCH (power_* included), DELETE */
void api_machine_power(struct api_call *call);	      /* GET state, POST action */
void api_machine_power_action(struct api_call *call); /* GET one action */
void api_machine_events(struct api_call *call);	      /* GET events */
