/* Active discovery's pacing engine (rack/discovery/scan.c) and its config
 * conversion (scan_config.c): every host address probed once, in order,
 * without the network, broadcast and rack addresses; the token bucket's
 * bound over any window; intervals, on-demand requests and a new config
 * keeping what it may; DiscoveryScan entries checked at the boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rack/discovery/scan.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static struct scan_target target(uint64_t id, uint32_t net, uint8_t prefix, uint32_t source, uint32_t interval_s)
{
	struct scan_target t = {
	    .subnet_id = id, .net = net, .prefix = prefix, .source = source, .interval_s = interval_s};
	strcpy(t.ifname, "eth0");
	return t;
}

/* Every probe the engine hands out until now_ms, one call per ms. */
static size_t drain(struct scan_engine *e, int64_t *now, int64_t until, struct scan_probe *out, size_t cap)
{
	size_t n = 0;
	for (; *now <= until; (*now)++) {
		struct scan_probe p;
		while (scan_engine_next(e, *now, &p) == 1) {
			if (n < cap)
				out[n] = p;
			n++;
		}
	}
	return n;
}

static void test_addresses_of_a_27(void **state)
{
	/* 10.1.0.0/27: hosts .1-.30; the rack is .1 (source) and .7 */
	struct scan_target t = target(5, IP(10, 1, 0, 0), 27, IP(10, 1, 0, 1), 0);
	t.own[t.n_own++] = IP(10, 1, 0, 7);
	t.own[t.n_own++] = IP(10, 1, 0, 1); /* the source again: counted once */
	t.own[t.n_own++] = IP(10, 9, 9, 9); /* outside: skips nothing */
	assert_int_equal(scan_target_probes(&t), 28);
	struct scan_engine *e = scan_engine_new(10000, 0);
	assert_int_equal(scan_engine_set(e, &t, 1, 0), 0);
	/* no interval: nothing happens on its own */
	assert_int_equal(scan_engine_wait_ms(e, 0), -1);
	struct scan_probe p[64];
	int64_t now = 0;
	assert_int_equal(drain(e, &now, 1000, p, 64), 0);
	assert_int_equal(scan_engine_request(e, 5, now), 0);
	assert_int_equal(scan_engine_request(e, 5, now), -EALREADY);
	assert_int_equal(scan_engine_request(e, 6, now), -ENOENT);
	assert_int_equal(scan_engine_wait_ms(e, now), 0);
	size_t n = drain(e, &now, now + 100, p, 64);
	assert_int_equal(n, 28);
	uint32_t want = IP(10, 1, 0, 2);
	for (size_t i = 0; i < n; i++) {
		if (want == IP(10, 1, 0, 7))
			want++;
		assert_int_equal(p[i].target, want++);
		assert_int_equal(p[i].source, IP(10, 1, 0, 1));
		assert_int_equal(p[i].subnet_id, 5);
		assert_string_equal(p[i].ifname, "eth0");
		assert_int_equal(p[i].total, 28);
		assert_true(p[i].first == (i == 0));
		assert_true(p[i].last == (i == n - 1));
	}
	assert_int_equal(p[n - 1].target, IP(10, 1, 0, 30)); /* not .31, the broadcast */
	assert_int_equal(scan_engine_wait_ms(e, now), -1);
	struct scan_stats st;
	scan_engine_get_stats(e, &st);
	assert_int_equal(st.probes, 28);
	assert_int_equal(st.started, 1);
	assert_int_equal(st.completed, 1);
	assert_int_equal(st.on_demand, 1);
	scan_engine_free(e);
}

