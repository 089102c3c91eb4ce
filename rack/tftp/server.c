/* The TFTP server's listening socket: read requests in, transfers out,
 * everything else refused with an ERROR and a log line; see server.h. */
#include "rack/tftp/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/net.h"
#include "common/util.h"
#include "rack/boot/service.h"
#include "rack/netns.h"
#include "rack/rack.h"
#include "rack/tftp/internal.h"

#define REQUEST_MAX	      4096 /* RFC 2347 caps requests at 512 bytes; be lenient */
#define REQUESTS_PER_WAKEUP   64   /* then let transfers run */
#define REFUSALS_LOGGED_PER_S 50

void tftp_format_peer(const struct sockaddr *sa, char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
		snprintf(buf, len, "%s:%u", text, ntohs(in->sin_port));
		return;
	}
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], text, sizeof(text));
		snprintf(buf, len, "%s:%u", text, ntohs(in6->sin6_port));
		return;
	}
	inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
	if (in6->sin6_scope_id)
		snprintf(buf, len, "[%s%%%u]:%u", text, in6->sin6_scope_id, ntohs(in6->sin6_port));
	else
		snprintf(buf, len, "[%s]:%u", text, ntohs(in6->sin6_port));
}

void tftp_log_escape(const char *s, size_t len, char *buf, size_t buflen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[5];
		int n = (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') ? snprintf(tmp, sizeof(tmp), "%c", c)
									  : snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		if (o + (size_t)n + 4 > buflen) {
			snprintf(buf + o, buflen - o, "...");
			return;
		}
		memcpy(buf + o, tmp, (size_t)n);
		o += (size_t)n;
	}
	buf[o] = '\0';
}

/* A refusal log line, unless this second's budget is spent: a flood of bad
 * requests must not become a flood of log lines. */
static bool server_log_allowed(struct tftp_server *s)
{
	int64_t sec = clock_mono_ms() / 1000;

	if (sec != s->log_second) {
		if (s->log_suppressed)
			log_warn("tftp: %u more refused requests were not logged", s->log_suppressed);
		s->log_second = sec;
		s->log_lines = 0;
		s->log_suppressed = 0;
	}
	if (s->log_lines < REFUSALS_LOGGED_PER_S) {
		s->log_lines++;
		return true;
	}
	s->log_suppressed++;
	return false;
}

/* Answer a request with an ERROR from the listening socket, from the
 * address the client wrote to. */
static void server_send_error(struct tftp_server *s, const struct tftp_request *req, uint16_t code, const char *msg)
{
	struct tftp_packet p = {.op = TFTP_ERROR, .error_code = code, .error_msg = msg, .error_msg_len = strlen(msg)};
	uint8_t buf[256];
	int n = tftp_encode(&p, buf, sizeof(buf));
	if (n < 0)
		return;
	struct iovec iov = {buf, (size_t)n};
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {
	    .msg_name = (void *)&req->peer,
	    .msg_namelen = req->peer_len,
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	};
	memset(&ctl, 0, sizeof(ctl));
	if (req->local_len) {
		struct cmsghdr *c = (struct cmsghdr *)ctl.buf;
		mh.msg_control = ctl.buf;
		if (s->family == AF_INET) {
			struct in_pktinfo pi = {.ipi_spec_dst = ((const struct sockaddr_in *)&req->local)->sin_addr};
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
		} else {
			struct in6_pktinfo pi = {.ipi6_addr = ((const struct sockaddr_in6 *)&req->local)->sin6_addr,
						 .ipi6_ifindex = (unsigned)req->ifindex};
			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
		}
	}
	if (sendmsg(s->fd, &mh, 0) < 0)
		log_debug("tftp: cannot send ERROR to %s: %s", req->peer_text, strerror(errno));
}

/* A missing file is routine (pxelinux probes a dozen config names per
 * boot): info. Everything else may be someone probing: warn. */
