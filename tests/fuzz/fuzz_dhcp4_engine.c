/* libFuzzer target for the DHCPv4 engine (rack/dhcp/engine.c,
 * engine_reply.c) over an in-memory lease store (rack/dhcp/leases.c),
 * with the codec (common/wire/dhcp4.c) in front of it.
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_dhcp4_engine tests/fuzz/corpus/dhcp4_engine
 *
 * An input is a script of received packets, each record
 *   u8 ctl, u16 len (big-endian), len bytes of datagram
 * where ctl bit 0: destination was broadcast (else unicast to the rack);
 * bit 1: a probe of this packet finds the address in use; bits 2-4: seconds
 * to advance the clock, times 64; bit 5: commit the store; bit 6: reclaim;
 * bit 7: the frame came from the request's chaddr and ciaddr (as the
 * shell's packet socket reports a RELEASE).
 * Every datagram that decodes goes through the engine; a PROBE is answered
 * at once. Checked after each step:
 *   - the verdict is one the header allows, with a matching destination;
 *   - every OFFER/ACK/NAK encodes within the client's maximum message
 *     size (RFC 2131 4.3.1: what does not fit is left out) and decodes
 *     back to an equal message, echoing the client's option 61;
 *   - an OFFER or ACK never gives an address that another client held
 *     (an active lease, a live offer, a quarantine) before the step, and
 *     lies in a configured subnet;
 *   - after an ACK with an address the store holds an ACTIVE lease for
 *     that client, and commit_seq names it. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire/dhcp4.h"
#include "rack/dhcp/config.h"
#include "rack/dhcp/engine.h"
#include "rack/dhcp/leases.h"
#include "tests/fuzz/fuzz.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

static const uint32_t dns[] = {IP(192, 0, 2, 53)};
static const struct dhcp_route routes[] = {{IP(198, 51, 100, 0), 24, IP(192, 0, 2, 254)}};
static const uint8_t sv[] = "snippet";
static const struct dhcp_snippet sn[] = {{224, 7, sv}};
/* A small pool, so exhaustion, reuse and conflicts happen often. */
static const struct dhcp_range ranges[] = {
    {.id = 1, .first = IP(192, 0, 2, 100), .last = IP(192, 0, 2, 107), .snippets = {sn, 1}}};
static const struct dhcp_host hosts[] = {
    {.mac = {0x52, 0x54, 0, 0, 0, 0x99}, .addr = IP(192, 0, 2, 10), .hostname = "node1", .snippets = {sn, 1}}};
static const struct dhcp_subnet onlink[] = {{.id = 1,
					     .network = IP(192, 0, 2, 0),
					     .prefix_len = 24,
					     .server_addr = IP(192, 0, 2, 1),
					     .router = IP(192, 0, 2, 254),
					     .dns = dns,
					     .n_dns = 1,
					     .domain = "example.test",
					     .mtu = 9000,
					     .routes = routes,
					     .n_routes = 1,
					     .ranges = ranges,
					     .n_ranges = 1,
					     .hosts = hosts,
					     .n_hosts = 1}};
static const struct dhcp_range rranges[] = {{.id = 2, .first = IP(198, 18, 0, 100), .last = IP(198, 18, 0, 103)}};
static const uint16_t no_arm[] = {DHCP4_ARCH_EFI_ARM64};
static const struct dhcp_subnet relayed[] = {{.id = 2,
					      .network = IP(198, 18, 0, 0),
					      .prefix_len = 24,
					      .router = IP(198, 18, 0, 1),
					      .ranges = rranges,
					      .n_ranges = 1,
					      .disabled_arches = no_arm,
					      .n_disabled_arches = 1}};
static const struct dhcp_iface ifaces[] = {
    {.name = "eth0", .subnets = onlink, .n_subnets = 1, .relayed = relayed, .n_relayed = 1}};
static const struct dhcp_boot_file files[] = {{DHCP4_ARCH_BIOS, "pxelinux.0", false},
					      {DHCP4_ARCH_EFI_X64, "bootx64.efi", false},
					      {DHCP4_ARCH_EFI_ARM64, "bootaa64.efi", false},
					      {DHCP4_ARCH_EFI_X64_HTTP, "ipxe.efi", true}};
static const struct dhcp_config cfg = {
    .version = 1,
    .ifaces = ifaces,
    .n_ifaces = 1,
    .snippets = {sn, 1},
    .pxe = {.enabled = true, .files = files, .n_files = 4},
    .probe = true,
};

static struct dhcp4_msg req, back;
static struct dhcp_decision d;
static uint8_t wire[70000];

/* The record at addr before a step, if it held addr against other clients. */
struct before {
	uint32_t addr;
	bool held;
	struct lease l;
};

static bool same_client(const struct lease *l, const struct dhcp4_msg *m)
{
	if (m->hlen >= 1 && m->hlen <= 16 && m->htype)
		return l->hlen == m->hlen && l->htype == m->htype && memcmp(l->chaddr, m->chaddr, m->hlen) == 0;
	return true; /* identified by client id: not tracked here */
}

static void snapshot(struct lease_store *s, uint32_t addr, int64_t now, struct before *b)
{
	const struct lease *l = addr ? lease_store_find_addr(s, addr) : NULL;
	memset(b, 0, sizeof(*b));
	b->addr = addr;
	if (!l)
		return;
	b->l = *l;
	b->held = l->state == LEASE_ACTIVE || l->state == LEASE_DECLINED || l->state == LEASE_RESERVED ||
		  (l->state == LEASE_OFFERED && l->expiry > now);
}

