/* common/rpc: the one place that speaks gRPC core. Both daemons use this
 * interface and never call grpc_* themselves.
 *
 * Threads: gRPC core completes operations on one completion queue, drained
 * by a thread of ours that forwards each completion into the daemon's
 * libevent loop (a locked queue plus an eventfd). So every callback below —
 * handlers, stream messages, closes, unary replies — runs on the loop
 * thread. rpc_stream_send() may be called from any thread.
 *
 * Messages are protobuf-c messages; the method table names their
 * descriptors, so handlers receive decoded messages and a message that does
 * not decode is answered INVALID_ARGUMENT by this layer. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

/* gRPC status codes (same numbers as grpc_status_code). */
enum rpc_status {
	RPC_OK = 0,
	RPC_CANCELLED = 1,
	RPC_UNKNOWN = 2,
	RPC_INVALID_ARGUMENT = 3,
	RPC_DEADLINE_EXCEEDED = 4,
	RPC_NOT_FOUND = 5,
	RPC_ALREADY_EXISTS = 6,
	RPC_PERMISSION_DENIED = 7,
	RPC_RESOURCE_EXHAUSTED = 8,
	RPC_FAILED_PRECONDITION = 9,
	RPC_ABORTED = 10,
	RPC_UNIMPLEMENTED = 12,
	RPC_INTERNAL = 13,
	RPC_UNAVAILABLE = 14,
	RPC_UNAUTHENTICATED = 16,
};

const char *rpc_status_name(int code);

/* Process-wide gRPC start/stop; rpc_lib_init also routes gRPC's own log
 * lines into common/log (at debug level our logger lets gRPC's info through). */
void rpc_lib_init(void);
void rpc_lib_shutdown(void);

/* ---- the bridge: one completion queue + thread per loop ---- */

struct rpc_loop;

int rpc_loop_new(struct event_base *base, struct rpc_loop **ret);
/* Call after every server, channel and stream made on it is gone. */
void rpc_loop_free(struct rpc_loop *loop);

/* ---- streams (both sides) ---- */

struct rpc_stream;

struct rpc_stream_ops {
	/* A decoded message; it is freed when the callback returns. */
	void (*on_message)(struct rpc_stream *s, ProtobufCMessage *msg, void *arg);
	/* The stream ended: status from the peer or the transport (client side),
	 * or RPC_CANCELLED / RPC_OK when the client went away (server side).
	 * Called exactly once; no on_message after it. The owner's reference
	 * stays valid until it calls rpc_stream_unref(). */
	void (*on_close)(struct rpc_stream *s, int status, const char *message, void *arg);
};

/* Queue a message; sends go out one at a time in order. Thread-safe.
 * -EPIPE once the stream is closing or closed, -ENOBUFS when the queue
 * holds RPC_STREAM_QUEUE_MAX messages, -ENOMEM. */
#define RPC_STREAM_QUEUE_MAX 4096
int rpc_stream_send(struct rpc_stream *s, const ProtobufCMessage *msg);
/* End the stream. Server: send status once queued messages are out. Client:
 * cancel the call. on_close still follows. */
void rpc_stream_close(struct rpc_stream *s, int status, const char *message);
void rpc_stream_ref(struct rpc_stream *s);
void rpc_stream_unref(struct rpc_stream *s);
void rpc_stream_set_arg(struct rpc_stream *s, void *arg);
/* Server side: the peer certificate's CN ("" without one) and address. */
const char *rpc_stream_identity(const struct rpc_stream *s);
const char *rpc_stream_peer(const struct rpc_stream *s);
size_t rpc_stream_queued(struct rpc_stream *s);

/* ---- server ---- */

struct rpc_server;
struct rpc_call; /* a unary call being handled */

/* A unary handler: req is freed when the handler returns; answer now or
 * later (from the loop thread) with rpc_call_reply / rpc_call_fail. */
typedef void (*rpc_unary_fn)(struct rpc_call *call, const ProtobufCMessage *req, void *server_arg);
/* A new bidirectional stream: set its arg and take a reference to keep it,
 * or rpc_stream_close() it to refuse (then no on_close follows). */
typedef void (*rpc_stream_open_fn)(struct rpc_stream *s, void *server_arg);

struct rpc_method {
	const char *path; /* "/ironrack.v1.Region/Register" */
	const ProtobufCMessageDescriptor *request;
	rpc_unary_fn unary;	 /* unary method, or */
	rpc_stream_open_fn open; /* bidirectional stream */
	const struct rpc_stream_ops *stream_ops;
};

struct rpc_server_tls {
	const char *key_pem;
	const char *cert_chain_pem; /* server certificate, then the CA */
	const char *client_ca_pem;  /* client certificates must chain to this */
};

/* Listen on addr ("0.0.0.0:5250", "127.0.0.1:0") with TLS; clients may
 * present a certificate (verified against client_ca_pem) or none — each
 * handler decides whether it needs an identity. ret_port: the bound port. */
int rpc_server_new(struct rpc_loop *loop, const char *addr, const struct rpc_server_tls *tls,
		   const struct rpc_method *methods, size_t n_methods, void *server_arg, struct rpc_server **ret,
		   int *ret_port);
/* Orderly shutdown: stop accepting, cancel live calls (their on_close runs),
 * wait until gRPC has released them. Runs on the loop thread. */
void rpc_server_free(struct rpc_server *srv);

int rpc_call_reply(struct rpc_call *call, const ProtobufCMessage *resp);
int rpc_call_fail(struct rpc_call *call, int status, const char *message);
const char *rpc_call_identity(const struct rpc_call *call); /* "" if none */
const char *rpc_call_peer(const struct rpc_call *call);

/* ---- client ---- */

struct rpc_channel;

struct rpc_client_tls {
	const char *root_ca_pem; /* the pinned region CA */
	const char *key_pem;	 /* NULL for server-auth only (enrolment) */
	const char *cert_pem;
	const char *server_name; /* name the server certificate must carry */
};

int rpc_channel_new(struct rpc_loop *loop, const char *target, const struct rpc_client_tls *tls,
		    struct rpc_channel **ret);
/* Plaintext channel: only for tests that prove plaintext is refused. */
int rpc_channel_new_insecure(struct rpc_loop *loop, const char *target, struct rpc_channel **ret);
/* Cancels calls still running on it (their callbacks run with
 * RPC_CANCELLED on a later loop turn). */
void rpc_channel_free(struct rpc_channel *ch);

/* resp is freed after cb returns; NULL unless status == RPC_OK. */
typedef void (*rpc_unary_done_fn)(void *arg, int status, const char *message, ProtobufCMessage *resp);
int rpc_unary(struct rpc_channel *ch, const char *path, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp_desc, int timeout_ms, rpc_unary_done_fn cb, void *arg);

/* Open a bidirectional stream; the caller holds the returned reference. */
int rpc_stream_open(struct rpc_channel *ch, const char *path, const ProtobufCMessageDescriptor *recv_desc,
		    const struct rpc_stream_ops *ops, void *arg, struct rpc_stream **ret);
