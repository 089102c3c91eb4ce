/* ARP for IPv4 over Ethernet in whole frames; see arp.h. */
#include "common/wire/arp.h"

#include <errno.h>
#include <string.h>

#include "common/wire/bytes.h"

#define ARP_HTYPE_ETHER 1
#define ARP_PTYPE_IPV4	0x0800

static int why(const char **ret_why, const char *reason)
{
	if (ret_why)
		*ret_why = reason;
	return -EBADMSG;
}

static bool mac_is_unicast(const uint8_t mac[ETH_ADDR_LEN])
{
	static const uint8_t zero[ETH_ADDR_LEN];
	return !(mac[0] & 1) && memcmp(mac, zero, ETH_ADDR_LEN) != 0;
}

int arp_frame_parse(const uint8_t *buf, size_t len, struct arp_frame *ret, const char **ret_why)
{
	int r = eth_hdr_parse(buf, len, &ret->eth, ret_why);
	if (r < 0)
		return r;
	if (ret->eth.type != ETH_TYPE_ARP)
		return -ENOMSG;
	const uint8_t *p = buf + ret->eth.payload_off;
	if (len - ret->eth.payload_off < ARP_BODY_LEN)
		return why(ret_why, "ARP body shorter than 28 bytes");
	if (be_get16(p) != ARP_HTYPE_ETHER || p[4] != ETH_ADDR_LEN)
		return why(ret_why, "ARP hardware is not Ethernet (htype 1, hlen 6)");
	if (be_get16(p + 2) != ARP_PTYPE_IPV4 || p[5] != 4)
		return why(ret_why, "ARP protocol is not IPv4 (ptype 0x0800, plen 4)");
	uint16_t op = be_get16(p + 6);
	if (op != ARP_REQUEST && op != ARP_REPLY)
		return why(ret_why, "ARP operation is neither request nor reply");
	ret->op = op;
	memcpy(ret->sha, p + 8, ETH_ADDR_LEN);
	ret->spa = be_get32(p + 14);
	memcpy(ret->tha, p + 18, ETH_ADDR_LEN);
	ret->tpa = be_get32(p + 24);
	if (ret->spa == 0)
		ret->kind = ARP_KIND_PROBE;
	else if (ret->spa == ret->tpa)
		ret->kind = ARP_KIND_GRATUITOUS;
	else
		ret->kind = op == ARP_REQUEST ? ARP_KIND_REQUEST : ARP_KIND_REPLY;
	return 0;
}

bool arp_is_binding(const struct arp_frame *a)
{
	return a->kind != ARP_KIND_PROBE && mac_is_unicast(a->sha);
}

const char *arp_kind_name(enum arp_kind kind)
{
	switch (kind) {
	case ARP_KIND_REQUEST:
		return "request";
	case ARP_KIND_REPLY:
		return "reply";
	case ARP_KIND_GRATUITOUS:
		return "gratuitous";
	case ARP_KIND_PROBE:
		return "probe";
	}
	return "?";
}

int arp_request_build(uint8_t *out, size_t cap, const uint8_t sha[ETH_ADDR_LEN], uint32_t spa, uint32_t tpa,
		      uint16_t vlan)
{
	static const uint8_t bcast[ETH_ADDR_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	if (!mac_is_unicast(sha))
		return -EINVAL;
	int hlen = eth_hdr_build(out, cap, bcast, sha, vlan, ETH_TYPE_ARP);
	if (hlen < 0)
		return hlen;
	size_t len = (size_t)hlen + ARP_BODY_LEN;
	size_t total = len < ETH_MIN_FRAME_LEN ? ETH_MIN_FRAME_LEN : len;
	if (cap < total)
		return -ENOSPC;
	uint8_t *p = out + hlen;
	be_put16(p, ARP_HTYPE_ETHER);
	be_put16(p + 2, ARP_PTYPE_IPV4);
	p[4] = ETH_ADDR_LEN;
	p[5] = 4;
	be_put16(p + 6, ARP_REQUEST);
	memcpy(p + 8, sha, ETH_ADDR_LEN);
	be_put32(p + 14, spa);
	memset(p + 18, 0, ETH_ADDR_LEN); /* tha unknown: what we ask for */
	be_put32(p + 24, tpa);
	memset(out + len, 0, total - len);
	return (int)total;
}
