/* Run the rack's passive discovery (rack/discovery/capture.h + neigh.h)
 * standalone on interfaces of the namespace it runs in: for the system
 * test (tests/system/test_discovery_capture.py) and by hand.
 *
 *   disc_capture [-r RATE] [-b BURST] [-q QUEUE] [-m MAX_ENTRIES] [-p] -i IFACE [-i IFACE]...
 *   disc_capture -B FRAMES      time the decode + table path (no capture)
 *
 * Prints "ready" once every capture is open, then one line per event:
 *   event KIND IFACE VLAN ADDR MAC|- OLD_MAC|- HOSTNAME|-
 * SIGUSR1 prints the counters; SIGTERM/SIGINT drain the rings, print the
 * counters and exit:
 *   stats IFACE frames=N arp=N ... pcap_recv=N pcap_drop=N rate_dropped=N ...
 *   table entries=N evictions=N elapsed_ms=N cpu_us=N (the process's CPU time) */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "common/wire/arp.h"
#include "common/wire/eth.h"
#include "rack/discovery/capture.h"
#include "rack/discovery/neigh.h"

#define MAX_IFACES 8

static struct neigh_table *tbl;
static struct capture *caps[MAX_IFACES];
static int n_caps;
static int64_t started_ms;

static void print_events(void *arg)
{
	struct neigh_event ev[64];
	size_t n;

	while ((n = neigh_take(tbl, ev, 64)) > 0) {
		for (size_t i = 0; i < n; i++) {
			char addr[INET6_ADDRSTRLEN], mac[18] = "-", old[18] = "-";
			if (ev[i].addr.is_v6) {
				inet_ntop(AF_INET6, ev[i].addr.v6, addr, sizeof(addr));
			} else {
				uint32_t be = htonl(ev[i].addr.v4);
				inet_ntop(AF_INET, &be, addr, sizeof(addr));
			}
			if (ev[i].has_mac)
				eth_addr_format(ev[i].mac, mac);
			if (ev[i].has_old_mac)
				eth_addr_format(ev[i].old_mac, old);
			printf("event %s %s %u %s %s %s %s\n", neigh_event_kind_name(ev[i].kind),
			       neigh_iface_name(tbl, ev[i].iface), ev[i].vlan, addr, mac, old,
			       ev[i].hostname[0] ? ev[i].hostname : "-");
		}
	}
}

