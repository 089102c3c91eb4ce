/* Micro-benchmark: the rack's lease store (rack/dhcp/leases.h) on a real
 * disk — group commit (journal write + fdatasync per batch), compaction
 * and reopen (snapshot + journal replay).
 *
 *   build/bench/lease_store [leases] [leases-per-commit] [dir]
 *
 * defaults: 10,000 leases, 100 per commit, a fresh directory under /tmp
 * (removed afterwards). Run it on the disk the rack's state_dir lives on:
 * the commit rate is the fdatasync rate of that disk. Prints one line:
 * leases/s through commit, journal bytes, two compactions (the snapshot's
 * build, which the rack does on its loop, and its writes, on the commit
 * thread; the second reuses the first's buffer) and reopen times.
 *
 * Build (until a Makefile rule exists):
 *   make build/librack.a build/libcommon.a
 *   cc -O2 -std=gnu17 -D_GNU_SOURCE -I. -Ibuild/gen -o build/bench/lease_store \
 *      tests/bench/lease_store.c build/librack.a build/libcommon.a -lpthread */
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/util.h"
#include "rack/dhcp/leases.h"

#define BASE 0x0a010000u /* 10.1.0.0 */
#define NOW  1700000000

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static struct lease bench_lease(uint32_t i)
{
	struct lease l = {.addr = BASE + i, .state = LEASE_ACTIVE, .htype = 1, .hlen = 6};
	l.chaddr[0] = 0x52;
	l.chaddr[3] = (uint8_t)(i >> 16);
	l.chaddr[4] = (uint8_t)(i >> 8);
	l.chaddr[5] = (uint8_t)i;
	snprintf(l.hostname, sizeof(l.hostname), "host-%u", i);
	l.start = NOW;
	l.expiry = NOW + 3600;
	l.subnet_id = 7;
	l.range_id = 3;
	return l;
}

/* CPU seconds (user + system) of this process so far. */
static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int bench_open(const char *dir, uint32_t max, struct lease_store **ret)
{
	struct lease_store_config cfg = {.dir = dir, .max_leases = max + 1, .max_per_client = 4};
	int r = lease_store_open(&cfg, ret, NULL);
	if (r < 0)
		fprintf(stderr, "lease_store: cannot open a store in %s: %s\n", dir, strerror(-r));
	return r;
}

/* The snapshot is built on the loop (begin), written on the commit thread
 * (run). */
static int compact_once(struct lease_store *s, double *ret_build_ms, double *ret_write_ms)
{
	struct lease_flush fl;
	int64_t t0 = clock_mono_us();
	int r = lease_store_flush_begin_compact(s, &fl);
	*ret_build_ms = (double)(clock_mono_us() - t0) / 1e3;
	t0 = clock_mono_us();
	if (r > 0) {
		lease_flush_run(&fl);
		r = lease_store_flush_done(s, &fl);
		if (r == 0)
			r = fl.compact_result;
	}
	*ret_write_ms = (double)(clock_mono_us() - t0) / 1e3;
	return r < 0 ? r : 0;
}

static int bench_run(const char *dir, uint32_t n, uint32_t per_commit)
{
	struct lease_store *s;
	unsigned commits = 0;

	if (bench_open(dir, n, &s) < 0)
		return 1;
	int64_t t0 = clock_mono_us();
	double cpu0 = cpu_s();
	for (uint32_t i = 0; i < n; i++) {
		struct lease l = bench_lease(i);
		if (lease_store_stage(s, &l) <= 0) {
			fprintf(stderr, "lease_store: staging lease %u failed\n", i);
			return 1;
		}
		if (i % per_commit == per_commit - 1 || i == n - 1) {
			if (lease_store_commit(s) < 0) {
				fprintf(stderr, "lease_store: commit failed\n");
				return 1;
			}
			commits++;
		}
	}
	double commit_ms = (double)(clock_mono_us() - t0) / 1e3;
	double commit_cpu_us = (cpu_s() - cpu0) * 1e6 / commits;
	uint64_t journal = lease_store_journal_bytes(s);
	/* The rack's tick looks for expired leases every second; none are. */
	struct lease due[16];
	t0 = clock_mono_us();
	int nd = lease_store_reclaim(s, NOW, due, 16);
	double reclaim_ms = (double)(clock_mono_us() - t0) / 1e3;
	if (nd != 0) {
		fprintf(stderr, "lease_store: reclaim found %d leases due, none are\n", nd);
		return 1;
	}
	/* As the rack's server does it, twice: the first compaction maps its
	 * buffer, the next ones reuse it. */
	double build_ms[2], write_ms[2];
	int r = 0;
	for (int i = 0; i < 2 && r == 0; i++)
		r = compact_once(s, &build_ms[i], &write_ms[i]);
	lease_store_free(s);
	if (r < 0) {
		fprintf(stderr, "lease_store: compaction failed: %s\n", strerror(-r));
		return 1;
	}
	t0 = clock_mono_us();
	if (bench_open(dir, n, &s) < 0)
		return 1;
	double reopen_ms = (double)(clock_mono_us() - t0) / 1e3;
	size_t count = lease_store_count(s);
	lease_store_free(s);
	if (count != n) {
		fprintf(stderr, "lease_store: reopened with %zu leases, wrote %u\n", count, n);
		return 1;
	}
	printf("lease_store: %u leases, %u commits (fdatasync), %.1f ms (%.0f leases/s; a commit %.0f us, %.0f us of "
	       "CPU), journal %llu bytes; "
	       "compaction: snapshot built %.1f ms on the loop, written %.1f ms on the commit thread (the next one: "
	       "%.1f + %.1f ms); reclaim scan %.1f ms; reopen %.1f ms\n",
	       n, commits, commit_ms, n / (commit_ms / 1e3), commit_ms * 1e3 / commits, commit_cpu_us,
	       (unsigned long long)journal, build_ms[0], write_ms[0], build_ms[1], write_ms[1], reclaim_ms, reopen_ms);
	return 0;
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 10000;
	uint32_t per_commit = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 100;
	char tmp[] = "/tmp/bench_lease_store.XXXXXX";
	const char *dir = argc > 3 ? argv[3] : mkdtemp(tmp);

	if (!dir || n == 0 || n > 0xffff * 16 || per_commit == 0) {
		fprintf(stderr, "usage: lease_store [leases (1..1048560)] [leases-per-commit] [dir]\n");
		return 2;
	}
	int rc = bench_run(dir, n, per_commit);
	if (argc <= 3)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
