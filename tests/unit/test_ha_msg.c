/* DHCP HA partner messages (rack/dhcp/ha_msg, proto/ironrack/v1/ha.proto):
 * every message type round-trips, and every bound the decoder keeps
 * refuses the message whole, naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ironrack/v1/ha.pb-c.h"
#include "rack/dhcp/ha_msg.h"

#define BASE 0x0a000000u
#define T0   1700000000

static struct lease mk(uint32_t host, uint64_t seq)
{
	struct lease l = {.addr = BASE + host, .state = LEASE_ACTIVE, .htype = 1, .hlen = 6};
	l.chaddr[0] = 0x52;
	l.chaddr[5] = (uint8_t)host;
	l.client_id_len = 3;
	memcpy(l.client_id, "\x01\x02\x03", 3);
	strcpy(l.hostname, "node-1");
	l.start = T0;
	l.expiry = T0 + 600;
	l.subnet_id = 4;
	l.range_id = 5;
	l.seq = seq;
	return l;
}

/* Encode m, decode it again; returns the decoder's result. */
static int roundtrip(const struct ha_msg *m, struct ha_msg *out, const char **why)
{
	uint8_t *buf;
	size_t len;
	assert_int_equal(ha_msg_encode(m, &buf, &len), 0);
	int rc = ha_msg_decode(buf, len, out, why);
	free(buf);
	return rc;
}

static struct ha_msg hello(void)
{
	struct ha_msg m = {.type = HA_MSG_HELLO};
	m.hello = (struct ha_hello){.version = HA_PROTO_VERSION,
				    .role = HA_ROLE_SECONDARY,
				    .vlan = 42,
				    .config_version = 9,
				    .state = HA_COMM_INTERRUPTED,
				    .last_seq_seen = 1234,
				    .unix_ms = (int64_t)T0 * 1000};
	strcpy(m.hello.rack_id, "rack-0123456789ab");
	return m;
}

static void test_roundtrip_hello_ack_sync_state(void **state)
{
	struct ha_msg m = hello(), out;
	assert_int_equal(roundtrip(&m, &out, NULL), 0);
	assert_int_equal(out.type, HA_MSG_HELLO);
	assert_memory_equal(&out.hello, &m.hello, sizeof(m.hello));
	ha_msg_done(&out);

	struct ha_msg ack = {.type = HA_MSG_ACK, .seq = 77};
	assert_int_equal(roundtrip(&ack, &out, NULL), 0);
	assert_int_equal(out.type, HA_MSG_ACK);
	assert_int_equal(out.seq, 77);
	ha_msg_done(&out);

	struct ha_msg sync = {.type = HA_MSG_SYNC, .seq = 5};
	assert_int_equal(roundtrip(&sync, &out, NULL), 0);
	assert_int_equal(out.type, HA_MSG_SYNC);
	assert_int_equal(out.seq, 5);
	ha_msg_done(&out);

	struct ha_msg st = {.type = HA_MSG_STATE};
	st.state = (struct ha_state_msg){HA_PARTNER_DOWN, 3600000, (int64_t)T0 * 1000, 99, true, true};
	assert_int_equal(roundtrip(&st, &out, NULL), 0);
	assert_int_equal(out.type, HA_MSG_STATE);
	assert_memory_equal(&out.state, &st.state, sizeof(st.state));
	ha_msg_done(&out);
	assert_string_equal(ha_msg_type_name(HA_MSG_POOL_GRANT), "pool-grant");
	assert_string_equal(ha_msg_type_name((enum ha_msg_type)0), "?");
}

static void test_roundtrip_updates(void **state)
{
	struct lease v[3] = {mk(1, 10), mk(2, 11), mk(3, 15)};
	v[1].owner = LEASE_OWNER_PEER;
	v[1].state = LEASE_DECLINED;
	v[1].conflict = LEASE_CONFLICT_ARP;
	v[2].client_id_len = 255;
	memset(v[2].client_id, 0xab, 255);
	memset(v[2].hostname, 0, sizeof(v[2].hostname));
	struct ha_msg m = {.type = HA_MSG_UPDATES, .seq = 10, .leases = v, .n_leases = 3}, out;
	assert_int_equal(roundtrip(&m, &out, NULL), 0);
	assert_int_equal(out.type, HA_MSG_UPDATES);
	assert_int_equal(out.seq, 10);
	assert_int_equal(out.n_leases, 3);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(&out.leases[i], &v[i], sizeof(v[i]));
	ha_msg_done(&out);

	/* Empty is allowed (a heartbeat-sized sync answer). */
	struct ha_msg empty = {.type = HA_MSG_UPDATES, .seq = 0};
	assert_int_equal(roundtrip(&empty, &out, NULL), 0);
	assert_int_equal(out.n_leases, 0);
	ha_msg_done(&out);
}

