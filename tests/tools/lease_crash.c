/* Crash helper for the lease store (tests/system/test_lease_crash.py).
 *
 *   lease_crash write DIR   stage 1..25 leases per batch, commit, then print
 *                           "<seq> <addr-hex>" for every lease in the batch
 *                           (only after fdatasync returned), forever, until
 *                           killed
 *   lease_crash dump DIR    replay and print "<seq> <addr-hex>" per ACTIVE
 *                           lease, then "replayed seq=N truncated=B"
 *
 * What "write" prints is exactly what a rack may have ACKed; after SIGKILL,
 * "dump" must list every one of them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rack/dhcp/leases.h"

static int dump_one(const struct lease *l, void *userdata)
{
	if (l->state == LEASE_ACTIVE)
		printf("%llu %08x\n", (unsigned long long)l->seq, l->addr);
	return 0;
}

int main(int argc, char **argv)
{
	struct lease_store_config cfg = {.max_leases = 1u << 20, .max_per_client = 1};
	struct lease_replay_stats st;
	struct lease_store *s;

	if (argc != 3 || (strcmp(argv[1], "write") && strcmp(argv[1], "dump"))) {
		fprintf(stderr, "usage: lease_crash write|dump DIR\n");
		return 2;
	}
	cfg.dir = argv[2];
	int r = lease_store_open(&cfg, &s, &st);
	if (r < 0) {
		fprintf(stderr, "lease_crash: open %s: %s\n", argv[2], strerror(-r));
		return 1;
	}
	if (!strcmp(argv[1], "dump")) {
		lease_store_foreach(s, dump_one, NULL);
		printf("replayed seq=%llu truncated=%llu corrupt=%d\n", (unsigned long long)st.seq,
		       (unsigned long long)st.truncated_bytes, st.corrupt);
		lease_store_free(s);
		return 0;
	}
	uint32_t next = 0x0a000001u + (uint32_t)lease_store_count(s);
	srand(42);
	for (unsigned batch = 0;; batch++) {
		uint32_t addrs[25];
		int64_t seqs[25];
		int n = 1 + rand() % 25;
		for (int i = 0; i < n; i++) {
			struct lease l = {.addr = next++,
					  .state = LEASE_ACTIVE,
					  .htype = 1,
					  .hlen = 6,
					  .start = 1700000000,
					  .expiry = 1700003600,
					  .subnet_id = 1};
			memcpy(l.chaddr, &l.addr, 4);
			snprintf(l.hostname, sizeof(l.hostname), "crash-%u", l.addr);
			seqs[i] = lease_store_stage(s, &l);
			addrs[i] = l.addr;
			if (seqs[i] < 0) {
				fprintf(stderr, "lease_crash: stage: %s\n", strerror((int)-seqs[i]));
				return 1;
			}
		}
		r = lease_store_commit(s);
		if (r < 0) {
			fprintf(stderr, "lease_crash: commit: %s\n", strerror(-r));
			return 1;
		}
		for (int i = 0; i < n; i++)
			printf("%lld %08x\n", (long long)seqs[i], addrs[i]);
		fflush(stdout);
		if (batch % 200 == 199 && lease_store_compact(s) < 0)
			return 1;
	}
}
