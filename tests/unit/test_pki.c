/* Unit tests for common/pki.c: certificates are inspected with OpenSSL
 * directly, and pki_fetch_server_ca talks to a TLS server on loopback run in
 * a thread of this process. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/pki.h"

#define DAYS 30

struct fixture {
	char *ca_key, *ca_cert;
	char *ca2_key, *ca2_cert; /* an unrelated CA */
};

static int group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || pki_ca_create("ironrack test CA", 365, &f->ca_key, &f->ca_cert) < 0 ||
	    pki_ca_create("other CA", 365, &f->ca2_key, &f->ca2_cert) < 0)
		return -1;
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;
	free(f->ca_key);
	free(f->ca_cert);
	free(f->ca2_key);
	free(f->ca2_cert);
	free(f);
	return 0;
}

/* ---- helpers ----------------------------------------------------------- */

static X509 *x509_parse(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(x);
	return x;
}

static EVP_PKEY *key_parse(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(k);
	return k;
}

static char *req_to_pem(X509_REQ *req)
{
	BIO *bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_X509_REQ(bio, req), 1);
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	char *s = strndup(data, (size_t)n);
	BIO_free(bio);
	return s;
}

static X509_REQ *req_parse(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509_REQ *req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(req);
	return req;
}

/* Verification as strict as OpenSSL gets (RFC 5280 profile checks) and for
 * a TLS purpose: OpenSSL's verdict as text, "ok" on success. */
static const char *verify_strict(const char *ca_pem, const char *cert_pem, int purpose)
{
	X509 *ca = x509_parse(ca_pem), *cert = x509_parse(cert_pem);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, cert, NULL), 1);
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
	assert_int_equal(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
	int err = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(cert);
	X509_free(ca);
	return X509_verify_cert_error_string(err);
}

/* A rack: key, CSR and a client certificate signed by the fixture CA. */
struct rack {
	char *key, *csr, *cert;
};

static void rack_enrol(const struct fixture *f, const char *csr_cn, const char *cn, uint64_t serial, struct rack *ret)
{
	assert_int_equal(pki_key_create(&ret->key), 0);
	assert_int_equal(pki_csr_create(ret->key, csr_cn, &ret->csr), 0);
	assert_int_equal(pki_csr_sign(f->ca_key, f->ca_cert, ret->csr, cn, DAYS, PKI_CLIENT, NULL, serial, &ret->cert),
			 0);
}

static void rack_done(struct rack *r)
{
	free(r->key);
	free(r->csr);
	free(r->cert);
}

/* Seconds from now to t (negative in the past). */
static int64_t seconds_from_now(const ASN1_TIME *t)
{
	int day, sec;
	assert_int_equal(ASN1_TIME_diff(&day, &sec, NULL, t), 1);
	return (int64_t)day * 86400 + sec;
}

/* ---- keys, CA, fingerprints -------------------------------------------- */

