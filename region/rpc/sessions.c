/* Rack sessions: one long-lived bidirectional stream per connected rack, a
 * transport. The session layer keeps liveness (heartbeats, the sweep),
 * matches replies to requests (request id -> continuation) and hands every
 * other message to the feature row registered for its body case
 * (handlers.c). What a message means is the feature's business. */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "region/db/db.h"
#include "region/db/dhcp_db.h"
#include "region/region.h"
#include "region/rpc/dbjob.h"
#include "region/rpc/internal.h"
#include "region/rpc/rpc.h"
#include "region/rpc/scope.h"
#include "region/rpc/session.h"
#include "region/rpc/session_internal.h"

/* Messages a rack may send before its identity check has answered (it
 * sends Hello and queued reports at once); more close the session. */
#define SESSION_EARLY_MAX	64
#define SESSION_EARLY_BYTES_MAX (32u << 20)

/* A request sent down a session, waiting for the rack's reply. */
struct pending {
	struct pending *next;
	struct rack_session *sess;
	uint64_t id;
	int64_t start_us;
	struct event *timer;
	region_session_cont_fn cont;
	void *arg;
};

/* A message that arrived while the identity check ran, packed. */
struct early_msg {
	struct early_msg *next;
	size_t len;
	uint8_t data[];
};

struct session_check;

static bool session_is_live(const struct rack_session *s)
{
	return !s->closed && s->started;
}

struct rack_session *region_session_of_rack(struct region *r, const char *rack_id)
{
	if (!r->racks)
		return NULL;
	for (struct rack_session *s = r->racks->head; s; s = s->next) {
		if (session_is_live(s) && strcmp(s->rack_id, rack_id) == 0)
			return s;
	}
	return NULL;
}

size_t region_sessions_each(struct region *r, void (*fn)(struct rack_session *s, void *arg), void *arg)
{
	size_t n = 0;
	if (!r->racks)
		return 0;
	for (struct rack_session *s = r->racks->head, *next; s; s = next) {
		next = s->next;
		if (session_is_live(s)) {
			fn(s, arg);
			n++;
		}
	}
	return n;
}

struct rack_session *region_session_find(struct region *r, const struct region_session_ref *ref)
{
	struct rack_session *s = region_session_of_rack(r, ref->rack_id);
	return s && s->serial == ref->serial ? s : NULL;
}

void region_session_ref_get(const struct rack_session *s, struct region_session_ref *ret)
{
	snprintf(ret->rack_id, sizeof(ret->rack_id), "%s", s->rack_id);
	ret->serial = s->serial;
}

struct region *region_session_region(const struct rack_session *s)
{
	return s->r;
}

const char *region_session_rack_id(const struct rack_session *s)
{
	return s->rack_id;
}

const char *region_session_peer(const struct rack_session *s)
{
	return s->stream ? rpc_stream_peer(s->stream) : "";
}

uint64_t region_session_config_version(const struct rack_session *s)
{
	return s->rack_config_version;
}

void region_session_config_version_set(struct rack_session *s, uint64_t version)
{
	s->rack_config_version = version;
}

bool region_rack_connected(struct region *r, const char *rack_id)
{
	return region_session_of_rack(r, rack_id) != NULL;
}

size_t region_racks_connected_count(struct region *r)
{
	return r->racks ? r->racks->n : 0;
}

uint64_t region_session_next_id(struct rack_session *s)
{
	return ++s->r->racks->next_request_id;
}

int region_session_send(struct rack_session *s, Ironrack__V1__RegionMessage *m)
{
	int rc = rpc_stream_send(s->stream, &m->base);
	if (rc < 0)
		log_warn("rack %s: cannot queue a message: %s", s->rack_id, strerror(-rc));
	return rc;
}