static void test_small_prefixes(void **state)
{
	struct scan_probe p[8];
	int64_t now = 0;
	struct scan_engine *e = scan_engine_new(1000, 0);
	/* /31: both addresses are hosts (RFC 3021), minus the rack's */
	struct scan_target t[3] = {target(1, IP(192, 0, 2, 0), 31, IP(192, 0, 2, 0), 0),
				   target(2, IP(192, 0, 2, 8), 30, IP(192, 0, 2, 9), 0),
				   target(3, IP(192, 0, 2, 16), 32, IP(192, 0, 2, 16), 0)};
	assert_int_equal(scan_engine_set(e, t, 3, 0), 0);
	assert_int_equal(scan_target_probes(&t[0]), 1);
	assert_int_equal(scan_target_probes(&t[1]), 1);
	assert_int_equal(scan_target_probes(&t[2]), 0);
	for (uint64_t id = 1; id <= 3; id++)
		assert_int_equal(scan_engine_request(e, id, 0), 0);
	size_t n = drain(e, &now, 100, p, 8);
	assert_int_equal(n, 2); /* the /32 is only the rack: nothing to send */
	assert_int_equal(p[0].target, IP(192, 0, 2, 1));
	assert_true(p[0].first && p[0].last);
	assert_int_equal(p[1].target, IP(192, 0, 2, 10));
	struct scan_stats st;
	scan_engine_get_stats(e, &st);
	assert_int_equal(st.started, 3);
	assert_int_equal(st.completed, 3);
	assert_int_equal(scan_engine_wait_ms(e, now), -1);
	scan_engine_free(e);
}

/* The bound: over every window of W ms, at most burst + rate * W / 1000
 * probes, and a long scan runs at the rate. */
static void check_rate(uint32_t rate)
{
	struct scan_target t = target(9, IP(10, 2, 0, 0), 20, IP(10, 2, 0, 1), 0); /* 4093 probes */
	struct scan_engine *e = scan_engine_new(rate, 1000);
	assert_non_null(e);
	assert_int_equal(scan_engine_set(e, &t, 1, 1000), 0);
	assert_int_equal(scan_engine_request(e, 9, 1000), 0);
	int64_t span = 20000, start = 1000;
	uint32_t *per_ms = calloc((size_t)span, sizeof(*per_ms));
	uint64_t total = 0;
	bool done = false;
	for (int64_t now = start; now < start + span && !done; now++) {
		struct scan_probe p;
		while (!done && scan_engine_next(e, now, &p) == 1) {
			per_ms[now - start]++;
			done = p.last;
		}
		total += per_ms[now - start];
	}
	uint64_t burst = (uint64_t)rate * SCAN_BURST_MS / 1000;
	if (burst < 1)
		burst = 1;
	static const int64_t windows[] = {1, 10, 50, 100, 1000, 5000};
	for (size_t w = 0; w < sizeof(windows) / sizeof(windows[0]); w++) {
		uint64_t sum = 0, worst = 0;
		for (int64_t i = 0; i < span; i++) {
			sum += per_ms[i];
			if (i >= windows[w])
				sum -= per_ms[i - windows[w]];
			if (sum > worst)
				worst = sum;
		}
		assert_true(worst <= burst + (uint64_t)rate * (uint64_t)windows[w] / 1000);
	}
	/* at the rate, not below it: 1000 probes take 1000 / rate s (+ the burst) */
	uint64_t in_first_s = 0;
	for (int64_t i = 0; i < 1000; i++)
		in_first_s += per_ms[i];
	assert_true(in_first_s + 1 >= (rate < 4093 ? rate : 4093));
	assert_true(total <= 4093);
	free(per_ms);
	scan_engine_free(e);
}

static void test_rate_bound(void **state)
{
	check_rate(1);
	check_rate(20);
	check_rate(100);
	check_rate(333);
	check_rate(2500);
	assert_null(scan_engine_new(0, 0));
	assert_null(scan_engine_new(SCAN_RATE_MAX + 1, 0));
}

static void test_wait(void **state)
{
	struct scan_target t = target(1, IP(10, 3, 0, 0), 24, IP(10, 3, 0, 1), 0);
	struct scan_engine *e = scan_engine_new(20, 0); /* a probe every 50 ms */
	struct scan_probe p;
	assert_int_equal(scan_engine_set(e, &t, 1, 0), 0);
	assert_int_equal(scan_engine_request(e, 1, 0), 0);
	assert_int_equal(scan_engine_next(e, 0, &p), 1); /* the one token of the bucket */
	assert_int_equal(scan_engine_next(e, 0, &p), 0);
	assert_int_equal(scan_engine_wait_ms(e, 0), 50);
	assert_int_equal(scan_engine_wait_ms(e, 30), 20);
	assert_int_equal(scan_engine_next(e, 49, &p), 0);
	assert_int_equal(scan_engine_next(e, 50, &p), 1);
	assert_int_equal(p.target, IP(10, 3, 0, 3));
	scan_engine_free(e);
}

