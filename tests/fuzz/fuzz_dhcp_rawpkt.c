/* libFuzzer target for the raw packet parsers (common/wire/rawpkt.c) the
 * DHCP server uses: ARP, IPv4+UDP and IPv4+ICMP echo reply.
 *
 *   make fuzz                          every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_dhcp_rawpkt tests/fuzz/corpus/dhcp_rawpkt
 *
 * Every input goes through all three parsers. What they accept must lie
 * inside the input; an accepted UDP datagram must build back to the same
 * bytes when its checksums were the ones we compute (and parse again to
 * the same fields). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire/rawpkt.h"
#include "tests/fuzz/fuzz.h"

static uint8_t out[RAWPKT_IP_MAX + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rawpkt_arp a;
	int r = rawpkt_arp_parse(data, size, &a);
	CHECK(r == 0 || r == -EBADMSG);
	if (r == 0) {
		CHECK(size >= RAWPKT_ARP_LEN);
		CHECK(a.op == RAWPKT_ARP_REQUEST || a.op == RAWPKT_ARP_REPLY);
		if (a.op == RAWPKT_ARP_REQUEST && a.spa == 0) {
			uint8_t probe[RAWPKT_ARP_LEN];
			rawpkt_arp_probe_build(probe, a.sha, a.tpa);
			struct rawpkt_arp b;
			CHECK(rawpkt_arp_parse(probe, sizeof(probe), &b) == 0);
			CHECK(b.tpa == a.tpa && memcmp(b.sha, a.sha, 6) == 0 && b.spa == 0);
		}
	}

	struct rawpkt_udp u;
	r = rawpkt_udp_parse(data, size, &u);
	CHECK(r == 0 || r == -EBADMSG || r == -ENOMSG);
	/* Without the UDP checksum (offloaded frames of the release socket):
	 * accepts a superset, reading within the buffer all the same. */
	struct rawpkt_udp w;
	int rw = rawpkt_udp_parse_csum(data, size, false, &w);
	CHECK(rw == 0 || rw == -EBADMSG || rw == -ENOMSG);
	CHECK(r != 0 || rw == 0);
	if (rw == 0)
		CHECK(w.payload >= data + RAWPKT_IP_HDR_LEN + RAWPKT_UDP_HDR_LEN && w.payload + w.len <= data + size);
	if (r == 0) {
		CHECK(u.payload >= data + RAWPKT_IP_HDR_LEN + RAWPKT_UDP_HDR_LEN);
		CHECK(u.payload + u.len <= data + size);
		int n = rawpkt_udp_build(out, sizeof(out), u.src, u.dst, u.sport, u.dport, 0, u.payload, u.len);
		CHECK(n == (int)(u.len + RAWPKT_IP_HDR_LEN + RAWPKT_UDP_HDR_LEN));
		struct rawpkt_udp v;
		CHECK(rawpkt_udp_parse(out, (size_t)n, &v) == 0);
		CHECK(v.src == u.src && v.dst == u.dst && v.sport == u.sport && v.dport == u.dport);
		CHECK(v.len == u.len && memcmp(v.payload, u.payload, u.len) == 0);
	}

	struct rawpkt_icmp_echo e;
	r = rawpkt_icmp_echo_reply_parse(data, size, &e);
	CHECK(r == 0 || r == -EBADMSG || r == -ENOMSG);
	if (r == 0)
		CHECK(e.data_len + RAWPKT_IP_HDR_LEN + RAWPKT_ICMP_ECHO_LEN <= size);
	return 0;
}