static void print_stats(void)
{
	for (int i = 0; i < n_caps; i++) {
		struct capture_stats s;
		struct neigh_iface_stats ns;
		capture_get_stats(caps[i], &s);
		neigh_iface_stats(tbl, capture_iface(caps[i]), &ns);
		printf("stats %s frames=%" PRIu64 " truncated=%" PRIu64 " arp=%" PRIu64 " arp_probes=%" PRIu64
		       " arp_no_binding=%" PRIu64 " mdns=%" PRIu64 " mdns_queries=%" PRIu64 " mdns_pairs=%" PRIu64
		       " malformed=%" PRIu64 " other=%" PRIu64 " pcap_recv=%" PRIu64 " pcap_drop=%" PRIu64
		       " observed=%" PRIu64 " new=%" PRIu64 " moved=%" PRIu64 " named=%" PRIu64 " refreshed=%" PRIu64
		       " rate_dropped=%" PRIu64 " queue_dropped=%" PRIu64 " failed=%d\n",
		       capture_ifname(caps[i]), s.frames, s.truncated, s.arp, s.arp_probes, s.arp_no_binding, s.mdns,
		       s.mdns_queries, s.mdns_pairs, s.malformed, s.other, s.pcap_recv, s.pcap_drop, ns.observed,
		       ns.events[NEIGH_EV_NEW], ns.events[NEIGH_EV_MOVED], ns.events[NEIGH_EV_NAMED],
		       ns.events[NEIGH_EV_REFRESHED], ns.rate_dropped, ns.queue_dropped, s.failed);
	}
	struct neigh_stats ts;
	struct rusage ru;
	neigh_stats(tbl, &ts);
	getrusage(RUSAGE_SELF, &ru);
	int64_t cpu_us =
	    (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
	printf("table entries=%zu evictions=%" PRIu64 " elapsed_ms=%" PRId64 " cpu_us=%" PRId64 "\n", ts.entries,
	       ts.evictions, clock_mono_ms() - started_ms, cpu_us);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;
	if (sig == SIGUSR1) {
		print_stats();
		return;
	}
	for (int i = 0; i < n_caps; i++) {
		while (capture_drain(caps[i], CAPTURE_BUDGET) > 0)
			;
	}
	print_events(NULL);
	print_stats();
	event_base_loopbreak(base);
}

/* The decode + table path over synthetic ARP frames from distinct
 * senders (a storm: every one a new key, most over the rate). */
static int bench(long frames)
{
	struct capture_stats st = {0};
	uint8_t f[64], mac[6] = {0x02, 0, 0, 0, 0, 0};
	int iface = neigh_iface_add(tbl, "bench0");
	struct neigh_event ev[256];
	uint32_t x = 2463534242u;

	int64_t t0 = clock_mono_us();
	for (long i = 0; i < frames; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		memcpy(mac + 2, &x, 4);
		mac[0] = 0x02;
		int n = arp_request_build(f, sizeof(f), mac, 0x0a000000u | (x & 0xffffff), 0x0a000001u, 0);
		capture_frame(&st, tbl, (unsigned)iface, f, (size_t)n, (size_t)n, i / 50);
		if (i % 256 == 0)
			neigh_take(tbl, ev, 256);
	}
	int64_t us = clock_mono_us() - t0;
	printf("bench frames=%ld arp=%" PRIu64 " ns_per_frame=%.1f\n", frames, st.arp, us * 1000.0 / (double)frames);
	return 0;
}

int main(int argc, char **argv)
{
	struct neigh_conf conf;
	struct capture_opts opts;
	const char *ifaces[MAX_IFACES];
	int n_ifaces = 0, c;
	long bench_frames = 0;

	neigh_conf_default(&conf);
	capture_opts_default(&opts);
	conf.seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;
	while ((c = getopt(argc, argv, "i:r:b:q:m:pB:")) != -1) {
		switch (c) {
		case 'i':
			if (n_ifaces == MAX_IFACES)
				return 2;
			ifaces[n_ifaces++] = optarg;
			break;
		case 'r':
			conf.rate = (uint32_t)atol(optarg);
			break;
		case 'b':
			conf.burst = (uint32_t)atol(optarg);
			break;
		case 'q':
			conf.queue_max = (size_t)atol(optarg);
			break;
		case 'm':
			conf.max_entries = (size_t)atol(optarg);
			break;
		case 'p':
			opts.promisc = true;
			break;
		case 'B':
			bench_frames = atol(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: disc_capture [-r RATE] [-b BURST] [-q QUEUE] [-m MAX] [-p] -i IFACE... | "
				"-B FRAMES\n");
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_setup("disc_capture", LOG_LEVEL_INFO);
	tbl = neigh_table_new(&conf);
	if (!tbl) {
		fprintf(stderr, "bad table configuration\n");
		return 2;
	}
	if (bench_frames > 0)
		return bench(bench_frames);
	if (n_ifaces == 0) {
		fprintf(stderr, "no interface (-i)\n");
		return 2;
	}

	struct event_base *base = event_base_new();
	char err[256];
	for (int i = 0; i < n_ifaces; i++) {
		caps[n_caps] = capture_open(base, tbl, ifaces[i], &opts, print_events, NULL, err, sizeof(err));
		if (!caps[n_caps]) {
			fprintf(stderr, "%s: %s\n", ifaces[i], err);
			return 1;
		}
		n_caps++;
	}
	int sigs[] = {SIGTERM, SIGINT, SIGUSR1};
	struct event *sev[3];
	for (int i = 0; i < 3; i++) {
		sev[i] = evsignal_new(base, sigs[i], on_signal, base);
		event_add(sev[i], NULL);
	}
	started_ms = clock_mono_ms();
	printf("ready\n");
	event_base_dispatch(base);

	for (int i = 0; i < 3; i++)
		event_free(sev[i]);
	for (int i = 0; i < n_caps; i++)
		capture_free(caps[i]);
	neigh_table_free(tbl);
	event_base_free(base);
	return 0;
}
