/* One TFTP read transfer: its connected UDP socket, its retransmission
 * timer, and the loop that turns the engine's actions into datagrams.
 *
 * The daemon's loop opens the socket and gives the transfer to a worker
 * (worker.c); the worker's loop runs it to its end and hands it back, and
 * the daemon's loop then returns what it held (tftp_xfer_reap).
 *
 * A window of DATA blocks goes out as one UDP GSO send (or, where the
 * kernel cannot segment, one sendmmsg()); every datagram is two iovecs, the
 * 4-byte header and a slice of the file's shared mapping, so no file byte
 * is copied in user space. When the socket buffer is full the rest of the
 * window waits for EV_WRITE. */
#include <errno.h>
#include <event2/event.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "rack/netns.h"
#include "rack/tftp/internal.h"

#define XFER_BATCH	64    /* messages per sendmmsg() */
#define XFER_RECV_BATCH 8     /* datagrams read per wake-up, for fairness */
#define XFER_GSO_SEGS	64    /* UDP_MAX_SEGMENTS of older kernels */
#define XFER_GSO_BYTES	65000 /* one GSO send stays under the 64 KiB IP limit */

struct tftp_xfer {
	struct tftp_qlink link; /* in a mailbox: first, see tftp_xfer_of() */
	struct tftp_server *srv;
	struct tftp_worker *w;
	struct tftp_xfer *prev, *next; /* in w->xfers, once running */
	bool running;
	int fd;
	struct event *rev;   /* readable: ACKs and ERRORs */
	struct event *wev;   /* writable again after EAGAIN */
	struct event *timer; /* the engine's deadline */
	int64_t timer_at;
	struct tftp_session sess;
	struct tftp_file *file;
	struct tftp_client_key client; /* counted in srv->clients */
	uint64_t tx_next, tx_end;      /* DATA blocks still to push out */
	int64_t started_us;
	enum tftp_mode mode;
	struct tftp_options opts; /* as requested */
	uint16_t client_error_code;
	char client_error[80];
	char peer[TFTP_PEER_STRLEN];
	char name[TFTP_NAME_LOGLEN];
};

static struct tftp_xfer *xfer_of(struct tftp_qlink *l)
{
	return (struct tftp_xfer *)l;
}

/* The worker's part of the end: its events and socket. */
static void xfer_release(struct tftp_xfer *x)
{
	struct tftp_worker *w = x->w;

	if (x->running) {
		if (x->prev)
			x->prev->next = x->next;
		else
			w->xfers = x->next;
		if (x->next)
			x->next->prev = x->prev;
		event_free(x->rev);
		event_free(x->wev);
		event_free(x->timer);
	}
	close(x->fd);
	tftp_worker_hand_back(w, &x->link);
}

/* The daemon's loop: a transfer its worker has ended. Return its slot,
 * its address's count and its file; free it. */
static void xfer_reap(struct tftp_server *s, struct tftp_qlink *l)
{
	struct tftp_xfer *x = xfer_of(l);

	s->n_transfers--;
	x->w->load--;
	tftp_clients_put(&s->clients, &x->client);
	tftp_cache_put(s->cache, x->file);
	free(x);
}

static void xfer_describe_failure(const struct tftp_xfer *x, int rc, char *buf, size_t len)
{
	switch (rc) {
	case -ETIMEDOUT:
		if (x->sess.stalled)
			snprintf(buf, len, "no progress for %u s (%u retransmissions)", x->sess.lim.max_stall_ms / 1000,
				 x->sess.timeouts - 1);
		else
			snprintf(buf, len, "no answer from the client after %u retransmissions",
				 x->sess.lim.max_retries);
		break;
	case -ECONNRESET:
		snprintf(buf, len, "client sent ERROR %u '%s'", x->client_error_code, x->client_error);
		break;
	case -EPROTO:
		snprintf(buf, len, "client sent a packet that has no place in a read transfer");
		break;
	case -ECONNREFUSED:
		snprintf(buf, len, "client went away (port unreachable)");
		break;
	case -EFAULT:
		snprintf(buf, len, "file was truncated on disk during the transfer");
		break;
	default:
		snprintf(buf, len, "%s", strerror(-rc));
	}
}

