/* The DHCP server's sockets: one UDP socket on port 67 per served
 * interface, a send-only packet socket for replies to chaddr, a filtered
 * packet socket that shows the frame source of unicast requests (the
 * release socket), the ARP socket for probes; the receive loop and the
 * send paths.
 *
 * A leaf, like systemd's dhcp-network.c: it reads datagrams and hands
 * them to net->ops->on_datagram; it does not decode them, does not know
 * the engine or the lease store, and does not log. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "common/wire/rawpkt.h"
#include "rack/dhcp/server_internal.h"
#include "rack/netns.h"

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? -errno : 0;
}

/* Interface index, MAC and primary IPv4 address, through ioctls on a socket
 * of the namespace (they act in the socket's namespace). */
void dhcp_sock_refresh(struct dhcp_sock *sock)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", sock->name);
	if (ioctl(sock->udp_fd, SIOCGIFINDEX, &ifr) == 0)
		sock->ifindex = ifr.ifr_ifindex;
	if (ioctl(sock->udp_fd, SIOCGIFHWADDR, &ifr) == 0 && ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER) {
		memcpy(sock->mac, ifr.ifr_hwaddr.sa_data, 6);
		sock->has_mac = true;
	}
	memset(&ifr.ifr_addr, 0, sizeof(ifr.ifr_addr));
	ifr.ifr_addr.sa_family = AF_INET;
	if (ioctl(sock->udp_fd, SIOCGIFADDR, &ifr) == 0) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ifr.ifr_addr;
		sock->local_addr = ntohl(in->sin_addr.s_addr);
	} else {
		sock->local_addr = 0;
	}
}

static void sock_readable(evutil_socket_t fd, short what, void *arg);
static void rel_readable(evutil_socket_t fd, short what, void *arg);

/* Unicast IPv4 UDP to port 67, not a fragment, giaddr 0: requests a
 * client on the link sent to us directly (RENEW, RELEASE, INFORM).
 * Offsets from the IPv4 header (SOCK_DGRAM). Everything else, above all
 * the broadcast and relayed bulk of DHCP, stays in the kernel. */
static const struct sock_filter rel_filter[] = {
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),			  /* 0: protocol */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 9),	  /* 1: not UDP -> 11 */
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),			  /* 2: flags, fragment offset */
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 7, 0),		  /* 3: a fragment -> 11 */
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 16),			  /* 4: destination */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffu, 5, 0),	  /* 5: broadcast -> 11 */
    BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),			  /* 6: X = IP header length */
    BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),			  /* 7: UDP destination port */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DHCP4_SERVER_PORT, 0, 2), /* 8: not 67 -> 11 */
    BPF_STMT(BPF_LD | BPF_W | BPF_IND, RAWPKT_UDP_HDR_LEN + 24),  /* 9: giaddr */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),		  /* 10: 0 -> 12 */
    BPF_STMT(BPF_RET | BPF_K, 0),				  /* 11: drop */
    BPF_STMT(BPF_RET | BPF_K, 0xffff),				  /* 12: take */
};

/* The filter goes on before the bind, so nothing unfiltered is queued. */
static int rel_open(struct dhcp_net *net, struct dhcp_sock *sock, char *why, size_t why_len)
{
	struct sock_fprog prog = {.len = sizeof(rel_filter) / sizeof(rel_filter[0]),
				  .filter = (struct sock_filter *)rel_filter};
	const char *step = "socket";
	int r;
	int fd = netns_socket(net->nsfd, AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = fd;
		goto fail;
	}
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = sock->ifindex};
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
		r = -errno;
		step = "SO_ATTACH_FILTER";
	} else if ((r = set_int(fd, SOL_PACKET, PACKET_AUXDATA, 1)) < 0) {
		step = "PACKET_AUXDATA";
	} else if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		r = -errno;
		step = "bind";
	} else {
		sock->rel_fd = fd;
		sock->rel_ev = event_new(net->base, fd, EV_READ | EV_PERSIST, rel_readable, sock);
		if (sock->rel_ev && event_add(sock->rel_ev, NULL) == 0)
			return 0;
		snprintf(why, why_len, "interface %s: cannot add the release socket to the event loop", sock->name);
		return -ENOMEM;
	}
	close(fd);
