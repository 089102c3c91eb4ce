/* rack/dhcp/ha_link: the HA partner link between two racks, in-process over
 * loopback TCP with real gRPC and mutual TLS (certificates from the
 * region's pki, as racks get them): the pair comes up and messages flow
 * both ways; heartbeats carry the state; a rack that is not the partner is
 * refused by certificate, and a partner with the wrong VLAN by its hello;
 * a primary that dials a listener with another rack's certificate never
 * comes up; a partner that goes away is redialled when it is back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pki.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "rack/dhcp/ha_link.h"

struct peer {
	char *key, *cert;
};

struct side {
	struct ha_link *link;
	int ups, downs, msgs, acks;
	struct ha_hello partner;
	struct ha_msg last; /* type and seq of the last message */
	char why[256];
};

static struct {
	char *ca_key, *ca;
	struct peer a, b, c; /* rack-a, rack-b, rack-c */
	struct event_base *base;
	struct rpc_loop *loop;
	struct event *tick;
	struct side pri, sec, other;
} T;

static void peer_make(struct peer *p, const char *id, uint64_t serial)
{
	const char *const sans[] = {id, NULL};
	char *csr;
	assert_int_equal(pki_key_create(&p->key), 0);
	assert_int_equal(pki_csr_create(p->key, id, &csr), 0);
	assert_int_equal(pki_csr_sign(T.ca_key, T.ca, csr, id, 2, PKI_PEER, sans, serial, &p->cert), 0);
	free(csr);
}

static void on_up(struct ha_link *l, const struct ha_hello *h, void *arg)
{
	struct side *s = arg;
	s->ups++;
	s->partner = *h;
}

static void on_down(struct ha_link *l, const char *why, void *arg)
{
	struct side *s = arg;
	s->downs++;
	snprintf(s->why, sizeof(s->why), "%s", why);
}

static void on_message(struct ha_link *l, const struct ha_msg *m, void *arg)
{
	struct side *s = arg;
	s->msgs++;
	s->acks += m->type == HA_MSG_ACK;
	s->last.type = m->type;
	s->last.seq = m->seq;
}

static const struct ha_link_ops ops = {on_up, on_down, on_message};

static void tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Run the loop until *flag is true or ms have passed; returns *flag. */
static bool run_until(const bool *flag, int ms)
{
	int64_t end = clock_mono_ms() + ms;
	while (!*flag && clock_mono_ms() < end)
		event_base_loop(T.base, EVLOOP_ONCE);
	return *flag;
}

#define RUN_UNTIL(cond, ms)                                                                                            \
	({                                                                                                             \
		int64_t end_ = clock_mono_ms() + (ms);                                                                 \
		while (!(cond) && clock_mono_ms() < end_)                                                              \
			event_base_loop(T.base, EVLOOP_ONCE);                                                          \
		(cond);                                                                                                \
	})

static struct ha_link *link_start(struct side *s, enum ha_role role, const struct peer *p, const char *self,
				  const char *partner, const char *addr, uint16_t vlan)
{
	struct ha_link_conf c = {
	    .role = role,
	    .self_id = self,
	    .partner_id = partner,
	    .listen = role == HA_ROLE_SECONDARY ? addr : NULL,
	    .partner_addr = role == HA_ROLE_PRIMARY ? addr : NULL,
	    .vlan = vlan,
	    .heartbeat_ms = 50,
	    .timeout_ms = 400,
	    .ca_pem = T.ca,
	    .key_pem = p->key,
	    .cert_pem = p->cert,
	};
	char err[128];
	memset(s, 0, sizeof(*s));
	assert_int_equal(ha_link_new(T.base, T.loop, &c, &ops, s, &s->link, err, sizeof(err)), 0);
	return s->link;
}

static char *addr_of(struct ha_link *sec)
{
	static char buf[64];
	snprintf(buf, sizeof(buf), "127.0.0.1:%d", ha_link_port(sec));
	return buf;
}

static int setup(void **state)
{
	memset(&T, 0, sizeof(T));
	assert_int_equal(pki_ca_create("test CA", 2, &T.ca_key, &T.ca), 0);
	peer_make(&T.a, "rack-a", 2);
	peer_make(&T.b, "rack-b", 3);
	peer_make(&T.c, "rack-c", 4);
	T.base = event_base_new();
	T.tick = event_new(T.base, -1, EV_PERSIST, tick, NULL);
	struct timeval tv = {0, 10000};
	event_add(T.tick, &tv);
	assert_int_equal(rpc_loop_new(T.base, &T.loop), 0);
	return 0;
}

