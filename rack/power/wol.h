/* Wake-on-LAN's magic packet (pure). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define WOL_PACKET_LEN 102

/* Six 0xff bytes, then the MAC sixteen times. */
void wol_packet(const uint8_t mac[6], uint8_t out[WOL_PACKET_LEN]);
/* Is buf a magic packet (anywhere in it, as receivers look for it)? If so
 * and mac is not NULL, the MAC it wakes. */
int wol_packet_find(const uint8_t *buf, size_t len, uint8_t mac[6]);