static void server_refuse(struct tftp_server *s, const struct tftp_request *req, const char *what, uint16_t code,
			  const char *msg, const char *why)
{
	server_send_error(s, req, code, msg);
	if (server_log_allowed(s))
		log_msg(code == TFTP_ERR_NOT_FOUND ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
			"tftp: %s refused %s '%s': %s (ERROR %u)", req->peer_text, what, req->name_text, why, code);
}

/* Serve filename (checked or not) from the boot root. */
static void server_serve_root(struct tftp_server *s, const struct tftp_request *req, enum tftp_mode mode,
			      const struct tftp_options *opts, const char *filename, size_t filename_len)
{
	int fd, r;
	struct stat st;
	struct tftp_file *file;
	const char *rel;
	size_t rel_len;

	r = tftp_root_open_file(&s->root, filename, filename_len, &fd, &st);
	if (r < 0) {
		server_refuse(s, req, "RRQ", (uint16_t)tftp_root_error_code(r),
			      r == -ENOENT ? "file not found" : "access violation", tftp_root_strerror(r));
		return;
	}
	tftp_root_check_name(filename, filename_len, &rel, &rel_len);
	char key[TFTP_ROOT_NAME_MAX + 1];
	memcpy(key, rel, rel_len);
	key[rel_len] = '\0';
	r = tftp_cache_get(s->cache, key, fd, &st, mode == TFTP_MODE_NETASCII, &file);
	close(fd);
	if (r == -EFBIG) {
		server_refuse(s, req, "RRQ", TFTP_ERR_UNDEFINED, "file too large for netascii; use octet",
			      "file too large for netascii mode");
		return;
	}
	if (r < 0) {
		log_err("tftp: %s RRQ '%s': cannot read the file: %s", req->peer_text, req->name_text, strerror(-r));
		server_send_error(s, req, TFTP_ERR_UNDEFINED, "cannot read file");
		return;
	}
	struct tftp_packet rrq = {.op = TFTP_RRQ, .mode = mode, .opts = *opts};
	r = tftp_xfer_start(s, req, &rrq, file);
	if (r < 0) {
		log_err("tftp: %s RRQ '%s': cannot open a transfer socket: %s", req->peer_text, req->name_text,
			strerror(-r));
		server_send_error(s, req, TFTP_ERR_UNDEFINED, "out of resources");
	}
}

/* Offer the request to the hook. true: taken (answered now or later). */
static bool server_offer(struct tftp_server *s, const struct tftp_request *req, const struct tftp_packet *p)
{
	if (!s->hook.take || s->n_held >= s->max_transfers)
		return false;
	struct tftp_held *h = calloc(1, sizeof(*h));
	if (!h)
		return false;
	h->srv = s;
	h->req = *req;
	tftp_client_key_of((const struct sockaddr *)&req->peer, &h->client);
	tftp_clients_take(&s->clients, &h->client, 0);
	h->mode = p->mode;
	h->opts = p->opts;
	memcpy(h->filename, p->filename, p->filename_len);
	h->filename[p->filename_len] = '\0';
	h->filename_len = p->filename_len;
	h->next = s->held;
	if (s->held)
		s->held->prev = h;
	s->held = h;
	s->n_held++;
	/* take() may answer at once, which frees h: do not touch it after. */
	if (s->hook.take(s->hook.arg, h))
		return true;
	if (h->prev)
		h->prev->next = h->next;
	else
		s->held = h->next;
	if (h->next)
		h->next->prev = h->prev;
	s->n_held--;
	tftp_clients_put(&s->clients, &h->client);
	free(h);
	return false;
}

