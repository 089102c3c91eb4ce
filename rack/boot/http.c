/* HTTP boot: the evhttp shell; see http.h. */
#include "rack/boot/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/httpguard.h"
#include "common/inventory.h"
#include "common/log.h"
#include "common/net.h"
#include "common/util.h"
#include "rack/boot/service.h"
#include "rack/machine/agent.h"
#include "rack/netns.h"
#include "rack/rack.h"
#include "rack/tftp/root.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

#define HTTP_PORT_DEFAULT	5248
#define HTTP_TIMEOUT_S		60 /* idle or stalled connection */
#define HTTP_HEADER_TIMEOUT_MS	10000
#define HTTP_REQUEST_TIMEOUT_MS 60000
#define HTTP_HEADERS_MAX	8192
#define HTTP_BODY_MAX		INV_BODY_MAX /* the agent's report; GET and HEAD carry none */
#define HTTP_BACKLOG		256
#define HTTP_CLIENT_STRLEN	64
#define HTTP_PATH_LOGLEN	160

/* A request for a boot config waiting for GetBootConfig. libevent keeps an
 * unanswered request alive even when its client goes away (it only
 * detaches it), so req stays valid until we answer. */
struct http_wait {
	struct rack_boot_wait w;
	struct boot_http *h;
	struct http_wait *prev, *next;
	struct evhttp_request *req;
	enum boot_file_kind kind;
	struct sockaddr_storage local;
	char client[HTTP_CLIENT_STRLEN];
	char path[HTTP_PATH_LOGLEN];
	size_t name_len;
	char name[]; /* decoded, checked */
};

struct boot_http {
	struct event_base *base;
	struct evhttp *http;
	struct tftp_root root;
	struct rack *rack;
	int port; /* bound, host order */
	struct httpguard *guard;
	unsigned max_conns, max_conns_per_client; /* what the guard enforces */
	struct http_wait *waits;
	struct rack_agent *agent; /* POST AGENT_REPORT_PATH; NULL without a rack */
};

/* One request being answered. */
struct http_req {
	struct boot_http *h;
	struct evhttp_request *req;
	bool head;
	const char *method; /* for the log */
	char client[HTTP_CLIENT_STRLEN];
	char path[HTTP_PATH_LOGLEN]; /* escaped for the log */
};

static const char *method_name(enum evhttp_cmd_type c)
{
	switch (c) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "?";
	}
}

static void http_req_init(struct http_req *r, struct boot_http *h, struct evhttp_request *req)
{
	memset(r, 0, sizeof(*r));
	r->h = h;
	r->req = req;
	r->head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
	r->method = method_name(evhttp_request_get_command(req));
}

/* ---- pure helpers ---- */

static bool parse_u64(const char *s, const char *end, uint64_t *ret)
{
	uint64_t v = 0;

	if (s == end)
		return false;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return true;
}

enum boot_range boot_http_range_parse(const char *header, uint64_t size, uint64_t *ret_off, uint64_t *ret_len)
{
	uint64_t first, last;

