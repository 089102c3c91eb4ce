/* REST handlers of the network model (region/api/net_*.c), registered in
 * the route table of http.c. Shared by the files of region/api/ only. */
#pragma once

#include "region/api/internal.h"
#include "region/db/net.h"

/* net_crud.c: every kind. The kind comes from the route's collection
 * segment ("/api/v1/subnets..." is a subnet). */
void api_net_collection(struct api_call *call); /* GET list, POST create */
void api_net_object(struct api_call *call);	/* GET, PATCH, DELETE */

/* Reply for a failed net_* call (400/404/409/503). */
void api_net_reply_err(struct api_call *call, int r, const struct net_err *err);
/* Resolve the path parameter param of call as an object of kind (a subnet
 * also as "10.0.0.0-24"). false when the 404 (or 503) is already recorded. */
bool api_net_lookup(struct api_call *call, enum net_kind kind, size_t param, int64_t *ret_id);
/* Reply with one object of kind, extra members merged in (stolen, may be
 * NULL). */
void api_net_reply_object(struct api_call *call, int status, enum net_kind kind, int64_t id, json_t *extra);
/* The list for kind, one filter fixed by the path (fixed_filter NULL: none). */
void api_net_list(struct api_call *call, enum net_kind kind, const char *fixed_filter, int64_t fixed_id);
void api_net_create(struct api_call *call, enum net_kind kind, int64_t parent);
/* Set o's "deleted_with" from net_delete_with()'s text (NULL: {}). */
void api_net_deleted_with_add(json_t *o, const char *with);

/* net_subnet.c */
void api_subnet_utilisation(struct api_call *call);
void api_subnet_next_free(struct api_call *call);
void api_subnet_suggestions(struct api_call *call);
void api_subnet_allocate_ip(struct api_call *call);
void api_subnet_release_ip(struct api_call *call);
void api_machine_interfaces(struct api_call *call);
void api_interface_link(struct api_call *call);
void api_interface_unlink(struct api_call *call);
