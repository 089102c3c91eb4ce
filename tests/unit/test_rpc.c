/* common/rpc: the wrapper's pieces in-process — codec helpers, the bridge
 * onto the libevent loop, unary calls, streams, UNIMPLEMENTED, identity from
 * the client certificate, refusals and orderly shutdown. The only transport
 * is a unix socket in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/pki.h"
#include "common/rpc/rpc.h"
#include "common/rpc/rpc_internal.h"
#include "ironrack/v1/region.pb-c.h"

struct pki {
	char *ca_key, *ca, *srv_key, *srv_cert, *chain, *cli_key, *cli_cert;
	char *other_ca_key, *other_ca, *other_key, *other_cert;
};

struct fixture {
	struct event_base *base;
	struct rpc_loop *loop;
	struct rpc_server *srv;
	char dir[64];
	char target[128];
	pthread_t loop_thread;
	struct pki pki;
	/* observations */
	int unary_calls;
	char last_identity[128];
	int stream_msgs;
	int closes;
	int close_status;
	struct rpc_stream *server_stream;
	bool done;
	int status;
	char message[256];
	ProtobufCMessage *resp_copy;
	uint64_t resp_version;
	bool on_loop_thread;
	struct event *tick;
};

static struct fixture *F;

static void pki_make(struct pki *p)
{
	const char *sans[] = {"ironrack-region", NULL};
	char *csr = NULL;
	assert_int_equal(pki_ca_create("test CA", 2, &p->ca_key, &p->ca), 0);
	assert_int_equal(pki_key_create(&p->srv_key), 0);
	assert_int_equal(
	    pki_cert_issue(p->ca_key, p->ca, p->srv_key, "ironrack-region", 2, PKI_SERVER, sans, 2, &p->srv_cert), 0);
	p->chain = malloc(strlen(p->srv_cert) + strlen(p->ca) + 2);
	sprintf(p->chain, "%s%s", p->srv_cert, p->ca);
	assert_int_equal(pki_key_create(&p->cli_key), 0);
	assert_int_equal(pki_csr_create(p->cli_key, "x", &csr), 0);
	assert_int_equal(pki_csr_sign(p->ca_key, p->ca, csr, "rack-test", 2, PKI_CLIENT, NULL, 3, &p->cli_cert), 0);
	free(csr);
	assert_int_equal(pki_ca_create("other CA", 2, &p->other_ca_key, &p->other_ca), 0);
	assert_int_equal(pki_key_create(&p->other_key), 0);
	assert_int_equal(pki_csr_create(p->other_key, "x", &csr), 0);
	assert_int_equal(
	    pki_csr_sign(p->other_ca_key, p->other_ca, csr, "rack-evil", 2, PKI_CLIENT, NULL, 4, &p->other_cert), 0);
	free(csr);
}

static void pki_free(struct pki *p)
{
	char **all[] = {&p->ca_key,   &p->ca,		&p->srv_key,  &p->srv_cert,  &p->chain,	    &p->cli_key,
			&p->cli_cert, &p->other_ca_key, &p->other_ca, &p->other_key, &p->other_cert};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free(*all[i]);
}

/* ---- server side handlers ---- */

static void h_register(struct rpc_call *call, const ProtobufCMessage *msg, void *arg)
{
	const Ironrack__V1__RegisterRequest *req = (const Ironrack__V1__RegisterRequest *)msg;
	F->unary_calls++;
	F->on_loop_thread = pthread_equal(pthread_self(), F->loop_thread);
	snprintf(F->last_identity, sizeof(F->last_identity), "%s", rpc_call_identity(call));
	if (strcmp(req->hostname, "fail") == 0) {
		rpc_call_fail(call, RPC_PERMISSION_DENIED, "told to fail");
		return;
	}
	Ironrack__V1__RegisterResponse resp = IRONRACK__V1__REGISTER_RESPONSE__INIT;
	resp.rack_id = (char *)rpc_call_identity(call);
	resp.config_version = 42;
	rpc_call_reply(call, &resp.base);
}

static void h_stream_msg(struct rpc_stream *s, ProtobufCMessage *msg, void *arg)
{
	const Ironrack__V1__RackMessage *in = (const Ironrack__V1__RackMessage *)msg;
	F->stream_msgs++;
	/* echo: a Welcome whose heartbeat interval is the request id */
	Ironrack__V1__Welcome w = IRONRACK__V1__WELCOME__INIT;
	w.rack_id = "echo";
	w.heartbeat_interval_s = (uint32_t)in->request_id;
	Ironrack__V1__RegionMessage out = IRONRACK__V1__REGION_MESSAGE__INIT;
	out.request_id = in->request_id;
	out.body_case = IRONRACK__V1__REGION_MESSAGE__BODY_WELCOME;
	out.welcome = &w;
	assert_int_equal(rpc_stream_send(s, &out.base), 0);
}

