/* libFuzzer target for the DHCPv4 codec (common/wire/dhcp4.c,
 * common/wire/dhcp4_values.c).
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_dhcp4 tests/fuzz/corpus/dhcp4
 *
 * Every input is used twice: as a datagram (decode; what decodes must
 * encode, without and with the 576-byte limit, and decode again to an equal
 * message with the same bytes on a second encode; every accessor runs on
 * it), and as snippet text (first byte picks the type, the rest is the
 * value), whose output must fit the documented limit. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire/dhcp4.h"
#include "tests/fuzz/fuzz.h"

static struct dhcp4_msg m, q;
static uint8_t out[70000], again[70000];

static void check_accessors(const struct dhcp4_msg *x)
{
	uint32_t ip;
	uint16_t u16, arch[8];
	uint8_t guid[16];
	size_t len;
	struct dhcp4_ndi ndi;
	struct dhcp4_relay_info ri;
	struct dhcp4_route routes[16];

	int t = dhcp4_msg_type(x);
	CHECK(t == -ENOENT || t == -EBADMSG || (t >= 1 && t <= 255));
	(void)dhcp4_msg_type_name(t > 0 ? (unsigned)t : 0);
	(void)dhcp4_msg_requested_ip(x, &ip);
	(void)dhcp4_msg_server_id(x, &ip);
	(void)dhcp4_msg_lease_time(x, &ip);
	if (dhcp4_msg_max_size(x, &u16) == 0)
		CHECK(u16 >= DHCP4_MIN_MAX_SIZE && dhcp4_msg_reply_max_size(x) == u16);
	else
		CHECK(dhcp4_msg_reply_max_size(x) == DHCP4_MIN_MAX_SIZE);
	int n = dhcp4_msg_client_arch(x, arch, 8);
	CHECK(n == -ENOENT || n == -EBADMSG || n >= 1);
	(void)dhcp4_msg_client_ndi(x, &ndi);
	(void)dhcp4_msg_uuid(x, guid);
	(void)dhcp4_msg_requests(x, DHCP4_OPT_ROUTER);
	(void)dhcp4_msg_vendor_class_has_prefix(x, "PXEClient");
	(void)dhcp4_msg_has_user_class(x, "iPXE");
	if (dhcp4_msg_relay_info(x, &ri) == 0) {
		const uint8_t *v = dhcp4_msg_option(x, DHCP4_OPT_RELAY_INFO, &len);
		CHECK(!ri.circuit_id || (ri.circuit_id >= v && ri.circuit_id + ri.circuit_id_len <= v + len));
		CHECK(!ri.remote_id || (ri.remote_id >= v && ri.remote_id + ri.remote_id_len <= v + len));
	}
	const uint8_t *v = dhcp4_msg_option(x, DHCP4_OPT_CLASSLESS_ROUTES, &len);
	if (v) {
		n = dhcp4_routes_decode(v, len, routes, 16);
		if (n > 0 && n <= 16) {
			/* Re-encoding gives the same length and routes, with any
			 * host bits inside the last significant octet cleared. */
			uint8_t enc[16 * 9];
			struct dhcp4_route back[16];
			CHECK(dhcp4_routes_encode(routes, (size_t)n, enc, sizeof(enc)) == (int)len);
			CHECK(dhcp4_routes_decode(enc, len, back, 16) == n);
			for (int i = 0; i < n; i++) {
				uint32_t mask = routes[i].prefix_len ? htonl(~0u << (32 - routes[i].prefix_len)) : 0;
				CHECK(back[i].dest == (routes[i].dest & mask));
				CHECK(back[i].prefix_len == routes[i].prefix_len &&
				      back[i].gateway == routes[i].gateway);
			}
		}
	}
}

static void roundtrip(size_t max_size)
{
	int n = dhcp4_msg_encode(&m, max_size, out, sizeof(out));
	if (max_size < 65535 && n == -EMSGSIZE)
		return;
	CHECK(n >= DHCP4_BOOTP_MIN_LEN);
	CHECK((size_t)n <= (max_size < DHCP4_MIN_MAX_SIZE ? DHCP4_MIN_MAX_SIZE : max_size) - DHCP4_IP_UDP_LEN);
	CHECK(dhcp4_msg_decode(out, (size_t)n, &q, NULL) == 0);
	CHECK(dhcp4_msg_equal(&m, &q));
	CHECK(dhcp4_msg_encode(&q, max_size, again, sizeof(again)) == n);
	CHECK(memcmp(out, again, (size_t)n) == 0);
}

static void check_codec(const uint8_t *data, size_t size)
{
	const char *why = NULL;

	if (dhcp4_msg_decode(data, size, &m, &why) < 0) {
		CHECK(why != NULL);
		return;
	}
	CHECK(why == NULL);
	CHECK(m.sname[DHCP4_SNAME_LEN] == 0 && m.file[DHCP4_FILE_LEN] == 0);
	check_accessors(&m);
	roundtrip(65535);
	roundtrip(576);
	roundtrip(1500);
}

static void check_snippet(const uint8_t *data, size_t size)
{
	static const char *const types[] = {"u8", "u16", "u32", "i32", "bool", "ip", "ips", "string", "hex", "routes"};
	static char text[4096];
	uint8_t buf[DHCP4_SNIPPET_MAX];
	const char *why = NULL;

	if (size < 2 || size - 2 >= sizeof(text))
		return;
	memcpy(text, data + 2, size - 2);
	text[size - 2] = '\0';
	int n = dhcp4_snippet_encode(data[1], types[data[0] % 10], text, buf, sizeof(buf), &why);
	if (n < 0) {
		CHECK(n == -EINVAL && why != NULL);
		return;
	}
	CHECK(n <= DHCP4_SNIPPET_MAX && why == NULL);
	dhcp4_msg_init(&m);
	m.op = DHCP4_BOOTREPLY;
	CHECK(dhcp4_msg_option_set(&m, data[1], buf, (size_t)n) == 0);
	roundtrip(65535);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_codec(data, size);
	check_snippet(data, size);
	return 0;
}
