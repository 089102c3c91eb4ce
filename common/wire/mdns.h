/* Multicast DNS (RFC 6762) as the rack's discovery reads it: which
 * `*.local` host names are at which addresses. Pure: no I/O, no clock, no
 * logging, no globals.
 *
 * From a response (QR set, opcode 0) the parser takes the records of the
 * answer and additional sections (authority holds a prober's tentative
 * records, RFC 6762 8.2, which are no claim yet):
 *   - A and AAAA records, class IN, whose owner name ends in `.local`:
 *     (name, address);
 *   - reverse PTR records, class IN, `D.C.B.A.in-addr.arpa` or the 32
 *     nibbles of `ip6.arpa`, whose target ends in `.local`: (target,
 *     address), which avahi and Apple publish beside their A/AAAA.
 * Other records (service PTR, SRV, TXT, ...) are walked and ignored.
 * A query, or a message with an opcode other than 0 (which RFC 6762 18.3
 * says to ignore), carries no claim: -ENOMSG.
 *
 * The whole message must be well formed, or it is refused (-EBADMSG with
 * a reason): every record inside the buffer (counts that promise more
 * than the bytes hold are refused), names of at most 255 bytes in labels
 * of at most 63 (RFC 1035 2.3.4), compression pointers that point only
 * backwards to an earlier name (so a loop cannot exist: each pointer must
 * land before the start of the piece that led to it), no reserved label
 * types, A rdata of 4 bytes, AAAA of 16, a PTR name filling its rdata.
 * Names are reported in dotted text without the final dot, as sent (DNS
 * names compare without case). A record whose name has a byte outside
 * printable ASCII, a '.' or '\' inside a label, is skipped and counted:
 * such a name cannot be shown or stored unambiguously.
 *
 * IPv4 addresses are in HOST byte order, like the rest of the rack. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wire/eth.h"

#define MDNS_PORT	   5353
#define MDNS_HDR_LEN	   12
#define MDNS_LABEL_MAX	   63
#define MDNS_NAME_WIRE_MAX 255 /* length octets and labels, root included */
#define MDNS_NAME_TEXT_MAX 253 /* dotted, no final dot */

/* A frame from the wire: Ethernet (one optional VLAN tag), IPv4 (header
 * length from IHL, header checksum checked, no fragments) and UDP from or
 * to port 5353. The UDP checksum is not checked: captured frames of local
 * senders carry a checksum left to offload. */
struct mdns_frame {
	struct eth_hdr eth;
	uint32_t src, dst; /* IPv4, host order */
	uint16_t sport, dport;
	const uint8_t *payload; /* the mDNS message, inside the frame */
	size_t len;
};

/* 0; -ENOMSG for a well formed frame that is not IPv4 UDP to or from port
 * 5353 (IPv6 included: not read yet); -EBADMSG with *ret_why otherwise. */
int mdns_frame_parse(const uint8_t *buf, size_t len, struct mdns_frame *ret, const char **ret_why);

enum mdns_rr {
	MDNS_RR_A,
	MDNS_RR_AAAA,
	MDNS_RR_PTR, /* a reverse-mapping PTR: the address came from its name */
};

struct mdns_host {
	char name[MDNS_NAME_TEXT_MAX + 1]; /* "host.local" */
	bool is_v6;
	uint32_t v4; /* when !is_v6, host order */
	uint8_t v6[16];
	uint32_t ttl; /* 0: a goodbye (RFC 6762 10.1), the name leaves */
	enum mdns_rr rr;
};

struct mdns_result {
	size_t n;	/* pairs written to out (at most max) */
	size_t found;	/* pairs found in the message (more than n past max) */
	size_t skipped; /* A/AAAA/PTR records not taken: class, name, not reverse */
};

/* Parse one mDNS message (a UDP payload) into at most max (name, address)
 * pairs, in message order. Returns 0 (ret filled; out[0..ret->n) valid),
 * -ENOMSG (a query or another opcode: nothing taken), or -EBADMSG with
 * *ret_why (if not NULL) a short static reason; out may then hold partial
 * results, which the caller must drop. */
int mdns_parse(const uint8_t *msg, size_t len, struct mdns_host *out, size_t max, struct mdns_result *ret,
	       const char **ret_why);

/* Encoding for tests and the fuzzer: a name in dotted text into DNS wire
 * form, uncompressed. Returns its length; -EINVAL for an empty label, a
 * label over 63 or a name over 255 bytes; -ENOSPC. */
int mdns_name_encode(const char *name, uint8_t *out, size_t cap);
