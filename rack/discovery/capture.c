/* libpcap on the event loop for passive discovery; see capture.h. */
#include "rack/discovery/capture.h"

#include <errno.h>
#include <event2/event.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/util.h"
#include "common/wire/arp.h"
#include "common/wire/mdns.h"

struct capture {
	pcap_t *p;
	struct event *ev;
	struct neigh_table *tbl;
	unsigned iface;
	char ifname[IFNAMSIZ];
	capture_notify_fn notify;
	void *arg;
	struct capture_stats st;
};

void capture_opts_default(struct capture_opts *opts)
{
	*opts = (struct capture_opts){.snaplen = CAPTURE_SNAPLEN, .buffer_bytes = CAPTURE_BUFFER_BYTES, .nsfd = -1};
}

static void malformed(struct capture_stats *st, const char *why)
{
	st->malformed++;
	st->last_malformed = why;
}

static void feed_arp(struct capture_stats *st, struct neigh_table *tbl, unsigned iface, const uint8_t *frame,
		     size_t len, int64_t now)
{
	struct arp_frame a;
	const char *why = "not ARP";
	int r = arp_frame_parse(frame, len, &a, &why);
	if (r < 0) {
		malformed(st, why);
		return;
	}
	if (a.kind == ARP_KIND_PROBE) {
		st->arp_probes++;
		return;
	}
	if (!arp_is_binding(&a)) {
		st->arp_no_binding++;
		return;
	}
	st->arp++;
	struct neigh_obs o = {.iface = iface, .vlan = a.eth.vlan, .addr = neigh_addr_v4(a.spa), .mac = a.sha};
	neigh_observe(tbl, &o, now);
}

static void feed_mdns(struct capture_stats *st, struct neigh_table *tbl, unsigned iface, const uint8_t *frame,
		      size_t len, int64_t now)
{
	struct mdns_frame f;
	struct mdns_host hosts[CAPTURE_MDNS_PAIRS];
	struct mdns_result res;
	const char *why = "malformed";

	int r = mdns_frame_parse(frame, len, &f, &why);
	if (r == -ENOMSG) {
		st->other++;
		return;
	}
	if (r == 0)
		r = mdns_parse(f.payload, f.len, hosts, CAPTURE_MDNS_PAIRS, &res, &why);
	if (r == -ENOMSG) {
		st->mdns_queries++;
		return;
	}
	if (r < 0) {
		malformed(st, why);
		return;
	}
	st->mdns++;
	for (size_t i = 0; i < res.n; i++) {
		const struct mdns_host *h = &hosts[i];
		if (h->ttl == 0)
			continue; /* a goodbye: the name leaves, the address may stay */
		struct neigh_obs o = {.iface = iface, .vlan = f.eth.vlan, .hostname = h->name};
		o.addr = h->is_v6 ? neigh_addr_v6(h->v6) : neigh_addr_v4(h->v4);
		/* The frame's MAC is the address's only when the sender speaks
		 * for itself; a sleep proxy or a host's other addresses are
		 * names without a MAC here. */
		if (!h->is_v6 && h->v4 == f.src)
			o.mac = f.eth.src;
		st->mdns_pairs++;
		neigh_observe(tbl, &o, now);
	}
}

void capture_frame(struct capture_stats *st, struct neigh_table *tbl, unsigned iface, const uint8_t *frame,
		   size_t caplen, size_t len, int64_t now_ms)
{
	struct eth_hdr eth;
	const char *why = NULL;

	st->frames++;
	if (caplen < len)
		st->truncated++;
	if (eth_hdr_parse(frame, caplen, &eth, &why) < 0) {
		malformed(st, why);
		return;
	}
	if (eth.type == ETH_TYPE_ARP)
		feed_arp(st, tbl, iface, frame, caplen, now_ms);
	else if (eth.type == ETH_TYPE_IPV4)
		feed_mdns(st, tbl, iface, frame, caplen, now_ms);
	else
		st->other++;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct capture *c = (struct capture *)user;
	int64_t now = (int64_t)h->ts.tv_sec * 1000 + h->ts.tv_usec / 1000;
	capture_frame(&c->st, c->tbl, c->iface, bytes, h->caplen, h->len, now);
}

int capture_drain(struct capture *c, int max)
{
	if (c->st.failed)
		return -EIO;
	int n = pcap_dispatch(c->p, max, on_packet, (u_char *)c);
	if (n == PCAP_ERROR) {
		/* the interface went away, or the socket broke: a read error
		 * would repeat at every wakeup, so stop here and say so once */
		log_warn("discovery: capture on %s stopped: %s", c->ifname, pcap_geterr(c->p));
		c->st.failed = true;
		event_del(c->ev);
		return -EIO;
	}
	return n;
}

static void readable(evutil_socket_t fd, short what, void *arg)
{
	struct capture *c = arg;
	capture_drain(c, CAPTURE_BUDGET);
	if (c->notify && neigh_pending(c->tbl))
		c->notify(c->arg);
}

/* The mDNS group's MAC on the capture socket: without it a NIC filtering
 * multicast would hide mDNS unless something else on the rack joined.
 * Runs where the handle was activated: the index is the namespace's. */
static void join_mdns_group(struct capture *c, int fd)
{
	struct packet_mreq mr = {.mr_ifindex = (int)if_nametoindex(c->ifname),
				 .mr_type = PACKET_MR_MULTICAST,
				 .mr_alen = 6,
				 .mr_address = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}};
	if (mr.mr_ifindex <= 0 || setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
		log_debug("discovery: %s: cannot join the mDNS group's MAC: %s", c->ifname, strerror(errno));
}

