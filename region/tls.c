/* The region's PKI on disk: state_dir/tls/{ca.key,ca.crt,server.key,
 * server.crt} and state_dir/enrol-secret, all 0600 in 0700 directories. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/pki.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "region/db/db.h"
#include "region/region.h"
#include "region/rpc/dbjob.h"

#define SERVER_NAME "ironrack-region" /* the name racks verify (rpc_client_tls.server_name) */
#define CA_DAYS	    (365 * 20)
#define SERVER_DAYS (365 * 5)
#define RACK_DAYS   (365 * 5)

static uint64_t tls_serial(void)
{
	char hex[17];
	uint64_t v = 0;
	while (v == 0) {
		if (pki_random_hex(8, hex) < 0)
			abort();
		v = strtoull(hex, NULL, 16) & INT64_MAX;
	}
	return v;
}

static int tls_path(char *buf, size_t len, const char *state_dir, const char *name)
{
	int n = snprintf(buf, len, "%s/tls/%s", state_dir, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int tls_read(const char *state_dir, const char *name, char **ret)
{
	char path[PATH_MAX];
	int r = tls_path(path, sizeof(path), state_dir, name);
	if (r < 0)
		return r;
	return fs_read_all(path, 1 << 20, ret, NULL);
}

static int tls_write(const char *state_dir, const char *name, const char *pem)
{
	char path[PATH_MAX];
	int r = tls_path(path, sizeof(path), state_dir, name);
	if (r < 0)
		return r;
	return fs_write_atomic(path, pem, strlen(pem), 0600);
}

/* ---- who may call: enrolled racks ---- */

struct tls_check_job {
	char identity[256];
	char peer[256];
	char what[64];
	region_rack_check_cb cb;
	void *arg;
	char err[256];
};

static int tls_check_run(struct db *db, void *arg)
{
	struct tls_check_job *j = arg;
	int rc = db_rack_exists(db, j->identity);
	if (rc < 0)
		snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
	return rc;
}

static void tls_check_done(void *arg, int status)
{
	struct tls_check_job *j = arg;
	int st = RPC_OK;
	if (status < 0) {
		if (status != -ECANCELED)
			log_err("%s from %s: database: %s", j->what, j->identity,
				j->err[0] ? j->err : strerror(-status));
		st = RPC_UNAVAILABLE;
	} else if (status == 0) {
		log_warn("refused %s from %s: certificate CN '%s' is not an enrolled rack", j->what, j->peer,
			 j->identity);
		st = RPC_UNAUTHENTICATED;
	}
	j->cb(j->arg, st);
	free(j);
}

/* Every call except Enrol must come from an enrolled rack's certificate. */
void region_rpc_check_rack(struct region *r, const char *identity, const char *peer, const char *what,
			   region_rack_check_cb cb, void *arg)
{
	if (!identity[0]) {
		log_warn("refused %s from %s: no client certificate (enrol first)", what, peer);
		cb(arg, RPC_UNAUTHENTICATED);
		return;
	}
	struct tls_check_job *j = xcalloc(1, sizeof(*j));
	snprintf(j->identity, sizeof(j->identity), "%s", identity);
	snprintf(j->peer, sizeof(j->peer), "%s", peer);
	snprintf(j->what, sizeof(j->what), "%s", what);
	j->cb = cb;
	j->arg = arg;
	region_dbjob_submit(r, DB_LANE_READ, tls_check_run, tls_check_done, j);
}

/* ---- the PKI on disk ---- */

static int tls_create_ca(struct region *r, char *err, size_t errlen)
{
	int rc = pki_ca_create("ironrack region CA", CA_DAYS, &r->tls.ca_key, &r->tls.ca_cert);
	if (rc < 0) {
		snprintf(err, errlen, "cannot create the region CA: %s", strerror(-rc));
		return rc;
	}
	if ((rc = tls_write(r->conf.state_dir, "ca.key", r->tls.ca_key)) < 0 ||
	    (rc = tls_write(r->conf.state_dir, "ca.crt", r->tls.ca_cert)) < 0) {
		snprintf(err, errlen, "cannot store the region CA in %s/tls: %s", r->conf.state_dir, strerror(-rc));
		return rc;
	}
	log_info("created a new region CA in %s/tls", r->conf.state_dir);
	return 0;
}

static int tls_create_server(struct region *r, char *err, size_t errlen)
{
	const char *sans[64];
	size_t n = 0;
	char host[256] = "";
	sans[n++] = SERVER_NAME;
	sans[n++] = "localhost";
	sans[n++] = "127.0.0.1";
	if (gethostname(host, sizeof(host) - 1) == 0 && host[0])
		sans[n++] = host;
	if (strcmp(r->name, host) != 0)
		sans[n++] = r->name;
	for (size_t i = 0; i < r->conf.tls_names.n && n < 63; i++)
		sans[n++] = r->conf.tls_names.items[i];
	sans[n] = NULL;

	char *key = NULL, *cert = NULL;
	int rc = pki_key_create(&key);
	if (rc >= 0)
		rc = pki_cert_issue(r->tls.ca_key, r->tls.ca_cert, key, SERVER_NAME, SERVER_DAYS, PKI_SERVER, sans,
				    tls_serial(), &cert);
	if (rc >= 0)
		rc = tls_write(r->conf.state_dir, "server.key", key);
	if (rc >= 0)
		rc = tls_write(r->conf.state_dir, "server.crt", cert);
	if (rc < 0) {
		snprintf(err, errlen, "cannot create the region server certificate: %s", strerror(-rc));
		free(key);
		free(cert);
		return rc;
	}
	r->tls.server_key = key;
	free(r->tls.server_chain);
	r->tls.server_chain = cert;
	return 0;
}

/* server.crt holds just the leaf; the chain we serve appends the CA so a
 * new rack can fetch and pin it (pki_fetch_server_ca). */
static int tls_build_chain(struct region *r)
{
	size_t a = strlen(r->tls.server_chain), b = strlen(r->tls.ca_cert);
	char *chain = xmalloc(a + b + 2);
	memcpy(chain, r->tls.server_chain, a);
	if (a > 0 && chain[a - 1] != '\n')
		chain[a++] = '\n';
	memcpy(chain + a, r->tls.ca_cert, b + 1);
	free(r->tls.server_chain);
	r->tls.server_chain = chain;
	return 0;
}

int region_tls_setup(struct region *r, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	int rc = tls_path(dir, sizeof(dir), r->conf.state_dir, "");
	if (rc >= 0)
		rc = fs_mkdir_p(dir, 0700);
	if (rc < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
		return rc;
	}
	rc = tls_read(r->conf.state_dir, "ca.key", &r->tls.ca_key);
	if (rc >= 0)
		rc = tls_read(r->conf.state_dir, "ca.crt", &r->tls.ca_cert);
	if (rc == -ENOENT && !r->tls.ca_key)
		rc = tls_create_ca(r, err, errlen);
	else if (rc < 0)
		snprintf(err, errlen, "cannot read the region CA in %s: %s", dir, strerror(-rc));
	if (rc < 0)
		return rc;

	rc = tls_read(r->conf.state_dir, "server.key", &r->tls.server_key);
	if (rc >= 0)
		rc = tls_read(r->conf.state_dir, "server.crt", &r->tls.server_chain);
	int64_t left = 0;
	if (rc >= 0 && (pki_cert_verify(r->tls.ca_cert, r->tls.server_chain) < 0 ||
			pki_cert_expires_in(r->tls.server_chain, &left) < 0 || left < 30 * 86400)) {
		log_warn("region server certificate is invalid or expires soon: issuing a new one");
		rc = -ENOENT;
	}
	if (rc < 0) {
		free(r->tls.server_key);
		r->tls.server_key = NULL;
		if ((rc = tls_create_server(r, err, errlen)) < 0)
			return rc;
	}
	if ((rc = tls_build_chain(r)) < 0)
		return rc;
	return pki_cert_fingerprint(r->tls.ca_cert, r->ca_fingerprint, sizeof(r->ca_fingerprint));
}

void region_tls_done(struct region_tls *tls)
{
	free(tls->ca_key);
	free(tls->ca_cert);
	free(tls->server_key);
	free(tls->server_chain);
	memset(tls, 0, sizeof(*tls));
}

int region_tls_sign_rack(struct region *r, const char *csr_pem, const char *rack_id, char **ret_cert_pem,
			 char *ret_serial, size_t serial_len)
{
	uint64_t serial = tls_serial();
	snprintf(ret_serial, serial_len, "%016" PRIx64, serial);
	/* Client towards the region, server towards its HA partner, which
	 * checks the name it dialled: the rack id (docs/dhcp-ha.md). */
	const char *const sans[] = {rack_id, NULL};
	return pki_csr_sign(r->tls.ca_key, r->tls.ca_cert, csr_pem, rack_id, RACK_DAYS, PKI_PEER, sans, serial,
			    ret_cert_pem);
}

static int secret_path(char *buf, size_t len, const char *state_dir)
{
	int n = snprintf(buf, len, "%s/enrol-secret", state_dir);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int region_secret_rotate(const char *state_dir, char *ret, size_t len)
{
	char path[PATH_MAX], hex[41];
	int rc = secret_path(path, sizeof(path), state_dir);
	if (rc < 0)
		return rc;
	if ((rc = pki_random_hex(20, hex)) < 0)
		return rc;
	if ((rc = fs_write_atomic(path, hex, strlen(hex), 0600)) < 0)
		return rc;
	snprintf(ret, len, "%s", hex);
	return 0;
}

int region_secret_get(const char *state_dir, char *ret, size_t len)
{
	char path[PATH_MAX], *data = NULL;
	int rc = secret_path(path, sizeof(path), state_dir);
	if (rc < 0)
		return rc;
	rc = fs_read_all(path, 4096, &data, NULL);
	if (rc == -ENOENT) {
		rc = region_secret_rotate(state_dir, ret, len);
		return rc < 0 ? rc : 1;
	}
	if (rc < 0)
		return rc;
	data[strcspn(data, "\r\n")] = '\0';
	snprintf(ret, len, "%s", data);
	free(data);
	if (ret[0])
		return 0;
	rc = region_secret_rotate(state_dir, ret, len);
	return rc < 0 ? rc : 1;
}
