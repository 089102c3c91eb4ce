/* HTTP for the Redfish power driver: libcurl's multi interface on the
 * rack's libevent loop (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION
 * as libevent events, in the manner of curl's hiperfifo example). Nothing
 * here blocks the loop: name resolution is curl's threaded resolver, and
 * sockets are non-blocking.
 *
 * One rf_http per process: every request goes through its one multi
 * handle, so connections (keep-alive) and TLS sessions (a share handle)
 * are reused across power ops, which is what lets one rack poll a
 * thousand systems behind one BMC endpoint without a handshake each.
 * Sockets are made in the op's network namespace (netns_socket through
 * CURLOPT_OPENSOCKETFUNCTION); curl matches pooled connections by host,
 * port and TLS settings, not by namespace, so this assumes, as the rack
 * does, one namespace for all BMCs of a process.
 *
 * What a request ended with is classified here (enum rf_net) so that the
 * driver, which decides what each outcome means for a power op, needs no
 * curl. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct rf_http;

#define RF_HTTP_BODY_MAX  (1u << 20) /* a Systems collection of 1,000 members is ~60 KiB */
#define RF_HTTP_TOKEN_MAX 1024

/* How the exchange went, below HTTP. */
enum rf_net {
	RF_NET_OK,	   /* an HTTP answer (any status) */
	RF_NET_TIMEOUT,	   /* no (complete) answer by the deadline */
	RF_NET_CONNECT,	   /* refused, unreachable, reset, closed early: worth a retry */
	RF_NET_RESOLVE,	   /* the host name does not resolve */
	RF_NET_TLS_VERIFY, /* the certificate or its name was not trusted */
	RF_NET_TLS,	   /* the TLS handshake failed otherwise */
	RF_NET_TOO_BIG,	   /* the body passed RF_HTTP_BODY_MAX */
	RF_NET_OTHER,
};

struct rf_http_req {
	/* Set by the caller; strings must live until done or cancel. */
	const char *method; /* "GET", "POST", "PATCH" */
	const char *url;
	const char *body;     /* request body (JSON), NULL for none */
	const char *token;    /* X-Auth-Token, or NULL */
	const char *if_match; /* If-Match, or NULL */
	const char *user;     /* HTTP basic auth when non-NULL */
	const char *password;
	bool verify_tls;
	int nsfd;	     /* network namespace for sockets, -1: ours */
	int64_t deadline_us; /* clock_mono_us() */
	void (*done)(struct rf_http_req *req);
	void *arg;

	/* The outcome, valid in done. */
	enum rf_net net;
	char error[256]; /* curl's words when net != RF_NET_OK */
	long status;	 /* HTTP status, 0 when none */
	char *resp;	 /* body, NUL-terminated (also when empty); freed by rf_http_req_done */
	size_t resp_len;
	char etag[128];			    /* ETag header, "" when none */
	char auth_token[RF_HTTP_TOKEN_MAX]; /* X-Auth-Token header, "" when none (or longer) */
	double elapsed_s;

	/* rf_http's */
	void *easy;
	void *headers;
	size_t resp_cap;
	bool too_big;
};

struct rf_http *rf_http_new(struct event_base *base);
/* Cancels what is in flight without calling done. NULL is fine. */
void rf_http_free(struct rf_http *h);

/* Start req. 0: req->done will be called on the loop, once, later (never
 * from inside this call). -ETIMEDOUT: the deadline has passed; other
 * -errno: curl refused the request; done is then not called. */
int rf_http_start(struct rf_http *h, struct rf_http_req *req);
/* Stop req in flight; done is not called. A req not in flight is fine. */
void rf_http_cancel(struct rf_http *h, struct rf_http_req *req);
/* Free what the outcome holds (the body); the req may be started again. */
void rf_http_req_done(struct rf_http_req *req);
