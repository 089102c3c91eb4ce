/* Active discovery's pacing engine (issue 17): which address the rack
 * ARPs for next, and when. Pure: no I/O, no clock (the caller passes a
 * monotonic now in ms), no logging, no globals. The shell
 * (rack/discovery/scanner.c) sends what it returns and its capture sees
 * the answers.
 *
 * Targets are the subnets the region lets this rack scan (DiscoveryScan
 * in the DhcpConfig; scan_targets_from_dhcp() converts them). Nothing
 * else is ever scanned: an on-demand request names a target, and a
 * request for anything else is refused.
 *
 *   - A target with an interval is scanned every interval (measured from
 *     the start of its last scan); a new one, or one whose interval was 0
 *     until now, is due at once. A target without one is scanned only on
 *     demand.
 *   - On demand (scan_engine_request) runs a target next whatever its
 *     interval says, and counts as its scan.
 *   - One scan runs at a time. A scan probes every host address of the
 *     target in order: the network and broadcast addresses of a /30 or
 *     larger are skipped (a /31 has two hosts, a /32 one), and so are the
 *     rack's own addresses (source and own).
 *   - Every probe of every scan takes a token from one bucket: rate per
 *     second, holding at most the tokens of SCAN_BURST_MS (at least one).
 *     So over any span of T ms the engine hands out at most
 *     max(1, rate * SCAN_BURST_MS / 1000) + rate * T / 1000 probes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironrack/v1/region.pb-c.h"

#define SCAN_PREFIX_MIN	 16 /* at most 65,534 addresses in one scan */
#define SCAN_OWN_MAX	 8  /* rack addresses skipped per target */
#define SCAN_TARGETS_MAX 256
#define SCAN_BURST_MS	 10
#define SCAN_RATE_MAX	 10000
#define SCAN_IFNAMSIZ	 16 /* IFNAMSIZ */

struct scan_target {
	uint64_t subnet_id;
	char ifname[SCAN_IFNAMSIZ]; /* the served interface it is on */
	uint32_t net;		    /* network address, host byte order */
	uint8_t prefix;		    /* SCAN_PREFIX_MIN..32 */
	uint32_t source;	    /* the rack's address in it: the ARP sender */
	uint32_t own[SCAN_OWN_MAX]; /* more rack addresses, never probed */
	size_t n_own;
	uint32_t interval_s; /* 0: on demand only */
};

/* One ARP request to send: who-has target tell source, on ifname. */
struct scan_probe {
	uint64_t subnet_id;
	const char *ifname; /* the target's; valid until the next scan_engine_set */
	uint32_t source, target;
	bool first;	/* the first probe of a scan */
	bool last;	/* the last probe of a scan: it is done */
	uint32_t total; /* probes this scan sends in all */
};

struct scan_stats {
	uint64_t probes;    /* handed out */
	uint64_t started;   /* scans */
	uint64_t completed; /* scans that probed their last address */
	uint64_t stopped;   /* scans whose target left the config */
	uint64_t on_demand; /* requests taken */
};

struct scan_engine;

/* rate: probes per second, 1..SCAN_RATE_MAX. NULL for a bad rate. */
struct scan_engine *scan_engine_new(uint32_t rate, int64_t now_ms);
void scan_engine_free(struct scan_engine *e);

/* Replace the targets with a copy of t[0..n) (at most SCAN_TARGETS_MAX:
 * -E2BIG, nothing changed; a target that is not valid: -EINVAL, nothing
 * changed). A target kept from before (same subnet id, interface, network
 * and prefix) keeps its schedule, its queued request and a scan in
 * progress; a changed interval is counted from its last scan. A new
 * target with an interval, or one whose interval was 0 (active discovery
 * turned on), is due now. The scan of a target that is gone stops. */
int scan_engine_set(struct scan_engine *e, const struct scan_target *t, size_t n, int64_t now_ms);

/* Scan subnet_id next. 0: queued; -EALREADY: it is being scanned or is
 * queued already; -ENOENT: not a target. */
int scan_engine_request(struct scan_engine *e, uint64_t subnet_id, int64_t now_ms);

/* The probe to send at now_ms: 1 and *ret filled, or 0 (nothing now: see
 * scan_engine_wait_ms). */
int scan_engine_next(struct scan_engine *e, int64_t now_ms, struct scan_probe *ret);

/* How long until scan_engine_next may have a probe: 0 now, > 0 ms, -1
 * never (no scan running, queued, or ever due). */
int64_t scan_engine_wait_ms(const struct scan_engine *e, int64_t now_ms);

/* The target subnet_id (NULL: none) and whether it is being scanned. */
const struct scan_target *scan_engine_target(const struct scan_engine *e, uint64_t subnet_id, bool *ret_running);
/* Host addresses a scan of t probes (its own addresses left out). */
uint32_t scan_target_probes(const struct scan_target *t);
size_t scan_engine_count(const struct scan_engine *e);
void scan_engine_get_stats(const struct scan_engine *e, struct scan_stats *ret);

/* ---- from the config (scan_config.c) ---- */

/* The targets of a DhcpConfig's interfaces (their DiscoveryScan lists;
 * NULL or disabled: none). An entry that is not valid (CIDR not IPv4 or
 * wider than /SCAN_PREFIX_MIN, source outside it, interface name too
 * long, more than SCAN_TARGETS_MAX) is left out and counted in
 * *ret_skipped, the first reason in why. *ret is malloc'ed (NULL when
 * none). Returns the number of targets. */
size_t scan_targets_from_dhcp(const Ironrack__V1__DhcpConfig *dhcp, struct scan_target **ret, size_t *ret_skipped,
			      char *why, size_t why_len);
