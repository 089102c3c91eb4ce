/* Lease reports to the region: conversion, batching, full sync. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/net.h"
#include "common/util.h"
#include "rack/dhcp/report.h"

/* The two non-lease event kinds, each rate-limited on its own. */
enum { WARN_POOL, WARN_BUSY, WARN_KINDS };

struct dhcp_report {
	struct event *timer; /* NULL without a base */
	struct dhcp_report_ops ops;
	void *arg;
	int64_t flush_ms;
	size_t batch_max, part_max;

	struct dhcp_report_event *q; /* batch_max slots */
	Ironrack__V1__LeaseEvent **qp;
	size_t n;

	struct dhcp_report_event *part; /* part_max slots, full sync only */
	Ironrack__V1__LeaseEvent **partp;

	bool connected;
	bool need_full;
	struct {
		int64_t last_s; /* monotonic; 0 = never */
		uint64_t held;
	} warn[WARN_KINDS];
	struct dhcp_report_stats stats;
};

/* ---- conversion ---- */

const char *dhcp_report_conflict_reason(uint8_t conflict)
{
	switch (conflict) {
	case LEASE_CONFLICT_DECLINE:
		return "decline";
	case LEASE_CONFLICT_ARP:
		return "arp";
	case LEASE_CONFLICT_ICMP:
		return "icmp";
	case LEASE_CONFLICT_ADMIN:
		return "admin";
	default:
		return "";
	}
}