fail:
	snprintf(why, why_len, "interface %s: release socket: %s: %s", sock->name, step, strerror(-r));
	return r;
}

static int udp_open(struct dhcp_net *net, const char *name, char *why, size_t why_len)
{
	int fd = netns_socket(net->nsfd, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, why_len, "interface %s: socket: %s", name, strerror(-fd));
		return fd;
	}
	int r;
	const char *step;
	if ((r = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1)) < 0) {
		step = "SO_REUSEADDR";
	} else if ((r = set_int(fd, SOL_SOCKET, SO_BROADCAST, 1)) < 0) {
		step = "SO_BROADCAST";
	} else if ((r = set_int(fd, IPPROTO_IP, IP_PKTINFO, 1)) < 0) {
		step = "IP_PKTINFO";
	} else if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, (socklen_t)strlen(name) + 1) < 0) {
		r = -errno;
		step = "SO_BINDTODEVICE";
	} else {
		/* Best effort: FORCE needs CAP_NET_ADMIN, plain is capped by rmem_max. */
		if (set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, DHCP_SRV_RCVBUF) < 0)
			set_int(fd, SOL_SOCKET, SO_RCVBUF, DHCP_SRV_RCVBUF);
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(DHCP4_SERVER_PORT)};
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			return fd;
		r = -errno;
		step = "bind 0.0.0.0:67";
	}
	snprintf(why, why_len, "interface %s: %s: %s", name, step, strerror(-r));
	close(fd);
	return r;
}

int dhcp_sock_open_arp(struct dhcp_net *net, struct dhcp_sock *sock, int *ret_fd, char *why, size_t why_len)
{
	int fd = netns_socket(net->nsfd, AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0) {
		snprintf(why, why_len, "interface %s: ARP socket: %s", sock->name, strerror(-fd));
		return fd;
	}
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP), .sll_ifindex = sock->ifindex};
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int r = -errno;
		snprintf(why, why_len, "interface %s: bind ARP socket: %s", sock->name, strerror(errno));
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

static void arp_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dhcp_sock *sock = arg;
	sock->net->ops->on_arp_readable(sock->net->arg, sock);
}

void dhcp_sock_attach_arp(struct dhcp_sock *sock, int fd)
{
	if (sock->arp_ev) {
		event_free(sock->arp_ev);
		sock->arp_ev = NULL;
	}
	if (sock->arp_fd >= 0 && sock->arp_fd != fd)
		close(sock->arp_fd);
	sock->arp_fd = fd;
	if (fd < 0)
		return;
	sock->arp_ev = event_new(sock->net->base, fd, EV_READ | EV_PERSIST, arp_readable, sock);
	if (sock->arp_ev)
		event_add(sock->arp_ev, NULL);
}

int dhcp_sock_open(struct dhcp_net *net, const char *name, bool want_arp, struct dhcp_sock **ret, char *why,
		   size_t why_len)
{
	if (!name[0] || strlen(name) >= IFNAMSIZ) {
		snprintf(why, why_len, "interface '%s': bad name", name);
		return -EINVAL;
	}
	struct dhcp_sock *sock = xcalloc(1, sizeof(*sock));
	sock->net = net;
	snprintf(sock->name, sizeof(sock->name), "%s", name);
	sock->pkt_fd = sock->arp_fd = sock->rel_fd = sock->ext.fd = -1;
	sock->udp_fd = udp_open(net, name, why, why_len);
	if (sock->udp_fd < 0) {
		int r = sock->udp_fd;
		free(sock);
		return r;
	}
	dhcp_sock_refresh(sock);
	int r;
	if (sock->ifindex <= 0) {
		snprintf(why, why_len, "interface %s: no such device", name);
		r = -ENODEV;
		goto fail;
	}
	sock->pkt_fd = netns_socket(net->nsfd, AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sock->pkt_fd < 0) {
		r = sock->pkt_fd;
		snprintf(why, why_len, "interface %s: packet socket: %s", name, strerror(-r));
		goto fail;
	}
	r = rel_open(net, sock, why, why_len);
	if (r < 0)
		goto fail;
	if (want_arp) {
		int fd;
		r = dhcp_sock_open_arp(net, sock, &fd, why, why_len);
		if (r < 0)
			goto fail;
		dhcp_sock_attach_arp(sock, fd);
	}
	sock->udp_ev = event_new(net->base, sock->udp_fd, EV_READ | EV_PERSIST, sock_readable, sock);
	sock->udp_poll = evtimer_new(net->base, sock_readable, sock);
	if (!sock->udp_ev || !sock->udp_poll || event_add(sock->udp_ev, NULL) < 0) {
		snprintf(why, why_len, "interface %s: cannot add the socket to the event loop", name);
		r = -ENOMEM;
		goto fail;
	}
	*ret = sock;
	return 0;
fail:
	dhcp_sock_free(sock);
	return r;
}

