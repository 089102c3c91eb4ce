/* Rack sessions: one long-lived bidirectional stream per connected rack.
 * Heartbeats keep last_seen current; commands and config snapshots go down
 * with a request_id and a deadline and are matched to the rack's reply. */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/log.h"
#include "common/rpc/rpc.h"
#include "region/boot/boot.h"
#include "region/db/db.h"
#include "region/dhcp/dhcp.h"
#include "region/region.h"
#include "region/rpc/rpc.h"

enum pending_kind { PENDING_PING, PENDING_CONFIG };

struct pending {
	struct pending *next;
	struct rack_session *sess;
	uint64_t id;
	enum pending_kind kind;
	uint64_t version;
	int64_t start_us;
	struct event *timer;
	region_reply_cb cb;
	void *arg;
};

struct rack_session {
	struct rack_session *next;
	struct region *r;
	struct rpc_stream *stream;
	char rack_id[64];
	int64_t last_heartbeat_us;
	uint64_t rack_config_version;
	struct pending *pending;
	bool closed;
};

struct region_racks {
	struct rack_session *head;
	uint64_t next_request_id;
	struct event *sweep;
	size_t n;
};

static int64_t now_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static struct rack_session *racks_find(struct region *r, const char *rack_id)
{
	if (!r->racks)
		return NULL;
	for (struct rack_session *s = r->racks->head; s; s = s->next) {
		if (!s->closed && strcmp(s->rack_id, rack_id) == 0)
			return s;
	}
	return NULL;
}

bool region_rack_connected(struct region *r, const char *rack_id)
{
	return racks_find(r, rack_id) != NULL;
}

size_t region_racks_connected_count(struct region *r)
{
	return r->racks ? r->racks->n : 0;
}

/* Complete a pending request exactly once and free it. */
static void pending_finish(struct pending *p, int status, const char *message, uint64_t version)
{
	struct pending **pp = &p->sess->pending;
	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	event_free(p->timer);
	if (p->cb)
		p->cb(p->arg, status, message, now_us() - p->start_us, version);
	free(p);
}

static void pending_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	log_warn("rack %s: no answer to request %llu before its deadline", p->sess->rack_id,
		 (unsigned long long)p->id);
	pending_finish(p, -ETIMEDOUT, "rack did not answer before the deadline", 0);
}

static struct pending *pending_add(struct rack_session *s, enum pending_kind kind, int timeout_ms,
				   region_reply_cb cb, void *arg)
{
	struct pending *p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	p->sess = s;
	p->id = ++s->r->racks->next_request_id;
	p->kind = kind;
	p->start_us = now_us();
	p->cb = cb;
	p->arg = arg;
	p->timer = evtimer_new(s->r->base, pending_on_timeout, p);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	evtimer_add(p->timer, &tv);
	p->next = s->pending;
	s->pending = p;
	return p;
}

static struct pending *pending_find(struct rack_session *s, uint64_t id)
{
	for (struct pending *p = s->pending; p; p = p->next) {
		if (p->id == id)
			return p;
	}
	return NULL;
}

static int session_send(struct rack_session *s, Ironrack__V1__RegionMessage *m)
{
	int rc = rpc_stream_send(s->stream, &m->base);
	if (rc < 0)
		log_warn("rack %s: cannot queue a message: %s", s->rack_id, strerror(-rc));
	return rc;
}

/* The boot configs of a snapshot (a JSON array of objects of strings,
 * validated by the API before it was stored) as protobuf, borrowing the
 * strings from arr. Free the returned array and *ret_items. */
static Ironrack__V1__BootConfig **boot_configs_pb(json_t *arr, size_t *ret_n, Ironrack__V1__BootConfig **ret_items)
{
	size_t n = json_array_size(arr);
	Ironrack__V1__BootConfig *items = calloc(n ? n : 1, sizeof(*items));
	Ironrack__V1__BootConfig **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	if (!items || !ptrs)
		abort();
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		const char *f[5];
		static const char *const names[] = { "mac", "purpose", "kernel", "initrd", "cmdline" };
		for (int j = 0; j < 5; j++) {
			f[j] = json_string_value(json_object_get(e, names[j]));
			if (!f[j])
				f[j] = "";
		}
		ironrack__v1__boot_config__init(&items[i]);
		items[i].mac = (char *)f[0];
		items[i].purpose = (char *)f[1];
		items[i].kernel = (char *)f[2];
		items[i].initrd = (char *)f[3];
		items[i].cmdline = (char *)f[4];
		ptrs[i] = &items[i];
	}
	*ret_n = n;
	*ret_items = items;
	return ptrs;
}

/* settings_json is a JSON object of strings, boot_configs_json a JSON
 * array of boot configs (NULL: none); both validated by the API. */
