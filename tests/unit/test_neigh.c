/* The rack's neighbour table (rack/discovery/neigh.c): NEW, MOVED, NAMED
 * and REFRESHED against what was last reported; keys by interface, VLAN
 * and address; eviction of the least recently seen; the per-interface
 * token bucket and the bounded queue, whose drops are counted and
 * reported later rather than lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rack/discovery/neigh.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define MIN	       (60 * 1000)

static const uint8_t mac1[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac2[6] = {0x02, 0, 0, 0, 0, 0x02};

struct fixture {
	struct neigh_table *t;
	int eth0, eth1;
};

static struct neigh_table *table(size_t max_entries, size_t queue_max, uint32_t rate, uint32_t burst)
{
	struct neigh_conf c;
	neigh_conf_default(&c);
	c.seed = 0x1234;
	if (max_entries)
		c.max_entries = max_entries;
	if (queue_max)
		c.queue_max = queue_max;
	if (rate)
		c.rate = rate;
	if (burst)
		c.burst = burst;
	return neigh_table_new(&c);
}

static int setup(void **state)
{
	static struct fixture f;
	f.t = table(0, 0, 0, 0);
	f.eth0 = neigh_iface_add(f.t, "eth0");
	f.eth1 = neigh_iface_add(f.t, "eth1");
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	neigh_table_free(f->t);
	return 0;
}

static int arp(struct neigh_table *t, int iface, uint16_t vlan, uint32_t ip, const uint8_t *mac, int64_t now)
{
	struct neigh_obs o = {.iface = (unsigned)iface, .vlan = vlan, .addr = neigh_addr_v4(ip), .mac = mac};
	return neigh_observe(t, &o, now);
}

static int named(struct neigh_table *t, int iface, uint32_t ip, const uint8_t *mac, const char *name, int64_t now)
{
	struct neigh_obs o = {.iface = (unsigned)iface, .addr = neigh_addr_v4(ip), .mac = mac, .hostname = name};
	return neigh_observe(t, &o, now);
}

static struct neigh_event take1(struct neigh_table *t)
{
	struct neigh_event ev[2];
	assert_int_equal(neigh_take(t, ev, 2), 1);
	return ev[0];
}

static void test_new_then_refreshed(void **state)
{
	struct fixture *f = *state;
	int64_t t0 = 1700000000000;

	assert_int_equal(arp(f->t, f->eth0, 0, IP(10, 0, 0, 1), mac1, t0), NEIGH_EV_NEW);
	struct neigh_event ev = take1(f->t);
	assert_int_equal(ev.kind, NEIGH_EV_NEW);
	assert_string_equal(neigh_iface_name(f->t, ev.iface), "eth0");
	assert_int_equal(ev.vlan, 0);
	assert_false(ev.addr.is_v6);
	assert_int_equal(ev.addr.v4, IP(10, 0, 0, 1));
	assert_true(ev.has_mac);
	assert_memory_equal(ev.mac, mac1, 6);
	assert_false(ev.has_old_mac);
	assert_string_equal(ev.hostname, "");
	assert_int_equal(ev.first_seen_ms, t0);
	assert_int_equal(ev.last_seen_ms, t0);

	/* seen again: nothing new until 10 minutes after the report */
	assert_int_equal(arp(f->t, f->eth0, 0, IP(10, 0, 0, 1), mac1, t0 + 1000), NEIGH_EV_NONE);
	assert_int_equal(arp(f->t, f->eth0, 0, IP(10, 0, 0, 1), mac1, t0 + 10 * MIN - 1), NEIGH_EV_NONE);
	assert_int_equal(neigh_pending(f->t), 0);
	assert_int_equal(arp(f->t, f->eth0, 0, IP(10, 0, 0, 1), mac1, t0 + 10 * MIN), NEIGH_EV_REFRESHED);
	ev = take1(f->t);
	assert_int_equal(ev.kind, NEIGH_EV_REFRESHED);
	assert_int_equal(ev.first_seen_ms, t0);
	assert_int_equal(ev.last_seen_ms, t0 + 10 * MIN);
	/* the next refresh counts from that report */
	assert_int_equal(arp(f->t, f->eth0, 0, IP(10, 0, 0, 1), mac1, t0 + 19 * MIN), NEIGH_EV_NONE);
	assert_int_equal(arp(f->t, f->eth0, 0, IP(10, 0, 0, 1), mac1, t0 + 20 * MIN), NEIGH_EV_REFRESHED);

	struct neigh_iface_stats st;
	neigh_iface_stats(f->t, (unsigned)f->eth0, &st);
	assert_int_equal(st.observed, 6);
	assert_int_equal(st.events[NEIGH_EV_NEW], 1);
	assert_int_equal(st.events[NEIGH_EV_REFRESHED], 2);
	assert_int_equal(st.rate_dropped + st.queue_dropped, 0);
}

