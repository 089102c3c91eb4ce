/* See dbjob.h. */
#include <errno.h>

#include "region/region.h"
#include "region/rpc/dbjob.h"

void region_dbjob_submit(struct region *r, enum db_lane lane, db_job_fn fn, db_done_fn done, void *arg)
{
	if (r->dbpool) {
		int rc = db_pool_submit(r->dbpool, lane, fn, done, arg);
		if (rc < 0)
			done(arg, rc);
		return;
	}
	/* Start-up before the pool exists: the start-up connection. */
	if (r->db) {
		done(arg, fn(r->db, arg));
		return;
	}
	done(arg, -ENOTCONN);
}
