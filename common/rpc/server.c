/* The gRPC server: TLS port, a few outstanding request slots, dispatch by
 * method path, unary calls, UNIMPLEMENTED for the rest, orderly shutdown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rpc/rpc_internal.h"
#include "common/util.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))
#define RPC_SERVER_SLOTS	      16

struct rpc_slot {
	struct rpc_tag tag;
	struct rpc_server *srv;
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
};

struct rpc_server {
	struct rpc_loop *loop;
	grpc_server *server;
	const struct rpc_method *methods;
	size_t n_methods;
	void *arg;
	struct rpc_slot slots[RPC_SERVER_SLOTS];
	size_t slots_armed;
	bool shutting_down;
	bool shutdown_done;
	struct rpc_tag t_shutdown;
};

struct rpc_call {
	struct rpc_tag t_recv, t_done;
	struct rpc_server *srv;
	grpc_call *call;
	const struct rpc_method *method;
	grpc_byte_buffer *recv_buf;
	grpc_byte_buffer *send_buf;
	grpc_slice status_details;
	int cancelled;
	bool answered;
	char identity[256];
	char peer[256];
};

const char *rpc_call_identity(const struct rpc_call *call)
{
	return call->identity;
}

const char *rpc_call_peer(const struct rpc_call *call)
{
	return call->peer;
}

static void call_free(struct rpc_call *c)
{
	if (c->recv_buf)
		grpc_byte_buffer_destroy(c->recv_buf);
	if (c->send_buf)
		grpc_byte_buffer_destroy(c->send_buf);
	grpc_slice_unref(c->status_details);
	grpc_call_unref(c->call);
	free(c);
}

static void call_on_done(struct rpc_tag *tag, bool ok)
{
	call_free(container_of(tag, struct rpc_call, t_done));
}

/* Finish a call: headers, optional message, status, and wait for close. */
static int call_finish(struct rpc_call *c, grpc_byte_buffer *msg, int status, const char *message)
{
	if (c->answered)
		return -EALREADY;
	c->answered = true;
	c->send_buf = msg;
	c->status_details = grpc_slice_from_copied_string(message ? message : "");
	grpc_op ops[4] = {0};
	size_t n = 0;
	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (msg) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = msg;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = (grpc_status_code)status;
	ops[n++].data.send_status_from_server.status_details = &c->status_details;
	ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
	if (grpc_call_start_batch(c->call, ops, n, &c->t_done, NULL) != GRPC_CALL_OK) {
		call_free(c);
		return -EIO;
	}
	return 0;
}

int rpc_call_reply(struct rpc_call *call, const ProtobufCMessage *resp)
{
	return call_finish(call, rpc_pack(resp), RPC_OK, "");
}

int rpc_call_fail(struct rpc_call *call, int status, const char *message)
{
	return call_finish(call, NULL, status, message);
}

static void call_on_request(struct rpc_tag *tag, bool ok)
{
	struct rpc_call *c = container_of(tag, struct rpc_call, t_recv);
	grpc_byte_buffer *bb = c->recv_buf;
	c->recv_buf = NULL;
	if (!ok || !bb) {
		rpc_call_fail(c, RPC_INVALID_ARGUMENT, "no request message");
		return;
	}
	ProtobufCMessage *req = rpc_unpack(c->method->request, bb);
	grpc_byte_buffer_destroy(bb);
	if (!req) {
		log_warn("rpc: %s from %s: request does not decode", c->method->path, c->peer);
		rpc_call_fail(c, RPC_INVALID_ARGUMENT, "request message does not decode");
		return;
	}
	c->method->unary(c, req, c->srv->arg);
	protobuf_c_message_free_unpacked(req, NULL);
}

static const struct rpc_method *server_find(const struct rpc_server *srv, grpc_slice path)
{
	for (size_t i = 0; i < srv->n_methods; i++) {
		if (grpc_slice_str_cmp(path, srv->methods[i].path) == 0)
			return &srv->methods[i];
	}
	return NULL;
}

static void server_start_unary(struct rpc_server *srv, const struct rpc_method *m, grpc_call *call,
			       const char *identity, const char *peer)
{
	struct rpc_call *c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->call = call;
	c->method = m;
	c->t_recv.fn = call_on_request;
	c->t_done.fn = call_on_done;
	c->status_details = grpc_empty_slice();
	snprintf(c->identity, sizeof(c->identity), "%s", identity);
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	grpc_op op = {0};
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &c->recv_buf;
	if (grpc_call_start_batch(call, &op, 1, &c->t_recv, NULL) != GRPC_CALL_OK)
		call_free(c);
}

static void server_start_stream(struct rpc_server *srv, const struct rpc_method *m, grpc_call *call,
				const char *identity, const char *peer)
{
	struct rpc_stream *s = rpc_stream_alloc(srv->loop, call, true, m->request, m->stream_ops, NULL);
	snprintf(s->identity, sizeof(s->identity), "%s", identity);
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	if (rpc_stream_start(s) < 0) {
		rpc_stream_unref(s);
		return;
	}
	m->open(s, srv->arg);
	/* A stream refused during open never had an owner: no on_close. */
	pthread_mutex_lock(&s->lock);
	if (s->closing)
		s->closed = true;
	pthread_mutex_unlock(&s->lock);
	rpc_stream_unref(s); /* the handler took its own reference to keep it */
}

