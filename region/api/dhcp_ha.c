/* DHCP HA partner-down (docs/dhcp-ha.md, "States": PARTNER-DOWN):
 *
 *   POST   /api/v1/vlans/{id}/dhcp-partner-down {"rack": ID}
 *   DELETE /api/v1/vlans/{id}/dhcp-partner-down
 *
 * POST records the operator's word that the other rack of the VLAN's pair
 * is dead: the named rack (the survivor) goes to PARTNER-DOWN and, once the
 * MCLT has passed, serves the partner's share too. It is refused while the
 * survivor last reported its link to the partner up (rule 7: the rack
 * refuses it too). The DHCP configs are rebuilt after the write (the route
 * is under /vlans), so both racks hear of it; the dead one, when it comes
 * back, stays in RECOVER until it has merged with the survivor. The region
 * clears it when the survivor reports the pair normal again; DELETE clears
 * it by hand.
 *
 *   GET /api/v1/vlans/{id}/dhcp-ha-events?after=ID&limit=N
 *
 * What happened to the pair, oldest first (migration 0023): links and
 * states degraded and back, partner-downs, conflicts the merges found. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "region/api/codec.h"
#include "region/api/dhcp_api.h"
#include "region/db/dhcp_db.h"

static bool vlan_id_of(struct api_call *call, uint64_t *ret)
{
	const char *s = call->match->params[0];
	char *end = NULL;
	unsigned long long v = strtoull(s, &end, 10);
	if (!s[0] || *end || s[0] == '-' || v == 0) {
		api_reply_error(call, 404, "not_found", NULL, "VLAN \"%s\" not found (give its numeric id)", s);
		return false;
	}
	*ret = (uint64_t)v;
	return true;
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The operator's partner-down, declared or cleared, in the pair's events. */
static void partner_down_event(struct api_call *call, uint64_t vlan, const char *kind, const char *rack,
			       const char *partner, const char *text)
{
	json_t *ev = json_pack("[{s:s, s:I, s:s, s:s, s:s, s:s}]", "kind", kind, "vlan", (json_int_t)vlan, "rack",
			       rack ? rack : "", "partner", partner ? partner : "", "state", "", "description", text);
	char *json = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	if (json && dhcp_db_ha_events_add(call->db, json) < 0)
		log_warn("DHCP HA pair of VLAN %llu: the event was not stored: %s", (unsigned long long)vlan, text);
	free(json);
}

static void partner_down_clear(struct api_call *call, uint64_t vlan)
{
	int64_t ms = 0;
	int rc = dhcp_db_partner_down_set(call->db, vlan, NULL, &ms);
	if (rc == -ENOENT) {
		api_reply_error(call, 404, "not_found", NULL, "VLAN %llu not found", (unsigned long long)vlan);
		return;
	}
	if (rc < 0) {
		api_reply_db_error(call, rc);
		return;
	}
	log_info("DHCP HA pair of VLAN %llu: partner-down cleared by the operator", (unsigned long long)vlan);
	partner_down_event(call, vlan, "partner-down-over", NULL, NULL, "partner-down cleared by the operator");
	api_reply_json(call, 200, json_pack("{s:I, s:n}", "vlan", (json_int_t)vlan, "partner_down_by"));
}

void api_vlan_partner_down(struct api_call *call)
{
	uint64_t vlan;
	if (!vlan_id_of(call, &vlan))
		return;
	if (call->method == API_DELETE) {
		partner_down_clear(call, vlan);
		return;
	}
	json_t *body = NULL;
	if (api_body_json(call, &body) < 0)
		return;
	const char *rack = jstr(body, "rack");
	if (!rack || !rack[0]) {
		api_reply_error(call, 400, "invalid", "rack",
				"\"rack\" must name the rack of the pair that takes over (the survivor)");
		json_decref(body);
		return;
	}
	char *text = NULL;
	int rc = dhcp_db_partner_down_get(call->db, vlan, rack, &text);
	if (rc == -ENOENT) {
		api_reply_error(call, 404, "not_found", NULL, "VLAN %llu not found", (unsigned long long)vlan);
		goto out;
	}
	if (rc < 0) {
		api_reply_db_error(call, rc);
		goto out;
	}
	json_t *v = json_loads(text, 0, NULL);
	const char *primary = jstr(v, "primary"), *secondary = jstr(v, "secondary");
	const json_t *st = json_object_get(v, "status");
	if (!json_is_true(json_object_get(v, "dhcp_on")) || !primary || !secondary) {
		api_reply_error(call, 409, "conflict", NULL,
				"VLAN %llu has no DHCP HA pair (it needs dhcp_on, a primary_rack and a secondary_rack)",
				(unsigned long long)vlan);
	} else if (strcmp(rack, primary) != 0 && strcmp(rack, secondary) != 0) {
		api_reply_error(call, 400, "invalid", "rack", "rack \"%s\" is not in the pair of VLAN %llu (%s and %s)",
				rack, (unsigned long long)vlan, primary, secondary);
	} else if (json_is_true(json_object_get(st, "link_up"))) {
		api_reply_error(
		    call, 409, "conflict", NULL,
		    "rack \"%s\" still hears its partner %s (its link is up): partner-down is the word that "
		    "the partner is dead, and a partner that talks is not",
		    rack, strcmp(rack, primary) == 0 ? secondary : primary);
	} else {
		int64_t since = 0;
		rc = dhcp_db_partner_down_set(call->db, vlan, rack, &since);
		if (rc < 0) {
			api_reply_db_error(call, rc);
		} else {
			const char *partner = strcmp(rack, primary) == 0 ? secondary : primary;
			char what[256];
			snprintf(what, sizeof(what),
				 "partner-down by the operator: rack %s takes over from %s after the MCLT", rack,
				 partner);
			log_warn("DHCP HA pair of VLAN %llu: %s", (unsigned long long)vlan, what);
			partner_down_event(call, vlan, "partner-down", rack, partner, what);
			api_reply_json(call, 200,
				       json_pack("{s:I, s:s, s:s, s:o, s:o}", "vlan", (json_int_t)vlan,
						 "partner_down_by", rack, "partner", partner, "since",
						 api_time_json(since), "state",
						 json_string(st ? jstr(st, "state") ?: "unknown" : "unknown")));
		}
	}
	json_decref(v);
out:
	free(text);
	json_decref(body);
}

void api_vlan_ha_events(struct api_call *call)
{
	uint64_t vlan;
	long limit, after;
	char *text = NULL;
	if (!vlan_id_of(call, &vlan))
		return;
	if (api_query_long(call, "limit", 100, 1, 1000, &limit) < 0 ||
	    api_query_long(call, "after", 0, 0, INT64_MAX / 2, &after) < 0)
		return;
	int rc = dhcp_db_ha_events_json(call->db, vlan, after, limit, &text);
	if (rc == -ENOENT)
		api_reply_error(call, 404, "not_found", NULL, "VLAN %llu not found", (unsigned long long)vlan);
	else if (rc < 0)
		api_reply_db_error(call, rc);
	else
		api_reply_json(call, 200, json_loads(text, 0, NULL));
	free(text);
}
