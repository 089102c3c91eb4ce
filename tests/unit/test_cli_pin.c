/* Unit tests for region/cli/pin.c: which CA `ironrack login` pins from the
 * chain an https:// server presents, the fingerprint check, and where the
 * CA is saved; and the --ca / --ca-fingerprint options (args.c).
 *
 * region/cli/ is not part of libregion.a, so the files under test are
 * included here directly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/pki.h"
#include "region/cli/args.c"
#include "region/cli/pin.c"

struct ca {
	char *key, *cert;
};

static struct ca ca_make(const char *cn)
{
	struct ca c;
	assert_int_equal(pki_ca_create(cn, 30, &c.key, &c.cert), 0);
	return c;
}

static char *leaf_make(const struct ca *c, bool server, uint64_t serial)
{
	const char *sans[] = {"ironrack-region", "127.0.0.1", NULL};
	char *key = NULL, *cert = NULL;
	assert_int_equal(pki_key_create(&key), 0);
	assert_int_equal(pki_cert_issue(c->key, c->cert, key, "ironrack-region", 30, server ? PKI_SERVER : PKI_CLIENT,
					server ? sans : NULL, serial, &cert),
			 0);
	free(key);
	return cert;
}

static void ca_free(struct ca *c)
{
	free(c->key);
	free(c->cert);
}

static void test_chain_pins_the_ca(void **state)
{
	struct ca a = ca_make("region CA");
	char *leaf = leaf_make(&a, true, 11);
	const char *chain[] = {leaf, a.cert};
	char *pinned = NULL, fp[PKI_FINGERPRINT_LEN], want[PKI_FINGERPRINT_LEN];

	assert_int_equal(cli_pin_chain_ca(chain, 2, &pinned, fp, sizeof(fp)), 0);
	assert_int_equal(pki_cert_fingerprint(a.cert, want, sizeof(want)), 0);
	assert_string_equal(fp, want);
	assert_true(pki_fingerprint_equal(fp, want));
	/* What is saved is that CA: it verifies the leaf. */
	assert_int_equal(pki_cert_verify(pinned, leaf), 0);
	char again[PKI_FINGERPRINT_LEN];
	assert_int_equal(pki_cert_fingerprint(pinned, again, sizeof(again)), 0);
	assert_string_equal(again, want);
	free(pinned);
	free(leaf);
	ca_free(&a);
}

