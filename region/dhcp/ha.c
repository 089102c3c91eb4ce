/* The region's part of DHCP HA (docs/dhcp-ha.md, "Region and operator"):
 * where each rack's partner link listens, as its hello says; the racks'
 * reports of their pairs; and automatic partner-down with the region as
 * witness. The pairs themselves are the VLANs' primary_rack and
 * secondary_rack, built into each rack's DHCP config (build.c, the model's
 * "ha"). */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/net.h"
#include "common/ratelimit.h"
#include "common/util.h"
#include "region/db/db.h"
#include "region/db/dhcp_db.h"
#include "region/dhcp/dhcp.h"
#include "region/dhcp/internal.h"
#include "region/region.h"
#include "region/rpc/dbjob.h"
#include "region/rpc/session.h"

struct ha_hello_job {
	struct region *r;
	char rack_id[64];
	char endpoint[300];
	int changed;
};

static bool host_is_wildcard(const char *h)
{
	return !h[0] || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0;
}

/* "host:port" as the partner must dial it; "" when the rack said nothing
 * usable (no HA role, or a malformed endpoint: logged). */
static void endpoint_resolve(const char *rack_id, const char *said, const char *peer, char *out, size_t len)
{
	char host[256], peer_host[256];
	uint16_t port;
	out[0] = '\0';
	if (!said || !said[0])
		return;
	if (endpoint_parse(said, 0, host, sizeof(host), &port) < 0 || !port) {
		log_warn("rack %s: its HA endpoint '%.80s' is not host:port; it cannot be an HA partner", rack_id,
			 said);
		return;
	}
	if (host_is_wildcard(host)) {
		ratelimit_peer_key(peer, peer_host, sizeof(peer_host));
		if (!peer_host[0] || strncmp(peer, "unix:", 5) == 0) {
			log_warn(
			    "rack %s: its HA endpoint '%s' has no host and its session's address '%s' is none; set "
			    "ha_advertise on the rack",
			    rack_id, said, peer);
			return;
		}
		snprintf(host, sizeof(host), "%s", peer_host);
	}
	snprintf(out, len, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
}

static int ha_hello_store(struct db *db, void *arg)
{
	struct ha_hello_job *j = arg;
	int rc = dhcp_db_rack_ha_endpoint_set(db, j->rack_id, j->endpoint);
	if (rc < 0)
		return rc;
	j->changed = rc;
	return 0;
}

static void ha_hello_done(void *arg, int status)
{
	struct ha_hello_job *j = arg;
	if (status < 0 && status != -ECANCELED) {
		log_err("rack %s: cannot record its HA endpoint: %s", j->rack_id, strerror(-status));
	} else if (status >= 0 && j->changed) {
		log_info("rack %s: HA partner link at %s", j->rack_id,
			 j->endpoint[0] ? j->endpoint : "(none: no HA role)");
		region_dhcp_changed(j->r);
	}
	free(j);
}

void region_dhcp_ha_hello(struct rack_session *s, const char *ha_endpoint)
{
	struct ha_hello_job *j = xcalloc(1, sizeof(*j));
	j->r = region_session_region(s);
	snprintf(j->rack_id, sizeof(j->rack_id), "%s", region_session_rack_id(s));
	endpoint_resolve(j->rack_id, ha_endpoint, region_session_peer(s), j->endpoint, sizeof(j->endpoint));
	region_dbjob_submit(j->r, DB_LANE_WRITE, ha_hello_store, ha_hello_done, j);
}

/* ---- the racks' view of their pairs ---- */

struct ha_status_job {
	struct region *r;
	char rack_id[64];
	char *json;	 /* what the report said, as stored */
	char *old;	 /* what was stored before */
	char *cleared;	 /* VLANs whose partner-down this rack held and its normal state cleared (JSON) */
	json_t *events;	 /* what changed, as dhcp_ha_event rows and log lines (built on the worker) */
	char *conflicts; /* conflicts stored for the first time: [{vlan, description}] */
	char err[256];	 /* the database's word when the job failed */
};

static const json_t *pair_of(const json_t *arr, json_int_t vlan)
{
	size_t i;
	const json_t *p;
	json_array_foreach(arr, i, p)
	{
		if (json_integer_value(json_object_get(p, "vlan_id")) == vlan)
			return p;
	}
	return NULL;
}

static void ha_event_note(json_t *events, const char *kind, json_int_t vlan, const char *rack, const char *partner,
			  const char *state, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void ha_event_note(json_t *events, const char *kind, json_int_t vlan, const char *rack, const char *partner,
			  const char *state, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_array_append_new(events, json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "kind", kind, "vlan", vlan, "rack",
						rack, "partner", partner ? partner : "", "state", state ? state : "",
						"description", text));
}

/* What changed since the last report, as events: a pair whose link went
 * down or whose state left NORMAL is degraded; one that came back is
 * restored. Stored (dhcp_ha_event) and said in the log, where operators'
 * alerting looks. */
static json_t *ha_status_events(const char *rack_id, const json_t *old, const json_t *now)
{
	json_t *events = json_array();
	size_t i;
	const json_t *p;
	json_array_foreach(now, i, p)
	{
		json_int_t vlan = json_integer_value(json_object_get(p, "vlan_id"));
		const json_t *before = pair_of(old, vlan);
		bool up = json_is_true(json_object_get(p, "link_up"));
		bool was_up = before && json_is_true(json_object_get(before, "link_up"));
		const char *partner = json_string_value(json_object_get(p, "partner")) ?: "?";
		const char *st = json_string_value(json_object_get(p, "state"));
		const char *was_st = before ? json_string_value(json_object_get(before, "state")) : NULL;
		if (st && was_st && strcmp(st, was_st) != 0 && strcmp(st, "normal") != 0 && strcmp(st, "recover") != 0)
			ha_event_note(events, "degraded", vlan, rack_id, partner, st,
				      "DHCP HA pair of VLAN %lld degraded: rack %s is in state %s (partner %s)",
				      (long long)vlan, rack_id, st, partner);
		else if (st && was_st && strcmp(st, was_st) != 0 && strcmp(st, "normal") == 0)
			ha_event_note(events, "normal", vlan, rack_id, partner, st,
				      "DHCP HA pair of VLAN %lld: rack %s is back to normal with %s", (long long)vlan,
				      rack_id, partner);
		if (was_up && !up)
			ha_event_note(events, "link-down", vlan, rack_id, partner, st,
				      "DHCP HA pair of VLAN %lld degraded: rack %s lost its link to %s: %s",
				      (long long)vlan, rack_id, partner,
				      json_string_value(json_object_get(p, "last_error")) ?: "no reason given");
		else if (!was_up && up)
			ha_event_note(events, "link-up", vlan, rack_id, partner, st,
				      "DHCP HA pair of VLAN %lld: rack %s linked with %s", (long long)vlan, rack_id,
				      partner);
	}
	return events;
}

static int ha_status_store(struct db *db, void *arg)
{
	struct ha_status_job *j = arg;
	int rc = dhcp_db_rack_ha_status_set(db, j->rack_id, j->json, &j->old);
	if (rc < 0) {
		snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
		return rc;
	}
	json_t *old = json_loads(j->old ? j->old : "[]", 0, NULL), *now = json_loads(j->json, 0, NULL);
	j->events = ha_status_events(j->rack_id, old, now);
	json_decref(old);
	json_decref(now);
	rc = dhcp_db_partner_down_clear_normal(db, j->rack_id, j->json, &j->cleared);
	if (rc >= 0) {
		json_t *cleared = json_loads(j->cleared ? j->cleared : "[]", 0, NULL);
		size_t i;
		json_t *v;
		json_array_foreach(cleared, i, v)
		{
			ha_event_note(
			    j->events, "partner-down-over", json_integer_value(v), j->rack_id, NULL, "normal",
			    "DHCP HA pair of VLAN %lld: the partner-down rack %s held is over: the pair is normal "
			    "again",
			    (long long)json_integer_value(v), j->rack_id);
		}
		json_decref(cleared);
	}
	char *text = rc >= 0 && json_array_size(j->events) ? json_dumps(j->events, JSON_COMPACT) : NULL;
	if (text)
		rc = dhcp_db_ha_events_add(db, text);
	free(text);
	if (rc >= 0)
		rc = dhcp_db_ha_conflicts_add(db, j->rack_id, j->json, &j->conflicts);
	if (rc < 0)
		snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
	return rc;
}

/* Does the report have a pair the witness may act on: the link down in
 * communications-interrupted? */
static bool ha_status_interrupted(const json_t *now)
{
	size_t i;
	const json_t *p;
	json_array_foreach(now, i, p)
	{
		const char *st = json_string_value(json_object_get(p, "state"));
		if (!json_is_true(json_object_get(p, "link_up")) && st && strcmp(st, "communications-interrupted") == 0)
			return true;
	}
	return false;
}

static void ha_status_done(void *arg, int status)
{
	struct ha_status_job *j = arg;
	if (status < 0 && status != -ECANCELED) {
		log_err("rack %s: cannot store its HA status: %s", j->rack_id, j->err[0] ? j->err : strerror(-status));
	} else if (status >= 0) {
		size_t i;
		json_t *e;
		bool pd_over = false;
		json_array_foreach(j->events, i, e)
		{
			const char *kind = json_string_value(json_object_get(e, "kind"));
			const char *text = json_string_value(json_object_get(e, "description"));
			if (strcmp(kind, "degraded") == 0 || strcmp(kind, "link-down") == 0)
				log_warn("%s", text);
			else
				log_info("%s", text);
			pd_over |= strcmp(kind, "partner-down-over") == 0;
		}
		json_t *conflicts = json_loads(j->conflicts ? j->conflicts : "[]", 0, NULL);
		json_array_foreach(conflicts, i, e)
		{
			log_warn("DHCP HA pair of VLAN %lld: %s",
				 (long long)json_integer_value(json_object_get(e, "vlan")),
				 json_string_value(json_object_get(e, "description")) ?: "?");
		}
		json_decref(conflicts);
		json_t *now = json_loads(j->json, 0, NULL);
		if (j->r->dhcp)
			dhcp_rack_state_get(j->r->dhcp, j->rack_id)->ha_interrupted = ha_status_interrupted(now);
		json_decref(now);
		if (pd_over)
			region_dhcp_changed(j->r);
	}
	json_decref(j->events);
	free(j->json);
	free(j->old);
	free(j->cleared);
	free(j->conflicts);
	free(j);
}

static json_t *conflicts_json(const Ironrack__V1__HaPairStatus *p)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < p->n_recent_conflicts; i++) {
		const Ironrack__V1__HaConflict *c = p->recent_conflicts[i];
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:i}", "ip", c->ip, "kept", c->kept_client,
						     "lost", c->lost_client, "at", (json_int_t)c->at_unix_ms, "kind",
						     (int)c->kind));
	}
	return arr;
}

