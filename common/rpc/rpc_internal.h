/* Private to common/rpc. */
#pragma once

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdatomic.h>

#include "common/rpc/rpc.h"

/* Every batch we start carries a tag; its fn runs on the loop thread. */
struct rpc_tag {
	void (*fn)(struct rpc_tag *tag, bool ok);
};

struct rpc_pending {
	struct rpc_tag *tag;
	bool ok;
};

struct rpc_loop {
	struct event_base *base;
	grpc_completion_queue *cq;
	pthread_t thread;
	int efd;
	struct event *ev;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct rpc_pending *items;
	size_t n_items, cap_items;
	bool thread_done;
};

/* Doubly linked membership of a call in its channel (client side). */
struct rpc_link {
	struct rpc_link *prev, *next;
	grpc_call *call;
};

struct rpc_stream {
	atomic_int refs;
	struct rpc_loop *loop;
	grpc_call *call;
	bool server;
	const ProtobufCMessageDescriptor *recv_desc;
	const struct rpc_stream_ops *ops;
	void *arg;

	pthread_mutex_t lock; /* guards the send queue and the closing state */
	grpc_byte_buffer **q;
	size_t q_head, q_len, q_cap;
	bool send_busy;
	bool closing;	  /* no new sends accepted */
	bool status_sent; /* server: SEND_STATUS started */
	int close_status;
	char *close_message;

	bool closed; /* on_close delivered (loop thread only) */
	bool recv_done;
	bool headers_requested;
	struct rpc_tag t_send, t_recv, t_end, t_start, t_status;
	grpc_byte_buffer *recv_buf;
	grpc_metadata_array md_initial, md_trailing;
	grpc_status_code status;
	grpc_slice details;
	int cancelled;
	grpc_slice status_details_out;
	struct rpc_link link; /* client side */
	struct rpc_channel *channel;
	char identity[256];
	char peer[256];
};

/* bridge.c */
/* Run completions on the calling (loop) thread until done(arg) is true, or
 * with done == NULL until the queue has shut down. */
void rpc_loop_drain_until(struct rpc_loop *loop, bool (*done)(void *arg), void *arg);
grpc_byte_buffer *rpc_pack(const ProtobufCMessage *msg);
ProtobufCMessage *rpc_unpack(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb);
char *rpc_slice_strdup(grpc_slice s);
gpr_timespec rpc_deadline_ms(int timeout_ms);
void rpc_call_peer_info(grpc_call *call, char *identity, size_t idlen, char *peer, size_t peerlen);

/* stream.c */
struct rpc_stream *rpc_stream_alloc(struct rpc_loop *loop, grpc_call *call, bool server,
				    const ProtobufCMessageDescriptor *recv_desc, const struct rpc_stream_ops *ops,
				    void *arg);
int rpc_stream_start(struct rpc_stream *s);

/* client.c */
void rpc_channel_unlink(struct rpc_channel *ch, struct rpc_link *link);