/* The one log line at the end, then free. */
static void xfer_end(struct tftp_xfer *x, int rc, const char *why)
{
	double secs = (double)(clock_mono_us() - x->started_us) / 1e6;
	const struct tftp_session *ss = &x->sess;
	char reason[200];

	if (!x->running) {
		log_info("tftp: %s '%s' not started: %s", x->peer, x->name, why ? why : strerror(-rc));
	} else if (rc == -ECONNRESET && ss->blocks_sent == 0) {
		/* UEFI firmware asks for tsize, then ends the transfer. */
		log_info("tftp: %s '%s': client ended the transfer after the OACK with ERROR %u '%s' (a size query)",
			 x->peer, x->name, x->client_error_code, x->client_error);
	} else if (rc == TFTP_SESSION_FINISHED) {
		log_info("tftp: %s sent '%s' (%llu bytes, blksize %u, windowsize %u) in %.3f s, %.1f MB/s, "
			 "%llu blocks resent",
			 x->peer, x->name, (unsigned long long)ss->size, ss->blksize, ss->windowsize, secs,
			 secs > 0 ? (double)ss->size / secs / 1e6 : 0.0, (unsigned long long)ss->blocks_resent);
	} else {
		if (why)
			snprintf(reason, sizeof(reason), "%s", why);
		else
			xfer_describe_failure(x, rc, reason, sizeof(reason));
		log_msg(rc == -ECONNRESET || why ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
			"tftp: %s '%s' failed after %llu of %llu bytes in %.3f s (blksize %u, windowsize %u): %s",
			x->peer, x->name, (unsigned long long)tftp_session_bytes_acked(ss),
			(unsigned long long)ss->size, secs, ss->blksize, ss->windowsize, reason);
	}
	xfer_release(x);
}

/* The worker's loop, at shutdown: a transfer given but not started, or
 * every one running (logged, nothing sent). */
static void xfer_abort(struct tftp_qlink *l, const char *why)
{
	xfer_end(xfer_of(l), -ECANCELED, why);
}

static void xfer_abort_all(struct tftp_worker *w, const char *why)
{
	while (w->xfers)
		xfer_end(w->xfers, -ECANCELED, why);
}

static int xfer_send(struct tftp_xfer *x, const uint8_t *buf, size_t len)
{
	if (send(x->fd, buf, len, 0) >= 0)
		return 0;
	/* A lost OACK or ERROR is recovered by the timer or harmless. */
	return errno == EAGAIN || errno == EINTR || errno == ENOBUFS ? 0 : -errno;
}

static int xfer_send_oack(struct tftp_xfer *x)
{
	struct tftp_packet p = {.op = TFTP_OACK, .opts = x->sess.oack};
	uint8_t buf[128];
	int n = tftp_encode(&p, buf, sizeof(buf));

	return n < 0 ? n : xfer_send(x, buf, (size_t)n);
}

static int xfer_send_error(struct tftp_xfer *x, uint16_t code, const char *msg)
{
	struct tftp_packet p = {.op = TFTP_ERROR, .error_code = code, .error_msg = msg, .error_msg_len = strlen(msg)};
	uint8_t buf[256];
	int n = tftp_encode(&p, buf, sizeof(buf));

	return n < 0 ? n : xfer_send(x, buf, (size_t)n);
}

/* Several blocks in one UDP GSO send (UDP_SEGMENT): the iovecs alternate
 * header and file slice, and the kernel cuts the payload into datagrams of
 * 4 + blksize bytes; only the last may be shorter, which is where the
 * file's final block always is. One system call and one trip down the
 * stack per up to 64 blocks. Returns blocks sent, 0 when the socket buffer
 * is full, -EOPNOTSUPP when the kernel or the route cannot segment. */