static void h_stream_close(struct rpc_stream *s, int status, const char *message, void *arg)
{
	F->closes++;
	F->close_status = status;
	if (s == F->server_stream)
		F->server_stream = NULL;
	rpc_stream_unref(s);
}

static const struct rpc_stream_ops server_stream_ops = {h_stream_msg, h_stream_close};

static void h_stream_open(struct rpc_stream *s, void *arg)
{
	if (!rpc_stream_identity(s)[0]) {
		rpc_stream_close(s, RPC_UNAUTHENTICATED, "no identity");
		return;
	}
	rpc_stream_ref(s);
	F->server_stream = s;
}

static const struct rpc_method methods[] = {
    {"/ironrack.v1.Region/Register", &ironrack__v1__register_request__descriptor, h_register, NULL, NULL},
    {"/ironrack.v1.Region/Session", &ironrack__v1__rack_message__descriptor, NULL, h_stream_open, &server_stream_ops},
};

/* ---- client side helpers ---- */

static void run_until_done(void)
{
	for (int i = 0; i < 2000 && !F->done; i++)
		event_base_loop(F->base, EVLOOP_ONCE);
	assert_true(F->done);
}

static void on_unary(void *arg, int status, const char *message, ProtobufCMessage *resp)
{
	F->done = true;
	F->status = status;
	snprintf(F->message, sizeof(F->message), "%s", message);
	F->resp_version = resp ? ((Ironrack__V1__RegisterResponse *)resp)->config_version : 0;
	snprintf(F->last_identity + 64, 64, "%s", resp ? ((Ironrack__V1__RegisterResponse *)resp)->rack_id : "");
}

static struct rpc_channel *client(const char *key, const char *cert, const char *ca)
{
	struct rpc_client_tls tls = {ca ? ca : F->pki.ca, key, cert, "ironrack-region"};
	struct rpc_channel *ch = NULL;
	assert_int_equal(rpc_channel_new(F->loop, F->target, &tls, &ch), 0);
	return ch;
}

static int call_register(struct rpc_channel *ch, const char *path, const char *hostname)
{
	Ironrack__V1__RegisterRequest req = IRONRACK__V1__REGISTER_REQUEST__INIT;
	req.hostname = (char *)hostname;
	F->done = false;
	assert_int_equal(
	    rpc_unary(ch, path, &req.base, &ironrack__v1__register_response__descriptor, 5000, on_unary, NULL), 0);
	run_until_done();
	return F->status;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
}

static int setup(void **state)
{
	static struct fixture fx;
	memset(&fx, 0, sizeof(fx));
	F = &fx;
	pki_make(&F->pki);
	strcpy(F->dir, "/tmp/irrpc-XXXXXX");
	assert_non_null(mkdtemp(F->dir));
	snprintf(F->target, sizeof(F->target), "unix:%s/s", F->dir);
	F->base = event_base_new();
	/* a 10 ms tick so every EVLOOP_ONCE below returns and loops are bounded */
	F->tick = event_new(F->base, -1, EV_PERSIST, tick, NULL);
	struct timeval tv = {0, 10000};
	event_add(F->tick, &tv);
	F->loop_thread = pthread_self();
	assert_int_equal(rpc_loop_new(F->base, &F->loop), 0);
	struct rpc_server_tls tls = {F->pki.srv_key, F->pki.chain, F->pki.ca};
	assert_int_equal(rpc_server_new(F->loop, F->target, &tls, methods, 2, NULL, &F->srv, NULL), 0);
	*state = F;
	return 0;
}

static int teardown(void **state)
{
	rpc_server_free(F->srv);
	rpc_loop_free(F->loop);
	event_free(F->tick);
	event_base_free(F->base);
	char sock[128];
	snprintf(sock, sizeof(sock), "%s/s", F->dir);
	unlink(sock);
	rmdir(F->dir);
	pki_free(&F->pki);
	return 0;
}

/* ---- tests ---- */

static void test_pack_unpack(void **state)
{
	Ironrack__V1__Heartbeat hb = IRONRACK__V1__HEARTBEAT__INIT;
	hb.sent_unix_ms = 1234567890123;
	hb.config_version = 7;
	grpc_byte_buffer *bb = rpc_pack(&hb.base);
	Ironrack__V1__Heartbeat *back = (Ironrack__V1__Heartbeat *)rpc_unpack(&ironrack__v1__heartbeat__descriptor, bb);
	assert_non_null(back);
	assert_int_equal(back->sent_unix_ms, 1234567890123);
	assert_int_equal(back->config_version, 7);
	ironrack__v1__heartbeat__free_unpacked(back, NULL);
	grpc_byte_buffer_destroy(bb);

	/* a truncated varint does not decode */
	grpc_slice s = grpc_slice_from_copied_buffer("\x08\xff\xff", 3);
	bb = grpc_raw_byte_buffer_create(&s, 1);
	assert_null(rpc_unpack(&ironrack__v1__heartbeat__descriptor, bb));
	grpc_byte_buffer_destroy(bb);
	grpc_slice_unref(s);
}

