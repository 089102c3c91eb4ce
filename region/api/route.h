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

/* ---- the request's inputs, before any handler sees them ----
 *
 * Handlers pass path parameters and query values to the database and echo
 * them in answers; bytes that are not UTF-8 came back as a database error,
 * or broke the JSON of the answer (a 500). So the router refuses them with
 * a 400 that names the parameter. */

/* Why a request was refused before its handler: the 400's field and
 * message (both valid UTF-8, the field never longer than API_PARAM_MAX). */
struct api_input_error {
	char field[API_PARAM_MAX + 1];
	char message[API_PARAM_MAX + 128];
};

/* Is s[0..len) UTF-8 as RFC 3629 has it: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequence? */
bool api_utf8_valid(const char *s, size_t len);

/* Copy s into buf (NUL-terminated, cut at a character boundary to fit),
 * each byte that is not part of valid UTF-8 written as "\xNN", so that
 * text from a request can be quoted in a JSON answer. */
void api_utf8_sanitize(const char *s, char *buf, size_t len);

/* Check the inputs a handler would get: each decoded path parameter of
 * match (named by its route's pattern), else — no route matched — the
 * decoded path as a whole ("path"), then each name and value of query
 * (NULL: none; '&'-separated, '%' and '+' decoded as evhttp does).
 * 0, or -EILSEQ with *ret saying which parameter is not UTF-8. */
int api_input_check(const struct api_match *match, const char *path, const char *query, struct api_input_error *ret);

/* Route one request the way the REST dispatcher does: api_route_find(),
 * then api_input_check(). 0, -ENOENT or -EOPNOTSUPP as api_route_find
 * (*ret_match filled), or -EILSEQ (*ret_bad filled; the match is filled
 * too, for the Allow header). Pure: the fuzz target calls exactly this. */
int api_request_route(const struct api_route *table, size_t n, unsigned method, const char *path, const char *query,
		      struct api_match *ret_match, struct api_input_error *ret_bad);

/* "GET" for API_GET; "?" unless exactly one known bit is set. */
const char *api_method_name(unsigned method);
/* The value of an Allow header for mask, e.g. "GET, HEAD, POST". -ENOSPC
 * if buf is too small. */
int api_allow_format(unsigned mask, char *buf, size_t len);
