/* The rack's lease reports to the region (LeaseReport, region.proto).
 *
 * Lease events from the DHCP server are converted at once (the server's
 * event structs die when its callback returns) and batched: one LeaseReport
 * per DHCP_REPORT_FLUSH_MS or per DHCP_REPORT_BATCH_MAX events, whichever
 * comes first, through the send callback.
 *
 * The lease store, not this queue, is the durable record. While the region
 * is away nothing piles up here: events are dropped and a full sync is
 * marked as needed. A full sync walks the store (ACTIVE leases as GRANTED,
 * DECLINED records as CONFLICT) and sends it as LeaseReport{full=true}
 * parts of at most DHCP_REPORT_FULL_PART_MAX events; the region replaces
 * the rack's DHCP addresses with that set. It runs when the session
 * (re)connects (dhcp_report_connected) and, while connected, at the next
 * flush whenever a send failed.
 *
 * Pool exhaustion and busy reservations are not lease events: they are
 * logged here (warn, at most once a minute per kind, with a count of what
 * was held back).
 *
 * Everything runs on the rack's event loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironrack/v1/region.pb-c.h"
#include "rack/dhcp/engine.h"
#include "rack/dhcp/leases.h"

#define DHCP_REPORT_FLUSH_MS	    1000
#define DHCP_REPORT_BATCH_MAX	    500
#define DHCP_REPORT_FULL_PART_MAX   1000
#define DHCP_REPORT_WARN_INTERVAL_S 60

struct event_base;
struct dhcp_report;

struct dhcp_report_ops {
	/* Send one report now (the callee packs or copies it before
	 * returning). < 0: not sent (not connected, queue full). */
	int (*send)(void *arg, const Ironrack__V1__LeaseReport *rep);
	/* The lease store to walk for a full sync, or NULL (no DHCP server:
	 * the full report is empty, which tells the region the rack holds no
	 * leases). Asked each time: the server may reopen its store. */
	const struct lease_store *(*leases)(void *arg);
};

struct dhcp_report_conf {
	int64_t flush_ms;     /* 0 = DHCP_REPORT_FLUSH_MS */
	size_t batch_max;     /* 0 = DHCP_REPORT_BATCH_MAX */
	size_t full_part_max; /* 0 = DHCP_REPORT_FULL_PART_MAX */
};

/* base NULL: no timer; the caller flushes (tests). conf NULL: defaults.
 * Starts disconnected. */
int dhcp_report_new(struct event_base *base, const struct dhcp_report_conf *conf, const struct dhcp_report_ops *ops,
		    void *arg, struct dhcp_report **ret);
/* Drops what is queued. NULL ok. */
void dhcp_report_free(struct dhcp_report *r);

/* Events from the server (struct dhcp_server_ops.on_events). ifname may be
 * NULL or "". */
void dhcp_report_add(struct dhcp_report *r, const char *ifname, const struct dhcp_event *ev, size_t n);
/* Send what is queued (or, when one is needed, a full sync instead).
 * Returns events sent, 0 if nothing was, or -errno from send. */
int dhcp_report_flush(struct dhcp_report *r);

/* The session is up: send a full sync now (queued deltas are dropped: the
 * full state covers them). Returns like dhcp_report_full_sync(). */
int dhcp_report_connected(struct dhcp_report *r);
/* The session is gone: drop the queue, need a full sync. */
void dhcp_report_disconnected(struct dhcp_report *r);

/* Need a full sync (the region could not apply a report): it goes at the
 * next flush. */
void dhcp_report_resync(struct dhcp_report *r);
/* Send the store's state as full report parts. Returns the number of
 * events sent, or -errno (a send failed: a full sync is still needed). */
int dhcp_report_full_sync(struct dhcp_report *r);
bool dhcp_report_needs_full_sync(const struct dhcp_report *r);

struct dhcp_report_stats {
	uint64_t events_sent;	 /* in delta reports */
	uint64_t events_dropped; /* while disconnected or on a failed send */
	uint64_t reports_sent;	 /* delta reports */
	uint64_t full_syncs;	 /* completed */
	uint64_t full_events;	 /* events in completed full syncs */
	uint64_t warnings;	 /* pool exhausted / reservation busy lines logged */
	uint64_t warnings_held;	 /* ... and held back by the rate limit */
};
void dhcp_report_get_stats(const struct dhcp_report *r, struct dhcp_report_stats *ret);

/* ---- conversion (pure) ---- */

/* One LeaseEvent with the storage its strings point into. */
struct dhcp_report_event {
	Ironrack__V1__LeaseEvent pb;
	char address[16];
	char mac[18];
	char ifname[16];
	char hostname[LEASE_HOSTNAME_MAX];
};

/* Fill ret from a server event. -EINVAL when ev is not a lease event
 * (pool exhausted, reservation busy, unknown kind). */
int dhcp_report_event_from_dhcp(struct dhcp_report_event *ret, const char *ifname, const struct dhcp_event *ev);
/* Fill ret for a full report from a store record: ACTIVE -> GRANTED,
 * DECLINED -> CONFLICT; -ENOENT for any other state (not reported). */
int dhcp_report_event_from_lease(struct dhcp_report_event *ret, const struct lease *l);
/* "decline", "arp", "icmp", "admin", or "" */
const char *dhcp_report_conflict_reason(uint8_t conflict);
