#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "region/machine/token.h"

#define GOOD "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define NOW  1700000000000

static void test_new_tokens(void **state)
{
	(void)state;
	char seen[64][MACHINE_TOKEN_HEX + 1];

	for (int i = 0; i < 64; i++) {
		memset(seen[i], 'X', sizeof(seen[i]));
		machine_token_new(seen[i]);
		assert_int_equal(strlen(seen[i]), MACHINE_TOKEN_HEX);
		assert_true(machine_token_well_formed(seen[i]));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(seen[i], seen[j]);
	}
	/* 32 random bytes: across 64 tokens every hex digit turns up. */
	for (const char *d = "0123456789abcdef"; *d; d++) {
		bool found = false;
		for (int i = 0; i < 64 && !found; i++)
			found = strchr(seen[i], *d) != NULL;
		assert_true(found);
	}
}

static void test_hash_vectors(void **state)
{
	(void)state;
	char h[65];

	/* FIPS 180-2, appendix B.1, and the empty message. */
	machine_token_hash("abc", h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	machine_token_hash("", h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* The token's text is hashed, not the bytes it encodes. */
	machine_token_hash(GOOD, h);
	assert_true(machine_token_well_formed(h));
	assert_string_not_equal(h, GOOD);

	char t[MACHINE_TOKEN_HEX + 1], h2[65];
	machine_token_new(t);
	machine_token_hash(t, h);
	machine_token_hash(t, h2);
	assert_string_equal(h, h2);
}

static void test_well_formed(void **state)
{
	(void)state;
	char s[80];

	assert_true(machine_token_well_formed(GOOD));
	assert_false(machine_token_well_formed(NULL));
	assert_false(machine_token_well_formed(""));
	/* 63 digits, 65 digits. */
	snprintf(s, sizeof(s), "%.63s", GOOD);
	assert_false(machine_token_well_formed(s));
	snprintf(s, sizeof(s), "%s0", GOOD);
	assert_false(machine_token_well_formed(s));
	/* Upper case, a non-hex letter, a blank, each at either end. */
	static const char bad[] = {'A', 'F', 'g', 'z', ' ', '-', '\n'};
	for (size_t i = 0; i < sizeof(bad); i++) {
		strcpy(s, GOOD);
		s[0] = bad[i];
		assert_false(machine_token_well_formed(s));
		strcpy(s, GOOD);
		s[MACHINE_TOKEN_HEX - 1] = bad[i];
		assert_false(machine_token_well_formed(s));
	}
}

static struct machine_token_row row_ok(void)
{
	struct machine_token_row r = {.machine_id = 7, .expires_ms = NOW + 60000, .used = false};
	strcpy(r.purpose, "commission");
	return r;
}

static enum machine_token_verdict check(const char *token, const char *purpose, const struct machine_token_row *row,
					int64_t mac_machine_id, int64_t now, char msg[128])
{
	strcpy(msg, "junk");
	return machine_token_check(token, purpose, row, mac_machine_id, now, msg, 128);
}

static void test_check_each_verdict(void **state)
{
	(void)state;
	struct machine_token_row r = row_ok();
	char msg[128];
	char upper[MACHINE_TOKEN_HEX + 1];

	assert_int_equal(check(NULL, "commission", &r, 7, NOW, msg), TOKEN_ABSENT);
	assert_string_equal(msg, "no token posted");
	assert_int_equal(check("", "commission", &r, 7, NOW, msg), TOKEN_ABSENT);
	assert_string_equal(msg, "no token posted");

	assert_int_equal(check("0123abcd", "commission", &r, 7, NOW, msg), TOKEN_MALFORMED);
	assert_string_equal(msg, "token is not 64 lowercase hex digits");
	strcpy(upper, GOOD);
	upper[10] = 'A';
	assert_int_equal(check(upper, "commission", &r, 7, NOW, msg), TOKEN_MALFORMED);
	strcpy(upper, GOOD);
	upper[20] = 'x';
	assert_int_equal(check(upper, "commission", &r, 7, NOW, msg), TOKEN_MALFORMED);

	assert_int_equal(check(GOOD, "commission", NULL, 7, NOW, msg), TOKEN_UNKNOWN);
	assert_string_equal(msg, "token unknown");

	assert_int_equal(check(GOOD, "deploy", &r, 7, NOW, msg), TOKEN_WRONG_PURPOSE);
	assert_string_equal(msg, "token was issued for commission, not for deploy");
	assert_int_equal(check(GOOD, "commissio", &r, 7, NOW, msg), TOKEN_WRONG_PURPOSE);
	assert_int_equal(check(GOOD, "commission2", &r, 7, NOW, msg), TOKEN_WRONG_PURPOSE);
	assert_int_equal(check(GOOD, NULL, &r, 7, NOW, msg), TOKEN_WRONG_PURPOSE);

	assert_int_equal(check(GOOD, "commission", &r, 9, NOW, msg), TOKEN_WRONG_MACHINE);
	assert_string_equal(msg, "token belongs to machine 7, the boot MAC to machine 9");

	r.used = true;
	assert_int_equal(check(GOOD, "commission", &r, 7, NOW, msg), TOKEN_USED);
	assert_string_equal(msg, "token already used");
	r.used = false;

	r.expires_ms = NOW - 12000;
	assert_int_equal(check(GOOD, "commission", &r, 7, NOW, msg), TOKEN_EXPIRED);
	assert_string_equal(msg, "token expired 12s ago");
	r.expires_ms = NOW - (3600 + 120 + 5) * 1000LL - 999;
	assert_int_equal(check(GOOD, "commission", &r, 7, NOW, msg), TOKEN_EXPIRED);
	assert_string_equal(msg, "token expired 1h2m5s ago");

	r = row_ok();
	assert_int_equal(check(GOOD, "commission", &r, 7, NOW, msg), TOKEN_OK);
	assert_string_equal(msg, "token ok");
	/* No boot MAC known: the token alone names the machine. */
	assert_int_equal(check(GOOD, "commission", &r, 0, NOW, msg), TOKEN_OK);
}

static void test_check_expiry_boundary(void **state)
{
	(void)state;
	struct machine_token_row r = row_ok();
	char msg[128];

	assert_int_equal(check(GOOD, "commission", &r, 7, r.expires_ms - 1, msg), TOKEN_OK);
	assert_int_equal(check(GOOD, "commission", &r, 7, r.expires_ms, msg), TOKEN_EXPIRED);
	assert_string_equal(msg, "token expired 0s ago");
	assert_int_equal(check(GOOD, "commission", &r, 7, r.expires_ms + 1, msg), TOKEN_EXPIRED);
}

/* The first failing check wins, in the order the header gives. */
static void test_check_order(void **state)
{
	(void)state;
	struct machine_token_row r = row_ok();
	char msg[128];

	r.used = true;
	r.expires_ms = NOW - 1000;
	strcpy(r.purpose, "deploy");
	/* Malformed beats unknown. */
	assert_int_equal(check("nothex", "commission", NULL, 9, NOW, msg), TOKEN_MALFORMED);
	/* Purpose beats machine, used and expired. */
	assert_int_equal(check(GOOD, "commission", &r, 9, NOW, msg), TOKEN_WRONG_PURPOSE);
	strcpy(r.purpose, "commission");
	/* Machine beats used and expired. */
	assert_int_equal(check(GOOD, "commission", &r, 9, NOW, msg), TOKEN_WRONG_MACHINE);
	/* Used beats expired. */
	assert_int_equal(check(GOOD, "commission", &r, 7, NOW, msg), TOKEN_USED);
	r.used = false;
	assert_int_equal(check(GOOD, "commission", &r, 7, NOW, msg), TOKEN_EXPIRED);
}

static void test_check_purpose_unterminated(void **state)
{
	(void)state;
	struct machine_token_row r = row_ok();
	char msg[128];

	/* A full purpose buffer without a NUL is read no further than its size. */
	memset(r.purpose, 'a', sizeof(r.purpose));
	assert_int_equal(check(GOOD, "aaaaaaaaaaaaaaaa", &r, 7, NOW, msg), TOKEN_OK);
	assert_int_equal(check(GOOD, "aaaaaaaaaaaaaaaaa", &r, 7, NOW, msg), TOKEN_WRONG_PURPOSE);
	assert_int_equal(check(GOOD, "commission", &r, 7, NOW, msg), TOKEN_WRONG_PURPOSE);
	assert_string_equal(msg, "token was issued for aaaaaaaaaaaaaaaa, not for commission");
}

static void test_check_small_msg(void **state)
{
	(void)state;
	struct machine_token_row r = row_ok();
	char msg[8];

	memset(msg, 'x', sizeof(msg));
	assert_int_equal(machine_token_check(GOOD, "commission", &r, 7, NOW, msg, 6), TOKEN_OK);
	assert_string_equal(msg, "token");
	assert_int_equal(msg[6], 'x');
	assert_int_equal(machine_token_check(GOOD, "commission", &r, 9, NOW, NULL, 0), TOKEN_WRONG_MACHINE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_tokens),
	    cmocka_unit_test(test_hash_vectors),
	    cmocka_unit_test(test_well_formed),
	    cmocka_unit_test(test_check_each_verdict),
	    cmocka_unit_test(test_check_expiry_boundary),
	    cmocka_unit_test(test_check_order),
	    cmocka_unit_test(test_check_purpose_unterminated),
	    cmocka_unit_test(test_check_small_msg),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
