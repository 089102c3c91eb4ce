/* The Region service: method table, Enrol, Register, GetBootConfig. The
 * Session stream lives in sessions.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bootconf.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/net.h"
#include "common/pki.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "common/version.h"
#include "region/db/db.h"
#include "region/machine/machine.h"
#include "region/region.h"
#include "region/rpc/dbjob.h"
#include "region/rpc/internal.h"
#include "region/rpc/rpc.h"
#include "region/rpc/validate.h"

#define RACK_ID_HEX 12

/* Untrusted text from a rack, for a log line: printable ASCII, the rest as '?'. */
static void log_escape_field(const char *s, char *buf, size_t len)
{
	size_t o = 0;
	for (; s && *s && o + 1 < len; s++)
		buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	buf[o] = '\0';
}

/* ---- calls answered later ---- */

void region_rpc_call_hold(struct region *r, struct region_call_hold *h, struct rpc_call *call)
{
	struct region_racks *rr = r->racks;
	h->call = call;
	h->next = rr->held;
	h->pprev = &rr->held;
	if (rr->held)
		rr->held->pprev = &h->next;
	rr->held = h;
}

struct rpc_call *region_rpc_call_release(struct region *r, struct region_call_hold *h)
{
	struct rpc_call *call = h->call;
	if (!call)
		return NULL;
	*h->pprev = h->next;
	if (h->next)
		h->next->pprev = h->pprev;
	h->call = NULL;
	return call;
}

void region_rpc_calls_abandon(struct region *r)
{
	while (r->racks && r->racks->held) {
		struct rpc_call *call = region_rpc_call_release(r, r->racks->held);
		rpc_call_fail(call, RPC_UNAVAILABLE, "region is shutting down");
	}
}

/* A request kept past its handler (the handler's copy is freed when it
 * returns). */
static void *region_req_dup(const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = xmalloc(len ? len : 1);
	protobuf_c_message_pack(msg, buf);
	ProtobufCMessage *copy = protobuf_c_message_unpack(msg->descriptor, NULL, len, buf);
	free(buf);
	if (!copy)
		oom_abort(len);
	return copy;
}

/* ---- Enrol ---- */

struct enrol_job {
	struct region *r;
	struct region_call_hold hold;
	char id[32], serial[32], fp[PKI_FINGERPRINT_LEN];
	char hostname[256], version[64], peer[256];
	char *cert;
	char err[256];
};

static int enrol_store(struct db *db, void *arg)
{
	struct enrol_job *j = arg;
	int rc = db_rack_enrol(db, j->id, j->hostname[0] ? j->hostname : j->id, j->serial, j->fp);
	if (rc < 0)
		snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
	return rc;
}

static void enrol_done(void *arg, int status)
{
	struct enrol_job *j = arg;
	struct rpc_call *call = region_rpc_call_release(j->r, &j->hold);
	char q[LOG_QUOTE_SIZE];
	log_quote(q, sizeof(q), j->hostname);
	if (call && status < 0) {
		log_err("enrolment of %s: database: %s", q, j->err[0] ? j->err : strerror(-status));
		rpc_call_fail(call, RPC_UNAVAILABLE, "region database unavailable");
	} else if (call) {
		Ironrack__V1__EnrolResponse resp = IRONRACK__V1__ENROL_RESPONSE__INIT;
		resp.rack_id = j->id;
		resp.cert_pem = j->cert;
		resp.ca_pem = j->r->tls.ca_cert;
		rpc_call_reply(call, &resp.base);
		char qv[LOG_QUOTE_SIZE];
		log_info("enrolled rack %s (host %s, version %s) from %s", j->id, q,
			 log_quote(qv, sizeof(qv), j->version), j->peer);
	}
	free(j->cert);
	free(j);
}

/* Failed Enrols per source address: after a burst, one a second; the log
 * says the first of a window and then how many more (common/ratelimit.h). */