static void test_moved(void **state)
{
	struct fixture *f = *state;
	int64_t t0 = 5000;

	assert_int_equal(arp(f->t, f->eth0, 0, IP(10, 0, 0, 2), mac1, t0), NEIGH_EV_NEW);
	assert_int_equal(arp(f->t, f->eth0, 0, IP(10, 0, 0, 2), mac2, t0 + 1), NEIGH_EV_MOVED);
	struct neigh_event ev[4];
	assert_int_equal(neigh_take(f->t, ev, 4), 2);
	assert_int_equal(ev[1].kind, NEIGH_EV_MOVED);
	assert_memory_equal(ev[1].mac, mac2, 6);
	assert_true(ev[1].has_old_mac);
	assert_memory_equal(ev[1].old_mac, mac1, 6);
	assert_int_equal(ev[1].first_seen_ms, t0);
	/* the new MAC is now the reported one */
	assert_int_equal(arp(f->t, f->eth0, 0, IP(10, 0, 0, 2), mac2, t0 + 2), NEIGH_EV_NONE);
	/* and back: moved again */
	assert_int_equal(arp(f->t, f->eth0, 0, IP(10, 0, 0, 2), mac1, t0 + 3), NEIGH_EV_MOVED);
	assert_memory_equal(take1(f->t).old_mac, mac2, 6);
}

static void test_keys(void **state)
{
	struct fixture *f = *state;

	/* the same address on another VLAN or interface is another neighbour */
	assert_int_equal(arp(f->t, f->eth0, 0, IP(10, 0, 0, 3), mac1, 0), NEIGH_EV_NEW);
	assert_int_equal(arp(f->t, f->eth0, 100, IP(10, 0, 0, 3), mac2, 0), NEIGH_EV_NEW);
	assert_int_equal(arp(f->t, f->eth1, 0, IP(10, 0, 0, 3), mac2, 0), NEIGH_EV_NEW);
	assert_int_equal(arp(f->t, f->eth0, 0, IP(10, 0, 0, 3), mac1, 1), NEIGH_EV_NONE);
	assert_int_equal(arp(f->t, f->eth0, 100, IP(10, 0, 0, 3), mac2, 1), NEIGH_EV_NONE);
	/* IPv6 is its own key, even with the same low bits */
	uint8_t v6[16] = {0xfe, 0x80};
	v6[15] = 3;
	struct neigh_obs o = {.iface = (unsigned)f->eth0, .addr = neigh_addr_v6(v6), .mac = mac1};
	assert_int_equal(neigh_observe(f->t, &o, 2), NEIGH_EV_NEW);
	struct neigh_event view;
	assert_true(neigh_lookup(f->t, (unsigned)f->eth0, 100, &(struct neigh_addr){.v4 = IP(10, 0, 0, 3)}, &view));
	assert_memory_equal(view.mac, mac2, 6);
	assert_int_equal(view.kind, NEIGH_EV_NONE);
	assert_false(neigh_lookup(f->t, (unsigned)f->eth1, 100, &(struct neigh_addr){.v4 = IP(10, 0, 0, 3)}, &view));
	struct neigh_stats st;
	neigh_stats(f->t, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.pending, 4);
	/* an interface the table does not know */
	assert_int_equal(arp(f->t, 7, 0, IP(10, 0, 0, 3), mac1, 3), -EINVAL);
}

