/* The HA partner message codec; see ha_msg.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "ironrack/v1/ha.pb-c.h"
#include "rack/dhcp/ha_msg.h"

typedef Ironrack__V1__HaMessage pb_msg;

static int bad(const char **ret_why, const char *why)
{
	if (ret_why)
		*ret_why = why;
	return -EINVAL;
}

static bool is_rack_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > HA_RACK_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool is_time(int64_t t, int64_t max)
{
	return t >= 0 && t < max;
}

static int hello_from(const Ironrack__V1__HaHello *h, struct ha_hello *o, const char **why)
{
	if (h->version < 1 || h->version > 0xffff)
		return bad(why, "hello.version");
	if (!is_rack_id(h->rack_id))
		return bad(why, "hello.rack_id");
	if (h->role != IRONRACK__V1__HA_ROLE__HA_ROLE_PRIMARY && h->role != IRONRACK__V1__HA_ROLE__HA_ROLE_SECONDARY)
		return bad(why, "hello.role");
	if (h->vlan > 4094)
		return bad(why, "hello.vlan");
	if ((int)h->state < 1 || (int)h->state > (int)HA_STATE_MAX)
		return bad(why, "hello.state");
	if (!is_time(h->unix_ms, HA_TIME_MAX * 1000))
		return bad(why, "hello.unix_ms");
	o->version = h->version;
	strcpy(o->rack_id, h->rack_id);
	o->role = (enum ha_role)h->role;
	o->vlan = (uint16_t)h->vlan;
	o->config_version = h->config_version;
	o->state = (enum ha_state)h->state;
	o->last_seq_seen = h->last_seq_seen;
	o->unix_ms = h->unix_ms;
	return 0;
}

static int lease_from(const Ironrack__V1__HaLease *p, struct lease *l, const char **why)
{
	memset(l, 0, sizeof(*l));
	if (p->addr == 0)
		return bad(why, "updates.leases.addr");
	/* Never FREE (no record) nor OFFERED (memory only, never sent). */
	if (p->state < LEASE_ACTIVE || p->state > LEASE_STATE_MAX)
		return bad(why, "updates.leases.state");
	if (p->conflict > LEASE_CONFLICT_ADMIN || (p->conflict != 0 && p->state != LEASE_DECLINED))
		return bad(why, "updates.leases.conflict");
	if (p->htype > 255)
		return bad(why, "updates.leases.htype");
	if (p->chaddr.len > LEASE_HWADDR_MAX || (p->chaddr.len == 0 && p->client_id.len == 0))
		return bad(why, "updates.leases.chaddr");
	if (p->client_id.len > LEASE_CLIENT_ID_MAX)
		return bad(why, "updates.leases.client_id");
	size_t hn = strlen(p->hostname);
	if (hn >= LEASE_HOSTNAME_MAX)
		return bad(why, "updates.leases.hostname");
	for (size_t i = 0; i < hn; i++)
		if (p->hostname[i] < 0x21 || p->hostname[i] > 0x7e)
			return bad(why, "updates.leases.hostname");
	if (!is_time(p->start, HA_TIME_MAX) || !is_time(p->expiry, HA_TIME_MAX))
		return bad(why, "updates.leases.expiry");
	if (p->seq == 0)
		return bad(why, "updates.leases.seq");
	l->addr = p->addr;
	l->state = (uint8_t)p->state;
	l->owner = p->granted_by_sender ? LEASE_OWNER_LOCAL : LEASE_OWNER_PEER;
	l->conflict = (uint8_t)p->conflict;
	l->htype = (uint8_t)p->htype;
	l->hlen = (uint8_t)p->chaddr.len;
	if (p->chaddr.len)
		memcpy(l->chaddr, p->chaddr.data, p->chaddr.len);
	l->client_id_len = (uint8_t)p->client_id.len;
	if (p->client_id.len)
		memcpy(l->client_id, p->client_id.data, p->client_id.len);
	memcpy(l->hostname, p->hostname, hn + 1);
	l->start = p->start;
	l->expiry = p->expiry;
	l->subnet_id = p->subnet_id;
	l->range_id = p->range_id;
	l->seq = p->seq;
	return 0;
}