static int teardown(void **state)
{
	ha_link_free(T.pri.link);
	ha_link_free(T.sec.link);
	ha_link_free(T.other.link);
	/* let cancelled calls drain before the loop goes */
	for (int i = 0; i < 20; i++)
		event_base_loop(T.base, EVLOOP_NONBLOCK);
	rpc_loop_free(T.loop);
	event_free(T.tick);
	event_base_free(T.base);
	struct peer *ps[] = {&T.a, &T.b, &T.c};
	for (size_t i = 0; i < 3; i++) {
		free(ps[i]->key);
		free(ps[i]->cert);
	}
	free(T.ca_key);
	free(T.ca);
	return 0;
}

static void test_pair_comes_up_and_talks(void **state)
{
	link_start(&T.sec, HA_ROLE_SECONDARY, &T.b, "rack-b", "rack-a", "127.0.0.1:0", 10);
	assert_true(ha_link_port(T.sec.link) > 0);
	link_start(&T.pri, HA_ROLE_PRIMARY, &T.a, "rack-a", "rack-b", addr_of(T.sec.link), 10);
	assert_true(RUN_UNTIL(T.pri.ups == 1 && T.sec.ups == 1, 5000));
	assert_string_equal(T.pri.partner.rack_id, "rack-b");
	assert_int_equal(T.pri.partner.role, HA_ROLE_SECONDARY);
	assert_string_equal(T.sec.partner.rack_id, "rack-a");
	assert_int_equal(T.sec.partner.role, HA_ROLE_PRIMARY);
	assert_int_equal(T.sec.partner.vlan, 10);
	assert_int_equal(T.sec.partner.version, HA_PROTO_VERSION);

	/* a message each way */
	struct ha_msg ack = {.type = HA_MSG_ACK, .seq = 42};
	assert_int_equal(ha_link_send(T.pri.link, &ack), 0);
	struct ha_msg sync = {.type = HA_MSG_SYNC, .seq = 7};
	assert_int_equal(ha_link_send(T.sec.link, &sync), 0);
	assert_true(RUN_UNTIL(T.sec.last.type == HA_MSG_ACK && T.pri.last.type == HA_MSG_SYNC, 3000));
	assert_int_equal(T.sec.last.seq, 42);
	assert_int_equal(T.pri.last.seq, 7);

	/* heartbeats carry the state */
	struct ha_state_msg st = {.state = HA_NORMAL, .last_seq = 99};
	ha_link_set_state(T.pri.link, &st);
	struct ha_link_status ss;
	assert_true(RUN_UNTIL(
	    (ha_link_get_status(T.sec.link, &ss), ss.partner_state_known && ss.partner_state.state == HA_NORMAL),
	    3000));
	assert_int_equal(ss.partner_state.last_seq, 99);
	assert_true(ss.up && ss.ups == 1 && ss.refused == 0 && ss.rx >= 3);
	assert_int_equal(T.pri.downs + T.sec.downs, 0);
}

static void test_a_rack_that_is_not_the_partner_is_refused(void **state)
{
	link_start(&T.sec, HA_ROLE_SECONDARY, &T.b, "rack-b", "rack-a", "127.0.0.1:0", 10);
	/* rack-c, with a good certificate from the same CA, says rack-b is its
	 * partner: rack-b accepts only rack-a */
	link_start(&T.other, HA_ROLE_PRIMARY, &T.c, "rack-c", "rack-b", addr_of(T.sec.link), 10);
	struct ha_link_status ss;
	assert_true(RUN_UNTIL((ha_link_get_status(T.sec.link, &ss), ss.refused >= 1), 5000));
	assert_non_null(strstr(ss.last_error, "rack-c"));
	assert_false(ss.up);
	assert_int_equal(T.sec.ups + T.other.ups, 0);
	struct ha_link_status os;
	assert_true(
	    RUN_UNTIL((ha_link_get_status(T.other.link, &os), strstr(os.last_error, "PERMISSION_DENIED")), 5000));
}

/* rack-b is the secondary of two pairs, with rack-a on VLAN 10 and with
 * rack-c on VLAN 20: one listener serves both, each stream going to the
 * link of the partner its certificate names; a second pair with the same
 * partner is refused. */
