/* DHCP HA load balancing (rack/dhcp/ha_hash): the RFC 3074 §6 hash and the
 * hash bucket assignment (docs/dhcp-ha.md "Terms").
 *
 * Where the expected values come from:
 *  - rfc3074_table below is RFC 3074 §6's mixing table transcribed from the
 *    RFC text in its own layout (15 values a line); the same 256 values
 *    appear in ISC dhcpd (server/failover.c, "taken from
 *    draft-ietf-dhc-loadb-01") and in Kea's HA hook (query_filter.cc, "from
 *    section 6 of RFC3074"). The implementation's table is typed
 *    separately, 16 a line, so a slip in either shows here.
 *  - RFC 3074 publishes no hash outputs (its §5 examples are bucket
 *    assignments of a relay, not hashes). The fixed vectors are therefore
 *    worked by hand from §6's reference function (hash starts at the key
 *    length; each key byte, last to first, is XORed in and looked up), the
 *    derivation written beside each, and longer keys are compared with
 *    rfc3074_p_hash(), §6's function as the RFC writes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "rack/dhcp/ha_hash.h"

/* clang-format off */
static const unsigned char rfc3074_table[256] = {
	251, 175, 119, 215,  81,  14,  79, 191, 103,  49, 181, 143, 186, 157,   0,
	232,  31,  32,  55,  60, 152,  58,  17, 237, 174,  70, 160, 144, 220,  90,
	 57, 223,  59,   3,  18, 140, 111, 166, 203, 196, 134, 243, 124,  95, 222,
	179, 197,  65, 180,  48,  36,  15, 107,  46, 233, 130, 165,  30, 123, 161,
	209,  23,  97,  16,  40,  91, 219,  61, 100,  10, 210, 109, 250, 127,  22,
	138,  29, 108, 244,  67, 207,   9, 178, 204,  74,  98, 126, 249, 167, 116,
	 34,  77, 193, 200, 121,   5,  20, 113,  71,  35, 128,  13, 182,  94,  25,
	226, 227, 199,  75,  27,  41, 245, 230, 224,  43, 225, 177,  26, 155, 150,
	212, 142, 218, 115, 241,  73,  88, 105,  39, 114,  62, 255, 192, 201, 145,
	214, 168, 158, 221, 148, 154, 122,  12,  84,  82, 163,  44, 139, 228, 236,
	205, 242, 217,  11, 187, 146, 159,  64,  86, 239, 195,  42, 106, 198, 118,
	112, 184, 172,  87,   2, 173, 117, 176, 229, 247, 253, 137, 185,  99, 164,
	102, 147,  45,  66, 231,  52, 141, 211, 194, 206, 246, 238,  56, 110,  78,
	248,  63, 240, 189,  93,  92,  51,  53, 183,  19, 171,  72,  50,  33, 104,
	101,  69,   8, 252,  83, 120,  76, 135,  85,  54, 202, 125, 188, 213,  96,
	235, 136, 208, 162, 129, 190, 132, 156,  38,  47,   1,   7, 254,  24,   4,
	216, 131,  89,  21,  28, 133,  37, 153, 149,  80, 170,  68,   6, 169, 234,
	151,
};
/* clang-format on */

/* RFC 3074 §6's loadb_p_hash, as the RFC writes it (int length, unsigned
 * char hash), over the table above. */
static unsigned char rfc3074_p_hash(const unsigned char *key, int len)
{
	unsigned char hash = len;
	int i;
	for (i = len; i > 0;)
		hash = rfc3074_table[hash ^ key[--i]];
	return hash;
}

static void test_table_is_the_rfcs(void **state)
{
	assert_memory_equal(ha_hash_table, rfc3074_table, 256);
	/* A permutation of 0..255 ("256 distinct values"). */
	unsigned seen[256] = {0};
	for (int i = 0; i < 256; i++)
		seen[ha_hash_table[i]]++;
	for (int i = 0; i < 256; i++)
		assert_int_equal(seen[i], 1);
	/* First and last values of the RFC's listing. */
	assert_int_equal(ha_hash_table[0], 251);
	assert_int_equal(ha_hash_table[14], 0);
	assert_int_equal(ha_hash_table[255], 151);
}

