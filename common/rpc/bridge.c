/* The completion-queue thread and its bridge into the libevent loop. */
#include <errno.h>
#include <event2/event.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/rpc/rpc_internal.h"
#include "common/util.h"

static void rpc_gpr_log(gpr_log_func_args *args)
{
	enum log_level level = LOG_LEVEL_DEBUG;
	if (args->severity == GPR_LOG_SEVERITY_ERROR)
		level = LOG_LEVEL_ERR;
	else if (args->severity == GPR_LOG_SEVERITY_INFO)
		level = LOG_LEVEL_INFO;
	const char *file = strrchr(args->file, '/');
	log_msg(level, "grpc: %s (%s:%d)", args->message, file ? file + 1 : args->file, args->line);
}

void rpc_lib_init(void)
{
	gpr_set_log_function(rpc_gpr_log);
	gpr_set_log_verbosity(log_enabled(LOG_LEVEL_DEBUG) ? GPR_LOG_SEVERITY_INFO : GPR_LOG_SEVERITY_ERROR);
	grpc_init();
}

void rpc_lib_shutdown(void)
{
	grpc_shutdown();
}

const char *rpc_status_name(int code)
{
	static const char *const names[] = {
	    "OK",	 "CANCELLED",	    "UNKNOWN",		 "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
	    "NOT_FOUND", "ALREADY_EXISTS",  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	    "ABORTED",	 "OUT_OF_RANGE",    "UNIMPLEMENTED",	 "INTERNAL",	       "UNAVAILABLE",
	    "DATA_LOSS", "UNAUTHENTICATED",
	};
	if (code < 0 || (size_t)code >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[code];
}

static void *rpc_loop_thread(void *p)
{
	struct rpc_loop *loop = p;
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(loop->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		pthread_mutex_lock(&loop->lock);
		if (loop->n_items == loop->cap_items) {
			size_t cap = loop->cap_items ? loop->cap_items * 2 : 64;
			struct rpc_pending *n = xreallocarray(loop->items, cap, sizeof(*n));
			loop->items = n;
			loop->cap_items = cap;
		}
		loop->items[loop->n_items++] = (struct rpc_pending){ev.tag, ev.success != 0};
		bool first = loop->n_items == 1;
		pthread_cond_signal(&loop->cond);
		pthread_mutex_unlock(&loop->lock);
		if (first) {
			uint64_t one = 1;
			ssize_t w = write(loop->efd, &one, sizeof(one));
			(void)w;
		}
	}
	pthread_mutex_lock(&loop->lock);
	loop->thread_done = true;
	pthread_cond_signal(&loop->cond);
	pthread_mutex_unlock(&loop->lock);
	return NULL;
}

/* Run every completion that has arrived, in order. */
static size_t rpc_loop_dispatch(struct rpc_loop *loop)
{
	size_t done = 0;
	for (;;) {
		pthread_mutex_lock(&loop->lock);
		if (loop->n_items == 0) {
			pthread_mutex_unlock(&loop->lock);
			return done;
		}
		struct rpc_pending *items = loop->items;
		size_t n = loop->n_items;
		loop->items = NULL;
		loop->n_items = loop->cap_items = 0;
		pthread_mutex_unlock(&loop->lock);
		for (size_t i = 0; i < n; i++)
			items[i].tag->fn(items[i].tag, items[i].ok);
		free(items);
		done += n;
	}
}

static void rpc_loop_on_event(evutil_socket_t fd, short what, void *p)
{
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r;
	rpc_loop_dispatch(p);
}

void rpc_loop_drain_until(struct rpc_loop *loop, bool (*done)(void *arg), void *arg)
{
	while (!done || !done(arg)) {
		pthread_mutex_lock(&loop->lock);
		while (loop->n_items == 0 && !loop->thread_done)
			pthread_cond_wait(&loop->cond, &loop->lock);
		bool finished = loop->n_items == 0 && loop->thread_done;
		pthread_mutex_unlock(&loop->lock);
		if (finished)
			return;
		rpc_loop_dispatch(loop);
	}
}

int rpc_loop_new(struct event_base *base, struct rpc_loop **ret)
{
	struct rpc_loop *loop = xcalloc(1, sizeof(*loop));
	loop->base = base;
	pthread_mutex_init(&loop->lock, NULL);
	pthread_cond_init(&loop->cond, NULL);
	loop->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->efd < 0) {
		int r = -errno;
		free(loop);
		return r;
	}
	loop->ev = event_new(base, loop->efd, EV_READ | EV_PERSIST, rpc_loop_on_event, loop);
	event_add(loop->ev, NULL);
	loop->cq = grpc_completion_queue_create_for_next(NULL);
	int r = pthread_create(&loop->thread, NULL, rpc_loop_thread, loop);
	if (r != 0) {
		grpc_completion_queue_destroy(loop->cq);
		event_free(loop->ev);
		close(loop->efd);
		free(loop);
		return -r;
	}
	*ret = loop;
	return 0;
}

void rpc_loop_free(struct rpc_loop *loop)
{
	if (!loop)
		return;
	grpc_completion_queue_shutdown(loop->cq);
	/* Completions still in flight run their callbacks here, so nothing
	 * that was started is leaked. */
	rpc_loop_drain_until(loop, NULL, NULL);
	pthread_join(loop->thread, NULL);
	rpc_loop_dispatch(loop);
	grpc_completion_queue_destroy(loop->cq);
	event_free(loop->ev);
	close(loop->efd);
	pthread_mutex_destroy(&loop->lock);
	pthread_cond_destroy(&loop->cond);
	free(loop->items);
	free(loop);
}

grpc_byte_buffer *rpc_pack(const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	grpc_slice slice = grpc_slice_malloc(len);
	protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	return bb;
}

ProtobufCMessage *rpc_unpack(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader reader;
	if (!grpc_byte_buffer_reader_init(&reader, bb))
		return NULL;
	grpc_slice slice = grpc_byte_buffer_reader_readall(&reader);
	ProtobufCMessage *msg =
	    protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(slice), GRPC_SLICE_START_PTR(slice));
	grpc_slice_unref(slice);
	grpc_byte_buffer_reader_destroy(&reader);
	return msg;
}

char *rpc_slice_strdup(grpc_slice s)
{
	size_t n = GRPC_SLICE_LENGTH(s);
	char *out = xmalloc(n + 1);
	memcpy(out, GRPC_SLICE_START_PTR(s), n);
	out[n] = '\0';
	return out;
}

gpr_timespec rpc_deadline_ms(int timeout_ms)
{
	if (timeout_ms <= 0)
		return gpr_inf_future(GPR_CLOCK_REALTIME);
	return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

/* The verified client certificate's CN (empty without one) and the peer's
 * transport address, for logs and for identity checks in handlers. */
void rpc_call_peer_info(grpc_call *call, char *identity, size_t idlen, char *peer, size_t peerlen)
{
	identity[0] = '\0';
	grpc_auth_context *ctx = grpc_call_auth_context(call);
	if (ctx) {
		grpc_auth_property_iterator it =
		    grpc_auth_context_find_properties_by_name(ctx, GRPC_X509_CN_PROPERTY_NAME);
		const grpc_auth_property *p = grpc_auth_property_iterator_next(&it);
		if (p && p->value_length < idlen) {
			memcpy(identity, p->value, p->value_length);
			identity[p->value_length] = '\0';
		}
		grpc_auth_context_release(ctx);
	}
	char *pr = grpc_call_get_peer(call);
	snprintf(peer, peerlen, "%s", pr ? pr : "?");
	gpr_free(pr);
}
