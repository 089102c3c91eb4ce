/* The DHCPv4 engine (rack/dhcp/engine.c, engine_reply.c), driven through whole exchanges over an in-memory lease store.
 * No sockets: every reply is also encoded and decoded again, so what the engine builds is what a client would get. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire/dhcp4.h"
#include "rack/dhcp/config.h"
#include "rack/dhcp/engine.h"
#include "rack/dhcp/leases.h"
#include "tests/unit/dhcp_engine_util.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define NOW	       1700000000

/* ---- the served configuration ---- */

static const uint32_t dns[] = {IP(192, 0, 2, 53), IP(192, 0, 2, 54)};
static const uint32_t ntp[] = {IP(192, 0, 2, 123)};
static const struct dhcp_route routes[] = {{IP(198, 51, 100, 0), 24, IP(192, 0, 2, 254)}};

static const uint8_t v_global[] = "global", v_subnet[] = "subnet", v_range[] = "range", v_host[] = "host";
static const struct dhcp_snippet sn_global[] = {
    {224, 6, v_global}, {225, 6, v_global}, {226, 6, v_global}, {227, 6, v_global}};
static const struct dhcp_snippet sn_subnet[] = {{225, 6, v_subnet}, {226, 6, v_subnet}, {227, 6, v_subnet}};
static const struct dhcp_snippet sn_range[] = {{226, 5, v_range}, {227, 5, v_range}};
static const struct dhcp_snippet sn_host[] = {{227, 4, v_host}};

static const struct dhcp_range ranges[] = {
    {.id = 11, .first = IP(192, 0, 2, 100), .last = IP(192, 0, 2, 103), .snippets = {sn_range, 2}},
};
static const struct dhcp_host hosts[] = {
    {.mac = {0x52, 0x54, 0, 0, 0, 0x99}, .addr = IP(192, 0, 2, 10), .hostname = "node1", .snippets = {sn_host, 1}},
};
static const struct dhcp_subnet onlink[] = {{
    .id = 1,
    .network = IP(192, 0, 2, 0),
    .prefix_len = 24,
    .server_addr = IP(192, 0, 2, 1),
    .router = IP(192, 0, 2, 254),
    .dns = dns,
    .n_dns = 2,
    .domain = "example.test",
    .ntp = ntp,
    .n_ntp = 1,
    .mtu = 9000,
    .routes = routes,
    .n_routes = 1,
    .ranges = ranges,
    .n_ranges = 1,
    .hosts = hosts,
    .n_hosts = 1,
    .snippets = {sn_subnet, 3},
}};

static const struct dhcp_range relay_ranges0[] = {
    {.id = 21, .first = IP(198, 18, 0, 100), .last = IP(198, 18, 0, 150)}};
static const struct dhcp_range relay_ranges1[] = {
    {.id = 22, .first = IP(198, 18, 1, 100), .last = IP(198, 18, 1, 150)}};
static const uint16_t no_arm[] = {DHCP4_ARCH_EFI_ARM64};
static const struct dhcp_subnet relayed[] = {
    {.id = 2,
     .network = IP(198, 18, 0, 0),
     .prefix_len = 24,
     .router = IP(198, 18, 0, 1),
     .mtu = 1500,
     .lease_time = 3600,
     .ranges = relay_ranges0,
     .n_ranges = 1},
    {.id = 3,
     .network = IP(198, 18, 1, 0),
     .prefix_len = 24,
     .router = IP(198, 18, 1, 1),
     .ranges = relay_ranges1,
     .n_ranges = 1,
     .disabled_arches = no_arm,
     .n_disabled_arches = 1},
};
static const struct dhcp_iface ifaces[] = {
    {.name = "eth0", .subnets = onlink, .n_subnets = 1, .relayed = relayed, .n_relayed = 2},
};
static const struct dhcp_boot_file boot_files[] = {
    {DHCP4_ARCH_BIOS, "pxelinux.0", false},	 {DHCP4_ARCH_EFI_X64, "bootx64.efi", false},
    {DHCP4_ARCH_EFI_BC, "bootx64.efi", false},	 {DHCP4_ARCH_EFI_ARM64, "bootaa64.efi", false},
    {DHCP4_ARCH_EFI_X64_HTTP, "ipxe.efi", true},
};

static struct dhcp_config base_config(void)
{
	struct dhcp_config c = {
	    .version = 1,
	    .ifaces = ifaces,
	    .n_ifaces = 1,
	    .snippets = {sn_global, 4},
	    .pxe = {.enabled = true, .files = boot_files, .n_files = 5},
	};
	return c;
}

/* ---- fixture ---- */