void region_dhcp_on_ha_status(struct rack_session *s, const Ironrack__V1__RackMessage *m)
{
	const Ironrack__V1__HaStatusReport *rep = m->ha_status;
	json_t *arr = json_array();
	for (size_t i = 0; rep && i < rep->n_pairs; i++) {
		const Ironrack__V1__HaPairStatus *p = rep->pairs[i];
		json_array_append_new(
		    arr, json_pack("{s:I, s:i, s:s, s:s, s:b, s:I, s:I, s:I, s:s, s:s, s:I, s:I, s:I, s:I,"
				   " s:I, s:o}",
				   "vlan_id", (json_int_t)p->vlan_id, "vid", (int)p->vid, "role",
				   p->role == 1 ? "primary" : "secondary", "partner", p->partner_rack_id, "link_up",
				   p->link_up, "since_unix_ms", (json_int_t)p->since_unix_ms, "last_contact_unix_ms",
				   (json_int_t)p->last_contact_unix_ms, "refused", (json_int_t)p->refused, "last_error",
				   p->last_error, "state", p->state[0] ? p->state : "unknown", "state_since_unix_ms",
				   (json_int_t)p->state_since_unix_ms, "unacked", (json_int_t)p->unacked, "free_own",
				   (json_int_t)p->free_own, "free_partner", (json_int_t)p->free_partner, "conflicts",
				   (json_int_t)p->conflicts, "recent_conflicts", conflicts_json(p)));
	}
	struct ha_status_job *j = xcalloc(1, sizeof(*j));
	j->r = region_session_region(s);
	snprintf(j->rack_id, sizeof(j->rack_id), "%s", region_session_rack_id(s));
	j->json = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (!j->json) {
		free(j);
		return;
	}
	region_dbjob_submit(j->r, DB_LANE_WRITE, ha_status_store, ha_status_done, j);
}

