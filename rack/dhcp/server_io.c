/* The DHCP server's sockets: one UDP socket on port 67 per served
 * interface, a send-only packet socket for replies to chaddr, the ARP
 * socket for probes; the receive loop and the send paths.
 *
 * A leaf, like systemd's dhcp-network.c: it reads datagrams and hands
 * them to net->ops->on_datagram; it does not decode them, does not know
 * the engine or the lease store, and does not log. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
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
	sock->pkt_fd = sock->arp_fd = sock->ext.fd = -1;
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
	if (want_arp) {
		int fd;
		r = dhcp_sock_open_arp(net, sock, &fd, why, why_len);
		if (r < 0)
			goto fail;
		dhcp_sock_attach_arp(sock, fd);
	}
	sock->udp_ev = event_new(net->base, sock->udp_fd, EV_READ | EV_PERSIST, sock_readable, sock);
	if (!sock->udp_ev || event_add(sock->udp_ev, NULL) < 0) {
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
	if (sock->udp_fd >= 0)
		close(sock->udp_fd);
	if (sock->pkt_fd >= 0)
		close(sock->pkt_fd);
	free(sock);
}

/* ---- receive ---------------------------------------------------------------- */

static void sock_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dhcp_sock *sock = arg;
	struct dhcp_net *net = sock->net;
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
		net->ops->on_datagram(net->arg, sock, &dg);
	}
	net->ops->on_batch_end(net->arg, sock, 0);
}

/* ---- send ----------------------------------------------------------------------- */

static int udp_send(const struct dhcp_sock *sock, const struct dhcp_tx *p, uint32_t dst, uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(dst)};
	struct iovec iov = {(void *)p->buf, p->len};
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {
	    .msg_name = &sin,
	    .msg_namelen = sizeof(sin),
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = ctl.buf,
	    .msg_controllen = sizeof(ctl.buf),
	};
	memset(&ctl, 0, sizeof(ctl));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
	struct in_pktinfo pi = {.ipi_ifindex = sock->ifindex, .ipi_spec_dst.s_addr = htonl(sock->local_addr)};
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	return sendmsg(sock->udp_fd, &mh, 0) < 0 ? -errno : 0;
}

/* To yiaddr at chaddr without ARP: the client has no address yet and may
 * not answer ARP for the one we offer. */
static int chaddr_send(struct dhcp_sock *sock, const struct dhcp_tx *p)
{
	uint8_t pkt[RAWPKT_IP_HDR_LEN + RAWPKT_UDP_HDR_LEN + DHCP_SRV_TX_BUF];
	uint32_t src = p->src_addr ? p->src_addr : sock->local_addr;

	if (sock->pkt_fd < 0 || !src)
		return -ENOTCONN;
	int n = rawpkt_udp_build(pkt, sizeof(pkt), src, p->dest_addr, DHCP4_SERVER_PORT, p->dest_port,
				 sock->net->ip_id++, p->buf, p->len);
	if (n < 0)
		return n;
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET,
	    .sll_protocol = htons(ETH_P_IP),
	    .sll_ifindex = sock->ifindex,
	    .sll_halen = 6,
	};
	memcpy(sll.sll_addr, p->chaddr, 6);
	return sendto(sock->pkt_fd, pkt, (size_t)n, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0 ? -errno : 0;
}

int dhcp_sock_send(struct dhcp_sock *sock, const struct dhcp_tx *tx, int *ret_chaddr_err)
{
	uint16_t port = tx->dest_port ? tx->dest_port : DHCP4_CLIENT_PORT;
	int r;

	*ret_chaddr_err = 0;
	switch (tx->dest) {
	case DHCP_DEST_RELAY:
	case DHCP_DEST_CIADDR:
		return udp_send(sock, tx, tx->dest_addr, port);
	case DHCP_DEST_CHADDR:
		r = chaddr_send(sock, tx);
		if (r == 0)
			return 0;
		*ret_chaddr_err = r;
		/* fall through */
	case DHCP_DEST_BROADCAST:
		return udp_send(sock, tx, 0xffffffffu, port);
	default:
		return 0;
	}
}
