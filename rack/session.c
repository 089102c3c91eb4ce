/* The rack's connection to a region: Register, then one long-lived
 * Session stream carrying heartbeats up and config/commands down. On any
 * failure the rack backs off (1 s doubling to reconnect_max, with jitter)
 * and tries the next region address.
 *
 * A transport: what a message means is up to the rows features register
 * in rack/registry.c (see session.h). */
#include "rack/session.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/net.h"
#include "common/pki.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "common/version.h"
#include "rack/rack.h"

/* Request ids of rack-initiated messages: the reply route's index + 1 in
 * the top byte (bit 63 stays clear), a sequence number below it. */
#define REQUEST_ROUTE_SHIFT 56
#define REQUEST_SEQ_MASK    (((uint64_t)1 << REQUEST_ROUTE_SHIFT) - 1)

static void session_connect(struct rack *rack);

static void session_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	session_connect(arg);
}

/* Drop the connection and schedule the next attempt, on the next region. */
static void session_fail(struct rack *rack, const char *why)
{
	if (rack->stopping)
		return;
	if (rack->connected)
		log_warn("lost region %s: %s", rack->conf.region.items[rack->region_idx], why);
	rack->connected = false;
	for (size_t i = 0; i < rack_session_hooks_n; i++)
		if (rack_session_hooks[i]->on_disconnected)
			rack_session_hooks[i]->on_disconnected(rack);
	evtimer_del(rack->heartbeat_timer);
	if (rack->stream) {
		rpc_stream_close(rack->stream, RPC_CANCELLED, "reconnecting");
		rpc_stream_unref(rack->stream);
		rack->stream = NULL;
	}
	rpc_channel_free(rack->channel);
	rack->channel = NULL;
	rack->region_idx = (rack->region_idx + 1) % rack->conf.region.n;
	unsigned max = (unsigned)rack->conf.reconnect_max * 1000;
	unsigned delay = rack->backoff_ms + (unsigned)(random() % (rack->backoff_ms / 4 + 1));
	rack->backoff_ms = rack->backoff_ms * 2 > max ? max : rack->backoff_ms * 2;
	struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
	evtimer_add(rack->retry_timer, &tv);
	log_info("next attempt in %u ms on %s", delay, rack->conf.region.items[rack->region_idx]);
}

static void session_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct rack *rack = arg;
	Ironrack__V1__Heartbeat hb = IRONRACK__V1__HEARTBEAT__INIT;
	hb.sent_unix_ms = clock_real_ms();
	hb.config_version = rack->config_version;
	hb.uptime_s = (uint64_t)((clock_mono_us() - rack->started_us) / 1000000);
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_HEARTBEAT;
	m.heartbeat = &hb;
	rack_session_send(rack, &m);
}

/* ---- what features use ---- */

bool rack_session_is_connected(const struct rack *rack)
{
	return rack->stream && rack->connected;
}

int rack_session_send(struct rack *rack, Ironrack__V1__RackMessage *m)
{
	if (!rack->stream)
		return -ENOTCONN;
	int rc = rpc_stream_send(rack->stream, &m->base);
	if (rc < 0)
		log_warn("cannot queue a message to the region: %s", strerror(-rc));
	return rc;
}

uint64_t rack_session_request_id(struct rack *rack, const struct rack_reply_route *route)
{
	uint64_t idx = 0;
	for (size_t i = 0; i < rack_reply_routes_n; i++)
		if (rack_reply_routes[i] == route)
			idx = i + 1;
	return idx << REQUEST_ROUTE_SHIFT | (++rack->request_seq & REQUEST_SEQ_MASK);
}

void rack_session_reply_result(struct rack *rack, uint64_t request_id, Ironrack__V1__CommandResult *res)
{
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	Ironrack__V1__Status st = IRONRACK__V1__STATUS__INIT;
	m.request_id = request_id;
	m.status = &st;
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_RESULT;
	m.result = res;
	rack_session_send(rack, &m);
}

void rack_session_reply_status(struct rack *rack, uint64_t request_id, int code, const char *message)
{
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	Ironrack__V1__Status st = IRONRACK__V1__STATUS__INIT;
	st.code = code;
	st.message = (char *)message;
	m.request_id = request_id;
	m.status = &st;
	rack_session_send(rack, &m);
}

/* ---- region messages ---- */

