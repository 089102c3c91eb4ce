/* DHCPv4 conformance and abuse cases of the engine (rack/dhcp/engine.c, engine_reply.c) found side by side with
 * Kea and by a hostile client: option 61 echo (RFC 6842), INIT-REBOOT NAK (RFC 2131 4.3.2), replies cut to the
 * client's maximum message size (RFC 2131 4.3.1), match_client_id, layer-2 replies to clients on the link, DECLINE
 * and RELEASE that only the lease's own client can send. Whole exchanges over an in-memory store; every reply is
 * encoded and decoded again. */
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
#define SERVER	       IP(192, 0, 2, 1)

static const uint32_t dns[] = {IP(192, 0, 2, 53)};
static const struct dhcp_range ranges[] = {{.id = 11, .first = IP(192, 0, 2, 100), .last = IP(192, 0, 2, 109)}};
static const struct dhcp_range relay_ranges[] = {{.id = 21, .first = IP(198, 18, 0, 100), .last = IP(198, 18, 0, 109)}};

/* ---- fixture ---- */

struct t {
	struct dhcp_subnet onlink, relayed;
	struct dhcp_iface ifc;
	struct dhcp_config cfg;
	struct lease_store *store;
	struct dhcp_rx_info rx;
	struct dhcp4_msg req;
	struct dhcp4_msg got; /* the reply, after encode + decode */
	int got_len;
	struct dhcp_decision d;
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct lease_store_config sc = {.dir = NULL};
	assert_non_null(t);
	t->onlink = (struct dhcp_subnet){.id = 1,
					 .network = IP(192, 0, 2, 0),
					 .prefix_len = 24,
					 .server_addr = SERVER,
					 .router = IP(192, 0, 2, 254),
					 .dns = dns,
					 .n_dns = 1,
					 .domain = "example.test",
					 .ranges = ranges,
					 .n_ranges = 1};
	t->relayed = (struct dhcp_subnet){.id = 2,
					  .network = IP(198, 18, 0, 0),
					  .prefix_len = 24,
					  .router = IP(198, 18, 0, 1),
					  .ranges = relay_ranges,
					  .n_ranges = 1};
	t->ifc = (struct dhcp_iface){
	    .name = "eth0", .subnets = &t->onlink, .n_subnets = 1, .relayed = &t->relayed, .n_relayed = 1};
	t->cfg = (struct dhcp_config){.version = 1, .ifaces = &t->ifc, .n_ifaces = 1};
	char why[256];
	assert_int_equal(dhcp_config_validate(&t->cfg, why, sizeof(why)), 0);
	assert_int_equal(lease_store_open(&sc, &t->store, NULL), 0);
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

/* A fresh broadcast request of type from client n (MAC 52:54:00:00:00:n). */
static struct dhcp4_msg *msg(struct t *t, uint8_t type, unsigned n)
{
	struct dhcp4_msg *m = &t->req;
	request_init(m, type, n, 0x2000 + n);
	t->rx = (struct dhcp_rx_info){.ifname = "eth0", .ifindex = 2, .local_addr = SERVER, .dst_addr = 0xffffffffu};
	return m;
}

static void set_ip(struct dhcp4_msg *m, uint8_t code, uint32_t host)
{
	assert_int_equal(dhcp4_msg_set_ip(m, code, htonl(host)), 0);
}

static void set_client_id(struct dhcp4_msg *m, const char *id)
{
	assert_int_equal(dhcp4_msg_option_set(m, DHCP4_OPT_CLIENT_ID, id, strlen(id)), 0);
}

static int run(struct t *t)
{
	int rc = dhcp_engine_handle(&t->cfg, t->store, &t->req, &t->rx, NOW, &t->d);
	if (rc == DHCP_OFFER || rc == DHCP_ACK || rc == DHCP_NAK) {
		uint8_t buf[1500];
		t->got_len = dhcp4_msg_encode(&t->d.reply, t->d.max_size, buf, sizeof(buf));
		assert_true(t->got_len >= DHCP4_BOOTP_MIN_LEN);
		assert_int_equal(dhcp4_msg_decode(buf, (size_t)t->got_len, &t->got, NULL), 0);
		assert_int_equal(dhcp4_msg_type(&t->got), rc);
	}
	return rc;
}

static uint32_t yiaddr(const struct t *t)
{
	return ntohl(t->got.yiaddr);
}

static bool got_client_id(const struct t *t, const char *id)
{
	size_t len;
	const uint8_t *v = dhcp4_msg_option(&t->got, DHCP4_OPT_CLIENT_ID, &len);
	return v && len == strlen(id) && memcmp(v, id, len) == 0;
}

/* DISCOVER + REQUEST for client n (client id cid unless NULL); the address. */
static uint32_t dora(struct t *t, unsigned n, const char *cid)
{
	msg(t, DHCP4_DISCOVER, n);
	if (cid)
		set_client_id(&t->req, cid);
	assert_int_equal(run(t), DHCP_OFFER);
	uint32_t a = yiaddr(t);
	msg(t, DHCP4_REQUEST, n);
	if (cid)
		set_client_id(&t->req, cid);
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, SERVER);
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, a);
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(yiaddr(t), a);
	return a;
}

