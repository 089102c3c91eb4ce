/* Conflict probes before an OFFER (engine.h, "Conflict detection"): an ARP
 * probe on the interface for on-link clients, an ICMP echo for clients
 * behind a relay. Never blocks: a probe is a timer plus a copy of the
 * request; an answer or the timeout reports to set->ops->on_done, where
 * the server asks the engine (dhcp_engine_probe_done()). */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "common/wire/rawpkt.h"
#include "rack/dhcp/server_internal.h"
#include "rack/netns.h"

#define PROBE_READS_PER_WAKEUP 64

void dhcp_probes_init(struct dhcp_probes *set, struct event_base *base, int nsfd, int64_t timeout_ms,
		      const struct dhcp_probe_ops *ops, void *arg)
{
	*set = (struct dhcp_probes){
	    .base = base, .nsfd = nsfd, .timeout_ms = timeout_ms, .ops = ops, .arg = arg, .icmp_fd = -1};
	if (getrandom(&set->icmp_id, sizeof(set->icmp_id), 0) < 0)
		set->icmp_id = (uint16_t)getpid();
}

bool dhcp_probe_client_busy(const struct dhcp_probes *set, const struct dhcp4_msg *req)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct dhcp_probe *p = set->all[i];
		if (p->hlen == req->hlen && memcmp(p->chaddr, req->chaddr, req->hlen) == 0)
			return true;
	}
	return false;
}

void dhcp_probe_free(struct dhcp_probe *p)
{
	if (!p)
		return;
	struct dhcp_probes *set = p->set;
	size_t last = set->n - 1;
	set->all[p->slot] = set->all[last];
	set->all[p->slot]->slot = p->slot;
	set->all[last] = NULL;
	set->n--;
	if (p->timer)
		event_free(p->timer);
	free(p);
}

void dhcp_probe_cancel_all(struct dhcp_probes *set)
{
	while (set->n)
		dhcp_probe_free(set->all[set->n - 1]);
}

static void probe_finish(struct dhcp_probe *p, bool in_use)
{
	char addr[INET_ADDRSTRLEN];
	struct in_addr a = {htonl(p->addr)};

	evtimer_del(p->timer);
	if (in_use) {
		inet_ntop(AF_INET, &a, addr, sizeof(addr));
		log_info("dhcp: %s: %s is in use (answered %s probe); quarantined, trying another address", p->ifname,
			 addr, p->relayed ? "an ICMP" : "an ARP");
	}
	p->set->ops->on_done(p->set->arg, p, in_use);
}

static void probe_timeout(evutil_socket_t fd, short what, void *arg)
{
	probe_finish(arg, false);
}

static int probe_send_arp(struct dhcp_sock *sock, uint32_t addr)
{
	uint8_t pkt[RAWPKT_ARP_LEN];

	if (!sock || sock->arp_fd < 0 || !sock->has_mac)
		return -ENOTCONN;
	rawpkt_arp_probe_build(pkt, sock->mac, addr);
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET,
	    .sll_protocol = htons(ETH_P_ARP),
	    .sll_ifindex = sock->ifindex,
	    .sll_halen = 6,
	    .sll_addr = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	};
	return sendto(sock->arp_fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&sll, sizeof(sll)) < 0 ? -errno : 0;
}

static int probe_send_icmp(struct dhcp_probes *s, struct dhcp_probe *p)
{
	uint8_t pkt[RAWPKT_ICMP_ECHO_LEN + 8];
	static const uint8_t data[8] = "ironrack";

	if (s->icmp_fd < 0)
		return -ENOTCONN;
	p->icmp_seq = ++s->icmp_seq;
	int n = rawpkt_icmp_echo_build(pkt, sizeof(pkt), s->icmp_id, p->icmp_seq, data, sizeof(data));
	if (n < 0)
		return n;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(p->addr)};
	return sendto(s->icmp_fd, pkt, (size_t)n, 0, (struct sockaddr *)&sin, sizeof(sin)) < 0 ? -errno : 0;
}