static void test_roundtrip_pool(void **state)
{
	struct ha_pool_ask asks[2] = {{5, 100, 3}, {6, 1, 0}};
	struct ha_msg req = {.type = HA_MSG_POOL_REQUEST, .asks = asks, .n_asks = 2}, out;
	assert_int_equal(roundtrip(&req, &out, NULL), 0);
	assert_int_equal(out.n_asks, 2);
	assert_memory_equal(out.asks, asks, sizeof(asks));
	ha_msg_done(&out);

	struct ha_range rs[2] = {{5, BASE + 10, BASE + 19}, {5, BASE + 40, BASE + 40}};
	struct ha_msg grant = {.type = HA_MSG_POOL_GRANT, .seq = 8, .ranges = rs, .n_ranges = 2};
	assert_int_equal(roundtrip(&grant, &out, NULL), 0);
	assert_int_equal(out.seq, 8);
	assert_int_equal(out.n_ranges, 2);
	assert_memory_equal(out.ranges, rs, sizeof(rs));
	ha_msg_done(&out);

	/* the lost-grant check and its answer (which may be empty) */
	struct ha_msg check = {.type = HA_MSG_POOL_CHECK, .seq = 3, .ranges = rs, .n_ranges = 2};
	assert_int_equal(roundtrip(&check, &out, NULL), 0);
	assert_int_equal(out.type, HA_MSG_POOL_CHECK);
	assert_int_equal(out.seq, 3);
	assert_int_equal(out.n_ranges, 2);
	assert_memory_equal(out.ranges, rs, sizeof(rs));
	ha_msg_done(&out);
	struct ha_msg none = {.type = HA_MSG_POOL_UNOWNED, .seq = 3};
	assert_int_equal(roundtrip(&none, &out, NULL), 0);
	assert_int_equal(out.type, HA_MSG_POOL_UNOWNED);
	assert_int_equal(out.seq, 3);
	assert_int_equal(out.n_ranges, 0);
	ha_msg_done(&out);
	assert_string_equal(ha_msg_type_name(HA_MSG_POOL_UNOWNED), "pool-unowned");
}

/* Expect m to be refused with -EINVAL naming `field` (a prefix). */
static void refused(const struct ha_msg *m, const char *field)
{
	struct ha_msg out;
	const char *why = NULL;
	int rc = roundtrip(m, &out, &why);
	if (rc != -EINVAL)
		fail_msg("want -EINVAL for %s, got %d", field, rc);
	assert_non_null(why);
	if (strncmp(why, field, strlen(field)) != 0)
		fail_msg("want %s, got %s", field, why);
	/* Nothing is left owned after a refusal. */
	assert_null(out.leases);
	assert_null(out.asks);
	assert_null(out.ranges);
}

static void test_hello_bounds(void **state)
{
	struct ha_msg m = hello();
	m.hello.version = 0;
	refused(&m, "hello.version");
	m = hello();
	strcpy(m.hello.rack_id, "");
	refused(&m, "hello.rack_id");
	strcpy(m.hello.rack_id, "rack 1");
	refused(&m, "hello.rack_id");
	strcpy(m.hello.rack_id, "rack\n1");
	refused(&m, "hello.rack_id");
	m = hello();
	m.hello.role = (enum ha_role)3;
	refused(&m, "hello.role");
	m.hello.role = (enum ha_role)0;
	refused(&m, "hello.role");
	m = hello();
	m.hello.vlan = 4095;
	refused(&m, "hello.vlan");
	m = hello();
	m.hello.state = (enum ha_state)6;
	refused(&m, "hello.state");
	m = hello();
	m.hello.unix_ms = -1;
	refused(&m, "hello.unix_ms");

	/* A rack id of 65 characters, through protobuf-c directly (the
	 * struct holds at most 64). */
	Ironrack__V1__HaHello h = IRONRACK__V1__HA_HELLO__INIT;
	char id[66];
	memset(id, 'a', 65);
	id[65] = '\0';
	h.version = 1;
	h.rack_id = id;
	h.role = IRONRACK__V1__HA_ROLE__HA_ROLE_PRIMARY;
	h.state = IRONRACK__V1__HA_PAIR_STATE__HA_PAIR_STATE_NORMAL;
	Ironrack__V1__HaMessage pm = IRONRACK__V1__HA_MESSAGE__INIT;
	pm.body_case = IRONRACK__V1__HA_MESSAGE__BODY_HELLO;
	pm.hello = &h;
	uint8_t buf[256];
	size_t n = ironrack__v1__ha_message__pack(&pm, buf);
	struct ha_msg out;
	const char *why;
	assert_int_equal(ha_msg_decode(buf, n, &out, &why), -EINVAL);
	assert_string_equal(why, "hello.rack_id");
	id[64] = '\0';
	n = ironrack__v1__ha_message__pack(&pm, buf);
	assert_int_equal(ha_msg_decode(buf, n, &out, NULL), 0);
	assert_int_equal(strlen(out.hello.rack_id), 64);
	ha_msg_done(&out);
}