/* pcap_create() and pcap_activate(): the packet socket is made and bound
 * to the interface here, so in the interface's namespace. */
struct activate_job {
	struct capture *c;
	const struct capture_opts *opts;
	int nsfd;
	int status; /* pcap_activate's, or PCAP_ERROR */
	char err[PCAP_ERRBUF_SIZE + 64];
};

static void *activate_run(void *arg)
{
	struct activate_job *j = arg;
	struct capture *c = j->c;
	char ebuf[PCAP_ERRBUF_SIZE] = "";

	j->status = PCAP_ERROR;
	if (j->nsfd >= 0 && setns(j->nsfd, CLONE_NEWNET) < 0) {
		snprintf(j->err, sizeof(j->err), "cannot enter the network namespace: %s", strerror(errno));
		return NULL;
	}
	c->p = pcap_create(c->ifname, ebuf);
	if (!c->p) {
		snprintf(j->err, sizeof(j->err), "%s", ebuf);
		return NULL;
	}
	pcap_set_snaplen(c->p, j->opts->snaplen);
	pcap_set_promisc(c->p, j->opts->promisc);
	pcap_set_immediate_mode(c->p, 1);
	pcap_set_buffer_size(c->p, j->opts->buffer_bytes);
	j->status = pcap_activate(c->p);
	if (j->status < 0) {
		snprintf(j->err, sizeof(j->err), "%s (%s)", pcap_statustostr(j->status), pcap_geterr(c->p));
		return NULL;
	}
	int fd = pcap_get_selectable_fd(c->p);
	if (fd >= 0)
		join_mdns_group(c, fd);
	return NULL;
}

static int handle_activate(struct capture *c, const struct capture_opts *opts, char *err, size_t errlen)
{
	struct activate_job j = {.c = c, .opts = opts, .nsfd = opts->nsfd};
	if (opts->nsfd < 0) {
		activate_run(&j);
	} else {
		pthread_t t;
		int r = pthread_create(&t, NULL, activate_run, &j);
		if (r != 0) {
			err_set(err, errlen, "cannot start a thread: %s", strerror(r));
			return -1;
		}
		pthread_join(t, NULL);
	}
	if (j.status < 0) {
		err_set(err, errlen, "%s", j.err);
		return -1;
	}
	if (j.status > 0)
		log_warn("discovery: %s: %s (%s)", c->ifname, pcap_statustostr(j.status), pcap_geterr(c->p));
	return 0;
}

static int handle_setup(struct capture *c, const struct capture_opts *opts, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;

	if (handle_activate(c, opts, err, errlen) < 0)
		return -1;
	if (pcap_datalink(c->p) != DLT_EN10MB) {
		err_set(err, errlen, "not an Ethernet interface (link type %d)", pcap_datalink(c->p));
		return -1;
	}
	if (pcap_setdirection(c->p, PCAP_D_IN) < 0 ||
	    pcap_compile(c->p, &prog, CAPTURE_FILTER, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		err_set(err, errlen, "%s", pcap_geterr(c->p));
		return -1;
	}
	int r = pcap_setfilter(c->p, &prog);
	pcap_freecode(&prog);
	if (r < 0 || pcap_setnonblock(c->p, 1, ebuf) < 0) {
		err_set(err, errlen, "%s", r < 0 ? pcap_geterr(c->p) : ebuf);
		return -1;
	}
	return 0;
}

struct capture *capture_open(struct event_base *base, struct neigh_table *tbl, const char *ifname,
			     const struct capture_opts *opts, capture_notify_fn notify, void *arg, char *err,
			     size_t errlen)
{
	if (strlen(ifname) >= IFNAMSIZ) {
		err_set(err, errlen, "interface name too long");
		return NULL;
	}
	int idx = neigh_iface_add(tbl, ifname);
	if (idx < 0) {
		err_set(err, errlen, "neighbour table: %s", strerror(-idx));
		return NULL;
	}
	struct capture *c = xcalloc(1, sizeof(*c));
	c->tbl = tbl;
	c->iface = (unsigned)idx;
	c->notify = notify;
	c->arg = arg;
	strcpy(c->ifname, ifname);
	if (handle_setup(c, opts, err, errlen) < 0) {
		capture_free(c);
		return NULL;
	}
	int fd = pcap_get_selectable_fd(c->p);
	if (fd < 0) {
		err_set(err, errlen, "no selectable descriptor");
		capture_free(c);
		return NULL;
	}
	c->ev = event_new(base, fd, EV_READ | EV_PERSIST, readable, c);
	if (!c->ev)
		oom_abort(0);
	event_add(c->ev, NULL);
	return c;
}

void capture_free(struct capture *c)
{
	if (!c)
		return;
	if (c->ev)
		event_free(c->ev);
	if (c->p)
		pcap_close(c->p);
	free(c);
}

const char *capture_ifname(const struct capture *c)
{
	return c->ifname;
}

unsigned capture_iface(const struct capture *c)
{
	return c->iface;
}

void capture_get_stats(struct capture *c, struct capture_stats *ret)
{
	struct pcap_stat ps;
	if (!c->st.failed && pcap_stats(c->p, &ps) == 0) {
		/* totals since the handle opened (libpcap sums the kernel's
		 * reset-on-read counters itself) */
		c->st.pcap_recv = ps.ps_recv;
		c->st.pcap_drop = ps.ps_drop;
		c->st.pcap_ifdrop = ps.ps_ifdrop;
	}
	*ret = c->st;
}
