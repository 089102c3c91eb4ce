/* The rack's discovery reports (rack/discovery/report.c): a table event as
 * a NeighbourEvent (addresses, MACs, names, the served VLAN), and the
 * batching: nothing taken while the region is away (the table holds it),
 * batches of at most batch_max per report, the drops of the table and of
 * failed sends counted once in the next report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rack/discovery/report.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static const uint8_t mac1[6] = {0x02, 0, 0, 0, 0x44, 0x0a};
static const uint8_t mac2[6] = {0x02, 0, 0, 0, 0x44, 0xaa};

static void test_event_fill(void **state)
{
	(void)state;
	struct disc_report_event e;
	struct neigh_event ev = {
	    .kind = NEIGH_EV_MOVED, .iface = 0, .vlan = 44, .addr = neigh_addr_v4(IP(10, 44, 0, 10))};
	ev.has_mac = ev.has_old_mac = true;
	memcpy(ev.mac, mac2, 6);
	memcpy(ev.old_mac, mac1, 6);
	snprintf(ev.hostname, sizeof(ev.hostname), "labhost.local");
	ev.first_seen_ms = 1000;
	ev.last_seen_ms = 2000;

	assert_int_equal(disc_report_event_fill(&e, &ev, "eth0", 7), 0);
	assert_int_equal(e.pb.kind, IRONRACK__V1__NEIGHBOUR_EVENT__KIND__MOVED);
	assert_string_equal(e.pb.interface, "eth0");
	assert_int_equal(e.pb.vid, 44);
	assert_int_equal(e.pb.vlan_id, 7);
	assert_string_equal(e.pb.address, "10.44.0.10");
	assert_string_equal(e.pb.mac, "02:00:00:00:44:aa");
	assert_string_equal(e.pb.old_mac, "02:00:00:00:44:0a");
	assert_string_equal(e.pb.hostname, "labhost.local");
	assert_int_equal(e.pb.first_seen_unix_ms, 1000);
	assert_int_equal(e.pb.last_seen_unix_ms, 2000);

	/* Known by name only, IPv6, no old MAC; a name that is not printable
	 * ASCII is not sent. */
	static const uint8_t v6[16] = {0xfe, 0x80, [15] = 1};
	struct neigh_event n6 = {.kind = NEIGH_EV_NAMED, .addr = neigh_addr_v6(v6)};
	snprintf(n6.hostname, sizeof(n6.hostname), "bad name.local");
	assert_int_equal(disc_report_event_fill(&e, &n6, "eth1", 0), 0);
	assert_int_equal(e.pb.kind, IRONRACK__V1__NEIGHBOUR_EVENT__KIND__NAMED);
	assert_string_equal(e.pb.address, "fe80::1");
	assert_string_equal(e.pb.mac, "");
	assert_string_equal(e.pb.old_mac, "");
	assert_string_equal(e.pb.hostname, "");
	assert_int_equal(e.pb.vlan_id, 0);
	/* An interface name the kernel cannot have is left empty (not sent). */
	assert_int_equal(disc_report_event_fill(&e, &n6, "eth 1", 0), 0);
	assert_string_equal(e.pb.interface, "");
	/* No kind: nothing to report. */
	struct neigh_event none = {0};
	assert_int_equal(disc_report_event_fill(&e, &none, "eth0", 0), -EINVAL);
}

/* ---- batching, against a fake session ---- */

struct fake {
	int fail;	  /* sends to refuse */
	size_t reports;	  /* sent */
	size_t events[8]; /* per report */
	uint64_t dropped[8];
	char first_addr[8][46];
	uint64_t first_vlan[8];
};

static int fake_send(void *arg, const Ironrack__V1__NeighbourReport *rep)
{
	struct fake *f = arg;
	if (f->fail) {
		f->fail--;
		return -EIO;
	}
	if (f->reports < 8) {
		f->events[f->reports] = rep->n_events;
		f->dropped[f->reports] = rep->dropped;
		snprintf(f->first_addr[f->reports], 46, "%s", rep->n_events ? rep->events[0]->address : "");
		f->first_vlan[f->reports] = rep->n_events ? rep->events[0]->vlan_id : 0;
	}
	f->reports++;
	return 0;
}

/* eth0 untagged is the served VLAN 7; anything else observed only. */
static uint64_t fake_vlan_of(void *arg, const char *ifname, uint16_t vid)
{
	return strcmp(ifname, "eth0") == 0 && vid == 0 ? 7 : 0;
}

static const struct disc_report_ops fake_ops = {.send = fake_send, .vlan_of = fake_vlan_of};

static struct neigh_table *table(uint32_t burst, size_t queue_max)
{
	struct neigh_conf c;
	neigh_conf_default(&c);
	c.seed = 42;
	c.burst = burst;
	c.queue_max = queue_max;
	return neigh_table_new(&c);
}

