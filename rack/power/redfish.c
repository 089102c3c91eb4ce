/* The Redfish power driver (power_driver_redfish): an asynchronous
 * driver on the loop, each op a small state machine of HTTP requests
 * (redfish_http.h) whose documents redfish_codec.h reads; what it learns
 * per BMC is kept in redfish_bmc.h.
 *
 * An op needs, in order, and asks the BMC only for what it does not know:
 *   1. a session token (power_auth=session, the default): the sessions
 *      collection from the service root, then POST {UserName, Password};
 *      with power_auth=basic, every request carries HTTP basic auth;
 *   2. the system's path: power_system, or the only member of the
 *      service root's Systems collection;
 *   3. the system itself (GET): PowerState, its ETag, the Reset action
 *      and the Boot properties with their AllowableValues;
 *   4. on/off/cycle only: the boot override when the op sets one (PATCH
 *      with If-Match: the ETag; a 412 means the resource changed since,
 *      so GET it again and PATCH once more), the ActionInfo when the
 *      system links one instead of listing ResetType values inline, then
 *      POST the Reset action with a ResetType it advertises.
 *
 * What one op learns serves the next: per BMC (its base URL, user and
 * password) the driver keeps the token, the sessions and Systems paths
 * and the discovered system. A token the BMC has forgotten (401) leads to
 * one new login per op. Ops that need a login while one is under way for
 * their BMC wait for it instead of opening sessions of their own (BMCs
 * allow few), so a thousand systems behind one endpoint log in once.
 *
 * Outcomes: no answer by the deadline is POWER_TIMEOUT; a refused or
 * broken connection, HTTP 429 and 5xx are POWER_TRANSIENT (the scheduler
 * retries); refused credentials, an untrusted certificate and other 4xx
 * are POWER_FAIL with what the BMC said. Every message names the BMC.
 *
 * A reset that the BMC accepted reports the state it leads to (on after
 * On/ForceOn/PowerCycle/ForceRestart/GracefulRestart, off after ForceOff)
 * and unknown after GracefulShutdown, which the OS may take its time
 * over or refuse. on for a system that is On, and off for one that is
 * Off, send no reset (several BMCs answer 409 to them) and report it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "rack/power/driver.h"
#include "rack/power/redfish_bmc.h"
#include "rack/power/redfish_codec.h"
#include "rack/power/redfish_http.h"

#define RF_ROOT_PATH	 "/redfish/v1/"
#define RF_SYSTEMS_PATH	 "/redfish/v1/Systems"		       /* DSP0266's, when the root names none */
#define RF_SESSIONS_PATH "/redfish/v1/SessionService/Sessions" /* likewise */

struct rf_op;

struct rf_ctx {
	struct rf_http *http;
	struct rf_bmcs bmcs;
};

enum rf_step { RF_WAIT, RF_SYSTEMS, RF_SYSTEM, RF_INFO, RF_PATCH, RF_RESET };
static const char *const step_names[] = {"waiting for the service root or a session",
					 "Systems collection",
					 "system",
					 "reset ActionInfo",
					 "boot override",
					 "reset"};

struct rf_op {
	struct power_op *op;
	struct rf_ctx *ctx;
	struct rf_bmc *bmc;
	struct rf_http_req req;
	enum rf_step step;
	bool in_flight, waiting;
	char *url, *body, *token, *path; /* of the request in flight */
	char *system;			 /* the system's path */
	bool discovered;		 /* system came from the collection */
	bool relogged, patch_retried, sys_ok, boot_done, info_done, reset_guessed;
	const char *reset_type;
	struct redfish_system sys;
	char etag[128];
	struct rf_op *next_waiter;
};

static void rf_advance(struct rf_op *o);

/* ---- the end of an op ---- */

static void rf_op_free(struct rf_op *o)
{
	struct rf_bmc *b = o->bmc;

	rf_http_req_done(&o->req);
	free(o->url);
	free(o->body);
	free(o->token);
	free(o->path);
	free(o->system);
	if (b)
		rf_bmc_put(b);
	free(o);
}

