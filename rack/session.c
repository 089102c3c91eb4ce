/* The rack's connection to a region: Register, then one long-lived
 * Session stream carrying heartbeats up and config/commands down. On any
 * failure the rack backs off (1 s doubling to reconnect_max, with jitter)
 * and tries the next region address. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/net.h"
#include "common/pki.h"
#include "common/rpc/rpc.h"
#include "common/version.h"
#include "ironrack/v1/region.pb-c.h"
#include "rack/boot/resources.h"
#include "rack/boot/service.h"
#include "rack/dhcp/load.h"
#include "rack/dhcp/report.h"
#include "rack/dhcp/server.h"
#include "rack/rack.h"

/* request_id of lease reports: a tag bit keeps the region's replies to
 * them apart from anything else. */
#define LEASE_REPORT_ID_TAG ((uint64_t)1 << 62)

static int64_t now_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void session_connect(struct rack *k);

static void session_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	session_connect(arg);
}

/* Drop the connection and schedule the next attempt, on the next region. */
static void session_fail(struct rack *k, const char *why)
{
	if (k->stopping)
		return;
	if (k->connected)
		log_warn("lost region %s: %s", k->conf.region.items[k->region_idx], why);
	k->connected = false;
	if (k->report)
		dhcp_report_disconnected(k->report);
	evtimer_del(k->heartbeat_timer);
	if (k->stream) {
		rpc_stream_close(k->stream, RPC_CANCELLED, "reconnecting");
		rpc_stream_unref(k->stream);
		k->stream = NULL;
	}
	rpc_channel_free(k->channel);
	k->channel = NULL;
	k->region_idx = (k->region_idx + 1) % k->conf.region.n;
	unsigned max = (unsigned)k->conf.reconnect_max * 1000;
	unsigned delay = k->backoff_ms + (unsigned)(random() % (k->backoff_ms / 4 + 1));
	k->backoff_ms = k->backoff_ms * 2 > max ? max : k->backoff_ms * 2;
	struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
	evtimer_add(k->retry_timer, &tv);
	log_info("next attempt in %u ms on %s", delay, k->conf.region.items[k->region_idx]);
}

static void session_send(struct rack *k, Ironrack__V1__RackMessage *m)
{
	if (!k->stream)
		return;
	int rc = rpc_stream_send(k->stream, &m->base);
	if (rc < 0)
		log_warn("cannot queue a message to the region: %s", strerror(-rc));
}

static void session_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct rack *k = arg;
	Ironrack__V1__Heartbeat hb = IRONRACK__V1__HEARTBEAT__INIT;
	hb.sent_unix_ms = now_us() / 1000;
	hb.config_version = k->config_version;
	hb.uptime_s = (uint64_t)((now_us() - k->started_us) / 1000000);
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_HEARTBEAT;
	m.heartbeat = &hb;
	session_send(k, &m);
}

/* ---- DHCP ---- */

static void dhcp_count(const struct dhcp_config *c, size_t *ret_subnets, size_t *ret_hosts)
{
	size_t subnets = 0, hosts = 0;
	for (size_t i = 0; i < c->n_ifaces; i++) {
		const struct dhcp_iface *ifc = &c->ifaces[i];
		subnets += ifc->n_subnets + ifc->n_relayed;
		for (size_t j = 0; j < ifc->n_subnets; j++)
			hosts += ifc->subnets[j].n_hosts;
		for (size_t j = 0; j < ifc->n_relayed; j++)
			hosts += ifc->relayed[j].n_hosts;
	}
	*ret_subnets = subnets;
	*ret_hosts = hosts;
}

int rack_dhcp_apply(struct rack *k, const Ironrack__V1__DhcpConfig *pb, uint64_t version, char *why,
		    size_t why_len)
{
	struct dhcp_loaded *l = NULL;
	int rc = dhcp_load(pb, version, &l, why, why_len);
	if (rc < 0)
		return rc;
	if (!k->dhcp) {
		if (!l)
			return 0;
		dhcp_loaded_free(l);
		snprintf(why, why_len, "dhcp: the rack's DHCP server is not running");
		return -ENODEV;
	}
	size_t n_ifaces = l ? l->cfg.n_ifaces : 0, subnets = 0, hosts = 0;
	if (l)
		dhcp_count(&l->cfg, &subnets, &hosts);
	char apply_why[400];
	rc = dhcp_server_apply(k->dhcp, l, apply_why, sizeof(apply_why));
	if (rc < 0) {
		dhcp_loaded_free(l); /* still ours on failure */
		snprintf(why, why_len, "dhcp: %s", apply_why);
		return rc;
	}
	if (l)
		log_info("dhcp: config version %llu: %zu interface%s, %zu subnet%s, %zu reservation%s",
			 (unsigned long long)version, n_ifaces, n_ifaces == 1 ? "" : "s", subnets,
			 subnets == 1 ? "" : "s", hosts, hosts == 1 ? "" : "s");
	else
		log_info("dhcp: config version %llu: DHCP disabled", (unsigned long long)version);
	return 0;
}

