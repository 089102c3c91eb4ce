/* Bidirectional streams, server and client side: a send queue with one
 * SEND_MESSAGE in flight, a receive loop, and exactly one on_close. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rpc/rpc_internal.h"
#include "common/util.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

void rpc_stream_ref(struct rpc_stream *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void rpc_stream_unref(struct rpc_stream *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	if (s->channel)
		rpc_channel_unlink(s->channel, &s->link);
	for (size_t i = 0; i < s->q_len; i++)
		grpc_byte_buffer_destroy(s->q[(s->q_head + i) % s->q_cap]);
	free(s->q);
	free(s->close_message);
	grpc_metadata_array_destroy(&s->md_initial);
	grpc_metadata_array_destroy(&s->md_trailing);
	grpc_slice_unref(s->details);
	grpc_slice_unref(s->status_details_out);
	grpc_call_unref(s->call);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void rpc_stream_set_arg(struct rpc_stream *s, void *arg)
{
	s->arg = arg;
}

const char *rpc_stream_identity(const struct rpc_stream *s)
{
	return s->identity;
}

const char *rpc_stream_peer(const struct rpc_stream *s)
{
	return s->peer;
}

size_t rpc_stream_queued(struct rpc_stream *s)
{
	pthread_mutex_lock(&s->lock);
	size_t n = s->q_len;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void stream_deliver_close(struct rpc_stream *s, int status, const char *message)
{
	if (s->closed)
		return;
	s->closed = true;
	pthread_mutex_lock(&s->lock);
	s->closing = true;
	pthread_mutex_unlock(&s->lock);
	if (s->ops->on_close)
		s->ops->on_close(s, status, message, s->arg);
}

static int stream_batch(struct rpc_stream *s, const grpc_op *ops, size_t n, struct rpc_tag *tag)
{
	rpc_stream_ref(s);
	grpc_call_error e = grpc_call_start_batch(s->call, ops, n, tag, NULL);
	if (e != GRPC_CALL_OK) {
		atomic_fetch_sub(&s->refs, 1); /* the caller still holds one */
		return -EIO;
	}
	return 0;
}

/* Server: send the final status. Called with s->lock held, nothing in
 * flight and the queue empty. */
static void stream_send_status_locked(struct rpc_stream *s)
{
	s->status_sent = true;
	s->status_details_out = grpc_slice_from_copied_string(s->close_message ? s->close_message : "");
	grpc_op op = {0};
	op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	op.data.send_status_from_server.status = (grpc_status_code)s->close_status;
	op.data.send_status_from_server.status_details = &s->status_details_out;
	if (stream_batch(s, &op, 1, &s->t_status) < 0)
		s->status_sent = true;
}

/* Start the next queued send, or the final status. Called with s->lock. */
static void stream_pump_locked(struct rpc_stream *s)
{
	if (s->send_busy)
		return;
	if (s->q_len == 0) {
		if (s->server && s->closing && !s->status_sent && !s->closed)
			stream_send_status_locked(s);
		return;
	}
	grpc_byte_buffer *bb = s->q[s->q_head];
	grpc_op op = {0};
	op.op = GRPC_OP_SEND_MESSAGE;
	op.data.send_message.send_message = bb;
	s->send_busy = true;
	if (stream_batch(s, &op, 1, &s->t_send) < 0)
		s->send_busy = false;
}

