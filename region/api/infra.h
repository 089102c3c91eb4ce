/* /api/v1/infrastructures: the infrastructure editor (MetalSoft, seed 000).
 * Handlers (infra.c) and the JSON codec they use (infra_json.c, pure: no
 * I/O, no libevent; every json_t returned is a new reference). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "region/api/codec.h"
#include "region/db/infra.h"

struct api_call;

/* ---- handlers (infra.c) ---- */
void api_infra_list(struct api_call *call);
void api_infra_create(struct api_call *call);
void api_infra_get(struct api_call *call);
void api_infra_update(struct api_call *call);
void api_infra_delete(struct api_call *call);
void api_infra_array_add(struct api_call *call);
void api_infra_array_update(struct api_call *call);
void api_infra_array_remove(struct api_call *call);
void api_infra_drive_add(struct api_call *call);
void api_infra_drive_remove(struct api_call *call);
void api_infra_network_add(struct api_call *call);
void api_infra_network_update(struct api_call *call);
void api_infra_network_remove(struct api_call *call);
void api_infra_connect(struct api_call *call);
void api_infra_disconnect(struct api_call *call);
void api_infra_plan(struct api_call *call);
void api_infra_deploy(struct api_call *call);
void api_infra_discard(struct api_call *call);
void api_infra_history(struct api_call *call);
void api_infra_subnets_list(struct api_call *call);
void api_infra_subnet_order(struct api_call *call);

/* ---- codec (infra_json.c) ---- */

/* A port as the API accepts it: 0-based index (integer or decimal text) or
 * its name "ethN". -EINVAL otherwise. */
int api_infra_port_parse(const json_t *v, uint32_t *ret);
int api_infra_port_text_parse(const char *s, uint32_t *ret);

/* Request bodies. Unknown members, wrong types and out-of-range values
 * are refused (-EINVAL, fail names the field). Strings returned borrow
 * from body; *ret_pools is malloc'd (free it). */
int api_infra_new_parse(const json_t *body, struct infra_new *ret, struct ipprefix **ret_pools, struct api_fail *fail);
int api_infra_update_parse(const json_t *body, struct infra_update *ret, struct ipprefix **ret_pools,
			   struct api_fail *fail);
int api_infra_array_parse(const json_t *body, bool create, struct infra_array_spec *ret, struct api_fail *fail);
/* The body's ssh_keys (checked by api_infra_array_parse) as compact JSON,
 * malloc'd; NULL when the body has none. */
char *api_infra_array_keys_dump(const json_t *body);
int api_infra_network_parse(const json_t *body, bool create, const char **ret_name, enum infra_net_type *ret_type,
			    struct api_fail *fail);
int api_infra_conn_parse(const json_t *body, const char **ret_array, uint32_t *ret_port, const char **ret_network,
			 struct api_fail *fail);
int api_infra_drive_parse(const json_t *body, uint32_t *ret_size_gb, struct api_fail *fail);
int api_infra_order_parse(const json_t *body, unsigned *ret_len, struct api_fail *fail);

/* Replies. NULL only when out of memory. */
json_t *api_infra_json(const struct infra_row *row, bool with_designs);
json_t *api_infra_plan_json(const char *infra, const struct infra_plan_result *r);
json_t *api_infra_block_json(const struct infra_block_row *b);
json_t *api_infra_history_json(const char *infra, const struct infra_history_row *rows, size_t n);
