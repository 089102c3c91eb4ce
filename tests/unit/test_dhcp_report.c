/* Lease reports to the region (rack/dhcp/report.c): event conversion,
 * batching, dropping while disconnected, and the full sync from the lease
 * store, over an in-memory store. Every report the module sends is packed
 * and unpacked, as the session would, so what is checked is what the
 * region would read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rack/dhcp/report.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define BASE	       IP(10, 0, 0, 0)
#define NOW	       1700000000
#define MAX_SENT       64

struct fx {
	struct lease_store *leases;
	struct dhcp_report *r;
	bool fail_send; /* the "session" is not connected */
	int fail_at;	/* > 0: calls from this one on fail */
	int sends;	/* calls, failed ones too */
	size_t n_sent;
	Ironrack__V1__LeaseReport *sent[MAX_SENT];
};

static int fx_send(void *arg, const Ironrack__V1__LeaseReport *rep)
{
	struct fx *f = arg;
	f->sends++;
	if (f->fail_send || (f->fail_at && f->sends >= f->fail_at))
		return -ENOTCONN;
	assert_true(f->n_sent < MAX_SENT);
	size_t len = ironrack__v1__lease_report__get_packed_size(rep);
	uint8_t *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	ironrack__v1__lease_report__pack(rep, buf);
	f->sent[f->n_sent] = ironrack__v1__lease_report__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(f->sent[f->n_sent]);
	f->n_sent++;
	return 0;
}

static const struct lease_store *fx_leases(void *arg)
{
	struct fx *f = arg;
	return f->leases;
}

static const struct dhcp_report_ops fx_ops = {.send = fx_send, .leases = fx_leases};

static void fx_clear_sent(struct fx *f)
{
	for (size_t i = 0; i < f->n_sent; i++)
		ironrack__v1__lease_report__free_unpacked(f->sent[i], NULL);
	f->n_sent = 0;
	f->sends = 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct lease_store_config cfg = {.dir = NULL};
	assert_int_equal(lease_store_open(&cfg, &f->leases, NULL), 0);
	assert_int_equal(dhcp_report_new(NULL, NULL, &fx_ops, f, &f->r), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	fx_clear_sent(f);
	dhcp_report_free(f->r);
	lease_store_free(f->leases);
	free(f);
	return 0;
}

static struct lease mk_lease(uint32_t i, uint8_t st)
{
	struct lease l = {.addr = BASE + i, .state = st, .htype = 1, .hlen = 6};
	l.chaddr[0] = 0x52;
	l.chaddr[1] = 0x54;
	l.chaddr[4] = (uint8_t)(i >> 8);
	l.chaddr[5] = (uint8_t)i;
	snprintf(l.hostname, sizeof(l.hostname), "host-%u", i);
	l.start = NOW;
	l.expiry = NOW + 3600 + i;
	l.subnet_id = 7;
	if (st == LEASE_DECLINED)
		l.conflict = i % 2 ? LEASE_CONFLICT_ARP : LEASE_CONFLICT_DECLINE;
	return l;
}

static void stage(struct fx *f, uint32_t i, uint8_t st)
{
	struct lease l = mk_lease(i, st);
	assert_true(lease_store_stage(f->leases, &l) >= 0);
}

static struct dhcp_event mk_event(enum dhcp_event_kind kind, uint32_t i)
{
	struct dhcp_event ev = {.kind = kind, .addr = BASE + i, .subnet_id = 7, .htype = 1, .hlen = 6};
	ev.chaddr[0] = 0x52;
	ev.chaddr[1] = 0x54;
	ev.chaddr[5] = (uint8_t)i;
	ev.expiry = NOW + 600;
	snprintf(ev.hostname, sizeof(ev.hostname), "node%u", i);
	return ev;
}

/* ---- conversion ---- */

static void test_convert_event(void **state)
{
	struct dhcp_report_event e;
	struct dhcp_event ev = mk_event(DHCP_EV_LEASE_GRANTED, 5);
	assert_int_equal(dhcp_report_event_from_dhcp(&e, "eth0", &ev), 0);
	assert_int_equal(e.pb.kind, IRONRACK__V1__LEASE_EVENT__KIND__GRANTED);
	assert_string_equal(e.pb.address, "10.0.0.5");
	assert_string_equal(e.pb.mac, "52:54:00:00:00:05");
	assert_string_equal(e.pb.hostname, "node5");
	assert_int_equal(e.pb.subnet_id, 7);
	assert_int_equal(e.pb.expiry_unix, NOW + 600);
	assert_string_equal(e.pb.interface, "eth0");
	assert_string_equal(e.pb.reason, "");

	ev.kind = DHCP_EV_LEASE_RELEASED;
	assert_int_equal(dhcp_report_event_from_dhcp(&e, NULL, &ev), 0);
	assert_int_equal(e.pb.kind, IRONRACK__V1__LEASE_EVENT__KIND__RELEASED);
	assert_string_equal(e.pb.interface, "");
	ev.kind = DHCP_EV_LEASE_EXPIRED;
	assert_int_equal(dhcp_report_event_from_dhcp(&e, "", &ev), 0);
	assert_int_equal(e.pb.kind, IRONRACK__V1__LEASE_EVENT__KIND__EXPIRED);

	static const struct {
		uint8_t conflict;
		const char *reason;
	} reasons[] = {{LEASE_CONFLICT_DECLINE, "decline"},
		       {LEASE_CONFLICT_ARP, "arp"},
		       {LEASE_CONFLICT_ICMP, "icmp"},
		       {LEASE_CONFLICT_ADMIN, "admin"}};
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		ev.kind = DHCP_EV_CONFLICT;
		ev.conflict = reasons[i].conflict;
		assert_int_equal(dhcp_report_event_from_dhcp(&e, "eth0", &ev), 0);
		assert_int_equal(e.pb.kind, IRONRACK__V1__LEASE_EVENT__KIND__CONFLICT);
		assert_string_equal(e.pb.reason, reasons[i].reason);
	}

	ev.kind = DHCP_EV_POOL_EXHAUSTED;
	assert_int_equal(dhcp_report_event_from_dhcp(&e, "eth0", &ev), -EINVAL);
	ev.kind = DHCP_EV_RESERVED_BUSY;
	assert_int_equal(dhcp_report_event_from_dhcp(&e, "eth0", &ev), -EINVAL);

	/* Not Ethernet: no MAC. A hostname with bytes that are not UTF-8 or
	 * printable is sanitised, and a long interface name is cut. */
	ev = mk_event(DHCP_EV_LEASE_GRANTED, 6);
	ev.htype = 32;
	ev.hlen = 16;
	memcpy(ev.hostname, "a\xff b\n", 6);
	assert_int_equal(dhcp_report_event_from_dhcp(&e, "a-very-long-interface-name", &ev), 0);
	assert_string_equal(e.pb.mac, "");
	assert_string_equal(e.pb.hostname, "a??b?");
	assert_int_equal(strlen(e.pb.interface), 15);
}

