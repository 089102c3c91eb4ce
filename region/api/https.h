/* HTTPS for the REST API: whether to serve it (http_tls and the listen
 * address), and the TLS transport handed to the connection guard.
 *
 * The rule: http_tls = on serves HTTPS, off plain HTTP, auto (the default)
 * HTTPS unless http_listen is a literal loopback address (127.0.0.0/8, ::1,
 * ::ffff:127.0.0.0/104) — a reverse proxy on the same host, the tests and
 * the demo. A host name is never taken for loopback: what it resolves to is
 * not ours to know here. Plain HTTP on any other address is only what the
 * operator asked for in so many words (off), and the region warns that API
 * keys then cross the network in the clear.
 *
 * The certificate is the region's server certificate (region/tls.c: issued
 * by the region CA, extendedKeyUsage serverAuth), sent with the CA so that
 * a client can pin the CA during the handshake (`ironrack login`). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct bufferevent;
struct event_base;
struct region_tls;
struct ssl_ctx_st;

enum api_tls_mode {
	API_TLS_AUTO,
	API_TLS_ON,
	API_TLS_OFF,
};

/* "auto", "on" or "off": 0, or -EINVAL. */
int api_tls_mode_parse(const char *text, enum api_tls_mode *ret);
/* The region's start-up check of http_tls: err says what is wrong. */
int api_tls_conf_check(const char *text, char *err, size_t errlen);

/* Is host (as endpoint_parse() returns it: no brackets) a literal loopback
 * address? */
bool api_tls_host_is_loopback(const char *host);

struct api_tls_plan {
	bool tls;	     /* serve HTTPS */
	bool warn_cleartext; /* plain HTTP off loopback: say so at start */
};

/* What to serve on host for http_tls = text. Pure. -EINVAL for a mode that
 * does not parse. */
int api_tls_plan(const char *text, const char *host, struct api_tls_plan *ret);

/* A server context for the region's chain and key: TLS 1.2 at least, no
 * client certificates. NULL if the PEM does not load. Free with
 * SSL_CTX_free(). */
struct ssl_ctx_st *api_tls_ctx_new(const struct region_tls *t);

/* httpguard_conf.transport_new for arg = the SSL_CTX: an accepting TLS
 * bufferevent. Never NULL (the guard would fall back to plain TCP on an
 * HTTPS port): an allocation failure aborts like every other. */
struct bufferevent *api_tls_transport_new(struct event_base *base, void *arg);
