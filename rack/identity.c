/* The rack's identity: enrolment with the region and the files it leaves
 * in state_dir/tls (rack.key, rack.crt, ca.crt, rack-id; all 0600). */
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/net.h"
#include "common/pki.h"
#include "common/rpc/rpc.h"
#include "common/version.h"
#include "ironrack/v1/region.pb-c.h"
#include "rack/rack.h"

static int id_path(char *buf, size_t len, const struct rack *rack, const char *name)
{
	int n = snprintf(buf, len, "%s/tls/%s", rack->conf.state_dir, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int id_read(const struct rack *rack, const char *name, char **ret)
{
	char path[PATH_MAX];
	int rc = id_path(path, sizeof(path), rack, name);
	return rc < 0 ? rc : fs_read_all(path, 1 << 20, ret, NULL);
}

static int id_write(const struct rack *rack, const char *name, const char *data)
{
	char path[PATH_MAX];
	int rc = id_path(path, sizeof(path), rack, name);
	return rc < 0 ? rc : fs_write_atomic(path, data, strlen(data), 0600);
}

void rack_identity_done(struct rack_identity *id)
{
	free(id->key);
	free(id->cert);
	free(id->ca);
	memset(id, 0, sizeof(*id));
}

int rack_identity_load(struct rack *rack)
{
	char *rid = NULL;
	int rc = id_read(rack, "rack.key", &rack->id.key);
	if (rc >= 0)
		rc = id_read(rack, "rack.crt", &rack->id.cert);
	if (rc >= 0)
		rc = id_read(rack, "ca.crt", &rack->id.ca);
	if (rc >= 0)
		rc = id_read(rack, "rack-id", &rid);
	if (rc < 0) {
		rack_identity_done(&rack->id);
		return rc;
	}
	rid[strcspn(rid, "\r\n")] = '\0';
	snprintf(rack->id.rack_id, sizeof(rack->id.rack_id), "%s", rid);
	free(rid);
	if (pki_key_matches_cert(rack->id.key, rack->id.cert) < 0 || pki_cert_verify(rack->id.ca, rack->id.cert) < 0) {
		log_err("identity in %s/tls is inconsistent (key, certificate and CA do not match)",
			rack->conf.state_dir);
		rack_identity_done(&rack->id);
		return -EKEYREJECTED;
	}
	return 0;
}

int rack_identity_save(struct rack *rack, const char *key, const char *cert, const char *ca, const char *id)
{
	char dir[PATH_MAX], idline[80];
	int rc = id_path(dir, sizeof(dir), rack, "");
	if (rc >= 0)
		rc = fs_mkdir_p(dir, 0700);
	snprintf(idline, sizeof(idline), "%s\n", id);
	/* rack-id last: its presence marks a complete identity. */
	if (rc >= 0)
		rc = id_write(rack, "rack.key", key);
	if (rc >= 0)
		rc = id_write(rack, "rack.crt", cert);
	if (rc >= 0)
		rc = id_write(rack, "ca.crt", ca);
	if (rc >= 0)
		rc = id_write(rack, "rack-id", idline);
	return rc;
}

struct enrol_state {
	struct rack *rack;
	const char *key;
	const char *ca;
	bool done;
	int status; /* RPC status */
	char message[256];
};

static void enrol_done(void *arg, int status, const char *message, ProtobufCMessage *msg)
{
	struct enrol_state *st = arg;
	st->done = true;
	st->status = status;
	snprintf(st->message, sizeof(st->message), "%s", message);
	if (status != RPC_OK)
		return;
	const Ironrack__V1__EnrolResponse *resp = (const Ironrack__V1__EnrolResponse *)msg;
	char fa[PKI_FINGERPRINT_LEN], fb[PKI_FINGERPRINT_LEN];
	if (pki_cert_verify(st->ca, resp->cert_pem) < 0 || pki_key_matches_cert(st->key, resp->cert_pem) < 0 ||
	    pki_cert_fingerprint(resp->ca_pem, fa, sizeof(fa)) < 0 ||
	    pki_cert_fingerprint(st->ca, fb, sizeof(fb)) < 0 || !pki_fingerprint_equal(fa, fb)) {
		st->status = RPC_INTERNAL;
		snprintf(st->message, sizeof(st->message), "region returned a certificate that does not verify");
		return;
	}
	int rc = rack_identity_save(st->rack, st->key, resp->cert_pem, st->ca, resp->rack_id);
	if (rc < 0) {
		st->status = RPC_INTERNAL;
		snprintf(st->message, sizeof(st->message), "cannot store identity in %s/tls: %s",
			 st->rack->conf.state_dir, strerror(-rc));
	}
}

/* host:port as gRPC wants it, with brackets around IPv6 literals. */
static int enrol_target(const char *url, char *host, size_t hostlen, uint16_t *port, char *target, size_t len)
{
	int rc = endpoint_parse(url, 5250, host, hostlen, port);
	if (rc < 0)
		return rc;
	snprintf(target, len, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, *port);
	return 0;
}

/* One attempt against one region. 0 enrolled; -EAGAIN try again later;
 * -EACCES refused for good (wrong secret or CA mismatch). */
static int enrol_once(struct rack *rack, const char *url, const char *key, const char *csr)
{
	char host[256], target[300], fp[PKI_FINGERPRINT_LEN];
	uint16_t port;
	if (enrol_target(url, host, sizeof(host), &port, target, sizeof(target)) < 0) {
		log_err("region address '%s' is not host:port", url);
		return -EACCES;
	}
	char *ca = NULL;
	int rc = pki_fetch_server_ca(host, port, 5000, &ca);
	if (rc < 0) {
		log_warn("enrolment: cannot reach region %s: %s", target, strerror(-rc));
		return -EAGAIN;
	}
	pki_cert_fingerprint(ca, fp, sizeof(fp));
	if (rack->conf.ca_fingerprint[0] && !pki_fingerprint_equal(fp, rack->conf.ca_fingerprint)) {
		log_err("enrolment: region %s presented CA %s but --ca-fingerprint is %s: refusing", target, fp,
			rack->conf.ca_fingerprint);
		free(ca);
		return -EACCES;
	}
	if (!rack->conf.ca_fingerprint[0])
		log_warn("enrolment: trusting region CA %s on first use (pin it with --ca-fingerprint)", fp);

	struct rpc_channel *ch = NULL;
	struct rpc_client_tls tls = {.root_ca_pem = ca, .server_name = "ironrack-region"};
	struct enrol_state st = {.rack = rack, .key = key, .ca = ca};
	Ironrack__V1__EnrolRequest req = IRONRACK__V1__ENROL_REQUEST__INIT;
	req.secret = rack->conf.secret;
	req.csr_pem = (char *)csr;
	req.hostname = rack->hostname;
	req.version = IRONRACK_VERSION;
	rc = rpc_channel_new(rack->rpc_loop, target, &tls, &ch);
	if (rc >= 0)
		rc = rpc_unary(ch, "/ironrack.v1.Region/Enrol", &req.base, &ironrack__v1__enrol_response__descriptor,
			       10000, enrol_done, &st);
	while (rc >= 0 && !st.done)
		event_base_loop(rack->base, EVLOOP_ONCE);
	rpc_channel_free(ch);
	free(ca);
	if (rc < 0)
		return -EAGAIN;
	if (st.status == RPC_OK) {
		log_info("enrolled with region %s", target);
		return 0;
	}
	if (st.status == RPC_UNAUTHENTICATED || st.status == RPC_INVALID_ARGUMENT) {
		log_err("region %s refused enrolment: %s", target, st.message);
		return -EACCES;
	}
	log_warn("enrolment with region %s failed: %s: %s", target, rpc_status_name(st.status), st.message);
	return -EAGAIN;
}

int rack_enrol(struct rack *rack)
{
	if (!rack->conf.secret[0]) {
		log_err("this rack is not enrolled: give the region's enrolment secret in a file with "
			"--secret-file (or secret_file, or $IRONRACK_ENROL_SECRET_FILE); ironrack-regiond "
			"enrol-secret prints it");
		return -EACCES;
	}
	if (rack->conf.region.n == 0) {
		log_err("no region address: give --region HOST:PORT");
		return -EINVAL;
	}
	char *key = NULL, *csr = NULL;
	int rc = pki_key_create(&key);
	if (rc >= 0)
		rc = pki_csr_create(key, rack->hostname, &csr);
	if (rc < 0) {
		log_err("cannot create a key and certificate request: %s", strerror(-rc));
		free(key);
		return rc;
	}
	unsigned backoff_ms = 1000;
	for (size_t i = 0; !rack->stopping; i++) {
		rc = enrol_once(rack, rack->conf.region.items[i % rack->conf.region.n], key, csr);
		if (rc != -EAGAIN)
			break;
		if ((i + 1) % rack->conf.region.n == 0) {
			usleep(backoff_ms * 1000);
			backoff_ms = backoff_ms * 2 > (unsigned)rack->conf.reconnect_max * 1000
					 ? (unsigned)rack->conf.reconnect_max * 1000
					 : backoff_ms * 2;
		}
	}
	free(key);
	free(csr);
	return rc < 0 ? rc : rack_identity_load(rack);
}