	if (!header)
		return BOOT_RANGE_NONE;
	while (*header == ' ' || *header == '\t')
		header++;
	if (strncasecmp(header, "bytes=", 6) != 0)
		return BOOT_RANGE_NONE;
	const char *spec = header + 6, *end = spec + strlen(spec);
	while (end > spec && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	while (spec < end && (*spec == ' ' || *spec == '\t'))
		spec++;
	const char *dash = memchr(spec, '-', (size_t)(end - spec));
	if (!dash || memchr(spec, ',', (size_t)(end - spec)))
		return BOOT_RANGE_NONE; /* bad syntax, or several ranges */
	if (dash == spec) {
		/* "-N": the last N bytes */
		if (!parse_u64(dash + 1, end, &last))
			return BOOT_RANGE_NONE;
		if (last == 0 || size == 0)
			return BOOT_RANGE_UNSATISFIABLE;
		*ret_len = last < size ? last : size;
		*ret_off = size - *ret_len;
		return BOOT_RANGE_PARTIAL;
	}
	if (!parse_u64(spec, dash, &first))
		return BOOT_RANGE_NONE;
	if (dash + 1 == end) {
		last = UINT64_MAX;
	} else if (!parse_u64(dash + 1, end, &last) || last < first) {
		return BOOT_RANGE_NONE;
	}
	if (first >= size)
		return BOOT_RANGE_UNSATISFIABLE;
	if (last >= size)
		last = size - 1;
	*ret_off = first;
	*ret_len = last - first + 1;
	return BOOT_RANGE_PARTIAL;
}

/* ---- replies ---- */

static void reply_log(const struct http_req *r, int status, uint64_t bytes, const char *why)
{
	log_msg(status >= 400 && status != 404 ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "http: %s %s '%s' %d, %llu bytes%s%s",
		r->client, r->method, r->path, status, (unsigned long long)bytes, why ? ": " : "", why ? why : "");
}

static void reply_error(const struct http_req *r, int status, const char *reason, const char *why)
{
	struct evbuffer *body = evbuffer_new();
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);

	if (!body)
		oom_abort(0); /* a library's NULL: out of memory */
	evbuffer_add_printf(body, "%d %s\n", status, reason);
	evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
	reply_log(r, status, 0, why);
	evhttp_send_reply(r->req, status, reason, body);
	evbuffer_free(body);
}

static void reply_data(const struct http_req *r, const char *data, size_t len, const char *type)
{
	struct evbuffer *body = evbuffer_new();

	if (!body)
		oom_abort(0); /* a library's NULL: out of memory */
	evbuffer_add(body, data, len);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type", type);
	reply_log(r, 200, r->head ? 0 : len, NULL);
	evhttp_send_reply(r->req, 200, "OK", body);
	evbuffer_free(body);
}

static void header_u64(struct evkeyvalq *h, const char *name, uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	evhttp_add_header(h, name, buf);
}

/* A file from the boot root: whole, one range, or only its headers. */
static void reply_file(const struct http_req *r, const char *name, size_t len)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
	struct stat st;
	int fd, err;

	err = tftp_root_open_file(&r->h->root, name, len, &fd, &st);
	if (err < 0) {
		if (err == -ENOENT)
			reply_error(r, 404, "Not Found", tftp_root_strerror(err));
		else
			reply_error(r, 403, "Forbidden", tftp_root_strerror(err));
		return;
	}
	uint64_t size = (uint64_t)st.st_size, off = 0, n = size;
	enum boot_range range = boot_http_range_parse(
	    evhttp_find_header(evhttp_request_get_input_headers(r->req), "Range"), size, &off, &n);
	char text[96];
	struct tm tm;
	if (gmtime_r(&st.st_mtim.tv_sec, &tm) && strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm))
		evhttp_add_header(out, "Last-Modified", text);
	evhttp_add_header(out, "Accept-Ranges", "bytes");
	if (range == BOOT_RANGE_UNSATISFIABLE) {
		close(fd);
		snprintf(text, sizeof(text), "bytes */%llu", (unsigned long long)size);
		evhttp_add_header(out, "Content-Range", text);
		reply_error(r, 416, "Range Not Satisfiable", "range beyond the end of the file");
		return;
	}
	evhttp_add_header(out, "Content-Type", "application/octet-stream");
	header_u64(out, "Content-Length", n);
	int status = range == BOOT_RANGE_PARTIAL ? 206 : 200;
	if (range == BOOT_RANGE_PARTIAL) {
		snprintf(text, sizeof(text), "bytes %llu-%llu/%llu", (unsigned long long)off,
			 (unsigned long long)(off + n - 1), (unsigned long long)size);
		evhttp_add_header(out, "Content-Range", text);
	}
	struct evbuffer *body = evbuffer_new();
	if (!body)
		oom_abort(0); /* a library's NULL: out of memory */
	if (r->head || n == 0) {
		close(fd);
	} else {
		/* sendfile(2) from the page cache when the connection writes it:
		 * libevent keeps a file segment as such only in a buffer that
		 * drains to a descriptor (else it maps it), and evhttp moves this
		 * buffer's chains into the connection's, which does. The segment
		 * closes fd when the last reference goes. */
		evbuffer_set_flags(body, EVBUFFER_FLAG_DRAINS_TO_FD);
		struct evbuffer_file_segment *seg =
		    evbuffer_file_segment_new(fd, (ev_off_t)off, (ev_off_t)n, EVBUF_FS_CLOSE_ON_FREE);
		if (!seg) {
			close(fd);
			evbuffer_free(body);
			evhttp_clear_headers(out);
			reply_error(r, 500, "Internal Server Error", "cannot set up the file for sending");
			return;
		}
		evbuffer_add_file_segment(body, seg, 0, (ev_off_t)n);
		evbuffer_file_segment_free(seg);
	}
	reply_log(r, status, r->head ? 0 : n, NULL);
	evhttp_send_reply(r->req, status, status == 206 ? "Partial Content" : "OK", body);
	evbuffer_free(body);
}