void dhcp_sock_free(struct dhcp_sock *sock)
{
	if (!sock)
		return;
	dhcp_ext_stop(sock);
	if (sock->ext.timer)
		event_free(sock->ext.timer);
	dhcp_sock_attach_arp(sock, -1);
	if (sock->udp_ev)
		event_free(sock->udp_ev);
	if (sock->udp_poll)
		event_free(sock->udp_poll);
	if (sock->udp_fd >= 0)
		close(sock->udp_fd);
	if (sock->pkt_fd >= 0)
		close(sock->pkt_fd);
	if (sock->rel_ev)
		event_free(sock->rel_ev);
	if (sock->rel_fd >= 0)
		close(sock->rel_fd);
	free(sock);
}

/* ---- receive ---------------------------------------------------------------- */

/* Receive coalescing (net->rx_coalesce_us), as a NIC's interrupt
 * moderation or Linux's NAPI: a datagram that finds the loop asleep wakes
 * it at once, but while they keep coming the socket is read on a timer, so
 * one wake-up takes several. At 1,000 leases a second a datagram comes
 * every 0.5 ms, and a sleep and a wake-up per datagram was most of what a
 * lease cost (docs/benchmarks.md, "Where a lease's CPU goes"). A full
 * batch means more are queued: read again at once. A read that finds
 * nothing goes back to waking on the next datagram. */
static void sock_rx_mode(struct dhcp_sock *sock, int n)
{
	bool poll = sock->net->rx_coalesce_us > 0 && n > 0 && n < DHCP_SRV_BATCH;
	bool polling = evtimer_pending(sock->udp_poll, NULL);

	if (poll) {
		struct timeval tv = {0, sock->net->rx_coalesce_us};
		if (!polling)
			event_del(sock->udp_ev);
		evtimer_add(sock->udp_poll, &tv);
	} else if (polling || !event_pending(sock->udp_ev, EV_READ, NULL)) {
		evtimer_del(sock->udp_poll);
		event_add(sock->udp_ev, NULL);
	}
}

static void sock_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dhcp_sock *sock = arg;
	struct dhcp_net *net = sock->net;

	fd = sock->udp_fd; /* also called by the udp_poll timer */
	struct mmsghdr msgs[DHCP_SRV_BATCH];
	struct iovec iov[DHCP_SRV_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctl[DHCP_SRV_BATCH];
	struct sockaddr_in peers[DHCP_SRV_BATCH];

	memset(msgs, 0, sizeof(msgs));
	for (size_t i = 0; i < DHCP_SRV_BATCH; i++) {
		iov[i] = (struct iovec){net->rx_bufs[i], DHCP_SRV_RX_BUF};
		msgs[i].msg_hdr = (struct msghdr){
		    .msg_name = &peers[i],
		    .msg_namelen = sizeof(peers[i]),
		    .msg_iov = &iov[i],
		    .msg_iovlen = 1,
		    .msg_control = ctl[i].buf,
		    .msg_controllen = sizeof(ctl[i].buf),
		};
	}
	int n = recvmmsg(fd, msgs, DHCP_SRV_BATCH, MSG_DONTWAIT, NULL);
	sock_rx_mode(sock, n);
	if (n < 0) {
		net->ops->on_batch_end(net->arg, sock, errno == EAGAIN || errno == EINTR ? 0 : -errno);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct msghdr *mh = &msgs[i].msg_hdr;
		struct dhcp_datagram dg = {
		    .buf = net->rx_bufs[i],
		    .len = msgs[i].msg_len,
		    .truncated = (mh->msg_flags & MSG_TRUNC) != 0,
		};
		for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
				dg.pi = (const struct in_pktinfo *)CMSG_DATA(c);
		if (mh->msg_namelen >= sizeof(peers[i]) && peers[i].sin_family == AF_INET)
			dg.src = &peers[i];
		net->ops->on_datagram(net->arg, sock, &dg);
	}
	net->ops->on_batch_end(net->arg, sock, 0);
}

