/* Discovery reports to the region: conversion and batching; see report.h. */
#include "rack/discovery/report.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/net.h"
#include "common/util.h"

struct disc_report {
	struct event *timer; /* NULL without a base */
	struct neigh_table *tbl;
	struct disc_report_ops ops;
	void *arg;
	int64_t flush_ms;
	size_t batch_max;
	bool connected;

	struct neigh_event *taken;	   /* batch_max */
	struct disc_report_event *conv;	   /* batch_max */
	Ironrack__V1__NeighbourEvent **pp; /* batch_max */

	uint64_t dropped_reported; /* the table's drops + failed sends, as of the last report */
	struct disc_report_stats stats;
};

/* ---- conversion ---- */

static Ironrack__V1__NeighbourEvent__Kind pb_kind(enum neigh_event_kind k)
{
	switch (k) {
	case NEIGH_EV_NEW:
		return IRONRACK__V1__NEIGHBOUR_EVENT__KIND__NEW;
	case NEIGH_EV_MOVED:
		return IRONRACK__V1__NEIGHBOUR_EVENT__KIND__MOVED;
	case NEIGH_EV_NAMED:
		return IRONRACK__V1__NEIGHBOUR_EVENT__KIND__NAMED;
	case NEIGH_EV_REFRESHED:
		return IRONRACK__V1__NEIGHBOUR_EVENT__KIND__REFRESHED;
	default:
		return IRONRACK__V1__NEIGHBOUR_EVENT__KIND__KIND_UNSPECIFIED;
	}
}

static bool printable(const char *s)
{
	for (; *s; s++) {
		if (*s <= 0x20 || *s >= 0x7f)
			return false;
	}
	return true;
}

int disc_report_event_fill(struct disc_report_event *ret, const struct neigh_event *ev, const char *ifname,
			   uint64_t vlan_id)
{
	Ironrack__V1__NeighbourEvent__Kind kind = pb_kind(ev->kind);
	if (kind == IRONRACK__V1__NEIGHBOUR_EVENT__KIND__KIND_UNSPECIFIED)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ironrack__v1__neighbour_event__init(&ret->pb);
	if (ifname && strlen(ifname) < sizeof(ret->ifname) && printable(ifname))
		strcpy(ret->ifname, ifname);
	if (ev->addr.is_v6) {
		inet_ntop(AF_INET6, ev->addr.v6, ret->address, sizeof(ret->address));
	} else {
		struct in_addr a = {htonl(ev->addr.v4)};
		inet_ntop(AF_INET, &a, ret->address, sizeof(ret->address));
	}
	if (ev->has_mac)
		mac_format(ev->mac, ret->mac, sizeof(ret->mac));
	if (ev->has_old_mac)
		mac_format(ev->old_mac, ret->old_mac, sizeof(ret->old_mac));
	if (printable(ev->hostname))
		snprintf(ret->hostname, sizeof(ret->hostname), "%s", ev->hostname);
	ret->pb.kind = kind;
	ret->pb.interface = ret->ifname;
	ret->pb.vid = ev->vlan;
	ret->pb.vlan_id = vlan_id;
	ret->pb.address = ret->address;
	ret->pb.mac = ret->mac;
	ret->pb.old_mac = ret->old_mac;
	ret->pb.hostname = ret->hostname;
	ret->pb.first_seen_unix_ms = ev->first_seen_ms;
	ret->pb.last_seen_unix_ms = ev->last_seen_ms;
	return 0;
}

/* ---- batching ---- */

/* Every drop so far: the table's (rate, queue) and our failed sends. */
static uint64_t dropped_total(const struct disc_report *r)
{
	uint64_t n = r->stats.send_failed;
	for (unsigned i = 0; i < NEIGH_IFACES_MAX && neigh_iface_name(r->tbl, i); i++) {
		struct neigh_iface_stats st;
		neigh_iface_stats(r->tbl, i, &st);
		n += st.rate_dropped + st.queue_dropped;
	}
	return n;
}