static void test_hash_vectors(void **state)
{
	/* Empty key: hash = len = 0, no rounds. */
	assert_int_equal(ha_hash(NULL, 0), 0);
	/* {00}: hash = 1; T[1 ^ 0x00] = T[1] = 175. */
	const uint8_t k1[] = {0x00};
	assert_int_equal(ha_hash(k1, 1), 175);
	/* {01 02}: hash = 2; T[2 ^ 0x02] = T[0] = 251; T[251 ^ 0x01] = T[250] = 170. */
	const uint8_t k2[] = {0x01, 0x02};
	assert_int_equal(ha_hash(k2, 2), 170);
	/* {ff}: hash = 1; T[1 ^ 0xff] = T[254] = 234. */
	const uint8_t k3[] = {0xff};
	assert_int_equal(ha_hash(k3, 1), 234);

	/* MACs and a client id (type 1 + MAC), by §6's function. */
	const struct {
		uint8_t key[8];
		size_t len;
		uint8_t want;
	} v[] = {
	    {{0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, 6, 254},
	    {{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, 6, 156},
	    {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 6, 79},
	    {{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77}, 8, 208},
	    {{0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, 7, 253},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(ha_hash(v[i].key, v[i].len), v[i].want);
		assert_int_equal(rfc3074_p_hash(v[i].key, (int)v[i].len), v[i].want);
	}
}

static void test_hash_matches_reference(void **state)
{
	/* Every length 0..255 over a pseudo-random byte stream. */
	uint8_t buf[255];
	uint32_t x = 12345;
	for (size_t len = 0; len <= sizeof(buf); len++) {
		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (uint8_t)(x >> 16);
		}
		assert_int_equal(ha_hash(buf, len), rfc3074_p_hash(buf, (int)len));
	}
}

static void test_bucket_roles(void **state)
{
	assert_int_equal(ha_bucket_role(0), HA_ROLE_PRIMARY);
	assert_int_equal(ha_bucket_role(127), HA_ROLE_PRIMARY);
	assert_int_equal(ha_bucket_role(128), HA_ROLE_SECONDARY);
	assert_int_equal(ha_bucket_role(255), HA_ROLE_SECONDARY);
	assert_string_equal(ha_role_name(HA_ROLE_PRIMARY), "primary");
	assert_string_equal(ha_role_name(HA_ROLE_SECONDARY), "secondary");
}

static void test_client_key(void **state)
{
	const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	const uint8_t id[7] = {0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

	/* chaddr unless the subnet matches client ids. */
	assert_int_equal(ha_client_bucket(mac, 6, id, 7, false), 156);
	assert_int_equal(ha_client_bucket(mac, 6, NULL, 0, false), 156);
	assert_int_equal(ha_client_bucket(mac, 6, id, 7, true), 253);
	/* Matching client ids, a client without one is its MAC. */
	assert_int_equal(ha_client_bucket(mac, 6, NULL, 0, true), 156);
	assert_int_equal(ha_client_bucket(mac, 6, id, 0, true), 156);
	/* No hardware address: the client id, whatever the subnet says. */
	assert_int_equal(ha_client_bucket(mac, 0, id, 7, false), 253);
	assert_int_equal(ha_client_bucket(mac, 17, id, 7, false), 253);
	assert_int_equal(ha_client_bucket(NULL, 6, id, 7, false), 253);
	/* Nothing to hash. */
	assert_int_equal(ha_client_bucket(NULL, 0, NULL, 0, false), -ENOENT);
	assert_int_equal(ha_client_bucket(mac, 17, id, 0, true), -ENOENT);
	assert_int_equal(ha_client_bucket(mac, 0, id, 256, true), -ENOENT);
	/* hlen counts: the rest of chaddr is not hashed. */
	const uint8_t mac16[16] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xee};
	assert_int_equal(ha_client_bucket(mac16, 6, NULL, 0, false), 156);
}

static void test_serves(void **state)
{
	/* Own buckets always, whatever secs says. */
	assert_true(ha_bucket_serves(HA_ROLE_PRIMARY, 0, 0, 10));
	assert_true(ha_bucket_serves(HA_ROLE_PRIMARY, 127, 0, 10));
	assert_true(ha_bucket_serves(HA_ROLE_SECONDARY, 128, 0, 10));
	assert_true(ha_bucket_serves(HA_ROLE_SECONDARY, 255, 65535, 10));
	/* The partner's only once secs exceeds the threshold. */
	assert_false(ha_bucket_serves(HA_ROLE_PRIMARY, 128, 0, 10));
	assert_false(ha_bucket_serves(HA_ROLE_PRIMARY, 200, 10, 10));
	assert_true(ha_bucket_serves(HA_ROLE_PRIMARY, 200, 11, 10));
	assert_false(ha_bucket_serves(HA_ROLE_SECONDARY, 127, 10, 10));
	assert_true(ha_bucket_serves(HA_ROLE_SECONDARY, 127, 11, 10));
	/* Threshold 0: never the partner's. */
	assert_false(ha_bucket_serves(HA_ROLE_SECONDARY, 5, 65535, 0));
}

static void test_spread(void **state)
{
	/* Sequential MACs (as a test bed or a batch of VMs has them) split
	 * about evenly; exactly one rack serves each at secs 0. */
	unsigned prim = 0, n = 20000;
	for (unsigned i = 0; i < n; i++) {
		uint8_t mac[6] = {0x52, 0x54, 0x00, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
		int b = ha_client_bucket(mac, 6, NULL, 0, false);
		assert_in_range(b, 0, 255);
		bool p = ha_bucket_serves(HA_ROLE_PRIMARY, (uint8_t)b, 0, 10);
		bool s = ha_bucket_serves(HA_ROLE_SECONDARY, (uint8_t)b, 0, 10);
		assert_true(p != s);
		prim += p;
	}
	assert_in_range(prim, n * 45 / 100, n * 55 / 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_is_the_rfcs),
	    cmocka_unit_test(test_hash_vectors),
	    cmocka_unit_test(test_hash_matches_reference),
	    cmocka_unit_test(test_bucket_roles),
	    cmocka_unit_test(test_client_key),
	    cmocka_unit_test(test_serves),
	    cmocka_unit_test(test_spread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