static int updates_from(const Ironrack__V1__HaUpdates *u, struct ha_msg *m, const char **why)
{
	if (u->n_leases > HA_UPDATES_MAX)
		return bad(why, "updates.leases: too many");
	if (u->n_leases && u->seq_first != u->leases[0]->seq)
		return bad(why, "updates.seq_first");
	m->seq = u->seq_first;
	m->leases = xcalloc(u->n_leases ? u->n_leases : 1, sizeof(*m->leases));
	for (size_t i = 0; i < u->n_leases; i++) {
		int rc = lease_from(u->leases[i], &m->leases[i], why);
		if (rc < 0)
			return rc;
		if (i > 0 && m->leases[i].seq <= m->leases[i - 1].seq)
			return bad(why, "updates.leases.seq: not increasing");
		m->n_leases = i + 1;
	}
	return 0;
}

static int pool_request_from(const Ironrack__V1__HaPoolRequest *r, struct ha_msg *m, const char **why)
{
	if (r->n_asks > HA_POOL_MAX)
		return bad(why, "pool_request.asks: too many");
	m->asks = xcalloc(r->n_asks ? r->n_asks : 1, sizeof(*m->asks));
	for (size_t i = 0; i < r->n_asks; i++) {
		const Ironrack__V1__HaPoolAsk *a = r->asks[i];
		if (a->count == 0 || a->count > LEASE_POOL_SPAN_MAX)
			return bad(why, "pool_request.asks.count");
		if (a->free > LEASE_POOL_SPAN_MAX)
			return bad(why, "pool_request.asks.free");
		m->asks[i] = (struct ha_pool_ask){a->range_id, a->count, a->free};
		m->n_asks = i + 1;
	}
	return 0;
}

/* A PoolGrant-shaped body (grant, check, unowned: kind 0, 1, 2): seq and
 * at most HA_POOL_MAX sorted, disjoint runs. */
static int pool_runs_from(const Ironrack__V1__HaPoolGrant *g, int kind, struct ha_msg *m, const char **why)
{
#define WHY(b)                                                                                                         \
	{                                                                                                              \
		b ".ranges: too many", b ".seq", b ".ranges", b ".ranges: not sorted and disjoint"                     \
	}
	static const char *const whys[3][4] = {WHY("pool_grant"), WHY("pool_check"), WHY("pool_unowned")};
#undef WHY
	const char *const *w = whys[kind];
	if (g->n_ranges > HA_POOL_MAX)
		return bad(why, w[0]);
	if (g->seq == 0)
		return bad(why, w[1]);
	m->seq = g->seq;
	m->ranges = xcalloc(g->n_ranges ? g->n_ranges : 1, sizeof(*m->ranges));
	for (size_t i = 0; i < g->n_ranges; i++) {
		const Ironrack__V1__HaRange *r = g->ranges[i];
		if (r->first == 0 || r->first > r->last || (uint64_t)r->last - r->first + 1 > LEASE_POOL_SPAN_MAX)
			return bad(why, w[2]);
		if (i > 0 && r->first <= m->ranges[i - 1].last)
			return bad(why, w[3]);
		m->ranges[i] = (struct ha_range){r->range_id, r->first, r->last};
		m->n_ranges = i + 1;
	}
	return 0;
}

static int state_from(const Ironrack__V1__HaState *s, struct ha_state_msg *o, const char **why)
{
	if ((int)s->state < 1 || (int)s->state > (int)HA_STATE_MAX)
		return bad(why, "state.state");
	if (!is_time(s->since_ms, HA_TIME_MAX * 1000))
		return bad(why, "state.since_ms");
	if (!is_time(s->unix_ms, HA_TIME_MAX * 1000))
		return bad(why, "state.unix_ms");
	o->state = (enum ha_state)s->state;
	o->since_ms = s->since_ms;
	o->unix_ms = s->unix_ms;
	o->last_seq = s->last_seq;
	o->tail_sent = s->tail_sent;
	o->merged = s->merged;
	return 0;
}

