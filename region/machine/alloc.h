/* Allocation (docs/deploy.md, "Allocation"): which READY machines a
 * request's filter accepts, which of them it gets, and — when none — a
 * sentence saying what was missing. Pure: the database picks and moves the
 * machine in one statement (region/db/alloc_db.h) with the same rules
 * written in SQL; these functions are the rules of record, used for the
 * infrastructure editor's binding (region/ipam/plan.h) and for the
 * explanation, and unit-tested (tests/unit/test_alloc.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALLOC_TAGS_MAX 16 /* tags in one filter, and on one machine */
#define ALLOC_TAG_MAX  63 /* characters in a tag */

/* What a request asks for; zeroed fields ask for nothing. */
struct alloc_filter {
	char zone[64];				      /* "" = any zone */
	uint32_t min_cpu;			      /* CPUs (threads, as the agent counts them) */
	uint32_t min_memory_gib;		      /* GiB of installed memory */
	uint32_t min_disk_gb;			      /* GB (10^9 bytes) of all disks together */
	uint32_t min_interfaces;		      /* NICs; the infrastructure binding asks for its ports */
	char tags[ALLOC_TAGS_MAX][ALLOC_TAG_MAX + 1]; /* the machine must carry every one */
	size_t n_tags;
};

/* A READY machine as the rules see it. Strings are borrowed. */
struct alloc_machine {
	int64_t id;
	const char *hostname;
	const char *zone;
	uint32_t cpu_count;
	uint64_t memory_mib;
	uint64_t storage_bytes;
	uint32_t interfaces;
	const char *const *tags;
	size_t n_tags;
};

/* A tag: 1-63 of [A-Za-z0-9._:-], starting with a letter or digit (so a
 * list of them is safe as words, as CSV and as a PostgreSQL array). */
bool alloc_tag_valid(const char *tag);

/* Add tag to f (no duplicates). -EINVAL for a bad tag, -E2BIG beyond
 * ALLOC_TAGS_MAX; msg says which. */
int alloc_filter_tag_add(struct alloc_filter *f, const char *tag, char *msg, size_t msg_len);

/* Does m meet every condition of f? */
bool alloc_match(const struct alloc_filter *f, const struct alloc_machine *m);

/* Best fit first: the smallest machine that matches is taken, so a large
 * one stays for a request that needs it. Orders by CPUs, memory, storage,
 * then id (the SQL's ORDER BY). */
int alloc_fit_cmp(const struct alloc_machine *a, const struct alloc_machine *b);

/* Index in m[0..n) of the machine f gets (best fit), or -1 when none
 * matches. taken (may be NULL) marks machines already given away. */
long alloc_pick(const struct alloc_filter *f, const struct alloc_machine *m, size_t n, const bool *taken);

/* The conditions as words: "in zone rack-a with at least 8 CPUs, at least
 * 16 GiB of memory and tags gpu, ssd"; "" when f asks for nothing. */
void alloc_filter_text(const struct alloc_filter *f, char *buf, size_t len);

/* Why no machine of ready[0..n) (every READY machine, of any zone)
 * matches f: "no READY machine in zone rack-a with at least 8 CPUs: 3
 * READY machines there, the largest has 4 CPUs". */
void alloc_explain(const struct alloc_filter *f, const struct alloc_machine *ready, size_t n, char *buf, size_t len);