/* Lease reports go out on the session; they are not kept while it is down
 * (rack/dhcp/report.h: the lease store is the durable queue). */
static int session_send_lease_report(void *arg, const Ironrack__V1__LeaseReport *rep)
{
	struct rack *k = arg;
	if (!k->stream || !k->connected)
		return -ENOTCONN;
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.request_id = LEASE_REPORT_ID_TAG | (++k->report_seq & (LEASE_REPORT_ID_TAG - 1));
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_LEASE_REPORT;
	m.lease_report = (Ironrack__V1__LeaseReport *)rep;
	int rc = rpc_stream_send(k->stream, &m.base);
	if (rc < 0)
		log_warn("dhcp: cannot queue a lease report to the region: %s; a full report follows",
			 strerror(-rc));
	return rc;
}

static const struct lease_store *session_lease_store(void *arg)
{
	struct rack *k = arg;
	return k->dhcp ? dhcp_server_leases(k->dhcp) : NULL;
}

const struct dhcp_report_ops rack_dhcp_report_ops = {
	.send = session_send_lease_report,
	.leases = session_lease_store,
};

static void session_on_lease_events(void *arg, const char *ifname, const struct dhcp_event *ev, size_t n)
{
	struct rack *k = arg;
	if (k->report)
		dhcp_report_add(k->report, ifname, ev, n);
}