struct t {
	struct dhcp_config cfg;
	struct lease_store *store;
	struct dhcp_rx_info rx;
	struct dhcp4_msg req;
	struct dhcp4_msg got; /* the reply, after encode + decode */
	struct dhcp_decision d;
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct lease_store_config sc = {.dir = NULL};
	assert_non_null(t);
	t->cfg = base_config();
	char why[256];
	assert_int_equal(dhcp_config_validate(&t->cfg, why, sizeof(why)), 0);
	assert_int_equal(lease_store_open(&sc, &t->store, NULL), 0);
	t->rx = (struct dhcp_rx_info){
	    .ifname = "eth0", .ifindex = 2, .local_addr = IP(192, 0, 2, 1), .dst_addr = 0xffffffffu};
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	lease_store_free(t->store);
	free(t);
	return 0;
}

/* A fresh request of type from client n (MAC 52:54:00:00:00:n). */
static struct dhcp4_msg *msg(struct t *t, uint8_t type, unsigned n)
{
	struct dhcp4_msg *m = &t->req;
	request_init(m, type, n, 0x1000 + n);
	t->rx.dst_addr = 0xffffffffu;
	return m;
}

static void set_ip(struct dhcp4_msg *m, uint8_t code, uint32_t host)
{
	assert_int_equal(dhcp4_msg_set_ip(m, code, htonl(host)), 0);
}

/* Run the engine; for replies, encode and decode into t->got. */
static int run(struct t *t)
{
	int rc = dhcp_engine_handle(&t->cfg, t->store, &t->req, &t->rx, NOW, &t->d);
	if (rc == DHCP_OFFER || rc == DHCP_ACK || rc == DHCP_NAK) {
		uint8_t buf[1500];
		int len = dhcp4_msg_encode(&t->d.reply, t->d.max_size, buf, sizeof(buf));
		assert_true(len >= DHCP4_BOOTP_MIN_LEN);
		assert_int_equal(dhcp4_msg_decode(buf, (size_t)len, &t->got, NULL), 0);
		assert_int_equal(dhcp4_msg_type(&t->got), rc);
		assert_int_equal(t->got.xid, t->req.xid);
	}
	return rc;
}

static uint32_t yiaddr(const struct t *t)
{
	return ntohl(t->got.yiaddr);
}

static uint32_t opt_u32(const struct t *t, uint8_t code)
{
	uint32_t v = 0;
	assert_int_equal(dhcp4_msg_get_u32(&t->got, code, &v), 0);
	return v;
}

static uint32_t opt_ip(const struct t *t, uint8_t code)
{
	uint32_t v = 0;
	assert_int_equal(dhcp4_msg_get_ip(&t->got, code, &v), 0);
	return ntohl(v);
}

static bool opt_is(const struct t *t, uint8_t code, const char *text)
{
	size_t len;
	const uint8_t *v = dhcp4_msg_option(&t->got, code, &len);
	return v && len == strlen(text) && memcmp(v, text, len) == 0;
}

/* DISCOVER + REQUEST (SELECTING) for client n; returns the address. */
static uint32_t dora(struct t *t, unsigned n)
{
	msg(t, DHCP4_DISCOVER, n);
	assert_int_equal(run(t), DHCP_OFFER);
	uint32_t a = yiaddr(t);
	msg(t, DHCP4_REQUEST, n);
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, IP(192, 0, 2, 1));
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, a);
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(yiaddr(t), a);
	assert_true(t->d.commit_seq > 0);
	return a;
}

static const struct lease *lease_at(struct t *t, uint32_t a)
{
	return lease_store_find_addr(t->store, a);
}

/* ---- exchanges ---- */