/* A rendered boot config, or the plain file of that name without one. */
static void reply_config(const struct http_req *r, enum boot_file_kind kind, const struct boot_config *c,
			 const char *source, const struct sockaddr *local, const char *name, size_t len)
{
	char buf[BOOT_RENDER_MAX];
	int n = c ? rack_boot_render(r->h->rack, kind, c, local, buf, sizeof(buf)) : -ENOENT;

	if (n < 0) {
		if (c)
			log_err("boot: cannot render '%s' for %s: %s", r->path, r->client, strerror(-n));
		reply_file(r, name, len);
		return;
	}
	rack_boot_log_served("http", r->client, r->path, c, source);
	reply_data(r, buf, (size_t)n, "text/plain; charset=utf-8");
}

/* ---- held requests ---- */

static void wait_unlink(struct http_wait *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		w->h->waits = w->next;
	if (w->next)
		w->next->prev = w->prev;
}

static void wait_done(struct rack_boot_wait *bw, const struct boot_config *c, const char *source)
{
	struct http_wait *w = container_of(bw, struct http_wait, w);
	struct http_req r;

	wait_unlink(w);
	http_req_init(&r, w->h, w->req);
	snprintf(r.client, sizeof(r.client), "%s", w->client);
	snprintf(r.path, sizeof(r.path), "%s", w->path);
	reply_config(&r, w->kind, c, source, (const struct sockaddr *)&w->local, w->name, w->name_len);
	free(w);
}

/* ---- requests ---- */

/* Every connection evhttp frees (httpguard_conf.on_close). */
static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct boot_http *h = arg;
	rack_agent_conn_closed(h->agent, evcon);
}

static void request_addrs(struct evhttp_request *req, char *client, size_t len, struct sockaddr_storage *local)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;

	memset(local, 0, sizeof(*local));
	snprintf(client, len, "?");
	if (!evcon)
		return;
	evhttp_connection_get_peer(evcon, &addr, &port);
	if (addr)
		snprintf(client, len, strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, port);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	socklen_t sl = sizeof(*local);
	if (bev && getsockname(bufferevent_getfd(bev), (struct sockaddr *)local, &sl) < 0)
		memset(local, 0, sizeof(*local));
}

/* A boot config path: answer now, or hold the request. */
static void request_config(struct boot_http *h, struct http_req *r, const struct boot_request *br,
			   const struct sockaddr_storage *local, const char *name, size_t len)
{
	struct http_wait *w = xcalloc(1, sizeof(*w) + len + 1);
	const struct boot_config *c;
	const char *source;

	w->w.done = wait_done;
	if (rack_boot_resolve(h->rack, br, (const struct sockaddr *)local, &w->w, &c, &source) == 1) {
		free(w);
		reply_config(r, br->kind, c, source, (const struct sockaddr *)local, name, len);
		return;
	}
	w->h = h;
	w->req = r->req;
	w->kind = br->kind;
	w->local = *local;
	memcpy(w->name, name, len);
	w->name_len = len;
	snprintf(w->client, sizeof(w->client), "%s", r->client);
	snprintf(w->path, sizeof(w->path), "%s", r->path);
	w->next = h->waits;
	if (h->waits)
		h->waits->prev = w;
	h->waits = w;
}