static const struct ratelimit_conf enrol_failure_limits = {
    .burst = 10,
    .refill_us = 1000000,
    .window_us = 5 * 1000000LL,
    .lines_burst = 20,
    .lines_refill_us = 1000000,
};

static void enrol_summary(void *arg, const char *addr, uint64_t count, uint64_t throttled, int64_t span_us)
{
	log_warn("Enrol: %llu more failed attempts from %s in the last %lld s (%llu refused unchecked: too many)",
		 (unsigned long long)count, addr[0] ? addr : "other addresses", (long long)(span_us / 1000000),
		 (unsigned long long)throttled);
}

void region_rpc_auth_flush(struct region *r, int64_t now_us)
{
	if (r->racks)
		ratelimit_flush(&r->racks->enrol_failures, now_us, enrol_summary, NULL);
}

/* A failed Enrol from peer: answered code/why, logged within the limits. */
static void enrol_refuse(struct region *r, struct rpc_call *call, const char *addr, bool throttled,
			 const char *hostname, int code, const char *why)
{
	struct ratelimit_verdict v;
	char q[LOG_QUOTE_SIZE];
	int64_t now = clock_mono_us();
	ratelimit_fail(&r->racks->enrol_failures, addr, throttled, now, &v);
	if (v.summary_count)
		enrol_summary(NULL, addr, v.summary_count, v.summary_throttled, v.summary_span_us);
	if (v.log_this)
		log_warn("refused enrolment of %s from %s: %s", log_quote(q, sizeof(q), hostname), addr, why);
	rpc_call_fail(call, code, why);
}

static void region_enrol(struct rpc_call *call, const ProtobufCMessage *msg, void *arg)
{
	struct region *r = arg;
	const Ironrack__V1__EnrolRequest *req = (const Ironrack__V1__EnrolRequest *)msg;
	const char *peer = rpc_call_peer(call);
	char secret[128], addr[RATELIMIT_KEY_LEN];

	ratelimit_peer_key(peer, addr, sizeof(addr));
	if (region_secret_get(r->conf.state_dir, secret, sizeof(secret)) < 0) {
		log_err("enrolment from %s: cannot read the enrolment secret", peer);
		rpc_call_fail(call, RPC_INTERNAL, "region cannot read its enrolment secret");
		return;
	}
	/* The right secret always goes through; a wrong one past the limit
	 * is told to slow down. */
	if (!pki_secret_equal(req->secret, secret)) {
		bool throttled = !ratelimit_allowed(&r->racks->enrol_failures, addr, clock_mono_us());
		enrol_refuse(
		    r, call, addr, throttled, req->hostname, throttled ? RPC_RESOURCE_EXHAUSTED : RPC_UNAUTHENTICATED,
		    throttled ? "too many failed attempts from this address; retry later" : "wrong enrolment secret");
		return;
	}
	struct rpcv_error verr;
	char vtext[sizeof(verr.field) + sizeof(verr.message) + 4];
	if (rpc_validate(msg, &verr) < 0) {
		enrol_refuse(r, call, addr, false, req->hostname, RPC_INVALID_ARGUMENT,
			     rpcv_error_text(&verr, vtext, sizeof(vtext)));
		return;
	}
	struct enrol_job *j = xcalloc(1, sizeof(*j));
	char hex[RACK_ID_HEX + 1];
	pki_random_hex(RACK_ID_HEX / 2, hex);
	snprintf(j->id, sizeof(j->id), "rack-%s", hex);
	int rc = region_tls_sign_rack(r, req->csr_pem, j->id, &j->cert, j->serial, sizeof(j->serial));
	if (rc < 0) {
		char q[LOG_QUOTE_SIZE];
		log_warn("refused enrolment of %s from %s: bad certificate request (%s)",
			 log_quote(q, sizeof(q), req->hostname), peer, strerror(-rc));
		rpc_call_fail(call, RPC_INVALID_ARGUMENT, "certificate request is not valid");
		free(j);
		return;
	}
	pki_cert_fingerprint(j->cert, j->fp, sizeof(j->fp));
	j->r = r;
	snprintf(j->hostname, sizeof(j->hostname), "%s", req->hostname);
	snprintf(j->version, sizeof(j->version), "%s", req->version);
	snprintf(j->peer, sizeof(j->peer), "%s", peer);
	region_rpc_call_hold(r, &j->hold, call);
	region_dbjob_submit(r, DB_LANE_WRITE, enrol_store, enrol_done, j);
}