static void test_dora(void **state)
{
	struct t *t = *state;
	msg(t, DHCP4_DISCOVER, 1);
	const uint8_t prl[] = {6, 3, 1, 15};
	assert_int_equal(dhcp4_msg_option_set(&t->req, DHCP4_OPT_PARAM_LIST, prl, sizeof(prl)), 0);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_int_equal(yiaddr(t), IP(192, 0, 2, 100));
	assert_int_equal(t->d.dest, DHCP_DEST_CHADDR);
	assert_int_equal(t->d.dest_addr, IP(192, 0, 2, 100));
	assert_int_equal(t->d.commit_seq, 0); /* an offer is not a promise */
	assert_int_equal(opt_ip(t, DHCP4_OPT_SERVER_ID), IP(192, 0, 2, 1));
	assert_int_equal(opt_u32(t, DHCP4_OPT_LEASE_TIME), DHCP_DEFAULT_LEASE_TIME);
	assert_int_equal(opt_u32(t, DHCP4_OPT_RENEWAL_TIME), DHCP_DEFAULT_LEASE_TIME / 2);
	assert_int_equal(opt_u32(t, DHCP4_OPT_REBINDING_TIME), DHCP_DEFAULT_LEASE_TIME * 7 / 8);
	assert_int_equal(opt_ip(t, DHCP4_OPT_SUBNET_MASK), IP(255, 255, 255, 0));
	assert_int_equal(opt_ip(t, DHCP4_OPT_ROUTER), IP(192, 0, 2, 254));
	assert_true(opt_is(t, DHCP4_OPT_DOMAIN_NAME, "example.test"));
	size_t len;
	assert_non_null(dhcp4_msg_option(&t->got, DHCP4_OPT_DNS, &len));
	assert_int_equal(len, 8);
	assert_non_null(dhcp4_msg_option(&t->got, DHCP4_OPT_NTP, &len));
	/* order: 53 54 51 58 59, then the request list's order */
	const uint8_t want[] = {53, 54, 51, 58, 59, 6, 3, 1, 15};
	for (size_t i = 0; i < sizeof(want); i++)
		assert_int_equal(t->got.options[i].code, want[i]);
	assert_int_equal(lease_at(t, IP(192, 0, 2, 100))->state, LEASE_OFFERED);

	msg(t, DHCP4_REQUEST, 1);
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, IP(192, 0, 2, 1));
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 100));
	t->req.flags = DHCP4_FLAG_BROADCAST;
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(yiaddr(t), IP(192, 0, 2, 100));
	assert_int_equal(t->d.dest, DHCP_DEST_BROADCAST);
	assert_true(t->d.commit_seq > 0);
	const struct lease *l = lease_at(t, IP(192, 0, 2, 100));
	assert_int_equal(l->state, LEASE_ACTIVE);
	assert_int_equal(l->expiry, NOW + DHCP_DEFAULT_LEASE_TIME);
	assert_int_equal(l->subnet_id, 1);
	assert_int_equal(l->range_id, 11);
	assert_int_equal(t->d.n_events, 1);
	assert_int_equal(t->d.events[0].kind, DHCP_EV_LEASE_GRANTED);
	assert_int_equal(t->d.events[0].addr, IP(192, 0, 2, 100));

	/* A second client gets the next address; the first one's DISCOVER again gets its own. */
	msg(t, DHCP4_DISCOVER, 2);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_int_equal(yiaddr(t), IP(192, 0, 2, 101));
	msg(t, DHCP4_DISCOVER, 1);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_int_equal(yiaddr(t), IP(192, 0, 2, 100));
	assert_int_equal(lease_at(t, IP(192, 0, 2, 100))->state, LEASE_ACTIVE); /* not downgraded */
}

static void test_renew_rebind(void **state)
{
	struct t *t = *state;
	uint32_t a = dora(t, 1);

	msg(t, DHCP4_REQUEST, 1); /* RENEWING: unicast, ciaddr, no 50/54 */
	t->req.ciaddr = htonl(a);
	t->rx.dst_addr = IP(192, 0, 2, 1);
	assert_int_equal(dhcp_engine_handle(&t->cfg, t->store, &t->req, &t->rx, NOW + 300, &t->d), DHCP_ACK);
	assert_int_equal(ntohl(t->d.reply.yiaddr), a);
	assert_int_equal(ntohl(t->d.reply.ciaddr), a);
	assert_int_equal(t->d.dest, DHCP_DEST_CHADDR); /* on the link: at layer 2, not through ARP */
	assert_int_equal(t->d.dest_addr, a);
	assert_int_equal(lease_at(t, a)->expiry, NOW + 300 + DHCP_DEFAULT_LEASE_TIME);

	msg(t, DHCP4_REQUEST, 1); /* REBINDING: broadcast */
	t->req.ciaddr = htonl(a);
	assert_int_equal(dhcp_engine_handle(&t->cfg, t->store, &t->req, &t->rx, NOW + 600, &t->d), DHCP_ACK);
	assert_int_equal(lease_at(t, a)->expiry, NOW + 600 + DHCP_DEFAULT_LEASE_TIME);

	/* Another client rebinding onto that address: NAK. */
	msg(t, DHCP4_REQUEST, 2);
	t->req.ciaddr = htonl(a);
	assert_int_equal(run(t), DHCP_NAK);
	assert_int_equal(t->d.dest, DHCP_DEST_BROADCAST);
	assert_int_equal(t->got.yiaddr, 0);
	/* Rebinding with an address outside every dynamic range and reservation: NAK. */
	msg(t, DHCP4_REQUEST, 3);
	t->req.ciaddr = htonl(IP(192, 0, 2, 77));
	assert_int_equal(run(t), DHCP_NAK);
	/* A unicast renewal for an address we do not serve at all: not ours to answer. */
	msg(t, DHCP4_REQUEST, 3);
	t->req.ciaddr = htonl(IP(203, 0, 113, 5));
	t->rx.dst_addr = IP(192, 0, 2, 1);
	assert_int_equal(run(t), DHCP_IGNORE);
}

