/* rackswarm: open many rack sessions against one region, for measuring the
 * region's memory and idle CPU with N connected racks.
 *
 *   rackswarm --region 127.0.0.1:5250 --secret S --racks 100 --seconds 60
 *
 * Each simulated rack enrols (its own key, CSR and certificate), registers
 * with one interface, opens a Session, says Hello, heartbeats at the
 * interval the region asks for and answers ping commands. Prints one line
 * when all sessions are up and exits after --seconds. */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/log.h"
#include "common/pki.h"
#include "common/rpc/rpc.h"
#include "ironrack/v1/region.pb-c.h"

struct sim {
	struct swarm *sw;
	int idx;
	char name[32];
	char *key, *cert, *ca;
	struct rpc_channel *ch;
	struct rpc_stream *stream;
	struct event *hb;
	bool up;
};

struct swarm {
	struct event_base *base;
	struct rpc_loop *loop;
	const char *target;
	const char *secret;
	char *ca;
	int n, up, failed;
	struct sim *sims;
};

static void sim_fail(struct sim *s, const char *what, int status, const char *msg)
{
	log_err("%s: %s failed: %s: %s", s->name, what, rpc_status_name(status), msg);
	s->sw->failed++;
	if (s->sw->failed + s->sw->up >= s->sw->n)
		event_base_loopexit(s->sw->base, NULL);
}

static void sim_send(struct sim *s, Ironrack__V1__RackMessage *m)
{
	if (s->stream)
		rpc_stream_send(s->stream, &m->base);
}

static void sim_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct sim *s = arg;
	Ironrack__V1__Heartbeat hb = IRONRACK__V1__HEARTBEAT__INIT;
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_HEARTBEAT;
	m.heartbeat = &hb;
	sim_send(s, &m);
}

static void sim_on_message(struct rpc_stream *st, ProtobufCMessage *msg, void *arg)
{
	struct sim *s = arg;
	const Ironrack__V1__RegionMessage *in = (const Ironrack__V1__RegionMessage *)msg;
	if (in->body_case == IRONRACK__V1__REGION_MESSAGE__BODY_WELCOME && !s->up) {
		s->up = true;
		struct timeval tv = {in->welcome->heartbeat_interval_s, 0};
		s->hb = event_new(s->sw->base, -1, EV_PERSIST, sim_heartbeat, s);
		event_add(s->hb, &tv);
		if (++s->sw->up == s->sw->n)
			printf("rackswarm: %d sessions up\n", s->sw->n), fflush(stdout);
	} else if (in->body_case == IRONRACK__V1__REGION_MESSAGE__BODY_COMMAND) {
		Ironrack__V1__Pong pong = IRONRACK__V1__PONG__INIT;
		Ironrack__V1__CommandResult res = IRONRACK__V1__COMMAND_RESULT__INIT;
		res.result_case = IRONRACK__V1__COMMAND_RESULT__RESULT_PONG;
		res.pong = &pong;
		Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
		m.request_id = in->request_id;
		m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_RESULT;
		m.result = &res;
		sim_send(s, &m);
	}
}

static void sim_on_close(struct rpc_stream *st, int status, const char *message, void *arg)
{
	struct sim *s = arg;
	if (!s->sw->base || status == RPC_CANCELLED)
		return;
	sim_fail(s, "Session", status, message);
}

static const struct rpc_stream_ops sim_ops = {sim_on_message, sim_on_close};

static void sim_registered(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	struct sim *s = arg;
	if (status != RPC_OK) {
		sim_fail(s, "Register", status, message);
		return;
	}
	rpc_stream_open(s->ch, "/ironrack.v1.Region/Session", &ironrack__v1__region_message__descriptor, &sim_ops, s,
			&s->stream);
	Ironrack__V1__Hello hello = IRONRACK__V1__HELLO__INIT;
	hello.version = "rackswarm";
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_HELLO;
	m.hello = &hello;
	sim_send(s, &m);
}

static void sim_register(struct sim *s)
{
	struct rpc_client_tls tls = {s->ca, s->key, s->cert, "ironrack-region"};
	rpc_channel_new(s->sw->loop, s->sw->target, &tls, &s->ch);
	char mac[18], addr[32];
	snprintf(mac, sizeof(mac), "02:00:00:00:%02x:%02x", (s->idx >> 8) & 0xff, s->idx & 0xff);
	snprintf(addr, sizeof(addr), "198.51.100.%d/24", s->idx % 250 + 1);
	char *addrs[] = {addr};
	Ironrack__V1__Interface ifc = IRONRACK__V1__INTERFACE__INIT;
	ifc.name = "eth0";
	ifc.mac = mac;
	ifc.n_addresses = 1;
	ifc.addresses = addrs;
	Ironrack__V1__Interface *ifs[] = {&ifc};
	Ironrack__V1__RegisterRequest req = IRONRACK__V1__REGISTER_REQUEST__INIT;
	req.hostname = s->name;
	req.version = "rackswarm";
	req.n_interfaces = 1;
	req.interfaces = ifs;
	rpc_unary(s->ch, "/ironrack.v1.Region/Register", &req.base, &ironrack__v1__register_response__descriptor, 30000,
		  sim_registered, s);
}

