/* The rack's durable DHCPv4 lease store.
 *
 * One record per IPv4 address (the address is the primary key). Lookups by
 * address, by client identifier (option 61) and by hardware address are hash
 * indexes; "is this address taken" and "first free address in [a, b]" use a
 * sparse bitmap (one 64-bit word per 64 addresses that were ever touched), so
 * a full /16 is scanned in ~1,000 word tests, not 65,536 lookups.
 *
 * Durability (ARCHITECTURE.md: "no DHCP lease that was ACKed is lost"):
 * every change except an OFFER is appended to a journal. Changes are staged
 * into an in-memory batch (and applied to the in-memory view at once, so the
 * next packet of the same batch sees them); a commit writes the whole batch
 * with one write() and one fdatasync() (group commit). The caller must not
 * send an ACK whose change has seq > lease_store_durable_seq().
 *
 * Two ways to commit, both correct:
 *   - synchronous: lease_store_commit() from the event loop at the end of
 *     each batch of received packets;
 *   - asynchronous: lease_store_flush_begin() (loop thread) hands the batch
 *     to a struct lease_flush; lease_flush_run() (any thread; it touches only
 *     the token, never the store) does write + fdatasync; then
 *     lease_store_flush_done() (loop thread) marks it durable. At most one
 *     flush is in flight; stages may continue meanwhile into a new batch.
 * The store itself is not thread-safe: every lease_store_* call belongs to
 * one thread.
 *
 * A failed write or fdatasync poisons the store (-EIO from then on): after a
 * failed fsync Linux may have dropped the dirty pages, so nothing about the
 * journal tail can be trusted in this process. The shell must not ACK the
 * pending changes, and reopens the store (replay truncates whatever tail
 * did not make it).
 *
 * The journal file runs ahead of its records: lease_flush_run() extends it
 * with zeros LEASE_JOURNAL_PREZERO bytes at a time, made durable before a
 * record is written there, so a commit overwrites blocks that are already
 * on disk and its fdatasync() has no size or block allocation to write.
 * Replay stops at the zeros; the store truncates them away at open and
 * grows the file again with its first commit.
 *
 * Files in dir: "leases.snap" (snapshot), "leases.journal" (journal), and
 * transient "*.tmp" during compaction (deleted at open). Both files start
 * with a 32-byte header (magic, version, seq) and continue with records:
 *   u32 len (payload bytes), u32 crc32c(payload), payload[len]
 * all little-endian. Every record carries its seq; seqs strictly increase.
 * The snapshot header holds the seq of the last change it contains; journal
 * records with seq <= that are already in the snapshot and are skipped. That
 * is how a crash at any step of compaction (snapshot renamed but journal not
 * yet reset) recovers the right state: the snapshot wins for old seqs, the
 * journal for newer ones.
 *
 * Replay of the journal stops at the first record that is incomplete or
 * fails its CRC, and the file is truncated there. We stop rather than skip:
 * a length field that lies cannot be trusted to find the next record, and
 * applying later changes over a lost one could build a state that never
 * existed (e.g. two clients on one address). A bad record followed by
 * more than zeros is corruption, not a torn write: the journal is then
 * first copied to "leases.journal.corrupt" for the operator, and
 * lease_replay_stats.corrupt is set. A snapshot that fails to parse is never
 * truncated: open returns -EBADMSG (a snapshot is written with fsync+rename,
 * so damage there is not a crash artefact).
 *
 * Library code does not log; lease_store_open() returns counts for the shell
 * to log once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEASE_HWADDR_MAX    16	/* chaddr field size */
#define LEASE_CLIENT_ID_MAX 255 /* option 61 is one option: at most 255 bytes */
#define LEASE_HOSTNAME_MAX  64	/* bytes including the NUL (a DNS label) */

enum lease_state {
	LEASE_FREE = 0,	    /* no lease; never stored (returned by lookups' callers) */
	LEASE_OFFERED = 1,  /* in memory only: an OFFER is not a promise */
	LEASE_ACTIVE = 2,   /* ACKed; durable */
	LEASE_RELEASED = 3, /* client sent RELEASE; address free, record kept for affinity */
	LEASE_EXPIRED = 4,  /* reclaimed after expiry + grace; address free */
	LEASE_DECLINED = 5, /* quarantined (conflict) until expiry; see reason */
	LEASE_RESERVED = 6, /* held out of the dynamic pool (admin / host reservation) */
};
#define LEASE_STATE_MAX LEASE_RESERVED

/* Why an address is quarantined (state DECLINED). */
enum lease_conflict {
	LEASE_CONFLICT_NONE = 0,
	LEASE_CONFLICT_DECLINE = 1, /* client sent DHCPDECLINE */
	LEASE_CONFLICT_ARP = 2,	    /* ARP probe answered before OFFER */
	LEASE_CONFLICT_ICMP = 3,    /* ICMP echo answered (relayed subnet) */
	LEASE_CONFLICT_ADMIN = 4,   /* marked by the region / operator */
};