static void test_init_reboot(void **state)
{
	struct t *t = *state;
	uint32_t a = dora(t, 1);

	msg(t, DHCP4_REQUEST, 5); /* came from another network */
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(10, 1, 2, 3));
	assert_int_equal(run(t), DHCP_NAK);
	assert_int_equal(t->d.dest, DHCP_DEST_BROADCAST);
	assert_int_equal(opt_ip(t, DHCP4_OPT_SERVER_ID), IP(192, 0, 2, 1));
	assert_false(dhcp4_msg_has_option(&t->got, DHCP4_OPT_LEASE_TIME));

	msg(t, DHCP4_REQUEST, 5); /* right network, no record: silent */
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 102));
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_null(lease_at(t, IP(192, 0, 2, 102)));

	msg(t, DHCP4_REQUEST, 5); /* someone else's address */
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, a);
	assert_int_equal(run(t), DHCP_NAK);

	msg(t, DHCP4_REQUEST, 1); /* its own: ACK */
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, a);
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(yiaddr(t), a);
}

static void test_decline(void **state)
{
	struct t *t = *state;
	uint32_t a = dora(t, 1);

	msg(t, DHCP4_DECLINE, 1);
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, a);
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, IP(192, 0, 2, 1));
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_true(t->d.commit_seq > 0);
	assert_int_equal(t->d.n_events, 1);
	assert_int_equal(t->d.events[0].kind, DHCP_EV_CONFLICT);
	assert_int_equal(t->d.events[0].conflict, LEASE_CONFLICT_DECLINE);
	assert_int_equal(t->d.events[0].addr, a);
	const struct lease *l = lease_at(t, a);
	assert_int_equal(l->state, LEASE_DECLINED);
	assert_int_equal(l->expiry, NOW + DHCP_DEFAULT_QUARANTINE);

	for (unsigned n = 1; n <= 3; n++) { /* neither the decliner nor anyone else gets it */
		msg(t, DHCP4_DISCOVER, n);
		assert_int_equal(run(t), DHCP_OFFER);
		assert_int_not_equal(yiaddr(t), a);
	}
	msg(t, DHCP4_REQUEST, 4); /* nor by asking */
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, IP(192, 0, 2, 1));
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, a);
	assert_int_equal(run(t), DHCP_NAK);

	msg(t, DHCP4_DECLINE, 4); /* a client cannot quarantine what it does not hold */
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 103));
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_int_equal(t->d.n_events, 0);
}

static void test_release(void **state)
{
	struct t *t = *state;
	uint32_t a = dora(t, 1);

	msg(t, DHCP4_RELEASE, 1);
	t->req.ciaddr = htonl(a);
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, IP(192, 0, 2, 1));
	t->rx.dst_addr = IP(192, 0, 2, 1);
	t->rx.has_src_addr = t->rx.has_src_mac = true; /* the frame's source, as the packet socket saw it */
	t->rx.src_addr = a;
	mac_of(1, t->rx.src_mac);
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_true(t->d.commit_seq > 0);
	assert_int_equal(t->d.events[0].kind, DHCP_EV_LEASE_RELEASED);
	assert_int_equal(lease_at(t, a)->state, LEASE_RELEASED);
	assert_false(lease_store_is_taken(t->store, a));

	msg(t, DHCP4_DISCOVER, 1); /* its previous address again */
	assert_int_equal(run(t), DHCP_OFFER);
	assert_int_equal(yiaddr(t), a);

	msg(t, DHCP4_RELEASE, 2); /* a stranger's RELEASE changes nothing */
	t->req.ciaddr = htonl(a);
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_int_equal(t->d.n_events, 0);
}

static void test_inform(void **state)
{
	struct t *t = *state;
	msg(t, DHCP4_INFORM, 7);
	t->req.ciaddr = htonl(IP(192, 0, 2, 50));
	t->rx.dst_addr = IP(192, 0, 2, 1);
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(t->got.yiaddr, 0);
	assert_int_equal(ntohl(t->got.ciaddr), IP(192, 0, 2, 50));
	assert_false(dhcp4_msg_has_option(&t->got, DHCP4_OPT_LEASE_TIME));
	assert_false(dhcp4_msg_has_option(&t->got, DHCP4_OPT_RENEWAL_TIME));
	assert_int_equal(opt_ip(t, DHCP4_OPT_ROUTER), IP(192, 0, 2, 254));
	assert_int_equal(t->d.dest, DHCP_DEST_CHADDR);
	assert_int_equal(t->d.dest_addr, IP(192, 0, 2, 50));
	assert_int_equal(t->d.commit_seq, 0);
	assert_int_equal(lease_store_count(t->store), 0);
}