static void sim_enrolled(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	struct sim *s = arg;
	if (status != RPC_OK) {
		sim_fail(s, "Enrol", status, message);
		return;
	}
	const Ironrack__V1__EnrolResponse *r = (const Ironrack__V1__EnrolResponse *)resp;
	s->cert = strdup(r->cert_pem);
	s->ca = strdup(r->ca_pem);
	sim_register(s);
}

static void sim_enrol(struct sim *s, struct rpc_channel *enrol_ch)
{
	char *csr = NULL;
	snprintf(s->name, sizeof(s->name), "swarm-%03d", s->idx);
	if (pki_key_create(&s->key) < 0 || pki_csr_create(s->key, s->name, &csr) < 0)
		abort();
	Ironrack__V1__EnrolRequest req = IRONRACK__V1__ENROL_REQUEST__INIT;
	req.secret = (char *)s->sw->secret;
	req.csr_pem = csr;
	req.hostname = s->name;
	req.version = "rackswarm";
	rpc_unary(enrol_ch, "/ironrack.v1.Region/Enrol", &req.base, &ironrack__v1__enrol_response__descriptor, 30000,
		  sim_enrolled, s);
	free(csr);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
	struct swarm sw = {.n = 100};
	int seconds = 30;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--region") == 0)
			sw.target = argv[i + 1];
		else if (strcmp(argv[i], "--secret") == 0)
			sw.secret = argv[i + 1];
		else if (strcmp(argv[i], "--racks") == 0)
			sw.n = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = atoi(argv[i + 1]);
	}
	if (!sw.target || !sw.secret || sw.n <= 0) {
		fprintf(stderr, "usage: rackswarm --region HOST:PORT --secret S [--racks N] [--seconds S]\n");
		return 2;
	}
	log_setup("rackswarm", LOG_LEVEL_WARN);
	signal(SIGPIPE, SIG_IGN);
	if (pki_fetch_server_ca(strtok(strdup(sw.target), ":"), (uint16_t)atoi(strrchr(sw.target, ':') + 1), 5000,
				&sw.ca) < 0) {
		fprintf(stderr, "rackswarm: cannot reach %s\n", sw.target);
		return 1;
	}
	sw.base = event_base_new();
	rpc_lib_init();
	rpc_loop_new(sw.base, &sw.loop);
	struct rpc_client_tls tls = {sw.ca, NULL, NULL, "ironrack-region"};
	struct rpc_channel *enrol_ch;
	rpc_channel_new(sw.loop, sw.target, &tls, &enrol_ch);
	sw.sims = calloc((size_t)sw.n, sizeof(*sw.sims));
	for (int i = 0; i < sw.n; i++) {
		sw.sims[i].sw = &sw;
		sw.sims[i].idx = i;
		sim_enrol(&sw.sims[i], enrol_ch);
	}
	struct event *stop = evsignal_new(sw.base, SIGINT, on_stop, sw.base);
	struct event *stop2 = evsignal_new(sw.base, SIGTERM, on_stop, sw.base);
	event_add(stop, NULL);
	event_add(stop2, NULL);
	struct timeval tv = {seconds, 0};
	event_base_loopexit(sw.base, &tv);
	event_base_dispatch(sw.base);
	int rc = sw.up == sw.n ? 0 : 1;
	printf("rackswarm: %d up, %d failed\n", sw.up, sw.failed);
	/* Tear down: close every session, then drain. */
	struct event_base *base = sw.base;
	sw.base = NULL;
	for (int i = 0; i < sw.n; i++) {
		struct sim *s = &sw.sims[i];
		if (s->stream) {
			rpc_stream_close(s->stream, RPC_CANCELLED, "done");
			rpc_stream_unref(s->stream);
		}
		rpc_channel_free(s->ch);
		if (s->hb)
			event_free(s->hb);
		free(s->key);
		free(s->cert);
		free(s->ca);
	}
	rpc_channel_free(enrol_ch);
	rpc_loop_free(sw.loop);
	event_free(stop);
	event_free(stop2);
	event_base_free(base);
	rpc_lib_shutdown();
	free(sw.sims);
	free(sw.ca);
	return rc;
}
