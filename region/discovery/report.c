/* What racks see on the wire: NeighbourReports, checked by region/rpc
 * (validate.c: every field; session_trust.c: only VLANs the rack serves),
 * applied as one write job, the rack's Status sent from its done. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "region/db/db.h"
#include "region/db/discovery_db.h"
#include "region/discovery/discovery.h"
#include "region/rpc/dbjob.h"
#include "region/rpc/session.h"

struct disc_job {
	struct region *r;
	struct region_session_ref ref;
	uint64_t request_id;
	Ironrack__V1__NeighbourReport *rep; /* our copy: s points into it */
	struct disc_db_sighting *s;
	size_t n;
	uint64_t dropped;
	char why[512];
};

static void disc_job_free(struct disc_job *j)
{
	ironrack__v1__neighbour_report__free_unpacked(j->rep, NULL);
	free(j->s);
	free(j);
}

static int disc_apply(struct db *db, void *arg)
{
	struct disc_job *j = arg;
	int rc = disc_db_apply(db, j->ref.rack_id, j->s, j->n);
	if (rc < 0)
		snprintf(j->why, sizeof(j->why), "database: %s", db_last_error(db));
	return rc;
}

static void disc_applied(void *arg, int status)
{
	struct disc_job *j = arg;
	const char *rack_id = j->ref.rack_id;
	if (status == -ECANCELED) {
		disc_job_free(j);
		return;
	}
	if (status < 0) {
		if (!j->why[0])
			snprintf(j->why, sizeof(j->why), "database: %s", strerror(-status));
		log_err("rack %s: cannot store a discovery report: %s", rack_id, j->why);
	} else {
		size_t outside = 0;
		for (size_t i = 0; i < j->n; i++) {
			if (j->s[i].conflict)
				log_warn("%s", j->s[i].description);
			if (j->s[i].result == -ENOENT)
				outside++;
		}
		if (outside)
			log_info("rack %s: %zu sighting%s on observed-only interfaces outside the rack's networks "
				 "not kept",
				 rack_id, outside, outside == 1 ? "" : "s");
		if (j->dropped)
			log_info("rack %s: discovery dropped %llu events (over its rate or queue) before this report",
				 rack_id, (unsigned long long)j->dropped);
		log_debug("rack %s: discovery report applied: %zu events", rack_id, j->n);
	}
	struct rack_session *sess = region_session_find(j->r, &j->ref);
	if (sess)
		region_session_reply_status(sess, j->request_id, status < 0 ? status : 0, j->why);
	disc_job_free(j);
}

static void disc_on_report(struct rack_session *sess, const Ironrack__V1__RackMessage *m)
{
	const Ironrack__V1__NeighbourReport *in = m->neighbour_report;
	struct disc_job *j = xcalloc(1, sizeof(*j));
	j->r = region_session_region(sess);
	region_session_ref_get(sess, &j->ref);
	j->request_id = m->request_id;
	/* m dies when we return: keep a copy for the job. */
	size_t len = ironrack__v1__neighbour_report__get_packed_size(in);
	uint8_t *buf = xmalloc(len ? len : 1);
	ironrack__v1__neighbour_report__pack(in, buf);
	j->rep = ironrack__v1__neighbour_report__unpack(NULL, len, buf);
	free(buf);
	if (!j->rep)
		oom_abort(len);
	j->dropped = j->rep->dropped;
	j->s = xcalloc(j->rep->n_events ? j->rep->n_events : 1, sizeof(*j->s));
	for (size_t i = 0; i < j->rep->n_events; i++) {
		const Ironrack__V1__NeighbourEvent *ev = j->rep->events[i];
		struct disc_db_sighting *s = &j->s[j->n++];
		s->kind = ev->kind;
		s->ip = ev->address;
		s->mac = ev->mac;
		s->old_mac = ev->old_mac;
		s->hostname = ev->hostname;
		s->interface = ev->interface;
		s->vlan_id = ev->vlan_id;
		s->first_ms = ev->first_seen_unix_ms;
		s->last_ms = ev->last_seen_unix_ms;
	}
	region_dbjob_submit(j->r, DB_LANE_WRITE, disc_apply, disc_applied, j);
}

static const struct region_session_handler disc_handlers[] = {
    {IRONRACK__V1__RACK_MESSAGE__BODY_NEIGHBOUR_REPORT, disc_on_report},
};

const struct region_session_feature region_discovery_session = {
    .name = "discovery",
    .handlers = disc_handlers,
    .n_handlers = sizeof(disc_handlers) / sizeof(disc_handlers[0]),
};
