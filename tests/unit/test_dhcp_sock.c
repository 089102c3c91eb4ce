/* The DHCP server's real sockets (rack/dhcp/server_io.c), on the loopback
 * of a network namespace of the test's own (unshare: needs root, as the
 * rack does): receive coalescing. A datagram after a lull is read at once;
 * while datagrams keep coming the socket is read on a timer, several per
 * wake-up; a read that finds none goes back to waking on each datagram. */
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

static int lo_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	int r = fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ? -1 : 0;
	ifr.ifr_flags |= IFF_UP;
	if (r == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
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

/* What is ready now: no waiting for a timer. */
static void loop_now(struct rx *rx)
{
	event_base_loop(rx->base, EVLOOP_NONBLOCK);
}

static void test_first_datagram_read_at_once_then_coalesced(void **state)
{
	struct rx *rx = *state;

	send_n(rx, 1); /* loopback delivers before sendto returns */
	loop_now(rx);
	assert_int_equal(rx->datagrams, 1);
	assert_int_equal(rx->n_batches, 1);

	/* The socket is now read on the timer: three more wait for it. */
	send_n(rx, 3);
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
	loop_now(rx);
	assert_int_equal(rx->datagrams, 5);
}

/* A full batch means more are queued: read again without waiting. */
static void test_full_batch_read_again_at_once(void **state)
{
	struct rx *rx = *state;

	send_n(rx, DHCP_SRV_BATCH + 5);
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
	loop_now(rx);
	send_n(rx, 2);
	loop_now(rx);
	assert_int_equal(rx->datagrams, 3);
	assert_int_equal(event_pending(rx->sock->udp_poll, EV_TIMEOUT, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_first_datagram_read_at_once_then_coalesced, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_batch_read_again_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_coalescing_off, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
