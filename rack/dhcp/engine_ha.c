/* The DHCP engine's side of an HA pair: who answers a client, from which
 * share a new address may come, how long a lease may be promised, when an
 * ended lease's address may go to someone else. docs/dhcp-ha.md explains
 * the rules; ha_hash.c and ha_state.c hold the arithmetic. Pure. */
#include "rack/dhcp/engine_internal.h"
#include "rack/dhcp/ha_hash.h"
#include "rack/dhcp/ha_state.h"

bool dhcp_ha_answers(const struct dhcp_ha *ha, const struct dhcp4_msg *req, const struct dhcp_client *c,
		     bool match_client_id, bool to_us)
{
	if (ha->state != HA_NORMAL || to_us)
		return true;
	int b = ha_client_bucket(c->hlen ? c->chaddr : NULL, c->hlen, c->client_id, c->client_id_len, match_client_id);
	if (b < 0)
		return true; /* no key: cannot be balanced, both may answer */
	return ha_bucket_serves((enum ha_role)ha->role, (uint8_t)b, req->secs, ha->takeover_secs);
}

bool dhcp_ha_may_allocate(const struct dhcp_ha *ha, bool partner)
{
	struct ha_permits p;
	ha_permits((enum ha_state)ha->state, ha->takeover, &p);
	return partner ? p.alloc_partner : p.alloc_own;
}

bool dhcp_ha_reusable(const struct dhcp_ha *ha, const struct lease *l, int64_t now)
{
	if (l->state == LEASE_OFFERED || l->state == LEASE_DECLINED || l->state == LEASE_RESERVED)
		return true; /* never a binding the partner may have extended (or a quarantine: judged elsewhere) */
	return now >= ha_reuse_after((enum ha_state)ha->state, ha->timeout_s, ha->mclt_s, ha->skew_s, l->expiry);
}

int64_t dhcp_ha_expiry(const struct dhcp_ha *ha, int64_t now, int64_t want, const struct lease *cur)
{
	int64_t acked = 0, holds = 0;
	if (cur && cur->state == LEASE_ACTIVE) {
		acked = cur->acked_expiry;
		/* RECOVER and FENCED answer at least with the time the lease
		 * already has (in RECOVER the partner is merging our records).
		 * Elsewhere the floor is what the partner knows: a stored
		 * expiry whose ACK waited for the partner and was dropped when
		 * the link fell was never promised, so it may be cut. */
		holds = ha->state == HA_FENCED || ha->state == HA_RECOVER ? cur->expiry : acked;
	}
	return ha_lease_expiry_max((enum ha_state)ha->state, ha->takeover, ha->mclt_s, now, want, holds, acked);
}
