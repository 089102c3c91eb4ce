/* Ethernet II headers with at most one IEEE 802.1Q tag, for the frames the
 * rack captures (rack/discovery) and the ARP requests it sends. Pure: no
 * I/O, no clock, no logging, no globals.
 *
 * libpcap on Linux puts back into the captured bytes a VLAN tag the NIC
 * stripped (rx VLAN offload), so a frame from a trunk port carries its tag
 * here whichever way the kernel received it. A second tag (802.1ad QinQ,
 * or 802.1Q twice) is refused: the rack serves access ports and single
 * tagged trunks, and a service VLAN would need its own key. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define ETH_ADDR_LEN	  6
#define ETH_HDR_LEN	  14
#define ETH_VLAN_TAG_LEN  4
#define ETH_MIN_FRAME_LEN 60 /* without the FCS: shorter frames are padded */

#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP  0x0806
#define ETH_TYPE_VLAN 0x8100
#define ETH_TYPE_QINQ 0x88a8
#define ETH_TYPE_IPV6 0x86dd

#define ETH_VLAN_NONE 0 /* untagged, or priority-tagged (VID 0) */

struct eth_hdr {
	uint8_t dst[ETH_ADDR_LEN];
	uint8_t src[ETH_ADDR_LEN];
	uint16_t vlan;	    /* VID of the 802.1Q tag, ETH_VLAN_NONE without one */
	uint16_t type;	    /* EtherType after the tag */
	size_t payload_off; /* where the payload starts in the frame */
};

/* Parse the header of an Ethernet II frame of len bytes. Returns 0, or
 * -EBADMSG with *ret_why (if not NULL) a short static reason: shorter than
 * its header, a length field (802.3, type < 0x0600) instead of a type, or
 * more than one VLAN tag. */
int eth_hdr_parse(const uint8_t *buf, size_t len, struct eth_hdr *ret, const char **ret_why);

/* Write an Ethernet header (with a tag when vlan is 1..4094) to out.
 * Returns its length (14 or 18), or -ENOSPC, -EINVAL for vlan > 4094. */
int eth_hdr_build(uint8_t *out, size_t cap, const uint8_t dst[ETH_ADDR_LEN], const uint8_t src[ETH_ADDR_LEN],
		  uint16_t vlan, uint16_t type);

/* "02:00:00:00:00:01" into out (18 bytes with the NUL). */
void eth_addr_format(const uint8_t mac[ETH_ADDR_LEN], char out[18]);
