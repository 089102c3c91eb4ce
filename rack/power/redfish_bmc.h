/* What the Redfish power driver remembers per BMC between ops: the base
 * URL, the session token, the paths it has read (sessions, Systems, the
 * one system), and the one request ops of that BMC share (the service
 * root, then a login). rack/power/redfish.c drives it.
 *
 * A BMC is its base URL, user and a digest of the password: a token
 * belongs to the credentials that made it, so an op with another password
 * never rides on a session the right one opened. At most RF_BMC_MAX are
 * kept; past that the least recently used one that no op holds and that
 * has no request in flight is forgotten. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/power_params.h"
#include "rack/power/redfish_http.h"

#define RF_BMC_MAX     4096
#define RF_BMC_BUCKETS 1024

struct rf_op;
struct rf_bmcs;

struct rf_bmc {
	struct rf_bmc *next; /* hash chain */
	struct rf_bmcs *table;
	char *key;
	char *base;				   /* "https://host[:port]" */
	char *sessions, *systems, *system, *token; /* NULL until known */
	bool root_known;			   /* sessions and systems hold what the root says */
	bool tls_warned;
	unsigned refs; /* ops holding it */
	int64_t used_us;
	/* The request ops share, one at a time: the service root, then a
	 * login (login true). Ops that need it wait in waiters. */
	struct rf_http_req req;
	bool busy, login;
	char *req_url, *login_body;
	struct rf_op *waiters;	/* for the request in flight */
	struct rf_op *resuming; /* after it, being resumed */
};

struct rf_bmcs {
	struct rf_http *http; /* the shared requests' */
	struct rf_bmc *buckets[RF_BMC_BUCKETS];
	size_t n;
};

/* The BMC p names (p->address non-empty), made when new; the caller holds
 * it until rf_bmc_put. */
struct rf_bmc *rf_bmc_get(struct rf_bmcs *t, const struct power_params *p);
void rf_bmc_put(struct rf_bmc *b);
/* Forget every BMC, cancelling shared requests (no op may hold one). */
void rf_bmcs_clear(struct rf_bmcs *t);

/* The base URL for a power_address: scheme://host[:port] of an address
 * that is a URL (any path dropped: Redfish links are absolute paths),
 * else https://ADDRESS[:PORT] (port 0: 443; an IPv6 literal bracketed).
 * free() it. */
char *rf_bmc_base(const char *address, unsigned port);

/* *slot = a copy of s (NULL: none), freeing the old one. */
void rf_bmc_set(char **slot, const char *s);
/* Wipe and free the login body (it holds the password). */
void rf_bmc_login_body_free(struct rf_bmc *b);
