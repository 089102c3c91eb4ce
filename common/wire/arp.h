/* ARP for IPv4 over Ethernet (RFC 826) in whole Ethernet frames, as the
 * rack's discovery captures them (rack/discovery/capture.c) and as its
 * active scan sends them. Pure: no I/O, no clock, no logging, no globals.
 *
 * What a frame tells about its sender:
 *   - a request or a reply from sender IP S with sender MAC M: S is at M
 *     (a binding), whoever it was addressed to;
 *   - gratuitous ARP (sender IP == target IP, request or reply): a host
 *     announcing or defending its own address, also a binding;
 *   - an ARP probe (RFC 5227: a request with sender IP 0.0.0.0): a host
 *     asking whether an address is free before taking it. It has no
 *     binding: the target address is only a wish.
 * A sender MAC that is zero or a group address (broadcast, multicast) is
 * no binding either: no host owns such an address.
 *
 * IPv4 addresses are in HOST byte order, like the rest of the rack. The
 * parser reads only within the buffer; bytes after the 28 of the ARP body
 * (Ethernet padding up to 60) are ignored. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wire/eth.h"

#define ARP_BODY_LEN 28 /* htype .. tpa for Ethernet/IPv4 */
#define ARP_REQUEST  1
#define ARP_REPLY    2

/* What ARP says about its sender. */
enum arp_kind {
	ARP_KIND_REQUEST,    /* who-has, from a host with an address */
	ARP_KIND_REPLY,	     /* is-at */
	ARP_KIND_GRATUITOUS, /* sender IP == target IP, request or reply */
	ARP_KIND_PROBE,	     /* sender IP 0.0.0.0: not a binding */
};

struct arp_frame {
	struct eth_hdr eth; /* Ethernet source, destination and VLAN */
	uint16_t op;	    /* ARP_REQUEST or ARP_REPLY */
	enum arp_kind kind;
	uint8_t sha[ETH_ADDR_LEN];
	uint32_t spa;
	uint8_t tha[ETH_ADDR_LEN];
	uint32_t tpa;
};

/* Parse an Ethernet frame (one optional 802.1Q tag) carrying ARP.
 * Returns 0; -ENOMSG if the frame is well formed Ethernet but not ARP;
 * -EBADMSG if it is malformed or not Ethernet/IPv4 ARP (htype 1, ptype
 * 0x0800, hlen 6, plen 4, op 1 or 2), with *ret_why (if not NULL) a short
 * static reason. */
int arp_frame_parse(const uint8_t *buf, size_t len, struct arp_frame *ret, const char **ret_why);

/* Does the frame bind its sender IP to its sender MAC (see above)? */
bool arp_is_binding(const struct arp_frame *a);

const char *arp_kind_name(enum arp_kind kind);

/* A broadcast who-has tpa from (sha, spa), in an Ethernet frame with a
 * tag when vlan is 1..4094, padded to the 60-byte Ethernet minimum.
 * Returns the frame length; -ENOSPC if cap is too small, -EINVAL for a
 * bad VLAN id or a group/zero sender MAC. spa 0 makes an RFC 5227 probe. */
int arp_request_build(uint8_t *out, size_t cap, const uint8_t sha[ETH_ADDR_LEN], uint32_t spa, uint32_t tpa,
		      uint16_t vlan);