static void test_convert_lease(void **state)
{
	struct dhcp_report_event e;
	struct lease l = mk_lease(9, LEASE_ACTIVE);
	assert_int_equal(dhcp_report_event_from_lease(&e, &l), 0);
	assert_int_equal(e.pb.kind, IRONRACK__V1__LEASE_EVENT__KIND__GRANTED);
	assert_string_equal(e.pb.address, "10.0.0.9");
	assert_string_equal(e.pb.mac, "52:54:00:00:00:09");
	assert_string_equal(e.pb.hostname, "host-9");
	assert_int_equal(e.pb.expiry_unix, NOW + 3600 + 9);
	assert_int_equal(e.pb.subnet_id, 7);
	l = mk_lease(10, LEASE_DECLINED);
	l.conflict = LEASE_CONFLICT_ICMP;
	assert_int_equal(dhcp_report_event_from_lease(&e, &l), 0);
	assert_int_equal(e.pb.kind, IRONRACK__V1__LEASE_EVENT__KIND__CONFLICT);
	assert_string_equal(e.pb.reason, "icmp");
	static const uint8_t skipped[] = {LEASE_OFFERED, LEASE_RELEASED, LEASE_EXPIRED, LEASE_RESERVED};
	for (size_t i = 0; i < sizeof(skipped); i++) {
		l = mk_lease(11, skipped[i]);
		assert_int_equal(dhcp_report_event_from_lease(&e, &l), -ENOENT);
	}
}

/* ---- batching ---- */

