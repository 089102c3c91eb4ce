/* The DHCP HA partner link; see ha_link.h. */
#include "rack/dhcp/ha_link.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/net.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "ironrack/v1/ha.pb-c.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000

/* What a stream's arg points at: a link, or (secondary) a stream still
 * looking for its link. Both structs begin with it. */
enum stream_owner { OWNER_LINK = 1, OWNER_ROUTE = 2 };

/* The secondary's side: one server per listen address and rack, shared
 * by every pair in which the rack is the secondary; a stream goes to the
 * link whose partner its certificate names, and when that partner has
 * several pairs with this rack (one per VLAN), to the one of the VLAN its
 * hello names (struct ha_route until the hello comes). */
struct ha_route;
struct ha_listener {
	struct ha_listener *next;
	struct rpc_loop *loop;
	struct event_base *base;
	struct ha_route *routes;
	char listen[300], self_id[HA_RACK_ID_MAX + 1];
	char *key_pem, *chain_pem, *ca_pem; /* the server's credentials, its own copies */
	struct rpc_server *srv;
	int port;
	struct ha_link **links;
	size_t n;
};

static struct ha_listener *listeners; /* loop thread only */

struct ha_route {
	enum stream_owner owner; /* OWNER_ROUTE */
	struct ha_route *next;	 /* the listener's */
	struct ha_listener *lsn;
	struct rpc_stream *s; /* one reference, handed to the link */
	struct event *timeout;
};

struct ha_link {
	enum stream_owner owner; /* OWNER_LINK */
	struct event_base *base;
	enum ha_role role;
	char self_id[HA_RACK_ID_MAX + 1], partner_id[HA_RACK_ID_MAX + 1];
	uint16_t vlan;
	uint64_t config_version;
	int heartbeat_ms, timeout_ms;
	char *ca_pem, *chain_pem, *key_pem, *cert_pem;
	char target[300];
	const struct ha_link_ops *ops;
	void *arg;

	struct ha_listener *lsn; /* secondary */
	struct rpc_channel *ch;	 /* primary */
	int backoff_ms;
	struct event *redial;

	struct rpc_stream *stream; /* the current stream, NULL none */
	bool hello_in;		   /* the partner's hello accepted on it */
	int64_t opened_ms;
	struct event *beat;
	struct ha_state_msg state; /* ours */
	struct ha_link_status st;
};

static const char *role_name(enum ha_role r)
{
	return r == HA_ROLE_PRIMARY ? "primary" : r == HA_ROLE_SECONDARY ? "secondary" : "?";
}

/* ---- sending ---- */

static int link_send_raw(struct ha_link *l, struct rpc_stream *s, const struct ha_msg *m)
{
	uint8_t *buf;
	size_t len;
	int rc = ha_msg_encode(m, &buf, &len);
	if (rc < 0)
		return rc;
	Ironrack__V1__HaMessage *pb = ironrack__v1__ha_message__unpack(NULL, len, buf);
	free(buf);
	if (!pb)
		return -EINVAL;
	rc = rpc_stream_send(s, &pb->base);
	ironrack__v1__ha_message__free_unpacked(pb, NULL);
	if (rc == 0)
		l->st.tx++;
	return rc;
}

static void link_send_hello(struct ha_link *l, struct rpc_stream *s)
{
	struct ha_msg m = {.type = HA_MSG_HELLO};
	m.hello.version = HA_PROTO_VERSION;
	snprintf(m.hello.rack_id, sizeof(m.hello.rack_id), "%s", l->self_id);
	m.hello.role = l->role;
	m.hello.vlan = l->vlan;
	m.hello.config_version = l->config_version;
	m.hello.state = l->state.state;
	m.hello.last_seq_seen = l->state.last_seq;
	m.hello.unix_ms = clock_real_ms();
	int rc = link_send_raw(l, s, &m);
	if (rc < 0)
		log_warn("dhcp-ha: hello to %s not sent: %s", l->partner_id, strerror(-rc));
}

int ha_link_send(struct ha_link *l, const struct ha_msg *m)
{
	if (!l->stream || !l->hello_in)
		return -ENOTCONN;
	return link_send_raw(l, l->stream, m);
}

