/* An ARP flood at a steady rate, from a packet socket in the namespace it
 * runs in: for the discovery flood test (tests/system/test_discovery_flood.py)
 * and the discovery benchmark (tests/bench/discovery.py).
 *
 *   arpflood -i IFACE -r RATE -t SECONDS [-n SENDERS] [-N NET] [-T TARGET]
 *
 * Sends RATE ARP requests per second for SECONDS, paced every millisecond
 * and written with sendmmsg(). Request k comes from sender k mod SENDERS:
 * MAC 02:77:00:hh:hh:hh and address NET + 1 + (k mod SENDERS) (NET default
 * 10.77.0.0, SENDERS default 50000), asking for TARGET (default NET + 0.0.0.1
 * less one: 10.77.255.254, an address nobody holds). Prints on exit:
 *
 *   sent=N elapsed_ms=N rate=N
 *
 * Frames the socket refuses for want of buffer space are retried on the
 * next tick, so sent counts only what the kernel took. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME_LEN 60
#define BATCH	  256

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void frame_fill(uint8_t *f, uint32_t sender, uint32_t net, uint32_t target)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t mac[6] = {0x02, 0x77, 0x00, (uint8_t)(sender >> 16), (uint8_t)(sender >> 8), (uint8_t)sender};
	uint32_t spa = htonl(net + 1 + sender), tpa = htonl(target);

	memset(f, 0, FRAME_LEN);
	memcpy(f, bcast, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x08, f[13] = 0x06; /* ARP */
	f[14] = 0x00, f[15] = 0x01; /* Ethernet */
	f[16] = 0x08, f[17] = 0x00; /* IPv4 */
	f[18] = 6, f[19] = 4;
	f[20] = 0x00, f[21] = 0x01; /* request */
	memcpy(f + 22, mac, 6);
	memcpy(f + 28, &spa, 4);
	memcpy(f + 38, &tpa, 4);
}

static void usage(void)
{
	fprintf(stderr, "usage: arpflood -i IFACE -r RATE -t SECONDS [-n SENDERS] [-N NET] [-T TARGET]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *ifname = NULL;
	long rate = 0, senders = 50000;
	double seconds = 0;
	struct in_addr net = {htonl(0x0a4d0000)}, target = {0};
	int opt;

	while ((opt = getopt(argc, argv, "i:r:t:n:N:T:")) != -1) {
		switch (opt) {
		case 'i':
			ifname = optarg;
			break;
		case 'r':
			rate = strtol(optarg, NULL, 10);
			break;
		case 't':
			seconds = strtod(optarg, NULL);
			break;
		case 'n':
			senders = strtol(optarg, NULL, 10);
			break;
		case 'N':
			if (inet_pton(AF_INET, optarg, &net) != 1)
				usage();
			break;
		case 'T':
			if (inet_pton(AF_INET, optarg, &target) != 1)
				usage();
			break;
		default:
			usage();
		}
	}
	if (!ifname || rate <= 0 || rate > 10000000 || seconds <= 0 || senders <= 0 || senders > 0xfffffe)
		usage();
	uint32_t net_h = ntohl(net.s_addr);
	uint32_t target_h = target.s_addr ? ntohl(target.s_addr) : (net_h | 0xfffe);

	unsigned ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "arpflood: %s: %s\n", ifname, strerror(errno));
		return 1;
	}
	int fd = socket(AF_PACKET, SOCK_RAW, 0); /* send only: receive nothing */
	if (fd < 0) {
		fprintf(stderr, "arpflood: packet socket: %s\n", strerror(errno));
		return 1;
	}
	struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = (int)ifindex, .sll_halen = 6};
	memset(to.sll_addr, 0xff, 6);

	static uint8_t frames[BATCH][FRAME_LEN];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){frames[i], FRAME_LEN};
		msgs[i] = (struct mmsghdr){
		    .msg_hdr = {.msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov[i], .msg_iovlen = 1}};
	}

	int64_t start = now_us(), end = start + (int64_t)(seconds * 1e6);
	uint64_t sent = 0, total = (uint64_t)((double)rate * seconds);
	for (;;) {
		int64_t t = now_us();
		uint64_t due = t >= end ? total : (uint64_t)((double)(t - start) * (double)rate / 1e6);
		while (sent < due) {
			size_t n = due - sent < BATCH ? (size_t)(due - sent) : BATCH;
			for (size_t i = 0; i < n; i++)
				frame_fill(frames[i], (uint32_t)((sent + i) % (uint64_t)senders), net_h, target_h);
			int got = sendmmsg(fd, msgs, (unsigned)n, 0);
			if (got < 0) {
				if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)
					break; /* the next tick tries again */
				fprintf(stderr, "arpflood: send: %s\n", strerror(errno));
				return 1;
			}
			sent += (uint64_t)got;
		}
		if (t >= end && sent >= total)
			break;
		if (t >= end + 2000000) /* two seconds late: the kernel will not take more */
			break;
		struct timespec tick = {0, 1000000};
		nanosleep(&tick, NULL);
	}
	int64_t elapsed = now_us() - start;
	printf("sent=%" PRIu64 " elapsed_ms=%" PRId64 " rate=%" PRIu64 "\n", sent, elapsed / 1000,
	       elapsed > 0 ? sent * 1000000 / (uint64_t)elapsed : 0);
	close(fd);
	return 0;
}
