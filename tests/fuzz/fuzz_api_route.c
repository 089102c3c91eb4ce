/* libFuzzer target for the REST API router (region/api/route.c): any
 * method and any request path against the region's route table, and the
 * pattern matcher and Allow header on their own.
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_api_route tests/fuzz/corpus/api_route
 *
 * The first input byte picks the method (any bit mask, also none or
 * several), the rest is the path. The table below has the patterns and
 * methods of api_routes in region/api/http.c (handlers left out). A match
 * says what the header promises: the method is the route's, parameters are
 * decoded, non-empty, at most API_PARAM_MAX bytes, with no '/' or NUL. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "region/api/route.h"
#include "tests/fuzz/fuzz.h"

static const struct api_route routes[] = {
    {.pattern = "/api/v1/version", .methods = API_GET, .public = true},
    {.pattern = "/api/v1/racks", .methods = API_GET, .public = false},
    {.pattern = "/api/v1/racks/{id}", .methods = API_GET, .public = false},
    {.pattern = "/api/v1/racks/{id}/ping", .methods = API_POST, .public = false},
    {.pattern = "/api/v1/racks/{id}/config", .methods = API_POST, .public = false},
    {.pattern = "/api/v1/racks/{id}/dhcp", .methods = API_GET, .public = false},
    {.pattern = "/api/v1/zones", .methods = API_GET | API_POST, .public = false},
    {.pattern = "/api/v1/zones/{id}", .methods = API_GET | API_PATCH | API_DELETE, .public = false},
    {.pattern = "/api/v1/fabrics", .methods = API_GET | API_POST, .public = false},
    {.pattern = "/api/v1/fabrics/{id}", .methods = API_GET | API_PATCH | API_DELETE, .public = false},
    {.pattern = "/api/v1/spaces", .methods = API_GET | API_POST, .public = false},
    {.pattern = "/api/v1/spaces/{id}", .methods = API_GET | API_PATCH | API_DELETE, .public = false},
    {.pattern = "/api/v1/vlans", .methods = API_GET | API_POST, .public = false},
    {.pattern = "/api/v1/vlans/{id}", .methods = API_GET | API_PATCH | API_DELETE, .public = false},
    {.pattern = "/api/v1/subnets", .methods = API_GET | API_POST, .public = false},
    {.pattern = "/api/v1/subnets/{id}", .methods = API_GET | API_PATCH | API_DELETE, .public = false},
    {.pattern = "/api/v1/subnets/{id}/utilisation", .methods = API_GET, .public = false},
    {.pattern = "/api/v1/subnets/{id}/next-free", .methods = API_GET, .public = false},
    {.pattern = "/api/v1/subnets/{id}/suggestions", .methods = API_GET, .public = false},
    {.pattern = "/api/v1/subnets/{id}/allocate-ip", .methods = API_POST, .public = false},
    {.pattern = "/api/v1/subnets/{id}/release-ip", .methods = API_POST, .public = false},
    {.pattern = "/api/v1/ip-ranges", .methods = API_GET | API_POST, .public = false},
    {.pattern = "/api/v1/ip-ranges/{id}", .methods = API_GET | API_PATCH | API_DELETE, .public = false},
    {.pattern = "/api/v1/static-routes", .methods = API_GET | API_POST, .public = false},
    {.pattern = "/api/v1/static-routes/{id}", .methods = API_GET | API_PATCH | API_DELETE, .public = false},
    {.pattern = "/api/v1/ip-addresses", .methods = API_GET, .public = false},
    {.pattern = "/api/v1/ip-addresses/{id}", .methods = API_GET | API_PATCH | API_DELETE, .public = false},
    {.pattern = "/api/v1/machines", .methods = API_GET | API_POST, .public = false},
    {.pattern = "/api/v1/machines/{id}", .methods = API_GET | API_PATCH | API_DELETE, .public = false},
    {.pattern = "/api/v1/machines/{id}/interfaces", .methods = API_GET | API_POST, .public = false},
    {.pattern = "/api/v1/interfaces", .methods = API_GET, .public = false},
    {.pattern = "/api/v1/interfaces/{id}", .methods = API_GET | API_PATCH | API_DELETE, .public = false},
    {.pattern = "/api/v1/interfaces/{id}/links", .methods = API_POST, .public = false},
    {.pattern = "/api/v1/interfaces/{id}/links/{link}", .methods = API_DELETE, .public = false},
    {.pattern = "/api/v1/devices", .methods = API_GET | API_POST, .public = false},
    {.pattern = "/api/v1/devices/{id}", .methods = API_GET | API_PATCH | API_DELETE, .public = false},
    {.pattern = "/api/v1/neighbours", .methods = API_GET | API_POST, .public = false},
    {.pattern = "/api/v1/neighbours/{id}", .methods = API_GET | API_DELETE, .public = false},
    {.pattern = "/api/v1/dhcp-snippets", .methods = API_GET | API_POST, .public = false},
    {.pattern = "/api/v1/dhcp-snippets/{id}", .methods = API_GET | API_PATCH | API_DELETE, .public = false},
    {.pattern = "/api/v1/dhcp-conflicts", .methods = API_GET, .public = false},
    {.pattern = "/api/v1/infrastructures", .methods = API_GET, .public = false},
    {.pattern = "/api/v1/infrastructures", .methods = API_POST, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}", .methods = API_GET, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}", .methods = API_PATCH, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}", .methods = API_DELETE, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/instance-arrays", .methods = API_POST, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/instance-arrays/{array}", .methods = API_PATCH, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/instance-arrays/{array}", .methods = API_DELETE, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/instance-arrays/{array}/drives", .methods = API_POST, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/instance-arrays/{array}/drives/{id}",
     .methods = API_DELETE,
     .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/networks", .methods = API_POST, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/networks/{net}", .methods = API_PATCH, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/networks/{net}", .methods = API_DELETE, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/networks/{net}/subnets", .methods = API_GET, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/networks/{net}/subnets", .methods = API_POST, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/connections", .methods = API_POST, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/connections/{array}/{port}/{net}",
     .methods = API_DELETE,
     .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/plan", .methods = API_POST, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/deploy", .methods = API_POST, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/discard", .methods = API_POST, .public = false},
    {.pattern = "/api/v1/infrastructures/{name}/deploys", .methods = API_GET, .public = false},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static size_t count_params(const char *pattern)
{
	size_t n = 0;

	for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{'))
		n++;
	return n;
}

static void check_params(char params[][API_PARAM_MAX + 1], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strnlen(params[i], API_PARAM_MAX + 1);
		CHECK(len >= 1 && len <= API_PARAM_MAX);
		CHECK(strchr(params[i], '/') == NULL);
	}
}

static void check_find(unsigned method, const char *path)
{
	struct api_match m;
	unsigned want = method == API_HEAD ? API_GET : method;

	int r = api_route_find(routes, N_ROUTES, method, path, &m);
	switch (r) {
	case 0:
		CHECK(m.route && (m.route->methods & want));
		CHECK(m.allow & want);
		CHECK(m.n_params == count_params(m.route->pattern));
		check_params(m.params, m.n_params);
		break;
	case -EOPNOTSUPP:
		/* allow counts HEAD for GET routes; the router itself checks
		 * the methods of the routes, so only a single method (what
		 * evhttp gives) must be absent from allow. */
		CHECK(m.route && m.allow);
		if (want && !(want & (want - 1)))
			CHECK(!(m.allow & want));
		break;
	case -ENOENT:
		CHECK(!m.route && !m.allow);
		break;
	default:
		CHECK(0);
	}
	/* One trailing '/' is ignored, nothing else about the path is. */
	if (r == 0 && strlen(path) > 1 && path[strlen(path) - 1] != '/') {
		size_t len = strlen(path);
		char *slash = malloc(len + 2);
		struct api_match m2;
		if (!slash)
			return;
		memcpy(slash, path, len);
		memcpy(slash + len, "/", 2);
		if (len + 1 <= API_PATH_MAX) {
			CHECK(api_route_find(routes, N_ROUTES, method, slash, &m2) == 0);
			CHECK(m2.route == m.route && m2.n_params == m.n_params);
		}
		free(slash);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char allow[64], small[8];

	if (size < 1)
		return 0;
	unsigned method = data[0] & 0x7f;
	char *path = malloc(size);
	if (!path)
		return 0;
	memcpy(path, data + 1, size - 1);
	path[size - 1] = '\0';

	check_find(method, path);
	for (unsigned bit = 0; bit < 7; bit++)
		check_find(1u << bit, path);

	/* The path as a pattern, matched against itself and a route. */
	char params[API_MAX_PARAMS][API_PARAM_MAX + 1];
	size_t n = 0;
	if (api_path_match(path, path, params, API_MAX_PARAMS, &n))
		check_params(params, n);
	if (api_path_match(path, routes[data[0] % N_ROUTES].pattern, params, API_MAX_PARAMS, &n))
		check_params(params, n);

	CHECK(api_method_name(method) != NULL);
	if (api_allow_format(method, allow, sizeof(allow)) == 0)
		CHECK(strlen(allow) < sizeof(allow));
	if (api_allow_format(method, small, sizeof(small)) == 0)
		CHECK(strlen(small) < sizeof(small));
	free(path);
	return 0;
}
