/* Database work off the event loop (ARCHITECTURE.md: database access must
 * never stall RPC or HTTP handling).
 *
 * Like Redis's bio threads: every db_* call of region/db runs on a worker
 * thread that owns its own connection; the loop hands a job over and gets
 * its result back as a callback on the loop thread, through an eventfd (the
 * way common/work.c and common/rpc bridge their threads).
 *
 * Two lanes keep today's semantics:
 *  - DB_LANE_WRITE: one thread, one connection, jobs in submission order.
 *    Every job that writes goes here, so writes stay serialised exactly as
 *    they were when the loop ran them one after another; a transaction is a
 *    job (begin..commit inside fn), never split across jobs.
 *  - DB_LANE_READ: a few threads (readers), for jobs that only read; they
 *    run beside the writer and beside each other.
 *
 * A database outage: a job whose connection is lost is tried against a
 * fresh connection once (db_exec); if that fails too the pool is marked
 * down and reconnects with backoff (0.25 s doubling to 8 s). While it is
 * down db_pool_submit refuses at once with -ENOTCONN, so an API request
 * gets its 503 in well under a second instead of waiting on a connect. A
 * health probe on the loop brings the pool back up without traffic.
 *
 * fn must not touch loop-owned state: everything it needs is in arg,
 * copied there before submitting, and everything it produces goes back in
 * arg. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct db;
struct db_pool;

enum db_lane {
	DB_LANE_WRITE,
	DB_LANE_READ,
};

/* Runs on a worker with that worker's connection. The return value (>= 0
 * or -errno, as db.h) is handed to done. */
typedef int (*db_job_fn)(struct db *db, void *arg);
/* Runs on the loop thread, exactly once per accepted job. status is what
 * fn returned, -ENOTCONN if the database went down before fn could run,
 * or -ECANCELED when the pool is being freed (then free arg, do nothing
 * else). */
typedef void (*db_done_fn)(void *arg, int status);

/* Jobs waiting per lane; more are refused with -EAGAIN. */
#define DB_POOL_QUEUE_MAX	4096
#define DB_POOL_READERS_DEFAULT 2

/* Connect readers + 1 connections to dsn (schema already migrated by
 * db_open). err says what failed. */
int db_pool_new(struct event_base *base, const char *dsn, unsigned readers, struct db_pool **ret, char *err,
		size_t errlen);
/* Waits for running jobs, then calls done(arg, -ECANCELED) for every job
 * not yet delivered. NULL is fine. */
void db_pool_free(struct db_pool *p);
/* Queue a job; call from the loop thread. 0: done will be called exactly
 * once. -ENOTCONN: the database is down (backing off), -EAGAIN: the lane's
 * queue is full; in both cases done is not called and nothing ran. */
int db_pool_submit(struct db_pool *p, enum db_lane lane, db_job_fn fn, db_done_fn done, void *arg);
/* false while the pool is backing off after losing the database. */
bool db_pool_is_up(const struct db_pool *p);
/* Jobs queued or running on a lane (for metrics and tests). */
unsigned db_pool_queued(const struct db_pool *p, enum db_lane lane);
/* The message of the last connection failure ("" when up), into buf. */
void db_pool_last_error(const struct db_pool *p, char *buf, size_t len);
