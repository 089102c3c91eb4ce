/* Pool split and rebalance planning; see ha_split.h. */
#include <errno.h>

#include "rack/dhcp/ha_split.h"

uint64_t ha_span_size(const struct ha_span *s)
{
	return (uint64_t)s->last - s->first + 1;
}

int ha_split_initial(uint32_t first, uint32_t last, enum ha_role role, struct ha_owner_span ret[2])
{
	if (first == 0 || first > last)
		return -EINVAL;
	uint64_t n = (uint64_t)last - first + 1;
	uint32_t mid = (uint32_t)(first + (n + 1) / 2 - 1); /* last of the lower half */
	enum lease_owner lower = role == HA_ROLE_PRIMARY ? LEASE_OWNER_LOCAL : LEASE_OWNER_PEER;
	enum lease_owner upper = role == HA_ROLE_PRIMARY ? LEASE_OWNER_PEER : LEASE_OWNER_LOCAL;
	ret[0] = (struct ha_owner_span){first, mid, lower};
	if (mid == last)
		return 1;
	ret[1] = (struct ha_owner_span){mid + 1, last, upper};
	return 2;
}

uint32_t ha_rebalance_ask(uint32_t my_free, uint32_t partner_free)
{
	if (my_free >= partner_free / 2)
		return 0;
	return (partner_free - my_free) / 2;
}

uint32_t ha_rebalance_give(uint32_t asked, uint32_t my_free, uint32_t partner_free)
{
	if (my_free <= partner_free)
		return 0;
	uint32_t half = (my_free - partner_free) / 2;
	return asked < half ? asked : half;
}

int ha_rebalance_plan(const struct ha_span *runs, size_t n_runs, uint32_t count, struct ha_span *ret, size_t max,
		      uint32_t *ret_total)
{
	for (size_t i = 0; i < n_runs; i++) {
		if (runs[i].first > runs[i].last || runs[i].first == 0)
			return -EINVAL;
		if (i > 0 && runs[i].first <= runs[i - 1].last)
			return -EINVAL;
	}
	uint32_t left = count;
	size_t n = 0;
	for (size_t i = n_runs; i > 0 && left > 0 && n < max; i--) {
		const struct ha_span *r = &runs[i - 1];
		uint64_t size = ha_span_size(r);
		uint32_t take = size < left ? (uint32_t)size : left;
		ret[n++] = (struct ha_span){r->last - (take - 1), r->last};
		left -= take;
	}
	*ret_total = count - left;
	return (int)n;
}