/* ---- Register ---- */

struct register_job {
	struct region *r;
	struct region_call_hold hold;
	Ironrack__V1__RegisterRequest *req; /* our copy */
	char id[256];
	uint64_t config_version;
	char err[256];
};

static void register_job_free(struct register_job *j)
{
	ironrack__v1__register_request__free_unpacked(j->req, NULL);
	free(j);
}

static int register_store(struct db *db, void *arg)
{
	struct register_job *j = arg;
	const Ironrack__V1__RegisterRequest *req = j->req;
	struct rack_iface *ifs = xcalloc(req->n_interfaces ? req->n_interfaces : 1, sizeof(*ifs));
	for (size_t i = 0; i < req->n_interfaces; i++) {
		const Ironrack__V1__Interface *in = req->interfaces[i];
		ifs[i].name = in->name;
		ifs[i].mac = in->mac;
		ifs[i].addresses = in->addresses;
		ifs[i].n_addresses = in->n_addresses;
		ifs[i].vlan = in->vlan;
	}
	int rc = db_rack_register(db, j->id, req->hostname, req->version, ifs, req->n_interfaces);
	free(ifs);
	if (rc < 0) {
		snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
		return rc;
	}
	char *settings = NULL;
	if (db_rack_config_get(db, j->id, &j->config_version, &settings) >= 0)
		free(settings);
	return 0;
}

static void register_done(void *arg, int status)
{
	struct register_job *j = arg;
	struct rpc_call *call = region_rpc_call_release(j->r, &j->hold);
	const Ironrack__V1__RegisterRequest *req = j->req;
	if (call && status < 0) {
		log_err("Register from %s: database: %s", j->id, j->err[0] ? j->err : strerror(-status));
		rpc_call_fail(call, RPC_UNAVAILABLE, "region database unavailable");
	} else if (call) {
		Ironrack__V1__RegisterResponse resp = IRONRACK__V1__REGISTER_RESPONSE__INIT;
		resp.rack_id = j->id;
		resp.heartbeat_interval_s = (uint32_t)j->r->conf.heartbeat_interval;
		resp.config_version = j->config_version;
		rpc_call_reply(call, &resp.base);
		char qh[LOG_QUOTE_SIZE], qv[LOG_QUOTE_SIZE];
		log_info("rack %s registered: host %s, version %s, %zu interfaces", j->id,
			 log_quote(qh, sizeof(qh), req->hostname), log_quote(qv, sizeof(qv), req->version),
			 req->n_interfaces);
	}
	register_job_free(j);
}

static void register_checked(void *arg, int st)
{
	struct register_job *j = arg;
	const Ironrack__V1__RegisterRequest *req = j->req;
	if (st != RPC_OK) {
		struct rpc_call *call = region_rpc_call_release(j->r, &j->hold);
		if (call)
			rpc_call_fail(call, st,
				      st == RPC_UNAUTHENTICATED ? "not an enrolled rack" : "database unavailable");
		register_job_free(j);
		return;
	}
	struct rpcv_error err;
	if (rpc_validate(&req->base, &err) < 0) {
		char text[sizeof(err.field) + sizeof(err.message) + 4];
		struct rpc_call *call = region_rpc_call_release(j->r, &j->hold);
		rpcv_error_text(&err, text, sizeof(text));
		log_warn("refused Register from rack %s: %s", j->id, text);
		if (call)
			rpc_call_fail(call, RPC_INVALID_ARGUMENT, text);
		register_job_free(j);
		return;
	}
	region_dbjob_submit(j->r, DB_LANE_WRITE, register_store, register_done, j);
}

