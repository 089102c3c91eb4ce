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
 * connection and a small struct until the rack answers or times out.
 * Requests waiting on the database are bounded by its pool's queues. */
#define API_MAX_PENDING 256
/* Longest header block a client may send (the Authorization header is
 * the only large one we expect). */
#define API_MAX_HEADERS_BYTES (16 * 1024)
/* Seconds a client may take to send its request (or read our reply). */
#define API_IO_TIMEOUT_S       30
#define API_DEFAULT_BODY_BYTES (1024 * 1024)

struct api_auth_cache;
struct httpguard;
struct ssl_ctx_st;

struct api {
	struct region *r;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct api_pending *pending; /* parked requests (database jobs, racks) */
	size_t n_pending;	     /* of those, the ones waiting on a rack */
	struct api_auth_cache *auth; /* auth.c */
	struct httpguard *guard;     /* common/httpguard.h */
	struct ssl_ctx_st *tls;	     /* HTTPS (region/api/https.h); NULL = plain HTTP */
};

struct api_call;
/* A handler's second step, on the loop thread after its database job: it
 * may reply, or park the request on a rack (api_pending_start). */
typedef void (*api_then_fn)(struct api_call *call);

/* One request on its way through the router. Allocated by the dispatcher
 * and freed once the reply is sent. A handler reads its inputs from here
 * (never from the evhttp request, which belongs to the loop) and records
 * its reply with api_reply_json/api_reply_error; the dispatcher sends it.
 * A handler that ran as a database job may instead set then (and state)
 * to continue on the loop. */
struct api_call {
	struct api *api;
	struct region *r;
	/* The evhttp request: only while on the loop thread (NULL in a
	 * database job, and NULL once the client has gone). */
	struct evhttp_request *req;
	struct db *db; /* in a database job: that worker's connection */
	unsigned method;
	const struct api_match *match; /* points at m */
	struct api_match m;
	char *query; /* raw query string, NULL if none */
	char *body;  /* request body (NUL-terminated copy), NULL if empty */
	size_t body_len;
	char peer[64]; /* client address, for logs */
	char who[128]; /* who asks, for records: "key NAME" once known, else "" */
	/* The reply: status 0 until recorded. */
	int status;
	json_t *reply;
	unsigned retry_after_s; /* Retry-After on a 503, 0 = none */
	char db_error[256];	/* the database's message behind a 503 */
	api_then_fn then;
	void *state; /* for then; freed with state_free */
	void (*state_free)(void *state);
	struct api_pending *parked; /* while a database job runs */
};

/* reply.c: recording a reply in the call (any thread) */
/* Record body (stolen; NULL records a 500) as the reply with status. */
void api_reply_json(struct api_call *call, int status, json_t *body);
/* Record {"error":{...}}. field may be NULL. */
void api_reply_error(struct api_call *call, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* 503 for a failed database call (or a database that is down), with the
 * database's own message in the log. */
void api_reply_db_error(struct api_call *call, int err);
/* Take the recorded reply back out of call (a handler that sends it later,
 * from its then step): *ret_obj is owned by the caller; call has no reply
 * recorded afterwards. */
void api_reply_take(struct api_call *call, int *ret_status, json_t **ret_obj);
/* Parse a query string into kv (evhttp_clear_headers() it afterwards);
 * a malformed one gets its 400 recorded here and -EINVAL returned, kv
 * empty. */
int api_query_parse(struct api_call *call, const char *query, struct evkeyvalq *kv);
/* Parse the request body as JSON. On failure the reply (400) is already
 * recorded and -EBADMSG returned. *ret is owned by the caller. */
int api_body_json(struct api_call *call, json_t **ret);
/* Query parameter name as an integer in [min, max], def when absent. On
 * failure the 400 is already recorded and -EINVAL returned. */
int api_query_long(struct api_call *call, const char *name, long def, long min, long max, long *ret);

/* http.c: sending on the loop thread */
/* Send body (stolen; NULL sends 500) on req now. */
void api_send_json(struct evhttp_request *req, int status, json_t *body);
void api_send_error(struct evhttp_request *req, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* auth.c: API keys, checked against a cache so that a request does not
 * need the database just to be authenticated. */
#define API_AUTH_FRESH_MS  5000	  /* a revoked key stops working within this (plus one check) */
#define API_AUTH_STALE_MS  300000 /* a known key keeps working this long while the database is away */
#define API_AUTH_CACHE_MAX 1024
/* The verdict for key at now_ms: 1 known good and fresh; 2 known good but
 * due for a check (accept, and revalidate in the background); 0 unknown
 * (check now). */
int api_auth_cache_lookup(struct api_auth_cache *c, const char *key, int64_t now_ms);
/* Record a check's result: good keys are kept (the oldest entry makes
 * room), a bad one is forgotten. */
void api_auth_cache_store(struct api_auth_cache *c, const char *key, bool good, int64_t now_ms);
/* Mark key as being revalidated (1) or not yet (0: caller starts it). */
bool api_auth_cache_revalidating(struct api_auth_cache *c, const char *key, bool set);
/* The name of a cached key ("" unknown): who asked, for records. */
void api_auth_cache_set_name(struct api_auth_cache *c, const char *key, const char *name);
const char *api_auth_cache_name(struct api_auth_cache *c, const char *key);
struct api_auth_cache *api_auth_cache_new(void);
void api_auth_cache_free(struct api_auth_cache *c);

/* racks.c */
void api_racks_list(struct api_call *call);
void api_rack_get(struct api_call *call);
void api_rack_ping(struct api_call *call);
void api_rack_config(struct api_call *call);

/* pending.c: a request parked while a rack or the database works on it.
 * The HTTP client may go away meanwhile and the API may stop; the callback
 * still fires exactly once and must then find out which of those happened. */
struct api_pending {
	struct api *api;	    /* NULL once the API has stopped */
	struct evhttp_request *req; /* NULL once the client has gone */
	struct evhttp_connection *evcon;
	struct api_pending *prev, *next;
	bool on_rack;			 /* counted in api->n_pending */
	char subject[API_PARAM_MAX + 1]; /* the rack id, for the reply */
	long timeout_ms;
};

/* Park call's request while a rack works on it. NULL when too many are
 * parked (the 503 is recorded in call). */
struct api_pending *api_pending_start(struct api_call *call, const char *subject, long timeout_ms);
/* Park call's request while its database job runs (call->parked). */
void api_pending_park(struct api_call *call);
/* Unpark: the request to reply to, or NULL if nobody is listening any
 * more. Call exactly once, from the region callback. */
struct evhttp_request *api_pending_release(struct api_pending *p);
void api_pending_free(struct api_pending *p);
/* API shutdown: forget every parked request (evhttp_free frees them). */
void api_pending_abandon_all(struct api *api);