/* The region answers rack-initiated messages with a bare Status. */
static void session_on_status(struct rack *rack, const Ironrack__V1__RegionMessage *in)
{
	uint64_t idx = in->request_id >> REQUEST_ROUTE_SHIFT;
	if (!in->status)
		return;
	if (idx == 0 || idx > rack_reply_routes_n) {
		log_debug("region status for unknown request %llu ignored", (unsigned long long)in->request_id);
		return;
	}
	rack_reply_routes[idx - 1]->on_status(rack, in->request_id, in->status);
}

/* A reply that carries an AgentAnswer (the agent endpoint's). */
static void session_on_answer(struct rack *rack, const Ironrack__V1__RegionMessage *in)
{
	uint64_t idx = in->request_id >> REQUEST_ROUTE_SHIFT;
	if (!in->status || !in->agent_answer || idx == 0 || idx > rack_reply_routes_n) {
		log_debug("region answer for unknown request %llu ignored", (unsigned long long)in->request_id);
		return;
	}
	const struct rack_reply_route *route = rack_reply_routes[idx - 1];
	for (size_t i = 0; i < rack_answer_routes_n; i++)
		if (rack_answer_routes[i]->route == route) {
			rack_answer_routes[i]->on_answer(rack, in->request_id, in->status, in->agent_answer);
			return;
		}
	route->on_status(rack, in->request_id, in->status);
}

static int config_check_version(const struct rack *rack, const Ironrack__V1__RackConfig *cfg, char *msg, size_t len)
{
	if (cfg->version == 0) {
		snprintf(msg, len, "config version 0 is not valid");
		return RPC_INVALID_ARGUMENT;
	}
	if (cfg->version < rack->config_version) {
		snprintf(msg, len, "config version %llu is older than the stored %llu",
			 (unsigned long long)cfg->version, (unsigned long long)rack->config_version);
		return RPC_FAILED_PRECONDITION;
	}
	return RPC_OK;
}

static int config_store(struct rack *rack, const Ironrack__V1__RackConfig *cfg, char *msg, size_t len)
{
	size_t n = protobuf_c_message_get_packed_size(&cfg->base);
	uint8_t *buf = xmalloc(n ? n : 1);
	protobuf_c_message_pack(&cfg->base, buf);
	int rc = rack_store_save(rack, cfg->version, buf, n);
	free(buf);
	if (rc >= 0)
		return RPC_OK;
	snprintf(msg, len, "cannot store config: %s", strerror(-rc));
	log_err("config version %llu: parts that take effect when checked (DHCP) already serve it, but it could "
		"not be stored",
		(unsigned long long)cfg->version);
	return RPC_INTERNAL;
}

/* Check every part, store, then commit every part: a snapshot the rack
 * cannot serve is never the stored one, and the old one keeps serving. */
static void session_on_config(struct rack *rack, const Ironrack__V1__RegionMessage *in)
{
	const Ironrack__V1__RackConfig *cfg = in->config;
	void **state = xcalloc(rack_config_parts_n + 1, sizeof(*state));
	char msg[512] = "";
	size_t checked = 0;

	int code = config_check_version(rack, cfg, msg, sizeof(msg));
	for (; code == RPC_OK && checked < rack_config_parts_n; checked++) {
		const struct rack_config_part *part = rack_config_parts[checked];
		code = part->check(rack, cfg, &state[checked], msg, sizeof(msg));
		if (code != RPC_OK)
			break; /* a failed check keeps no state */
	}
	if (code == RPC_OK)
		code = config_store(rack, cfg, msg, sizeof(msg));
	if (code != RPC_OK) {
		for (size_t i = checked; i-- > 0;)
			if (rack_config_parts[i]->abort)
				rack_config_parts[i]->abort(rack, state[i]);
		free(state);
		log_err("rejected config version %llu: %s", (unsigned long long)cfg->version, msg);
		rack_session_reply_status(rack, in->request_id, code, msg);
		return;
	}
	for (size_t i = 0; i < rack_config_parts_n; i++)
		rack_config_parts[i]->commit(rack, cfg, state[i]);
	free(state);
	log_info("stored config version %llu (%zu settings, %zu boot configs)", (unsigned long long)cfg->version,
		 cfg->n_settings, cfg->n_boot_configs);
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	Ironrack__V1__Status st = IRONRACK__V1__STATUS__INIT;
	Ironrack__V1__ConfigAck ack = IRONRACK__V1__CONFIG_ACK__INIT;
	ack.version = rack->config_version;
	m.request_id = in->request_id;
	m.status = &st;
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_CONFIG_ACK;
	m.config_ack = &ack;
	rack_session_send(rack, &m);
}

