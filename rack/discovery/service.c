/* Passive discovery in the rack: captures, table, reports; see service.h. */
#include "rack/discovery/service.h"

#include <errno.h>
#include <event2/event.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/log.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "rack/discovery/capture.h"
#include "rack/discovery/neigh.h"
#include "rack/discovery/report.h"
#include "rack/discovery/scanner.h"
#include "rack/netns.h"
#include "rack/rack.h"

/* A served DHCP interface: what is seen there belongs to the region's
 * VLAN vlan_id (frames tagged vid, or untagged). */
struct disc_served {
	char ifname[IFNAMSIZ];
	uint16_t vid;
	uint64_t vlan_id;
};

/* How often losses (capture ring, rate, queue) are looked for and logged. */
#define DISC_STATS_INTERVAL_S 60

struct rack_discovery {
	struct rack *rack;
	int nsfd;
	struct neigh_table *tbl;
	struct disc_report *report;
	struct disc_scanner *scanner; /* the active scan */
	struct capture *caps[NEIGH_IFACES_MAX];
	uint64_t lost_logged[NEIGH_IFACES_MAX]; /* caps[i]'s losses as last logged */
	size_t n_caps;
	struct event *stats_timer;
	struct disc_served *served;
	size_t n_served;
};

/* ---- reports ---- */

static int disc_send(void *arg, const Ironrack__V1__NeighbourReport *rep)
{
	struct rack *rack = arg;
	if (!rack_session_is_connected(rack))
		return -ENOTCONN;
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.request_id = rack_session_request_id(rack, &rack_discovery_report_route);
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_NEIGHBOUR_REPORT;
	m.neighbour_report = (Ironrack__V1__NeighbourReport *)rep;
	int rc = rack_session_send(rack, &m);
	if (rc < 0)
		log_warn("discovery: a report of %zu events not sent: %s", rep->n_events, strerror(-rc));
	return rc;
}

static uint64_t disc_vlan_of(void *arg, const char *ifname, uint16_t vid)
{
	struct rack *rack = arg;
	const struct rack_discovery *d = rack->discovery;
	for (size_t i = 0; d && i < d->n_served; i++) {
		if (strcmp(d->served[i].ifname, ifname) == 0 && (vid == 0 || vid == d->served[i].vid))
			return d->served[i].vlan_id;
	}
	return 0;
}

static const struct disc_report_ops disc_report_ops = {
    .send = disc_send,
    .vlan_of = disc_vlan_of,
};

static void disc_on_status(struct rack *rack, uint64_t request_id, const Ironrack__V1__Status *st)
{
	if (st->code != RPC_OK)
		log_warn("discovery: region refused a report: %s%s%s", rpc_status_name(st->code),
			 st->message[0] ? ": " : "", st->message);
}

const struct rack_reply_route rack_discovery_report_route = {"discovery-report", disc_on_status};

static void disc_on_connected(struct rack *rack)
{
	if (rack->discovery)
		disc_report_connected(rack->discovery->report);
}

static void disc_on_disconnected(struct rack *rack)
{
	if (rack->discovery)
		disc_report_disconnected(rack->discovery->report);
}

const struct rack_session_hook rack_discovery_session_hook = {
    .name = "discovery",
    .on_connected = disc_on_connected,
    .on_disconnected = disc_on_disconnected,
};

/* ---- captures ---- */

static void disc_notify(void *arg)
{
	struct rack_discovery *d = arg;
	disc_report_notify(d->report);
}

/* ---- counters ---- */

/* What a capture has read and lost, and what its interface's events came
 * to: one line, at info when the capture closes, at warn when something
 * was lost since the last line. */
static uint64_t disc_log_stats(struct rack_discovery *d, struct capture *c, bool closing, uint64_t lost_before)
{
	struct capture_stats cs;
	struct neigh_iface_stats ns;
	capture_get_stats(c, &cs);
	neigh_iface_stats(d->tbl, capture_iface(c), &ns);
	uint64_t lost = cs.pcap_drop + cs.pcap_ifdrop + ns.rate_dropped + ns.queue_dropped;
	if (!closing && lost == lost_before)
		return lost;
	log_msg(
	    closing && lost == lost_before ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
	    "discovery: %s: %llu frames read (%llu ARP bindings, %llu probes, %llu mDNS responses, %llu malformed), "
	    "%llu lost by the capture ring; events %llu new, %llu moved, %llu named, %llu refreshed, "
	    "%llu over discovery_rate, %llu over the queue",
	    capture_ifname(c), (unsigned long long)cs.frames, (unsigned long long)cs.arp,
	    (unsigned long long)cs.arp_probes, (unsigned long long)cs.mdns, (unsigned long long)cs.malformed,
	    (unsigned long long)(cs.pcap_drop + cs.pcap_ifdrop), (unsigned long long)ns.events[NEIGH_EV_NEW],
	    (unsigned long long)ns.events[NEIGH_EV_MOVED], (unsigned long long)ns.events[NEIGH_EV_NAMED],
	    (unsigned long long)ns.events[NEIGH_EV_REFRESHED], (unsigned long long)ns.rate_dropped,
	    (unsigned long long)ns.queue_dropped);
	return lost;
}