static void test_reservation(void **state)
{
	struct t *t = *state;
	msg(t, DHCP4_DISCOVER, 0x99);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_int_equal(yiaddr(t), IP(192, 0, 2, 10));
	assert_true(opt_is(t, DHCP4_OPT_HOSTNAME, "node1"));
	msg(t, DHCP4_REQUEST, 0x99);
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, IP(192, 0, 2, 1));
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 10));
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(lease_at(t, IP(192, 0, 2, 10))->range_id, 0);

	/* Others never get it: not by DISCOVER, not by asking. */
	for (unsigned n = 1; n <= 4; n++) {
		msg(t, DHCP4_DISCOVER, n);
		set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 10));
		assert_int_equal(run(t), DHCP_OFFER);
		assert_int_not_equal(yiaddr(t), IP(192, 0, 2, 10));
	}
	msg(t, DHCP4_REQUEST, 5);
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, IP(192, 0, 2, 1));
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 10));
	assert_int_equal(run(t), DHCP_NAK);

	/* The reserved machine asking for a dynamic address is sent back to its own. */
	msg(t, DHCP4_REQUEST, 0x99);
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 101));
	assert_int_equal(run(t), DHCP_NAK);
	/* ... and with init-reboot on its reserved address, it is ACKed even with no record. */
	lease_store_remove(t->store, IP(192, 0, 2, 10));
	msg(t, DHCP4_REQUEST, 0x99);
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 10));
	assert_int_equal(run(t), DHCP_ACK);
}

static void test_exhaustion(void **state)
{
	struct t *t = *state;
	for (unsigned n = 1; n <= 4; n++)
		assert_int_equal(dora(t, n), IP(192, 0, 2, 99 + n));
	msg(t, DHCP4_DISCOVER, 5);
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_int_equal(t->d.n_events, 1);
	assert_int_equal(t->d.events[0].kind, DHCP_EV_POOL_EXHAUSTED);
	assert_int_equal(t->d.events[0].subnet_id, 1);
	/* the reservation still works on a full pool */
	msg(t, DHCP4_DISCOVER, 0x99);
	assert_int_equal(run(t), DHCP_OFFER);
}

static void test_offer_to_other_server(void **state)
{
	struct t *t = *state;
	msg(t, DHCP4_DISCOVER, 1);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_true(lease_store_is_taken(t->store, IP(192, 0, 2, 100)));
	msg(t, DHCP4_REQUEST, 1);
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, IP(192, 0, 2, 200));
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 200));
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_false(lease_store_is_taken(t->store, IP(192, 0, 2, 100)));
}

/* ---- PXE ---- */

static void pxe_discover(struct t *t, unsigned n, const char *vendor, int arch)
{
	msg(t, DHCP4_DISCOVER, n);
	if (vendor)
		assert_int_equal(dhcp4_msg_set_string(&t->req, DHCP4_OPT_VENDOR_CLASS, vendor), 0);
	if (arch >= 0)
		assert_int_equal(dhcp4_msg_set_u16(&t->req, DHCP4_OPT_CLIENT_ARCH, (uint16_t)arch), 0);
}

static void test_pxe_arch(void **state)
{
	struct t *t = *state;
	pxe_discover(t, 1, "PXEClient:Arch:00000:UNDI:002001", 0);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_string_equal(t->got.file, "pxelinux.0");
	assert_int_equal(ntohl(t->got.siaddr), IP(192, 0, 2, 1));
	assert_true(opt_is(t, DHCP4_OPT_VENDOR_CLASS, "PXEClient"));

	pxe_discover(t, 2, "PXEClient:Arch:00007:UNDI:003016", 7);
	const uint8_t prl[] = {66, 67};
	assert_int_equal(dhcp4_msg_option_set(&t->req, DHCP4_OPT_PARAM_LIST, prl, sizeof(prl)), 0);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_string_equal(t->got.file, "bootx64.efi");
	assert_true(opt_is(t, DHCP4_OPT_BOOTFILE, "bootx64.efi"));
	assert_true(opt_is(t, DHCP4_OPT_TFTP_SERVER, "192.0.2.1"));

	pxe_discover(t, 3, "PXEClient:Arch:00011:UNDI:003000", 11);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_string_equal(t->got.file, "bootaa64.efi");

	pxe_discover(t, 4, "HTTPClient:Arch:00016:UNDI:003001", 16);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_string_equal(t->got.file, "http://192.0.2.1:5248/ipxe.efi");
	assert_true(opt_is(t, DHCP4_OPT_VENDOR_CLASS, "HTTPClient"));

	/* Not a PXE client: no boot information, no option 60. */
	msg(t, DHCP4_DISCOVER, 0x99);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_string_equal(t->got.file, "");
	assert_int_equal(t->got.siaddr, 0);
	assert_false(dhcp4_msg_has_option(&t->got, DHCP4_OPT_VENDOR_CLASS));

	/* PXE off: an address, no boot file. */
	t->cfg.pxe.enabled = false;
	pxe_discover(t, 1, "PXEClient:Arch:00000:UNDI:002001", 0);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_string_equal(t->got.file, "");
}