static void check_reply(int rc, struct lease_store *s, const struct before *bs, size_t nb, int64_t now)
{
	CHECK(d.dest != DHCP_DEST_NONE);
	CHECK(d.dest_port == 67 || d.dest_port == 68);
	int len = dhcp4_msg_encode(&d.reply, d.max_size, wire, sizeof(wire));
	CHECK(len >= DHCP4_BOOTP_MIN_LEN && (size_t)len <= d.max_size - DHCP4_IP_UDP_LEN);
	CHECK(dhcp4_msg_decode(wire, (size_t)len, &back, NULL) == 0);
	CHECK(dhcp4_msg_equal(&back, &d.reply));
	size_t cl, rl;
	const uint8_t *cid = dhcp4_msg_option(&req, DHCP4_OPT_CLIENT_ID, &cl);
	const uint8_t *rid = dhcp4_msg_option(&d.reply, DHCP4_OPT_CLIENT_ID, &rl);
	CHECK(!cid || (rid && rl == cl && memcmp(cid, rid, cl) == 0));
	CHECK(dhcp4_msg_type(&d.reply) == rc);
	uint32_t y = ntohl(d.reply.yiaddr);
	if (rc == DHCP_NAK) {
		CHECK(y == 0);
		return;
	}
	if (y == 0) {
		CHECK(rc == DHCP_ACK); /* INFORM */
		return;
	}
	CHECK(dhcp_config_subnet_of(&cfg, y) != NULL);
	for (size_t i = 0; i < nb; i++)
		if (bs[i].addr == y && bs[i].held)
			CHECK(bs[i].l.state != LEASE_DECLINED && same_client(&bs[i].l, &req));
	if (rc == DHCP_ACK) {
		const struct lease *l = lease_store_find_addr(s, y);
		CHECK(l && l->state == LEASE_ACTIVE && same_client(l, &req) && l->expiry > now);
		CHECK(d.commit_seq > 0 && (uint64_t)d.commit_seq <= l->seq);
	}
}

static void step(struct lease_store *s, uint8_t ctl, int64_t now)
{
	struct dhcp_rx_info rx = {.ifname = "eth0",
				  .ifindex = 2,
				  .local_addr = IP(192, 0, 2, 1),
				  .dst_addr = (ctl & 1) ? 0xffffffffu : IP(192, 0, 2, 1),
				  .has_src_addr = (ctl & 0x80) != 0,
				  .has_src_mac = (ctl & 0x80) != 0,
				  .src_addr = ntohl(req.ciaddr)};
	memcpy(rx.src_mac, req.chaddr, 6);
	struct before bs[4];
	uint32_t a = 0;

	dhcp4_msg_requested_ip(&req, &a);
	snapshot(s, ntohl(a), now, &bs[0]);
	snapshot(s, ntohl(req.ciaddr), now, &bs[1]);
	snapshot(s, hosts[0].addr, now, &bs[2]);
	memset(&bs[3], 0, sizeof(bs[3]));

	int rc = dhcp_engine_handle(&cfg, s, &req, &rx, now, &d);
	for (int rounds = 0; rc == DHCP_PROBE && rounds < 16; rounds++) {
		CHECK(dhcp_config_subnet_of(&cfg, d.probe_addr) != NULL);
		CHECK(lease_store_is_taken(s, d.probe_addr)); /* held while probing */
		/* the probed address was free (or this client's) before the step */
		if (bs[3].addr == 0)
			snapshot(s, d.probe_addr, now, &bs[3]);
		rc = dhcp_engine_probe_done(&cfg, s, &req, &rx, d.probe_addr, (ctl & 2) != 0, now, &d);
	}
	CHECK(rc == DHCP_IGNORE || rc == DHCP_OFFER || rc == DHCP_ACK || rc == DHCP_NAK || rc == DHCP_PROBE ||
	      rc == -EBADMSG || rc == -EDQUOT || rc == -ENOSPC || rc == -EMSGSIZE);
	CHECK(d.n_events <= DHCP_EVENTS_MAX);
	if (rc == DHCP_OFFER || rc == DHCP_ACK || rc == DHCP_NAK)
		check_reply(rc, s, bs, 3, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lease_store_config sc = {.dir = NULL, .max_leases = 64};
	struct lease_store *s;
	int64_t now = 1700000000;

	CHECK(lease_store_open(&sc, &s, NULL) == 0);
	while (size >= 3) {
		uint8_t ctl = data[0];
		size_t len = ((size_t)data[1] << 8) | data[2];
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		now += (int64_t)((ctl >> 2) & 7) * 64;
		if (dhcp4_msg_decode(data, len, &req, NULL) == 0)
			step(s, ctl, now);
		data += len;
		size -= len;
		if (ctl & 0x20)
			CHECK(lease_store_commit(s) == 0);
		if (ctl & 0x40) {
			struct dhcp_event ev[8];
			size_t n;
			CHECK(dhcp_engine_reclaim(s, now, ev, 8, &n) >= 0);
			CHECK(n <= 8);
		}
	}
	lease_store_free(s);
	return 0;
}