static const struct lease *lease_at(struct t *t, uint32_t a)
{
	return lease_store_find_addr(t->store, a);
}

/* ---- RFC 6842: option 61 echoed ---- */

static void test_client_id_echo(void **state)
{
	struct t *t = *state;
	static const char cid[] = "\x01RT-client-1";

	msg(t, DHCP4_DISCOVER, 1);
	set_client_id(&t->req, cid);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_true(got_client_id(t, cid));
	uint32_t a = yiaddr(t);

	msg(t, DHCP4_REQUEST, 1);
	set_client_id(&t->req, cid);
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, SERVER);
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, a);
	assert_int_equal(run(t), DHCP_ACK);
	assert_true(got_client_id(t, cid));

	msg(t, DHCP4_INFORM, 1);
	set_client_id(&t->req, "inform-id");
	t->req.ciaddr = htonl(a);
	t->rx.dst_addr = SERVER;
	assert_int_equal(run(t), DHCP_ACK);
	assert_true(got_client_id(t, "inform-id"));

	/* a NAK too (RFC 6842 names DHCPNAK), unaltered even if odd */
	msg(t, DHCP4_REQUEST, 2);
	set_client_id(&t->req, "\xffodd");
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(10, 1, 2, 3));
	assert_int_equal(run(t), DHCP_NAK);
	assert_true(got_client_id(t, "\xffodd"));

	/* nothing sent, nothing echoed */
	msg(t, DHCP4_DISCOVER, 3);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_false(dhcp4_msg_has_option(&t->got, DHCP4_OPT_CLIENT_ID));

	/* and no snippet can set it */
	static const struct dhcp_snippet sn[] = {{DHCP4_OPT_CLIENT_ID, 3, (const uint8_t *)"abc"}};
	t->cfg.snippets = (struct dhcp_snippets){sn, 1};
	char why[256];
	assert_int_equal(dhcp_config_validate(&t->cfg, why, sizeof(why)), -EINVAL);
}

/* ---- RFC 2131 4.3.2: INIT-REBOOT of a known client ---- */

static void test_init_reboot_wrong_address(void **state)
{
	struct t *t = *state;
	uint32_t a = dora(t, 1, NULL);

	/* Its stored lease names an address it no longer holds: NAK at once
	 * (judged by its own lease; the requested address has no record). */
	msg(t, DHCP4_REQUEST, 1);
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 105));
	assert_null(lease_at(t, IP(192, 0, 2, 105)));
	assert_int_equal(run(t), DHCP_NAK);
	assert_int_equal(t->d.dest, DHCP_DEST_BROADCAST);
	assert_int_equal(lease_at(t, a)->state, LEASE_ACTIVE); /* its lease is untouched */
	/* ... also outside the dynamic range */
	msg(t, DHCP4_REQUEST, 1);
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 20));
	assert_int_equal(run(t), DHCP_NAK);
	/* ... and after a RELEASE the record still says what it had */
	struct lease r = *lease_at(t, a);
	r.state = LEASE_RELEASED;
	assert_true(lease_store_stage(t->store, &r) > 0);
	msg(t, DHCP4_REQUEST, 1);
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 105));
	assert_int_equal(run(t), DHCP_NAK);
	/* its own address: ACK */
	msg(t, DHCP4_REQUEST, 1);
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, a);
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(yiaddr(t), a);
	/* an unknown client stays unanswered (RFC 2131 4.3.2: no record) */
	msg(t, DHCP4_REQUEST, 9);
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 105));
	assert_int_equal(run(t), DHCP_IGNORE);
}

