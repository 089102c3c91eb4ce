/* Pinning the region CA (region/cli/pin.h). Pure: certificates are parsed
 * and checked in memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/pki.h"
#include "common/util.h"
#include "region/cli/pin.h"

static X509 *pin_cert_parse(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	if (!b)
		oom_abort(0);
	X509 *c = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return c;
}

static bool pin_is_self_signed_ca(X509 *c)
{
	EVP_PKEY *key = X509_get0_pubkey(c);
	return key && X509_check_issued(c, c) == X509_V_OK && X509_verify(c, key) == 1 && X509_check_ca(c) >= 1;
}

/* Does leaf chain to ca, and may it serve TLS? The purpose is what a TLS
 * client checks too: a rack's client-only certificate from the same CA
 * does not pass. */
static bool pin_leaf_verifies(X509 *ca, X509 *leaf)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (!store || !ctx)
		oom_abort(0);
	bool ok = X509_STORE_add_cert(store, ca) == 1 && X509_STORE_CTX_init(ctx, store, leaf, NULL) == 1 &&
		  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER) == 1 && X509_verify_cert(ctx) == 1;
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

static int pin_cert_pem(X509 *c, char **ret)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	if (!b)
		oom_abort(0);
	int rc = -EIO;
	long n = PEM_write_bio_X509(b, c) == 1 ? BIO_get_mem_data(b, &data) : 0;
	if (n > 0) {
		*ret = xmalloc((size_t)n + 1);
		memcpy(*ret, data, (size_t)n);
		(*ret)[n] = '\0';
		rc = 0;
	}
	BIO_free(b);
	return rc;
}

int cli_pin_chain_ca(const char *const *pems, size_t n, char **ret_ca_pem, char *ret_fp, size_t fplen)
{
	if (n == 0)
		return -EINVAL;
	ERR_set_mark();
	X509 *leaf = pin_cert_parse(pems[0]), *ca = NULL;
	int rc = leaf ? -ENOENT : -EBADMSG;
	/* The top of the chain: the last self-signed CA the server sent. */
	for (size_t i = n; leaf && i-- > 0;) {
		X509 *c = pin_cert_parse(pems[i]);
		if (!c) {
			rc = -EBADMSG;
			break;
		}
		if (pin_is_self_signed_ca(c)) {
			ca = c;
			break;
		}
		X509_free(c);
	}
	if (ca)
		rc = pin_leaf_verifies(ca, leaf) ? 0 : -EKEYREJECTED;
	char *pem = NULL;
	if (rc == 0)
		rc = pin_cert_pem(ca, &pem);
	if (rc == 0)
		rc = pki_cert_fingerprint(pem, ret_fp, fplen);
	X509_free(ca);
	X509_free(leaf);
	ERR_pop_to_mark();
	if (rc < 0) {
		free(pem);
		return rc;
	}
	*ret_ca_pem = pem;
	return 0;
}

bool cli_pin_fingerprint_valid(const char *text)
{
	/* pki_fingerprint_equal matches nothing that is not a whole one. */
	return pki_fingerprint_equal(text, text);
}

int cli_pin_ca_path(const char *conf_path, char *buf, size_t len)
{
	size_t n = strlen(conf_path);
	if (n >= 5 && strcmp(conf_path + n - 5, ".conf") == 0)
		n -= 5;
	int w = snprintf(buf, len, "%.*s-ca.pem", (int)n, conf_path);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}