/* HA (ARCHITECTURE.md "HA DHCP"): who granted a lease, and who owns a free
 * address (pool split). Without HA everything is LOCAL. */
enum lease_owner {
	LEASE_OWNER_LOCAL = 0,
	LEASE_OWNER_PEER = 1,
};

struct lease {
	uint32_t addr;	  /* IPv4 address, HOST byte order; never 0 */
	uint8_t state;	  /* enum lease_state */
	uint8_t owner;	  /* enum lease_owner: the peer that granted it */
	uint8_t conflict; /* enum lease_conflict; NONE unless DECLINED */
	uint8_t htype;	  /* ARP hardware type (1 = Ethernet) */
	uint8_t hlen;	  /* 0..LEASE_HWADDR_MAX */
	uint8_t chaddr[LEASE_HWADDR_MAX];
	uint8_t client_id_len; /* 0 = no option 61 */
	uint8_t client_id[LEASE_CLIENT_ID_MAX];
	char hostname[LEASE_HOSTNAME_MAX]; /* NUL-terminated, may be "" */
	int64_t start;			   /* unix seconds: when granted (or declined) */
	int64_t expiry;			   /* unix seconds: lease / offer / quarantine end */
	uint32_t subnet_id;		   /* config id of the subnet; 0 = unknown */
	uint32_t range_id;		   /* config id of the dynamic range; 0 = not from a range */
	uint64_t seq;			   /* set by the store: journal sequence of the last change;
					    * 0 for an OFFERED record (never journaled) */
	/* DHCP HA (docs/dhcp-ha.md "Terms"): the latest expiry the partner
	 * acknowledged storing for this lease; 0 = none known. Memory only:
	 * never journaled (after a restart the pair merges again), set with
	 * lease_store_set_acked(), kept by the engine across a renewal. */
	int64_t acked_expiry;
};

struct lease_store_config {
	const char *dir;	 /* directory for the files; NULL = in-memory only
				  * (engine tests, fuzzing): commits succeed at once */
	size_t max_leases;	 /* records of any state; 0 = 65536 */
	unsigned max_per_client; /* taken records (offered/active) per client
				  * per subnet; 0 = 4. A client is its hardware
				  * address, or its client id when it has none */
	int64_t reclaim_grace;	 /* seconds past expiry before reclaim; may be 0 */
	bool read_only;		 /* only read dir's files (ironrack-rackd --dump-leases,
				  * beside a running rack): nothing is created,
				  * truncated or removed; never stage or commit */
};

struct lease_replay_stats {
	uint64_t snapshot_records; /* records read from the snapshot */
	uint64_t journal_records;  /* journal records applied */
	uint64_t journal_skipped;  /* journal records already in the snapshot */
	uint64_t truncated_bytes;  /* bytes cut off the journal tail */
	bool corrupt;		   /* bad record followed by more data (not a torn tail);
				    * the journal was copied to leases.journal.corrupt */
	bool stale_tmp;		   /* an interrupted compaction's temp file was removed */
	uint64_t seq;		   /* last seq after replay */
};

struct lease_store; /* opaque */

/* Open (creating dir files as needed) and replay. ret_stats may be NULL.
 * -EBADMSG: the snapshot (or a journal header) is damaged; nothing is
 * truncated then. */
int lease_store_open(const struct lease_store_config *cfg, struct lease_store **ret,
		     struct lease_replay_stats *ret_stats);
/* Does not commit: call lease_store_commit() first if that is wanted. NULL ok. */
void lease_store_free(struct lease_store *s);

/* ---- lookups. Returned pointers are owned by the store and valid until the
 * next call that changes it (stage, remove, reclaim, compact, free). ---- */

const struct lease *lease_store_find_addr(const struct lease_store *s, uint32_t addr);
/* The record with this client id (any state), in subnet_id (0 = any subnet).
 * Taken records (offered/active) are preferred over free ones; among equals
 * the highest seq wins. */
const struct lease *lease_store_find_client_id(const struct lease_store *s, const uint8_t *id, size_t len,
					       uint32_t subnet_id);
/* Same by hardware address. */
const struct lease *lease_store_find_hwaddr(const struct lease_store *s, uint8_t htype, uint8_t hlen,
					    const uint8_t *chaddr, uint32_t subnet_id);

/* Taken: a record in state OFFERED, ACTIVE, DECLINED or RESERVED. Free:
 * no record, or RELEASED / EXPIRED. Expiry does not free an address by
 * itself; lease_store_reclaim() does. */