static int xfer_send_gso(struct tftp_xfer *x)
{
	struct iovec iov[2 * XFER_GSO_SEGS];
	uint8_t hdr[XFER_GSO_SEGS][TFTP_HEADER_LEN];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	uint16_t seg = (uint16_t)(x->sess.blksize + TFTP_HEADER_LEN);
	uint64_t n = x->tx_end - x->tx_next, max = XFER_GSO_BYTES / seg;

	if (max > XFER_GSO_SEGS)
		max = XFER_GSO_SEGS;
	if (n > max)
		n = max;
	for (unsigned i = 0; i < n; i++) {
		uint16_t wire;
		uint64_t off;
		uint32_t len;
		tftp_session_block(&x->sess, x->tx_next + i, &wire, &off, &len);
		tftp_encode_data_header(hdr[i], wire);
		iov[2 * i].iov_base = hdr[i];
		iov[2 * i].iov_len = TFTP_HEADER_LEN;
		iov[2 * i + 1].iov_base = len ? (void *)(x->file->data + off) : NULL;
		iov[2 * i + 1].iov_len = len;
	}
	memset(&ctl, 0, sizeof(ctl));
	struct msghdr mh = {
	    .msg_iov = iov,
	    .msg_iovlen = 2 * n,
	    .msg_control = ctl.buf,
	    .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	if (sendmsg(x->fd, &mh, 0) >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR)
		return 0;
	if (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP)
		return -EOPNOTSUPP;
	return -errno;
}

/* Push DATA blocks tx_next .. tx_end - 1: whole windows with UDP GSO where
 * the kernel can, else sendmmsg() of up to 64 datagrams. On a full socket
 * buffer, wait to be writable. Errors are returned as -errno. */
static int xfer_flush(struct tftp_xfer *x)
{
	struct mmsghdr msgs[XFER_BATCH];
	struct iovec iov[XFER_BATCH][2];
	uint8_t hdr[XFER_BATCH][TFTP_HEADER_LEN];

	while (x->tx_next < x->tx_end) {
		if (x->w->gso && x->tx_end - x->tx_next >= 2) {
			int r = xfer_send_gso(x);
			if (r > 0) {
				x->tx_next += (unsigned)r;
				continue;
			}
			if (r == 0) {
				event_add(x->wev, NULL);
				return 0;
			}
			if (r != -EOPNOTSUPP)
				return r;
			x->w->gso = false;
			log_info("tftp: UDP segmentation offload refused by the kernel; one system call per datagram");
		}
		unsigned n = 0;
		memset(msgs, 0, sizeof(msgs));
		for (uint64_t b = x->tx_next; b < x->tx_end && n < XFER_BATCH; b++, n++) {
			uint16_t wire;
			uint64_t off;
			uint32_t len;
			tftp_session_block(&x->sess, b, &wire, &off, &len);
			tftp_encode_data_header(hdr[n], wire);
			iov[n][0].iov_base = hdr[n];
			iov[n][0].iov_len = TFTP_HEADER_LEN;
			iov[n][1].iov_base = len ? (void *)(x->file->data + off) : NULL;
			iov[n][1].iov_len = len;
			msgs[n].msg_hdr.msg_iov = iov[n];
			msgs[n].msg_hdr.msg_iovlen = 2;
		}
		int r = sendmmsg(x->fd, msgs, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == ENOBUFS) {
				event_add(x->wev, NULL);
				return 0;
			}
			return -errno;
		}
		x->tx_next += (unsigned)r;
	}
	return 0;
}

/* Carry out one action except the DATA flush and the timer, which the
 * caller does once after a batch of packets. false: the transfer ended and
 * is freed. */
static bool xfer_step(struct tftp_xfer *x, int rc, const struct tftp_action *a)
{
	int err = 0;

	if (a->send_oack)
		err = xfer_send_oack(x);
	if (a->count) {
		x->tx_next = a->first;
		x->tx_end = a->first + a->count;
	}
	if (a->send_error)
		xfer_send_error(x, a->error_code, a->error_msg);
	if (rc != TFTP_SESSION_CONTINUE) {
		xfer_end(x, rc, NULL);
		return false;
	}
	if (err < 0) {
		xfer_end(x, err, NULL);
		return false;
	}
	return true;
}

static void xfer_arm(struct tftp_xfer *x, int64_t deadline)
{
	if (deadline < 0) {
		evtimer_del(x->timer);
		x->timer_at = -1;
		return;
	}
	if (deadline == x->timer_at && evtimer_pending(x->timer, NULL))
		return;
	int64_t delay = deadline - clock_mono_ms();
	if (delay < 0)
		delay = 0;
	struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000};
	evtimer_add(x->timer, &tv);
	x->timer_at = deadline;
}

/* After a batch: send what is pending, re-arm the timer. */
static void xfer_finish_batch(struct tftp_xfer *x)
{
	int err = xfer_flush(x);

	if (err < 0) {
		xfer_end(x, err, NULL);
		return;
	}
	xfer_arm(x, x->sess.deadline);
}

#define XFER_RECV_LEN 1500 /* ACKs are 4 bytes; an ERROR's text may be long */

