/* The region's REST API (libevent evhttp + jansson). The only code in the
 * region that speaks HTTP or JSON. */
#pragma once

#include <stdbool.h>

struct region;
struct api;

/* Listen on listen ("host:port") and serve /api/v1. -errno on failure with
 * a log line saying why (e.g. address in use). */
int api_start(struct region *r, const char *listen, struct api **ret);
void api_stop(struct api *api);
/* Does the API serve HTTPS (http_tls, region/api/https.h)? */
bool api_is_https(const struct api *api);