static void test_key_create_pkcs8(void **state)
{
	char *key;
	assert_int_equal(pki_key_create(&key), 0);
	assert_true(strncmp(key, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	EVP_PKEY *k = key_parse(key);
	assert_true(EVP_PKEY_is_a(k, "EC"));
	char group[32];
	assert_int_equal(EVP_PKEY_get_group_name(k, group, sizeof(group), NULL), 1);
	assert_string_equal(group, "prime256v1");
	EVP_PKEY_free(k);
	free(key);
}

static void test_ca_fingerprint_format(void **state)
{
	const struct fixture *f = *state;
	char fp[PKI_FINGERPRINT_LEN], fp2[PKI_FINGERPRINT_LEN];
	assert_int_equal(pki_cert_fingerprint(f->ca_cert, fp, sizeof(fp)), 0);
	assert_int_equal(strlen(fp), PKI_FINGERPRINT_LEN - 1);
	assert_true(strncmp(fp, "SHA256:", 7) == 0);
	for (size_t i = 0; i < 32; i++) {
		const char *p = fp + 7 + 3 * i;
		assert_non_null(strchr("0123456789ABCDEF", p[0]));
		assert_non_null(strchr("0123456789ABCDEF", p[1]));
		assert_int_equal(p[2], i == 31 ? '\0' : ':');
	}
	/* Stable, and distinct per certificate. */
	assert_int_equal(pki_cert_fingerprint(f->ca_cert, fp2, sizeof(fp2)), 0);
	assert_string_equal(fp, fp2);
	assert_int_equal(pki_cert_fingerprint(f->ca2_cert, fp2, sizeof(fp2)), 0);
	assert_string_not_equal(fp, fp2);
	assert_int_equal(pki_cert_fingerprint(f->ca_cert, fp2, PKI_FINGERPRINT_LEN - 1), -ERANGE);
}

static void test_ca_extensions(void **state)
{
	const struct fixture *f = *state;
	X509 *ca = x509_parse(f->ca_cert);
	int crit;
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(ca, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	assert_int_equal(crit, 1);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_null(X509_get_ext_d2i(ca, NID_ext_key_usage, &crit, NULL));
	/* Self-signed, with matching subject and authority key identifiers. */
	assert_int_equal(X509_check_issued(ca, ca), X509_V_OK);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(ca);
	assert_non_null(ski);
	assert_non_null(aki);
	assert_int_equal(ASN1_OCTET_STRING_cmp(ski, aki), 0);
	assert_int_equal(X509_get_signature_nid(ca), NID_ecdsa_with_SHA256);
	assert_int_equal(X509_get_version(ca), X509_VERSION_3);
	/* Backdated by an hour for clock skew. */
	int64_t nb = seconds_from_now(X509_get0_notBefore(ca));
	assert_true(nb <= -3600 + 60 && nb >= -3600 - 60);
	X509_free(ca);
	assert_string_equal(verify_strict(f->ca_cert, f->ca_cert, X509_PURPOSE_ANY), "ok");

	char cn[80];
	assert_int_equal(pki_cert_cn(f->ca_cert, cn, sizeof(cn)), 0);
	assert_string_equal(cn, "ironrack test CA");
}

/* ---- enrolment --------------------------------------------------------- */

static void test_csr_sign_verify(void **state)
{
	const struct fixture *f = *state;
	struct rack r;
	rack_enrol(f, "rack-01", "rack-01", 0x1234abcdULL, &r);
	assert_true(strncmp(r.csr, "-----BEGIN CERTIFICATE REQUEST-----\n", 36) == 0);
	assert_int_equal(pki_cert_verify(f->ca_cert, r.cert), 0);
	assert_string_equal(verify_strict(f->ca_cert, r.cert, X509_PURPOSE_SSL_CLIENT), "ok");
	/* A client certificate is no good for a server. */
	assert_string_equal(verify_strict(f->ca_cert, r.cert, X509_PURPOSE_SSL_SERVER),
			    "unsuitable certificate purpose");

	char cn[80];
	assert_int_equal(pki_cert_cn(r.cert, cn, sizeof(cn)), 0);
	assert_string_equal(cn, "rack-01");
	assert_int_equal(pki_cert_cn(r.cert, cn, 7), -ERANGE);
	rack_done(&r);
}

static void test_leaf_extensions(void **state)
{
	const struct fixture *f = *state;
	struct rack r;
	rack_enrol(f, "rack-02", "rack-02", UINT64_MAX, &r);
	X509 *x = x509_parse(r.cert), *ca = x509_parse(f->ca_cert);
	int crit;
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_false(bc->ca);
	assert_int_equal(crit, 1);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
	assert_null(X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x), X509_get0_subject_key_id(ca)), 0);
	assert_non_null(X509_get0_subject_key_id(x));
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(ca)), 0);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);

	uint64_t serial;
	assert_int_equal(ASN1_INTEGER_get_uint64(&serial, X509_get0_serialNumber(x)), 1);
	assert_true(serial == UINT64_MAX);
	int64_t nb = seconds_from_now(X509_get0_notBefore(x));
	assert_true(nb <= -3600 + 60 && nb >= -3600 - 60);
	X509_free(ca);
	X509_free(x);
	rack_done(&r);
}

static void test_csr_subject_ignored(void **state)
{
	const struct fixture *f = *state;
	struct rack r;
	rack_enrol(f, "region", "rack-03", 3, &r);
	char cn[80];
	assert_int_equal(pki_cert_cn(r.cert, cn, sizeof(cn)), 0);
	assert_string_equal(cn, "rack-03");
	rack_done(&r);
}

