/* What a rack sends, checked at the region's boundary before anything reads
 * it: every string has a length limit (and, where it names something, a
 * syntax: interface names, MACs, addresses, CIDRs, enumerations), every
 * repeated field a count limit, every number its range. One table of rows
 * per message ({field, kind, limit}); a message that fails is refused
 * whole with INVALID_ARGUMENT naming the field ("interfaces[2].addresses[0]:
 * not an address/prefix"), never stored or logged raw.
 *
 * Pure: no I/O, no state. The decoded-message checks are what region/rpc
 * calls; rpc_validate_packed() decodes and checks bytes (the fuzz target).
 * The rows say what racks may send; the region's own later checks (a
 * subnet it does not serve, a MAC with no machine) stay where they are. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Limits of the contract (also in docs/rpc.md terms). */
#define RPCV_HOSTNAME_MAX   255
#define RPCV_IFNAME_MAX	    15 /* IFNAMSIZ - 1 */
#define RPCV_VERSION_MAX    64
#define RPCV_SECRET_MAX	    256
#define RPCV_CSR_MAX	    16384
#define RPCV_IFACES_MAX	    1024 /* DB_RACK_IFACES_MAX */
#define RPCV_ADDRESSES_MAX  256	 /* DB_RACK_ADDRESSES_MAX */
#define RPCV_LEASE_EVENTS   16384
#define RPCV_EXT_SERVERS    64
#define RPCV_POWER_RESULTS  4096
#define RPCV_STATUS_MSG_MAX 1024
#define RPCV_TOKEN_MAX	    128
#define RPCV_INVENTORY_MAX  (256 * 1024) /* INV_BODY_MAX */
#define RPCV_NEIGH_EVENTS   4096	 /* a rack sends DISC_REPORT_BATCH_MAX */

struct rpcv_error {
	char field[128];  /* dotted path, "" for the message itself */
	char message[96]; /* what is wrong with it */
};

/* 0, or -EINVAL with err filled. desc is the message's protobuf-c
 * descriptor; a message without a table is accepted (nothing to check). */
int rpc_validate(const ProtobufCMessage *msg, struct rpcv_error *err);

/* Decode data as desc and check it: 0 valid, -EBADMSG does not decode,
 * -EINVAL invalid (err filled), -ENOENT no table for desc. */
int rpc_validate_packed(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
			struct rpcv_error *err);

/* Fields of the tabled messages without a row (a message field without a
 * table counts too), named "Message.field " in buf; for the unit test. */
size_t rpcv_rows_missing(char *buf, size_t size);

/* "field: message" (or just message) in buf; returns buf. */
const char *rpcv_error_text(const struct rpcv_error *err, char *buf, size_t size);

/* The checks of single values (also used by the rows). */
bool rpcv_is_ifname(const char *s);
bool rpcv_is_mac(const char *s);
bool rpcv_is_ipv4(const char *s);
bool rpcv_is_ip(const char *s);
bool rpcv_is_cidr(const char *s);
/* Valid UTF-8 of at most max bytes; line: no control characters either. */
bool rpcv_is_text(const char *s, size_t max, bool line);
