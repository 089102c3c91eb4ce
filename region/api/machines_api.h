/* REST handlers for machines' lifecycle (region/api/machines.c). */
#pragma once

#include <stdint.h>

struct api_call;

/* POST /machines/{id}/commission|abort|mark-broken|mark-fixed */
void api_machine_op(struct api_call *call);
/* DELETE /machines/{id}: checked against the machine's state. */
void api_machine_delete(struct api_call *call, int64_t id);
/* GET /machines/{id}: the recorded object gets "hardware". */
void api_machine_hardware_add(struct api_call *call, int64_t id);
