/* REST API routing: match a request path against a table of patterns.
 * Pure: no I/O, no allocation, no libevent. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Methods as bits so a route can accept several and 405 can list them. */
enum api_method {
	API_GET = 1u << 0,
	API_HEAD = 1u << 1,
	API_POST = 1u << 2,
	API_PUT = 1u << 3,
	API_DELETE = 1u << 4,
	API_PATCH = 1u << 5,
	API_OPTIONS = 1u << 6,
};

#define API_MAX_PARAMS 4
/* Longest decoded path parameter (a rack id); longer never matches. */
#define API_PARAM_MAX 128
/* Longest request path we route at all. */
#define API_PATH_MAX 1024

struct api_call;
typedef void (*api_handler_fn)(struct api_call *call);

/* Where a route's handler runs (docs/architecture.md: the database never
 * stalls the loop). */
enum api_run {
	API_RUN_DEFAULT, /* by method: GET/HEAD read lane, others write lane */
	API_RUN_READ,	 /* a database job on a read lane */
	API_RUN_WRITE,	 /* a database job on the (one, ordered) write lane */
	API_RUN_LOOP,	 /* on the loop thread; must not touch the database */
};

/* One row of the routing table. pattern is a path whose "{name}" segments
 * match one non-empty segment each, e.g. "/api/v1/racks/{id}/ping". */
struct api_route {
	const char *pattern;
	unsigned methods; /* enum api_method bits; GET implies HEAD */
	api_handler_fn handler;
	bool public; /* no API key needed */
	enum api_run run;
};

struct api_match {
	const struct api_route *route; /* the first route whose path matched */
	unsigned allow;		       /* methods of every route whose path matched */
	size_t n_params;
	char params[API_MAX_PARAMS][API_PARAM_MAX + 1]; /* percent-decoded */
};

/* Find the route for method and path (the raw, still percent-encoded path
 * of the request URI; one trailing '/' is ignored).
 * 0: ret->route is the route to run.
 * -EOPNOTSUPP: the path exists but not for this method; ret->route is the
 *   first route of that path and ret->allow says which methods it has.
 * -ENOENT: no route has this path. */
int api_route_find(const struct api_route *table, size_t n, unsigned method, const char *path, struct api_match *ret);

/* Does path match pattern? Fills params (decoded, NUL-terminated) and
 * *ret_n. A segment that does not decode (bad %-escape, %00, %2F) or is
 * longer than API_PARAM_MAX does not match. */
bool api_path_match(const char *pattern, const char *path, char params[][API_PARAM_MAX + 1], size_t max, size_t *ret_n);

/* "GET" for API_GET; "?" unless exactly one known bit is set. */
const char *api_method_name(unsigned method);
/* The value of an Allow header for mask, e.g. "GET, HEAD, POST". -ENOSPC
 * if buf is too small. */
int api_allow_format(unsigned mask, char *buf, size_t len);
