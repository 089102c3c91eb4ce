/* Ethernet II headers with one optional 802.1Q tag; see eth.h. */
#include "common/wire/eth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/wire/bytes.h"

#define ETH_TYPE_MIN  0x0600 /* below: an 802.3 length, not a type */
#define VLAN_VID_MASK 0x0fff
#define VLAN_VID_MAX  4094

static int why(const char **ret_why, const char *reason)
{
	if (ret_why)
		*ret_why = reason;
	return -EBADMSG;
}

int eth_hdr_parse(const uint8_t *buf, size_t len, struct eth_hdr *ret, const char **ret_why)
{
	if (len < ETH_HDR_LEN)
		return why(ret_why, "frame shorter than an Ethernet header");
	memcpy(ret->dst, buf, ETH_ADDR_LEN);
	memcpy(ret->src, buf + ETH_ADDR_LEN, ETH_ADDR_LEN);
	ret->vlan = ETH_VLAN_NONE;
	size_t off = 12;
	uint16_t type = be_get16(buf + off);
	if (type == ETH_TYPE_VLAN) {
		if (len < ETH_HDR_LEN + ETH_VLAN_TAG_LEN)
			return why(ret_why, "frame shorter than its VLAN tag");
		ret->vlan = be_get16(buf + off + 2) & VLAN_VID_MASK;
		off += ETH_VLAN_TAG_LEN;
		type = be_get16(buf + off);
	}
	if (type == ETH_TYPE_VLAN || type == ETH_TYPE_QINQ)
		return why(ret_why, "more than one VLAN tag");
	if (type < ETH_TYPE_MIN)
		return why(ret_why, "802.3 length field, not an Ethernet II type");
	ret->type = type;
	ret->payload_off = off + 2;
	return 0;
}

int eth_hdr_build(uint8_t *out, size_t cap, const uint8_t dst[ETH_ADDR_LEN], const uint8_t src[ETH_ADDR_LEN],
		  uint16_t vlan, uint16_t type)
{
	size_t len = vlan ? ETH_HDR_LEN + ETH_VLAN_TAG_LEN : ETH_HDR_LEN;

	if (vlan > VLAN_VID_MAX)
		return -EINVAL;
	if (cap < len)
		return -ENOSPC;
	memcpy(out, dst, ETH_ADDR_LEN);
	memcpy(out + ETH_ADDR_LEN, src, ETH_ADDR_LEN);
	size_t off = 12;
	if (vlan) {
		be_put16(out + off, ETH_TYPE_VLAN);
		be_put16(out + off + 2, vlan); /* priority 0, DEI 0 */
		off += ETH_VLAN_TAG_LEN;
	}
	be_put16(out + off, type);
	return (int)len;
}

void eth_addr_format(const uint8_t mac[ETH_ADDR_LEN], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}