/* Frames of the release socket: only those addressed to this host (a
 * flooded frame for another MAC is not a request to us). */
static void rel_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dhcp_sock *sock = arg;
	struct dhcp_net *net = sock->net;

	for (int i = 0; i < DHCP_SRV_BATCH; i++) {
		struct sockaddr_ll sll;
		struct iovec iov = {net->rx_bufs[0], DHCP_SRV_RX_BUF};
		union {
			char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
			struct cmsghdr align;
		} ctl;
		struct msghdr mh = {.msg_name = &sll,
				    .msg_namelen = sizeof(sll),
				    .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = ctl.buf,
				    .msg_controllen = sizeof(ctl.buf)};
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0)
			break;
		if ((mh.msg_flags & MSG_TRUNC) || sll.sll_pkttype != PACKET_HOST || sll.sll_halen != 6)
			continue;
		struct dhcp_frame f = {.buf = net->rx_bufs[0], .len = (size_t)n};
		memcpy(f.src_mac, sll.sll_addr, 6);
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
				continue;
			struct tpacket_auxdata aux;
			memcpy(&aux, CMSG_DATA(c), sizeof(aux));
			f.csum_unchecked = (aux.tp_status & (TP_STATUS_CSUMNOTREADY | TP_STATUS_CSUM_VALID)) != 0;
		}
		net->ops->on_frame(net->arg, sock, &f);
	}
	net->ops->on_batch_end(net->arg, sock, 0);
}

/* ---- send ----------------------------------------------------------------------- */

/* One UDP datagram's header, with the interface and source address set
 * (IP_PKTINFO). */
struct udp_msg {
	struct sockaddr_in to;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctl;
};

