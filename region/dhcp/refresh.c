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
#include "region/db/db.h"
#include "region/dhcp/internal.h"
#include "region/region.h"

#define DHCP_DEBOUNCE_MS 200

struct dhcp_rack_state *dhcp_rack_state_get(struct region_dhcp *d, const char *rack_id)
{
	for (struct dhcp_rack_state *s = d->racks; s; s = s->next) {
		if (strcmp(s->rack_id, rack_id) == 0)
			return s;
	}
	struct dhcp_rack_state *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
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
	s->warning = strdup(why);
	if (!s->warning)
		abort();
}

static void dhcp_refresh_rack(struct region *r, const char *rack_id)
{
	char why[1024];
	uint8_t *cfg = NULL;
	size_t len = 0;
	uint64_t version = 0;
	struct dhcp_build_stats st;

	int rc = dhcp_build(r, rack_id, &cfg, &len, &st, why, sizeof(why));
	if (rc < 0) {
		log_err("rack %s: cannot build its DHCP config: %s", rack_id, why);
		return;
	}
	dhcp_refresh_warn(r->dhcp, rack_id, why);
	rc = db_rack_config_put_dhcp(r->db, rack_id, cfg, len, &version);
	free(cfg);
	if (rc < 0) {
		/* -ENOENT: the rack was deleted meanwhile. */
		if (rc != -ENOENT)
			log_err("rack %s: cannot store its DHCP config: %s", rack_id, db_last_error(r->db));
		return;
	}
	if (rc == 0)
		return;
	if (len == 0)
		log_info("rack %s: DHCP config version %llu: no DHCP served", rack_id, (unsigned long long)version);
	else
		log_info("rack %s: DHCP config version %llu: %zu VLAN%s, %zu subnet%s, %zu reservation%s", rack_id,
			 (unsigned long long)version, st.vlans, st.vlans == 1 ? "" : "s", st.subnets,
			 st.subnets == 1 ? "" : "s", st.hosts, st.hosts == 1 ? "" : "s");
	region_rack_offer_config(r, rack_id);
}

static void dhcp_refresh_all(evutil_socket_t fd, short what, void *arg)
{
	struct region *r = arg;
	struct rack_row *racks = NULL;
	size_t n = 0;

	if (db_rack_list(r->db, &racks, &n) < 0) {
		log_err("DHCP: cannot list racks: %s", db_last_error(r->db));
		return;
	}
	for (size_t i = 0; i < n; i++)
		dhcp_refresh_rack(r, racks[i].id);
	db_rack_rows_free(racks, n);
}

void region_dhcp_changed(struct region *r)
{
	if (!r->dhcp || evtimer_pending(r->dhcp->timer, NULL))
		return;
	struct timeval tv = { 0, DHCP_DEBOUNCE_MS * 1000 };
	evtimer_add(r->dhcp->timer, &tv);
}

int region_dhcp_init(struct region *r)
{
	char err[512];
	struct region_dhcp *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->r = r;
	/* Checked at start-up already (region_dhcp_conf_check). */
	int rc = dhcp_boot_files_parse(&r->conf.dhcp_boot_files, &d->files, &d->n_files, err, sizeof(err));
	if (rc < 0) {
		log_err("%s", err);
		free(d);
		return rc;
	}
	d->timer = evtimer_new(r->base, dhcp_refresh_all, r);
	if (!d->timer) {
		dhcp_boot_files_free(d->files, d->n_files);
		free(d);
		return -ENOMEM;
	}
	r->dhcp = d;
	/* regiond.conf may have changed what every rack serves. */
	region_dhcp_changed(r);
	return 0;
}

void region_dhcp_done(struct region *r)
{
	struct region_dhcp *d = r->dhcp;
	if (!d)
		return;
	event_free(d->timer);
	dhcp_boot_files_free(d->files, d->n_files);
	while (d->racks) {
		struct dhcp_rack_state *s = d->racks;
		d->racks = s->next;
		dhcp_rack_state_free(s);
	}
	free(d);
	r->dhcp = NULL;
}
