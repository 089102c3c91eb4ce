/* Raw IPv4/UDP, ARP and ICMP echo packets; see rawpkt.h. */
#include "common/wire/rawpkt.h"

#include <errno.h>
#include <string.h>

#include "common/wire/bytes.h"

#define IPPROTO_ICMP_ 1
#define IPPROTO_UDP_  17
#define IP_MF	      0x2000
#define IP_OFFMASK    0x1fff

static uint32_t csum_add(const uint8_t *p, size_t len, uint32_t sum)
{
	for (; len > 1; p += 2, len -= 2)
		sum += be_get16(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t rawpkt_csum(const void *data, size_t len, uint32_t sum)
{
	return csum_fold(csum_add(data, len, sum));
}

static uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + (uint32_t)len;
}

static void ip_header_build(uint8_t *ip, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id, size_t total)
{
	memset(ip, 0, RAWPKT_IP_HDR_LEN);
	ip[0] = 0x45; /* version 4, 5 words */
	be_put16(ip + 2, (uint16_t)total);
	be_put16(ip + 4, id);
	ip[8] = 64; /* TTL */
	ip[9] = proto;
	be_put32(ip + 12, src);
	be_put32(ip + 16, dst);
	be_put16(ip + 10, rawpkt_csum(ip, RAWPKT_IP_HDR_LEN, 0));
}

int rawpkt_udp_build(uint8_t *out, size_t cap, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
		     uint16_t ip_id, const uint8_t *payload, size_t len)
{
	size_t udp_len = RAWPKT_UDP_HDR_LEN + len;
	size_t total = RAWPKT_IP_HDR_LEN + udp_len;

	if (len > RAWPKT_IP_MAX - RAWPKT_IP_HDR_LEN - RAWPKT_UDP_HDR_LEN)
		return -EMSGSIZE;
	if (cap < total)
		return -ENOSPC;
	ip_header_build(out, src, dst, IPPROTO_UDP_, ip_id, total);
	uint8_t *udp = out + RAWPKT_IP_HDR_LEN;
	be_put16(udp, sport);
	be_put16(udp + 2, dport);
	be_put16(udp + 4, (uint16_t)udp_len);
	be_put16(udp + 6, 0);
	if (len)
		memcpy(udp + RAWPKT_UDP_HDR_LEN, payload, len);
	uint16_t c = rawpkt_csum(udp, udp_len, pseudo_sum(src, dst, IPPROTO_UDP_, udp_len));
	be_put16(udp + 6, c ? c : 0xffff); /* RFC 768: a computed 0 is sent as all ones */
	return (int)total;
}

/* Checks the IPv4 header; on success *ret_hlen is its length and
 * *ret_total the datagram length (<= len; link padding beyond is ignored). */
static int ip_header_parse(const uint8_t *buf, size_t len, size_t *ret_hlen, size_t *ret_total)
{
	if (len < RAWPKT_IP_HDR_LEN || (buf[0] >> 4) != 4)
		return -EBADMSG;
	size_t hlen = (size_t)(buf[0] & 0x0f) * 4;
	size_t total = be_get16(buf + 2);
	if (hlen < RAWPKT_IP_HDR_LEN || hlen > len || total < hlen || total > len)
		return -EBADMSG;
	if (rawpkt_csum(buf, hlen, 0) != 0)
		return -EBADMSG;
	uint16_t frag = be_get16(buf + 6);
	if (frag & (IP_MF | IP_OFFMASK))
		return -EBADMSG;
	*ret_hlen = hlen;
	*ret_total = total;
	return 0;
}

int rawpkt_udp_parse(const uint8_t *buf, size_t len, struct rawpkt_udp *ret)
{
	return rawpkt_udp_parse_csum(buf, len, true, ret);
}

int rawpkt_udp_parse_csum(const uint8_t *buf, size_t len, bool check_udp_csum, struct rawpkt_udp *ret)
{
	size_t hlen, total;
	int r = ip_header_parse(buf, len, &hlen, &total);
	if (r < 0)
		return r;
	if (buf[9] != IPPROTO_UDP_)
		return -ENOMSG;
	const uint8_t *udp = buf + hlen;
	size_t avail = total - hlen;
	if (avail < RAWPKT_UDP_HDR_LEN)
		return -EBADMSG;
	size_t udp_len = be_get16(udp + 4);
	if (udp_len < RAWPKT_UDP_HDR_LEN || udp_len > avail)
		return -EBADMSG;
	uint32_t src = be_get32(buf + 12), dst = be_get32(buf + 16);
	if (check_udp_csum && be_get16(udp + 6) != 0 &&
	    rawpkt_csum(udp, udp_len, pseudo_sum(src, dst, IPPROTO_UDP_, udp_len)) != 0)
		return -EBADMSG;
	*ret = (struct rawpkt_udp){
	    .src = src,
	    .dst = dst,
	    .sport = be_get16(udp),
	    .dport = be_get16(udp + 2),
	    .payload = udp + RAWPKT_UDP_HDR_LEN,
	    .len = udp_len - RAWPKT_UDP_HDR_LEN,
	};
	return 0;
}

void rawpkt_arp_probe_build(uint8_t out[RAWPKT_ARP_LEN], const uint8_t sha[6], uint32_t tpa)
{
	memset(out, 0, RAWPKT_ARP_LEN);
	be_put16(out, 1);	   /* htype Ethernet */
	be_put16(out + 2, 0x0800); /* ptype IPv4 */
	out[4] = 6;
	out[5] = 4;
	be_put16(out + 6, RAWPKT_ARP_REQUEST);
	memcpy(out + 8, sha, 6);
	/* spa 0.0.0.0 and tha 00:00:00:00:00:00 (RFC 5227 2.1.1) */
	be_put32(out + 24, tpa);
}

int rawpkt_arp_parse(const uint8_t *buf, size_t len, struct rawpkt_arp *ret)
{
	if (len < RAWPKT_ARP_LEN)
		return -EBADMSG;
	if (be_get16(buf) != 1 || be_get16(buf + 2) != 0x0800 || buf[4] != 6 || buf[5] != 4)
		return -EBADMSG;
	uint16_t op = be_get16(buf + 6);
	if (op != RAWPKT_ARP_REQUEST && op != RAWPKT_ARP_REPLY)
		return -EBADMSG;
	ret->op = op;
	memcpy(ret->sha, buf + 8, 6);
	ret->spa = be_get32(buf + 14);
	memcpy(ret->tha, buf + 18, 6);
	ret->tpa = be_get32(buf + 24);
	return 0;
}

int rawpkt_icmp_echo_build(uint8_t *out, size_t cap, uint16_t id, uint16_t seq, const uint8_t *data, size_t len)
{
	if (len > RAWPKT_IP_MAX - RAWPKT_IP_HDR_LEN - RAWPKT_ICMP_ECHO_LEN)
		return -EMSGSIZE;
	if (cap < RAWPKT_ICMP_ECHO_LEN + len)
		return -ENOSPC;
	out[0] = RAWPKT_ICMP_ECHO_REQUEST;
	out[1] = 0;
	be_put16(out + 2, 0);
	be_put16(out + 4, id);
	be_put16(out + 6, seq);
	if (len)
		memcpy(out + RAWPKT_ICMP_ECHO_LEN, data, len);
	be_put16(out + 2, rawpkt_csum(out, RAWPKT_ICMP_ECHO_LEN + len, 0));
	return (int)(RAWPKT_ICMP_ECHO_LEN + len);
}

int rawpkt_icmp_echo_reply_parse(const uint8_t *buf, size_t len, struct rawpkt_icmp_echo *ret)
{
	size_t hlen, total;
	int r = ip_header_parse(buf, len, &hlen, &total);
	if (r < 0)
		return r;
	if (buf[9] != IPPROTO_ICMP_)
		return -ENOMSG;
	const uint8_t *icmp = buf + hlen;
	size_t icmp_len = total - hlen;
	if (icmp_len < 4)
		return -EBADMSG;
	if (rawpkt_csum(icmp, icmp_len, 0) != 0)
		return -EBADMSG;
	if (icmp[0] != RAWPKT_ICMP_ECHO_REPLY || icmp[1] != 0)
		return -ENOMSG;
	if (icmp_len < RAWPKT_ICMP_ECHO_LEN)
		return -EBADMSG;
	*ret = (struct rawpkt_icmp_echo){
	    .src = be_get32(buf + 12),
	    .dst = be_get32(buf + 16),
	    .id = be_get16(icmp + 4),
	    .seq = be_get16(icmp + 6),
	    .data_len = icmp_len - RAWPKT_ICMP_ECHO_LEN,
	};
	return 0;
}
