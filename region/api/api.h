/* The region's REST API (libevent evhttp + jansson). The only code in the
 * region that speaks HTTP or JSON. */
#pragma once

struct region;
struct api;

/* Listen on listen ("host:port") and serve /api/v1. -errno on failure with
 * a log line saying why (e.g. address in use). */
int api_start(struct region *r, const char *listen, struct api **ret);
void api_stop(struct api *api);
