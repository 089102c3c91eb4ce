/* DHCP HA partner messages (proto/ironrack/v1/ha.proto; docs/dhcp-ha.md
 * "Messages"): the codec. ha_msg_decode() takes the bytes of one received
 * HaMessage, checks every field and every array against the limits below,
 * and converts it to struct ha_msg; nothing of the protobuf-c message
 * outlives the call. A message that fails is refused whole.
 *
 * Pure: no I/O, no state. The session shell (next to come) reads the
 * stream and calls this on each message. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rack/dhcp/ha_hash.h"
#include "rack/dhcp/ha_state.h"
#include "rack/dhcp/leases.h"

#define HA_PROTO_VERSION 1	     /* what this code speaks */
#define HA_MSG_MAX	 (2u << 20)  /* bytes of one encoded message */
#define HA_UPDATES_MAX	 4096	     /* leases in one HaUpdates */
#define HA_POOL_MAX	 256	     /* asks in a PoolRequest, ranges in a PoolGrant */
#define HA_RACK_ID_MAX	 64	     /* [A-Za-z0-9._-] */
#define HA_TIME_MAX	 (1LL << 40) /* seconds; ms fields allow 1000x */

enum ha_msg_type {
	HA_MSG_HELLO = 1,
	HA_MSG_UPDATES = 2,
	HA_MSG_ACK = 3,
	HA_MSG_POOL_REQUEST = 4,
	HA_MSG_POOL_GRANT = 5,
	HA_MSG_STATE = 6,
	HA_MSG_SYNC = 7,
	HA_MSG_POOL_CHECK = 8,	 /* ranges: the sender's PEER runs; seq: the check */
	HA_MSG_POOL_UNOWNED = 9, /* ranges: those the sender does not own either */
};

struct ha_hello {
	uint32_t version;
	char rack_id[HA_RACK_ID_MAX + 1];
	enum ha_role role;
	uint16_t vlan;
	uint64_t config_version;
	enum ha_state state;
	uint64_t last_seq_seen;
	int64_t unix_ms;
};

struct ha_pool_ask {
	uint32_t range_id;
	uint32_t count;
	uint32_t free;
};

struct ha_range {
	uint32_t range_id;
	uint32_t first, last;
};

struct ha_state_msg {
	enum ha_state state;
	int64_t since_ms;
	int64_t unix_ms;
	uint64_t last_seq;
	bool tail_sent;
	bool merged;
};

/* One message. Only the part of `type` is meaningful. The arrays are owned
 * by the struct (ha_msg_done frees them). */
struct ha_msg {
	enum ha_msg_type type;
	struct ha_hello hello; /* HELLO */
	/* UPDATES: seq_first; ACK: seq; POOL_GRANT: the giver's seq; SYNC: from_seq;
	 * POOL_CHECK, POOL_UNOWNED: the check's number */
	uint64_t seq;
	/* UPDATES: in journal order. owner is from the sender's point of view
	 * (LOCAL = granted by the sender), as ha_merge() takes the partner's
	 * records. */
	struct lease *leases;
	size_t n_leases;
	struct ha_pool_ask *asks; /* POOL_REQUEST */
	size_t n_asks;
	struct ha_range *ranges; /* POOL_GRANT, POOL_CHECK, POOL_UNOWNED: sorted, disjoint */
	size_t n_ranges;
	struct ha_state_msg state; /* STATE */
};

/* Decode and check. 0, or:
 *   -EMSGSIZE  len > HA_MSG_MAX
 *   -EBADMSG   not an HaMessage, or no body
 *   -EINVAL    a field out of its bounds; *ret_why (may be NULL) names it
 * *ret is reset first and owns nothing after an error. */
int ha_msg_decode(const uint8_t *buf, size_t len, struct ha_msg *ret, const char **ret_why);
void ha_msg_done(struct ha_msg *m);

/* The same checks on a message already unpacked (the gRPC layer unpacks
 * what arrives on the partner stream). */
struct Ironrack__V1__HaMessage;
int ha_msg_from_pb(const struct Ironrack__V1__HaMessage *p, struct ha_msg *ret, const char **ret_why);

/* Encode m (as the shell sends it, and for tests). *ret_buf is malloc'd.
 * Returns 0, or -EINVAL for a type out of range or a field the wire cannot
 * carry (hlen > 16). The result is not checked against the decoder's
 * bounds: the sender's own records are trusted. */
int ha_msg_encode(const struct ha_msg *m, uint8_t **ret_buf, size_t *ret_len);

const char *ha_msg_type_name(enum ha_msg_type t);