static void test_verify_other_ca(void **state)
{
	const struct fixture *f = *state;
	struct rack r;
	rack_enrol(f, "rack-04", "rack-04", 4, &r);
	assert_int_equal(pki_cert_verify(f->ca2_cert, r.cert), -EKEYREJECTED);
	/* A bundle holding both CAs (rotation) accepts it. */
	size_t n = strlen(f->ca2_cert) + strlen(f->ca_cert) + 1;
	char *bundle = malloc(n);
	snprintf(bundle, n, "%s%s", f->ca2_cert, f->ca_cert);
	assert_int_equal(pki_cert_verify(bundle, r.cert), 0);
	free(bundle);
	rack_done(&r);
}

static void test_key_matches_cert(void **state)
{
	const struct fixture *f = *state;
	struct rack r;
	rack_enrol(f, "rack-05", "rack-05", 5, &r);
	char *other;
	assert_int_equal(pki_key_create(&other), 0);
	assert_int_equal(pki_key_matches_cert(r.key, r.cert), 0);
	assert_int_equal(pki_key_matches_cert(other, r.cert), -EKEYREJECTED);
	assert_int_equal(pki_key_matches_cert(f->ca_key, f->ca_cert), 0);
	assert_int_equal(pki_key_matches_cert(f->ca2_key, f->ca_cert), -EKEYREJECTED);
	free(other);
	rack_done(&r);
}

static void test_ca_key_mismatch(void **state)
{
	const struct fixture *f = *state;
	struct rack r;
	rack_enrol(f, "rack-06", "rack-06", 6, &r);
	char *cert = NULL;
	assert_int_equal(pki_csr_sign(f->ca2_key, f->ca_cert, r.csr, "rack-06", DAYS, PKI_CLIENT, NULL, 7, &cert),
			 -EKEYREJECTED);
	assert_null(cert);
	rack_done(&r);
}

/* ---- server certificates ----------------------------------------------- */

static void test_server_cert_sans(void **state)
{
	const struct fixture *f = *state;
	const char *const sans[] = {"region.example", "localhost", "127.0.0.1", "::1", NULL};
	char *key, *cert;
	assert_int_equal(pki_key_create(&key), 0);
	assert_int_equal(pki_cert_issue(f->ca_key, f->ca_cert, key, "region", DAYS, PKI_SERVER, sans, 42, &cert), 0);
	assert_int_equal(pki_cert_verify(f->ca_cert, cert), 0);
	assert_string_equal(verify_strict(f->ca_cert, cert, X509_PURPOSE_SSL_SERVER), "ok");
	assert_int_equal(pki_key_matches_cert(key, cert), 0);

	X509 *x = x509_parse(cert);
	int crit;
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	assert_non_null(gens);
	assert_int_equal(crit, 0);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 4);
	static const unsigned char v4[4] = {127, 0, 0, 1};
	static const unsigned char v6[16] = {[15] = 1};
	for (int i = 0; i < 4; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s = gn->d.ia5;
		if (i < 2) {
			assert_int_equal(gn->type, GEN_DNS);
			assert_int_equal(ASN1_STRING_length(s), strlen(sans[i]));
			assert_memory_equal(ASN1_STRING_get0_data(s), sans[i], strlen(sans[i]));
		} else {
			assert_int_equal(gn->type, GEN_IPADD);
			assert_int_equal(ASN1_STRING_length(s), i == 2 ? 4 : 16);
			assert_memory_equal(ASN1_STRING_get0_data(s), i == 2 ? v4 : v6, i == 2 ? 4 : 16);
		}
	}
	GENERAL_NAMES_free(gens);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
	/* What a TLS client checks when it dials by name or by address. */
	assert_int_equal(X509_check_host(x, "region.example", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "10.0.0.1", 0), 0);
	X509_free(x);
	free(cert);
	free(key);
}

static void test_server_cert_from_csr(void **state)
{
	const struct fixture *f = *state;
	const char *const sans[] = {"10.1.2.3", NULL};
	struct rack r;
	rack_enrol(f, "x", "rack-07", 8, &r);
	char *cert;
	assert_int_equal(pki_csr_sign(f->ca_key, f->ca_cert, r.csr, "rack-07", DAYS, PKI_SERVER, sans, 9, &cert), 0);
	assert_string_equal(verify_strict(f->ca_cert, cert, X509_PURPOSE_SSL_SERVER), "ok");
	X509 *x = x509_parse(cert);
	assert_int_equal(X509_check_ip_asc(x, "10.1.2.3", 0), 1);
	X509_free(x);
	free(cert);
	rack_done(&r);
}