static void rf_finish(struct rf_op *o, enum power_status status, enum power_state state, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void rf_finish(struct rf_op *o, enum power_status status, enum power_state state, const char *fmt, ...)
{
	struct power_op *op = o->op;
	va_list ap;

	op->result.status = status;
	op->result.state = state;
	op->result.needs_person = false;
	va_start(ap, fmt);
	vsnprintf(op->result.message, sizeof(op->result.message), fmt, ap);
	va_end(ap);
	op->driver_state = NULL;
	rf_op_free(o);
	op->done(op);
}

static void rf_fail(struct rf_op *o, enum power_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "BMC <addr>: " + fmt. */
static void rf_fail(struct rf_op *o, enum power_status status, const char *fmt, ...)
{
	char text[sizeof(o->op->result.message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	rf_finish(o, status, POWER_STATE_UNKNOWN, "BMC %s: %s", o->op->params.address, text);
}

/* ---- requests ---- */

static void on_reply(struct rf_http_req *req);

/* Send method path (body: taken, may be NULL) for o. */
static void rf_send(struct rf_op *o, enum rf_step step, const char *method, const char *path, char *body,
		    const char *if_match)
{
	struct rf_bmc *b = o->bmc;
	const struct power_params *p = &o->op->params;
	char *new_path = xstrdup(path); /* path may point into what is freed below */

	free(o->path);
	o->path = new_path;
	free(o->url);
	o->url = xasprintf("%s%s", b->base, o->path);
	free(o->body);
	o->body = body;
	free(o->token);
	o->token = p->session && b->token ? xstrdup(b->token) : NULL;
	o->step = step;

	struct rf_http_req *r = &o->req;
	r->method = method;
	r->url = o->url;
	r->body = o->body;
	r->token = o->token;
	r->if_match = if_match && *if_match ? if_match : NULL;
	r->user = !p->session && p->user && *p->user ? p->user : NULL;
	r->password = p->password;
	r->verify_tls = p->verify_tls;
	r->nsfd = o->op->nsfd;
	r->deadline_us = o->op->deadline_us;
	r->done = on_reply;
	r->arg = o;
	int rc = rf_http_start(o->ctx->http, r);
	if (rc == -ETIMEDOUT) {
		rf_fail(o, POWER_TIMEOUT, "no answer within the time allowed (%s %s not sent)", method, o->path);
		return;
	}
	if (rc < 0) {
		rf_fail(o, POWER_FAIL, "%s %s: cannot start the request (%s)", method, o->path, strerror(-rc));
		return;
	}
	o->in_flight = true;
}

/* The BMC's error text from a body, or "". */
static void bmc_says(const struct rf_http_req *r, char *out, size_t out_len)
{
	char text[384];

	out[0] = '\0';
	if (r->resp && redfish_error_decode(r->resp, r->resp_len, text, sizeof(text)) == 0)
		snprintf(out, out_len, ": %s", text);
}

/* A request that did not end in an HTTP answer: what it means, and a
 * sentence without the BMC prefix. */
static enum power_status net_outcome(const struct rf_http_req *r, const char *method, const char *path, char *out,
				     size_t len)
{
	switch (r->net) {
	case RF_NET_TIMEOUT:
		snprintf(out, len, "no answer to %s %s in time (%s)", method, path, r->error);
		return POWER_TIMEOUT;
	case RF_NET_CONNECT:
		snprintf(out, len, "%s %s: %s", method, path, r->error);
		return POWER_TRANSIENT;
	case RF_NET_TLS:
		snprintf(out, len, "TLS handshake failed (%s)", r->error);
		return POWER_TRANSIENT;
	case RF_NET_TLS_VERIFY:
		snprintf(out, len,
			 "TLS certificate not trusted (%s); give the BMC a certificate the rack trusts, or set "
			 "power_verify_tls=false for this machine",
			 r->error);
		return POWER_FAIL;
	case RF_NET_RESOLVE:
		snprintf(out, len, "cannot resolve the address (%s)", r->error);
		return POWER_FAIL;
	case RF_NET_TOO_BIG:
		snprintf(out, len, "%s %s: the answer is larger than %u KiB", method, path, RF_HTTP_BODY_MAX / 1024);
		return POWER_FAIL;
	default:
		snprintf(out, len, "%s %s: %s", method, path, r->error);
		return POWER_FAIL;
	}
}

static void rf_fail_net(struct rf_op *o, const struct rf_http_req *r, const char *method, const char *path)
{
	char text[512];
	enum power_status st = net_outcome(r, method, path, text, sizeof(text));

	rf_fail(o, st, "%s", text);
}

/* A non-2xx answer that no step handles itself. */
static void rf_fail_http(struct rf_op *o, const struct rf_http_req *r, const char *method, const char *path)
{
	char says[400];

	bmc_says(r, says, sizeof(says));
	if (r->status == 401 || r->status == 403) {
		rf_fail(o, POWER_FAIL, "credentials refused (HTTP %ld)%s", r->status, says);
		return;
	}
	enum power_status st = (r->status == 429 || r->status >= 500) ? POWER_TRANSIENT : POWER_FAIL;
	if (o->step == RF_RESET && o->reset_guessed) {
		rf_fail(o, st,
			"%s %s: HTTP %ld%s (ResetType %s: the system does not advertise "
			"ResetType@Redfish.AllowableValues)",
			method, path, r->status, says, o->reset_type);
		return;
	}
	rf_fail(o, st, "%s %s: HTTP %ld%s", method, path, r->status, says);
}

/* ---- the service root and the login, shared by the ops of one BMC ---- */

/* The root's answer: the paths, or why not. */
static enum power_status bmc_root_read(struct rf_bmc *b, const struct rf_http_req *r, char *text, size_t len)
{
	struct redfish_root root;
	char msg[400];

	/* A root that wants authentication (DSP0266 says it must not): the standard paths. */
	if (r->status / 100 != 2 && r->status != 401 && r->status != 403) {
		bmc_says(r, msg, sizeof(msg));
		snprintf(text, len, "GET %s: HTTP %ld%s", RF_ROOT_PATH, r->status, msg);
		return (r->status == 429 || r->status >= 500) ? POWER_TRANSIENT : POWER_FAIL;
	}
	if (r->status / 100 == 2 && redfish_root_decode(r->resp, r->resp_len, &root, msg, sizeof(msg)) < 0) {
		snprintf(text, len, "GET %s: not a Redfish service root (%s)", RF_ROOT_PATH, msg);
		return POWER_FAIL;
	}
	bool ok = r->status / 100 == 2;
	rf_bmc_set(&b->systems, ok && root.systems[0] ? root.systems : RF_SYSTEMS_PATH);
	rf_bmc_set(&b->sessions, ok && root.sessions[0] ? root.sessions : RF_SESSIONS_PATH);
	b->root_known = true;
	return POWER_OK;
}

/* The login's answer: the token, or why not. */
static enum power_status bmc_login_read(struct rf_bmc *b, const struct rf_http_req *r, char *text, size_t len)
{
	char says[400];

	if (r->status / 100 == 2 && r->auth_token[0]) {
		rf_bmc_set(&b->token, r->auth_token);
		return POWER_OK;
	}
	if (r->status / 100 == 2) {
		snprintf(text, len, "session login (POST %s) gave no X-Auth-Token; try power_auth=basic", b->sessions);
		return POWER_FAIL;
	}
	bmc_says(r, says, sizeof(says));
	if (r->status == 401 || r->status == 403)
		snprintf(text, len, "credentials refused (HTTP %ld)%s", r->status, says);
	else if (r->status == 404 || r->status == 405 || r->status == 501)
		snprintf(text, len, "session login (POST %s) not supported (HTTP %ld)%s; try power_auth=basic",
			 b->sessions, r->status, says);
	else
		snprintf(text, len, "session login (POST %s): HTTP %ld%s", b->sessions, r->status, says);
	if (r->status == 404) /* maybe a stale path: read the root again next time */
		b->root_known = false;
	return (r->status == 429 || r->status >= 500) ? POWER_TRANSIENT : POWER_FAIL;
}

/* The waiters are moved to b->resuming and taken one at a time, so that
 * an op finishing may cancel another (it leaves the list) or need the
 * BMC again (it waits in b->waiters for a new request). */
static void on_bmc_reply(struct rf_http_req *r)
{
	struct rf_bmc *b = r->arg;
	char text[512] = "";
	enum power_status st;

	b->busy = false;
	rf_bmc_login_body_free(b);
	if (r->net != RF_NET_OK)
		st = net_outcome(r, r->method, b->login ? b->sessions : RF_ROOT_PATH, text, sizeof(text));
	else if (b->login)
		st = bmc_login_read(b, r, text, sizeof(text));
	else
		st = bmc_root_read(b, r, text, sizeof(text));
	rf_http_req_done(r);

	struct rf_op **tail = &b->resuming;
	while (*tail)
		tail = &(*tail)->next_waiter;
	*tail = b->waiters;
	b->waiters = NULL;
	while (b->resuming) {
		struct rf_op *w = b->resuming;
		b->resuming = w->next_waiter;
		w->next_waiter = NULL;
		w->waiting = false;
		if (st == POWER_OK)
			rf_advance(w);
		else
			rf_fail(w, st, "%s", text);
	}
}

/* The root when it is not known, else a login; for o and every op of the
 * BMC that needs one meanwhile. */
static void bmc_wait(struct rf_op *o)
{
	struct rf_bmc *b = o->bmc;
	const struct power_params *p = &o->op->params;
	struct rf_http_req *r = &b->req;

	o->step = RF_WAIT;
	o->waiting = true;
	o->next_waiter = b->waiters;
	b->waiters = o;
	if (b->busy)
		return;

	memset(r, 0, sizeof(*r));
	b->login = b->root_known;
	if (b->login) {
		char *body = redfish_login_body(p->user, p->password);
		if (!body) {
			b->waiters = o->next_waiter;
			o->waiting = false;
			rf_fail(o, POWER_FAIL, "power_user or power_pass is not UTF-8 text: Redfish cannot carry it");
			return;
		}
		rf_bmc_login_body_free(b);
		b->login_body = body;
	}
	free(b->req_url);
	b->req_url = xasprintf("%s%s", b->base, b->login ? b->sessions : RF_ROOT_PATH);
	r->method = b->login ? "POST" : "GET";
	r->url = b->req_url;
	r->body = b->login ? b->login_body : NULL;
	r->verify_tls = p->verify_tls;
	r->nsfd = o->op->nsfd;
	r->deadline_us = o->op->deadline_us;
	r->done = on_bmc_reply;
	r->arg = b;
	int rc = rf_http_start(o->ctx->http, r);
	if (rc < 0) {
		b->waiters = o->next_waiter;
		o->waiting = false;
		if (rc == -ETIMEDOUT)
			rf_fail(o, POWER_TIMEOUT, "no answer within the time allowed (%s %s not sent)", r->method,
				b->login ? b->sessions : RF_ROOT_PATH);
		else
			rf_fail(o, POWER_FAIL, "%s %s: cannot start the request (%s)", r->method,
				b->login ? b->sessions : RF_ROOT_PATH, strerror(-rc));
		return;
	}
	b->busy = true;
}

/* ---- the state machine ---- */

static enum power_state reset_leads_to(const char *type)
{
	if (strcmp(type, "ForceOff") == 0)
		return POWER_STATE_OFF;
	if (strcmp(type, "GracefulShutdown") == 0)
		return POWER_STATE_UNKNOWN;
	return POWER_STATE_ON;
}

/* on/off/cycle once the system is known. */
static void rf_act(struct rf_op *o)
{
	struct power_op *op = o->op;
	char msg[256];

	if (op->boot.dev != POWER_BOOT_KEEP && !o->boot_done) {
		bool unchanged, mode_skipped;
		char *body = redfish_boot_body(&op->boot, &o->sys, &unchanged, &mode_skipped, msg, sizeof(msg));
		if (!body) {
			rf_fail(o, POWER_FAIL, "%s: %s", o->system, msg);
			return;
		}
		if (mode_skipped && o->sys.has_boot_mode)
			log_info(
			    "redfish: BMC %s: %s does not allow BootSourceOverrideMode %s; it boots in the mode it "
			    "has",
			    op->params.address, o->system, op->boot.efi ? "UEFI" : "Legacy");
		if (!unchanged) {
			rf_send(o, RF_PATCH, "PATCH", o->system, body, o->etag);
			return;
		}
		free(body);
		o->boot_done = true;
	}
	if (!o->sys.reset_advertised && o->sys.action_info[0] && !o->info_done) {
		rf_send(o, RF_INFO, "GET", o->sys.action_info, NULL, NULL);
		return;
	}

	if ((op->action == POWER_ON && o->sys.power == REDFISH_POWER_ON) ||
	    (op->action == POWER_OFF && o->sys.power == REDFISH_POWER_OFF)) {
		rf_finish(o, POWER_OK, redfish_power_state(o->sys.power), "%s", "");
		return;
	}

	o->reset_type = redfish_reset_choose(op->action, &o->sys, &o->reset_guessed, msg, sizeof(msg));
	if (!o->reset_type) {
		rf_fail(o, POWER_FAIL, "%s: %s", o->system, msg);
		return;
	}
	char *target = o->sys.reset_target[0] ? xstrdup(o->sys.reset_target)
					      : xasprintf("%s/Actions/ComputerSystem.Reset", o->system);
	rf_send(o, RF_RESET, "POST", target, redfish_reset_body(o->reset_type), NULL);
	free(target);
}

/* The next request o needs, or its end. */
static void rf_advance(struct rf_op *o)
{
	struct rf_bmc *b = o->bmc;
	bool need_login = o->op->params.session && !b->token;

	if (!o->system && b->system) {
		o->system = xstrdup(b->system);
		o->discovered = true;
	}
	if (need_login || (!o->system && !b->root_known)) {
		bmc_wait(o);
		return;
	}
	if (!o->system) {
		rf_send(o, RF_SYSTEMS, "GET", b->systems, NULL, NULL);
		return;
	}
	if (!o->sys_ok) {
		rf_send(o, RF_SYSTEM, "GET", o->system, NULL, NULL);
		return;
	}
	if (o->op->action == POWER_QUERY) {
		rf_finish(o, POWER_OK, redfish_power_state(o->sys.power), "%s", "");
		return;
	}
	rf_act(o);
}

static void on_systems(struct rf_op *o, const struct rf_http_req *r)
{
	struct redfish_collection c;
	char msg[256];

	if (redfish_collection_decode(r->resp, r->resp_len, &c, msg, sizeof(msg)) < 0) {
		rf_fail(o, POWER_FAIL, "GET %s: %s", o->path, msg);
		return;
	}
	if (c.n == 0) {
		rf_fail(o, POWER_FAIL, "the Systems collection %s is empty", o->path);
		return;
	}
	if (c.n > 1) {
		char list[384] = "";
		size_t pos = 0;
		for (size_t i = 0; i < c.kept && pos < sizeof(list); i++)
			pos += (size_t)snprintf(list + pos, sizeof(list) - pos, "%s%s", i ? ", " : "", c.members[i]);
		rf_fail(o, POWER_FAIL, "%zu systems (%s%s): set power_system to the one this machine is", c.n, list,
			c.n > c.kept ? ", ..." : "");
		return;
	}
	o->system = xstrdup(c.members[0]);
	o->discovered = true;
	rf_bmc_set(&o->bmc->system, o->system);
	rf_advance(o);
}

static void on_system(struct rf_op *o, const struct rf_http_req *r)
{
	char msg[256];

	if (redfish_system_decode(r->resp, r->resp_len, &o->sys, msg, sizeof(msg)) < 0) {
		rf_fail(o, POWER_FAIL, "GET %s: %s", o->path, msg);
		return;
	}
	/* The header is the resource's ETag; @odata.etag is the fallback. */
	snprintf(o->etag, sizeof(o->etag), "%s", r->etag[0] ? r->etag : o->sys.etag);
	o->sys_ok = true;
	rf_advance(o);
}

/* A 401 on a token: the BMC dropped the session. Log in again, once. */
static bool rf_relogin(struct rf_op *o, const struct rf_http_req *r)
{
	struct rf_bmc *b = o->bmc;

	if (r->status != 401 || !o->token || o->relogged)
		return false;
	o->relogged = true;
	if (b->token && strcmp(b->token, o->token) == 0)
		rf_bmc_set(&b->token, NULL);
	log_debug("redfish: BMC %s: session token refused, logging in again", o->op->params.address);
	rf_advance(o);
	return true;
}

static void on_reply(struct rf_http_req *r)
{
	struct rf_op *o = r->arg;
	const char *method = r->method;

	o->in_flight = false;
	log_debug("redfish: BMC %s: %s %s: %s %ld (%.0f ms)", o->op->params.address, method, o->path,
		  r->net == RF_NET_OK ? "HTTP" : r->error, r->status, r->elapsed_s * 1000);
	if (r->net != RF_NET_OK) {
		rf_fail_net(o, r, method, o->path);
		return;
	}
	if (rf_relogin(o, r))
		return;
	if (r->status / 100 != 2) {
		if (o->step == RF_PATCH && r->status == 412) {
			if (o->patch_retried) {
				rf_fail(o, POWER_TRANSIENT,
					"PATCH %s: HTTP 412 twice: the system keeps changing under the boot "
					"override",
					o->path);
				return;
			}
			o->patch_retried = true;
			o->sys_ok = false; /* GET it again for a fresh ETag */
			rf_advance(o);
			return;
		}
		if (o->step == RF_INFO) { /* ActionInfo is a hint: go on without it */
			o->info_done = true;
			rf_advance(o);
			return;
		}
		if (o->step == RF_SYSTEM && r->status == 404) {
			if (o->discovered)
				rf_bmc_set(&o->bmc->system, NULL);
			rf_fail(o, POWER_FAIL, "system %s not found (HTTP 404)%s", o->path,
				o->discovered ? "" : "; check power_system");
			return;
		}
		rf_fail_http(o, r, method, o->path);
		return;
	}
	switch (o->step) {
	case RF_SYSTEMS:
		on_systems(o, r);
		return;
	case RF_SYSTEM:
		on_system(o, r);
		return;
	case RF_INFO: {
		char msg[256];
		if (redfish_action_info_decode(r->resp, r->resp_len, &o->sys, msg, sizeof(msg)) < 0)
			log_debug("redfish: BMC %s: %s: %s", o->op->params.address, step_names[o->step], msg);
		o->info_done = true;
		rf_advance(o);
		return;
	}
	case RF_PATCH:
		o->boot_done = true;
		rf_advance(o);
		return;
	case RF_RESET:
		rf_finish(o, POWER_OK, reset_leads_to(o->reset_type), "%s", "");
		return;
	case RF_WAIT:
		break;
	}
}

/* ---- the driver ---- */

static int redfish_init(struct event_base *base, void **ret_ctx)
{
	struct rf_ctx *ctx = xcalloc(1, sizeof(*ctx));

	ctx->http = ctx->bmcs.http = rf_http_new(base);
	if (!ctx->http) {
		free(ctx);
		return -ENOMEM;
	}
	*ret_ctx = ctx;
	return 0;
}

static void redfish_fini(void *arg)
{
	struct rf_ctx *ctx = arg;

	if (!ctx)
		return;
	rf_bmcs_clear(&ctx->bmcs);
	rf_http_free(ctx->http);
	free(ctx);
}

static void redfish_start(void *arg, struct power_op *op)
{
	struct rf_ctx *ctx = arg;
	struct rf_op *o = xcalloc(1, sizeof(*o));

	o->op = op;
	o->ctx = ctx;
	op->driver_state = o;
	op->result.state = POWER_STATE_UNKNOWN;
	if (!op->params.address || !op->params.address[0]) {
		rf_finish(o, POWER_FAIL, POWER_STATE_UNKNOWN, "redfish: no power_address");
		return;
	}
	o->bmc = rf_bmc_get(&ctx->bmcs, &op->params);
	if (!op->params.verify_tls && !o->bmc->tls_warned) {
		o->bmc->tls_warned = true;
		log_warn("redfish: BMC %s: TLS certificate verification is off (power_verify_tls=false)",
			 op->params.address);
	}
	if (op->params.system && op->params.system[0]) {
		if (op->params.system[0] != '/' || strpbrk(op->params.system, " \t\r\n")) {
			rf_fail(o, POWER_FAIL, "power_system %s is not a path such as /redfish/v1/Systems/1",
				op->params.system);
			return;
		}
		o->system = xstrdup(op->params.system);
	}
	rf_advance(o);
}

static void redfish_cancel(void *arg, struct power_op *op)
{
	struct rf_ctx *ctx = arg;
	struct rf_op *o = op->driver_state;

	if (!o)
		return;
	if (o->in_flight)
		rf_http_cancel(ctx->http, &o->req);
	if (o->waiting) {
		struct rf_op **lists[] = {&o->bmc->waiters, &o->bmc->resuming};
		for (size_t i = 0; i < 2; i++) {
			struct rf_op **pw = lists[i];
			while (*pw && *pw != o)
				pw = &(*pw)->next_waiter;
			if (*pw)
				*pw = o->next_waiter;
		}
		/* Nobody else waits: the shared request would only run on to
		 * the deadline of the op that started it. */
		if (o->bmc->busy && !o->bmc->waiters) {
			rf_http_cancel(ctx->http, &o->bmc->req);
			rf_http_req_done(&o->bmc->req);
			o->bmc->busy = false;
		}
	}
	rf_finish(o, POWER_CANCELLED, POWER_STATE_UNKNOWN, "BMC %s: cancelled (%s)", op->params.address,
		  step_names[o->step]);
}

const struct power_driver power_driver_redfish = {
    .name = "redfish",
    .init = redfish_init,
    .fini = redfish_fini,
    .start = redfish_start,
    .cancel = redfish_cancel,
};