static void timer_arm(struct disc_report *r)
{
	if (!r->timer || evtimer_pending(r->timer, NULL))
		return;
	struct timeval tv = {r->flush_ms / 1000, (r->flush_ms % 1000) * 1000};
	evtimer_add(r->timer, &tv);
}

static int send_batch(struct disc_report *r)
{
	size_t n = neigh_take(r->tbl, r->taken, r->batch_max), k = 0;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct neigh_event *ev = &r->taken[i];
		const char *ifname = neigh_iface_name(r->tbl, ev->iface);
		uint64_t vlan_id = r->ops.vlan_of && ifname ? r->ops.vlan_of(r->arg, ifname, ev->vlan) : 0;
		if (disc_report_event_fill(&r->conv[k], ev, ifname, vlan_id) == 0 && r->conv[k].ifname[0]) {
			r->pp[k] = &r->conv[k].pb;
			k++;
		}
	}
	uint64_t dropped = dropped_total(r);
	Ironrack__V1__NeighbourReport rep = IRONRACK__V1__NEIGHBOUR_REPORT__INIT;
	rep.events = r->pp;
	rep.n_events = k;
	rep.dropped = dropped - r->dropped_reported;
	int rc = r->ops.send(r->arg, &rep);
	if (rc < 0) {
		r->stats.send_failed += k;
		return rc;
	}
	r->dropped_reported = dropped;
	r->stats.events_sent += k;
	r->stats.reports_sent++;
	return (int)k;
}

int disc_report_flush(struct disc_report *r, unsigned max_reports)
{
	int total = 0;
	if (!r->connected)
		return 0;
	for (unsigned i = 0; i < max_reports && neigh_pending(r->tbl); i++) {
		int rc = send_batch(r);
		if (rc < 0)
			return rc;
		total += rc;
	}
	return total;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct disc_report *r = arg;
	/* A few batches per turn: a backlog after a reconnect goes out over
	 * several turns of the loop rather than in one long one. */
	if (disc_report_flush(r, 4) >= 0 && r->connected && neigh_pending(r->tbl))
		timer_arm(r);
}

struct disc_report *disc_report_new(struct event_base *base, struct neigh_table *tbl,
				    const struct disc_report_conf *conf, const struct disc_report_ops *ops, void *arg)
{
	struct disc_report *r = xcalloc(1, sizeof(*r));
	r->tbl = tbl;
	r->ops = *ops;
	r->arg = arg;
	r->flush_ms = conf && conf->flush_ms > 0 ? conf->flush_ms : DISC_REPORT_FLUSH_MS;
	r->batch_max = conf && conf->batch_max ? conf->batch_max : DISC_REPORT_BATCH_MAX;
	r->taken = xcalloc(r->batch_max, sizeof(*r->taken));
	r->conv = xcalloc(r->batch_max, sizeof(*r->conv));
	r->pp = xcalloc(r->batch_max, sizeof(*r->pp));
	if (base && !(r->timer = evtimer_new(base, timer_cb, r)))
		oom_abort(0);
	return r;
}

void disc_report_free(struct disc_report *r)
{
	if (!r)
		return;
	if (r->timer)
		event_free(r->timer);
	free(r->taken);
	free(r->conv);
	free(r->pp);
	free(r);
}

void disc_report_notify(struct disc_report *r)
{
	if (!r->connected)
		return; /* held in the table's queue */
	if (neigh_pending(r->tbl) >= r->batch_max)
		disc_report_flush(r, 1);
	if (neigh_pending(r->tbl))
		timer_arm(r);
}

void disc_report_connected(struct disc_report *r)
{
	r->connected = true;
	if (neigh_pending(r->tbl))
		timer_arm(r);
}

void disc_report_disconnected(struct disc_report *r)
{
	r->connected = false;
	if (r->timer)
		evtimer_del(r->timer);
}

void disc_report_get_stats(const struct disc_report *r, struct disc_report_stats *ret)
{
	*ret = r->stats;
}