/* A rack's certificate (PKI_PEER): a TLS client towards the region and a
 * TLS server towards its HA partner, named by its rack id. */
static void test_peer_cert_is_client_and_server(void **state)
{
	const struct fixture *f = *state;
	const char *const sans[] = {"rack-08", NULL};
	struct rack r;
	rack_enrol(f, "x", "rack-08", 10, &r);
	char *cert;
	assert_int_equal(pki_csr_sign(f->ca_key, f->ca_cert, r.csr, "rack-08", DAYS, PKI_PEER, sans, 11, &cert), 0);
	assert_string_equal(verify_strict(f->ca_cert, cert, X509_PURPOSE_SSL_SERVER), "ok");
	assert_string_equal(verify_strict(f->ca_cert, cert, X509_PURPOSE_SSL_CLIENT), "ok");
	X509 *x = x509_parse(cert);
	assert_int_equal(X509_check_host(x, "rack-08", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "rack-09", 0, 0, NULL), 0);
	X509_free(x);
	free(cert);
	/* a client certificate is not a server's */
	assert_int_equal(pki_csr_sign(f->ca_key, f->ca_cert, r.csr, "rack-08", DAYS, PKI_CLIENT, NULL, 12, &cert), 0);
	assert_string_not_equal(verify_strict(f->ca_cert, cert, X509_PURPOSE_SSL_SERVER), "ok");
	free(cert);
	rack_done(&r);
}

static void test_invalid_arguments(void **state)
{
	const struct fixture *f = *state;
	const char *const bad_san[] = {"ok.example", "evil.example,IP:10.0.0.1", NULL};
	const char *const empty_san[] = {"", NULL};
	char long_cn[66];
	memset(long_cn, 'a', sizeof(long_cn) - 1);
	long_cn[sizeof(long_cn) - 1] = '\0';
	char *key, *cert = NULL, *csr = NULL;
	assert_int_equal(pki_key_create(&key), 0);
	assert_int_equal(pki_cert_issue(f->ca_key, f->ca_cert, key, "r", DAYS, PKI_SERVER, bad_san, 1, &cert), -EINVAL);
	assert_int_equal(pki_cert_issue(f->ca_key, f->ca_cert, key, "r", DAYS, PKI_SERVER, empty_san, 1, &cert),
			 -EINVAL);
	assert_int_equal(pki_cert_issue(f->ca_key, f->ca_cert, key, "r", DAYS, PKI_CLIENT, NULL, 0, &cert), -EINVAL);
	assert_int_equal(pki_cert_issue(f->ca_key, f->ca_cert, key, "r", 0, PKI_CLIENT, NULL, 1, &cert), -EINVAL);
	assert_int_equal(pki_cert_issue(f->ca_key, f->ca_cert, key, "", DAYS, PKI_CLIENT, NULL, 1, &cert), -EINVAL);
	assert_int_equal(pki_cert_issue(f->ca_key, f->ca_cert, key, long_cn, DAYS, PKI_CLIENT, NULL, 1, &cert),
			 -EINVAL);
	assert_int_equal(pki_csr_create(key, "", &csr), -EINVAL);
	assert_null(cert);
	assert_null(csr);
	/* 64 characters is the longest CN X.509 allows. */
	long_cn[64] = '\0';
	assert_int_equal(pki_cert_issue(f->ca_key, f->ca_cert, key, long_cn, DAYS, PKI_CLIENT, NULL, 1, &cert), 0);
	free(cert);
	free(key);
}

/* ---- rejected input ---------------------------------------------------- */