static void server_rrq(struct tftp_server *s, struct tftp_request *req, const struct tftp_packet *p)
{
	const char *rel;
	size_t rel_len;
	int r;

	if (p->mode == TFTP_MODE_MAIL) {
		server_refuse(s, req, "RRQ", TFTP_ERR_ILLEGAL_OP, "mail mode is not supported", "mail mode");
		return;
	}
	if (s->n_transfers >= s->max_transfers) {
		server_refuse(s, req, "RRQ", TFTP_ERR_UNDEFINED, "server busy", "server busy (tftp_max_transfers)");
		return;
	}
	struct tftp_client_key key;
	if (tftp_client_key_of((const struct sockaddr *)&req->peer, &key) == 0 &&
	    tftp_clients_count(&s->clients, &key) >= s->max_per_client) {
		server_refuse(s, req, "RRQ", TFTP_ERR_UNDEFINED, "too many transfers from your address",
			      "too many transfers from this address (tftp_max_transfers_per_client)");
		return;
	}
	r = tftp_root_check_name(p->filename, p->filename_len, &rel, &rel_len);
	if (r < 0) {
		server_refuse(s, req, "RRQ", (uint16_t)tftp_root_error_code(r), "access violation",
			      tftp_root_strerror(r));
		return;
	}
	if (server_offer(s, req, p))
		return;
	server_serve_root(s, req, p->mode, &p->opts, p->filename, p->filename_len);
}

/* ---- held requests (see struct tftp_hook) ---- */

static void held_unlink(struct tftp_held *h)
{
	struct tftp_server *s = h->srv;

	if (h->prev)
		h->prev->next = h->next;
	else
		s->held = h->next;
	if (h->next)
		h->next->prev = h->prev;
	s->n_held--;
	tftp_clients_put(&s->clients, &h->client);
}

const char *tftp_held_name(const struct tftp_held *h)
{
	const char *n = h->filename;
	while (*n == '/')
		n++;
	return n;
}

const struct sockaddr *tftp_held_local(const struct tftp_held *h)
{
	return (const struct sockaddr *)&h->req.local;
}

const char *tftp_held_peer(const struct tftp_held *h)
{
	return h->req.peer_text;
}

void tftp_held_set_ctx(struct tftp_held *h, void *ctx)
{
	h->ctx = ctx;
}

void *tftp_held_ctx(const struct tftp_held *h)
{
	return h->ctx;
}

void tftp_held_serve_root(struct tftp_held *h)
{
	struct tftp_server *s = h->srv;

	held_unlink(h);
	if (s->n_transfers >= s->max_transfers)
		server_refuse(s, &h->req, "RRQ", TFTP_ERR_UNDEFINED, "server busy", "server busy (tftp_max_transfers)");
	else
		server_serve_root(s, &h->req, h->mode, &h->opts, h->filename, h->filename_len);
	free(h);
}

void tftp_held_serve_data(struct tftp_held *h, const void *data, size_t len)
{
	struct tftp_server *s = h->srv;
	struct tftp_file *file;
	int r;

	held_unlink(h);
	if (s->n_transfers >= s->max_transfers) {
		server_refuse(s, &h->req, "RRQ", TFTP_ERR_UNDEFINED, "server busy", "server busy (tftp_max_transfers)");
		free(h);
		return;
	}
	r = tftp_cache_memory(s->cache, tftp_held_name(h), data, len, h->mode == TFTP_MODE_NETASCII, &file);
	if (r == 0) {
		struct tftp_packet rrq = {.op = TFTP_RRQ, .mode = h->mode, .opts = h->opts};
		r = tftp_xfer_start(s, &h->req, &rrq, file);
	}
	if (r < 0) {
		log_err("tftp: %s RRQ '%s': cannot start the transfer: %s", h->req.peer_text, h->req.name_text,
			strerror(-r));
		server_send_error(s, &h->req, TFTP_ERR_UNDEFINED, "out of resources");
	}
	free(h);
}

unsigned tftp_server_held(const struct tftp_server *s)
{
	return s->n_held;
}

