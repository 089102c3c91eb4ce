/* The DHCP server's real sockets (rack/dhcp/server_io.c), on the loopback
 * of a network namespace of the test's own (unshare: needs root, as the
 * rack does).
 * - Receive coalescing: a datagram after a lull is read at once; while
 *   datagrams keep coming the socket is read on a timer, several per
 *   wake-up; a read that finds none goes back to waking on each datagram.
 * - Batched sends: replies through one socket leave in one sendmmsg (and
 *   one for those to chaddr); one that fails does not stop the rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rack/dhcp/server_internal.h"

/* Long enough that a loaded machine does not reach it between sending and
 * looking; the rack's own range stops at 10 ms. */
#define COALESCE_US 300000

struct rx {
	struct event_base *base;
	struct dhcp_net net;
	struct dhcp_sock *sock;
	int client; /* UDP socket sending to 127.0.0.1:67 */
	size_t datagrams, in_batch;
	size_t batches[16]; /* datagrams of each non-empty batch */
	size_t n_batches;
};

static void on_datagram(void *arg, struct dhcp_sock *sock, const struct dhcp_datagram *dg)
{
	struct rx *rx = arg;
	rx->datagrams++;
	rx->in_batch++;
}

static void on_batch_end(void *arg, struct dhcp_sock *sock, int err)
{
	struct rx *rx = arg;
	assert_int_equal(err, 0);
	if (rx->in_batch && rx->n_batches < 16)
		rx->batches[rx->n_batches++] = rx->in_batch;
	rx->in_batch = 0;
}

static void on_arp_readable(void *arg, struct dhcp_sock *sock)
{
}

static void on_frame(void *arg, struct dhcp_sock *sock, const struct dhcp_frame *f)
{
}

static const struct dhcp_sock_ops ops = {on_datagram, on_batch_end, on_arp_readable, on_frame};

#define LO_MTU 1280 /* a larger packet to chaddr fails (EMSGSIZE) */

static int lo_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	int r = fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ? -1 : 0;
	ifr.ifr_flags |= IFF_UP;
	if (r == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		r = -1;
	ifr.ifr_mtu = LO_MTU;
	if (r == 0 && ioctl(fd, SIOCSIFMTU, &ifr) < 0)
		r = -1;
	if (fd >= 0)
		close(fd);
	return r;
}

static int setup(void **state)
{
	static bool in_netns;
	if (!in_netns) {
		if (unshare(CLONE_NEWNET) < 0 || lo_up() < 0) {
			fprintf(stderr, "test_dhcp_sock: needs root for a network namespace of its own: %s\n",
				strerror(errno));
			return -1;
		}
		in_netns = true;
	}
	struct rx *rx = calloc(1, sizeof(*rx));
	char why[256] = "";
	rx->base = event_base_new();
	rx->net = (struct dhcp_net){.base = rx->base, .nsfd = -1, .ops = &ops, .arg = rx};
	rx->net.rx_bufs = calloc(DHCP_SRV_BATCH, sizeof(*rx->net.rx_bufs));
	rx->net.raw_bufs = calloc(DHCP_SRV_BATCH, sizeof(*rx->net.raw_bufs));
	rx->net.rx_coalesce_us = COALESCE_US;
	if (dhcp_sock_open(&rx->net, "lo", false, &rx->sock, why, sizeof(why)) < 0) {
		fprintf(stderr, "dhcp_sock_open: %s\n", why);
		return -1;
	}
	rx->client = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(rx->client >= 0);
	*state = rx;
	return 0;
}

static int teardown(void **state)
{
	struct rx *rx = *state;
	dhcp_sock_free(rx->sock);
	close(rx->client);
	free(rx->net.rx_bufs);
	free(rx->net.raw_bufs);
	event_base_free(rx->base);
	free(rx);
	return 0;
}

static void send_n(struct rx *rx, int n)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(67), .sin_addr.s_addr = htonl(0x7f000001)};
	uint8_t msg[300] = {1};
	for (int i = 0; i < n; i++)
		assert_int_equal(sendto(rx->client, msg, sizeof(msg), 0, (struct sockaddr *)&to, sizeof(to)),
				 (ssize_t)sizeof(msg));
}

/* Until the server's socket has a datagram queued: the loopback delivers
 * in the sender's softirq, normally before sendto returns, but a busy
 * machine may leave that to ksoftirqd. */