static void test_ipxe_loop_break(void **state)
{
	struct t *t = *state;
	pxe_discover(t, 1, "PXEClient:Arch:00007:UNDI:003010", 7);
	assert_int_equal(dhcp4_msg_set_string(&t->req, DHCP4_OPT_USER_CLASS, "iPXE"), 0);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_string_equal(t->got.file, "http://192.0.2.1:5248/ipxe/52:54:00:00:00:01.ipxe");
	assert_int_equal(ntohl(t->got.siaddr), IP(192, 0, 2, 1));
}

static void test_pxe_short_lease(void **state)
{
	struct t *t = *state;
	pxe_discover(t, 1, "PXEClient:Arch:00000:UNDI:002001", 0);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_int_equal(opt_u32(t, DHCP4_OPT_LEASE_TIME), DHCP_PXE_LEASE_TIME);
	assert_int_equal(opt_u32(t, DHCP4_OPT_RENEWAL_TIME), DHCP_PXE_LEASE_TIME / 2);
	msg(t, DHCP4_REQUEST, 1);
	assert_int_equal(dhcp4_msg_set_string(&t->req, DHCP4_OPT_VENDOR_CLASS, "PXEClient:Arch:00000"), 0);
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, IP(192, 0, 2, 1));
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, yiaddr(t));
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(lease_at(t, yiaddr(t))->expiry, NOW + DHCP_PXE_LEASE_TIME);
	/* The installed OS on the same NIC: same address, full lease. */
	uint32_t a = yiaddr(t);
	assert_int_equal(dora(t, 1), a);
	assert_int_equal(opt_u32(t, DHCP4_OPT_LEASE_TIME), DHCP_DEFAULT_LEASE_TIME);
}

/* ---- relays ---- */

static void test_relay_giaddr(void **state)
{
	struct t *t = *state;
	const uint8_t rai[] = {DHCP4_RAI_CIRCUIT_ID, 3, 'p', '1', '7'};
	msg(t, DHCP4_DISCOVER, 1);
	t->req.giaddr = htonl(IP(198, 18, 0, 1));
	t->req.hops = 1;
	t->rx.dst_addr = IP(192, 0, 2, 1);
	assert_int_equal(dhcp4_msg_option_set(&t->req, DHCP4_OPT_RELAY_INFO, rai, sizeof(rai)), 0);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_int_equal(yiaddr(t), IP(198, 18, 0, 100));
	assert_int_equal(t->d.dest, DHCP_DEST_RELAY);
	assert_int_equal(t->d.dest_addr, IP(198, 18, 0, 1));
	assert_int_equal(t->d.dest_port, 67);
	assert_int_equal(ntohl(t->got.giaddr), IP(198, 18, 0, 1));
	assert_int_equal(opt_ip(t, DHCP4_OPT_SERVER_ID), IP(192, 0, 2, 1));
	assert_int_equal(opt_ip(t, DHCP4_OPT_ROUTER), IP(198, 18, 0, 1));
	assert_int_equal(opt_u32(t, DHCP4_OPT_LEASE_TIME), 3600);
	assert_false(dhcp4_msg_has_option(&t->got, DHCP4_OPT_MTU)); /* 1500: not sent */
	/* option 82 echoed, and last */
	assert_int_equal(t->got.options[t->got.n_options - 1].code, DHCP4_OPT_RELAY_INFO);
	size_t len;
	const uint8_t *v = dhcp4_msg_option(&t->got, DHCP4_OPT_RELAY_INFO, &len);
	assert_int_equal(len, sizeof(rai));
	assert_memory_equal(v, rai, sizeof(rai));

	/* REQUEST through the relay, then a NAK through it carries the broadcast bit. */
	msg(t, DHCP4_REQUEST, 1);
	t->req.giaddr = htonl(IP(198, 18, 0, 1));
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, IP(192, 0, 2, 1));
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(198, 18, 0, 100));
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(lease_at(t, IP(198, 18, 0, 100))->subnet_id, 2);
	msg(t, DHCP4_REQUEST, 2);
	t->req.giaddr = htonl(IP(198, 18, 0, 1));
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 100)); /* wrong network for that relay */
	assert_int_equal(run(t), DHCP_NAK);
	assert_int_equal(t->d.dest, DHCP_DEST_RELAY);
	assert_true(t->got.flags & DHCP4_FLAG_BROADCAST);

	/* Renewing later, the relayed client unicasts straight to us (no giaddr):
	 * its ciaddr names its subnet. */
	msg(t, DHCP4_REQUEST, 1);
	t->req.ciaddr = htonl(IP(198, 18, 0, 100));
	t->rx.dst_addr = IP(192, 0, 2, 1);
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(yiaddr(t), IP(198, 18, 0, 100));
	assert_int_equal(t->d.dest, DHCP_DEST_CIADDR);
	assert_int_equal(opt_ip(t, DHCP4_OPT_SERVER_ID), IP(192, 0, 2, 1));
	assert_int_equal(opt_ip(t, DHCP4_OPT_ROUTER), IP(198, 18, 0, 1));

	/* A relay for a network we do not serve: silence. */
	msg(t, DHCP4_DISCOVER, 3);
	t->req.giaddr = htonl(IP(203, 0, 113, 1));
	assert_int_equal(run(t), DHCP_IGNORE);
}

