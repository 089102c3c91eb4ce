/* Helpers shared by the DHCP engine's unit tests (test_dhcp_engine.c,
 * test_dhcp_conform.c): test clients and their requests. */
#pragma once

#include <string.h>

#include "common/wire/dhcp4.h"

/* Client n's MAC, 52:54:00:00:HH:LL. */
static inline void mac_of(unsigned n, uint8_t mac[6])
{
	const uint8_t m[6] = {0x52, 0x54, 0, 0, (uint8_t)(n >> 8), (uint8_t)n};
	memcpy(mac, m, 6);
}

/* m made a fresh request of type from client n, with transaction id xid. */
static inline void request_init(struct dhcp4_msg *m, uint8_t type, unsigned n, uint32_t xid)
{
	dhcp4_msg_init(m);
	m->op = DHCP4_BOOTREQUEST;
	m->htype = DHCP4_HTYPE_ETHER;
	m->hlen = 6;
	m->xid = xid;
	mac_of(n, m->chaddr);
	assert_int_equal(dhcp4_msg_set_u8(m, DHCP4_OPT_MSG_TYPE, type), 0);
}