static void test_names(void **state)
{
	struct fixture *f = *state;
	struct neigh_event ev;

	/* a name for an address whose MAC is not known: NEW without a MAC */
	assert_int_equal(named(f->t, f->eth0, IP(10, 0, 0, 4), NULL, "box.local", 0), NEIGH_EV_NEW);
	ev = take1(f->t);
	assert_false(ev.has_mac);
	assert_string_equal(ev.hostname, "box.local");
	/* ARP brings the MAC: NEW again, now a full binding, the name kept */
	assert_int_equal(arp(f->t, f->eth0, 0, IP(10, 0, 0, 4), mac1, 1), NEIGH_EV_NEW);
	ev = take1(f->t);
	assert_true(ev.has_mac);
	assert_memory_equal(ev.mac, mac1, 6);
	assert_string_equal(ev.hostname, "box.local");
	/* the same name again: nothing; another name: NAMED */
	assert_int_equal(named(f->t, f->eth0, IP(10, 0, 0, 4), mac1, "box.local", 2), NEIGH_EV_NONE);
	assert_int_equal(named(f->t, f->eth0, IP(10, 0, 0, 4), NULL, "renamed.local", 3), NEIGH_EV_NAMED);
	ev = take1(f->t);
	assert_int_equal(ev.kind, NEIGH_EV_NAMED);
	assert_string_equal(ev.hostname, "renamed.local");
	assert_memory_equal(ev.mac, mac1, 6);
	/* a new MAC and a new name at once: MOVED, carrying the name */
	assert_int_equal(named(f->t, f->eth0, IP(10, 0, 0, 4), mac2, "third.local", 4), NEIGH_EV_MOVED);
	ev = take1(f->t);
	assert_string_equal(ev.hostname, "third.local");
	assert_int_equal(named(f->t, f->eth0, IP(10, 0, 0, 4), mac2, "third.local", 5), NEIGH_EV_NONE);
	/* names that are empty or too long are ignored */
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(named(f->t, f->eth0, IP(10, 0, 0, 4), mac2, longname, 6), NEIGH_EV_NONE);
	assert_int_equal(named(f->t, f->eth0, IP(10, 0, 0, 4), mac2, "", 7), NEIGH_EV_NONE);
	assert_true(neigh_lookup(f->t, (unsigned)f->eth0, 0, &(struct neigh_addr){.v4 = IP(10, 0, 0, 4)}, &ev));
	assert_string_equal(ev.hostname, "third.local");
	/* 253 characters is a name */
	longname[NEIGH_HOSTNAME_MAX] = '\0';
	assert_int_equal(named(f->t, f->eth0, IP(10, 0, 0, 4), mac2, longname, 8), NEIGH_EV_NAMED);
	assert_int_equal(strlen(take1(f->t).hostname), NEIGH_HOSTNAME_MAX);
}

static void test_eviction(void **state)
{
	struct neigh_table *t = table(4, 0, 0, 0);
	int i0 = neigh_iface_add(t, "eth0");
	struct neigh_stats st;

	for (int i = 1; i <= 4; i++)
		assert_int_equal(arp(t, i0, 0, IP(10, 0, 1, i), mac1, i), NEIGH_EV_NEW);
	/* .1 is seen again, so .2 is now the least recently seen */
	assert_int_equal(arp(t, i0, 0, IP(10, 0, 1, 1), mac1, 10), NEIGH_EV_NONE);
	assert_int_equal(arp(t, i0, 0, IP(10, 0, 1, 5), mac1, 11), NEIGH_EV_NEW);
	neigh_stats(t, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.evictions, 1);
	struct neigh_event v;
	assert_false(neigh_lookup(t, (unsigned)i0, 0, &(struct neigh_addr){.v4 = IP(10, 0, 1, 2)}, &v));
	for (int i = 1; i <= 5; i++) {
		if (i != 2)
			assert_true(neigh_lookup(t, (unsigned)i0, 0, &(struct neigh_addr){.v4 = IP(10, 0, 1, i)}, &v));
	}
	/* an evicted neighbour that comes back is new again, evicting .3 */
	assert_int_equal(arp(t, i0, 0, IP(10, 0, 1, 2), mac1, 12), NEIGH_EV_NEW);
	assert_false(neigh_lookup(t, (unsigned)i0, 0, &(struct neigh_addr){.v4 = IP(10, 0, 1, 3)}, &v));
	neigh_stats(t, &st);
	assert_int_equal(st.evictions, 2);

	/* churn through many keys: the bound holds, every chain stays sound */
	for (uint32_t i = 0; i < 10000; i++)
		arp(t, i0, (uint16_t)(i % 3), IP(10, 2, 0, 0) + i, mac2, 100 + i);
	neigh_stats(t, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.evictions, 2 + 10000);
	for (uint32_t i = 9996; i < 10000; i++)
		assert_true(neigh_lookup(t, (unsigned)i0, (uint16_t)(i % 3),
					 &(struct neigh_addr){.v4 = IP(10, 2, 0, 0) + i}, &v));
	neigh_table_free(t);
}