/* ---- automatic partner-down: the region as witness ----
 *
 * docs/dhcp-ha.md, PARTNER-DOWN and "Why no address goes to two
 * clients" 3: the region grants partner-down to a rack that reports its
 * link down (communications-interrupted) once it has heard nothing from
 * the partner for the VLAN's dhcp_ha_auto_down. The partner, cut off from
 * both, fenced at half that. The decision is one statement on the
 * database (dhcp_db_partner_down_witness), whose clock and rows every
 * region shares; the loop only asks while some connected rack reports an
 * interrupted pair, so an idle region writes nothing. */

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)) ?: "?";
}

struct witness_job {
	struct region *r;
	long auto_down;
	char *grants;
};

static int witness_run(struct db *db, void *arg)
{
	struct witness_job *j = arg;
	return dhcp_db_partner_down_witness(db, j->auto_down, &j->grants);
}

static void witness_done(void *arg, int status)
{
	struct witness_job *j = arg;
	if (status == -ECANCELED) {
		free(j->grants);
		free(j);
		return;
	}
	j->r->dhcp->witness_busy = false;
	if (status < 0) {
		if (!region_dbjob_is_outage(status))
			log_warn("dhcp-ha: the witness could not look at the pairs: %s", strerror(-status));
	} else {
		json_t *arr = json_loads(j->grants ? j->grants : "[]", 0, NULL);
		size_t i;
		json_t *g;
		json_array_foreach(arr, i, g)
		{
			log_warn("DHCP HA pair of VLAN %lld: %s",
				 (long long)json_integer_value(json_object_get(g, "vlan")), jstr(g, "said"));
		}
		if (json_array_size(arr))
			region_dhcp_changed(j->r);
		json_decref(arr);
	}
	free(j->grants);
	free(j);
}

