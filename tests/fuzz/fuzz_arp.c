/* libFuzzer target for ARP in Ethernet frames (common/wire/arp.c, and the
 * Ethernet header under it, common/wire/eth.c).
 *
 *   make fuzz                          every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_arp tests/fuzz/corpus/arp
 *
 * What parses must lie inside the input and be classified consistently;
 * a frame that binds its sender rebuilds, as the request the active scan
 * sends, into a frame that parses back to the same sender, target and
 * VLAN. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/wire/arp.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arp_frame a;
	const char *why = NULL;
	int r = arp_frame_parse(data, size, &a, &why);

	CHECK(r == 0 || r == -EBADMSG || r == -ENOMSG);
	if (r == -EBADMSG)
		CHECK(why != NULL && why[0] != '\0');
	if (r != 0)
		return 0;
	CHECK(a.eth.payload_off == ETH_HDR_LEN || a.eth.payload_off == ETH_HDR_LEN + ETH_VLAN_TAG_LEN);
	CHECK(a.eth.payload_off + ARP_BODY_LEN <= size);
	CHECK(a.eth.vlan <= 4095);
	CHECK(a.op == ARP_REQUEST || a.op == ARP_REPLY);
	CHECK((a.kind == ARP_KIND_PROBE) == (a.spa == 0));
	CHECK(a.kind != ARP_KIND_GRATUITOUS || a.spa == a.tpa);
	CHECK(a.kind != ARP_KIND_PROBE || !arp_is_binding(&a));
	CHECK(strcmp(arp_kind_name(a.kind), "?") != 0);

	if (arp_is_binding(&a) && a.eth.vlan <= 4094) {
		uint8_t out[64];
		struct arp_frame b;
		int n = arp_request_build(out, sizeof(out), a.sha, a.spa, a.tpa, a.eth.vlan);
		CHECK(n == ETH_MIN_FRAME_LEN);
		CHECK(arp_frame_parse(out, (size_t)n, &b, NULL) == 0);
		CHECK(b.op == ARP_REQUEST && b.spa == a.spa && b.tpa == a.tpa && b.eth.vlan == a.eth.vlan);
		CHECK(memcmp(b.sha, a.sha, ETH_ADDR_LEN) == 0 && arp_is_binding(&b));
		CHECK(b.kind == (a.spa == a.tpa ? ARP_KIND_GRATUITOUS : ARP_KIND_REQUEST));
	}
	return 0;
}