static void udp_msg_fill(const struct dhcp_sock *sock, const struct dhcp_tx *p, uint32_t dst, uint16_t port,
			 struct udp_msg *m, struct msghdr *mh)
{
	m->to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(dst)};
	m->iov = (struct iovec){(void *)p->buf, p->len};
	memset(&m->ctl, 0, sizeof(m->ctl));
	*mh = (struct msghdr){
	    .msg_name = &m->to,
	    .msg_namelen = sizeof(m->to),
	    .msg_iov = &m->iov,
	    .msg_iovlen = 1,
	    .msg_control = m->ctl.buf,
	    .msg_controllen = sizeof(m->ctl.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
	struct in_pktinfo pi = {.ipi_ifindex = sock->ifindex, .ipi_spec_dst.s_addr = htonl(sock->local_addr)};
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
}

static int udp_send(const struct dhcp_sock *sock, const struct dhcp_tx *p, uint32_t dst, uint16_t port)
{
	struct udp_msg m;
	struct msghdr mh;
	udp_msg_fill(sock, p, dst, port, &m, &mh);
	return sendmsg(sock->udp_fd, &mh, 0) < 0 ? -errno : 0;
}

/* To yiaddr at chaddr without ARP: the client has no address yet and may
 * not answer ARP for the one we offer. The IPv4 packet goes to pkt
 * (DHCP_SRV_RAW_BUF bytes); returns its length or -errno. */
static int chaddr_fill(struct dhcp_sock *sock, const struct dhcp_tx *p, uint8_t *pkt, struct sockaddr_ll *sll)
{
	uint32_t src = p->src_addr ? p->src_addr : sock->local_addr;

	if (sock->pkt_fd < 0 || !src)
		return -ENOTCONN;
	int n = rawpkt_udp_build(pkt, DHCP_SRV_RAW_BUF, src, p->dest_addr, DHCP4_SERVER_PORT, p->dest_port,
				 sock->net->ip_id++, p->buf, p->len);
	if (n < 0)
		return n;
	*sll = (struct sockaddr_ll){
	    .sll_family = AF_PACKET,
	    .sll_protocol = htons(ETH_P_IP),
	    .sll_ifindex = sock->ifindex,
	    .sll_halen = 6,
	};
	memcpy(sll->sll_addr, p->chaddr, 6);
	return n;
}

/* sendmmsg until every message was tried: sendmmsg stops at the first that
 * fails (and says so only when it is the first of the call), so that one
 * gets -errno in ret[idx[k]] and the rest go on in the next call. */
static void send_all(int fd, struct mmsghdr *m, size_t n, const size_t *idx, int *ret)
{
	size_t i = 0;

	while (i < n) {
		int r = sendmmsg(fd, m + i, (unsigned)(n - i), 0);
		if (r > 0) {
			for (int k = 0; k < r; k++)
				ret[idx[i + (size_t)k]] = 0;
			i += (size_t)r;
		} else {
			ret[idx[i]] = r < 0 ? -errno : -EIO;
			i++;
		}
	}
}

/* At 1,000 leases a second a wake-up of the loop sends a few OFFERs and a
 * commit releases a few ACKs: one sendmmsg each instead of one sendmsg per
 * reply. */
void dhcp_sock_send_many(struct dhcp_sock *sock, const struct dhcp_tx *const *tx, size_t n, int *ret,
			 int *ret_chaddr_err)
{
	struct dhcp_net *net = sock->net;
	struct udp_msg um[DHCP_SRV_BATCH];
	struct mmsghdr umh[DHCP_SRV_BATCH], pmh[DHCP_SRV_BATCH];
	struct sockaddr_ll sll[DHCP_SRV_BATCH];
	struct iovec piov[DHCP_SRV_BATCH];
	size_t uidx[DHCP_SRV_BATCH] = {0}, pidx[DHCP_SRV_BATCH] = {0}, nu = 0, np = 0;

	if (n > DHCP_SRV_BATCH)
		n = DHCP_SRV_BATCH; /* the caller's chunk; never more */
	memset(umh, 0, sizeof(umh));
	memset(pmh, 0, sizeof(pmh));
	for (size_t i = 0; i < n; i++) {
		const struct dhcp_tx *p = tx[i];
		uint16_t port = p->dest_port ? p->dest_port : DHCP4_CLIENT_PORT;
		uint32_t dst = 0xffffffffu;

		ret[i] = ret_chaddr_err[i] = 0;
		switch (p->dest) {
		case DHCP_DEST_RELAY:
		case DHCP_DEST_CIADDR:
			dst = p->dest_addr;
			break;
		case DHCP_DEST_CHADDR: {
			int len = chaddr_fill(sock, p, net->raw_bufs[np], &sll[np]);
			if (len < 0) {
				ret_chaddr_err[i] = len;
				break; /* broadcast */
			}
			piov[np] = (struct iovec){net->raw_bufs[np], (size_t)len};
			pmh[np].msg_hdr = (struct msghdr){.msg_name = &sll[np],
							  .msg_namelen = sizeof(sll[np]),
							  .msg_iov = &piov[np],
							  .msg_iovlen = 1};
			pidx[np++] = i;
			continue;
		}
		case DHCP_DEST_BROADCAST:
			break;
		default:
			continue; /* nothing to send */
		}
		udp_msg_fill(sock, p, dst, port, &um[nu], &umh[nu].msg_hdr);
		uidx[nu++] = i;
	}
	send_all(sock->pkt_fd, pmh, np, pidx, ret);
	for (size_t k = 0; k < np; k++) {
		size_t i = pidx[k];
		if (ret[i] < 0) { /* broadcast instead */
			const struct dhcp_tx *p = tx[i];
			ret_chaddr_err[i] = ret[i];
			ret[i] = udp_send(sock, p, 0xffffffffu, p->dest_port ? p->dest_port : DHCP4_CLIENT_PORT);
		}
	}
	send_all(sock->udp_fd, umh, nu, uidx, ret);
}

/* One reply: the same path as a batch of one. */
int dhcp_sock_send(struct dhcp_sock *sock, const struct dhcp_tx *tx, int *ret_chaddr_err)
{
	int r;
	dhcp_sock_send_many(sock, &tx, 1, &r, ret_chaddr_err);
	return r;
}