static int session_push_config(struct rack_session *s, uint64_t version, const char *settings_json,
			       const char *boot_configs_json, const uint8_t *dhcp, size_t dhcp_len, struct pending *p)
{
	json_error_t jerr;
	json_t *obj = json_loads(settings_json, 0, &jerr);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return -EINVAL;
	}
	size_t n = json_object_size(obj), i = 0;
	Ironrack__V1__RackConfig__SettingsEntry *entries = calloc(n ? n : 1, sizeof(*entries));
	Ironrack__V1__RackConfig__SettingsEntry **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	if (!entries || !ptrs)
		abort();
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val)
	{
		ironrack__v1__rack_config__settings_entry__init(&entries[i]);
		entries[i].key = (char *)key;
		entries[i].value = (char *)(json_is_string(val) ? json_string_value(val) : "");
		ptrs[i] = &entries[i];
		i++;
	}
	Ironrack__V1__RackConfig cfg = IRONRACK__V1__RACK_CONFIG__INIT;
	cfg.version = version;
	cfg.generated_unix_ms = now_us() / 1000;
	cfg.n_settings = n;
	cfg.settings = ptrs;
	json_t *boot = boot_configs_json ? json_loads(boot_configs_json, 0, &jerr) : NULL;
	Ironrack__V1__BootConfig *boot_items = NULL;
	cfg.boot_configs = boot_configs_pb(boot, &cfg.n_boot_configs, &boot_items);
	/* Boot resources are the region's current list, not part of the
	 * stored snapshot; a change of list stores a new version per rack. */
	cfg.n_boot_resources = region_bootres_snapshot(s->r, &cfg.boot_resources);
	/* The DHCP config was packed by region/dhcp when it was stored. */
	cfg.dhcp = dhcp_len ? ironrack__v1__dhcp_config__unpack(NULL, dhcp_len, dhcp) : NULL;
	if (dhcp_len && !cfg.dhcp)
		log_err("rack %s: config version %llu holds a DHCP config that does not unpack; sent without it",
			s->rack_id, (unsigned long long)version);
	Ironrack__V1__RegionMessage m = IRONRACK__V1__REGION_MESSAGE__INIT;
	m.request_id = p ? p->id : ++s->r->racks->next_request_id;
	m.deadline_unix_ms = p ? (p->start_us / 1000 + 30000) : 0;
	m.body_case = IRONRACK__V1__REGION_MESSAGE__BODY_CONFIG;
	m.config = &cfg;
	int rc = session_send(s, &m);
	free(entries);
	free(ptrs);
	free(cfg.boot_configs);
	free(boot_items);
	if (cfg.dhcp)
		ironrack__v1__dhcp_config__free_unpacked(cfg.dhcp, NULL);
	json_decref(boot);
	json_decref(obj);
	return rc;
}

static void session_offer_latest_config(struct rack_session *s)
{
	struct rack_config_row row;
	Ironrack__V1__BootResource **res;
	uint64_t version;
	int rc = db_rack_config_get_full(s->r->db, s->rack_id, 0, &row);
	/* A rack that never had a config still needs the boot resources. */
	if (rc == -ENOENT && region_bootres_snapshot(s->r, &res) > 0 &&
	    db_rack_config_put(s->r->db, s->rack_id, "{}", &version) >= 0)
		rc = db_rack_config_get_full(s->r->db, s->rack_id, version, &row);
	if (rc < 0) {
		if (rc != -ENOENT)
			log_err("rack %s: cannot read its latest config: %s", s->rack_id, db_last_error(s->r->db));
		return;
	}
	if (row.version > s->rack_config_version) {
		log_info("rack %s has config version %llu, sending version %llu", s->rack_id,
			 (unsigned long long)s->rack_config_version, (unsigned long long)row.version);
		session_push_config(s, row.version, row.settings_json, row.boot_configs_json, row.dhcp, row.dhcp_len,
				    NULL);
	}
	db_rack_config_row_done(&row);
}

void region_rack_offer_config(struct region *r, const char *rack_id)
{
	struct rack_session *s = racks_find(r, rack_id);
	if (s)
		session_offer_latest_config(s);
}

/* A report's answer: same request_id, a Status. */
static void session_reply_status(struct rack_session *s, uint64_t request_id, int rc, const char *why)
{
	Ironrack__V1__Status st = IRONRACK__V1__STATUS__INIT;
	st.code = rc == 0 ? RPC_OK
		  : rc == -EINVAL ? RPC_INVALID_ARGUMENT
		  : rc == -ENOENT ? RPC_NOT_FOUND
				  : RPC_UNAVAILABLE;
	st.message = (char *)(rc == 0 ? "" : why[0] ? why : strerror(-rc));
	Ironrack__V1__RegionMessage m = IRONRACK__V1__REGION_MESSAGE__INIT;
	m.request_id = request_id;
	m.status = &st;
	session_send(s, &m);
}

