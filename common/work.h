/* A small pool of worker threads for blocking work (hashing big files,
 * libcurl transfers) whose results come back on the daemon's libevent loop.
 *
 * fn(arg) runs on a worker thread; afterwards done(arg, false) runs on the
 * loop thread. Jobs run in submission order; with one thread they also run
 * one at a time, which owners may rely on to serialise their own jobs.
 * Results are posted back through an eventfd the loop watches, the same
 * way common/rpc bridges gRPC's completion queue.
 *
 * fn must not touch loop-owned state: it gets everything through arg. A
 * long fn should watch a cancellation flag of its own (work_pool_free waits
 * for running jobs). */
#pragma once

#include <stdbool.h>

struct event_base;
struct work_pool;

typedef void (*work_fn)(void *arg);
/* cancelled: the pool is being freed and fn may not have run; free arg and
 * do nothing else (in particular, submit nothing). */
typedef void (*work_done_fn)(void *arg, bool cancelled);

int work_pool_new(struct event_base *base, unsigned threads, struct work_pool **ret);
/* Waits for running jobs, then calls done(arg, true) on the calling thread
 * for every job not yet delivered. NULL is fine. */
void work_pool_free(struct work_pool *pool);
/* Queue a job. Call from the loop thread. */
void work_submit(struct work_pool *pool, work_fn fn, work_done_fn done, void *arg);
/* Jobs queued or running, not yet delivered. */
unsigned work_pending(const struct work_pool *pool);