static void stream_on_send(struct rpc_tag *tag, bool ok)
{
	struct rpc_stream *s = container_of(tag, struct rpc_stream, t_send);
	pthread_mutex_lock(&s->lock);
	grpc_byte_buffer_destroy(s->q[s->q_head]);
	s->q_head = (s->q_head + 1) % s->q_cap;
	s->q_len--;
	s->send_busy = false;
	if (!ok) {
		/* The call is over; drop what is queued, on_close reports it. */
		s->closing = true;
		while (s->q_len > 0) {
			grpc_byte_buffer_destroy(s->q[s->q_head]);
			s->q_head = (s->q_head + 1) % s->q_cap;
			s->q_len--;
		}
	} else {
		stream_pump_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
	rpc_stream_unref(s);
}

int rpc_stream_send(struct rpc_stream *s, const ProtobufCMessage *msg)
{
	pthread_mutex_lock(&s->lock);
	int r = 0;
	if (s->closing) {
		r = -EPIPE;
	} else if (s->q_len >= RPC_STREAM_QUEUE_MAX) {
		r = -ENOBUFS;
	} else {
		if (s->q_len == s->q_cap) {
			size_t cap = s->q_cap ? s->q_cap * 2 : 8;
			grpc_byte_buffer **nq = xreallocarray(NULL, cap, sizeof(*nq));
			for (size_t i = 0; i < s->q_len; i++)
				nq[i] = s->q[(s->q_head + i) % s->q_cap];
			free(s->q);
			s->q = nq;
			s->q_head = 0;
			s->q_cap = cap;
		}
		s->q[(s->q_head + s->q_len) % s->q_cap] = rpc_pack(msg);
		s->q_len++;
		stream_pump_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void rpc_stream_close(struct rpc_stream *s, int status, const char *message)
{
	if (!s->server) {
		grpc_call_cancel_with_status(s->call, (grpc_status_code)status, message ? message : "", NULL);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (!s->closing || !s->close_message) {
		s->closing = true;
		s->close_status = status;
		free(s->close_message);
		s->close_message = strdup(message ? message : "");
		stream_pump_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
}

static void stream_recv_next(struct rpc_stream *s);

static void stream_on_recv(struct rpc_tag *tag, bool ok)
{
	struct rpc_stream *s = container_of(tag, struct rpc_stream, t_recv);
	grpc_byte_buffer *bb = s->recv_buf;
	s->recv_buf = NULL;
	if (!ok || !bb) {
		/* Peer half-closed (or the call ended). A server answers a rack
		 * that closed its side by finishing the stream. */
		s->recv_done = true;
		if (s->server && ok)
			rpc_stream_close(s, RPC_OK, "");
		rpc_stream_unref(s);
		return;
	}
	ProtobufCMessage *msg = rpc_unpack(s->recv_desc, bb);
	grpc_byte_buffer_destroy(bb);
	if (!msg) {
		rpc_stream_close(s, RPC_INVALID_ARGUMENT, "message does not decode");
	} else {
		if (!s->closed && s->ops->on_message)
			s->ops->on_message(s, msg, s->arg);
		protobuf_c_message_free_unpacked(msg, NULL);
		if (!s->closed)
			stream_recv_next(s);
	}
	rpc_stream_unref(s);
}

static void stream_recv_next(struct rpc_stream *s)
{
	grpc_op ops[2] = {0};
	size_t n = 0;
	if (!s->server && !s->headers_requested) {
		/* The first receive on the client side also takes the headers. */
		ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
		ops[n].data.recv_initial_metadata.recv_initial_metadata = &s->md_initial;
		s->headers_requested = true;
		n++;
	}
	ops[n].op = GRPC_OP_RECV_MESSAGE;
	ops[n].data.recv_message.recv_message = &s->recv_buf;
	n++;
	stream_batch(s, ops, n, &s->t_recv);
}

/* Server: the call is over from the client's side or after our status. */
static void stream_on_server_end(struct rpc_tag *tag, bool ok)
{
	struct rpc_stream *s = container_of(tag, struct rpc_stream, t_end);
	if (s->cancelled || !s->status_sent)
		stream_deliver_close(s, RPC_CANCELLED, "peer went away");
	else
		stream_deliver_close(s, s->close_status, s->close_message ? s->close_message : "");
	rpc_stream_unref(s);
}

static void stream_on_status_sent(struct rpc_tag *tag, bool ok)
{
	struct rpc_stream *s = container_of(tag, struct rpc_stream, t_status);
	rpc_stream_unref(s);
}

/* Client: RECV_STATUS_ON_CLIENT completed — the stream is over. */
static void stream_on_client_status(struct rpc_tag *tag, bool ok)
{
	struct rpc_stream *s = container_of(tag, struct rpc_stream, t_end);
	char *msg = rpc_slice_strdup(s->details);
	stream_deliver_close(s, ok ? (int)s->status : RPC_UNAVAILABLE, msg);
	free(msg);
	rpc_stream_unref(s);
}

static void stream_on_start(struct rpc_tag *tag, bool ok)
{
	struct rpc_stream *s = container_of(tag, struct rpc_stream, t_start);
	rpc_stream_unref(s);
}

struct rpc_stream *rpc_stream_alloc(struct rpc_loop *loop, grpc_call *call, bool server,
				    const ProtobufCMessageDescriptor *recv_desc, const struct rpc_stream_ops *ops,
				    void *arg)
{
	struct rpc_stream *s = xcalloc(1, sizeof(*s));
	atomic_init(&s->refs, 1);
	s->loop = loop;
	s->call = call;
	s->server = server;
	s->recv_desc = recv_desc;
	s->ops = ops;
	s->arg = arg;
	pthread_mutex_init(&s->lock, NULL);
	s->t_send.fn = stream_on_send;
	s->t_recv.fn = stream_on_recv;
	s->t_end.fn = server ? stream_on_server_end : stream_on_client_status;
	s->t_start.fn = stream_on_start;
	s->t_status.fn = stream_on_status_sent;
	grpc_metadata_array_init(&s->md_initial);
	grpc_metadata_array_init(&s->md_trailing);
	s->details = grpc_empty_slice();
	s->status_details_out = grpc_empty_slice();
	return s;
}

/* Send headers, arm the end-of-call op and the first receive. */
int rpc_stream_start(struct rpc_stream *s)
{
	grpc_op start = {0};
	start.op = GRPC_OP_SEND_INITIAL_METADATA;
	if (stream_batch(s, &start, 1, &s->t_start) < 0)
		return -EIO;
	grpc_op end = {0};
	if (s->server) {
		end.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
		end.data.recv_close_on_server.cancelled = &s->cancelled;
	} else {
		end.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
		end.data.recv_status_on_client.trailing_metadata = &s->md_trailing;
		end.data.recv_status_on_client.status = &s->status;
		end.data.recv_status_on_client.status_details = &s->details;
	}
	if (stream_batch(s, &end, 1, &s->t_end) < 0)
		return -EIO;
	stream_recv_next(s);
	return 0;
}
