/* External DHCP detection: every external_probe_interval_s, per served
 * interface, broadcast a DHCPDISCOVER from port 68 (our interface MAC as
 * chaddr, broadcast flag set so offers come back broadcast), collect the
 * OFFERs for our xid for DHCP_SRV_EXT_WAIT_S, and report the server
 * identifiers that are not ours through ops->on_external, once per round.
 *
 * The round's socket exists only while the round runs, so port 68 is not
 * held the rest of the time. Our own server sees the DISCOVER too and
 * drops it (chaddr is one of our MACs). */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "rack/dhcp/server_internal.h"
#include "rack/netns.h"

#define EXT_READS_PER_WAKEUP 32

static void ext_timer(evutil_socket_t fd, short what, void *arg);

static void ext_close(struct dhcp_sock *sock)
{
	if (sock->ext.ev) {
		event_free(sock->ext.ev);
		sock->ext.ev = NULL;
	}
	if (sock->ext.fd >= 0) {
		close(sock->ext.fd);
		sock->ext.fd = -1;
	}
	sock->ext.n_servers = 0;
	free(sock->ext.msg);
	sock->ext.msg = NULL;
}

void dhcp_ext_stop(struct dhcp_sock *sock)
{
	ext_close(sock);
	if (sock->ext.timer)
		evtimer_del(sock->ext.timer);
}

void dhcp_ext_schedule(struct dhcp_sock *sock, int delay_s, const struct dhcp_ext_ops *ops, void *arg)
{
	sock->ext.ops = ops;
	sock->ext.arg = arg;
	/* A re-apply must not postpone a round already planned or running:
	 * frequent config pushes would otherwise starve detection. */
	if (sock->ext.timer && evtimer_pending(sock->ext.timer, NULL))
		return;
	ext_close(sock);
	if (!sock->ext.timer)
		sock->ext.timer = evtimer_new(sock->net->base, ext_timer, sock);
	if (!sock->ext.timer)
		return;
	struct timeval tv = {delay_s > 0 ? delay_s : 1, 0};
	evtimer_add(sock->ext.timer, &tv);
}

static void ext_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dhcp_sock *sock = arg;
	struct dhcp4_msg *m = sock->ext.msg;
	uint8_t *buf = sock->net->rx_bufs[0];

	for (int i = 0; i < EXT_READS_PER_WAKEUP; i++) {
		struct sockaddr_in from;
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, DHCP_SRV_RX_BUF, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
		if (n < 0)
			return;
		if (dhcp4_msg_decode(buf, (size_t)n, m, NULL) < 0 || m->op != DHCP4_BOOTREPLY ||
		    m->xid != sock->ext.xid || dhcp4_msg_type(m) != DHCP4_OFFER)
			continue;
		uint32_t sid;
		if (dhcp4_msg_server_id(m, &sid) < 0 || !sid)
			sid = from.sin_addr.s_addr;
		sid = ntohl(sid);
		if (!sid || sock->ext.ops->is_own_addr(sock->ext.arg, sid))
			continue;
		bool known = false;
		for (size_t j = 0; j < sock->ext.n_servers && !known; j++)
			known = sock->ext.servers[j] == sid;
		if (!known && sock->ext.n_servers < DHCP_SRV_EXT_SERVERS)
			sock->ext.servers[sock->ext.n_servers++] = sid;
	}
}

