/* The DHCP engine inside an HA pair (rack/dhcp/engine_ha.c,
 * docs/dhcp-ha.md): buckets in NORMAL, shares, the RECOVER and FENCED
 * limits, the MCLT cap and the reuse wait outside NORMAL, renewals of the
 * partner's clients. Whole exchanges over an in-memory lease store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire/dhcp4.h"
#include "rack/dhcp/config.h"
#include "rack/dhcp/engine.h"
#include "rack/dhcp/ha_hash.h"
#include "rack/dhcp/ha_state.h"
#include "rack/dhcp/leases.h"
#include "tests/unit/dhcp_engine_util.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define NOW	       1700000000
#define FIRST	       IP(10, 0, 0, 100)
#define LAST	       IP(10, 0, 0, 107) /* 8 addresses: 100-103 ours (primary), 104-107 the partner's */
#define MCLT	       600
#define LEASE	       86400 /* longer than the MCLT, so the cap shows */

static const struct dhcp_range ranges[] = {{.id = 1, .first = FIRST, .last = LAST}};
static const struct dhcp_subnet subnets[] = {{
    .id = 1,
    .network = IP(10, 0, 0, 0),
    .prefix_len = 24,
    .server_addr = IP(10, 0, 0, 1),
    .lease_time = LEASE,
    .ranges = ranges,
    .n_ranges = 1,
}};