static void format_ip(uint32_t a, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

/* A client-supplied name goes to the region as a protobuf string, which
 * must be UTF-8: keep printable ASCII, mark anything else. */
static void copy_printable(char *dst, size_t dstlen, const char *src, size_t srcmax)
{
	size_t i = 0;
	for (; src && i < srcmax && i + 1 < dstlen && src[i]; i++)
		dst[i] = (src[i] > 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

static void event_fill(struct dhcp_report_event *e, Ironrack__V1__LeaseEvent__Kind kind, uint32_t addr, uint8_t htype,
		       uint8_t hlen, const uint8_t *chaddr, const char *hostname, uint32_t subnet_id, int64_t expiry,
		       const char *ifname)
{
	memset(e, 0, sizeof(*e));
	ironrack__v1__lease_event__init(&e->pb);
	format_ip(addr, e->address);
	if (htype == 1 && hlen == 6)
		mac_format(chaddr, e->mac, sizeof(e->mac));
	copy_printable(e->hostname, sizeof(e->hostname), hostname, LEASE_HOSTNAME_MAX);
	copy_printable(e->ifname, sizeof(e->ifname), ifname, sizeof(e->ifname));
	e->pb.kind = kind;
	e->pb.address = e->address;
	e->pb.mac = e->mac;
	e->pb.hostname = e->hostname;
	e->pb.subnet_id = subnet_id;
	e->pb.expiry_unix = expiry;
	e->pb.interface = e->ifname;
	e->pb.reason = (char *)"";
}

int dhcp_report_event_from_dhcp(struct dhcp_report_event *ret, const char *ifname, const struct dhcp_event *ev)
{
	Ironrack__V1__LeaseEvent__Kind kind;
	switch (ev->kind) {
	case DHCP_EV_LEASE_GRANTED:
		kind = IRONRACK__V1__LEASE_EVENT__KIND__GRANTED;
		break;
	case DHCP_EV_LEASE_RELEASED:
		kind = IRONRACK__V1__LEASE_EVENT__KIND__RELEASED;
		break;
	case DHCP_EV_LEASE_EXPIRED:
		kind = IRONRACK__V1__LEASE_EVENT__KIND__EXPIRED;
		break;
	case DHCP_EV_CONFLICT:
		kind = IRONRACK__V1__LEASE_EVENT__KIND__CONFLICT;
		break;
	default:
		return -EINVAL;
	}
	event_fill(ret, kind, ev->addr, ev->htype, ev->hlen, ev->chaddr, ev->hostname, ev->subnet_id, ev->expiry,
		   ifname);
	if (ev->kind == DHCP_EV_CONFLICT)
		ret->pb.reason = (char *)dhcp_report_conflict_reason(ev->conflict);
	return 0;
}

int dhcp_report_event_from_lease(struct dhcp_report_event *ret, const struct lease *l)
{
	Ironrack__V1__LeaseEvent__Kind kind;
	if (l->state == LEASE_ACTIVE)
		kind = IRONRACK__V1__LEASE_EVENT__KIND__GRANTED;
	else if (l->state == LEASE_DECLINED)
		kind = IRONRACK__V1__LEASE_EVENT__KIND__CONFLICT;
	else
		return -ENOENT;
	/* The store does not keep the interface; the region has the subnet. */
	event_fill(ret, kind, l->addr, l->htype, l->hlen, l->chaddr, l->hostname, l->subnet_id, l->expiry, "");
	if (l->state == LEASE_DECLINED)
		ret->pb.reason = (char *)dhcp_report_conflict_reason(l->conflict);
	return 0;
}

/* ---- queue ---- */

static void report_warn(struct dhcp_report *r, const char *ifname, const struct dhcp_event *ev)
{
	int w = ev->kind == DHCP_EV_POOL_EXHAUSTED ? WARN_POOL : WARN_BUSY;
	int64_t now = clock_mono_ms() / 1000 + 1; /* never 0: 0 means "never logged" */
	if (r->warn[w].last_s && now - r->warn[w].last_s < DHCP_REPORT_WARN_INTERVAL_S) {
		r->warn[w].held++;
		r->stats.warnings_held++;
		return;
	}
	char mac[MAC_STRLEN] = "?", addr[16], more[64] = "";
	if (ev->htype == 1 && ev->hlen == 6)
		mac_format(ev->chaddr, mac, sizeof(mac));
	format_ip(ev->addr, addr);
	if (r->warn[w].held)
		snprintf(more, sizeof(more), " (%llu more like it in the last %d s)",
			 (unsigned long long)r->warn[w].held, DHCP_REPORT_WARN_INTERVAL_S);
	const char *on = ifname && ifname[0] ? ifname : "?";
	if (w == WARN_POOL)
		log_warn("dhcp: %s: no free dynamic address in subnet %u for %s%s", on, ev->subnet_id, mac, more);
	else
		log_warn("dhcp: %s: reserved address %s for %s is held by another client or quarantined%s", on, addr,
			 mac, more);
	r->warn[w].last_s = now;
	r->warn[w].held = 0;
	r->stats.warnings++;
}

static void timer_arm(struct dhcp_report *r)
{
	if (!r->timer || evtimer_pending(r->timer, NULL))
		return;
	struct timeval tv = {r->flush_ms / 1000, (r->flush_ms % 1000) * 1000};
	evtimer_add(r->timer, &tv);
}

static void queue_drop(struct dhcp_report *r)
{
	r->stats.events_dropped += r->n;
	r->n = 0;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dhcp_report *r = arg;
	dhcp_report_flush(r);
	/* A failed send leaves a full sync to do: try again later. */
	if (r->connected && (r->need_full || r->n))
		timer_arm(r);
}

int dhcp_report_new(struct event_base *base, const struct dhcp_report_conf *conf, const struct dhcp_report_ops *ops,
		    void *arg, struct dhcp_report **ret)
{
	struct dhcp_report *r = xcalloc(1, sizeof(*r));
	r->ops = *ops;
	r->arg = arg;
	r->flush_ms = conf && conf->flush_ms > 0 ? conf->flush_ms : DHCP_REPORT_FLUSH_MS;
	r->batch_max = conf && conf->batch_max ? conf->batch_max : DHCP_REPORT_BATCH_MAX;
	r->part_max = conf && conf->full_part_max ? conf->full_part_max : DHCP_REPORT_FULL_PART_MAX;
	r->need_full = true;
	r->q = xcalloc(r->batch_max, sizeof(*r->q));
	r->qp = xcalloc(r->batch_max, sizeof(*r->qp));
	r->part = xcalloc(r->part_max, sizeof(*r->part));
	r->partp = xcalloc(r->part_max, sizeof(*r->partp));
	if (base && !(r->timer = evtimer_new(base, timer_cb, r)))
		oom_abort(0); /* a library's NULL: out of memory */
	for (size_t i = 0; i < r->batch_max; i++)
		r->qp[i] = &r->q[i].pb;
	for (size_t i = 0; i < r->part_max; i++)
		r->partp[i] = &r->part[i].pb;
	*ret = r;
	return 0;
}

void dhcp_report_free(struct dhcp_report *r)
{
	if (!r)
		return;
	if (r->timer)
		event_free(r->timer);
	free(r->q);
	free(r->qp);
	free(r->part);
	free(r->partp);
	free(r);
}

void dhcp_report_add(struct dhcp_report *r, const char *ifname, const struct dhcp_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ev[i].kind == DHCP_EV_POOL_EXHAUSTED || ev[i].kind == DHCP_EV_RESERVED_BUSY) {
			report_warn(r, ifname, &ev[i]);
			continue;
		}
		if (!r->connected || r->need_full) {
			/* The store has it; the next full sync carries it. */
			r->stats.events_dropped++;
			continue;
		}
		if (dhcp_report_event_from_dhcp(&r->q[r->n], ifname, &ev[i]) < 0) {
			log_debug("dhcp: event kind %d not reported", (int)ev[i].kind);
			continue;
		}
		r->n++;
		if (r->n == r->batch_max)
			dhcp_report_flush(r);
	}
	if (r->connected && (r->n || r->need_full))
		timer_arm(r);
}

static int send_delta(struct dhcp_report *r)
{
	Ironrack__V1__LeaseReport rep = IRONRACK__V1__LEASE_REPORT__INIT;
	rep.events = r->qp;
	rep.n_events = r->n;
	int rc = r->ops.send(r->arg, &rep);
	if (rc < 0) {
		queue_drop(r);
		r->need_full = true;
		return rc;
	}
	rc = (int)r->n;
	r->stats.events_sent += r->n;
	r->stats.reports_sent++;
	r->n = 0;
	return rc;
}

int dhcp_report_flush(struct dhcp_report *r)
{
	if (!r->connected) {
		queue_drop(r);
		return 0;
	}
	if (r->need_full)
		return dhcp_report_full_sync(r);
	if (r->n == 0)
		return 0;
	return send_delta(r);
}

/* ---- full sync ---- */

struct full_ctx {
	struct dhcp_report *r;
	size_t n;      /* events in the current part */
	uint32_t part; /* its number */
	size_t total;
};

static int full_send(struct full_ctx *c, bool last)
{
	Ironrack__V1__LeaseReport rep = IRONRACK__V1__LEASE_REPORT__INIT;
	rep.events = c->r->partp;
	rep.n_events = c->n;
	rep.full = true;
	rep.full_part = c->part;
	rep.full_last = last;
	int rc = c->r->ops.send(c->r->arg, &rep);
	if (rc < 0)
		return rc;
	c->total += c->n;
	c->n = 0;
	c->part++;
	return 0;
}

static int full_add(const struct lease *l, void *userdata)
{
	struct full_ctx *c = userdata;
	if (l->state != LEASE_ACTIVE && l->state != LEASE_DECLINED)
		return 0;
	/* Send a full part only once more follows, so the last part is
	 * known to be last. */
	if (c->n == c->r->part_max) {
		int rc = full_send(c, false);
		if (rc < 0)
			return rc;
	}
	if (dhcp_report_event_from_lease(&c->r->part[c->n], l) == 0)
		c->n++;
	return 0;
}

int dhcp_report_full_sync(struct dhcp_report *r)
{
	struct full_ctx c = {.r = r};
	/* What is queued is older than the store's state, which covers it. */
	r->n = 0;
	r->need_full = true;
	const struct lease_store *leases = r->ops.leases ? r->ops.leases(r->arg) : NULL;
	int rc = leases ? lease_store_foreach(leases, full_add, &c) : 0;
	if (rc >= 0)
		rc = full_send(&c, true);
	if (rc < 0) {
		log_debug("dhcp: full lease report stopped at part %u: %s", c.part, strerror(-rc));
		return rc;
	}
	r->need_full = false;
	r->stats.full_syncs++;
	r->stats.full_events += c.total;
	return c.total > INT32_MAX ? INT32_MAX : (int)c.total;
}

bool dhcp_report_needs_full_sync(const struct dhcp_report *r)
{
	return r->need_full;
}

int dhcp_report_connected(struct dhcp_report *r)
{
	r->connected = true;
	int rc = dhcp_report_full_sync(r);
	if (rc < 0)
		timer_arm(r);
	return rc;
}

void dhcp_report_disconnected(struct dhcp_report *r)
{
	r->connected = false;
	r->need_full = true;
	queue_drop(r);
	if (r->timer)
		evtimer_del(r->timer);
}

void dhcp_report_resync(struct dhcp_report *r)
{
	r->need_full = true;
	queue_drop(r);
	if (r->connected)
		timer_arm(r);
}

void dhcp_report_get_stats(const struct dhcp_report *r, struct dhcp_report_stats *ret)
{
	*ret = r->stats;
}