static void test_batch(void **state)
{
	struct fx *f = *state;
	assert_true(dhcp_report_needs_full_sync(f->r));
	/* connecting with an empty store: one empty, last full part */
	assert_int_equal(dhcp_report_connected(f->r), 0);
	assert_int_equal(f->n_sent, 1);
	assert_true(f->sent[0]->full);
	assert_true(f->sent[0]->full_last);
	assert_int_equal(f->sent[0]->full_part, 0);
	assert_int_equal(f->sent[0]->n_events, 0);
	assert_false(dhcp_report_needs_full_sync(f->r));
	fx_clear_sent(f);

	struct dhcp_event ev[3] = {mk_event(DHCP_EV_LEASE_GRANTED, 1), mk_event(DHCP_EV_LEASE_RELEASED, 2),
				   mk_event(DHCP_EV_CONFLICT, 3)};
	ev[2].conflict = LEASE_CONFLICT_ARP;
	dhcp_report_add(f->r, "eth0", ev, 3);
	assert_int_equal(f->sends, 0); /* batched, not sent per event */
	assert_int_equal(dhcp_report_flush(f->r), 3);
	assert_int_equal(f->n_sent, 1);
	Ironrack__V1__LeaseReport *rep = f->sent[0];
	assert_false(rep->full);
	assert_int_equal(rep->n_events, 3);
	assert_int_equal(rep->events[0]->kind, IRONRACK__V1__LEASE_EVENT__KIND__GRANTED);
	assert_string_equal(rep->events[0]->address, "10.0.0.1");
	assert_string_equal(rep->events[0]->interface, "eth0");
	assert_int_equal(rep->events[1]->kind, IRONRACK__V1__LEASE_EVENT__KIND__RELEASED);
	assert_int_equal(rep->events[2]->kind, IRONRACK__V1__LEASE_EVENT__KIND__CONFLICT);
	assert_string_equal(rep->events[2]->reason, "arp");
	/* nothing queued: nothing sent */
	assert_int_equal(dhcp_report_flush(f->r), 0);
	assert_int_equal(f->n_sent, 1);
	fx_clear_sent(f);

	/* 1,201 events: two reports of 500 go at once, 201 wait for the flush */
	for (uint32_t i = 0; i < 1201; i++) {
		struct dhcp_event e = mk_event(DHCP_EV_LEASE_GRANTED, i);
		dhcp_report_add(f->r, "eth1", &e, 1);
	}
	assert_int_equal(f->n_sent, 2);
	assert_int_equal(f->sent[0]->n_events, DHCP_REPORT_BATCH_MAX);
	assert_int_equal(f->sent[1]->n_events, DHCP_REPORT_BATCH_MAX);
	assert_string_equal(f->sent[1]->events[0]->address, "10.0.1.244"); /* event 500 */
	assert_int_equal(dhcp_report_flush(f->r), 201);
	assert_int_equal(f->n_sent, 3);
	struct dhcp_report_stats st;
	dhcp_report_get_stats(f->r, &st);
	assert_int_equal(st.events_sent, 3 + 1201);
	assert_int_equal(st.events_dropped, 0);
}

/* Pool exhaustion and busy reservations are logged, not reported. */
static void test_not_lease_events(void **state)
{
	struct fx *f = *state;
	assert_int_equal(dhcp_report_connected(f->r), 0);
	fx_clear_sent(f);
	struct dhcp_event ev[4] = {mk_event(DHCP_EV_POOL_EXHAUSTED, 1), mk_event(DHCP_EV_POOL_EXHAUSTED, 2),
				   mk_event(DHCP_EV_RESERVED_BUSY, 3), mk_event(DHCP_EV_POOL_EXHAUSTED, 4)};
	dhcp_report_add(f->r, "eth0", ev, 4);
	assert_int_equal(dhcp_report_flush(f->r), 0);
	assert_int_equal(f->sends, 0);
	struct dhcp_report_stats st;
	dhcp_report_get_stats(f->r, &st);
	assert_int_equal(st.warnings, 2);      /* one per kind */
	assert_int_equal(st.warnings_held, 2); /* the rest within the minute */
}