static void test_relay_link_selection(void **state)
{
	struct t *t = *state;
	/* giaddr on one network, link selection (RFC 3527) naming another */
	const uint8_t rai[] = {DHCP4_RAI_LINK_SELECTION, 4, 198, 18, 1, 0};
	pxe_discover(t, 1, "PXEClient:Arch:00011:UNDI:003000", 11);
	t->req.giaddr = htonl(IP(198, 18, 0, 1));
	assert_int_equal(dhcp4_msg_option_set(&t->req, DHCP4_OPT_RELAY_INFO, rai, sizeof(rai)), 0);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_int_equal(yiaddr(t), IP(198, 18, 1, 100));
	assert_int_equal(t->d.dest_addr, IP(198, 18, 0, 1));
	/* arm64 is disabled on that subnet: an address but no boot file */
	assert_string_equal(t->got.file, "");
	/* x64 still boots there */
	pxe_discover(t, 2, "PXEClient:Arch:00007:UNDI:003000", 7);
	t->req.giaddr = htonl(IP(198, 18, 0, 1));
	assert_int_equal(dhcp4_msg_option_set(&t->req, DHCP4_OPT_RELAY_INFO, rai, sizeof(rai)), 0);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_string_equal(t->got.file, "bootx64.efi");
}

/* ---- options ---- */

static void test_options_and_snippets(void **state)
{
	struct t *t = *state;
	msg(t, DHCP4_DISCOVER, 1);
	assert_int_equal(run(t), DHCP_OFFER);
	uint16_t mtu = 0;
	assert_int_equal(dhcp4_msg_get_u16(&t->got, DHCP4_OPT_MTU, &mtu), 0);
	assert_int_equal(mtu, 9000);
	/* 121: the configured route plus the default route (RFC 3442: 3 is ignored then) */
	size_t len;
	const uint8_t *v = dhcp4_msg_option(&t->got, DHCP4_OPT_CLASSLESS_ROUTES, &len);
	assert_non_null(v);
	struct dhcp4_route r[4];
	assert_int_equal(dhcp4_routes_decode(v, len, r, 4), 2);
	assert_int_equal(ntohl(r[0].dest), IP(198, 51, 100, 0));
	assert_int_equal(r[0].prefix_len, 24);
	assert_int_equal(ntohl(r[0].gateway), IP(192, 0, 2, 254));
	assert_int_equal(r[1].prefix_len, 0);
	assert_int_equal(ntohl(r[1].gateway), IP(192, 0, 2, 254));
	/* snippets: range beats subnet beats global */
	assert_true(opt_is(t, 224, "global"));
	assert_true(opt_is(t, 225, "subnet"));
	assert_true(opt_is(t, 226, "range"));
	assert_true(opt_is(t, 227, "range"));
	/* host beats range (and a reservation is in no range) */
	msg(t, DHCP4_DISCOVER, 0x99);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_true(opt_is(t, 226, "subnet"));
	assert_true(opt_is(t, 227, "host"));
	/* a snippet replaces a built-in option */
	static const uint8_t dns1[] = {192, 0, 2, 99};
	static const struct dhcp_snippet over[] = {{DHCP4_OPT_DNS, 4, dns1}};
	t->cfg.snippets = (struct dhcp_snippets){over, 1};
	msg(t, DHCP4_DISCOVER, 2);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_int_equal(opt_ip(t, DHCP4_OPT_DNS), IP(192, 0, 2, 99));
}

/* ---- conflict detection ---- */

