/* region/rpc: the only code in the region that speaks to racks. */
#pragma once

#include <stdint.h>

#include "ironrack/v1/region.pb-c.h"

struct region;
struct rpc_stream;

/* Start the gRPC server on r->conf.grpc_listen with the region's TLS. */
int region_rpc_start(struct region *r);
/* Close every session (racks reconnect elsewhere or later) and stop. */
void region_rpc_stop(struct region *r);

/* service.c: 0 (RPC_OK) if identity is an enrolled rack, else the status
 * to refuse with; logs the refusal. */
int region_rpc_check_rack(struct region *r, const char *identity, const char *peer, const char *what);

/* sessions.c */
int region_racks_new(struct region *r);
void region_racks_free(struct region *r);
void region_session_open(struct rpc_stream *s, void *server_arg);
extern const struct rpc_stream_ops region_session_ops;
