/* What a rack may send, checked before any feature sees it
 * (docs/architecture.md, "Trust boundaries"): every field within the
 * contract's limits (validate.h), and reports only about what the region
 * pushed it (scope.h): its subnets and addresses inside them, its VLANs.
 * What is refused is answered (INVALID_ARGUMENT, PERMISSION_DENIED) and
 * logged naming the rack, the first few of a window in full, the rest as a
 * count. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "region/db/db.h"
#include "region/rpc/scope.h"
#include "region/rpc/session.h"
#include "region/rpc/session_internal.h"
#include "region/rpc/validate.h"

/* Refused messages of one rack: the first few of a window are logged in
 * full, the rest counted and summed up when the window is over. */
#define SESSION_REFUSED_WINDOW_US (10 * 1000000LL)
#define SESSION_REFUSED_LINES	  5

/* Sum up a window of refusals that is over (force: whatever it holds). */
void session_refusal_flush(struct rack_session *s, int64_t now, bool force)
{
	if (!s->refused_since_us || (!force && now - s->refused_since_us < SESSION_REFUSED_WINDOW_US))
		return;
	if (s->refused_held)
		log_warn("rack %s: %llu more refused in the last %lld s (the last: %s)", s->rack_id,
			 (unsigned long long)s->refused_held, (long long)((now - s->refused_since_us) / 1000000),
			 s->refused_last);
	s->refused_since_us = 0;
	s->refused_lines = 0;
	s->refused_held = 0;
}

/* Something the rack sent was refused: the log says which rack and why,
 * the first few of a window at once, the rest as a count. */