void region_session_reply_status(struct rack_session *s, uint64_t request_id, int rc, const char *why)
{
	Ironrack__V1__Status st = IRONRACK__V1__STATUS__INIT;
	st.code = rc == 0	  ? RPC_OK
		  : rc == -EINVAL ? RPC_INVALID_ARGUMENT
		  : rc == -ENOENT ? RPC_NOT_FOUND
		  : rc == -EACCES ? RPC_PERMISSION_DENIED
		  : rc == -EPERM  ? RPC_FAILED_PRECONDITION
				  : RPC_UNAVAILABLE;
	st.message = (char *)(why && why[0] ? why : rc == 0 ? "" : strerror(-rc));
	Ironrack__V1__RegionMessage m = IRONRACK__V1__REGION_MESSAGE__INIT;
	m.request_id = request_id;
	m.status = &st;
	region_session_send(s, &m);
}

/* ---- requests and their continuations ---- */

/* Complete a pending request exactly once and free it. */
static void pending_finish(struct pending *p, int status, const char *message, const Ironrack__V1__RackMessage *reply)
{
	struct pending **pp = &p->sess->pending;
	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	event_free(p->timer);
	p->cont(p->arg, status, message, reply, clock_mono_us() - p->start_us);
	free(p);
}

static void pending_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	log_warn("rack %s: no answer to request %llu before its deadline", p->sess->rack_id, (unsigned long long)p->id);
	pending_finish(p, -ETIMEDOUT, "rack did not answer before the deadline", NULL);
}

void region_session_request(struct rack_session *s, Ironrack__V1__RegionMessage *m, int timeout_ms,
			    region_session_cont_fn cont, void *arg)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	p->sess = s;
	p->id = region_session_next_id(s);
	p->start_us = clock_mono_us();
	p->cont = cont;
	p->arg = arg;
	p->timer = evtimer_new(s->r->base, pending_on_timeout, p);
	if (!p->timer)
		oom_abort(sizeof(struct event *));
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	evtimer_add(p->timer, &tv);
	p->next = s->pending;
	s->pending = p;
	m->request_id = p->id;
	m->deadline_unix_ms = clock_real_ms() + timeout_ms;
	if (region_session_send(s, m) < 0)
		pending_finish(p, -ECANCELED, "session is closing", NULL);
}

static struct pending *pending_find(struct rack_session *s, uint64_t id)
{
	for (struct pending *p = s->pending; p; p = p->next) {
		if (p->id == id)
			return p;
	}
	return NULL;
}

/* A message with a request_id we sent: the continuation gets it. */
static void session_on_reply(struct rack_session *s, const Ironrack__V1__RackMessage *m)
{
	struct pending *p = m->request_id ? pending_find(s, m->request_id) : NULL;
	if (!p) {
		log_debug("rack %s: reply to request %llu that nobody waits for", s->rack_id,
			  (unsigned long long)m->request_id);
		return;
	}
	if (m->status && m->status->code != RPC_OK)
		pending_finish(p, -EREMOTEIO, m->status->message, m);
	else
		pending_finish(p, 0, "", m);
}

struct ping_wait {
	region_reply_cb cb;
	void *arg;
};

static void ping_answered(void *arg, int status, const char *message, const Ironrack__V1__RackMessage *reply,
			  int64_t rtt_us)
{
	struct ping_wait *w = arg;
	w->cb(w->arg, status, status == 0 ? "pong" : message, rtt_us, 0);
	free(w);
}

void region_rack_ping(struct region *r, const char *rack_id, int timeout_ms, region_reply_cb cb, void *arg)
{
	struct rack_session *s = region_session_of_rack(r, rack_id);
	if (!s) {
		cb(arg, -ENOTCONN, "rack is not connected", 0, 0);
		return;
	}
	struct ping_wait *w = xcalloc(1, sizeof(*w));
	w->cb = cb;
	w->arg = arg;
	Ironrack__V1__Ping ping = IRONRACK__V1__PING__INIT;
	Ironrack__V1__Command cmd = IRONRACK__V1__COMMAND__INIT;
	cmd.command_case = IRONRACK__V1__COMMAND__COMMAND_PING;
	cmd.ping = &ping;
	Ironrack__V1__RegionMessage m = IRONRACK__V1__REGION_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__REGION_MESSAGE__BODY_COMMAND;
	m.command = &cmd;
	region_session_request(s, &m, timeout_ms, ping_answered, w);
}

/* ---- last seen: queued, at most one job per session ---- */

struct seen_job {
	struct region *r;
	struct region_session_ref ref;
	bool connected;
	char region_name[256];
	char err[256];
};