static void server_request(struct tftp_server *s, struct tftp_request *req, const uint8_t *buf, size_t len,
			   bool truncated)
{
	struct tftp_packet p;
	int r = truncated ? -EBADMSG : tftp_decode(buf, len, &p);

	snprintf(req->name_text, sizeof(req->name_text), "?");
	if (r == 0 && (p.op == TFTP_RRQ || p.op == TFTP_WRQ))
		tftp_log_escape(p.filename, p.filename_len, req->name_text, sizeof(req->name_text));
	if (r == -ENAMETOOLONG) {
		server_refuse(s, req, "request", TFTP_ERR_ACCESS, "file name too long", "file name too long");
		return;
	}
	if (r < 0) {
		/* Answering a tiny forged datagram with a longer ERROR would make
		 * us a (small) amplifier: such requests are only logged. */
		if (len < 4 + sizeof("malformed request")) {
			if (server_log_allowed(s))
				log_warn("tftp: %s sent a malformed %zu-byte request; not answered", req->peer_text,
					 len);
			return;
		}
		server_refuse(s, req, "request", TFTP_ERR_ILLEGAL_OP, "malformed request", "malformed request");
		return;
	}
	switch (p.op) {
	case TFTP_RRQ:
		server_rrq(s, req, &p);
		break;
	case TFTP_WRQ:
		server_refuse(s, req, "WRQ", TFTP_ERR_ACCESS, "write requests are refused", "write request");
		break;
	default:
		/* DATA, ACK, ERROR, OACK to port 69 belong to no transfer;
		 * answering them could start a loop between two servers. */
		log_debug("tftp: %s sent a stray %s to the server port", req->peer_text, tftp_opcode_name(p.op));
	}
}

/* The address the datagram was sent to, from IP_PKTINFO/IPV6_PKTINFO. */
static void request_local(struct tftp_server *s, struct msghdr *mh, struct tftp_request *req)
{
	req->local_len = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && s->family == AF_INET) {
			struct in_pktinfo pi;
			struct sockaddr_in *in = (struct sockaddr_in *)&req->local;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(in, 0, sizeof(*in));
			in->sin_family = AF_INET;
			in->sin_addr = pi.ipi_spec_dst;
			req->local_len = sizeof(*in);
			req->ifindex = pi.ipi_ifindex;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO && s->family == AF_INET6) {
			struct in6_pktinfo pi;
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&req->local;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(in6, 0, sizeof(*in6));
			in6->sin6_family = AF_INET6;
			in6->sin6_addr = pi.ipi6_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
				in6->sin6_scope_id = pi.ipi6_ifindex;
			req->local_len = sizeof(*in6);
			req->ifindex = (int)pi.ipi6_ifindex;
		}
	}
}

static void server_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tftp_server *s = arg;
	uint8_t buf[REQUEST_MAX];

	for (int i = 0; i < REQUESTS_PER_WAKEUP; i++) {
		struct tftp_request req;
		union {
			char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr mh = {
		    .msg_name = &req.peer,
		    .msg_namelen = sizeof(req.peer),
		    .msg_iov = &iov,
		    .msg_iovlen = 1,
		    .msg_control = ctl.buf,
		    .msg_controllen = sizeof(ctl.buf),
		};
		memset(&req, 0, sizeof(req));
		ssize_t n = recvmsg(fd, &mh, 0);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_debug("tftp: recvmsg: %s", strerror(errno));
			return;
		}
		req.peer_len = mh.msg_namelen;
		tftp_format_peer((struct sockaddr *)&req.peer, req.peer_text, sizeof(req.peer_text));
		request_local(s, &mh, &req);
		if (!req.local_len)
			continue; /* no destination address: cannot answer correctly */
		server_request(s, &req, buf, (size_t)n, (mh.msg_flags & MSG_TRUNC) != 0);
	}
}

/* "0.0.0.0:69", "[::]:69", "192.0.2.1" (port 69). */
static int listen_parse(const char *text, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	char host[256];
	uint16_t port;
	struct ipaddr a;
	int r = endpoint_parse(text, TFTP_PORT, host, sizeof(host), &port);

	if (r < 0 || ipaddr_parse(host, &a) < 0)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	if (a.family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ret;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, a.bytes, 4);
		*ret_len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, a.bytes, 16);
		*ret_len = sizeof(*in6);
	}
	return 0;
}