static void feed(struct neigh_table *t, int iface, uint16_t vlan, uint32_t first, int n)
{
	for (int i = 0; i < n; i++) {
		uint8_t mac[6] = {0x02, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
		struct neigh_obs o = {
		    .iface = (unsigned)iface, .vlan = vlan, .addr = neigh_addr_v4(first + (uint32_t)i), .mac = mac};
		neigh_observe(t, &o, 1000);
	}
}

static void test_batches_and_away(void **state)
{
	(void)state;
	struct fake f = {0};
	struct neigh_table *t = table(1000, 100);
	int eth0 = neigh_iface_add(t, "eth0"), eth1 = neigh_iface_add(t, "eth1");
	struct disc_report_conf conf = {.batch_max = 4};
	struct disc_report *r = disc_report_new(NULL, t, &conf, &fake_ops, &f);

	/* Away: nothing taken, the table holds them. */
	feed(t, eth0, 0, IP(10, 44, 0, 1), 6);
	disc_report_notify(r);
	assert_int_equal(disc_report_flush(r, 10), 0);
	assert_int_equal(f.reports, 0);
	assert_int_equal(neigh_pending(t), 6);

	/* Back: batches of at most 4, oldest first, with the served VLAN. */
	disc_report_connected(r);
	assert_int_equal(disc_report_flush(r, 10), 6);
	assert_int_equal(f.reports, 2);
	assert_int_equal(f.events[0], 4);
	assert_int_equal(f.events[1], 2);
	assert_string_equal(f.first_addr[0], "10.44.0.1");
	assert_string_equal(f.first_addr[1], "10.44.0.5");
	assert_int_equal(f.first_vlan[0], 7);
	assert_int_equal(f.dropped[0], 0);

	/* Observed only, and a tag on the served interface: VLAN 0. */
	feed(t, eth1, 0, IP(192, 0, 2, 1), 1);
	feed(t, eth0, 100, IP(198, 51, 100, 1), 1);
	assert_int_equal(disc_report_flush(r, 1), 2);
	assert_int_equal(f.first_vlan[2], 0);

	/* max_reports bounds one flush. */
	feed(t, eth0, 0, IP(10, 44, 1, 1), 9);
	assert_int_equal(disc_report_flush(r, 2), 8);
	assert_int_equal(neigh_pending(t), 1);
	assert_int_equal(disc_report_flush(r, 2), 1);

	/* Gone again: nothing more goes out. */
	disc_report_disconnected(r);
	feed(t, eth0, 0, IP(10, 44, 2, 1), 1);
	assert_int_equal(disc_report_flush(r, 10), 0);
	assert_int_equal(neigh_pending(t), 1);

	struct disc_report_stats st;
	disc_report_get_stats(r, &st);
	assert_int_equal(st.events_sent, 17);
	assert_int_equal(st.reports_sent, 6);
	assert_int_equal(st.send_failed, 0);
	disc_report_free(r);
	neigh_table_free(t);
}

static void test_drops_are_reported_once(void **state)
{
	(void)state;
	struct fake f = {0};
	/* A burst of 3 events and a queue of 100: a storm of 10 new senders
	 * queues 3 and drops 7 over the rate. */
	struct neigh_table *t = table(3, 100);
	int eth0 = neigh_iface_add(t, "eth0");
	struct disc_report *r = disc_report_new(NULL, t, NULL, &fake_ops, &f);
	disc_report_connected(r);

	feed(t, eth0, 0, IP(10, 44, 0, 1), 10);
	assert_int_equal(disc_report_flush(r, 10), 3);
	assert_int_equal(f.dropped[0], 7);

	/* A failed send loses its batch, counted in the next report. */
	feed(t, eth0, 0, IP(10, 44, 9, 1), 1); /* over the rate: dropped */
	struct neigh_iface_stats is;
	neigh_iface_stats(t, (unsigned)eth0, &is);
	assert_int_equal(is.rate_dropped, 8);
	disc_report_free(r);
	neigh_table_free(t);

	/* Failed send: a fresh table with room. */
	memset(&f, 0, sizeof(f));
	t = table(100, 100);
	eth0 = neigh_iface_add(t, "eth0");
	r = disc_report_new(NULL, t, NULL, &fake_ops, &f);
	disc_report_connected(r);
	feed(t, eth0, 0, IP(10, 44, 0, 1), 2);
	f.fail = 1;
	assert_int_equal(disc_report_flush(r, 10), -EIO);
	assert_int_equal(neigh_pending(t), 0);
	feed(t, eth0, 0, IP(10, 44, 0, 100), 1);
	assert_int_equal(disc_report_flush(r, 10), 1);
	assert_int_equal(f.dropped[0], 2);
	feed(t, eth0, 0, IP(10, 44, 0, 200), 1);
	assert_int_equal(disc_report_flush(r, 10), 1);
	assert_int_equal(f.dropped[1], 0); /* counted once */
	struct disc_report_stats st;
	disc_report_get_stats(r, &st);
	assert_int_equal(st.send_failed, 2);
	disc_report_free(r);
	neigh_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_event_fill),
	    cmocka_unit_test(test_batches_and_away),
	    cmocka_unit_test(test_drops_are_reported_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
