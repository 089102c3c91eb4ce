/* REST handlers for machines' lifecycle (region/api/machines.c). */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct api_call;

/* POST /machines/{id}/commission|abort|mark-broken|mark-fixed */
void api_machine_op(struct api_call *call);
/* DELETE /machines/{id}: checked against the machine's state. */
void api_machine_delete(struct api_call *call, int64_t id);
/* GET /machines/{id}: the recorded object gets "hardware" and "deploy". */
void api_machine_details_add(struct api_call *call, int64_t id);

/* POST /machines/allocate (region/api/machines_alloc.c) */
struct alloc_filter;
struct api_fail;
void api_machines_allocate(struct api_call *call);
/* Its body (NULL: no body) as a filter and the comment: -EINVAL with fail
 * filled for an unknown member or a bad value. */
int api_alloc_body_parse(const json_t *body, struct alloc_filter *f, char *comment, size_t comment_len,
			 struct api_fail *fail);