static void test_intervals(void **state)
{
	struct scan_target t[2] = {target(1, IP(10, 4, 0, 0), 30, IP(10, 4, 0, 1), 3600),
				   target(2, IP(10, 4, 1, 0), 30, IP(10, 4, 1, 1), 0)};
	struct scan_engine *e = scan_engine_new(10000, 0);
	struct scan_probe p[8];
	int64_t now = 0;
	assert_int_equal(scan_engine_set(e, t, 2, 0), 0);
	/* a new target with an interval is due at once, the other never */
	assert_int_equal(scan_engine_wait_ms(e, 0), 0);
	assert_int_equal(drain(e, &now, 10, p, 8), 1);
	assert_int_equal(p[0].target, IP(10, 4, 0, 2));
	assert_int_equal(scan_engine_wait_ms(e, now), 3600 * 1000 - now);
	/* not again within the interval ... */
	assert_int_equal(drain(e, &now, 3599 * 1000, p, 8), 0);
	/* ... unless asked: on demand overrides, and counts as the scan */
	assert_int_equal(scan_engine_request(e, 1, now), 0);
	int64_t asked = now;
	assert_int_equal(drain(e, &now, now + 10, p, 8), 1);
	assert_int_equal(scan_engine_wait_ms(e, now), asked + 3600 * 1000 - now);
	/* a new config with the same target keeps its schedule; a shorter
	 * interval counts from its last scan */
	t[0].interval_s = 60;
	assert_int_equal(scan_engine_set(e, t, 2, now), 0);
	assert_int_equal(scan_engine_wait_ms(e, now), asked + 60 * 1000 - now);
	assert_int_equal(drain(e, &now, asked + 59 * 1000, p, 8), 0);
	assert_int_equal(drain(e, &now, asked + 61 * 1000, p, 8), 1);
	/* a target that changed network is a new one: due now */
	t[0].net = IP(10, 4, 2, 0);
	t[0].source = IP(10, 4, 2, 1);
	assert_int_equal(scan_engine_set(e, t, 2, now), 0);
	assert_int_equal(scan_engine_wait_ms(e, now), 0);
	assert_int_equal(drain(e, &now, now + 10, p, 8), 1);
	assert_int_equal(p[0].target, IP(10, 4, 2, 2));
	/* on demand only, scanned, then active discovery turned on: a scan
	 * at once, then every interval */
	assert_int_equal(scan_engine_request(e, 2, now), 0);
	assert_int_equal(drain(e, &now, now + 10, p, 8), 1);
	assert_int_equal(p[0].target, IP(10, 4, 1, 2));
	assert_int_equal(drain(e, &now, now + 1000, p, 8), 0);
	t[1].interval_s = 120;
	assert_int_equal(scan_engine_set(e, t, 2, now), 0);
	assert_int_equal(scan_engine_wait_ms(e, now), 0);
	assert_int_equal(drain(e, &now, now + 10, p, 8), 1);
	assert_int_equal(p[0].subnet_id, 2);
	int64_t on = now;
	/* (subnet 1 goes on every 60 s meanwhile) */
	size_t n = drain(e, &now, on + 119 * 1000, p, 8);
	assert_int_equal(n, 2);
	assert_true(p[0].subnet_id == 1 && p[1].subnet_id == 1);
	n = drain(e, &now, on + 121 * 1000, p, 8);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].subnet_id, 2);
	scan_engine_free(e);
}

