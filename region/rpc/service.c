/* The Region service: method table, Enrol, Register, GetBootConfig. The
 * Session stream lives in sessions.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bootconf.h"
#include "common/log.h"
#include "common/net.h"
#include "common/pki.h"
#include "common/rpc/rpc.h"
#include "common/version.h"
#include "region/db/db.h"
#include "region/region.h"
#include "region/rpc/rpc.h"

#define RACK_ID_HEX 12

/* Untrusted text from a rack, for a log line: printable ASCII, the rest as '?'. */
static void log_escape_field(const char *s, char *buf, size_t len)
{
	size_t o = 0;
	for (; s && *s && o + 1 < len; s++)
		buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	buf[o] = '\0';
}

static void region_enrol(struct rpc_call *call, const ProtobufCMessage *msg, void *arg)
{
	struct region *r = arg;
	const Ironrack__V1__EnrolRequest *req = (const Ironrack__V1__EnrolRequest *)msg;
	const char *peer = rpc_call_peer(call);
	char secret[128];

	if (region_secret_get(r->conf.state_dir, secret, sizeof(secret)) < 0) {
		log_err("enrolment from %s: cannot read the enrolment secret", peer);
		rpc_call_fail(call, RPC_INTERNAL, "region cannot read its enrolment secret");
		return;
	}
	if (!pki_secret_equal(req->secret, secret)) {
		log_warn("refused enrolment of '%s' from %s: wrong enrolment secret", req->hostname, peer);
		rpc_call_fail(call, RPC_UNAUTHENTICATED, "wrong enrolment secret");
		return;
	}
	char hex[RACK_ID_HEX + 1], id[32], serial[32], fp[PKI_FINGERPRINT_LEN];
	char *cert = NULL;
	pki_random_hex(RACK_ID_HEX / 2, hex);
	snprintf(id, sizeof(id), "rack-%s", hex);
	int rc = region_tls_sign_rack(r, req->csr_pem, id, &cert, serial, sizeof(serial));
	if (rc < 0) {
		log_warn("refused enrolment of '%s' from %s: bad certificate request (%s)", req->hostname, peer,
			 strerror(-rc));
		rpc_call_fail(call, RPC_INVALID_ARGUMENT, "certificate request is not valid");
		return;
	}
	pki_cert_fingerprint(cert, fp, sizeof(fp));
	if (db_rack_enrol(r->db, id, req->hostname[0] ? req->hostname : id, serial, fp) < 0) {
		log_err("enrolment of '%s': database: %s", req->hostname, db_last_error(r->db));
		rpc_call_fail(call, RPC_UNAVAILABLE, "region database unavailable");
		free(cert);
		return;
	}
	Ironrack__V1__EnrolResponse resp = IRONRACK__V1__ENROL_RESPONSE__INIT;
	resp.rack_id = id;
	resp.cert_pem = cert;
	resp.ca_pem = r->tls.ca_cert;
	rpc_call_reply(call, &resp.base);
	log_info("enrolled rack %s (host '%s', version %s) from %s", id, req->hostname, req->version, peer);
	free(cert);
}

/* Every call except Enrol must come from an enrolled rack's certificate. */
int region_rpc_check_rack(struct region *r, const char *identity, const char *peer, const char *what)
{
	if (!identity[0]) {
		log_warn("refused %s from %s: no client certificate (enrol first)", what, peer);
		return RPC_UNAUTHENTICATED;
	}
	int rc = db_rack_exists(r->db, identity);
	if (rc < 0) {
		log_err("%s from %s: database: %s", what, identity, db_last_error(r->db));
		return RPC_UNAVAILABLE;
	}
	if (rc == 0) {
		log_warn("refused %s from %s: certificate CN '%s' is not an enrolled rack", what, peer, identity);
		return RPC_UNAUTHENTICATED;
	}
	return RPC_OK;
}

static int region_ifaces_from_pb(const Ironrack__V1__RegisterRequest *req, struct rack_iface **ret)
{
	struct rack_iface *ifs = calloc(req->n_interfaces ? req->n_interfaces : 1, sizeof(*ifs));
	if (!ifs)
		return -ENOMEM;
	for (size_t i = 0; i < req->n_interfaces; i++) {
		const Ironrack__V1__Interface *in = req->interfaces[i];
		ifs[i].name = in->name;
		ifs[i].mac = in->mac;
		ifs[i].addresses = in->addresses;
		ifs[i].n_addresses = in->n_addresses;
		ifs[i].vlan = in->vlan;
	}
	*ret = ifs;
	return 0;
}

