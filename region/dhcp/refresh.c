/* Keeping every rack's DHCP config in step with the model: a change
 * schedules one rebuild a moment later (a burst of API writes makes one
 * rebuild), which stores and pushes a new snapshot to each rack whose DHCP
 * config came out different. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "region/db/db.h"
#include "region/db/dhcp_db.h"
#include "region/dhcp/internal.h"
#include "region/region.h"
#include "region/rpc/dbjob.h"

#define DHCP_DEBOUNCE_MS 200

struct dhcp_rack_state *dhcp_rack_state_get(struct region_dhcp *d, const char *rack_id)
{
	for (struct dhcp_rack_state *s = d->racks; s; s = s->next) {
		if (strcmp(s->rack_id, rack_id) == 0)
			return s;
	}
	struct dhcp_rack_state *s = xcalloc(1, sizeof(*s));
	snprintf(s->rack_id, sizeof(s->rack_id), "%s", rack_id);
	s->next = d->racks;
	d->racks = s;
	return s;
}

static void dhcp_rack_state_free(struct dhcp_rack_state *s)
{
	free(s->warning);
	free(s->leases);
	free(s->conflicts);
	free(s);
}

/* A skipped VLAN is logged when it starts (or stops) being skipped, not
 * on every rebuild. */
static void dhcp_refresh_warn(struct region_dhcp *d, const char *rack_id, const char *why)
{
	struct dhcp_rack_state *s = dhcp_rack_state_get(d, rack_id);
	if (strcmp(s->warning ? s->warning : "", why) == 0)
		return;
	if (why[0])
		log_warn("rack %s: DHCP: %s", rack_id, why);
	else if (s->warning)
		log_info("rack %s: DHCP: every VLAN it is primary for is served now", rack_id);
	free(s->warning);
	s->warning = xstrdup(why);
}

/* One rack's rebuild, done in the job. */
struct refresh_rack {
	char rack_id[64];
	int build_rc;
	int store_rc; /* 1 stored, 0 unchanged, -errno */
	uint64_t version;
	size_t len;
	struct dhcp_build_stats st;
	char why[1024];
	char err[256];
};

struct refresh_job {
	struct region *r;
	struct dhcp_build_conf conf;
	struct refresh_rack *racks;
	size_t n;
	char err[256];
};

static void dhcp_refresh_one(struct db *db, const struct dhcp_build_conf *c, struct refresh_rack *k)
{
	uint8_t *cfg = NULL;
	k->build_rc = dhcp_build(db, c, k->rack_id, &cfg, &k->len, &k->st, k->why, sizeof(k->why));
	if (k->build_rc < 0)
		return;
	k->store_rc = db_rack_config_put_dhcp(db, k->rack_id, cfg, k->len, &k->version);
	if (k->store_rc < 0)
		snprintf(k->err, sizeof(k->err), "%s", db_last_error(db));
	free(cfg);
}

static int dhcp_refresh_run(struct db *db, void *arg)
{
	struct refresh_job *j = arg;
	struct rack_row *rows = NULL;
	size_t n = 0;
	if (db_rack_list(db, &rows, &n) < 0) {
		snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
		return -EIO;
	}
	j->racks = xcalloc(n ? n : 1, sizeof(*j->racks));
	for (size_t i = 0; i < n; i++) {
		struct refresh_rack *k = &j->racks[j->n++];
		snprintf(k->rack_id, sizeof(k->rack_id), "%s", rows[i].id);
		dhcp_refresh_one(db, &j->conf, k);
	}
	db_rack_rows_free(rows, n);
	return 0;
}

/* On the loop: log what changed and offer new snapshots. */
static void dhcp_refresh_report(struct region *r, const struct refresh_rack *k)
{
	if (k->build_rc < 0) {
		log_err("rack %s: cannot build its DHCP config: %s", k->rack_id, k->why);
		return;
	}
	dhcp_refresh_warn(r->dhcp, k->rack_id, k->why);
	if (k->store_rc < 0) {
		/* -ENOENT: the rack was deleted meanwhile. */
		if (k->store_rc != -ENOENT)
			log_err("rack %s: cannot store its DHCP config: %s", k->rack_id, k->err);
		return;
	}
	if (k->store_rc == 0)
		return;
	if (k->len == 0)
		log_info("rack %s: DHCP config version %llu: no DHCP served", k->rack_id,
			 (unsigned long long)k->version);
	else
		log_info("rack %s: DHCP config version %llu: %zu VLAN%s, %zu subnet%s, %zu reservation%s", k->rack_id,
			 (unsigned long long)k->version, k->st.vlans, k->st.vlans == 1 ? "" : "s", k->st.subnets,
			 k->st.subnets == 1 ? "" : "s", k->st.hosts, k->st.hosts == 1 ? "" : "s");
	region_rack_offer_config(r, k->rack_id);
}

