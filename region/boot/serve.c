/* The boot-resource listener: GET/HEAD /boot-resources/NAME over HTTPS,
 * for racks only.
 *
 * TLS is mutual: the region's server certificate (the one gRPC uses), and a
 * client certificate issued by the region CA for client use is required
 * (SSL_VERIFY_FAIL_IF_NO_PEER_CERT, purpose sslclient), whose CN must be an
 * enrolled rack — the same check as every rack RPC.
 *
 * Only names in the published list are served, opened below the directory
 * without following symlinks. Range requests get 206 (one range) or 416.
 *
 * Bodies are streamed in CHUNK-sized reads, the next chunk read when the
 * previous one has left the output buffer. Over TLS, sendfile(2) cannot be
 * used, and evbuffer_add_file() would map the whole file — a file that an
 * operator truncates while it is mapped kills the process with SIGBUS — or
 * read it whole into memory. A file that shrinks while being sent makes us
 * close the connection (the rack sees a short body). */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bootres.h"
#include "common/fsutil.h"
#include "common/httpguard.h"
#include "common/log.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "region/boot/internal.h"
#include "region/region.h"

#define CHUNK	      (256u << 10)
#define MAX_TRANSFERS 256
#define IO_TIMEOUT_S  60
#define HEADERS_MAX   8192

struct bootres_server {
	struct region_bootres *rb;
	struct evhttp *http;
	struct httpguard *guard;
	SSL_CTX *ctx;
	unsigned active; /* transfers in flight */
};

/* One response body being streamed. */
struct serve {
	struct bootres_server *s;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	int fd;
	uint64_t pos, end, first;
	int64_t start_us;
	char rack[64];
	char name[BOOTRES_NAME_MAX + 1];
};

static void serve_free(struct serve *sv)
{
	sv->s->active--;
	close(sv->fd);
	free(sv);
}

static int serve_read(struct serve *sv, struct evbuffer **ret)
{
	size_t want = sv->end - sv->pos > CHUNK ? CHUNK : (size_t)(sv->end - sv->pos);
	struct evbuffer *buf = evbuffer_new();
	struct evbuffer_iovec v;
	if (!buf || evbuffer_reserve_space(buf, (ev_ssize_t)want, &v, 1) < 1)
		oom_abort(want);
	ssize_t n;
	do
		n = pread(sv->fd, v.iov_base, want, (off_t)sv->pos);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		evbuffer_free(buf);
		return n < 0 ? -errno : -ENODATA;
	}
	v.iov_len = (size_t)n;
	evbuffer_commit_space(buf, &v, 1);
	sv->pos += (uint64_t)n;
	*ret = buf;
	return 0;
}

static void serve_closed(struct evhttp_connection *evcon, void *arg)
{
	struct serve *sv = arg;
	log_warn("boot resources: rack %s went away after %" PRIu64 " of %" PRIu64 " bytes of %s", sv->rack,
		 sv->pos - sv->first, sv->end - sv->first, sv->name);
	/* A request evhttp detached from its failed connection is ours to free;
	 * one still attached (server shutting down) is freed by evhttp. */
	if (!evhttp_request_get_connection(sv->req))
		evhttp_request_free(sv->req);
	serve_free(sv);
}

static void serve_next(struct evhttp_connection *evcon, void *arg)
{
	struct serve *sv = arg;
	if (sv->pos == sv->end) {
		httpguard_set_closecb(sv->evcon, NULL, NULL);
		evhttp_send_reply_end(sv->req);
		double secs = (double)(clock_mono_us() - sv->start_us) / 1e6;
		log_info("boot resources: sent %s (%" PRIu64 " bytes from %" PRIu64 ") to rack %s in %.2f s", sv->name,
			 sv->end - sv->first, sv->first, sv->rack, secs);
		serve_free(sv);
		return;
	}
	struct evbuffer *buf = NULL;
	int rc = serve_read(sv, &buf);
	if (rc < 0) {
		log_warn("boot resources: %s shrank or failed while being sent to rack %s (%s): closing the connection",
			 sv->name, sv->rack, strerror(-rc));
		struct evhttp_connection *c = sv->evcon;
		httpguard_set_closecb(c, NULL, NULL);
		serve_free(sv);
		evhttp_connection_free(c);
		return;
	}
	evhttp_send_reply_chunk_with_cb(sv->req, buf, serve_next, sv);
	evbuffer_free(buf);
}

