/* RECOVER's journal merge; see ha_merge.h. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "rack/dhcp/ha_merge.h"

bool ha_lease_same_client(const struct lease *a, const struct lease *b)
{
	return a->htype == b->htype && a->hlen == b->hlen && a->hlen <= LEASE_HWADDR_MAX &&
	       memcmp(a->chaddr, b->chaddr, a->hlen) == 0 && a->client_id_len == b->client_id_len &&
	       memcmp(a->client_id, b->client_id, a->client_id_len) == 0;
}

static bool is_taken(const struct lease *l)
{
	return l->state == LEASE_ACTIVE || l->state == LEASE_DECLINED || l->state == LEASE_RESERVED;
}

/* When the record's last change happened. */
static int64_t change_time(const struct lease *l)
{
	return l->state == LEASE_RELEASED || l->state == LEASE_EXPIRED ? l->expiry : l->start;
}

static int cmp64(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

/* Last resort: a total order on what tells records apart. */
static int tiebreak(const struct lease *a, const struct lease *b)
{
	int c;
	if ((c = cmp64((int64_t)a->seq, (int64_t)b->seq)) != 0)
		return c;
	if ((c = cmp64(a->state, b->state)) != 0)
		return c;
	if ((c = cmp64(a->hlen, b->hlen)) != 0)
		return c;
	if ((c = memcmp(a->chaddr, b->chaddr, LEASE_HWADDR_MAX)) != 0)
		return c > 0 ? 1 : -1;
	if ((c = cmp64(a->client_id_len, b->client_id_len)) != 0)
		return c;
	c = memcmp(a->client_id, b->client_id, a->client_id_len);
	return (c > 0) - (c < 0);
}

static int by_keys(int64_t a1, int64_t b1, const struct lease *a, const struct lease *b)
{
	int c = cmp64(a1, b1);
	if (c == 0)
		c = cmp64(a->expiry, b->expiry);
	if (c == 0)
		c = tiebreak(a, b);
	return c;
}

int ha_merge_compare(const struct lease *a, const struct lease *b, enum ha_conflict_kind *ret_conflict)
{
	*ret_conflict = 0;
	if (ha_lease_same_client(a, b)) {
		if (a->state == LEASE_EXPIRED && b->state == LEASE_ACTIVE)
			return b->expiry > a->expiry ? -1 : 1;
		if (b->state == LEASE_EXPIRED && a->state == LEASE_ACTIVE)
			return a->expiry > b->expiry ? 1 : -1;
		return by_keys(change_time(a), change_time(b), a, b);
	}
	bool ta = is_taken(a), tb = is_taken(b);
	if (ta && tb) {
		*ret_conflict = HA_CONFLICT_LIVE;
		return by_keys(a->start, b->start, a, b);
	}
	if (ta != tb) {
		const struct lease *t = ta ? a : b, *f = ta ? b : a;
		if (t->start < change_time(f))
			*ret_conflict = HA_CONFLICT_PAST;
		return ta ? 1 : -1;
	}
	return by_keys(change_time(a), change_time(b), a, b);
}

/* Sort by address, the highest seq first within one address. */
static int by_addr_seq(const void *pa, const void *pb)
{
	const struct lease *a = *(const struct lease *const *)pa, *b = *(const struct lease *const *)pb;
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return (a->seq < b->seq) - (a->seq > b->seq);
}

/* Pointers to the present record of each address, in address order. */
static size_t present(const struct lease *v, size_t n, const struct lease ***ret)
{
	const struct lease **p = xmalloc((n ? n : 1) * sizeof(*p));
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i].addr)
			p[m++] = &v[i];
	qsort(p, m, sizeof(*p), by_addr_seq);
	size_t k = 0;
	for (size_t i = 0; i < m; i++)
		if (k == 0 || p[k - 1]->addr != p[i]->addr)
			p[k++] = p[i];
	*ret = p;
	return k;
}

static struct lease ours(const struct lease *peer_rec)
{
	struct lease l = *peer_rec;
	l.owner = l.owner == LEASE_OWNER_LOCAL ? LEASE_OWNER_PEER : LEASE_OWNER_LOCAL;
	return l;
}

static bool same_binding(const struct lease *a, const struct lease *b)
{
	return a->state == b->state && a->expiry == b->expiry && ha_lease_same_client(a, b);
}

int ha_merge(const struct lease *local, size_t n_local, const struct lease *peer, size_t n_peer,
	     struct ha_merge_result *ret)
{
	const struct lease **pl, **pp;
	size_t nl = present(local, n_local, &pl), np = present(peer, n_peer, &pp);

	memset(ret, 0, sizeof(*ret));
	ret->apply = xmalloc((np ? np : 1) * sizeof(*ret->apply));
	size_t i = 0, j = 0, cap = 0;
	while (j < np) {
		if (i < nl && pl[i]->addr < pp[j]->addr) {
			i++;
			continue;
		}
		struct lease p = ours(pp[j]);
		if (i >= nl || pl[i]->addr > pp[j]->addr) {
			ret->apply[ret->n_apply++] = p;
			j++;
			continue;
		}
		const struct lease *l = pl[i];
		enum ha_conflict_kind kind = 0;
		bool local_won = true;
		if (same_binding(l, &p)) {
			ret->n_same++;
		} else if (ha_merge_compare(l, &p, &kind) > 0) {
			ret->n_local_wins++;
		} else {
			ret->apply[ret->n_apply++] = p;
			local_won = false;
		}
		if (kind) {
			if (ret->n_conflicts == cap) {
				cap = cap ? 2 * cap : 16;
				ret->conflicts = xreallocarray(ret->conflicts, cap, sizeof(*ret->conflicts));
			}
			struct ha_conflict *c = &ret->conflicts[ret->n_conflicts++];
			c->kind = kind;
			c->addr = l->addr;
			c->kept = local_won ? *l : p;
			c->lost = local_won ? p : *l;
			c->kept_is_local = local_won;
		}
		i++;
		j++;
	}
	free(pl);
	free(pp);
	return 0;
}

void ha_merge_result_done(struct ha_merge_result *r)
{
	if (!r)
		return;
	free(r->apply);
	free(r->conflicts);
	memset(r, 0, sizeof(*r));
}