static void seen_submit(struct region *r, const char *rack_id, uint64_t serial, bool connected);

static int seen_store(struct db *db, void *arg)
{
	struct seen_job *j = arg;
	int rc = db_rack_seen(db, j->ref.rack_id, j->connected, j->region_name);
	if (rc < 0)
		snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
	return rc;
}

/* An outage is logged once, not per heartbeat; sessions stay up. */
static void seen_done(void *arg, int status)
{
	struct seen_job *j = arg;
	struct region_racks *rr = j->r->racks;
	if (status == -ECANCELED || !rr) {
		free(j);
		return;
	}
	if (status < 0 && region_dbjob_is_outage(status)) {
		if (!rr->db_down)
			log_err("database unavailable (%s): rack connections and heartbeats are not recorded until it "
				"returns; sessions stay up",
				j->err[0] ? j->err : strerror(-status));
		rr->db_down = true;
	} else if (status < 0) {
		log_err("rack %s: cannot record %s: %s", j->ref.rack_id, j->connected ? "heartbeat" : "disconnect",
			j->err);
	} else if (rr->db_down) {
		log_info("database available again: recording rack heartbeats");
		rr->db_down = false;
	}
	struct rack_session *s = j->connected ? region_session_find(j->r, &j->ref) : NULL;
	if (s) {
		s->seen_queued = false;
		if (s->seen_again) {
			s->seen_again = false;
			seen_submit(j->r, s->rack_id, s->serial, true);
		}
	}
	free(j);
}

static void seen_submit(struct region *r, const char *rack_id, uint64_t serial, bool connected)
{
	struct seen_job *j = xcalloc(1, sizeof(*j));
	j->r = r;
	snprintf(j->ref.rack_id, sizeof(j->ref.rack_id), "%s", rack_id);
	j->ref.serial = serial;
	j->connected = connected;
	snprintf(j->region_name, sizeof(j->region_name), "%s", r->name);
	if (connected) {
		struct rack_session *s = region_session_find(r, &j->ref);
		if (s)
			s->seen_queued = true;
	}
	region_dbjob_submit(r, DB_LANE_WRITE, seen_store, seen_done, j);
}

static void session_seen(struct rack_session *s)
{
	if (s->seen_queued)
		s->seen_again = true;
	else
		seen_submit(s->r, s->rack_id, s->serial, true);
}

/* ---- dispatch ---- */

static void session_on_heartbeat(struct rack_session *s, const Ironrack__V1__RackMessage *m)
{
	s->rack_config_version = m->heartbeat->config_version;
	session_seen(s);
}

static const struct region_session_handler *session_handler_find(Ironrack__V1__RackMessage__BodyCase body)
{
	for (size_t i = 0; i < region_session_features_n; i++) {
		const struct region_session_feature *f = region_session_features[i];
		for (size_t k = 0; k < f->n_handlers; k++) {
			if (f->handlers[k].body == body)
				return &f->handlers[k];
		}
	}
	return NULL;
}

static void session_dispatch(struct rack_session *s, const Ironrack__V1__RackMessage *m)
{
	Ironrack__V1__RackMessage tmp;
	Ironrack__V1__LeaseReport tmp_rep;
	Ironrack__V1__LeaseEvent **kept = NULL;

	s->last_heartbeat_us = clock_mono_us();
	m = session_trust_admit(s, m, &tmp, &tmp_rep, &kept);
	if (!m)
		return;
	if (m->body_case == IRONRACK__V1__RACK_MESSAGE__BODY_HEARTBEAT) {
		session_on_heartbeat(s, m);
		return;
	}
	const struct region_session_handler *h = session_handler_find(m->body_case);
	if (h)
		h->fn(s, m);
	/* Replies to our requests: a ConfigAck, a CommandResult, or a bare
	 * Status (a refusal). */
	if (m->body_case == IRONRACK__V1__RACK_MESSAGE__BODY_CONFIG_ACK ||
	    m->body_case == IRONRACK__V1__RACK_MESSAGE__BODY_RESULT ||
	    (m->body_case == IRONRACK__V1__RACK_MESSAGE__BODY__NOT_SET && m->status && m->request_id))
		session_on_reply(s, m);
	else if (!h)
		log_debug("rack %s: message without a body ignored", s->rack_id);
	free(kept);
}