static int convert(const pb_msg *p, struct ha_msg *m, const char **why)
{
	switch (p->body_case) {
	case IRONRACK__V1__HA_MESSAGE__BODY_HELLO:
		m->type = HA_MSG_HELLO;
		return hello_from(p->hello, &m->hello, why);
	case IRONRACK__V1__HA_MESSAGE__BODY_UPDATES:
		m->type = HA_MSG_UPDATES;
		return updates_from(p->updates, m, why);
	case IRONRACK__V1__HA_MESSAGE__BODY_ACK:
		m->type = HA_MSG_ACK;
		m->seq = p->ack->seq;
		return 0;
	case IRONRACK__V1__HA_MESSAGE__BODY_POOL_REQUEST:
		m->type = HA_MSG_POOL_REQUEST;
		return pool_request_from(p->pool_request, m, why);
	case IRONRACK__V1__HA_MESSAGE__BODY_POOL_GRANT:
		m->type = HA_MSG_POOL_GRANT;
		return pool_runs_from(p->pool_grant, 0, m, why);
	case IRONRACK__V1__HA_MESSAGE__BODY_POOL_CHECK:
		m->type = HA_MSG_POOL_CHECK;
		return pool_runs_from(p->pool_check, 1, m, why);
	case IRONRACK__V1__HA_MESSAGE__BODY_POOL_UNOWNED:
		m->type = HA_MSG_POOL_UNOWNED;
		return pool_runs_from(p->pool_unowned, 2, m, why);
	case IRONRACK__V1__HA_MESSAGE__BODY_STATE:
		m->type = HA_MSG_STATE;
		return state_from(p->state, &m->state, why);
	case IRONRACK__V1__HA_MESSAGE__BODY_SYNC:
		m->type = HA_MSG_SYNC;
		m->seq = p->sync->from_seq;
		return 0;
	default:
		if (why)
			*why = "no body";
		return -EBADMSG;
	}
}

int ha_msg_decode(const uint8_t *buf, size_t len, struct ha_msg *ret, const char **ret_why)
{
	memset(ret, 0, sizeof(*ret));
	if (ret_why)
		*ret_why = NULL;
	if (len > HA_MSG_MAX) {
		if (ret_why)
			*ret_why = "message too large";
		return -EMSGSIZE;
	}
	pb_msg *p = ironrack__v1__ha_message__unpack(NULL, len, buf);
	if (!p) {
		if (ret_why)
			*ret_why = "not an HaMessage";
		return -EBADMSG;
	}
	int rc = ha_msg_from_pb(p, ret, ret_why);
	ironrack__v1__ha_message__free_unpacked(p, NULL);
	return rc;
}

int ha_msg_from_pb(const Ironrack__V1__HaMessage *p, struct ha_msg *ret, const char **ret_why)
{
	memset(ret, 0, sizeof(*ret));
	if (ret_why)
		*ret_why = NULL;
	int rc = convert(p, ret, ret_why);
	if (rc < 0)
		ha_msg_done(ret);
	return rc;
}

void ha_msg_done(struct ha_msg *m)
{
	if (!m)
		return;
	free(m->leases);
	free(m->asks);
	free(m->ranges);
	memset(m, 0, sizeof(*m));
}

/* ---- encoding ---- */

/* Everything the encoder points into, freed in one place. */
struct enc {
	Ironrack__V1__HaLease *leases;
	Ironrack__V1__HaLease **lease_ptrs;
	Ironrack__V1__HaPoolAsk *asks;
	Ironrack__V1__HaPoolAsk **ask_ptrs;
	Ironrack__V1__HaRange *ranges;
	Ironrack__V1__HaRange **range_ptrs;
};