static void refusal_note(struct rack_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refusal_note(struct rack_session *s, const char *fmt, ...)
{
	char text[sizeof(s->refused_last)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	int64_t now = clock_mono_us();
	session_refusal_flush(s, now, false);
	if (!s->refused_since_us)
		s->refused_since_us = now;
	if (s->refused_lines < SESSION_REFUSED_LINES) {
		s->refused_lines++;
		log_warn("rack %s: refused %s", s->rack_id, text);
		return;
	}
	s->refused_held++;
	snprintf(s->refused_last, sizeof(s->refused_last), "%s", text);
}

static bool is_reply(const Ironrack__V1__RackMessage *m)
{
	return m->body_case == IRONRACK__V1__RACK_MESSAGE__BODY_CONFIG_ACK ||
	       m->body_case == IRONRACK__V1__RACK_MESSAGE__BODY_RESULT ||
	       m->body_case == IRONRACK__V1__RACK_MESSAGE__BODY__NOT_SET;
}

/* Every field within the contract's limits (validate.h); a report that is
 * not is answered INVALID_ARGUMENT naming the field, a reply dropped. */
static bool message_valid(struct rack_session *s, const Ironrack__V1__RackMessage *m)
{
	struct rpcv_error err;
	char text[sizeof(err.field) + sizeof(err.message) + 4];
	if (rpc_validate(&m->base, &err) == 0)
		return true;
	rpcv_error_text(&err, text, sizeof(text));
	refusal_note(s, "a message: %s", text);
	if (m->request_id && !is_reply(m))
		region_session_reply_status(s, m->request_id, -EINVAL, text);
	return false;
}

static const char *lease_kind(int kind)
{
	static const char *const names[] = {"UNSPECIFIED", "GRANTED", "RELEASED", "EXPIRED", "CONFLICT"};
	return kind >= 0 && kind <= 4 ? names[kind] : "UNSPECIFIED";
}

/* Lease events only on subnets the rack serves, addresses inside them.
 * Returns m (all allowed), tmp (a copy holding only the allowed events,
 * *ret_kept to free), or NULL (all refused: answered PERMISSION_DENIED).
 * A full report always goes on, with what it may list: the region then
 * drops the rack's addresses it no longer serves. */
static const Ironrack__V1__RackMessage *authorize_leases(struct rack_session *s, const Ironrack__V1__RackMessage *m,
							 Ironrack__V1__RackMessage *tmp,
							 Ironrack__V1__LeaseReport *tmp_rep,
							 Ironrack__V1__LeaseEvent ***ret_kept)
{
	const Ironrack__V1__LeaseReport *in = m->lease_report;
	const struct rack_scope *scopes[] = {s->scope, s->scope_sent};
	Ironrack__V1__LeaseEvent **kept = xcalloc(in->n_events ? in->n_events : 1, sizeof(*kept));
	size_t k = 0, refused = 0;
	char why[160], first[sizeof(why) + 64] = "";

	for (size_t i = 0; i < in->n_events; i++) {
		Ironrack__V1__LeaseEvent *ev = in->events[i];
		if (rack_scope_check_lease(scopes, 2, ev->subnet_id, ev->address, why, sizeof(why)) == 0) {
			kept[k++] = ev;
			continue;
		}
		if (!refused++)
			snprintf(first, sizeof(first), "%s for %s: %s", lease_kind(ev->kind), ev->address, why);
	}
	if (!refused) {
		free(kept);
		return m;
	}
	refusal_note(s, "%zu of %zu lease events (the first: %s)", refused, in->n_events, first);
	if (k == 0 && !in->full) {
		char text[sizeof(first) + 64];
		snprintf(text, sizeof(text), "%zu lease event%s refused (the first: %s)", refused,
			 refused == 1 ? "" : "s", first);
		region_session_reply_status(s, m->request_id, -EACCES, text);
		free(kept);
		return NULL;
	}
	*tmp_rep = *in;
	tmp_rep->events = kept;
	tmp_rep->n_events = k;
	*tmp = *m;
	tmp->lease_report = tmp_rep;
	*ret_kept = kept;
	return tmp;
}

/* External DHCP servers only on a VLAN the rack serves. */
static bool authorize_external(struct rack_session *s, const Ironrack__V1__RackMessage *m)
{
	const struct rack_scope *scopes[] = {s->scope, s->scope_sent};
	uint64_t vlan_id = m->external_dhcp->vlan_id;
	if (rack_scope_has_vlan(scopes, 2, vlan_id))
		return true;
	char why[96];
	snprintf(why, sizeof(why), "VLAN %llu is not served by this rack", (unsigned long long)vlan_id);
	refusal_note(s, "an external DHCP report: %s", why);
	region_session_reply_status(s, m->request_id, -EACCES, why);
	return false;
}

/* Discovery events only on the VLANs the rack serves, on the interface
 * that serves them (vlan_id 0, an interface observed only, is checked
 * against the rack's own addresses when stored). One event out of scope
 * refuses the report whole: a rack that follows its config never sends
 * one. */
static bool authorize_neighbours(struct rack_session *s, const Ironrack__V1__RackMessage *m)
{
	const Ironrack__V1__NeighbourReport *in = m->neighbour_report;
	const struct rack_scope *scopes[] = {s->scope, s->scope_sent};
	char why[160], text[sizeof(why) + 64];
	for (size_t i = 0; i < in->n_events; i++) {
		const Ironrack__V1__NeighbourEvent *ev = in->events[i];
		if (rack_scope_check_neighbour(scopes, 2, ev->interface, ev->vlan_id, why, sizeof(why)) != -EACCES)
			continue;
		snprintf(text, sizeof(text), "discovery event for %s: %s", ev->address, why);
		refusal_note(s, "a neighbour report: %s", text);
		region_session_reply_status(s, m->request_id, -EACCES, text);
		return false;
	}
	return true;
}

void region_session_scope_sent(struct rack_session *s, uint64_t version, const Ironrack__V1__DhcpConfig *dhcp)
{
	rack_scope_free(s->scope_sent);
	s->scope_sent = rack_scope_new(dhcp, version);
}

/* The rack stored a version: what was sent becomes what it serves. */
static void scope_acked(struct rack_session *s, uint64_t version)
{
	if (s->scope_sent && version >= s->scope_sent->version) {
		rack_scope_free(s->scope);
		s->scope = s->scope_sent;
		s->scope_sent = NULL;
	}
}

struct rack_scope *session_trust_scope_of(const char *rack_id, const struct rack_config_row *row)
{
	struct rack_scope *sc = NULL;
	if (rack_scope_from_packed(row->dhcp, row->dhcp_len, row->version, &sc) < 0) {
		log_err("rack %s: config version %llu holds a DHCP config that does not unpack; it may report on "
			"nothing of it",
			rack_id, (unsigned long long)row->version);
		sc = rack_scope_new(NULL, row->version);
	}
	return sc;
}

const Ironrack__V1__RackMessage *session_trust_admit(struct rack_session *s, const Ironrack__V1__RackMessage *m,
						     Ironrack__V1__RackMessage *tmp, Ironrack__V1__LeaseReport *tmp_rep,
						     Ironrack__V1__LeaseEvent ***ret_kept)
{
	if (!message_valid(s, m))
		return NULL;
	switch (m->body_case) {
	case IRONRACK__V1__RACK_MESSAGE__BODY_CONFIG_ACK:
		scope_acked(s, m->config_ack->version);
		return m;
	case IRONRACK__V1__RACK_MESSAGE__BODY_LEASE_REPORT:
		return authorize_leases(s, m, tmp, tmp_rep, ret_kept);
	case IRONRACK__V1__RACK_MESSAGE__BODY_EXTERNAL_DHCP:
		return authorize_external(s, m) ? m : NULL;
	case IRONRACK__V1__RACK_MESSAGE__BODY_NEIGHBOUR_REPORT:
		return authorize_neighbours(s, m) ? m : NULL;
	default:
		return m;
	}
}
