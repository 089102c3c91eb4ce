/* Active discovery's shell: the pacing engine on the loop, packet sockets
 * in the rack's namespace; see scanner.h. */
#include "rack/discovery/scanner.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "common/wire/arp.h"
#include "rack/discovery/scan.h"
#include "rack/netns.h"

/* A packet socket on one interface. */
struct scan_port {
	char ifname[IFNAMSIZ];
	int fd;
	int ifindex;
	uint8_t mac[ETH_ADDR_LEN];
};

struct disc_scanner {
	struct event_base *base;
	int nsfd;
	uint32_t rate;
	struct scan_engine *engine;
	struct event *timer;
	struct scan_port *ports;
	size_t n_ports;
	/* the scan in progress, for its log lines */
	uint64_t subnet_id;
	int64_t started_ms;
	uint32_t sent, failed;
	char first_error[160];
};

static void scanner_kick(struct disc_scanner *s);

/* ---- packet sockets ---- */

static void port_close(struct scan_port *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

/* Open ifname's socket in the namespace; its index and MAC through the
 * socket (so the namespace's). */
static int port_open(struct disc_scanner *s, struct scan_port *p, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd = netns_socket(s->nsfd, AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_set(err, errlen, "packet socket: %s", strerror(-fd));
		return fd;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", p->ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		int rc = -errno;
		err_set(err, errlen, "no interface %s: %s", p->ifname, strerror(errno));
		close(fd);
		return rc;
	}
	p->ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 || ifr.ifr_hwaddr.sa_family != 1 /* ARPHRD_ETHER */) {
		err_set(err, errlen, "%s is not an Ethernet interface", p->ifname);
		close(fd);
		return -EINVAL;
	}
	memcpy(p->mac, ifr.ifr_hwaddr.sa_data, ETH_ADDR_LEN);
	p->fd = fd;
	return 0;
}

static struct scan_port *port_get(struct disc_scanner *s, const char *ifname)
{
	for (size_t i = 0; i < s->n_ports; i++) {
		if (strcmp(s->ports[i].ifname, ifname) == 0)
			return &s->ports[i];
	}
	s->ports = xreallocarray(s->ports, s->n_ports + 1, sizeof(*s->ports));
	struct scan_port *p = &s->ports[s->n_ports++];
	memset(p, 0, sizeof(*p));
	snprintf(p->ifname, sizeof(p->ifname), "%s", ifname);
	p->fd = -1;
	return p;
}

/* Close the sockets of interfaces no target is on any more. */
static void ports_prune(struct disc_scanner *s, const struct scan_target *t, size_t n)
{
	for (size_t i = 0; i < s->n_ports;) {
		bool used = false;
		for (size_t k = 0; k < n && !used; k++)
			used = strcmp(t[k].ifname, s->ports[i].ifname) == 0;
		if (used) {
			i++;
			continue;
		}
		port_close(&s->ports[i]);
		s->ports[i] = s->ports[--s->n_ports];
	}
}

/* ---- sending ---- */

static void cidr_text(const struct scan_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u/%u", t->net >> 24, t->net >> 16 & 0xff, t->net >> 8 & 0xff, t->net & 0xff,
		 t->prefix);
}

static void probe_failed(struct disc_scanner *s, struct scan_port *p, const char *why)
{
	if (!s->failed++)
		snprintf(s->first_error, sizeof(s->first_error), "%s", why);
	/* An interface that went away (or was renamed) is looked up again at
	 * the next probe. */
	port_close(p);
}