static void wait_queued(struct rx *rx)
{
	struct pollfd p = {.fd = rx->sock->udp_fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
}

/* What is ready now: no waiting for a timer. */
static void loop_now(struct rx *rx)
{
	event_base_loop(rx->base, EVLOOP_NONBLOCK);
}

static void test_first_datagram_read_at_once_then_coalesced(void **state)
{
	struct rx *rx = *state;

	send_n(rx, 1);
	wait_queued(rx);
	loop_now(rx);
	assert_int_equal(rx->datagrams, 1);
	assert_int_equal(rx->n_batches, 1);

	/* The socket is now read on the timer: three more wait for it. */
	send_n(rx, 3);
	wait_queued(rx);
	loop_now(rx);
	assert_int_equal(rx->datagrams, 1);
	event_base_loop(rx->base, EVLOOP_ONCE); /* the timer */
	assert_int_equal(rx->datagrams, 4);
	assert_int_equal(rx->n_batches, 2);
	assert_int_equal(rx->batches[1], 3); /* one read took all three */

	/* The next read finds nothing: back to waking on a datagram. */
	event_base_loop(rx->base, EVLOOP_ONCE);
	assert_int_equal(rx->datagrams, 4);
	assert_int_equal(event_pending(rx->sock->udp_poll, EV_TIMEOUT, NULL), 0);
	send_n(rx, 1);
	wait_queued(rx);
	loop_now(rx);
	assert_int_equal(rx->datagrams, 5);
}

/* A full batch means more are queued: read again without waiting. */
static void test_full_batch_read_again_at_once(void **state)
{
	struct rx *rx = *state;

	send_n(rx, DHCP_SRV_BATCH + 5);
	wait_queued(rx);
	loop_now(rx);
	assert_int_equal(rx->batches[0], DHCP_SRV_BATCH);
	loop_now(rx);
	assert_int_equal(rx->datagrams, DHCP_SRV_BATCH + 5);
	assert_int_equal(rx->batches[1], 5);
}

/* Coalescing off: every readable event is read at once. */
static void test_coalescing_off(void **state)
{
	struct rx *rx = *state;

	rx->net.rx_coalesce_us = 0;
	send_n(rx, 1);
	wait_queued(rx);
	loop_now(rx);
	send_n(rx, 2);
	wait_queued(rx);
	loop_now(rx);
	assert_int_equal(rx->datagrams, 3);
	assert_int_equal(event_pending(rx->sock->udp_poll, EV_TIMEOUT, NULL), 0);
}

static struct dhcp_tx reply_to(uint8_t mark, enum dhcp_dest dest, uint32_t addr, uint16_t port, size_t len)
{
	struct dhcp_tx tx = {.dest = dest, .dest_addr = addr, .dest_port = port, .type = DHCP_OFFER, .len = len};
	memset(tx.buf, mark, tx.len);
	return tx;
}

static void test_send_many(void **state)
{
	struct rx *rx = *state;
	int peer = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in at = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t len = sizeof(at);
	assert_int_equal(bind(peer, (struct sockaddr *)&at, sizeof(at)), 0);
	assert_int_equal(getsockname(peer, (struct sockaddr *)&at, &len), 0);
	uint16_t port = ntohs(at.sin_port);

	/* The third is larger than the loopback's MTU: that send to chaddr
	 * fails alone (sendmmsg stops at it), it is broadcast instead, and the
	 * fourth still goes (ret 0 only from a sendmmsg that counted it). */
	struct dhcp_tx tx[5] = {
	    reply_to(1, DHCP_DEST_CIADDR, 0x7f000001, port, 300),
	    reply_to(2, DHCP_DEST_CHADDR, 0x7f000001, port, 300),
	    reply_to(3, DHCP_DEST_CHADDR, 0x7f000001, port, LO_MTU + 100),
	    reply_to(4, DHCP_DEST_CHADDR, 0x7f000001, port, 300),
	    reply_to(5, DHCP_DEST_RELAY, 0x7f000001, port, 300),
	};
	const struct dhcp_tx *p[5] = {&tx[0], &tx[1], &tx[2], &tx[3], &tx[4]};
	int ret[5] = {-1, -1, -1, -1, -1}, chaddr_err[5] = {-1, -1, -1, -1, -1};
	dhcp_sock_send_many(rx->sock, p, 5, ret, chaddr_err);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(ret[i], 0);
		assert_int_equal(chaddr_err[i], i == 2 ? -EMSGSIZE : 0);
	}

	/* The UDP ones reach the peer, in order. (The frames to chaddr leave
	 * on the loopback but do not come back up to a UDP socket, and the
	 * broadcast is not for the peer's unicast address.) */
	uint8_t got[2] = {0};
	uint8_t buf[2048];
	for (int i = 0; i < 2; i++) {
		ssize_t n = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);
		assert_int_equal(n, 300);
		got[i] = buf[0];
	}
	assert_true(recv(peer, buf, sizeof(buf), MSG_DONTWAIT) < 0);
	assert_memory_equal(got, ((uint8_t[]){1, 5}), 2);
	close(peer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_first_datagram_read_at_once_then_coalesced, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_batch_read_again_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_coalescing_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_send_many, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