static void test_one_listener_serves_two_pairs(void **state)
{
	struct side sec2, dup;
	link_start(&T.sec, HA_ROLE_SECONDARY, &T.b, "rack-b", "rack-a", "127.0.0.1:0", 10);
	link_start(&sec2, HA_ROLE_SECONDARY, &T.b, "rack-b", "rack-c", "127.0.0.1:0", 20);
	assert_int_equal(ha_link_port(sec2.link), ha_link_port(T.sec.link));
	link_start(&T.pri, HA_ROLE_PRIMARY, &T.a, "rack-a", "rack-b", addr_of(T.sec.link), 10);
	link_start(&T.other, HA_ROLE_PRIMARY, &T.c, "rack-c", "rack-b", addr_of(T.sec.link), 20);
	assert_true(RUN_UNTIL(T.pri.ups == 1 && T.sec.ups == 1 && T.other.ups == 1 && sec2.ups == 1, 5000));
	assert_string_equal(T.sec.partner.rack_id, "rack-a");
	assert_int_equal(T.sec.partner.vlan, 10);
	assert_string_equal(sec2.partner.rack_id, "rack-c");
	assert_int_equal(sec2.partner.vlan, 20);
	/* each message reaches its own pair */
	struct ha_msg ack = {.type = HA_MSG_ACK, .seq = 5};
	assert_int_equal(ha_link_send(T.other.link, &ack), 0);
	assert_true(RUN_UNTIL(sec2.acks == 1, 3000));
	assert_int_equal(T.sec.acks, 0);
	/* one pair per partner and VLAN on the listener */
	struct ha_link_conf c = {.role = HA_ROLE_SECONDARY,
				 .self_id = "rack-b",
				 .partner_id = "rack-a",
				 .listen = "127.0.0.1:0",
				 .vlan = 10,
				 .heartbeat_ms = 50,
				 .timeout_ms = 400,
				 .ca_pem = T.ca,
				 .key_pem = T.b.key,
				 .cert_pem = T.b.cert};
	char err[160];
	memset(&dup, 0, sizeof(dup));
	assert_int_equal(ha_link_new(T.base, T.loop, &c, &ops, &dup, &dup.link, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "already the secondary of a pair with rack-a"));
	/* the listener outlives the first pair that goes */
	ha_link_free(T.sec.link);
	T.sec.link = NULL;
	assert_true(RUN_UNTIL(T.pri.downs == 1, 3000));
	assert_int_equal(ha_link_send(T.other.link, &ack), 0);
	assert_true(RUN_UNTIL(sec2.acks == 2, 3000));
	assert_int_equal(T.other.downs + sec2.downs, 0);
	ha_link_free(sec2.link);
}

/* rack-a is the primary of two VLANs whose secondary is rack-b: one
 * listener, two streams from one certificate, each to the pair of the VLAN
 * its hello names; a third VLAN rack-b has no pair on is refused. */
static void test_one_partner_with_two_pairs_on_one_listener(void **state)
{
	struct side sec2, pri2;
	link_start(&T.sec, HA_ROLE_SECONDARY, &T.b, "rack-b", "rack-a", "127.0.0.1:0", 10);
	link_start(&sec2, HA_ROLE_SECONDARY, &T.b, "rack-b", "rack-a", "127.0.0.1:0", 30);
	assert_int_equal(ha_link_port(sec2.link), ha_link_port(T.sec.link));
	link_start(&T.pri, HA_ROLE_PRIMARY, &T.a, "rack-a", "rack-b", addr_of(T.sec.link), 30);
	link_start(&pri2, HA_ROLE_PRIMARY, &T.a, "rack-a", "rack-b", addr_of(T.sec.link), 10);
	assert_true(RUN_UNTIL(T.pri.ups == 1 && T.sec.ups == 1 && pri2.ups == 1 && sec2.ups == 1, 5000));
	assert_int_equal(T.sec.partner.vlan, 10);
	assert_int_equal(sec2.partner.vlan, 30);
	/* each message reaches the pair of its VLAN */
	struct ha_msg ack = {.type = HA_MSG_ACK, .seq = 5};
	assert_int_equal(ha_link_send(T.pri.link, &ack), 0); /* VLAN 30 */
	assert_true(RUN_UNTIL(sec2.acks == 1, 3000));
	assert_int_equal(T.sec.acks, 0);
	assert_int_equal(ha_link_send(pri2.link, &ack), 0); /* VLAN 10 */
	assert_true(RUN_UNTIL(T.sec.acks == 1, 3000));
	assert_int_equal(sec2.acks, 1);
	/* a VLAN the secondary has no pair with rack-a on */
	link_start(&T.other, HA_ROLE_PRIMARY, &T.a, "rack-a", "rack-b", addr_of(T.sec.link), 40);
	struct ha_link_status os, ss;
	assert_true(RUN_UNTIL((ha_link_get_status(T.sec.link, &ss), ss.refused >= 1), 5000));
	assert_non_null(strstr(ss.last_error, "no pair with this rack on VLAN 40"));
	ha_link_get_status(T.other.link, &os);
	assert_false(os.up);
	assert_int_equal(T.other.ups, 0);
	/* the two pairs are untouched */
	assert_int_equal(T.pri.downs + T.sec.downs + pri2.downs + sec2.downs, 0);
	ha_link_free(pri2.link);
	assert_true(RUN_UNTIL(T.sec.downs == 1, 3000));
	assert_int_equal(sec2.downs, 0);
	ha_link_free(sec2.link);
}