static void request_cb(struct evhttp_request *req, void *arg)
{
	struct boot_http *h = arg;
	struct http_req r;
	struct sockaddr_storage local;
	const char *rel;
	size_t len = 0, rel_len;

	http_req_init(&r, h, req);
	request_addrs(req, r.client, sizeof(r.client), &local);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	log_escape(r.path, sizeof(r.path), path ? path : "", path ? strlen(path) : 0, LOG_ESCAPE_QUOTED);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	bool report = h->agent && path && strcmp(path, AGENT_REPORT_PATH) == 0;
	if (report && cmd != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		reply_error(&r, 405, "Method Not Allowed", "only POST");
		return;
	}
	/* Under /machine/ (the agent's API) another path is 404; a boot file
	 * keeps its 405 below. */
	if (!report && cmd == EVHTTP_REQ_POST && h->agent && path && strncmp(path, "/machine/", 9) == 0) {
		reply_error(&r, 404, "Not Found", "no such agent endpoint");
		return;
	}
	if (!report && cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_error(&r, 405, "Method Not Allowed", "only GET and HEAD");
		return;
	}
	if (report) {
		rack_agent_request(h->agent, req, r.client, (const struct sockaddr *)&local);
		return;
	}
	char *name = path ? evhttp_uridecode(path, 0, &len) : NULL;
	if (!name) {
		reply_error(&r, 400, "Bad Request", "no path");
		return;
	}
	int err = tftp_root_check_name(name, len, &rel, &rel_len);
	if (err < 0) {
		reply_error(&r, err == -ENAMETOOLONG ? 414 : 403, err == -ENAMETOOLONG ? "URI Too Long" : "Forbidden",
			    tftp_root_strerror(err));
		free(name);
		return;
	}
	struct boot_request br;
	boot_path_classify(rel, &br);
	if (br.kind != BOOT_FILE_NONE && h->rack)
		request_config(h, &r, &br, &local, name, len);
	else
		reply_file(&r, name, len);
	free(name);
}

/* ---- set-up ---- */