static void test_csr_tampered(void **state)
{
	const struct fixture *f = *state;
	char *key, *csr, *cert = NULL;
	assert_int_equal(pki_key_create(&key), 0);
	assert_int_equal(pki_csr_create(key, "rack-10", &csr), 0);

	/* Change the CN inside the signed body: still parses, no longer
	 * matches its signature. */
	X509_REQ *req = req_parse(csr);
	unsigned char *der = NULL;
	int n = i2d_X509_REQ(req, &der);
	assert_true(n > 0);
	X509_REQ_free(req);
	unsigned char *p = memmem(der, (size_t)n, "rack-10", 7);
	assert_non_null(p);
	p[6] = '9';
	const unsigned char *q = der;
	req = d2i_X509_REQ(NULL, &q, n);
	assert_non_null(req);
	OPENSSL_free(der);
	char *tampered = req_to_pem(req);
	X509_REQ_free(req);
	assert_int_equal(pki_csr_sign(f->ca_key, f->ca_cert, tampered, "rack-10", DAYS, PKI_CLIENT, NULL, 10, &cert),
			 -EKEYREJECTED);
	assert_null(cert);
	free(tampered);
	free(csr);
	free(key);
}

static void test_csr_wrong_key(void **state)
{
	const struct fixture *f = *state;
	char *key, *other, *csr, *cert = NULL;
	assert_int_equal(pki_key_create(&key), 0);
	assert_int_equal(pki_key_create(&other), 0);
	assert_int_equal(pki_csr_create(key, "rack-11", &csr), 0);

	/* Claim someone else's public key under our signature: the proof of
	 * possession fails. */
	X509_REQ *req = req_parse(csr);
	EVP_PKEY *k = key_parse(other);
	assert_int_equal(X509_REQ_set_pubkey(req, k), 1);
	char *forged = req_to_pem(req);
	assert_int_equal(pki_csr_sign(f->ca_key, f->ca_cert, forged, "rack-11", DAYS, PKI_CLIENT, NULL, 11, &cert),
			 -EKEYREJECTED);
	assert_null(cert);
	EVP_PKEY_free(k);
	X509_REQ_free(req);
	free(forged);
	free(csr);
	free(other);
	free(key);
}

static void test_garbage_pem(void **state)
{
	const struct fixture *f = *state;
	const char *garbage = "not a PEM at all";
	/* Right armour, body cut short. */
	char truncated[120];
	snprintf(truncated, sizeof(truncated), "%.90s\n-----END CERTIFICATE-----\n", f->ca_cert);
	char buf[PKI_FINGERPRINT_LEN], *out = NULL, *key;
	int64_t secs;
	assert_int_equal(pki_key_create(&key), 0);

	assert_int_equal(pki_cert_fingerprint(garbage, buf, sizeof(buf)), -EBADMSG);
	assert_int_equal(pki_cert_fingerprint(truncated, buf, sizeof(buf)), -EBADMSG);
	assert_int_equal(pki_cert_cn(garbage, buf, sizeof(buf)), -EBADMSG);
	assert_int_equal(pki_cert_expires_in(garbage, &secs), -EBADMSG);
	assert_int_equal(pki_cert_verify(garbage, f->ca_cert), -EBADMSG);
	assert_int_equal(pki_cert_verify(f->ca_cert, truncated), -EBADMSG);
	assert_int_equal(pki_key_matches_cert(garbage, f->ca_cert), -EBADMSG);
	assert_int_equal(pki_key_matches_cert(key, garbage), -EBADMSG);
	assert_int_equal(pki_csr_create(garbage, "x", &out), -EBADMSG);
	assert_int_equal(pki_csr_sign(f->ca_key, f->ca_cert, garbage, "x", DAYS, PKI_CLIENT, NULL, 1, &out), -EBADMSG);
	assert_int_equal(pki_csr_sign(garbage, f->ca_cert, garbage, "x", DAYS, PKI_CLIENT, NULL, 1, &out), -EBADMSG);
	assert_int_equal(pki_cert_issue(f->ca_key, garbage, key, "x", DAYS, PKI_CLIENT, NULL, 1, &out), -EBADMSG);
	/* A certificate where a key is expected. */
	assert_int_equal(pki_cert_issue(f->ca_key, f->ca_cert, f->ca_cert, "x", DAYS, PKI_CLIENT, NULL, 1, &out),
			 -EBADMSG);
	assert_null(out);
	assert_int_equal(ERR_peek_error(), 0);
	free(key);
}

/* ---- small helpers ----------------------------------------------------- */