static void session_on_command(struct rack *rack, const Ironrack__V1__RegionMessage *in)
{
	if (in->deadline_unix_ms && in->deadline_unix_ms < clock_real_ms()) {
		rack_session_reply_status(rack, in->request_id, RPC_DEADLINE_EXCEEDED,
					  "deadline passed before the rack saw the command");
		return;
	}
	for (size_t i = 0; i < rack_commands_n; i++) {
		if (rack_commands[i]->command_case == in->command->command_case) {
			rack_commands[i]->run(rack, in);
			return;
		}
	}
	rack_session_reply_status(rack, in->request_id, RPC_UNIMPLEMENTED, "command not known to this rack version");
}

static void session_on_welcome(struct rack *rack, const Ironrack__V1__RegionMessage *in)
{
	if (in->welcome->heartbeat_interval_s > 0 && in->welcome->heartbeat_interval_s <= 3600)
		rack->heartbeat_s = in->welcome->heartbeat_interval_s;
	for (size_t i = 0; i < rack_session_hooks_n; i++)
		if (rack_session_hooks[i]->on_welcome)
			rack_session_hooks[i]->on_welcome(rack, in->welcome);
}

/* The envelope: which body goes where. Features add commands, config
 * parts and reply routes (registry.c), not rows here. */
static const struct {
	Ironrack__V1__RegionMessage__BodyCase body_case;
	void (*handle)(struct rack *rack, const Ironrack__V1__RegionMessage *in);
} session_bodies[] = {
    {IRONRACK__V1__REGION_MESSAGE__BODY_WELCOME, session_on_welcome},
    {IRONRACK__V1__REGION_MESSAGE__BODY_CONFIG, session_on_config},
    {IRONRACK__V1__REGION_MESSAGE__BODY_COMMAND, session_on_command},
    {IRONRACK__V1__REGION_MESSAGE__BODY__NOT_SET, session_on_status},
    {IRONRACK__V1__REGION_MESSAGE__BODY_AGENT_ANSWER, session_on_answer},
};

static void session_on_message(struct rpc_stream *s, ProtobufCMessage *msg, void *arg)
{
	struct rack *rack = arg;
	const Ironrack__V1__RegionMessage *m = (const Ironrack__V1__RegionMessage *)msg;
	for (size_t i = 0; i < sizeof(session_bodies) / sizeof(session_bodies[0]); i++) {
		if (session_bodies[i].body_case == m->body_case) {
			session_bodies[i].handle(rack, m);
			return;
		}
	}
	log_debug("region message without a known body ignored");
}

static void session_on_close(struct rpc_stream *s, int status, const char *message, void *arg)
{
	struct rack *rack = arg;
	if (s != rack->stream)
		return; /* an old stream we already gave up on */
	char why[512];
	snprintf(why, sizeof(why), "session closed: %s%s%s", rpc_status_name(status), message[0] ? ": " : "", message);
	if (status == RPC_UNAUTHENTICATED)
		log_err("region refused this rack's certificate (%s): re-enrol it", message);
	session_fail(rack, why);
}

static const struct rpc_stream_ops session_ops = {
    .on_message = session_on_message,
    .on_close = session_on_close,
};

static void session_open_stream(struct rack *rack)
{
	int rc = rpc_stream_open(rack->channel, "/ironrack.v1.Region/Session",
				 &ironrack__v1__region_message__descriptor, &session_ops, rack, &rack->stream);
	if (rc < 0) {
		session_fail(rack, "cannot open the session stream");
		return;
	}
	Ironrack__V1__Hello hello = IRONRACK__V1__HELLO__INIT;
	hello.config_version = rack->config_version;
	hello.version = IRONRACK_VERSION;
	/* where the HA partner link listens (docs/dhcp-ha.md) */
	hello.ha_endpoint = rack->conf.ha_advertise[0] ? rack->conf.ha_advertise : rack->conf.ha_listen;
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_HELLO;
	m.hello = &hello;
	rack_session_send(rack, &m);
	rack->connected = true;
	rack->backoff_ms = 1000;
	struct timeval tv = {rack->heartbeat_s, 0};
	event_add(rack->heartbeat_timer, &tv);
	log_info("connected to region %s as %s", rack->conf.region.items[rack->region_idx], rack->id.rack_id);
	for (size_t i = 0; i < rack_session_hooks_n; i++)
		if (rack_session_hooks[i]->on_connected)
			rack_session_hooks[i]->on_connected(rack);
}

