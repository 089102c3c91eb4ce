/* Micro-benchmark: IPAM next-free latency (region/ipam/ipam.h).
 *
 *   make bench-ipam            (or build/bench/ipam_next_free [seconds-per-case])
 *
 * Cases from issue 3: a v4 /16 with 60,000 addresses in use and a v6 /64 with
 * 100,000 in use, each with the addresses in use laid out as
 *   dense        one consecutive run from the bottom of the subnet
 *   random       uniformly scattered
 *   interleaved  the adversarial case for run skipping: odd offsets in used[],
 *                even offsets in neighbours[], so no single array has a run
 * plus a scaling series (1,000 .. 1,000,000 in use on a /64) showing how the
 * cost grows with the number of addresses in use. Also times a full
 * utilisation pass. Prints microseconds per call (median of batches). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "region/ipam/ipam.h"

enum layout { DENSE, RANDOM, INTERLEAVED };
static const char *const layout_names[] = {"dense", "random", "interleaved"};

static uint64_t rng = 0x2545f4914f6cdd1du;

static uint64_t rnd64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* n distinct offsets in [1, limit], sorted. */
static uint64_t *random_offsets(size_t n, uint64_t limit)
{
	uint64_t *o = malloc(n * sizeof(*o));
	size_t have = 0;

	if (!o)
		abort();
	while (have < n) {
		for (size_t i = have; i < n; i++)
			o[i] = 1 + rnd64() % limit;
		qsort(o, n, sizeof(*o), cmp_u64);
		have = 0;
		for (size_t i = 0; i < n; i++) /* drop duplicates, refill */
			if (have == 0 || o[i] != o[have - 1])
				o[have++] = o[i];
	}
	return o;
}

struct bench_view {
	struct ipam_view v;
	struct ipam_used *used;
	struct ipam_neighbour *nb;
};

static void build(struct bench_view *b, const char *prefix, size_t n, enum layout layout)
{
	uint64_t limit;

	memset(b, 0, sizeof(*b));
	ipprefix_parse(prefix, true, &b->v.prefix);
	b->v.managed = true;
	b->used = calloc(n, sizeof(*b->used));
	b->nb = calloc(n, sizeof(*b->nb));
	if (!b->used || !b->nb)
		abort();
	u128 base = ipaddr_to_u128(&b->v.prefix.addr);
	limit = b->v.prefix.addr.family == 2 /* AF_INET */ ? (uint64_t)ipprefix_span(&b->v.prefix) - 1 : UINT64_MAX - 1;
	uint64_t *off = layout == RANDOM ? random_offsets(n, limit) : NULL;
	for (size_t i = 0; i < n; i++) {
		uint64_t o = layout == RANDOM ? off[i] : (uint64_t)i + 1;
		if (layout == INTERLEAVED && (o & 1) == 0)
			b->nb[b->v.n_neighbours++] = (struct ipam_neighbour){base + o, (int64_t)i};
		else
			b->used[b->v.n_used++] = (struct ipam_used){base + o, (int64_t)i, IPAM_HOLDER_MACHINE};
	}
	free(off);
	b->v.used = b->used;
	b->v.neighbours = b->nb;
	if (ipam_view_check(&b->v, NULL, NULL) != 0)
		abort();
}

static void done(struct bench_view *b)
{
	free(b->used);
	free(b->nb);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median over batches of the time per call, in microseconds. */
static double time_next_free(const struct ipam_view *v, double budget_us, u128 *ret_addr)
{
	double batches[64];
	int nb = 0;
	double start = now_us();
	unsigned per = 1;
	struct ipam_alloc al;

	/* size batches so each takes ~1/32 of the budget */
	for (;;) {
		double t0 = now_us();
		for (unsigned i = 0; i < per; i++)
			ipam_alloc_next(v, IPAM_POOL_AUTO, 0, &al);
		double t = now_us() - t0;
		if (t > budget_us / 32 || per > (1u << 24))
			break;
		per *= 2;
	}
	while (nb < 64 && now_us() - start < budget_us) {
		double t0 = now_us();
		for (unsigned i = 0; i < per; i++)
			ipam_alloc_next(v, IPAM_POOL_AUTO, 0, &al);
		batches[nb++] = (now_us() - t0) / per;
	}
	*ret_addr = al.addr;
	qsort(batches, (size_t)nb, sizeof(double), cmp_double);
	return batches[nb / 2];
}

static double time_utilisation(const struct ipam_view *v)
{
	struct ipam_utilisation u;
	double best = 1e18;

	for (int i = 0; i < 5; i++) {
		double t0 = now_us();
		ipam_utilisation(v, &u);
		double t = now_us() - t0;
		if (t < best)
			best = t;
	}
	return best;
}

static void run_case(const char *prefix, size_t n, enum layout layout, double budget_us)
{
	struct bench_view b;
	char addr[IPADDR_STRLEN];
	struct ipaddr a;
	u128 got;

	build(&b, prefix, n, layout);
	double nf = time_next_free(&b.v, budget_us, &got);
	double ut = time_utilisation(&b.v);
	ipaddr_from_u128(b.v.prefix.addr.family, got, &a);
	printf("%-22s %9zu %-12s %12.3f %14.1f   %s\n", prefix, n, layout_names[layout], nf, ut,
	       ipaddr_format(&a, addr, sizeof(addr)));
	done(&b);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 0.3;
	double budget = (seconds > 0 ? seconds : 0.3) * 1e6;

	printf("%-22s %9s %-12s %12s %14s   %s\n", "subnet", "in use", "layout", "next-free us", "utilisation us",
	       "next free address");
	for (int l = DENSE; l <= INTERLEAVED; l++)
		run_case("10.0.0.0/16", 60000, (enum layout)l, budget);
	for (int l = DENSE; l <= INTERLEAVED; l++)
		run_case("2001:db8:1::/64", 100000, (enum layout)l, budget);
	printf("\nscaling on a /64:\n");
	for (size_t n = 1000; n <= 1000000; n *= 10)
		for (int l = DENSE; l <= INTERLEAVED; l++)
			run_case("2001:db8:2::/64", n, (enum layout)l, budget);
	return 0;
}