static int lease_to(const struct lease *l, Ironrack__V1__HaLease *p)
{
	if (l->hlen > LEASE_HWADDR_MAX || strnlen(l->hostname, LEASE_HOSTNAME_MAX) == LEASE_HOSTNAME_MAX)
		return -EINVAL;
	ironrack__v1__ha_lease__init(p);
	p->addr = l->addr;
	p->state = l->state;
	p->granted_by_sender = l->owner == LEASE_OWNER_LOCAL;
	p->conflict = l->conflict;
	p->htype = l->htype;
	p->chaddr.data = (uint8_t *)l->chaddr;
	p->chaddr.len = l->hlen;
	p->client_id.data = (uint8_t *)l->client_id;
	p->client_id.len = l->client_id_len;
	p->hostname = (char *)l->hostname;
	p->start = l->start;
	p->expiry = l->expiry;
	p->subnet_id = l->subnet_id;
	p->range_id = l->range_id;
	p->seq = l->seq;
	return 0;
}

static int build(const struct ha_msg *m, pb_msg *p, struct enc *e, Ironrack__V1__HaHello *hello,
		 Ironrack__V1__HaUpdates *upd, Ironrack__V1__HaUpdatesAck *ack, Ironrack__V1__HaPoolRequest *req,
		 Ironrack__V1__HaPoolGrant *grant, Ironrack__V1__HaState *st, Ironrack__V1__HaSync *sync)
{
	switch (m->type) {
	case HA_MSG_HELLO:
		hello->version = m->hello.version;
		hello->rack_id = (char *)m->hello.rack_id;
		hello->role = (Ironrack__V1__HaRole)m->hello.role;
		hello->vlan = m->hello.vlan;
		hello->config_version = m->hello.config_version;
		hello->state = (Ironrack__V1__HaPairState)m->hello.state;
		hello->last_seq_seen = m->hello.last_seq_seen;
		hello->unix_ms = m->hello.unix_ms;
		p->body_case = IRONRACK__V1__HA_MESSAGE__BODY_HELLO;
		p->hello = hello;
		return 0;
	case HA_MSG_UPDATES:
		e->leases = xcalloc(m->n_leases ? m->n_leases : 1, sizeof(*e->leases));
		e->lease_ptrs = xcalloc(m->n_leases ? m->n_leases : 1, sizeof(*e->lease_ptrs));
		for (size_t i = 0; i < m->n_leases; i++) {
			if (lease_to(&m->leases[i], &e->leases[i]) < 0)
				return -EINVAL;
			e->lease_ptrs[i] = &e->leases[i];
		}
		upd->seq_first = m->seq;
		upd->n_leases = m->n_leases;
		upd->leases = e->lease_ptrs;
		p->body_case = IRONRACK__V1__HA_MESSAGE__BODY_UPDATES;
		p->updates = upd;
		return 0;
	case HA_MSG_ACK:
		ack->seq = m->seq;
		p->body_case = IRONRACK__V1__HA_MESSAGE__BODY_ACK;
		p->ack = ack;
		return 0;
	case HA_MSG_POOL_REQUEST:
		e->asks = xcalloc(m->n_asks ? m->n_asks : 1, sizeof(*e->asks));
		e->ask_ptrs = xcalloc(m->n_asks ? m->n_asks : 1, sizeof(*e->ask_ptrs));
		for (size_t i = 0; i < m->n_asks; i++) {
			ironrack__v1__ha_pool_ask__init(&e->asks[i]);
			e->asks[i].range_id = m->asks[i].range_id;
			e->asks[i].count = m->asks[i].count;
			e->asks[i].free = m->asks[i].free;
			e->ask_ptrs[i] = &e->asks[i];
		}
		req->n_asks = m->n_asks;
		req->asks = e->ask_ptrs;
		p->body_case = IRONRACK__V1__HA_MESSAGE__BODY_POOL_REQUEST;
		p->pool_request = req;
		return 0;
	case HA_MSG_POOL_GRANT:
	case HA_MSG_POOL_CHECK:
	case HA_MSG_POOL_UNOWNED:
		e->ranges = xcalloc(m->n_ranges ? m->n_ranges : 1, sizeof(*e->ranges));
		e->range_ptrs = xcalloc(m->n_ranges ? m->n_ranges : 1, sizeof(*e->range_ptrs));
		for (size_t i = 0; i < m->n_ranges; i++) {
			ironrack__v1__ha_range__init(&e->ranges[i]);
			e->ranges[i].range_id = m->ranges[i].range_id;
			e->ranges[i].first = m->ranges[i].first;
			e->ranges[i].last = m->ranges[i].last;
			e->range_ptrs[i] = &e->ranges[i];
		}
		grant->seq = m->seq;
		grant->n_ranges = m->n_ranges;
		grant->ranges = e->range_ptrs;
		if (m->type == HA_MSG_POOL_CHECK) {
			p->body_case = IRONRACK__V1__HA_MESSAGE__BODY_POOL_CHECK;
			p->pool_check = grant;
		} else if (m->type == HA_MSG_POOL_UNOWNED) {
			p->body_case = IRONRACK__V1__HA_MESSAGE__BODY_POOL_UNOWNED;
			p->pool_unowned = grant;
		} else {
			p->body_case = IRONRACK__V1__HA_MESSAGE__BODY_POOL_GRANT;
			p->pool_grant = grant;
		}
		return 0;
	case HA_MSG_STATE:
		st->state = (Ironrack__V1__HaPairState)m->state.state;
		st->since_ms = m->state.since_ms;
		st->unix_ms = m->state.unix_ms;
		st->last_seq = m->state.last_seq;
		st->tail_sent = m->state.tail_sent;
		st->merged = m->state.merged;
		p->body_case = IRONRACK__V1__HA_MESSAGE__BODY_STATE;
		p->state = st;
		return 0;
	case HA_MSG_SYNC:
		sync->from_seq = m->seq;
		p->body_case = IRONRACK__V1__HA_MESSAGE__BODY_SYNC;
		p->sync = sync;
		return 0;
	}
	return -EINVAL;
}