/* While disconnected nothing piles up; reconnecting sends the store. */
static void test_disconnected(void **state)
{
	struct fx *f = *state;
	assert_int_equal(dhcp_report_connected(f->r), 0);
	dhcp_report_disconnected(f->r);
	fx_clear_sent(f);
	for (uint32_t i = 1; i <= 2000; i++) {
		struct dhcp_event e = mk_event(DHCP_EV_LEASE_GRANTED, i);
		dhcp_report_add(f->r, "eth0", &e, 1);
	}
	assert_int_equal(f->sends, 0);
	assert_int_equal(dhcp_report_flush(f->r), 0);
	assert_int_equal(f->sends, 0);
	assert_true(dhcp_report_needs_full_sync(f->r));
	struct dhcp_report_stats st;
	dhcp_report_get_stats(f->r, &st);
	assert_int_equal(st.events_dropped, 2000);

	stage(f, 1, LEASE_ACTIVE);
	stage(f, 2, LEASE_DECLINED);
	stage(f, 3, LEASE_RELEASED);
	assert_int_equal(dhcp_report_connected(f->r), 2);
	assert_int_equal(f->n_sent, 1);
	Ironrack__V1__LeaseReport *rep = f->sent[0];
	assert_true(rep->full);
	assert_true(rep->full_last);
	assert_int_equal(rep->n_events, 2);
	for (size_t i = 0; i < 2; i++) {
		const Ironrack__V1__LeaseEvent *e = rep->events[i];
		if (strcmp(e->address, "10.0.0.1") == 0) {
			assert_int_equal(e->kind, IRONRACK__V1__LEASE_EVENT__KIND__GRANTED);
			assert_string_equal(e->mac, "52:54:00:00:00:01");
			assert_string_equal(e->hostname, "host-1");
		} else {
			assert_string_equal(e->address, "10.0.0.2");
			assert_int_equal(e->kind, IRONRACK__V1__LEASE_EVENT__KIND__CONFLICT);
			assert_string_equal(e->reason, "decline");
		}
	}
	assert_false(dhcp_report_needs_full_sync(f->r));
}

/* A failed send (queue full, stream gone) drops the batch and the next
 * flush sends the full state instead. */