/* ---- RFC 2131 4.3.1: what does not fit is left out ---- */

static void test_max_size_fit(void **state)
{
	struct t *t = *state;
	static uint8_t routes[70 * 8], big[250], asked[250];
	for (size_t i = 0; i < 70; i++) { /* 70 routes 10.i.0.0/24 via 192.0.2.254: 8 bytes each */
		uint8_t *p = routes + 8 * i;
		p[0] = 24, p[1] = 10, p[2] = (uint8_t)i, p[3] = 0;
		p[4] = 192, p[5] = 0, p[6] = 2, p[7] = 254;
	}
	memset(big, 'b', sizeof(big));
	memset(asked, 'a', sizeof(asked));
	struct dhcp_snippet sn[] = {
	    {DHCP4_OPT_CLASSLESS_ROUTES, sizeof(routes), routes}, {224, sizeof(big), big}, {225, sizeof(asked), asked}};
	t->onlink.snippets = (struct dhcp_snippets){sn, 3};
	static const char cid[] = "\x01RT-client-1";
	const uint8_t prl[] = {1, 3, 225, 6, 15};

	/* No option 57: 576. The routes (560 bytes) cannot fit at all, the
	 * requested 225 fits and is kept, the unrequested 224 snippet goes. */
	msg(t, DHCP4_DISCOVER, 1);
	set_client_id(&t->req, cid);
	assert_int_equal(dhcp4_msg_option_set(&t->req, DHCP4_OPT_PARAM_LIST, prl, sizeof(prl)), 0);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_true(t->got_len <= DHCP4_MIN_MAX_SIZE - DHCP4_IP_UDP_LEN);
	assert_int_equal(yiaddr(t), IP(192, 0, 2, 100));
	assert_true(dhcp4_msg_has_option(&t->got, DHCP4_OPT_SERVER_ID));
	assert_true(dhcp4_msg_has_option(&t->got, DHCP4_OPT_LEASE_TIME));
	assert_true(got_client_id(t, cid));
	assert_true(dhcp4_msg_has_option(&t->got, 225));
	assert_true(dhcp4_msg_has_option(&t->got, DHCP4_OPT_SUBNET_MASK));
	assert_true(dhcp4_msg_has_option(&t->got, DHCP4_OPT_ROUTER));
	assert_true(dhcp4_msg_has_option(&t->got, DHCP4_OPT_DNS));
	assert_true(dhcp4_msg_has_option(&t->got, DHCP4_OPT_DOMAIN_NAME));
	assert_false(dhcp4_msg_has_option(&t->got, DHCP4_OPT_CLASSLESS_ROUTES));
	assert_false(dhcp4_msg_has_option(&t->got, 224));
	assert_int_equal(t->d.n_left_out, 2);
	/* the order is still the client's */
	assert_int_equal(t->got.options[0].code, DHCP4_OPT_MSG_TYPE);
	size_t k = 0;
	for (size_t i = 0; i < t->got.n_options && k < sizeof(prl); i++)
		if (t->got.options[i].code == prl[k])
			k++;
	assert_int_equal(k, sizeof(prl));

	/* The REQUEST gets its ACK the same way (it used to be dropped). */
	msg(t, DHCP4_REQUEST, 1);
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, SERVER);
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 100));
	assert_int_equal(run(t), DHCP_ACK);
	assert_true(t->got_len <= DHCP4_MIN_MAX_SIZE - DHCP4_IP_UDP_LEN);
	assert_false(dhcp4_msg_has_option(&t->got, DHCP4_OPT_CLASSLESS_ROUTES));

	/* A client that takes 1500 bytes gets everything. */
	msg(t, DHCP4_DISCOVER, 2);
	assert_int_equal(dhcp4_msg_set_u16(&t->req, DHCP4_OPT_MAX_SIZE, 1500), 0);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_int_equal(t->d.n_left_out, 0);
	size_t len;
	assert_non_null(dhcp4_msg_option(&t->got, DHCP4_OPT_CLASSLESS_ROUTES, &len));
	assert_int_equal(len, sizeof(routes));
	assert_true(dhcp4_msg_has_option(&t->got, 224));
	assert_true(dhcp4_msg_has_option(&t->got, 225));

	/* Snippets go before the server's own unrequested options: with 224
	 * requested and 225 not, 225 is the one left out. */
	const uint8_t prl2[] = {224};
	msg(t, DHCP4_DISCOVER, 3);
	assert_int_equal(dhcp4_msg_option_set(&t->req, DHCP4_OPT_PARAM_LIST, prl2, sizeof(prl2)), 0);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_true(dhcp4_msg_has_option(&t->got, 224));
	assert_false(dhcp4_msg_has_option(&t->got, 225));
	assert_true(dhcp4_msg_has_option(&t->got, DHCP4_OPT_BROADCAST)); /* built-in, unrequested, kept */
}