static void server_unimplemented(struct rpc_server *srv, grpc_call *call, const char *method, const char *peer)
{
	log_warn("rpc: %s called unknown method %s: UNIMPLEMENTED", peer, method);
	struct rpc_call *c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->call = call;
	c->t_done.fn = call_on_done;
	c->status_details = grpc_empty_slice();
	rpc_call_fail(c, RPC_UNIMPLEMENTED, "unknown method");
}

static void server_arm(struct rpc_slot *slot);

static void server_on_call(struct rpc_tag *tag, bool ok)
{
	struct rpc_slot *slot = container_of(tag, struct rpc_slot, tag);
	struct rpc_server *srv = slot->srv;
	srv->slots_armed--;
	if (ok && slot->call) {
		char identity[256], peer[256];
		rpc_call_peer_info(slot->call, identity, sizeof(identity), peer, sizeof(peer));
		const struct rpc_method *m = server_find(srv, slot->details.method);
		if (!m) {
			char *path = rpc_slice_strdup(slot->details.method);
			server_unimplemented(srv, slot->call, path, peer);
			free(path);
		} else if (m->unary) {
			server_start_unary(srv, m, slot->call, identity, peer);
		} else {
			server_start_stream(srv, m, slot->call, identity, peer);
		}
		slot->call = NULL;
	}
	grpc_call_details_destroy(&slot->details);
	grpc_metadata_array_destroy(&slot->md);
	if (ok && !srv->shutting_down)
		server_arm(slot);
}

static void server_arm(struct rpc_slot *slot)
{
	struct rpc_server *srv = slot->srv;
	grpc_call_details_init(&slot->details);
	grpc_metadata_array_init(&slot->md);
	slot->call = NULL;
	grpc_call_error e = grpc_server_request_call(srv->server, &slot->call, &slot->details, &slot->md, srv->loop->cq,
						     srv->loop->cq, &slot->tag);
	if (e == GRPC_CALL_OK) {
		srv->slots_armed++;
	} else {
		grpc_call_details_destroy(&slot->details);
		grpc_metadata_array_destroy(&slot->md);
	}
}

static void server_on_shutdown(struct rpc_tag *tag, bool ok)
{
	struct rpc_server *srv = container_of(tag, struct rpc_server, t_shutdown);
	srv->shutdown_done = true;
}

static grpc_channel_args *server_args(grpc_arg *args, size_t *n)
{
	static char keepalive[] = GRPC_ARG_KEEPALIVE_TIME_MS;
	static char keepalive_to[] = GRPC_ARG_KEEPALIVE_TIMEOUT_MS;
	static char min_ping[] = GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS;
	static char strikes[] = GRPC_ARG_HTTP2_MAX_PING_STRIKES;
	static char permit[] = GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS;
	/* Racks ping every 20 s; allow it, and notice a dead rack in ~40 s. */
	args[0] = (grpc_arg){GRPC_ARG_INTEGER, keepalive, {.integer = 30000}};
	args[1] = (grpc_arg){GRPC_ARG_INTEGER, keepalive_to, {.integer = 10000}};
	args[2] = (grpc_arg){GRPC_ARG_INTEGER, min_ping, {.integer = 5000}};
	args[3] = (grpc_arg){GRPC_ARG_INTEGER, strikes, {.integer = 0}};
	args[4] = (grpc_arg){GRPC_ARG_INTEGER, permit, {.integer = 1}};
	*n = 5;
	return NULL;
}

static bool server_is_down(void *arg)
{
	struct rpc_server *srv = arg;
	return srv->shutdown_done && srv->slots_armed == 0;
}

int rpc_server_new(struct rpc_loop *loop, const char *addr, const struct rpc_server_tls *tls,
		   const struct rpc_method *methods, size_t n_methods, void *server_arg, struct rpc_server **ret,
		   int *ret_port)
{
	grpc_arg argv[8];
	size_t argc;
	server_args(argv, &argc);
	grpc_channel_args args = {argc, argv};

	struct rpc_server *srv = xcalloc(1, sizeof(*srv));
	srv->loop = loop;
	srv->methods = methods;
	srv->n_methods = n_methods;
	srv->arg = server_arg;
	srv->t_shutdown.fn = server_on_shutdown;
	srv->server = grpc_server_create(&args, NULL);
	grpc_server_register_completion_queue(srv->server, loop->cq, NULL);

	grpc_ssl_pem_key_cert_pair pair = {tls->key_pem, tls->cert_chain_pem};
	grpc_server_credentials *creds = grpc_ssl_server_credentials_create_ex(
	    tls->client_ca_pem, &pair, 1, GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY, NULL);
	int port = grpc_server_add_http2_port(srv->server, addr, creds);
	grpc_server_credentials_release(creds);
	if (port <= 0) {
		grpc_server_destroy(srv->server);
		free(srv);
		return -EADDRNOTAVAIL;
	}
	grpc_server_start(srv->server);
	for (size_t i = 0; i < RPC_SERVER_SLOTS; i++) {
		srv->slots[i].srv = srv;
		srv->slots[i].tag.fn = server_on_call;
		server_arm(&srv->slots[i]);
	}
	if (ret_port)
		*ret_port = port;
	*ret = srv;
	return 0;
}

void rpc_server_free(struct rpc_server *srv)
{
	if (!srv)
		return;
	srv->shutting_down = true;
	grpc_server_shutdown_and_notify(srv->server, srv->loop->cq, &srv->t_shutdown);
	grpc_server_cancel_all_calls(srv->server);
	/* Request slots complete (not ok) once the server is shut down. */
	rpc_loop_drain_until(srv->loop, server_is_down, srv);
	grpc_server_destroy(srv->server);
	free(srv);
}
