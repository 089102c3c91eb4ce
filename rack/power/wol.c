/* The Wake-on-LAN driver: a magic packet (UDP, broadcast) out of the rack
 * interface on the machine's VLAN. Wake-on-LAN can only wake: a query
 * answers unknown, and off is refused as something a person must do. */
#include "rack/power/wol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "rack/netns.h"
#include "rack/power/driver.h"

void wol_packet(const uint8_t mac[6], uint8_t out[WOL_PACKET_LEN])
{
	memset(out, 0xff, 6);
	for (int i = 0; i < 16; i++)
		memcpy(out + 6 + 6 * i, mac, 6);
}

int wol_packet_find(const uint8_t *buf, size_t len, uint8_t mac[6])
{
	for (size_t off = 0; off + WOL_PACKET_LEN <= len; off++) {
		size_t i = 0;
		while (i < 6 && buf[off + i] == 0xff)
			i++;
		if (i < 6)
			continue;
		const uint8_t *m = buf + off + 6;
		bool same = true;
		for (int k = 1; k < 16 && same; k++)
			same = memcmp(m, m + 6 * k, 6) == 0;
		if (!same)
			continue;
		if (mac)
			memcpy(mac, m, 6);
		return 0;
	}
	return -ENOENT;
}

static int wol_send(const struct power_op *op, char *err, size_t errlen)
{
	const struct power_params *p = &op->params;
	uint8_t pkt[WOL_PACKET_LEN];
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(p->port ? p->port : 9)};
	const char *bcast = p->broadcast && p->broadcast[0] ? p->broadcast : "255.255.255.255";
	int one = 1;

	if (inet_pton(AF_INET, bcast, &to.sin_addr) != 1) {
		snprintf(err, errlen, "power_broadcast %s is not an IPv4 address", bcast);
		return -EINVAL;
	}
	int fd = netns_socket(op->nsfd, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open a socket: %s", strerror(-fd));
		return fd;
	}
	int r = setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	if (r == 0 && p->interface && p->interface[0])
		r = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, p->interface, (socklen_t)strlen(p->interface));
	if (r < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot use interface %s: %s", p->interface ? p->interface : "?", strerror(-r));
		close(fd);
		return r;
	}
	wol_packet(p->mac, pkt);
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot send the magic packet on %s: %s",
			 p->interface && p->interface[0] ? p->interface : "the default route", strerror(-r));
	}
	close(fd);
	return r;
}

static void wol_start(void *ctx, struct power_op *op)
{
	char err[256];
	const uint8_t *m = op->params.mac;

	op->result.state = POWER_STATE_UNKNOWN;
	switch (op->action) {
	case POWER_QUERY:
		power_result_set(&op->result, POWER_OK, "%s", "");
		break;
	case POWER_OFF:
		op->result.needs_person = true;
		power_result_set(&op->result, POWER_FAIL,
				 "Wake-on-LAN cannot power a machine off: someone must (or use a BMC driver)");
		break;
	case POWER_ON:
	case POWER_CYCLE:
		if (wol_send(op, err, sizeof(err)) < 0) {
			power_result_set(&op->result, POWER_FAIL, "Wake-on-LAN: %s", err);
			break;
		}
		log_info("power: magic packet for %02x:%02x:%02x:%02x:%02x:%02x sent on %s", m[0], m[1], m[2], m[3],
			 m[4], m[5], op->params.interface && op->params.interface[0] ? op->params.interface : "?");
		power_result_set(&op->result, POWER_OK, "%s",
				 op->action == POWER_CYCLE ? "magic packet sent (a machine that is on ignores it)"
							   : "");
		break;
	}
	op->done(op);
}

static void wol_cancel(void *ctx, struct power_op *op)
{
	/* Never pending: wol_start completes at once. */
}

const struct power_driver power_driver_wol = {
    .name = "wol",
    .start = wol_start,
    .cancel = wol_cancel,
};