static void session_on_message(struct rpc_stream *stream, ProtobufCMessage *msg, void *arg)
{
	struct rack_session *s = arg;
	if (s->closed)
		return;
	if (s->started) {
		session_dispatch(s, (const Ironrack__V1__RackMessage *)msg);
		return;
	}
	/* Still checking who it is: keep the message for later. */
	size_t len = protobuf_c_message_get_packed_size(msg);
	if (s->n_early >= SESSION_EARLY_MAX || s->early_bytes + len > SESSION_EARLY_BYTES_MAX) {
		log_warn("rack %s: %zu messages before its identity was checked; closing the session", s->rack_id,
			 s->n_early);
		s->closed = true;
		rpc_stream_close(stream, RPC_RESOURCE_EXHAUSTED, "too many messages before the session started");
		return;
	}
	struct early_msg *e = xmalloc(sizeof(*e) + len);
	e->next = NULL;
	e->len = protobuf_c_message_pack(msg, e->data);
	*s->early_tail = e;
	s->early_tail = &e->next;
	s->n_early++;
	s->early_bytes += len;
}

/* ---- opening and closing ---- */

/* The identity check, then what the rack serves (its scope), both before
 * the session starts: no report is read before its scope is known. */
struct session_check {
	struct rack_session *s; /* NULL once the session ended first */
	char rack_id[64];
	struct rack_config_row latest, acked;
	uint64_t *ha_down; /* VLANs whose HA partner holds partner-down against the rack */
	size_t n_ha_down;
	char err[256];
};

static void session_early_free(struct rack_session *s)
{
	while (s->early) {
		struct early_msg *e = s->early;
		s->early = e->next;
		free(e);
	}
	s->early_tail = &s->early;
	s->n_early = s->early_bytes = 0;
}

static void session_early_replay(struct rack_session *s)
{
	while (s->early && !s->closed) {
		struct early_msg *e = s->early;
		s->early = e->next;
		Ironrack__V1__RackMessage *m = ironrack__v1__rack_message__unpack(NULL, e->len, e->data);
		free(e);
		if (m) {
			session_dispatch(s, m);
			ironrack__v1__rack_message__free_unpacked(m, NULL);
		}
	}
	session_early_free(s);
}

static void session_start(struct rack_session *s, const uint64_t *ha_down, size_t n_ha_down)
{
	struct region *r = s->r;
	struct rack_session *old = region_session_of_rack(r, s->rack_id);
	if (old) {
		log_info("rack %s opened a new session; closing the old one", s->rack_id);
		old->closed = true;
		rpc_stream_close(old->stream, RPC_ABORTED, "replaced by a newer session");
		r->racks->n--;
	}
	s->started = true;
	r->racks->n++;
	s->last_heartbeat_us = clock_mono_us();
	seen_submit(r, s->rack_id, s->serial, true);

	Ironrack__V1__Welcome w = IRONRACK__V1__WELCOME__INIT;
	w.rack_id = s->rack_id;
	w.heartbeat_interval_s = (uint32_t)r->conf.heartbeat_interval;
	w.ha_declared_down = (uint64_t *)ha_down;
	w.n_ha_declared_down = n_ha_down;
	Ironrack__V1__RegionMessage m = IRONRACK__V1__REGION_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__REGION_MESSAGE__BODY_WELCOME;
	m.welcome = &w;
	region_session_send(s, &m);
	log_info("rack %s connected from %s", s->rack_id, rpc_stream_peer(s->stream));
	for (size_t i = 0; i < region_session_features_n; i++) {
		if (region_session_features[i]->on_open)
			region_session_features[i]->on_open(r, s->rack_id);
	}
	session_early_replay(s);
}

