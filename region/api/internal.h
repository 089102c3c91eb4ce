/* Shared by the files of region/api/ only: the server object, one request
 * being handled, reply helpers and requests that wait for a rack. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "region/api/route.h"

struct evkeyvalq;

struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;
struct evhttp_connection;
struct region;
struct api_pending;

/* Requests waiting on a rack at once; more get 503 "busy". Each holds a
 * connection and a small struct until the rack answers or times out. */
#define API_MAX_PENDING 256
/* Longest header block a client may send (the Authorization header is
 * the only large one we expect). */
#define API_MAX_HEADERS_BYTES (16 * 1024)
/* Seconds a client may take to send its request (or read our reply). */
#define API_IO_TIMEOUT_S       30
#define API_DEFAULT_BODY_BYTES (1024 * 1024)

struct api {
	struct region *r;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct api_pending *pending; /* list of requests waiting on a rack */
	size_t n_pending;
};

/* One request on its way through the router; lives on the stack of the
 * evhttp callback. A handler must reply before returning or hand the
 * request to an api_pending. */
struct api_call {
	struct api *api;
	struct region *r;
	struct evhttp_request *req;
	unsigned method;
	const struct api_match *match;
};

/* http.c */
/* Send body (stolen; NULL sends 500) as the reply with status. */
void api_reply_json(struct evhttp_request *req, int status, json_t *body);
/* Send {"error":{...}}. field may be NULL. */
void api_reply_error(struct evhttp_request *req, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Parse a query string into kv (evhttp_clear_headers() it afterwards);
 * a malformed one is answered 400 here and -EINVAL returned, kv empty. */
int api_query_parse(struct api_call *call, const char *query, struct evkeyvalq *kv);
/* 503 for a failed database call, logging the database's own message. */
void api_reply_db_error(struct api_call *call, int err);
/* Parse the request body as JSON. On failure the reply (400) is already
 * sent and -EBADMSG (or -ENOMEM) returned. *ret is owned by the caller. */
int api_body_json(struct api_call *call, json_t **ret);
/* Query parameter name as an integer in [min, max], def when absent. On
 * failure the 400 is already sent and -EINVAL returned. */
int api_query_long(struct api_call *call, const char *name, long def, long min, long max, long *ret);

/* racks.c */
void api_racks_list(struct api_call *call);
void api_rack_get(struct api_call *call);
void api_rack_ping(struct api_call *call);
void api_rack_config(struct api_call *call);

/* pending.c: a request parked while a rack works on it. The HTTP client may
 * go away meanwhile and the API may stop; the region callback still fires
 * exactly once and must then find out which of those happened. */
struct api_pending {
	struct api *api;	    /* NULL once the API has stopped */
	struct evhttp_request *req; /* NULL once the client has gone */
	struct evhttp_connection *evcon;
	struct api_pending *prev, *next;
	char subject[API_PARAM_MAX + 1]; /* the rack id, for the reply */
	long timeout_ms;
};

/* Park call's request. NULL when too many are parked (503 already sent). */
struct api_pending *api_pending_start(struct api_call *call, const char *subject, long timeout_ms);
/* Unpark: the request to reply to, or NULL if nobody is listening any
 * more. Call exactly once, from the region callback. */
struct evhttp_request *api_pending_release(struct api_pending *p);
void api_pending_free(struct api_pending *p);
/* API shutdown: forget every parked request (evhttp_free frees them). */
void api_pending_abandon_all(struct api *api);