bool lease_store_is_taken(const struct lease_store *s, uint32_t addr);
/* Lowest address in [first, last] (host order, inclusive) that is free and
 * whose free-pool owner is owner. -ENOSPC when there is none. */
int lease_store_first_free(const struct lease_store *s, uint32_t first, uint32_t last, enum lease_owner owner,
			   uint32_t *ret_addr);

size_t lease_store_count(const struct lease_store *s); /* records, all states */
/* Calls cb for every record, in no particular order. cb must not change
 * the store. Stops early and returns cb's value if it is non-zero. */
typedef int (*lease_store_foreach_fn)(const struct lease *l, void *userdata);
int lease_store_foreach(const struct lease_store *s, lease_store_foreach_fn cb, void *userdata);

/* ---- changes ---- */

/* Insert or replace the record for l->addr and apply it to the in-memory
 * view at once. The store copies *l; l->seq is ignored. Returns the seq the
 * ACK must wait for (> 0), or 0 for an OFFERED record (nothing to wait for),
 * or:
 *   -EINVAL  bad field (addr 0, hlen > 16, state out of range or FREE,
 *            hostname not NUL-terminated)
 *   -ENOSPC  max_leases records exist and none is free to evict
 *   -EDQUOT  the client already holds max_per_client taken records in
 *            l->subnet_id (not counting the one at l->addr)
 *   -EIO     the store is poisoned
 * When a new address needs room, the oldest RELEASED/EXPIRED record is
 * evicted (journaled as a removal in the same batch). */
int64_t lease_store_stage(struct lease_store *s, const struct lease *l);
/* Delete the record for addr (journaled). -ENOENT if none. Returns seq. */
int64_t lease_store_remove(struct lease_store *s, uint32_t addr);
/* HA pool split: free addresses in [first, last] now belong to owner
 * (journaled, survives restart). Default for every address: LOCAL.
 * -EINVAL if first > last or the span exceeds LEASE_POOL_SPAN_MAX. */
#define LEASE_POOL_SPAN_MAX (1u << 24)
int64_t lease_store_pool_set_owner(struct lease_store *s, uint32_t first, uint32_t last, enum lease_owner owner);
enum lease_owner lease_store_pool_owner(const struct lease_store *s, uint32_t addr);

/* DHCP HA: the partner acknowledged the record at addr with this expiry.
 * Raises l->acked_expiry (memory only; nothing journaled) when the record
 * exists and is not OFFERED. */
void lease_store_set_acked(struct lease_store *s, uint32_t addr, int64_t expiry);

/* Called with every record staged for the journal (lease_store_stage of a
 * state other than OFFERED, and reclaim's EXPIRED transitions), after the
 * store took it (l->seq set). NULL turns it off. The DHCP HA shell uses it
 * to send each change to the partner. */
typedef void (*lease_store_observer_fn)(void *arg, const struct lease *l);
void lease_store_set_observer(struct lease_store *s, lease_store_observer_fn fn, void *arg);

/* Synchronous group commit: write the batch, fdatasync. 0 when the batch
 * was empty too. On error the store is poisoned (see top). */
int lease_store_commit(struct lease_store *s);

/* Highest seq known to be on disk. Every staged change with seq <= this is
 * durable. */
uint64_t lease_store_durable_seq(const struct lease_store *s);
/* The seq of the last change staged (durable or not). */
uint64_t lease_store_last_seq(const struct lease_store *s);
/* Changes staged and not yet durable (queued or in flight). */
bool lease_store_has_pending(const struct lease_store *s);

/* Asynchronous commit. The token owns the batch buffer. */
struct lease_flush {
	int fd;	      /* journal fd (borrowed from the store) */
	uint8_t *buf; /* owned by the token until flush_done */
	size_t len;
	uint64_t off;  /* where buf goes: the end of the journal's records */
	uint64_t size; /* the journal file's size; lease_flush_run may grow it */
	uint64_t seq;  /* durable once this flush completes */
	int result;    /* set by lease_flush_run */
	/* A compaction riding on this flush (lease_store_flush_begin_compact),
	 * done by lease_flush_run once the batch is durable: */
	uint8_t *snap; /* the snapshot at seq, built on the store's thread */
	size_t snap_len, snap_cap;
	char *dir;	      /* the store's directory (a copy) */
	int new_fd;	      /* the fresh journal, for flush_done to swap in; -1 */
	int compact_result;   /* 0, or why the snapshot or fresh journal failed */
	bool compact_poison;  /* the journal was replaced but could not be opened */
	int64_t compact_us;   /* wall time of the snapshot and journal writes */
	size_t snap_records;  /* leases in the snapshot */
	uint64_t journal_was; /* journal bytes the compaction replaced */
};
/* Take the current batch. Returns 1 when *ret holds work, 0 when there is
 * nothing to flush, -EBUSY when a flush is already in flight, -EIO when
 * poisoned. */
