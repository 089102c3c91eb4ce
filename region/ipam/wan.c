/* WAN addressing engine: buddy growth of /29 blocks and placement of new ones.
 *
 * IPv4 addresses and block sizes fit in uint64_t, so the arithmetic here is
 * plain 64-bit. The occupied space (every taken block plus whatever the plan
 * has claimed so far) is kept as a sorted list of merged intervals; free
 * aligned blocks are found by walking the gaps of that list inside each
 * parent, so the cost is O(taken log taken) per action, independent of the
 * size of the parents. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "region/ipam/wan.h"

struct ival {
	uint64_t s, e; /* inclusive */
};

struct space {
	struct ival *occ; /* sorted, merged */
	size_t n, cap;
	struct ival *parents; /* sorted by start */
	size_t n_parents;
	unsigned min_parent_len; /* the shortest parent prefix length */
};

uint64_t wan_block_hosts(unsigned len)
{
	if (len > 30)
		return 0;
	return (UINT64_C(1) << (32 - len)) - 3;
}

static uint64_t block_size(unsigned len)
{
	return UINT64_C(1) << (32 - len);
}

static struct ival prefix_ival(const struct ipprefix *p)
{
	uint64_t span = (uint64_t)ipprefix_span(p);
	uint64_t s = (uint64_t)ipaddr_to_u128(&p->addr) & ~span;

	return (struct ival){s, s + span};
}

static struct ipprefix ival_prefix(uint64_t start, unsigned len)
{
	struct ipprefix p;

	ipaddr_from_u128(AF_INET, start, &p.addr);
	p.len = (uint8_t)len;
	return p;
}

static int cmp_ival(const void *a, const void *b)
{
	const struct ival *x = a, *y = b;

	return (x->s > y->s) - (x->s < y->s);
}

/* Sort and merge overlapping or touching intervals. */
static void occ_normalise(struct space *sp)
{
	size_t w = 0;

	if (sp->n < 2)
		return;
	qsort(sp->occ, sp->n, sizeof(*sp->occ), cmp_ival);
	for (size_t i = 1; i < sp->n; i++) {
		if (sp->occ[i].s <= sp->occ[w].e + 1) {
			if (sp->occ[i].e > sp->occ[w].e)
				sp->occ[w].e = sp->occ[i].e;
		} else {
			sp->occ[++w] = sp->occ[i];
		}
	}
	sp->n = w + 1;
}

static void occ_add(struct space *sp, struct ival iv)
{
	if (sp->n == sp->cap) {
		sp->cap = sp->cap ? sp->cap * 2 : 16;
		sp->occ = xreallocarray(sp->occ, sp->cap, sizeof(*sp->occ));
	}
	sp->occ[sp->n++] = iv;
	occ_normalise(sp);
}