static void test_config_change_during_a_scan(void **state)
{
	struct scan_target t[2] = {target(1, IP(10, 5, 0, 0), 24, IP(10, 5, 0, 1), 0),
				   target(2, IP(10, 5, 1, 0), 24, IP(10, 5, 1, 1), 0)};
	struct scan_engine *e = scan_engine_new(10, 0);
	struct scan_probe p;
	assert_int_equal(scan_engine_set(e, t, 2, 0), 0);
	assert_int_equal(scan_engine_request(e, 1, 0), 0);
	assert_int_equal(scan_engine_request(e, 2, 0), 0); /* queued behind 1 */
	assert_int_equal(scan_engine_next(e, 0, &p), 1);
	assert_int_equal(p.target, IP(10, 5, 0, 2));
	bool running;
	assert_non_null(scan_engine_target(e, 1, &running));
	assert_true(running);
	assert_int_equal(scan_engine_request(e, 1, 0), -EALREADY);
	/* kept: the scan goes on where it was */
	assert_int_equal(scan_engine_set(e, t, 2, 50), 0);
	assert_int_equal(scan_engine_next(e, 100, &p), 1);
	assert_int_equal(p.target, IP(10, 5, 0, 3));
	/* subnet 1 leaves the config: its scan stops, the queued one runs */
	assert_int_equal(scan_engine_set(e, &t[1], 1, 150), 0);
	assert_null(scan_engine_target(e, 1, NULL));
	assert_int_equal(scan_engine_next(e, 200, &p), 1);
	assert_int_equal(p.subnet_id, 2);
	assert_int_equal(p.target, IP(10, 5, 1, 2));
	assert_true(p.first);
	struct scan_stats st;
	scan_engine_get_stats(e, &st);
	assert_int_equal(st.stopped, 1);
	/* invalid targets are refused whole, nothing changes */
	struct scan_target bad = target(3, IP(10, 6, 0, 0), 15, IP(10, 6, 0, 1), 0);
	assert_int_equal(scan_engine_set(e, &bad, 1, 200), -EINVAL);
	bad = target(3, IP(10, 6, 0, 1), 24, IP(10, 6, 0, 1), 0); /* host bits */
	assert_int_equal(scan_engine_set(e, &bad, 1, 200), -EINVAL);
	bad = target(3, IP(10, 6, 0, 0), 24, IP(10, 7, 0, 1), 0); /* source outside */
	assert_int_equal(scan_engine_set(e, &bad, 1, 200), -EINVAL);
	assert_int_equal(scan_engine_set(e, &bad, SCAN_TARGETS_MAX + 1, 200), -E2BIG);
	assert_int_equal(scan_engine_count(e), 1);
	/* an empty config: nothing left to do */
	assert_int_equal(scan_engine_set(e, NULL, 0, 250), 0);
	assert_int_equal(scan_engine_next(e, 300, &p), 0);
	assert_int_equal(scan_engine_wait_ms(e, 300), -1);
	scan_engine_free(e);
	scan_engine_free(NULL);
}

/* ---- config conversion ---- */