static void session_on_dhcp_report(struct rack_session *s, const Ironrack__V1__RackMessage *m)
{
	char why[512] = "";
	int rc = m->body_case == IRONRACK__V1__RACK_MESSAGE__BODY_LEASE_REPORT
			 ? region_dhcp_lease_report(s->r, s->rack_id, m->lease_report, why, sizeof(why))
			 : region_dhcp_external_report(s->r, s->rack_id, m->external_dhcp, why, sizeof(why));
	session_reply_status(s, m->request_id, rc, why);
}

static void session_on_result(struct rack_session *s, const Ironrack__V1__RackMessage *m)
{
	struct pending *p = pending_find(s, m->request_id);
	if (m->body_case == IRONRACK__V1__RACK_MESSAGE__BODY_CONFIG_ACK) {
		uint64_t v = m->config_ack->version;
		s->rack_config_version = v;
		if (db_rack_config_acked(s->r->db, s->rack_id, v) < 0)
			log_err("rack %s: cannot record config ack: %s", s->rack_id, db_last_error(s->r->db));
		log_info("rack %s stored config version %llu", s->rack_id, (unsigned long long)v);
	}
	if (!p) {
		/* A snapshot pushed without an API caller waiting (a DHCP
		 * rebuild, the offer on connect): the rack keeps the old one. */
		if (m->status && m->status->code != RPC_OK)
			log_err("rack %s refused a configuration (%s): %s; it keeps serving its stored one",
				s->rack_id, rpc_status_name(m->status->code), m->status->message);
		return;
	}
	if (m->status && m->status->code != RPC_OK)
		pending_finish(p, -EREMOTEIO, m->status->message, 0);
	else if (m->body_case == IRONRACK__V1__RACK_MESSAGE__BODY_CONFIG_ACK)
		pending_finish(p, 0, "stored", m->config_ack->version);
	else
		pending_finish(p, 0, "pong", 0);
}

static void session_on_message(struct rpc_stream *stream, ProtobufCMessage *msg, void *arg)
{
	struct rack_session *s = arg;
	const Ironrack__V1__RackMessage *m = (const Ironrack__V1__RackMessage *)msg;
	s->last_heartbeat_us = now_us();
	switch (m->body_case) {
	case IRONRACK__V1__RACK_MESSAGE__BODY_HELLO:
		s->rack_config_version = m->hello->config_version;
		session_offer_latest_config(s);
		break;
	case IRONRACK__V1__RACK_MESSAGE__BODY_HEARTBEAT:
		s->rack_config_version = m->heartbeat->config_version;
		if (db_rack_seen(s->r->db, s->rack_id, true, s->r->name) < 0)
			log_err("rack %s: cannot record heartbeat: %s", s->rack_id, db_last_error(s->r->db));
		break;
	case IRONRACK__V1__RACK_MESSAGE__BODY_CONFIG_ACK:
	case IRONRACK__V1__RACK_MESSAGE__BODY_RESULT:
		session_on_result(s, m);
		break;
	case IRONRACK__V1__RACK_MESSAGE__BODY_LEASE_REPORT:
	case IRONRACK__V1__RACK_MESSAGE__BODY_EXTERNAL_DHCP:
		session_on_dhcp_report(s, m);
		break;
	default:
		if (m->status && m->request_id)
			session_on_result(s, m);
		else
			log_debug("rack %s: message without a body ignored", s->rack_id);
	}
}

static void session_on_close(struct rpc_stream *stream, int status, const char *message, void *arg)
{
	struct rack_session *s = arg;
	struct region_racks *rr = s->r->racks;
	s->closed = true;
	while (s->pending)
		pending_finish(s->pending, -ECANCELED, "session ended", 0);
	for (struct rack_session **pp = &rr->head; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			rr->n--;
			break;
		}
	}
	/* A replaced session must not mark the rack's new one disconnected. */
	if (!racks_find(s->r, s->rack_id) && db_rack_seen(s->r->db, s->rack_id, false, s->r->name) < 0)
		log_err("rack %s: cannot record disconnect: %s", s->rack_id, db_last_error(s->r->db));
	log_info("rack %s disconnected (%s%s%s)", s->rack_id, rpc_status_name(status), message[0] ? ": " : "",
		 message);
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
	int st = region_rpc_check_rack(r, id, rpc_stream_peer(stream), "Session");
	if (st != RPC_OK) {
		rpc_stream_close(stream, st, "not an enrolled rack");
		return;
	}
	struct rack_session *old = racks_find(r, id);
	if (old) {
		log_info("rack %s opened a new session; closing the old one", id);
		old->closed = true;
		rpc_stream_close(old->stream, RPC_ABORTED, "replaced by a newer session");
	}
	struct rack_session *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->r = r;
	s->stream = stream;
	snprintf(s->rack_id, sizeof(s->rack_id), "%s", id);
	s->last_heartbeat_us = now_us();
	rpc_stream_ref(stream);
	rpc_stream_set_arg(stream, s);
	s->next = r->racks->head;
	r->racks->head = s;
	r->racks->n++;
	if (db_rack_seen(r->db, id, true, r->name) < 0)
		log_err("rack %s: cannot record connect: %s", id, db_last_error(r->db));

	Ironrack__V1__Welcome w = IRONRACK__V1__WELCOME__INIT;
	w.rack_id = s->rack_id;
	w.heartbeat_interval_s = (uint32_t)r->conf.heartbeat_interval;
	Ironrack__V1__RegionMessage m = IRONRACK__V1__REGION_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__REGION_MESSAGE__BODY_WELCOME;
	m.welcome = &w;
	session_send(s, &m);
	log_info("rack %s connected from %s", id, rpc_stream_peer(stream));
	/* It registered just before: its interfaces may serve other VLANs. */
	region_dhcp_changed(r);
}