static void probe_send(struct disc_scanner *s, const struct scan_probe *pr)
{
	char err[160];
	struct scan_port *p = port_get(s, pr->ifname);
	if (p->fd < 0 && port_open(s, p, err, sizeof(err)) < 0) {
		probe_failed(s, p, err);
		return;
	}
	uint8_t frame[64];
	int len = arp_request_build(frame, sizeof(frame), p->mac, pr->source, pr->target, 0);
	if (len < 0) {
		probe_failed(s, p, "cannot build the request (the interface's MAC is not unicast)");
		return;
	}
	struct sockaddr_ll to = {.sll_family = AF_PACKET,
				 .sll_protocol = htons(ETH_P_ARP),
				 .sll_ifindex = p->ifindex,
				 .sll_halen = ETH_ADDR_LEN,
				 .sll_addr = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
	if (sendto(p->fd, frame, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		snprintf(err, sizeof(err), "send on %s: %s", p->ifname, strerror(errno));
		/* a full queue loses this probe only; anything else reopens */
		if (errno == EAGAIN || errno == ENOBUFS) {
			if (!s->failed++)
				snprintf(s->first_error, sizeof(s->first_error), "%s", err);
			return;
		}
		probe_failed(s, p, err);
		return;
	}
	s->sent++;
}

static void scan_began(struct disc_scanner *s, const struct scan_probe *pr, int64_t now)
{
	char cidr[IPPREFIX_STRLEN];
	const struct scan_target *t = scan_engine_target(s->engine, pr->subnet_id, NULL);
	cidr_text(t, cidr, sizeof(cidr));
	s->subnet_id = pr->subnet_id;
	s->started_ms = now;
	s->sent = s->failed = 0;
	s->first_error[0] = '\0';
	log_info("discovery: scanning %s on %s: %u addresses at %u ARP requests/s", cidr, pr->ifname, pr->total,
		 s->rate);
}

static void scan_ended(struct disc_scanner *s, const struct scan_probe *pr, int64_t now)
{
	char cidr[IPPREFIX_STRLEN];
	const struct scan_target *t = scan_engine_target(s->engine, pr->subnet_id, NULL);
	cidr_text(t, cidr, sizeof(cidr));
	if (s->failed)
		log_warn("discovery: scan of %s done: %u ARP requests sent, %u not (%s), in %.1f s", cidr, s->sent,
			 s->failed, s->first_error, (double)(now - s->started_ms) / 1000.0);
	else
		log_info("discovery: scan of %s done: %u ARP requests in %.1f s", cidr, s->sent,
			 (double)(now - s->started_ms) / 1000.0);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct disc_scanner *s = arg;
	struct scan_probe pr;
	int64_t now = clock_mono_ms();
	while (scan_engine_next(s->engine, now, &pr) == 1) {
		if (pr.first)
			scan_began(s, &pr, now);
		probe_send(s, &pr);
		if (pr.last)
			scan_ended(s, &pr, now);
	}
	scanner_kick(s);
}

/* Wake up when the engine has the next probe (or a scan falls due). */
static void scanner_kick(struct disc_scanner *s)
{
	int64_t wait = scan_engine_wait_ms(s->engine, clock_mono_ms());
	if (wait < 0) {
		event_del(s->timer);
		return;
	}
	struct timeval tv = {.tv_sec = (time_t)(wait / 1000), .tv_usec = (suseconds_t)(wait % 1000) * 1000};
	event_add(s->timer, &tv);
}

/* ---- the interface ---- */

struct disc_scanner *disc_scanner_new(struct event_base *base, int nsfd, uint32_t rate)
{
	struct scan_engine *e = scan_engine_new(rate, clock_mono_ms());
	if (!e)
		return NULL;
	struct disc_scanner *s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->nsfd = nsfd;
	s->rate = rate;
	s->engine = e;
	s->timer = evtimer_new(base, on_timer, s);
	if (!s->timer)
		oom_abort(0);
	return s;
}

void disc_scanner_free(struct disc_scanner *s)
{
	if (!s)
		return;
	event_free(s->timer);
	for (size_t i = 0; i < s->n_ports; i++)
		port_close(&s->ports[i]);
	free(s->ports);
	scan_engine_free(s->engine);
	free(s);
}

void disc_scanner_config(struct disc_scanner *s, const Ironrack__V1__DhcpConfig *dhcp)
{
	struct scan_target *t;
	size_t skipped;
	char why[256];
	size_t n = scan_targets_from_dhcp(dhcp, &t, &skipped, why, sizeof(why));
	if (skipped)
		log_warn("discovery: %zu subnets of the config not scanned: %s%s", skipped, why,
			 skipped > 1 ? " (and more)" : "");
	size_t before = scan_engine_count(s->engine), active = 0;
	int rc = scan_engine_set(s->engine, t, n, clock_mono_ms());
	if (rc < 0) {
		/* checked by the conversion: cannot happen */
		log_err("discovery: scan targets refused (%s); none kept", strerror(-rc));
		scan_engine_set(s->engine, NULL, 0, clock_mono_ms());
		n = 0;
	}
	for (size_t i = 0; i < n; i++)
		active += t[i].interval_s > 0;
	if (n || before)
		log_info("discovery: %zu subnets may be scanned (%zu every interval, the others on demand)", n, active);
	ports_prune(s, t, n);
	free(t);
	scanner_kick(s);
}

int disc_scanner_request(struct disc_scanner *s, uint64_t subnet_id, const char *cidr, const char *who, char *msg,
			 size_t msg_len)
{
	char have[IPPREFIX_STRLEN];
	bool running;
	const struct scan_target *t = scan_engine_target(s->engine, subnet_id, &running);
	if (t)
		cidr_text(t, have, sizeof(have));
	if (!t || (cidr && cidr[0] && strcmp(cidr, have) != 0)) {
		snprintf(msg, msg_len, "subnet %llu%s%s is not one this rack may scan (not in its current config)",
			 (unsigned long long)subnet_id, cidr && cidr[0] ? " " : "", cidr ? cidr : "");
		return RPC_NOT_FOUND;
	}
	int rc = scan_engine_request(s->engine, subnet_id, clock_mono_ms());
	uint32_t n = scan_target_probes(t);
	if (rc == -EALREADY) {
		snprintf(msg, msg_len, "%s is %s already", have, running ? "being scanned" : "queued for a scan");
		return RPC_OK;
	}
	log_info("discovery: scan of %s on %s asked for%s%s", have, t->ifname, who && who[0] ? " by " : "",
		 who ? who : "");
	snprintf(msg, msg_len, "scanning %s on %s: %u addresses at %u ARP requests/s (about %u s)", have, t->ifname, n,
		 s->rate, (n + s->rate - 1) / s->rate);
	scanner_kick(s);
	return RPC_OK;
}