static void test_probe(void **state)
{
	struct t *t = *state;
	t->cfg.probe = true;
	msg(t, DHCP4_DISCOVER, 1);
	int rc = dhcp_engine_handle(&t->cfg, t->store, &t->req, &t->rx, NOW, &t->d);
	assert_int_equal(rc, DHCP_PROBE);
	assert_int_equal(t->d.probe_addr, IP(192, 0, 2, 100));
	assert_false(t->d.probe_relayed);
	assert_true(lease_store_is_taken(t->store, IP(192, 0, 2, 100))); /* held meanwhile */

	/* in use: quarantined, reported, and the next address is probed */
	rc = dhcp_engine_probe_done(&t->cfg, t->store, &t->req, &t->rx, IP(192, 0, 2, 100), true, NOW, &t->d);
	assert_int_equal(rc, DHCP_PROBE);
	assert_int_equal(t->d.probe_addr, IP(192, 0, 2, 101));
	assert_int_equal(t->d.n_events, 1);
	assert_int_equal(t->d.events[0].kind, DHCP_EV_CONFLICT);
	assert_int_equal(t->d.events[0].conflict, LEASE_CONFLICT_ARP);
	assert_true(t->d.commit_seq > 0);
	assert_int_equal(lease_at(t, IP(192, 0, 2, 100))->state, LEASE_DECLINED);

	/* free: the offer goes out */
	rc = dhcp_engine_probe_done(&t->cfg, t->store, &t->req, &t->rx, IP(192, 0, 2, 101), false, NOW, &t->d);
	assert_int_equal(rc, DHCP_OFFER);
	assert_int_equal(ntohl(t->d.reply.yiaddr), IP(192, 0, 2, 101));

	/* an answer after the hold was dropped still quarantines the address */
	msg(t, DHCP4_DISCOVER, 3);
	rc = dhcp_engine_handle(&t->cfg, t->store, &t->req, &t->rx, NOW, &t->d);
	assert_int_equal(rc, DHCP_PROBE);
	assert_int_equal(t->d.probe_addr, IP(192, 0, 2, 102));
	assert_true(lease_store_remove(t->store, IP(192, 0, 2, 102)) >= 0);
	rc = dhcp_engine_probe_done(&t->cfg, t->store, &t->req, &t->rx, IP(192, 0, 2, 102), true, NOW, &t->d);
	assert_int_equal(rc, DHCP_PROBE);
	assert_int_equal(t->d.probe_addr, IP(192, 0, 2, 103));
	assert_int_equal(lease_at(t, IP(192, 0, 2, 102))->state, LEASE_DECLINED);
	assert_int_equal(lease_at(t, IP(192, 0, 2, 102))->range_id, 11);

	/* the client's own offer or lease, and reservations, are not probed again */
	msg(t, DHCP4_REQUEST, 1);
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, IP(192, 0, 2, 1));
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 101));
	assert_int_equal(run(t), DHCP_ACK);
	msg(t, DHCP4_DISCOVER, 1);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_int_equal(yiaddr(t), IP(192, 0, 2, 101));
	msg(t, DHCP4_DISCOVER, 0x99);
	assert_int_equal(run(t), DHCP_OFFER);
}

static void test_reclaim(void **state)
{
	struct t *t = *state;
	uint32_t a = dora(t, 1);
	struct dhcp_event ev[8];
	size_t n = 99;
	assert_true(dhcp_engine_reclaim(t->store, NOW + 10, ev, 8, &n) >= 0);
	assert_int_equal(n, 0);
	assert_true(dhcp_engine_reclaim(t->store, NOW + DHCP_DEFAULT_LEASE_TIME + 1, ev, 8, &n) >= 1);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].kind, DHCP_EV_LEASE_EXPIRED);
	assert_int_equal(ev[0].addr, a);
	assert_false(lease_store_is_taken(t->store, a));
}

static void test_unserved_and_bootp(void **state)
{
	struct t *t = *state;
	msg(t, DHCP4_DISCOVER, 1);
	t->rx.ifname = "eth9";
	assert_int_equal(run(t), DHCP_IGNORE);
	t->rx.ifname = "eth0";
	msg(t, DHCP4_DISCOVER, 1);
	assert_int_equal(dhcp4_msg_option_remove(&t->req, DHCP4_OPT_MSG_TYPE), 0);
	assert_int_equal(run(t), DHCP_IGNORE);
	msg(t, DHCP4_DISCOVER, 1);
	t->req.hlen = 0;
	assert_int_equal(run(t), DHCP_IGNORE);
	msg(t, DHCP4_REQUEST, 1);
	assert_int_equal(dhcp4_msg_option_set(&t->req, DHCP4_OPT_SERVER_ID, "ab", 2), 0);
	assert_int_equal(run(t), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_dora, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renew_rebind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_init_reboot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_decline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_release, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inform, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reservation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exhaustion, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_offer_to_other_server, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pxe_arch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipxe_loop_break, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pxe_short_lease, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relay_giaddr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relay_link_selection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_options_and_snippets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reclaim, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unserved_and_bootp, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