static void test_chain_without_ca(void **state)
{
	struct ca a = ca_make("region CA");
	char *leaf = leaf_make(&a, true, 12);
	const char *only_leaf[] = {leaf};
	char *pinned = NULL, fp[PKI_FINGERPRINT_LEN];

	assert_int_equal(cli_pin_chain_ca(only_leaf, 1, &pinned, fp, sizeof(fp)), -ENOENT);
	assert_null(pinned);
	assert_int_equal(cli_pin_chain_ca(only_leaf, 0, &pinned, fp, sizeof(fp)), -EINVAL);
	const char *junk[] = {leaf, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"};
	assert_int_equal(cli_pin_chain_ca(junk, 2, &pinned, fp, sizeof(fp)), -EBADMSG);
	const char *junk_leaf[] = {"not PEM", a.cert};
	assert_int_equal(cli_pin_chain_ca(junk_leaf, 2, &pinned, fp, sizeof(fp)), -EBADMSG);
	assert_null(pinned);
	free(leaf);
	ca_free(&a);
}

/* Someone in between sends their own certificate with the real CA after
 * it: the leaf does not chain to that CA. */
static void test_chain_leaf_of_another_ca(void **state)
{
	struct ca a = ca_make("region CA"), b = ca_make("someone else");
	char *leaf = leaf_make(&b, true, 13);
	const char *chain[] = {leaf, a.cert};
	char *pinned = NULL, fp[PKI_FINGERPRINT_LEN];

	assert_int_equal(cli_pin_chain_ca(chain, 2, &pinned, fp, sizeof(fp)), -EKEYREJECTED);
	assert_null(pinned);
	/* With both CAs sent the top one is taken, and it must still vouch
	 * for the leaf. */
	const char *two[] = {leaf, b.cert, a.cert};
	assert_int_equal(cli_pin_chain_ca(two, 3, &pinned, fp, sizeof(fp)), -EKEYREJECTED);
	free(leaf);
	ca_free(&a);
	ca_free(&b);
}

/* A rack's client certificate from the region CA cannot pose as the
 * region: that is why the CLI need not check the host name. */
static void test_chain_client_certificate_refused(void **state)
{
	struct ca a = ca_make("region CA");
	char *rack = leaf_make(&a, false, 14);
	const char *chain[] = {rack, a.cert};
	char *pinned = NULL, fp[PKI_FINGERPRINT_LEN];

	assert_int_equal(pki_cert_verify(a.cert, rack), 0); /* it does chain */
	assert_int_equal(cli_pin_chain_ca(chain, 2, &pinned, fp, sizeof(fp)), -EKEYREJECTED);
	assert_null(pinned);
	free(rack);
	ca_free(&a);
}

static void test_fingerprint_valid(void **state)
{
	struct ca a = ca_make("region CA");
	char fp[PKI_FINGERPRINT_LEN];
	assert_int_equal(pki_cert_fingerprint(a.cert, fp, sizeof(fp)), 0);
	assert_true(cli_pin_fingerprint_valid(fp));
	assert_true(cli_pin_fingerprint_valid(fp + strlen("SHA256:")));
	char lower[PKI_FINGERPRINT_LEN];
	for (size_t i = 0; i <= strlen(fp); i++)
		lower[i] = (char)(fp[i] >= 'A' && fp[i] <= 'F' ? fp[i] - 'A' + 'a' : fp[i]);
	assert_true(cli_pin_fingerprint_valid(lower));
	assert_false(cli_pin_fingerprint_valid(""));
	assert_false(cli_pin_fingerprint_valid("SHA256:AB:CD"));
	fp[strlen(fp) - 1] = 'Z';
	assert_false(cli_pin_fingerprint_valid(fp));
	ca_free(&a);
}

static void test_ca_path(void **state)
{
	char buf[64];
	assert_int_equal(cli_pin_ca_path("/home/u/.config/ironrack/cli.conf", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/home/u/.config/ironrack/cli-ca.pem");
	assert_int_equal(cli_pin_ca_path("/tmp/login", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/tmp/login-ca.pem");
	assert_int_equal(
	    cli_pin_ca_path("/a/very/long/path/that/does/not/fit/in/sixty-four/bytes/x.conf", buf, sizeof(buf)),
	    -ENAMETOOLONG);
}

static void test_args_ca_options(void **state)
{
	char *argv[] = {"ironrack", "login", "https://h", "k", "--ca-fingerprint=SHA256:AB", "--ca", "/x/ca.pem"};
	struct cli_args a;
	char err[128];

	assert_int_equal(cli_args_parse(7, argv, &a, err, sizeof(err)), 0);
	assert_int_equal(a.given, CLI_OPT_CA | CLI_OPT_CA_FINGERPRINT);
	assert_string_equal(cli_opt_value(&a, CLI_OPT_CA_FINGERPRINT), "SHA256:AB");
	assert_string_equal(cli_opt_value(&a, CLI_OPT_CA), "/x/ca.pem");
	assert_string_equal(cli_opt_name(CLI_OPT_CA_FINGERPRINT), "--ca-fingerprint");
	assert_int_equal(a.n_words, 3);
	cli_args_done(&a);

	char *bad[] = {"ironrack", "racks", "list", "--ca"};
	assert_int_equal(cli_args_parse(4, bad, &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--ca needs a value");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chain_pins_the_ca),	     cmocka_unit_test(test_chain_without_ca),
	    cmocka_unit_test(test_chain_leaf_of_another_ca), cmocka_unit_test(test_chain_client_certificate_refused),
	    cmocka_unit_test(test_fingerprint_valid),	     cmocka_unit_test(test_ca_path),
	    cmocka_unit_test(test_args_ca_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