static void updates_refused(struct lease l, const char *field)
{
	struct lease v[2] = {mk(9, 1), l};
	struct ha_msg m = {.type = HA_MSG_UPDATES, .seq = 1, .leases = v, .n_leases = 2};
	refused(&m, field);
}

static void test_updates_bounds(void **state)
{
	struct lease l = mk(1, 2);
	l.addr = 0;
	updates_refused(l, "updates.leases.addr");
	l = mk(1, 2);
	l.state = LEASE_OFFERED;
	updates_refused(l, "updates.leases.state");
	l.state = 7;
	updates_refused(l, "updates.leases.state");
	l = mk(1, 2);
	l.conflict = LEASE_CONFLICT_ARP; /* only DECLINED has a reason */
	updates_refused(l, "updates.leases.conflict");
	l.state = LEASE_DECLINED;
	l.conflict = 5;
	updates_refused(l, "updates.leases.conflict");
	l = mk(1, 2);
	l.hlen = 0;
	l.client_id_len = 0; /* no identity at all */
	updates_refused(l, "updates.leases.chaddr");
	l = mk(1, 2);
	strcpy(l.hostname, "a b");
	updates_refused(l, "updates.leases.hostname");
	l = mk(1, 2);
	l.hostname[0] = '\x7f';
	updates_refused(l, "updates.leases.hostname");
	l = mk(1, 2);
	l.expiry = -5;
	updates_refused(l, "updates.leases.expiry");
	l = mk(1, 2);
	l.start = HA_TIME_MAX;
	updates_refused(l, "updates.leases.expiry");
	l = mk(1, 2);
	l.seq = 0;
	updates_refused(l, "updates.leases.seq");
	l = mk(1, 1); /* not after the first record's seq */
	updates_refused(l, "updates.leases.seq");

	/* seq_first must be the first record's. */
	struct lease v[1] = {mk(1, 3)};
	struct ha_msg m = {.type = HA_MSG_UPDATES, .seq = 2, .leases = v, .n_leases = 1};
	refused(&m, "updates.seq_first");

	/* At most HA_UPDATES_MAX records. */
	struct lease *many = calloc(HA_UPDATES_MAX + 1, sizeof(*many));
	for (uint32_t i = 0; i <= HA_UPDATES_MAX; i++)
		many[i] = mk(1 + i, 1 + i);
	struct ha_msg big = {.type = HA_MSG_UPDATES, .seq = 1, .leases = many, .n_leases = HA_UPDATES_MAX + 1}, out;
	refused(&big, "updates.leases: too many");
	big.n_leases = HA_UPDATES_MAX;
	assert_int_equal(roundtrip(&big, &out, NULL), 0);
	assert_int_equal(out.n_leases, HA_UPDATES_MAX);
	ha_msg_done(&out);
	free(many);

	/* chaddr longer than 16 bytes, through protobuf-c directly. */
	Ironrack__V1__HaLease pl = IRONRACK__V1__HA_LEASE__INIT;
	uint8_t hw[17] = {0};
	pl.addr = BASE + 1;
	pl.state = LEASE_ACTIVE;
	pl.chaddr.data = hw;
	pl.chaddr.len = 17;
	pl.seq = 1;
	Ironrack__V1__HaLease *pp = &pl;
	Ironrack__V1__HaUpdates pu = IRONRACK__V1__HA_UPDATES__INIT;
	pu.seq_first = 1;
	pu.n_leases = 1;
	pu.leases = &pp;
	Ironrack__V1__HaMessage pm = IRONRACK__V1__HA_MESSAGE__INIT;
	pm.body_case = IRONRACK__V1__HA_MESSAGE__BODY_UPDATES;
	pm.updates = &pu;
	uint8_t buf[256];
	size_t n = ironrack__v1__ha_message__pack(&pm, buf);
	const char *why;
	assert_int_equal(ha_msg_decode(buf, n, &out, &why), -EINVAL);
	assert_string_equal(why, "updates.leases.chaddr");
	pl.chaddr.len = 16;
	n = ironrack__v1__ha_message__pack(&pm, buf);
	assert_int_equal(ha_msg_decode(buf, n, &out, NULL), 0);
	assert_int_equal(out.leases[0].hlen, 16);
	ha_msg_done(&out);
	/* The encoder will not send what it cannot carry. */
	struct lease bad = mk(1, 1);
	bad.hlen = 17;
	struct ha_msg bm = {.type = HA_MSG_UPDATES, .seq = 1, .leases = &bad, .n_leases = 1};
	uint8_t *eb;
	size_t el;
	assert_int_equal(ha_msg_encode(&bm, &eb, &el), -EINVAL);
}