/* The latest snapshot stored for the rack and the one it acknowledged. */
static int session_scope_load(struct db *db, void *arg)
{
	struct session_check *c = arg;
	struct rack_row row;
	int rc = db_rack_get(db, c->rack_id, &row);
	uint64_t acked = rc >= 0 ? row.acked_config_version : 0;
	if (rc >= 0)
		db_rack_row_done(&row);
	if (rc >= 0)
		rc = db_rack_config_get_full(db, c->rack_id, 0, &c->latest);
	if (rc >= 0 && acked && acked != c->latest.version)
		rc = db_rack_config_get_full(db, c->rack_id, acked, &c->acked);
	if (rc == -ENOENT) /* no snapshot (yet, or any more): it serves nothing */
		rc = 0;
	if (rc < 0)
		snprintf(c->err, sizeof(c->err), "%s", db_last_error(db));
	return rc;
}

/* DHCP HA rule 6 (docs/dhcp-ha.md): the welcome says which partners hold
 * partner-down against the rack. A write job: last_seen is touched first,
 * so a witness grant (region/dhcp/ha.c, on the same lane and locking the
 * rack's row) is either seen here or sees the rack as just heard from. */
static int session_ha_load(struct db *db, void *arg)
{
	struct session_check *c = arg;
	char *down = NULL;
	int rc = dhcp_db_rack_touch(db, c->rack_id);
	if (rc >= 0)
		rc = dhcp_db_partner_down_against(db, c->rack_id, &down);
	if (rc >= 0) {
		json_t *arr = json_loads(down, 0, NULL);
		c->n_ha_down = json_array_size(arr);
		c->ha_down = xcalloc(c->n_ha_down ? c->n_ha_down : 1, sizeof(*c->ha_down));
		for (size_t i = 0; i < c->n_ha_down; i++)
			c->ha_down[i] = (uint64_t)json_integer_value(json_array_get(arr, i));
		json_decref(arr);
	}
	free(down);
	if (rc < 0)
		snprintf(c->err, sizeof(c->err), "%s", db_last_error(db));
	return rc;
}

static void session_check_free(struct session_check *c)
{
	db_rack_config_row_done(&c->latest);
	db_rack_config_row_done(&c->acked);
	free(c->ha_down);
	free(c);
}

static void session_ha_loaded(void *arg, int status)
{
	struct session_check *c = arg;
	struct rack_session *s = c->s;
	if (s) {
		s->check = NULL;
		if (status < 0) {
			if (status != -ECANCELED)
				log_err("rack %s: cannot read its DHCP HA partner-downs: %s", s->rack_id,
					c->err[0] ? c->err : strerror(-status));
			s->closed = true;
			rpc_stream_close(s->stream, RPC_UNAVAILABLE, "region database unavailable");
		} else {
			struct rack_scope *latest = session_trust_scope_of(s->rack_id, &c->latest);
			if (c->acked.version) {
				s->scope = session_trust_scope_of(s->rack_id, &c->acked);
				s->scope_sent = latest;
			} else {
				s->scope = latest;
			}
			session_start(s, c->ha_down, c->n_ha_down);
		}
	}
	session_check_free(c);
}

static void session_scope_loaded(void *arg, int status)
{
	struct session_check *c = arg;
	struct rack_session *s = c->s;
	if (s && status >= 0) {
		region_dbjob_submit(s->r, DB_LANE_WRITE, session_ha_load, session_ha_loaded, c);
		return;
	}
	if (s) {
		s->check = NULL;
		if (status != -ECANCELED)
			log_err("rack %s: cannot read what it serves: %s", s->rack_id,
				c->err[0] ? c->err : strerror(-status));
		s->closed = true;
		rpc_stream_close(s->stream, RPC_UNAVAILABLE, "region database unavailable");
	}
	session_check_free(c);
}

static void session_checked(void *arg, int status)
{
	struct session_check *c = arg;
	struct rack_session *s = c->s;
	if (!s) {
		free(c); /* the stream ended while we checked */
		return;
	}
	if (status != RPC_OK) {
		s->check = NULL;
		free(c);
		s->closed = true;
		rpc_stream_close(s->stream, status,
				 status == RPC_UNAVAILABLE ? "region database unavailable" : "not an enrolled rack");
		return;
	}
	snprintf(c->rack_id, sizeof(c->rack_id), "%s", s->rack_id);
	region_dbjob_submit(s->r, DB_LANE_READ, session_scope_load, session_scope_loaded, c);
}