int lease_store_flush_begin(struct lease_store *s, struct lease_flush *ret);
/* The same, and a compaction with it: the snapshot of the store as it is
 * now (the batch's changes included) is built here, on the store's thread;
 * lease_flush_run writes it, after the batch is durable, and starts a fresh
 * journal, so the store's thread never waits on the disk for a compaction.
 * Returns 1 even when no change is staged (the flush is then only the
 * compaction). An in-memory store flushes without compacting. */
int lease_store_flush_begin_compact(struct lease_store *s, struct lease_flush *ret);
/* write() + fdatasync() (then the compaction, if one rides on it); safe on
 * any thread. Returns and stores result, the batch's outcome: a failed
 * compaction leaves the old journal in use and sets compact_result. */
int lease_flush_run(struct lease_flush *f);
/* Back on the store's thread: mark durable (or poison on failure), take the
 * fresh journal of a compaction, free the buffers. Returns f->result, or
 * -EIO when a compaction replaced the journal but could not open the new
 * one (the batch is durable, the store poisoned). */
int lease_store_flush_done(struct lease_store *s, struct lease_flush *f);

/* Reclaim: every ACTIVE lease with expiry + grace <= now becomes EXPIRED,
 * every DECLINED one past its quarantine becomes EXPIRED, every OFFERED one
 * past its expiry is dropped (restoring nothing: offers are memory only).
 * Copies up to max changed records (state as before the change) into ret
 * for reporting and returns how many; call again while it returns max.
 * The EXPIRED transitions are staged (journaled with the next commit). */
int lease_store_reclaim(struct lease_store *s, int64_t now, struct lease *ret, size_t max);

/* Compaction, synchronously: write a snapshot of every record but OFFERED
 * ones, then start an empty journal (flush_begin_compact + flush_run +
 * flush_done). Crash-safe at every step. -EBUSY if changes are staged or in
 * flight (commit first). */
int lease_store_compact(struct lease_store *s);
/* Current journal size in bytes, to decide when to compact. */
uint64_t lease_store_journal_bytes(const struct lease_store *s);

/* ---- pure parsing (fuzzable; no I/O) ---- */

enum lease_rec_type {
	LEASE_REC_PUT = 1,    /* insert/replace a lease */
	LEASE_REC_REMOVE = 2, /* delete the record for an address */
	LEASE_REC_POOL = 3,   /* pool owner for [first, last] */
};

struct lease_rec {
	uint8_t type; /* enum lease_rec_type */
	uint64_t seq;
	struct lease lease;   /* PUT: the record; REMOVE: only addr */
	uint32_t first, last; /* POOL */
	uint8_t owner;	      /* POOL */
};

#define LEASE_FILE_HEADER_LEN 32
/* How far ahead of its records the journal file is grown with zeros. */
#define LEASE_JOURNAL_PREZERO (1u << 20)
enum lease_file_kind { LEASE_FILE_JOURNAL = 1, LEASE_FILE_SNAPSHOT = 2 };

/* Called per valid record; a non-zero return stops the parse and is
 * returned by lease_file_parse. */
typedef int (*lease_rec_fn)(const struct lease_rec *r, void *userdata);

/* Parse a whole journal or snapshot image. Checks the header (-EBADMSG if
 * it is missing or wrong), then calls cb for each record in order while
 * records are complete, pass their CRC, decode, and have strictly
 * increasing seq. *ret_good is the byte offset just past the last good
 * record (the truncation point); *ret_base_seq the header's seq;
 * *ret_corrupt whether bytes other than zeros remain after a bad record
 * that itself was complete. Returns the number of good records. Pure. */
int64_t lease_file_parse(const uint8_t *buf, size_t len, enum lease_file_kind kind, lease_rec_fn cb, void *userdata,
			 size_t *ret_good, uint64_t *ret_base_seq, bool *ret_corrupt);

/* Encoders, used by the store and by tests to build files. */
void lease_file_header_encode(uint8_t out[LEASE_FILE_HEADER_LEN], enum lease_file_kind kind, uint64_t seq);
#define LEASE_REC_MAX (8 + 64 + LEASE_CLIENT_ID_MAX + LEASE_HOSTNAME_MAX)
/* Encode r into out (at least LEASE_REC_MAX bytes); returns bytes written. */
size_t lease_rec_encode(const struct lease_rec *r, uint8_t *out);

uint32_t lease_crc32c(uint32_t crc, const void *data, size_t len);
/* Whether the n bytes at p are all zero (a journal's grown, unused tail). */
bool lease_file_is_zero(const uint8_t *p, size_t n);

const char *lease_state_name(enum lease_state st);
