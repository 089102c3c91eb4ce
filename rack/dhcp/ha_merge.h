/* DHCP HA: the journal merge of RECOVER (docs/dhcp-ha.md "States",
 * RECOVER). Both racks run it over the same two record sets and reach the
 * same winner for every address: the order below is total and does not
 * depend on which side is "local".
 *
 * For one address, the records of the two racks compare so:
 *   - Same client (same htype/hlen/chaddr and the same option 61):
 *     the later change wins. A change's time is the grant or renewal time
 *     (start) for ACTIVE, DECLINED and RESERVED records, and the end for
 *     RELEASED and EXPIRED ones (release time, expiry). Except that an
 *     EXPIRED record loses to an ACTIVE one that runs past its expiry: the
 *     other rack extended the lease before this one reclaimed it.
 *   - Different clients, both taken (ACTIVE, DECLINED, RESERVED): a
 *     conflict. The newer grant (later start) is kept, and the pair goes
 *     to the region as a conflict record.
 *   - Different clients, one taken: the taken one wins (it is the
 *     address's present binding). If its start lies before the other's
 *     end, the two overlapped: also a conflict record, kind PAST.
 *   - Different clients, neither taken: the later change (history only).
 * Ties fall to the later expiry, then the higher seq, then the record
 * bytes (client identity), so the result never depends on input order.
 *
 * Within one side, several records for one address (a journal tail) are
 * its history: the one with the highest seq is the present one.
 *
 * Ownership (lease.owner) is relative: LOCAL is "granted by the rack that
 * holds the record". peer[] comes as the partner stores it; a partner
 * record that wins is returned with owner flipped to this rack's view.
 *
 * Pure: no I/O. Allocates the result (xmalloc: the one out-of-memory
 * policy). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "rack/dhcp/leases.h"

enum ha_conflict_kind {
	HA_CONFLICT_LIVE = 1, /* two different clients hold the address now */
	HA_CONFLICT_PAST = 2, /* the kept binding began while the other still ran */
};

struct ha_conflict {
	enum ha_conflict_kind kind;
	uint32_t addr;
	struct lease kept; /* in this rack's view (owner flipped if it was the partner's) */
	struct lease lost;
	bool kept_is_local; /* kept came from local[] */
};

struct ha_merge_result {
	/* The partner's records that win, to stage here (owner in our view). */
	struct lease *apply;
	size_t n_apply;
	size_t n_local_wins; /* addresses where ours won and the partner had a record */
	size_t n_same;	     /* addresses where both sides hold the same binding */
	struct ha_conflict *conflicts;
	size_t n_conflicts;
};

/* Merge. Either array may be empty (NULL with n 0). Records with addr 0
 * are ignored. Returns 0. */
int ha_merge(const struct lease *local, size_t n_local, const struct lease *peer, size_t n_peer,
	     struct ha_merge_result *ret);
void ha_merge_result_done(struct ha_merge_result *r);

/* The comparison itself: > 0 when a wins over b, < 0 when b wins (never 0
 * for two different records). *ret_conflict gets 0 or the kind. a and b
 * carry owners in one common view. */
int ha_merge_compare(const struct lease *a, const struct lease *b, enum ha_conflict_kind *ret_conflict);

bool ha_lease_same_client(const struct lease *a, const struct lease *b);