void region_rack_ping(struct region *r, const char *rack_id, int timeout_ms, region_reply_cb cb, void *arg)
{
	struct rack_session *s = racks_find(r, rack_id);
	if (!s) {
		cb(arg, -ENOTCONN, "rack is not connected", 0, 0);
		return;
	}
	struct pending *p = pending_add(s, PENDING_PING, timeout_ms, cb, arg);
	Ironrack__V1__Ping ping = IRONRACK__V1__PING__INIT;
	Ironrack__V1__Command cmd = IRONRACK__V1__COMMAND__INIT;
	cmd.command_case = IRONRACK__V1__COMMAND__COMMAND_PING;
	cmd.ping = &ping;
	Ironrack__V1__RegionMessage m = IRONRACK__V1__REGION_MESSAGE__INIT;
	m.request_id = p->id;
	m.deadline_unix_ms = p->start_us / 1000 + timeout_ms;
	m.body_case = IRONRACK__V1__REGION_MESSAGE__BODY_COMMAND;
	m.command = &cmd;
	if (session_send(s, &m) < 0)
		pending_finish(p, -ECANCELED, "session is closing", 0);
}

void region_rack_push_config(struct region *r, const char *rack_id, const char *settings_json, int timeout_ms,
			     region_reply_cb cb, void *arg)
{
	region_rack_push_config_boot(r, rack_id, settings_json, NULL, timeout_ms, cb, arg);
}

void region_rack_push_config_boot(struct region *r, const char *rack_id, const char *settings_json,
				  const char *boot_configs_json, int timeout_ms, region_reply_cb cb, void *arg)
{
	uint64_t version = 0;
	int rc = db_rack_config_put_boot(r->db, rack_id, settings_json, boot_configs_json, &version, NULL);
	if (rc < 0) {
		cb(arg, rc, rc == -ENOENT ? "no such rack" : "cannot store the config", 0, 0);
		return;
	}
	log_info("rack %s: stored config version %llu", rack_id, (unsigned long long)version);
	struct rack_session *s = racks_find(r, rack_id);
	if (!s) {
		cb(arg, -ENOTCONN, "rack is not connected; it gets the config when it connects", 0, version);
		return;
	}
	/* What was stored, with the DHCP config carried over unchanged. */
	struct rack_config_row row;
	if (db_rack_config_get_full(r->db, rack_id, version, &row) < 0) {
		cb(arg, -EIO, "cannot read the stored config back", 0, version);
		return;
	}
	struct pending *p = pending_add(s, PENDING_CONFIG, timeout_ms, cb, arg);
	p->version = version;
	rc = session_push_config(s, version, row.settings_json, row.boot_configs_json, row.dhcp, row.dhcp_len, p);
	db_rack_config_row_done(&row);
	if (rc < 0)
		pending_finish(p, -ECANCELED, "session is closing", 0);
}

/* Close sessions whose rack has gone quiet (a half-open TCP connection
 * can outlive the rack by a long time). */
static void racks_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct region *r = arg;
	int64_t limit = now_us() - (int64_t)r->conf.rack_timeout * 1000000;
	for (struct rack_session *s = r->racks->head; s; s = s->next) {
		if (!s->closed && s->last_heartbeat_us < limit) {
			log_warn("rack %s: no heartbeat for %lds, closing its session", s->rack_id,
				 r->conf.rack_timeout);
			s->closed = true;
			rpc_stream_close(s->stream, RPC_DEADLINE_EXCEEDED, "no heartbeat");
		}
	}
}

int region_racks_new(struct region *r)
{
	r->racks = calloc(1, sizeof(*r->racks));
	if (!r->racks)
		return -ENOMEM;
	r->racks->sweep = event_new(r->base, -1, EV_PERSIST, racks_sweep, r);
	struct timeval tv = { 1, 0 };
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