static void region_register(struct rpc_call *call, const ProtobufCMessage *msg, void *arg)
{
	struct region *r = arg;
	const Ironrack__V1__RegisterRequest *req = (const Ironrack__V1__RegisterRequest *)msg;
	const char *id = rpc_call_identity(call);
	int st = region_rpc_check_rack(r, id, rpc_call_peer(call), "Register");
	if (st != RPC_OK) {
		rpc_call_fail(call, st, st == RPC_UNAUTHENTICATED ? "not an enrolled rack" : "database unavailable");
		return;
	}
	for (size_t i = 0; i < req->n_interfaces; i++) {
		if (req->interfaces[i]->vlan > 4094) {
			rpc_call_fail(call, RPC_INVALID_ARGUMENT, "interface vlan must be 0..4094");
			return;
		}
	}
	struct rack_iface *ifs = NULL;
	if (region_ifaces_from_pb(req, &ifs) < 0 ||
	    db_rack_register(r->db, id, req->hostname, req->version, ifs, req->n_interfaces) < 0) {
		log_err("Register from %s: database: %s", id, db_last_error(r->db));
		rpc_call_fail(call, RPC_UNAVAILABLE, "region database unavailable");
		free(ifs);
		return;
	}
	free(ifs);
	uint64_t version = 0;
	char *settings = NULL;
	if (db_rack_config_get(r->db, id, &version, &settings) >= 0)
		free(settings);
	Ironrack__V1__RegisterResponse resp = IRONRACK__V1__REGISTER_RESPONSE__INIT;
	resp.rack_id = (char *)id;
	resp.heartbeat_interval_s = (uint32_t)r->conf.heartbeat_interval;
	resp.config_version = version;
	rpc_call_reply(call, &resp.base);
	log_info("rack %s registered: host '%s', version %s, %zu interfaces", id, req->hostname, req->version,
		 req->n_interfaces);
}

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

/* Only for MACs the rack has no pushed config for (machine enlistment):
 * every one is told to boot the enlistment image. */
static void region_boot_config(struct rpc_call *call, const ProtobufCMessage *msg, void *arg)
{
	struct region *r = arg;
	const Ironrack__V1__BootConfigRequest *req = (const Ironrack__V1__BootConfigRequest *)msg;
	const char *id = rpc_call_identity(call);
	char mac_text[MAC_STRLEN], iface[64], arch[64];
	uint8_t mac[6];
	struct boot_config c;

	int st = region_rpc_check_rack(r, id, rpc_call_peer(call), "GetBootConfig");
	if (st != RPC_OK) {
		rpc_call_fail(call, st, "not an enrolled rack");
		return;
	}
	log_escape_field(req->interface, iface, sizeof(iface));
	log_escape_field(req->arch, arch, sizeof(arch));
	if (mac_parse(req->mac, mac) < 0) {
		char bad[64];
		log_escape_field(req->mac, bad, sizeof(bad));
		log_warn("GetBootConfig from rack %s: refused MAC '%s' (not aa:bb:cc:dd:ee:ff)", id, bad);
		rpc_call_fail(call, RPC_INVALID_ARGUMENT, "mac must be aa:bb:cc:dd:ee:ff");
		return;
	}
	mac_format(mac, mac_text, sizeof(mac_text));
	enlist_config(r, &c);
	Ironrack__V1__BootConfigResponse resp = IRONRACK__V1__BOOT_CONFIG_RESPONSE__INIT;
	resp.purpose = (char *)boot_purpose_name(c.purpose);
	resp.kernel = (char *)c.kernel;
	resp.initrd = (char *)c.initrd;
	resp.cmdline = (char *)c.cmdline;
	log_info("GetBootConfig from rack %s: MAC %s (arch '%s', interface '%s') is unknown: enlist", id, mac_text,
		 arch, iface);
	rpc_call_reply(call, &resp.base);
}

static const struct rpc_method region_methods[] = {
	{ "/ironrack.v1.Region/Enrol", &ironrack__v1__enrol_request__descriptor, region_enrol, NULL, NULL },
	{ "/ironrack.v1.Region/Register", &ironrack__v1__register_request__descriptor, region_register, NULL, NULL },
	{ "/ironrack.v1.Region/Session", &ironrack__v1__rack_message__descriptor, NULL, region_session_open,
	  &region_session_ops },
	{ "/ironrack.v1.Region/GetBootConfig", &ironrack__v1__boot_config_request__descriptor, region_boot_config,
	  NULL, NULL },
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
	rc = rpc_server_new(r->rpc_loop, r->conf.grpc_listen, &tls, region_methods,
			    sizeof(region_methods) / sizeof(region_methods[0]), r, &r->rpc, &port);
	if (rc < 0) {
		log_err("cannot listen for racks on %s (address in use or not local?)", r->conf.grpc_listen);
		return rc;
	}
	log_info("rack RPC listening on %s (TLS; CA %s)", r->conf.grpc_listen, r->ca_fingerprint);
	return 0;
}

void region_rpc_stop(struct region *r)
{
	rpc_server_free(r->rpc);
	r->rpc = NULL;
	region_racks_free(r);
}