static void witness_tick(evutil_socket_t fd, short what, void *arg)
{
	struct region *r = arg;
	struct region_dhcp *d = r->dhcp;
	if (d->witness_busy)
		return;
	bool any = false;
	for (const struct dhcp_rack_state *s = d->racks; s && !any; s = s->next)
		any = s->ha_interrupted && region_session_of_rack(r, s->rack_id);
	if (!any)
		return;
	struct witness_job *j = xcalloc(1, sizeof(*j));
	j->r = r;
	j->auto_down = r->conf.dhcp_ha_auto_down;
	d->witness_busy = true;
	region_dbjob_submit(r, DB_LANE_WRITE, witness_run, witness_done, j);
}

int dhcp_witness_start(struct region *r)
{
	struct region_dhcp *d = r->dhcp;
	d->witness = event_new(r->base, -1, EV_PERSIST, witness_tick, r);
	struct timeval every = {DHCP_WITNESS_MS / 1000, DHCP_WITNESS_MS % 1000 * 1000};
	if (!d->witness || event_add(d->witness, &every) < 0)
		return -ENOMEM;
	return 0;
}

void dhcp_witness_stop(struct region *r)
{
	if (r->dhcp && r->dhcp->witness) {
		event_free(r->dhcp->witness);
		r->dhcp->witness = NULL;
	}
}
