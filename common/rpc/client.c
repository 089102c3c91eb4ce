/* Client side: channels with pinned-CA TLS, unary calls, stream opening. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rpc/rpc_internal.h"
#include "common/util.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

struct rpc_channel {
	struct rpc_loop *loop;
	grpc_channel *channel;
	struct rpc_link calls; /* list head: live calls, cancelled on free */
	char *target;
};

struct rpc_unary_call {
	struct rpc_tag tag;
	struct rpc_link link;
	struct rpc_channel *ch;
	grpc_call *call;
	grpc_byte_buffer *send_buf, *recv_buf;
	grpc_metadata_array md_initial, md_trailing;
	grpc_status_code status;
	grpc_slice details;
	const ProtobufCMessageDescriptor *resp_desc;
	rpc_unary_done_fn cb;
	void *arg;
};

static void channel_link(struct rpc_channel *ch, struct rpc_link *link, grpc_call *call)
{
	link->call = call;
	link->prev = &ch->calls;
	link->next = ch->calls.next;
	ch->calls.next->prev = link;
	ch->calls.next = link;
}

void rpc_channel_unlink(struct rpc_channel *ch, struct rpc_link *link)
{
	if (!link->next)
		return;
	link->prev->next = link->next;
	link->next->prev = link->prev;
	link->next = link->prev = NULL;
}

static grpc_channel_args *client_args(grpc_arg *args, const char *server_name, grpc_channel_args *out)
{
	static char keepalive[] = GRPC_ARG_KEEPALIVE_TIME_MS;
	static char keepalive_to[] = GRPC_ARG_KEEPALIVE_TIMEOUT_MS;
	static char permit[] = GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS;
	static char pings[] = GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA;
	static char backoff_max[] = GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
	static char override[] = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
	size_t n = 0;
	/* Notice a dead region (or a dead NAT mapping) within ~30 s. */
	args[n++] = (grpc_arg){GRPC_ARG_INTEGER, keepalive, {.integer = 20000}};
	args[n++] = (grpc_arg){GRPC_ARG_INTEGER, keepalive_to, {.integer = 10000}};
	args[n++] = (grpc_arg){GRPC_ARG_INTEGER, permit, {.integer = 1}};
	args[n++] = (grpc_arg){GRPC_ARG_INTEGER, pings, {.integer = 0}};
	args[n++] = (grpc_arg){GRPC_ARG_INTEGER, backoff_max, {.integer = 5000}};
	if (server_name && server_name[0])
		args[n++] = (grpc_arg){GRPC_ARG_STRING, override, {.string = (char *)server_name}};
	out->num_args = n;
	out->args = args;
	return out;
}

static int channel_alloc(struct rpc_loop *loop, const char *target, struct rpc_channel **ret)
{
	struct rpc_channel *ch = xcalloc(1, sizeof(*ch));
	ch->loop = loop;
	ch->calls.next = ch->calls.prev = &ch->calls;
	ch->target = strdup(target);
	*ret = ch;
	return 0;
}

int rpc_channel_new(struct rpc_loop *loop, const char *target, const struct rpc_client_tls *tls,
		    struct rpc_channel **ret)
{
	struct rpc_channel *ch;
	int r = channel_alloc(loop, target, &ch);
	if (r < 0)
		return r;
	grpc_ssl_pem_key_cert_pair pair = {tls->key_pem, tls->cert_pem};
	grpc_channel_credentials *creds =
	    grpc_ssl_credentials_create(tls->root_ca_pem, tls->key_pem ? &pair : NULL, NULL, NULL);
	grpc_arg argv[8];
	grpc_channel_args args;
	ch->channel = grpc_channel_create(target, creds, client_args(argv, tls->server_name, &args));
	grpc_channel_credentials_release(creds);
	*ret = ch;
	return 0;
}

int rpc_channel_new_insecure(struct rpc_loop *loop, const char *target, struct rpc_channel **ret)
{
	struct rpc_channel *ch;
	int r = channel_alloc(loop, target, &ch);
	if (r < 0)
		return r;
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	grpc_arg argv[8];
	grpc_channel_args args;
	ch->channel = grpc_channel_create(target, creds, client_args(argv, NULL, &args));
	grpc_channel_credentials_release(creds);
	*ret = ch;
	return 0;
}