static void reply_status(struct evhttp_request *req, int code, const char *reason)
{
	struct evbuffer *b = evbuffer_new();
	if (!b)
		oom_abort(sizeof(struct evbuffer *));
	evbuffer_add_printf(b, "%d %s\n", code, reason);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

/* CN of the verified client certificate. */
static int serve_identity(struct evhttp_request *req, char *cn, size_t len)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	if (!ssl || SSL_get_verify_result(ssl) != X509_V_OK)
		return -EACCES;
	X509 *peer = SSL_get1_peer_certificate(ssl);
	if (!peer)
		return -EACCES;
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, (int)len);
	X509_free(peer);
	return n > 0 ? 0 : -EACCES;
}

/* The listed file NAME, open and regular; -ENOENT otherwise. */
static int serve_open(struct region_bootres *rb, const char *name, struct stat *st)
{
	if (!bootres_manifest_find(&rb->list, name))
		return -ENOENT;
	int root = open(rb->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	const char *base;
	int dfd = bootres_dir_open(root, name, false, &base);
	close(root);
	if (dfd < 0)
		return dfd;
	int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	int err = errno;
	close(dfd);
	if (fd < 0)
		return -err;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* Headers for a 200/206; the code to answer with. */
static int serve_headers(struct evhttp_request *req, const struct stat *st, uint64_t *first, uint64_t *len)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	uint64_t size = (uint64_t)st->st_size;
	char v[96];
	int rc =
	    bootres_range_parse(evhttp_find_header(evhttp_request_get_input_headers(req), "Range"), size, first, len);
	evhttp_add_header(out, "Accept-Ranges", "bytes");
	if (rc == -ERANGE) {
		snprintf(v, sizeof(v), "bytes */%" PRIu64, size);
		evhttp_add_header(out, "Content-Range", v);
		return 416;
	}
	if (rc == 0) {
		*first = 0;
		*len = size;
	} else {
		snprintf(v, sizeof(v), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, *first, *first + *len - 1, size);
		evhttp_add_header(out, "Content-Range", v);
	}
	evhttp_add_header(out, "Content-Type", "application/octet-stream");
	snprintf(v, sizeof(v), "%" PRIu64, *len);
	evhttp_add_header(out, "Content-Length", v);
	return rc == 1 ? 206 : 200;
}

static void serve_file(struct bootres_server *s, struct evhttp_request *req, const char *rack, const char *name)
{
	struct stat st;
	int fd = serve_open(s->rb, name, &st);
	if (fd < 0) {
		log_warn("boot resources: rack %s asked for %s: %s", rack, name,
			 fd == -ENOENT ? "not published" : strerror(-fd));
		reply_status(req, 404, "Not Found");
		return;
	}
	uint64_t first = 0, len = 0;
	int code = serve_headers(req, &st, &first, &len);
	if (code == 416 || len == 0 || evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		close(fd);
		if (code == 416)
			reply_status(req, 416, "Range Not Satisfiable");
		else
			evhttp_send_reply(req, code, code == 206 ? "Partial Content" : "OK", NULL);
		return;
	}
	if (s->active >= MAX_TRANSFERS) {
		close(fd);
		log_warn("boot resources: %u transfers in flight; rack %s is told to come back later", s->active, rack);
		reply_status(req, 503, "Service Unavailable");
		return;
	}
	struct serve *sv = xcalloc(1, sizeof(*sv));
	s->active++;
	sv->s = s;
	sv->req = req;
	sv->evcon = evhttp_request_get_connection(req);
	sv->fd = fd;
	sv->first = sv->pos = first;
	sv->end = first + len;
	sv->start_us = clock_mono_us();
	snprintf(sv->rack, sizeof(sv->rack), "%s", rack);
	snprintf(sv->name, sizeof(sv->name), "%s", name);
	struct evbuffer *buf = NULL;
	int rc = serve_read(sv, &buf);
	if (rc < 0) {
		log_warn("boot resources: cannot read %s: %s", name, strerror(-rc));
		serve_free(sv);
		evhttp_remove_header(evhttp_request_get_output_headers(req), "Content-Length");
		evhttp_remove_header(evhttp_request_get_output_headers(req), "Content-Range");
		reply_status(req, 500, "Internal Server Error");
		return;
	}
	evhttp_send_reply_start(req, code, code == 206 ? "Partial Content" : "OK");
	httpguard_set_closecb(sv->evcon, serve_closed, sv);
	evhttp_send_reply_chunk_with_cb(req, buf, serve_next, sv);
	evbuffer_free(buf);
}

/* The rest of a request, once the rack is known to be enrolled. */
static void serve_path(struct bootres_server *s, struct evhttp_request *req, const char *rack)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	size_t plen = strlen(BOOTRES_URL_PATH);
	if (!path || strncmp(path, BOOTRES_URL_PATH, plen) != 0) {
		reply_status(req, 404, "Not Found");
		return;
	}
	size_t len = 0;
	char *name = evhttp_uridecode(path + plen, 0, &len);
	const char *why = "bad encoding";
	if (!name || strlen(name) != len || bootres_name_check(name, &why) < 0) {
		log_warn("boot resources: rack %s asked for a bad name: %s", rack, why);
		reply_status(req, 400, "Bad Request");
	} else {
		serve_file(s, req, rack, name);
	}
	free(name);
}