/* ---- match_client_id ---- */

static void test_match_client_id(void **state)
{
	struct t *t = *state;

	/* Off (the default): one MAC is one client, whatever its ids. */
	uint32_t a = dora(t, 1, "stack-a");
	uint32_t b = dora(t, 1, "stack-b");
	assert_int_equal(a, b);

	/* On: two stacks sharing the MAC get an address each, and keep them. */
	t->onlink.match_client_id = true;
	uint32_t c = dora(t, 1, "stack-c");
	uint32_t d = dora(t, 1, "stack-d");
	assert_int_not_equal(c, d);
	assert_int_equal(dora(t, 1, "stack-c"), c);
	assert_int_equal(dora(t, 1, "stack-d"), d);
	/* one cannot take the other's address... */
	msg(t, DHCP4_REQUEST, 1);
	set_client_id(&t->req, "stack-c");
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, d);
	assert_int_equal(run(t), DHCP_NAK);
	/* ... nor release it */
	msg(t, DHCP4_RELEASE, 1);
	set_client_id(&t->req, "stack-c");
	t->req.ciaddr = htonl(d);
	t->rx.dst_addr = SERVER;
	t->rx.has_src_addr = t->rx.has_src_mac = true;
	t->rx.src_addr = d;
	mac_of(1, t->rx.src_mac);
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_int_equal(lease_at(t, d)->state, LEASE_ACTIVE);
	/* without option 61 the MAC is the client, as before */
	uint32_t e = dora(t, 1, NULL);
	assert_int_not_equal(e, c);
	assert_int_not_equal(e, d);
	/* a MAC cycling made-up ids holds at most the store's per-client quota */
	unsigned granted = 0;
	for (unsigned i = 0; i < 8; i++) {
		char id[16];
		snprintf(id, sizeof(id), "cycle-%u", i);
		msg(t, DHCP4_DISCOVER, 1);
		set_client_id(&t->req, id);
		granted += run(t) == DHCP_OFFER;
	}
	assert_true(granted < 8);
}

/* ---- layer-2 replies to clients on the link ---- */

static void test_renew_at_layer2(void **state)
{
	struct t *t = *state;
	uint32_t a = dora(t, 1, NULL);

	msg(t, DHCP4_REQUEST, 1); /* RENEWING, unicast from a client on our link */
	t->req.ciaddr = htonl(a);
	t->rx.dst_addr = SERVER;
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(t->d.dest, DHCP_DEST_CHADDR);
	assert_int_equal(t->d.dest_addr, a);
	assert_int_equal(t->d.dest_port, DHCP4_CLIENT_PORT);

	/* A client of a relayed subnet renewing straight to us is routed:
	 * the kernel's route and ARP are right for it. */
	msg(t, DHCP4_DISCOVER, 2);
	t->req.giaddr = htonl(IP(198, 18, 0, 1));
	assert_int_equal(run(t), DHCP_OFFER);
	uint32_t r = yiaddr(t);
	msg(t, DHCP4_REQUEST, 2);
	t->req.giaddr = htonl(IP(198, 18, 0, 1));
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, SERVER);
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, r);
	assert_int_equal(run(t), DHCP_ACK);
	msg(t, DHCP4_REQUEST, 2);
	t->req.ciaddr = htonl(r);
	t->rx.dst_addr = SERVER;
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(t->d.dest, DHCP_DEST_CIADDR);
	assert_int_equal(t->d.dest_addr, r);
}

/* ---- DECLINE and RELEASE only from the lease's own client ---- */

