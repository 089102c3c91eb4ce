/* Passive discovery's capture shell (issue 17): one libpcap handle per
 * watched interface, on the daemon's event loop. Every frame is decoded by
 * the pure codecs (common/wire/arp.h, mdns.h) and fed to the neighbour
 * table (rack/discovery/neigh.h); the table decides what to report.
 *
 * The handle: immediate mode (a frame is readable as soon as it arrives),
 * non-blocking, only frames the interface receives (not what the rack
 * itself sends: its own probes and scans are no neighbours), a kernel BPF
 * filter CAPTURE_FILTER so nothing else is ever copied to us, a snapshot
 * length that holds an ARP frame and an mDNS message in one Ethernet frame
 * with a VLAN tag. The socket also joins the mDNS group's MAC
 * (01:00:5e:00:00:fb), so a NIC that filters multicast still passes mDNS
 * to us when nothing else on the rack listens to it.
 *
 * Each wakeup reads at most CAPTURE_BUDGET frames, so a storm shares the
 * loop with DHCP; the rest waits in the kernel's ring (its losses show in
 * pcap_drop). The frame's own kernel timestamp is the engine's "now". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rack/discovery/neigh.h"

struct event_base;

#define CAPTURE_FILTER	     "arp or (udp port 5353)"
#define CAPTURE_BUDGET	     256
#define CAPTURE_MDNS_PAIRS   16 /* (name, address) pairs taken from one message */
#define CAPTURE_SNAPLEN	     1536
#define CAPTURE_BUFFER_BYTES (2 * 1024 * 1024)

struct capture_opts {
	bool promisc;	  /* see unicast ARP replies between other hosts */
	int snaplen;	  /* CAPTURE_SNAPLEN */
	int buffer_bytes; /* the kernel ring, CAPTURE_BUFFER_BYTES */
	/* The network namespace (rack/netns.h netns_open()) the interface is
	 * in, -1: the caller's. The handle is activated there by a short-lived
	 * thread (a packet socket belongs to the namespace it was made in);
	 * needs CAP_SYS_ADMIN besides CAP_NET_RAW. */
	int nsfd;
};

void capture_opts_default(struct capture_opts *opts);

struct capture_stats {
	uint64_t frames;	    /* read from the ring */
	uint64_t truncated;	    /* longer than the snapshot length */
	uint64_t arp;		    /* ARP frames that bind an address to a MAC */
	uint64_t arp_probes;	    /* RFC 5227 probes (sender 0.0.0.0): no binding */
	uint64_t arp_no_binding;    /* zero or group sender MAC */
	uint64_t mdns;		    /* mDNS responses */
	uint64_t mdns_queries;	    /* mDNS queries: no claim */
	uint64_t mdns_pairs;	    /* (name, address) pairs fed (goodbyes not) */
	uint64_t malformed;	    /* refused by a codec */
	uint64_t other;		    /* past the filter, yet neither */
	const char *last_malformed; /* the codec's reason, static; NULL none */
	/* pcap_stats(), as of capture_get_stats(): frames the kernel passed
	 * the filter, and those it dropped for want of ring space. */
	uint64_t pcap_recv, pcap_drop, pcap_ifdrop;
	bool failed; /* a read error stopped the capture (interface gone) */
};

/* Called after a wakeup that left events pending in the table, so the
 * reporter can take a batch (neigh_take()). */
typedef void (*capture_notify_fn)(void *arg);

struct capture;

/* Open and start capturing ifname, observations going to tbl (the
 * interface is added to it). NULL with err set on failure (no such
 * interface, no CAP_NET_RAW, not Ethernet). */
struct capture *capture_open(struct event_base *base, struct neigh_table *tbl, const char *ifname,
			     const struct capture_opts *opts, capture_notify_fn notify, void *arg, char *err,
			     size_t errlen);
void capture_free(struct capture *c);

/* Read what the ring holds now, up to max frames (for a final drain). */
int capture_drain(struct capture *c, int max);

const char *capture_ifname(const struct capture *c);
unsigned capture_iface(const struct capture *c); /* its index in the table */
void capture_get_stats(struct capture *c, struct capture_stats *ret);

/* Decode one captured frame and feed the table (what the read callback
 * does for each frame); for tests and benchmarks without a live handle. */
void capture_frame(struct capture_stats *st, struct neigh_table *tbl, unsigned iface, const uint8_t *frame,
		   size_t caplen, size_t len, int64_t now_ms);