static void session_on_external(void *arg, const char *ifname, uint16_t vid, uint64_t vlan_id,
				const uint32_t *servers, size_t n)
{
	struct rack *k = arg;
	if (!k->stream || !k->connected) {
		log_debug("dhcp: %s: external DHCP probe result not reported: region not connected", ifname);
		return;
	}
	char(*text)[16] = calloc(n ? n : 1, sizeof(*text));
	char **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	if (!text || !ptrs)
		abort();
	for (size_t i = 0; i < n; i++) {
		uint32_t a = servers[i];
		snprintf(text[i], sizeof(text[i]), "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
		ptrs[i] = text[i];
	}
	Ironrack__V1__ExternalDhcpReport rep = IRONRACK__V1__EXTERNAL_DHCP_REPORT__INIT;
	rep.interface = (char *)ifname;
	rep.vid = vid;
	rep.vlan_id = vlan_id;
	rep.servers = ptrs;
	rep.n_servers = n;
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.request_id = ++k->report_seq & (LEASE_REPORT_ID_TAG - 1); /* answered with a Status */
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_EXTERNAL_DHCP;
	m.external_dhcp = &rep;
	session_send(k, &m);
	free(text);
	free(ptrs);
}

const struct dhcp_server_ops rack_dhcp_server_ops = {
	.on_events = session_on_lease_events,
	.on_external = session_on_external,
};

/* The region answers each report with a Status. A lease report it could
 * not apply (database trouble) is made good by a full report. */
static void session_on_report_reply(struct rack *k, const Ironrack__V1__RegionMessage *in)
{
	if (!in->status || in->status->code == RPC_OK)
		return;
	bool lease = (in->request_id & LEASE_REPORT_ID_TAG) != 0;
	log_warn("dhcp: region refused a%s report: %s%s%s", lease ? " lease" : "n external DHCP",
		 rpc_status_name(in->status->code), in->status->message[0] ? ": " : "", in->status->message);
	if (lease && in->status->code == RPC_UNAVAILABLE && k->report)
		dhcp_report_resync(k->report);
}

static void session_on_config(struct rack *k, const Ironrack__V1__RegionMessage *in)
{
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	Ironrack__V1__Status st = IRONRACK__V1__STATUS__INIT;
	Ironrack__V1__ConfigAck ack = IRONRACK__V1__CONFIG_ACK__INIT;
	char msg[512] = "";
	struct boot_table *boot = NULL;
	int rc;
	m.request_id = in->request_id;
	m.status = &st;
	const Ironrack__V1__RackConfig *cfg = in->config;
	if (cfg->version == 0) {
		st.code = RPC_INVALID_ARGUMENT;
		snprintf(msg, sizeof(msg), "config version 0 is not valid");
	} else if (cfg->version < k->config_version) {
		st.code = RPC_FAILED_PRECONDITION;
		snprintf(msg, sizeof(msg), "config version %llu is older than the stored %llu",
			 (unsigned long long)cfg->version, (unsigned long long)k->config_version);
	} else if (rack_resources_check(cfg, msg, sizeof(msg)) < 0) {
		st.code = RPC_INVALID_ARGUMENT;
	} else if (rack_boot_prepare(cfg, &boot, msg, sizeof(msg)) < 0) {
		/* Checked before anything is stored: the old config keeps serving. */
		st.code = RPC_INVALID_ARGUMENT;
	} else if ((rc = rack_dhcp_apply(k, cfg->dhcp, cfg->version, msg, sizeof(msg))) < 0) {
		/* Loaded and applied before storing, so that a config the rack
		 * cannot serve is never the stored one; the old one keeps serving. */
		st.code = rc == -EINVAL ? RPC_INVALID_ARGUMENT : rc == -ENOMEM ? RPC_INTERNAL : RPC_FAILED_PRECONDITION;
	} else {
		size_t len = protobuf_c_message_get_packed_size(&cfg->base);
		uint8_t *buf = malloc(len ? len : 1);
		if (!buf)
			abort();
		protobuf_c_message_pack(&cfg->base, buf);
		rc = rack_store_save(k, cfg->version, buf, len);
		free(buf);
		if (rc < 0) {
			st.code = RPC_INTERNAL;
			snprintf(msg, sizeof(msg), "cannot store config: %s", strerror(-rc));
			log_err("config version %llu: DHCP already serves it but it could not be stored",
				(unsigned long long)cfg->version);
		}
	}
	if (st.code != RPC_OK) {
		log_err("rejected config version %llu: %s", (unsigned long long)cfg->version, msg);
		st.message = msg;
		boot_table_free(boot);
	} else {
		rack_boot_commit(k, boot);
		rack_resources_apply(k, cfg); /* fetches on a worker thread */
		log_info("stored config version %llu (%zu settings, %zu boot configs)", (unsigned long long)cfg->version,
			 cfg->n_settings, cfg->n_boot_configs);
		ack.version = k->config_version;
		m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_CONFIG_ACK;
		m.config_ack = &ack;
	}
	session_send(k, &m);
}

static void session_on_command(struct rack *k, const Ironrack__V1__RegionMessage *in)
{
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	Ironrack__V1__Status st = IRONRACK__V1__STATUS__INIT;
	Ironrack__V1__CommandResult res = IRONRACK__V1__COMMAND_RESULT__INIT;
	Ironrack__V1__Pong pong = IRONRACK__V1__PONG__INIT;
	m.request_id = in->request_id;
	m.status = &st;
	if (in->deadline_unix_ms && in->deadline_unix_ms < now_us() / 1000) {
		st.code = RPC_DEADLINE_EXCEEDED;
		st.message = "deadline passed before the rack saw the command";
	} else if (in->command->command_case == IRONRACK__V1__COMMAND__COMMAND_PING) {
		pong.rack_unix_ms = now_us() / 1000;
		res.result_case = IRONRACK__V1__COMMAND_RESULT__RESULT_PONG;
		res.pong = &pong;
		m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_RESULT;
		m.result = &res;
	} else {
		st.code = RPC_UNIMPLEMENTED;
		st.message = "command not known to this rack version";
	}
	session_send(k, &m);
}

static void session_on_message(struct rpc_stream *s, ProtobufCMessage *msg, void *arg)
{
	struct rack *k = arg;
	const Ironrack__V1__RegionMessage *m = (const Ironrack__V1__RegionMessage *)msg;
	switch (m->body_case) {
	case IRONRACK__V1__REGION_MESSAGE__BODY_WELCOME:
		if (m->welcome->heartbeat_interval_s > 0 && m->welcome->heartbeat_interval_s <= 3600)
			k->heartbeat_s = m->welcome->heartbeat_interval_s;
		break;
	case IRONRACK__V1__REGION_MESSAGE__BODY_CONFIG:
		session_on_config(k, m);
		break;
	case IRONRACK__V1__REGION_MESSAGE__BODY_COMMAND:
		session_on_command(k, m);
		break;
	case IRONRACK__V1__REGION_MESSAGE__BODY__NOT_SET:
		session_on_report_reply(k, m);
		break;
	default:
		log_debug("region message without a known body ignored");
	}
}

static void session_on_close(struct rpc_stream *s, int status, const char *message, void *arg)
{
	struct rack *k = arg;
	if (s != k->stream)
		return; /* an old stream we already gave up on */
	char why[512];
	snprintf(why, sizeof(why), "session closed: %s%s%s", rpc_status_name(status), message[0] ? ": " : "",
		 message);
	if (status == RPC_UNAUTHENTICATED)
		log_err("region refused this rack's certificate (%s): re-enrol it", message);
	session_fail(k, why);
}

static const struct rpc_stream_ops session_ops = {
	.on_message = session_on_message,
	.on_close = session_on_close,
};

static void session_open_stream(struct rack *k)
{
	int rc = rpc_stream_open(k->channel, "/ironrack.v1.Region/Session", &ironrack__v1__region_message__descriptor,
				 &session_ops, k, &k->stream);
	if (rc < 0) {
		session_fail(k, "cannot open the session stream");
		return;
	}
	Ironrack__V1__Hello hello = IRONRACK__V1__HELLO__INIT;
	hello.config_version = k->config_version;
	hello.version = IRONRACK_VERSION;
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_HELLO;
	m.hello = &hello;
	session_send(k, &m);
	k->connected = true;
	k->backoff_ms = 1000;
	struct timeval tv = { k->heartbeat_s, 0 };
	event_add(k->heartbeat_timer, &tv);
	log_info("connected to region %s as %s", k->conf.region.items[k->region_idx], k->id.rack_id);
	/* Whatever happened to leases while the region was away: send it all. */
	if (k->report) {
		rc = dhcp_report_connected(k->report);
		if (rc >= 0)
			log_info("dhcp: full lease report sent: %d address%s", rc, rc == 1 ? "" : "es");
	}
}

static void session_on_registered(void *arg, int status, const char *message, ProtobufCMessage *msg)
{
	struct rack *k = arg;
	if (!k->channel || k->stopping)
		return;
	if (status != RPC_OK) {
		char why[512];
		snprintf(why, sizeof(why), "Register failed: %s%s%s", rpc_status_name(status),
			 message[0] ? ": " : "", message);
		if (status == RPC_UNAUTHENTICATED)
			log_err("region %s does not accept this rack's certificate (%s)",
				k->conf.region.items[k->region_idx], message);
		else
			log_warn("region %s: %s", k->conf.region.items[k->region_idx], why);
		session_fail(k, why);
		return;
	}
	const Ironrack__V1__RegisterResponse *resp = (const Ironrack__V1__RegisterResponse *)msg;
	if (resp->heartbeat_interval_s > 0 && resp->heartbeat_interval_s <= 3600)
		k->heartbeat_s = resp->heartbeat_interval_s;
	session_open_stream(k);
}

/* Register carries what this rack has: hostname, version, interfaces. */
static int session_register(struct rack *k)
{
	struct rack_iface_info *ifs = NULL;
	size_t n = 0;
	int rc = rack_ifaces_list(k->conf.netns, &ifs, &n);
	if (rc < 0)
		log_warn("cannot list interfaces%s%s: %s", k->conf.netns[0] ? " in netns " : "", k->conf.netns,
			 strerror(-rc));
	Ironrack__V1__Interface *pb = calloc(n ? n : 1, sizeof(*pb));
	Ironrack__V1__Interface **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	if (!pb || !ptrs)
		abort();
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
	req.hostname = k->hostname;
	req.version = IRONRACK_VERSION;
	req.n_interfaces = n;
	req.interfaces = ptrs;
	rc = rpc_unary(k->channel, "/ironrack.v1.Region/Register", &req.base,
		       &ironrack__v1__register_response__descriptor, 15000, session_on_registered, k);
	free(pb);
	free(ptrs);
	rack_ifaces_free(ifs, n);
	return rc;
}

static void session_connect(struct rack *k)
{
	if (k->stopping)
		return;
	const char *url = k->conf.region.items[k->region_idx];
	char host[256], target[300];
	uint16_t port;
	if (endpoint_parse(url, 5250, host, sizeof(host), &port) < 0) {
		log_err("region address '%s' is not host:port; skipping it", url);
		session_fail(k, "bad address");
		return;
	}
	snprintf(target, sizeof(target), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	struct rpc_client_tls tls = {
		.root_ca_pem = k->id.ca,
		.key_pem = k->id.key,
		.cert_pem = k->id.cert,
		.server_name = "ironrack-region",
	};
	if (rpc_channel_new(k->rpc_loop, target, &tls, &k->channel) < 0 || session_register(k) < 0)
		session_fail(k, "cannot start a call");
}

void rack_session_start(struct rack *k)
{
	k->backoff_ms = 1000;
	k->heartbeat_s = 10;
	k->retry_timer = evtimer_new(k->base, session_retry_cb, k);
	k->heartbeat_timer = event_new(k->base, -1, EV_PERSIST, session_heartbeat, k);
	session_connect(k);
}

void rack_session_stop(struct rack *k)
{
	k->stopping = true;
	if (k->stream) {
		rpc_stream_close(k->stream, RPC_CANCELLED, "rack shutting down");
		rpc_stream_unref(k->stream);
		k->stream = NULL;
	}
	rpc_channel_free(k->channel);
	k->channel = NULL;
	event_free(k->retry_timer);
	event_free(k->heartbeat_timer);
}