struct t {
	struct dhcp_ha ha;
	struct dhcp_iface ifc;
	struct dhcp_config cfg;
	struct lease_store *store;
	struct dhcp_rx_info rx;
	struct dhcp4_msg req, got;
	struct dhcp_decision d;
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct lease_store_config sc = {.dir = NULL};
	assert_non_null(t);
	t->ha = (struct dhcp_ha){.role = HA_ROLE_PRIMARY,
				 .takeover_secs = 10,
				 .state = HA_NORMAL,
				 .mclt_s = MCLT,
				 .timeout_s = 10,
				 .skew_s = 5};
	t->ifc = (struct dhcp_iface){.name = "eth0", .subnets = subnets, .n_subnets = 1, .ha = &t->ha};
	t->cfg = (struct dhcp_config){.version = 1, .ifaces = &t->ifc, .n_ifaces = 1};
	char why[256];
	assert_int_equal(dhcp_config_validate(&t->cfg, why, sizeof(why)), 0);
	assert_int_equal(lease_store_open(&sc, &t->store, NULL), 0);
	assert_true(lease_store_pool_set_owner(t->store, IP(10, 0, 0, 104), LAST, LEASE_OWNER_PEER) > 0);
	assert_int_equal(lease_store_commit(t->store), 0);
	t->rx = (struct dhcp_rx_info){
	    .ifname = "eth0", .ifindex = 2, .local_addr = IP(10, 0, 0, 1), .dst_addr = 0xffffffffu};
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

static int run(struct t *t)
{
	int rc = dhcp_engine_handle(&t->cfg, t->store, &t->req, &t->rx, NOW, &t->d);
	if (rc == DHCP_OFFER || rc == DHCP_ACK || rc == DHCP_NAK) {
		uint8_t buf[1500];
		int len = dhcp4_msg_encode(&t->d.reply, t->d.max_size, buf, sizeof(buf));
		assert_true(len > 0);
		assert_int_equal(dhcp4_msg_decode(buf, (size_t)len, &t->got, NULL), 0);
	}
	return rc;
}

static uint8_t bucket_of(unsigned n)
{
	uint8_t mac[6];
	mac_of(n, mac);
	return ha_hash(mac, 6);
}

/* A client number whose bucket belongs to role, from n on. */
static unsigned client_of(enum ha_role role, unsigned n)
{
	while (ha_bucket_role(bucket_of(n)) != role)
		n++;
	return n;
}

static void discover(struct t *t, unsigned n, uint16_t secs)
{
	request_init(&t->req, DHCP4_DISCOVER, n, 0x100 + n);
	t->req.secs = secs;
}

static void request(struct t *t, unsigned n, uint32_t addr)
{
	request_init(&t->req, DHCP4_REQUEST, n, 0x200 + n);
	assert_int_equal(dhcp4_msg_set_ip(&t->req, DHCP4_OPT_SERVER_ID, htonl(IP(10, 0, 0, 1))), 0);
	assert_int_equal(dhcp4_msg_set_ip(&t->req, DHCP4_OPT_REQUESTED_IP, htonl(addr)), 0);
}

/* A unicast renewal from the client at addr. */
static void renew(struct t *t, unsigned n, uint32_t addr)
{
	request_init(&t->req, DHCP4_REQUEST, n, 0x300 + n);
	t->req.ciaddr = htonl(addr);
	t->rx.dst_addr = IP(10, 0, 0, 1);
}

static uint32_t lease_time(const struct t *t)
{
	uint32_t v = 0;
	assert_int_equal(dhcp4_msg_get_u32(&t->got, DHCP4_OPT_LEASE_TIME, &v), 0);
	return v;
}

/* A lease record as the partner's update would leave it here. */
static void put(struct t *t, unsigned n, uint32_t addr, uint8_t state, int64_t expiry, int64_t acked)
{
	struct lease l = {.addr = addr,
			  .state = state,
			  .htype = 1,
			  .hlen = 6,
			  .start = NOW - 100,
			  .expiry = expiry,
			  .subnet_id = 1,
			  .range_id = 1,
			  .owner = LEASE_OWNER_PEER};
	mac_of(n, l.chaddr);
	assert_true(lease_store_stage(t->store, &l) > 0);
	if (acked)
		lease_store_set_acked(t->store, addr, acked);
}

static void test_normal_answers_own_buckets_and_late_partner_clients(void **state)
{
	struct t *t = *state;
	unsigned mine = client_of(HA_ROLE_PRIMARY, 1), theirs = client_of(HA_ROLE_SECONDARY, 1);
	discover(t, mine, 0);
	assert_int_equal(run(t), DHCP_OFFER);
	uint32_t a = ntohl(t->got.yiaddr);
	assert_true(a >= FIRST && a < IP(10, 0, 0, 104)); /* our share */
	discover(t, theirs, 0);
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_string_equal(t->d.reason, "HA: a client of the partner's buckets");
	discover(t, theirs, 10); /* not yet: more than takeover_secs */
	assert_int_equal(run(t), DHCP_IGNORE);
	discover(t, theirs, 11);
	assert_int_equal(run(t), DHCP_OFFER);
	/* the partner's client's REQUEST naming us is ours to answer */
	request(t, theirs, ntohl(t->got.yiaddr));
	t->req.secs = 0;
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(lease_time(t), LEASE); /* NORMAL: the full time (the partner acks first) */
}

static void test_new_addresses_only_from_our_share(void **state)
{
	struct t *t = *state;
	t->ha.state = HA_COMM_INTERRUPTED; /* answers every client */
	for (unsigned n = 1; n <= 4; n++) {
		discover(t, n, 0);
		assert_int_equal(run(t), DHCP_OFFER);
		uint32_t a = ntohl(t->got.yiaddr);
		request(t, n, a);
		assert_int_equal(run(t), DHCP_ACK);
		assert_true(a < IP(10, 0, 0, 104));
	}
	/* our four are gone; the partner's four stay its own */
	discover(t, 5, 0);
	assert_int_equal(run(t), DHCP_IGNORE);
	assert_string_equal(t->d.reason, "no free address");
	/* a client asking for an address of the partner's share gets none */
	request(t, 5, IP(10, 0, 0, 105));
	assert_int_equal(run(t), DHCP_NAK);
	/* after the takeover (PARTNER-DOWN past the MCLT) they are ours too */
	t->ha.state = HA_PARTNER_DOWN;
	t->ha.takeover = true;
	discover(t, 5, 0);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_true(ntohl(t->got.yiaddr) >= IP(10, 0, 0, 104));
}

static void test_recover_gives_nothing_new_and_fenced_extends_nothing(void **state)
{
	struct t *t = *state;
	t->ha.state = HA_RECOVER;
	discover(t, 1, 0);
	assert_int_equal(run(t), DHCP_IGNORE);
	/* a lease the partner acked is renewed, capped at acked + MCLT */
	put(t, 2, IP(10, 0, 0, 101), LEASE_ACTIVE, NOW + 50, NOW + 50);
	renew(t, 2, IP(10, 0, 0, 101));
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(lease_time(t), 50 + MCLT);
	/* FENCED: the time the lease has, no more */
	t->ha.state = HA_FENCED;
	renew(t, 2, IP(10, 0, 0, 101));
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(lease_time(t), 50 + MCLT);
	put(t, 3, IP(10, 0, 0, 102), LEASE_ACTIVE, NOW - 1, NOW - 1);
	renew(t, 3, IP(10, 0, 0, 102));
	assert_int_equal(run(t), DHCP_NAK); /* ran out: nothing to extend */
}

static void test_interrupted_caps_and_renews_the_partners_clients(void **state)
{
	struct t *t = *state;
	t->ha.state = HA_COMM_INTERRUPTED;
	/* the partner's client, in the partner's share, acked there: renewed
	 * here, capped at what the partner knows + MCLT */
	put(t, 7, IP(10, 0, 0, 106), LEASE_ACTIVE, NOW + 300, NOW + 300);
	renew(t, 7, IP(10, 0, 0, 106));
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(lease_time(t), 300 + MCLT);
	const struct lease *l = lease_store_find_addr(t->store, IP(10, 0, 0, 106));
	assert_int_equal(l->expiry, NOW + 300 + MCLT);
	assert_int_equal(l->acked_expiry, NOW + 300); /* kept: the partner has not seen the renewal */
	/* the same client again: still capped at the partner's knowledge */
	renew(t, 7, IP(10, 0, 0, 106));
	assert_int_equal(run(t), DHCP_ACK);
	assert_int_equal(lease_time(t), 300 + MCLT);
	/* its ended lease in the partner's share is not given back: the
	 * partner may have given the address to someone else meanwhile */
	put(t, 8, IP(10, 0, 0, 107), LEASE_EXPIRED, NOW - 10, 0);
	request(t, 8, IP(10, 0, 0, 107));
	assert_int_equal(run(t), DHCP_NAK);
}

static void test_reuse_waits_outside_normal(void **state)
{
	struct t *t = *state;
	t->ha.state = HA_COMM_INTERRUPTED;
	/* another client's lease in our share ended 10 s ago: the partner
	 * may have extended it up to MCLT past that */
	for (uint32_t a = FIRST; a < IP(10, 0, 0, 104); a++)
		put(t, 20 + (a & 0xff), a, LEASE_RELEASED, NOW - 10, 0);
	discover(t, 1, 0);
	assert_int_equal(run(t), DHCP_IGNORE);
	/* in NORMAL the wait is the partner timeout + skew (15 s here) */
	t->ha.state = HA_NORMAL;
	unsigned mine = client_of(HA_ROLE_PRIMARY, 1);
	discover(t, mine, 0);
	assert_int_equal(run(t), DHCP_IGNORE);
	put(t, 20, FIRST, LEASE_RELEASED, NOW - 16, 0);
	discover(t, mine, 0);
	assert_int_equal(run(t), DHCP_OFFER);
	assert_int_equal(ntohl(t->got.yiaddr), FIRST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_normal_answers_own_buckets_and_late_partner_clients, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_addresses_only_from_our_share, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recover_gives_nothing_new_and_fenced_extends_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interrupted_caps_and_renews_the_partners_clients, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reuse_waits_outside_normal, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