static void test_from_dhcp(void **state)
{
	char *own1[] = {"10.7.0.1", "10.7.0.9", "10.8.0.1"};
	Ironrack__V1__DiscoveryScan d[6];
	for (size_t i = 0; i < 6; i++)
		ironrack__v1__discovery_scan__init(&d[i]);
	d[0].subnet_id = 11, d[0].cidr = "10.7.0.0/27", d[0].source = "10.7.0.1", d[0].interval_s = 10800;
	d[0].own = own1, d[0].n_own = 3;
	d[1].subnet_id = 12, d[1].cidr = "2001:db8::/64", d[1].source = "2001:db8::1"; /* IPv6 */
	d[2].subnet_id = 13, d[2].cidr = "10.0.0.0/8", d[2].source = "10.0.0.1";       /* too wide */
	d[3].subnet_id = 14, d[3].cidr = "10.9.0.0/24", d[3].source = "10.10.0.1";     /* source outside */
	d[4].subnet_id = 15, d[4].cidr = "10.9.1.5/24", d[4].source = "10.9.1.1";      /* host bits */
	d[5].subnet_id = 16, d[5].cidr = "10.9.2.0/24", d[5].source = "10.9.2.1";
	Ironrack__V1__DiscoveryScan *l0[] = {&d[0], &d[1], &d[2]}, *l1[] = {&d[3], &d[4], &d[5], &d[0]};
	Ironrack__V1__DhcpInterface in[2];
	ironrack__v1__dhcp_interface__init(&in[0]);
	ironrack__v1__dhcp_interface__init(&in[1]);
	in[0].name = "eth0", in[0].scans = l0, in[0].n_scans = 3;
	in[1].name = "eth1.20", in[1].scans = l1, in[1].n_scans = 4;
	Ironrack__V1__DhcpInterface *ifs[] = {&in[0], &in[1]};
	Ironrack__V1__DhcpConfig cfg = IRONRACK__V1__DHCP_CONFIG__INIT;
	cfg.enabled = true, cfg.interfaces = ifs, cfg.n_interfaces = 2;

	struct scan_target *t;
	size_t skipped;
	char why[256];
	size_t n = scan_targets_from_dhcp(&cfg, &t, &skipped, why, sizeof(why));
	assert_int_equal(n, 2);
	assert_int_equal(skipped, 5); /* 12, 13, 14, 15 and 11 listed twice */
	assert_non_null(strstr(why, "subnet 12 (2001:db8::/64) on eth0: not an IPv4 CIDR"));
	assert_int_equal(t[0].subnet_id, 11);
	assert_string_equal(t[0].ifname, "eth0");
	assert_int_equal(t[0].net, IP(10, 7, 0, 0));
	assert_int_equal(t[0].prefix, 27);
	assert_int_equal(t[0].source, IP(10, 7, 0, 1));
	assert_int_equal(t[0].interval_s, 10800);
	assert_int_equal(t[0].n_own, 1); /* the source and an address outside are no skips */
	assert_int_equal(t[0].own[0], IP(10, 7, 0, 9));
	assert_int_equal(t[1].subnet_id, 16);
	assert_string_equal(t[1].ifname, "eth1.20");
	assert_int_equal(t[1].interval_s, 0);
	/* what it gives, the engine takes */
	struct scan_engine *e = scan_engine_new(100, 0);
	assert_int_equal(scan_engine_set(e, t, n, 0), 0);
	scan_engine_free(e);
	free(t);
	/* disabled or absent: nothing */
	cfg.enabled = false;
	assert_int_equal(scan_targets_from_dhcp(&cfg, &t, &skipped, why, sizeof(why)), 0);
	assert_null(t);
	assert_int_equal(scan_targets_from_dhcp(NULL, &t, &skipped, why, sizeof(why)), 0);
	assert_int_equal(skipped, 0);
}

/* The conversion of a packed config, as the rack stores it. */
static void test_from_packed(void **state)
{
	Ironrack__V1__DiscoveryScan d = IRONRACK__V1__DISCOVERY_SCAN__INIT;
	d.subnet_id = 3, d.cidr = "192.0.2.0/28", d.source = "192.0.2.14";
	Ironrack__V1__DiscoveryScan *l[] = {&d};
	Ironrack__V1__DhcpInterface in = IRONRACK__V1__DHCP_INTERFACE__INIT;
	in.name = "br-lab", in.scans = l, in.n_scans = 1;
	Ironrack__V1__DhcpInterface *ifs[] = {&in};
	Ironrack__V1__DhcpConfig cfg = IRONRACK__V1__DHCP_CONFIG__INIT;
	cfg.enabled = true, cfg.interfaces = ifs, cfg.n_interfaces = 1;
	uint8_t buf[256];
	size_t len = ironrack__v1__dhcp_config__pack(&cfg, buf);
	Ironrack__V1__DhcpConfig *back = ironrack__v1__dhcp_config__unpack(NULL, len, buf);
	assert_non_null(back);
	struct scan_target *t;
	size_t skipped;
	assert_int_equal(scan_targets_from_dhcp(back, &t, &skipped, NULL, 0), 1);
	assert_int_equal(t[0].net, IP(192, 0, 2, 0));
	assert_int_equal(t[0].prefix, 28);
	assert_int_equal(scan_target_probes(&t[0]), 13); /* .1-.14 without .14 */
	free(t);
	ironrack__v1__dhcp_config__free_unpacked(back, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addresses_of_a_27), cmocka_unit_test(test_small_prefixes),
	    cmocka_unit_test(test_rate_bound),	      cmocka_unit_test(test_wait),
	    cmocka_unit_test(test_intervals),	      cmocka_unit_test(test_config_change_during_a_scan),
	    cmocka_unit_test(test_from_dhcp),	      cmocka_unit_test(test_from_packed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