static void test_send_failure(void **state)
{
	struct fx *f = *state;
	stage(f, 1, LEASE_ACTIVE);
	assert_int_equal(dhcp_report_connected(f->r), 1);
	fx_clear_sent(f);
	struct dhcp_event ev = mk_event(DHCP_EV_LEASE_GRANTED, 2);
	dhcp_report_add(f->r, "eth0", &ev, 1);
	f->fail_send = true;
	assert_int_equal(dhcp_report_flush(f->r), -ENOTCONN);
	assert_true(dhcp_report_needs_full_sync(f->r));
	/* later events wait for the full sync, which will include them */
	stage(f, 2, LEASE_ACTIVE);
	ev = mk_event(DHCP_EV_LEASE_GRANTED, 3);
	dhcp_report_add(f->r, "eth0", &ev, 1);
	stage(f, 3, LEASE_ACTIVE);
	assert_int_equal(dhcp_report_flush(f->r), -ENOTCONN); /* still failing */
	f->fail_send = false;
	assert_int_equal(dhcp_report_flush(f->r), 3);
	assert_int_equal(f->n_sent, 1);
	assert_true(f->sent[0]->full);
	assert_true(f->sent[0]->full_last);
	assert_int_equal(f->sent[0]->n_events, 3);
	assert_false(dhcp_report_needs_full_sync(f->r));
	/* and deltas flow again */
	ev = mk_event(DHCP_EV_LEASE_EXPIRED, 1);
	dhcp_report_add(f->r, "", &ev, 1);
	assert_int_equal(dhcp_report_flush(f->r), 1);
	assert_false(f->sent[1]->full);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 2,600 records: 2,500 ACTIVE + 50 DECLINED reported, in parts of at
 * most 1,000, numbered from 0, only the last marked last; each address
 * once. */
static void test_full_parts(void **state)
{
	struct fx *f = *state;
	for (uint32_t i = 1; i <= 2600; i++)
		stage(f, i, i <= 2500 ? LEASE_ACTIVE : i <= 2550 ? LEASE_DECLINED : LEASE_EXPIRED);
	assert_int_equal(dhcp_report_connected(f->r), 2550);
	assert_int_equal(f->n_sent, 3);
	char **addrs = calloc(2550, sizeof(*addrs));
	size_t n = 0, conflicts = 0;
	for (size_t p = 0; p < f->n_sent; p++) {
		const Ironrack__V1__LeaseReport *rep = f->sent[p];
		assert_true(rep->full);
		assert_int_equal(rep->full_part, p);
		assert_int_equal(rep->full_last, p == f->n_sent - 1);
		assert_true(rep->n_events <= DHCP_REPORT_FULL_PART_MAX);
		assert_true(rep->n_events > 0);
		for (size_t i = 0; i < rep->n_events; i++) {
			assert_true(n < 2550);
			addrs[n++] = rep->events[i]->address;
			if (rep->events[i]->kind == IRONRACK__V1__LEASE_EVENT__KIND__CONFLICT)
				conflicts++;
		}
	}
	assert_int_equal(n, 2550);
	assert_int_equal(conflicts, 50);
	qsort(addrs, n, sizeof(*addrs), cmp_str);
	for (size_t i = 1; i < n; i++)
		assert_string_not_equal(addrs[i - 1], addrs[i]);
	free(addrs);

	/* exactly one part's worth: one part, last */
	fx_clear_sent(f);
	for (uint32_t i = 2501; i <= 2550; i++)
		assert_true(lease_store_remove(f->leases, BASE + i) >= 0);
	for (uint32_t i = 1001; i <= 2500; i++)
		assert_true(lease_store_remove(f->leases, BASE + i) >= 0);
	assert_int_equal(dhcp_report_full_sync(f->r), 1000);
	assert_int_equal(f->n_sent, 1);
	assert_true(f->sent[0]->full_last);
	assert_int_equal(f->sent[0]->n_events, 1000);

	/* a failure in the middle leaves a full sync to do */
	fx_clear_sent(f);
	stage(f, 1001, LEASE_ACTIVE);
	f->fail_at = 2; /* part 0 goes, part 1 fails */
	assert_int_equal(dhcp_report_full_sync(f->r), -ENOTCONN);
	assert_int_equal(f->n_sent, 1);
	assert_false(f->sent[0]->full_last);
	assert_true(dhcp_report_needs_full_sync(f->r));
	f->fail_at = 0;
	assert_int_equal(dhcp_report_flush(f->r), 1001); /* all over again, from part 0 */
	assert_int_equal(f->n_sent, 3);
	assert_int_equal(f->sent[1]->full_part, 0);
	assert_false(f->sent[1]->full_last);
	assert_int_equal(f->sent[2]->full_part, 1);
	assert_true(f->sent[2]->full_last);
	assert_int_equal(f->sent[1]->n_events + f->sent[2]->n_events, 1001);
}

/* No DHCP server (no store): a full report is empty and last. */
static void test_no_store(void **state)
{
	struct fx *f = *state;
	lease_store_free(f->leases);
	f->leases = NULL;
	assert_int_equal(dhcp_report_connected(f->r), 0);
	assert_int_equal(f->n_sent, 1);
	assert_true(f->sent[0]->full_last);
	assert_int_equal(f->sent[0]->n_events, 0);
}

static void loopexit_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* With an event loop, a batch goes out by itself after flush_ms. */
static void test_timer(void **state)
{
	struct fx *f = *state;
	struct event_base *base = event_base_new();
	struct dhcp_report *r;
	struct dhcp_report_conf conf = {.flush_ms = 20};
	assert_int_equal(dhcp_report_new(base, &conf, &fx_ops, f, &r), 0);
	assert_int_equal(dhcp_report_connected(r), 0);
	fx_clear_sent(f);
	struct dhcp_event ev = mk_event(DHCP_EV_LEASE_GRANTED, 1);
	dhcp_report_add(r, "eth0", &ev, 1);
	assert_int_equal(f->n_sent, 0);
	struct event *stop = evtimer_new(base, loopexit_cb, base);
	struct timeval tv = {2, 0};
	evtimer_add(stop, &tv);
	while (f->n_sent == 0 && evtimer_pending(stop, NULL))
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(f->n_sent, 1);
	assert_int_equal(f->sent[0]->n_events, 1);
	assert_false(f->sent[0]->full);

	/* a failed full sync is retried by the timer */
	fx_clear_sent(f);
	f->fail_send = true;
	dhcp_report_disconnected(r);
	assert_true(dhcp_report_connected(r) < 0);
	f->fail_send = false;
	while (f->n_sent == 0 && evtimer_pending(stop, NULL))
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(f->n_sent, 1);
	assert_true(f->sent[0]->full_last);
	event_free(stop);
	dhcp_report_free(r);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_convert_event),
	    cmocka_unit_test(test_convert_lease),
	    cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_lease_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disconnected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_send_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_parts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
