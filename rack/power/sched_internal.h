/* Shared by rack/power/sched.c (the rules) and sched_index.c (the
 * structures that find machines fast: the hash table, the ready FIFO and
 * the time-event heap). Nothing else includes this. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "rack/power/sched.h"

#define HEAP_NONE SIZE_MAX

enum group_phase {
	GROUP_QUEUED,	 /* in act or qry: not started */
	GROUP_RUNNING,	 /* its call holds a slot */
	GROUP_BACKOFF,	 /* a TRANSIENT attempt ended; the retry waits for retry_at_us */
	GROUP_WAIT_SLOT, /* the backoff ended; the retry waits in the ready FIFO */
};

struct waiter {
	struct power_req req;
	struct waiter *next;
};

/* One request as the engine works on it: an action (one waiter) or a query
 * (every coalesced waiter). */
struct group {
	enum power_action action;
	struct power_boot boot;
	struct waiter *head;
	struct waiter **tailp;
	unsigned n;
	enum group_phase phase;
	unsigned attempts;
	int64_t deadline_us; /* set when the first attempt starts */
	int64_t retry_at_us;
	bool has_err;
	char last_err[sizeof(((struct power_result *)0)->message)];
};

struct mach;

struct sched_run {
	struct power_run pub; /* first: the owner sees &pub */
	struct mach *m;
};

struct mach {
	uint64_t id;
	struct mach *hnext;
	struct group *cur;
	struct group *act;
	struct group *qry;
	struct sched_run *run;
	/* ready FIFO */
	bool ready;
	struct mach *rprev;
	struct mach *rnext;
	/* time event */
	size_t heap_idx;
	int64_t timer_us;
};

/* A submit or done that arrived inside a callback. */
struct deferred {
	struct deferred *next;
	bool is_done;
	int64_t now_us;
	struct power_req req;	 /* submit */
	struct sched_run *run;	 /* done */
	struct power_result res; /* done */
};

struct power_sched {
	struct power_sched_opts o;
	struct power_sched_ops ops;
	void *ctx;

	struct mach **tab;
	size_t nbuckets;
	size_t nmach;

	struct mach *ready_head;
	struct mach *ready_tail;

	struct mach **heap;
	size_t nheap;
	size_t heapcap;

	unsigned running;
	unsigned queued;

	unsigned depth; /* > 0: inside an engine call (callbacks may run) */
	bool dying;
	struct deferred *dhead;
	struct deferred **dtailp;
};

/* sched_index.c */
size_t mach_hash(uint64_t id, size_t nbuckets);
struct mach *mach_find(const struct power_sched *s, uint64_t id);
void mach_table_grow(struct power_sched *s);
struct mach *mach_get(struct power_sched *s, uint64_t id);
void mach_remove(struct power_sched *s, struct mach *m);
void ready_push(struct power_sched *s, struct mach *m);
void ready_remove(struct power_sched *s, struct mach *m);
void heap_place(struct power_sched *s, size_t i, struct mach *m);
void heap_up(struct power_sched *s, size_t i);
void heap_down(struct power_sched *s, size_t i);
void timer_clear(struct power_sched *s, struct mach *m);
void timer_set(struct power_sched *s, struct mach *m, int64_t at_us);