static void dhcp_refresh_done(void *arg, int status)
{
	struct refresh_job *j = arg;
	struct region *r = j->r;
	if (status != -ECANCELED && r->dhcp) {
		if (status < 0)
			log_err("DHCP: cannot list racks: %s", j->err[0] ? j->err : strerror(-status));
		for (size_t i = 0; i < j->n; i++)
			dhcp_refresh_report(r, &j->racks[i]);
	}
	region_dhcp_build_conf_done(&j->conf);
	free(j->racks);
	free(j);
}

/* Build every rack's DHCP config and store those that changed, in one
 * write job (the model is read where the snapshots are written). */
static void dhcp_refresh_all(evutil_socket_t fd, short what, void *arg)
{
	struct region *r = arg;
	struct refresh_job *j = xcalloc(1, sizeof(*j));
	j->r = r;
	region_dhcp_build_conf_get(r, &j->conf);
	region_dbjob_submit(r, DB_LANE_WRITE, dhcp_refresh_run, dhcp_refresh_done, j);
}

void region_dhcp_changed(struct region *r)
{
	if (!r->dhcp || evtimer_pending(r->dhcp->timer, NULL))
		return;
	struct timeval tv = {0, DHCP_DEBOUNCE_MS * 1000};
	evtimer_add(r->dhcp->timer, &tv);
}

/* ---- quarantines past their end ---- */

struct sweep_job {
	long removed;
};

static int dhcp_sweep_run(struct db *db, void *arg)
{
	struct sweep_job *j = arg;
	return dhcp_db_conflicts_expire(db, &j->removed);
}

static void dhcp_sweep_done(void *arg, int status)
{
	struct sweep_job *j = arg;
	if (status == 0 && j->removed > 0)
		log_info("dhcp: %ld quarantined addresses past their end removed", j->removed);
	else if (status < 0 && !region_dbjob_is_outage(status))
		log_warn("dhcp: removing ended quarantines failed: %s", strerror(-status));
	free(j);
}

static void dhcp_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct region *r = arg;
	region_dbjob_submit(r, DB_LANE_WRITE, dhcp_sweep_run, dhcp_sweep_done, xcalloc(1, sizeof(struct sweep_job)));
}

int region_dhcp_init(struct region *r)
{
	char err[512];
	struct region_dhcp *d = xcalloc(1, sizeof(*d));
	d->r = r;
	/* Checked at start-up already (region_dhcp_conf_check). */
	int rc = dhcp_boot_files_parse(&r->conf.dhcp_boot_files, &d->files, &d->n_files, err, sizeof(err));
	if (rc < 0) {
		log_err("%s", err);
		free(d);
		return rc;
	}
	d->timer = evtimer_new(r->base, dhcp_refresh_all, r);
	d->sweep = event_new(r->base, -1, EV_PERSIST, dhcp_sweep, r);
	struct timeval every = {DHCP_SWEEP_S, 0};
	if (!d->timer || !d->sweep || event_add(d->sweep, &every) < 0) {
		if (d->timer)
			event_free(d->timer);
		if (d->sweep)
			event_free(d->sweep);
		dhcp_boot_files_free(d->files, d->n_files);
		free(d);
		return -ENOMEM;
	}
	r->dhcp = d;
	if (dhcp_witness_start(r) < 0) {
		region_dhcp_done(r);
		return -ENOMEM;
	}
	/* regiond.conf may have changed what every rack serves. */
	region_dhcp_changed(r);
	return 0;
}

void region_dhcp_done(struct region *r)
{
	struct region_dhcp *d = r->dhcp;
	if (!d)
		return;
	dhcp_witness_stop(r);
	event_free(d->timer);
	event_free(d->sweep);
	dhcp_boot_files_free(d->files, d->n_files);
	while (d->racks) {
		struct dhcp_rack_state *s = d->racks;
		d->racks = s->next;
		dhcp_rack_state_free(s);
	}
	free(d);
	r->dhcp = NULL;
}