static void test_pool_bounds(void **state)
{
	struct ha_pool_ask a = {5, 0, 0};
	struct ha_msg req = {.type = HA_MSG_POOL_REQUEST, .asks = &a, .n_asks = 1};
	refused(&req, "pool_request.asks.count");
	a.count = LEASE_POOL_SPAN_MAX + 1;
	refused(&req, "pool_request.asks.count");
	a.count = 1;
	a.free = LEASE_POOL_SPAN_MAX + 1;
	refused(&req, "pool_request.asks.free");
	struct ha_pool_ask many[HA_POOL_MAX + 1];
	for (int i = 0; i <= HA_POOL_MAX; i++)
		many[i] = (struct ha_pool_ask){(uint32_t)i, 1, 0};
	req.asks = many;
	req.n_asks = HA_POOL_MAX + 1;
	refused(&req, "pool_request.asks: too many");

	struct ha_range r[2] = {{5, BASE + 10, BASE + 19}, {5, BASE + 19, BASE + 30}};
	struct ha_msg g = {.type = HA_MSG_POOL_GRANT, .seq = 1, .ranges = r, .n_ranges = 2};
	refused(&g, "pool_grant.ranges: not sorted");
	struct ha_msg ck = {.type = HA_MSG_POOL_CHECK, .seq = 1, .ranges = r, .n_ranges = 2};
	refused(&ck, "pool_check.ranges: not sorted");
	ck.type = HA_MSG_POOL_UNOWNED;
	refused(&ck, "pool_unowned.ranges: not sorted");
	ck.seq = 0;
	refused(&ck, "pool_unowned.seq");
	r[1] = (struct ha_range){5, BASE + 30, BASE + 20};
	refused(&g, "pool_grant.ranges");
	r[1] = (struct ha_range){5, 0, 0};
	g.n_ranges = 1;
	g.ranges = &r[1];
	refused(&g, "pool_grant.ranges");
	r[1] = (struct ha_range){5, 1, LEASE_POOL_SPAN_MAX + 1};
	refused(&g, "pool_grant.ranges");
	r[1] = (struct ha_range){5, 1, LEASE_POOL_SPAN_MAX};
	struct ha_msg out;
	assert_int_equal(roundtrip(&g, &out, NULL), 0);
	ha_msg_done(&out);
	g.seq = 0;
	refused(&g, "pool_grant.seq");
}

static void test_state_bounds(void **state)
{
	struct ha_msg st = {.type = HA_MSG_STATE};
	st.state = (struct ha_state_msg){.state = 0};
	refused(&st, "state.state");
	st.state = (struct ha_state_msg){.state = HA_NORMAL, .since_ms = -1};
	refused(&st, "state.since_ms");
	st.state = (struct ha_state_msg){.state = HA_NORMAL, .unix_ms = HA_TIME_MAX * 1000};
	refused(&st, "state.unix_ms");
}

static void test_not_a_message(void **state)
{
	struct ha_msg out;
	const char *why;
	/* No body. */
	assert_int_equal(ha_msg_decode((const uint8_t *)"", 0, &out, &why), -EBADMSG);
	assert_string_equal(why, "no body");
	/* Not protobuf: a truncated length-delimited field. */
	const uint8_t junk[] = {0x12, 0x20, 0x01};
	assert_int_equal(ha_msg_decode(junk, sizeof(junk), &out, &why), -EBADMSG);
	/* Too large, before any parsing. */
	assert_int_equal(ha_msg_decode(junk, HA_MSG_MAX + 1, &out, &why), -EMSGSIZE);
	/* An unknown field number is skipped (forward compatible), but the
	 * body must still be there. */
	const uint8_t unknown[] = {0xf8, 0x01, 0x05}; /* field 31, varint 5 */
	assert_int_equal(ha_msg_decode(unknown, sizeof(unknown), &out, &why), -EBADMSG);
	/* Encoding a type out of range. */
	struct ha_msg bad = {.type = (enum ha_msg_type)10};
	uint8_t *buf;
	size_t len;
	assert_int_equal(ha_msg_encode(&bad, &buf, &len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_hello_ack_sync_state),
	    cmocka_unit_test(test_roundtrip_updates),
	    cmocka_unit_test(test_roundtrip_pool),
	    cmocka_unit_test(test_hello_bounds),
	    cmocka_unit_test(test_updates_bounds),
	    cmocka_unit_test(test_pool_bounds),
	    cmocka_unit_test(test_state_bounds),
	    cmocka_unit_test(test_not_a_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