static void test_a_partner_on_another_vlan_is_refused_by_its_hello(void **state)
{
	link_start(&T.sec, HA_ROLE_SECONDARY, &T.b, "rack-b", "rack-a", "127.0.0.1:0", 10);
	link_start(&T.pri, HA_ROLE_PRIMARY, &T.a, "rack-a", "rack-b", addr_of(T.sec.link), 11);
	struct ha_link_status ps, ss;
	assert_true(RUN_UNTIL(
	    (ha_link_get_status(T.pri.link, &ps), ha_link_get_status(T.sec.link, &ss), ps.refused + ss.refused >= 1),
	    5000));
	const char *why = ps.refused ? ps.last_error : ss.last_error;
	assert_non_null(strstr(why, "VLAN"));
	assert_int_equal(T.pri.ups + T.sec.ups, 0);
}

static void test_the_primary_checks_the_listeners_name(void **state)
{
	/* the listener is rack-b, but rack-a's partner is configured as rack-c:
	 * the TLS name check fails and the link never comes up */
	link_start(&T.sec, HA_ROLE_SECONDARY, &T.b, "rack-b", "rack-a", "127.0.0.1:0", 10);
	link_start(&T.pri, HA_ROLE_PRIMARY, &T.a, "rack-a", "rack-c", addr_of(T.sec.link), 10);
	bool never = false;
	run_until(&never, 1500);
	struct ha_link_status ps, ss;
	ha_link_get_status(T.pri.link, &ps);
	ha_link_get_status(T.sec.link, &ss);
	assert_false(ps.up);
	assert_int_equal(ps.ups + ss.ups + ss.rx, 0);
	assert_true(ps.last_error[0]);
}

static void test_a_partner_that_comes_back_is_redialled(void **state)
{
	link_start(&T.sec, HA_ROLE_SECONDARY, &T.b, "rack-b", "rack-a", "127.0.0.1:0", 10);
	char addr[64];
	snprintf(addr, sizeof(addr), "%s", addr_of(T.sec.link));
	link_start(&T.pri, HA_ROLE_PRIMARY, &T.a, "rack-a", "rack-b", addr, 10);
	assert_true(RUN_UNTIL(T.pri.ups == 1 && T.sec.ups == 1, 5000));
	ha_link_free(T.sec.link);
	T.sec.link = NULL;
	assert_true(RUN_UNTIL(T.pri.downs == 1, 5000));
	struct ha_link_status ps;
	ha_link_get_status(T.pri.link, &ps);
	assert_false(ps.up);
	assert_int_equal(ha_link_send(T.pri.link, &(struct ha_msg){.type = HA_MSG_ACK, .seq = 1}), -ENOTCONN);
	/* back on the same address */
	link_start(&T.sec, HA_ROLE_SECONDARY, &T.b, "rack-b", "rack-a", addr, 10);
	assert_true(RUN_UNTIL(T.pri.ups == 2 && T.sec.ups == 1, 10000));
	ha_link_get_status(T.pri.link, &ps);
	assert_true(ps.up && ps.ups == 2);
}

static void test_bad_configs_are_refused(void **state)
{
	struct ha_link *l;
	char err[128];
	struct ha_link_conf c = {.role = HA_ROLE_PRIMARY,
				 .self_id = "rack-a",
				 .partner_id = "rack-a",
				 .partner_addr = "127.0.0.1:1",
				 .heartbeat_ms = 50,
				 .timeout_ms = 400,
				 .ca_pem = T.ca,
				 .key_pem = T.a.key,
				 .cert_pem = T.a.cert};
	assert_int_equal(ha_link_new(T.base, T.loop, &c, &ops, NULL, &l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "own partner"));
	c.partner_id = "rack-b";
	c.timeout_ms = 50;
	assert_int_equal(ha_link_new(T.base, T.loop, &c, &ops, NULL, &l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "timeout"));
	c.timeout_ms = 400;
	c.partner_addr = "no-port";
	assert_int_equal(ha_link_new(T.base, T.loop, &c, &ops, NULL, &l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "host:port"));
	assert_null(l);
}

int main(void)
{
	log_setup("test_ha_link", LOG_LEVEL_ERR);
	rpc_lib_init();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pair_comes_up_and_talks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_rack_that_is_not_the_partner_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_listener_serves_two_pairs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_partner_with_two_pairs_on_one_listener, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_partner_on_another_vlan_is_refused_by_its_hello, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_the_primary_checks_the_listeners_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_partner_that_comes_back_is_redialled, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_configs_are_refused, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rpc_lib_shutdown();
	return rc;
}
