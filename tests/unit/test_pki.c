/* Unit tests for common/pki.c: keys, CAs, enrolment, server certificates,
 * rejected input and the small helpers; certificates are inspected with
 * OpenSSL directly. pki_fetch_server_ca is test_pki_fetch.c. */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/pki.h"
#include "pki_util.h"

/* ---- helpers ----------------------------------------------------------- */

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_create_pkcs8),	 cmocka_unit_test(test_ca_fingerprint_format),
	    cmocka_unit_test(test_ca_extensions),	 cmocka_unit_test(test_csr_sign_verify),
	    cmocka_unit_test(test_leaf_extensions),	 cmocka_unit_test(test_csr_subject_ignored),
	    cmocka_unit_test(test_verify_other_ca),	 cmocka_unit_test(test_key_matches_cert),
	    cmocka_unit_test(test_ca_key_mismatch),	 cmocka_unit_test(test_server_cert_sans),
	    cmocka_unit_test(test_server_cert_from_csr), cmocka_unit_test(test_peer_cert_is_client_and_server),
	    cmocka_unit_test(test_invalid_arguments),	 cmocka_unit_test(test_csr_tampered),
	    cmocka_unit_test(test_csr_wrong_key),	 cmocka_unit_test(test_garbage_pem),
	    cmocka_unit_test(test_fingerprint_equal),	 cmocka_unit_test(test_secret_equal),
	    cmocka_unit_test(test_random_hex),		 cmocka_unit_test(test_sha256_hex),
	    cmocka_unit_test(test_expires_in),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