int ha_msg_encode(const struct ha_msg *m, uint8_t **ret_buf, size_t *ret_len)
{
	pb_msg p = IRONRACK__V1__HA_MESSAGE__INIT;
	Ironrack__V1__HaHello hello = IRONRACK__V1__HA_HELLO__INIT;
	Ironrack__V1__HaUpdates upd = IRONRACK__V1__HA_UPDATES__INIT;
	Ironrack__V1__HaUpdatesAck ack = IRONRACK__V1__HA_UPDATES_ACK__INIT;
	Ironrack__V1__HaPoolRequest req = IRONRACK__V1__HA_POOL_REQUEST__INIT;
	Ironrack__V1__HaPoolGrant grant = IRONRACK__V1__HA_POOL_GRANT__INIT;
	Ironrack__V1__HaState st = IRONRACK__V1__HA_STATE__INIT;
	Ironrack__V1__HaSync sync = IRONRACK__V1__HA_SYNC__INIT;
	struct enc e = {0};

	int rc = build(m, &p, &e, &hello, &upd, &ack, &req, &grant, &st, &sync);
	if (rc == 0) {
		size_t n = ironrack__v1__ha_message__get_packed_size(&p);
		*ret_buf = xmalloc(n ? n : 1);
		*ret_len = ironrack__v1__ha_message__pack(&p, *ret_buf);
	}
	free(e.leases);
	free(e.lease_ptrs);
	free(e.asks);
	free(e.ask_ptrs);
	free(e.ranges);
	free(e.range_ptrs);
	return rc;
}

const char *ha_msg_type_name(enum ha_msg_type t)
{
	switch (t) {
	case HA_MSG_HELLO:
		return "hello";
	case HA_MSG_UPDATES:
		return "updates";
	case HA_MSG_ACK:
		return "ack";
	case HA_MSG_POOL_REQUEST:
		return "pool-request";
	case HA_MSG_POOL_GRANT:
		return "pool-grant";
	case HA_MSG_STATE:
		return "state";
	case HA_MSG_SYNC:
		return "sync";
	case HA_MSG_POOL_CHECK:
		return "pool-check";
	case HA_MSG_POOL_UNOWNED:
		return "pool-unowned";
	}
	return "?";
}