static void xfer_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tftp_xfer *x = arg;
	uint8_t buf[XFER_RECV_BATCH][XFER_RECV_LEN];
	struct mmsghdr msgs[XFER_RECV_BATCH];
	struct iovec iov[XFER_RECV_BATCH];

	/* One call reads everything queued, up to a batch: a lock-step client
	 * has one ACK out, so this is the only read of the wake-up. */
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < XFER_RECV_BATCH; i++) {
		iov[i] = (struct iovec){buf[i], XFER_RECV_LEN};
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	int got = recvmmsg(fd, msgs, XFER_RECV_BATCH, MSG_DONTWAIT, NULL);
	if (got < 0) {
		if (errno != EAGAIN && errno != EINTR)
			xfer_end(x, -errno, NULL);
		return;
	}
	for (int i = 0; i < got; i++) {
		struct tftp_packet p;
		struct tftp_action a;
		if (tftp_decode(buf[i], msgs[i].msg_len, &p) < 0)
			continue; /* garbage on a connected port: not worth an answer */
		if (p.op == TFTP_ERROR) {
			x->client_error_code = p.error_code;
			tftp_log_escape(p.error_msg, p.error_msg_len, x->client_error, sizeof(x->client_error));
		}
		int rc = tftp_session_input(&x->sess, &p, clock_mono_ms(), &a);
		if (!xfer_step(x, rc, &a))
			return;
	}
	xfer_finish_batch(x);
}

static void xfer_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tftp_xfer *x = arg;
	int err = xfer_flush(x);

	if (err < 0)
		xfer_end(x, err, NULL);
}

static void xfer_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tftp_xfer *x = arg;
	struct tftp_action a;

	x->timer_at = -1;
	int rc = tftp_session_timeout(&x->sess, clock_mono_ms(), &a);
	if (xfer_step(x, rc, &a))
		xfer_finish_batch(x);
}

/* A socket in the server's namespace, bound to the address the client
 * wrote to (so replies come from it) on a new port, connected to the
 * client. */
static int xfer_socket(const struct tftp_server *s, const struct tftp_request *req)
{
	int fd = netns_socket(s->nsfd, s->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return fd;
	if (bind(fd, (const struct sockaddr *)&req->local, req->local_len) < 0 ||
	    connect(fd, (const struct sockaddr *)&req->peer, req->peer_len) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int tftp_xfer_start(struct tftp_server *s, const struct tftp_request *req, const struct tftp_packet *rrq,
		    struct tftp_file *file)
{
	struct tftp_xfer *x = calloc(1, sizeof(*x));
	int fd = x ? xfer_socket(s, req) : -ENOMEM;

	if (fd < 0) {
		free(x);
		tftp_cache_put(s->cache, file);
		return fd;
	}
	x->srv = s;
	x->fd = fd;
	x->file = file;
	x->mode = rrq->mode;
	x->opts = rrq->opts;
	x->timer_at = -1;
	x->started_us = clock_mono_us();
	snprintf(x->peer, sizeof(x->peer), "%s", req->peer_text);
	snprintf(x->name, sizeof(x->name), "%s", req->name_text);
	s->n_transfers++;
	tftp_client_key_of((const struct sockaddr *)&req->peer, &x->client);
	tftp_clients_take(&s->clients, &x->client, 0);
	x->w = tftp_worker_pick(s);
	tftp_worker_give(x->w, &x->link);
	return 0;
}

/* The worker's loop: start a transfer given to it. */
static void xfer_run(struct tftp_worker *w, struct tftp_qlink *l)
{
	struct tftp_xfer *x = xfer_of(l);

	x->rev = event_new(w->base, x->fd, EV_READ | EV_PERSIST, xfer_read_cb, x);
	x->wev = event_new(w->base, x->fd, EV_WRITE, xfer_write_cb, x);
	x->timer = evtimer_new(w->base, xfer_timer_cb, x);
	if (!x->rev || !x->wev || !x->timer)
		oom_abort(0); /* a library's NULL: out of memory */
	x->running = true;
	x->next = w->xfers;
	if (w->xfers)
		w->xfers->prev = x;
	w->xfers = x;
	event_add(x->rev, NULL);

	struct tftp_action a;
	int rc = tftp_session_start(&x->sess, &x->srv->lim, &x->opts, x->file->size, clock_mono_ms(), &a);
	log_info("tftp: %s RRQ '%s' %s: %llu bytes, blksize %u, windowsize %u%s", x->peer, x->name,
		 tftp_mode_name(x->mode), (unsigned long long)x->file->size, x->sess.blksize, x->sess.windowsize,
		 x->sess.oack.present ? " (OACK)" : "");
	if (xfer_step(x, rc, &a))
		xfer_finish_batch(x);
}

const struct tftp_worker_ops tftp_xfer_ops = {
    .run = xfer_run,
    .abort = xfer_abort,
    .abort_all = xfer_abort_all,
    .reap = xfer_reap,
};
