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

/* sessions.c */
int region_racks_new(struct region *r);
void region_racks_free(struct region *r);
void region_session_open(struct rpc_stream *s, void *server_arg);
extern const struct rpc_stream_ops region_session_ops;
