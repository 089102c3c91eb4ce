/* Transfers (and held requests) per client address, so that one host
 * cannot take every transfer slot: a TFTP request needs no handshake and
 * costs a slot until the transfer ends or gives up.
 *
 * Pure bookkeeping: a table from address to count, no sockets, no clock.
 * The address is the client's IP without the port (a host opens as many
 * source ports as it likes); IPv4 and its v4-mapped IPv6 form are the same
 * client. Entries exist only while their count is above zero, so the
 * table never holds more entries than there are transfers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TFTP_CLIENTS_BUCKETS 256

/* A client's key: 16 bytes, IPv4 as v4-mapped IPv6. */
struct tftp_client_key {
	uint8_t addr[16];
};

struct tftp_client_entry;

struct tftp_clients {
	struct tftp_client_entry *buckets[TFTP_CLIENTS_BUCKETS];
	size_t n_entries;
};

/* The key of sa (AF_INET or AF_INET6); -EAFNOSUPPORT for other families. */
int tftp_client_key_of(const struct sockaddr *sa, struct tftp_client_key *ret);

void tftp_clients_init(struct tftp_clients *c);
/* Free every entry (counts are forgotten). */
void tftp_clients_done(struct tftp_clients *c);
/* Count one more for key, unless it already has limit (then -EUSERS and
 * nothing changes). limit 0 = no limit. */
int tftp_clients_take(struct tftp_clients *c, const struct tftp_client_key *key, unsigned limit);
/* Count one less (the key must have been taken). */
void tftp_clients_put(struct tftp_clients *c, const struct tftp_client_key *key);
/* What key holds now. */
unsigned tftp_clients_count(const struct tftp_clients *c, const struct tftp_client_key *key);