static void session_on_close(struct rpc_stream *stream, int status, const char *message, void *arg)
{
	struct rack_session *s = arg;
	struct region *r = s->r;
	struct region_racks *rr = r->racks;
	bool was_live = session_is_live(s);
	bool started = s->started;
	if (s->check)
		s->check->s = NULL;
	s->closed = true;
	while (s->pending)
		pending_finish(s->pending, -ECANCELED, "session ended", NULL);
	session_early_free(s);
	session_refusal_flush(s, clock_mono_us(), true);
	rack_scope_free(s->scope);
	rack_scope_free(s->scope_sent);
	for (struct rack_session **pp = &rr->head; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	if (was_live)
		rr->n--;
	if (started) {
		/* A replaced session must not mark the rack's new one disconnected. */
		if (!region_session_of_rack(r, s->rack_id)) {
			seen_submit(r, s->rack_id, s->serial, false);
			for (size_t i = 0; i < region_session_features_n; i++) {
				if (region_session_features[i]->on_close)
					region_session_features[i]->on_close(r, s->rack_id);
			}
		}
		log_info("rack %s disconnected (%s%s%s)", s->rack_id, rpc_status_name(status), message[0] ? ": " : "",
			 message);
	}
	rpc_stream_unref(stream);
	free(s);
}

const struct rpc_stream_ops region_session_ops = {
    .on_message = session_on_message,
    .on_close = session_on_close,
};

void region_session_open(struct rpc_stream *stream, void *server_arg)
{
	struct region *r = server_arg;
	const char *id = rpc_stream_identity(stream);
	if (!id[0] || strlen(id) >= sizeof(((struct rack_session *)NULL)->rack_id)) {
		log_warn("refused Session from %s: %s", rpc_stream_peer(stream),
			 id[0] ? "certificate CN too long" : "no client certificate (enrol first)");
		rpc_stream_close(stream, RPC_UNAUTHENTICATED, "not an enrolled rack");
		return;
	}
	struct rack_session *s = xcalloc(1, sizeof(*s));
	s->r = r;
	s->stream = stream;
	s->serial = ++r->racks->next_serial;
	snprintf(s->rack_id, sizeof(s->rack_id), "%s", id);
	s->last_heartbeat_us = clock_mono_us();
	s->early_tail = &s->early;
	struct session_check *c = xcalloc(1, sizeof(*c));
	c->s = s;
	s->check = c;
	rpc_stream_ref(stream);
	rpc_stream_set_arg(stream, s);
	s->next = r->racks->head;
	r->racks->head = s;
	/* May answer before returning. */
	region_rpc_check_rack(r, id, rpc_stream_peer(stream), "Session", session_checked, c);
}

/* Close sessions whose rack has gone quiet (a half-open TCP connection
 * can outlive the rack by a long time). */
static void racks_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct region *r = arg;
	int64_t now = clock_mono_us();
	int64_t limit = now - (int64_t)r->conf.rack_timeout * 1000000;
	region_rpc_auth_flush(r, now);
	for (struct rack_session *s = r->racks->head; s; s = s->next) {
		session_refusal_flush(s, now, false);
		if (session_is_live(s) && s->last_heartbeat_us < limit) {
			log_warn("rack %s: no heartbeat for %lds, closing its session", s->rack_id,
				 r->conf.rack_timeout);
			s->closed = true;
			r->racks->n--;
			rpc_stream_close(s->stream, RPC_DEADLINE_EXCEEDED, "no heartbeat");
		}
	}
}

int region_racks_new(struct region *r)
{
	r->racks = xcalloc(1, sizeof(*r->racks));
	r->racks->sweep = event_new(r->base, -1, EV_PERSIST, racks_sweep, r);
	if (!r->racks->sweep)
		oom_abort(sizeof(struct event *));
	struct timeval tv = {1, 0};
	event_add(r->racks->sweep, &tv);
	return 0;
}

void region_racks_free(struct region *r)
{
	if (!r->racks)
		return;
	event_free(r->racks->sweep);
	free(r->racks);
	r->racks = NULL;
}