static void test_rate_limit(void **state)
{
	struct neigh_table *t = table(0, 0, 10, 5); /* 10/s, burst 5 */
	int i0 = neigh_iface_add(t, "eth0"), i1 = neigh_iface_add(t, "eth1");
	int64_t t0 = 1000000;
	struct neigh_iface_stats st;

	int queued = 0, dropped = 0;
	for (int i = 0; i < 20; i++) {
		int r = arp(t, i0, 0, IP(10, 3, 0, i), mac1, t0);
		if (r == NEIGH_EV_NEW)
			queued++;
		else if (r == -EAGAIN)
			dropped++;
		else
			fail_msg("unexpected %d", r);
	}
	assert_int_equal(queued, 5);
	assert_int_equal(dropped, 15);
	neigh_iface_stats(t, (unsigned)i0, &st);
	assert_int_equal(st.rate_dropped, 15);
	assert_int_equal(st.events[NEIGH_EV_NEW], 5);
	/* the other interface has its own bucket */
	assert_int_equal(arp(t, i1, 0, IP(10, 3, 0, 0), mac1, t0), NEIGH_EV_NEW);
	/* one token per 100 ms */
	assert_int_equal(arp(t, i0, 0, IP(10, 3, 0, 5), mac1, t0 + 99), -EAGAIN);
	assert_int_equal(arp(t, i0, 0, IP(10, 3, 0, 5), mac1, t0 + 100), NEIGH_EV_NEW);
	assert_int_equal(arp(t, i0, 0, IP(10, 3, 0, 6), mac1, t0 + 100), -EAGAIN);
	/* a dropped NEW is not lost: the next sighting after a refill reports it */
	int64_t t1 = t0 + 10000; /* a long pause refills to the burst, no more */
	for (int i = 6; i < 11; i++)
		assert_int_equal(arp(t, i0, 0, IP(10, 3, 0, i), mac1, t1), NEIGH_EV_NEW);
	assert_int_equal(arp(t, i0, 0, IP(10, 3, 0, 11), mac1, t1), -EAGAIN);
	/* a clock going back does not refill */
	assert_int_equal(arp(t, i0, 0, IP(10, 3, 0, 11), mac1, t1 - 5000), -EAGAIN);
	assert_int_equal(arp(t, i0, 0, IP(10, 3, 0, 11), mac1, t1 + 100), NEIGH_EV_NEW);
	/* a MOVED over the rate is reported on the next sighting too */
	assert_int_equal(arp(t, i0, 0, IP(10, 3, 0, 0), mac2, t1 + 100), -EAGAIN);
	assert_int_equal(arp(t, i0, 0, IP(10, 3, 0, 0), mac2, t1 + 200), NEIGH_EV_MOVED);
	neigh_table_free(t);
}

static void test_queue(void **state)
{
	struct neigh_table *t = table(0, 3, 1000, 1000);
	int i0 = neigh_iface_add(t, "eth0");
	struct neigh_event ev[8];

	for (int i = 0; i < 3; i++)
		assert_int_equal(arp(t, i0, 0, IP(10, 4, 0, i), mac1, 0), NEIGH_EV_NEW);
	assert_int_equal(arp(t, i0, 0, IP(10, 4, 0, 3), mac1, 0), -ENOBUFS);
	assert_int_equal(arp(t, i0, 0, IP(10, 4, 0, 4), mac1, 0), -ENOBUFS);
	struct neigh_iface_stats st;
	neigh_iface_stats(t, (unsigned)i0, &st);
	assert_int_equal(st.queue_dropped, 2);
	assert_int_equal(st.rate_dropped, 0);
	/* batches, oldest first */
	assert_int_equal(neigh_take(t, ev, 2), 2);
	assert_int_equal(ev[0].addr.v4, IP(10, 4, 0, 0));
	assert_int_equal(ev[1].addr.v4, IP(10, 4, 0, 1));
	assert_int_equal(arp(t, i0, 0, IP(10, 4, 0, 3), mac1, 1), NEIGH_EV_NEW);
	assert_int_equal(arp(t, i0, 0, IP(10, 4, 0, 4), mac1, 1), NEIGH_EV_NEW);
	assert_int_equal(neigh_pending(t), 3);
	assert_int_equal(neigh_take(t, ev, 8), 3);
	assert_int_equal(ev[0].addr.v4, IP(10, 4, 0, 2));
	assert_int_equal(ev[1].addr.v4, IP(10, 4, 0, 3));
	assert_int_equal(ev[2].addr.v4, IP(10, 4, 0, 4));
	assert_int_equal(neigh_take(t, ev, 8), 0);
	neigh_table_free(t);
}

