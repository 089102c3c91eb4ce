/* Shared by the common/pki.c unit tests (test_pki.c, test_pki_fetch.c):
 * a fixture with two CAs made once per group, and PEM parsing that fails the
 * test on bad input. Include after <cmocka.h>. */
#pragma once

#include <stdint.h>
#include <stdlib.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/pki.h"

#define DAYS 30

struct fixture {
	char *ca_key, *ca_cert;
	char *ca2_key, *ca2_cert; /* an unrelated CA */
};

static inline int group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || pki_ca_create("ironrack test CA", 365, &f->ca_key, &f->ca_cert) < 0 ||
	    pki_ca_create("other CA", 365, &f->ca2_key, &f->ca2_cert) < 0)
		return -1;
	*state = f;
	return 0;
}

static inline int group_teardown(void **state)
{
	struct fixture *f = *state;
	free(f->ca_key);
	free(f->ca_cert);
	free(f->ca2_key);
	free(f->ca2_cert);
	free(f);
	return 0;
}

static inline X509 *x509_parse(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(x);
	return x;
}

static inline EVP_PKEY *key_parse(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(k);
	return k;
}