static void region_register(struct rpc_call *call, const ProtobufCMessage *msg, void *arg)
{
	struct region *r = arg;
	struct register_job *j = xcalloc(1, sizeof(*j));
	j->r = r;
	j->req = region_req_dup(msg);
	snprintf(j->id, sizeof(j->id), "%s", rpc_call_identity(call));
	region_rpc_call_hold(r, &j->hold, call);
	region_rpc_check_rack(r, j->id, rpc_call_peer(call), "Register", register_checked, j);
}

/* ---- GetBootConfig ---- */

/* The config the region answers for every unknown machine: enlist. */
static void enlist_config(const struct region *r, struct boot_config *ret)
{
	*ret = (struct boot_config){
	    .purpose = BOOT_ENLIST,
	    .kernel = r->conf.enlist_kernel,
	    .initrd = r->conf.enlist_initrd,
	    .cmdline = r->conf.enlist_cmdline,
	};
}

struct boot_config_wait {
	struct region *r;
	struct region_call_hold hold;
	Ironrack__V1__BootConfigRequest *req; /* our copy */
	char id[256];
	char mac[MAC_STRLEN];
	struct region_machine_boot answer;
	int rc;
};

/* For MACs the rack has no pushed config for: what the machine's state
 * says (region/machine/bootcfg.c), in a read job. */
static int boot_config_lookup(struct db *db, void *arg)
{
	struct boot_config_wait *w = arg;
	w->rc = region_machine_boot_config(w->r, db, w->mac, &w->answer);
	return w->rc;
}

static void boot_config_answered(void *arg, int status)
{
	struct boot_config_wait *w = arg;
	struct rpc_call *call = region_rpc_call_release(w->r, &w->hold);
	char iface[64], arch[64];
	log_escape_field(w->req->interface, iface, sizeof(iface));
	log_escape_field(w->req->arch, arch, sizeof(arch));
	if (call && status < 0) {
		log_warn("GetBootConfig from rack %s: MAC %s: the database cannot say what it boots (%s)", w->id,
			 w->mac, strerror(-status));
		rpc_call_fail(call, RPC_UNAVAILABLE, "the region's database is not available");
	} else if (call) {
		const struct region_machine_boot *a = &w->answer;
		Ironrack__V1__BootConfigResponse resp = IRONRACK__V1__BOOT_CONFIG_RESPONSE__INIT;
		resp.purpose = (char *)boot_purpose_name(a->purpose);
		resp.kernel = (char *)a->kernel;
		resp.initrd = (char *)a->initrd;
		resp.cmdline = (char *)a->cmdline;
		if (a->machine_id)
			log_info(
			    "GetBootConfig from rack %s: MAC %s (arch '%s', interface '%s') is machine %s (%s): %s",
			    w->id, w->mac, arch, iface, a->hostname, a->status, resp.purpose);
		else
			log_info("GetBootConfig from rack %s: MAC %s (arch '%s', interface '%s') is unknown: enlist",
				 w->id, w->mac, arch, iface);
		rpc_call_reply(call, &resp.base);
	}
	ironrack__v1__boot_config_request__free_unpacked(w->req, NULL);
	free(w);
}