/* An ARP storm: 200,000 sightings of random addresses over 2 s on one
 * interface. Entries, queued events and reports stay within the bounds. */
static void test_storm(void **state)
{
	struct neigh_table *t = table(1000, 256, 100, 50);
	int i0 = neigh_iface_add(t, "eth0");
	struct neigh_event ev[64];
	uint64_t x = 88172645463325252ULL, taken = 0;

	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint8_t mac[6] = {0x02, (uint8_t)x, (uint8_t)(x >> 8), 0, 0, (uint8_t)(x >> 16)};
		int64_t now = i / 100; /* 2,000 ms */
		int r = arp(t, i0, 0, IP(10, 5, 0, 0) | (uint32_t)(x >> 40 & 0xffff), mac, now);
		assert_true(r == NEIGH_EV_NONE || r == NEIGH_EV_NEW || r == NEIGH_EV_MOVED || r == -EAGAIN ||
			    r == -ENOBUFS);
		if (i % 1000 == 0)
			taken += neigh_take(t, ev, 64);
	}
	taken += neigh_take(t, ev, 64);
	struct neigh_stats st;
	struct neigh_iface_stats ist;
	neigh_stats(t, &st);
	neigh_iface_stats(t, (unsigned)i0, &ist);
	assert_true(st.entries <= 1000);
	assert_true(st.evictions > 100000);
	/* burst + rate x 2 s, and not much below it: the bucket did work */
	uint64_t events = ist.events[NEIGH_EV_NEW] + ist.events[NEIGH_EV_MOVED];
	assert_true(events <= 50 + 100 * 2);
	assert_true(events >= 200);
	assert_int_equal(taken, events);
	assert_true(ist.rate_dropped > 190000);
	assert_int_equal(ist.observed, 200000);
	neigh_table_free(t);
}

static void test_conf_and_ifaces(void **state)
{
	struct neigh_conf c;
	neigh_conf_default(&c);
	assert_int_equal(c.refresh_ms, 10 * MIN);
	c.max_entries = 0;
	assert_null(neigh_table_new(&c));
	neigh_conf_default(&c);
	c.rate = 0;
	assert_null(neigh_table_new(&c));
	neigh_conf_default(&c);
	c.queue_max = 0;
	assert_null(neigh_table_new(&c));

	struct neigh_table *t = table(0, 0, 0, 0);
	assert_int_equal(neigh_iface_add(t, "eth0"), 0);
	assert_int_equal(neigh_iface_add(t, "eth1"), 1);
	assert_int_equal(neigh_iface_add(t, "eth0"), 0);
	assert_int_equal(neigh_iface_add(t, ""), -EINVAL);
	assert_int_equal(neigh_iface_add(t, "a-very-long-name"), -EINVAL); /* 16 */
	char name[16];
	for (int i = 2; i < NEIGH_IFACES_MAX; i++) {
		snprintf(name, sizeof(name), "if%d", i);
		assert_int_equal(neigh_iface_add(t, name), i);
	}
	assert_int_equal(neigh_iface_add(t, "one-too-many"), -ENOSPC);
	assert_null(neigh_iface_name(t, NEIGH_IFACES_MAX));
	assert_string_equal(neigh_event_kind_name(NEIGH_EV_MOVED), "MOVED");
	assert_string_equal(neigh_event_kind_name(NEIGH_EV_KINDS), "?");
	neigh_table_free(t);
	neigh_table_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_new_then_refreshed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_moved, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_names, setup, teardown),
	    cmocka_unit_test(test_eviction),
	    cmocka_unit_test(test_rate_limit),
	    cmocka_unit_test(test_queue),
	    cmocka_unit_test(test_storm),
	    cmocka_unit_test(test_conf_and_ifaces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