static void test_decline_needs_ack(void **state)
{
	struct t *t = *state;

	/* DISCOVER + DECLINE from made-up MACs, as many as the pool has
	 * addresses: nothing is quarantined. */
	for (unsigned n = 1; n <= 10; n++) {
		msg(t, DHCP4_DISCOVER, 0x100 + n);
		assert_int_equal(run(t), DHCP_OFFER);
		uint32_t a = yiaddr(t);
		msg(t, DHCP4_DECLINE, 0x100 + n);
		set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, a);
		set_ip(&t->req, DHCP4_OPT_SERVER_ID, SERVER);
		assert_int_equal(run(t), DHCP_IGNORE);
		assert_int_equal(t->d.n_events, 0);
		assert_int_not_equal(lease_at(t, a)->state, LEASE_DECLINED);
	}
	/* the pool still serves a real client once the offers lapse */
	struct lease buf[64];
	assert_true(lease_store_reclaim(t->store, NOW + 3600, buf, 64) > 0);
	assert_int_equal(dora(t, 1, NULL), IP(192, 0, 2, 100));

	/* A DECLINE of an ACKed address by its client still quarantines. */
	msg(t, DHCP4_DECLINE, 1);
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, IP(192, 0, 2, 100));
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, SERVER);
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_int_equal(t->d.n_events, 1);
	assert_int_equal(t->d.events[0].kind, DHCP_EV_CONFLICT);
	assert_int_equal(lease_at(t, IP(192, 0, 2, 100))->state, LEASE_DECLINED);
}

static void release(struct t *t, unsigned n, uint32_t ciaddr, unsigned src_mac, uint32_t src_addr)
{
	msg(t, DHCP4_RELEASE, n);
	t->req.ciaddr = htonl(ciaddr);
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, SERVER);
	t->rx.dst_addr = SERVER;
	t->rx.has_src_addr = true;
	t->rx.src_addr = src_addr;
	t->rx.has_src_mac = src_mac != 0;
	mac_of(src_mac, t->rx.src_mac);
}

static void test_release_forged(void **state)
{
	struct t *t = *state;
	uint32_t a = dora(t, 1, NULL);

	/* chaddr and ciaddr name the lease, but the frame came from another MAC */
	release(t, 1, a, 7, IP(192, 0, 2, 77));
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_int_equal(t->d.n_events, 0);
	assert_int_equal(lease_at(t, a)->state, LEASE_ACTIVE);
	/* the lease's MAC but another source address */
	release(t, 1, a, 1, IP(192, 0, 2, 77));
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_int_equal(lease_at(t, a)->state, LEASE_ACTIVE);
	/* the lease's address from another MAC */
	release(t, 1, a, 7, a);
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_int_equal(lease_at(t, a)->state, LEASE_ACTIVE);
	/* no frame source (the UDP socket's copy): left to the packet socket */
	release(t, 1, a, 0, a);
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_int_equal(lease_at(t, a)->state, LEASE_ACTIVE);
	/* through a relay of another link */
	release(t, 1, a, 0, IP(198, 18, 0, 1));
	t->req.giaddr = htonl(IP(198, 18, 0, 1));
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_int_equal(lease_at(t, a)->state, LEASE_ACTIVE);
	/* the real client */
	release(t, 1, a, 1, a);
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_int_equal(t->d.n_events, 1);
	assert_int_equal(t->d.events[0].kind, DHCP_EV_LEASE_RELEASED);
	assert_int_equal(lease_at(t, a)->state, LEASE_RELEASED);

	/* Relayed leases: the relay of the lease's link may release. */
	msg(t, DHCP4_DISCOVER, 2);
	t->req.giaddr = htonl(IP(198, 18, 0, 1));
	assert_int_equal(run(t), DHCP_OFFER);
	uint32_t r = yiaddr(t);
	msg(t, DHCP4_REQUEST, 2);
	t->req.giaddr = htonl(IP(198, 18, 0, 1));
	set_ip(&t->req, DHCP4_OPT_SERVER_ID, SERVER);
	set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, r);
	assert_int_equal(run(t), DHCP_ACK);
	release(t, 2, r, 0, IP(192, 0, 2, 2)); /* giaddr of the on-link subnet */
	t->req.giaddr = htonl(IP(192, 0, 2, 2));
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_int_equal(lease_at(t, r)->state, LEASE_ACTIVE);
	release(t, 2, r, 0, IP(198, 18, 0, 1));
	t->req.giaddr = htonl(IP(198, 18, 0, 1));
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_int_equal(lease_at(t, r)->state, LEASE_RELEASED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_client_id_echo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_init_reboot_wrong_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_size_fit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_match_client_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renew_at_layer2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_decline_needs_ack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_release_forged, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