static void boot_config_checked(void *arg, int st)
{
	struct boot_config_wait *w = arg;
	uint8_t mac[6];
	struct rpcv_error err;
	if (st == RPC_OK && rpc_validate(&w->req->base, &err) < 0) {
		char text[sizeof(err.field) + sizeof(err.message) + 4];
		struct rpc_call *call = region_rpc_call_release(w->r, &w->hold);
		rpcv_error_text(&err, text, sizeof(text));
		log_warn("GetBootConfig from rack %s: refused: %s", w->id, text);
		if (call)
			rpc_call_fail(call, RPC_INVALID_ARGUMENT, text);
		ironrack__v1__boot_config_request__free_unpacked(w->req, NULL);
		free(w);
		return;
	}
	if (st == RPC_OK && mac_parse(w->req->mac, mac) == 0) {
		mac_format(mac, w->mac, sizeof(w->mac));
		region_dbjob_submit(w->r, DB_LANE_READ, boot_config_lookup, boot_config_answered, w);
		return;
	}
	struct rpc_call *call = region_rpc_call_release(w->r, &w->hold);
	if (call && st != RPC_OK) {
		rpc_call_fail(call, st, "not an enrolled rack");
	} else if (call) {
		char bad[64];
		log_escape_field(w->req->mac, bad, sizeof(bad));
		log_warn("GetBootConfig from rack %s: refused MAC '%s' (not aa:bb:cc:dd:ee:ff)", w->id, bad);
		rpc_call_fail(call, RPC_INVALID_ARGUMENT, "mac must be aa:bb:cc:dd:ee:ff");
	}
	ironrack__v1__boot_config_request__free_unpacked(w->req, NULL);
	free(w);
}

static void region_boot_config(struct rpc_call *call, const ProtobufCMessage *msg, void *arg)
{
	struct region *r = arg;
	struct boot_config_wait *w = xcalloc(1, sizeof(*w));
	w->r = r;
	w->req = region_req_dup(msg);
	snprintf(w->id, sizeof(w->id), "%s", rpc_call_identity(call));
	region_rpc_call_hold(r, &w->hold, call);
	region_rpc_check_rack(r, w->id, rpc_call_peer(call), "GetBootConfig", boot_config_checked, w);
}

static const struct rpc_method region_methods[] = {
    {"/ironrack.v1.Region/Enrol", &ironrack__v1__enrol_request__descriptor, region_enrol, NULL, NULL},
    {"/ironrack.v1.Region/Register", &ironrack__v1__register_request__descriptor, region_register, NULL, NULL},
    {"/ironrack.v1.Region/Session", &ironrack__v1__rack_message__descriptor, NULL, region_session_open,
     &region_session_ops},
    {"/ironrack.v1.Region/GetBootConfig", &ironrack__v1__boot_config_request__descriptor, region_boot_config, NULL,
     NULL},
};

int region_rpc_start(struct region *r)
{
	struct rpc_server_tls tls = {
	    .key_pem = r->tls.server_key,
	    .cert_chain_pem = r->tls.server_chain,
	    .client_ca_pem = r->tls.ca_cert,
	};
	int port = 0;
	struct boot_config enlist;
	const char *field, *why;
	enlist_config(r, &enlist);
	if (boot_config_check(&enlist, &field, &why) < 0) {
		log_err("enlist_%s is not valid: %s", field, why);
		return -EINVAL;
	}
	int rc = region_racks_new(r);
	if (rc < 0)
		return rc;
	ratelimit_init(&r->racks->enrol_failures, &enrol_failure_limits);
	rc = rpc_server_new(r->rpc_loop, r->conf.grpc_listen, &tls, region_methods,
			    sizeof(region_methods) / sizeof(region_methods[0]), r, &r->rpc, &port);
	if (rc < 0) {
		log_err("cannot listen for racks on %s (address in use or not local?)", r->conf.grpc_listen);
		return rc;
	}
	char host[256];
	uint16_t conf_port;
	if (endpoint_parse(r->conf.grpc_listen, 5250, host, sizeof(host), &conf_port) < 0)
		snprintf(host, sizeof(host), "%s", r->conf.grpc_listen);
	rc = port_file_write(r->conf.state_dir, "grpc", host, port);
	if (rc < 0)
		log_warn("cannot write %s/ports/grpc: %s", r->conf.state_dir, strerror(-rc));
	log_info("rack RPC listening on %s%s%s:%d (TLS; CA %s)", strchr(host, ':') ? "[" : "", host,
		 strchr(host, ':') ? "]" : "", port, r->ca_fingerprint);
	return 0;
}

void region_rpc_stop(struct region *r)
{
	region_rpc_calls_abandon(r);
	rpc_server_free(r->rpc);
	r->rpc = NULL;
	region_racks_free(r);
}