static void test_status_names(void **state)
{
	assert_string_equal(rpc_status_name(RPC_OK), "OK");
	assert_string_equal(rpc_status_name(RPC_UNIMPLEMENTED), "UNIMPLEMENTED");
	assert_string_equal(rpc_status_name(RPC_UNAUTHENTICATED), "UNAUTHENTICATED");
	assert_string_equal(rpc_status_name(99), "?");
	assert_string_equal(rpc_status_name(-1), "?");
}

static void test_unary_with_identity_on_loop_thread(void **state)
{
	struct rpc_channel *ch = client(F->pki.cli_key, F->pki.cli_cert, NULL);
	assert_int_equal(call_register(ch, "/ironrack.v1.Region/Register", "ok"), RPC_OK);
	assert_int_equal(F->resp_version, 42);
	assert_string_equal(F->last_identity, "rack-test");
	assert_string_equal(F->last_identity + 64, "rack-test");
	assert_true(F->on_loop_thread);
	/* application error travels as a status with its message */
	assert_int_equal(call_register(ch, "/ironrack.v1.Region/Register", "fail"), RPC_PERMISSION_DENIED);
	assert_string_equal(F->message, "told to fail");
	rpc_channel_free(ch);
}

static void test_unknown_method_unimplemented(void **state)
{
	struct rpc_channel *ch = client(F->pki.cli_key, F->pki.cli_cert, NULL);
	int before = F->unary_calls;
	assert_int_equal(call_register(ch, "/ironrack.v1.Region/Nope", "x"), RPC_UNIMPLEMENTED);
	assert_int_equal(F->unary_calls, before);
	rpc_channel_free(ch);
}

static void test_no_client_cert_has_no_identity(void **state)
{
	struct rpc_channel *ch = client(NULL, NULL, NULL);
	assert_int_equal(call_register(ch, "/ironrack.v1.Region/Register", "ok"), RPC_OK);
	assert_string_equal(F->last_identity, "");
	rpc_channel_free(ch);
}

static void test_foreign_ca_client_refused(void **state)
{
	struct rpc_channel *ch = client(F->pki.other_key, F->pki.other_cert, NULL);
	int before = F->unary_calls;
	assert_int_equal(call_register(ch, "/ironrack.v1.Region/Register", "ok"), RPC_UNAVAILABLE);
	assert_int_equal(F->unary_calls, before);
	rpc_channel_free(ch);
}

static void test_server_not_matching_pinned_ca_refused(void **state)
{
	struct rpc_channel *ch = client(NULL, NULL, F->pki.other_ca);
	int before = F->unary_calls;
	assert_int_equal(call_register(ch, "/ironrack.v1.Region/Register", "ok"), RPC_UNAVAILABLE);
	assert_int_equal(F->unary_calls, before);
	rpc_channel_free(ch);
}

static void c_msg(struct rpc_stream *s, ProtobufCMessage *msg, void *arg)
{
	const Ironrack__V1__RegionMessage *m = (const Ironrack__V1__RegionMessage *)msg;
	int *seen = arg;
	/* replies arrive in order: request ids 1..n */
	assert_int_equal(m->request_id, (uint64_t)(*seen + 1));
	(*seen)++;
}

static void c_close(struct rpc_stream *s, int status, const char *message, void *arg)
{
	F->done = true;
	F->status = status;
	snprintf(F->message, sizeof(F->message), "%s", message);
}

static const struct rpc_stream_ops client_ops = {c_msg, c_close};

static void test_stream_order_and_server_close(void **state)
{
	struct rpc_channel *ch = client(F->pki.cli_key, F->pki.cli_cert, NULL);
	struct rpc_stream *s = NULL;
	int seen = 0;
	assert_int_equal(rpc_stream_open(ch, "/ironrack.v1.Region/Session", &ironrack__v1__region_message__descriptor,
					 &client_ops, &seen, &s),
			 0);
	for (uint64_t i = 1; i <= 200; i++) {
		Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
		m.request_id = i;
		assert_int_equal(rpc_stream_send(s, &m.base), 0);
	}
	for (int i = 0; i < 5000 && seen < 200; i++)
		event_base_loop(F->base, EVLOOP_ONCE);
	assert_int_equal(seen, 200);
	assert_int_equal(F->stream_msgs, 200);
	/* the server ends the stream with a status the client sees */
	F->done = false;
	int closes = F->closes;
	rpc_stream_close(F->server_stream, RPC_ABORTED, "bye");
	run_until_done();
	assert_int_equal(F->status, RPC_ABORTED);
	assert_string_equal(F->message, "bye");
	for (int i = 0; i < 500 && F->closes == closes; i++)
		event_base_loop(F->base, EVLOOP_ONCE);
	assert_int_equal(F->closes, closes + 1);
	assert_int_equal(rpc_stream_send(s, &(Ironrack__V1__RackMessage)IRONRACK__V1__RACK_MESSAGE__INIT.base), -EPIPE);
	rpc_stream_unref(s);
	rpc_channel_free(ch);
}