/* A request waiting for the rack identity check (a database job). */
struct serve_check {
	struct bootres_server *s;
	struct evhttp_request *req; /* NULL once the connection closed */
	struct evhttp_connection *evcon;
	char rack[64];
};

static void serve_check_closed(struct evhttp_connection *evcon, void *arg)
{
	struct serve_check *c = arg;
	/* Detached from its failed connection: ours to free (see serve_closed). */
	if (c->req && !evhttp_request_get_connection(c->req))
		evhttp_request_free(c->req);
	c->req = NULL;
}

static void serve_checked(void *arg, int st)
{
	struct serve_check *c = arg;
	if (c->req) {
		httpguard_set_closecb(c->evcon, NULL, NULL);
		if (st != RPC_OK)
			reply_status(c->req, st == RPC_UNAVAILABLE ? 503 : 403,
				     st == RPC_UNAVAILABLE ? "Service Unavailable" : "Forbidden");
		else
			serve_path(c->s, c->req, c->rack);
	}
	free(c);
}

static void serve_request(struct evhttp_request *req, void *arg)
{
	struct bootres_server *s = arg;
	struct region *r = s->rb->r;
	char rack[64], peer[80] = "?";
	char *addr = NULL;
	ev_uint16_t port = 0;
	evhttp_connection_get_peer(evhttp_request_get_connection(req), &addr, &port);
	if (addr)
		snprintf(peer, sizeof(peer), "%s:%u", addr, port);
	if (serve_identity(req, rack, sizeof(rack)) < 0) {
		log_warn("boot resources: refused %s: no verified client certificate", peer);
		reply_status(req, 403, "Forbidden");
		return;
	}
	struct serve_check *c = xcalloc(1, sizeof(*c));
	c->s = s;
	c->req = req;
	c->evcon = evhttp_request_get_connection(req);
	snprintf(c->rack, sizeof(c->rack), "%s", rack);
	httpguard_set_closecb(c->evcon, serve_check_closed, c);
	/* May answer before returning. */
	region_rpc_check_rack(r, rack, peer, "boot resource request", serve_checked, c);
}

/* The transport of a new connection (httpguard_conf.transport_new). */
static struct bufferevent *serve_bevcb(struct event_base *base, void *arg)
{
	struct bootres_server *s = arg;
	SSL *ssl = SSL_new(s->ctx);
	if (!ssl)
		oom_abort(sizeof(SSL *));
	struct bufferevent *bev =
	    bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	/* NULL makes the guard fall back to plain TCP, which serve_identity()
	 * refuses (no SSL on the connection). */
	if (bev)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static X509 *pem_cert(BIO *b)
{
	return PEM_read_bio_X509(b, NULL, NULL, NULL);
}

/* Server chain and key; client certificates must chain to the region CA
 * and be meant for clients. */
static SSL_CTX *serve_tls_ctx(const struct region_tls *t)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	bool ok = true;
	BIO *b = BIO_new_mem_buf(t->server_chain, -1);
	X509 *c = b ? pem_cert(b) : NULL;
	ok = c && SSL_CTX_use_certificate(ctx, c) == 1;
	X509_free(c);
	while (ok && b && (c = pem_cert(b)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, c) != 1) {
			X509_free(c);
			ok = false;
		}
	}
	BIO_free(b);
	b = BIO_new_mem_buf(t->server_key, -1);
	EVP_PKEY *key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	ok = ok && key && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
	EVP_PKEY_free(key);
	BIO_free(b);
	b = BIO_new_mem_buf(t->ca_cert, -1);
	c = b ? pem_cert(b) : NULL;
	ok = ok && c && X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), c) == 1 && SSL_CTX_add_client_CA(ctx, c) == 1;
	X509_free(c);
	BIO_free(b);
	ERR_clear_error();
	if (!ok) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	static const unsigned char sid[] = "ironrack-boot-resources";
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	return ctx;
}

