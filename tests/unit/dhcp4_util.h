/* Helpers shared by the DHCPv4 codec unit tests (test_dhcp4*.c). */
#pragma once

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "common/wire/dhcp4.h"

static const uint8_t mac1[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

static inline uint32_t ip4(const char *s)
{
	uint32_t a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* encode(m) decodes to m, and re-encoding the decoded message gives the
 * same bytes. Returns the encoded length. */
static inline int roundtrip(const struct dhcp4_msg *m, size_t max_size)
{
	static uint8_t buf[70000], again[70000];
	static struct dhcp4_msg q;
	int n = dhcp4_msg_encode(m, max_size, buf, sizeof(buf));
	assert_true(n >= DHCP4_BOOTP_MIN_LEN);
	assert_true((size_t)n <= (max_size < 576 ? 576 : max_size) - 28);
	assert_int_equal(dhcp4_msg_decode(buf, (size_t)n, &q, NULL), 0);
	assert_true(dhcp4_msg_equal(m, &q));
	assert_int_equal(dhcp4_msg_encode(&q, max_size, again, sizeof(again)), n);
	assert_memory_equal(buf, again, (size_t)n);
	return n;
}