static void disc_stats_tick(evutil_socket_t fd, short what, void *arg)
{
	struct rack_discovery *d = arg;
	for (size_t i = 0; i < d->n_caps; i++)
		d->lost_logged[i] = disc_log_stats(d, d->caps[i], false, d->lost_logged[i]);
}

static void disc_close(struct rack_discovery *d, size_t i)
{
	disc_log_stats(d, d->caps[i], true, d->lost_logged[i]);
	capture_free(d->caps[i]);
	d->n_caps--;
	d->caps[i] = d->caps[d->n_caps];
	d->lost_logged[i] = d->lost_logged[d->n_caps];
}

static bool disc_wanted(const struct rack_discovery *d, const char *ifname)
{
	for (size_t i = 0; i < d->n_served; i++) {
		if (strcmp(d->served[i].ifname, ifname) == 0)
			return true;
	}
	const struct conf_list *extra = &d->rack->conf.discovery_interfaces;
	for (size_t i = 0; i < extra->n; i++) {
		if (strcmp(extra->items[i], ifname) == 0)
			return true;
	}
	return false;
}

static bool disc_open_has(const struct rack_discovery *d, const char *ifname)
{
	for (size_t i = 0; i < d->n_caps; i++) {
		if (strcmp(capture_ifname(d->caps[i]), ifname) == 0)
			return true;
	}
	return false;
}

static void disc_open(struct rack_discovery *d, const char *ifname)
{
	char err[256];
	struct capture_opts opts;
	if (disc_open_has(d, ifname))
		return;
	if (d->n_caps == NEIGH_IFACES_MAX) {
		log_warn("discovery: %s not observed: at most %d interfaces", ifname, NEIGH_IFACES_MAX);
		return;
	}
	capture_opts_default(&opts);
	opts.nsfd = d->nsfd;
	struct capture *c = capture_open(d->rack->base, d->tbl, ifname, &opts, disc_notify, d, err, sizeof(err));
	if (!c) {
		log_warn("discovery: cannot observe %s: %s", ifname, err);
		return;
	}
	d->lost_logged[d->n_caps] = 0;
	d->caps[d->n_caps++] = c;
	log_info("discovery: observing %s", ifname);
}

/* Close captures no longer wanted, open the missing ones. */
static void disc_sync(struct rack_discovery *d)
{
	for (size_t i = 0; i < d->n_caps;) {
		if (disc_wanted(d, capture_ifname(d->caps[i]))) {
			i++;
			continue;
		}
		log_info("discovery: no longer observing %s", capture_ifname(d->caps[i]));
		disc_close(d, i);
	}
	for (size_t i = 0; i < d->n_served; i++)
		disc_open(d, d->served[i].ifname);
	const struct conf_list *extra = &d->rack->conf.discovery_interfaces;
	for (size_t i = 0; i < extra->n; i++)
		disc_open(d, extra->items[i]);
}

/* The served interfaces of a DhcpConfig (NULL or disabled: none). */
static void disc_served_set(struct rack_discovery *d, const Ironrack__V1__DhcpConfig *dhcp)
{
	free(d->served);
	d->served = NULL;
	d->n_served = 0;
	if (!dhcp || !dhcp->enabled || !dhcp->n_interfaces)
		return;
	d->served = xcalloc(dhcp->n_interfaces, sizeof(*d->served));
	for (size_t i = 0; i < dhcp->n_interfaces; i++) {
		const Ironrack__V1__DhcpInterface *in = dhcp->interfaces[i];
		if (!in->name || !in->name[0] || strlen(in->name) >= IFNAMSIZ)
			continue;
		struct disc_served *s = &d->served[d->n_served++];
		strcpy(s->ifname, in->name);
		s->vid = (uint16_t)in->vid;
		s->vlan_id = in->vlan_id;
	}
}

/* ---- the config part: follow the served interfaces ---- */

static int disc_config_check(struct rack *rack, const Ironrack__V1__RackConfig *cfg, void **ret_state, char *msg,
			     size_t msg_len)
{
	return RPC_OK;
}