/* "ADDRESS:PORT" or "[V6]:PORT" with a literal address; port 0 is allowed
 * (tests take a free port), which evutil_parse_sockaddr_port() refuses. */
static int listen_parse(const char *listen, struct sockaddr_storage *ss, int *ret_len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *h = listen;
	size_t hlen;
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		h = listen + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - listen);
	}
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*v6);
	} else {
		return -EINVAL;
	}
	return 0;
}

/* Connections counted at accept (over TLS a refused one is just closed),
 * the TLS handshake and the request within http_header_timeout, accept
 * paused when descriptors run out (common/httpguard.h). Each transfer holds
 * a socket and a file: at most a quarter of what the reserve leaves. */
static int serve_guard(struct bootres_server *s, struct evhttp_bound_socket *sock)
{
	const struct region_conf *c = &s->rb->r->conf;
	unsigned want = (unsigned)c->boot_resources_max_connections;
	struct httpguard_conf g = {
	    .name = "boot resources",
	    .max_conns = httpguard_fd_cap(want, 4, REGION_FD_RESERVE),
	    .max_conns_per_client = (unsigned)c->http_max_connections_per_client,
	    .header_timeout_ms = (unsigned)c->http_header_timeout * 1000,
	    .request_timeout_ms = (unsigned)c->http_header_timeout * 1000, /* no bodies */
	    .head_max = HEADERS_MAX,
	    .transport_new = serve_bevcb,
	    .transport_arg = s,
	};
	if (g.max_conns < want)
		log_warn("boot resources: at most %u connections, not %u (boot_resources_max_connections): the open "
			 "file limit",
			 g.max_conns, want);
	int rc = httpguard_attach(s->http, sock, &g, &s->guard);
	if (rc < 0)
		log_err("boot resources: cannot guard the listener: %s", strerror(-rc));
	return rc;
}

int bootres_server_new(struct region_bootres *rb, const char *listen, struct bootres_server **ret, unsigned *ret_port)
{
	struct sockaddr_storage ss;
	int sslen = 0;
	if (listen_parse(listen, &ss, &sslen) < 0) {
		log_err("boot_resources_listen '%s' is not ADDRESS:PORT with a literal address", listen);
		return -EINVAL;
	}
	struct bootres_server *s = xcalloc(1, sizeof(*s));
	s->rb = rb;
	s->ctx = serve_tls_ctx(&rb->r->tls);
	if (!s->ctx) {
		log_err("boot resources: cannot set up TLS with the region certificate");
		free(s);
		return -EIO;
	}
	s->http = evhttp_new(rb->r->base);
	if (!s->http)
		oom_abort(sizeof(struct evhttp *));
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_body_size(s->http, 0);
	evhttp_set_timeout(s->http, IO_TIMEOUT_S);
	evhttp_set_gencb(s->http, serve_request, s);
	struct evconnlistener *l = evconnlistener_new_bind(
	    rb->r->base, NULL, NULL, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
	    (struct sockaddr *)&ss, sslen);
	struct evhttp_bound_socket *sock = l ? evhttp_bind_listener(s->http, l) : NULL;
	if (!sock) {
		log_err("boot resources: cannot listen on %s: %s", listen, strerror(errno ? errno : EADDRINUSE));
		if (l)
			evconnlistener_free(l);
		bootres_server_free(s);
		return -EADDRINUSE;
	}
	if (serve_guard(s, sock) < 0) {
		bootres_server_free(s);
		return -EINVAL;
	}
	int bound = sock_bound_port(evhttp_bound_socket_get_fd(sock));
	*ret_port = bound > 0 ? (unsigned)bound : 5241;
	char host[INET6_ADDRSTRLEN];
	const char *h = ss.ss_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
						 : (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
	inet_ntop(ss.ss_family, h, host, sizeof(host));
	int rc = port_file_write(rb->r->conf.state_dir, "boot-resources", host, (int)*ret_port);
	if (rc < 0)
		log_warn("boot resources: cannot write %s/ports/boot-resources: %s", rb->r->conf.state_dir,
			 strerror(-rc));
	log_info("boot resources: serving HTTPS on %s%s%s:%u (racks only: client certificates of the region CA)",
		 ss.ss_family == AF_INET6 ? "[" : "", host, ss.ss_family == AF_INET6 ? "]" : "", *ret_port);
	*ret = s;
	return 0;
}

void bootres_server_free(struct bootres_server *s)
{
	if (!s)
		return;
	httpguard_free(s->guard);
	if (s->http)
		evhttp_free(s->http); /* closes connections: serve_closed frees their transfers */
	SSL_CTX_free(s->ctx);
	free(s);
}
