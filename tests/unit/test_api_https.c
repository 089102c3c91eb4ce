/* Unit tests for region/api/https.c: the http_tls rule (auto, on, off
 * against the listen address) and the server context built from the
 * region's chain and key. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/ssl.h>

#include "common/pki.h"
#include "region/api/https.h"
#include "region/region.h"

static void test_mode_parse(void **state)
{
	enum api_tls_mode m;
	char err[128];

	assert_int_equal(api_tls_mode_parse("auto", &m), 0);
	assert_int_equal(m, API_TLS_AUTO);
	assert_int_equal(api_tls_mode_parse("on", &m), 0);
	assert_int_equal(m, API_TLS_ON);
	assert_int_equal(api_tls_mode_parse("off", &m), 0);
	assert_int_equal(m, API_TLS_OFF);
	/* Said in so many words: nothing else turns TLS off. */
	assert_int_equal(api_tls_mode_parse("no", &m), -EINVAL);
	assert_int_equal(api_tls_mode_parse("OFF", &m), -EINVAL);
	assert_int_equal(api_tls_mode_parse("", &m), -EINVAL);
	assert_int_equal(api_tls_mode_parse(NULL, &m), -EINVAL);
	assert_int_equal(api_tls_conf_check("auto", err, sizeof(err)), 0);
	assert_int_equal(api_tls_conf_check("false", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "http_tls"));
	assert_non_null(strstr(err, "false"));
}

static void test_loopback(void **state)
{
	assert_true(api_tls_host_is_loopback("127.0.0.1"));
	assert_true(api_tls_host_is_loopback("127.255.0.9"));
	assert_true(api_tls_host_is_loopback("::1"));
	assert_true(api_tls_host_is_loopback("::ffff:127.0.0.1"));
	assert_false(api_tls_host_is_loopback("0.0.0.0"));
	assert_false(api_tls_host_is_loopback("::"));
	assert_false(api_tls_host_is_loopback("128.0.0.1"));
	assert_false(api_tls_host_is_loopback("10.0.0.1"));
	assert_false(api_tls_host_is_loopback("::ffff:10.0.0.1"));
	assert_false(api_tls_host_is_loopback("::2"));
	/* A name is not an address: what it resolves to may change. */
	assert_false(api_tls_host_is_loopback("localhost"));
	assert_false(api_tls_host_is_loopback(""));
}

static void plan_check(const char *mode, const char *host, bool tls, bool warn)
{
	struct api_tls_plan p = {!tls, !warn};
	assert_int_equal(api_tls_plan(mode, host, &p), 0);
	assert_int_equal(p.tls, tls);
	assert_int_equal(p.warn_cleartext, warn);
}

static void test_plan(void **state)
{
	/* auto: HTTPS everywhere but loopback (the default 0.0.0.0 included). */
	plan_check("auto", "0.0.0.0", true, false);
	plan_check("auto", "::", true, false);
	plan_check("auto", "192.0.2.10", true, false);
	plan_check("auto", "region.example", true, false);
	plan_check("auto", "127.0.0.1", false, false);
	plan_check("auto", "::1", false, false);
	/* on: HTTPS even on loopback. */
	plan_check("on", "127.0.0.1", true, false);
	plan_check("on", "0.0.0.0", true, false);
	/* off: plain HTTP; off loopback with a warning. */
	plan_check("off", "127.0.0.1", false, false);
	plan_check("off", "0.0.0.0", false, true);
	plan_check("off", "192.0.2.10", false, true);
	plan_check("off", "region.example", false, true);
	struct api_tls_plan p;
	assert_int_equal(api_tls_plan("maybe", "127.0.0.1", &p), -EINVAL);
}

/* The region's PKI as region/tls.c makes it: a CA, a serverAuth leaf and
 * the chain leaf + CA. */
static void pki_make(struct region_tls *t)
{
	const char *sans[] = {"ironrack-region", "127.0.0.1", NULL};
	char *leaf = NULL;

	memset(t, 0, sizeof(*t));
	assert_int_equal(pki_ca_create("test CA", 30, &t->ca_key, &t->ca_cert), 0);
	assert_int_equal(pki_key_create(&t->server_key), 0);
	assert_int_equal(
	    pki_cert_issue(t->ca_key, t->ca_cert, t->server_key, "ironrack-region", 30, PKI_SERVER, sans, 7, &leaf), 0);
	size_t a = strlen(leaf), b = strlen(t->ca_cert);
	t->server_chain = malloc(a + b + 1);
	assert_non_null(t->server_chain);
	memcpy(t->server_chain, leaf, a);
	memcpy(t->server_chain + a, t->ca_cert, b + 1);
	free(leaf);
}

static void test_ctx(void **state)
{
	struct region_tls t;
	pki_make(&t);

	SSL_CTX *ctx = api_tls_ctx_new(&t);
	assert_non_null(ctx);
	assert_true(SSL_CTX_get_min_proto_version(ctx) >= TLS1_2_VERSION);
	/* The CA goes out with the leaf: a client pins it from the handshake. */
	STACK_OF(X509) *chain = NULL;
	assert_int_equal(SSL_CTX_get0_chain_certs(ctx, &chain), 1);
	assert_non_null(chain);
	assert_int_equal(sk_X509_num(chain), 1);
	SSL_CTX_free(ctx);

	/* A key that is not the certificate's is refused. */
	char *other = NULL;
	assert_int_equal(pki_key_create(&other), 0);
	char *keep = t.server_key;
	t.server_key = other;
	assert_null(api_tls_ctx_new(&t));
	t.server_key = keep;
	free(other);

	/* So is a chain that is not PEM. */
	char *chain_keep = t.server_chain;
	t.server_chain = "not a certificate";
	assert_null(api_tls_ctx_new(&t));
	t.server_chain = chain_keep;
	region_tls_done(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mode_parse),
	    cmocka_unit_test(test_loopback),
	    cmocka_unit_test(test_plan),
	    cmocka_unit_test(test_ctx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