static void test_stream_refused_without_identity(void **state)
{
	struct rpc_channel *ch = client(NULL, NULL, NULL);
	struct rpc_stream *s = NULL;
	int seen = 0;
	F->done = false;
	assert_int_equal(rpc_stream_open(ch, "/ironrack.v1.Region/Session", &ironrack__v1__region_message__descriptor,
					 &client_ops, &seen, &s),
			 0);
	run_until_done();
	assert_int_equal(F->status, RPC_UNAUTHENTICATED);
	rpc_stream_unref(s);
	rpc_channel_free(ch);
}

static void test_client_cancel_reaches_server(void **state)
{
	struct rpc_channel *ch = client(F->pki.cli_key, F->pki.cli_cert, NULL);
	struct rpc_stream *s = NULL;
	int seen = 0;
	assert_int_equal(rpc_stream_open(ch, "/ironrack.v1.Region/Session", &ironrack__v1__region_message__descriptor,
					 &client_ops, &seen, &s),
			 0);
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.request_id = 1;
	rpc_stream_send(s, &m.base);
	for (int i = 0; i < 2000 && seen < 1; i++)
		event_base_loop(F->base, EVLOOP_ONCE);
	int closes = F->closes;
	F->done = false;
	rpc_stream_close(s, RPC_CANCELLED, "client leaving");
	run_until_done();
	assert_int_equal(F->status, RPC_CANCELLED);
	for (int i = 0; i < 2000 && F->closes == closes; i++)
		event_base_loop(F->base, EVLOOP_ONCE);
	assert_int_equal(F->closes, closes + 1);
	assert_int_equal(F->close_status, RPC_CANCELLED);
	rpc_stream_unref(s);
	rpc_channel_free(ch);
}

static void test_channel_free_cancels_calls(void **state)
{
	/* nothing listens here: the call waits for its deadline, unless the
	 * channel is freed first */
	struct rpc_client_tls tls = {F->pki.ca, NULL, NULL, "ironrack-region"};
	struct rpc_channel *ch = NULL;
	char target[160];
	snprintf(target, sizeof(target), "unix:%s/nobody", F->dir);
	assert_int_equal(rpc_channel_new(F->loop, target, &tls, &ch), 0);
	Ironrack__V1__RegisterRequest req = IRONRACK__V1__REGISTER_REQUEST__INIT;
	F->done = false;
	assert_int_equal(rpc_unary(ch, "/ironrack.v1.Region/Register", &req.base,
				   &ironrack__v1__register_response__descriptor, 60000, on_unary, NULL),
			 0);
	rpc_channel_free(ch);
	run_until_done();
	assert_true(F->status == RPC_CANCELLED || F->status == RPC_UNAVAILABLE);
}

static void test_server_shutdown_closes_streams(void **state)
{
	struct rpc_channel *ch = client(F->pki.cli_key, F->pki.cli_cert, NULL);
	struct rpc_stream *s = NULL;
	int seen = 0;
	assert_int_equal(rpc_stream_open(ch, "/ironrack.v1.Region/Session", &ironrack__v1__region_message__descriptor,
					 &client_ops, &seen, &s),
			 0);
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.request_id = 1;
	rpc_stream_send(s, &m.base);
	for (int i = 0; i < 2000 && seen < 1; i++)
		event_base_loop(F->base, EVLOOP_ONCE);
	assert_non_null(F->server_stream);
	int closes = F->closes;
	F->done = false;
	rpc_server_free(F->srv); /* on_close of the live stream runs inside */
	F->srv = NULL;
	assert_int_equal(F->closes, closes + 1);
	run_until_done(); /* and the client hears about it */
	assert_int_not_equal(F->status, RPC_OK);
	rpc_stream_unref(s);
	rpc_channel_free(ch);
}

int main(void)
{
	log_setup("test_rpc", LOG_LEVEL_ERR);
	rpc_lib_init();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pack_unpack),
	    cmocka_unit_test(test_status_names),
	    cmocka_unit_test_setup_teardown(test_unary_with_identity_on_loop_thread, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_method_unimplemented, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_client_cert_has_no_identity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_ca_client_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_not_matching_pinned_ca_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_order_and_server_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_refused_without_identity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_cancel_reaches_server, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_channel_free_cancels_calls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_shutdown_closes_streams, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rpc_lib_shutdown();
	return rc;
}