/* First occupied interval ending at or after x. */
static size_t occ_lower_bound(const struct space *sp, uint64_t x)
{
	size_t lo = 0, hi = sp->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sp->occ[mid].e < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool occ_is_free(const struct space *sp, struct ival iv)
{
	size_t i = occ_lower_bound(sp, iv.s);

	return i == sp->n || sp->occ[i].s > iv.e;
}

static bool in_parent(const struct space *sp, struct ival iv)
{
	for (size_t i = 0; i < sp->n_parents; i++)
		if (sp->parents[i].s <= iv.s && iv.e <= sp->parents[i].e)
			return true;
	return false;
}

static void space_done(struct space *sp)
{
	free(sp->occ);
	free(sp->parents);
}

static int space_init(struct space *sp, const struct wan_pool *pool)
{
	memset(sp, 0, sizeof(*sp));
	sp->min_parent_len = 33;
	if (pool->n_parents == 0)
		return -ENOSPC;
	sp->parents = xcalloc(pool->n_parents, sizeof(*sp->parents));
	for (size_t i = 0; i < pool->n_parents; i++) {
		if (pool->parents[i].addr.family != AF_INET || pool->parents[i].len > 32)
			return -EAFNOSUPPORT;
		sp->parents[i] = prefix_ival(&pool->parents[i]);
		if (pool->parents[i].len < sp->min_parent_len)
			sp->min_parent_len = pool->parents[i].len;
	}
	sp->n_parents = pool->n_parents;
	qsort(sp->parents, sp->n_parents, sizeof(*sp->parents), cmp_ival);
	for (size_t i = 0; i < pool->n_taken; i++) {
		if (pool->taken[i].addr.family != AF_INET || pool->taken[i].len > 32)
			return -EAFNOSUPPORT;
		occ_add(sp, prefix_ival(&pool->taken[i]));
	}
	return 0;
}

/* The lowest free aligned block of length len inside one parent. */
static bool find_aligned(const struct space *sp, unsigned len, uint64_t *ret)
{
	uint64_t size = block_size(len);

	for (size_t p = 0; p < sp->n_parents; p++) {
		struct ival par = sp->parents[p];
		uint64_t cur = par.s;
		size_t i = occ_lower_bound(sp, par.s);

		while (cur <= par.e) {
			if (i < sp->n && sp->occ[i].s <= cur) { /* occupied at cur: skip it */
				if (sp->occ[i].e >= par.e)
					break;
				cur = sp->occ[i].e + 1;
				i++;
				continue;
			}
			uint64_t gap_end = i < sp->n && sp->occ[i].s <= par.e ? sp->occ[i].s - 1 : par.e;
			uint64_t c = (cur + size - 1) & ~(size - 1);
			if (c <= gap_end && gap_end - c >= size - 1) {
				*ret = c;
				return true;
			}
			if (gap_end == par.e)
				break;
			cur = gap_end + 1; /* the next interval starts here */
		}
	}
	return false;
}

/* Placement for an added block: the lower half of the lowest free block
 * twice its size (so it can grow once), else the lowest free block. */
static bool find_placement(const struct space *sp, unsigned len, bool prefer_buddy, uint64_t *ret)
{
	if (prefer_buddy && len > sp->min_parent_len && find_aligned(sp, len - 1, ret))
		return true;
	return find_aligned(sp, len, ret);
}

int wan_plan_new(const struct wan_pool *pool, struct wan_plan *ret)
{
	struct space sp;
	uint64_t start;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = space_init(&sp, pool);
	if (r == 0 && !find_placement(&sp, WAN_DEFAULT_LEN, true, &start))
		r = -ENOSPC;
	if (r == 0) {
		ret->n = 1;
		ret->actions[0] =
		    (struct wan_action){.kind = WAN_ACTION_ADD, .block = ival_prefix(start, WAN_DEFAULT_LEN)};
		ret->hosts_after = wan_block_hosts(WAN_DEFAULT_LEN);
	}
	space_done(&sp);
	return r;
}

int wan_plan_order(const struct wan_pool *pool, unsigned len, struct wan_plan *ret)
{
	struct space sp;
	uint64_t start;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = space_init(&sp, pool);
	if (r == 0 && (len > 32 || len < sp.min_parent_len))
		r = -EINVAL;
	if (r == 0 && !find_placement(&sp, len, false, &start))
		r = -ENOSPC;
	if (r == 0) {
		ret->n = 1;
		ret->actions[0] = (struct wan_action){.kind = WAN_ACTION_ADD, .block = ival_prefix(start, len)};
		ret->hosts_after = wan_block_hosts(len);
	}
	space_done(&sp);
	return r;
}

/* A WAN block during planning. */
struct cur_block {
	uint64_t start;
	unsigned len;
	ptrdiff_t action; /* index of its GROW/ADD action in the plan, or -1 */
};

/* Grow b by one step if its buddy is free and the result stays in a parent. */
static int try_grow(struct space *sp, struct cur_block *b, bool *ret_grown)
{
	*ret_grown = false;
	if (b->len == 0 || b->len <= sp->min_parent_len)
		return 0;
	uint64_t size = block_size(b->len);
	uint64_t start = b->start & ~(2 * size - 1);
	struct ival whole = {start, start + 2 * size - 1};
	struct ival buddy =
	    start == b->start ? (struct ival){b->start + size, whole.e} : (struct ival){start, b->start - 1};
	if (!in_parent(sp, whole) || !occ_is_free(sp, buddy))
		return 0;
	occ_add(sp, whole);
	b->start = start;
	b->len--;
	*ret_grown = true;
	return 0;
}

/* Record the current state of cur[i] in the plan. */
static int plan_record(struct wan_plan *plan, struct cur_block *cur, size_t i, const struct ipprefix *orig)
{
	if (cur[i].action < 0) {
		if (plan->n == WAN_PLAN_MAX)
			return -E2BIG;
		cur[i].action = (ptrdiff_t)plan->n++;
		plan->actions[cur[i].action] = (struct wan_action){.kind = WAN_ACTION_GROW, .index = i, .from = *orig};
	}
	plan->actions[cur[i].action].block = ival_prefix(cur[i].start, cur[i].len);
	return 0;
}

/* The length of the smallest block (not smaller than a /29) with >= missing hosts. */
static unsigned len_for_hosts(const struct space *sp, uint64_t missing)
{
	unsigned len = WAN_DEFAULT_LEN;

	while (len > sp->min_parent_len && wan_block_hosts(len) < missing)
		len--;
	return len;
}

static int add_block(struct space *sp, struct wan_plan *plan, struct cur_block *cur, size_t *n_cur, uint64_t missing)
{
	uint64_t start = 0;
	unsigned len;

	for (len = len_for_hosts(sp, missing); len <= WAN_DEFAULT_LEN; len++)
		if (find_placement(sp, len, true, &start))
			break;
	if (len > WAN_DEFAULT_LEN)
		return -ENOSPC;
	if (plan->n == WAN_PLAN_MAX)
		return -E2BIG;
	occ_add(sp, (struct ival){start, start + block_size(len) - 1});
	cur[*n_cur] = (struct cur_block){start, len, (ptrdiff_t)plan->n};
	plan->actions[plan->n++] = (struct wan_action){.kind = WAN_ACTION_ADD, .block = ival_prefix(start, len)};
	(*n_cur)++;
	return 0;
}

static int plan_grow_loop(struct space *sp, const struct ipprefix *blocks, size_t n_blocks, uint64_t need,
			  struct cur_block *cur, struct wan_plan *plan)
{
	size_t n_cur = n_blocks;
	uint64_t have = plan->hosts_before;
	int r;

	while (have < need) {
		bool grown = false;
		for (size_t i = 0; i < n_cur && !grown; i++) {
			unsigned old_len = cur[i].len;
			r = try_grow(sp, &cur[i], &grown);
			if (r < 0)
				return r;
			if (!grown)
				continue;
			have += wan_block_hosts(cur[i].len) - wan_block_hosts(old_len);
			if (cur[i].action >= 0 && plan->actions[cur[i].action].kind == WAN_ACTION_ADD)
				plan->actions[cur[i].action].block = ival_prefix(cur[i].start, cur[i].len);
			else if ((r = plan_record(plan, cur, i, &blocks[i])) < 0)
				return r;
		}
		if (grown)
			continue;
		r = add_block(sp, plan, cur, &n_cur, need - have);
		if (r < 0)
			return r;
		have += wan_block_hosts(cur[n_cur - 1].len);
	}
	plan->hosts_after = have;
	return 0;
}

int wan_plan_grow(const struct wan_pool *pool, const struct ipprefix *blocks, size_t n_blocks, uint64_t hosts_needed,
		  struct wan_plan *ret)
{
	struct space sp;
	struct cur_block *cur = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (n_blocks == 0 || !blocks)
		return -EINVAL;
	r = space_init(&sp, pool);
	if (r == 0)
		cur = xcalloc(n_blocks + WAN_PLAN_MAX, sizeof(*cur));
	for (size_t i = 0; r == 0 && i < n_blocks; i++) {
		if (blocks[i].addr.family != AF_INET || blocks[i].len > 32) {
			r = -EAFNOSUPPORT;
			break;
		}
		struct ival iv = prefix_ival(&blocks[i]);
		if (!in_parent(&sp, iv)) {
			r = -EINVAL;
			break;
		}
		cur[i] = (struct cur_block){iv.s, blocks[i].len, -1};
		ret->hosts_before += wan_block_hosts(blocks[i].len);
		occ_add(&sp, iv); /* normally already in taken; harmless */
	}
	if (r == 0)
		r = plan_grow_loop(&sp, blocks, n_blocks, hosts_needed, cur, ret);
	if (r < 0) {
		uint64_t before = ret->hosts_before;
		memset(ret, 0, sizeof(*ret));
		ret->hosts_before = before;
	}
	free(cur);
	space_done(&sp);
	return r;
}

/* Whether any of used[] lies in iv. */
static bool used_in(const uint64_t *used, size_t n_used, struct ival iv)
{
	for (size_t i = 0; i < n_used; i++)
		if (iv.s <= used[i] && used[i] <= iv.e)
			return true;
	return false;
}

static int shrink_input(const struct ipprefix *blocks, size_t n_blocks, const struct ipaddr *used, size_t n_used,
			uint64_t *ret_used)
{
	for (size_t i = 0; i < n_blocks; i++)
		if (blocks[i].addr.family != AF_INET || blocks[i].len > 32)
			return -EAFNOSUPPORT;
	for (size_t i = 0; i < n_used; i++) {
		if (used[i].family != AF_INET)
			return -EAFNOSUPPORT;
		ret_used[i] = (uint64_t)ipaddr_to_u128(&used[i]);
	}
	return 0;
}

/* Halve block i in place while the upper half is free and the hosts left
 * still suffice; one SHRINK action for all the steps. */
static void shrink_block(const struct ipprefix *b, size_t i, const uint64_t *used, size_t n_used, uint64_t need,
			 uint64_t *have, struct wan_plan *plan)
{
	struct ival iv = prefix_ival(b);
	unsigned len = b->len;

	while (len < WAN_DEFAULT_LEN) {
		uint64_t lost = wan_block_hosts(len) - wan_block_hosts(len + 1);
		struct ival upper = {iv.s + block_size(len + 1), iv.e};
		if (*have - lost < need || used_in(used, n_used, upper))
			break;
		iv.e = upper.s - 1;
		len++;
		*have -= lost;
	}
	if (len != b->len)
		plan->actions[plan->n++] = (struct wan_action){
		    .kind = WAN_ACTION_SHRINK, .index = i, .from = *b, .block = ival_prefix(iv.s, len)};
}

int wan_plan_shrink(const struct ipprefix *blocks, size_t n_blocks, const struct ipaddr *used, size_t n_used,
		    uint64_t hosts_needed, struct wan_plan *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (n_blocks == 0 || !blocks)
		return -EINVAL;
	uint64_t *u = xcalloc(n_used + 1, sizeof(*u));
	int r = shrink_input(blocks, n_blocks, used, n_used, u);
	bool *gone = xcalloc(n_blocks, sizeof(*gone));
	uint64_t have = 0;

	for (size_t i = 0; r == 0 && i < n_blocks; i++)
		have += wan_block_hosts(blocks[i].len);
	ret->hosts_before = have;
	/* Whole blocks first, the last added first; never the first. */
	for (size_t i = n_blocks; r == 0 && i-- > 1 && ret->n < WAN_PLAN_MAX && have > hosts_needed;) {
		uint64_t h = wan_block_hosts(blocks[i].len);
		if (have - h < hosts_needed || used_in(u, n_used, prefix_ival(&blocks[i])))
			continue;
		gone[i] = true;
		have -= h;
		ret->actions[ret->n++] =
		    (struct wan_action){.kind = WAN_ACTION_RELEASE, .index = i, .block = blocks[i]};
	}
	for (size_t i = n_blocks; r == 0 && i-- > 0 && ret->n < WAN_PLAN_MAX && have > hosts_needed;)
		if (!gone[i])
			shrink_block(&blocks[i], i, u, n_used, hosts_needed, &have, ret);
	ret->hosts_after = have;
	if (r < 0)
		memset(ret, 0, sizeof(*ret));
	free(gone);
	free(u);
	return r;
}