static int ext_socket(const struct dhcp_net *net, const char *name)
{
	int fd = netns_socket(net->nsfd, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	int one = 1;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(DHCP4_CLIENT_PORT)};
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, (socklen_t)strlen(name) + 1) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int ext_send_discover(struct dhcp_sock *sock)
{
	static const uint8_t params[] = {DHCP4_OPT_SUBNET_MASK, DHCP4_OPT_ROUTER, DHCP4_OPT_DNS, DHCP4_OPT_SERVER_ID};
	uint8_t buf[DHCP_SRV_TX_BUF];
	struct dhcp4_msg *m = sock->ext.msg;

	dhcp4_msg_init(m);
	m->op = DHCP4_BOOTREQUEST;
	m->htype = DHCP4_HTYPE_ETHER;
	m->hlen = 6;
	m->xid = sock->ext.xid;
	m->flags = DHCP4_FLAG_BROADCAST;
	memcpy(m->chaddr, sock->mac, 6);
	if (dhcp4_msg_set_u8(m, DHCP4_OPT_MSG_TYPE, DHCP4_DISCOVER) < 0 ||
	    dhcp4_msg_option_set(m, DHCP4_OPT_PARAM_LIST, params, sizeof(params)) < 0)
		return -EINVAL;
	int n = dhcp4_msg_encode(m, DHCP4_MIN_MAX_SIZE, buf, sizeof(buf));
	if (n < 0)
		return n;
	struct sockaddr_in to = {
	    .sin_family = AF_INET, .sin_port = htons(DHCP4_SERVER_PORT), .sin_addr.s_addr = htonl(0xffffffffu)};
	return sendto(sock->ext.fd, buf, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)) < 0 ? -errno : 0;
}

static void ext_round_start(struct dhcp_sock *sock, uint32_t interval)
{
	int r;

	if (!sock->has_mac) {
		r = -ENOTSUP;
		goto fail;
	}
	if (getrandom(&sock->ext.xid, sizeof(sock->ext.xid), 0) < 0)
		sock->ext.xid ^= (uint32_t)sock->ifindex * 2654435761u + (uint32_t)time(NULL);
	r = ext_socket(sock->net, sock->name);
	if (r < 0)
		goto fail;
	sock->ext.fd = r;
	sock->ext.n_servers = 0;
	sock->ext.msg = xmalloc(sizeof(*sock->ext.msg));
	sock->ext.ev = event_new(sock->net->base, sock->ext.fd, EV_READ | EV_PERSIST, ext_readable, sock);
	if (!sock->ext.ev || event_add(sock->ext.ev, NULL) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	r = ext_send_discover(sock);
	if (r < 0)
		goto fail;
	struct timeval tv = {DHCP_SRV_EXT_WAIT_S, 0};
	evtimer_add(sock->ext.timer, &tv);
	return;
fail:
	if (sock->ext.ops->warn_allowed(sock->ext.arg))
		log_warn("dhcp: %s: external DHCP probe not sent: %s", sock->name, strerror(-r));
	ext_close(sock);
	struct timeval next = {interval, 0};
	evtimer_add(sock->ext.timer, &next);
}

static void ext_round_end(struct dhcp_sock *sock, uint32_t interval)
{
	const struct dhcp_ext_ops *ops = sock->ext.ops;
	void *arg = sock->ext.arg;
	uint32_t servers[DHCP_SRV_EXT_SERVERS];
	size_t n = sock->ext.n_servers;
	char name[IFNAMSIZ];
	uint16_t vid = sock->vid;
	uint64_t vlan_id = sock->vlan_id;

	memcpy(name, sock->name, sizeof(name));
	memcpy(servers, sock->ext.servers, n * sizeof(servers[0]));
	ext_close(sock);
	struct timeval next = {interval > DHCP_SRV_EXT_WAIT_S ? interval - DHCP_SRV_EXT_WAIT_S : 1, 0};
	evtimer_add(sock->ext.timer, &next);
	for (size_t i = 0; i < n; i++) {
		struct in_addr a = {htonl(servers[i])};
		char text[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &a, text, sizeof(text));
		log_info("dhcp: %s: another DHCP server answers on this link: %s", sock->name, text);
	}
	/* Last: the callback may apply a new config, which may free sock. */
	ops->on_result(arg, name, vid, vlan_id, servers, n);
}

static void ext_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dhcp_sock *sock = arg;
	uint32_t interval = sock->ext.ops->interval_s(sock->ext.arg);

	if (!interval) {
		ext_close(sock);
		return;
	}
	if (sock->ext.fd < 0)
		ext_round_start(sock, interval);
	else
		ext_round_end(sock, interval);
}
