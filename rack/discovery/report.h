/* The rack's discovery reports to the region (NeighbourReport,
 * region.proto).
 *
 * The neighbour table (neigh.h) queues events; this module takes them in
 * batches of at most DISC_REPORT_BATCH_MAX, converts them and sends one
 * NeighbourReport per batch, DISC_REPORT_FLUSH_MS after the first event
 * of a batch arrived (or at once when a whole batch waits).
 *
 * While the region is away nothing is taken: events wait in the table's
 * own bounded queue (neigh_conf.queue_max), which drops and counts what
 * does not fit, and go out when the session is back. A send that fails
 * loses its batch (counted). Every report carries in dropped how many
 * events were dropped since the last report went out (the table's
 * rate_dropped + queue_dropped, and failed sends), so the region sees a
 * storm as a count rather than as silence.
 *
 * Everything runs on the rack's event loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironrack/v1/region.pb-c.h"
#include "rack/discovery/neigh.h"

#define DISC_REPORT_FLUSH_MS  500
#define DISC_REPORT_BATCH_MAX 256

struct event_base;
struct disc_report;

struct disc_report_ops {
	/* Send one report now (the callee packs it before returning). < 0:
	 * not sent. */
	int (*send)(void *arg, const Ironrack__V1__NeighbourReport *rep);
	/* The region's VLAN id of what is seen on ifname with 802.1Q tag
	 * vid when the rack serves DHCP there, 0 otherwise (observed only). */
	uint64_t (*vlan_of)(void *arg, const char *ifname, uint16_t vid);
};

struct disc_report_conf {
	int64_t flush_ms; /* 0 = DISC_REPORT_FLUSH_MS */
	size_t batch_max; /* 0 = DISC_REPORT_BATCH_MAX */
};

/* base NULL: no timer, the caller flushes (tests). conf NULL: defaults.
 * tbl is borrowed and must outlive the report. Starts disconnected. */
struct disc_report *disc_report_new(struct event_base *base, struct neigh_table *tbl,
				    const struct disc_report_conf *conf, const struct disc_report_ops *ops, void *arg);
void disc_report_free(struct disc_report *r); /* NULL ok */

/* The table has pending events (capture_notify_fn): arm the flush timer,
 * or flush now if a whole batch waits. */
void disc_report_notify(struct disc_report *r);
/* Send what is pending, one batch per report, up to max_reports reports.
 * Returns events sent, 0 when nothing was (or not connected), -errno from
 * a failed send. */
int disc_report_flush(struct disc_report *r, unsigned max_reports);

void disc_report_connected(struct disc_report *r);
void disc_report_disconnected(struct disc_report *r);

struct disc_report_stats {
	uint64_t events_sent;
	uint64_t reports_sent;
	uint64_t send_failed; /* events lost in failed sends */
};
void disc_report_get_stats(const struct disc_report *r, struct disc_report_stats *ret);

/* ---- conversion (pure) ---- */

/* One NeighbourEvent with the storage its strings point into. */
struct disc_report_event {
	Ironrack__V1__NeighbourEvent pb;
	char ifname[NEIGH_IFNAME_MAX + 1];
	char address[46]; /* INET6_ADDRSTRLEN */
	char mac[18];
	char old_mac[18];
	char hostname[NEIGH_HOSTNAME_MAX + 1];
};

/* Fill ret from a table event seen on ifname; vlan_id as vlan_of says.
 * -EINVAL for an event of no kind. Names are kept only when they are
 * printable ASCII (the codec already refuses anything else). */
int disc_report_event_fill(struct disc_report_event *ret, const struct neigh_event *ev, const char *ifname,
			   uint64_t vlan_id);