static void session_on_registered(void *arg, int status, const char *message, ProtobufCMessage *msg)
{
	struct rack *rack = arg;
	if (!rack->channel || rack->stopping)
		return;
	if (status != RPC_OK) {
		char why[512];
		snprintf(why, sizeof(why), "Register failed: %s%s%s", rpc_status_name(status), message[0] ? ": " : "",
			 message);
		if (status == RPC_UNAUTHENTICATED)
			log_err("region %s does not accept this rack's certificate (%s)",
				rack->conf.region.items[rack->region_idx], message);
		else
			log_warn("region %s: %s", rack->conf.region.items[rack->region_idx], why);
		session_fail(rack, why);
		return;
	}
	const Ironrack__V1__RegisterResponse *resp = (const Ironrack__V1__RegisterResponse *)msg;
	if (resp->heartbeat_interval_s > 0 && resp->heartbeat_interval_s <= 3600)
		rack->heartbeat_s = resp->heartbeat_interval_s;
	session_open_stream(rack);
}

/* Register carries what this rack has: hostname, version, interfaces. */
static int session_register(struct rack *rack)
{
	struct rack_iface_info *ifs = NULL;
	size_t n = 0;
	int rc = rack_ifaces_list(rack->conf.netns, &ifs, &n);
	if (rc < 0)
		log_warn("cannot list interfaces%s%s: %s", rack->conf.netns[0] ? " in netns " : "", rack->conf.netns,
			 strerror(-rc));
	Ironrack__V1__Interface *pb = xcalloc(n ? n : 1, sizeof(*pb));
	Ironrack__V1__Interface **ptrs = xcalloc(n ? n : 1, sizeof(*ptrs));
	for (size_t i = 0; i < n; i++) {
		ironrack__v1__interface__init(&pb[i]);
		pb[i].name = ifs[i].name;
		pb[i].mac = ifs[i].mac;
		pb[i].addresses = ifs[i].addresses;
		pb[i].n_addresses = ifs[i].n_addresses;
		pb[i].vlan = ifs[i].vlan;
		ptrs[i] = &pb[i];
	}
	Ironrack__V1__RegisterRequest req = IRONRACK__V1__REGISTER_REQUEST__INIT;
	req.hostname = rack->hostname;
	req.version = IRONRACK_VERSION;
	req.n_interfaces = n;
	req.interfaces = ptrs;
	rc = rpc_unary(rack->channel, "/ironrack.v1.Region/Register", &req.base,
		       &ironrack__v1__register_response__descriptor, 15000, session_on_registered, rack);
	free(pb);
	free(ptrs);
	rack_ifaces_free(ifs, n);
	return rc;
}

static void session_connect(struct rack *rack)
{
	if (rack->stopping)
		return;
	const char *url = rack->conf.region.items[rack->region_idx];
	char host[256], target[300];
	uint16_t port;
	if (endpoint_parse(url, 5250, host, sizeof(host), &port) < 0) {
		log_err("region address '%s' is not host:port; skipping it", url);
		session_fail(rack, "bad address");
		return;
	}
	snprintf(target, sizeof(target), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	struct rpc_client_tls tls = {
	    .root_ca_pem = rack->id.ca,
	    .key_pem = rack->id.key,
	    .cert_pem = rack->id.cert,
	    .server_name = "ironrack-region",
	};
	if (rpc_channel_new(rack->rpc_loop, target, &tls, &rack->channel) < 0 || session_register(rack) < 0)
		session_fail(rack, "cannot start a call");
}

void rack_session_start(struct rack *rack)
{
	rack->backoff_ms = 1000;
	rack->heartbeat_s = 10;
	rack->retry_timer = evtimer_new(rack->base, session_retry_cb, rack);
	rack->heartbeat_timer = event_new(rack->base, -1, EV_PERSIST, session_heartbeat, rack);
	session_connect(rack);
}

void rack_session_stop(struct rack *rack)
{
	rack->stopping = true;
	if (rack->stream) {
		rpc_stream_close(rack->stream, RPC_CANCELLED, "rack shutting down");
		rpc_stream_unref(rack->stream);
		rack->stream = NULL;
	}
	rpc_channel_free(rack->channel);
	rack->channel = NULL;
	event_free(rack->retry_timer);
	event_free(rack->heartbeat_timer);
}
