/* IPv4/IPv6 addresses, prefixes, MAC addresses and host:port endpoints.
 * Pure: no I/O, no globals. All functions return >= 0 on success or -errno
 * (-EINVAL for text that does not parse). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 u128;

/* An address of either family. v4 uses bytes[0..3]; the rest are zero. */
struct ipaddr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
};

/* A prefix (CIDR). addr holds the network address once normalised. */
struct ipprefix {
	struct ipaddr addr;
	uint8_t len; /* 0..32 for v4, 0..128 for v6 */
};

#define IPADDR_STRLEN	46 /* INET6_ADDRSTRLEN */
#define IPPREFIX_STRLEN 50 /* address + "/128" */
#define MAC_STRLEN	18

int ipaddr_parse(const char *s, struct ipaddr *ret);
/* Canonical text (RFC 5952 for v6). buf at least IPADDR_STRLEN. */
const char *ipaddr_format(const struct ipaddr *a, char *buf, size_t len);
int ipaddr_cmp(const struct ipaddr *a, const struct ipaddr *b); /* v4 < v6 */
bool ipaddr_equal(const struct ipaddr *a, const struct ipaddr *b);
unsigned ipaddr_bits(const struct ipaddr *a); /* 32 or 128 */

/* The address as an unsigned integer (v4 in the low 32 bits), and back. */
u128 ipaddr_to_u128(const struct ipaddr *a);
void ipaddr_from_u128(uint8_t family, u128 v, struct ipaddr *ret);
/* a + delta within the family; -ERANGE on overflow past the family's end. */
int ipaddr_add(const struct ipaddr *a, u128 delta, struct ipaddr *ret);

/* "10.0.0.0/24", "2001:db8::/32". strict: host bits set -> -EINVAL (and
 * *ret holds the normalised prefix so the caller can suggest it); not strict:
 * host bits are cleared. A bare address parses as /32 or /128. */
int ipprefix_parse(const char *s, bool strict, struct ipprefix *ret);
const char *ipprefix_format(const struct ipprefix *p, char *buf, size_t len);
/* Does p contain a? (false when families differ) */
bool ipprefix_contains(const struct ipprefix *p, const struct ipaddr *a);
bool ipprefix_overlaps(const struct ipprefix *a, const struct ipprefix *b);
/* First and last address of the prefix (network and broadcast for v4). */
void ipprefix_first(const struct ipprefix *p, struct ipaddr *ret);
void ipprefix_last(const struct ipprefix *p, struct ipaddr *ret);
/* Number of addresses minus one (so /0 of v6 fits): 255 for a v4 /24. */
u128 ipprefix_span(const struct ipprefix *p);
/* Build a prefix from an address and length, clearing host bits. */
int ipprefix_make(const struct ipaddr *a, unsigned len, struct ipprefix *ret);
/* Netmask for a v4 prefix length, host byte order. */
uint32_t ipv4_netmask(unsigned len);
/* Dotted quad of a host-order IPv4 address, in buf; returns buf. */
const char *ipv4_text(uint32_t addr, char buf[16]);

int mac_parse(const char *s, uint8_t ret[6]); /* aa:bb:.. or aa-bb-.. */
const char *mac_format(const uint8_t mac[6], char *buf, size_t len);

/* "host:port", "[v6]:port", "host" (port = default_port). host is copied
 * into host (hostnames allowed, not resolved). An optional scheme prefix
 * such as "https://" or "grpcs://" is accepted and dropped. */
int endpoint_parse(const char *s, uint16_t default_port, char *host, size_t hostlen, uint16_t *ret_port);
