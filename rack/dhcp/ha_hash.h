/* DHCP HA load balancing (docs/dhcp-ha.md "Terms": Bucket, HBA): the
 * RFC 3074 §6 hash of a client and which rack of the pair answers it.
 *
 * The hash is RFC 3074's "Pearson's hash" with the RFC's own 256-byte
 * mixing table: every byte of the key, last to first, through the table,
 * starting from the key length. The primary answers buckets 0-127, the
 * secondary 128-255. A rack answers a client of the partner's buckets only
 * once the client's `secs` exceeds the takeover threshold (RFC 3074 §3,
 * "Service Delay").
 *
 * The key is the client identifier (option 61) when the subnet keys leases
 * by it (match_client_id) or the client has no hardware address, else
 * chaddr[0..hlen): the same identity the engine uses for leases
 * (rack/dhcp/engine.h), so one client is always answered by one rack. RFC
 * 3074 §4 prefers option 61 whenever present; we do not, because a PXE ROM,
 * iPXE and the installed OS send different client ids for one NIC and the
 * machine must stay with the rack that holds its lease.
 *
 * Pure: no I/O, no state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HA_BUCKETS 256

enum ha_role {
	HA_ROLE_PRIMARY = 1,
	HA_ROLE_SECONDARY = 2,
};

/* RFC 3074 §6 loadb_p_hash over key[0..len). len is taken mod 256, as
 * the RFC's unsigned char does. */
uint8_t ha_hash(const uint8_t *key, size_t len);

/* The RFC's mixing table (for the unit test). */
extern const uint8_t ha_hash_table[HA_BUCKETS];

/* Who answers a bucket: the primary 0-127, the secondary 128-255. */
enum ha_role ha_bucket_role(uint8_t bucket);

/* The client's bucket (0..255), or -ENOENT when it has no usable key (no
 * chaddr and no client id). hlen > 16 counts as no chaddr, as in the
 * engine; so does a client_id_len of 0. */
int ha_client_bucket(const uint8_t *chaddr, uint8_t hlen, const uint8_t *client_id, size_t client_id_len,
		     bool match_client_id);

/* Should a rack of role `role` answer a client of `bucket` whose request
 * says it has been trying for `secs` seconds? Its own buckets always; the
 * partner's once secs > takeover_secs (and never when takeover_secs is 0:
 * 0 turns the delayed service off). */
bool ha_bucket_serves(enum ha_role role, uint8_t bucket, uint16_t secs, uint16_t takeover_secs);

const char *ha_role_name(enum ha_role role);