static int listen_parse(const char *text, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	char host[256];
	uint16_t port = 0;
	struct ipaddr a;

	/* "ADDRESS:0" asks the kernel for a port, which boot_http_port() tells. */
	if (endpoint_parse(text, HTTP_PORT_DEFAULT, host, sizeof(host), &port) < 0)
		return -EINVAL;
	if (ipaddr_parse(host, &a) < 0)
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

static int listen_socket(int nsfd, const struct sockaddr_storage *addr, socklen_t len)
{
	int one = 1, zero = 0;
	int fd = netns_socket(nsfd, addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return fd;
	int r = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (r == 0 && addr->ss_family == AF_INET6)
		r = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (r < 0 || bind(fd, (const struct sockaddr *)addr, len) < 0 || listen(fd, HTTP_BACKLOG) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Connections counted at accept, deadlines, strict framing, accept paused
 * when descriptors run out (common/httpguard.h). Zeros in conf take the
 * defaults. */
static int http_guard(struct boot_http *h, const struct boot_http_conf *conf, struct evhttp_bound_socket *sock)
{
	unsigned header_ms = conf->header_timeout_ms ? conf->header_timeout_ms : HTTP_HEADER_TIMEOUT_MS;
	unsigned request_ms = conf->request_timeout_ms ? conf->request_timeout_ms : HTTP_REQUEST_TIMEOUT_MS;
	h->max_conns = conf->max_connections ? conf->max_connections : 1;
	h->max_conns_per_client = conf->max_connections_per_client ? conf->max_connections_per_client : h->max_conns;
	struct httpguard_conf g = {
	    .name = "http",
	    .max_conns = h->max_conns,
	    .max_conns_per_client = h->max_conns_per_client,
	    .header_timeout_ms = header_ms,
	    .request_timeout_ms = request_ms > header_ms ? request_ms : header_ms,
	    .head_max = HTTP_HEADERS_MAX,
	    .on_close = conn_closed,
	    .on_close_arg = h,
	};
	return httpguard_attach(h->http, sock, &g, &h->guard);
}

int boot_http_new(struct event_base *base, const struct boot_http_conf *conf, struct boot_http **ret)
{
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int r, fd;

	if (listen_parse(conf->listen, &addr, &addr_len) < 0) {
		log_err("http: listen address '%s' is not ADDRESS:PORT with a literal IPv4 or [IPv6] address",
			conf->listen);
		return -EINVAL;
	}
	struct boot_http *h = xcalloc(1, sizeof(*h));
	h->base = base;
	h->rack = conf->rack;
	h->root.dirfd = -1;
	r = tftp_root_open(&h->root, conf->root);
	if (r < 0) {
		log_err("http: cannot open the boot root %s: %s", conf->root, strerror(-r));
		free(h);
		return r;
	}
	fd = listen_socket(conf->nsfd, &addr, addr_len);
	if (fd < 0) {
		log_err("http: cannot listen on %s: %s", conf->listen, strerror(-fd));
		tftp_root_close(&h->root);
		free(h);
		return fd;
	}
	h->port = sock_bound_port(fd);
	h->http = evhttp_new(base);
	struct evhttp_bound_socket *sock = h->http ? evhttp_accept_socket_with_handle(h->http, fd) : NULL;
	if (!sock || http_guard(h, conf, sock) < 0) {
		log_err("http: cannot set up the HTTP server on %s", conf->listen);
		if (h->http)
			evhttp_free(h->http);
		close(fd);
		tftp_root_close(&h->root);
		free(h);
		return -EIO;
	}
	/* The rest get 405 from request_cb (libevent itself would say 501). */
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	/* A body over HTTP_BODY_MAX gets 413 from evhttp; lingering, it reads
	 * the rest first, so the client sees the answer and not a reset. */
	evhttp_set_flags(h->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_timeout(h->http, HTTP_TIMEOUT_S);
	evhttp_set_max_body_size(h->http, HTTP_BODY_MAX);
	evhttp_set_gencb(h->http, request_cb, h);
	if (h->rack) {
		h->agent = rack_agent_new(base, h->rack);
		h->rack->agent = h->agent; /* the session's replies find it there */
	}
	log_info("http: serving %s and boot configs on %s (port %d)%s%s, up to %u connections (%u per client)",
		 conf->root, conf->listen, h->port, conf->nsfd >= 0 ? " in network namespace " : "",
		 conf->nsfd >= 0 && conf->netns_name ? conf->netns_name : "", h->max_conns, h->max_conns_per_client);
	*ret = h;
	return 0;
}

void boot_http_free(struct boot_http *h)
{
	if (!h)
		return;
	while (h->waits) {
		struct http_wait *w = h->waits;
		struct http_req r;
		wait_unlink(w);
		http_req_init(&r, h, w->req);
		rack_boot_cancel(h->rack, &w->w);
		snprintf(r.client, sizeof(r.client), "%s", w->client);
		snprintf(r.path, sizeof(r.path), "%s", w->path);
		reply_error(&r, 503, "Service Unavailable", "server shutting down");
		free(w);
	}
	if (h->rack)
		h->rack->agent = NULL;
	rack_agent_free(h->agent);
	h->agent = NULL;
	httpguard_free(h->guard);
	evhttp_free(h->http);
	tftp_root_close(&h->root);
	free(h);
}

int boot_http_port(const struct boot_http *h)
{
	return h->port;
}