int dhcp_probe_start(struct dhcp_probes *set, struct dhcp_sock *sock, const struct dhcp4_msg *req,
		     const struct dhcp_rx_info *rx, uint32_t addr, bool relayed, struct dhcp_probe *probe)
{
	struct dhcp_probe *p = probe;

	if (!p) {
		if (set->n >= DHCP_SRV_PROBES_MAX)
			return -EBUSY;
		p = xcalloc(1, sizeof(*p));
		p->set = set;
		p->timer = evtimer_new(set->base, probe_timeout, p);
		if (!p->timer)
			oom_abort(0); /* a library's NULL: out of memory */
		p->req = *req;
		p->rx = *rx;
		snprintf(p->ifname, sizeof(p->ifname), "%s", rx->ifname);
		p->rx.ifname = p->ifname;
		p->hlen = req->hlen <= DHCP4_CHADDR_LEN ? req->hlen : DHCP4_CHADDR_LEN;
		memcpy(p->chaddr, req->chaddr, sizeof(p->chaddr));
		p->slot = set->n;
		set->all[set->n++] = p;
	}
	p->addr = addr;
	p->relayed = relayed;
	int r = relayed ? probe_send_icmp(set, p) : probe_send_arp(sock, addr);
	if (r < 0) {
		if (!probe)
			dhcp_probe_free(p);
		return r;
	}
	struct timeval tv = {set->timeout_ms / 1000, (set->timeout_ms % 1000) * 1000};
	evtimer_add(p->timer, &tv);
	return 0;
}

/* Any ARP packet whose sender is the probed address means someone holds
 * it (RFC 5227 2.1.1): a reply to our probe, or its own request. */
void dhcp_probe_arp_readable(struct dhcp_probes *set, struct dhcp_sock *sock)
{
	int fd = sock->arp_fd;

	for (int i = 0; i < PROBE_READS_PER_WAKEUP; i++) {
		uint8_t buf[128];
		struct sockaddr_ll sll;
		socklen_t sll_len = sizeof(sll);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&sll, &sll_len);
		if (n < 0)
			return;
		struct rawpkt_arp arp;
		if (sll.sll_pkttype == PACKET_OUTGOING || rawpkt_arp_parse(buf, (size_t)n, &arp) < 0 || !arp.spa)
			continue;
		if (sock->has_mac && memcmp(arp.sha, sock->mac, 6) == 0)
			continue;
		for (size_t j = 0; j < set->n; j++) {
			struct dhcp_probe *p = set->all[j];
			if (!p->relayed && p->addr == arp.spa && strcmp(p->ifname, sock->name) == 0) {
				/* May free sock (a callback may apply a config): stop reading. */
				probe_finish(p, true);
				return;
			}
		}
	}
}

static void probe_icmp_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dhcp_probes *set = arg;

	for (int i = 0; i < PROBE_READS_PER_WAKEUP; i++) {
		uint8_t buf[1500];
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return;
		struct rawpkt_icmp_echo e;
		if (rawpkt_icmp_echo_reply_parse(buf, (size_t)n, &e) < 0 || e.id != set->icmp_id)
			continue;
		for (size_t j = 0; j < set->n; j++) {
			struct dhcp_probe *p = set->all[j];
			if (p->relayed && p->addr == e.src && p->icmp_seq == e.seq) {
				probe_finish(p, true);
				break;
			}
		}
	}
}

int dhcp_probe_icmp_open(struct dhcp_probes *set, int *ret_fd)
{
	int fd = netns_socket(set->nsfd, AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return 0;
}

void dhcp_probe_icmp_attach(struct dhcp_probes *s, int fd)
{
	if (s->icmp_ev) {
		event_free(s->icmp_ev);
		s->icmp_ev = NULL;
	}
	if (s->icmp_fd >= 0 && s->icmp_fd != fd)
		close(s->icmp_fd);
	s->icmp_fd = fd;
	if (fd < 0)
		return;
	s->icmp_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, probe_icmp_readable, s);
	if (s->icmp_ev)
		event_add(s->icmp_ev, NULL);
}
