/* Database work from the loop: one entry point for region/rpc, region/dhcp,
 * region/boot and region/rackcfg.c, so each of them is written once as a
 * job (region/db/pool.h) whatever runs it.
 *
 * done is called exactly once, also when the job cannot be queued (then
 * synchronously, with -ENOTCONN or -EAGAIN): callers have one path for
 * results and never touch arg after submitting. */
#pragma once

#include "region/db/pool.h"

struct region;

void region_dbjob_submit(struct region *r, enum db_lane lane, db_job_fn fn, db_done_fn done, void *arg);
/* A status that means the database is not there (as opposed to a query
 * that failed): -ENOTCONN, -EIO, -EAGAIN. */
static inline int region_dbjob_is_outage(int status)
{
	return status == -ENOTCONN || status == -EIO || status == -EAGAIN;
}