static int server_socket(struct tftp_server *s, const struct sockaddr_storage *addr, socklen_t len)
{
	int one = 1, zero = 0;
	int fd = netns_socket(s->nsfd, addr->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return fd;
	s->family = addr->ss_family;
	int r = s->family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))
				     : setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	/* "[::]:69" serves IPv4 too (v4-mapped), whatever the sysctl says. */
	if (r == 0 && s->family == AF_INET6)
		r = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (r < 0 || bind(fd, (const struct sockaddr *)addr, len) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	s->fd = fd;
	return 0;
}

int tftp_server_new(struct event_base *base, const struct tftp_server_conf *conf, struct tftp_server **ret)
{
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct tftp_server *s;
	int r;

	if (listen_parse(conf->listen, &addr, &addr_len) < 0) {
		log_err("tftp: listen address '%s' is not ADDRESS:PORT with a literal IPv4 or [IPv6] address",
			conf->listen);
		return -EINVAL;
	}
	s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->fd = -1;
	s->root.dirfd = -1;
	s->nsfd = conf->nsfd >= 0 ? fcntl(conf->nsfd, F_DUPFD_CLOEXEC, 3) : -1;
	s->max_transfers = conf->max_transfers;
	s->max_per_client = conf->max_per_client ? conf->max_per_client : conf->max_transfers;
	tftp_clients_init(&s->clients);
	if (conf->hook)
		s->hook = *conf->hook;
	s->lim = (struct tftp_limits){
	    .max_blksize = conf->max_blksize,
	    .max_windowsize = TFTP_SERVER_MAX_WINDOWSIZE,
	    .rto_ms = 1000,
	    .rto_max_ms = 8000,
	    .max_retries = 5,
	    .max_timeout_s = TFTP_SERVER_MAX_TIMEOUT_S,
	    .max_stall_ms = TFTP_SERVER_MAX_STALL_MS,
	};
	r = tftp_root_open(&s->root, conf->root);
	if (r < 0) {
		log_err("tftp: cannot open the boot root %s: %s", conf->root, strerror(-r));
		goto fail;
	}
	r = tftp_cache_new(&s->cache);
	if (r < 0)
		goto fail;
	r = server_socket(s, &addr, addr_len);
	if (r < 0) {
		log_err("tftp: cannot listen on %s: %s", conf->listen, strerror(-r));
		goto fail;
	}
	unsigned workers = conf->workers ? conf->workers : tftp_workers_auto();
	r = tftp_workers_start(s, workers, &tftp_xfer_ops);
	if (r < 0)
		goto fail;
	s->ev = event_new(base, s->fd, EV_READ | EV_PERSIST, server_read_cb, s);
	if (!s->ev)
		oom_abort(0); /* a library's NULL: out of memory */
	event_add(s->ev, NULL);
	log_info("tftp: serving %s on %s%s%s, up to %u transfers (%u per client) on %u thread%s, blksize up to %u, "
		 "windowsize up to %u%s",
		 conf->root, conf->listen, conf->nsfd >= 0 ? " in network namespace " : "",
		 conf->nsfd >= 0 && conf->netns_name ? conf->netns_name : "", s->max_transfers, s->max_per_client,
		 workers, workers == 1 ? "" : "s", s->lim.max_blksize, s->lim.max_windowsize,
		 s->root.use_openat2 ? "" : " (no openat2: symlinks are not followed)");
	*ret = s;
	return 0;
fail:
	tftp_server_free(s);
	return r;
}

void tftp_server_free(struct tftp_server *s)
{
	if (!s)
		return;
	tftp_workers_stop(s);
	while (s->held) {
		struct tftp_held *h = s->held;
		held_unlink(h);
		if (s->hook.cancel)
			s->hook.cancel(s->hook.arg, h);
		free(h);
	}
	if (s->ev)
		event_free(s->ev);
	if (s->fd >= 0)
		close(s->fd);
	if (s->nsfd >= 0)
		close(s->nsfd);
	tftp_root_close(&s->root);
	tftp_cache_free(s->cache);
	tftp_clients_done(&s->clients);
	free(s);
}

unsigned tftp_server_transfers(const struct tftp_server *s)
{
	return s->n_transfers;
}