void rpc_channel_free(struct rpc_channel *ch)
{
	if (!ch)
		return;
	/* Calls keep their own reference to the channel inside gRPC; cancel
	 * them and detach: their callbacks still run, later, with CANCELLED. */
	while (ch->calls.next != &ch->calls) {
		struct rpc_link *l = ch->calls.next;
		grpc_call_cancel_with_status(l->call, GRPC_STATUS_CANCELLED, "channel closed", NULL);
		rpc_channel_unlink(ch, l);
	}
	grpc_channel_destroy(ch->channel);
	free(ch->target);
	free(ch);
}

static grpc_call *channel_call(struct rpc_channel *ch, const char *path, int timeout_ms)
{
	grpc_slice method = grpc_slice_from_static_string(path);
	grpc_call *call = grpc_channel_create_call(ch->channel, NULL, GRPC_PROPAGATE_DEFAULTS, ch->loop->cq, method,
						   NULL, rpc_deadline_ms(timeout_ms), NULL);
	grpc_slice_unref(method);
	return call;
}

static void unary_on_done(struct rpc_tag *tag, bool ok)
{
	struct rpc_unary_call *u = container_of(tag, struct rpc_unary_call, tag);
	if (u->ch)
		rpc_channel_unlink(u->ch, &u->link);
	char *msg = rpc_slice_strdup(u->details);
	int status = ok ? (int)u->status : RPC_UNAVAILABLE;
	ProtobufCMessage *resp = NULL;
	if (status == RPC_OK) {
		resp = u->recv_buf ? rpc_unpack(u->resp_desc, u->recv_buf) : NULL;
		if (!resp) {
			status = RPC_INTERNAL;
			free(msg);
			msg = strdup("response does not decode");
		}
	}
	u->cb(u->arg, status, msg, resp);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	free(msg);
	grpc_byte_buffer_destroy(u->send_buf);
	if (u->recv_buf)
		grpc_byte_buffer_destroy(u->recv_buf);
	grpc_metadata_array_destroy(&u->md_initial);
	grpc_metadata_array_destroy(&u->md_trailing);
	grpc_slice_unref(u->details);
	grpc_call_unref(u->call);
	free(u);
}

int rpc_unary(struct rpc_channel *ch, const char *path, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp_desc, int timeout_ms, rpc_unary_done_fn cb, void *arg)
{
	struct rpc_unary_call *u = xcalloc(1, sizeof(*u));
	u->tag.fn = unary_on_done;
	u->ch = ch;
	u->cb = cb;
	u->arg = arg;
	u->resp_desc = resp_desc;
	u->call = channel_call(ch, path, timeout_ms);
	u->send_buf = rpc_pack(req);
	u->details = grpc_empty_slice();
	grpc_metadata_array_init(&u->md_initial);
	grpc_metadata_array_init(&u->md_trailing);

	grpc_op ops[6] = {0};
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = u->send_buf;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &u->md_initial;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &u->recv_buf;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &u->md_trailing;
	ops[5].data.recv_status_on_client.status = &u->status;
	ops[5].data.recv_status_on_client.status_details = &u->details;
	if (grpc_call_start_batch(u->call, ops, 6, &u->tag, NULL) != GRPC_CALL_OK) {
		grpc_byte_buffer_destroy(u->send_buf);
		grpc_call_unref(u->call);
		grpc_slice_unref(u->details);
		grpc_metadata_array_destroy(&u->md_initial);
		grpc_metadata_array_destroy(&u->md_trailing);
		free(u);
		return -EIO;
	}
	channel_link(ch, &u->link, u->call);
	return 0;
}

int rpc_stream_open(struct rpc_channel *ch, const char *path, const ProtobufCMessageDescriptor *recv_desc,
		    const struct rpc_stream_ops *ops, void *arg, struct rpc_stream **ret)
{
	grpc_call *call = channel_call(ch, path, 0);
	struct rpc_stream *s = rpc_stream_alloc(ch->loop, call, false, recv_desc, ops, arg);
	s->channel = ch;
	channel_link(ch, &s->link, call);
	if (rpc_stream_start(s) < 0) {
		rpc_stream_unref(s);
		return -EIO;
	}
	*ret = s;
	return 0;
}