static void test_fingerprint_equal(void **state)
{
	const struct fixture *f = *state;
	char fp[PKI_FINGERPRINT_LEN], fp2[PKI_FINGERPRINT_LEN];
	assert_int_equal(pki_cert_fingerprint(f->ca_cert, fp, sizeof(fp)), 0);
	assert_int_equal(pki_cert_fingerprint(f->ca2_cert, fp2, sizeof(fp2)), 0);

	char bare[65], lower[PKI_FINGERPRINT_LEN];
	size_t n = 0;
	for (const char *p = fp + 7; *p; p++)
		if (*p != ':')
			bare[n++] = *p;
	bare[n] = '\0';
	for (size_t i = 0; i < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)fp[i]);

	assert_true(pki_fingerprint_equal(fp, fp));
	assert_true(pki_fingerprint_equal(fp, bare));
	assert_true(pki_fingerprint_equal(lower, fp));
	assert_true(pki_fingerprint_equal(fp + 7, lower));
	assert_false(pki_fingerprint_equal(fp, fp2));
	/* Truncated, empty or non-hex pins match nothing. */
	bare[62] = '\0';
	assert_false(pki_fingerprint_equal(fp, bare));
	assert_false(pki_fingerprint_equal("", ""));
	assert_false(pki_fingerprint_equal("SHA256:", "SHA256:"));
	assert_false(pki_fingerprint_equal(fp, NULL));
	lower[10] = 'g';
	assert_false(pki_fingerprint_equal(fp, lower));
}

static void test_secret_equal(void **state)
{
	assert_true(pki_secret_equal("s3cret-token", "s3cret-token"));
	assert_true(pki_secret_equal("", ""));
	assert_false(pki_secret_equal("s3cret-token", "s3cret-tokeN"));
	assert_false(pki_secret_equal("s3cret-token", "s3cret-toke"));
	assert_false(pki_secret_equal("s3cret", "s3cret-token"));
	assert_false(pki_secret_equal(NULL, "x"));
	assert_false(pki_secret_equal("x", NULL));
}

static void test_random_hex(void **state)
{
	char a[2 * 100 + 1], b[2 * 100 + 1];
	assert_int_equal(pki_random_hex(100, a), 0);
	assert_int_equal(pki_random_hex(100, b), 0);
	assert_int_equal(strlen(a), 200);
	assert_int_equal(strspn(a, "0123456789abcdef"), 200);
	assert_string_not_equal(a, b);
	assert_int_equal(pki_random_hex(16, a), 0);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(pki_random_hex(0, a), 0);
	assert_string_equal(a, "");
}