void ha_link_set_state(struct ha_link *l, const struct ha_state_msg *st)
{
	l->state = *st;
}

/* ---- the stream's life ---- */

static void link_schedule_redial(struct ha_link *l)
{
	if (l->role != HA_ROLE_PRIMARY || !l->redial)
		return;
	struct timeval tv = {l->backoff_ms / 1000, (l->backoff_ms % 1000) * 1000};
	evtimer_add(l->redial, &tv);
	l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

/* The current stream is over (closed by either side): say so once. */
static void link_lost(struct ha_link *l, const char *why)
{
	bool was_up = l->hello_in;
	snprintf(l->st.last_error, sizeof(l->st.last_error), "%s", why);
	if (l->stream)
		rpc_stream_set_arg(l->stream, NULL); /* its on_close, maybe later, only unrefs */
	l->stream = NULL;
	l->hello_in = false;
	l->st.up = false;
	l->st.up_since_ms = 0;
	if (was_up) {
		log_warn("dhcp-ha: link to partner %s down: %s", l->partner_id, why);
		if (l->ops->down)
			l->ops->down(l, why, l->arg);
	} else {
		log_info("dhcp-ha: stream with partner %s ended before its hello: %s", l->partner_id, why);
	}
	link_schedule_redial(l);
}

/* Refuse the current stream with status code and reason. */
static void link_refuse(struct ha_link *l, int code, const char *why)
{
	struct rpc_stream *s = l->stream;
	l->st.refused++;
	log_warn("dhcp-ha: partner %s refused: %s", l->partner_id, why);
	rpc_stream_close(s, code, why);
	link_lost(l, why);
}

static const char *hello_check(const struct ha_link *l, const struct ha_hello *h, char *buf, size_t len)
{
	enum ha_role want = l->role == HA_ROLE_PRIMARY ? HA_ROLE_SECONDARY : HA_ROLE_PRIMARY;
	if (h->version != HA_PROTO_VERSION)
		snprintf(buf, len, "protocol version %u, this rack speaks %u", h->version, HA_PROTO_VERSION);
	else if (strcmp(h->rack_id, l->partner_id) != 0)
		snprintf(buf, len, "hello from rack '%s', the partner is '%s'", h->rack_id, l->partner_id);
	else if (h->role != want)
		snprintf(buf, len, "the partner says it is %s, it must be %s", role_name(h->role), role_name(want));
	else if (h->vlan != l->vlan)
		snprintf(buf, len, "the partner serves VLAN %u, this pair is on VLAN %u", h->vlan, l->vlan);
	else
		return NULL;
	return buf;
}

static void route_on_message(struct rpc_stream *s, ProtobufCMessage *msg, struct ha_route *r);
static void route_free(struct ha_route *r);

static void link_on_message(struct rpc_stream *s, ProtobufCMessage *msg, void *arg)
{
	if (arg && *(const enum stream_owner *)arg == OWNER_ROUTE) {
		route_on_message(s, msg, arg);
		return;
	}
	struct ha_link *l = arg;
	if (!l || s != l->stream)
		return; /* a replaced stream's last words */
	struct ha_msg m;
	const char *why = NULL;
	int rc = ha_msg_from_pb((const Ironrack__V1__HaMessage *)msg, &m, &why);
	if (rc < 0) {
		char buf[256];
		snprintf(buf, sizeof(buf), "a malformed message: %s", why ? why : strerror(-rc));
		link_refuse(l, RPC_INVALID_ARGUMENT, buf);
		return;
	}
	l->st.rx++;
	l->st.last_rx_ms = clock_mono_ms();
	if (!l->hello_in) {
		char buf[256];
		const char *bad = m.type != HA_MSG_HELLO ? "the first message was not a hello"
							 : hello_check(l, &m.hello, buf, sizeof(buf));
		if (bad) {
			link_refuse(l, RPC_FAILED_PRECONDITION, bad);
		} else {
			l->hello_in = true;
			l->st.up = true;
			l->st.up_since_ms = clock_mono_ms();
			l->st.ups++;
			l->backoff_ms = BACKOFF_MIN_MS;
			log_info("dhcp-ha: link to partner %s (%s) up", l->partner_id, role_name(m.hello.role));
			if (l->ops->up)
				l->ops->up(l, &m.hello, l->arg);
		}
		ha_msg_done(&m);
		return;
	}
	if (m.type == HA_MSG_HELLO) {
		link_refuse(l, RPC_FAILED_PRECONDITION, "a second hello on the stream");
	} else {
		if (m.type == HA_MSG_STATE) {
			l->st.partner_state = m.state;
			l->st.partner_state_known = true;
		}
		if (l->ops->message)
			l->ops->message(l, &m, l->arg);
	}
	ha_msg_done(&m);
}

static void link_on_close(struct rpc_stream *s, int status, const char *message, void *arg)
{
	if (arg && *(const enum stream_owner *)arg == OWNER_ROUTE) {
		route_free(arg); /* it never found its link */
		rpc_stream_unref(s);
		return;
	}
	struct ha_link *l = arg;
	if (l && s == l->stream) {
		char why[256];
		snprintf(why, sizeof(why), "stream closed: %s%s%s", rpc_status_name(status),
			 message && message[0] ? ": " : "", message ? message : "");
		link_lost(l, why);
	}
	rpc_stream_unref(s);
}

static const struct rpc_stream_ops link_stream_ops = {
    .on_message = link_on_message,
    .on_close = link_on_close,
};

/* Make s the current stream, dropping the one before (the partner came
 * back: its old stream is dead even if no close has arrived yet). */
static void link_adopt(struct ha_link *l, struct rpc_stream *s)
{
	if (l->stream) {
		struct rpc_stream *old = l->stream;
		link_lost(l, "replaced by a new stream from the partner");
		rpc_stream_close(old, RPC_ABORTED, "replaced by a new stream");
	}
	if (l->redial)
		evtimer_del(l->redial);
	l->stream = s;
	l->hello_in = false;
	l->opened_ms = clock_mono_ms();
	link_send_hello(l, s);
}

/* ---- the secondary's streams, to their links ---- */

static void route_free(struct ha_route *r)
{
	for (struct ha_route **pp = &r->lsn->routes; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	if (r->timeout)
		event_free(r->timeout);
	free(r);
}

/* No hello in time: the stream goes (its on_close then only unrefs). */
static void route_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ha_route *r = arg;
	struct rpc_stream *s = r->s;
	rpc_stream_set_arg(s, NULL);
	route_free(r);
	rpc_stream_close(s, RPC_DEADLINE_EXCEEDED, "no hello");
}

/* The hello of a partner with several pairs here: its VLAN picks the link. */
static void route_on_message(struct rpc_stream *s, ProtobufCMessage *msg, struct ha_route *r)
{
	struct ha_listener *lsn = r->lsn;
	const char *who = rpc_stream_identity(s);
	struct ha_msg m;
	const char *why = NULL;
	char buf[200] = "";
	struct ha_link *l = NULL;
	int rc = ha_msg_from_pb((const Ironrack__V1__HaMessage *)msg, &m, &why);
	if (rc < 0)
		snprintf(buf, sizeof(buf), "a malformed message: %s", why ? why : strerror(-rc));
	else if (m.type != HA_MSG_HELLO)
		snprintf(buf, sizeof(buf), "the first message was not a hello");
	for (size_t i = 0; i < lsn->n && !buf[0] && !l; i++)
		if (strcmp(who, lsn->links[i]->partner_id) == 0 && lsn->links[i]->vlan == m.hello.vlan)
			l = lsn->links[i];
	if (!l && !buf[0])
		snprintf(buf, sizeof(buf), "rack %s has no pair with this rack on VLAN %u", who, m.hello.vlan);
	if (rc == 0)
		ha_msg_done(&m);
	route_free(r);
	if (!l) {
		for (size_t i = 0; i < lsn->n; i++) {
			if (strcmp(who, lsn->links[i]->partner_id) == 0) {
				lsn->links[i]->st.refused++;
				snprintf(lsn->links[i]->st.last_error, sizeof(lsn->links[i]->st.last_error), "%s", buf);
			}
		}
		log_warn("dhcp-ha: refused a stream from %s: %s", who, buf);
		rpc_stream_set_arg(s, NULL);
		rpc_stream_close(s, RPC_FAILED_PRECONDITION, buf);
		return;
	}
	rpc_stream_set_arg(s, l); /* the route's reference is the link's now */
	link_adopt(l, s);
	link_on_message(s, msg, l);
}

/* Secondary: a stream arrives; it is the link's whose partner its
 * certificate names (of the VLAN its hello names, when that partner has
 * several pairs here), or nobody's. */
static void link_stream_open(struct rpc_stream *s, void *server_arg)
{
	struct ha_listener *lsn = server_arg;
	const char *who = rpc_stream_identity(s);
	struct ha_link *l = NULL;
	size_t n = 0;
	for (size_t i = 0; i < lsn->n; i++) {
		if (strcmp(who, lsn->links[i]->partner_id) == 0) {
			l = n ? l : lsn->links[i];
			n++;
		}
	}
	if (!l) {
		char why[240];
		snprintf(why, sizeof(why), "a stream from '%s' (%s): only %s partner%s may connect",
			 who[0] ? who : "no certificate", rpc_stream_peer(s), lsn->n == 1 ? "the" : "this rack's",
			 lsn->n == 1 ? "" : "s");
		if (lsn->n == 1)
			snprintf(why + strlen(why), sizeof(why) - strlen(why), " %s", lsn->links[0]->partner_id);
		for (size_t i = 0; i < lsn->n; i++) {
			lsn->links[i]->st.refused++;
			snprintf(lsn->links[i]->st.last_error, sizeof(lsn->links[i]->st.last_error), "%s", why);
		}
		log_warn("dhcp-ha: refused %s", why);
		rpc_stream_close(s, RPC_PERMISSION_DENIED, "not this rack's HA partner");
		return;
	}
	rpc_stream_ref(s);
	if (n > 1) {
		struct ha_route *r = xcalloc(1, sizeof(*r));
		r->owner = OWNER_ROUTE;
		r->lsn = lsn;
		r->s = s;
		r->timeout = evtimer_new(lsn->base, route_timeout, r);
		struct timeval tv = {l->timeout_ms / 1000, (l->timeout_ms % 1000) * 1000};
		evtimer_add(r->timeout, &tv);
		r->next = lsn->routes;
		lsn->routes = r;
		rpc_stream_set_arg(s, r);
		return;
	}
	rpc_stream_set_arg(s, l);
	link_adopt(l, s);
}

/* Primary: open a stream to the partner. */
static void link_dial(evutil_socket_t fd, short what, void *arg)
{
	struct ha_link *l = arg;
	struct rpc_stream *s;
	if (l->stream)
		return;
	int rc = rpc_stream_open(l->ch, HA_LINK_PATH, &ironrack__v1__ha_message__descriptor, &link_stream_ops, l, &s);
	if (rc < 0) {
		snprintf(l->st.last_error, sizeof(l->st.last_error), "cannot open a stream: %s", strerror(-rc));
		link_schedule_redial(l);
		return;
	}
	link_adopt(l, s);
}

/* Every heartbeat: our state, and drop a silent partner (or a stream
 * whose hello never came). */
static void link_beat(evutil_socket_t fd, short what, void *arg)
{
	struct ha_link *l = arg;
	if (!l->stream)
		return;
	int64_t now = clock_mono_ms(), heard = l->st.last_rx_ms > l->opened_ms ? l->st.last_rx_ms : l->opened_ms;
	if (now - heard > l->timeout_ms) {
		char why[96];
		snprintf(why, sizeof(why), "the partner was silent for %lld ms", (long long)(now - heard));
		struct rpc_stream *s = l->stream;
		link_lost(l, why);
		rpc_stream_close(s, RPC_DEADLINE_EXCEEDED, why);
		return;
	}
	if (l->hello_in) {
		struct ha_msg m = {.type = HA_MSG_STATE, .state = l->state};
		m.state.unix_ms = clock_real_ms();
		link_send_raw(l, l->stream, &m);
	}
}

/* ---- setup ---- */

static int conf_fail(char *err, size_t len, const char *why)
{
	snprintf(err, len, "%s", why);
	return -EINVAL;
}

static const struct rpc_method link_methods[] = {
    {.path = HA_LINK_PATH,
     .request = &ironrack__v1__ha_message__descriptor,
     .open = link_stream_open,
     .stream_ops = &link_stream_ops},
};

static void listener_free(struct ha_listener *lsn)
{
	while (lsn->routes) {
		struct ha_route *r = lsn->routes;
		struct rpc_stream *s = r->s;
		rpc_stream_set_arg(s, NULL); /* its on_close, maybe later, only unrefs */
		route_free(r);
		rpc_stream_close(s, RPC_CANCELLED, "the rack stops its HA listener");
	}
	if (lsn->srv)
		rpc_server_free(lsn->srv);
	free(lsn->key_pem);
	free(lsn->chain_pem);
	free(lsn->ca_pem);
	free(lsn->links);
	free(lsn);
}

/* l listens on `listen` with its rack's identity: with the server already
 * there for an earlier pair, or a new one. One link per partner and VLAN. */
static int listener_join(struct rpc_loop *loop, const char *listen, struct ha_link *l, char *err, size_t err_len)
{
	struct ha_listener *lsn = listeners;
	while (lsn && !(lsn->loop == loop && strcmp(lsn->listen, listen) == 0 && strcmp(lsn->self_id, l->self_id) == 0))
		lsn = lsn->next;
	if (!lsn) {
		lsn = xcalloc(1, sizeof(*lsn));
		lsn->loop = loop;
		lsn->base = l->base;
		snprintf(lsn->listen, sizeof(lsn->listen), "%s", listen);
		snprintf(lsn->self_id, sizeof(lsn->self_id), "%s", l->self_id);
		lsn->key_pem = xstrdup(l->key_pem);
		lsn->chain_pem = xstrdup(l->chain_pem);
		lsn->ca_pem = xstrdup(l->ca_pem);
		struct rpc_server_tls tls = {
		    .key_pem = lsn->key_pem, .cert_chain_pem = lsn->chain_pem, .client_ca_pem = lsn->ca_pem};
		int rc = rpc_server_new(loop, l->target, &tls, link_methods, 1, lsn, &lsn->srv, &lsn->port);
		if (rc < 0) {
			snprintf(err, err_len, "cannot listen on %s", l->target);
			listener_free(lsn);
			return rc;
		}
		lsn->next = listeners;
		listeners = lsn;
	}
	for (size_t i = 0; i < lsn->n; i++) {
		if (strcmp(lsn->links[i]->partner_id, l->partner_id) == 0 && lsn->links[i]->vlan == l->vlan) {
			snprintf(err, err_len, "this rack is already the secondary of a pair with %s on %s (VLAN %u)",
				 l->partner_id, listen, lsn->links[i]->vlan);
			return -EEXIST;
		}
	}
	lsn->links = xreallocarray(lsn->links, lsn->n + 1, sizeof(*lsn->links));
	lsn->links[lsn->n++] = l;
	l->lsn = lsn;
	return 0;
}

static void listener_leave(struct ha_link *l)
{
	struct ha_listener *lsn = l->lsn;
	if (!lsn)
		return;
	for (size_t i = 0; i < lsn->n; i++) {
		if (lsn->links[i] == l) {
			lsn->links[i] = lsn->links[--lsn->n];
			break;
		}
	}
	l->lsn = NULL;
	if (lsn->n)
		return;
	for (struct ha_listener **pp = &listeners; *pp; pp = &(*pp)->next) {
		if (*pp == lsn) {
			*pp = lsn->next;
			break;
		}
	}
	listener_free(lsn);
}

int ha_link_new(struct event_base *base, struct rpc_loop *loop, const struct ha_link_conf *conf,
		const struct ha_link_ops *ops, void *arg, struct ha_link **ret, char *err, size_t err_len)
{
	*ret = NULL;
	if (conf->role != HA_ROLE_PRIMARY && conf->role != HA_ROLE_SECONDARY)
		return conf_fail(err, err_len, "role must be primary or secondary");
	if (!conf->self_id || !conf->partner_id || !conf->self_id[0] || !conf->partner_id[0] ||
	    strlen(conf->self_id) > HA_RACK_ID_MAX || strlen(conf->partner_id) > HA_RACK_ID_MAX)
		return conf_fail(err, err_len, "both rack ids are needed (at most 64 characters)");
	if (strcmp(conf->self_id, conf->partner_id) == 0)
		return conf_fail(err, err_len, "a rack cannot be its own partner");
	if (!conf->ca_pem || !conf->key_pem || !conf->cert_pem)
		return conf_fail(err, err_len, "the rack's certificate, key and CA are needed");
	if (conf->heartbeat_ms <= 0 || conf->timeout_ms <= conf->heartbeat_ms)
		return conf_fail(err, err_len, "the timeout must be longer than the heartbeat");
	char host[256];
	uint16_t port;
	const char *addr = conf->role == HA_ROLE_PRIMARY ? conf->partner_addr : conf->listen;
	if (!addr || endpoint_parse(addr, 0, host, sizeof(host), &port) < 0 || (conf->role == HA_ROLE_PRIMARY && !port))
		return conf_fail(err, err_len,
				 conf->role == HA_ROLE_PRIMARY ? "the partner's address must be host:port"
							       : "the listen address must be host:port");

	struct ha_link *l = xcalloc(1, sizeof(*l));
	l->owner = OWNER_LINK;
	l->base = base;
	l->role = conf->role;
	snprintf(l->self_id, sizeof(l->self_id), "%s", conf->self_id);
	snprintf(l->partner_id, sizeof(l->partner_id), "%s", conf->partner_id);
	l->vlan = conf->vlan;
	l->config_version = conf->config_version;
	l->heartbeat_ms = conf->heartbeat_ms;
	l->timeout_ms = conf->timeout_ms;
	l->ca_pem = xstrdup(conf->ca_pem);
	l->key_pem = xstrdup(conf->key_pem);
	l->cert_pem = xstrdup(conf->cert_pem);
	l->chain_pem = xasprintf("%s%s", conf->cert_pem, conf->ca_pem);
	l->ops = ops;
	l->arg = arg;
	l->backoff_ms = BACKOFF_MIN_MS;
	l->state.state = HA_RECOVER;
	snprintf(l->target, sizeof(l->target), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);

	int rc;
	if (l->role == HA_ROLE_SECONDARY) {
		rc = listener_join(loop, conf->listen, l, err, err_len);
	} else {
		struct rpc_client_tls tls = {.root_ca_pem = l->ca_pem,
					     .key_pem = l->key_pem,
					     .cert_pem = l->cert_pem,
					     .server_name = l->partner_id};
		rc = rpc_channel_new(loop, l->target, &tls, &l->ch);
		if (rc < 0)
			snprintf(err, err_len, "cannot make a channel to %s", l->target);
		l->redial = evtimer_new(base, link_dial, l);
	}
	if (rc < 0) {
		ha_link_free(l);
		return rc;
	}
	l->beat = event_new(base, -1, EV_PERSIST, link_beat, l);
	struct timeval tv = {l->heartbeat_ms / 1000, (l->heartbeat_ms % 1000) * 1000};
	event_add(l->beat, &tv);
	if (l->role == HA_ROLE_PRIMARY)
		link_dial(-1, 0, l);
	log_info("dhcp-ha: %s of VLAN %u with partner %s, %s %s", role_name(l->role), l->vlan, l->partner_id,
		 l->role == HA_ROLE_PRIMARY ? "dialling" : "listening on", l->target);
	*ret = l;
	return 0;
}

int ha_link_port(const struct ha_link *l)
{
	return l->lsn ? l->lsn->port : 0;
}

void ha_link_get_status(const struct ha_link *l, struct ha_link_status *ret)
{
	*ret = l->st;
}

void ha_link_free(struct ha_link *l)
{
	if (!l)
		return;
	if (l->beat)
		event_free(l->beat);
	if (l->redial)
		event_free(l->redial);
	l->redial = NULL;
	if (l->stream) {
		struct rpc_stream *s = l->stream;
		l->stream = NULL;
		rpc_stream_set_arg(s, NULL); /* its on_close, maybe later, only unrefs */
		rpc_stream_close(s, RPC_CANCELLED, "the rack stops its HA link");
	}
	listener_leave(l);
	if (l->ch)
		rpc_channel_free(l->ch);
	free(l->ca_pem);
	free(l->key_pem);
	free(l->cert_pem);
	free(l->chain_pem);
	free(l);
}