static void disc_config_commit(struct rack *rack, const Ironrack__V1__RackConfig *cfg, void *state)
{
	struct rack_discovery *d = rack->discovery;
	if (!d)
		return;
	disc_served_set(d, cfg->dhcp);
	disc_sync(d);
	disc_scanner_config(d->scanner, cfg->dhcp);
}

const struct rack_config_part rack_discovery_config_part = {
    .name = "discovery",
    .check = disc_config_check,
    .commit = disc_config_commit,
};

/* ---- the active scan on demand ---- */

/* DiscoveryScanRequest: scan a subnet of the current config now. */
static void disc_scan_run(struct rack *rack, const Ironrack__V1__RegionMessage *in)
{
	const Ironrack__V1__DiscoveryScanRequest *req = in->command->discovery_scan;
	char msg[256];
	if (!rack->discovery) {
		rack_session_reply_status(rack, in->request_id, RPC_FAILED_PRECONDITION,
					  "discovery is off on this rack (discovery = off)");
		return;
	}
	if (!req || !req->subnet_id) {
		rack_session_reply_status(rack, in->request_id, RPC_INVALID_ARGUMENT, "no subnet named");
		return;
	}
	int code = disc_scanner_request(rack->discovery->scanner, req->subnet_id, req->cidr, req->requested_by, msg,
					sizeof(msg));
	if (code != RPC_OK)
		log_warn("discovery: the region asked for a scan the rack refuses: %s", msg);
	rack_session_reply_status(rack, in->request_id, code, msg);
}

const struct rack_command rack_discovery_scan_command = {IRONRACK__V1__COMMAND__COMMAND_DISCOVERY_SCAN, disc_scan_run};

/* ---- the service ---- */

int rack_discovery_start(struct rack *rack)
{
	if (!rack->conf.discovery) {
		log_info("discovery: disabled (discovery = off)");
		return 0;
	}
	struct neigh_conf nc;
	neigh_conf_default(&nc);
	nc.rate = (uint32_t)rack->conf.discovery_rate;
	nc.burst = (uint32_t)rack->conf.discovery_burst;
	nc.refresh_ms = (int64_t)rack->conf.discovery_refresh * 1000;
	if (getrandom(&nc.seed, sizeof(nc.seed), 0) != (ssize_t)sizeof(nc.seed))
		nc.seed = (uint64_t)clock_mono_us() ^ (uint64_t)getpid();
	struct rack_discovery *d = xcalloc(1, sizeof(*d));
	d->rack = rack;
	d->nsfd = -1;
	d->tbl = neigh_table_new(&nc);
	if (!d->tbl) {
		free(d);
		log_err("discovery: bad table bounds");
		return -EINVAL;
	}
	if (rack->conf.netns[0]) {
		d->nsfd = netns_open(rack->conf.netns);
		if (d->nsfd < 0) {
			int rc = d->nsfd;
			log_err("discovery: cannot open network namespace '%s': %s", rack->conf.netns, strerror(-rc));
			neigh_table_free(d->tbl);
			free(d);
			return rc;
		}
	}
	d->report = disc_report_new(rack->base, d->tbl, NULL, &disc_report_ops, rack);
	d->scanner = disc_scanner_new(rack->base, d->nsfd, (uint32_t)rack->conf.discovery_scan_rate);
	d->stats_timer = event_new(rack->base, -1, EV_PERSIST, disc_stats_tick, d);
	struct timeval minute = {DISC_STATS_INTERVAL_S, 0};
	event_add(d->stats_timer, &minute);
	rack->discovery = d;
	Ironrack__V1__RackConfig *cfg = NULL;
	if (rack_store_read(rack, &cfg) == 0) {
		disc_served_set(d, cfg->dhcp);
		/* the captures first: a scan's answers are theirs to see */
		disc_sync(d);
		disc_scanner_config(d->scanner, cfg->dhcp);
		ironrack__v1__rack_config__free_unpacked(cfg, NULL);
	} else {
		disc_sync(d);
	}
	if (rack_session_is_connected(rack))
		disc_report_connected(d->report);
	return 0;
}

void rack_discovery_stop(struct rack *rack)
{
	struct rack_discovery *d = rack->discovery;
	if (!d)
		return;
	disc_scanner_free(d->scanner);
	event_free(d->stats_timer);
	while (d->n_caps)
		disc_close(d, d->n_caps - 1);
	disc_report_free(d->report);
	neigh_table_free(d->tbl);
	free(d->served);
	if (d->nsfd >= 0)
		close(d->nsfd);
	free(d);
	rack->discovery = NULL;
}