static void test_sha256_hex(void **state)
{
	char h[65];
	pki_sha256_hex("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	pki_sha256_hex("", 0, h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_expires_in(void **state)
{
	const struct fixture *f = *state;
	struct rack r;
	rack_enrol(f, "rack-12", "rack-12", 12, &r);
	int64_t secs;
	assert_int_equal(pki_cert_expires_in(r.cert, &secs), 0);
	assert_true(secs > (int64_t)DAYS * 86400 - 60 && secs <= (int64_t)DAYS * 86400);
	assert_int_equal(pki_cert_expires_in(f->ca_cert, &secs), 0);
	assert_true(secs > 364 * 86400);
	rack_done(&r);
}

/* ---- pki_fetch_server_ca against a TLS server in a thread -------------- */

struct tls_server {
	int lfd;
	uint16_t port;
	SSL_CTX *ctx; /* NULL: answer with plain text, not TLS */
	pthread_t thread;
	bool handshake_ok; /* set by the thread */
	bool alpn_h2;
};

enum {
	SERVER_CHAIN_CA = 1 << 0,     /* serve leaf + CA, as the region does */
	SERVER_REQUIRE_CERT = 1 << 1, /* refuse clients without a certificate */
	SERVER_TLS12 = 1 << 2,
};

static int alpn_select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
			  unsigned int inlen, void *arg)
{
	static const unsigned char h2[] = {2, 'h', '2'};
	unsigned char *sel;
	/* Like a gRPC server: no "h2", no handshake. */
	if (SSL_select_next_proto(&sel, outlen, h2, sizeof(h2), in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *server_ctx_new(const struct fixture *f, int flags, char **ret_key, char **ret_cert)
{
	const char *const sans[] = {"localhost", "127.0.0.1", "::1", NULL};
	assert_int_equal(pki_key_create(ret_key), 0);
	assert_int_equal(
	    pki_cert_issue(f->ca_key, f->ca_cert, *ret_key, "region", DAYS, PKI_SERVER, sans, 99, ret_cert), 0);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	X509 *cert = x509_parse(*ret_cert), *ca = x509_parse(f->ca_cert);
	EVP_PKEY *key = key_parse(*ret_key);
	assert_int_equal(SSL_CTX_use_certificate(ctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	if (flags & SERVER_CHAIN_CA)
		assert_int_equal(SSL_CTX_add1_chain_cert(ctx, ca), 1);
	if (flags & SERVER_REQUIRE_CERT) {
		assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca), 1);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	if (flags & SERVER_TLS12)
		assert_int_equal(SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION), 1);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select_h2, NULL);
	EVP_PKEY_free(key);
	X509_free(ca);
	X509_free(cert);
	return ctx;
}

static void *tls_server_run(void *arg)
{
	struct tls_server *s = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct pollfd p = {.fd = s->lfd, .events = POLLIN};
	if (poll(&p, 1, 5000) != 1)
		return NULL;
	int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!s->ctx) {
		static const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
		if (write(fd, reply, sizeof(reply) - 1) < 0)
			perror("write");
		close(fd);
		return NULL;
	}
	SSL *ssl = SSL_new(s->ctx);
	SSL_set_fd(ssl, fd);
	s->handshake_ok = SSL_accept(ssl) == 1;
	if (s->handshake_ok) {
		const unsigned char *proto;
		unsigned int len;
		char buf[64];
		SSL_get0_alpn_selected(ssl, &proto, &len);
		s->alpn_h2 = len == 2 && memcmp(proto, "h2", 2) == 0;
		/* Until the client's close_notify or EOF. */
		while (SSL_read(ssl, buf, sizeof(buf)) > 0)
			;
	}
	SSL_free(ssl);
	close(fd);
	ERR_clear_error();
	return NULL;
}

/* Listen on a loopback address, port chosen by the kernel. */
static int listen_loopback(int family, uint16_t *ret_port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	*ret_port =
	    ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static void tls_server_start(struct tls_server *s, int family, SSL_CTX *ctx)
{
	*s = (struct tls_server){.ctx = ctx};
	s->lfd = listen_loopback(family, &s->port);
	assert_true(s->lfd >= 0);
	assert_int_equal(pthread_create(&s->thread, NULL, tls_server_run, s), 0);
}

static void tls_server_stop(struct tls_server *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
	SSL_CTX_free(s->ctx);
}

static void fetch_and_check(const struct fixture *f, int family, const char *host, int flags)
{
	char *key, *cert, *ca = NULL;
	struct tls_server s;
	tls_server_start(&s, family, server_ctx_new(f, SERVER_CHAIN_CA | flags, &key, &cert));
	assert_int_equal(pki_fetch_server_ca(host, s.port, 5000, &ca), 0);
	tls_server_stop(&s);
	assert_non_null(ca);
	assert_string_equal(ca, f->ca_cert);
	if (flags & SERVER_REQUIRE_CERT) {
		assert_false(s.handshake_ok);
	} else {
		assert_true(s.handshake_ok);
		assert_true(s.alpn_h2);
	}
	free(ca);
	free(cert);
	free(key);
}

static void test_fetch_server_ca(void **state)
{
	fetch_and_check(*state, AF_INET, "127.0.0.1", 0);
}

static void test_fetch_server_ca_tls12(void **state)
{
	fetch_and_check(*state, AF_INET, "127.0.0.1", SERVER_TLS12);
}

/* Servers that demand a client certificate: under TLS 1.3 our side of the
 * handshake completes first; under TLS 1.2 the server aborts it, but only
 * after sending its chain. */
static void test_fetch_client_cert_required(void **state)
{
	fetch_and_check(*state, AF_INET, "127.0.0.1", SERVER_REQUIRE_CERT);
}

static void test_fetch_client_cert_required_tls12(void **state)
{
	fetch_and_check(*state, AF_INET, "127.0.0.1", SERVER_REQUIRE_CERT | SERVER_TLS12);
}

static void test_fetch_server_ca_by_name(void **state)
{
	/* "localhost" may resolve to ::1 first, where nothing listens: the
	 * next address must be tried. */
	fetch_and_check(*state, AF_INET, "localhost", 0);
}

static void test_fetch_server_ca_ipv6(void **state)
{
	uint16_t port;
	int fd = listen_loopback(AF_INET6, &port);
	if (fd < 0) {
		print_message("skipped: no IPv6 loopback here (%s)\n", strerror(-fd));
		skip();
	}
	close(fd);
	fetch_and_check(*state, AF_INET6, "::1", 0);
}

static void test_fetch_chain_without_ca(void **state)
{
	char *key, *cert, *ca = NULL;
	struct tls_server s;
	tls_server_start(&s, AF_INET, server_ctx_new(*state, 0, &key, &cert));
	assert_int_equal(pki_fetch_server_ca("127.0.0.1", s.port, 5000, &ca), -ENOENT);
	tls_server_stop(&s);
	assert_null(ca);
	free(cert);
	free(key);
}

static void test_fetch_not_tls(void **state)
{
	char *ca = NULL;
	struct tls_server s;
	tls_server_start(&s, AF_INET, NULL);
	assert_int_equal(pki_fetch_server_ca("127.0.0.1", s.port, 5000, &ca), -EPROTO);
	tls_server_stop(&s);
	assert_null(ca);
}

static void test_fetch_refused(void **state)
{
	uint16_t port;
	int fd = listen_loopback(AF_INET, &port);
	assert_true(fd >= 0);
	close(fd); /* nothing listens there now */
	char *ca = NULL;
	assert_int_equal(pki_fetch_server_ca("127.0.0.1", port, 2000, &ca), -ECONNREFUSED);
	assert_null(ca);
}

static void test_fetch_timeout(void **state)
{
	/* The kernel completes the TCP handshake from the backlog, but nobody
	 * ever answers the ClientHello. */
	uint16_t port;
	int fd = listen_loopback(AF_INET, &port);
	assert_true(fd >= 0);
	char *ca = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pki_fetch_server_ca("127.0.0.1", port, 200, &ca), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int64_t ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 190 && ms < 2000);
	assert_null(ca);
	close(fd);
}

static void test_fetch_invalid(void **state)
{
	char *ca = NULL;
	assert_int_equal(pki_fetch_server_ca("127.0.0.1", 0, 1000, &ca), -EINVAL);
	assert_int_equal(pki_fetch_server_ca("127.0.0.1", 443, 0, &ca), -EINVAL);
	assert_int_equal(pki_fetch_server_ca("", 443, 1000, &ca), -EINVAL);
	assert_null(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_create_pkcs8),
	    cmocka_unit_test(test_ca_fingerprint_format),
	    cmocka_unit_test(test_ca_extensions),
	    cmocka_unit_test(test_csr_sign_verify),
	    cmocka_unit_test(test_leaf_extensions),
	    cmocka_unit_test(test_csr_subject_ignored),
	    cmocka_unit_test(test_verify_other_ca),
	    cmocka_unit_test(test_key_matches_cert),
	    cmocka_unit_test(test_ca_key_mismatch),
	    cmocka_unit_test(test_server_cert_sans),
	    cmocka_unit_test(test_server_cert_from_csr),
	    cmocka_unit_test(test_peer_cert_is_client_and_server),
	    cmocka_unit_test(test_invalid_arguments),
	    cmocka_unit_test(test_csr_tampered),
	    cmocka_unit_test(test_csr_wrong_key),
	    cmocka_unit_test(test_garbage_pem),
	    cmocka_unit_test(test_fingerprint_equal),
	    cmocka_unit_test(test_secret_equal),
	    cmocka_unit_test(test_random_hex),
	    cmocka_unit_test(test_sha256_hex),
	    cmocka_unit_test(test_expires_in),
	    cmocka_unit_test(test_fetch_server_ca),
	    cmocka_unit_test(test_fetch_server_ca_tls12),
	    cmocka_unit_test(test_fetch_client_cert_required),
	    cmocka_unit_test(test_fetch_client_cert_required_tls12),
	    cmocka_unit_test(test_fetch_server_ca_by_name),
	    cmocka_unit_test(test_fetch_server_ca_ipv6),
	    cmocka_unit_test(test_fetch_chain_without_ca),
	    cmocka_unit_test(test_fetch_not_tls),
	    cmocka_unit_test(test_fetch_refused),
	    cmocka_unit_test(test_fetch_timeout),
	    cmocka_unit_test(test_fetch_invalid),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
